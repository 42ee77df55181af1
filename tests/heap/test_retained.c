/*
 * test_retained.c - counts (heap_retained_*) against a reference: a
 * plain recursive walk through the public API, each object once, its
 * heap bytes test_charge()'s. A count run in small slices, with the heap
 * changed between them, must give the reference taken when it began; and
 * a count shares the walker with saves, one at a time.
 */
#include "testutil.h"

/* Places seen by the reference walk: open addressing over places + 1. */
struct seen {
	uint32_t *key;
	uint32_t mask;
};

static int seen_add(struct seen *s, uint32_t place)
{
	uint32_t i = (place * 0x9e3779b9u) & s->mask;
	while (s->key[i] && s->key[i] != place + 1)
		i = (i + 1) & s->mask;
	if (s->key[i])
		return 0;
	s->key[i] = place + 1;
	return 1;
}

static void ref_walk(heap *h, heap_ref r, struct seen *s, uint64_t *objects, uint64_t *bytes)
{
	if (!r || !seen_add(s, ref_place(r)))
		return;
	uint32_t nrefs, nbytes;
	OK(heap_object_size(h, r, &nrefs, &nbytes));
	++*objects;
	*bytes += test_charge(nrefs, nbytes);
	for (uint32_t k = 0; k < nrefs; k++) {
		heap_ref v;
		OK(heap_get_ref(h, r, k, NULL, &v));
		ref_walk(h, v, s, objects, bytes);
	}
}

/* The reference: what r reaches now. */
static void reference(heap *h, heap_ref r, uint32_t most, uint64_t *objects, uint64_t *bytes)
{
	uint32_t mask = 1;
	while (mask < 2 * most)
		mask = mask * 2 + 1;
	struct seen s = {calloc((size_t)mask + 1, sizeof *s.key), mask};
	assert_non_null(s.key);
	*objects = *bytes = 0;
	ref_walk(h, r, &s, objects, bytes);
	free(s.key);
}

/* A random graph of n held objects: small, some large, some with many
 * slots; slots to random objects (some read-only handles) or null. */
static void make_graph(heap *h, heap_holds *hs, struct rng *rg, heap_ref *refs, uint32_t n)
{
	static const struct graph_shape shape = {.nrefs = 5, .nbytes = 300, .large_one_in = 60, .wide_one_in = 200,
						 .wide_nrefs = 300, .null_one_in = 3};
	test_graph(h, hs, rg, refs, n, &shape);
}

/* Begins a count of r, running the slices of a cycle that is marking. */
static void begin(heap *h, heap_ref r)
{
	int err;
	while ((err = heap_retained_begin(h, r)) == 1)
		heap_gc_slice(h, 1000000);
	OK(err);
	assert_true(heap_counting(h));
}

/* Steps of budget_ns until counted, between(arg) after each; the steps. */
static unsigned run_count(heap *h, uint64_t budget_ns, void (*between)(void *), void *arg)
{
	unsigned steps = 0;
	int more;
	do {
		more = heap_retained_step(h, budget_ns);
		assert_true(more >= 0);
		steps++;
		if (between)
			between(arg);
	} while (more);
	return steps;
}

static void random_graphs(void **state)
{
	(void)state;
	struct rng rg = test_rng("random_graphs");
	for (int round = 0; round < 4; round++) {
		heap *h = test_heap();
		heap_holds *hs = heap_holds_new(h);
		uint32_t n = 2000 + rng_below(&rg, 6000);
		heap_ref *refs = malloc(n * sizeof *refs);
		make_graph(h, hs, &rg, refs, n);
		for (int q = 0; q < 8; q++) {
			heap_ref r = refs[rng_below(&rg, n)];
			if (q % 3 == 2)
				OK(heap_ref_readonly(h, r, &r));
			uint64_t want_objects, want_bytes, objects, bytes;
			reference(h, r, n, &want_objects, &want_bytes);
			begin(h, r);
			unsigned steps = run_count(h, rng_below(&rg, 3) ? 0 : 1000000, NULL, NULL);
			heap_retained_result(h, &objects, &bytes);
			heap_retained_end(h);
			assert_false(heap_counting(h));
			assert_int_equal(objects, want_objects);
			assert_int_equal(bytes, want_bytes);
			if (q == 0)
				printf("# round %d: %u objects, %llu reached, %llu bytes, %u steps\n", round, n,
				       (unsigned long long)objects, (unsigned long long)bytes, steps);
		}
		heap_free(h);
		free(refs);
	}
}

/* Small cases whose counts are known: a chain, a shared DAG, a cycle. */
static void shapes(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref c[10], d[4];
	for (int i = 9; i >= 0; i--) {
		OK(heap_alloc(h, hs, 1, 16, &c[i]));
		if (i < 9)
			OK(heap_set_ref(h, c[i], 0, c[i + 1]));
	}
	for (int i = 0; i < 4; i++)
		OK(heap_alloc(h, hs, 2, 8, &d[i]));
	OK(heap_set_ref(h, d[0], 0, d[1]));
	OK(heap_set_ref(h, d[0], 1, d[2]));
	OK(heap_set_ref(h, d[1], 0, d[3]));
	OK(heap_set_ref(h, d[2], 0, d[3]));  /* shared: counted once */
	OK(heap_set_ref(h, d[3], 0, d[0]));  /* and a cycle back */
	struct {
		heap_ref r;
		uint64_t objects, bytes;
	} want[] = {{c[0], 10, 10 * test_charge(1, 16)}, {c[9], 1, test_charge(1, 16)},
		    {d[0], 4, 4 * test_charge(2, 8)}, {d[3], 4, 4 * test_charge(2, 8)}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		uint64_t objects, bytes;
		begin(h, want[i].r);
		run_count(h, 0, NULL, NULL);
		heap_retained_result(h, &objects, &bytes);
		heap_retained_end(h);
		assert_int_equal(objects, want[i].objects);
		assert_int_equal(bytes, want[i].bytes);
	}
	assert_int_equal(heap_retained_begin(h, 0), HEAP_EBADREF);
	assert_int_equal(heap_retained_begin(h, c[0] ^ ((heap_ref)1 << 40)), HEAP_EBADREF);
	assert_false(heap_counting(h));
	OK(heap_release(h, hs, c[9]));
	OK(heap_set_ref(h, c[8], 0, 0));
	heap_ref stale = c[9];
	heap_gc(h);
	assert_int_equal(heap_retained_begin(h, stale), HEAP_EBADREF);
	assert_int_equal(heap_retained_step(h, 0), HEAP_ENOENT);
	heap_free(h);
}

struct churn {
	heap *h;
	heap_holds *hs;
	struct rng *rg;
	heap_ref *refs;
	uint32_t n, cap;
};

/* Changes to the graph between two steps of a count. */
static void churn(void *arg)
{
	struct churn *c = arg;
	heap *h = c->h;
	for (int i = 0; i < 20; i++) {
		heap_ref a = c->refs[rng_below(c->rg, c->n)], b = c->refs[rng_below(c->rg, c->n)];
		uint32_t nrefs, nbytes, what = rng_below(c->rg, 100);
		if (heap_object_size(h, a, &nrefs, &nbytes))
			continue;  /* dropped, and swept */
		if (what < 45 && nrefs) {
			if (heap_set_ref(h, a, rng_below(c->rg, nrefs), rng_below(c->rg, 3) ? b : 0) == HEAP_EBADREF)
				OK(heap_set_ref(h, a, 0, 0));
		} else if (what < 65 && nrefs && c->n < c->cap) {
			heap_ref r;
			OK(heap_alloc_into(h, a, rng_below(c->rg, nrefs), 2, 16, &r));
			OK(heap_hold(h, c->hs, r));
			c->refs[c->n++] = r;
		} else if (what < 75 && nbytes) {
			uint8_t junk[16] = {0};
			OK(heap_write(h, a, 0, junk, nbytes < 16 ? nbytes : 16));
		} else if (what < 90) {
			heap_release(h, c->hs, a);  /* may make it garbage: no cycle runs to free it */
		} else if (what < 95) {
			heap_gc_begin(h);
			assert_false(heap_gc_active(h));
		} else {
			heap_idle(h, 20000, NULL, NULL);
		}
	}
}

/* A count while the graph changes gives the graph when it began. */
static void mutation_between_slices(void **state)
{
	(void)state;
	struct rng rg = test_rng("mutation_between_slices");
	for (int round = 0; round < 5; round++) {
		heap *h = test_heap();
		heap_holds *hs = heap_holds_new(h);
		uint32_t n = 6000, cap = 40000;
		heap_ref *refs = malloc(cap * sizeof *refs);
		make_graph(h, hs, &rg, refs, n);
		/* One that reaches much of the graph, for many steps to churn in. */
		heap_ref r = refs[0];
		uint64_t most = 0, want_objects, want_bytes, objects, bytes;
		for (int tries = 0; tries < 40 && most < n / 2; tries++) {
			heap_ref t = refs[rng_below(&rg, n)];
			reference(h, t, cap, &want_objects, &want_bytes);
			if (want_objects > most) {
				most = want_objects;
				r = t;
			}
		}
		OK(heap_hold(h, hs, r));
		/* A cycle marking when the count is asked for: it waits. */
		for (uint32_t i = 0; i < n; i += 3)
			heap_release(h, hs, refs[i]);
		heap_gc_begin(h);
		heap_gc_slice(h, 1);
		assert_true(heap_gc_active(h));
		assert_int_equal(heap_retained_begin(h, r), 1);
		while (heap_gc_active(h))
			heap_gc_slice(h, 1000000);
		reference(h, r, cap, &want_objects, &want_bytes);
		OK(heap_retained_begin(h, r));
		struct churn c = {h, hs, &rg, refs, n, cap};
		unsigned steps = run_count(h, 0, churn, &c);
		assert_false(heap_gc_active(h));  /* none starts during a count */
		heap_retained_result(h, &objects, &bytes);
		heap_retained_end(h);
		printf("# round %d: %llu reached, %u steps, %u objects after\n", round, (unsigned long long)objects,
		       steps, c.n);
		assert_int_equal(objects, want_objects);
		assert_int_equal(bytes, want_bytes);
		heap_free(h);
		free(refs);
	}
}

/* One walk at a time: a save asked for during a count begins once it
 * ends; a count is refused while a save walks; heap_gc ends a count. */
static void one_walk_at_a_time(void **state)
{
	(void)state;
	struct rng rg = test_rng("one_walk_at_a_time");
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	uint32_t n = 3000;
	heap_ref *refs = malloc(n * sizeof *refs);
	make_graph(h, hs, &rg, refs, n);
	OK(heap_root_set(h, "r", 1, refs[0], NULL));
	uint8_t buf[HEAP_SAVE_MIN_BUF];
	size_t len;

	begin(h, refs[1]);
	assert_int_equal(heap_save_begin(h), 1);
	assert_true(heap_saving(h));
	assert_int_equal(heap_save_step(h, 1000000, buf, sizeof buf, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(heap_retained_begin(h, refs[2]), HEAP_EINVAL);
	run_count(h, 1000000, NULL, NULL);
	uint64_t objects, bytes, want_objects, want_bytes;
	heap_retained_result(h, &objects, &bytes);
	reference(h, refs[1], n, &want_objects, &want_bytes);
	assert_int_equal(objects, want_objects);
	heap_retained_end(h);
	assert_true(heap_saving(h));  /* queued, not forgotten */
	assert_int_equal(heap_retained_begin(h, refs[2]), HEAP_EINVAL);
	int more;
	do
		more = heap_save_step(h, 1000000, buf, sizeof buf, &len);
	while (more == 1);
	OK(more);
	struct heap_save_info info;
	heap_save_info(h, &info);
	assert_true(info.objects > 0);
	assert_int_equal(heap_retained_begin(h, refs[2]), HEAP_EINVAL);
	heap_save_end(h);
	assert_false(heap_saving(h));

	/* A queued save given up: the count goes on. */
	begin(h, refs[2]);
	assert_int_equal(heap_save_begin(h), 1);
	heap_save_end(h);
	assert_false(heap_saving(h));
	assert_true(heap_counting(h));
	run_count(h, 1000000, NULL, NULL);
	heap_retained_end(h);

	/* heap_gc ends a count; cycles run again after one. */
	begin(h, refs[3]);
	heap_gc(h);
	assert_false(heap_counting(h));
	assert_int_equal(heap_retained_step(h, 0), HEAP_ENOENT);
	uint64_t cycles = heap_cycles(h);
	begin(h, refs[3]);
	heap_gc_begin(h);
	assert_false(heap_gc_active(h));
	heap_retained_end(h);
	assert_true(heap_gc_active(h));
	heap_gc(h);
	assert_true(heap_cycles(h) > cycles);
	heap_free(h);
	free(refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shapes),
		cmocka_unit_test(random_graphs),
		cmocka_unit_test(mutation_between_slices),
		cmocka_unit_test(one_walk_at_a_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
