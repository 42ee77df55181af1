/*
 * malloc.c - object allocation (Go's mallocgc).
 *
 * Small objects (<= 32 KiB with their header) come from the span cached for
 * their span class, found with Go's allocCache trick: alloccache holds the
 * inverted alloc bits from freeindex on, so the next free slot is one
 * count-trailing-zeros away. Objects without reference slots use "noscan"
 * span classes, which marking never has to look inside. Large objects get
 * a span of their own.
 *
 * Every object is zeroed (unless its memory is known fresh) and gets a new
 * random tag, different from the tag its slot last had, so a handle kept
 * from the slot's previous object cannot match. While marking, new objects
 * are allocated black (Go's gcmarknewobject): they survive the cycle.
 *
 * Allocation is the only place the mutator pays for collection: crossing
 * h->next_event (one compare on the fast path) starts a cycle or runs an
 * assist. The hold is added before that, so the object is rooted before
 * any collector work can run.
 */
#include <string.h>

#include "internal.h"

#define NOFREE UINT32_MAX

static inline uint32_t next_free_fast(struct span *s)
{
	uint64_t c = s->alloccache;
	if (!c)
		return NOFREE;
	unsigned bit = (unsigned)__builtin_ctzll(c);
	uint32_t r = s->freeindex + bit;
	if (r >= s->nelems)
		return NOFREE;
	uint32_t f = r + 1;
	if ((f & 63) == 0 && f != s->nelems)
		return NOFREE;
	s->alloccache = (c >> bit) >> 1;
	s->freeindex = f;
	s->allocount++;
	return r;
}

/* Go's nextFreeIndex: the next free slot at or after freeindex, or nelems. */
static uint32_t next_free_index(struct span *s)
{
	uint32_t fi = s->freeindex, n = s->nelems;
	if (fi >= n)
		return n;
	uint64_t c = s->alloccache;
	while (!c) {
		fi = (fi + 64) & ~63u;
		if (fi >= n) {
			s->freeindex = n;
			return n;
		}
		span_refill_cache(s, fi);
		c = s->alloccache;
	}
	unsigned bit = (unsigned)__builtin_ctzll(c);
	uint32_t r = fi + bit;
	if (r >= n) {
		s->freeindex = n;
		return n;
	}
	s->alloccache = (c >> bit) >> 1;
	fi = r + 1;
	if ((fi & 63) == 0 && fi != n)
		span_refill_cache(s, fi);
	s->freeindex = fi;
	s->allocount++;
	return r;
}

static uint8_t *alloc_small(heap *h, uint32_t size, int noscan, struct span **sp, uint32_t *idxp)
{
	unsigned spc = sc_of(size) << 1 | (unsigned)noscan;
	struct span *s = h->cache[spc];
	uint32_t idx = next_free_fast(s);
	if (idx == NOFREE) {
		idx = next_free_index(s);
		if (idx == s->nelems) {
			s = central_refill(h, spc);
			if (!s)
				return NULL;
			idx = next_free_index(s);
		}
	}
	*sp = s;
	*idxp = idx;
	return span_base(h, s) + (size_t)idx * s->elemsize;
}

static uint8_t *alloc_large(heap *h, size_t size, uint32_t nrefs, uint32_t nbytes, struct span **sp)
{
	sweep_proportional(h);
	struct span *s = pages_alloc(h, (size + PAGE_SIZE - 1) >> PAGE_SHIFT, 0);
	if (!s)
		return NULL;
	s->spanclass = nrefs == 0;  /* size class 0, noscan when it has no slots */
	s->elemsize = s->npages << PAGE_SHIFT;
	s->nelems = 1;
	s->freeindex = 1;
	s->allocount = 1;
	s->sweepgen = h->sweepgen;
	s->allocbits = &s->smallbits[0];
	s->markbits = &s->smallbits[1];
	s->u.large.nrefs = nrefs;
	s->u.large.nbytes = nbytes;
	h->nspans_obj++;
	list_push_head(&h->large[h->sweepgen / 2 % 2], &s->link);
	*sp = s;
	return span_base(h, s);
}

/* Zeroes [HDR_SIZE, size) of an object. Small objects get whole-word
 * stores up to size rounded to 8 (still inside the slot): a memset call or
 * the rep stos a compiler makes of a loop costs more than the object. */
static inline void zero_tail(uint8_t *p, size_t size)
{
	uint64_t *w = (uint64_t *)(p + HDR_SIZE);
	switch ((size - HDR_SIZE + 7) >> 3) {
	case 7: w[6] = 0; /* fall through */
	case 6: w[5] = 0; /* fall through */
	case 5: w[4] = 0; /* fall through */
	case 4: w[3] = 0; /* fall through */
	case 3: w[2] = 0; /* fall through */
	case 2: w[1] = 0; /* fall through */
	case 1: w[0] = 0; /* fall through */
	case 0: break;
	default: memset(w, 0, size - HDR_SIZE);
	}
}

static inline uint32_t new_tag(heap *h, uint32_t old)
{
	uint32_t t;
	do {
		/* xorshift64* */
		uint64_t x = h->rng;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		h->rng = x;
		t = (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
	} while (t == 0 || t == old);
	return t;
}

static uint8_t *alloc_object(heap *h, size_t size, uint32_t nrefs, uint32_t nbytes, struct span **sp)
{
	uint32_t idx = 0;
	uint8_t *p;
	if (size <= MAX_SMALL_SIZE)
		p = alloc_small(h, (uint32_t)size, nrefs == 0, sp, &idx);
	else
		p = alloc_large(h, size, nrefs, nbytes, sp);
	if (!p)
		return NULL;
	struct span *s = *sp;
	uint32_t old = 0;
	if (s->needzero) {
		old = hdr_tag(*(uint64_t *)p);
		zero_tail(p, size);
	}
	uint32_t tag = new_tag(h, old);
	*(uint64_t *)p = s->spanclass >> 1 ? hdr_make(tag, nrefs, nbytes) : hdr_make(tag, 0, 0);
	if (h->phase == GC_MARK) {
		bit_set(s->markbits, idx);
		h->gcw.marked_bytes += s->elemsize;
	}
	if (!spc_sizeclass(s->spanclass)) {
		h->st.heap_alloc += s->elemsize;
		h->st.total_alloc += s->elemsize;
		h->st.heap_objects++;
		h->st.mallocs++;
		h->heap_live += s->elemsize;
	}
	return p;
}

int heap_alloc(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, heap_ref *out)
{
	size_t size = HDR_SIZE + (size_t)nrefs * sizeof(heap_ref) + nbytes;
	if (size > h->cfg.max_object)
		return HEAP_ETOOBIG;
	if (hs && hs->count >= h->cfg.max_holds)
		return HEAP_ELIMIT;
	struct span *s;
	uint8_t *p = alloc_object(h, size, nrefs, nbytes, &s);
	if (!p) {
		/* Go would die here; heapd collects everything and tries once more. */
		gc_full(h, 0);
		p = alloc_object(h, size, nrefs, nbytes, &s);
		if (!p)
			return HEAP_ENOMEM;
	}
	heap_ref r = (heap_ref)hdr_tag(*(uint64_t *)p) << 32 | (heap_ref)((size_t)(p - h->base) >> 3);
	int err = hs ? holds_add(h, hs, r) : 0;
	if (h->heap_live >= h->next_event)
		gc_alloc_slow(h);
	if (err)
		return err;
	*out = r;
	return 0;
}
