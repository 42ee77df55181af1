/*
 * introspect.c - Connection's calls that look at the heap and its
 * clients (object_info, root_info, root_scan, retained, root_retained,
 * clients, client_kill) and
 * its compare-and-swaps (cas_ref, root_cas); conn.c lists them in the
 * type's methods.
 *
 * Each is as conn.c's calls are: arguments checked with the GIL held,
 * one libheapd call under HP_CALL, its outcome made into a value or an
 * exception; what libheapd allocated for the reply is freed before
 * returning. A compare-and-swap that finds another ref raises
 * heapd.Conflict with .was, the ref found (None for an empty slot or an
 * absent root), held by nothing of this call: it stays only while
 * something else keeps it.
 */
#include "heapdpy.h"

PyObject *hp_conn_object_info(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	struct heapd_object_info info;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_object_info(c->h, ref, &info));
	if (res.rc < 0)
		return hp_raise(&res);
	return hp_object_info(&info);
}

PyObject *hp_conn_root_info(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	const char *name;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	heapd_root_info root;
	struct heapd_object_info info;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_stat(c->h, name, &root, &info));
	if (res.rc < 0)
		return hp_raise(&res);
	return hp_root_info(arg, root.uid, root.gid, root.mode, &info);
}

PyObject *hp_conn_retained(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	heapd_ref ref;
	uint64_t objects = 0, bytes = 0;
	if (hp_ref(arg, "ref", &ref) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_retained(c->h, ref, &objects, &bytes));
	if (res.rc < 0)
		return hp_raise(&res);
	return hp_retained(objects, bytes);
}

PyObject *hp_conn_root_retained(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	const char *name;
	uint64_t objects = 0, bytes = 0;
	if (hp_name(arg, "name", &name) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_retained(c->h, name, &objects, &bytes));
	if (res.rc < 0)
		return hp_raise(&res);
	return hp_retained(objects, bytes);
}

/* (next_cursor, [RootInfo]) */
PyObject *hp_conn_root_scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_scan", 0, "pattern", "cursor", "count");
	hp_conn *c = (hp_conn *)self;
	const char *pattern = NULL;
	uint64_t cursor = 0, next = 0;
	uint32_t count = 0;
	if ((a[0] && a[0] != Py_None && hp_name(a[0], "pattern", &pattern) < 0) ||
	    (a[1] && hp_u64(a[1], "cursor", &cursor) < 0) || (a[2] && hp_u32(a[2], "count", &count) < 0))
		return NULL;
	heapd_root_info *roots = NULL;
	size_t n = 0;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_scan(c->h, pattern, cursor, count, &roots, &n, &next));
	if (res.rc < 0)
		return hp_raise(&res);
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list && i < n; i++)
		hp_list_put(&list, i, hp_root_row(roots[i].name, roots[i].uid, roots[i].gid, roots[i].mode));
	heapd_free_root_info(roots);
	if (!list)
		return NULL;
	return Py_BuildValue("(KN)", (unsigned long long)next, list);
}

/* (rows, truncated) */
PyObject *hp_conn_clients(PyObject *self, PyObject *unused)
{
	(void)unused;
	hp_conn *c = (hp_conn *)self;
	heapd_client_info *rows = NULL;
	size_t n = 0;
	int truncated = 0;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_client_list(c->h, &rows, &n, &truncated));
	if (res.rc < 0)
		return hp_raise(&res);
	PyObject *list = hp_client_rows(rows, n);
	heapd_free_client_list(rows);
	if (!list)
		return NULL;
	return Py_BuildValue("(NO)", list, truncated ? Py_True : Py_False);
}

PyObject *hp_conn_client_kill(PyObject *self, PyObject *arg)
{
	hp_conn *c = (hp_conn *)self;
	uint64_t id;
	if (hp_u64(arg, "id", &id) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_client_kill(c->h, id));
	if (res.rc < 0)
		return hp_raise(&res);
	Py_RETURN_NONE;
}

PyObject *hp_conn_cas_ref(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("cas_ref", 4, "obj", "slot", "expected", "target");
	hp_conn *c = (hp_conn *)self;
	heapd_ref obj, expected, target, was = 0;
	uint32_t slot;
	if (hp_ref(a[0], "obj", &obj) < 0 || hp_u32(a[1], "slot", &slot) < 0 ||
	    hp_ref(a[2], "expected", &expected) < 0 || hp_ref(a[3], "target", &target) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_cas_ref(c->h, obj, slot, expected, target, &was));
	if (res.rc < 0)
		return hp_raise_was(&res, was);
	Py_RETURN_NONE;
}

PyObject *hp_conn_root_cas(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	HP_ARGS("root_cas", 3, "name", "expected", "target");
	hp_conn *c = (hp_conn *)self;
	const char *name;
	heapd_ref expected, target, was = 0;
	if (hp_name(a[0], "name", &name) < 0 || hp_ref(a[1], "expected", &expected) < 0 ||
	    hp_ref(a[2], "target", &target) < 0)
		return NULL;
	struct hp_res res;
	HP_CALL(c, &res, rc = heapd_root_cas(c->h, name, expected, target, &was));
	if (res.rc < 0)
		return hp_raise_was(&res, was);
	Py_RETURN_NONE;
}
