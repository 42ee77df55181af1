/*
 * test_gc_model.c - the collector against a reference model.
 *
 * The model is a plain graph: objects with their slots and bytes, hold
 * sets with counts, named roots. Random operations run on the heap and on
 * the model alike, interleaved with small deterministic collector slices,
 * so most operations happen while a cycle is marking: stores and hold
 * changes go through the barrier at every stage of a cycle. Hold sets are
 * created and freed (a connection ending), named roots set, replaced and
 * deleted.
 *
 * The checks:
 *  - after every completed cycle, every object the model can reach is
 *    alive with its sizes, references and bytes intact;
 *  - after every forced collection, heap_objects equals the model's
 *    reachable count, every unreachable object's handle is refused, and
 *    each tenant (hold set k's is tenant_of(k); heap_alloc_into's, a
 *    random one of them) is charged exactly its reachable objects; after
 *    every cycle, the tenants' counts follow central.c's invariant;
 *  - after every completed cycle, every reachable object's age is the
 *    number of cycles completed since the first cycle whose marking began
 *    after it was made (num_gc - h->cycle at its birth, at least 0,
 *    at most AGE_MAX: the model runs past the stamps' range);
 *  - handles of objects that became unreachable are also used on purpose
 *    before they are swept ("limbo"): the heap may refuse them, or accept
 *    them, in which case they must still hold exactly their old contents,
 *    and storing one somewhere reachable brings it (and what it reaches)
 *    back to life in the model too. This is how a client that kept a
 *    handle without a hold behaves, and it is the case that would expose
 *    a collector that frees something still in use.
 */
#include "testutil.h"

#define MAX_OBJS 4000
#define NHS 4
#define NROOTS 12

struct mobj {
	heap_ref ref;
	uint32_t nrefs, nbytes;
	int32_t *slot;        /* model ids, -1 for null */
	uint8_t *data;
	uint32_t holds[NHS];
	unsigned tenant;      /* charged to */
	uint64_t born;        /* cycles whose marking had begun when made */
	int reach;            /* reachable in the model */
	int gone;             /* known freed: never used again */
};

struct model {
	heap *h;
	struct rng r;
	heap_holds *hs[NHS];
	struct mobj o[MAX_OBJS];
	int n;
	int root[NROOTS];
	int *queue;
	long ops, cycles, forced, limbo_accepted, limbo_refused;
};

static void m_reach(struct model *m)
{
	int head = 0, tail = 0;
	for (int i = 0; i < m->n; i++) {
		struct mobj *o = &m->o[i];
		o->reach = 0;
		for (int k = 0; k < NHS; k++)
			if (o->holds[k])
				o->reach = 1;
		if (o->reach)
			m->queue[tail++] = i;
	}
	for (int k = 0; k < NROOTS; k++)
		if (m->root[k] >= 0 && !m->o[m->root[k]].reach) {
			m->o[m->root[k]].reach = 1;
			m->queue[tail++] = m->root[k];
		}
	while (head < tail) {
		struct mobj *o = &m->o[m->queue[head++]];
		for (uint32_t s = 0; s < o->nrefs; s++) {
			int t = o->slot[s];
			if (t >= 0 && !m->o[t].reach) {
				m->o[t].reach = 1;
				m->queue[tail++] = t;
			}
		}
	}
}

static int m_pick(struct model *m, int reachable)
{
	for (int tries = 0; tries < 64 && m->n; tries++) {
		int i = (int)rng_below(&m->r, (uint32_t)m->n);
		if (!m->o[i].gone && m->o[i].reach == reachable)
			return i;
	}
	return -1;
}

static heap_ref m_ref(struct model *m, int id) { return id < 0 ? 0 : m->o[id].ref; }
static unsigned tenant_of(int k) { return (unsigned)k * 7; }

static void fill(struct model *m, int id, uint32_t off, uint32_t len)
{
	struct mobj *o = &m->o[id];
	for (uint32_t i = 0; i < len; i++)
		o->data[off + i] = (uint8_t)rng_next(&m->r);
	OK(heap_write(m->h, o->ref, off, o->data + off, len));
}

static void op_alloc(struct model *m)
{
	if (m->n == MAX_OBJS)
		return;
	uint32_t pick = rng_below(&m->r, 100);
	uint32_t nrefs = pick < 2 ? 2500 + rng_below(&m->r, 3000) : rng_below(&m->r, 6);
	uint32_t nbytes = pick < 4 ? 33000 + rng_below(&m->r, 10000) : rng_below(&m->r, 80);
	/* A third of the small ones start with references ("new T(a, b)"),
	 * some of them limbo handles. */
	int val[3] = {-1, -1, -1}, limbo = 0;
	uint32_t nvals = nrefs && nrefs < 6 && rng_below(&m->r, 3) == 0 ? 1 + rng_below(&m->r, nrefs < 3 ? nrefs : 3) : 0;
	heap_ref vals[3];
	for (uint32_t i = 0; i < nvals; i++) {
		int from_limbo = rng_below(&m->r, 8) == 0;
		val[i] = rng_below(&m->r, 6) ? m_pick(m, !from_limbo) : -1;
		limbo |= from_limbo && val[i] >= 0;
		vals[i] = m_ref(m, val[i]);
	}
	int k = (int)rng_below(&m->r, NHS), id = m->n;
	struct mobj *o = &m->o[id];
	memset(o, 0, sizeof *o);
	/* Before the call: the allocation's assist may begin a cycle's
	 * marking after the object is made. */
	o->born = m->h->cycle;
	int err = heap_alloc_refs(m->h, m->hs[k], nrefs, nbytes, vals, nvals, &o->ref);
	if (limbo && err == HEAP_EBADREF) {
		m->limbo_refused++;
		for (uint32_t i = 0; i < nvals; i++)
			if (val[i] >= 0 && !m->o[val[i]].reach)
				m->o[val[i]].gone = 1;
		return;
	}
	OK(err);
	m->limbo_accepted += limbo;
	m->n++;
	o->nrefs = nrefs;
	o->nbytes = nbytes;
	o->slot = malloc((nrefs + 1) * sizeof *o->slot);
	o->data = calloc(nbytes + 1, 1);
	for (uint32_t s = 0; s < nrefs; s++)
		o->slot[s] = s < nvals ? val[s] : -1;
	o->holds[k] = 1;
	o->tenant = tenant_of(k);
	o->reach = 1;
	if (nvals)
		m_reach(m);
	if (nbytes)
		fill(m, id, 0, nbytes);
}

/* "a.slot = new T()": the new object is reachable only through a. */
static void op_alloc_into(struct model *m)
{
	int a = m_pick(m, 1);
	if (a < 0 || !m->o[a].nrefs || m->n == MAX_OBJS)
		return;
	uint32_t s = rng_below(&m->r, m->o[a].nrefs), nrefs = rng_below(&m->r, 4), nbytes = rng_below(&m->r, 40);
	int id = m->n++;
	struct mobj *o = &m->o[id];
	memset(o, 0, sizeof *o);
	o->tenant = tenant_of((int)rng_below(&m->r, NHS));
	OK(heap_set_tenant(m->h, o->tenant));
	o->born = m->h->cycle;
	OK(heap_alloc_into(m->h, m->o[a].ref, s, nrefs, nbytes, &o->ref));
	o->nrefs = nrefs;
	o->nbytes = nbytes;
	o->slot = malloc((nrefs + 1) * sizeof *o->slot);
	o->data = calloc(nbytes + 1, 1);
	for (uint32_t i = 0; i < nrefs; i++)
		o->slot[i] = -1;
	m->o[a].slot[s] = id;
	m_reach(m);
	if (nbytes)
		fill(m, id, 0, nbytes);
}

static void op_set_ref(struct model *m, int from_limbo)
{
	int a = m_pick(m, 1);
	if (a < 0 || !m->o[a].nrefs)
		return;
	int b = rng_below(&m->r, 8) ? m_pick(m, !from_limbo) : -1;
	uint32_t s = rng_below(&m->r, m->o[a].nrefs);
	int err = heap_set_ref(m->h, m->o[a].ref, s, m_ref(m, b));
	if (from_limbo && b >= 0 && err == HEAP_EBADREF) {
		m->limbo_refused++;
		m->o[b].gone = 1;
		return;
	}
	OK(err);
	if (from_limbo && b >= 0)
		m->limbo_accepted++;
	m->o[a].slot[s] = b;
	m_reach(m);
}

static void op_hold(struct model *m, int from_limbo)
{
	int a = m_pick(m, !from_limbo), k = (int)rng_below(&m->r, NHS);
	if (a < 0)
		return;
	int err = heap_hold(m->h, m->hs[k], m->o[a].ref);
	if (from_limbo && err == HEAP_EBADREF) {
		m->limbo_refused++;
		m->o[a].gone = 1;
		return;
	}
	OK(err);
	if (from_limbo)
		m->limbo_accepted++;
	m->o[a].holds[k]++;
	m_reach(m);
}

static void op_release(struct model *m)
{
	int a = m_pick(m, 1), k = (int)rng_below(&m->r, NHS);
	if (a < 0)
		return;
	if (!m->o[a].holds[k]) {
		assert_int_equal(heap_release(m->h, m->hs[k], m->o[a].ref), HEAP_ENOENT);
		return;
	}
	OK(heap_release(m->h, m->hs[k], m->o[a].ref));
	m->o[a].holds[k]--;
	m_reach(m);
}

static void op_get_ref(struct model *m)
{
	int a = m_pick(m, 1), k = (int)rng_below(&m->r, NHS);
	if (a < 0 || !m->o[a].nrefs)
		return;
	uint32_t s = rng_below(&m->r, m->o[a].nrefs);
	heap_ref out;
	OK(heap_get_ref(m->h, m->o[a].ref, s, m->hs[k], &out));
	assert_true(out == m_ref(m, m->o[a].slot[s]));
	if (m->o[a].slot[s] >= 0)
		m->o[m->o[a].slot[s]].holds[k]++;
}

static void op_write(struct model *m)
{
	int a = m_pick(m, 1);
	if (a < 0 || !m->o[a].nbytes)
		return;
	uint32_t off = rng_below(&m->r, m->o[a].nbytes);
	fill(m, a, off, 1 + rng_below(&m->r, m->o[a].nbytes - off));
}

/* A limbo object's handle may be refused; if it passes, the object must
 * be exactly as it was. */
static void op_read_limbo(struct model *m)
{
	int a = m_pick(m, 0);
	if (a < 0)
		return;
	struct mobj *o = &m->o[a];
	uint32_t nr, nb;
	int err = heap_object_size(m->h, o->ref, &nr, &nb);
	if (err == HEAP_EBADREF) {
		o->gone = 1;
		m->limbo_refused++;
		return;
	}
	OK(err);
	m->limbo_accepted++;
	assert_int_equal(nr, o->nrefs);
	assert_int_equal(nb, o->nbytes);
	if (nb) {
		uint8_t *buf = malloc(nb);
		OK(heap_read(m->h, o->ref, 0, buf, nb));
		assert_memory_equal(buf, o->data, nb);
		free(buf);
	}
}

static void op_root(struct model *m)
{
	int k = (int)rng_below(&m->r, NROOTS);
	char name[8];
	snprintf(name, sizeof name, "r%d", k);
	if (rng_below(&m->r, 3) == 0) {
		int err = heap_root_set(m->h, name, strlen(name), 0, NULL);
		assert_int_equal(err, m->root[k] >= 0 ? HEAP_OK : HEAP_ENOENT);
		m->root[k] = -1;
	} else if (rng_below(&m->r, 2)) {
		int a = m_pick(m, 1);
		if (a < 0)
			return;
		OK(heap_root_set(m->h, name, strlen(name), m->o[a].ref, NULL));
		m->root[k] = a;
	} else {
		int hk = (int)rng_below(&m->r, NHS);
		heap_ref out;
		int err = heap_root_get(m->h, name, strlen(name), m->hs[hk], &out);
		if (m->root[k] < 0) {
			assert_int_equal(err, HEAP_ENOENT);
			return;
		}
		OK(err);
		assert_true(out == m->o[m->root[k]].ref);
		m->o[m->root[k]].holds[hk]++;
	}
	m_reach(m);
}

/* A connection ends: its hold set and every hold in it go. */
static void op_disconnect(struct model *m)
{
	int k = (int)rng_below(&m->r, NHS);
	heap_holds_free(m->h, m->hs[k]);
	m->hs[k] = heap_holds_new(m->h);
	assert_non_null(m->hs[k]);
	OK(heap_holds_set_tenant(m->h, m->hs[k], tenant_of(k)));
	for (int i = 0; i < m->n; i++)
		m->o[i].holds[k] = 0;
	m_reach(m);
}

static void verify_reachable(struct model *m)
{
	uint64_t num_gc = test_stats(m->h).num_gc;
	for (int i = 0; i < m->n; i++) {
		struct mobj *o = &m->o[i];
		if (!o->reach)
			continue;
		uint32_t nr, nb;
		OK(heap_object_size(m->h, o->ref, &nr, &nb));
		assert_int_equal(nr, o->nrefs);
		assert_int_equal(nb, o->nbytes);
		struct heap_object_info info;
		OK(heap_object_info(m->h, o->ref, &info));
		uint64_t age = num_gc > o->born ? num_gc - o->born : 0;
		assert_int_equal(info.age, age < AGE_MAX ? age : AGE_MAX);
		for (uint32_t s = 0; s < nr; s++) {
			heap_ref out;
			OK(heap_get_ref(m->h, o->ref, s, NULL, &out));
			assert_true(out == m_ref(m, o->slot[s]));
		}
		if (nb) {
			uint8_t *buf = malloc(nb);
			OK(heap_read(m->h, o->ref, 0, buf, nb));
			assert_memory_equal(buf, o->data, nb);
			free(buf);
		}
	}
}

/* Renumbers the model to its reachable objects (ids are indices). */
static void compact(struct model *m)
{
	int *newid = malloc(m->n * sizeof *newid), n = 0;
	for (int i = 0; i < m->n; i++) {
		if (m->o[i].reach) {
			newid[i] = n;
			m->o[n++] = m->o[i];
		} else {
			newid[i] = -1;
			free(m->o[i].slot);
			free(m->o[i].data);
		}
	}
	for (int i = 0; i < n; i++)
		for (uint32_t s = 0; s < m->o[i].nrefs; s++)
			if (m->o[i].slot[s] >= 0)
				m->o[i].slot[s] = newid[m->o[i].slot[s]];
	for (int k = 0; k < NROOTS; k++)
		if (m->root[k] >= 0)
			m->root[k] = newid[m->root[k]];
	m->n = n;
	free(newid);
}

static void forced_gc(struct model *m)
{
	heap_gc(m->h);
	m->forced++;
	m_reach(m);
	int reachable = 0;
	uint64_t charged[NHS] = {0};
	for (int i = 0; i < m->n; i++) {
		if (m->o[i].reach) {
			reachable++;
			charged[m->o[i].tenant / 7] += test_charge(m->o[i].nrefs, m->o[i].nbytes);
		} else if (!m->o[i].gone) {
			uint32_t nr, nb;
			assert_int_equal(heap_object_size(m->h, m->o[i].ref, &nr, &nb), HEAP_EBADREF);
		}
	}
	assert_int_equal(test_stats(m->h).heap_objects, reachable);
	for (int k = 0; k < NHS; k++)
		assert_int_equal(heap_tenant_bytes(m->h, tenant_of(k)), charged[k]);
	verify_reachable(m);
	compact(m);
}

static void run_model(int cycles, int ops_per_slice, uint64_t slice_work, uint32_t workers)
{
	struct model *m = calloc(1, sizeof *m);
	m->r = test_rng("gc_model");
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.max_heap = (size_t)1 << 30;
	cfg.mark_workers = workers;
	m->h = heap_new(&cfg);
	assert_non_null(m->h);
	m->queue = malloc(MAX_OBJS * sizeof *m->queue);
	for (int k = 0; k < NHS; k++) {
		m->hs[k] = heap_holds_new(m->h);
		OK(heap_holds_set_tenant(m->h, m->hs[k], tenant_of(k)));
	}
	for (int k = 0; k < NROOTS; k++)
		m->root[k] = -1;
	uint64_t last_gc = 0;
	while (m->cycles < cycles) {
		for (int i = 0; i < ops_per_slice; i++, m->ops++) {
			uint32_t p = rng_below(&m->r, 100);
			if (p < 17 || m->n < 50)
				op_alloc(m);
			else if (p < 22)
				op_alloc_into(m);
			else if (p < 42)
				op_set_ref(m, 0);
			else if (p < 46)
				op_set_ref(m, 1);
			else if (p < 52)
				op_hold(m, 0);
			else if (p < 55)
				op_hold(m, 1);
			else if (p < 70)
				op_release(m);
			else if (p < 76)
				op_get_ref(m);
			else if (p < 82)
				op_write(m);
			else if (p < 86)
				op_read_limbo(m);
			else if (p < 95)
				op_root(m);
			else if (p < 96)
				op_disconnect(m);
		}
		if (!heap_gc_active(m->h))
			heap_gc_begin(m->h);
		gc_slice(m->h, 0, slice_work);
		if (rng_below(&m->r, 4) == 0)
			heap_idle(m->h, 1000000, NULL, NULL);
		uint64_t num_gc = test_stats(m->h).num_gc;
		if (num_gc != last_gc) {
			last_gc = num_gc;
			m->cycles++;
			verify_reachable(m);
			test_tenant_invariant(m->h);
			if (m->cycles % 50 == 0 || m->n > MAX_OBJS - 200)
				forced_gc(m);
		}
	}
	forced_gc(m);
	printf("# %ld ops, %ld cycles, %ld forced, limbo handles: %ld accepted, %ld refused\n", m->ops,
	       m->cycles, m->forced, m->limbo_accepted, m->limbo_refused);
	assert_true(m->limbo_accepted > 0 && m->limbo_refused > 0);
	for (int k = 0; k < NHS; k++)
		heap_holds_free(m->h, m->hs[k]);
	for (int k = 0; k < NROOTS; k++) {
		char name[8];
		snprintf(name, sizeof name, "r%d", k);
		heap_root_set(m->h, name, strlen(name), 0, NULL);
	}
	heap_gc(m->h);
	heap_gc(m->h);
	assert_int_equal(test_stats(m->h).heap_objects, 0);
	for (int i = 0; i < m->n; i++) {
		free(m->o[i].slot);
		free(m->o[i].data);
	}
	heap_free(m->h);
	free(m->queue);
	free(m);
}

/* Cycles spread over many operations: slices of little work. */
static void model_fine_slices(void **state)
{
	(void)state;
	run_model(3000, 8, 300, 0);
}

/* Larger slices: several cycles complete within one stretch of work. */
static void model_coarse_slices(void **state)
{
	(void)state;
	run_model(3000, 40, 20000, 0);
}

/* With the mark worker draining the queue on its own thread while the
 * operations run: the barrier and the handover of work race it for real. */
static void model_with_mark_worker(void **state)
{
	(void)state;
	run_model(3000, 8, 300, 1);
	run_model(3000, 40, 20000, 1);
}

/* Objects allocated while marking are black: even with no hold they
 * survive the cycle that is marking (floating garbage), and the next cycle
 * frees them. */
static void allocated_black(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref keep, young;
	OK(heap_alloc(h, hs, 1, 8, &keep));
	heap_gc_begin(h);
	gc_slice(h, 0, 1);
	assert_int_equal(h->phase, GC_MARK);
	OK(heap_alloc(h, NULL, 1, 8, &young));
	struct obj o;
	OK(obj_resolve(h, young, &o));
	uint32_t idx = (uint32_t)((o.p - span_base(h, o.s)) / o.s->elemsize);
	assert_true(bit_test(o.s->markbits, idx));
	while (gc_slice(h, 0, UINT64_MAX))
		;
	OK(heap_object_size(h, young, &(uint32_t){0}, &(uint32_t){0}));
	heap_gc(h);
	assert_int_equal(heap_object_size(h, young, &(uint32_t){0}, &(uint32_t){0}), HEAP_EBADREF);
	heap_free(h);
}

/* A cycle requested while one is marking runs after it: the running one
 * may already have marked what the caller just dropped. */
static void requested_cycle_follows_running_one(void **state)
{
	(void)state;
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	heap_ref drop;
	OK(heap_alloc(h, hs, 0, 64, &drop));
	heap_gc_begin(h);
	while (h->phase != GC_MARK || !h->gcw.marked_bytes)
		gc_slice(h, 0, 1);
	OK(heap_release(h, hs, drop));
	uint64_t cycles = test_stats(h).num_gc;
	heap_gc_begin(h);
	while (heap_gc_slice(h, 1000000))
		;
	assert_int_equal(test_stats(h).num_gc, cycles + 2);
	while (heap_idle(h, 1000000, NULL, NULL) == 0)
		;
	assert_int_equal(test_stats(h).heap_objects, 0);
	assert_int_equal(heap_object_size(h, drop, &(uint32_t){0}, &(uint32_t){0}), HEAP_EBADREF);
	heap_free(h);
}

/* Marking never recurses: a ten-million-long list survives and is freed. */
static void deep_list(void **state)
{
	(void)state;
	heap *h = test_heap_cfg((size_t)2 << 30, 100);
	heap_holds *hs = heap_holds_new(h);
	enum { N = 10000000 };
	heap_ref head = 0, obj;
	for (long i = 0; i < N; i++) {
		OK(heap_alloc(h, hs, 1, 0, &obj));
		OK(heap_set_ref(h, obj, 0, head));
		if (head)
			OK(heap_release(h, hs, head));
		head = obj;
	}
	heap_gc(h);
	assert_int_equal(test_stats(h).heap_objects, N);
	long n = 0;
	for (heap_ref p = head; p; n++)
		OK(heap_get_ref(h, p, 0, NULL, &p));
	assert_int_equal(n, N);
	OK(heap_release(h, hs, head));
	heap_gc(h);
	assert_int_equal(test_stats(h).heap_objects, 0);
	heap_free(h);
}

/* A heap whose marking needs far more workbufs than exist when the cycle
 * starts: a chain whose every link also points at WIDE objects with a
 * slot, so that LIFO marking, following the chain, leaves WIDE of them
 * queued per link. The worker, short of empties, waits for the mutator's
 * slices to provide them, and everything reachable survives. Then a heap
 * freed while its worker is marking: the worker finishes and stops. */
static void worker_short_of_workbufs(void **state)
{
	(void)state;
	enum { LINKS = 2000, WIDE = 253 };
	struct heap_config cfg;
	heap_config_default(&cfg);
	cfg.gc_percent = -1;
	cfg.mark_workers = 1;
	heap *h = heap_new(&cfg);
	assert_non_null(h);
	heap_holds *hs = heap_holds_new(h);
	heap_ref head, link, o;
	OK(heap_alloc(h, hs, WIDE + 1, 0, &head));
	link = head;
	for (int i = 0; i < LINKS; i++) {
		for (uint32_t k = 0; k < WIDE; k++)
			OK(heap_alloc_into(h, link, k, 1, 8, &o));
		if (i < LINKS - 1)
			OK(heap_alloc_into(h, link, WIDE, WIDE + 1, 0, &link));
	}
	heap_gc(h);
	while (heap_idle(h, 1000000, NULL, NULL) == 0)
		;
	assert_int_equal(test_stats(h).wbuf_spans_free, 0);
	uint64_t allocated = test_stats(h).wbuf_spans_alloc;
	/* Slices of one work unit leave nearly all the marking to the worker. */
	heap_gc_begin(h);
	while (gc_slice(h, 0, 1))
		;
	/* LINKS * WIDE queued entries need about 2000 workbufs, 125 spans,
	 * when the worker does the marking. It runs at idle priority, so on
	 * a machine busy with other work the mutator's slices may do it
	 * instead (and then the queue never grows deep): the worker's share
	 * of the scanning says which happened. */
	uint64_t by_worker = atomic_load(&h->bg.scan_work), by_mutator = h->gcw.scan_work;
	uint64_t spans = test_stats(h).wbuf_spans_alloc - allocated;
	print_message("# worker_short_of_workbufs: the worker scanned %llu%%, %llu workbuf spans made, "
		      "%llu times given empties\n",
		      (unsigned long long)(100 * by_worker / (by_worker + by_mutator)), (unsigned long long)spans,
		      (unsigned long long)h->bg.provided);
	struct heap_stats st = test_stats(h);
	assert_int_equal(st.mark_workers, 1);
	if (by_worker >= 3 * by_mutator) {
		assert_true(spans > 60);
		assert_true(h->bg.provided > 0);
		assert_true(st.mark_worker_ns > 0);
	} else {
		print_message("# worker_short_of_workbufs: the machine left the worker too little CPU to be short\n");
	}
	heap_gc(h);
	assert_int_equal(test_stats(h).heap_objects, LINKS * (WIDE + 1));
	heap_ref p = head;
	for (int i = 0; i < LINKS - 1; i++)
		OK(heap_get_ref(h, p, WIDE, NULL, &p));
	OK(heap_get_ref(h, p, WIDE - 1, NULL, &o));
	OK(heap_read(h, o, 0, &(uint64_t){0}, 8));
	heap_gc_begin(h);
	gc_slice(h, os_now_ns() + 50000, UINT64_MAX);
	heap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_fine_slices),
		cmocka_unit_test(model_coarse_slices),
		cmocka_unit_test(model_with_mark_worker),
		cmocka_unit_test(worker_short_of_workbufs),
		cmocka_unit_test(allocated_black),
		cmocka_unit_test(requested_cycle_follows_running_one),
		cmocka_unit_test(deep_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
