/*
 * test_scavenge.c - free pages going back to the OS.
 *
 * mincore() is the judge: a released page must not be resident, whatever
 * the heap's own counters say, and heap_released must agree with it.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "../sanitizers.h"
#include "testutil.h"

/* Pages of [p, p + len) that are resident. */
static size_t resident_pages(const void *p, size_t len)
{
	size_t os = (size_t)sysconf(_SC_PAGESIZE), n = (len + os - 1) / os, count = 0;
	unsigned char *vec = malloc(n);
	assert_int_equal(mincore((void *)p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/* Resident bytes in the heap's free runs, and their total size. */
static void free_run_residency(heap *h, size_t *resident, size_t *total)
{
	*resident = *total = 0;
	for (size_t p = 0; p < h->grown;) {
		struct span *s = span_of_page(h, p);
		if (s->state == SPAN_FREE) {
			*resident += resident_pages(span_base(h, s), (size_t)s->npages << PAGE_SHIFT) *
				     (size_t)sysconf(_SC_PAGESIZE);
			*total += (size_t)s->npages << PAGE_SHIFT;
		}
		p += s->npages;
	}
}

/* Allocates about bytes of small garbage (written, so it is resident). */
static void make_garbage(heap *h, heap_holds *hs, size_t bytes)
{
	heap_ref r;
	for (size_t i = 0; i < bytes / 256; i++) {
		OK(heap_alloc(h, hs, 2, 232, &r));
		OK(heap_write(h, r, 0, &i, sizeof i));
		OK(heap_release(h, hs, r));
	}
}

static void free_os_memory_releases_everything(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h);
	heap_ref keep;
	OK(heap_alloc(h, hs, 0, 1000, &keep));
	long rss0 = test_rss_kib();
	make_garbage(h, hs, 128 * MIB);
	long rss_peak = test_rss_kib();
	assert_true(rss_peak - rss0 > 100 * 1024);

	uint64_t calls = test_stats(h).scav_madvise_calls;
	heap_free_os_memory(h);
	struct heap_stats st = test_stats(h);
	assert_int_equal(st.heap_released, st.heap_idle);
	assert_true(st.heap_idle > 120 * MIB);
	size_t resident, total;
	free_run_residency(h, &resident, &total);
	assert_int_equal(total, st.heap_idle);
	assert_int_equal(resident, 0);
	/* Coalesced runs take few calls: far fewer than one per span. */
	assert_true(st.scav_madvise_calls - calls < 64);
	if (!UNDER_TSAN)  /* its shadow of the released pages stays */
		assert_true(test_rss_kib() - rss0 < 8 * 1024);

	/* The heap still works, and released memory reads as zero. */
	uint8_t b = 1;
	OK(heap_read(h, keep, 999, &b, 1));
	make_garbage(h, hs, 16 * MIB);
	heap_ref big;
	OK(heap_alloc(h, hs, 0, 4 * MIB, &big));
	for (uint32_t off = 0; off < 4 * MIB; off += 4096) {
		OK(heap_read(h, big, off, &b, 1));
		assert_int_equal(b, 0);
	}
	heap_free(h);
}

/* heap_release_all returns every free page at once, with no collection;
 * heap_swept says when a cycle's garbage is all freed. */
static void release_all_without_collecting(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h);
	make_garbage(h, hs, 64 * MIB);
	heap_gc_begin(h);
	while (heap_gc_slice(h, 1000000))
		;
	assert_false(heap_swept(h));
	uint64_t cycles = test_stats(h).num_gc;
	while (!heap_swept(h))
		heap_idle(h, 1000, NULL, NULL);
	assert_int_equal(test_stats(h).heap_objects, 0);
	heap_release_all(h);
	struct heap_stats st = test_stats(h);
	assert_int_equal(st.num_gc, cycles);
	assert_int_equal(st.heap_released, st.heap_idle);
	assert_int_equal(st.wbuf_spans_free, 0);
	size_t resident, total;
	free_run_residency(h, &resident, &total);
	assert_int_equal(resident, 0);
	heap_free(h);
}

/* Idle time keeps retained memory within 10% above the goal, then, once
 * nothing has been allocated for release_delay_ns, returns the rest. */
static void idle_scavenger_paces_then_releases(void **state)
{
	(void)state;
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.gc_percent = -1;
	cfg.release_delay_ns = 200000000; /* 0.2 s */
	heap *h = heap_new(&cfg);
	heap_holds *hs = heap_holds_new(h);
	heap_ref keep;
	OK(heap_alloc(h, hs, 0, 8 * MIB, &keep));
	make_garbage(h, hs, 128 * MIB);
	cfg.gc_percent = 100;
	assert_int_equal(heap_reconfigure(h, &cfg), 0);
	heap_gc(h);
	struct heap_stats st = test_stats(h);
	uint64_t retained = st.heap_inuse + st.heap_idle - st.heap_released;
	assert_true(retained > st.next_gc + st.next_gc / 10);

	uint64_t next = heap_idle(h, 1000000000, NULL, NULL);
	st = test_stats(h);
	retained = st.heap_inuse + st.heap_idle - st.heap_released;
	assert_true(retained <= st.next_gc + st.next_gc / 10);
	assert_true(st.heap_released < st.heap_idle); /* some free memory kept warm */
	assert_true(next > 0 && next <= cfg.release_delay_ns);

	struct timespec ts = {0, (long)next};
	nanosleep(&ts, NULL);
	assert_int_equal(heap_idle(h, 1000000000, NULL, NULL), HEAP_IDLE_NONE);
	st = test_stats(h);
	assert_int_equal(st.heap_released, st.heap_idle);
	size_t resident, total;
	free_run_residency(h, &resident, &total);
	assert_int_equal(resident, 0);
	heap_free(h);
}

/* An allocation ends the quiet period: the delay starts over. */
static void allocation_restarts_release_delay(void **state)
{
	(void)state;
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.release_delay_ns = 50000000;
	heap *h = heap_new(&cfg);
	heap_holds *hs = heap_holds_new(h);
	make_garbage(h, hs, 32 * MIB);
	heap_gc(h);
	uint64_t next = heap_idle(h, 1000000000, NULL, NULL);
	assert_true(next != HEAP_IDLE_NONE && next > 0);
	struct timespec ts = {0, (long)next};
	nanosleep(&ts, NULL);
	make_garbage(h, hs, MIB); /* activity */
	heap_gc(h);
	next = heap_idle(h, 1000000000, NULL, NULL);
	assert_true(next != HEAP_IDLE_NONE && next > 0);
	struct heap_stats st = test_stats(h);
	assert_true(st.heap_released < st.heap_idle);
	heap_free(h);
}

/* Every byte of [p, p + len) is zero. */
static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A large object reads as zero whatever its pages held, and is zeroed only
 * where they are backed: on released pages it costs no page faults, so it
 * leaves them released (Go's needzero, per page). */
static void large_objects_zero_only_backed_pages(void **state)
{
	(void)state;
	enum { BIG = 16 * MIB };
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, b;
	struct obj o;
	OK(heap_alloc(h, hs, 0, BIG, &a));
	OK(obj_resolve(h, a, &o));
	uint32_t first = o.s->start;
	memset(o.p + HDR_SIZE, 0xa5, BIG);
	OK(heap_release(h, hs, a));
	heap_gc(h);
	/* On the same, dirty pages: zeroed. */
	OK(heap_alloc(h, hs, 0, BIG, &b));
	OK(obj_resolve(h, b, &o));
	assert_int_equal(o.s->start, first);
	assert_true(all_zero(o.p + HDR_SIZE, BIG));
	memset(o.p + HDR_SIZE, 0xa5, BIG);
	OK(heap_release(h, hs, b));
	/* Partly released (one scavenger step: the run's last 4 MiB): the
	 * released part is left alone, the rest zeroed, all reads zero. */
	heap_gc(h);
	assert_false(heap_release_step(h, 1));
	size_t os_pages = BIG / (size_t)sysconf(_SC_PAGESIZE), before = resident_pages(o.p, BIG);
	assert_true(before < os_pages - 256);
	OK(heap_alloc(h, hs, 0, BIG, &b));
	OK(obj_resolve(h, b, &o));
	assert_int_equal(o.s->start, first);
	assert_true(resident_pages(o.p, BIG) <= before + 1);
	assert_true(all_zero(o.p + HDR_SIZE, BIG));
	heap_free(h);
}

/* heap_release_step() does heap_release_all()'s work in steps. */
static void release_in_steps(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)1 << 30, -1);
	heap_holds *hs = heap_holds_new(h);
	make_garbage(h, hs, 64 * MIB);
	heap_gc(h);
	unsigned steps = 1;
	while (!heap_release_step(h, 1000))  /* 1 us: one madvise per step */
		steps++;
	assert_true(steps > 1);
	struct heap_stats st = test_stats(h);
	assert_int_equal(st.heap_released, st.heap_idle);
	size_t resident, total;
	free_run_residency(h, &resident, &total);
	assert_int_equal(resident, 0);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(free_os_memory_releases_everything),
		cmocka_unit_test(release_all_without_collecting),
		cmocka_unit_test(idle_scavenger_paces_then_releases),
		cmocka_unit_test(allocation_restarts_release_delay),
		cmocka_unit_test(large_objects_zero_only_backed_pages),
		cmocka_unit_test(release_in_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
