/*
 * zerocopy.c - the zero-copy calls of libheapd, blocking and pipelined:
 * seal, view, view_release (docs/protocol.md, Zero-copy). The batch and
 * async forms are in batch.c and async.c, as every operation's.
 *
 * The arena's mapping is the connection's (view.h), and core.c sends the
 * map_arena that makes it before the first view: heapd_view's first call
 * is [map_arena, view] in one write and one round trip, and the reply to
 * map_arena is taken on the way to the view's (heapd.c's next_reply).
 * A view's bytes are not copied: *data points into the mapping.
 */
#include "call.h"

int heapd_seal(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_seal(&w, obj);
	return hcall(h, &w, &r, &raw);
}

int heapd_view(heapd *h, heapd_ref obj, const void **data, size_t *len)
{
	if (!h || !data)
		return hcall_null_arg(h, __func__, "data");
	if (!len)
		return hcall_null_arg(h, __func__, "len");
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_view(&w, obj);
	int err = hcall(h, &w, &r, &raw);
	if (!err) {
		*data = r.data;
		*len = r.len;
	}
	return err;
}

int heapd_view_release(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	heapd_reply r;
	const Heapd__Response *raw;
	wire_view_release(&w, obj);
	return hcall(h, &w, &r, &raw);
}

int heapd_append_seal(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_seal(&w, obj);
	return hcall_queue(h, &w);
}

int heapd_append_view(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_view(&w, obj);
	return hcall_queue(h, &w);
}

int heapd_append_view_release(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_view_release(&w, obj);
	return hcall_queue(h, &w);
}
