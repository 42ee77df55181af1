/*
 * daemonutil.h - what the daemon's integration tests share: a heapd of the
 * test's own on a socket in a fresh temporary directory, started with the
 * flags the test needs and stopped (or killed) by it; raw frames for the
 * tests that speak the protocol by hand; and cmocka.
 *
 * The binaries come from the build: HEAPD_BIN and HEAPCTL_BIN, set by
 * make check (AM_TESTS_ENVIRONMENT). HEAPD_WRAPPER, when set, is a command
 * line put before heapd's, split at spaces: HEAPD_WRAPPER="valgrind
 * --error-exitcode=99 ..." runs every daemon a test spawns under memcheck
 * while the test drives it (docs/reliability.md has the exact command).
 */
#ifndef HEAPD_DAEMONUTIL_H
#define HEAPD_DAEMONUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "heapd.h"
#include "heapd.pb-c.h"
#include "ops.h"

struct daemon {
	pid_t pid;
	void (*child_setup)(struct daemon *d); /* runs in the child before exec */
	void *arg;
	int cpu;         /* for daemon_pin */
	char dir[32];
	char sock[100];  /* fits sun_path */
	char log[128];
	char state[64];  /* its state_dir: private, as the socket */
};

static inline const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && v[0] ? v : dflt;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* $HEAPD_WRAPPER, or NULL if it is unset or empty. */
static inline const char *wrapper(void)
{
	const char *w = getenv("HEAPD_WRAPPER");
	return w && w[0] ? w : NULL;
}

/* Waits until something accepts connections on path: 5 s, or 60 s for a
 * daemon under a wrapper (valgrind takes seconds to start). */
static inline int wait_listening(const char *path, pid_t pid)
{
	for (int i = 0; i < (wrapper() ? 6000 : 500); i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(fd);
		if (ok)
			return 0;
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		sleep_ms(10);
	}
	return -1;
}

/* Daemons still running: a failed assertion leaves a test before it stops
 * its daemon, and a daemon left behind would keep the test's output pipe
 * open. They are killed when the test program exits (and die with it,
 * PR_SET_PDEATHSIG, if it is killed). */
static pid_t running[16];

static inline void kill_running(void)
{
	for (unsigned i = 0; i < sizeof running / sizeof running[0]; i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
}

static inline void track(pid_t pid, pid_t was)
{
	static int registered;
	if (!registered)
		registered = atexit(kill_running) == 0;
	for (unsigned i = 0; i < sizeof running / sizeof running[0]; i++)
		if (running[i] == was) {
			running[i] = pid;
			return;
		}
}

/* A fresh directory and the paths of a daemon in it, none started. */
static inline void daemon_prepare(struct daemon *d)
{
	memset(d, 0, sizeof *d);
	strcpy(d->dir, "/tmp/heapd-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof d->sock, "%s/heapd.sock", d->dir);
	snprintf(d->log, sizeof d->log, "%s/heapd.log", d->dir);
	snprintf(d->state, sizeof d->state, "%s/state", d->dir);
}

static inline void daemon_pinned(struct daemon *d)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(d->cpu, &one);
	sched_setaffinity(0, sizeof one, &one);
}

/* Makes the next start of d (prepared) run heapd on CPU cpu alone. */
static inline void daemon_pin(struct daemon *d, int cpu)
{
	d->cpu = cpu;
	d->child_setup = daemon_pinned;
}

/* Starts heapd on the paths of d with extra flags; its stdout and stderr
 * go to d->log. Stops the test if it does not come up. */
static inline void daemon_spawnv(struct daemon *d, va_list ap)
{
	char *argv[96], words[512] = "";
	int n = 0;
	if (wrapper()) {
		snprintf(words, sizeof words, "%s", wrapper());
		for (char *save, *w = strtok_r(words, " ", &save); w && n < 32; w = strtok_r(NULL, " ", &save))
			argv[n++] = w;
	}
	argv[n++] = (char *)env_or("HEAPD_BIN", "daemon/heapd");
	argv[n++] = "--config";
	argv[n++] = "/dev/null";
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	/* A private state_dir, and no save but those a test asks for (its
	 * flags come after these and win): test_persist tests saving. */
	argv[n++] = "--state-dir";
	argv[n++] = d->state;
	argv[n++] = "--save-on-stop";
	argv[n++] = "no";
	argv[n++] = "--save-interval";
	argv[n++] = "0";
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 94;)
		argv[n++] = a;
	argv[n] = NULL;
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* As systemd does: the watchdog is meant for the main process. */
		char pid[16];
		snprintf(pid, sizeof pid, "%d", (int)getpid());
		if (getenv("WATCHDOG_USEC"))
			setenv("WATCHDOG_PID", pid, 1);
		if (d->child_setup)
			d->child_setup(d);
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	track(d->pid, 0);
	if (wait_listening(d->sock, d->pid) != 0)
		fail_msg("heapd did not start; see %s", d->log);
}

/* daemon_spawnv() with the flags as arguments, NULL-terminated. */
static inline void daemon_spawn(struct daemon *d, ...)
{
	va_list ap;
	va_start(ap, d);
	daemon_spawnv(d, ap);
	va_end(ap);
}

/* A fresh directory, then heapd in it with extra flags (NULL-terminated). */
static inline void daemon_startv(struct daemon *d, va_list ap)
{
	daemon_prepare(d);
	daemon_spawnv(d, ap);
}

static inline void daemon_start(struct daemon *d, ...)
{
	va_list ap;
	va_start(ap, d);
	daemon_startv(d, ap);
	va_end(ap);
}

/* Stops heapd with sig and returns its exit status (-1 if killed). */
static inline int daemon_stop_sig(struct daemon *d, int sig)
{
	int status = 0;
	kill(d->pid, sig);
	waitpid(d->pid, &status, 0);
	track(0, d->pid);
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Removes d's state_dir and what heapd keeps in it. */
static inline void daemon_clear_state(struct daemon *d)
{
	char path[128];
	snprintf(path, sizeof path, "%s/heapd.snapshot", d->state);
	unlink(path);
	snprintf(path, sizeof path, "%s/heapd.snapshot.tmp", d->state);
	unlink(path);
	rmdir(d->state);
}

static inline void daemon_stop(struct daemon *d)
{
	assert_int_equal(daemon_stop_sig(d, SIGTERM), 0);
	unlink(d->log);
	daemon_clear_state(d);
	rmdir(d->dir);
}

static inline heapd *client(const struct daemon *d)
{
	heapd *h = heapd_connect(d->sock);
	assert_non_null(h);
	if (heapd_errcode(h))
		fail_msg("connect: %s", heapd_errmsg(h));
	return h;
}

static inline heapd_stats *stats_of(heapd *h)
{
	static heapd_stats st;
	assert_int_equal(heapd_get_stats(h, &st, sizeof st), 0);
	return &st;
}

/* --- raw frames, for the tests that speak the protocol by hand --- */

static inline int raw_connect(const struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static inline void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* A frame's 4-byte big-endian length, at p. */
static inline void put_frame_len(uint8_t *p, size_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

/* v as a protobuf varint at p; returns its length, at most 10. For frames
 * built by hand, which protobuf-c would not write. */
static inline size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	for (; v >= 128; v >>= 7)
		p[n++] = (uint8_t)(v | 128);
	p[n++] = (uint8_t)v;
	return n;
}

/* A request with that id and operation op, msg in the member of Request's
 * oneof that op names (HEAPD_OPS). msg is untyped: a message of another
 * type fails here rather than going out as op's. */
static inline Heapd__Request raw_request(uint64_t id, Heapd__Request__OpCase op, void *msg)
{
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = id;
	req.op_case = op;
	switch (op) {
#define X(name, NAME, ...)                                                                                   \
	case HEAPD__REQUEST__OP_##NAME:                                                                      \
		assert_ptr_equal(((const ProtobufCMessage *)msg)->descriptor, &heapd__##name##__descriptor); \
		req.name = msg;                                                                              \
		break;
		HEAPD_OPS(X)
#undef X
	HEAPD_OP_NONE_CASES:
		break;
	}
	return req;
}

/* req's frame at p, which has room for it; returns the frame's length. */
static inline size_t put_request(uint8_t *p, const Heapd__Request *req)
{
	size_t n = heapd__request__pack(req, p + 4);
	put_frame_len(p, n);
	return 4 + n;
}

static inline void raw_send_request(int fd, Heapd__Request *req)
{
	uint8_t *buf = malloc(4 + heapd__request__get_packed_size(req));
	raw_send(fd, buf, put_request(buf, req));
	free(buf);
}

/* The next reply, or NULL when the daemon closed the connection. */
static inline Heapd__Response *raw_reply(int fd)
{
	uint8_t hdr[4];
	size_t got = 0;
	while (got < 4) {
		ssize_t r = recv(fd, hdr + got, 4 - got, 0);
		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	uint8_t *buf = malloc(n ? n : 1);
	for (got = 0; got < n;) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0) {
			free(buf);
			return NULL;
		}
		got += (size_t)r;
	}
	Heapd__Response *resp = heapd__response__unpack(NULL, n, buf);
	free(buf);
	assert_non_null(resp);
	return resp;
}

/* True when the daemon has closed fd (EOF within a few seconds). */
static inline int raw_closed(int fd)
{
	char c;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (int i = 0; i < 50; i++) {
		if (poll(&p, 1, 100) > 0) {
			ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno == ECONNRESET))
				return 1;
			if (r < 0 && errno != EAGAIN)
				return 1;
			continue; /* a reply byte; keep draining */
		}
	}
	return 0;
}

/* Sends req and returns its reply, which must carry req's id. */
static inline Heapd__Response *raw_call(int fd, const Heapd__Request *req)
{
	raw_send_request(fd, (Heapd__Request *)req);
	Heapd__Response *resp = raw_reply(fd);
	assert_non_null(resp);
	assert_int_equal(resp->id, req->id);
	return resp;
}

/* Sends req, whose reply must be OK. */
static inline void raw_call_ok(int fd, const Heapd__Request *req)
{
	Heapd__Response *resp = raw_call(fd, req);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	heapd__response__free_unpacked(resp, NULL);
}

/* A ping with that id, answered OK. */
static inline void raw_ping(int fd, uint64_t id)
{
	Heapd__Ping ping = HEAPD__PING__INIT;
	Heapd__Request req = raw_request(id, HEAPD__REQUEST__OP_PING, &ping);
	raw_call_ok(fd, &req);
}

static inline void raw_hello(int fd)
{
	Heapd__Hello hello = HEAPD__HELLO__INIT;
	hello.version = 1;
	hello.client_name = "raw";
	Heapd__Request req = raw_request(1, HEAPD__REQUEST__OP_HELLO, &hello);
	raw_call_ok(fd, &req);
}

#endif
