/*
 * batch.h - what libheapd's cores need of a heapd_batch (batch.c): the
 * request it makes and a place for its results. Prefix hbatch_, apart
 * from the daemon's batch runner (daemon/batch.c, batch_).
 *
 * Internal to the library. A batch's request points into the batch: it is
 * framed (wire_append) before the batch changes. Its reply goes back to
 * the batch with the number of ops the request had, so ops added since
 * (heapd_append_batch, then more ops) do not confuse it.
 */
#ifndef HEAPD_BATCH_H
#define HEAPD_BATCH_H

#include <stdint.h>

#include "heapd.h"
#include "view.h"
#include "wire.h"

/* Fills w with b's ops as one request (id 0). */
void hbatch_request(heapd_batch *b, struct wire_req *w);
/* Stores in b the results of resp, the reply to request id of nops ops,
 * a view op's bytes found in m (vmap_view), and counts in m the views its
 * ops made and ended. Returns 0; HEAPD_EPROTO, with *bad saying what is
 * wrong, when resp is not a reply to such a batch (the stream is out of
 * step) or lies about the arena; HEAPD_ENOBUFS with *bad when the view
 * counts could not grow (the connection's, fatal as a lie is); or
 * HEAPD_ENOBUFS with *bad NULL when the results could not be stored (the
 * batch's alone). */
int hbatch_take(heapd_batch *b, uint64_t id, uint32_t nops, const Heapd__Response *resp, struct vmap *m,
		const char **bad);
/* The reply to request id of nops ops will never come (or the request
 * was never sent, id 0): every op has code. */
void hbatch_lost(heapd_batch *b, uint64_t id, uint32_t nops, int code);

#endif
