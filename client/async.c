/*
 * async.c - libheapd's async core: one connection, many requests in
 * flight, driven by the caller's event loop (heapd/async.h is the API).
 *
 * No I/O waits here. The loop watches the socket through the hooks an
 * adapter installed (struct heapd_async_events) and calls
 * heapd_async_handle_read, _write and _timeout. Requests are framed into
 * core.out at once by core.c, which the blocking core shares (so the
 * caller's data may go when the call returns), and sent when the socket
 * is writable; replies are read into core.in, matched to their requests
 * by core_take() and handed to the callbacks, oldest request first.
 *
 * The connection's states, in order (it never goes back):
 *   AC_CONNECTING  connect() in progress; waiting for the socket to be
 *                  writable (never happens on Linux with a Unix socket,
 *                  where connect succeeds or fails at once);
 *   AC_HELLO       connected; the Hello is the oldest request due;
 *   AC_READY       the daemon answered the Hello; the connect callback ran;
 *   AC_CLOSED      socket closed, hooks cleaned up, every pending callback
 *                  ran with an error; only heapd_async_free is left to do.
 * Two flags ride on them: AC_DISCONNECTING (heapd_async_disconnect: no new
 * requests, close once none is due) and AC_FREEING (heapd_async_free: no
 * new requests, free once no library frame that runs callbacks is on the
 * stack).
 *
 * Invariants.
 *   - Every request due (core.pend) has its frame in core.out or sent;
 *     every callback runs exactly once, because a request leaves the queue
 *     (core_take, core_pop) right before its callback runs, and ac_close()
 *     pops them all. The library's own map_arena (core.h) has none: its
 *     reply maps the arena for the views after it, and runs nothing.
 *   - Callbacks run only with ac->depth > 0 (entry_begin/entry_end around
 *     every entry point that may run one). A callback may free or
 *     disconnect its own context: heapd_async_free then only sets
 *     AC_FREEING, the loops that deliver replies stop at the flag, and the
 *     outermost entry_end() frees. So `ac` is never freed under a frame
 *     that still uses it.
 *   - Hooks: add_read once at attach; add_write/del_write only when the
 *     wish changes (ac->writing); cleanup once, in ac_close, before the
 *     socket is closed and before any callback hears of the close; no hook
 *     after it.
 *   - Memory is bounded: max_pending entries of 56 bytes, max_output bytes
 *     of unsent requests (plus the one frame that crossed it), and one
 *     reply frame of input (the daemon's max_frame) plus one read. Buffers
 *     grown by a burst are given back once empty (core.c).
 *
 * Arguments. A NULL context, name, batch or hooks, or NULL data with a
 * length, is HEAPD_EINVAL at once, and nothing is queued: the context's
 * message says why it closed, not why a call was refused.
 *
 * Used from one thread; nothing here is locked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batch.h"
#include "core.h"

enum ac_state { AC_CONNECTING, AC_HELLO, AC_READY, AC_CLOSED };

#define CLOSED_BY_DAEMON "connection closed by the daemon"

#define AC_DISCONNECTING 0x1u
#define AC_FREEING 0x2u

struct heapd_async {
	int fd;                    /* -1 once closed */
	enum ac_state state;
	unsigned flags;            /* AC_DISCONNECTING, AC_FREEING */
	unsigned depth;            /* entry points on the stack (entry_begin/entry_end) */
	int err;                   /* why it closed (0: open, or closed on request) */
	char errmsg[256];
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	struct core core;          /* requests queued, replies received */
	size_t max_pending, max_output;
	uint32_t timeout_ms;       /* 0: none */
	struct heapd_async_events ev;
	unsigned attached : 1;     /* ev holds an adapter's hooks */
	unsigned writing : 1;      /* add_write is in force */
	heapd_async_status_fn *connect_cb, *disconnect_cb;
	void *data;                /* the caller's */
};

static uint64_t now_ms(void)
{
	return wire_mono_ns() / 1000000u;
}

static void entry_begin(heapd_async *ac)
{
	ac->depth++;
}

static void entry_end(heapd_async *ac);

/* --- hooks --- */

/* Watches for writable while there is something to send (or a connect to
 * finish), and only then. */
static void update_write(heapd_async *ac)
{
	if (!ac->attached)
		return;
	int want = ac->state == AC_CONNECTING || ac->core.out.len > ac->core.sent;
	if (want && !ac->writing) {
		ac->writing = 1;
		ac->ev.add_write(ac->ev.data);
	} else if (!want && ac->writing) {
		ac->writing = 0;
		ac->ev.del_write(ac->ev.data);
	}
}

/* Whether the request made (or given its timeout) at t0 has waited its
 * full timeout. Times are whole milliseconds, rounded down, so only a
 * difference of more than timeout_ms of them is sure to be timeout_ms of
 * real time. */
static int expired(const heapd_async *ac, uint64_t t0, uint64_t now)
{
	return now - t0 > ac->timeout_ms;
}

/* Arms the timer for the oldest request's deadline. Later requests have
 * later deadlines, and a timer that fires after its request was answered
 * only re-arms for the next one (heapd_async_handle_timeout), so one timer
 * serves them all and the reply path never touches it. */
static void arm_timer(heapd_async *ac)
{
	if (!ac->attached || !ac->ev.schedule_timer || !ac->timeout_ms || !ac->core.npend)
		return;
	uint64_t deadline = core_oldest(&ac->core)->t0_ms + ac->timeout_ms + 1, now = now_ms();
	uint64_t ms = deadline > now ? deadline - now : 1;
	ac->ev.schedule_timer(ac->ev.data, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
}

/* --- closing and freeing --- */

/* Closes the connection, once: the hooks go, then the socket, then every
 * request in flight fails with code (HEAPD_EIO when the caller asked for
 * the close: code 0) and msg, then the disconnect callback runs if the
 * connect callback said HEAPD_OK. A Hello still in flight fails through
 * the connect callback. Callers hold a depth (callbacks run). */
static void ac_close(heapd_async *ac, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ac_close(heapd_async *ac, int code, const char *fmt, ...)
{
	if (ac->state == AC_CLOSED)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int was_ready = ac->state == AC_READY;
	ac->state = AC_CLOSED;
	if (code && !ac->err) {
		ac->err = code;
		snprintf(ac->errmsg, sizeof ac->errmsg, "%s", msg);
	}
	if (ac->attached) {
		if (ac->writing)
			ac->ev.del_write(ac->ev.data);
		ac->ev.del_read(ac->ev.data);
		ac->ev.cleanup(ac->ev.data);
		memset(&ac->ev, 0, sizeof ac->ev);
		ac->attached = ac->writing = 0;
	}
	if (ac->fd >= 0) {
		close(ac->fd);
		ac->fd = -1;
	}
	int status = code ? code : HEAPD_EIO;
	while (ac->core.npend) {
		struct pend p = core_pop(&ac->core);
		core_lost(&p, status);
		if (p.op == HEAPD__REQUEST__OP_HELLO) {
			if (ac->connect_cb)
				ac->connect_cb(ac, status);
		} else if (p.cb) {
			heapd_reply r = {.status = status, .error = msg, .id = p.id};
			p.cb(ac, &r, p.privdata);
		}
	}
	if (was_ready && ac->disconnect_cb)
		ac->disconnect_cb(ac, code);
}

static void destroy(heapd_async *ac)
{
	ac->depth++;
	ac_close(ac, 0, "the context was freed with the request in flight");
	core_free(&ac->core);
	free(ac);
}

/* Leaves an entry point; the outermost one does what callbacks asked for
 * meanwhile: a free, or the close of a disconnect with nothing in flight. */
static void entry_end(heapd_async *ac)
{
	if (--ac->depth)
		return;
	if (ac->flags & AC_FREEING) {
		destroy(ac);
		return;
	}
	if ((ac->flags & AC_DISCONNECTING) && ac->state != AC_CLOSED && ac->core.npend == 0) {
		entry_begin(ac);
		ac_close(ac, 0, "disconnected");
		entry_end(ac);
	}
}

/* Entry points do nothing on a context that is closed, or being freed (a
 * callback calling them; the free comes when it returns). */
static int closed_or_freeing(const heapd_async *ac)
{
	return !ac || ac->state == AC_CLOSED || (ac->flags & AC_FREEING);
}

/* The loop's events are handled only from the loop: a call from inside a
 * callback (a nested loop run) does nothing, since the outer call is
 * still working through core.in. The loop calls again; its events are
 * level-triggered. */
static int inside_callback(const heapd_async *ac)
{
	return closed_or_freeing(ac) || ac->depth > 0;
}

/* --- replies --- */

static void hello_done(heapd_async *ac, const Heapd__HelloReply *h)
{
	ac->core.max_frame = h->max_frame;
	ac->state = AC_READY;
	if (ac->connect_cb)
		ac->connect_cb(ac, HEAPD_OK);
}

/* The whole reply at the front of core.in: to its request's callback, or,
 * when it shows the stream out of step or the connection refused, to
 * every request (ac_close). */
static void deliver(heapd_async *ac)
{
	struct core_reply v;
	heapd_reply r;
	core_take(&ac->core, &v, &r);
	if (v.fatal)
		ac_close(ac, v.status, "%s", v.error);
	else if (v.p.op == HEAPD__REQUEST__OP_HELLO)
		hello_done(ac, v.resp->hello);
	else if (v.p.cb)
		v.p.cb(ac, &r, v.p.privdata);
	/* The reply was the callback's only while it ran. */
	scratch_reset(&ac->core.scratch);
}

/* Every whole reply in core.in, until a callback frees the context or the
 * connection closes. */
static void deliver_all(heapd_async *ac)
{
	while (ac->state != AC_CLOSED && !(ac->flags & AC_FREEING)) {
		ssize_t lacks = core_reply_lacks(&ac->core);
		if (lacks < 0)
			ac_close(ac, HEAPD_EPROTO, "reply longer than max_frame_size");
		if (lacks)
			break;
		deliver(ac);
	}
}

/* One recv into core.in (core_recv, which keeps the arena's descriptor),
 * with room for the whole frame being read: bytes
 * read, 0 at EOF, -1 if nothing is there, -2 on an error (errno), -3 out
 * of memory. */
static ssize_t read_once(heapd_async *ac)
{
	ssize_t lacks = core_reply_lacks(&ac->core);
	size_t room;
	uint8_t *p = core_in_room(&ac->core, lacks > 0 ? (size_t)lacks : 0, &room);
	if (!p)
		return -3;
	for (;;) {
		ssize_t r = core_recv(&ac->core, ac->fd, p, room, 0);
		if (r > 0)
			ac->core.in.len += (size_t)r;
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
	}
}

/* The socket failed with errno e (in what): the daemon went away, as a
 * reset or a closed pipe says, or another error. */
static void socket_failed(heapd_async *ac, const char *what, int e)
{
	if (e == EPIPE || e == ECONNRESET)
		ac_close(ac, HEAPD_EIO, CLOSED_BY_DAEMON);
	else
		ac_close(ac, HEAPD_EIO, "%s: %s", what, strerror(e));
}

static void read_and_deliver(heapd_async *ac)
{
	ssize_t r = read_once(ac);
	if (r > 0)
		deliver_all(ac);
	else if (r == 0)
		ac_close(ac, HEAPD_EIO, CLOSED_BY_DAEMON);
	else if (r == -2)
		socket_failed(ac, "recv", errno);
	else if (r == -3)
		ac_close(ac, HEAPD_ENOBUFS, "out of memory for a reply");
}

/* --- the socket --- */

/* AC_CONNECTING: the socket says the connect is done; 1 if it succeeded. */
static int finish_connect(heapd_async *ac)
{
	int e = 0;
	socklen_t len = sizeof e;
	if (getsockopt(ac->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		e = errno;
	if (e) {
		ac_close(ac, HEAPD_EIO, "cannot connect to %s: %s", ac->path, strerror(e));
		return 0;
	}
	ac->state = AC_HELLO;
	update_write(ac);
	return 1;
}

/* Sends what the socket takes. A send that fails may find the daemon's
 * reason waiting to be read (a refusal, then a close): that is read and
 * reported first. */
static void flush(heapd_async *ac)
{
	struct core *c = &ac->core;
	while (c->sent < c->out.len) {
		ssize_t n = send(ac->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
		if (n > 0) {
			core_sent(c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		int e = n < 0 ? errno : EPIPE;
		while (ac->state != AC_CLOSED && !(ac->flags & AC_FREEING) && read_once(ac) > 0)
			deliver_all(ac);
		socket_failed(ac, "send", e);
		return;
	}
	update_write(ac);
}

/* The socket is ready for what `then` does (a connect in progress is
 * finished first). */
static void socket_event(heapd_async *ac, void (*then)(heapd_async *ac))
{
	if (inside_callback(ac))
		return;
	entry_begin(ac);
	if (ac->state != AC_CONNECTING || finish_connect(ac))
		then(ac);
	entry_end(ac);
}

void heapd_async_handle_read(heapd_async *ac)
{
	socket_event(ac, read_and_deliver);
}

void heapd_async_handle_write(heapd_async *ac)
{
	socket_event(ac, flush);
}

void heapd_async_handle_timeout(heapd_async *ac)
{
	if (closed_or_freeing(ac) || !ac->timeout_ms || !ac->core.npend)
		return;
	const struct pend *p = core_oldest(&ac->core);
	if (ac->depth || !expired(ac, p->t0_ms, now_ms())) {
		arm_timer(ac); /* early, for a request answered since, or nested */
		return;
	}
	entry_begin(ac);
	ac_close(ac, HEAPD_ETIMEDOUT, "request %llu got no reply within %u ms; the connection is dropped",
		 (unsigned long long)p->id, ac->timeout_ms);
	entry_end(ac);
}

/* --- requests --- */

/* Frames req into core.out and queues p (cb, privdata, batch) for its
 * reply. */
static int submit(heapd_async *ac, Heapd__Request *req, struct pend p)
{
	if (!ac)
		return HEAPD_EINVAL;
	if (ac->state == AC_CLOSED || (ac->flags & (AC_FREEING | AC_DISCONNECTING)))
		return HEAPD_EIO;
	p.t0_ms = ac->timeout_ms ? now_ms() : 0;  /* the clock costs more than the rest of a submit */
	size_t was = ac->core.npend;
	int err = core_submit(&ac->core, req, &p, ac->max_pending, ac->max_output);
	if (err == CORE_TOO_MANY || err == CORE_UNSENT)
		return HEAPD_ENOBUFS;
	if (err)
		return err;
	update_write(ac);
	if (was == 0)
		arm_timer(ac);
	return 0;
}

static int submit_op(heapd_async *ac, struct wire_req *w, heapd_async_fn *cb, void *privdata)
{
	return submit(ac, &w->req, (struct pend){.cb = cb, .privdata = privdata});
}

/* An operation without arguments. */
static int submit_empty(heapd_async *ac, Heapd__Request__OpCase op, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_op(&w, op);
	return submit_op(ac, &w, cb, privdata);
}

heapd_async *heapd_async_connect(const char *socket_path)
{
	heapd_async *ac = calloc(1, sizeof *ac);
	if (!ac)
		return NULL;
	ac->fd = -1;
	ac->state = AC_CONNECTING;
	ac->max_pending = HEAPD_ASYNC_MAX_PENDING;
	ac->max_output = HEAPD_ASYNC_MAX_OUTPUT;
	core_init(&ac->core);
	struct sockaddr_un sa;
	if (wire_sockaddr(&socket_path, &sa) != 0) {
		ac_close(ac, HEAPD_EINVAL, "socket path too long: %s", socket_path);
		return ac;
	}
	snprintf(ac->path, sizeof ac->path, "%s", socket_path);
	struct wire_req w;
	wire_hello(&w, program_invocation_short_name);
	if (submit_op(ac, &w, NULL, NULL) != 0) {
		ac_close(ac, HEAPD_ENOBUFS, "out of memory");
		return ac;
	}
	ac->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ac->fd < 0)
		ac_close(ac, HEAPD_EIO, "socket: %s", strerror(errno));
	else if (connect(ac->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		ac->state = AC_HELLO;
	else if (errno != EINPROGRESS)
		ac_close(ac, HEAPD_EIO, "cannot connect to %s: %s%s", ac->path, strerror(errno),
			 errno == EAGAIN ? " (the daemon's listen queue is full)" : "");
	return ac;
}

void heapd_async_free(heapd_async *ac)
{
	if (!ac || (ac->flags & AC_FREEING))
		return;
	ac->flags |= AC_FREEING;
	if (ac->depth == 0)
		destroy(ac);
}

void heapd_async_disconnect(heapd_async *ac)
{
	if (closed_or_freeing(ac) || (ac->flags & AC_DISCONNECTING))
		return;
	ac->flags |= AC_DISCONNECTING;
	entry_begin(ac);
	entry_end(ac); /* closes now if nothing is in flight and no callback runs */
}

int heapd_async_attach(heapd_async *ac, const struct heapd_async_events *ev)
{
	if (!ac || !ev)
		return HEAPD_EINVAL;
	if (closed_or_freeing(ac))
		return HEAPD_EIO;
	if (ac->attached || !ev->add_read || !ev->del_read || !ev->add_write || !ev->del_write || !ev->cleanup)
		return HEAPD_EINVAL;
	ac->ev = *ev;
	ac->attached = 1;
	ac->ev.add_read(ac->ev.data);
	update_write(ac);
	arm_timer(ac);
	return 0;
}

/* On a NULL context the setters do nothing, and the getters answer as of
 * a context that never connected. */
void heapd_async_set_connect_cb(heapd_async *ac, heapd_async_status_fn *cb)
{
	if (ac)
		ac->connect_cb = cb;
}

void heapd_async_set_disconnect_cb(heapd_async *ac, heapd_async_status_fn *cb)
{
	if (ac)
		ac->disconnect_cb = cb;
}

void heapd_async_set_data(heapd_async *ac, void *data)
{
	if (ac)
		ac->data = data;
}

void *heapd_async_data(const heapd_async *ac) { return ac ? ac->data : NULL; }
int heapd_async_errcode(const heapd_async *ac) { return ac ? ac->err : HEAPD_EINVAL; }
const char *heapd_async_errmsg(const heapd_async *ac) { return ac ? ac->errmsg : "the context is NULL"; }
size_t heapd_async_pending(const heapd_async *ac) { return ac ? core_pending(&ac->core) : 0; }
int heapd_async_fd(const heapd_async *ac) { return ac ? ac->fd : -1; }

void heapd_async_set_timeout(heapd_async *ac, uint32_t ms)
{
	if (!ac)
		return;
	/* Requests made without a timeout have no time: theirs starts now. */
	if (ms && !ac->timeout_ms) {
		uint64_t now = now_ms();
		for (size_t i = 0; i < ac->core.npend; i++)
			core_at(&ac->core, i)->t0_ms = now;
	}
	ac->timeout_ms = ms;
	if (!closed_or_freeing(ac))
		arm_timer(ac);
}

void heapd_async_set_max_pending(heapd_async *ac, size_t n)
{
	if (!ac)
		return;
	ac->max_pending = n ? n : HEAPD_ASYNC_MAX_PENDING;
}

void heapd_async_set_max_output(heapd_async *ac, size_t bytes)
{
	if (!ac)
		return;
	ac->max_output = bytes ? bytes : HEAPD_ASYNC_MAX_OUTPUT;
}

/* --- the operations, as in heapd.c --- */

int heapd_async_ping(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_PING, cb, privdata);
}

int heapd_async_alloc(heapd_async *ac, uint32_t nrefs, uint32_t nbytes, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_alloc_into(heapd_async *ac, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			   const void *data, uint32_t len, heapd_async_fn *cb, void *privdata)
{
	if (!data && len)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_alloc(&w, obj, slot, nrefs, nbytes, data, len);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_write(heapd_async *ac, heapd_ref obj, uint32_t off, const void *buf, uint32_t len,
		      heapd_async_fn *cb, void *privdata)
{
	if (!buf && len)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_write(&w, obj, off, buf, len);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_read(heapd_async *ac, heapd_ref obj, uint32_t off, uint32_t len, heapd_async_fn *cb,
		     void *privdata)
{
	struct wire_req w;
	wire_read(&w, obj, off, len);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_set_ref(heapd_async *ac, heapd_ref obj, uint32_t slot, heapd_ref target, heapd_async_fn *cb,
			void *privdata)
{
	struct wire_req w;
	wire_set_ref(&w, obj, slot, target);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_get_ref(heapd_async *ac, heapd_ref obj, uint32_t slot, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_get_ref(&w, obj, slot);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_release(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_release(&w, obj);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_set(heapd_async *ac, const char *name, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_root_set(&w, name, obj);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_get(heapd_async *ac, const char *name, heapd_async_fn *cb, void *privdata)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_root_get(&w, name);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_chmod(heapd_async *ac, const char *name, uint32_t mode, heapd_async_fn *cb, void *privdata)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_root_chmod(&w, name, mode);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_cas_ref(heapd_async *ac, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target,
			heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_cas_ref(&w, obj, slot, expected, target);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_cas(heapd_async *ac, const char *name, heapd_ref expected, heapd_ref target, heapd_async_fn *cb,
			 void *privdata)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_root_cas(&w, name, expected, target);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_chown(heapd_async *ac, const char *name, uint32_t uid, uint32_t gid, heapd_async_fn *cb,
			   void *privdata)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_root_chown(&w, name, uid, gid);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_list(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_ROOT_LIST, cb, privdata);
}

int heapd_async_gc(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_GC, cb, privdata);
}

int heapd_async_free_os_memory(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_FREE_OS_MEMORY, cb, privdata);
}

int heapd_async_get_stats(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_GET_STATS, cb, privdata);
}

int heapd_async_uid_stats(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_UID_STATS, cb, privdata);
}

int heapd_async_object_info(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_object_info(&w, obj);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_info(heapd_async *ac, const char *name, heapd_async_fn *cb, void *privdata)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_root_info_req(&w, name);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_scan(heapd_async *ac, const char *pattern, uint64_t cursor, uint32_t count,
			  heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_root_scan(&w, pattern, cursor, count);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_client_list(heapd_async *ac, heapd_async_fn *cb, void *privdata)
{
	return submit_empty(ac, HEAPD__REQUEST__OP_CLIENT_LIST, cb, privdata);
}

int heapd_async_client_kill(heapd_async *ac, uint64_t id, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_client_kill(&w, id);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_retained(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_retained(&w, obj, NULL);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_root_retained(heapd_async *ac, const char *name, heapd_async_fn *cb, void *privdata)
{
	if (!name || !*name)  /* the wire cannot tell "" from no name */
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_retained(&w, 0, name);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_batch(heapd_async *ac, heapd_batch *b, heapd_async_fn *cb, void *privdata)
{
	if (!b)
		return HEAPD_EINVAL;
	struct wire_req w;
	hbatch_request(b, &w);
	return submit(ac, &w.req, (struct pend){.cb = cb, .privdata = privdata, .batch = b});
}

int heapd_async_seal(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_seal(&w, obj);
	return submit_op(ac, &w, cb, privdata);
}

/* The first view of a connection goes after the map_arena core_submit
 * queues before it. */
int heapd_async_view(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_view(&w, obj);
	return submit_op(ac, &w, cb, privdata);
}

int heapd_async_view_release(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata)
{
	struct wire_req w;
	wire_view_release(&w, obj);
	return submit_op(ac, &w, cb, privdata);
}
