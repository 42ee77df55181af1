/*
 * central.c - per-class span lists and the allocation caches (Go's mcentral
 * and mcache, for one mutator thread), one cache per tenant.
 *
 * Every object span is in exactly one place: cached (t->cache[spc] of its
 * tenant t, the span that class allocates from), on its tenant's partial
 * list or the shared full list of its class, or on large. The lists come
 * in pairs indexed by sweepgen / 2 % 2: one holds spans swept this cycle,
 * the other spans still to sweep. Adding 2 to sweepgen at mark termination
 * turns every swept list into an unswept one at no cost; the caches are
 * flushed to the swept lists just before, so after termination no unswept
 * span is ever cached, and allocation only takes swept spans.
 *
 * Tenants. A span belongs to one tenant, the one that took it from the
 * page heap, until the sweeper frees it with its last object: a tenant
 * only ever takes its own partial spans, so every object in a span is its
 * tenant's. The tenant is charged as heap_live is: a span's free slots
 * when it is cached (cache_take), back what was left unused when it leaves
 * the cache (cache_drop), a large object when it is made, and the sweeper
 * gives back what it frees. So the fast path counts nothing, and
 * t->bytes = sum over t's spans of allocount * elemsize, its cached spans
 * counting whole. A refill that would take t past max_tenant_heap fails
 * (HEAP_EQUOTA): t's bytes never pass the limit, and its live objects may
 * fall short of it by the free slots of one cached span per span class.
 *
 * The allocation fast path keeps no statistics: cache_drop() adds a span's
 * allocations to them when it leaves the cache, and central_cached_stats()
 * counts the cached spans' share when stats are read.
 *
 * A refill takes, in order: a swept partial span of its tenant; an unswept
 * partial span of its tenant or full span of its class, which it sweeps
 * itself ("sweeping on allocation"; at most REFILL_SWEEP_BUDGET of them,
 * taking only its tenant's); a fresh span from the page heap.
 */
#include <string.h>

#include "internal.h"

#define REFILL_SWEEP_BUDGET 100  /* as Go's spanBudget */

static unsigned swept_idx(const heap *h) { return h->sweepgen / 2 % 2; }

void central_init(heap *h)
{
	/* A span with no slots: the allocation fast path fails on it. */
	memset(&h->empty_span, 0, sizeof h->empty_span);
	for (unsigned i = 0; i < NUM_SPANCLASSES; i++)
		for (unsigned j = 0; j < 2; j++)
			list_init(&h->full[i][j]);
	for (unsigned t = 0; t < HEAP_TENANTS; t++) {
		for (unsigned i = 0; i < NUM_SPANCLASSES; i++) {
			list_init(&h->ten[t].partial[i][0]);
			list_init(&h->ten[t].partial[i][1]);
			h->ten[t].cache[i] = &h->empty_span;
		}
	}
	list_init(&h->large[0]);
	list_init(&h->large[1]);
	h->cur = &h->ten[0];
}

int heap_set_tenant(heap *h, unsigned tenant)
{
	if (tenant >= HEAP_TENANTS)
		return HEAP_EINVAL;
	h->cur = &h->ten[tenant];
	return 0;
}

uint64_t heap_tenant_bytes(const heap *h, unsigned tenant)
{
	return tenant < HEAP_TENANTS ? h->ten[tenant].bytes : 0;
}

void span_give(heap *h, struct span *s, struct heap_tenant *t)
{
	s->tenant = (uint8_t)(t - h->ten);
	h->tenants_used |= (uint64_t)1 << s->tenant;
}

void span_refill_cache(struct span *s, uint32_t index)
{
	s->alloccache = ~s->allocbits[index >> 6];
}

void span_init_obj(heap *h, struct span *s, unsigned spc)
{
	const struct sizeclass *sc = &sc_table[spc_sizeclass(spc)];
	s->spanclass = (uint8_t)spc;
	s->elemsize = sc->size;
	s->nelems = sc->nelems;
	s->divmul = sc->divmul;
	s->sweepgen = h->sweepgen;
	if (sc->nelems <= 64) {
		s->allocbits = &s->smallbits[0];
		s->markbits = &s->smallbits[1];
		s->u.obj.births = &h->births_tab[(size_t)s->start * BIRTHS_PER_PAGE];
		h->nspans_tab++;
	} else {
		uint64_t *tail = (uint64_t *)(span_base(h, s) + ((size_t)s->npages << PAGE_SHIFT)) - 2 * sc->bitwords;
		memset(tail, 0, 2 * sc->bitwords * sizeof *tail);
		s->allocbits = tail;
		s->markbits = tail + sc->bitwords;
		s->u.obj.births = (birth_t *)(span_base(h, s) + sc->births_off);
	}
	s->u.obj.birth = (uint32_t)h->cycle;
	s->mark_fi = UINT32_MAX;
	span_refill_cache(s, 0);
	s->u.obj.save_epoch = h->save.epoch;  /* new to any save running */
	s->u.obj.save_fi = 0;
	h->nspans_obj++;
}

/* Counts s's free slots as allocated, and as t's, while it is cached. */
static void cache_take(heap *h, struct heap_tenant *t, unsigned spc, struct span *s)
{
	uint64_t free_bytes = (uint64_t)(s->nelems - s->allocount) * s->elemsize;
	t->cache[spc] = s;
	t->cache_mark[spc] = s->allocount;
	h->heap_live += free_bytes;
	t->bytes += free_bytes;
}

/* Adds what the cached span allocated to the stats and gives back the
 * slots it left free. */
static void cache_drop(heap *h, struct heap_tenant *t, unsigned spc)
{
	struct span *s = t->cache[spc];
	uint64_t n = s->allocount - t->cache_mark[spc];
	uint64_t free_bytes = (uint64_t)(s->nelems - s->allocount) * s->elemsize;
	h->st.mallocs += n;
	h->st.heap_objects += n;
	h->st.heap_alloc += n * s->elemsize;
	h->st.total_alloc += n * s->elemsize;
	h->heap_live -= free_bytes;
	t->bytes -= free_bytes;
	if (s != &h->empty_span)
		central_put_swept(h, s);
	t->cache[spc] = &h->empty_span;
	t->cache_mark[spc] = 0;
}

void central_cached_stats(const heap *h, uint64_t *objects, uint64_t *bytes)
{
	*objects = *bytes = 0;
	for (unsigned i = tenant_next(h, 0); i < HEAP_TENANTS; i = tenant_next(h, i + 1)) {
		const struct heap_tenant *t = &h->ten[i];
		for (unsigned spc = 0; spc < NUM_SPANCLASSES; spc++) {
			uint64_t n = t->cache[spc]->allocount - t->cache_mark[spc];
			*objects += n;
			*bytes += n * t->cache[spc]->elemsize;
		}
	}
}

void central_put_swept(heap *h, struct span *s)
{
	unsigned spc = s->spanclass;
	struct list *l = s->allocount < s->nelems ? &h->ten[s->tenant].partial[spc][swept_idx(h)]
						  : &h->full[spc][swept_idx(h)];
	list_push_head(l, &s->link);
}

/* Sweeps spans of one unswept list until one of tenant's has a free slot. */
static struct span *refill_sweep(heap *h, unsigned tenant, struct list *l, unsigned *budget)
{
	while (*budget && !list_empty(l)) {
		struct span *s = container_of(l->next, struct span, link);
		list_remove(&s->link);
		(*budget)--;
		if (!sweep_span(h, s, SWEEP_ALLOC))
			continue;
		if (s->allocount < s->nelems && s->tenant == tenant)
			return s;
		central_put_swept(h, s);
	}
	return NULL;
}

/* A swept span of class spc with a free slot, t's own, or NULL. */
static struct span *refill_find(heap *h, struct heap_tenant *t, unsigned spc)
{
	unsigned sw = swept_idx(h), budget = REFILL_SWEEP_BUDGET, tenant = (unsigned)(t - h->ten);
	if (!list_empty(&t->partial[spc][sw])) {
		struct span *s = container_of(t->partial[spc][sw].next, struct span, link);
		list_remove(&s->link);
		return s;
	}
	struct span *s = refill_sweep(h, tenant, &t->partial[spc][1 - sw], &budget);
	return s ? s : refill_sweep(h, tenant, &h->full[spc][1 - sw], &budget);
}

int central_refill(heap *h, struct heap_tenant *t, unsigned spc, struct span **sp)
{
	cache_drop(h, t, spc);
	sweep_proportional(h);
	struct span *s = refill_find(h, t, spc);
	if (s && tenant_over(h, t, (uint64_t)(s->nelems - s->allocount) * s->elemsize)) {
		central_put_swept(h, s);
		return HEAP_EQUOTA;
	}
	if (!s) {
		const struct sizeclass *sc = &sc_table[spc_sizeclass(spc)];
		if (tenant_over(h, t, (uint64_t)sc->nelems * sc->size))
			return HEAP_EQUOTA;
		if (!(s = pages_alloc(h, sc->npages, PAGES_SMALL)))
			return HEAP_ENOMEM;
		span_init_obj(h, s, spc);
		span_give(h, s, t);
	}
	save_span_cached(h, s);
	cache_take(h, t, spc, s);
	*sp = s;
	return 0;
}

void central_flush(heap *h)
{
	for (unsigned i = tenant_next(h, 0); i < HEAP_TENANTS; i = tenant_next(h, i + 1))
		for (unsigned spc = 0; spc < NUM_SPANCLASSES; spc++)
			cache_drop(h, &h->ten[i], spc);
}
