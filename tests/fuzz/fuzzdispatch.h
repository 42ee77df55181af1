/*
 * fuzzdispatch.h - the four parts of the dispatch target: the harness
 * (fuzz_dispatch.c: input, fake transport, the loop; replies.c: each
 * reply checked, the model of holds and views; fuzzharness.h), the
 * reference model every reply is checked against (model.c), the
 * permission model (fuzzperm.c: who each connection is, and what the
 * rules let it do), and the heap walk run at the end of each input
 * (heapwalk.c).
 */
#ifndef HEAPD_FUZZDISPATCH_H
#define HEAPD_FUZZDISPATCH_H

#include "fuzzperm.h"
#include "fuzzutil.h"
#include "server.h"

/* fuzz_dispatch.c */
/* Reports a broken invariant and aborts, which libFuzzer records as a crash. */
void fz_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* p grown to hold need elements of elem bytes (*cap counts elements). */
void *fz_grow(void *p, size_t *cap, size_t need, size_t elem);
/* Holds and views in the model, counting repeats, over every open
 * connection. */
uint64_t fz_model_holds(void);
/* Calls fn on each ref some open connection holds or has a view of, per
 * the model. */
void fz_each_held(void (*fn)(heap_ref ref));
/* Every nonzero ref returned in this input, in reply order. */
const heap_ref *fz_returned(size_t *n);
/* Holds and views in the model over the open connections of uid. */
uint64_t fz_uid_holds(uint32_t uid);
/* The daemon's configuration, and its heap. */
const struct config *fz_config(void);
heap *fz_heap(void);

/* heapwalk.c */
/* Where r is in the open-addressing table t of cap entries (a power of 2,
 * 0 = empty), or where it would go. */
heap_ref *fz_probe(heap_ref *t, size_t cap, heap_ref r);
/* Records everything reachable from holds and named roots, checking that
 * each object and each of its slots reads. */
void fz_walk_snapshot(heap *h);
/* After a full collection: every recorded object reads as recorded. */
void fz_walk_verify(heap *h);
/* With every connection gone: deletes every root, collects, and checks
 * that no object, hold or root is left and that every ref is stale. */
void fz_walk_final(heap *h);

/* model.c */
/* Checks the reply r to request q (a batch op when in_batch), sent by
 * who, against the model and the rules (fz_perm_check), and updates it. */
void fz_model_reply(const struct fz_who *who, const Heapd__Request *q, const Heapd__Response *r, int in_batch);
/* The meta of the modelled root named so: 1, or 0 if the model has none. */
int fz_model_root_meta(const ProtobufCBinaryData *name, struct heap_root_meta *m);
/* What the model knows of r as a handle that cannot change its object:
 * a read-only handle, or (or_sealed) any handle of a sealed object. */
enum fz_ro {
	FZ_RO_NOT,   /* unknown, one that can, or refused as stale once */
	FZ_RO_LIVE,  /* it cannot, and the model says the object is reachable */
	FZ_RO_MAYBE, /* it cannot, and the object may have been collected */
};
/* ...and, unless FZ_RO_NOT, its object's slots in *nrefs. */
enum fz_ro fz_model_ro(heap_ref r, int or_sealed, uint32_t *nrefs);
/* At the end of the input: every object the model says is reachable has
 * the data and slots it says. */
void fz_model_verify(heap *h);
/* Forgets everything, for the next input. */
void fz_model_reset(void);

#endif
