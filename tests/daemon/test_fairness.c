/*
 * test_fairness.c - what one client makes the loop do, the others wait
 * for; these check that it is bounded by behaviour, not by timing (the
 * figures are bench/fairness's):
 *
 *   long_batch_yields          a batch of 32,766 large allocations runs
 *                              over many turns (gc_slice_us 1): another
 *                              client's requests are answered between
 *                              its ops
 *   failing_allocations_wait   64 pipelined allocations that cannot fit
 *                              each wait for an incremental collection
 *                              (none runs inside a request), then fail;
 *                              a bystander is served meanwhile
 *   full_heap_retry_succeeds   at the hard limit with garbage, an
 *                              allocation (alone, and inside a batch)
 *                              waits for the collection and succeeds
 */
#include "daemonutil.h"

#define MIB (1024u * 1024u)

/* Asks until root name exists (up to 60 s), with no pause between two
 * tries: each is answered in the loop's next iteration. */
static heapd_ref await_root(heapd *h, const char *name)
{
	heapd_ref r = 0;
	uint64_t until = mono_ns() + 60ull * 1000000000u;
	while (heapd_root_get(h, name, &r) == HEAPD_ENOTFOUND)
		assert_true(mono_ns() < until);
	assert_int_equal(heapd_errcode(h), 0);
	return r;
}

static void long_batch_yields(void **state)
{
	(void)state;
	struct daemon d;
	/* Turns of 1 us: every op of the batch below costs enough to look at
	 * the clock (4 MiB) and takes longer than that, so each turn runs one
	 * op, and the batch takes 65,535 turns, some hundreds of ms. */
	daemon_start(&d, "--gc-slice-us", "1", "--max-batch-ops", "65536", NULL);
	heapd *a = client(&d), *b = client(&d);
	heapd_batch *batch = heapd_batch_new();
	/* Marks its start with a root, then allocates and drops 4 MiB
	 * objects, then marks its end. */
	int first = heapd_batch_alloc(batch, 0, 8);
	heapd_batch_root_set(batch, "started", heapd_batch_result(first));
	for (int i = 0; i < 32766; i++)
		heapd_batch_release(batch, heapd_batch_result(heapd_batch_alloc(batch, 0, 4 * MIB)));
	heapd_batch_root_set(batch, "done", heapd_batch_result(first));
	assert_int_equal(heapd_batch_count(batch), 65535);
	assert_int_equal(heapd_append_batch(a, batch), 0);
	assert_int_equal(heapd_flush(a), 0);

	/* The other client sees the batch begin, and is answered while it
	 * runs: before its end. In one turn, as batches ran before, neither
	 * could be. */
	await_root(b, "started");
	assert_int_equal(heapd_ping(b, NULL), 0);
	heapd_ref r;
	assert_int_equal(heapd_root_get(b, "done", &r), HEAPD_ENOTFOUND);

	heapd_reply rep;
	assert_int_equal(heapd_get_reply(a, &rep), 0);
	assert_int_equal(heapd_batch_failed(batch), -1);
	assert_int_equal(heapd_root_get(b, "done", &r), 0);
	heapd_batch_free(batch);
	heapd_close(a);
	heapd_close(b);
	daemon_stop(&d);
}

/* Fills the heap with a rooted list of 64 KiB objects until an
 * allocation fails; returns how many it took. */
static int fill(heapd *h, const char *root)
{
	heapd_ref head = 0, node;
	int n = 0, err;
	while ((err = heapd_alloc(h, 1, 64 * 1024, &node)) == 0) {
		assert_int_equal(heapd_set_ref(h, node, 0, head), 0);
		assert_int_equal(heapd_root_set(h, root, node), 0);
		assert_int_equal(heapd_release(h, node), 0);
		head = node;
		n++;
	}
	assert_int_equal(err, HEAPD_ENOMEM);
	return n;
}

static void failing_allocations_wait(void **state)
{
	(void)state;
	enum { N = 64 };
	struct daemon d;
	daemon_start(&d, "--max-heap", "16M", NULL);
	heapd *a = client(&d), *b = client(&d);
	assert_true(fill(a, "list") > 100);
	heapd_stats before = *stats_of(b);

	for (int i = 0; i < N; i++)
		assert_int_equal(heapd_append_alloc(a, 0, 1 * MIB), 0);
	assert_int_equal(heapd_flush(a), 0);
	/* Served while they wait: with a full collection per failure, run
	 * in the loop, the bystander would be answered only after all 64. */
	assert_int_equal(heapd_ping(b, NULL), 0);
	heapd_stats *mid = stats_of(b);
	assert_true(mid->alloc_failures - before.alloc_failures < 2 * N);

	for (int i = 0; i < N; i++) {
		heapd_reply rep;
		assert_int_equal(heapd_get_reply(a, &rep), HEAPD_ENOMEM);
		assert_non_null(strstr(heapd_errmsg(a), "even after a collection"));
	}
	heapd_stats *after = stats_of(b);
	/* Each tried twice: once, then after the collection it waited for. */
	assert_int_equal(after->alloc_failures - before.alloc_failures, 2 * N);
	assert_true(after->forced_gc_for_limit - before.forced_gc_for_limit <= 2 * N);
	assert_true(after->forced_gc_for_limit > before.forced_gc_for_limit);
	assert_int_equal(after->num_forced_gc, before.num_forced_gc);
	heapd_close(a);
	heapd_close(b);
	daemon_stop(&d);
}

static void full_heap_retry_succeeds(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-heap", "16M", "--gc-percent", "off", NULL);
	heapd *a = client(&d);
	int n = fill(a, "list");
	/* Half the list becomes garbage; no collection has run since. */
	heapd_ref node;
	assert_int_equal(heapd_root_get(a, "list", &node), 0);
	for (int i = 0; i < n / 2; i++) {
		heapd_ref next;
		assert_int_equal(heapd_get_ref(a, node, 0, &next), 0);
		assert_int_equal(heapd_release(a, node), 0);
		node = next;
	}
	assert_int_equal(heapd_root_set(a, "list", node), 0);
	assert_int_equal(heapd_release(a, node), 0);
	uint64_t failures = stats_of(a)->alloc_failures;

	/* Alone: it fails once inside, waits, and succeeds. */
	heapd_ref r;
	assert_int_equal(heapd_alloc(a, 0, 1 * MIB, &r), 0);
	assert_int_equal(stats_of(a)->alloc_failures, failures + 1);

	/* In a batch: the op that found no room runs again after the
	 * collection, and the batch goes on. */
	assert_int_equal(heapd_root_set(a, "list", 0), 0);
	int m = fill(a, "list2");
	assert_true(m > 100);
	assert_int_equal(heapd_root_set(a, "list2", 0), 0);
	heapd_batch *batch = heapd_batch_new();
	for (int i = 0; i < 8; i++)
		heapd_batch_release(batch, heapd_batch_result(heapd_batch_alloc(batch, 0, 1 * MIB)));
	assert_int_equal(heapd_batch_exec(a, batch), 0);
	assert_true(stats_of(a)->alloc_failures > failures + 1);
	heapd_batch_free(batch);
	heapd_close(a);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(long_batch_yields),
		cmocka_unit_test(failing_allocations_wait),
		cmocka_unit_test(full_heap_retry_succeeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
