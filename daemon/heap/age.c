/*
 * age.c - how many collections an object has survived.
 *
 * The age of an object is the number of collections whose marking began
 * after it was made and which ended with it live: an object made while a
 * cycle marks (allocated black) is not counted as surviving that cycle;
 * one made before the cycle started, during sweep termination included, is.
 * h->cycle counts the cycles whose marking has begun (mark_begin), so an
 * object made when h->cycle was b has, at h->cycle c, survived c - b
 * collections, one less while cycle c is still marking (if c > b).
 *
 * Where the birth cycle is kept. The 8-byte header has no room to spare
 * (its tag is a capability), so a small object's birth is an 8-bit stamp
 * (birth_t), the low bits of a cycle count, one per slot (births[]) where
 * its span's bitmaps are: a span of more than 64 objects has its stamps in
 * its tail, before the bitmaps (sizeclass.c leaves room: heap_inuse counts
 * them, with the bitmaps); one of at most 64, whose bitmaps are in its
 * descriptor, has its stamps in a per-page table beside the descriptors,
 * BIRTHS_PER_PAGE entries a page, committed and released with them
 * (counted in gc_sys). Either way they come and go with the span's pages,
 * so a heap that shrinks gives their memory back. A large object's birth
 * is u.obj.birth in its span, stored when it is made.
 *
 * Who writes a small object's stamp: the sweeper, not the allocator. Only
 * an object in its span's allocbits (it was live at the span's last sweep)
 * has a stamp; any other slot's is meaningless. Sweeping a span after
 * cycle c (h->cycle == c) finds the objects that survive their first
 * collection as markbits & ~allocbits, and stamps only those, a word at a
 * time: each was made since the span's last sweep, so in cycle c - 1
 * (before c's marking began) or in c (while c marked, allocated black).
 * Slots are allocated in increasing order between sweeps, so the first
 * slot allocated while c marked (mark_fi, noted by the allocator, reset
 * by each sweep) divides them: below it b = c - 1, else b = c. The
 * allocator writes nothing for ages but while marking, and the sweeper's
 * work is proportional to first-time survivors.
 *
 * An object not in allocbits, made since its span's last sweep, has no
 * stamp, and its age follows from the span's state. Swept this cycle
 * (s->sweepgen == h->sweepgen) after cycle c: the object was made while
 * h->cycle was c, or, once c + 1 marks, while it marks; 0 either way (the
 * marking adjustment). Not swept yet (h->phase is not GC_MARK: sweep
 * termination sweeps every span first): cycle c has ended, and the object
 * was made before its marking (1: below mark_fi) or during it (0).
 *
 * Wrap. Invariant: for every small object in its span's allocbits,
 * (birth_t)(h->cycle - stamp) is its true age's c - b when that is at most
 * 255, and else at least AGE_MAX + 1 (after the marking adjustment, at
 * least AGE_MAX). The sweeper keeps it: every span is swept once per
 * cycle, with h->cycle the cycle just ended; a new stamp is at most 1
 * behind; when the span's stamps were last clamped (u.obj.birth) AGE_MAX
 * + 1 or more cycles ago, births_clamp() moves the stamp of every object
 * older than AGE_MAX to h->cycle - AGE_MAX. So between clamps a stamp
 * falls at most AGE_MAX + 1 + AGE_MAX = 255 behind, never wraps, and the
 * work is O(slots) once per 128 cycles per span (a pass over the span's
 * stamps, as cheap as sweeping it). Large objects are clamped the
 * same way, O(1) per sweep. Ages are reported up to AGE_MAX: exactly
 * min(age, 127).
 *
 * Why 8 bits. With 16-bit stamps (birth_t uint16_t: ages up to 32767) a
 * span of 32-byte objects holds 239 instead of 254 of them (246 with 8
 * bits), and GCBench's heap on one CPU grew from 32 to 52 MiB, its time by
 * 15%; with 8-bit stamps its heap is as it was (docs/performance.md). The
 * type is the only thing to change for wider ones.
 *
 * Cost. The allocator's store of every stamp (this code's first version)
 * cost GCBench 2-6% of its time on one CPU (paired against main); stamping
 * first-time survivors at sweep, about ten instructions each (1.6% of
 * GCBench's, which keeps many objects through one collection), costs it
 * nothing measurable (paired ratios 0.999-1.008, docs/performance.md).
 *
 * A loaded object (load.c) is made by heap_alloc like any other: its age
 * starts at 0, as snapshots do not record ages.
 */
#include "internal.h"

void births_stamp(const heap *h, struct span *s, uint32_t words)
{
	birth_t now = (birth_t)h->cycle, before = (birth_t)(now - 1);
	birth_t *b = s->u.obj.births;
	const uint64_t *mark = s->markbits, *alloc = s->allocbits;
	uint32_t fi = s->mark_fi;  /* locals: a store through b may alias s */
	for (uint32_t i = 0; i < words; i++)
		for (uint64_t w = mark[i] & ~alloc[i]; w; w &= w - 1) {
			uint32_t idx = i * 64 + (uint32_t)__builtin_ctzll(w);
			b[idx] = idx < fi ? before : now;
		}
}

void births_clamp(const heap *h, struct span *s)
{
	uint32_t now = (uint32_t)h->cycle;
	if (!spc_sizeclass(s->spanclass)) {
		if (now - s->u.obj.birth > AGE_MAX)
			s->u.obj.birth = now - AGE_MAX;
		return;
	}
	if (now - s->u.obj.birth <= AGE_MAX)
		return;
	birth_t *b = s->u.obj.births, floor = (birth_t)(now - AGE_MAX);
	for (uint32_t i = 0; i < s->nelems; i++)
		if (bit_test(s->allocbits, i) && (birth_t)(now - b[i]) > AGE_MAX)
			b[i] = floor;
	s->u.obj.birth = now;
}

uint32_t obj_age(const heap *h, const struct obj *o)
{
	const struct span *s = o->s;
	uint32_t d;
	if (spc_sizeclass(s->spanclass)) {
		uint32_t idx = (uint32_t)(((size_t)(o->p - span_base(h, s)) * s->divmul) >> 32);
		if (!bit_test(s->allocbits, idx))
			return s->sweepgen == h->sweepgen ? 0 : idx < s->mark_fi;
		d = (birth_t)((birth_t)h->cycle - s->u.obj.births[idx]);
	} else {
		d = (uint32_t)h->cycle - s->u.obj.birth;
	}
	if (d && h->phase == GC_MARK)
		d--;
	return d < AGE_MAX ? d : AGE_MAX;
}
