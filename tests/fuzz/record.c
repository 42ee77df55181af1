/*
 * record.c - records what real clients send to heapd, as seed inputs for
 * the fuzz targets (tests/fuzz/make-corpus.sh runs it; docs/fuzzing.md).
 *
 * It stands in for heapd: run as HEAPD_BIN by the daemon tests, with
 * HEAPD_RECORD_REAL naming the real heapd and HEAPD_RECORD_DIR where to
 * write. It starts the real heapd with the same arguments on the socket
 * path plus ".real", listens on the path itself, and relays every
 * connection byte for byte, one thread per direction, parsing the frames
 * as they pass. Signals are passed on to heapd, and it exits with heapd's
 * status, so the tests see a daemon.
 *
 * What it writes, when heapd exits:
 *  - DIR/frame/<hash>: each distinct request frame, as sent;
 *  - DIR/dispatch/<pid>: every request of this daemon's run, in the order
 *    relayed, in fuzz_dispatch's input format (fuzzutil.h): connections
 *    mapped to its FUZZ_SESSIONS slots (switch records between them, a
 *    hang-up record when one ends; a connection with no free slot is left
 *    out), and every ref the daemon returned rewritten as its alias, its
 *    1-based index among the refs returned so far. Unknown refs are sent
 *    with an all-ones tag, so they stay forged. The file stops at
 *    RUN_MAX bytes, at a frame's edge.
 * Replies go through untouched, the arena's descriptor with the first
 * byte of its map_arena reply as heapd sends it; only their refs are
 * noted.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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

#include "fuzzutil.h"

#define FRAME_HEADER_BYTES 4u
#define RUN_MAX (48u << 10)
#define FRAME_MAX (16u << 10) /* larger frames end the recording of a run */

struct link {
	int client, daemon;
	int slot;          /* in the dispatch input; -1: not recorded */
	int ended;         /* one direction has finished */
};

static struct {
	pthread_mutex_t lock;   /* everything below */
	uint8_t *run;           /* the dispatch input so far */
	size_t run_len;
	int full;               /* RUN_MAX reached: nothing more is added */
	int cur;                /* the slot the last record went to */
	struct link *slots[FUZZ_SESSIONS];
	uint64_t *refs;         /* refs returned, in order */
	size_t nrefs, refs_cap;
	const char *dir;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void die(const char *what)
{
	fprintf(stderr, "heapd-record: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* n bytes from fd; a descriptor that comes with them (SCM_RIGHTS: the
 * arena's, with a map_arena reply) into *passed when passed is not NULL
 * and it has none yet, else closed. */
static int read_full(int fd, uint8_t *p, size_t n, int *passed)
{
	while (n) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = {.iov_base = p, .iov_len = n};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
		ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
		if (r <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			int got;
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof got))
				continue;
			memcpy(&got, CMSG_DATA(c), sizeof got);
			if (passed && *passed < 0)
				*passed = got;
			else
				close(got);
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* n bytes to fd, the descriptor passed (unless -1) with the first of
 * them, as heapd sends it; passed is closed. */
static int write_full(int fd, const uint8_t *p, size_t n, int passed)
{
	while (n) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		memset(&ctl, 0, sizeof ctl);
		struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		if (passed >= 0) {
			m.msg_control = ctl.buf;
			m.msg_controllen = sizeof ctl.buf;
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof passed);
			memcpy(CMSG_DATA(c), &passed, sizeof passed);
		}
		ssize_t r = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (passed >= 0)
			close(passed);
		passed = -1;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void run_add(const uint8_t *p, size_t n)
{
	if (R.full || R.run_len + n > RUN_MAX) {
		R.full = 1;
		return;
	}
	uint8_t *q = realloc(R.run, R.run_len + n);
	if (!q)
		die("realloc");
	memcpy(q + R.run_len, p, n);
	R.run = q;
	R.run_len += n;
}

static void run_ctl(uint32_t ctl)
{
	uint8_t h[4];
	fuzz_put_be32(h, FUZZ_CTL_BASE + ctl);
	run_add(h, 4);
}

static void run_switch(int slot)
{
	if (slot != R.cur) {
		run_ctl((uint32_t)slot);
		R.cur = slot;
	}
}

static uint64_t to_alias(void *arg, uint64_t ref)
{
	(void)arg;
	for (size_t i = 0; i < R.nrefs; i++)
		if (R.refs[i] == ref)
			return i + 1;
	return fuzz_is_alias(ref) ? ref | (uint64_t)UINT32_MAX << 32 : ref;
}

static void save(const char *sub, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", R.dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/%s", R.dir, sub, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

/* A request frame from l's client, before it is passed on. */
static void note_request(struct link *l, const uint8_t *frame, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (uint32_t i = 0; i < FRAME_HEADER_BYTES + n; i++)
		h = (h ^ frame[i]) * 0x100000001b3u;
	char name[32];
	snprintf(name, sizeof name, "%016llx", (unsigned long long)h);
	pthread_mutex_lock(&R.lock);
	save("frame", name, frame, FRAME_HEADER_BYTES + n);
	if (l->slot < 0 || R.full || n > FRAME_MAX) {
		R.full |= l->slot >= 0;
		pthread_mutex_unlock(&R.lock);
		return;
	}
	run_switch(l->slot);
	Heapd__Request *req = heapd__request__unpack(NULL, n, frame + FRAME_HEADER_BYTES);
	if (req && fuzz_map_refs(req, to_alias, NULL)) {
		size_t m = heapd__request__get_packed_size(req);
		uint8_t *buf = malloc(FRAME_HEADER_BYTES + m);
		if (!buf)
			die("malloc");
		fuzz_put_be32(buf, (uint32_t)m);
		heapd__request__pack(req, buf + FRAME_HEADER_BYTES);
		run_add(buf, FRAME_HEADER_BYTES + m);
		free(buf);
	} else {
		run_add(frame, FRAME_HEADER_BYTES + n);
	}
	if (req)
		heapd__request__free_unpacked(req, NULL);
	pthread_mutex_unlock(&R.lock);
}

static void note_reply(const uint8_t *body, uint32_t n)
{
	Heapd__Response *r = heapd__response__unpack(NULL, n, body);
	if (!r)
		return;
	if (r->result_case == HEAPD__RESPONSE__RESULT_REF && r->ref) {
		pthread_mutex_lock(&R.lock);
		if (R.nrefs == R.refs_cap) {
			R.refs_cap = R.refs_cap ? 2 * R.refs_cap : 64;
			R.refs = realloc(R.refs, R.refs_cap * sizeof *R.refs);
			if (!R.refs)
				die("realloc");
		}
		R.refs[R.nrefs++] = r->ref;
		pthread_mutex_unlock(&R.lock);
	}
	heapd__response__free_unpacked(r, NULL);
}

static void link_end(struct link *l)
{
	pthread_mutex_lock(&R.lock);
	if (l->ended++) {
		if (l->slot >= 0) {
			run_switch(l->slot);
			run_ctl(FUZZ_CTL_HANGUP);
			R.slots[l->slot] = NULL;
		}
		pthread_mutex_unlock(&R.lock);
		close(l->client);
		close(l->daemon);
		free(l);
		return;
	}
	pthread_mutex_unlock(&R.lock);
	/* Wake the other direction. */
	shutdown(l->client, SHUT_RDWR);
	shutdown(l->daemon, SHUT_RDWR);
}

/* Relays frames from one side to the other; up is client to daemon. */
static void relay(struct link *l, int up)
{
	int from = up ? l->client : l->daemon, to = up ? l->daemon : l->client;
	uint8_t *buf = NULL;
	for (;;) {
		uint8_t h[FRAME_HEADER_BYTES];
		int passed = -1;  /* the arena's descriptor comes with a reply's first byte */
		if (read_full(from, h, sizeof h, up ? NULL : &passed) != 0)
			break;
		uint32_t n = fuzz_get_be32(h);
		/* Announced past any limit: pass the header on, then bytes as they come. */
		if (n > (64u << 20)) {
			write_full(to, h, sizeof h, passed);
			uint8_t chunk[4096];
			for (ssize_t r; (r = read(from, chunk, sizeof chunk)) > 0;)
				if (write_full(to, chunk, (size_t)r, -1) != 0)
					break;
			break;
		}
		uint8_t *p = realloc(buf, FRAME_HEADER_BYTES + (size_t)n);
		if (!p)
			die("realloc");
		buf = p;
		memcpy(buf, h, sizeof h);
		if (read_full(from, buf + FRAME_HEADER_BYTES, n, NULL) != 0) {
			/* Cut short: pass on what came. */
			write_full(to, buf, FRAME_HEADER_BYTES, passed);
			break;
		}
		if (up)
			note_request(l, buf, n);
		else
			note_reply(buf + FRAME_HEADER_BYTES, n);
		if (write_full(to, buf, FRAME_HEADER_BYTES + (size_t)n, passed) != 0)
			break;
	}
	free(buf);
	link_end(l);
}

static void *relay_up(void *arg)
{
	relay(arg, 1);
	return NULL;
}

static void *relay_down(void *arg)
{
	relay(arg, 0);
	return NULL;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static pid_t child;
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	if (sig != SIGCHLD && child > 0)
		kill(child, sig);
	got_signal = 1;
}

static void finish(int status)
{
	pthread_mutex_lock(&R.lock);
	if (R.run_len) {
		char name[32];
		snprintf(name, sizeof name, "%ld-%d", (long)time(NULL), (int)getpid());
		save("dispatch", name, R.run, R.run_len);
	}
	/* Relays may still be running: leave without tearing them down. */
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

int main(int argc, char **argv)
{
	const char *real = getenv("HEAPD_RECORD_REAL");
	R.dir = getenv("HEAPD_RECORD_DIR");
	if (!real || !R.dir) {
		fprintf(stderr, "usage: HEAPD_RECORD_REAL=heapd HEAPD_RECORD_DIR=dir %s heapd-arguments...\n", argv[0]);
		return 2;
	}
	const char *sock = NULL;
	char real_sock[108];
	char **args = calloc((size_t)argc + 1, sizeof *args);
	if (!args)
		die("calloc");
	args[0] = (char *)real;
	for (int i = 1; i < argc; i++) {
		args[i] = argv[i];
		if (strcmp(argv[i - 1], "--socket") == 0) {
			sock = argv[i];
			snprintf(real_sock, sizeof real_sock, "%s.real", sock);
			args[i] = real_sock;
		}
	}
	if (!sock) {
		fprintf(stderr, "heapd-record: no --socket among the arguments\n");
		return 2;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(real, args);
		_exit(127);
	}
	free(args);
	int status, fd = -1;
	for (int i = 0; i < 500 && (fd = connect_to(real_sock)) < 0; i++) {
		if (waitpid(child, &status, WNOHANG) == child)
			finish(status);
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	if (fd < 0) {
		fprintf(stderr, "heapd-record: heapd does not listen on %s\n", real_sock);
		return 1;
	}
	close(fd);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 128) != 0)
		die(sock);
	pthread_attr_t detached;
	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
	while (!got_signal) {
		/* A signal may come just before accept: look again every 100 ms. */
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("accept");
		}
		struct link *l = calloc(1, sizeof *l);
		if (!l)
			die("calloc");
		l->client = cfd;
		l->daemon = connect_to(real_sock);
		if (l->daemon < 0) {
			close(cfd);
			free(l);
			continue;
		}
		pthread_mutex_lock(&R.lock);
		l->slot = -1;
		for (int i = 0; i < (int)FUZZ_SESSIONS && l->slot < 0; i++)
			if (!R.slots[i]) {
				R.slots[i] = l;
				l->slot = i;
			}
		pthread_mutex_unlock(&R.lock);
		pthread_t t;
		if (pthread_create(&t, &detached, relay_up, l) != 0 || pthread_create(&t, &detached, relay_down, l) != 0)
			die("pthread_create");
	}
	close(lfd);
	unlink(sock);
	waitpid(child, &status, 0);
	finish(status);
}
