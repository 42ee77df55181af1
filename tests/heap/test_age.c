/*
 * test_age.c - objects' ages (age.c): collections survived, counted from
 * the first cycle whose marking begins after the object is made.
 *
 * The checks: an object held through N forced collections is N old, a new
 * one 0, small and large alike; an object made while a cycle marks is not
 * counted as surviving that cycle, one made before its marking began is;
 * an object made in a slot a collection freed starts at 0; the birth
 * stamps are where the span's bitmaps are, and gc_sys counts the table
 * of those in no tail; and
 * past twice AGE_MAX cycles, beyond what the stamps hold, ages saturate
 * at AGE_MAX instead of wrapping, while a younger object's stays exact.
 */
#include "testutil.h"

static uint32_t age_of(heap *h, heap_ref r)
{
	struct heap_object_info info;
	OK(heap_object_info(h, r, &info));
	return info.age;
}

static void ages_count_collections(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref old, large, young;
	OK(heap_alloc(h, hs, 2, 8, &old));
	OK(heap_alloc(h, hs, 0, 100000, &large));
	assert_int_equal(age_of(h, old), 0);
	assert_int_equal(age_of(h, large), 0);
	for (uint32_t n = 1; n <= 20; n++) {
		heap_gc(h);
		assert_int_equal(age_of(h, old), n);
		assert_int_equal(age_of(h, large), n);
		OK(heap_alloc(h, hs, 1, 16, &young));
		assert_int_equal(age_of(h, young), 0);
	}
	heap_gc(h);
	assert_int_equal(age_of(h, young), 1);
	heap_holds_free(h, hs);
	heap_free(h);
}

/* Allocated black while marking: it was not looked at by that cycle, so
 * surviving it does not count; made during sweep termination, before the
 * cycle's marking, it does. The same ages before the sweeper stamps the
 * survivors (from the span's state and the first slot allocated while
 * marking), after it, and while the next cycle marks. */
static void ages_around_marking(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref old, sweepterm, marking;
	OK(heap_alloc(h, hs, 1, 8, &old));
	heap_gc(h);
	heap_gc_begin(h);
	assert_int_equal(h->phase, GC_SWEEPTERM);
	OK(heap_alloc(h, hs, 1, 8, &sweepterm));
	gc_slice(h, 0, 1);
	assert_int_equal(h->phase, GC_MARK);
	OK(heap_alloc(h, hs, 1, 8, &marking));
	assert_int_equal(age_of(h, old), 1);
	assert_int_equal(age_of(h, sweepterm), 0);
	assert_int_equal(age_of(h, marking), 0);
	while (gc_slice(h, 0, UINT64_MAX))
		;
	assert_int_equal(age_of(h, old), 2);
	assert_int_equal(age_of(h, sweepterm), 1);
	assert_int_equal(age_of(h, marking), 0);
	struct span *s = span_of_page(h, ref_place(marking) >> (PAGE_SHIFT - 3));
	assert_int_equal(s->sweepgen + 2, h->sweepgen);
	while (sweep_one(h, SWEEP_IDLE))
		;
	assert_int_equal(s->sweepgen, h->sweepgen);
	assert_int_equal(age_of(h, old), 2);
	assert_int_equal(age_of(h, sweepterm), 1);
	assert_int_equal(age_of(h, marking), 0);
	heap_ref swept;
	OK(heap_alloc(h, hs, 1, 8, &swept));
	assert_int_equal(age_of(h, swept), 0);
	heap_gc_begin(h);
	gc_slice(h, 0, 1);
	assert_int_equal(h->phase, GC_MARK);
	assert_int_equal(age_of(h, sweepterm), 1);
	assert_int_equal(age_of(h, marking), 0);
	assert_int_equal(age_of(h, swept), 0);
	while (gc_slice(h, 0, UINT64_MAX))
		;
	assert_int_equal(age_of(h, old), 3);
	assert_int_equal(age_of(h, sweepterm), 2);
	assert_int_equal(age_of(h, marking), 1);
	assert_int_equal(age_of(h, swept), 1);
	heap_gc(h);
	assert_int_equal(age_of(h, marking), 2);
	assert_int_equal(age_of(h, swept), 2);
	heap_holds_free(h, hs);
	heap_free(h);
}

/* Every other object of a span dies; the new objects fill their slots and
 * are 0, the survivors beside them 1. */
static void reused_slot_starts_at_zero(void **state)
{
	(void)state;
	enum { N = 200 };
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref r[N], n[N / 2];
	for (int i = 0; i < N; i++)
		OK(heap_alloc(h, hs, 1, 16, &r[i]));
	heap_gc(h);
	heap_gc(h);
	for (int i = 0; i < N; i += 2)
		OK(heap_release(h, hs, r[i]));
	heap_gc(h);
	int reused = 0;
	for (int i = 0; i < N / 2; i++) {
		OK(heap_alloc(h, hs, 1, 16, &n[i]));
		assert_int_equal(age_of(h, n[i]), 0);
		for (int j = 0; j < N; j += 2)
			reused += ref_place(n[i]) == ref_place(r[j]);
	}
	assert_true(reused > N / 4);
	for (int i = 1; i < N; i += 2)
		assert_int_equal(age_of(h, r[i]), 3);
	heap_holds_free(h, hs);
	heap_free(h);
}

/* A span's stamps are where its bitmaps are: past 64 objects in its tail,
 * after the last slot, else in the per-page table at its first page; and
 * gc_sys counts a page's entries of the table for each span of the latter
 * kind, until the sweeper frees it. */
static void stamps_beside_the_bitmaps(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref r;
	for (int i = 0; i < 20000; i++)
		OK(heap_alloc(h, hs, (uint32_t)i % 5, (uint32_t)i % 700, &r));
	size_t tail = 0, table = 0;
	for (size_t p = 0; p < h->grown; p++) {
		struct span *s = span_of_page(h, p);
		if (!s || s->start != p || s->state != SPAN_OBJ || !spc_sizeclass(s->spanclass))
			continue;
		const uint8_t *b = (const uint8_t *)s->u.obj.births, *base = span_base(h, s);
		if (s->nelems > 64) {
			tail++;
			assert_true(b >= base + (size_t)s->nelems * s->elemsize);
			assert_true(b + s->nelems * sizeof(birth_t) <= (const uint8_t *)s->allocbits);
			assert_true(b + s->nelems * sizeof(birth_t) <= (const uint8_t *)s->markbits);
		} else {
			table++;
			assert_ptr_equal(s->u.obj.births, &h->births_tab[p * BIRTHS_PER_PAGE]);
		}
	}
	assert_true(tail > 3 && table > 3);
	assert_int_equal(h->nspans_tab, table);
	uint64_t tables = (h->grown - h->pages_released) * (sizeof(struct span) + sizeof(uint32_t)) + h->grown / 8;
	assert_int_equal(test_stats(h).gc_sys, (uint64_t)h->pages_wbuf * PAGE_SIZE + tables +
						      (uint64_t)table * BIRTHS_PER_PAGE * sizeof(birth_t));
	heap_holds_free(h, hs);
	heap_gc(h);
	heap_gc(h);
	assert_int_equal(h->nspans_tab, 0);
	heap_free(h);
}

/* Stamps would fall a whole stamp range behind (256 cycles with 8-bit
 * ones) after as many collections: the sweeper's clamp keeps an old object
 * at AGE_MAX (small and large), never wrapping back to a small age, and
 * one made later exact. */
static void ages_saturate_past_the_stamps(void **state)
{
	(void)state;
	heap *h = test_heap_cfg(ARENA_CHUNK * 4, 100);
	heap_holds *hs = heap_holds_new(h);
	heap_ref old, large, later;
	OK(heap_alloc(h, hs, 1, 8, &old));
	OK(heap_alloc(h, hs, 0, 40000, &large));
	uint32_t total = 2 * (AGE_MAX + 1) + 300, later_at = total - AGE_MAX / 2, step = AGE_MAX / 30 + 1;
	for (uint32_t n = 1; n <= total; n++) {
		heap_gc(h);
		if (n == later_at)
			OK(heap_alloc(h, hs, 1, 8, &later));
		if (n % step == 0 || n == total) {
			uint32_t want = n < AGE_MAX ? n : AGE_MAX;
			assert_int_equal(age_of(h, old), want);
			assert_int_equal(age_of(h, large), want);
		}
	}
	assert_int_equal(age_of(h, later), total - later_at);
	heap_holds_free(h, hs);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ages_count_collections),
		cmocka_unit_test(ages_around_marking),
		cmocka_unit_test(reused_slot_starts_at_zero),
		cmocka_unit_test(stamps_beside_the_bitmaps),
		cmocka_unit_test(ages_saturate_past_the_stamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
