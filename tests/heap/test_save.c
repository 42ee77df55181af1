/*
 * test_save.c - saves and loads against a reference: the graph as it was
 * when the save began.
 *
 * The reference is canon(): the graph below the roots, in name order,
 * walked breadth first and written out with each object's sizes, bytes
 * and slots (as walk numbers, with their right). A save taken while the
 * heap is changed between its steps - writes, links, new objects, roots
 * replaced and deleted, holds dropped, collections asked for, sweeping -
 * must load as exactly the canon taken when it began. Ages are not saved:
 * a loaded object is 0 collections old.
 */
#include "testutil.h"

/* A growable byte string. */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *src, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void bytes_u64(struct bytes *b, uint64_t v) { bytes_add(b, &v, sizeof v); }

/* Walk numbers by place: open addressing over places + 1. */
struct numbers {
	uint32_t *key, *val;
	uint32_t mask;
};

static uint32_t *number_slot(struct numbers *m, uint32_t place)
{
	uint32_t i = (place * 0x9e3779b9u) & m->mask;
	while (m->key[i] && m->key[i] != place + 1)
		i = (i + 1) & m->mask;
	return &m->key[i];
}

struct root_row {
	char name[HEAP_ROOT_NAME_MAX + 1];
	size_t len;
	struct heap_root_meta m;
};

static int collect_root(void *arg, const char *name, size_t len, const struct heap_root_meta *m)
{
	struct bytes *rows = arg;
	struct root_row r = {.len = len, .m = *m};
	memcpy(r.name, name, len);
	bytes_add(rows, &r, sizeof r);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct root_row *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	return c ? c : (int)x->len - (int)y->len;
}

/* The graph below h's roots, as bytes two equal graphs share. */
static struct bytes canon(heap *h)
{
	struct bytes out = {0}, rows = {0};
	heap_root_names(h, collect_root, &rows);
	size_t nroots = rows.len / sizeof(struct root_row);
	struct root_row *r = (struct root_row *)rows.p;
	if (nroots)
		qsort(r, nroots, sizeof *r, by_name);
	struct numbers m = {.mask = (1u << 20) - 1};
	m.key = calloc(m.mask + 1, sizeof *m.key);
	m.val = calloc(m.mask + 1, sizeof *m.val);
	heap_ref *queue = malloc(sizeof *queue << 20);
	uint32_t qhead = 0, qtail = 0;
	assert_true(m.key && m.val && queue);
	/* The number of the object of handle v, queueing it when first seen. */
#define NUMBER(v, num)                                                        \
	do {                                                                  \
		uint32_t *k_ = number_slot(&m, ref_place(v));                 \
		if (!*k_) {                                                   \
			*k_ = ref_place(v) + 1;                               \
			m.val[k_ - m.key] = qtail + 1;                        \
			queue[qtail++] = (v);                                 \
		}                                                             \
		(num) = m.val[k_ - m.key];                                    \
	} while (0)
	for (size_t i = 0; i < nroots; i++) {
		heap_ref v;
		uint32_t num;
		OK(heap_root_get(h, r[i].name, r[i].len, NULL, &v));
		NUMBER(v, num);
		bytes_add(&out, r[i].name, r[i].len);
		bytes_u64(&out, (uint64_t)r[i].m.uid << 32 | r[i].m.gid);
		bytes_u64(&out, (uint64_t)r[i].m.mode << 40 | (uint64_t)num << 1 | heap_ref_is_readonly(h, v));
	}
	while (qhead < qtail) {
		struct obj o;
		OK(obj_resolve(h, queue[qhead++], &o));
		bytes_u64(&out, (uint64_t)((hdr_load(o.p) & HDR_SEALED) != 0) << 63 | (uint64_t)o.nrefs << 32 | o.nbytes);
		for (uint32_t k = 0; k < o.nrefs; k++) {
			heap_ref v = obj_slots(&o)[k];
			uint32_t num = 0;
			if (v)
				NUMBER(v, num);
			bytes_u64(&out, (uint64_t)num << 1 | (v && heap_ref_is_readonly(h, v)));
		}
		bytes_add(&out, obj_slots(&o) + o.nrefs, o.nbytes);
	}
#undef NUMBER
	free(m.key);
	free(m.val);
	free(queue);
	free(rows.p);
	return out;
}

/* A random graph: n objects held in hs (handles in refs), linked at
 * random (shared, cyclic, some links read-only), some large, and
 * nroots roots with metas. */
static void make_graph(heap *h, heap_holds *hs, struct rng *rg, heap_ref *refs, uint32_t n, uint32_t nroots)
{
	uint8_t data[48 << 10];
	for (uint32_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)rng_next(rg);
	const struct graph_shape shape = {.nrefs = 8, .nbytes = 200, .large_one_in = 50, .wide_one_in = 100,
					  .wide_nrefs = 600, .null_one_in = 4, .data = data};
	test_graph(h, hs, rg, refs, n, &shape);
	for (uint32_t j = 0; j < nroots; j++) {
		char name[32];
		int len = snprintf(name, sizeof name, "root/%u", j);
		struct heap_root_meta m = {.uid = 1000 + j % 3, .gid = 100 + j % 2, .mode = (uint16_t)(0600 | (j % 4) << 2)};
		heap_ref v = refs[rng_below(rg, n)];
		if (j % 5 == 4)
			OK(heap_ref_readonly(h, v, &v));
		OK(heap_root_set(h, name, (size_t)len, v, &m));
	}
}

/* Begins a save, running the slices of a cycle that is marking. */
static void begin(heap *h)
{
	int r;
	while ((r = heap_save_begin(h)) == 1)
		heap_gc_slice(h, 1000000);
	OK(r);
}

/* Runs the save to its end, cap bytes and budget_ns a step, calling
 * between(arg) after each step. */
static struct bytes run_save(heap *h, size_t cap, uint64_t budget_ns, void (*between)(void *), void *arg)
{
	struct bytes s = {0};
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	int more;
	do {
		size_t len;
		more = heap_save_step(h, budget_ns, buf, cap, &len);
		assert_true(more >= 0);
		assert_true(len <= cap);
		bytes_add(&s, buf, len);
		if (between)
			between(arg);
	} while (more);
	free(buf);
	return s;
}

/* heap_load's source: the stream in chunks of random sizes. */
struct feed {
	const struct bytes *s;
	size_t pos;
	struct rng *rg;
};

static long feed_next(void *arg, const uint8_t **chunk)
{
	struct feed *f = arg;
	size_t k = f->s->len - f->pos, most = 1 + rng_below(f->rg, 5000);
	if (k > most)
		k = most;
	*chunk = f->s->p + f->pos;
	f->pos += k;
	return (long)k;
}

static heap *load_new(const struct bytes *s, struct rng *rg, char *msg, size_t cap, int *err)
{
	heap *h = test_heap();
	struct feed f = {s, 0, rg};
	*err = heap_load(h, feed_next, &f, s->len, HEAP_SAVE_FORMAT, msg, cap);
	return h;
}

static void assert_same(const struct bytes *a, const struct bytes *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->p, b->p, a->len);
}

static void round_trip(void **state)
{
	(void)state;
	struct rng rg = test_rng("round_trip");
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	static heap_ref refs[20000];
	make_graph(h, hs, &rg, refs, 20000, 40);
	for (uint32_t i = 3; i < 20000; i += 7)  /* seals are kept (format 2) */
		OK(heap_seal(h, refs[i]));
	heap_gc(h);
	heap_gc(h);
	begin(h);
	struct bytes want = canon(h);
	struct bytes s = run_save(h, HEAP_SAVE_MIN_BUF, 20000, NULL, NULL);
	struct heap_save_info info;
	heap_save_info(h, &info);
	assert_true(info.traced);
	assert_int_equal(info.roots, 40);
	assert_int_equal(info.copy_bytes, 0);
	heap_save_end(h);
	assert_false(heap_saving(h));
	/* Its bitmaps and stack go back to the OS in idle work's steps. */
	assert_true(h->save.dead_len > 0);
	assert_true(heap_idle_due(h));
	while (heap_idle(h, 1000000, NULL, NULL) == 0)
		;
	assert_int_equal(h->save.dead_len, 0);
	char msg[200];
	int err;
	heap *g = load_new(&s, &rg, msg, sizeof msg, &err);
	if (err)
		fail_msg("load: %s", msg);
	struct bytes got = canon(g);
	assert_same(&want, &got);
	/* Ages are not saved: the loaded objects are new. */
	for (uint32_t j = 0; j < 40; j++) {
		char name[32];
		int len = snprintf(name, sizeof name, "root/%u", j);
		heap_ref v;
		struct heap_object_info oi;
		OK(heap_root_get(h, name, (size_t)len, NULL, &v));
		OK(heap_object_info(h, v, &oi));
		assert_true(oi.age >= 2);
		OK(heap_root_get(g, name, (size_t)len, NULL, &v));
		OK(heap_object_info(g, v, &oi));
		assert_int_equal(oi.age, 0);
	}
	struct heap_stats st = test_stats(g);
	assert_int_equal(st.heap_objects, info.objects);
	printf("# %llu objects, %llu slots, %llu bytes of data: a stream of %zu bytes\n",
	       (unsigned long long)info.objects, (unsigned long long)info.slots, (unsigned long long)info.bytes, s.len);
	heap_free(g);
	heap_free(h);
	free(want.p);
	free(got.p);
	free(s.p);
}

/* What the mutator does between the save's steps. */
struct churn {
	heap *h;
	heap_holds *hs;
	struct rng *rg;
	heap_ref *refs;
	uint32_t n, cap;
	uint64_t steps;
};

static void churn(void *arg)
{
	struct churn *c = arg;
	heap *h = c->h;
	c->steps++;
	for (int i = 0; i < 20; i++) {
		heap_ref a = c->refs[rng_below(c->rg, c->n)], b = c->refs[rng_below(c->rg, c->n)];
		uint32_t nrefs, nbytes, what = rng_below(c->rg, 100);
		if (heap_object_size(h, a, &nrefs, &nbytes))
			continue;  /* dropped, and swept */
		if (what < 30 && nbytes) {
			uint8_t junk[64];
			memset(junk, (int)what, sizeof junk);
			uint32_t off = rng_below(c->rg, nbytes), len = nbytes - off < 64 ? nbytes - off : 64;
			OK(heap_write(h, a, off, junk, len));
		} else if (what < 45 && nrefs) {
			if (heap_set_ref(h, a, rng_below(c->rg, nrefs), rng_below(c->rg, 3) ? b : 0) == HEAP_EBADREF)
				OK(heap_set_ref(h, a, 0, 0));
		} else if (what < 55 && nrefs) {
			/* A swap copies as set_ref does; a conflict changes nothing. */
			heap_ref cur, was;
			uint32_t slot = rng_below(c->rg, nrefs);
			OK(heap_get_ref(h, a, slot, NULL, &cur));
			int err = heap_cas_ref(h, a, slot, rng_below(c->rg, 4) ? cur : cur ^ 1, b, &was);
			assert_true(err == 0 || err == HEAP_ECONFLICT || err == HEAP_EBADREF);
			assert_true(err == HEAP_EBADREF || was == cur);
		} else if (what < 70 && nrefs && c->n < c->cap) {
			heap_ref r;
			OK(heap_alloc_into(h, a, rng_below(c->rg, nrefs), 2, 16, &r));
			OK(heap_hold(h, c->hs, r));
			c->refs[c->n++] = r;
		} else if (what < 80 && c->n < c->cap) {
			OK(heap_alloc(h, c->hs, 3, 40, &c->refs[c->n]));
			OK(heap_set_ref(h, c->refs[c->n], 0, a));
			c->n++;
		} else if (what < 88) {
			char name[32];
			int len = snprintf(name, sizeof name, "root/%u", rng_below(c->rg, 60));
			int err = heap_root_set(h, name, (size_t)len, rng_below(c->rg, 4) ? a : 0, NULL);
			assert_true(err == 0 || err == HEAP_ENOENT);
		} else if (what < 94) {
			heap_release(h, c->hs, a);  /* may make it garbage: no cycle runs to free it */
		} else if (what < 97) {
			heap_gc_begin(h);
			assert_false(heap_gc_active(h));
		} else {
			heap_idle(h, 20000, NULL, NULL);
		}
	}
}

/* A save while the graph changes loads as the graph when it began. */
static void mutation_during_save(void **state)
{
	(void)state;
	struct rng rg = test_rng("mutation_during_save");
	for (int round = 0; round < 6; round++) {
		heap *h = test_heap_cfg((size_t)1 << 30, 100);
		heap_holds *hs = heap_holds_new(h);
		uint32_t cap = 60000;
		heap_ref *refs = malloc(cap * sizeof *refs);
		make_graph(h, hs, &rg, refs, 15000, 30);
		/* Garbage for a sweep still running when the save begins, whose
		 * freed slots the churn's new objects take. */
		for (uint32_t i = 0; i < 15000; i += 2)
			heap_release(h, hs, refs[i]);
		heap_gc_begin(h);
		while (heap_gc_slice(h, 1000000))
			;
		assert_false(heap_swept(h));
		begin(h);
		struct bytes want = canon(h);
		struct churn c = {h, hs, &rg, refs, 15000, cap, 0};
		struct bytes s = run_save(h, HEAP_SAVE_MIN_BUF + rng_below(&rg, 8192), 2000 + rng_below(&rg, 20000),
					  churn, &c);
		struct heap_save_info info;
		heap_save_info(h, &info);
		heap_save_end(h);
		printf("# round %d: %llu steps, %llu objects saved, %llu bytes copied\n", round,
		       (unsigned long long)c.steps, (unsigned long long)info.objects,
		       (unsigned long long)info.copy_bytes);
		assert_true(info.copy_bytes > 0);
		char msg[200];
		int err;
		heap *g = load_new(&s, &rg, msg, sizeof msg, &err);
		if (err)
			fail_msg("load: %s", msg);
		struct bytes got = canon(g);
		assert_same(&want, &got);
		heap_free(g);
		heap_free(h);
		free(refs);
		free(want.p);
		free(got.p);
		free(s.p);
	}
}

/* A save waits for the marking in progress; no cycle starts during one,
 * and one asked for starts when it ends; heap_gc() ends it. */
static void cycles_and_saves(void **state)
{
	(void)state;
	struct rng rg = test_rng("cycles_and_saves");
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	static heap_ref refs[5000];
	make_graph(h, hs, &rg, refs, 5000, 5);
	heap_gc_begin(h);
	assert_true(heap_gc_active(h));
	assert_int_equal(heap_save_begin(h), 1);
	uint8_t buf[HEAP_SAVE_MIN_BUF];
	size_t len;
	uint64_t cycles = heap_cycles(h);
	while (heap_gc_slice(h, 1000000))
		;
	assert_int_equal(heap_cycles(h), cycles + 1);
	assert_int_equal(heap_save_step(h, 1000000, buf, sizeof buf, &len), 1);
	heap_gc_begin(h);
	assert_false(heap_gc_active(h));
	/* An allocation past the trigger starts nothing either. */
	for (int i = 0; i < 20000; i++)
		OK(heap_alloc(h, NULL, 0, 1000, &refs[0]));
	assert_false(heap_gc_active(h));
	assert_int_equal(heap_save_begin(h), HEAP_EINVAL);
	heap_save_end(h);
	assert_true(heap_gc_active(h));
	while (heap_gc_slice(h, 1000000))
		;
	OK(heap_save_begin(h));
	heap_gc(h);
	assert_false(heap_saving(h));
	assert_int_equal(heap_save_step(h, 1000000, buf, sizeof buf, &len), HEAP_ENOENT);
	heap_free(h);
}

/* Every cut of a good stream is refused, as are forged ones; flipped
 * bytes are refused or load, never crash. */
static void hostile_streams(void **state)
{
	(void)state;
	struct rng rg = test_rng("hostile_streams");
	heap *h = test_heap();
	heap_holds *hs = heap_holds_new(h);
	static heap_ref refs[300];
	make_graph(h, hs, &rg, refs, 300, 4);
	begin(h);
	struct bytes s = run_save(h, HEAP_SAVE_MIN_BUF, 1000000, NULL, NULL);
	heap_save_end(h);
	heap_free(h);
	char msg[200];
	int err;
	for (size_t cut = 0; cut < s.len; cut += 1 + cut / 50) {
		struct bytes t = {s.p, cut, cut};
		heap_free(load_new(&t, &rg, msg, sizeof msg, &err));
		assert_int_equal(err, -1);
		assert_true(msg[0]);
	}
	struct bytes longer = {0};
	bytes_add(&longer, s.p, s.len);
	bytes_add(&longer, "x", 1);
	heap_free(load_new(&longer, &rg, msg, sizeof msg, &err));
	assert_int_equal(err, -1);
	assert_non_null(strstr(msg, "after the end"));
	static const struct {
		uint8_t b[24];
		size_t len;
		const char *says;
	} forged[] = {
		{{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0}, 8, "more than"},          /* 4G objects in 8 bytes */
		{{1, 0, 0, 0, 2, 0}, 6, "more slots or bytes"},                    /* sizes past the counts */
		{{1, 0, 1, 0, 2, 0, 4}, 7, "object number 2"},                     /* a slot past the count */
		{{1, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 1}, 12, "object number 0"},   /* a read-only null root */
		{{2, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 2, 1, 'a', 0, 0, 0, 4}, 20, "another root's"},
		{{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, "an empty name"},
		{{1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 14, "longer than 64 bits"},
	};
	for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
		struct bytes t = {(uint8_t *)forged[i].b, forged[i].len, forged[i].len};
		heap_free(load_new(&t, &rg, msg, sizeof msg, &err));
		if (err != -1 || !strstr(msg, forged[i].says))
			fail_msg("forged stream %zu: %d \"%s\", not \"%s\"", i, err, msg, forged[i].says);
	}
	/* Format 1, before seals: the count alone; a 3 is 3 slots there, 1
	 * slot sealed in format 2. */
	static const uint8_t v1[] = {1, 1, 3, 0, 3, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 2};
	struct bytes t1 = {(uint8_t *)v1, sizeof v1, sizeof v1};
	struct feed f1 = {&t1, 0, &rg};
	heap *g = test_heap();
	if (heap_load(g, feed_next, &f1, t1.len, 1, msg, sizeof msg))
		fail_msg("format 1: %s", msg);
	heap_ref a;
	struct heap_object_info oi;
	OK(heap_root_get(g, "a", 1, NULL, &a));
	OK(heap_object_info(g, a, &oi));
	assert_int_equal(oi.nrefs, 3);
	assert_false(oi.sealed);
	heap_free(g);
	heap_free(load_new(&t1, &rg, msg, sizeof msg, &err));
	assert_int_equal(err, -1);
	for (int i = 0; i < 2000; i++) {
		struct bytes t = {0};
		bytes_add(&t, s.p, s.len);
		for (int k = 0; k < 1 + (int)rng_below(&rg, 4); k++)
			t.p[rng_below(&rg, (uint32_t)t.len)] ^= (uint8_t)(1 + rng_below(&rg, 255));
		heap_free(load_new(&t, &rg, msg, sizeof msg, &err));
		free(t.p);
	}
	free(longer.p);
	free(s.p);
}

/* A heap that never allocated has no arena pages, and saves all the same
 * (heapd's save at stop of a daemon nobody used). */
static void never_grown(void **state)
{
	(void)state;
	struct rng rg = test_rng("never_grown");
	heap *h = test_heap();
	begin(h);
	struct bytes s = run_save(h, HEAP_SAVE_MIN_BUF, 1000000, NULL, NULL);
	heap_save_end(h);
	heap_free(h);
	char msg[200];
	int err;
	heap *g = load_new(&s, &rg, msg, sizeof msg, &err);
	if (err)
		fail_msg("load: %s", msg);
	struct heap_stats st;
	heap_read_stats(g, &st);
	assert_int_equal(st.heap_objects, 0);
	heap_free(g);
	free(s.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(never_grown),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(mutation_during_save),
		cmocka_unit_test(cycles_and_saves),
		cmocka_unit_test(hostile_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
