/*
 * abuseutil.h - what the abuse, exhaustion and security tests share: the
 * daemon's memory and descriptors read from /proc, the bound its RSS must
 * stay under, and batches of raw requests pipelined in one write.
 *
 * RSS. Each test starts its own heapd, so the peak resident size the
 * kernel keeps for it (VmHWM) covers everything the test did. A test
 * states its bound from the configuration it started heapd with (heap,
 * clients, buffers); rss_check() adds the daemon's own start-up size and
 * what a sanitizer adds: ASan keeps up to 256 MiB of freed memory in
 * quarantine and a shadow byte per 8. Under TSan (sanitizers.h), and
 * under $HEAPD_WRAPPER (valgrind), whose process holds the tool as well,
 * the bound is printed but not checked.
 *
 * Include after daemonutil.h.
 */
#ifndef HEAPD_ABUSEUTIL_H
#define HEAPD_ABUSEUTIL_H

#include <dirent.h>
#include <sys/resource.h>

#include "../sanitizers.h"
#include "daemonutil.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

/* A "Field:   N kB" line of /proc/<pid>/status, in bytes. */
static inline uint64_t proc_status(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	uint64_t kb = 0;
	size_t n = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kb = strtoull(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb * KIB;
}

/* Open descriptors of a process. */
static inline int fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	assert_non_null(dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The daemon's resident size once it serves: taken at the start of a
 * test, the base its bound is added to. */
static inline uint64_t rss_now(const struct daemon *d)
{
	return proc_status(d->pid, "VmRSS");
}

/* Asserts that the daemon's peak RSS stayed within base + bound (plus what
 * ASan adds); returns the peak, for the figures in docs/reliability.md. */
static inline uint64_t rss_check(const struct daemon *d, uint64_t base, uint64_t bound, const char *what)
{
	uint64_t peak = proc_status(d->pid, "VmHWM");
	uint64_t allowed = base + bound;
	if (UNDER_ASAN)
		allowed = base + 2 * bound + 256 * MIB;
	print_message("# %s: daemon peak RSS %llu MiB (start %llu MiB, bound %llu MiB)\n", what,
		      (unsigned long long)(peak >> 20), (unsigned long long)(base >> 20),
		      (unsigned long long)(allowed >> 20));
	if (!wrapper() && !UNDER_TSAN && peak > allowed)
		fail_msg("%s: peak RSS %llu bytes over the bound %llu", what, (unsigned long long)peak,
			 (unsigned long long)allowed);
	return peak;
}

/* Raises this process's soft RLIMIT_NOFILE to at least n (the daemons it
 * starts inherit it); skips the test when the hard limit is lower. */
static inline int raise_nofile(rlim_t n)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= n)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n) {
		/* As root, the hard limit can be raised too. */
		struct rlimit up = {n, n};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
		return -1;
	}
	rl.rlim_cur = n;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	return 0;
}

/* --- batches: requests packed into one buffer, sent with one write --- */

struct batch {
	uint8_t *buf;
	size_t len, cap;
	unsigned n; /* requests in it */
};

static inline void batch_add(struct batch *b, Heapd__Request *req)
{
	size_t n = heapd__request__get_packed_size(req);
	if (b->len + 4 + n > b->cap) {
		b->cap = (b->len + 4 + n) * 2;
		b->buf = realloc(b->buf, b->cap);
		assert_non_null(b->buf);
	}
	uint8_t *p = b->buf + b->len;
	put_frame_len(p, n);
	heapd__request__pack(req, p + 4);
	b->len += 4 + n;
	b->n++;
}

/* Sends the batch and empties it (the buffer is kept). */
static inline void batch_send(int fd, struct batch *b)
{
	raw_send(fd, b->buf, b->len);
	b->len = 0;
	b->n = 0;
}

static inline void batch_free(struct batch *b)
{
	free(b->buf);
	memset(b, 0, sizeof *b);
}

/* Requests of each kind, by value; the pointers stay valid until the next
 * call of the same kind (the batch packs them at once). */
static inline Heapd__Request *rq_read(uint64_t id, uint64_t obj, uint32_t off, uint32_t len)
{
	static Heapd__Read m;
	static Heapd__Request r;
	heapd__read__init(&m);
	heapd__request__init(&r);
	m.obj = obj;
	m.offset = off;
	m.length = len;
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_READ;
	r.read = &m;
	return &r;
}

static inline Heapd__Request *rq_write(uint64_t id, uint64_t obj, uint32_t off, const void *data, size_t len)
{
	static Heapd__Write m;
	static Heapd__Request r;
	heapd__write__init(&m);
	heapd__request__init(&r);
	m.obj = obj;
	m.offset = off;
	m.data.data = (uint8_t *)data;
	m.data.len = len;
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_WRITE;
	r.write = &m;
	return &r;
}

static inline Heapd__Request *rq_alloc_into(uint64_t id, uint64_t obj, uint32_t slot, uint32_t nrefs,
					    uint32_t nbytes, const void *data, size_t len)
{
	static Heapd__Alloc m;
	static Heapd__Request r;
	heapd__alloc__init(&m);
	heapd__request__init(&r);
	m.into_obj = obj;
	m.into_slot = slot;
	m.nrefs = nrefs;
	m.nbytes = nbytes;
	m.data.data = (uint8_t *)data;
	m.data.len = len;
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_ALLOC;
	r.alloc = &m;
	return &r;
}

static inline Heapd__Request *rq_set_ref(uint64_t id, uint64_t obj, uint32_t slot, uint64_t target)
{
	static Heapd__SetRef m;
	static Heapd__Request r;
	heapd__set_ref__init(&m);
	heapd__request__init(&r);
	m.obj = obj;
	m.slot = slot;
	m.target = target;
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_SET_REF;
	r.set_ref = &m;
	return &r;
}

static inline Heapd__Request *rq_get_ref(uint64_t id, uint64_t obj, uint32_t slot)
{
	static Heapd__GetRef m;
	static Heapd__Request r;
	heapd__get_ref__init(&m);
	heapd__request__init(&r);
	m.obj = obj;
	m.slot = slot;
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_GET_REF;
	r.get_ref = &m;
	return &r;
}

static inline Heapd__Request *rq_release(uint64_t id, uint64_t obj)
{
	static Heapd__Release m;
	static Heapd__Request r;
	heapd__release__init(&m);
	heapd__request__init(&r);
	m.obj = obj;
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_RELEASE;
	r.release = &m;
	return &r;
}

static inline Heapd__Request *rq_ping(uint64_t id)
{
	static Heapd__Ping m;
	static Heapd__Request r;
	heapd__ping__init(&m);
	heapd__request__init(&r);
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_PING;
	r.ping = &m;
	return &r;
}

static inline Heapd__Request *rq_hello(uint64_t id)
{
	static Heapd__Hello m;
	static Heapd__Request r;
	heapd__hello__init(&m);
	heapd__request__init(&r);
	m.version = 1;
	m.client_name = "abuse";
	r.id = id;
	r.op_case = HEAPD__REQUEST__OP_HELLO;
	r.hello = &m;
	return &r;
}

/* The next reply must have this id and status; returns it (free it with
 * heapd__response__free_unpacked). */
static inline Heapd__Response *reply_expect(int fd, uint64_t id, Heapd__Status status)
{
	Heapd__Response *resp = raw_reply(fd);
	if (!resp)
		fail_msg("request %llu: the daemon closed the connection", (unsigned long long)id);
	if (resp->id != id || resp->status != status)
		fail_msg("request %llu: got id %llu status %d (%s), expected status %d", (unsigned long long)id,
			 (unsigned long long)resp->id, resp->status, resp->error ? resp->error : "", status);
	return resp;
}

static inline void status_expect(int fd, uint64_t id, Heapd__Status status)
{
	heapd__response__free_unpacked(reply_expect(fd, id, status), NULL);
}

#endif
