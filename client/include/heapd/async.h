/*
 * heapd/async.h - libheapd's asynchronous API: many requests in flight on
 * one connection, driven by the caller's event loop.
 *
 * A heapd_async is one connection. Each request function queues the
 * request and returns at once: 0, or a HEAPD_E* code when the request was
 * not queued (then its callback never runs). A queued request's callback
 * runs exactly once, from the event loop: with the daemon's reply, or with
 * an error status when the connection fails, times out or is freed first.
 * Replies come in request order, so callbacks run in request order.
 *
 * The reply (heapd_reply, in heapd.h) and everything it points to belong
 * to the library and are valid only while the callback runs: copy what you
 * keep. A callback may make new requests, and may call heapd_async_free or
 * heapd_async_disconnect on its own context: the library finishes what it
 * was doing first (the free is deferred until the callback returns).
 *
 * Event loops. The library does no waiting: an adapter tells the loop which
 * events the library wants through hooks (struct heapd_async_events), and
 * calls heapd_async_handle_read, _write and _timeout when they happen.
 * Header-only adapters: <heapd/adapters/libevent.h>, <heapd/adapters/libuv.h>.
 * docs/async.md (in the source tree) tells how to write another.
 *
 * Lifetime. heapd_async_connect returns a context that is the caller's
 * until heapd_async_free, which is always needed, once, whatever happened:
 * after a failure or heapd_async_disconnect the context stays, closed
 * (requests then fail at once with HEAPD_EIO; heapd_async_errcode says
 * why it closed). Connection state and callbacks:
 *   - the connect callback runs once, when the daemon has answered the
 *     Hello (HEAPD_OK) or the connection failed before that;
 *   - the disconnect callback runs once, after the connect callback said
 *     HEAPD_OK, when the connection ends: HEAPD_OK after
 *     heapd_async_disconnect or heapd_async_free, else the error.
 * A connection that fails inside heapd_async_connect (missing socket, no
 * daemon, path too long) runs neither: heapd_async_errcode tells at once.
 *
 * Timeouts. With heapd_async_set_timeout(ac, ms), a request that has no
 * reply ms milliseconds after it was made fails with HEAPD_ETIMEDOUT, and
 * so does every other request in flight: replies come in order, so the
 * connection is dropped (the disconnect callback gets HEAPD_ETIMEDOUT).
 *
 * Limits. At most max_pending requests in flight (HEAPD_ASYNC_MAX_PENDING
 * unless set) and max_output bytes of requests not yet sent
 * (HEAPD_ASYNC_MAX_OUTPUT): a request past either returns HEAPD_ENOBUFS
 * at once; wait for replies. A request larger than the daemon's
 * max_frame returns HEAPD_ELIMIT.
 *
 * Arguments. A NULL context, name, batch or hooks, or NULL data with a
 * length, is HEAPD_EINVAL at once (no message: the context's says why it
 * closed); on a NULL context the setters do nothing, heapd_async_errcode
 * is HEAPD_EINVAL and heapd_async_errmsg a fixed text. cb may be NULL.
 *
 * Threads. A context is used from one thread, the one running its loop.
 */
#ifndef HEAPD_ASYNC_H
#define HEAPD_ASYNC_H

#include <stddef.h>
#include <stdint.h>

#include "../heapd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct heapd_async heapd_async;

#define HEAPD_ASYNC_MAX_PENDING ((size_t)1 << 20)  /* requests in flight (56 bytes each) */
#define HEAPD_ASYNC_MAX_OUTPUT ((size_t)64 << 20)  /* bytes of requests not yet sent */

/* A request's callback: reply is valid only until it returns. */
typedef void heapd_async_fn(heapd_async *ac, const heapd_reply *reply, void *privdata);
/* Connect and disconnect callbacks: status HEAPD_OK or a HEAPD_E* code. */
typedef void heapd_async_status_fn(heapd_async *ac, int status);

/* Connects without blocking and queues the Hello. socket_path NULL:
 * $HEAPD_SOCKET, else HEAPD_DEFAULT_SOCKET. Returns NULL only when out of
 * memory; check heapd_async_errcode() at once (see Lifetime above). */
heapd_async *heapd_async_connect(const char *socket_path);
/* Closes now: every request in flight gets HEAPD_EIO, then the disconnect
 * callback runs (if connected), then the context is freed. Inside a
 * callback the free happens when the callback returns. NULL is allowed. */
void heapd_async_free(heapd_async *ac);
/* Closes gracefully: no new requests (HEAPD_EIO), the ones in flight get
 * their replies, then the connection closes (disconnect callback with
 * HEAPD_OK). The context stays until heapd_async_free. */
void heapd_async_disconnect(heapd_async *ac);

void heapd_async_set_connect_cb(heapd_async *ac, heapd_async_status_fn *cb);
void heapd_async_set_disconnect_cb(heapd_async *ac, heapd_async_status_fn *cb);
/* The caller's pointer, for the callbacks; NULL until set. */
void heapd_async_set_data(heapd_async *ac, void *data);
void *heapd_async_data(const heapd_async *ac);
/* Per-request timeout in milliseconds, 0 for none (the default), counted
 * from when each request was made; requests already in flight that were
 * made with no timeout set count from this call. */
void heapd_async_set_timeout(heapd_async *ac, uint32_t ms);
/* The limits above; 0 restores the default. */
void heapd_async_set_max_pending(heapd_async *ac, size_t n);
void heapd_async_set_max_output(heapd_async *ac, size_t bytes);

int heapd_async_errcode(const heapd_async *ac);         /* why it closed; 0 while open */
const char *heapd_async_errmsg(const heapd_async *ac);  /* its message, "" if none */
size_t heapd_async_pending(const heapd_async *ac);      /* requests in flight, the Hello included */

/* The requests, as in heapd.h. Each returns 0 (cb will run once, unless NULL)
 * or HEAPD_EIO (closed or closing), HEAPD_ENOBUFS, HEAPD_ELIMIT, HEAPD_EINVAL
 * (NULL name) at once. Data and names are copied before the call returns.
 * The reply's fields: ref (alloc, alloc_into, get_ref, root_get; cas_ref and
 * root_cas, also when the status is HEAPD_ECONFLICT), data and
 * len (read), stats (get_stats), names, nnames, truncated, root_uids,
 * root_gids and root_modes (root_list), uids, nuids and truncated
 * (uid_stats); info (object_info, root_info, whose root's owner, group
 * and mode are root_uids[0], root_gids[0], root_modes[0]); names, nnames,
 * root_uids, root_gids, root_modes and cursor (root_scan); clients,
 * nclients and truncated (client_list); objects and bytes (retained,
 * root_retained); data and len (view: in the arena's mapping, valid as
 * long as the view, until heapd_async_view_release or heapd_async_free).
 * The first view of a connection is preceded by the library's request to
 * map the arena, which runs no callback. */
int heapd_async_alloc(heapd_async *ac, uint32_t nrefs, uint32_t nbytes, heapd_async_fn *cb, void *privdata);
int heapd_async_alloc_into(heapd_async *ac, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			   const void *data, uint32_t len, heapd_async_fn *cb, void *privdata);
int heapd_async_write(heapd_async *ac, heapd_ref obj, uint32_t off, const void *buf, uint32_t len,
		      heapd_async_fn *cb, void *privdata);
int heapd_async_read(heapd_async *ac, heapd_ref obj, uint32_t off, uint32_t len, heapd_async_fn *cb,
		     void *privdata);
int heapd_async_set_ref(heapd_async *ac, heapd_ref obj, uint32_t slot, heapd_ref target, heapd_async_fn *cb,
			void *privdata);
int heapd_async_get_ref(heapd_async *ac, heapd_ref obj, uint32_t slot, heapd_async_fn *cb, void *privdata);
int heapd_async_release(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata);
int heapd_async_root_set(heapd_async *ac, const char *name, heapd_ref obj, heapd_async_fn *cb, void *privdata);
int heapd_async_root_get(heapd_async *ac, const char *name, heapd_async_fn *cb, void *privdata);
int heapd_async_root_chmod(heapd_async *ac, const char *name, uint32_t mode, heapd_async_fn *cb, void *privdata);
int heapd_async_root_chown(heapd_async *ac, const char *name, uint32_t uid, uint32_t gid, heapd_async_fn *cb,
			   void *privdata);
int heapd_async_cas_ref(heapd_async *ac, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target,
			heapd_async_fn *cb, void *privdata);
int heapd_async_root_cas(heapd_async *ac, const char *name, heapd_ref expected, heapd_ref target, heapd_async_fn *cb,
			 void *privdata);
int heapd_async_root_list(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_gc(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_free_os_memory(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_get_stats(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_ping(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_uid_stats(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_object_info(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata);
int heapd_async_root_info(heapd_async *ac, const char *name, heapd_async_fn *cb, void *privdata);
int heapd_async_root_scan(heapd_async *ac, const char *pattern, uint64_t cursor, uint32_t count,
			  heapd_async_fn *cb, void *privdata);
int heapd_async_client_list(heapd_async *ac, heapd_async_fn *cb, void *privdata);
int heapd_async_client_kill(heapd_async *ac, uint64_t id, heapd_async_fn *cb, void *privdata);
int heapd_async_retained(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata);
int heapd_async_root_retained(heapd_async *ac, const char *name, heapd_async_fn *cb, void *privdata);
int heapd_async_seal(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata);
int heapd_async_view(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata);
int heapd_async_view_release(heapd_async *ac, heapd_ref obj, heapd_async_fn *cb, void *privdata);
/* The ops of b (heapd.h) in one request. The batch is framed at once, but
 * its results go to b: b must live, unchanged, until cb has run (its
 * results are then read as after heapd_batch_exec: heapd_batch_failed,
 * heapd_batch_reply). The reply's status is heapd_batch_exec's. */
int heapd_async_batch(heapd_async *ac, heapd_batch *b, heapd_async_fn *cb, void *privdata);

/* --- for adapters --- */

/* What the library asks of the event loop. Every hook gets data. The
 * library calls add_* / del_* only when the wish changes, and cleanup
 * once: when the connection closes, before any callback learns of it (and
 * before the socket is closed), or at heapd_async_free if still open.
 * After cleanup no hook is called. cleanup may be called from inside
 * heapd_async_handle_*, so an adapter must not touch its own state after
 * those return if cleanup ran meanwhile (see the shipped adapters). */
struct heapd_async_events {
	void *data;
	void (*add_read)(void *data);
	void (*del_read)(void *data);
	void (*add_write)(void *data);
	void (*del_write)(void *data);
	void (*cleanup)(void *data);
	/* Arm (or re-arm) a one-shot timer to call heapd_async_handle_timeout
	 * in ms milliseconds (ms >= 1); may be NULL when no timeout is set. */
	void (*schedule_timer)(void *data, uint32_t ms);
};

/* The socket to watch; -1 once closed. */
int heapd_async_fd(const heapd_async *ac);
/* Installs the hooks (copied) and asks for the events now wanted.
 * HEAPD_EIO if the context is closed, HEAPD_EINVAL if hooks are already
 * installed or one of add_read, del_read, add_write, del_write, cleanup
 * is NULL. */
int heapd_async_attach(heapd_async *ac, const struct heapd_async_events *ev);
/* The socket is readable / writable; the timer fired (early is fine). */
void heapd_async_handle_read(heapd_async *ac);
void heapd_async_handle_write(heapd_async *ac);
void heapd_async_handle_timeout(heapd_async *ac);

#ifdef __cplusplus
}
#endif

#endif
