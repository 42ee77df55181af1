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
 * Identities. The switch record FUZZ_CTL_BASE + k names connection
 * k % FUZZ_SESSIONS and identity (k / FUZZ_SESSIONS) % FUZZ_IDENTITIES
 * (fuzzperm.c: admin, two users, read-only), which the connection takes
 * when it opens next (its first frame after being closed, or ever); an
 * open connection keeps the one it has. Every connection not named so is
 * identity 0, an admin, as every recorded seed is.
 *
 * Ref aliases. Refs are random (a 32-bit tag in the high half, never 0), so
 * no input could name an object by value. A ref field whose value v has a
 * zero high half, which no real ref has, is an alias: with n refs returned
 * so far in the input (every nonzero ref in a reply, in reply order,
 * repeats included), v names the ((v - 1) mod n)-th, counting from 0.
 * 0 stays null, and larger values are sent as they are (forged refs). The
 * recorder writes each ref it saw returned as its alias, the 1-based index
 * of its first return. The literal refs of a batch's ops are aliases too;
 * their *_from fields, references within the batch, are not refs.
 */
#ifndef HEAPD_FUZZUTIL_H
#define HEAPD_FUZZUTIL_H

#include <stdint.h>

#include "heapd.pb-c.h"
#include "ops.h"
#include "reffields.h"

/* The largest frame the dispatch target's daemon accepts. */
#define FUZZ_MAX_FRAME (1u << 20)
#define FUZZ_SESSIONS 3u
#define FUZZ_IDENTITIES 4u

/* Control records: the low byte of H >= FUZZ_CTL_BASE says which. */
#define FUZZ_CTL_BASE 0xffffff00u
enum fuzz_ctl {
	FUZZ_CTL_HANGUP = 0xff,   /* the current connection closes (EOF) */
	FUZZ_CTL_PIPELINE = 0xfe, /* toggles pipelining: frames gather and go
	                           * in one write at the next control record */
	/* anything lower, k: switch to connection k % FUZZ_SESSIONS, whose
	 * identity is (k / FUZZ_SESSIONS) % FUZZ_IDENTITIES when it next opens */
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

/* op, a batch's, as the Request it mirrors (BatchOp's field numbers are
 * the Request's): 0, or -1 when op is not a batch op. */
static inline int fuzz_batch_op(const Heapd__BatchOp *op, Heapd__Request *q)
{
	*q = (Heapd__Request)HEAPD__REQUEST__INIT;
	switch (op->op_case) {
#define X(name, NAME, Type, where, ...) \
	HEAPD_IF_BATCH(where, case HEAPD__BATCH_OP__OP_##NAME: q->name = op->name; break;)
		HEAPD_OPS(X)
#undef X
	default:
		return -1;
	}
	q->op_case = (Heapd__Request__OpCase)op->op_case;
	return 0;
}

/* The ref fields of req's operation (HEAPD_OPS' refs), each with its
 * *_from twin (a batch op's reference to an earlier op's result); returns
 * how many. */
static inline int fuzz_ref_fields(Heapd__Request *req, uint64_t *ref[HEAPD_MAX_REFS], uint32_t *from[HEAPD_MAX_REFS])
{
	struct heapd_ref_field f[HEAPD_MAX_REFS];
	int n = heapd_ref_fields(req, f);
	for (int i = 0; i < n; i++)
		ref[i] = f[i].ref, from[i] = f[i].from;
	return n;
}

static inline int fuzz_map_op_refs(Heapd__Request *req, uint64_t (*map)(void *arg, uint64_t ref), void *arg)
{
	uint64_t *ref[HEAPD_MAX_REFS];
	uint32_t *from[HEAPD_MAX_REFS];
	int n = fuzz_ref_fields(req, ref, from), changed = 0;
	for (int i = 0; i < n; i++) {
		if (!*ref[i])
			continue;
		uint64_t v = map(arg, *ref[i]);
		changed |= v != *ref[i];
		*ref[i] = v;
	}
	return changed;
}

/* Replaces every ref field of req, and of each op of a batch, by
 * map(arg, value) (0 excluded); returns nonzero if any changed. */
static inline int fuzz_map_refs(Heapd__Request *req, uint64_t (*map)(void *arg, uint64_t ref), void *arg)
{
	if (req->op_case != HEAPD__REQUEST__OP_BATCH)
		return fuzz_map_op_refs(req, map, arg);
	int changed = 0;
	for (size_t i = 0; i < req->batch->n_ops; i++) {
		Heapd__Request q;
		if (fuzz_batch_op(req->batch->ops[i], &q) == 0)
			changed |= fuzz_map_op_refs(&q, map, arg);
	}
	return changed;
}

#endif
