/*
 * pingpong.c - the floor of a 1-connection request benchmark: round trips
 * over a Unix socket to a server that does no work.
 *
 *   pingpong serve PATH     listens on PATH; for each connection, answers
 *                           every read with 32 bytes (an epoll loop, one
 *                           connection at a time, as the servers compared
 *                           here serve one)
 *   pingpong PATH N         N round trips: sends 20 bytes, waits in poll,
 *                           receives the 32 (as libheapd does when its
 *                           spin is off, HEAPD_SPIN_US=0); prints
 *                           "pingpong rtt_us=X per_s=Y"
 *
 * run-redis-compare.sh runs it with the servers' placement: whatever heapd
 * and Redis take per round trip beyond it is their own, and what they
 * share with it is the machine's (system calls, wake-ups across CPUs).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "benchutil.h"

enum { REQUEST = 20, REPLY = 32 };

static int address(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path) {
		fprintf(stderr, "pingpong: socket path too long\n");
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

static int serve(const char *path)
{
	struct sockaddr_un sa;
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	if (ls < 0 || address(path, &sa) != 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(ls, 16) != 0) {
		perror("pingpong: listen");
		return 1;
	}
	int ep = epoll_create1(0);
	char buf[4096], reply[REPLY] = {0};
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		for (;;) {
			if (epoll_wait(ep, &ev, 1, -1) < 1)
				continue;
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0 || write(fd, reply, sizeof reply) != (ssize_t)sizeof reply)
				break;
		}
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
	}
}

static int client(const char *path, long n)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || address(path, &sa) != 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("pingpong: connect");
		return 1;
	}
	char req[REQUEST] = {0}, buf[REPLY];
	uint64_t t0 = now_ns();
	for (long i = 0; i < n; i++) {
		size_t got = 0;
		if (send(fd, req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
			perror("pingpong: send");
			return 1;
		}
		while (got < REPLY) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return 1;
			ssize_t r = recv(fd, buf + got, REPLY - got, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				fprintf(stderr, "pingpong: the server went away\n");
				return 1;
			}
			if (r > 0)
				got += (size_t)r;
		}
	}
	double us = (double)(now_ns() - t0) / 1e3 / (double)n;
	printf("pingpong rtt_us=%.1f per_s=%.0f\n", us, 1e6 / us);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: pingpong serve PATH | pingpong PATH N\n");
		return 2;
	}
	return client(argv[1], n);
}
