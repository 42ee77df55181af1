/*
 * introspect.c - the introspection calls of libheapd, blocking and
 * pipelined: object_info, root_info, root_scan, client_list, client_kill
 * (docs/protocol.md, Introspection). The batch and async forms are in
 * batch.c and async.c, as every operation's.
 *
 * What a call returns to keep (root_scan's roots, client_list's rows) is
 * copied out of the reply into one malloc'd block, freed by one call.
 */
#include <stdlib.h>
#include <string.h>

#include "call.h"

int heapd_object_info(heapd *h, heapd_ref obj, struct heapd_object_info *out)
{
	if (!h || !out)
		return hcall_null_arg(h, __func__, "out");
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_object_info(&w, obj);
	int err = hcall(h, &w, &r, &raw);
	if (!err)
		*out = *r.info;
	return err;
}

int heapd_root_stat(heapd *h, const char *name, heapd_root_info *root, struct heapd_object_info *obj)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_root_info_req(&w, name);
	int err = hcall(h, &w, &r, &raw);
	if (err)
		return err;
	if (root)
		*root = (heapd_root_info){.uid = r.root_uids[0], .gid = r.root_gids[0], .mode = r.root_modes[0]};
	if (obj)
		*obj = *r.info;
	return 0;
}

int heapd_root_scan(heapd *h, const char *pattern, uint64_t cursor, uint32_t count, heapd_root_info **roots,
		    size_t *n, uint64_t *next)
{
	if (!h || !roots || !next)
		return hcall_null_arg(h, __func__, h && roots ? "next" : "roots");
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_root_scan(&w, pattern, cursor, count);
	int err = hcall(h, &w, &r, &raw);
	if (err)
		return err;
	heapd_root_info *v = wire_root_info(raw->roots);
	if (!v)
		return hcall_error(h, HEAPD_ENOBUFS, "out of memory");
	*roots = v;
	*next = r.cursor;
	if (n)
		*n = r.nnames;
	return 0;
}

int heapd_client_list(heapd *h, heapd_client_info **rows, size_t *count, int *truncated)
{
	if (!h || !rows)
		return hcall_null_arg(h, __func__, "rows");
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_op(&w, HEAPD__REQUEST__OP_CLIENT_LIST);
	int err = hcall(h, &w, &r, &raw);
	if (err)
		return err;
	heapd_client_info *v = malloc((r.nclients ? r.nclients : 1) * sizeof *v);
	if (!v)
		return hcall_error(h, HEAPD_ENOBUFS, "out of memory");
	if (r.nclients)
		memcpy(v, r.clients, r.nclients * sizeof *v);
	*rows = v;
	if (count)
		*count = r.nclients;
	if (truncated)
		*truncated = r.truncated;
	return 0;
}

void heapd_free_client_list(heapd_client_info *rows)
{
	free(rows);
}

int heapd_client_kill(heapd *h, uint64_t id)
{
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_client_kill(&w, id);
	return hcall(h, &w, &r, &raw);
}

/* ---- pipelined ---- */

int heapd_append_object_info(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_object_info(&w, obj);
	return hcall_queue(h, &w);
}

int heapd_append_root_info(heapd *h, const char *name)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_info_req(&w, name);
	return hcall_queue(h, &w);
}

int heapd_append_root_scan(heapd *h, const char *pattern, uint64_t cursor, uint32_t count)
{
	struct wire_req w;
	wire_root_scan(&w, pattern, cursor, count);
	return hcall_queue(h, &w);
}

int heapd_append_client_list(heapd *h)
{
	struct wire_req w;
	wire_op(&w, HEAPD__REQUEST__OP_CLIENT_LIST);
	return hcall_queue(h, &w);
}

int heapd_append_client_kill(heapd *h, uint64_t id)
{
	struct wire_req w;
	wire_client_kill(&w, id);
	return hcall_queue(h, &w);
}
