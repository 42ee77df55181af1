/*
 * pipeline.c - heapd._heapd.Pipeline: requests appended to a connection
 * (heapd_append_*), their replies taken by execute() in one go.
 *
 * Each method appends its request at once (libheapd copies it into the
 * connection's output buffer and sends it as the socket allows) and
 * remembers what its reply means (wants[], in order). execute() takes
 * every pending reply, letting go of the GIL for each wait, and gives
 * their values in order; a failed request's place holds its exception.
 *
 * Invariants: a connection's pending replies are one pipeline's (the
 * connection's pipe_owner; another pipeline, or a blocking call, is
 * refused meanwhile, the latter by libheapd); npend is how many of them
 * there are, and wants[0..npend) what each is (their args owned). A pipeline dropped, reset
 * or left (with) with replies pending takes and discards them, so the
 * connection is usable again; the views among them are ended (orphans,
 * released once the last reply is taken), as a dropped View's are.
 */
#include "heapdpy.h"

typedef struct {
	PyObject_HEAD
	hp_conn *conn;         /* owned */
	struct hp_want *wants;  /* what each pending reply becomes */
	size_t npend, cap;
} hp_pipe;

static PyObject *pipe_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"conn", NULL};
	PyObject *conn;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!:Pipeline", kwlist, &hp_conn_type, &conn))
		return NULL;
	hp_pipe *p = (hp_pipe *)type->tp_alloc(type, 0);
	if (p)
		p->conn = (hp_conn *)Py_NewRef(conn);
	return (PyObject *)p;
}

/* Under c's lock, every reply taken: a connection that timed out is dead
 * in libheapd, so it ends here too (as hp_keep does); 1 if it did. */
static int pipe_settled(hp_conn *c)
{
	c->pipe_owner = NULL;
	if (heapd_errcode(c->h) == HEAPD_ETIMEDOUT) {
		hp_end(c);
		return 1;
	}
	return 0;
}

/* Under c's lock: takes and drops replies i.. of p; their views end, once
 * none is pending. 1 if the connection ended meanwhile. */
static int pipe_drop(hp_pipe *p, size_t i)
{
	hp_conn *c = p->conn;
	heapd_reply r;
	for (; i < p->npend; i++) {
		int rc = heapd_get_reply(c->h, &r);
		if (p->wants[i].kind == HP_VIEW && (rc == 0 || rc == HEAPD_ENOBUFS))
			hp_view_orphan(c, p->wants[i].ref);
	}
	int ended = pipe_settled(c);
	hp_view_orphans_release(c);
	return ended;
}

/* Takes and drops every pending reply. */
static void pipe_drain(hp_pipe *p)
{
	hp_conn *c = p->conn;
	int ended = 0;
	if (!p->npend)
		return;
	Py_BEGIN_ALLOW_THREADS
	PyThread_acquire_lock(c->lock, WAIT_LOCK);
	if (c->h && c->pipe_owner == (PyObject *)p)
		ended = pipe_drop(p, 0);
	PyThread_release_lock(c->lock);
	Py_END_ALLOW_THREADS
	if (ended)
		hp_bury(c);
	hp_want_clear(p->wants, p->npend);
	p->npend = 0;
}

static void pipe_dealloc(PyObject *self)
{
	hp_pipe *p = (hp_pipe *)self;
	pipe_drain(p);
	PyMem_Free(p->wants);
	Py_DECREF(p->conn);
	Py_TYPE(self)->tp_free(self);
}

/* Under c's lock: may p append? */
static int pipe_may(hp_pipe *p)
{
	hp_conn *c = p->conn;
	if (c->pipe_owner && c->pipe_owner != (PyObject *)p) {
		hp_raise_code(HEAPD_EINVAL, "another pipeline of this connection has replies pending: execute it first");
		return -1;
	}
	if (p->npend == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct hp_want *w = PyMem_Realloc(p->wants, cap * sizeof *w);
		if (!w) {
			PyErr_NoMemory();
			return -1;
		}
		p->wants = w;
		p->cap = cap;
	}
	return 0;
}

/* Appends with expr (a heapd_append_* call on h giving rc): the request
 * pending, or its error raised and nothing queued. arg and ref: what its
 * reply needs of the request (struct hp_want). */
#define APPEND(p, kind, expr) APPEND_ARG(p, kind, NULL, 0, expr)
#define APPEND_ARG(p, kind, arg, ref_, expr)                            \
	do {                                                            \
		hp_conn *c = (p)->conn;                                 \
		if (hp_enter(c) < 0)                                    \
			goto fail;                                      \
		if (pipe_may(p) < 0) {                                  \
			hp_leave(c);                                    \
			goto fail;                                      \
		}                                                       \
		heapd *h = c->h;                                        \
		struct hp_res res;                                      \
		hp_keep(c, &res, (expr));                               \
		if (res.rc == 0) {                                      \
			hp_want_set(&(p)->wants[(p)->npend], (kind), (arg)); \
			(p)->wants[(p)->npend++].ref = (ref_);          \
			c->pipe_owner = (PyObject *)(p);                \
		}                                                       \
		hp_leave(c);                                            \
		if (res.rc < 0) {                                       \
			hp_raise(&res);                                 \
			goto fail;                                      \
		}                                                       \
	} while (0)

static PyObject *pipe_alloc(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("alloc", 0, "nrefs", "nbytes", "data", "into", "slot");
	struct hp_alloc al;
	if (hp_alloc_args(a, &al, NULL, NULL) < 0)
		return NULL;
	if (al.view.len || al.into)
		APPEND((hp_pipe *)self, HP_REF,
		       heapd_append_alloc_into(h, al.into, al.slot, al.nrefs, al.nbytes, al.view.buf,
					       (uint32_t)al.view.len));
	else
		APPEND((hp_pipe *)self, HP_REF, heapd_append_alloc(h, al.nrefs, al.nbytes));
	hp_alloc_release(&al);
	Py_RETURN_NONE;
fail:
	hp_alloc_release(&al);
	return NULL;
}

static PyObject *pipe_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("write", 3, "ref", "offset", "data");
	heapd_ref ref;
	uint32_t off;
	Py_buffer view;
	if (hp_ref(a[0], "ref", &ref) < 0 || hp_u32(a[1], "offset", &off) < 0 || hp_data(a[2], &view) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_write(h, ref, off, view.buf, (uint32_t)view.len));
	PyBuffer_Release(&view);
	Py_RETURN_NONE;
fail:
	PyBuffer_Release(&view);
	return NULL;
}

static PyObject *pipe_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("read", 3, "ref", "offset", "length");
	heapd_ref ref;
	uint32_t off, len;
	if (hp_ref(a[0], "ref", &ref) < 0 || hp_u32(a[1], "offset", &off) < 0 || hp_u32(a[2], "length", &len) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_DATA, heapd_append_read(h, ref, off, len));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_set_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("set_ref", 3, "obj", "slot", "target");
	heapd_ref obj, target;
	uint32_t slot;
	if (hp_ref(a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0 || hp_ref(a[2], "target", &target) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_set_ref(h, obj, slot, target));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_get_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("get_ref", 2, "obj", "slot");
	heapd_ref obj;
	uint32_t slot;
	if (hp_ref(a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_REF, heapd_append_get_ref(h, obj, slot));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_release(PyObject *self, PyObject *arg)
{
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_release(h, ref));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_set", 2, "name", "ref");
	const char *name;
	heapd_ref ref;
	if (hp_name(a[0], "name", &name) < 0 || hp_ref(a[1], "ref", &ref) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_root_set(h, name, ref));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_get(PyObject *self, PyObject *arg)
{
	const char *name;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_ROOT_GET, heapd_append_root_get(h, name));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_chmod(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_chmod", 2, "name", "mode");
	const char *name;
	uint32_t mode;
	if (hp_name(a[0], "name", &name) < 0 || hp_u32(a[1], "mode", &mode) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_root_chmod(h, name, mode));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_chown(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_chown", 1, "name", "uid", "gid");
	const char *name;
	uint32_t uid = HEAPD_ID_KEEP, gid = HEAPD_ID_KEEP;
	if (hp_name(a[0], "name", &name) < 0 || hp_opt_u32(a[1], "uid", &uid) < 0 ||
	    hp_opt_u32(a[2], "gid", &gid) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_root_chown(h, name, uid, gid));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_cas_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("cas_ref", 4, "obj", "slot", "expected", "target");
	heapd_ref obj, expected, target;
	uint32_t slot;
	if (hp_ref(a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0 ||
	    hp_ref(a[2], "expected", &expected) < 0 || hp_ref(a[3], "target", &target) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_CAS, heapd_append_cas_ref(h, obj, slot, expected, target));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_cas(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_cas", 3, "name", "expected", "target");
	const char *name;
	heapd_ref expected, target;
	if (hp_name(a[0], "name", &name) < 0 || hp_ref(a[1], "expected", &expected) < 0 ||
	    hp_ref(a[2], "target", &target) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_CAS, heapd_append_root_cas(h, name, expected, target));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_object_info(PyObject *self, PyObject *arg)
{
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_INFO, heapd_append_object_info(h, ref));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_info(PyObject *self, PyObject *arg)
{
	const char *name;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	APPEND_ARG((hp_pipe *)self, HP_ROOT_INFO, arg, 0, heapd_append_root_info(h, name));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_scan", 0, "pattern", "cursor", "count");
	const char *pattern = NULL;
	uint64_t cursor = 0;
	uint32_t count = 0;
	if ((a[0] && a[0] != Py_None && hp_name(a[0], "pattern", &pattern) < 0) ||
	    (a[1] && hp_u64(a[1], "cursor", &cursor) < 0) || (a[2] && hp_u32(a[2], "count", &count) < 0))
		return NULL;
	APPEND((hp_pipe *)self, HP_SCAN, heapd_append_root_scan(h, pattern, cursor, count));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_retained(PyObject *self, PyObject *arg)
{
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_RETAINED, heapd_append_retained(h, ref));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_root_retained(PyObject *self, PyObject *arg)
{
	const char *name;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_RETAINED, heapd_append_root_retained(h, name));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_seal(PyObject *self, PyObject *arg)
{
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_seal(h, ref));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_view(PyObject *self, PyObject *arg)
{
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	APPEND_ARG((hp_pipe *)self, HP_VIEW, NULL, ref, heapd_append_view(h, ref));
	Py_RETURN_NONE;
fail:
	return NULL;
}

static PyObject *pipe_client_kill(PyObject *self, PyObject *arg)
{
	uint64_t id;
	if (hp_u64(arg, "id", &id) < 0)
		return NULL;
	APPEND((hp_pipe *)self, HP_NONE, heapd_append_client_kill(h, id));
	Py_RETURN_NONE;
fail:
	return NULL;
}

/* The requests without arguments. */
#define NOARG(name, kind, call)                                          \
	static PyObject *pipe_##name(PyObject *self, PyObject *unused)   \
	{                                                                \
		(void)unused;                                            \
		APPEND((hp_pipe *)self, kind, call(h));                  \
		Py_RETURN_NONE;                                          \
	fail:                                                            \
		return NULL;                                             \
	}
NOARG(gc, HP_NONE, heapd_append_gc)
NOARG(free_os_memory, HP_NONE, heapd_append_free_os_memory)
NOARG(stats, HP_STATS, heapd_append_get_stats)
NOARG(ping, HP_NONE, heapd_append_ping)
NOARG(uid_stats, HP_UIDS, heapd_append_uid_stats)
NOARG(clients, HP_CLIENTS, heapd_append_client_list)
#undef NOARG

/* Takes reply i; its value or its exception. */
static PyObject *pipe_take(hp_pipe *p, size_t i)
{
	hp_conn *c = p->conn;
	heapd_reply r;
	struct hp_res res = {.rc = HEAPD_EIO};
	Py_BEGIN_ALLOW_THREADS
	res.rc = heapd_get_reply(c->h, &r);
	Py_END_ALLOW_THREADS
	const struct hp_want *w = &p->wants[i];
	if (res.rc == 0)
		return hp_value(c, w, &r);
	if (res.rc == HEAPD_ENOTFOUND && w->kind == HP_ROOT_GET)
		Py_RETURN_NONE;
	if (w->kind == HP_VIEW)
		hp_view_lost(c, w->ref, res.rc);
	return hp_reply_error(w, res.rc, &r, heapd_errmsg(c->h));
}

/* Under c's lock and the GIL, every reply taken. */
static void pipe_done(hp_pipe *p)
{
	pipe_settled(p->conn);
	hp_want_clear(p->wants, p->npend);
	p->npend = 0;
}

static PyObject *pipe_execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("execute", 0, "raise_on_error");
	hp_pipe *p = (hp_pipe *)self;
	hp_conn *c = p->conn;
	int raise = a[0] ? PyObject_IsTrue(a[0]) : 1;
	if (raise < 0)
		return NULL;
	PyObject *list = PyList_New((Py_ssize_t)p->npend), *first = NULL;
	if (!list)
		return NULL;
	if (!p->npend)
		return list;
	if (hp_enter(c) < 0) {
		hp_want_clear(p->wants, p->npend);
		p->npend = 0;
		Py_DECREF(list);
		return NULL;
	}
	size_t n = p->npend;
	for (size_t i = 0; i < n; i++) {
		PyObject *v = pipe_take(p, i);
		if (!v) {
			/* Python could not make a value: drop the rest. */
			pipe_drop(p, i + 1);
			hp_want_clear(p->wants, p->npend);
			p->npend = 0;
			hp_leave(c);
			Py_DECREF(list);
			return NULL;
		}
		if (!first && PyExceptionInstance_Check(v))
			first = v;
		PyList_SET_ITEM(list, (Py_ssize_t)i, v);
	}
	pipe_done(p);
	hp_leave(c);
	if (raise && first) {
		if (PyObject_SetAttrString(first, "results", list) == 0)
			PyErr_SetObject((PyObject *)Py_TYPE(first), first);
		Py_DECREF(list);
		return NULL;
	}
	return list;
}

static PyObject *pipe_reset(PyObject *self, PyObject *unused)
{
	(void)unused;
	pipe_drain((hp_pipe *)self);
	Py_RETURN_NONE;
}

static PyObject *pipe_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

static PyObject *pipe_exit(PyObject *self, PyObject *args)
{
	(void)args;
	return pipe_reset(self, NULL);
}

static Py_ssize_t pipe_len(PyObject *self)
{
	return (Py_ssize_t)((hp_pipe *)self)->npend;
}

#define FAST(name, doc) {#name, (PyCFunction)(void (*)(void))pipe_##name, METH_FASTCALL | METH_KEYWORDS, doc}
static PyMethodDef pipe_methods[] = {
	FAST(alloc, "alloc(nrefs=0, nbytes=None, data=b'', into=None, slot=0): its result, the ref."),
	FAST(write, "write(ref, offset, data)"),
	FAST(read, "read(ref, offset, length): its result, the bytes."),
	FAST(set_ref, "set_ref(obj, slot, target)"),
	FAST(get_ref, "get_ref(obj, slot): its result, the ref (held) or None."),
	{"release", pipe_release, METH_O, "release(ref)"},
	FAST(root_set, "root_set(name, ref): ref None deletes."),
	{"root_get", pipe_root_get, METH_O, "root_get(name): its result, the ref (held) or None."},
	FAST(root_chmod, "root_chmod(name, mode)"),
	FAST(root_chown, "root_chown(name, uid=None, gid=None)"),
	{"gc", pipe_gc, METH_NOARGS, "gc()"},
	{"free_os_memory", pipe_free_os_memory, METH_NOARGS, "free_os_memory()"},
	{"stats", pipe_stats, METH_NOARGS, "stats(): its result, a heapd.Stats."},
	{"ping", pipe_ping, METH_NOARGS, "ping()"},
	{"uid_stats", pipe_uid_stats, METH_NOARGS, "uid_stats(): its result, a list of heapd.UidStat."},
	FAST(cas_ref, "cas_ref(obj, slot, expected, target): None, or heapd.Conflict with .was."),
	FAST(root_cas, "root_cas(name, expected, target): None, or heapd.Conflict with .was."),
	{"object_info", pipe_object_info, METH_O, "object_info(ref): its result, a heapd.ObjectInfo."},
	{"root_info", pipe_root_info, METH_O, "root_info(name): its result, a heapd.RootInfo."},
	FAST(root_scan, "root_scan(pattern=None, cursor=0, count=0): its result, (next_cursor, [RootInfo])."),
	{"retained", pipe_retained, METH_O, "retained(ref): its result, a heapd.Retained."},
	{"root_retained", pipe_root_retained, METH_O, "root_retained(name): its result, a heapd.Retained."},
	{"clients", pipe_clients, METH_NOARGS, "clients(): its result, a list of heapd.ClientInfo."},
	{"client_kill", pipe_client_kill, METH_O, "client_kill(id)"},
	{"seal", pipe_seal, METH_O, "seal(ref)"},
	{"view", pipe_view, METH_O, "view(ref): its result, a heapd.View."},
	FAST(execute, "execute(raise_on_error=True) -> list: every pending reply's value, in order."),
	{"reset", pipe_reset, METH_NOARGS, "reset(): takes and discards the pending replies."},
	{"__enter__", pipe_enter, METH_NOARGS, NULL},
	{"__exit__", pipe_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};
#undef FAST

static PySequenceMethods pipe_seq = {.sq_length = pipe_len};

PyTypeObject hp_pipe_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapd._heapd.Pipeline",
	.tp_basicsize = sizeof(hp_pipe),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Pipeline(conn): requests sent at once, replies taken by execute(); use conn.pipeline().",
	.tp_new = pipe_new,
	.tp_dealloc = pipe_dealloc,
	.tp_methods = pipe_methods,
	.tp_as_sequence = &pipe_seq,
};

int hp_pipe_ready(PyObject *m)
{
	if (PyType_Ready(&hp_pipe_type) < 0)
		return -1;
	Py_INCREF(&hp_pipe_type);
	if (PyModule_AddObject(m, "Pipeline", (PyObject *)&hp_pipe_type) < 0) {
		Py_DECREF(&hp_pipe_type);
		return -1;
	}
	return 0;
}
