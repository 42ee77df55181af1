/*
 * central.c - per-class span lists and the allocation cache (Go's mcentral
 * and mcache, for one mutator thread).
 *
 * Every object span is in exactly one place: cached (h->cache[spc], the span
 * its class allocates from), on partial or full of its class, or on large.
 * The lists come in pairs indexed by sweepgen / 2 % 2: one holds spans swept
 * this cycle, the other spans still to sweep. Adding 2 to sweepgen at mark
 * termination turns every swept list into an unswept one at no cost; the
 * cache is flushed to the swept lists just before, so after termination no
 * unswept span is ever cached, and allocation only takes swept spans.
 *
 * The allocation fast path keeps no statistics: cache_drop() adds a span's
 * allocations to them when it leaves the cache, and central_cached_stats()
 * counts the cached spans' share when stats are read.
 *
 * A refill takes, in order: a swept partial span; an unswept partial or
 * full span it sweeps itself ("sweeping on allocation"; at most
 * REFILL_SWEEP_BUDGET of them); a fresh span from the page heap.
 */
#include <string.h>

#include "internal.h"

#define REFILL_SWEEP_BUDGET 100  /* as Go's spanBudget */

static unsigned swept_idx(const heap *h) { return h->sweepgen / 2 % 2; }

void central_init(heap *h)
{
	for (unsigned i = 0; i < NUM_SPANCLASSES; i++) {
		for (unsigned j = 0; j < 2; j++) {
			list_init(&h->partial[i][j]);
			list_init(&h->full[i][j]);
		}
		h->cache[i] = &h->empty_span;
	}
	list_init(&h->large[0]);
	list_init(&h->large[1]);
	/* A span with no slots: the allocation fast path fails on it. */
	memset(&h->empty_span, 0, sizeof h->empty_span);
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
	} else {
		uint64_t *tail = (uint64_t *)(span_base(h, s) + ((size_t)s->npages << PAGE_SHIFT)) - 2 * sc->bitwords;
		memset(tail, 0, 2 * sc->bitwords * sizeof *tail);
		s->allocbits = tail;
		s->markbits = tail + sc->bitwords;
	}
	span_refill_cache(s, 0);
	h->nspans_obj++;
}

/* Counts s's free slots as allocated while it is cached. */
static void cache_take(heap *h, unsigned spc, struct span *s)
{
	h->cache[spc] = s;
	h->cache_mark[spc] = s->allocount;
	h->heap_live += (uint64_t)(s->nelems - s->allocount) * s->elemsize;
}

/* Adds what the cached span allocated to the stats and gives back the
 * slots it left free. */
static void cache_drop(heap *h, unsigned spc)
{
	struct span *s = h->cache[spc];
	uint64_t n = s->allocount - h->cache_mark[spc];
	h->st.mallocs += n;
	h->st.heap_objects += n;
	h->st.heap_alloc += n * s->elemsize;
	h->st.total_alloc += n * s->elemsize;
	h->heap_live -= (uint64_t)(s->nelems - s->allocount) * s->elemsize;
	if (s != &h->empty_span)
		central_put_swept(h, s);
	h->cache[spc] = &h->empty_span;
	h->cache_mark[spc] = 0;
}

void central_cached_stats(const heap *h, uint64_t *objects, uint64_t *bytes)
{
	*objects = *bytes = 0;
	for (unsigned spc = 0; spc < NUM_SPANCLASSES; spc++) {
		uint64_t n = h->cache[spc]->allocount - h->cache_mark[spc];
		*objects += n;
		*bytes += n * h->cache[spc]->elemsize;
	}
}

void central_put_swept(heap *h, struct span *s)
{
	unsigned spc = s->spanclass;
	struct list *l = s->allocount < s->nelems ? &h->partial[spc][swept_idx(h)] : &h->full[spc][swept_idx(h)];
	list_push_head(l, &s->link);
}

/* Sweeps spans of one unswept list until one has a free slot. */
static struct span *refill_sweep(heap *h, struct list *l, unsigned *budget)
{
	while (*budget && !list_empty(l)) {
		struct span *s = container_of(l->next, struct span, link);
		list_remove(&s->link);
		(*budget)--;
		if (!sweep_span(h, s, SWEEP_ALLOC))
			continue;
		if (s->allocount < s->nelems)
			return s;
		central_put_swept(h, s);
	}
	return NULL;
}

struct span *central_refill(heap *h, unsigned spc)
{
	cache_drop(h, spc);
	sweep_proportional(h);

	unsigned sw = swept_idx(h), budget = REFILL_SWEEP_BUDGET;
	struct span *s = NULL;
	if (!list_empty(&h->partial[spc][sw])) {
		s = container_of(h->partial[spc][sw].next, struct span, link);
		list_remove(&s->link);
	}
	if (!s)
		s = refill_sweep(h, &h->partial[spc][1 - sw], &budget);
	if (!s)
		s = refill_sweep(h, &h->full[spc][1 - sw], &budget);
	if (!s) {
		s = pages_alloc(h, sc_table[spc_sizeclass(spc)].npages, PAGES_SMALL);
		if (!s)
			return NULL;
		span_init_obj(h, s, spc);
	}
	cache_take(h, spc, s);
	return s;
}

void central_flush(heap *h)
{
	for (unsigned spc = 0; spc < NUM_SPANCLASSES; spc++)
		cache_drop(h, spc);
}
