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
 * Every object is zeroed (unless its memory is known fresh; a large one
 * only on the pages that are backed, pages_alloc) and gets a new tag, one
 * that no object made in the last 2^32 allocations had, so a handle kept
 * from the slot's previous object cannot match. While marking, new
 * objects are allocated black (Go's gcmarknewobject): they survive the
 * cycle.
 *
 * When nothing fits under max_heap the allocation fails at once with
 * HEAP_ENOMEM, having made sure one incremental cycle is in flight
 * (gc_no_room); it never collects inside the call.
 *
 * Each object is charged to a tenant (central.c): the hold set's, or the
 * heap's current one (h->cur) when there is no hold set. The fast path
 * only picks the tenant's cache, whose span is charged already; the slow
 * path's refill or large span is where a tenant past max_tenant_heap is
 * refused (HEAP_EQUOTA, no collection started: it is the tenant that is
 * full, not the heap).
 *
 * Allocation is the only place the mutator pays for collection: crossing
 * h->next_event (one compare on the fast path) starts a cycle or runs an
 * assist. The new object is rooted first (a hold, or the slot it was
 * allocated into), so no collector work can run while it is unreachable.
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

/* The small-object path after the fast one failed: the next free slot
 * past the alloc cache, else a span from central (sweeping, growing). */
static int alloc_small_slow(heap *h, struct heap_tenant *t, unsigned spc, struct span **sp, uint32_t *idxp)
{
	struct span *s = t->cache[spc];
	uint32_t idx = next_free_index(s);
	if (idx == s->nelems) {
		int err = central_refill(h, t, spc, &s);
		if (err)
			return err;
		idx = next_free_index(s);
	}
	*sp = s;
	*idxp = idx;
	return 0;
}

static int alloc_large(heap *h, struct heap_tenant *t, size_t size, uint32_t nrefs, uint32_t nbytes,
		       struct span **sp)
{
	size_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	sweep_proportional(h);
	if (tenant_over(h, t, (uint64_t)npages << PAGE_SHIFT))
		return HEAP_EQUOTA;
	struct span *s = pages_alloc(h, npages, PAGES_LARGE);
	if (!s)
		return HEAP_ENOMEM;
	s->spanclass = nrefs == 0;  /* size class 0, noscan when it has no slots */
	s->elemsize = s->npages << PAGE_SHIFT;
	s->nelems = 1;
	s->freeindex = 1;
	s->allocount = 1;
	s->mark_fi = UINT32_MAX;
	s->sweepgen = h->sweepgen;
	s->allocbits = &s->smallbits[0];
	s->markbits = &s->smallbits[1];
	s->u.obj.nrefs = nrefs;
	s->u.obj.nbytes = nbytes;
	s->u.obj.save_epoch = h->save.epoch;  /* new to any save running */
	s->u.obj.save_fi = 0;
	s->smallbits[0] = 0;
	h->nspans_obj++;
	span_give(h, s, t);
	t->bytes += s->elemsize;
	list_push_head(&h->large[h->sweepgen / 2 % 2], &s->link);
	*sp = s;
	return 0;
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

/* A tag for a new object (handle.c): never 0, never the tag the slot's
 * previous object had, so that object's handle always fails. The 0 past
 * the last tag ends the buffer, so the fast path checks no count: the
 * check for 0 it needs anyway sends it to tag_redraw(). */
static inline uint32_t new_tag(heap *h, uint32_t old)
{
	uint32_t t = h->tag_buf[h->tag_pos++];
	if (unlikely(t == 0 || t == old))
		t = tag_redraw(h, old);
	return t;
}

/* Everything but the fast path: small-object refills and large objects.
 * When nothing fits under max_heap, no collection runs here: a full one
 * per failed allocation let one client stall every other for as long as
 * marking the live heap takes, once per request. gc_no_room() makes sure
 * one incremental cycle is in flight instead; the caller may try again
 * once it is over (heap_room_cycle). */
static __attribute__((noinline)) int alloc_slow(heap *h, struct heap_tenant *t, size_t size, uint32_t nrefs,
						  uint32_t nbytes, struct span **sp, uint32_t *idxp)
{
	int err;
	*idxp = 0;
	if (size <= MAX_SMALL_SIZE)
		err = alloc_small_slow(h, t, sc_of(size) << 1 | (nrefs == 0), sp, idxp);
	else
		err = alloc_large(h, t, size, nrefs, nbytes, sp);
	if (err == HEAP_ENOMEM)
		gc_no_room(h);
	return err;
}

/* Makes the object at slot idx of s: zeroes it, tags it, stamps a large
 * one's birth, marks it black while marking (noting the first such slot
 * of a small span for its ages, age.c), and caches its handle (a new
 * object is usually used next). */
static inline __attribute__((always_inline)) heap_ref init_object(heap *h, struct span *s, uint32_t idx, uint8_t *p, size_t size,
				   uint32_t nrefs, uint32_t nbytes)
{
	uint32_t old = 0;
	if (s->needzero) {
		old = hdr_tag(*(uint64_t *)p);
		zero_tail(p, size);
	}
	uint32_t tag = new_tag(h, old);
	if (likely(spc_sizeclass(s->spanclass))) {
		*(uint64_t *)p = hdr_make(tag, nrefs, nbytes);
	} else {
		*(uint64_t *)p = hdr_make(tag, HDR_LARGE, 0);
		s->u.obj.birth = (uint32_t)h->cycle;
	}
	if (h->phase == GC_MARK) {
		if (unlikely(idx < s->mark_fi))
			s->mark_fi = idx;
		mark_bit_set(h, s->markbits, idx);
		h->gcw.marked_bytes += s->elemsize;
	}
	heap_ref r = (heap_ref)tag << 32 | (heap_ref)((size_t)(p - h->base) >> 3);
	struct rcache_entry *e = rcache_slot(h, r);
	e->ref = r;
	/* Field by field: GCBench runs 2-3% faster than with one store of a
	 * struct obj literal, which gcc builds from a zeroed vector and
	 * overlapping smaller stores. */
	e->o.p = p;
	e->o.s = s;
	e->o.nrefs = nrefs;
	e->o.ro = 0;
	e->o.nbytes = nbytes;
	return r;
}

/* Where a new object is rooted before any collector work can run: a hold
 * in hs, or slot of obj (heap_alloc_into; target is that slot's address),
 * or nowhere (hs and obj 0); the len bytes its data starts with (len <=
 * nbytes); and the nvals handles its first slots start with (nvals <=
 * nrefs, each checked live). */
struct dest {
	heap_holds *hs;
	heap_ref obj;
	uint32_t slot;
	uint32_t len;
	const void *data;
	const heap_ref *vals;
	uint32_t nvals;
	heap_ref *target;
};

/* Copies d's initial slots and data into the new object at p. The slots
 * need the insertion barrier: while marking, p is black. */
static inline void init_contents(heap *h, const struct dest *d, uint8_t *p, uint32_t nrefs)
{
	heap_ref *slots = (heap_ref *)(p + HDR_SIZE);
	for (uint32_t i = 0; i < d->nvals; i++) {
		gc_shade(h, d->vals[i]);
		slots[i] = d->vals[i];
	}
	if (d->len)
		memcpy(p + HDR_SIZE + (size_t)nrefs * sizeof(heap_ref), d->data, d->len);
}

/* Whether every initial handle names a live object. */
static inline int check_vals(heap *h, const struct dest *d)
{
	for (uint32_t i = 0; i < d->nvals; i++)
		if (d->vals[i] && !obj_live(h, d->vals[i]))
			return HEAP_EBADREF;
	return 0;
}

/* The address of slot of the object obj names, or 0 with *err set. */
static inline heap_ref *target_slot(heap *h, heap_ref obj, uint32_t slot, int *err)
{
	struct obj o;
	*err = obj_resolve_slot(h, obj, slot, &o);
	if (!*err)
		*err = obj_writable(&o);
	if (*err)
		return NULL;
	save_keep(h, &o);
	return &obj_slots(&o)[slot];
}

/* Roots r at d. slow says the call took the general path: a hold set may
 * have to grow, and sweeping may have run since the caller resolved a
 * target slot's object (freeing it, if it was garbage), so it is resolved
 * again and its liveness is current. bytes: r's heap bytes, which a hold
 * keeps. */
static inline int root_new(heap *h, struct dest *d, heap_ref r, uint32_t bytes, int slow)
{
	if (!d->obj) {
		if (!d->hs)
			return 0;
		if (slow)
			return holds_add(h, d->hs, r);
		holds_add_new(d->hs, r, bytes);
		return 0;
	}
	if (slow) {
		int err;
		if (!(d->target = target_slot(h, d->obj, d->slot, &err)))
			return err;
	}
	slot_store(d->target, r);  /* no barrier: r is black while marking */
	return 0;
}

/* The allocation calls for everything their fast path does not handle. */
static __attribute__((noinline)) int alloc_general(heap *h, struct dest *d, uint32_t nrefs, uint32_t nbytes,
						  heap_ref *out)
{
	size_t size = HDR_SIZE + (size_t)nrefs * sizeof(heap_ref) + nbytes;
	if (size > h->cfg.max_object)
		return HEAP_ETOOBIG;
	if (d->hs && d->hs->count >= h->cfg.max_holds)
		return HEAP_ELIMIT;
	struct span *s;
	uint32_t idx;
	int err = alloc_slow(h, d->hs ? d->hs->ten : h->cur, size, nrefs, nbytes, &s, &idx);
	if (err)
		return err;
	uint8_t *p = span_base(h, s) + (size_t)idx * s->elemsize;
	if (!spc_sizeclass(s->spanclass)) {
		h->st.heap_alloc += s->elemsize;
		h->st.total_alloc += s->elemsize;
		h->st.heap_objects++;
		h->st.mallocs++;
		h->heap_live += s->elemsize;
	}
	/* An assist or sweeping may have freed a value the caller did not
	 * hold; the object, not yet rooted, is then garbage. */
	err = check_vals(h, d);
	if (err)
		return err;
	heap_ref r = init_object(h, s, idx, p, size, nrefs, nbytes);
	init_contents(h, d, p, nrefs);
	err = root_new(h, d, r, s->elemsize, 1);
	if (h->heap_live >= h->next_event)
		gc_alloc_slow(h);
	if (err)
		return err;
	*out = r;
	return 0;
}

/* The fast path makes no call: a small object from the cached span's
 * alloc cache, a destination with room, no collector event due. Anything
 * else goes to alloc_general(), which starts over. */
static inline __attribute__((always_inline)) int alloc_to(heap *h, struct dest *d, uint32_t nrefs,
							   uint32_t nbytes, heap_ref *out)
{
	size_t size = HDR_SIZE + (size_t)nrefs * sizeof(heap_ref) + nbytes;
	heap_holds *hs = d->hs;
	if (unlikely(size > h->small_limit || h->heap_live >= h->next_event ||
		     (hs && (hs->count >= h->cfg.max_holds || hs->used >= hs->grow_at))))
		return alloc_general(h, d, nrefs, nbytes, out);
	struct span *s = (hs ? hs->ten : h->cur)->cache[sc_of(size) << 1 | (nrefs == 0)];
	uint32_t idx = next_free_fast(s);
	if (unlikely(idx == NOFREE))
		return alloc_general(h, d, nrefs, nbytes, out);
	uint8_t *p = span_base(h, s) + (size_t)idx * s->elemsize;
	heap_ref r = init_object(h, s, idx, p, size, nrefs, nbytes);
	init_contents(h, d, p, nrefs);
	root_new(h, d, r, s->elemsize, 0);
	*out = r;
	return 0;
}

/* alloc_to() into d's slot. The target is checked before allocating, so a
 * bad one costs no object; and again after (root_new), as a full
 * collection may run in between. */
static inline __attribute__((always_inline)) int alloc_into(heap *h, struct dest *d, uint32_t nrefs,
							     uint32_t nbytes, heap_ref *out)
{
	int err;
	if (!(d->target = target_slot(h, d->obj, d->slot, &err)))
		return err;
	return alloc_to(h, d, nrefs, nbytes, out);
}

int heap_alloc_init(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, const void *data, uint32_t len,
		    heap_ref *out)
{
	if (len > nbytes)
		return HEAP_ERANGE;
	struct dest d = {.hs = hs, .len = len, .data = data};
	return alloc_to(h, &d, nrefs, nbytes, out);
}

int heap_alloc_into_init(heap *h, heap_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
			 uint32_t len, heap_ref *out)
{
	if (len > nbytes)
		return HEAP_ERANGE;
	struct dest d = {.obj = obj, .slot = slot, .len = len, .data = data};
	return alloc_into(h, &d, nrefs, nbytes, out);
}

int heap_alloc_refs(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, const heap_ref *vals, uint32_t nvals,
		    heap_ref *out)
{
	if (nvals > nrefs)
		return HEAP_ERANGE;
	struct dest d = {.hs = hs, .vals = vals, .nvals = nvals};
	int err = check_vals(h, &d);
	if (err)
		return err;
	return alloc_to(h, &d, nrefs, nbytes, out);
}

/* The plain forms inline alloc_to themselves, so that it is compiled
 * knowing there is no data and there are no initial references. */
int heap_alloc(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, heap_ref *out)
{
	struct dest d = {.hs = hs};
	return alloc_to(h, &d, nrefs, nbytes, out);
}

int heap_alloc_into(heap *h, heap_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, heap_ref *out)
{
	struct dest d = {.obj = obj, .slot = slot};
	return alloc_into(h, &d, nrefs, nbytes, out);
}
