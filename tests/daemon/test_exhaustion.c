/*
 * test_exhaustion.c - the heap driven to its limits through the daemon:
 *
 *   deep_chain        a list of 10^6 objects (10^7 in the long mode:
 *                     HEAPD_CHAIN_NODES=10000000) reachable only through
 *                     one named root, link by link. Marking must not
 *                     recurse: the list survives collections and every
 *                     node reads back, then it all goes when the root does.
 *   heap_full         eight clients allocate at once into a 16 MiB heap
 *                     until each gets HEAPD_ENOMEM; nothing that was
 *                     reachable is lost, and allocation works again once
 *                     memory is freed.
 *
 * Both check the daemon's peak RSS against a bound that follows from the
 * objects and the limits (abuseutil.h), and that the heap is empty at the
 * end. The chain is built with pipelined "obj.slot = new T(data)"
 * requests on 1,000 segments at once, then the segments are joined: one
 * round trip per node would take minutes.
 */
#include "abuseutil.h"

/* ----------------------------------------------------------- deep chain */

#define SEGMENTS 1000u

static uint64_t chain_nodes(void)
{
	const char *v = getenv("HEAPD_CHAIN_NODES");
	uint64_t n = v && v[0] ? strtoull(v, NULL, 10) : 1000000u;
	n -= n % SEGMENTS;
	return n < SEGMENTS ? SEGMENTS : n;
}

/* Node i's 8 bytes of data: its index. */
static void chain_build(int fd, heapd_ref *ref, uint64_t n)
{
	uint64_t len = n / SEGMENTS;
	struct batch b = {0};
	/* Segment heads: held by the session until the segments are joined. */
	for (uint64_t j = 0; j < SEGMENTS; j++) {
		uint64_t i = j * len;
		batch_add(&b, rq_alloc_into(i, 0, 0, 1, 8, &i, 8));
	}
	batch_send(fd, &b);
	for (uint64_t j = 0; j < SEGMENTS; j++) {
		Heapd__Response *resp = reply_expect(fd, j * len, HEAPD__STATUS__OK);
		ref[j * len] = resp->ref;
		heapd__response__free_unpacked(resp, NULL);
	}
	/* Each step adds one node to every segment: tail.slot0 = new node. */
	for (uint64_t s = 1; s < len; s++) {
		for (uint64_t j = 0; j < SEGMENTS; j++) {
			uint64_t i = j * len + s;
			batch_add(&b, rq_alloc_into(i, ref[i - 1], 0, 1, 8, &i, 8));
		}
		batch_send(fd, &b);
		for (uint64_t j = 0; j < SEGMENTS; j++) {
			uint64_t i = j * len + s;
			Heapd__Response *resp = reply_expect(fd, i, HEAPD__STATUS__OK);
			ref[i] = resp->ref;
			heapd__response__free_unpacked(resp, NULL);
		}
	}
	/* Join: each segment's tail points at the next one's head; then only
	 * the root keeps the chain. */
	for (uint64_t j = 0; j + 1 < SEGMENTS; j++)
		batch_add(&b, rq_set_ref(j, ref[(j + 1) * len - 1], 0, ref[(j + 1) * len]));
	batch_send(fd, &b);
	for (uint64_t j = 0; j + 1 < SEGMENTS; j++)
		status_expect(fd, j, HEAPD__STATUS__OK);
	batch_free(&b);
}

/* Every node, pipelined: its data is its index, its slot holds the next
 * node (get_ref adds a hold, released at once). */
static void chain_verify(int fd, const heapd_ref *ref, uint64_t n)
{
	struct batch b = {0};
	enum { STEP = 1000 };
	for (uint64_t first = 0; first < n; first += STEP) {
		uint64_t end = first + STEP < n ? first + STEP : n;
		for (uint64_t i = first; i < end; i++) {
			batch_add(&b, rq_read(3 * i, ref[i], 0, 8));
			batch_add(&b, rq_get_ref(3 * i + 1, ref[i], 0));
			batch_add(&b, i + 1 < n ? rq_release(3 * i + 2, ref[i + 1]) : rq_ping(3 * i + 2));
		}
		batch_send(fd, &b);
		for (uint64_t i = first; i < end; i++) {
			Heapd__Response *resp = reply_expect(fd, 3 * i, HEAPD__STATUS__OK);
			assert_int_equal(resp->data.len, 8);
			assert_memory_equal(resp->data.data, &i, 8);
			heapd__response__free_unpacked(resp, NULL);
			resp = reply_expect(fd, 3 * i + 1, HEAPD__STATUS__OK);
			assert_true(resp->ref == (i + 1 < n ? ref[i + 1] : 0));
			heapd__response__free_unpacked(resp, NULL);
			status_expect(fd, 3 * i + 2, HEAPD__STATUS__OK);
		}
	}
	batch_free(&b);
}

static void deep_chain(void **state)
{
	(void)state;
	uint64_t n = chain_nodes();
	struct daemon d;
	daemon_start(&d, "--max-heap", "2G", "--max-heap-per-uid", "none", NULL);  /* HEAPD_CHAIN_NODES may pass 1 GiB */
	heapd *obs = client(&d);
	uint64_t rss0 = rss_now(&d);
	heapd_ref *ref = malloc(n * sizeof *ref);
	assert_non_null(ref);
	int fd = raw_connect(&d);
	raw_hello(fd);
	uint64_t t0 = mono_ns();
	chain_build(fd, ref, n);
	uint64_t t1 = mono_ns();
	assert_int_equal(heapd_root_set(obs, "chain", ref[0]), 0);
	close(fd); /* its holds on the segment heads go */
	/* Only the root keeps the chain now: a collection must follow it
	 * link by link, n deep. */
	assert_int_equal(heapd_gc(obs), 0);
	assert_int_equal(heapd_gc(obs), 0);
	heapd_stats *st = stats_of(obs);
	assert_int_equal(st->heap_objects, n);
	assert_int_equal(st->holds, 0);
	uint64_t inuse = st->heap_inuse;
	fd = raw_connect(&d);
	raw_hello(fd);
	chain_verify(fd, ref, n);
	close(fd);
	uint64_t t2 = mono_ns();
	print_message("# deep_chain: %llu nodes, built in %.1f s, verified in %.1f s, heap %llu MiB\n",
		      (unsigned long long)n, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
		      (unsigned long long)(inuse >> 20));
	/* The objects (32 bytes each), the session's hold table, the mark
	 * queue (one workbuf: the chain has one grey node at a time). */
	rss_check(&d, rss0, n * 32 + n * 32 / 4 + 32 * MIB, "deep_chain");
	assert_int_equal(heapd_root_set(obs, "chain", 0), 0);
	assert_int_equal(heapd_gc(obs), 0);
	assert_int_equal(stats_of(obs)->heap_objects, 0);
	free(ref);
	heapd_close(obs);
	daemon_stop(&d);
}

/* ------------------------------------------------------------ heap full */

#define ALLOCATORS 8
#define OBJ_BYTES 1000u

/* In a child: no cmocka, a message and exit status 1. */
#define CHILD_CHECK(cond, ...)                                                                                 \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			fprintf(stderr, "allocator %d: ", who);                                              \
			fprintf(stderr, __VA_ARGS__);                                                          \
			fprintf(stderr, " (line %d)\n", __LINE__);                                            \
			_exit(1);                                                                              \
		}                                                                                              \
	} while (0)

/* Object k of allocator who: OBJ_BYTES of a pattern only it has. Chain
 * node c is object c, held object i is object HELD_BASE + i. */
#define HELD_BASE 100000u

static void pattern(uint8_t *buf, int who, uint32_t k)
{
	for (uint32_t i = 0; i < OBJ_BYTES; i++)
		buf[i] = (uint8_t)(who * 31 + k * 7 + i);
}

struct allocator {
	heapd_ref *chain, *held; /* the rooted list's nodes; objects only held */
	uint32_t nchain, nheld;
};

/* What an allocator tells the test once the heap refuses it. */
struct report {
	int who;
	uint32_t nchain;
};

/* Alternates: a node appended to the rooted list ("c<who>": tail.slot0 =
 * new node), and an object held by the session alone. Stops once both
 * kinds get ENOMEM (they use different span classes, so one may still
 * fit after the other no longer does). */
static void fill_heap(heapd *h, int who, struct allocator *a, uint32_t cap)
{
	uint8_t buf[OBJ_BYTES];
	char name[16];
	snprintf(name, sizeof name, "c%d", who);
	pattern(buf, who, 0);
	CHILD_CHECK(heapd_alloc_into(h, 0, 0, 1, OBJ_BYTES, buf, OBJ_BYTES, &a->chain[0]) == 0, "first alloc");
	CHILD_CHECK(heapd_root_set(h, name, a->chain[0]) == 0, "root_set");
	CHILD_CHECK(heapd_release(h, a->chain[0]) == 0, "release");
	a->nchain = 1;
	int chain_full = 0, held_full = 0;
	for (uint32_t k = 1; !chain_full || !held_full; k++) {
		CHILD_CHECK(a->nchain < cap && a->nheld < cap, "the heap never filled");
		heapd_ref r;
		int err;
		if (k % 2) {
			pattern(buf, who, a->nchain);
			err = heapd_alloc_into(h, a->chain[a->nchain - 1], 0, 1, OBJ_BYTES, buf, OBJ_BYTES, &r);
			if (!err)
				a->chain[a->nchain++] = r;
			chain_full = err == HEAPD_ENOMEM;
		} else {
			pattern(buf, who, HELD_BASE + a->nheld);
			err = heapd_alloc_into(h, 0, 0, 0, OBJ_BYTES, buf, OBJ_BYTES, &r);
			if (!err)
				a->held[a->nheld++] = r;
			held_full = err == HEAPD_ENOMEM;
		}
		CHILD_CHECK(!err || err == HEAPD_ENOMEM, "alloc: %s", heapd_errmsg(h));
		CHILD_CHECK(!err || strstr(heapd_errmsg(h), "alloc"), "message: %s", heapd_errmsg(h));
	}
}

/* Reads back every object: its pattern, and the list links (get_ref
 * holds, so each is released). */
static void check_objects(heapd *h, int who, const struct allocator *a)
{
	uint8_t want[OBJ_BYTES], got[OBJ_BYTES];
	for (uint32_t c = 0; c < a->nchain; c++) {
		pattern(want, who, c);
		CHILD_CHECK(heapd_read(h, a->chain[c], 0, got, OBJ_BYTES) == 0, "read chain %u", c);
		CHILD_CHECK(memcmp(got, want, OBJ_BYTES) == 0, "chain node %u changed", c);
		heapd_ref next;
		CHILD_CHECK(heapd_get_ref(h, a->chain[c], 0, &next) == 0, "get_ref");
		CHILD_CHECK(next == (c + 1 < a->nchain ? a->chain[c + 1] : 0), "chain link %u changed", c);
		CHILD_CHECK(!next || heapd_release(h, next) == 0, "release");
	}
	for (uint32_t i = 0; i < a->nheld; i++) {
		pattern(want, who, HELD_BASE + i);
		CHILD_CHECK(heapd_read(h, a->held[i], 0, got, OBJ_BYTES) == 0, "read held %u", i);
		CHILD_CHECK(memcmp(got, want, OBJ_BYTES) == 0, "held object %u changed", i);
	}
}

/* One allocator process: waits for the start, fills, checks that the
 * heap keeps refusing, reports, waits until every other one is full too,
 * checks that all it has is intact, and exits (its holds go). */
static void allocator(const char *sock, int who, int report, int go)
{
	enum { CAP = 16384 };
	struct allocator a = {malloc(CAP * sizeof(heapd_ref)), malloc(CAP * sizeof(heapd_ref)), 0, 0};
	heapd *h = heapd_connect(sock);
	CHILD_CHECK(h && !heapd_errcode(h), "connect");
	char c;
	CHILD_CHECK(read(go, &c, 1) == 1, "start");
	fill_heap(h, who, &a, CAP);
	heapd_ref r;
	CHILD_CHECK(heapd_alloc(h, 0, OBJ_BYTES, &r) == HEAPD_ENOMEM, "the heap took more");
	CHILD_CHECK(heapd_alloc(h, 1, OBJ_BYTES, &r) == HEAPD_ENOMEM, "the heap took more");
	struct report rep = {who, a.nchain};
	CHILD_CHECK(write(report, &rep, sizeof rep) == sizeof rep, "report");
	CHILD_CHECK(read(go, &c, 1) == 1, "go");
	check_objects(h, who, &a);
	heapd_close(h);
	_exit(0);
}

/* Walks root c<who> from a client that did not build it: nchain nodes,
 * each with its pattern. */
static void check_rooted(heapd *h, int who, uint32_t nchain)
{
	char name[16];
	uint8_t want[OBJ_BYTES], got[OBJ_BYTES];
	snprintf(name, sizeof name, "c%d", who);
	heapd_ref r, next;
	assert_int_equal(heapd_root_get(h, name, &r), 0);
	for (uint32_t c = 0; c < nchain; c++, r = next) {
		assert_true(r != 0);
		pattern(want, who, c);
		assert_int_equal(heapd_read(h, r, 0, got, OBJ_BYTES), 0);
		assert_memory_equal(got, want, OBJ_BYTES);
		assert_int_equal(heapd_get_ref(h, r, 0, &next), 0);
		assert_int_equal(heapd_release(h, r), 0);
	}
	assert_true(r == 0);
}

static void heap_full(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-heap", "16M", NULL);
	heapd *obs = client(&d);
	uint64_t rss0 = rss_now(&d);
	int report[2], go[ALLOCATORS][2];
	assert_int_equal(pipe(report), 0);
	pid_t kids[ALLOCATORS];
	for (int i = 0; i < ALLOCATORS; i++) {
		assert_int_equal(pipe(go[i]), 0);
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0)
			allocator(d.sock, i, report[1], go[i][0]);
	}
	/* All at once. */
	for (int i = 0; i < ALLOCATORS; i++)
		assert_int_equal(write(go[i][1], "s", 1), 1);
	uint32_t nchain[ALLOCATORS] = {0}, total_chain = 0;
	for (int i = 0; i < ALLOCATORS; i++) {
		struct report rep;
		assert_int_equal(read(report[0], &rep, sizeof rep), sizeof rep);
		assert_true(rep.who >= 0 && rep.who < ALLOCATORS);
		nchain[rep.who] = rep.nchain;
		total_chain += rep.nchain;
	}
	heapd_stats *st = stats_of(obs);
	uint64_t objects = st->heap_objects, inuse = st->heap_inuse;
	assert_true(inuse <= 16 * MIB);
	heapd_ref r;
	assert_int_equal(heapd_alloc(obs, 0, OBJ_BYTES, &r), HEAPD_ENOMEM);
	print_message("# heap_full: %d clients, %llu objects, %llu KiB in use of 16384 when all got ENOMEM\n",
		      ALLOCATORS, (unsigned long long)objects, (unsigned long long)(inuse >> 10));
	/* They check their objects, then go. */
	for (int i = 0; i < ALLOCATORS; i++)
		assert_int_equal(write(go[i][1], "g", 1), 1);
	for (int i = 0; i < ALLOCATORS; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(go[i][0]);
		close(go[i][1]);
	}
	close(report[0]);
	close(report[1]);
	/* Their holds are gone: what was only held is garbage; the rooted
	 * lists are intact, read by another client. */
	assert_int_equal(heapd_gc(obs), 0);
	assert_int_equal(stats_of(obs)->heap_objects, total_chain);
	for (int i = 0; i < ALLOCATORS; i++)
		check_rooted(obs, i, nchain[i]);
	/* Memory came back: objects fit again; with the roots gone, an object
	 * of half the heap does. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(heapd_alloc(obs, 0, OBJ_BYTES, &r), 0);
	for (int i = 0; i < ALLOCATORS; i++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", i);
		assert_int_equal(heapd_root_set(obs, name, 0), 0);
	}
	heapd_close(obs);
	obs = client(&d);
	assert_int_equal(heapd_gc(obs), 0);
	assert_int_equal(stats_of(obs)->heap_objects, 0);
	assert_int_equal(heapd_alloc(obs, 0, 8u << 20, &r), 0);
	/* The heap's cap, the collector's tables and the clients' buffers. */
	rss_check(&d, rss0, 16 * MIB + 4 * MIB + ALLOCATORS * (64 * KIB + 8 * KIB) + 16 * MIB, "heap_full");
	heapd_close(obs);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deep_chain),
		cmocka_unit_test(heap_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
