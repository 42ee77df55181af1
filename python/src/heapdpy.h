/*
 * heapdpy.h - what the modules of heapd._heapd, the CPython binding of
 * libheapd, share.
 *
 * A Connection owns one heapd handle. libheapd wants one thread at a time
 * on a connection, and every blocking call lets go of the GIL while it
 * waits, so each Connection has a lock: whoever touches the handle holds
 * it (hp_enter/hp_leave, or HP_CALL for a call made without the GIL).
 * The GIL is never waited for while the lock is held, so the two cannot
 * deadlock. A closed Connection has h == NULL; every call checks it under
 * the lock.
 *
 * Errors become exceptions of the classes heapd/__init__.py registers
 * (hp_register), found by the code; a message is copied out of the handle
 * before the lock is let go, since another thread may then overwrite it.
 *
 * What a reply turns into (hp_value) depends on the operation that asked:
 * struct hp_want (its enum hp_kind, and what the reply needs of the
 * request: root_info's name), kept per pending reply by Pipeline and per
 * op by Batch. A failed compare-and-swap's exception (hp_reply_error)
 * carries .was, what the slot or root held.
 *
 * A call that times out (HEAPD_ETIMEDOUT) leaves libheapd's handle dead:
 * hp_keep ends the Connection (h == NULL) at once, and the handle is
 * closed as soon as the GIL is had again (hp_bury).
 *
 * Zero-copy views (view.c). A View's bytes lie in the connection's
 * mapping of the daemon's arena, which heapd_close unmaps; exports counts
 * the buffers (memoryviews) its Views have handed out and not had back,
 * and changes only with the GIL held. The mapping is unmapped only with
 * the GIL held and exports 0: close() refuses (BufferError) while there
 * are exports, and a handle a timeout ended waits in ended until they are
 * back (hp_bury, under the lock with the GIL). owner is the thread that
 * holds the lock through hp_enter, which may run Python code under it (a
 * cyclic collection may then drop a View): a View dropped by that thread,
 * or while a pipeline's replies are pending, cannot release its view at
 * once; its ref waits in orphans, under the lock, and is released as soon
 * as no replies are pending (hp_leave, the pipeline's drain).
 *
 * A new libheapd call is: a method in conn.c, or in introspect.c for one
 * that looks at the heap or its clients (HP_CALL around it; listed in
 * conn.c's conn_methods either way), an append in pipeline.c and an
 * adder in batch.c if libheapd has those forms, an hp_kind with its case
 * in hp_value when its reply is new, and the dataclass it returns in
 * heapd/__init__.py (registered, made with hp_make) with its line in
 * heapd/_heapd.pyi.
 */
#ifndef HEAPD_PY_H
#define HEAPD_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <heapd.h>

/* How long an error message may be, as kept for its exception. */
#define HP_MSG_MAX 1024

typedef struct {
	PyObject_HEAD
	heapd *h;                 /* NULL once closed */
	PyThread_type_lock lock;  /* held by whoever uses h */
	PyObject *pipe_owner;     /* the Pipeline whose replies are pending (borrowed), or NULL */
	PyObject *weakrefs;
	heapd *ended;             /* a timed-out handle kept while exports > 0 (lock), or NULL */
	Py_ssize_t exports;       /* buffers of its Views not yet released (GIL) */
	unsigned long owner;      /* the thread in hp_enter..hp_leave, or 0 (lock) */
	heapd_ref *orphans;       /* views whose View is gone, to release (lock; raw memory) */
	size_t norphans, orphans_cap;
} hp_conn;

/* The outcome of one libheapd call: its code and, on error, its message. */
struct hp_res {
	int rc;
	char msg[HP_MSG_MAX];
};

/* What a reply means to Python. */
enum hp_kind {
	HP_NONE,      /* None */
	HP_REF,       /* the ref as an int; None for 0 (an empty slot) */
	HP_ROOT_GET,  /* as HP_REF; NOT_FOUND is None, as Connection.root_get */
	HP_DATA,      /* bytes */
	HP_STATS,     /* heapd.Stats */
	HP_UIDS,      /* list of heapd.UidStat */
	HP_INFO,      /* heapd.ObjectInfo */
	HP_ROOT_INFO, /* heapd.RootInfo with its object's; arg is the name */
	HP_SCAN,      /* (next_cursor, [heapd.RootInfo]) */
	HP_CLIENTS,   /* list of heapd.ClientInfo */
	HP_CAS,       /* None; a conflict is heapd.Conflict with .was */
	HP_RETAINED,  /* heapd.Retained(objects, bytes) */
	HP_VIEW,      /* heapd.View of ref */
};

/* What one pending reply or batch op is to become. */
struct hp_want {
	unsigned char kind;  /* enum hp_kind */
	PyObject *arg;       /* owned, or NULL: HP_ROOT_INFO's name; a batch's HP_VIEW's Placeholder */
	heapd_ref ref;       /* HP_VIEW: the ref viewed (a batch's: once it ran) */
};

extern PyTypeObject hp_conn_type, hp_pipe_type, hp_batch_type, hp_placeholder_type, hp_view_type;

/* module.c */
int hp_enter(hp_conn *c);  /* takes c's lock; -1 with an exception when c is closed */
void hp_leave(hp_conn *c); /* releases orphans, closes an ended handle unexported, lets go */
void hp_keep(hp_conn *c, struct hp_res *res, int rc);  /* rc and, if < 0, c's message */
void hp_end(hp_conn *c);   /* under the lock: c ends (h to ended, orphans dropped) */
void hp_bury(hp_conn *c);  /* with the GIL, not the lock: closes ended if nothing is exported */
PyObject *hp_raise(const struct hp_res *res);           /* the exception for res; NULL */
PyObject *hp_raise_code(int code, const char *fmt, ...);
PyObject *hp_error(int code, const char *msg);          /* the exception object itself */
PyObject *hp_value(hp_conn *c, const struct hp_want *w, const heapd_reply *r);  /* c: HP_VIEW's */
/* The exception of a failed reply: code rc, message msg (r->error when it
 * has one); a conflict of HP_CAS gets .was from r->ref. */
PyObject *hp_reply_error(const struct hp_want *w, int rc, const heapd_reply *r, const char *msg);
void hp_want_set(struct hp_want *w, enum hp_kind kind, PyObject *arg);  /* arg borrowed (or NULL), then kept; ref 0 */
void hp_want_clear(struct hp_want *w, size_t n);                        /* drops the args of w[0..n) */
PyObject *hp_stats(const heapd_stats *s);
PyObject *hp_uid_rows(const heapd_uid_stat *const *rows, size_t n);  /* a list of heapd.UidStat */
PyObject *hp_object_info(const struct heapd_object_info *info);       /* heapd.ObjectInfo */
/* heapd.RootInfo: name (a str or bytes, decoded as a name), the root's
 * owner, group and mode, and its object's info (NULL: None). */
PyObject *hp_root_info(PyObject *name, uint32_t uid, uint32_t gid, uint32_t mode,
		       const struct heapd_object_info *info);
PyObject *hp_name_str(const char *name);                              /* a root's name as str */
PyObject *hp_root_row(const char *name, uint32_t uid, uint32_t gid, uint32_t mode); /* RootInfo, no object */
/* Puts item (stolen) at list[i]; NULL (an error raised): clears *list,
 * dropping the items put so far, and gives -1. */
int hp_list_put(PyObject **list, size_t i, PyObject *item);
PyObject *hp_client_rows(const heapd_client_info *rows, size_t n);    /* a list of heapd.ClientInfo */
PyObject *hp_raise_was(const struct hp_res *res, heapd_ref was);      /* hp_raise, .was on a conflict */
PyObject *hp_retained(uint64_t objects, uint64_t bytes);              /* heapd.Retained */
PyObject *hp_make(const char *cls, PyObject *args);    /* a registered class, called; steals args */

/* Arguments: each returns 0, or -1 with heapd.InvalidArgument (or a
 * TypeError) naming the argument and the value. */
int hp_u32(PyObject *o, const char *what, uint32_t *out);
int hp_u64(PyObject *o, const char *what, uint64_t *out);
int hp_ref(PyObject *o, const char *what, heapd_ref *out);       /* int or None (0) */
int hp_name(PyObject *o, const char *what, const char **out);    /* str or bytes, no NUL */
int hp_data(PyObject *o, Py_buffer *view);                       /* a contiguous buffer */
int hp_opt_u32(PyObject *o, const char *what, uint32_t *out);  /* absent or None: *out kept */
/* alloc's arguments (nrefs, nbytes, data, into, slot), a[0..5) as HP_ARGS
 * gives them: nbytes defaults to data's length; into is read by ref(ctx,
 * ...), or hp_ref when ref is NULL. On 0 the caller ends with
 * hp_alloc_release (data's buffer); on -1 nothing is held. */
struct hp_alloc {
	uint32_t nrefs, nbytes, slot;
	heapd_ref into;
	Py_buffer view;  /* data; view.len 0 and view.obj NULL when absent */
};
typedef int (*hp_ref_fn)(void *ctx, PyObject *o, const char *what, heapd_ref *out);
int hp_alloc_args(PyObject *const *a, struct hp_alloc *out, hp_ref_fn ref, void *ctx);
void hp_alloc_release(struct hp_alloc *al);
int hp_args(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, const char *const *names,
	    int required, PyObject **out);
/* The arguments of a METH_FASTCALL | METH_KEYWORDS method, into a[]. */
#define HP_ARGS(fn, required, ...)                                                                     \
	static const char *const names_[] = {__VA_ARGS__, NULL};                                       \
	PyObject *a[sizeof names_ / sizeof names_[0]];                                                 \
	if (hp_args(fn, args, nargs, kwnames, names_, required, a) < 0)                                \
		return NULL

/* Runs stmt (a libheapd call giving rc) on c's handle without the GIL,
 * under c's lock; res gets the outcome. A closed c gives HEAPD_EIO. */
#define HP_CALL(c, res, stmt)                                              \
	do {                                                               \
		PyThreadState *hp_ts_ = PyEval_SaveThread();               \
		PyThread_acquire_lock((c)->lock, WAIT_LOCK);               \
		if ((c)->h) {                                              \
			int rc;                                            \
			stmt;                                              \
			hp_keep((c), (res), rc);                           \
		} else {                                                   \
			(res)->rc = HEAPD_EIO;                             \
			snprintf((res)->msg, sizeof (res)->msg, "the connection is closed"); \
		}                                                          \
		PyThread_release_lock((c)->lock);                          \
		PyEval_RestoreThread(hp_ts_);                              \
		if ((res)->rc == HEAPD_ETIMEDOUT)                          \
			hp_bury(c);                                        \
	} while (0)

/* introspect.c: Connection's introspection calls and compare-and-swap. */
PyObject *hp_conn_object_info(PyObject *self, PyObject *arg);
PyObject *hp_conn_root_info(PyObject *self, PyObject *arg);
PyObject *hp_conn_root_scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *hp_conn_clients(PyObject *self, PyObject *unused);
PyObject *hp_conn_client_kill(PyObject *self, PyObject *arg);
PyObject *hp_conn_cas_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *hp_conn_root_cas(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *hp_conn_retained(PyObject *self, PyObject *arg);
PyObject *hp_conn_root_retained(PyObject *self, PyObject *arg);

/* view.c: zero-copy views. */
PyObject *hp_conn_view(PyObject *self, PyObject *arg);
/* A View of c's view of ref, whose bytes are data[0..len); NULL (the view
 * ended) when it cannot be made. */
PyObject *hp_view_new(hp_conn *c, heapd_ref ref, const void *data, size_t len);
/* With the GIL: ends c's view of ref, at once or as an orphan; quiet. */
void hp_view_end(hp_conn *c, heapd_ref ref);
/* A view of ref that failed with rc: HEAPD_ENOBUFS may be one the daemon
 * made but whose bytes could not be mapped, which is then ended. */
void hp_view_lost(hp_conn *c, heapd_ref ref, int rc);
/* Under the lock, no GIL needed: ref's view, to release once no replies
 * are pending (kept by the daemon till the connection ends if no memory). */
void hp_view_orphan(hp_conn *c, heapd_ref ref);
/* Under the lock, no GIL needed: releases the orphans if no replies are pending. */
void hp_view_orphans_release(hp_conn *c);

/* conn.c, pipeline.c, batch.c, view.c */
int hp_conn_ready(PyObject *m);
int hp_pipe_ready(PyObject *m);
int hp_batch_ready(PyObject *m);
int hp_view_ready(PyObject *m);

#endif
