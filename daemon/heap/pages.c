/*
 * pages.c - the page heap (Go's mheap): free page runs and span allocation.
 *
 * Invariants:
 *  - Free pages form maximal runs: two free runs are never adjacent, because
 *    pages_free() merges a freed span with free neighbours on both sides.
 *  - A run of n < NUM_BINS pages is on bins[n], a longer one on bins[0].
 *    Runs with no released pages sit at the head of their bin, so
 *    allocation reuses warm memory before it faults released pages back in.
 *  - A run with backed pages is on scavq (oldest first) for the scavenger.
 *  - released[] has a bit per page that is not backed; a free run's
 *    nreleased is the count of its bits, so splitting a run needs a count
 *    over the carved part only.
 *  - pages_obj + pages_wbuf + pages_free == grown.
 *
 * Allocation is best fit: the smallest bin that fits (O(1) with binmask),
 * then the smallest long run, lowest address first. It cuts from the low
 * end of a run, which keeps the heap packed towards the arena's start.
 */
#include <string.h>

#include "internal.h"

static unsigned bin_of(size_t npages) { return npages < NUM_BINS ? (unsigned)npages : 0; }

static void bin_insert(heap *h, struct span *s)
{
	unsigned b = bin_of(s->npages);
	if (s->u.free.nreleased == 0)
		list_push_head(&h->bins[b], &s->link);
	else
		list_push_tail(&h->bins[b], &s->link);
	h->binmask[b >> 6] |= (uint64_t)1 << (b & 63);
}

static void run_unlink(heap *h, struct span *s)
{
	unsigned b = bin_of(s->npages);
	list_remove(&s->link);
	if (list_empty(&h->bins[b]))
		h->binmask[b >> 6] &= ~((uint64_t)1 << (b & 63));
	if (s->u.free.scav.next)
		list_remove(&s->u.free.scav);
	s->state = SPAN_DEAD;
}

static void run_make(heap *h, size_t start, size_t npages, size_t nreleased)
{
	struct span *s = &h->spans[start];
	memset(s, 0, sizeof *s);
	s->state = SPAN_FREE;
	s->start = (uint32_t)start;
	s->npages = (uint32_t)npages;
	s->u.free.nreleased = (uint32_t)nreleased;
	h->pagemap[start] = (uint32_t)start + 1;
	h->pagemap[start + npages - 1] = (uint32_t)start + 1;
	bin_insert(h, s);
	if (nreleased < npages)
		list_push_tail(&h->scavq, &s->u.free.scav);
}

/* Adds pages [start, start + npages) to the free runs, merging neighbours. */
static void run_insert(heap *h, size_t start, size_t npages, size_t nreleased)
{
	size_t end = start + npages;
	struct span *l = start > 0 ? span_of_page(h, start - 1) : NULL;
	struct span *r = end < h->grown ? span_of_page(h, end) : NULL;
	if (l && l->state == SPAN_FREE) {
		run_unlink(h, l);
		h->pagemap[start - 1] = 0;
		start = l->start;
		nreleased += l->u.free.nreleased;
	}
	if (r && r->state == SPAN_FREE) {
		run_unlink(h, r);
		h->pagemap[end] = 0;
		end += r->npages;
		nreleased += r->u.free.nreleased;
	}
	run_make(h, start, end - start, nreleased);
}

static struct span *run_find(heap *h, size_t npages)
{
	if (npages < NUM_BINS) {
		for (unsigned w = (unsigned)(npages >> 6); w < NUM_BINS / 64; w++) {
			uint64_t m = h->binmask[w];
			if (w == npages >> 6)
				m &= ~(uint64_t)0 << (npages & 63);
			if (w == 0)
				m &= ~(uint64_t)1;
			if (m)
				return container_of(h->bins[w * 64 + __builtin_ctzll(m)].next, struct span, link);
		}
	}
	struct span *best = NULL;
	for (struct list *l = h->bins[0].next; l != &h->bins[0]; l = l->next) {
		struct span *s = container_of(l, struct span, link);
		if (s->npages >= npages &&
		    (!best || s->npages < best->npages || (s->npages == best->npages && s->start < best->start)))
			best = s;
	}
	return best;
}

/* Stretches of backed pages at least this long are zeroed by the kernel. */
#define ZERO_BY_MADVISE ((size_t)1 << 20)

/* Zeroes the backed pages of [start, start + n). Released pages already
 * read as zero. A backed page is one the heap has not released, not one
 * that is resident: a large object nobody wrote leaves its pages
 * untouched, and a memset would fault each one in (64 MiB: 25 ms on a
 * quiet machine, 250 ms on a busy one). So a long stretch is handed back
 * with MADV_REMOVE instead, which costs next to nothing for pages never
 * touched and ~4 ms per 64 MiB for resident ones, and the pages read as
 * zero; only a short one is written. */
static void zero_backed(heap *h, size_t start, size_t n)
{
	size_t p = start, end = start + n;
	while (p < end) {
		while (p < end && bit_test(h->released, (uint32_t)p))
			p++;
		size_t q = p;
		while (q < end && !bit_test(h->released, (uint32_t)q))
			q++;
		size_t len = (q - p) << PAGE_SHIFT;
		if (len >= ZERO_BY_MADVISE)
			arena_release(h, page_addr(h, p), len);
		else if (len)
			memset(page_addr(h, p), 0, len);
		p = q;
	}
}

/* Counts and clears the released bits of [start, start + n). */
static size_t released_take(heap *h, size_t start, size_t n)
{
	size_t count = 0, p = start, end = start + n;
	while (p < end) {
		size_t w = p >> 6, lo = p & 63, hi = end - (w << 6) < 64 ? end - (w << 6) : 64;
		uint64_t mask = (hi == 64 ? ~(uint64_t)0 : (((uint64_t)1 << hi) - 1)) & (~(uint64_t)0 << lo);
		count += (size_t)__builtin_popcountll(h->released[w] & mask);
		h->released[w] &= ~mask;
		p = (w + 1) << 6;
	}
	return count;
}

struct span *pages_alloc(heap *h, size_t npages, enum pages_use use)
{
	int wbuf = use == PAGES_WBUF;
	if (!wbuf && h->pages_obj + npages > h->max_pages)
		return NULL;
	struct span *run = run_find(h, npages);
	if (!run) {
		size_t old = h->grown, added = arena_grow(h, h->grown + npages);
		if (!added)
			return NULL;
		h->pages_free += added;
		h->pages_released += added;
		run_insert(h, old, added, added);
		run = run_find(h, npages);
		if (!run)
			heap_throw("grown heap has no run to fit");
	}
	size_t start = run->start, total = run->npages, nrel = run->u.free.nreleased;
	run_unlink(h, run);
	if (use == PAGES_LARGE && nrel < total)
		zero_backed(h, start, npages);
	size_t took = released_take(h, start, npages);
	h->pages_released -= took;
	h->pages_free -= npages;
	if (total > npages)
		run_make(h, start + npages, total - npages, nrel - took);

	struct span *s = &h->spans[start];
	memset(s, 0, sizeof *s);
	s->start = (uint32_t)start;
	s->npages = (uint32_t)npages;
	s->state = wbuf ? SPAN_WBUF : SPAN_OBJ;
	s->needzero = use != PAGES_LARGE && took < npages;
	for (size_t p = start; p < start + npages; p++)
		h->pagemap[p] = (uint32_t)start + 1;
	if (wbuf)
		h->pages_wbuf += npages;
	else
		h->pages_obj += npages;
	return s;
}

void pages_free(heap *h, struct span *s)
{
	size_t start = s->start, n = s->npages;
	if (s->state == SPAN_WBUF)
		h->pages_wbuf -= n;
	else
		h->pages_obj -= n;
	h->pages_free += n;
	memset(&h->pagemap[start], 0, n * sizeof h->pagemap[0]);
	s->state = SPAN_DEAD;
	run_insert(h, start, n, 0);
}

/* Releases the OS pages wholly inside [lo, hi) of a per-page table. The
 * entries of a free run's inner pages are never read (the page map's are
 * zero, which is what released memory reads as). */
static void release_inner(heap *h, const void *lo, const void *hi)
{
	uintptr_t a = ((uintptr_t)lo + 4095) & ~(uintptr_t)4095, b = (uintptr_t)hi & ~(uintptr_t)4095;
	if (b > a) {
		os_release((void *)a, b - a);
		h->st.madvise_calls++;
	}
}

/* Releases backed pages of free run s from its end (allocation cuts from
 * the start, so the end is the coldest part), one madvise per stretch of
 * backed pages, until max pages (0: no limit) are released. Once the whole
 * run is released, so are its inner pages' descriptors and page-map
 * entries and all its pages' birth stamps, so the per-page tables shrink
 * with the heap. Returns the pages
 * released. */
size_t pages_release(heap *h, struct span *s, size_t max)
{
	size_t start = s->start, end = start + s->npages, got = 0, p = end;
	if (s->u.free.nreleased == s->npages)
		return 0;
	while (p > start && (!max || got < max)) {
		while (p > start && bit_test(h->released, (uint32_t)(p - 1)))
			p--;
		size_t q = p;
		while (q > start && !bit_test(h->released, (uint32_t)(q - 1)) && (!max || got + (p - q) < max)) {
			q--;
			bit_set(h->released, (uint32_t)q);
		}
		if (q < p) {
			arena_release(h, page_addr(h, q), (p - q) << PAGE_SHIFT);
			h->st.madvise_calls++;
			got += p - q;
		}
		p = q;
	}
	s->u.free.nreleased += (uint32_t)got;
	h->pages_released += got;
	h->st.released_bytes += (uint64_t)got << PAGE_SHIFT;
	if (s->u.free.nreleased == s->npages) {
		release_inner(h, &h->spans[start + 1], &h->spans[end]);
		release_inner(h, &h->pagemap[start + 1], &h->pagemap[end - 1]);
		release_inner(h, &h->births_tab[start * BIRTHS_PER_PAGE], &h->births_tab[end * BIRTHS_PER_PAGE]);
		list_remove(&s->u.free.scav);
		/* A released run goes behind the backed runs of its bin. */
		list_remove(&s->link);
		list_push_tail(&h->bins[bin_of(s->npages)], &s->link);
	}
	return got;
}
