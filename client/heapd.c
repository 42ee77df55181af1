/*
 * heapd.c - libheapd's blocking core: one connection, its requests queued
 * in order, each reply taken in turn.
 *
 * A frame is a 4-byte big-endian length and a protobuf message (see
 * docs/protocol.md). Requests are framed and queued, and each reply is
 * matched to its request, by core.c, which the async core shares; wait.c
 * does the waiting. HEAPD_EIO, HEAPD_EPROTO and HEAPD_ETIMEDOUT close the
 * connection, because the byte stream can no longer be trusted to be in
 * step: every later call fails with the same error and message
 * (unusable()), and every reply still pending is taken as that error.
 *
 * One path for every request. A request is queued (queue_request: framed
 * into core.out, its entry in core.pend); a reply is taken for the oldest
 * entry (next_reply). A one-at-a-time call is the two in turn, refused
 * while pipelined replies are pending (so a reply never goes to the wrong
 * caller); heapd_append_* (pipeline.c) is queue_request alone,
 * heapd_get_reply next_reply alone.
 *
 * The library's own requests (core.h): the map_arena before a first view,
 * and heapd_view_release's view_release, which goes out with the next send
 * (hcall_release) and is not waited for. No caller gets their replies:
 * next_reply takes and checks them on the way to the caller's, and
 * neither heapd_pending nor the rule above counts them. At most
 * OWN_PENDING_MAX are left pending: a loop of releases alone takes them
 * then, so memory stays bounded. heapd_close drops those still pending
 * (the daemon ends their views as the connection closes).
 *
 * Arguments. A NULL where the call needs a pointer is HEAPD_EINVAL before
 * anything is sent, its message naming the function and the argument
 * (null_arg); a NULL connection is HEAPD_EINVAL with nowhere to say why.
 *
 * Errors live in the connection (code and message), as in hiredis; they
 * are never thrown into errno. The generated protobuf code is private to
 * the library: only heapd_* symbols are exported. Requests are built by
 * wire.c; batch.c builds batches and takes their results.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "batch.h"
#include "call.h"
#include "conn.h"

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
	return what ? hwait_broken(h, code, "%s", what) : hwait_broken(h, code, NULL);
}

/* The error of a connection that failed or never was. */
static int unusable(heapd *h)
{
	if (!h->dead)
		return set_error(h, HEAPD_EIO, "not connected");
	memcpy(h->errmsg, h->deadmsg, sizeof h->errmsg);
	h->err = h->dead;
	return h->dead;
}

/* fn's argument what is NULL, which it needs: HEAPD_EINVAL, said in h
 * unless h is the one. */
static int null_arg(heapd *h, const char *fn, const char *what)
{
	return h ? set_error(h, HEAPD_EINVAL, "%s: %s is NULL", fn, what) : HEAPD_EINVAL;
}

/* fn's buffer what is NULL with len bytes to copy (len 0 needs none). */
static int null_buf(heapd *h, const char *fn, const char *what, uint32_t len)
{
	return h ? set_error(h, HEAPD_EINVAL, "%s: %s is NULL with len %u", fn, what, len) : HEAPD_EINVAL;
}

/* ---- requests and their replies ---- */

/* The library's own replies left pending at most (hcall_release): a round
 * trip per this many heapd_view_release calls in a row takes them. */
#define OWN_PENDING_MAX 1024u

/* Frames req (with the next id) into core.out and queues p for its reply
 * (core_submit). Nothing changes on an error. */
static int queue_pend(heapd *h, Heapd__Request *req, const struct pend *p)
{
	if (!h)
		return HEAPD_EINVAL;
	if (h->fd < 0)
		return unusable(h);
	size_t unsent = h->core.out.len - h->core.sent;
	int err = core_submit(&h->core, req, p, HEAPD_PIPELINE_MAX, HEAPD_PIPELINE_BYTES);
	switch (err) {
	case 0:
		return clear_error(h);
	case CORE_TOO_MANY:
		return set_error(h, HEAPD_ELIMIT, "%zu replies pending (HEAPD_PIPELINE_MAX): take some first",
				 core_pending(&h->core));
	case CORE_UNSENT:
		return set_error(h, HEAPD_ELIMIT,
				 "%zu bytes of requests not yet sent (HEAPD_PIPELINE_BYTES): take replies first", unsent);
	case HEAPD_ELIMIT:
		return set_error(h, err, "request exceeds the daemon's max_frame_size %u", h->core.max_frame);
	default:
		return set_error(h, err, "out of memory");
	}
}

/* queue_pend for the caller; b: a batch request, whose results go to b. */
static int queue_request(heapd *h, Heapd__Request *req, heapd_batch *b)
{
	return queue_pend(h, req, &(struct pend){.batch = b});
}

/* The oldest pending request, *own if the library's, will get no reply:
 * code, already recorded in h, is its result, in *r. */
static int reply_lost(heapd *h, int code, heapd_reply *r, int *own)
{
	struct pend p = core_pop(&h->core);
	core_lost(&p, code);
	*r = (heapd_reply){.status = code, .error = h->errmsg, .id = p.id};
	*own = p.own;
	return code;
}

/* Takes the oldest pending reply (one is due) into *r (and *raw, the
 * decoded reply, or NULL); returns its status, recorded in h; *own says
 * whether its request was the library's. */
static int take_reply(heapd *h, heapd_reply *r, const Heapd__Response **raw, int *own)
{
	*raw = NULL;
	int code = h->fd < 0 ? unusable(h) : hwait_exchange(h, HWAIT_REPLY);
	if (code)
		return reply_lost(h, code, r, own);
	struct core_reply v;
	core_take(&h->core, &v, r);
	if (v.fatal)
		return reply_lost(h, broken(h, v.status, v.error), r, own);
	*raw = v.resp;
	*own = v.p.own;
	if (v.status)
		set_error(h, v.status, "%s", v.error);
	else
		clear_error(h);
	r->error = h->errmsg;
	return v.status;
}

/* Takes the oldest pending reply of the caller's, as take_reply: the
 * replies to the library's own requests before it are taken first. */
static int next_reply(heapd *h, heapd_reply *r, const Heapd__Response **raw)
{
	*raw = NULL;
	scratch_reset(&h->core.scratch); /* the last reply is the caller's until now */
	if (!core_pending(&h->core)) {
		int code = h->fd < 0 ? unusable(h) : set_error(h, HEAPD_EINVAL, "no reply pending");
		*r = (heapd_reply){.status = code, .error = h->errmsg};
		return code;
	}
	int own;
	int code = take_reply(h, r, raw, &own);
	while (own) {
		scratch_reset(&h->core.scratch);
		code = take_reply(h, r, raw, &own);
	}
	return code;
}

/* Takes the replies to the library's own requests at the front of the
 * queue, for no caller: 0, or the error that broke the connection. */
static int take_own(heapd *h)
{
	while (h->core.npend && core_oldest(&h->core)->own) {
		heapd_reply r;
		const Heapd__Response *raw;
		int own;
		scratch_reset(&h->core.scratch);
		take_reply(h, &r, &raw, &own);
		if (h->fd < 0)
			return h->dead;
	}
	return 0;
}

/* 0 when h may make a call one at a time: it is open, and no reply of the
 * caller's is pending (the library's own may be). Else the error. */
static int idle(heapd *h)
{
	if (h->fd < 0)
		return unusable(h);
	size_t n = core_pending(&h->core);
	return n ? set_error(h, HEAPD_EINVAL, "%zu replies pending: take them with heapd_get_reply first", n) : 0;
}

/* One request at a time: req's reply into *r (and *raw). */
static int call(heapd *h, Heapd__Request *req, heapd_batch *b, heapd_reply *r, const Heapd__Response **raw)
{
	*raw = NULL;
	if (!h) {
		*r = (heapd_reply){.status = HEAPD_EINVAL, .error = heapd_strerror(HEAPD_EINVAL)};
		return HEAPD_EINVAL;
	}
	*r = (heapd_reply){.error = h->errmsg};
	int err = idle(h);
	if (!err)
		err = queue_request(h, req, b);
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
	if (!h)
		return HEAPD_EINVAL;
	if (usec > HEAPD_SPIN_MAX_US)
		return set_error(h, HEAPD_EINVAL, "spin of %u us: at most %u (HEAPD_SPIN_MAX_US)", usec,
				 HEAPD_SPIN_MAX_US);
	spin_set(&h->spin, usec);
	return clear_error(h);
}

uint32_t heapd_spin(const heapd *h) { return h ? h->spin.ns / 1000u : 0; }

void heapd_spin_counts(const heapd *h, uint64_t *spins, uint64_t *hits)
{
	if (spins)
		*spins = h ? h->spin.spins : 0;
	if (hits)
		*hits = h ? h->spin.hits : 0;
}

int heapd_set_timeout(heapd *h, uint32_t ms)
{
	if (!h)
		return HEAPD_EINVAL;
	h->timeout_ms = ms;
	return clear_error(h);
}

uint32_t heapd_timeout(const heapd *h) { return h ? h->timeout_ms : 0; }

/* The environment's settings (the timeout's too unless given): 0, or the
 * error of the one that is wrong. */
static int settings_from_env(heapd *h, uint32_t *spin_us, int *spin_given, int timeout_given)
{
	if ((*spin_given = spin_env(spin_us)) < 0)
		return hwait_broken(h, HEAPD_EINVAL, "HEAPD_SPIN_US must be 0 to %u microseconds: %s",
				    HEAPD_SPIN_MAX_US, getenv("HEAPD_SPIN_US"));
	if (!timeout_given && hwait_env(&h->timeout_ms) < 0)
		return hwait_broken(h, HEAPD_EINVAL, "HEAPD_TIMEOUT_MS must be 0 to %u milliseconds: %s", UINT32_MAX,
				    getenv("HEAPD_TIMEOUT_MS"));
	return 0;
}

/* connect(2) to sa, within the connect deadline: a blocking connect waits
 * while the daemon's listen queue is full, SO_SNDTIMEO at most. */
static int open_socket(heapd *h, const struct sockaddr_un *sa, const char *path)
{
	h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return hwait_broken(h, HEAPD_EIO, "socket: %s", strerror(errno));
	struct timeval tv = {h->timeout_ms / 1000u, (h->timeout_ms % 1000u) * 1000};
	if (h->timeout_ms && setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
		return hwait_broken(h, HEAPD_EIO, "setsockopt SO_SNDTIMEO: %s", strerror(errno));
	if (connect(h->fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
		int e = errno;
		if (e == EAGAIN && h->timeout_ms)
			return hwait_broken(h, HEAPD_ETIMEDOUT,
					    "cannot connect to %s: its listen queue stayed full for %u ms (HEAPD_TIMEOUT_MS)",
					    path, h->timeout_ms);
		return hwait_broken(h, HEAPD_EIO, "cannot connect to %s: %s", path, strerror(e));
	}
	return 0;
}

/* heapd_connect, its timeout from $HEAPD_TIMEOUT_MS (timeout_given 0) or
 * timeout_ms. */
static heapd *connect_to(const char *socket_path, int timeout_given, uint32_t timeout_ms)
{
	heapd *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->fd = -1;
	h->timeout_ms = timeout_ms;
	core_init(&h->core);
	uint32_t spin_us = 0;
	int spin_given;
	if (settings_from_env(h, &spin_us, &spin_given, timeout_given) != 0)
		return h;
	struct sockaddr_un sa;
	if (wire_sockaddr(&socket_path, &sa) != 0) {
		hwait_broken(h, HEAPD_EINVAL, "socket path too long: %s", socket_path);
		return h;
	}
	h->connect_deadline_ns = hwait_deadline(h);
	if (open_socket(h, &sa, socket_path) == 0) {
		spin_set(&h->spin, spin_given ? spin_us : spin_pays(h->fd) ? HEAPD_SPIN_DEFAULT_US : 0);
		hello(h);
	}
	h->connect_deadline_ns = 0;
	return h;
}

heapd *heapd_connect(const char *socket_path)
{
	return connect_to(socket_path, 0, 0);
}

heapd *heapd_connect_timeout(const char *socket_path, uint32_t timeout_ms)
{
	return connect_to(socket_path, 1, timeout_ms);
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

/* Asked of NULL, these answer as of a connection that never was. */
int heapd_errcode(const heapd *h) { return h ? h->err : HEAPD_EINVAL; }
const char *heapd_errmsg(const heapd *h) { return h ? h->errmsg : "the connection is NULL"; }
uint64_t heapd_session_id(const heapd *h) { return h ? h->session_id : 0; }
const char *heapd_server_version(const heapd *h) { return h ? h->server_version : ""; }
uint32_t heapd_max_frame(const heapd *h) { return h ? h->core.max_frame : 0; }
uint64_t heapd_max_object(const heapd *h) { return h ? h->max_object : 0; }
uint32_t heapd_max_batch_ops(const heapd *h) { return h ? h->max_batch_ops : 0; }
size_t heapd_pending(const heapd *h) { return h ? core_pending(&h->core) : 0; }

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
	if (!h || !out)
		return null_arg(h, __func__, "out");
	struct wire_req w;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return call_ref(h, &w, out);
}

int heapd_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		     uint32_t len, heapd_ref *out)
{
	if (!h || (!data && len))
		return null_buf(h, __func__, "data", len);
	if (!h || !out)
		return null_arg(h, __func__, "out");
	struct wire_req w;
	wire_alloc(&w, obj, slot, nrefs, nbytes, data, len);
	return call_ref(h, &w, out);
}

int heapd_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	if (!h || (!buf && len))
		return null_buf(h, __func__, "buf", len);
	struct wire_req w;
	wire_write(&w, obj, off, buf, len);
	return call_status(h, &w);
}

int heapd_read(heapd *h, heapd_ref obj, uint32_t off, void *buf, uint32_t len)
{
	if (!h || (!buf && len))
		return null_buf(h, __func__, "buf", len);
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
	if (!h || !out)
		return null_arg(h, __func__, "out");
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
	if (!h || !name)
		return null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_set(&w, name, obj);
	return call_status(h, &w);
}

int heapd_root_get(heapd *h, const char *name, heapd_ref *out)
{
	if (!h || !name)
		return null_arg(h, __func__, "name");
	if (!out)
		return null_arg(h, __func__, "out");
	struct wire_req w;
	wire_root_get(&w, name);
	return call_ref(h, &w, out);
}

int heapd_root_chmod(heapd *h, const char *name, uint32_t mode)
{
	if (!h || !name)
		return null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_chmod(&w, name, mode);
	return call_status(h, &w);
}

int heapd_root_chown(heapd *h, const char *name, uint32_t uid, uint32_t gid)
{
	if (!h || !name)
		return null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_chown(&w, name, uid, gid);
	return call_status(h, &w);
}

/* A CAS, one at a time: its status, and what was there into *was (may be
 * NULL), on HEAPD_ECONFLICT as on success. */
static int call_cas(heapd *h, struct wire_req *w, heapd_ref *was)
{
	heapd_reply r;
	const Heapd__Response *raw;
	int err = call(h, &w->req, NULL, &r, &raw);
	if (was && wire_has_result(err))
		*was = r.ref;
	return err;
}

int heapd_cas_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target, heapd_ref *was)
{
	struct wire_req w;
	wire_cas_ref(&w, obj, slot, expected, target);
	return call_cas(h, &w, was);
}

int heapd_root_cas(heapd *h, const char *name, heapd_ref expected, heapd_ref target, heapd_ref *was)
{
	if (!h || !name)
		return null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_cas(&w, name, expected, target);
	return call_cas(h, &w, was);
}

int heapd_root_list_info(heapd *h, heapd_root_info **roots, size_t *count, int *truncated)
{
	if (!h || !roots)
		return null_arg(h, __func__, "roots");
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
	if (!h || !names)
		return null_arg(h, __func__, "names");
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
	if (!h || !rows)
		return null_arg(h, __func__, "rows");
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

/* fn's root name for a count, which must be one: the wire cannot tell ""
 * from no name (an obj count). */
int hcall_count_name_bad(heapd *h, const char *fn, const char *name)
{
	if (!h || !name)
		return null_arg(h, fn, "name");
	return *name ? 0 : set_error(h, HEAPD_EINVAL, "%s: name is empty", fn);
}

int heapd_root_retained(heapd *h, const char *name, uint64_t *objects, uint64_t *bytes)
{
	if (hcall_count_name_bad(h, __func__, name))
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_retained(&w, 0, name);
	return call_count(h, &w, objects, bytes);
}

/* out was allocated by a program built with this struct, or one with fewer
 * or more fields: copy what both have, zero what only the program has. */
int heapd_get_stats(heapd *h, heapd_stats *out, size_t size)
{
	if (!h || !out)
		return null_arg(h, __func__, "out");
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
	if (!h || !b)
		return null_arg(h, __func__, "b");
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

/* ---- pipelining (the heapd_append_* of single operations: pipeline.c) ---- */

int heapd_append_batch(heapd *h, heapd_batch *b)
{
	if (!h || !b)
		return null_arg(h, __func__, "b");
	struct wire_req w;
	hbatch_request(b, &w);
	return queue_request(h, &w.req, b);
}

int heapd_flush(heapd *h)
{
	if (!h)
		return HEAPD_EINVAL;
	if (h->fd < 0)
		return unusable(h);
	int err = hwait_exchange(h, HWAIT_SENT);
	return err ? err : clear_error(h);
}

int heapd_get_reply(heapd *h, heapd_reply *r)
{
	if (!h || !r)
		return null_arg(h, __func__, "r");
	const Heapd__Response *raw;
	return next_reply(h, r, &raw);
}

/* ---- for the blocking calls of other files (call.h) ---- */

int hcall(heapd *h, struct wire_req *w, heapd_reply *r, const Heapd__Response **raw)
{
	return call(h, &w->req, NULL, r, raw);
}

int hcall_queue(heapd *h, struct wire_req *w)
{
	return queue_request(h, &w->req, NULL);
}

int hcall_idle(heapd *h)
{
	return h ? idle(h) : HEAPD_EINVAL;
}

int hcall_release(heapd *h, struct wire_req *w, uint64_t len)
{
	if (h->core.sent == h->core.out.len)
		h->released = 0;  /* every release queued before went out */
	int err = h->core.nown >= OWN_PENDING_MAX ? take_own(h) : 0;
	if (!err)
		err = queue_pend(h, &w->req, &(struct pend){.own = 1});
	if (!err && (h->released += len) > HCALL_RELEASE_BYTES)
		err = hwait_exchange(h, HWAIT_SENT);
	return err ? err : clear_error(h);
}

int hcall_error(heapd *h, int code, const char *msg)
{
	return set_error(h, code, "%s", msg);
}

int hcall_null_arg(heapd *h, const char *fn, const char *what)
{
	return null_arg(h, fn, what);
}
