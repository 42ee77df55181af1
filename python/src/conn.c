/*
 * conn.c - heapd._heapd.Connection: one libheapd connection and its
 * blocking calls (view.c has view(), introspect.c the introspection).
 *
 * Each call checks its arguments with the GIL held, then makes one
 * libheapd call (HP_CALL: without the GIL, under the connection's lock)
 * and turns its outcome into a value or an exception. Data goes from the
 * caller's buffer to libheapd's output buffer, and from libheapd's reply
 * into the bytes object returned: no other copy.
 *
 * read() with no length reads to the object's end, which
 * heapd_object_info says first (one round trip more). A read longer than
 * one frame carries is made of several reads, one frame each, under the
 * lock (other clients may write in between); a read given a length over
 * LONG_READ checks its end with a read of 0 bytes first.
 */
#include "heapdpy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes one read may ask for: the reply's room in a frame
 * (docs/protocol.md: LIMIT past max_frame - 64). */
#define READ_OVERHEAD 64
/* A read of more bytes than this checks that the object has them before
 * it allocates their buffer. */
#define LONG_READ (1u << 20)

/* ms from seconds: None is 0 (for ever), else a number > 0, rounded up. */
static int timeout_arg(PyObject *o, uint32_t *ms)
{
	*ms = 0;
	if (o == Py_None)
		return 0;
	if (!PyLong_Check(o) && !PyFloat_Check(o)) {
		PyErr_Format(PyExc_TypeError, "timeout must be a number of seconds or None, not %.100s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	double sec = PyFloat_AsDouble(o);
	if (sec == -1.0 && PyErr_Occurred())
		return -1;
	if (!(sec > 0) || !(ceil(sec * 1000) <= UINT32_MAX)) {
		hp_raise_code(HEAPD_EINVAL, "timeout %g s is not over 0 and up to %u ms (None: no timeout)", sec,
			      UINT32_MAX);
		return -1;
	}
	*ms = (uint32_t)ceil(sec * 1000);
	return 0;
}

static int conn_init(PyObject *self, PyObject *args, PyObject *kw)
{
	hp_conn *c = (hp_conn *)self;
	static char *kwlist[] = {"path", "timeout", NULL};
	PyObject *path = Py_None, *timeout = Py_None;
	uint32_t ms;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:connect", kwlist, &path, &timeout) ||
	    timeout_arg(timeout, &ms) < 0)
		return -1;
	if (c->h) {
		hp_raise_code(HEAPD_EINVAL, "connect: this Connection is already connected");
		return -1;
	}
	const char *p = NULL;
	PyObject *bytes = NULL;
	if (path != Py_None) {
		if (!PyUnicode_FSConverter(path, &bytes))
			return -1;
		p = PyBytes_AS_STRING(bytes);
	}
	heapd *h;
	Py_BEGIN_ALLOW_THREADS
	h = timeout == Py_None ? heapd_connect(p) : heapd_connect_timeout(p, ms);
	Py_END_ALLOW_THREADS
	Py_XDECREF(bytes);
	if (!h) {
		PyErr_NoMemory();
		return -1;
	}
	int rc = heapd_errcode(h);
	if (rc) {
		hp_raise_code(rc, "%s", heapd_errmsg(h));
		heapd_close(h);
		return -1;
	}
	c->h = h;
	return 0;
}

static PyObject *conn_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	(void)args;
	(void)kw;
	hp_conn *c = (hp_conn *)type->tp_alloc(type, 0);
	if (c && !(c->lock = PyThread_allocate_lock())) {
		Py_DECREF(c);
		return PyErr_NoMemory();
	}
	return (PyObject *)c;
}

static void conn_dealloc(PyObject *self)
{
	hp_conn *c = (hp_conn *)self;
	if (c->weakrefs)
		PyObject_ClearWeakRefs(self);
	if (c->h)
		heapd_close(c->h);
	if (c->ended)
		heapd_close(c->ended);
	PyMem_RawFree(c->orphans);
	if (c->lock)
		PyThread_free_lock(c->lock);
	Py_TYPE(self)->tp_free(self);
}

/* Returns None for rc 0, else raises. */
static PyObject *none_or_raise(const struct hp_res *res)
{
	if (res->rc < 0)
		return hp_raise(res);
	Py_RETURN_NONE;
}

static PyObject *ref_or_raise(const struct hp_res *res, heapd_ref ref)
{
	if (res->rc < 0)
		return hp_raise(res);
	if (!ref)
		Py_RETURN_NONE;
	return PyLong_FromUnsignedLongLong(ref);
}

/* Refused while a View's bytes are exported: heapd_close unmaps them.
 * (exports is read with the GIL, which no export is made without.) */
static PyObject *conn_close(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	Py_BEGIN_ALLOW_THREADS
	PyThread_acquire_lock(c->lock, WAIT_LOCK);
	Py_END_ALLOW_THREADS
	if (c->h && c->exports) {
		PyThread_release_lock(c->lock);
		PyErr_Format(PyExc_BufferError,
			     "cannot close a connection with %zd exported buffers of its views: release the "
			     "memoryviews first",
			     c->exports);
		return NULL;
	}
	heapd *h = c->h;
	c->h = NULL;
	c->pipe_owner = NULL;
	c->norphans = 0;
	PyThread_release_lock(c->lock);
	if (h)
		heapd_close(h);
	Py_RETURN_NONE;
}

static PyObject *conn_alloc(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("alloc", 0, "nrefs", "nbytes", "data", "into", "slot");
	hp_conn *c = (hp_conn *)self;
	struct hp_alloc al;
	heapd_ref out = 0;
	if (hp_alloc_args(a, &al, NULL, NULL) < 0)
		return NULL;
	struct hp_res res;
	if (al.view.len || al.into)
		HP_CALL(c, &res,
			rc = heapd_alloc_into(c->h, al.into, al.slot, al.nrefs, al.nbytes, al.view.buf,
					      (uint32_t)al.view.len, &out));
	else
		HP_CALL(c, &res, rc = heapd_alloc(c->h, al.nrefs, al.nbytes, &out));
	hp_alloc_release(&al);
	return ref_or_raise(&res, out);
}

static PyObject *conn_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("write", 3, "ref", "offset", "data");
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	uint32_t off;
	Py_buffer view;
	if (hp_ref(a[0], "ref", &ref) < 0 || hp_u32(a[1], "offset", &off) < 0 || hp_data(a[2], &view) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_write(c->h, ref, off, view.buf, (uint32_t)view.len));
	PyBuffer_Release(&view);
	return none_or_raise(&res);
}

/* len bytes from off into buf, one frame's worth per read. */
static int read_all(heapd *h, heapd_ref ref, uint32_t off, char *buf, uint32_t len)
{
	uint32_t frame = heapd_max_frame(h);
	uint32_t chunk = frame > READ_OVERHEAD ? frame - READ_OVERHEAD : 1;
	uint32_t done = 0;
	do {
		uint32_t n = len - done < chunk ? len - done : chunk;
		int rc = heapd_read(h, ref, off + done, buf + done, n);
		if (rc)
			return rc;
		done += n;
	} while (done < len);
	return 0;
}

static PyObject *conn_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("read", 1, "ref", "offset", "length");
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	uint32_t off = 0, len = 0;
	if (hp_ref(a[0], "ref", &ref) < 0 || (a[1] && hp_u32(a[1], "offset", &off) < 0) ||
	    hp_opt_u32(a[2], "length", &len) < 0)
		return NULL;
	struct hp_res res;
	if (!a[2] || a[2] == Py_None) {
		struct heapd_object_info info;
		HP_CALL(c, &res, rc = heapd_object_info(c->h, ref, &info));
		if (res.rc < 0)
			return hp_raise(&res);
		if (off > info.nbytes)
			return hp_raise_code(HEAPD_ERANGE, "read: offset %u is past the object's %u bytes", off,
					     info.nbytes);
		len = info.nbytes - off;
	} else if (hp_enter(c) < 0) {
		return NULL;
	} else {
		uint64_t max = heapd_max_object(c->h);
		hp_leave(c);
		if ((uint64_t)off + len > max)
			return hp_raise_code(HEAPD_ERANGE,
					     "read: offset %u + length %u is past the largest object (%llu bytes)", off,
					     len, (unsigned long long)max);
		if (len > LONG_READ) {
			/* The end first: a range error before memory or frames go. */
			char none;
			HP_CALL(c, &res, rc = heapd_read(c->h, ref, off + len, &none, 0));
			if (res.rc < 0)
				return hp_raise(&res);
		}
	}
	PyObject *bytes = PyBytes_FromStringAndSize(NULL, len);
	if (!bytes)
		return NULL;
	char *buf = PyBytes_AS_STRING(bytes);
	HP_CALL(c, &res, rc = read_all(c->h, ref, off, buf, len));
	if (res.rc < 0) {
		Py_DECREF(bytes);
		return hp_raise(&res);
	}
	return bytes;
}

static PyObject *conn_set_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("set_ref", 3, "obj", "slot", "target");
	hp_conn *c = (hp_conn *)self;
	heapd_ref obj, target;
	uint32_t slot;
	if (hp_ref(a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0 || hp_ref(a[2], "target", &target) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_set_ref(c->h, obj, slot, target));
	return none_or_raise(&res);
}

static PyObject *conn_get_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("get_ref", 2, "obj", "slot");
	hp_conn *c = (hp_conn *)self;
	heapd_ref obj, out = 0;
	uint32_t slot;
	if (hp_ref(a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_get_ref(c->h, obj, slot, &out));
	return ref_or_raise(&res, out);
}

static PyObject *conn_release(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_release(c->h, ref));
	return none_or_raise(&res);
}

static PyObject *conn_seal(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_seal(c->h, ref));
	return none_or_raise(&res);
}

static PyObject *conn_root_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_set", 2, "name", "ref");
	hp_conn *c = (hp_conn *)self;
	const char *name;
	heapd_ref ref;
	if (hp_name(a[0], "name", &name) < 0 || hp_ref(a[1], "ref", &ref) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_set(c->h, name, ref));
	return none_or_raise(&res);
}

static PyObject *conn_root_get(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	const char *name;
	heapd_ref out = 0;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_get(c->h, name, &out));
	if (res.rc == HEAPD_ENOTFOUND)
		Py_RETURN_NONE;
	return ref_or_raise(&res, out);
}

static PyObject *conn_root_chmod(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_chmod", 2, "name", "mode");
	hp_conn *c = (hp_conn *)self;
	const char *name;
	uint32_t mode;
	if (hp_name(a[0], "name", &name) < 0 || hp_u32(a[1], "mode", &mode) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_chmod(c->h, name, mode));
	return none_or_raise(&res);
}

/* An id for root_chown: None keeps it (HEAPD_ID_KEEP). */
static int id_arg(PyObject *o, const char *what, uint32_t *out)
{
	*out = HEAPD_ID_KEEP;
	if (!o || o == Py_None)
		return 0;
	if (hp_u32(o, what, out) < 0)
		return -1;
	if (*out == HEAPD_ID_KEEP)
		return hp_raise_code(HEAPD_EINVAL, "%s 4294967295 is not an id (None keeps it)", what), -1;
	return 0;
}

static PyObject *conn_root_chown(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_chown", 1, "name", "uid", "gid");
	hp_conn *c = (hp_conn *)self;
	const char *name;
	uint32_t uid, gid;
	if (hp_name(a[0], "name", &name) < 0 || id_arg(a[1], "uid", &uid) < 0 || id_arg(a[2], "gid", &gid) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_chown(c->h, name, uid, gid));
	return none_or_raise(&res);
}

/* (names, truncated), or with info ([(name, uid, gid, mode)], truncated). */
static PyObject *conn_roots(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	int info = PyObject_IsTrue(arg);
	if (info < 0)
		return NULL;
	heapd_root_info *roots = NULL;
	size_t n = 0;
	int truncated = 0;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_list_info(c->h, &roots, &n, &truncated));
	if (res.rc < 0)
		return hp_raise(&res);
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++) {
		const heapd_root_info *r = &roots[i];
		PyObject *name = PyUnicode_DecodeUTF8(r->name, (Py_ssize_t)strlen(r->name), "surrogateescape");
		PyObject *item = name && info ? hp_make("RootInfo", Py_BuildValue("(OIII)", name, r->uid, r->gid,
										  r->mode))
					      : name;
		if (info)
			Py_XDECREF(name);
		hp_list_put(&list, i, item);
	}
	heapd_free_root_info(roots);
	if (!list)
		return NULL;
	return Py_BuildValue("(NO)", list, truncated ? Py_True : Py_False);
}

static PyObject *conn_gc(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_gc(c->h));
	return none_or_raise(&res);
}

static PyObject *conn_free_os_memory(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_free_os_memory(c->h));
	return none_or_raise(&res);
}

static PyObject *conn_save(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("save", 0, "wait");
	hp_conn *c = (hp_conn *)self;
	int wait = a[0] ? PyObject_IsTrue(a[0]) : 1;
	if (wait < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_save(c->h, wait));
	return none_or_raise(&res);
}

static PyObject *conn_stats(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	heapd_stats *s = PyMem_Malloc(sizeof *s);
	if (!s)
		return PyErr_NoMemory();
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_get_stats(c->h, s, sizeof *s));
	PyObject *out = res.rc < 0 ? hp_raise(&res) : hp_stats(s);
	PyMem_Free(s);
	return out;
}

/* (rows, truncated) */
static PyObject *conn_uid_stats(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	heapd_uid_stat *rows = NULL;
	size_t n = 0;
	int truncated = 0;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_uid_stats(c->h, &rows, sizeof *rows, &n, &truncated));
	if (res.rc < 0)
		return hp_raise(&res);
	const heapd_uid_stat **each = PyMem_Calloc(n ? n : 1, sizeof *each);
	for (size_t i = 0; each && i < n; i++)
		each[i] = &rows[i];
	PyObject *list = each ? hp_uid_rows(each, n) : PyErr_NoMemory();
	PyMem_Free(each);
	heapd_free_uid_stats(rows);
	if (!list)
		return NULL;
	return Py_BuildValue("(NO)", list, truncated ? Py_True : Py_False);
}

static PyObject *conn_ping(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	uint64_t ns = 0;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_ping(c->h, &ns));
	if (res.rc < 0)
		return hp_raise(&res);
	return PyLong_FromUnsignedLongLong(ns);
}

static PyObject *conn_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

static PyObject *conn_exit(PyObject *self, PyObject *args)
{
	(void)args;
	return conn_close(self, NULL);
}

#define FAST(name, doc) {#name, (PyCFunction)(void (*)(void))conn_##name, METH_FASTCALL | METH_KEYWORDS, doc}
static PyMethodDef conn_methods[] = {
	{"close", conn_close, METH_NOARGS, "close(): ends the connection and its holds; idempotent."},
	FAST(alloc, "alloc(nrefs=0, nbytes=None, data=b'', into=None, slot=0) -> int"),
	FAST(write, "write(ref, offset, data): data is any contiguous buffer."),
	FAST(read, "read(ref, offset=0, length=None) -> bytes; None: to the object's end."),
	FAST(set_ref, "set_ref(obj, slot, target): target None or 0 clears the slot."),
	FAST(get_ref, "get_ref(obj, slot) -> int | None (held; None for an empty slot)."),
	{"release", conn_release, METH_O, "release(ref): drops one hold."},
	{"seal", conn_seal, METH_O, "seal(ref): makes the object immutable for good (idempotent)."},
	{"view", hp_conn_view, METH_O, "view(ref) -> heapd.View: a sealed object's bytes, zero-copy."},
	FAST(root_set, "root_set(name, ref): ref None deletes the root."),
	{"root_get", conn_root_get, METH_O, "root_get(name) -> int | None (held; None when missing)."},
	FAST(root_chmod, "root_chmod(name, mode)"),
	FAST(root_chown, "root_chown(name, uid=None, gid=None): None keeps it."),
	{"_roots", conn_roots, METH_O, "_roots(info) -> (list, truncated): use roots()."},
	{"gc", conn_gc, METH_NOARGS, "gc(): a full collection."},
	{"free_os_memory", conn_free_os_memory, METH_NOARGS, "free_os_memory(): collect, then return free pages."},
	FAST(save, "save(wait=True): saves the heap's snapshot (admins)."),
	{"stats", conn_stats, METH_NOARGS, "stats() -> heapd.Stats"},
	{"_uid_stats", conn_uid_stats, METH_NOARGS, "_uid_stats() -> (rows, truncated): use uid_stats()."},
	{"ping", conn_ping, METH_NOARGS, "ping() -> int: the round trip in nanoseconds."},
	{"object_info", hp_conn_object_info, METH_O, "object_info(ref) -> heapd.ObjectInfo"},
	{"root_info", hp_conn_root_info, METH_O, "root_info(name) -> heapd.RootInfo, with its object's info."},
	{"root_scan", (PyCFunction)(void (*)(void))hp_conn_root_scan, METH_FASTCALL | METH_KEYWORDS,
	 "root_scan(pattern=None, cursor=0, count=0) -> (next_cursor, [RootInfo]); use scan_roots()."},
	{"retained", hp_conn_retained, METH_O, "retained(ref) -> heapd.Retained(objects, bytes): what it reaches."},
	{"root_retained", hp_conn_root_retained, METH_O, "root_retained(name) -> heapd.Retained(objects, bytes)"},
	{"_clients", hp_conn_clients, METH_NOARGS, "_clients() -> (rows, truncated): use clients()."},
	{"client_kill", hp_conn_client_kill, METH_O, "client_kill(id): closes that connection (admins)."},
	{"cas_ref", (PyCFunction)(void (*)(void))hp_conn_cas_ref, METH_FASTCALL | METH_KEYWORDS,
	 "cas_ref(obj, slot, expected, target): swaps, or raises heapd.Conflict with .was."},
	{"root_cas", (PyCFunction)(void (*)(void))hp_conn_root_cas, METH_FASTCALL | METH_KEYWORDS,
	 "root_cas(name, expected, target): swaps, or raises heapd.Conflict with .was."},
	{"__enter__", conn_enter, METH_NOARGS, NULL},
	{"__exit__", conn_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};
#undef FAST

/* The hello's figures: read-only properties. */
#define HELLO_GETTER(name, make)                                         \
	static PyObject *conn_get_##name(PyObject *self, void *closure)  \
	{                                                                \
		(void)closure;                                           \
		hp_conn *c = (hp_conn *)self;                            \
		if (hp_enter(c) < 0)                                     \
			return NULL;                                     \
		PyObject *v = make(heapd_##name(c->h));                  \
		hp_leave(c);                                             \
		return v;                                                \
	}
HELLO_GETTER(session_id, PyLong_FromUnsignedLongLong)
HELLO_GETTER(server_version, PyUnicode_FromString)
HELLO_GETTER(max_frame, PyLong_FromUnsignedLong)
HELLO_GETTER(max_object, PyLong_FromUnsignedLongLong)
HELLO_GETTER(max_batch_ops, PyLong_FromUnsignedLong)
HELLO_GETTER(spin, PyLong_FromUnsignedLong)
#undef HELLO_GETTER

static int conn_set_spin(PyObject *self, PyObject *value, void *closure)
{
	(void)closure;
	hp_conn *c = (hp_conn *)self;
	uint32_t us;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "spin cannot be deleted");
		return -1;
	}
	if (hp_u32(value, "spin", &us) < 0 || hp_enter(c) < 0)
		return -1;
	struct hp_res res;
	hp_keep(c, &res, heapd_set_spin(c->h, us));
	hp_leave(c);
	return res.rc < 0 ? (hp_raise(&res), -1) : 0;
}

/* Seconds (a float), or None for no timeout. */
static PyObject *conn_get_timeout(PyObject *self, void *closure)
{
	(void)closure;
	hp_conn *c = (hp_conn *)self;
	if (hp_enter(c) < 0)
		return NULL;
	uint32_t ms = heapd_timeout(c->h);
	hp_leave(c);
	if (!ms)
		Py_RETURN_NONE;
	return PyFloat_FromDouble(ms / 1000.0);
}

static int conn_set_timeout(PyObject *self, PyObject *value, void *closure)
{
	(void)closure;
	hp_conn *c = (hp_conn *)self;
	uint32_t ms;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "timeout cannot be deleted (set it to None)");
		return -1;
	}
	if (timeout_arg(value, &ms) < 0 || hp_enter(c) < 0)
		return -1;
	struct hp_res res;
	hp_keep(c, &res, heapd_set_timeout(c->h, ms));
	hp_leave(c);
	return res.rc < 0 ? (hp_raise(&res), -1) : 0;
}

static PyObject *conn_get_closed(PyObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(((hp_conn *)self)->h == NULL);
}

static PyGetSetDef conn_getset[] = {
	{"closed", conn_get_closed, NULL, "True once closed.", NULL},
	{"session_id", conn_get_session_id, NULL, "The daemon's id of this connection.", NULL},
	{"server_version", conn_get_server_version, NULL, "The daemon's version.", NULL},
	{"max_frame", conn_get_max_frame, NULL, "The daemon's max_frame_size.", NULL},
	{"max_object", conn_get_max_object, NULL, "The largest object's bytes.", NULL},
	{"max_batch_ops", conn_get_max_batch_ops, NULL, "The most ops a batch may have.", NULL},
	{"spin", conn_get_spin, conn_set_spin, "Microseconds a call spins before it sleeps (heapd_set_spin).",
	 NULL},
	{"timeout", conn_get_timeout, conn_set_timeout,
	 "Seconds a call waits for its reply, None for ever (heapd_set_timeout); past it, heapd.TimeoutError.",
	 NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject hp_conn_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapd._heapd.Connection",
	.tp_basicsize = sizeof(hp_conn),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Connection(path=None, timeout=None): a connection to heapd; use heapd.connect().",
	.tp_new = conn_new,
	.tp_init = conn_init,
	.tp_dealloc = conn_dealloc,
	.tp_methods = conn_methods,
	.tp_getset = conn_getset,
	.tp_weaklistoffset = offsetof(hp_conn, weakrefs),
};

int hp_conn_ready(PyObject *m)
{
	if (PyType_Ready(&hp_conn_type) < 0)
		return -1;
	Py_INCREF(&hp_conn_type);
	if (PyModule_AddObject(m, "Connection", (PyObject *)&hp_conn_type) < 0) {
		Py_DECREF(&hp_conn_type);
		return -1;
	}
	return 0;
}
