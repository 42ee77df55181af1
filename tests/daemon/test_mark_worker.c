/*
 * test_mark_worker.c - heapd's background mark worker beside the request
 * loop: a client keeps replacing a table of linked objects while cycles
 * run, the worker marks on the other CPU, and nothing reachable is lost.
 *
 * Under TSan (CI's build-tsan runs this test against a TSan-built heapd),
 * a data race between the worker and the loop makes heapd exit with
 * TSan's status 66 at the latest when it stops, and daemon_stop fails on
 * any status but 0. Short slices leave most of each cycle's marking
 * queued for the worker; how much it does is printed, not asserted: it
 * runs at idle priority, so on a machine busy with other tests it may
 * get no CPU at all (test_gc_model's worker_short_of_workbufs waits for
 * it instead).
 */
#include "daemonutil.h"

enum {
	KEYS = 16384,    /* slots of the table, one object each */
	ROUNDS = 12,     /* each replaces every object of the table */
	NREFS = 2,       /* slot 0 links to the next key's object */
	NBYTES = 64,
};

/* What key k's object of round n holds. */
static uint64_t stamp(int n, int k)
{
	return (uint64_t)n << 32 | (uint64_t)k;
}

/* One round: KEYS alloc_intos into the table, pipelined, then each new
 * object linked to the next key's, pipelined. The old round becomes
 * garbage while the cycle started by an earlier round may be marking. */
static void round_of(heapd *h, heapd_ref table, int n, heapd_ref *objs)
{
	heapd_reply r;
	for (int k = 0; k < KEYS; k++) {
		uint64_t v = stamp(n, k);
		assert_int_equal(heapd_append_alloc_into(h, table, (uint32_t)k, NREFS, NBYTES, &v, sizeof v), 0);
	}
	for (int k = 0; k < KEYS; k++) {
		assert_int_equal(heapd_get_reply(h, &r), 0);
		objs[k] = r.ref;
	}
	for (int k = 0; k < KEYS; k++)
		assert_int_equal(heapd_append_set_ref(h, objs[k], 0, objs[(k + 1) % KEYS]), 0);
	for (int k = 0; k < KEYS; k++)
		assert_int_equal(heapd_get_reply(h, &r), 0);
}

static void marks_beside_requests(void **state)
{
	(void)state;
	cpu_set_t all;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	struct daemon d;
	daemon_start(&d, "--gc-percent", "25", "--gc-slice-us", "10", NULL);
	heapd *h = client(&d);
	static heapd_ref objs[KEYS];
	heapd_ref table;
	assert_int_equal(heapd_alloc(h, KEYS, 0, &table), 0);
	assert_int_equal(heapd_root_set(h, "table", table), 0);
	assert_int_equal(heapd_release(h, table), 0);
	for (int n = 0; n < ROUNDS; n++)
		round_of(h, table, n, objs);

	heapd_stats *st = stats_of(h);
	print_message("# %llu cycles, %llu mark worker(s) marked for %.1f ms\n",
		      (unsigned long long)st->num_gc, (unsigned long long)st->mark_workers,
		      (double)st->mark_worker_ns / 1e6);
	assert_true(st->num_gc - st->num_forced_gc >= 5);
	assert_int_equal(st->mark_workers, CPU_COUNT(&all) >= 2);

	/* The last round, whole and linked, and nothing else. */
	assert_int_equal(heapd_gc(h), 0);
	for (int k = 0; k < KEYS; k++) {
		heapd_ref o, next;
		uint64_t v;
		assert_int_equal(heapd_get_ref(h, table, (uint32_t)k, &o), 0);
		assert_true(o == objs[k]);
		assert_int_equal(heapd_read(h, o, 0, &v, sizeof v), 0);
		assert_true(v == stamp(ROUNDS - 1, k));
		assert_int_equal(heapd_get_ref(h, o, 0, &next), 0);
		assert_true(next == objs[(k + 1) % KEYS]);
	}
	assert_int_equal(stats_of(h)->heap_objects, KEYS + 1);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(marks_beside_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
