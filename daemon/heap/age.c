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
 * (its tag is a capability), so a small object's birth is a 16-bit stamp,
 * the low bits of h->cycle, in a side array of its span, one per slot
 * (births[], 2 bytes per slot, malloc'd when the span is made and freed
 * with it, counted in gc_sys); a large object's is u.obj.birth in its
 * span. The allocator writes it with one store; a slot's stamp is
 * meaningless while the slot is free.
 *
 * Wrap. Invariant: for every live small object, (uint16_t)(h->cycle -
 * stamp) is its true age's c - b when that is at most 65535, and else at
 * least AGE_MAX + 1 (after the marking adjustment, at least AGE_MAX). The
 * sweeper keeps it: every span is swept once per cycle, with h->cycle the
 * cycle just ended; when the span's stamps were last clamped (u.obj.birth)
 * AGE_MAX + 1 or more cycles ago, births_clamp() moves the stamp of every
 * object older than AGE_MAX to h->cycle - AGE_MAX. So between clamps a
 * stamp falls at most AGE_MAX + 1 + AGE_MAX = 65535 behind, never wraps,
 * and the work is O(slots) once per 32768 cycles per span. Large objects
 * are clamped the same way, O(1) per sweep. Ages are reported up to
 * AGE_MAX: exactly min(age, 32767).
 *
 * A loaded object (load.c) is made by heap_alloc like any other: its age
 * starts at 0, as snapshots do not record ages.
 */
#include "internal.h"

int births_alloc(heap *h, struct span *s)
{
	size_t bytes = (size_t)s->nelems * sizeof *s->u.obj.births;
	s->u.obj.births = malloc(bytes);
	if (!s->u.obj.births)
		return HEAP_ENOMEM;
	s->u.obj.birth = (uint32_t)h->cycle;
	h->births_bytes += bytes;
	return 0;
}

void births_free(heap *h, struct span *s)
{
	if (!spc_sizeclass(s->spanclass))
		return;
	h->births_bytes -= (size_t)s->nelems * sizeof *s->u.obj.births;
	free(s->u.obj.births);
	s->u.obj.births = NULL;
}

void births_destroy(heap *h)
{
	for (size_t p = 0; p < h->grown; p++) {
		struct span *s = span_of_page(h, p);
		if (s && s->start == p && s->state == SPAN_OBJ)
			births_free(h, s);
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
		d = (birth_t)((birth_t)h->cycle - s->u.obj.births[idx]);
	} else {
		d = (uint32_t)h->cycle - s->u.obj.birth;
	}
	if (d && h->phase == GC_MARK)
		d--;
	return d < AGE_MAX ? d : AGE_MAX;
}
