/*
 * fuzzutil.h - what the fuzz targets, their replay driver and the traffic
 * recorder share: the dispatch target's input format and its ref aliases.
 *
 * Input of fuzz_dispatch: records, each a 4-byte big-endian header H,
 *   H <= FUZZ_MAX_FRAME      a frame: H bytes of body follow (fewer at the
 *                            end of the input: a frame cut short);
 *   H >= FUZZ_CTL_BASE       a control record, no body (fuzz_ctl);
 *   otherwise                a header over max_frame_size, sent alone.
 * So a byte stream a client sent on one connection is a valid input as it
 * is, and tests/fuzz/corpus/dispatch holds exactly that (record.c).
 *
 * Ref aliases. Refs are random (a 32-bit tag in the high half, never 0), so
 * no input could name an object by value. A ref field whose value v has a
 * zero high half, which no real ref has, is an alias: with n refs returned
 * so far in the input (every nonzero ref in a reply, in reply order,
 * repeats included), v names the ((v - 1) mod n)-th, counting from 0.
 * 0 stays null, and larger values are sent as they are (forged refs). The
 * recorder writes each ref it saw returned as its alias, the 1-based index
 * of its first return.
 */
#ifndef HEAPD_FUZZUTIL_H
#define HEAPD_FUZZUTIL_H

#include <stdint.h>

#include "heapd.pb-c.h"

/* The largest frame the dispatch target's daemon accepts. */
#define FUZZ_MAX_FRAME (1u << 20)
#define FUZZ_SESSIONS 3u

/* Control records: the low byte of H >= FUZZ_CTL_BASE says which. */
#define FUZZ_CTL_BASE 0xffffff00u
enum fuzz_ctl {
	FUZZ_CTL_HANGUP = 0xff,   /* the current connection closes (EOF) */
	FUZZ_CTL_PIPELINE = 0xfe, /* toggles pipelining: frames gather and go
	                           * in one write at the next control record */
	/* anything lower: switch to connection (low byte % FUZZ_SESSIONS),
	 * opened (and said nothing yet) if it is not open */
};

static inline uint32_t fuzz_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void fuzz_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline int fuzz_is_alias(uint64_t v)
{
	return v != 0 && v <= UINT32_MAX;
}

/* Replaces every ref field of req by map(arg, value) (0 excluded); returns
 * nonzero if any changed. */
static inline int fuzz_map_refs(Heapd__Request *req, uint64_t (*map)(void *arg, uint64_t ref), void *arg)
{
	uint64_t *f[2] = {NULL, NULL};
	switch (req->op_case) {
	case HEAPD__REQUEST__OP_ALLOC: f[0] = &req->alloc->into_obj; break;
	case HEAPD__REQUEST__OP_WRITE: f[0] = &req->write->obj; break;
	case HEAPD__REQUEST__OP_READ: f[0] = &req->read->obj; break;
	case HEAPD__REQUEST__OP_SET_REF: f[0] = &req->set_ref->obj, f[1] = &req->set_ref->target; break;
	case HEAPD__REQUEST__OP_GET_REF: f[0] = &req->get_ref->obj; break;
	case HEAPD__REQUEST__OP_RELEASE: f[0] = &req->release->obj; break;
	case HEAPD__REQUEST__OP_ROOT_SET: f[0] = &req->root_set->obj; break;
	default: break;
	}
	int changed = 0;
	for (int i = 0; i < 2; i++) {
		if (!f[i] || !*f[i])
			continue;
		uint64_t v = map(arg, *f[i]);
		changed |= v != *f[i];
		*f[i] = v;
	}
	return changed;
}

#endif
