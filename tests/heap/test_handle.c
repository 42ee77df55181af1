/*
 * test_handle.c - handles as capabilities (daemon/heap/handle.c):
 *
 *   tags_unpredictable     a heap's tags have no step, no bias, no
 *                          relation to another heap's: what the Weyl
 *                          sequence they replace gave away in two
 *                          allocations
 *   tag_never_0_nor_previous  a drawn 0, or the slot's previous tag, is
 *                          skipped
 *   readonly_rights        a read-only handle reads, follows and holds;
 *                          writing, setting a slot and allocating into its
 *                          object fail with HEAP_EPERM and change nothing;
 *                          what it reaches is read-only too
 *   readonly_unforgeable   no bit flip of a read-only handle passes, and
 *                          its word tells nothing of the tag
 *   readonly_kept_in_slots_and_roots  a read-only handle stored and read
 *                          back is still read-only, and keeps its object
 *                          alive through collections
 *   readonly_stale         once its object is collected, a read-only
 *                          handle fails as the full one does
 */
#include "testutil.h"

enum { N = 100000 };

static uint32_t *draw_tags(heap *h, heap_holds *hs, int n)
{
	uint32_t *tags = malloc(n * sizeof *tags);
	heap_ref r;
	for (int i = 0; i < n; i++) {
		OK(heap_alloc(h, hs, 0, 8, &r));
		tags[i] = ref_tag(r);
	}
	return tags;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static size_t distinct(uint32_t *v, int n)
{
	qsort(v, n, sizeof *v, cmp_u32);
	size_t k = n > 0;
	for (int i = 1; i < n; i++)
		k += v[i] != v[i - 1];
	return k;
}

/* A fixed step (the old Weyl sequence) makes every difference the same;
 * each bit must be set about half the time (binomial, sd 0.16% at N); and
 * two heaps must not draw the same sequence. */
static void tags_unpredictable(void **state)
{
	(void)state;
	heap *h = test_heap(), *h2 = test_heap();
	heap_holds *hs = heap_holds_new(h), *hs2 = heap_holds_new(h2);
	uint32_t *t = draw_tags(h, hs, N), *t2 = draw_tags(h2, hs2, N);
	uint32_t *diff = malloc(N * sizeof *diff);
	int same = 0;
	for (int i = 0; i < N; i++)
		same += t[i] == t2[i];
	assert_true(same < 3);
	for (int b = 0; b < 32; b++) {
		int ones = 0;
		for (int i = 0; i < N; i++)
			ones += t[i] >> b & 1;
		assert_in_range(ones, N * 48 / 100, N * 52 / 100);
	}
	for (int i = 0; i + 1 < N; i++)
		diff[i] = t[i + 1] - t[i];
	assert_true(distinct(diff, N - 1) > N * 99 / 100);
	free(diff);
	free(t);
	free(t2);
	heap_free(h);
	heap_free(h2);
}

static void tag_never_0_nor_previous(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref old, r;
	OK(heap_alloc(h, hs, 0, 8, &old));
	OK(heap_release(h, hs, old));
	heap_gc(h);
	/* The next tags drawn: old's, then 0. */
	h->tag_pos = TAG_BUF - 2;
	h->tag_buf[TAG_BUF - 2] = ref_tag(old);
	h->tag_buf[TAG_BUF - 1] = 0;
	OK(heap_alloc(h, hs, 0, 8, &r));
	assert_int_equal(ref_place(r), ref_place(old));
	assert_int_equal(ref_tag(r), ref_tag(old) + 1 + (ref_tag(old) == UINT32_MAX));
	uint8_t b;
	assert_int_equal(heap_read(h, old, 0, &b, 1), HEAP_EBADREF);
	OK(heap_alloc(h, hs, 0, 8, &r));
	assert_int_not_equal(ref_tag(r), 0);
	assert_int_equal(h->tag_pos, TAG_BUF);
	OK(heap_alloc(h, hs, 0, 8, &r));  /* the end drawn: a refill first */
	assert_int_equal(h->tag_pos, 1);
	assert_int_equal(ref_tag(r), h->tag_buf[0] ? h->tag_buf[0] : 1);
	assert_int_equal(h->tag_buf[TAG_BUF], 0);  /* the refill keeps the end */
	heap_free(h);
}

static void readonly_rights(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, b, ro, ro2, rob, out;
	OK(heap_alloc_init(h, hs, 2, 8, "abcdefgh", 8, &a));
	OK(heap_alloc_into_init(h, a, 0, 0, 4, "kid!", 4, &b));
	OK(heap_ref_readonly(h, a, &ro));
	assert_int_not_equal(ro, a);
	assert_int_equal(ref_place(ro), ref_place(a));
	assert_true(heap_ref_is_readonly(h, ro));
	assert_false(heap_ref_is_readonly(h, a));
	OK(heap_ref_readonly(h, ro, &ro2));
	assert_int_equal(ro2, ro);

	char buf[8];
	OK(heap_read(h, ro, 0, buf, 8));
	assert_memory_equal(buf, "abcdefgh", 8);
	uint32_t nr, nb;
	OK(heap_object_size(h, ro, &nr, &nb));
	assert_int_equal(nr, 2);
	assert_int_equal(heap_write(h, ro, 0, "X", 1), HEAP_EPERM);
	assert_int_equal(heap_set_ref(h, ro, 1, a), HEAP_EPERM);
	assert_int_equal(heap_set_ref(h, ro, 0, 0), HEAP_EPERM);
	uint64_t mallocs = test_stats(h).mallocs;
	assert_int_equal(heap_alloc_into(h, ro, 1, 0, 8, &out), HEAP_EPERM);
	assert_int_equal(test_stats(h).mallocs, mallocs);  /* refused before allocating */
	OK(heap_read(h, a, 0, buf, 8));
	assert_memory_equal(buf, "abcdefgh", 8);
	OK(heap_get_ref(h, a, 0, NULL, &out));
	assert_int_equal(out, b);  /* the slot unchanged */

	/* Followed through a read-only handle: read-only too. */
	OK(heap_get_ref(h, ro, 0, hs, &rob));
	assert_int_not_equal(rob, b);
	assert_true(heap_ref_is_readonly(h, rob));
	OK(heap_ref_readonly(h, b, &out));
	assert_int_equal(out, rob);
	OK(heap_read(h, rob, 0, buf, 4));
	assert_memory_equal(buf, "kid!", 4);
	assert_int_equal(heap_write(h, rob, 0, "X", 1), HEAP_EPERM);
	OK(heap_get_ref(h, ro, 1, NULL, &out));
	assert_int_equal(out, 0);  /* an empty slot stays null */

	/* Held through the read-only handle alone, a lives on. */
	OK(heap_hold(h, hs, ro));
	OK(heap_release(h, hs, a));
	heap_gc(h);
	OK(heap_read(h, a, 0, buf, 8));
	OK(heap_release(h, hs, ro));
	OK(heap_release(h, hs, rob));
	heap_gc(h);
	assert_int_equal(heap_read(h, ro, 0, buf, 1), HEAP_EBADREF);
	assert_int_equal(heap_read(h, a, 0, buf, 1), HEAP_EBADREF);
	heap_free(h);
}

static void readonly_unforgeable(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, ro;
	uint8_t b;
	OK(heap_alloc(h, hs, 1, 8, &a));
	OK(heap_ref_readonly(h, a, &ro));
	for (int bit = 32; bit < 64; bit++) {
		heap_ref f = ro ^ (heap_ref)1 << bit;
		assert_int_equal(heap_read(h, f, 0, &b, 1), HEAP_EBADREF);
		assert_int_equal(heap_write(h, f, 0, "X", 1), HEAP_EBADREF);
	}
	/* tag ^ word is no constant (a fixed mask would give every tag away
	 * from its read-only handle), nor is word - tag. */
	uint32_t *x = malloc(N * sizeof *x), *d = malloc(N * sizeof *d);
	for (int i = 0; i < N; i++) {
		heap_ref r, w;
		OK(heap_alloc(h, NULL, 0, 8, &r));
		OK(heap_ref_readonly(h, r, &w));
		x[i] = ref_tag(r) ^ ref_tag(w);
		d[i] = ref_tag(w) - ref_tag(r);
	}
	assert_true(distinct(x, N) > N * 99 / 100);
	assert_true(distinct(d, N) > N * 99 / 100);
	free(x);
	free(d);
	heap_free(h);
}

static void readonly_kept_in_slots_and_roots(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, c, roc, out;
	OK(heap_alloc(h, hs, 1, 0, &a));
	OK(heap_alloc_init(h, hs, 0, 3, "cee", 3, &c));
	OK(heap_ref_readonly(h, c, &roc));
	OK(heap_set_ref(h, a, 0, roc));
	OK(heap_root_set(h, "ro", 2, roc, NULL));
	OK(heap_release(h, hs, c));
	heap_gc(h);  /* c lives through the read-only handles in a's slot and the root */
	OK(heap_get_ref(h, a, 0, NULL, &out));
	assert_int_equal(out, roc);
	assert_int_equal(heap_write(h, out, 0, "X", 1), HEAP_EPERM);
	OK(heap_root_get(h, "ro", 2, NULL, &out));
	assert_int_equal(out, roc);
	OK(heap_root_set(h, "ro", 2, 0, NULL));
	heap_gc(h);
	char buf[3];
	OK(heap_read(h, roc, 0, buf, 3));  /* still in a's slot */
	assert_memory_equal(buf, "cee", 3);
	OK(heap_alloc_refs(h, hs, 1, 0, &roc, 1, &out));  /* as a value, too */
	OK(heap_set_ref(h, a, 0, 0));
	heap_gc(h);
	OK(heap_get_ref(h, out, 0, NULL, &out));
	assert_int_equal(out, roc);
	heap_free(h);
}

static void readonly_stale(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref a, ro, next;
	OK(heap_alloc(h, hs, 0, 8, &a));
	OK(heap_ref_readonly(h, a, &ro));
	OK(heap_release(h, hs, a));
	heap_gc(h);
	OK(heap_alloc(h, hs, 0, 8, &next));
	assert_int_equal(ref_place(next), ref_place(a));  /* the slot reused */
	uint8_t b;
	assert_int_equal(heap_read(h, ro, 0, &b, 1), HEAP_EBADREF);
	assert_int_equal(heap_hold(h, hs, ro), HEAP_EBADREF);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tags_unpredictable),
		cmocka_unit_test(tag_never_0_nor_previous),
		cmocka_unit_test(readonly_rights),
		cmocka_unit_test(readonly_unforgeable),
		cmocka_unit_test(readonly_kept_in_slots_and_roots),
		cmocka_unit_test(readonly_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
