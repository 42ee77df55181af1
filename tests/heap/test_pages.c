/*
 * test_pages.c - the page heap: span allocation, page -> span lookup,
 * coalescing of free runs, and the backed/released state of free pages.
 *
 * check_pages() walks every grown page and checks the page heap's
 * invariants against what it finds, so each test also checks the
 * bookkeeping, not only the result it is about.
 */
#include "testutil.h"

static void check_pages(heap *h)
{
	size_t obj = 0, wbuf = 0, free_pages = 0, released = 0;
	int prev_free = 0;
	for (size_t p = 0; p < h->grown;) {
		struct span *s = span_of_page(h, p);
		assert_non_null(s);
		assert_int_equal(s->start, p);
		assert_true(s->npages >= 1 && p + s->npages <= h->grown);
		if (s->state == SPAN_FREE) {
			assert_false(prev_free); /* free runs are coalesced */
			/* first and last page map to the run, inner pages to nothing */
			assert_ptr_equal(span_of_page(h, p + s->npages - 1), s);
			for (size_t q = p + 1; q + 1 < p + s->npages; q++)
				assert_null(span_of_page(h, q));
			size_t nrel = 0;
			for (size_t q = p; q < p + s->npages; q++)
				nrel += bit_test(h->released, (uint32_t)q);
			assert_int_equal(nrel, s->u.free.nreleased);
			free_pages += s->npages;
			released += nrel;
			prev_free = 1;
		} else {
			assert_true(s->state == SPAN_OBJ || s->state == SPAN_WBUF);
			for (size_t q = p; q < p + s->npages; q++) {
				assert_ptr_equal(span_of_page(h, q), s);
				assert_false(bit_test(h->released, (uint32_t)q));
			}
			if (s->state == SPAN_OBJ)
				obj += s->npages;
			else
				wbuf += s->npages;
			prev_free = 0;
		}
		p += s->npages;
	}
	assert_int_equal(obj, h->pages_obj);
	assert_int_equal(wbuf, h->pages_wbuf);
	assert_int_equal(free_pages, h->pages_free);
	assert_int_equal(released, h->pages_released);
	assert_int_equal(obj + wbuf + free_pages, h->grown);
}

static void lookup_covers_every_page(void **state)
{
	(void)state;
	heap *h = test_heap();
	struct span *s[8];
	for (int i = 0; i < 8; i++) {
		s[i] = pages_alloc(h, (size_t)i * 3 + 1, i & 1 ? PAGES_WBUF : PAGES_SMALL);
		assert_non_null(s[i]);
	}
	for (int i = 0; i < 8; i++)
		for (size_t p = s[i]->start; p < s[i]->start + s[i]->npages; p++)
			assert_ptr_equal(span_of_page(h, p), s[i]);
	check_pages(h);
	heap_free(h);
}

static void neighbours_coalesce(void **state)
{
	(void)state;
	heap *h = test_heap();
	struct span *a = pages_alloc(h, 1, PAGES_SMALL), *b = pages_alloc(h, 2, PAGES_SMALL), *c = pages_alloc(h, 3, PAGES_SMALL);
	size_t start = a->start;
	assert_int_equal(b->start, start + 1);
	assert_int_equal(c->start, start + 3);
	pages_free(h, a);
	check_pages(h);
	pages_free(h, c); /* merges with the free tail of the arena */
	check_pages(h);
	struct span *tail = span_of_page(h, start + 3);
	assert_int_equal(tail->state, SPAN_FREE);
	assert_int_equal(tail->start + tail->npages, h->grown);
	pages_free(h, b); /* joins both sides into one run */
	check_pages(h);
	struct span *all = span_of_page(h, 0);
	assert_int_equal(all->state, SPAN_FREE);
	assert_int_equal(all->npages, h->grown);
	heap_free(h);
}

/* Random allocations and frees keep every invariant, and freeing all
 * leaves one run. */
static void random_churn_keeps_invariants(void **state)
{
	(void)state;
	struct rng r = test_rng("random_churn_keeps_invariants");
	heap *h = test_heap();
	struct span *live[256] = {0};
	for (int i = 0; i < 20000; i++) {
		unsigned k = rng_below(&r, 256);
		if (live[k]) {
			pages_free(h, live[k]);
			live[k] = NULL;
		} else {
			size_t n = rng_below(&r, 8) ? 1 + rng_below(&r, 8) : 100 + rng_below(&r, 300);
			live[k] = pages_alloc(h, n, rng_below(&r, 4) == 0 ? PAGES_WBUF : PAGES_SMALL);
			assert_non_null(live[k]);
			assert_int_equal(live[k]->npages, n);
		}
		if (i % 997 == 0) {
			check_pages(h);
			struct span *f = span_of_page(h, h->grown - 1);
			if (f->state == SPAN_FREE && rng_below(&r, 2))
				pages_release(h, f, 1 + rng_below(&r, 64));
		}
	}
	check_pages(h);
	for (int k = 0; k < 256; k++)
		if (live[k])
			pages_free(h, live[k]);
	check_pages(h);
	assert_int_equal(span_of_page(h, 0)->npages, h->grown);
	heap_free(h);
}

/* Released pages are zero and need no zeroing; backed free pages do. */
static void released_state_follows_pages(void **state)
{
	(void)state;
	heap *h = test_heap();
	struct span *a = pages_alloc(h, 4, PAGES_SMALL);
	assert_false(a->needzero); /* fresh memory from the OS */
	memset(span_base(h, a), 0xab, 4 * PAGE_SIZE);
	size_t start = a->start;
	pages_free(h, a);
	check_pages(h);
	struct span *b = pages_alloc(h, 4, PAGES_SMALL);
	assert_int_equal(b->start, start); /* warm pages are reused first */
	assert_true(b->needzero);
	pages_free(h, b);
	struct span *run = span_of_page(h, start);
	size_t backed = run->npages - run->u.free.nreleased;
	assert_int_equal(backed, 4);
	uint64_t calls = h->st.madvise_calls;
	assert_int_equal(pages_release(h, run, 0), 4);
	/* The pages, then the inner descriptors, then the run's birth stamps. */
	assert_int_equal(h->st.madvise_calls - calls, 3);
	check_pages(h);
	assert_int_equal(span_base(h, run)[0], 0); /* really gone: reads zero */
	struct span *c = pages_alloc(h, 4, PAGES_SMALL);
	assert_false(c->needzero);
	check_pages(h);
	heap_free(h);
}

/* Object spans stop at max_heap; workbuf spans may go past it. */
static void max_heap_bounds_object_spans(void **state)
{
	(void)state;
	heap *h = test_heap_cfg(8 * MIB, 100);
	size_t pages = 8 * MIB / PAGE_SIZE;
	struct span *a = pages_alloc(h, pages, PAGES_SMALL);
	assert_non_null(a);
	assert_null(pages_alloc(h, 1, PAGES_SMALL));
	assert_non_null(pages_alloc(h, WBUF_SPAN_PAGES, PAGES_WBUF));
	pages_free(h, a);
	assert_non_null(pages_alloc(h, 1, PAGES_SMALL));
	check_pages(h);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookup_covers_every_page),
		cmocka_unit_test(neighbours_coalesce),
		cmocka_unit_test(random_churn_keeps_invariants),
		cmocka_unit_test(released_state_follows_pages),
		cmocka_unit_test(max_heap_bounds_object_spans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
