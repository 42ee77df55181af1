/*
 * test_ref.c - handle validation: a handle reaches its own live object or
 * nothing. Stale handles (object collected, slot reused any number of
 * times) and forged ones (random, interior, pointing at client-written
 * bytes dressed as a header, at free pages, at workbufs, past the arena)
 * are refused with HEAP_EBADREF; ranges outside an object with ERANGE.
 * Where tags come from, and read-only handles, are test_handle.c's.
 * Objects made with their initial data hold it, and zeroes after it;
 * objects made with initial references hold those, each checked first.
 * heap_cas_ref checks as heap_set_ref does, then compares.
 */
#include "testutil.h"

static heap_ref make_ref(heap *h, const void *p, uint32_t tag)
{
	return (heap_ref)tag << 32 | (heap_ref)(((const uint8_t *)p - h->base) >> 3);
}

static void null_and_garbage_refused(void **state)
{
	(void)state;
	struct rng r = test_rng("null_and_garbage_refused");
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref live, out;
	OK(heap_alloc(h, hs, 2, 16, &live));
	uint8_t buf[16];
	assert_int_equal(heap_read(h, 0, 0, buf, 1), HEAP_EBADREF);
	assert_int_equal(heap_set_ref(h, live, 0, 0), HEAP_OK);
	assert_int_equal(heap_get_ref(h, 0, 0, NULL, &out), HEAP_EBADREF);
	assert_int_equal(heap_hold(h, hs, 0), HEAP_EBADREF);
	/* the right place with tag 0, and with any wrong tag */
	assert_int_equal(heap_read(h, live & 0xffffffffu, 0, buf, 1), HEAP_EBADREF);
	assert_int_equal(heap_read(h, live ^ ((heap_ref)1 << 40), 0, buf, 1), HEAP_EBADREF);
	/* a million random handles: none may pass */
	for (int i = 0; i < 1000000; i++) {
		heap_ref f = rng_next(&r);
		if (f == live)
			continue;
		assert_int_equal(heap_read(h, f, 0, buf, 1), HEAP_EBADREF);
	}
	/* places past the grown arena and at its very end */
	assert_int_equal(heap_read(h, (heap_ref)0x12345678 << 32 | 0xffffffffu, 0, buf, 1), HEAP_EBADREF);
	assert_int_equal(heap_read(h, make_ref(h, h->base + (h->grown << PAGE_SHIFT), ref_tag(live)), 0, buf, 1),
			 HEAP_EBADREF);
	heap_free(h);
}

static void interior_and_fake_headers_refused(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref obj;
	OK(heap_alloc(h, hs, 1, 200, &obj));
	struct obj o;
	OK(obj_resolve(h, obj, &o));
	/* a client writes bytes shaped like a header with a known tag... */
	uint32_t tag = 0x1234567;
	uint64_t fake[2] = {hdr_make(tag, 4000, 60000), hdr_make(tag, 4000, 60000)};
	for (uint32_t off = 0; off + sizeof fake <= 200; off += 8)
		OK(heap_write(h, obj, off, fake, sizeof fake));
	/* ...then forges handles to every 8-byte place inside the object */
	for (uint32_t off = 8; off < o.s->elemsize; off += 8) {
		uint8_t b;
		assert_int_equal(heap_read(h, make_ref(h, o.p + off, tag), 0, &b, 1), HEAP_EBADREF);
		assert_int_equal(heap_read(h, make_ref(h, o.p + off, ref_tag(obj)), 0, &b, 1), HEAP_EBADREF);
	}
	/* the next slot of the span is free: its handle does not pass either */
	uint8_t b;
	assert_int_equal(heap_read(h, make_ref(h, o.p + o.s->elemsize, 0), 0, &b, 1), HEAP_EBADREF);
	heap_free(h);
}

static void free_pages_and_workbufs_refused(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref big;
	OK(heap_alloc(h, hs, 0, 100000, &big));
	struct obj o;
	OK(obj_resolve(h, big, &o));
	uint8_t *p = o.p;
	uint32_t tag = ref_tag(big);
	OK(heap_release(h, hs, big));
	heap_gc(h);
	uint8_t b;
	assert_int_equal(heap_read(h, big, 0, &b, 1), HEAP_EBADREF); /* its pages are free now */
	for (size_t off = 0; off < 100000; off += 4096)
		assert_int_equal(heap_read(h, make_ref(h, p + off, tag), 0, &b, 1), HEAP_EBADREF);
	struct span *w = pages_alloc(h, WBUF_SPAN_PAGES, PAGES_WBUF);
	uint64_t *q = (uint64_t *)span_base(h, w);
	q[0] = hdr_make(77, 0, 100);
	assert_int_equal(heap_read(h, make_ref(h, q, 77), 0, &b, 1), HEAP_EBADREF);
	heap_free(h);
}

/* Collected objects' handles are refused, even once their slots hold new
 * objects, and the new objects' handles pass. */
static void stale_refused_after_reuse(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	enum { N = 4096 };
	static heap_ref old[N], fresh[N];
	for (int i = 0; i < N; i++)
		OK(heap_alloc(h, hs, 1, 24, &old[i]));
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < N; i++)
			OK(heap_release(h, hs, old[i]));
		heap_gc(h);
		for (int i = 0; i < N; i++)
			OK(heap_alloc(h, hs, 1, 24, &fresh[i]));
		int reused = 0;
		for (int i = 0; i < N; i++) {
			uint8_t b;
			assert_int_equal(heap_read(h, old[i], 0, &b, 1), HEAP_EBADREF);
			assert_int_equal(heap_set_ref(h, fresh[i], 0, old[i]), HEAP_EBADREF);
			OK(heap_read(h, fresh[i], 0, &b, 1));
			for (int j = 0; j < N; j++)
				if (ref_place(fresh[j]) == ref_place(old[i])) {
					reused++;
					break;
				}
		}
		assert_true(reused > N / 2); /* the test really exercises slot reuse */
		memcpy(old, fresh, sizeof old);
	}
	heap_free(h);
}

/* One slot reused many times: each tag differs from the one before, so
 * the previous occupant's handle always fails; an older one passes with
 * probability 2^-32 (random tags, handle.c), so that among these 20,000
 * none does, but for a chance of 5 in a million. */
static void one_slot_many_generations(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	enum { GENS = 20000 };
	heap_ref *gen = malloc(GENS * sizeof *gen);
	OK(heap_alloc(h, hs, 0, 8, &gen[0]));
	for (int g = 1; g < GENS; g++) {
		OK(heap_release(h, hs, gen[g - 1]));
		heap_gc(h);
		OK(heap_alloc(h, hs, 0, 8, &gen[g]));
		assert_int_equal(ref_place(gen[g]), ref_place(gen[0])); /* the same slot every time */
		assert_int_not_equal(ref_tag(gen[g]), ref_tag(gen[g - 1]));
	}
	uint8_t b;
	for (int g = 0; g + 1 < GENS; g++)
		assert_int_equal(heap_read(h, gen[g], 0, &b, 1), HEAP_EBADREF);
	OK(heap_read(h, gen[GENS - 1], 0, &b, 1));
	free(gen);
	heap_free(h);
}

/* Between mark termination and its sweep, an unmarked object is garbage:
 * its handle must not pass, or a client could store it somewhere reachable
 * and read freed memory once the sweeper runs. */
static void unmarked_in_unswept_span_refused(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref keep, drop, out;
	OK(heap_alloc(h, hs, 1, 8, &keep));
	OK(heap_alloc(h, hs, 1, 8, &drop));
	OK(heap_release(h, hs, drop));
	heap_gc_begin(h);
	while (gc_slice(h, 0, 64))
		;
	assert_true(h->sweep_pending > 0); /* marked, not yet swept */
	assert_int_equal(heap_set_ref(h, keep, 0, drop), HEAP_EBADREF);
	assert_int_equal(heap_hold(h, hs, drop), HEAP_EBADREF);
	OK(heap_get_ref(h, keep, 0, NULL, &out));
	assert_int_equal(out, 0);
	uint8_t b;
	OK(heap_read(h, keep, 0, &b, 1));
	heap_free(h);
}

static void ranges_checked(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, b, out;
	OK(heap_alloc(h, hs, 3, 10, &a));
	OK(heap_alloc(h, hs, 0, 0, &b));
	uint8_t buf[16] = {0};
	OK(heap_write(h, a, 0, buf, 10));
	OK(heap_write(h, a, 10, buf, 0));
	assert_int_equal(heap_write(h, a, 1, buf, 10), HEAP_ERANGE);
	assert_int_equal(heap_read(h, a, 11, buf, 0), HEAP_ERANGE);
	assert_int_equal(heap_read(h, a, UINT32_MAX, buf, 2), HEAP_ERANGE); /* no wrap-around */
	assert_int_equal(heap_read(h, a, 2, buf, UINT32_MAX), HEAP_ERANGE);
	assert_int_equal(heap_set_ref(h, a, 3, b), HEAP_ERANGE);
	assert_int_equal(heap_get_ref(h, a, 3, NULL, &out), HEAP_ERANGE);
	assert_int_equal(heap_set_ref(h, b, 0, a), HEAP_ERANGE);
	OK(heap_set_ref(h, a, 2, b));
	OK(heap_get_ref(h, a, 2, NULL, &out));
	assert_int_equal(out, b);
	uint32_t nr, nb;
	OK(heap_object_size(h, a, &nr, &nb));
	assert_int_equal(nr, 3);
	assert_int_equal(nb, 10);
	heap_free(h);
}

static void alloc_into_checks_its_target(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, b, out, stale;
	OK(heap_alloc(h, hs, 2, 0, &a));
	OK(heap_alloc(h, hs, 1, 0, &stale));
	OK(heap_release(h, hs, stale));
	heap_gc(h);
	assert_int_equal(heap_alloc_into(h, 0, 0, 1, 8, &b), HEAP_EBADREF);
	assert_int_equal(heap_alloc_into(h, stale, 0, 1, 8, &b), HEAP_EBADREF);
	assert_int_equal(heap_alloc_into(h, a, 2, 1, 8, &b), HEAP_ERANGE);
	OK(heap_alloc_into(h, a, 1, 1, 8, &b));
	OK(heap_get_ref(h, a, 1, NULL, &out));
	assert_true(out == b);
	assert_int_equal(heap_holds_count(hs), 1); /* not held: reachable through a */
	heap_gc(h);
	OK(heap_read(h, b, 0, &(uint64_t){0}, 8));
	OK(heap_release(h, hs, a));
	heap_gc(h);
	assert_int_equal(heap_read(h, b, 0, &(uint64_t){0}, 8), HEAP_EBADREF);
	assert_int_equal(test_stats(h).heap_objects, 0);
	heap_free(h);
}

/* heap_cas_ref: obj, slot and val are checked as heap_set_ref checks
 * them, before the slot is compared; then a swap exactly when the slot
 * holds expected (its right included), and *was what it held either way.
 * A stale expected never matches; the object swapped out, unreachable,
 * is collected, the one swapped in is not. */
static void cas_ref_checks_then_compares(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, b, c, stale, ro, was = 7;
	OK(heap_alloc(h, hs, 2, 0, &a));
	OK(heap_alloc(h, NULL, 0, 8, &b));
	OK(heap_alloc(h, hs, 0, 8, &c));
	OK(heap_alloc(h, hs, 1, 0, &stale));
	OK(heap_release(h, hs, stale));
	OK(heap_set_ref(h, a, 0, b));
	heap_gc(h);
	OK(heap_ref_readonly(h, a, &ro));
	assert_int_equal(heap_cas_ref(h, 0, 0, b, c, &was), HEAP_EBADREF);
	assert_int_equal(heap_cas_ref(h, stale, 0, 0, c, &was), HEAP_EBADREF);
	assert_int_equal(heap_cas_ref(h, a, 2, b, c, &was), HEAP_ERANGE);
	assert_int_equal(heap_cas_ref(h, a, 0, b, stale, &was), HEAP_EBADREF);
	assert_int_equal(heap_cas_ref(h, ro, 0, b, c, &was), HEAP_EPERM);
	assert_true(was == 7);  /* nothing shown before the checks pass */
	assert_int_equal(heap_cas_ref(h, a, 0, stale, c, &was), HEAP_ECONFLICT);
	assert_true(was == b);
	OK(heap_ref_readonly(h, b, &ro));
	assert_int_equal(heap_cas_ref(h, a, 0, ro, c, &was), HEAP_ECONFLICT);  /* another handle */
	assert_int_equal(heap_cas_ref(h, a, 1, b, c, &was), HEAP_ECONFLICT);
	assert_true(was == 0);
	OK(heap_cas_ref(h, a, 0, b, c, &was));
	assert_true(was == b);
	OK(heap_get_ref(h, a, 0, NULL, &was));
	assert_true(was == c);
	OK(heap_release(h, hs, c));
	heap_gc(h);
	assert_int_equal(heap_read(h, b, 0, &(uint64_t){0}, 8), HEAP_EBADREF);
	OK(heap_read(h, c, 0, &(uint64_t){0}, 8));
	OK(heap_ref_readonly(h, c, &ro));
	OK(heap_cas_ref(h, a, 1, 0, ro, &was));  /* stored as it is, right included */
	OK(heap_get_ref(h, a, 1, NULL, &was));
	assert_true(was == ro);
	heap_free(h);
}

/* heap_alloc_init and heap_alloc_into_init: the data given, then zeroes,
 * in memory that held other objects' bytes; slots empty; a length past
 * nbytes refused with nothing allocated. */
static void alloc_init_copies_data(void **state)
{
	(void)state;
	enum { N = 2000, NB = 40, LEN = 13, BIG = 100000 };
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref r[N], slot, parent, big;
	uint8_t dirty[NB], init[BIG], buf[BIG];
	memset(dirty, 0xab, sizeof dirty);
	for (int i = 0; i < BIG; i++)
		init[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < N; i++) {
		OK(heap_alloc(h, hs, 3, NB, &r[i]));
		OK(heap_write(h, r[i], 0, dirty, NB));
		OK(heap_set_ref(h, r[i], 2, r[0]));
	}
	for (int i = 0; i < N; i++)
		OK(heap_release(h, hs, r[i]));
	heap_gc(h);
	OK(heap_alloc(h, hs, 1, 0, &parent));
	for (int i = 0; i < N; i++) {
		if (i % 2)
			OK(heap_alloc_init(h, hs, 3, NB, init + i, LEN, &r[i]));
		else
			OK(heap_alloc_into_init(h, parent, 0, 3, NB, init + i, LEN, &r[i]));
		OK(heap_read(h, r[i], 0, buf, NB));
		assert_memory_equal(buf, init + i, LEN);
		for (int j = LEN; j < NB; j++)
			assert_int_equal(buf[j], 0);
		OK(heap_get_ref(h, r[i], 2, NULL, &slot));
		assert_true(slot == 0);
		if (i % 2 == 0) {
			OK(heap_get_ref(h, parent, 0, NULL, &slot));
			assert_true(slot == r[i]);
		}
	}
	OK(heap_alloc_init(h, hs, 0, BIG, init, BIG / 2, &big));
	OK(heap_read(h, big, 0, buf, BIG));
	assert_memory_equal(buf, init, BIG / 2);
	for (int j = BIG / 2; j < BIG; j++)
		assert_int_equal(buf[j], 0);

	uint64_t objects = test_stats(h).heap_objects;
	heap_ref none = 0;
	assert_int_equal(heap_alloc_init(h, hs, 0, 8, init, 9, &none), HEAP_ERANGE);
	assert_int_equal(heap_alloc_into_init(h, parent, 0, 0, 8, init, 9, &none), HEAP_ERANGE);
	assert_int_equal(heap_alloc_into_init(h, parent, 1, 0, 8, init, 8, &none), HEAP_ERANGE);
	assert_int_equal(heap_alloc_into_init(h, 0, 0, 0, 8, init, 8, &none), HEAP_EBADREF);
	assert_true(none == 0);
	assert_int_equal(test_stats(h).heap_objects, objects);
	heap_free(h);
}

/* heap_alloc_refs: the values given in the first slots, the rest empty;
 * a dead, forged or out-of-range value refused with nothing allocated; a
 * value whose only other root goes away in the middle of marking lives on
 * through the new (black) object, as the insertion barrier must ensure. */
static void alloc_refs_checks_its_values(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, b, dead, obj, out, none = 0;
	OK(heap_alloc(h, hs, 0, 8, &a));
	OK(heap_alloc(h, hs, 0, 8, &b));
	OK(heap_alloc(h, hs, 0, 8, &dead));
	OK(heap_release(h, hs, dead));
	heap_gc(h);

	OK(heap_alloc_refs(h, hs, 4, 16, (heap_ref[]){a, 0, b}, 3, &obj));
	heap_ref want[4] = {a, 0, b, 0};
	for (uint32_t i = 0; i < 4; i++) {
		OK(heap_get_ref(h, obj, i, NULL, &out));
		assert_true(out == want[i]);
	}
	OK(heap_alloc_refs(h, hs, 2, 0, NULL, 0, &out));

	uint64_t objects = test_stats(h).heap_objects;
	assert_int_equal(heap_alloc_refs(h, hs, 2, 8, (heap_ref[]){a, dead}, 2, &none), HEAP_EBADREF);
	assert_int_equal(heap_alloc_refs(h, hs, 2, 8, (heap_ref[]){a ^ 1}, 1, &none), HEAP_EBADREF);
	assert_int_equal(heap_alloc_refs(h, hs, 1, 8, (heap_ref[]){a, b}, 2, &none), HEAP_ERANGE);
	assert_true(none == 0);
	assert_int_equal(test_stats(h).heap_objects, objects);
	assert_int_equal(heap_holds_count(hs), 4);

	/* c is reachable only from p, which the first slice of marking greys
	 * without scanning it. The new (black) object takes c, then p lets go
	 * of it (no barrier on a deletion): c lives only if the allocation
	 * shaded it. */
	heap_ref p, c, holder;
	OK(heap_alloc(h, hs, 1, 0, &p));
	OK(heap_alloc_into(h, p, 0, 0, 8, &c));
	heap_gc(h);
	heap_gc_begin(h);
	gc_slice(h, 0, 1);
	assert_true(heap_gc_active(h));
	OK(heap_alloc_refs(h, hs, 1, 0, &c, 1, &holder));
	OK(heap_set_ref(h, p, 0, 0));
	while (gc_slice(h, 0, 64))
		;
	uint8_t byte;
	OK(heap_read(h, c, 0, &byte, 1));
	heap_gc(h);
	OK(heap_get_ref(h, holder, 0, NULL, &out));
	assert_true(out == c);
	OK(heap_read(h, c, 0, &byte, 1));
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(null_and_garbage_refused),
		cmocka_unit_test(interior_and_fake_headers_refused),
		cmocka_unit_test(free_pages_and_workbufs_refused),
		cmocka_unit_test(stale_refused_after_reuse),
		cmocka_unit_test(one_slot_many_generations),
		cmocka_unit_test(unmarked_in_unswept_span_refused),
		cmocka_unit_test(ranges_checked),
		cmocka_unit_test(alloc_into_checks_its_target),
		cmocka_unit_test(cas_ref_checks_then_compares),
		cmocka_unit_test(alloc_init_copies_data),
		cmocka_unit_test(alloc_refs_checks_its_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
