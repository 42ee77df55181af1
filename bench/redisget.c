/*
 * redisget.c - the reader of bench/fairness's heavy phase, against Redis:
 * GET of one 64-byte value, one request at a time, for SECS, each timed
 * with CLOCK_MONOTONIC around the request as fairness times heapd_read.
 * It waits for a reply in poll, as redis-benchmark does (and as libheapd
 * does with its spin off), and speaks RESP itself: two fixed messages.
 *
 *   redisget -s REDIS_SOCK [-d SECS] [-g SECS]
 *
 * SETs the key fairness:get first. Prints "fairness phase=redis-heavy
 * meter=get count=... p50_us=... p99_us=... max_us=... stuck=0|1 secs=...";
 * a GET still unanswered SECS + GRACE (default 30) after the start is
 * counted at its age, with stuck=1, and ends the run. Exits 1 when Redis
 * cannot be reached or a request fails, 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "benchutil.h"
#include "hist.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define VALUE "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"

static const char set[] = "*3\r\n$3\r\nSET\r\n$12\r\nfairness:get\r\n$64\r\n" VALUE "\r\n";
static const char get[] = "*2\r\n$3\r\nGET\r\n$12\r\nfairness:get\r\n";
static const char got[] = "$64\r\n" VALUE "\r\n";

/* Sends req and reads a reply of exactly want bytes, waiting in poll;
 * -1 on an error or past deadline. */
static int call(int fd, const char *req, size_t len, char *reply, size_t want, uint64_t deadline)
{
	size_t n = 0;

	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	while (n < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ns();

		if (now >= deadline)
			return -1;
		if (poll(&p, 1, (int)((deadline - now) / MS) + 1) < 0 && errno != EINTR)
			return -1;
		ssize_t r = recv(fd, reply + n, want - n, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (r > 0)
			n += (size_t)r;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: redisget -s REDIS_SOCK [-d SECS] [-g SECS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct hist hs;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = NULL;
	uint64_t secs = 5, grace = 30, t0, end, t;
	char reply[sizeof got];
	int c, fd, stuck = 0;

	while ((c = getopt(argc, argv, "s:d:g:")) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'd': secs = strtoull(optarg, NULL, 10); break;
		case 'g': grace = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (path == NULL || optind != argc || secs == 0 || strlen(path) >= sizeof sa.sun_path)
		usage();
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    call(fd, set, sizeof set - 1, reply, 5, now_ns() + grace * SEC) != 0 || memcmp(reply, "+OK\r\n", 5) != 0)
		fail("cannot SET the key in Redis");
	hist_clear(&hs);
	t0 = now_ns(), end = t0 + secs * SEC;
	for (t = t0; t < end && !stuck; t = now_ns()) {
		if (call(fd, get, sizeof get - 1, reply, sizeof got - 1, end + grace * SEC) != 0)
			stuck = 1;
		else if (memcmp(reply, got, sizeof got - 1) != 0)
			fail("GET returned another value");
		hist_add(&hs, now_ns() - t);
	}
	printf("fairness phase=redis-heavy meter=get count=%" PRIu64 " p50_us=%.1f p99_us=%.1f max_us=%.1f stuck=%d "
	       "secs=%.1f\n",
	       hs.count, (double)hist_quantile(&hs, 0.50) / 1e3, (double)hist_quantile(&hs, 0.99) / 1e3,
	       (double)hs.max / 1e3, stuck, (double)(now_ns() - t0) / 1e9);
	return stuck;
}
