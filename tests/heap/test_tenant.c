/*
 * test_tenant.c - tenants: every object is charged to the tenant that
 * allocated it (its hold set's, or the heap's current one), and
 * max_tenant_heap bounds what one tenant is charged.
 *
 * Against a model of who allocated what and what is still reachable:
 *  - after a full collection, each tenant's bytes are exactly the charges
 *    (test_charge) of its live objects: small and large, held or stored
 *    into another tenant's object, through many cycles;
 *  - at any time central.c's invariant holds (test_tenant_invariant), and
 *    with nothing dropped since the last collection a tenant's bytes
 *    exceed its live objects' only by the free slots of its cached spans,
 *    at most one span per span class;
 *  - a tenant at its limit gets HEAP_EQUOTA and starts no collection, the
 *    others allocate on, and it allocates again once its garbage is swept
 *    or the limit is raised.
 */
#include "testutil.h"

#define NT 3
static const unsigned tid[NT] = {0, 5, HEAP_TENANTS - 1};

struct mobj {
	heap_ref ref;
	unsigned t;         /* index into tid */
	uint64_t charge;
	int held;           /* in hs[t] */
	int child;          /* the object in slot 0, or -1 */
	int live;
};

struct model {
	heap *h;
	struct rng r;
	heap_holds *hs[NT];
	struct mobj *o;
	int n, cap;
};

static uint64_t live_bytes(const struct model *m, unsigned t)
{
	uint64_t n = 0;
	for (int i = 0; i < m->n; i++)
		if (m->o[i].live && m->o[i].t == t)
			n += m->o[i].charge;
	return n;
}

/* The most one tenant's cached spans add: one span per span class. */
static uint64_t one_span_per_class(void)
{
	uint64_t n = 0;
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
		n += 2 * (uint64_t)sc_table[c].nelems * sc_table[c].size;
	return n;
}

static struct mobj *m_new(struct model *m, unsigned t, uint32_t nrefs, uint32_t nbytes)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->o = realloc(m->o, (size_t)m->cap * sizeof *m->o);
		assert_non_null(m->o);
	}
	struct mobj *o = &m->o[m->n++];
	*o = (struct mobj){.t = t, .charge = test_charge(nrefs, nbytes), .child = -1, .live = 1};
	return o;
}

/* Sizes from 8 bytes to large objects, scan and noscan. */
static void pick_size(struct model *m, uint32_t *nrefs, uint32_t *nbytes)
{
	uint32_t p = rng_below(&m->r, 100);
	*nrefs = rng_below(&m->r, 3);
	*nbytes = p < 2 ? 40000 + rng_below(&m->r, 100000) : rng_below(&m->r, p < 10 ? 4000 : 120);
}

static void alloc_held(struct model *m)
{
	unsigned t = rng_below(&m->r, NT);
	uint32_t nrefs, nbytes;
	pick_size(m, &nrefs, &nbytes);
	struct mobj *o = m_new(m, t, nrefs, nbytes);
	o->held = 1;
	if (rng_below(&m->r, 2))
		OK(heap_alloc(m->h, m->hs[t], nrefs, nbytes, &o->ref));
	else
		OK(heap_alloc_init(m->h, m->hs[t], nrefs, nbytes, "x", nbytes ? 1 : 0, &o->ref));
}

/* A held object with a slot, or -1. */
static int pick_parent(struct model *m, int empty_only)
{
	for (int tries = 0; tries < 20 && m->n; tries++) {
		int i = (int)rng_below(&m->r, (uint32_t)m->n);
		uint32_t nr, nb;
		if (!m->o[i].held || (empty_only && m->o[i].child >= 0))
			continue;
		OK(heap_object_size(m->h, m->o[i].ref, &nr, &nb));
		if (nr)
			return i;
	}
	return -1;
}

/* "a.slot0 = new T()" by a tenant that may not be a's: the allocating
 * tenant pays. The object it replaces is garbage. */
static void alloc_into(struct model *m, int empty_only)
{
	int a = pick_parent(m, empty_only);
	if (a < 0)
		return;
	unsigned t = rng_below(&m->r, NT);
	uint32_t nrefs, nbytes;
	pick_size(m, &nrefs, &nbytes);
	OK(heap_set_tenant(m->h, tid[t]));
	heap_ref parent = m->o[a].ref;
	int old = m->o[a].child;
	struct mobj *o = m_new(m, t, nrefs, nbytes);
	OK(heap_alloc_into(m->h, parent, 0, nrefs, nbytes, &o->ref));
	if (old >= 0)
		m->o[old].live = 0;
	m->o[a].child = m->n - 1;
}

static void release(struct model *m)
{
	int i = (int)rng_below(&m->r, (uint32_t)m->n);
	struct mobj *o = &m->o[i];
	if (!o->held)
		return;
	OK(heap_release(m->h, m->hs[o->t], o->ref));
	o->held = o->live = 0;
	if (o->child >= 0)
		m->o[o->child].live = 0;
}

/* Renumbers the model to its live objects. */
static void compact(struct model *m)
{
	int *id = malloc((size_t)m->n * sizeof *id), n = 0;
	for (int i = 0; i < m->n; i++) {
		id[i] = m->o[i].live ? n : -1;
		if (m->o[i].live)
			m->o[n++] = m->o[i];
	}
	for (int i = 0; i < n; i++)
		if (m->o[i].child >= 0)
			m->o[i].child = id[m->o[i].child];
	m->n = n;
	free(id);
}

static void expect_exact(struct model *m)
{
	heap_gc(m->h);
	assert_int_equal(test_tenant_invariant(m->h), 0);
	for (unsigned t = 0; t < NT; t++)
		assert_int_equal(heap_tenant_bytes(m->h, tid[t]), live_bytes(m, t));
	compact(m);
}

/* With nothing dropped since the last collection, a tenant is charged its
 * live objects plus its cached spans' free slots, and no more. */
static void expect_within_cached(struct model *m)
{
	uint64_t cached_free = test_tenant_invariant(m->h), over = 0;
	for (unsigned t = 0; t < NT; t++) {
		uint64_t b = heap_tenant_bytes(m->h, tid[t]), live = live_bytes(m, t);
		assert_true(b >= live);
		assert_true(b - live <= one_span_per_class());
		over += b - live;
	}
	assert_int_equal(over, cached_free);
}

static void counts_follow_objects(void **state)
{
	(void)state;
	struct model m = {.h = test_heap(), .r = test_rng("tenant counts")};
	for (unsigned t = 0; t < NT; t++) {
		m.hs[t] = heap_holds_new(m.h);
		OK(heap_holds_set_tenant(m.h, m.hs[t], tid[t]));
	}
	heap_ref junk;
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 2000; i++) {
			uint32_t p = rng_below(&m.r, 100);
			if (p < 55 || m.n < 20)
				alloc_held(&m);
			else if (p < 75)
				alloc_into(&m, 0);
			else if (p < 98)
				release(&m);
			else  /* no hold set: the current tenant's, garbage at once */
				OK(heap_alloc(m.h, NULL, 1, 24, &junk));
			if (i % 500 == 0)
				test_tenant_invariant(m.h);
		}
		expect_exact(&m);
		for (int i = 0; i < 300; i++) {
			if (rng_below(&m.r, 4))
				alloc_held(&m);
			else
				alloc_into(&m, 1);
		}
		expect_within_cached(&m);
	}
	printf("# %d objects live after 40 rounds\n", m.n);
	for (unsigned t = 0; t < NT; t++)
		heap_holds_free(m.h, m.hs[t]);
	for (int i = 0; i < m.n; i++)
		m.o[i].live = 0;
	expect_exact(&m);
	for (unsigned t = 0; t < HEAP_TENANTS; t++)
		assert_int_equal(heap_tenant_bytes(m.h, t), 0);
	free(m.o);
	heap_free(m.h);
}

static void tenant_range_checked(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	assert_int_equal(heap_set_tenant(h, HEAP_TENANTS), HEAP_EINVAL);
	assert_int_equal(heap_holds_set_tenant(h, hs, HEAP_TENANTS), HEAP_EINVAL);
	assert_int_equal(heap_tenant_bytes(h, HEAP_TENANTS), 0);
	heap_ref r;
	OK(heap_alloc(h, hs, 0, 100, &r));
	assert_int_equal(heap_tenant_bytes(h, 0), (uint64_t)sc_table[sc_of(108)].nelems * sc_table[sc_of(108)].size);
	heap_free(h);
}

static void quota_refuses_one_tenant(void **state)
{
	(void)state;
	enum { LIMIT = 2 << 20, MAXN = LIMIT / 64 + 1 };
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.max_heap = 64 * MIB;
	cfg.mark_workers = 0;
	cfg.max_tenant_heap = LIMIT;
	heap *h = heap_new(&cfg);
	assert_non_null(h);
	heap_holds *a = heap_holds_new(h), *b = heap_holds_new(h);
	OK(heap_holds_set_tenant(h, a, 1));
	OK(heap_holds_set_tenant(h, b, 2));
	heap_ref *refs = malloc(MAXN * sizeof *refs), r;
	size_t n = 0;
	int err;
	while ((err = heap_alloc(h, a, 1, 48, &refs[n])) == HEAP_OK) {
		if (n)
			OK(heap_set_ref(h, refs[n], 0, refs[n - 1]));
		n++;
		assert_true(n < MAXN);
	}
	assert_int_equal(err, HEAP_EQUOTA);
	/* Never past the limit; short of it by less than one more span. */
	uint64_t span64 = (uint64_t)sc_table[sc_of(64)].nelems * 64;
	assert_true(heap_tenant_bytes(h, 1) <= LIMIT);
	assert_true(heap_tenant_bytes(h, 1) + span64 > LIMIT);
	assert_int_equal(n * 64, heap_tenant_bytes(h, 1));
	/* No collection for a tenant's limit, nothing counted as a failure
	 * of the heap, and the failed call changed nothing. */
	struct heap_stats st = test_stats(h);
	assert_int_equal(st.alloc_failures, 0);
	assert_int_equal(st.forced_gc_for_limit, 0);
	assert_int_equal(st.heap_objects, n);
	test_tenant_invariant(h);
	assert_int_equal(heap_alloc(h, a, 0, 1 << 20, &r), HEAP_EQUOTA);
	OK(heap_set_tenant(h, 1));
	assert_int_equal(heap_alloc_into(h, refs[0], 0, 0, 48, &r), HEAP_EQUOTA);
	OK(heap_get_ref(h, refs[0], 0, NULL, &r));
	assert_int_equal(r, 0);
	/* The other tenant is not held back, nor is tenant 1 when another
	 * tenant allocates into its objects. */
	for (int i = 0; i < 500; i++)
		OK(heap_alloc(h, b, 0, 1000, &r));
	OK(heap_alloc(h, b, 0, 1 << 20, &r));
	OK(heap_set_tenant(h, 2));
	OK(heap_alloc_into(h, refs[0], 0, 0, 48, &r));
	/* Dropping objects gives room once they are swept, not before. */
	OK(heap_set_ref(h, refs[n / 2], 0, 0));
	for (size_t i = 0; i < n / 2; i++)
		OK(heap_release(h, a, refs[i]));
	assert_int_equal(heap_alloc(h, a, 1, 48, &r), HEAP_EQUOTA);
	heap_gc(h);
	assert_int_equal(heap_tenant_bytes(h, 1), (n - n / 2) * 64);
	for (size_t i = 0; i < n / 4; i++)
		OK(heap_alloc(h, a, 1, 48, &r));
	test_tenant_invariant(h);
	/* The limit changes at run time; 0 is none. */
	cfg.max_tenant_heap = 0;
	OK(heap_reconfigure(h, &cfg));
	OK(heap_alloc(h, a, 0, 4 << 20, &r));
	assert_true(heap_tenant_bytes(h, 1) > LIMIT);
	cfg.max_tenant_heap = LIMIT;
	OK(heap_reconfigure(h, &cfg));
	assert_int_equal(heap_alloc(h, a, 0, 1 << 20, &r), HEAP_EQUOTA);
	free(refs);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_follow_objects),
		cmocka_unit_test(tenant_range_checked),
		cmocka_unit_test(quota_refuses_one_tenant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
