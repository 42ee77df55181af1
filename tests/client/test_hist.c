/*
 * test_hist.c - heapctl bench's latency histogram (client/heapctl/hist.c).
 *
 * Against the exact nearest-rank percentile of the same values, sorted:
 * the histogram's answer is never below it, above it by less than
 * 1/HIST_SUB, and never above the maximum; small values are exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heapctl/hist.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest rank of sorted v[0..n): v[ceil(q * n) - 1]. */
static uint64_t exact(const uint64_t *v, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n);
	if ((double)rank < q * (double)n)
		rank++;
	return v[rank ? rank - 1 : 0];
}

static struct hist *new_hist(void)
{
	struct hist *h = malloc(sizeof *h);
	assert_non_null(h);
	hist_clear(h);
	return h;
}

static void empty(void **state)
{
	(void)state;
	struct hist *h = new_hist();
	assert_int_equal(h->count, 0);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_int_equal(hist_quantile(h, 1.0), 0);
	free(h);
}

/* Below 2 * HIST_SUB every value has a bucket of its own. */
static void small_values_exact(void **state)
{
	(void)state;
	struct hist *h = new_hist();
	for (uint64_t v = 0; v < 2 * HIST_SUB; v++)
		hist_add(h, v);
	assert_int_equal(h->count, 2 * HIST_SUB);
	assert_int_equal(h->min, 0);
	assert_int_equal(h->max, 2 * HIST_SUB - 1);
	assert_int_equal(hist_quantile(h, 0.5), HIST_SUB - 1);
	assert_int_equal(hist_quantile(h, 1.0), 2 * HIST_SUB - 1);
	assert_int_equal(hist_quantile(h, 1e-9), 0);
	free(h);
}

/* One value: every percentile is that value, however wide its bucket. */
static void single_value(void **state)
{
	(void)state;
	static const uint64_t values[] = {0, 1, 255, 256, 1000003, UINT64_MAX / 3, UINT64_MAX};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		struct hist *h = new_hist();
		hist_add(h, values[i]);
		assert_int_equal(hist_quantile(h, 0.5), values[i]);
		assert_int_equal(hist_quantile(h, 0.99), values[i]);
		assert_int_equal(h->max, values[i]);
		free(h);
	}
}

static void check_against_sorted(uint64_t *v, size_t n)
{
	struct hist *h = new_hist();
	for (size_t i = 0; i < n; i++)
		hist_add(h, v[i]);
	qsort(v, n, sizeof *v, cmp_u64);
	assert_int_equal(h->count, n);
	assert_int_equal(h->min, v[0]);
	assert_int_equal(h->max, v[n - 1]);
	static const double qs[] = {0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		uint64_t want = exact(v, n, qs[i]), got = hist_quantile(h, qs[i]);
		if (got < want || got > v[n - 1] || (double)(got - want) >= (double)want / HIST_SUB + 1)
			fail_msg("q %g: %llu for %llu", qs[i], (unsigned long long)got, (unsigned long long)want);
	}
	free(h);
}

/* Latency-like values: mostly tens of us in ns, a tail to tens of ms. */
static void within_a_bucket(void **state)
{
	(void)state;
	size_t n = 200000;
	uint64_t *v = malloc(n * sizeof *v);
	assert_non_null(v);
	srand(12345);
	for (size_t i = 0; i < n; i++) {
		uint64_t base = 20000 + (uint64_t)rand() % 80000;
		v[i] = i % 100 == 0 ? base * (1 + (uint64_t)rand() % 500) : base;
	}
	check_against_sorted(v, n);
	/* every power of two, and its neighbours */
	size_t k = 0;
	for (unsigned b = 0; b < 64; b++) {
		uint64_t p = (uint64_t)1 << b;
		v[k++] = p - 1;
		v[k++] = p;
		v[k++] = p + 1;
	}
	check_against_sorted(v, k);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty),
		cmocka_unit_test(small_values_exact),
		cmocka_unit_test(single_value),
		cmocka_unit_test(within_a_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
