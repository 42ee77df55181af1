/*
 * test_pipeline.c - libheapd's pipelining (heapd_append_*, heapd_flush,
 * heapd_get_reply) against a real heapd: the same answers as one request
 * at a time, pipelined and in batches, no deadlock however long the pipeline, its limits, mixing
 * with the one-at-a-time calls, and a connection lost with replies due.
 */
#include "daemonutil.h"

/* ---- a random sequence, run one at a time, pipelined and in batches ---- */

#define ROUNDS 40
#define ROUND_OPS 64
#define OBJS_MAX (ROUNDS * ROUND_OPS)
#define FORGED 0x123456789abcdef0ull

enum kind { K_ALLOC, K_ALLOC_INTO, K_WRITE, K_READ, K_SET_REF, K_GET_REF, K_RELEASE, K_ROOT_SET, K_ROOT_GET,
	    K_PING, K_STATS, K_GC, K_KINDS };

/* Objects are named by their index in run.objs: -1 is null, -2 forged. */
struct op {
	enum kind kind;
	int obj, target;
	uint32_t slot, off, len, nrefs, nbytes;
	char name[8];
	uint8_t data[32];
};

struct result {
	int status;
	char error[256];
	heapd_ref ref;
	int obj;            /* ref as an object index, once the round is applied */
	uint8_t data[96];
	size_t len;
	uint64_t holds;     /* get_stats */
};

struct obj {
	heapd_ref ref;
	uint32_t nrefs, nbytes;
	unsigned holds;     /* this connection's, counting repeats */
};

struct run {
	struct obj objs[OBJS_MAX];
	int n;
	uint64_t rng;
};

static uint64_t next(struct run *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

static uint32_t below(struct run *r, uint32_t n)
{
	return n ? (uint32_t)(next(r) % n) : 0;
}

/* A held object (so no collection can take it, whatever the timing), or
 * now and then null or a forged ref. */
static int pick(struct run *r)
{
	uint32_t x = below(r, 40);
	if (x == 0)
		return -1;
	if (x == 1)
		return -2;
	int held[OBJS_MAX], n = 0;
	for (int i = 0; i < r->n; i++)
		if (r->objs[i].holds)
			held[n++] = i;
	return n ? held[below(r, (uint32_t)n)] : -1;
}

static heapd_ref ref_of(const struct run *r, int i)
{
	return i == -1 ? 0 : i == -2 ? FORGED : r->objs[i].ref;
}

static uint32_t size_of(const struct run *r, int i, int refs)
{
	return i < 0 ? 4 : refs ? r->objs[i].nrefs : r->objs[i].nbytes;
}

/* One op, drawn from the state at the start of its round. */
static void gen(struct run *r, struct op *o)
{
	memset(o, 0, sizeof *o);
	o->kind = (enum kind)below(r, K_KINDS);
	o->obj = pick(r);
	o->nrefs = below(r, 5);
	o->nbytes = below(r, 20) ? below(r, 65) : 2u << 20; /* now and then past max_object_size */
	uint32_t nb = size_of(r, o->obj, 0), nr = size_of(r, o->obj, 1);
	o->slot = below(r, nr + 2);         /* sometimes out of range */
	o->off = below(r, nb + 4);
	o->len = below(r, nb + 4 - o->off); /* sometimes past the end */
	if (o->len > sizeof o->data)
		o->len = sizeof o->data;
	for (uint32_t i = 0; i < sizeof o->data; i++)
		o->data[i] = (uint8_t)next(r);
	if (below(r, 30))
		snprintf(o->name, sizeof o->name, "r%u", below(r, 6));
	switch (o->kind) {
	case K_SET_REF:
		o->target = below(r, 4) ? pick(r) : -1;
		break;
	case K_ALLOC_INTO: /* data within nbytes, now and then one byte more */
		o->len = below(r, 10) ? below(r, (o->nbytes < 32 ? o->nbytes : 32) + 1) : o->nbytes + 1;
		if (o->len > sizeof o->data)
			o->len = sizeof o->data;
		break;
	case K_RELEASE: {
		/* Only an object held twice: it stays held. Or a forged one. */
		int twice[OBJS_MAX], n = 0;
		for (int i = 0; i < r->n; i++)
			if (r->objs[i].holds >= 2)
				twice[n++] = i;
		o->obj = n && below(r, 8) ? twice[below(r, (uint32_t)n)] : -2;
		if (o->obj >= 0)
			r->objs[o->obj].holds--;
		break;
	}
	case K_ROOT_SET:
		o->obj = below(r, 3) ? o->obj : -1; /* deletes */
		break;
	case K_GC:
		if (below(r, 4))
			o->kind = K_PING; /* collections are slow: fewer of them */
		break;
	default:
		break;
	}
}

static int obj_index(struct run *r, heapd_ref ref, const struct op *o)
{
	if (!ref)
		return -1;
	for (int i = 0; i < r->n; i++)
		if (r->objs[i].ref == ref)
			return i;
	assert_true(r->n < OBJS_MAX);
	struct obj *x = &r->objs[r->n];
	*x = (struct obj){.ref = ref, .nrefs = o->nrefs, .nbytes = o->nbytes};
	return r->n++;
}

/* Results into the state: refs become object indexes, holds counted. */
static void apply(struct run *r, const struct op *ops, struct result *res, int n)
{
	for (int i = 0; i < n; i++) {
		const struct op *o = &ops[i];
		struct result *x = &res[i];
		x->obj = -1;
		if (x->status || !x->ref)
			continue;
		x->obj = obj_index(r, x->ref, o);
		if (o->kind == K_ALLOC || o->kind == K_GET_REF || o->kind == K_ROOT_GET ||
		    (o->kind == K_ALLOC_INTO && o->obj == -1))
			r->objs[x->obj].holds++;
	}
}

static void keep(struct result *x, int status, const char *error)
{
	x->status = status;
	snprintf(x->error, sizeof x->error, "%s", status ? error : "");
}

static void one(heapd *h, const struct run *r, const struct op *o, struct result *x)
{
	heapd_ref obj = ref_of(r, o->obj);
	heapd_stats st;
	int err = 0;
	memset(x, 0, sizeof *x);
	switch (o->kind) {
	case K_ALLOC: err = heapd_alloc(h, o->nrefs, o->nbytes, &x->ref); break;
	case K_ALLOC_INTO:
		err = heapd_alloc_into(h, obj, o->slot, o->nrefs, o->nbytes, o->data, o->len, &x->ref);
		break;
	case K_WRITE: err = heapd_write(h, obj, o->off, o->data, o->len); break;
	case K_READ:
		err = heapd_read(h, obj, o->off, x->data, o->len);
		x->len = err ? 0 : o->len;
		break;
	case K_SET_REF: err = heapd_set_ref(h, obj, o->slot, ref_of(r, o->target)); break;
	case K_GET_REF: err = heapd_get_ref(h, obj, o->slot, &x->ref); break;
	case K_RELEASE: err = heapd_release(h, obj); break;
	case K_ROOT_SET: err = heapd_root_set(h, o->name, obj); break;
	case K_ROOT_GET: err = heapd_root_get(h, o->name, &x->ref); break;
	case K_PING: err = heapd_ping(h, NULL); break;
	case K_STATS:
		err = heapd_get_stats(h, &st, sizeof st);
		x->holds = err ? 0 : st.holds;
		break;
	case K_GC: err = heapd_gc(h); break;
	case K_KINDS: break;
	}
	if (err)
		x->ref = 0;
	keep(x, err, heapd_errmsg(h));
}

static void append(heapd *h, const struct run *r, const struct op *o)
{
	heapd_ref obj = ref_of(r, o->obj);
	int err = 0;
	switch (o->kind) {
	case K_ALLOC: err = heapd_append_alloc(h, o->nrefs, o->nbytes); break;
	case K_ALLOC_INTO: err = heapd_append_alloc_into(h, obj, o->slot, o->nrefs, o->nbytes, o->data, o->len); break;
	case K_WRITE: err = heapd_append_write(h, obj, o->off, o->data, o->len); break;
	case K_READ: err = heapd_append_read(h, obj, o->off, o->len); break;
	case K_SET_REF: err = heapd_append_set_ref(h, obj, o->slot, ref_of(r, o->target)); break;
	case K_GET_REF: err = heapd_append_get_ref(h, obj, o->slot); break;
	case K_RELEASE: err = heapd_append_release(h, obj); break;
	case K_ROOT_SET: err = heapd_append_root_set(h, o->name, obj); break;
	case K_ROOT_GET: err = heapd_append_root_get(h, o->name); break;
	case K_PING: err = heapd_append_ping(h); break;
	case K_STATS: err = heapd_append_get_stats(h); break;
	case K_GC: err = heapd_append_gc(h); break;
	case K_KINDS: break;
	}
	assert_int_equal(err, 0);
}

static void take(heapd *h, const struct op *o, uint64_t id, struct result *x)
{
	heapd_reply r;
	memset(x, 0, sizeof *x);
	int err = heapd_get_reply(h, &r);
	assert_int_equal(err, r.status);
	assert_int_equal(err, heapd_errcode(h));
	assert_string_equal(r.error, heapd_errmsg(h));
	assert_int_equal(r.id, id);
	keep(x, err, r.error);
	x->ref = r.ref;
	if (!err && o->kind == K_READ) {
		assert_int_equal(r.len, o->len);
		if (r.len)
			memcpy(x->data, r.data, r.len);
		x->len = r.len;
	}
	if (!err && o->kind == K_STATS) {
		assert_non_null(r.stats);
		x->holds = r.stats->holds;
	}
}

/* Adds o to the batch b (ops that have a place in one). */
static void batch_add(heapd_batch *b, const struct run *r, const struct op *o)
{
	heapd_ref obj = ref_of(r, o->obj);
	int i = -1;
	switch (o->kind) {
	case K_ALLOC: i = heapd_batch_alloc(b, o->nrefs, o->nbytes); break;
	case K_ALLOC_INTO: i = heapd_batch_alloc_into(b, obj, o->slot, o->nrefs, o->nbytes, o->data, o->len); break;
	case K_WRITE: i = heapd_batch_write(b, obj, o->off, o->data, o->len); break;
	case K_READ: i = heapd_batch_read(b, obj, o->off, o->len); break;
	case K_SET_REF: i = heapd_batch_set_ref(b, obj, o->slot, ref_of(r, o->target)); break;
	case K_GET_REF: i = heapd_batch_get_ref(b, obj, o->slot); break;
	case K_RELEASE: i = heapd_batch_release(b, obj); break;
	case K_ROOT_SET: i = heapd_batch_root_set(b, o->name, obj); break;
	case K_ROOT_GET: i = heapd_batch_root_get(b, o->name); break;
	case K_STATS: i = heapd_batch_get_stats(b); break;
	default: fail_msg("kind %d has no place in a batch", o->kind);
	}
	assert_int_equal(i, (int)heapd_batch_count(b) - 1);
}

/* The round's ops in batches: each batch runs up to its first failure,
 * and the next one starts after it, so every op runs once, in order, as
 * one at a time. Ping and gc, which have no place in a batch, go alone. */
static void batched(heapd *h, const struct run *r, const struct op *ops, struct result *res, int n)
{
	heapd_batch *b = heapd_batch_new();
	assert_non_null(b);
	for (int i = 0; i < n;) {
		if (ops[i].kind == K_PING || ops[i].kind == K_GC) {
			one(h, r, &ops[i], &res[i]);
			i++;
			continue;
		}
		heapd_batch_reset(b);
		int j = i;
		while (j < n && ops[j].kind != K_PING && ops[j].kind != K_GC)
			batch_add(b, r, &ops[j++]);
		int err = heapd_batch_exec(h, b);
		int failed = heapd_batch_failed(b);
		assert_true(err ? failed >= 0 : failed == -1);
		int ran = failed >= 0 ? failed + 1 : j - i;
		for (int k = 0; k < ran; k++) {
			const struct op *o = &ops[i + k];
			struct result *x = &res[i + k];
			heapd_reply rep;
			memset(x, 0, sizeof *x);
			int st = heapd_batch_reply(b, k, &rep);
			assert_int_equal(st, rep.status);
			assert_true(st != HEAPD_ESKIPPED);
			keep(x, st, rep.error);
			x->ref = st ? 0 : rep.ref;
			if (!st && o->kind == K_READ) {
				assert_int_equal(rep.len, o->len);
				if (rep.len)
					memcpy(x->data, rep.data, rep.len);
				x->len = rep.len;
			}
			if (!st && o->kind == K_STATS)
				x->holds = rep.stats->holds;
		}
		i += ran;
	}
	heapd_batch_free(b);
}

static void same(const struct op *o, int i, const struct result *a, const struct result *b)
{
	if (a->status != b->status || strcmp(a->error, b->error) != 0 || a->obj != b->obj || a->len != b->len ||
	    memcmp(a->data, b->data, a->len) != 0 || a->holds != b->holds)
		fail_msg("op %d (kind %d): one at a time %d \"%s\" obj %d, pipelined %d \"%s\" obj %d", i, o->kind,
			 a->status, a->error, a->obj, b->status, b->error, b->obj);
}

static void same_as_one_at_a_time(void **state)
{
	(void)state;
	struct daemon d1, d2, d3;
	daemon_start(&d1, "--max-object-size", "1M", NULL);
	daemon_start(&d2, "--max-object-size", "1M", NULL);
	daemon_start(&d3, "--max-object-size", "1M", NULL);
	heapd *h1 = client(&d1), *h2 = client(&d2), *h3 = client(&d3);
	static struct run r1, r2, r3;
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	memset(&r3, 0, sizeof r3);
	r1.rng = r2.rng = r3.rng = 0x9e3779b97f4a7c15ull;
	struct op ops1[ROUND_OPS], ops2[ROUND_OPS], ops3[ROUND_OPS];
	struct result res1[ROUND_OPS], res2[ROUND_OPS], res3[ROUND_OPS];
	int statuses[12] = {0}, errors = 0;
	uint64_t id = 1; /* Hello's */
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < ROUND_OPS; i++) {
			gen(&r1, &ops1[i]);
			gen(&r2, &ops2[i]);
			gen(&r3, &ops3[i]);
			assert_memory_equal(&ops1[i], &ops2[i], sizeof ops1[i]);
			assert_memory_equal(&ops1[i], &ops3[i], sizeof ops1[i]);
		}
		for (int i = 0; i < ROUND_OPS; i++)
			one(h1, &r1, &ops1[i], &res1[i]);
		for (int i = 0; i < ROUND_OPS; i++)
			append(h2, &r2, &ops2[i]);
		assert_int_equal(heapd_pending(h2), ROUND_OPS);
		for (int i = 0; i < ROUND_OPS; i++)
			take(h2, &ops2[i], ++id, &res2[i]);
		assert_int_equal(heapd_pending(h2), 0);
		batched(h3, &r3, ops3, res3, ROUND_OPS);
		apply(&r1, ops1, res1, ROUND_OPS);
		apply(&r2, ops2, res2, ROUND_OPS);
		apply(&r3, ops3, res3, ROUND_OPS);
		for (int i = 0; i < ROUND_OPS; i++) {
			same(&ops1[i], round * ROUND_OPS + i, &res1[i], &res2[i]);
			same(&ops1[i], round * ROUND_OPS + i, &res1[i], &res3[i]);
			statuses[-res1[i].status]++;
			errors += res1[i].status != 0;
		}
	}
	/* The sequence met every error it can: bad refs, ranges, limits,
	 * missing roots and holds, bad names. */
	assert_true(statuses[0] > ROUNDS * ROUND_OPS / 2);
	assert_true(statuses[-HEAPD_EBADREF] > 0);
	assert_true(statuses[-HEAPD_ERANGE] > 0);
	assert_true(statuses[-HEAPD_ELIMIT] > 0);
	assert_true(statuses[-HEAPD_ENOTFOUND] > 0);
	assert_true(statuses[-HEAPD_EINVAL] > 0);
	assert_true(errors < ROUNDS * ROUND_OPS / 2);
	heapd_close(h1);
	heapd_close(h2);
	heapd_close(h3);
	daemon_stop(&d1);
	daemon_stop(&d2);
	daemon_stop(&d3);
}

/* ---- no deadlock ---- */

#define BIG (64u << 10)

/* An object of BIG bytes whose last bytes are a pattern. */
static heapd_ref big_object(heapd *h, uint8_t *tail)
{
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, BIG, &a), 0);
	for (int i = 0; i < 64; i++)
		tail[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(heapd_write(h, a, BIG - 64, tail, 64), 0);
	return a;
}

static void take_big(heapd *h, const uint8_t *tail)
{
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.len, BIG);
	assert_memory_equal((const uint8_t *)r.data + BIG - 64, tail, 64);
}

/* 100,000 reads of 64 KiB appended before any reply is taken: 6.4 GB of
 * replies, against a daemon that stops reading a client with more than
 * 4 KiB of replies unread. heapd_get_reply sends the rest as it reads. */
static void long_pipeline_does_not_deadlock(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-output-buffer", "4K", NULL);
	heapd *h = client(&d);
	uint8_t tail[64];
	heapd_ref a = big_object(h, tail);
	enum { N = 100000 };
	for (int i = 0; i < N; i++)
		assert_int_equal(heapd_append_read(h, a, 0, BIG), 0);
	assert_int_equal(heapd_pending(h), N);
	for (int i = 0; i < N; i++)
		take_big(h, tail);
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* heapd_flush sends what it can without taking replies: it reads those
 * that come meanwhile, up to HEAPD_PIPELINE_BYTES, then stops. */
static void flush_reads_ahead_and_stops(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-output-buffer", "4K", NULL);
	heapd *h = client(&d);
	uint8_t tail[64];
	heapd_ref a = big_object(h, tail);
	/* Short: all of it goes. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(heapd_append_read(h, a, 0, BIG), 0);
	assert_int_equal(heapd_flush(h), 0);
	assert_int_equal(heapd_flush(h), 0);
	for (int i = 0; i < 10; i++)
		take_big(h, tail);
	/* Twice HEAPD_PIPELINE_BYTES of replies: flush returns with some
	 * unsent, and taking the replies sends the rest. */
	enum { N = 2 * (HEAPD_PIPELINE_BYTES / BIG) };
	for (int i = 0; i < N; i++)
		assert_int_equal(heapd_append_read(h, a, 0, BIG), 0);
	assert_int_equal(heapd_flush(h), 0);
	assert_int_equal(heapd_pending(h), N);
	for (int i = 0; i < N; i++)
		take_big(h, tail);
	heapd_close(h);
	daemon_stop(&d);
}

/* ---- limits and mixing ---- */

static void queue_limits(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	/* HEAPD_PIPELINE_MAX replies pending. */
	for (int i = 0; i < HEAPD_PIPELINE_MAX; i++)
		assert_int_equal(heapd_append_ping(h), 0);
	assert_int_equal(heapd_append_ping(h), HEAPD_ELIMIT);
	assert_int_equal(heapd_errcode(h), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h), "HEAPD_PIPELINE_MAX"));
	assert_int_equal(heapd_pending(h), HEAPD_PIPELINE_MAX);
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_append_ping(h), 0); /* room for one again */
	for (int i = 0; i < HEAPD_PIPELINE_MAX; i++)
		assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.id, 2 + HEAPD_PIPELINE_MAX); /* Hello was 1; the refused append took none */

	/* HEAPD_PIPELINE_BYTES unsent: 1 MiB writes. */
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, 1u << 20, &a), 0);
	static uint8_t mib[1u << 20];
	int n = 0, err;
	while ((err = heapd_append_write(h, a, 0, mib, sizeof mib)) == 0)
		n++;
	assert_int_equal(err, HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h), "HEAPD_PIPELINE_BYTES"));
	assert_int_equal(n, HEAPD_PIPELINE_BYTES / (1u << 20) - 1);
	while (heapd_pending(h))
		assert_int_equal(heapd_get_reply(h, &r), 0);

	/* A request over max_frame_size is refused alone. */
	assert_int_equal(heapd_append_ping(h), 0);
	static uint8_t huge[17u << 20];
	assert_int_equal(heapd_append_write(h, a, 0, huge, sizeof huge), HEAPD_ELIMIT);
	assert_int_equal(heapd_pending(h), 1);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* One at a time while replies are pending: refused, nothing changes. */
static void mixing_is_refused(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_EINVAL);
	assert_int_equal(r.status, HEAPD_EINVAL);
	assert_string_equal(heapd_errmsg(h), "no reply pending");
	heapd_ref a, got;
	assert_int_equal(heapd_alloc(h, 1, 8, &a), 0);
	assert_int_equal(heapd_append_write(h, a, 0, "pipeline", 8), 0);
	assert_int_equal(heapd_append_get_ref(h, a, 0), 0);
	char buf[8];
	assert_int_equal(heapd_read(h, a, 0, buf, 8), HEAPD_EINVAL);
	assert_string_equal(heapd_errmsg(h), "2 replies pending: take them with heapd_get_reply first");
	assert_int_equal(heapd_alloc(h, 0, 8, &got), HEAPD_EINVAL);
	heapd_batch *b = heapd_batch_new();
	heapd_batch_alloc(b, 0, 8);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_reply(b, 0, &r), HEAPD_ESKIPPED); /* not sent: nothing ran */
	assert_int_equal(heapd_pending(h), 2);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.ref, 0); /* empty slot */
	assert_int_equal(heapd_read(h, a, 0, buf, 8), 0);
	assert_memory_equal(buf, "pipeline", 8);
	assert_int_equal(stats_of(h)->heap_objects, 1); /* the refused alloc and batch did nothing */
	/* A batch appended among other requests: its results in b. */
	assert_int_equal(heapd_append_ping(h), 0);
	assert_int_equal(heapd_append_batch(h, b), 0);
	assert_int_equal(heapd_append_gc(h), 0);
	assert_int_equal(heapd_append_free_os_memory(h), 0);
	assert_int_equal(heapd_append_root_get(h, "none"), 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_batch_reply(b, 0, &r), 0);
	assert_true(r.ref != 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ENOTFOUND);
	assert_non_null(strstr(r.error, "none"));
	assert_int_equal(heapd_append_root_set(h, NULL, a), HEAPD_EINVAL);
	assert_int_equal(heapd_append_root_get(h, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_pending(h), 0);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* ---- a connection lost with replies due ---- */

/* A fake daemon: answers Hello, reads `want` more frames, answers the
 * first `answer` of them (OK, with their ids), then closes. */
static pid_t fake_daemon(const char *path, int want, int answer)
{
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 4), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid) {
		close(lfd);
		return pid;
	}
	int fd = accept(lfd, NULL, NULL);
	uint64_t ids[64];
	for (int i = 0; i <= want; i++) {
		uint8_t hdr[4], body[4096];
		if (recv(fd, hdr, 4, MSG_WAITALL) != 4)
			_exit(1);
		uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
		if (n > sizeof body || recv(fd, body, n, MSG_WAITALL) != (ssize_t)n)
			_exit(1);
		Heapd__Request *req = heapd__request__unpack(NULL, n, body);
		ids[i] = req ? req->id : 0;
		heapd__request__free_unpacked(req, NULL);
		if (i == 0) {
			Heapd__HelloReply hr = HEAPD__HELLO_REPLY__INIT;
			hr.version = 1;
			hr.server_version = "fake";
			hr.max_frame = 1 << 20;
			Heapd__Response resp = HEAPD__RESPONSE__INIT;
			resp.id = ids[0];
			resp.result_case = HEAPD__RESPONSE__RESULT_HELLO;
			resp.hello = &hr;
			uint8_t out[256];
			size_t m = heapd__response__pack(&resp, out + 4);
			out[0] = out[1] = out[2] = 0;
			out[3] = (uint8_t)m;
			send(fd, out, 4 + m, MSG_NOSIGNAL);
		}
	}
	for (int i = 1; i <= answer; i++) {
		Heapd__Response resp = HEAPD__RESPONSE__INIT;
		resp.id = ids[i];
		uint8_t out[64];
		size_t m = heapd__response__pack(&resp, out + 4);
		out[0] = out[1] = out[2] = 0;
		out[3] = (uint8_t)m;
		send(fd, out, 4 + m, MSG_NOSIGNAL);
	}
	close(fd);
	_exit(0);
}

static void connection_lost(void **state)
{
	(void)state;
	char dir[] = "/tmp/heapd-fake.XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/fake.sock", dir);
	pid_t pid = fake_daemon(path, 10, 3);
	heapd *h = heapd_connect(path);
	assert_int_equal(heapd_errcode(h), 0);
	heapd_batch *b = heapd_batch_new();
	heapd_batch_alloc(b, 0, 8);
	heapd_batch_alloc(b, 0, 8);
	for (int i = 0; i < 10; i++)
		assert_int_equal(i == 5 ? heapd_append_batch(h, b) : heapd_append_ping(h), 0);
	heapd_reply r;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(heapd_get_reply(h, &r), 0);
		assert_int_equal(r.id, 2 + i);
	}
	/* The daemon is gone: every reply still due is EIO, in order. */
	for (int i = 3; i < 10; i++) {
		assert_int_equal(heapd_get_reply(h, &r), HEAPD_EIO);
		assert_int_equal(r.status, HEAPD_EIO);
		assert_int_equal(r.id, 2 + i);
		assert_int_equal(heapd_errcode(h), HEAPD_EIO);
	}
	assert_int_equal(heapd_batch_failed(b), -1);
	assert_int_equal(heapd_batch_reply(b, 0, &r), HEAPD_EIO);
	assert_int_equal(heapd_batch_reply(b, 1, &r), HEAPD_EIO);
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_EIO);
	assert_int_equal(heapd_append_ping(h), HEAPD_EIO);
	assert_int_equal(heapd_ping(h, NULL), HEAPD_EIO);
	heapd_batch_free(b);
	heapd_close(h);
	waitpid(pid, NULL, 0);
	unlink(path);
	rmdir(dir);

	/* A real daemon killed with requests queued and unsent. */
	struct daemon d;
	daemon_start(&d, NULL);
	h = client(&d);
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_append_alloc(h, 0, 8), 0);
	assert_int_equal(daemon_stop_sig(&d, SIGKILL), -1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_get_reply(h, &r), HEAPD_EIO);
	assert_int_equal(heapd_pending(h), 0);
	heapd_close(h);
	unlink(d.sock);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_one_at_a_time),
		cmocka_unit_test(long_pipeline_does_not_deadlock),
		cmocka_unit_test(flush_reads_ahead_and_stops),
		cmocka_unit_test(queue_limits),
		cmocka_unit_test(mixing_is_refused),
		cmocka_unit_test(connection_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
