/*
 * testutil.h - what the engine's tests share: cmocka, the engine's
 * internals (tests are white-box where a figure must be checked against
 * the truth), a seeded random generator, and RSS readings.
 *
 * Random tests print their seed; HEAPD_TEST_SEED=N reruns one exactly.
 */
#ifndef HEAPD_TESTUTIL_H
#define HEAPD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define OK(expr) assert_int_equal((expr), HEAP_OK)
#define MIB ((size_t)1 << 20)

static inline heap *test_heap_cfg(size_t max_heap, int gc_percent)
{
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.max_heap = max_heap;
	cfg.gc_percent = gc_percent;
	cfg.mark_workers = 0;  /* slices do all the marking: tests can count it */
	heap *h = heap_new(&cfg);
	assert_non_null(h);
	return h;
}

static inline heap *test_heap(void)
{
	return test_heap_cfg((size_t)1 << 30, 100);
}

static inline struct heap_stats test_stats(heap *h)
{
	struct heap_stats st;
	heap_read_stats(h, &st);
	return st;
}

/* xorshift64*: a small generator whose sequence a seed fixes. */
struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)((rng_next(r) >> 32) % n) : 0;
}

static inline struct rng test_rng(const char *test)
{
	const char *env = getenv("HEAPD_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed0fbeefULL;
	printf("# %s: seed %llu (HEAPD_TEST_SEED to repeat)\n", test, (unsigned long long)seed);
	struct rng r = {seed ? seed : 1};
	return r;
}

/* What an object of these sizes is charged to its tenant: its size
 * class's size, or a large object's whole pages. */
static inline uint64_t test_charge(uint32_t nrefs, uint32_t nbytes)
{
	size_t size = HDR_SIZE + (size_t)nrefs * 8 + nbytes;
	if (size <= MAX_SMALL_SIZE)
		return sc_table[sc_of(size)].size;
	return (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
}

/* Checks central.c's invariant by walking every object span: each
 * tenant's bytes are its spans' allocated slots, its cached spans' every
 * slot. Returns the bytes in cached spans' free slots (what the tenants
 * are charged beyond their objects). */
static inline uint64_t test_tenant_invariant(heap *h)
{
	uint64_t sum[HEAP_TENANTS] = {0}, cached_free = 0;
	for (size_t p = 0; p < h->grown; p++) {
		struct span *s = &h->spans[p];
		if (s->state != SPAN_OBJ || s->start != p)
			continue;
		assert_true(h->tenants_used >> s->tenant & 1);
		if (h->ten[s->tenant].cache[s->spanclass] == s) {
			sum[s->tenant] += (uint64_t)s->nelems * s->elemsize;
			cached_free += (uint64_t)(s->nelems - s->allocount) * s->elemsize;
		} else {
			sum[s->tenant] += (uint64_t)s->allocount * s->elemsize;
		}
	}
	uint64_t total = 0;
	for (unsigned t = 0; t < HEAP_TENANTS; t++) {
		assert_int_equal(heap_tenant_bytes(h, t), sum[t]);
		total += sum[t];
	}
	struct heap_stats st;
	heap_read_stats(h, &st);
	assert_int_equal(total - cached_free, st.heap_alloc);
	return cached_free;
}

/* What test_graph makes: objects of up to nrefs-1 slots and nbytes-1
 * bytes; one in large_one_in has 33000 to 42999 bytes, one in
 * wide_one_in wide_nrefs slots; one slot in null_one_in is null, one
 * link in 8 read-only. data: NULL, or 1000 + 42999 bytes whose bytes
 * from a random place up to 1000 fill each object (heap_alloc_init). */
struct graph_shape {
	uint32_t nrefs, nbytes, large_one_in, wide_one_in, wide_nrefs, null_one_in;
	const uint8_t *data;
};

/* A random graph of n objects held in hs (handles in refs), linked at
 * random: shared, cyclic, some links read-only. */
static inline void test_graph(heap *h, heap_holds *hs, struct rng *rg, heap_ref *refs, uint32_t n,
			      const struct graph_shape *g)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nrefs = rng_below(rg, g->nrefs), nbytes = rng_below(rg, g->nbytes);
		if (rng_below(rg, g->large_one_in) == 0)
			nbytes = 33000 + rng_below(rg, 10000);
		if (rng_below(rg, g->wide_one_in) == 0)
			nrefs = g->wide_nrefs;
		if (g->data)
			OK(heap_alloc_init(h, hs, nrefs, nbytes, g->data + rng_below(rg, 1000), nbytes, &refs[i]));
		else
			OK(heap_alloc(h, hs, nrefs, nbytes, &refs[i]));
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nrefs, nbytes;
		OK(heap_object_size(h, refs[i], &nrefs, &nbytes));
		for (uint32_t k = 0; k < nrefs; k++) {
			heap_ref v = rng_below(rg, g->null_one_in) ? refs[rng_below(rg, n)] : 0;
			if (v && rng_below(rg, 8) == 0)
				OK(heap_ref_readonly(h, v, &v));
			OK(heap_set_ref(h, refs[i], k, v));
		}
	}
}

static inline long test_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

#endif
