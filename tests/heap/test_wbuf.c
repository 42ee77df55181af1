/*
 * test_wbuf.c - the mark queue's workbufs and the seed change: workbuf
 * spans move to the free list at mark termination, getempty() reuses them
 * before asking the page heap, and the idle sweeper frees the rest to the
 * page heap in preemptible batches, after it has swept everything, so
 * workbuf memory follows the current heap rather than the peak one.
 */
#include "testutil.h"

/* One oblet per fan: a wider fan is scanned in pieces, which queue less. */
#define FANOUT OBLET_SLOTS

/* A comb of nfans objects of FANOUT slots: slots 0..FANOUT-2 hold leaves,
 * the last slot the next fan. Marking pushes a fan's leaves, then its next
 * fan, which it pops first: the queue grows by a fan's worth per tooth.
 * (A plain fan-out does not: its leaves drain before the next one.) */
static void add_comb(heap *h, heap_holds *hs, const char *name, int nfans)
{
	heap_ref next = 0, fan, leaf;
	for (int f = 0; f < nfans; f++) {
		OK(heap_alloc(h, hs, FANOUT, 0, &fan));
		for (uint32_t i = 0; i + 1 < FANOUT; i++) {
			OK(heap_alloc(h, hs, 1, 16, &leaf));
			OK(heap_set_ref(h, fan, i, leaf));
			OK(heap_release(h, hs, leaf));
		}
		OK(heap_set_ref(h, fan, FANOUT - 1, next));
		if (next)
			OK(heap_release(h, hs, next));
		next = fan;
	}
	OK(heap_root_set(h, name, strlen(name), next, NULL));
	OK(heap_release(h, hs, next));
}

/* One incremental cycle in small slices; returns the workbuf spans it
 * used, which mark termination has just moved to the free list. */
static size_t cycle_wbuf_spans(heap *h)
{
	struct heap_stats a = test_stats(h), b;
	heap_gc_begin(h);
	while (gc_slice(h, 0, 4096))
		;
	b = test_stats(h);
	assert_int_equal(b.wbuf_spans_busy, 0);
	size_t reused = b.wbuf_spans_reused - a.wbuf_spans_reused, fresh = b.wbuf_spans_alloc - a.wbuf_spans_alloc;
	/* getempty takes spans from the free list before the page heap */
	if (fresh)
		assert_int_equal(reused, a.wbuf_spans_free);
	assert_int_equal(b.wbuf_spans_free, a.wbuf_spans_free + fresh);
	return reused + fresh;
}

static void idle_until_done(heap *h)
{
	while (heap_idle(h, 10000000, NULL, NULL) == 0)
		;
}

static void workbufs_follow_current_heap(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, -1); /* only the cycles the test starts */
	heap_holds *hs = heap_holds_new(h);
	add_comb(h, hs, "steady", 1);
	size_t steady = cycle_wbuf_spans(h);
	idle_until_done(h);
	assert_int_equal(test_stats(h).wbuf_spans_free, 0);
	assert_true(steady >= 1);

	add_comb(h, hs, "peak", 500);
	size_t peak = cycle_wbuf_spans(h);
	assert_true(peak >= 50 * steady); /* the peak really needed more queue */

	/* Remember where the peak's workbuf spans are. */
	size_t *pages = malloc(peak * sizeof *pages), n = 0;
	for (struct list *l = h->wbuf_free.next; l != &h->wbuf_free; l = l->next)
		pages[n++] = container_of(l, struct span, link)->start;
	assert_int_equal(n, peak);

	OK(heap_root_set(h, "peak", 4, 0, NULL));
	/* The shrink cycle reuses free spans instead of taking new pages. */
	uint64_t fresh = test_stats(h).wbuf_spans_alloc;
	size_t shrunk = cycle_wbuf_spans(h);
	assert_int_equal(test_stats(h).wbuf_spans_alloc, fresh);
	assert_true(shrunk <= steady + 1);
	assert_int_equal(test_stats(h).wbuf_spans_free, peak); /* still held, for the sweeper */

	uint64_t freed = test_stats(h).wbuf_spans_freed;
	idle_until_done(h);
	struct heap_stats st = test_stats(h);
	assert_int_equal(st.wbuf_spans_free, 0);
	assert_int_equal(st.wbuf_spans_busy, 0);
	assert_int_equal(st.wbuf_spans_freed - freed, peak);
	assert_int_equal(h->pages_wbuf, 0);

	/* Back to what the steady heap alone uses. */
	assert_true(cycle_wbuf_spans(h) <= steady + 1);
	idle_until_done(h);

	/* The freed workbuf pages are reused for objects. */
	size_t want = h->pages_free * PAGE_SIZE / 64 + 1;
	heap_ref r;
	for (size_t i = 0; i < want; i++) {
		OK(heap_alloc(h, hs, 0, 56, &r));
		OK(heap_release(h, hs, r));
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(span_of_page(h, pages[i])->state, SPAN_OBJ);
	free(pages);
	heap_free(h);
}

/* The idle sweeper frees at most 64 spans per batch, stops early when
 * preempted, and never while a cycle is running. */
static int preempt_calls;
static bool always_preempt(void *arg)
{
	(void)arg;
	preempt_calls++;
	return true;
}

static void freeing_is_batched_and_preemptible(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h);
	add_comb(h, hs, "comb", 800);
	size_t spans = cycle_wbuf_spans(h);
	assert_true(spans > 64);
	while (sweep_one(h, SWEEP_IDLE))
		;
	/* Not while a cycle runs. */
	heap_gc_begin(h);
	assert_int_equal(wbuf_free_some(h, 0, NULL, NULL), 0);
	while (gc_slice(h, 0, UINT64_MAX))
		;
	spans = test_stats(h).wbuf_spans_free;
	while (sweep_one(h, SWEEP_IDLE))
		;
	/* Unpreempted: exactly one batch of 64. */
	assert_int_equal(wbuf_free_some(h, 0, NULL, NULL), 1);
	assert_int_equal(test_stats(h).wbuf_spans_free, spans - 64);
	/* Preempted: stops at the first check, after 16. */
	size_t before = test_stats(h).wbuf_spans_free;
	preempt_calls = 0;
	assert_int_equal(heap_idle(h, 1000000000, always_preempt, NULL), 0);
	assert_int_equal(before - test_stats(h).wbuf_spans_free, 16);
	assert_true(preempt_calls >= 1);
	heap_free(h);
}

/* The queue's hysteresis: a worker pushing and popping around a workbuf
 * boundary stays off the shared full list. */
static void gcwork_hysteresis(void **state)
{
	(void)state;
	heap *h = test_heap();
	for (uintptr_t i = 1; i <= WBUF_NOBJ; i++)
		gcw_put(h, &h->gcw, i * 8);
	for (int round = 0; round < 100; round++) {
		gcw_put(h, &h->gcw, 8);
		assert_int_equal(gcw_tryget(h, &h->gcw), 8);
		gcw_put(h, &h->gcw, 16);
		gcw_put(h, &h->gcw, 24);
		assert_int_equal(gcw_tryget(h, &h->gcw), 24);
		assert_int_equal(gcw_tryget(h, &h->gcw), 16);
		assert_int_equal(atomic_load(&h->work_full.head) & 0xffffffffu, 0);
	}
	for (uintptr_t i = WBUF_NOBJ; i >= 1; i--)
		assert_int_equal(gcw_tryget(h, &h->gcw), i * 8);
	assert_int_equal(gcw_tryget(h, &h->gcw), 0);
	assert_true(gcw_empty(h));
	gcw_dispose(h, &h->gcw);
	wbuf_prepare_free(h);
	assert_int_equal(test_stats(h).wbuf_spans_free, 1);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(workbufs_follow_current_heap),
		cmocka_unit_test(freeing_is_batched_and_preemptible),
		cmocka_unit_test(gcwork_hysteresis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
