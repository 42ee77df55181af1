/*
 * heapd.c - libheapd's blocking core: one connection, its requests queued
 * in order, each reply taken in turn.
 *
 * A frame is a 4-byte big-endian length and a protobuf message (see
 * docs/protocol.md). Requests are framed and queued, and each reply is
 * matched to its request, by core.c, which the async core shares; this
 * file does the waiting. HEAPD_EIO and HEAPD_EPROTO leave the connection
 * unusable, because the byte stream can no longer be trusted to be in
 * step: every later call fails with the same error, and every reply still
 * pending is taken as that error.
 *
 * One path for every request. A request is queued (queue_request: framed
 * into core.out, its entry in core.pend); a reply is taken for the oldest
 * entry (next_reply). A one-at-a-time call is the two in turn, refused
 * while pipelined replies are pending (so a reply never goes to the wrong
 * caller); heapd_append_* is queue_request alone, heapd_get_reply
 * next_reply alone.
 *
 * No deadlock, bounded memory. The daemon stops reading a client whose
 * replies pile up unread (max_output_buffer), so a client that only
 * writes a long pipeline would wait forever on a full socket. exchange()
 * never waits for the socket to take more without also reading: it polls
 * for both, and a reply that arrives is received. next_reply() stops as
 * soon as the reply it wants is whole, so what it reads ahead is at most
 * one reply and one read; heapd_flush reads ahead at most
 * HEAPD_PIPELINE_BYTES. When the socket takes everything at once (a short
 * request, the common case) a call costs one send, then recv tries while
 * it spins for the reply (spin.h), or one poll and one recv.
 *
 * Errors live in the connection (code and message), as in hiredis; they
 * are never thrown into errno. The generated protobuf code is private to
 * the library: only heapd_* symbols are exported. Requests are built by
 * wire.c; batch.c builds batches and takes their results.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "core.h"
#include "spin.h"

struct heapd {
	int fd;
	int err;
	char errmsg[256];
	struct core core;       /* requests queued, replies received */
	int send_errno;         /* a send failed: nothing more goes out */
	uint64_t session_id;
	char server_version[32];
	uint64_t max_object;
	uint32_t max_batch_ops;
	struct spin spin;       /* whether a wait for a reply spins first */
};

enum exchange_goal {
	UNTIL_REPLY, /* until the next reply is whole in core.in */
	UNTIL_SENT,  /* until everything is sent, or HEAPD_PIPELINE_BYTES read ahead */
};

static int set_error(heapd *h, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_error(heapd *h, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof h->errmsg, fmt, ap);
	va_end(ap);
	h->err = code;
	return code;
}

static int clear_error(heapd *h)
{
	h->err = 0;
	h->errmsg[0] = '\0';
	return 0;
}

/* The connection failed; it stays failed. what NULL keeps the message. */
static int broken(heapd *h, int code, const char *what)
{
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
	if (!what) {
		h->err = code;
		return code;
	}
	return set_error(h, code, "%s", what);
}

/* The error of a connection that failed or never was. */
static int unusable(heapd *h)
{
	return h->err ? h->err : set_error(h, HEAPD_EIO, "not connected");
}

/* ---- bytes in and out ---- */

/* Bytes received and not yet taken. */
static size_t untaken(const heapd *h)
{
	return h->core.in.len - h->core.taken;
}

/* One recv into core.in, of at least want bytes of room; flags as recv's.
 * Nothing to read now (MSG_DONTWAIT) is not an error. */
static int receive(heapd *h, size_t want, int flags)
{
	size_t room;
	uint8_t *p = core_in_room(&h->core, want, &room);
	if (!p)
		return broken(h, HEAPD_ENOBUFS, "out of memory for a reply");
	ssize_t r = recv(h->fd, p, room, flags);
	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0) {
		/* A send that failed may have had a reason, sent before the
		 * daemon closed (a refusal at accept): that reply is read and
		 * reported first; the send's error is for what is left. */
		const char *why = h->send_errno ? strerror(h->send_errno)
			: r == 0 ? "connection closed by the daemon" : strerror(errno);
		return broken(h, HEAPD_EIO, why);
	}
	h->core.in.len += (size_t)r;
	return 0;
}

/* Bytes core.in still lacks for the next reply to be whole (0: it is),
 * or -1 (the connection is then broken) for a length over max_frame. */
static ssize_t reply_lacks(heapd *h)
{
	ssize_t lacks = core_reply_lacks(&h->core);
	if (lacks < 0)
		broken(h, HEAPD_EPROTO, "reply longer than max_frame_size");
	return lacks;
}

/* Waits for reply bytes without sleeping, if h->spin says so (spin.h),
 * yielding the CPU between tries (a daemon on the same CPU runs then).
 * Returns >0 when bytes came, 0 when it did not spin or saw none, or the
 * error that broke the connection. */
static int spin_for_reply(heapd *h, size_t lacks)
{
	if (!spin_start(&h->spin))
		return 0;
	uint64_t start = wire_mono_ns();
	for (;;) {
		/* Counted past taken: receive() may move the untaken bytes
		 * to the front, which shrinks in.len. */
		size_t had = untaken(h);
		int err = receive(h, lacks, MSG_DONTWAIT);
		if (err)
			return err;
		if (untaken(h) > had) {
			spin_hit(&h->spin);
			return 1;
		}
		if (wire_mono_ns() - start >= h->spin.ns)
			break;
		sched_yield();
	}
	spin_miss(&h->spin);
	return 0;
}

/* Sends and receives until goal. Returns 0, or the error that broke the
 * connection. */
static int exchange(heapd *h, enum exchange_goal goal)
{
	struct core *c = &h->core;
	for (;;) {
		ssize_t lacks = reply_lacks(h);
		if (lacks < 0)
			return h->err;
		size_t unsent = c->out.len - c->sent;
		if (goal == UNTIL_REPLY ? lacks == 0 : unsent == 0)
			return 0;
		if (unsent) {
			ssize_t w = send(h->fd, c->out.p + c->sent, unsent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0) {
				core_sent(c, (size_t)w);
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				/* Nothing more can go; what the daemon sent may still come. */
				h->send_errno = w == 0 ? EPIPE : errno;
				core_sent(c, unsent);
				continue;
			}
		}
		/* The socket takes no more now, or there is nothing to send. */
		if (goal == UNTIL_SENT && untaken(h) >= HEAPD_PIPELINE_BYTES)
			return 0; /* the rest goes as replies are taken */
		if (goal == UNTIL_REPLY && !unsent) {
			int got = spin_for_reply(h, (size_t)lacks);
			if (got < 0)
				return got;
			if (got)
				continue;
		}
		/* Waits in poll, not in a blocking recv: a recv sleeps on the
		 * socket's one wait queue, where the daemon reading our request
		 * (freeing its buffer gives us write space) wakes it for nothing;
		 * poll is woken only for what it asked. That wake-up was one more
		 * per call, across CPUs when the daemon runs on another. */
		struct pollfd p = {.fd = h->fd, .events = unsent ? POLLIN | POLLOUT : POLLIN};
		int n = poll(&p, 1, -1);
		if (n < 0 && errno != EINTR)
			return broken(h, HEAPD_EIO, strerror(errno));
		if (n <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue; /* writable: sent above */
		int err = receive(h, (size_t)lacks, MSG_DONTWAIT);
		if (err)
			return err;
	}
}

/* ---- requests and their replies ---- */

/* Frames req (with the next id) into core.out and queues its reply. b: a
 * batch request, whose results go to b. Nothing changes on an error. */
static int queue_request(heapd *h, Heapd__Request *req, heapd_batch *b)
{
	if (h->fd < 0)
		return unusable(h);
	size_t unsent = h->core.out.len - h->core.sent;
	int err = core_submit(&h->core, req, &(struct pend){.batch = b}, HEAPD_PIPELINE_MAX, HEAPD_PIPELINE_BYTES);
	switch (err) {
	case 0:
		return clear_error(h);
	case CORE_TOO_MANY:
		return set_error(h, HEAPD_ELIMIT, "%zu replies pending (HEAPD_PIPELINE_MAX): take some first",
				 h->core.npend);
	case CORE_UNSENT:
		return set_error(h, HEAPD_ELIMIT,
				 "%zu bytes of requests not yet sent (HEAPD_PIPELINE_BYTES): take replies first", unsent);
	case HEAPD_ELIMIT:
		return set_error(h, err, "request exceeds the daemon's max_frame_size %u", h->core.max_frame);
	default:
		return set_error(h, err, "out of memory");
	}
}

/* The oldest pending request will get no reply: code, already recorded
 * in h, is its result, in *r. */
static int reply_lost(heapd *h, int code, heapd_reply *r)
{
	struct pend p = core_pop(&h->core);
	core_lost(&p, code);
	*r = (heapd_reply){.status = code, .error = h->errmsg, .id = p.id};
	return code;
}

/* Takes the oldest pending reply into *r (and *raw, the decoded reply, or
 * NULL); returns its status, recorded in h. */
static int next_reply(heapd *h, heapd_reply *r, const Heapd__Response **raw)
{
	*raw = NULL;
	scratch_reset(&h->core.scratch); /* the last reply is the caller's until now */
	if (!h->core.npend) {
		int code = h->fd < 0 ? unusable(h) : set_error(h, HEAPD_EINVAL, "no reply pending");
		*r = (heapd_reply){.status = code, .error = h->errmsg};
		return code;
	}
	int code = h->fd < 0 ? unusable(h) : exchange(h, UNTIL_REPLY);
	if (code)
		return reply_lost(h, code, r);
	struct core_reply v;
	core_take(&h->core, &v, r);
	if (v.fatal)
		return reply_lost(h, broken(h, v.status, v.error), r);
	*raw = v.resp;
	if (v.status)
		set_error(h, v.status, "%s", v.error);
	else
		clear_error(h);
	r->error = h->errmsg;
	return v.status;
}

/* One request at a time: req's reply into *r (and *raw). */
static int call(heapd *h, Heapd__Request *req, heapd_batch *b, heapd_reply *r, const Heapd__Response **raw)
{
	*raw = NULL;
	*r = (heapd_reply){.error = h->errmsg};
	int err = h->fd < 0 ? unusable(h)
		: h->core.npend ? set_error(h, HEAPD_EINVAL, "%zu replies pending: take them with heapd_get_reply first",
					    h->core.npend)
		: queue_request(h, req, b);
	if (err) {
		r->status = err;
		return err;
	}
	return next_reply(h, r, raw);
}

/* One request at a time, for its decoded reply: NULL after an error,
 * which *err gets. */
static const Heapd__Response *call_reply(heapd *h, struct wire_req *w, int *err)
{
	heapd_reply r;
	const Heapd__Response *raw;
	*err = call(h, &w->req, NULL, &r, &raw);
	return *err ? NULL : raw;
}

static int call_status(heapd *h, struct wire_req *w)
{
	heapd_reply r;
	const Heapd__Response *raw;
	return call(h, &w->req, NULL, &r, &raw);
}

/* An operation without arguments, one at a time, or queued. */
static int call_op(heapd *h, Heapd__Request__OpCase op)
{
	struct wire_req w;
	wire_op(&w, op);
	return call_status(h, &w);
}

static int queue_op(heapd *h, Heapd__Request__OpCase op)
{
	struct wire_req w;
	wire_op(&w, op);
	return queue_request(h, &w.req, NULL);
}

static int call_ref(heapd *h, struct wire_req *w, heapd_ref *out)
{
	heapd_reply r;
	const Heapd__Response *raw;
	int err = call(h, &w->req, NULL, &r, &raw);
	if (!err)
		*out = r.ref;
	return err;
}

/* ---- the connection ---- */

static int hello(heapd *h)
{
	struct wire_req w;
	wire_hello(&w, program_invocation_short_name);
	int err;
	const Heapd__Response *resp = call_reply(h, &w, &err);
	if (!resp)
		return broken(h, err, NULL);
	h->session_id = resp->hello->session_id;
	snprintf(h->server_version, sizeof h->server_version, "%s", resp->hello->server_version);
	h->core.max_frame = resp->hello->max_frame;
	h->max_object = resp->hello->max_object;
	h->max_batch_ops = resp->hello->max_batch_ops;
	return 0;
}

int heapd_set_spin(heapd *h, uint32_t usec)
{
	if (usec > HEAPD_SPIN_MAX_US)
		return set_error(h, HEAPD_EINVAL, "spin of %u us: at most %u (HEAPD_SPIN_MAX_US)", usec,
				 HEAPD_SPIN_MAX_US);
	spin_set(&h->spin, usec);
	return clear_error(h);
}

uint32_t heapd_spin(const heapd *h) { return h->spin.ns / 1000u; }

void heapd_spin_counts(const heapd *h, uint64_t *spins, uint64_t *hits)
{
	*spins = h->spin.spins;
	*hits = h->spin.hits;
}

heapd *heapd_connect(const char *socket_path)
{
	heapd *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->fd = -1;
	core_init(&h->core);
	uint32_t spin_us = 0;
	int spin_given = spin_env(&spin_us);
	if (spin_given < 0) {
		set_error(h, HEAPD_EINVAL, "HEAPD_SPIN_US must be 0 to %u microseconds: %s", HEAPD_SPIN_MAX_US,
			  getenv("HEAPD_SPIN_US"));
		return h;
	}
	struct sockaddr_un sa;
	if (wire_sockaddr(&socket_path, &sa) != 0) {
		set_error(h, HEAPD_EINVAL, "socket path too long: %s", socket_path);
		return h;
	}
	h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0 || connect(h->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		set_error(h, HEAPD_EIO, "cannot connect to %s: %s", socket_path, strerror(errno));
		if (h->fd >= 0) {
			close(h->fd);
			h->fd = -1;
		}
		return h;
	}
	spin_set(&h->spin, spin_given ? spin_us : spin_pays(h->fd) ? HEAPD_SPIN_DEFAULT_US : 0);
	hello(h);
	return h;
}

void heapd_close(heapd *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	core_free(&h->core);
	free(h);
}

int heapd_errcode(const heapd *h) { return h->err; }
const char *heapd_errmsg(const heapd *h) { return h->errmsg; }
uint64_t heapd_session_id(const heapd *h) { return h->session_id; }
const char *heapd_server_version(const heapd *h) { return h->server_version; }
uint32_t heapd_max_frame(const heapd *h) { return h->core.max_frame; }
uint64_t heapd_max_object(const heapd *h) { return h->max_object; }
uint32_t heapd_max_batch_ops(const heapd *h) { return h->max_batch_ops; }
size_t heapd_pending(const heapd *h) { return h->core.npend; }

/* ---- one request at a time ---- */

int heapd_ping(heapd *h, uint64_t *rtt_ns)
{
	uint64_t t0 = wire_mono_ns();
	int err = call_op(h, HEAPD__REQUEST__OP_PING);
	if (!err && rtt_ns)
		*rtt_ns = wire_mono_ns() - t0;
	return err;
}

int heapd_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes, heapd_ref *out)
{
	struct wire_req w;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return call_ref(h, &w, out);
}

int heapd_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		     uint32_t len, heapd_ref *out)
{
	struct wire_req w;
	wire_alloc(&w, obj, slot, nrefs, nbytes, data, len);
	return call_ref(h, &w, out);
}

int heapd_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	struct wire_req w;
	wire_write(&w, obj, off, buf, len);
	return call_status(h, &w);
}

int heapd_read(heapd *h, heapd_ref obj, uint32_t off, void *buf, uint32_t len)
{
	struct wire_req w;
	wire_read(&w, obj, off, len);
	heapd_reply r;
	const Heapd__Response *raw;
	int err = call(h, &w.req, NULL, &r, &raw);
	if (!err && len)
		memcpy(buf, r.data, len);
	return err;
}

int heapd_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	struct wire_req w;
	wire_set_ref(&w, obj, slot, target);
	return call_status(h, &w);
}

int heapd_get_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref *out)
{
	struct wire_req w;
	wire_get_ref(&w, obj, slot);
	return call_ref(h, &w, out);
}

int heapd_release(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_release(&w, obj);
	return call_status(h, &w);
}

int heapd_root_set(heapd *h, const char *name, heapd_ref obj)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_set(&w, name, obj);
	return call_status(h, &w);
}

int heapd_root_get(heapd *h, const char *name, heapd_ref *out)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_get(&w, name);
	return call_ref(h, &w, out);
}

int heapd_root_chmod(heapd *h, const char *name, uint32_t mode)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_chmod(&w, name, mode);
	return call_status(h, &w);
}

int heapd_root_chown(heapd *h, const char *name, uint32_t uid, uint32_t gid)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_chown(&w, name, uid, gid);
	return call_status(h, &w);
}

int heapd_root_list_info(heapd *h, heapd_root_info **roots, size_t *count, int *truncated)
{
	struct wire_req w;
	wire_op(&w, HEAPD__REQUEST__OP_ROOT_LIST);
	int err;
	const Heapd__Response *resp = call_reply(h, &w, &err);
	if (!resp)
		return err;
	heapd_root_info *v = wire_root_info(resp->roots);
	if (!v)
		return set_error(h, HEAPD_ENOBUFS, "out of memory");
	*roots = v;
	if (count)
		*count = resp->roots->n_names;
	if (truncated)
		*truncated = resp->roots->truncated;
	return 0;
}

int heapd_root_list(heapd *h, char ***names, size_t *count, int *truncated)
{
	struct wire_req w;
	wire_op(&w, HEAPD__REQUEST__OP_ROOT_LIST);
	int err;
	const Heapd__Response *resp = call_reply(h, &w, &err);
	if (!resp)
		return err;
	char **v = wire_names(resp->roots);
	if (!v)
		return set_error(h, HEAPD_ENOBUFS, "out of memory");
	*names = v;
	if (count)
		*count = resp->roots->n_names;
	if (truncated)
		*truncated = resp->roots->truncated;
	return 0;
}

int heapd_uid_stats(heapd *h, heapd_uid_stat **rows, size_t size, size_t *count, int *truncated)
{
	struct wire_req w;
	wire_op(&w, HEAPD__REQUEST__OP_UID_STATS);
	heapd_reply r;
	const Heapd__Response *raw;
	int err = call(h, &w.req, NULL, &r, &raw);
	if (err)
		return err;
	/* Rows of the caller's size: what both have copied, the rest zero. */
	size_t n = size < sizeof **r.uids ? size : sizeof **r.uids;
	char *v = calloc(r.nuids ? r.nuids : 1, size ? size : 1);
	if (!v)
		return set_error(h, HEAPD_ENOBUFS, "out of memory");
	for (size_t i = 0; i < r.nuids; i++)
		memcpy(v + i * size, r.uids[i], n);
	*rows = (heapd_uid_stat *)v;
	if (count)
		*count = r.nuids;
	if (truncated)
		*truncated = r.truncated;
	return 0;
}

void heapd_free_uid_stats(heapd_uid_stat *rows)
{
	free(rows);
}

int heapd_gc(heapd *h)
{
	return call_op(h, HEAPD__REQUEST__OP_GC);
}

int heapd_free_os_memory(heapd *h)
{
	return call_op(h, HEAPD__REQUEST__OP_FREE_OS_MEMORY);
}

int heapd_save(heapd *h, int wait)
{
	struct wire_req w;
	wire_op(&w, HEAPD__REQUEST__OP_SAVE);
	w.op.save.wait = wait != 0;
	return call_status(h, &w);
}

static int call_count(heapd *h, struct wire_req *w, uint64_t *objects, uint64_t *bytes)
{
	heapd_reply r;
	const Heapd__Response *raw;
	int err = call(h, &w->req, NULL, &r, &raw);
	if (!err && objects)
		*objects = r.objects;
	if (!err && bytes)
		*bytes = r.bytes;
	return err;
}

int heapd_retained(heapd *h, heapd_ref obj, uint64_t *objects, uint64_t *bytes)
{
	struct wire_req w;
	wire_retained(&w, obj, NULL);
	return call_count(h, &w, objects, bytes);
}

/* A retained request's root name: the wire cannot tell "" from no name. */
static int count_name_bad(heapd *h, const char *name)
{
	return !name || !*name ? set_error(h, HEAPD_EINVAL, "root name is %s", name ? "empty" : "NULL") : 0;
}

int heapd_root_retained(heapd *h, const char *name, uint64_t *objects, uint64_t *bytes)
{
	if (count_name_bad(h, name))
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_retained(&w, 0, name);
	return call_count(h, &w, objects, bytes);
}

/* out was allocated by a program built with this struct, or one with fewer
 * or more fields: copy what both have, zero what only the program has. */
int heapd_get_stats(heapd *h, heapd_stats *out, size_t size)
{
	struct wire_req w;
	wire_op(&w, HEAPD__REQUEST__OP_GET_STATS);
	heapd_reply r;
	const Heapd__Response *raw;
	int err = call(h, &w.req, NULL, &r, &raw);
	if (!err) {
		size_t n = size < sizeof *r.stats ? size : sizeof *r.stats;
		memcpy(out, r.stats, n);
		memset((char *)out + n, 0, size - n);
	}
	return err;
}

int heapd_batch_exec(heapd *h, heapd_batch *b)
{
	struct wire_req w;
	hbatch_request(b, &w);
	heapd_reply r;
	const Heapd__Response *raw;
	uint64_t id = h->core.next_id;
	int err = call(h, &w.req, b, &r, &raw);
	if (h->core.next_id == id) /* not sent: nothing ran */
		hbatch_lost(b, 0, (uint32_t)w.op.batch.n_ops, HEAPD_ESKIPPED);
	return err;
}

/* ---- pipelining ---- */

int heapd_append_ping(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_PING);
}

int heapd_append_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes)
{
	struct wire_req w;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			    const void *data, uint32_t len)
{
	struct wire_req w;
	wire_alloc(&w, obj, slot, nrefs, nbytes, data, len);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	struct wire_req w;
	wire_write(&w, obj, off, buf, len);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_read(heapd *h, heapd_ref obj, uint32_t off, uint32_t len)
{
	struct wire_req w;
	wire_read(&w, obj, off, len);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	struct wire_req w;
	wire_set_ref(&w, obj, slot, target);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_get_ref(heapd *h, heapd_ref obj, uint32_t slot)
{
	struct wire_req w;
	wire_get_ref(&w, obj, slot);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_release(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_release(&w, obj);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_root_set(heapd *h, const char *name, heapd_ref obj)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_set(&w, name, obj);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_root_get(heapd *h, const char *name)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_get(&w, name);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_root_chmod(heapd *h, const char *name, uint32_t mode)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_chmod(&w, name, mode);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_root_chown(heapd *h, const char *name, uint32_t uid, uint32_t gid)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_chown(&w, name, uid, gid);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_gc(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_GC);
}

int heapd_append_free_os_memory(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_FREE_OS_MEMORY);
}

int heapd_append_get_stats(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_GET_STATS);
}

int heapd_append_uid_stats(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_UID_STATS);
}

int heapd_append_retained(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_retained(&w, obj, NULL);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_root_retained(heapd *h, const char *name)
{
	if (count_name_bad(h, name))
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_retained(&w, 0, name);
	return queue_request(h, &w.req, NULL);
}

int heapd_append_batch(heapd *h, heapd_batch *b)
{
	struct wire_req w;
	hbatch_request(b, &w);
	return queue_request(h, &w.req, b);
}

int heapd_flush(heapd *h)
{
	if (h->fd < 0)
		return unusable(h);
	int err = exchange(h, UNTIL_SENT);
	return err ? err : clear_error(h);
}

int heapd_get_reply(heapd *h, heapd_reply *r)
{
	const Heapd__Response *raw;
	return next_reply(h, r, &raw);
}
