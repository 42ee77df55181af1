/*
 * view.c - heapd._heapd.View: a sealed object's bytes read in place
 * (heapd_view), exported read-only through the buffer protocol with no
 * copy; and Connection.view.
 *
 * A View holds one view of ref at the daemon from its making until it is
 * released: by release() (or leaving with), by its dealloc, or by the end
 * of its connection (close, a timeout, a failure), whichever comes first.
 * Its bytes, data[0..len), lie in the connection's mapping of the arena,
 * which libheapd keeps until heapd_close.
 *
 * Invariants (heapdpy.h has the connection's side):
 * - exports counts the buffers this View handed out (bf_getbuffer) and
 *   did not have back (bf_releasebuffer); the connection's exports is the
 *   sum over its Views. Both change only with the GIL held, and a buffer
 *   is handed out only by a View not released whose connection is open.
 * - A View with exports is not released (BufferError, as mmap.close()),
 *   nor is its connection closed; one a timeout ends keeps its mapping
 *   until the last buffer is back (hp_bury). So no memoryview outlives the
 *   bytes it points at.
 * - released is set, with the GIL, before the view is released, so that
 *   two threads cannot release one view twice (which would end another
 *   View's view of the same ref: libheapd counts views by ref); a release
 *   refused while a pipeline's replies are pending clears it again.
 * - A View keeps its Connection alive (owned), so a connection with Views
 *   is never deallocated, and its exports are 0 when it is.
 */
#include "heapdpy.h"

typedef struct {
	PyObject_HEAD
	hp_conn *conn;       /* owned */
	heapd_ref ref;
	void *data;          /* len bytes in conn's mapping, read-only (PROT_READ) */
	Py_ssize_t len;
	Py_ssize_t exports;  /* buffers handed out, not back (GIL) */
	int released;        /* its view ended, or is being ended (GIL) */
} hp_view;

/* Where a View of no bytes points: a buffer's buf is never NULL. */
static char empty[1];

/* Ends of a connection that failed: the daemon ended its views with it. */
static int conn_failed(int rc)
{
	return rc == HEAPD_EIO || rc == HEAPD_EPROTO || rc == HEAPD_ETIMEDOUT;
}

void hp_view_orphan(hp_conn *c, heapd_ref ref)
{
	if (c->norphans == c->orphans_cap) {
		size_t cap = c->orphans_cap ? 2 * c->orphans_cap : 16;
		heapd_ref *o = PyMem_RawRealloc(c->orphans, cap * sizeof *o);
		if (!o)
			return;
		c->orphans = o;
		c->orphans_cap = cap;
	}
	c->orphans[c->norphans++] = ref;
}

void hp_view_orphans_release(hp_conn *c)
{
	struct hp_res res;
	while (c->norphans && c->h && !c->pipe_owner)
		hp_keep(c, &res, heapd_view_release(c->h, c->orphans[--c->norphans]));
}

void hp_view_end(hp_conn *c, heapd_ref ref)
{
	/* This thread holds the lock (hp_enter): hp_leave releases it. */
	if (c->owner == PyThread_get_thread_ident()) {
		if (c->h)
			hp_view_orphan(c, ref);
		return;
	}
	struct hp_res res = {.rc = 0};
	Py_BEGIN_ALLOW_THREADS
	PyThread_acquire_lock(c->lock, WAIT_LOCK);
	if (c->h && c->pipe_owner)
		hp_view_orphan(c, ref);
	else if (c->h)
		hp_keep(c, &res, heapd_view_release(c->h, ref));
	PyThread_release_lock(c->lock);
	Py_END_ALLOW_THREADS
	if (res.rc == HEAPD_ETIMEDOUT)
		hp_bury(c);
}

void hp_view_lost(hp_conn *c, heapd_ref ref, int rc)
{
	/* libheapd counts a view by the daemon's reply, so a release here of
	 * one it never counted (out of memory before it was sent) is refused
	 * with nothing sent; unless another View of ref is counted, whose view
	 * then ends early: its bytes stay mapped, not kept from change. */
	if (rc == HEAPD_ENOBUFS)
		hp_view_end(c, ref);
}

PyObject *hp_view_new(hp_conn *c, heapd_ref ref, const void *data, size_t len)
{
	hp_view *v = PyObject_New(hp_view, &hp_view_type);
	if (!v) {
		hp_view_end(c, ref);
		return NULL;
	}
	v->conn = (hp_conn *)Py_NewRef(c);
	v->ref = ref;
	v->data = len ? (void *)data : empty;  /* never written: the buffer is read-only */
	v->len = (Py_ssize_t)len;
	v->exports = 0;
	v->released = 0;
	return (PyObject *)v;
}

PyObject *hp_conn_view(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	const void *data = NULL;
	size_t len = 0;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_view(c->h, ref, &data, &len));
	if (res.rc < 0) {
		hp_view_lost(c, ref, res.rc);
		return hp_raise(&res);
	}
	return hp_view_new(c, ref, data, len);
}

static void view_dealloc(PyObject *self)
{
	hp_view *v = (hp_view *)self;
	if (!v->released)
		hp_view_end(v->conn, v->ref);
	Py_DECREF(v->conn);
	PyObject_Free(self);
}

/* Its bytes may be used: not released, its connection open. */
static int view_live(const hp_view *v)
{
	return !v->released && v->conn->h;
}

static int view_getbuffer(PyObject *self, Py_buffer *b, int flags)
{
	hp_view *v = (hp_view *)self;
	if (!view_live(v)) {
		b->obj = NULL;
		PyErr_SetString(PyExc_ValueError, "the view is released");
		return -1;
	}
	if (PyBuffer_FillInfo(b, self, v->data, v->len, 1, flags) < 0)
		return -1;
	v->exports++;
	v->conn->exports++;
	return 0;
}

static void view_releasebuffer(PyObject *self, Py_buffer *b)
{
	(void)b;
	hp_view *v = (hp_view *)self;
	hp_conn *c = v->conn;
	v->exports--;
	/* The last buffer of a connection a timeout ended: its mapping may go.
	 * (h is read without the lock: a stale non-NULL leaves the burial to
	 * the timed-out call's own hp_bury, which then sees exports 0.) */
	if (--c->exports == 0 && !c->h)
		hp_bury(c);
}

static PyObject *view_release(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_view *v = (hp_view *)self;
	hp_conn *c = v->conn;
	if (v->released)
		Py_RETURN_NONE;
	if (v->exports)
		return PyErr_Format(PyExc_BufferError,
				    "cannot release a view with %zd exported buffers: release the memoryviews first",
				    v->exports);
	v->released = 1;
	/* A finalizer run while this thread holds the lock (hp_enter): HP_CALL
	 * would wait for it for ever. */
	if (c->owner == PyThread_get_thread_ident()) {
		hp_view_end(c, v->ref);
		Py_RETURN_NONE;
	}
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_view_release(c->h, v->ref));
	if (res.rc == HEAPD_EINVAL)
		v->released = 0;  /* replies pending: it still holds */
	if (res.rc == 0 || conn_failed(res.rc))
		Py_RETURN_NONE;
	return hp_raise(&res);
}

static PyObject *view_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	return Py_NewRef(self);
}

static PyObject *view_exit(PyObject *self, PyObject *args)
{
	(void)args;
	return view_release(self, NULL);
}

static Py_ssize_t view_len(PyObject *self)
{
	hp_view *v = (hp_view *)self;
	if (!view_live(v)) {
		PyErr_SetString(PyExc_ValueError, "the view is released");
		return -1;
	}
	return v->len;
}

static PyObject *view_repr(PyObject *self)
{
	hp_view *v = (hp_view *)self;
	char ref[24];  /* PyUnicode_FromFormat has no %llx */
	snprintf(ref, sizeof ref, "%#llx", (unsigned long long)v->ref);
	return PyUnicode_FromFormat("<heapd.View of %s, %zd bytes%s>", ref, v->len, view_live(v) ? "" : ", released");
}

static PyObject *view_get_ref(PyObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLongLong(((hp_view *)self)->ref);
}

static PyObject *view_get_released(PyObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(!view_live((hp_view *)self));
}

static PyMethodDef view_methods[] = {
	{"release", view_release, METH_NOARGS,
	 "release(): ends the view (BufferError while memoryviews of it exist); again: nothing."},
	{"__enter__", view_enter, METH_NOARGS, NULL},
	{"__exit__", view_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef view_getset[] = {
	{"ref", view_get_ref, NULL, "The ref viewed.", NULL},
	{"released", view_get_released, NULL, "True once released, or once its connection ended.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyBufferProcs view_buffer = {.bf_getbuffer = view_getbuffer, .bf_releasebuffer = view_releasebuffer};
static PySequenceMethods view_seq = {.sq_length = view_len};

PyTypeObject hp_view_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapd._heapd.View",
	.tp_basicsize = sizeof(hp_view),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A sealed object's bytes in place, read-only (memoryview(v), bytes(v)); from conn.view(ref).",
	.tp_dealloc = view_dealloc,
	.tp_repr = view_repr,
	.tp_methods = view_methods,
	.tp_getset = view_getset,
	.tp_as_buffer = &view_buffer,
	.tp_as_sequence = &view_seq,
};

int hp_view_ready(PyObject *m)
{
	if (PyType_Ready(&hp_view_type) < 0)
		return -1;
	Py_INCREF(&hp_view_type);
	if (PyModule_AddObject(m, "View", (PyObject *)&hp_view_type) < 0) {
		Py_DECREF(&hp_view_type);
		return -1;
	}
	return 0;
}
