/*
 * scratch.h - memory for one message; see scratch.c.
 */
#ifndef HEAPD_SCRATCH_H
#define HEAPD_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct big;
struct scratch {
	uint8_t *base;
	size_t used;
	struct big *bigs;
	ProtobufCAllocator pb;  /* for protobuf-c's unpack: frees are no-ops */
	size_t pb_limit;        /* most pb may take between resets; 0: no limit */
	size_t pb_taken;        /* what it took since the reset, with overheads */
	int pb_over;            /* it refused an allocation since the reset */
};

void scratch_init(struct scratch *sc);
/* n bytes, 16-byte aligned, valid until scratch_reset(); NULL if out of memory. */
void *scratch_alloc(struct scratch *sc, size_t n);
void scratch_reset(struct scratch *sc);
/* Exchanges what a and b hold: a message that outlives its turn (a
 * suspended batch) keeps its memory while the owner goes on with another. */
void scratch_swap(struct scratch *a, struct scratch *b);
void scratch_free(struct scratch *sc);

#endif
