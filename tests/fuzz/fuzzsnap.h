/*
 * fuzzsnap.h - what the snapshot target (fuzz_snapshot.c), its reference
 * model of the engine's stream (snapmodel.c) and its seed writer
 * (snapseeds.c) share: the input format and the heap it loads into.
 *
 * Input of fuzz_snapshot: one byte saying how, then the bytes.
 *   bit 0     0: the bytes are a snapshot file, loaded as they are;
 *             1: they are the engine's stream, which the target frames
 *             into a valid file (header, blocks, end block) first;
 *   bits 1-2  how the in-memory file is read (enum snapfz_reads);
 *   bits 3-5  stream mode: where blocks are cut (snapfz_cut), 0 as
 *             snap_write cuts them (SNAP_BLOCK_MAX), 1 every byte, k > 1
 *             at random lengths of 1 to 4^(k-1) bytes;
 *   bit 6     a progress callback is given (its calls are checked);
 *   bit 7     stream mode: the framing lies, the header's object count or
 *             (at random) the end block's stream length being one too
 *             many, with hashes that match: the load must fail.
 * The random lengths come from a generator seeded with the byte alone,
 * so a mutation of the bytes leaves the cuts where they were.
 */
#ifndef HEAPD_FUZZSNAP_H
#define HEAPD_FUZZSNAP_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

/* A broken invariant: says which on stderr and aborts, for libFuzzer or
 * the replay test to report (fuzz_snapshot.c; snapmodel.c uses it too). */
void snapfz_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define SNAPFZ_STREAM 0x01u
#define SNAPFZ_READS_SHIFT 1
#define SNAPFZ_READS_MASK 0x06u
#define SNAPFZ_CUT_SHIFT 3
#define SNAPFZ_CUT_MASK 0x38u
#define SNAPFZ_PROGRESS 0x40u
#define SNAPFZ_LIE 0x80u

enum snapfz_reads {
	SNAPFZ_READS_ALL,    /* every read gets all it asks for, to the end */
	SNAPFZ_READS_BYTE,   /* one byte a read */
	SNAPFZ_READS_SHORT,  /* random short reads */
	SNAPFZ_READS_FAIL,   /* random short reads, and EIO from a random
	                      * offset on (half the time past the end: none) */
};

/* The heap an input loads into: small enough that no input makes the
 * fuzzer allocate much, with max_object and max_roots within an input's
 * reach (an object of 8 + 8 * 8200 bytes takes 8.2 KiB of stream, all
 * null slots, or 700 bytes cut into blocks of one: the loader bounds the
 * counts by the file's size; 257 roots take 2 KiB) and large objects
 * (> 32 KiB) possible; no mark thread. */
#define SNAPFZ_MAX_HEAP ((size_t)64 << 20)
#define SNAPFZ_MAX_OBJECT ((size_t)64 << 10)
#define SNAPFZ_MAX_ROOTS 256u

static inline void snapfz_config(struct heap_config *cfg)
{
	heap_config_default(cfg);
	cfg->max_heap = SNAPFZ_MAX_HEAP;
	cfg->max_object = SNAPFZ_MAX_OBJECT;
	cfg->max_roots = SNAPFZ_MAX_ROOTS;
	cfg->mark_workers = 0;
}

/* The stream as the format (heap.h) says it is, parsed without the
 * engine: objects numbered 1..n, each with its slots' values (number << 1
 * | read-only, 0 for null) and a pointer to its data in the stream. */
struct sm_obj {
	uint32_t nrefs, nbytes;
	bool sealed;
	const uint8_t *data;
	uint64_t slot0;  /* its slots are slots[slot0 .. slot0 + nrefs) */
};
struct sm_root {
	const uint8_t *name;
	uint32_t len, uid, gid;
	uint16_t mode;
	uint64_t value;
};
struct sm_model {
	uint64_t n, nroots, nslots, nbytes;  /* the counts it begins with */
	struct sm_obj *obj;                  /* [1..n] */
	uint64_t *slots;
	struct sm_root *roots;
	uint64_t biggest;  /* the largest object, 8 + 8 * nrefs + nbytes */
	uint64_t total;    /* all objects' */
};

/* The four counts a stream begins with, as far as it has them (0 for
 * any missing or too long). */
void sm_counts(const uint8_t *s, size_t len, uint64_t out[4]);
/* Parses a stream of that format (heap.h): 0, or -1 with why (the first
 * fault found). *m is to be sm_free()d either way. */
int sm_parse(struct sm_model *m, const uint8_t *s, size_t len, unsigned format, char *why, size_t cap);
void sm_free(struct sm_model *m);
/* Checks that h holds m's graph, before and after a full collection;
 * abort()s with a message when it does not. */
void sm_check(heap *h, const struct sm_model *m);

#endif
