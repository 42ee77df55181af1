/*
 * batch.c - heapd._heapd.Batch and Placeholder: operations sent as one
 * request (heapd_batch_*), run by the daemon in order until one fails.
 *
 * Each method adds an op and returns a Placeholder for its result; a
 * Placeholder may stand for a ref in a later op of the same batch
 * (heapd_batch_result). execute() runs the batch on the connection and
 * gives each op's value, or its exception (the failed op's error, then
 * heapd.Skipped for the ops after it). A view op's value is a View; a
 * view a run made that cannot become one is ended at once.
 *
 * Invariants: wants[0..nops) says what each op's reply becomes; gen counts
 * resets, and a Placeholder is good only for the batch and generation it
 * came from (an old one would name another op). A Batch is built from one
 * thread at a time; execute() takes the connection's lock.
 */
#include "heapdpy.h"

typedef struct {
	PyObject_HEAD
	hp_conn *conn;         /* owned */
	heapd_batch *b;
	struct hp_want *wants;  /* what each op's reply becomes (args owned) */
	size_t nops, cap;
	unsigned long gen;
} hp_batch;

typedef struct {
	PyObject_HEAD
	PyObject *batch;  /* owned */
	unsigned long gen;
	int index;
} hp_placeholder;

static PyObject *batch_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"conn", NULL};
	PyObject *conn;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!:Batch", kwlist, &hp_conn_type, &conn))
		return NULL;
	hp_batch *b = (hp_batch *)type->tp_alloc(type, 0);
	if (!b)
		return NULL;
	b->conn = (hp_conn *)Py_NewRef(conn);
	if (!(b->b = heapd_batch_new())) {
		Py_DECREF(b);
		return PyErr_NoMemory();
	}
	return (PyObject *)b;
}

static void batch_dealloc(PyObject *self)
{
	hp_batch *b = (hp_batch *)self;
	if (b->b)
		heapd_batch_free(b->b);
	hp_want_clear(b->wants, b->nops);
	PyMem_Free(b->wants);
	Py_XDECREF(b->conn);
	Py_TYPE(self)->tp_free(self);
}

/* A ref argument: an int, None, or a Placeholder of this batch. */
static int batch_ref(hp_batch *b, PyObject *o, const char *what, heapd_ref *out)
{
	if (Py_IS_TYPE(o, &hp_placeholder_type)) {
		hp_placeholder *ph = (hp_placeholder *)o;
		if (ph->batch != (PyObject *)b || ph->gen != b->gen) {
			hp_raise_code(HEAPD_EINVAL, "%s: placeholder of op %d is of another batch%s", what, ph->index,
				      ph->batch == (PyObject *)b ? " (this one before its reset)" : "");
			return -1;
		}
		*out = heapd_batch_result(ph->index);
		return 0;
	}
	return hp_ref(o, what, out);
}

static int batch_ref_fn(void *b, PyObject *o, const char *what, heapd_ref *out)
{
	return batch_ref(b, o, what, out);
}

/* Records the op an adder made (its index, or an error), with what its
 * reply needs of the request (struct hp_want: arg, ref), and returns its
 * Placeholder. */
static PyObject *added_arg(hp_batch *b, enum hp_kind kind, PyObject *arg, heapd_ref ref, int index)
{
	if (index < 0)
		return hp_raise_code(index, "batch: the op was not added: %s", heapd_strerror(index));
	if (b->nops == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct hp_want *w = PyMem_Realloc(b->wants, cap * sizeof *w);
		if (!w)
			return PyErr_NoMemory();
		b->wants = w;
		b->cap = cap;
	}
	hp_want_set(&b->wants[b->nops], kind, arg);
	b->wants[b->nops++].ref = ref;
	hp_placeholder *ph = PyObject_New(hp_placeholder, &hp_placeholder_type);
	if (!ph)
		return NULL;
	ph->batch = Py_NewRef(b);
	ph->gen = b->gen;
	ph->index = index;
	return (PyObject *)ph;
}

static PyObject *added(hp_batch *b, enum hp_kind kind, int index)
{
	return added_arg(b, kind, NULL, 0, index);
}

static PyObject *batch_alloc(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("alloc", 0, "nrefs", "nbytes", "data", "into", "slot");
	hp_batch *b = (hp_batch *)self;
	struct hp_alloc al;
	PyObject *out;
	if (hp_alloc_args(a, &al, batch_ref_fn, b) < 0)
		return NULL;
	if (al.view.len || al.into)
		out = added(b, HP_REF,
			    heapd_batch_alloc_into(b->b, al.into, al.slot, al.nrefs, al.nbytes, al.view.buf,
						   (uint32_t)al.view.len));
	else
		out = added(b, HP_REF, heapd_batch_alloc(b->b, al.nrefs, al.nbytes));
	hp_alloc_release(&al);
	return out;
}

static PyObject *batch_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("write", 3, "ref", "offset", "data");
	hp_batch *b = (hp_batch *)self;
	heapd_ref ref;
	uint32_t off;
	Py_buffer view;
	if (batch_ref(b, a[0], "ref", &ref) < 0 || hp_u32(a[1], "offset", &off) < 0 || hp_data(a[2], &view) < 0)
		return NULL;
	PyObject *out = added(b, HP_NONE, heapd_batch_write(b->b, ref, off, view.buf, (uint32_t)view.len));
	PyBuffer_Release(&view);
	return out;
}

static PyObject *batch_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("read", 3, "ref", "offset", "length");
	hp_batch *b = (hp_batch *)self;
	heapd_ref ref;
	uint32_t off, len;
	if (batch_ref(b, a[0], "ref", &ref) < 0 || hp_u32(a[1], "offset", &off) < 0 ||
	    hp_u32(a[2], "length", &len) < 0)
		return NULL;
	return added(b, HP_DATA, heapd_batch_read(b->b, ref, off, len));
}

static PyObject *batch_set_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("set_ref", 3, "obj", "slot", "target");
	hp_batch *b = (hp_batch *)self;
	heapd_ref obj, target;
	uint32_t slot;
	if (batch_ref(b, a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0 ||
	    batch_ref(b, a[2], "target", &target) < 0)
		return NULL;
	return added(b, HP_NONE, heapd_batch_set_ref(b->b, obj, slot, target));
}

static PyObject *batch_get_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("get_ref", 2, "obj", "slot");
	hp_batch *b = (hp_batch *)self;
	heapd_ref obj;
	uint32_t slot;
	if (batch_ref(b, a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0)
		return NULL;
	return added(b, HP_REF, heapd_batch_get_ref(b->b, obj, slot));
}

static PyObject *batch_release(PyObject *self, PyObject *arg)
{
	hp_batch *b = (hp_batch *)self;
	heapd_ref ref;
	if (batch_ref(b, arg, "ref", &ref) < 0)
		return NULL;
	return added(b, HP_NONE, heapd_batch_release(b->b, ref));
}

static PyObject *batch_root_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_set", 2, "name", "ref");
	hp_batch *b = (hp_batch *)self;
	const char *name;
	heapd_ref ref;
	if (hp_name(a[0], "name", &name) < 0 || batch_ref(b, a[1], "ref", &ref) < 0)
		return NULL;
	return added(b, HP_NONE, heapd_batch_root_set(b->b, name, ref));
}

static PyObject *batch_root_get(PyObject *self, PyObject *arg)
{
	hp_batch *b = (hp_batch *)self;
	const char *name;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	return added(b, HP_REF, heapd_batch_root_get(b->b, name));
}

static PyObject *batch_root_chmod(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_chmod", 2, "name", "mode");
	hp_batch *b = (hp_batch *)self;
	const char *name;
	uint32_t mode;
	if (hp_name(a[0], "name", &name) < 0 || hp_u32(a[1], "mode", &mode) < 0)
		return NULL;
	return added(b, HP_NONE, heapd_batch_root_chmod(b->b, name, mode));
}

static PyObject *batch_root_chown(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_chown", 1, "name", "uid", "gid");
	hp_batch *b = (hp_batch *)self;
	const char *name;
	uint32_t uid = HEAPD_ID_KEEP, gid = HEAPD_ID_KEEP;
	if (hp_name(a[0], "name", &name) < 0 || hp_opt_u32(a[1], "uid", &uid) < 0 ||
	    hp_opt_u32(a[2], "gid", &gid) < 0)
		return NULL;
	return added(b, HP_NONE, heapd_batch_root_chown(b->b, name, uid, gid));
}

static PyObject *batch_cas_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("cas_ref", 4, "obj", "slot", "expected", "target");
	hp_batch *b = (hp_batch *)self;
	heapd_ref obj, expected, target;
	uint32_t slot;
	if (batch_ref(b, a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0 ||
	    batch_ref(b, a[2], "expected", &expected) < 0 || batch_ref(b, a[3], "target", &target) < 0)
		return NULL;
	return added(b, HP_CAS, heapd_batch_cas_ref(b->b, obj, slot, expected, target));
}

static PyObject *batch_root_cas(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_cas", 3, "name", "expected", "target");
	hp_batch *b = (hp_batch *)self;
	const char *name;
	heapd_ref expected, target;
	if (hp_name(a[0], "name", &name) < 0 || batch_ref(b, a[1], "expected", &expected) < 0 ||
	    batch_ref(b, a[2], "target", &target) < 0)
		return NULL;
	return added(b, HP_CAS, heapd_batch_root_cas(b->b, name, expected, target));
}

static PyObject *batch_object_info(PyObject *self, PyObject *arg)
{
	hp_batch *b = (hp_batch *)self;
	heapd_ref ref;
	if (batch_ref(b, arg, "ref", &ref) < 0)
		return NULL;
	return added(b, HP_INFO, heapd_batch_object_info(b->b, ref));
}

static PyObject *batch_root_info(PyObject *self, PyObject *arg)
{
	hp_batch *b = (hp_batch *)self;
	const char *name;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	return added_arg(b, HP_ROOT_INFO, arg, 0, heapd_batch_root_info(b->b, name));
}

static PyObject *batch_seal(PyObject *self, PyObject *arg)
{
	hp_batch *b = (hp_batch *)self;
	heapd_ref ref;
	if (batch_ref(b, arg, "ref", &ref) < 0)
		return NULL;
	return added(b, HP_NONE, heapd_batch_seal(b->b, ref));
}

/* Its result is a View: of the ref, or, for a Placeholder, of the ref its
 * op gives (known once the batch ran: result_ref). */
static PyObject *batch_view(PyObject *self, PyObject *arg)
{
	hp_batch *b = (hp_batch *)self;
	heapd_ref ref;
	if (batch_ref(b, arg, "ref", &ref) < 0)
		return NULL;
	if (Py_IS_TYPE(arg, &hp_placeholder_type))
		return added_arg(b, HP_VIEW, arg, 0, heapd_batch_view(b->b, ref));
	return added_arg(b, HP_VIEW, NULL, ref, heapd_batch_view(b->b, ref));
}

static PyObject *batch_stats(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_batch *b = (hp_batch *)self;
	return added(b, HP_STATS, heapd_batch_get_stats(b->b));
}

/* The ref the op of placeholder ph gave, in the last run. */
static heapd_ref result_ref(hp_batch *b, PyObject *ph)
{
	heapd_reply r;
	heapd_batch_reply(b->b, ((hp_placeholder *)ph)->index, &r);
	return r.ref;
}

/* Every op's value or exception, after a run. Every view the run made
 * becomes a View, or ends (when Python could not make the list). */
static PyObject *batch_results(hp_batch *b)
{
	PyObject *list = PyList_New((Py_ssize_t)b->nops);
	for (size_t i = 0; i < b->nops; i++) {
		heapd_reply r;
		int rc = heapd_batch_reply(b->b, (int)i, &r);
		struct hp_want *w = &b->wants[i];
		if (w->kind == HP_VIEW) {
			if (w->arg)
				w->ref = result_ref(b, w->arg);
			if (rc)
				hp_view_lost(b->conn, w->ref, rc);
			else if (!list)
				hp_view_end(b->conn, w->ref);
		}
		if (list)
			hp_list_put(&list, i,
				    rc == 0 ? hp_value(b->conn, w, &r) : hp_reply_error(w, rc, &r, heapd_strerror(rc)));
	}
	return list;
}

static PyObject *batch_execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("execute", 0, "raise_on_error");
	hp_batch *b = (hp_batch *)self;
	hp_conn *c = b->conn;
	int raise = a[0] ? PyObject_IsTrue(a[0]) : 1;
	if (raise < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_batch_exec(c->h, b->b));
	PyObject *list = batch_results(b);
	if (!list || !raise || res.rc == 0)
		return list;
	int failed = heapd_batch_failed(b->b);
	PyObject *exc = failed >= 0 ? Py_NewRef(PyList_GET_ITEM(list, failed)) : hp_error(res.rc, res.msg);
	PyObject *index = exc ? PyLong_FromLong(failed) : NULL;
	if (index && PyObject_SetAttrString(exc, "results", list) == 0 &&
	    PyObject_SetAttrString(exc, "index", index) == 0)
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_XDECREF(index);
	Py_XDECREF(exc);
	Py_DECREF(list);
	return NULL;
}

static PyObject *batch_reset(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_batch *b = (hp_batch *)self;
	heapd_batch_reset(b->b);
	hp_want_clear(b->wants, b->nops);
	b->nops = 0;
	b->gen++;
	Py_RETURN_NONE;
}

static Py_ssize_t batch_len(PyObject *self)
{
	return (Py_ssize_t)((hp_batch *)self)->nops;
}

#define FAST(name, doc) {#name, (PyCFunction)(void (*)(void))batch_##name, METH_FASTCALL | METH_KEYWORDS, doc}
static PyMethodDef batch_methods[] = {
	FAST(alloc, "alloc(nrefs=0, nbytes=None, data=b'', into=None, slot=0) -> Placeholder"),
	FAST(write, "write(ref, offset, data) -> Placeholder"),
	FAST(read, "read(ref, offset, length) -> Placeholder"),
	FAST(set_ref, "set_ref(obj, slot, target) -> Placeholder"),
	FAST(get_ref, "get_ref(obj, slot) -> Placeholder"),
	{"release", batch_release, METH_O, "release(ref) -> Placeholder"},
	FAST(root_set, "root_set(name, ref) -> Placeholder"),
	{"root_get", batch_root_get, METH_O, "root_get(name) -> Placeholder (NOT_FOUND fails the batch)"},
	FAST(root_chmod, "root_chmod(name, mode) -> Placeholder"),
	FAST(root_chown, "root_chown(name, uid=None, gid=None) -> Placeholder"),
	{"stats", batch_stats, METH_NOARGS, "stats() -> Placeholder"},
	{"seal", batch_seal, METH_O, "seal(ref) -> Placeholder"},
	{"view", batch_view, METH_O, "view(ref) -> Placeholder (its result, a heapd.View)"},
	FAST(cas_ref, "cas_ref(obj, slot, expected, target) -> Placeholder (a conflict fails the batch)"),
	FAST(root_cas, "root_cas(name, expected, target) -> Placeholder (a conflict fails the batch)"),
	{"object_info", batch_object_info, METH_O, "object_info(ref) -> Placeholder"},
	{"root_info", batch_root_info, METH_O, "root_info(name) -> Placeholder"},
	FAST(execute, "execute(raise_on_error=True) -> list: each op's value, or its exception."),
	{"reset", batch_reset, METH_NOARGS, "reset(): no ops; earlier placeholders become invalid."},
	{NULL, NULL, 0, NULL},
};
#undef FAST

static PySequenceMethods batch_seq = {.sq_length = batch_len};

PyTypeObject hp_batch_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapd._heapd.Batch",
	.tp_basicsize = sizeof(hp_batch),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Batch(conn): operations run as one request; use conn.batch().",
	.tp_new = batch_new,
	.tp_dealloc = batch_dealloc,
	.tp_methods = batch_methods,
	.tp_as_sequence = &batch_seq,
};

static void placeholder_dealloc(PyObject *self)
{
	Py_DECREF(((hp_placeholder *)self)->batch);
	PyObject_Free(self);
}

static PyObject *placeholder_repr(PyObject *self)
{
	return PyUnicode_FromFormat("<heapd.Placeholder of op %d>", ((hp_placeholder *)self)->index);
}

static PyObject *placeholder_index(PyObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromLong(((hp_placeholder *)self)->index);
}

static PyGetSetDef placeholder_getset[] = {
	{"index", placeholder_index, NULL, "The op's index in its batch (0, 1, ...).", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject hp_placeholder_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapd._heapd.Placeholder",
	.tp_basicsize = sizeof(hp_placeholder),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "The result of an op of a batch, usable as a ref in its later ops.",
	.tp_dealloc = placeholder_dealloc,
	.tp_repr = placeholder_repr,
	.tp_getset = placeholder_getset,
};

int hp_batch_ready(PyObject *m)
{
	if (PyType_Ready(&hp_batch_type) < 0 || PyType_Ready(&hp_placeholder_type) < 0)
		return -1;
	Py_INCREF(&hp_batch_type);
	if (PyModule_AddObject(m, "Batch", (PyObject *)&hp_batch_type) < 0) {
		Py_DECREF(&hp_batch_type);
		return -1;
	}
	Py_INCREF(&hp_placeholder_type);
	if (PyModule_AddObject(m, "Placeholder", (PyObject *)&hp_placeholder_type) < 0) {
		Py_DECREF(&hp_placeholder_type);
		return -1;
	}
	return 0;
}
