/*
 * module.c - heapd._heapd: the module, and what its types share: errors
 * as exceptions, arguments checked, replies made into Python values.
 *
 * heapd/__init__.py defines the exception classes and the dataclasses and
 * hands them over once at import (_register); until then nothing here
 * makes them. The exception for a code is the class registered for it, or
 * heapd.Error for a code this binding does not know. The tables the
 * package needs from libheapd are made from libheapd's own lists, never
 * copied: ERRORS from HEAPD_ERRORS, STATS from HEAPD_STATS (so a new
 * figure of the daemon is a new field of heapd.Stats by rebuilding).
 */
#include "heapdpy.h"

#include <stdarg.h>
#include <string.h>

/* What _register got: "errors" (a dict code -> class), "Error", "Stats",
 * "UidStat", "RootInfo", "ObjectInfo", "ClientInfo", "Retained". Owned;
 * set once. */
static PyObject *registry;

/* With the GIL: takes c's lock, letting go of the GIL if it must wait. */
static void lock(hp_conn *c)
{
	if (!PyThread_acquire_lock(c->lock, NOWAIT_LOCK)) {
		Py_BEGIN_ALLOW_THREADS
		PyThread_acquire_lock(c->lock, WAIT_LOCK);
		Py_END_ALLOW_THREADS
	}
}

int hp_enter(hp_conn *c)
{
	lock(c);
	if (c->h) {
		c->owner = PyThread_get_thread_ident();
		return 0;
	}
	PyThread_release_lock(c->lock);
	hp_raise_code(HEAPD_EIO, "the connection is closed");
	return -1;
}

/* Under the lock, with the GIL: c's ended handle, once nothing is
 * exported from its mapping, taken to be closed; or NULL. */
static heapd *unexported(hp_conn *c)
{
	heapd *h = c->exports ? NULL : c->ended;
	if (h)
		c->ended = NULL;
	return h;
}

void hp_leave(hp_conn *c)
{
	hp_view_orphans_release(c);
	heapd *dead = unexported(c);
	c->owner = 0;
	PyThread_release_lock(c->lock);
	if (dead)
		heapd_close(dead);
}

void hp_end(hp_conn *c)
{
	c->ended = c->h;
	c->h = NULL;
	c->pipe_owner = NULL;
	c->norphans = 0;  /* their views end with the connection */
}

void hp_bury(hp_conn *c)
{
	/* The thread in hp_enter..hp_leave buries at hp_leave. (owner is read
	 * without the lock: only this thread ever writes its own id there.) */
	if (c->owner == PyThread_get_thread_ident())
		return;
	lock(c);
	heapd *dead = unexported(c);
	PyThread_release_lock(c->lock);
	if (dead)
		heapd_close(dead);
}

void hp_keep(hp_conn *c, struct hp_res *res, int rc)
{
	res->rc = rc;
	if (rc < 0)
		snprintf(res->msg, sizeof res->msg, "%s", heapd_errmsg(c->h));
	if (rc == HEAPD_ETIMEDOUT)
		hp_end(c);
}

static PyObject *registered(const char *name)
{
	PyObject *o = registry ? PyDict_GetItemString(registry, name) : NULL;
	if (!o)
		PyErr_Format(PyExc_RuntimeError, "heapd._heapd: %s is not registered (import heapd, not heapd._heapd)",
			     name);
	return o;
}

PyObject *hp_make(const char *cls, PyObject *args)
{
	if (!args)
		return NULL;
	PyObject *type = registered(cls);
	PyObject *o = type ? PyObject_CallObject(type, args) : NULL;
	Py_DECREF(args);
	return o;
}

PyObject *hp_error(int code, const char *msg)
{
	PyObject *errors = registered("errors");
	PyObject *base = registered("Error");
	if (!errors || !base)
		return NULL;
	PyObject *key = PyLong_FromLong(code);
	if (!key)
		return NULL;
	PyObject *cls = PyDict_GetItemWithError(errors, key);
	Py_DECREF(key);
	if (!cls && PyErr_Occurred())
		return NULL;
	PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
	if (!text)
		return NULL;
	PyObject *exc = PyObject_CallOneArg(cls ? cls : base, text);
	PyObject *num = exc ? PyLong_FromLong(code) : NULL;
	if (!num || PyObject_SetAttrString(exc, "code", num) < 0 || PyObject_SetAttrString(exc, "message", text) < 0)
		Py_CLEAR(exc);
	Py_XDECREF(num);
	Py_DECREF(text);
	return exc;
}

PyObject *hp_raise(const struct hp_res *res)
{
	PyObject *exc = hp_error(res->rc, res->msg[0] ? res->msg : heapd_strerror(res->rc));
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

PyObject *hp_raise_code(int code, const char *fmt, ...)
{
	struct hp_res res = {.rc = code};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res.msg, sizeof res.msg, fmt, ap);
	va_end(ap);
	return hp_raise(&res);
}

/* ---- arguments ---- */

/* Raises InvalidArgument: "WHAT N is WHY". */
static int bad_number(PyObject *n, const char *what, const char *why)
{
	PyObject *text = PyObject_Str(n);
	const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
	if (t)
		hp_raise_code(HEAPD_EINVAL, "%s %s is %s", what, t, why);
	Py_XDECREF(text);
	return -1;
}

int hp_u64(PyObject *o, const char *what, uint64_t *out)
{
	PyObject *n = PyNumber_Index(o);
	if (!n) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(o)->tp_name);
		return -1;
	}
	int err = 0;
	if (PyObject_RichCompareBool(n, Py_False, Py_LT) == 1) {
		err = bad_number(n, what, "negative");
	} else {
		unsigned long long u = PyLong_AsUnsignedLongLong(n);
		if (u == (unsigned long long)-1 && PyErr_Occurred()) {
			PyErr_Clear();
			err = bad_number(n, what, "out of range (0 to 2**64-1)");
		}
		*out = u;
	}
	Py_DECREF(n);
	return err;
}

int hp_u32(PyObject *o, const char *what, uint32_t *out)
{
	uint64_t v;
	if (hp_u64(o, what, &v) < 0)
		return -1;
	if (v > UINT32_MAX) {
		hp_raise_code(HEAPD_EINVAL, "%s %llu is out of range (0 to 4294967295)", what, (unsigned long long)v);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int hp_ref(PyObject *o, const char *what, heapd_ref *out)
{
	if (o == Py_None) {
		*out = 0;
		return 0;
	}
	return hp_u64(o, what, out);
}

int hp_name(PyObject *o, const char *what, const char **out)
{
	Py_ssize_t len;
	const char *s;
	if (PyUnicode_Check(o)) {
		s = PyUnicode_AsUTF8AndSize(o, &len);
		if (!s)
			return -1;
	} else if (PyBytes_Check(o)) {
		s = PyBytes_AS_STRING(o);
		len = PyBytes_GET_SIZE(o);
	} else {
		PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s", what, Py_TYPE(o)->tp_name);
		return -1;
	}
	if ((size_t)len != strlen(s)) {
		hp_raise_code(HEAPD_EINVAL, "%s contains a NUL byte (at %zu of its %zd)", what, strlen(s), len);
		return -1;
	}
	*out = s;
	return 0;
}

int hp_data(PyObject *o, Py_buffer *view)
{
	if (PyUnicode_Check(o)) {
		PyErr_SetString(PyExc_TypeError, "data must be bytes or a buffer, not str (encode it)");
		return -1;
	}
	if (PyObject_GetBuffer(o, view, PyBUF_C_CONTIGUOUS) < 0)
		return -1;
	if ((size_t)view->len > UINT32_MAX) {
		hp_raise_code(HEAPD_EINVAL, "data of %zd bytes is over 4294967295", view->len);
		PyBuffer_Release(view);
		return -1;
	}
	return 0;
}

int hp_opt_u32(PyObject *o, const char *what, uint32_t *out)
{
	return o && o != Py_None ? hp_u32(o, what, out) : 0;
}

int hp_alloc_args(PyObject *const *a, struct hp_alloc *out, hp_ref_fn ref, void *ctx)
{
	*out = (struct hp_alloc){.view = {.buf = NULL, .len = 0}};
	if ((a[0] && hp_u32(a[0], "nrefs", &out->nrefs) < 0) || (a[2] && hp_data(a[2], &out->view) < 0))
		return -1;
	out->nbytes = (uint32_t)out->view.len;
	if (hp_opt_u32(a[1], "nbytes", &out->nbytes) < 0 ||
	    (a[3] && (ref ? ref(ctx, a[3], "into", &out->into) : hp_ref(a[3], "into", &out->into)) < 0) ||
	    (a[4] && hp_u32(a[4], "slot", &out->slot) < 0)) {
		hp_alloc_release(out);
		return -1;
	}
	return 0;
}

void hp_alloc_release(struct hp_alloc *al)
{
	if (al->view.obj)
		PyBuffer_Release(&al->view);
	al->view.obj = NULL;
}

/* Python's own rules for a call's arguments, for METH_FASTCALL methods:
 * names[] (NULL-terminated) in order, the first `required` of them needed;
 * out[i] gets each (borrowed), NULL when not given. */
int hp_args(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, const char *const *names,
	    int required, PyObject **out)
{
	int n = 0;
	while (names[n])
		n++;
	if (nargs > n) {
		PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fn, n, nargs);
		return -1;
	}
	for (int i = 0; i < n; i++)
		out[i] = i < nargs ? args[i] : NULL;
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	for (Py_ssize_t k = 0; k < nkw; k++) {
		PyObject *key = PyTuple_GET_ITEM(kwnames, k);
		int i = 0;
		while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
			i++;
		if (i == n) {
			PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, key);
			return -1;
		}
		if (out[i]) {
			PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, names[i]);
			return -1;
		}
		out[i] = args[nargs + k];
	}
	for (int i = 0; i < required; i++)
		if (!out[i]) {
			PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fn, names[i],
				     i + 1);
			return -1;
		}
	return 0;
}

/* ---- replies ---- */

#define HP_STAT_COUNT(v) PyLong_FromUnsignedLongLong(v)
#define HP_STAT_BYTES(v) PyLong_FromUnsignedLongLong(v)
#define HP_STAT_GOAL(v) PyLong_FromUnsignedLongLong(v)
#define HP_STAT_NS(v) PyLong_FromUnsignedLongLong(v)
#define HP_STAT_UNIX_NS(v) PyLong_FromUnsignedLongLong(v)
#define HP_STAT_FRACTION(v) PyFloat_FromDouble(v)
#define HP_STAT_PAUSES(v) pause_ring(v)

static PyObject *pause_ring(const uint64_t *ring)
{
	PyObject *t = PyTuple_New(HEAPD_PAUSE_RING);
	for (int i = 0; t && i < HEAPD_PAUSE_RING; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(ring[i]);
		if (!v) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, i, v);
	}
	return t;
}

PyObject *hp_stats(const heapd_stats *s)
{
	enum {
#define X(name, ...) HP_STAT_##name,
		HEAPD_STATS(X)
#undef X
		HP_NSTATS
	};
	PyObject *t = PyTuple_New(HP_NSTATS), *v;
	if (!t)
		return NULL;
#define X(name, kind, ...)                          \
	if (!(v = HP_STAT_##kind(s->name))) {       \
		Py_DECREF(t);                       \
		return NULL;                        \
	}                                           \
	PyTuple_SET_ITEM(t, HP_STAT_##name, v);
	HEAPD_STATS(X)
#undef X
	return hp_make("Stats", t);
}

static PyObject *uid_row(const heapd_uid_stat *u)
{
	return hp_make("UidStat", Py_BuildValue("(IKKKKKKKKK)", u->uid, u->connections, u->holds, u->named_roots,
						u->root_name_bytes, u->output_bytes, u->heap_bytes, u->roots_refused,
						u->holds_refused, u->output_stalls));
}

PyObject *hp_uid_rows(const heapd_uid_stat *const *rows, size_t n)
{
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++)
		hp_list_put(&list, i, uid_row(rows[i]));
	return list;
}

static PyObject *ref_or_none(heapd_ref ref)
{
	if (!ref)
		Py_RETURN_NONE;
	return PyLong_FromUnsignedLongLong(ref);
}

PyObject *hp_object_info(const struct heapd_object_info *i)
{
	return hp_make("ObjectInfo", Py_BuildValue("(IIKNI)", i->nrefs, i->nbytes, (unsigned long long)i->size,
						   PyBool_FromLong(i->sealed), i->age));
}

PyObject *hp_name_str(const char *name)
{
	return PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "surrogateescape");
}

PyObject *hp_root_info(PyObject *name, uint32_t uid, uint32_t gid, uint32_t mode,
		       const struct heapd_object_info *info)
{
	PyObject *text = PyBytes_Check(name) ? hp_name_str(PyBytes_AS_STRING(name)) : Py_NewRef(name);
	if (!text)
		return NULL;
	PyObject *obj = info ? hp_object_info(info) : Py_NewRef(Py_None);
	if (!obj) {
		Py_DECREF(text);
		return NULL;
	}
	return hp_make("RootInfo", Py_BuildValue("(NIIIN)", text, uid, gid, mode, obj));
}

PyObject *hp_root_row(const char *name, uint32_t uid, uint32_t gid, uint32_t mode)
{
	PyObject *text = hp_name_str(name);
	PyObject *row = text ? hp_root_info(text, uid, gid, mode, NULL) : NULL;
	Py_XDECREF(text);
	return row;
}

int hp_list_put(PyObject **list, size_t i, PyObject *item)
{
	if (!item) {
		Py_CLEAR(*list);
		return -1;
	}
	PyList_SET_ITEM(*list, (Py_ssize_t)i, item);
	return 0;
}

/* (next_cursor, [RootInfo]) of a root_scan reply. */
static PyObject *scan_value(const heapd_reply *r)
{
	PyObject *list = PyList_New((Py_ssize_t)r->nnames);
	for (size_t i = 0; list && i < r->nnames; i++)
		hp_list_put(&list, i, hp_root_row(r->names[i], r->root_uids[i], r->root_gids[i], r->root_modes[i]));
	if (!list)
		return NULL;
	return Py_BuildValue("(KN)", (unsigned long long)r->cursor, list);
}

static PyObject *client_row(const heapd_client_info *c)
{
	PyObject *comm = hp_name_str(c->comm), *name = comm ? hp_name_str(c->name) : NULL;
	if (!name) {
		Py_XDECREF(comm);
		return NULL;
	}
	return hp_make("ClientInfo", Py_BuildValue("(KIIINNKKKKKKN)", (unsigned long long)c->id, c->pid, c->uid,
						   c->gid, comm, name, (unsigned long long)c->connected_unix_ns,
						   (unsigned long long)c->holds, (unsigned long long)c->held_bytes,
						   (unsigned long long)c->requests, (unsigned long long)c->bytes_in,
						   (unsigned long long)c->bytes_out, PyBool_FromLong(c->self)));
}

PyObject *hp_client_rows(const heapd_client_info *rows, size_t n)
{
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++)
		hp_list_put(&list, i, client_row(&rows[i]));
	return list;
}

PyObject *hp_retained(uint64_t objects, uint64_t bytes)
{
	return hp_make("Retained", Py_BuildValue("(KK)", (unsigned long long)objects, (unsigned long long)bytes));
}

PyObject *hp_value(hp_conn *c, const struct hp_want *w, const heapd_reply *r)
{
	switch ((enum hp_kind)w->kind) {
	case HP_VIEW:
		return hp_view_new(c, w->ref, r->data, r->len);
	case HP_REF:
	case HP_ROOT_GET:
		return ref_or_none(r->ref);
	case HP_DATA:
		return PyBytes_FromStringAndSize(r->data, (Py_ssize_t)r->len);
	case HP_STATS:
		return hp_stats(r->stats);
	case HP_UIDS:
		return hp_uid_rows(r->uids, r->nuids);
	case HP_INFO:
		return hp_object_info(r->info);
	case HP_ROOT_INFO:
		return hp_root_info(w->arg, r->root_uids[0], r->root_gids[0], r->root_modes[0], r->info);
	case HP_SCAN:
		return scan_value(r);
	case HP_CLIENTS:
		return hp_client_rows(r->clients, r->nclients);
	case HP_RETAINED:
		return hp_retained(r->objects, r->bytes);
	case HP_NONE:
	case HP_CAS:
		break;
	}
	Py_RETURN_NONE;
}

/* exc.was = was (None for 0): what a compare-and-swap found. */
static PyObject *with_was(PyObject *exc, heapd_ref was)
{
	PyObject *v = exc ? ref_or_none(was) : NULL;
	if (!v || PyObject_SetAttrString(exc, "was", v) < 0)
		Py_CLEAR(exc);
	Py_XDECREF(v);
	return exc;
}

PyObject *hp_reply_error(const struct hp_want *w, int rc, const heapd_reply *r, const char *msg)
{
	PyObject *exc = hp_error(rc, r->error && r->error[0] ? r->error : msg);
	if (rc == HEAPD_ECONFLICT && w->kind == HP_CAS)
		return with_was(exc, r->ref);
	return exc;
}

PyObject *hp_raise_was(const struct hp_res *res, heapd_ref was)
{
	if (res->rc != HEAPD_ECONFLICT)
		return hp_raise(res);
	PyObject *exc = with_was(hp_error(res->rc, res->msg), was);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

void hp_want_set(struct hp_want *w, enum hp_kind kind, PyObject *arg)
{
	w->kind = (unsigned char)kind;
	w->arg = Py_XNewRef(arg);
	w->ref = 0;
}

void hp_want_clear(struct hp_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		Py_CLEAR(w[i].arg);
}

/* ---- the module ---- */

static PyObject *mod_register(PyObject *self, PyObject *kw)
{
	(void)self;
	if (!PyDict_Check(kw)) {
		PyErr_SetString(PyExc_TypeError, "_register takes a dict");
		return NULL;
	}
	Py_XSETREF(registry, PyDict_Copy(kw));
	if (!registry)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *mod_strerror(PyObject *self, PyObject *arg)
{
	(void)self;
	long code = PyLong_AsLong(arg);
	if (code == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(heapd_strerror((int)code));
}

static PyMethodDef mod_methods[] = {
	{"_register", mod_register, METH_O, "Hands over the package's exception classes and dataclasses."},
	{"strerror", mod_strerror, METH_O, "strerror(code) -> str: heapd_strerror()."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef mod_def = {
	PyModuleDef_HEAD_INIT, "heapd._heapd", "The CPython binding of libheapd; use the package heapd.", -1,
	mod_methods, NULL, NULL, NULL, NULL,
};

/* Appends row (a new reference, or NULL after an error) to list; on
 * failure list is dropped too. */
static int append_row(PyObject *list, PyObject *row)
{
	int err = row ? PyList_Append(list, row) : -1;
	Py_XDECREF(row);
	if (err < 0)
		Py_DECREF(list);
	return err;
}

/* ERRORS: (name, code, message) for each row of HEAPD_ERRORS. */
static PyObject *error_table(void)
{
	PyObject *list = PyList_New(0);
	if (!list)
		return NULL;
#define HP_ERR_ROW(name, value, ...)                                                                 \
	if (append_row(list, Py_BuildValue("(sis)", "HEAPD_" #name, value, heapd_strerror(value))) < 0) \
		return NULL;
	HEAPD_ERRORS(HP_ERR_ROW, HP_ERR_ROW)
#undef HP_ERR_ROW
	return list;
}

/* STATS: (name, kind, help) for each row of HEAPD_STATS, in its order. */
static PyObject *stats_table(void)
{
	PyObject *list = PyList_New(0);
	if (!list)
		return NULL;
#define X(name, kind, who, field, section, metric, label, type, help)                                \
	if (append_row(list, Py_BuildValue("(sss)", #name, #kind, (help) ? (const char *)(help) : "")) < 0) \
		return NULL;
	HEAPD_STATS(X)
#undef X
	return list;
}

static int add_table(PyObject *m, const char *name, PyObject *list)
{
	if (!list)
		return -1;
	PyObject *t = PyList_AsTuple(list);
	Py_DECREF(list);
	if (!t || PyModule_AddObject(m, name, t) < 0) {
		Py_XDECREF(t);
		return -1;
	}
	return 0;
}

PyMODINIT_FUNC PyInit__heapd(void)
{
	PyObject *m = PyModule_Create(&mod_def);
	if (!m)
		return NULL;
	if (add_table(m, "ERRORS", error_table()) < 0 || add_table(m, "STATS", stats_table()) < 0 ||
	    PyModule_AddStringConstant(m, "DEFAULT_SOCKET", HEAPD_DEFAULT_SOCKET) < 0 ||
	    hp_conn_ready(m) < 0 || hp_pipe_ready(m) < 0 || hp_batch_ready(m) < 0 || hp_view_ready(m) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
