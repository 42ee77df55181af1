/*
 * test_sizeclass.c - the size class table and the arithmetic built on it.
 */
#include "testutil.h"

static void table_is_sound(void **state)
{
	(void)state;
	sc_init();
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		const struct sizeclass *sc = &sc_table[c];
		size_t span = (size_t)sc->npages * PAGE_SIZE;
		assert_int_equal(sc->size % 8, 0);
		if (c > 1)
			assert_true(sc->size > sc_table[c - 1].size);
		assert_true(sc->nelems >= 1);
		/* Objects and, past 64 of them, their birth stamps (in whole
		 * words) and two bitmaps in the tail fit the span. */
		size_t n = sc->nelems, more = n + 1;
		size_t tail = n > 64 ? (n * sizeof(birth_t) + 7) / 8 * 8 + 2 * 8 * (size_t)sc->bitwords : 0;
		assert_true(n * sc->size + tail <= span);
		assert_int_equal(sc->bitwords, (sc->nelems + 63) / 64);
		if (n > 64) {
			assert_int_equal(sc->births_off, span - tail);
			assert_true(sc->births_off >= n * sc->size);
		}
		/* No more than one more object could have fitted. */
		size_t more_tail = more > 64 ? (more * sizeof(birth_t) + 7) / 8 * 8 + 2 * 8 * ((more + 63) / 64) : 0;
		assert_true(more * sc->size + more_tail > span);
	}
	assert_int_equal(sc_table[NUM_SIZE_CLASSES - 1].size, MAX_SMALL_SIZE);
}

static void divmul_is_exact(void **state)
{
	(void)state;
	sc_init();
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		const struct sizeclass *sc = &sc_table[c];
		size_t span = (size_t)sc->npages * PAGE_SIZE;
		for (size_t off = 0; off < span; off += 8)
			assert_int_equal((uint32_t)((off * sc->divmul) >> 32), off / sc->size);
	}
}

static void class_of_size_is_smallest_fit(void **state)
{
	(void)state;
	sc_init();
	for (size_t n = 1; n <= MAX_SMALL_SIZE; n++) {
		unsigned c = sc_of(n);
		assert_true(c >= 1 && c < NUM_SIZE_CLASSES);
		assert_true(sc_table[c].size >= n);
		if (c > 1)
			assert_true(sc_table[c - 1].size < n);
	}
}

/* Objects of every size land in the class sc_of names, and are zeroed. */
static void allocations_use_their_class(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	for (uint32_t nbytes = 0; nbytes + HDR_SIZE <= MAX_SMALL_SIZE; nbytes += 97) {
		heap_ref r;
		OK(heap_alloc(h, hs, 0, nbytes, &r));
		struct obj o;
		OK(obj_resolve(h, r, &o));
		assert_int_equal(spc_sizeclass(o.s->spanclass), sc_of(HDR_SIZE + nbytes));
		assert_true(spc_noscan(o.s->spanclass));
		uint8_t *buf = malloc(nbytes + 1);
		OK(heap_read(h, r, 0, buf, nbytes));
		for (uint32_t i = 0; i < nbytes; i++)
			assert_int_equal(buf[i], 0);
		free(buf);
	}
	heap_ref big;
	OK(heap_alloc(h, hs, 3, MAX_SMALL_SIZE, &big));
	struct obj o;
	OK(obj_resolve(h, big, &o));
	assert_int_equal(spc_sizeclass(o.s->spanclass), 0);
	assert_int_equal(o.nrefs, 3);
	assert_int_equal(o.nbytes, MAX_SMALL_SIZE);
	heap_holds_free(h, hs);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_is_sound),
		cmocka_unit_test(divmul_is_exact),
		cmocka_unit_test(class_of_size_is_smallest_fit),
		cmocka_unit_test(allocations_use_their_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
