/*
 * zcutil.h - what the zero-copy tests share (issue 19): objects of known
 * bytes, the arena's descriptor as a client process holds it (found in
 * /proc/self/fd: the library keeps it to itself), memory figures of a
 * file and a process, and frames read with recvmsg, so that a test sees
 * exactly which read brought a descriptor.
 */
#ifndef HEAPD_TESTS_ZCUTIL_H
#define HEAPD_TESTS_ZCUTIL_H

#include <dirent.h>
#include <sys/mman.h>

#include "daemonutil.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

/* The memfd's name (daemon/heap/os.c), as /proc/PID/fd shows it. */
#define ARENA_LINK "/memfd:heapd-arena"

/* Byte i of the pattern seed names; objects of different seeds differ
 * everywhere but by chance. */
static inline uint8_t pattern_byte(size_t i, unsigned seed)
{
	return (uint8_t)(i * 131 + seed * 29 + (i >> 11) + (i >> 19));
}

static inline void pattern_fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern_byte(i, seed);
}

/* Where p (n bytes) first differs from the pattern, or n. */
static inline size_t pattern_diff(const uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern_byte(i, seed))
			return i;
	return n;
}

static inline void assert_pattern(const void *p, size_t n, unsigned seed)
{
	size_t at = pattern_diff(p, n, seed);
	if (at != n)
		fail_msg("byte %zu of %zu differs from pattern %u", at, n, seed);
}

/* A held object of nrefs slots and nbytes bytes of pattern seed, written
 * in pieces small enough for any max_frame_size the tests set. */
static inline heapd_ref alloc_pattern(heapd *h, uint32_t nrefs, uint32_t nbytes, unsigned seed)
{
	enum { PIECE = 256 * 1024 };
	static uint8_t buf[PIECE];
	heapd_ref r;
	if (heapd_alloc(h, nrefs, nbytes, &r) != 0)
		fail_msg("alloc of %u bytes: %s", nbytes, heapd_errmsg(h));
	for (uint32_t off = 0; off < nbytes; off += PIECE) {
		uint32_t n = nbytes - off < PIECE ? nbytes - off : PIECE;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i, seed);
		if (heapd_write(h, r, off, buf, n) != 0)
			fail_msg("write at %u: %s", off, heapd_errmsg(h));
	}
	return r;
}

/* A sealed object of pattern seed, held. */
static inline heapd_ref sealed_pattern(heapd *h, uint32_t nbytes, unsigned seed)
{
	heapd_ref r = alloc_pattern(h, 0, nbytes, seed);
	assert_int_equal(heapd_seal(h, r), 0);
	return r;
}

/* The arena descriptors this process holds, up to max of them into fds;
 * returns how many there are. */
static inline int arena_fds(int *fds, int max)
{
	DIR *dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		char path[300], link[256];
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, link, sizeof link - 1);
		if (k <= 0)
			continue;
		link[k] = 0;
		if (strncmp(link, ARENA_LINK, strlen(ARENA_LINK)) == 0) {
			if (n < max)
				fds[n] = atoi(e->d_name);
			n++;
		}
	}
	closedir(dir);
	return n;
}

/* The arena descriptors open now, to tell a new one from them. */
struct fd_set_now {
	int fds[16], n;
};

static inline struct fd_set_now arena_fds_now(void)
{
	struct fd_set_now s;
	s.n = arena_fds(s.fds, 16);
	assert_true(s.n <= 16);
	return s;
}

/* The one arena descriptor opened since before was taken. */
static inline int new_arena_fd(const struct fd_set_now *before)
{
	struct fd_set_now now = arena_fds_now();
	int fd = -1, n = 0;
	for (int i = 0; i < now.n; i++) {
		int known = 0;
		for (int k = 0; k < before->n; k++)
			known |= now.fds[i] == before->fds[k];
		if (!known) {
			fd = now.fds[i];
			n++;
		}
	}
	if (n != 1)
		fail_msg("%d arena descriptors opened, not one", n);
	return fd;
}

static inline struct stat fstat_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st;
}

/* Memory the file's pages take (its holes take none). */
static inline uint64_t file_bytes(int fd)
{
	return (uint64_t)fstat_of(fd).st_blocks * 512;
}

/* A process's resident memory, /proc/PID/status's VmRSS, in bytes. */
static inline uint64_t rss_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib >= 0);
	return (uint64_t)kib << 10;
}

/* --- raw frames read with recvmsg --- */

/* Reads exactly n bytes with recvmsg, room for descriptors each time;
 * returns the descriptor(s) count that came, the first in *fd (else -1),
 * -1 at EOF. */
static inline int recv_exact(int sock, void *p, size_t n, int *fd)
{
	int got_fds = 0;
	*fd = -1;
	for (size_t got = 0; got < n;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} ctl;
		struct iovec iov = {.iov_base = (uint8_t *)p + got, .iov_len = n - got};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				   .msg_controllen = sizeof ctl.buf};
		ssize_t r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
		if (r <= 0)
			return -1;
		assert_false(m.msg_flags & MSG_CTRUNC);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int one;
				memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof one);
				if (*fd < 0)
					*fd = one;
				else
					close(one);
				got_fds++;
			}
		}
		got += (size_t)r;
	}
	return got_fds;
}

/* The next reply, read as its length then its body; *fd gets the
 * descriptor that came with the length's bytes (-1: none). Fails if one
 * comes with the body, or more than one comes. */
static inline Heapd__Response *rx_frame(int sock, int *fd)
{
	uint8_t hdr[4];
	int n = recv_exact(sock, hdr, 4, fd);
	assert_true(n == 0 || n == 1);
	uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	int body_fd;
	if (len) {
		int k = recv_exact(sock, buf, len, &body_fd);
		if (k != 0)
			fail_msg("a descriptor came inside a reply's body (%d)", k);
	}
	Heapd__Response *resp = heapd__response__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(resp);
	return resp;
}

static inline void raw_send_map_arena(int sock, uint64_t id)
{
	Heapd__MapArena m = HEAPD__MAP_ARENA__INIT;
	Heapd__Request req = raw_request(id, HEAPD__REQUEST__OP_MAP_ARENA, &m);
	raw_send_request(sock, &req);
}

/* A view of ref on a raw connection: its reply (OK or not). */
static inline Heapd__Response *raw_view(int sock, uint64_t id, uint64_t ref)
{
	Heapd__View v = HEAPD__VIEW__INIT;
	v.obj = ref;
	Heapd__Request req = raw_request(id, HEAPD__REQUEST__OP_VIEW, &v);
	raw_send_request(sock, &req);
	int fd;
	Heapd__Response *resp = rx_frame(sock, &fd);
	assert_int_equal(fd, -1);
	assert_int_equal(resp->id, id);
	return resp;
}

#endif
