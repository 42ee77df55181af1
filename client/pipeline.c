/*
 * pipeline.c - heapd_append_*: the blocking core's pipelined requests,
 * one per operation (docs/protocol.md). Each is queued as a one-at-a-time
 * call's would be (hcall_queue, heapd.c), and its reply is taken with
 * heapd_get_reply; heapd_append_batch, heapd_flush and heapd_get_reply
 * are heapd.c's, as is every rule of the pipeline (call.h).
 */
#include <stdio.h>

#include "call.h"

static int queue_op(heapd *h, Heapd__Request__OpCase op)
{
	struct wire_req w;
	wire_op(&w, op);
	return hcall_queue(h, &w);
}

/* fn's buffer what is NULL with len bytes to copy (len 0 needs none). */
static int null_buf(heapd *h, const char *fn, const char *what, uint32_t len)
{
	if (!h)
		return HEAPD_EINVAL;
	char msg[128];
	snprintf(msg, sizeof msg, "%s: %s is NULL with len %u", fn, what, len);
	return hcall_error(h, HEAPD_EINVAL, msg);
}

int heapd_append_ping(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_PING);
}

int heapd_append_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes)
{
	struct wire_req w;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return hcall_queue(h, &w);
}

int heapd_append_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			    const void *data, uint32_t len)
{
	if (!h || (!data && len))
		return null_buf(h, __func__, "data", len);
	struct wire_req w;
	wire_alloc(&w, obj, slot, nrefs, nbytes, data, len);
	return hcall_queue(h, &w);
}

int heapd_append_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	if (!h || (!buf && len))
		return null_buf(h, __func__, "buf", len);
	struct wire_req w;
	wire_write(&w, obj, off, buf, len);
	return hcall_queue(h, &w);
}

int heapd_append_read(heapd *h, heapd_ref obj, uint32_t off, uint32_t len)
{
	struct wire_req w;
	wire_read(&w, obj, off, len);
	return hcall_queue(h, &w);
}

int heapd_append_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	struct wire_req w;
	wire_set_ref(&w, obj, slot, target);
	return hcall_queue(h, &w);
}

int heapd_append_get_ref(heapd *h, heapd_ref obj, uint32_t slot)
{
	struct wire_req w;
	wire_get_ref(&w, obj, slot);
	return hcall_queue(h, &w);
}

int heapd_append_release(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_release(&w, obj);
	return hcall_queue(h, &w);
}

int heapd_append_root_set(heapd *h, const char *name, heapd_ref obj)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_set(&w, name, obj);
	return hcall_queue(h, &w);
}

int heapd_append_root_get(heapd *h, const char *name)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_get(&w, name);
	return hcall_queue(h, &w);
}

int heapd_append_root_chmod(heapd *h, const char *name, uint32_t mode)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_chmod(&w, name, mode);
	return hcall_queue(h, &w);
}

int heapd_append_root_chown(heapd *h, const char *name, uint32_t uid, uint32_t gid)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_chown(&w, name, uid, gid);
	return hcall_queue(h, &w);
}

int heapd_append_cas_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target)
{
	struct wire_req w;
	wire_cas_ref(&w, obj, slot, expected, target);
	return hcall_queue(h, &w);
}

int heapd_append_root_cas(heapd *h, const char *name, heapd_ref expected, heapd_ref target)
{
	if (!h || !name)
		return hcall_null_arg(h, __func__, "name");
	struct wire_req w;
	wire_root_cas(&w, name, expected, target);
	return hcall_queue(h, &w);
}

int heapd_append_gc(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_GC);
}

int heapd_append_free_os_memory(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_FREE_OS_MEMORY);
}

int heapd_append_get_stats(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_GET_STATS);
}

int heapd_append_uid_stats(heapd *h)
{
	return queue_op(h, HEAPD__REQUEST__OP_UID_STATS);
}

int heapd_append_retained(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_retained(&w, obj, NULL);
	return hcall_queue(h, &w);
}

int heapd_append_root_retained(heapd *h, const char *name)
{
	if (hcall_count_name_bad(h, __func__, name))
		return HEAPD_EINVAL;
	struct wire_req w;
	wire_retained(&w, 0, name);
	return hcall_queue(h, &w);
}
