/*
 * sweep.c - the sweeper (Go's mgcsweep.go).
 *
 * Sweeping a span never touches its objects: the mark bits become the alloc
 * bits, the old alloc bits (cleared) become the next cycle's mark bits, and
 * a popcount gives the survivors. A span with none goes back to the page
 * heap at once.
 *
 * Who sweeps (each counted in the stats):
 *  - the allocator, lazily, when it refills from an unswept span, and in
 *    proportion to what it allocates (Go's proportional sweep: sweeping
 *    ends by the time heap_live reaches the next trigger), at most a
 *    slice's time per allocation;
 *  - the idle sweeper, from heap_idle(), in batches that stop when the host
 *    has requests waiting;
 *  - the collector, which must finish sweeping before it marks again, and a
 *    forced collection, which sweeps everything at once.
 * Only after the idle sweeper has swept every span does it free workbuf
 * spans (gc.c's heap_idle, gcwork.c's wbuf_free_some), as in Go.
 *
 * Invariant: sweep_pending counts the object spans with sweepgen ==
 * h->sweepgen - 2. They are all on the unswept lists; none is cached.
 * What a sweep frees is given back to the span's tenant (central.c); a
 * span freed to the page heap has no tenant any more.
 *
 * The unswept lists are walked class by class: for each, the partial
 * lists of the tenants that have taken a span (h->tenants_used), then the
 * full list; then the large list. A cycle looks at each list head once.
 */
#include <string.h>

#include "internal.h"

/* Spans swept between looks at the clock and at the host's requests, by
 * the collector finishing a sweep and by the idle sweeper: a span takes a
 * microsecond or less, so a batch a few, and reading the clock for each
 * span would cost about as much as sweeping it. */
#define SWEEP_BATCH 16u

void sweep_begin(heap *h)
{
	h->sweep_pending = h->nspans_obj;
	h->sweep_cursor = 0;
	h->sweep_tenant = 0;
	h->sweep_pages_swept = 0;
	h->sweep_live_basis = h->heap_live;
	uint64_t distance = h->trigger > h->heap_live ? h->trigger - h->heap_live : 0;
	if (h->trigger == UINT64_MAX)
		h->sweep_pages_per_byte = 0;  /* GC off: lazy and idle sweeping only */
	else
		h->sweep_pages_per_byte = (double)h->pages_obj / (double)(distance > (1u << 20) ? distance : (1u << 20));
}

static void count_frees(heap *h, uint64_t n, uint32_t elemsize)
{
	h->st.frees += n;
	h->st.heap_objects -= n;
	h->st.heap_alloc -= n * elemsize;
}

int sweep_span(heap *h, struct span *s, enum sweep_who who)
{
	if (s->sweepgen + 2 != h->sweepgen)
		heap_throw("sweeping a span that is not due");
	h->sweep_pending--;
	h->sweep_pages_swept += s->npages;
	h->st.sweep_spans[who]++;
	s->sweepgen = h->sweepgen;
	uint32_t words = spc_sizeclass(s->spanclass) ? sc_table[spc_sizeclass(s->spanclass)].bitwords : 1;
	uint32_t nalloc = 0;
	for (uint32_t i = 0; i < words; i++)
		nalloc += (uint32_t)__builtin_popcountll(s->markbits[i]);
	uint32_t nfreed = s->allocount - nalloc;
	count_frees(h, nfreed, s->elemsize);
	h->ten[s->tenant].bytes -= (uint64_t)nfreed * s->elemsize;
	if (nalloc == 0) {
		h->nspans_obj--;
		if (spc_sizeclass(s->spanclass) && s->nelems <= 64)
			h->nspans_tab--;
		pages_free(h, s);
		return 0;
	}
	if (spc_sizeclass(s->spanclass))
		births_stamp(h, s, words);
	s->mark_fi = UINT32_MAX;
	uint64_t *t = s->allocbits;
	s->allocbits = s->markbits;
	s->markbits = t;
	memset(s->markbits, 0, words * sizeof *t);
	s->freeindex = 0;
	s->allocount = nalloc;
	span_refill_cache(s, 0);
	if (nfreed)
		s->needzero = 1;
	births_clamp(h, s);
	return 1;
}

/* The next unswept small-object list with a span, from the cursor on;
 * NULL when only the large list is left. */
static struct list *unswept_small(heap *h, unsigned unswept)
{
	for (; h->sweep_cursor < NUM_SPANCLASSES; h->sweep_cursor++, h->sweep_tenant = 0) {
		unsigned spc = h->sweep_cursor;
		for (; (h->sweep_tenant = tenant_next(h, h->sweep_tenant)) < HEAP_TENANTS; h->sweep_tenant++)
			if (!list_empty(&h->ten[h->sweep_tenant].partial[spc][unswept]))
				return &h->ten[h->sweep_tenant].partial[spc][unswept];
		if (!list_empty(&h->full[spc][unswept]))
			return &h->full[spc][unswept];
	}
	return NULL;
}

int sweep_one(heap *h, enum sweep_who who)
{
	if (!h->sweep_pending)
		return 0;
	unsigned unswept = 1 - h->sweepgen / 2 % 2;
	struct list *l = unswept_small(h, unswept);
	if (l) {
		struct span *s = container_of(l->next, struct span, link);
		list_remove(&s->link);
		if (sweep_span(h, s, who))
			central_put_swept(h, s);
		return 1;
	}
	l = &h->large[unswept];
	if (list_empty(l))
		heap_throw("sweep_pending counts spans that are on no list");
	struct span *s = container_of(l->next, struct span, link);
	list_remove(&s->link);
	if (sweep_span(h, s, who))
		list_push_head(&h->large[1 - unswept], &s->link);
	return 1;
}

int sweep_batch(heap *h, enum sweep_who who, unsigned *n)
{
	for (*n = 0; *n < SWEEP_BATCH; ++*n)
		if (!sweep_one(h, who))
			return 0;
	return 1;
}

/* At most a slice's time per call: one large allocation can owe the
 * sweep of most of the heap (64 MiB against a small distance to the
 * trigger, with a 1 GiB live heap: 100k spans, a quarter of a second).
 * What is left is owed by the next allocations, the idle sweeper, or the
 * next cycle's sweep termination, which all take it in bounded pieces. */
void sweep_proportional(heap *h)
{
	if (!h->sweep_pending || h->sweep_pages_per_byte == 0)
		return;
	double target = (double)(h->heap_live - h->sweep_live_basis) * h->sweep_pages_per_byte;
	uint64_t deadline = 0;
	unsigned n = 0;
	while ((double)h->sweep_pages_swept < target && sweep_one(h, SWEEP_ALLOC)) {
		if (++n % SWEEP_BATCH)
			continue;
		uint64_t now = os_now_ns();
		if (!deadline)
			deadline = now + h->cfg.slice_ns;
		else if (now >= deadline)
			break;
	}
}
