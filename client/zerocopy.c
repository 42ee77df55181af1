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
 *
 * heapd_view_release does not wait for its reply, as Plasma's Release
 * does not, and its request goes out with the connection's next one, in
 * one write (hcall_release): "view, read, release" in a loop is then one
 * round trip and one wake-up of the daemon, as a read is (sending each
 * release at once cost a second wake-up: 46 us a view of 64 bytes, where
 * a read took 23). What waits is bounded: a release that would leave
 * views of more than HCALL_RELEASE_BYTES unsent goes at once, with the
 * others, so at most 1 MiB of released views stays pinned in the daemon
 * until the next call, heapd_flush or heapd_close. The connection's views
 * are counted (view.h), so a release of a view it does not have is
 * refused here, as the daemon would refuse it, and the others cannot fail
 * at the daemon: the reply, taken later, only confirms it (a refusal
 * there means the counts are wrong: HEAPD_EPROTO).
 */
#include "call.h"
#include "conn.h"

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
	int err = hcall_idle(h);
	if (err)
		return err;
	if (!vmap_views(&h->core.vmap, obj))
		return hcall_error(h, HEAPD_ENOTFOUND, "view_release: this connection has no view of that object");
	struct wire_req w;
	wire_view_release(&w, obj);
	return hcall_release(h, &w, vmap_view_len(&h->core.vmap, obj));
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
