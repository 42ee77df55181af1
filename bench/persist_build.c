/*
 * persist_build.c - bench/persist's data: the graph that persist.c's
 * comment describes, made in heapd (WINDOW batches in flight on one
 * connection) and as one SET per object in Redis (pipelined, REDIS_CHUNK
 * at a time), and the targets file that the save's writer reads.
 *
 * Every draw comes from a seed: the pool's bytes from 42, a batch's
 * objects and links from its number, its targets from its number again.
 * So the heapd build, the Redis build and the targets file see the same
 * graph without sharing any state, and the targets file names an object
 * by the index that is its Redis key. Both builds add the same logical
 * sizes to their struct pb_sums, which the build step compares.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"
#include "heapd.h"
#include "persist.h"

#define NONE UINT32_MAX

enum {
	MAX_ROOTS = 1000,
	OBJECTS_PER_ROOT = 10000,
	BATCH_OPS = 1024,        /* heapd's default max_batch_ops */
	BATCH_NODES = 960,       /* objects a batch allocates; the rest link */
	BATCH_LINKS = 64,
	WINDOW = 8,              /* batches in flight while building */
	TOP_SLOTS = 4,
	TARGET_SAMPLE = 8,       /* one candidate in 8 */
	POOL_EXTRA = 8192,       /* pb_pool's bytes past PB_POOL */
	REDIS_CHUNK = 20000,     /* SETs sent before the last chunk's replies are read */
};

uint8_t pb_pool[PB_POOL + POOL_EXTRA];

uint64_t pb_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint32_t pb_rnd(uint64_t *s)
{
	*s = pb_mix(*s);
	return (uint32_t)(*s >> 32);
}

void pb_pool_fill(void)
{
	uint64_t s = 42;

	for (size_t i = 0; i < sizeof pb_pool; i++)
		pb_pool[i] = (uint8_t)pb_rnd(&s);
}

/* ---- the graph ---- */

struct node {
	uint32_t parent;  /* op index of its parent; NONE: the spine */
	uint32_t nbytes, off;
	uint8_t slot, nrefs, depth;
};

struct link {
	uint32_t op, batch;  /* the slot's object; the batch whose top it gets */
	uint8_t slot, cycle; /* cycle: this batch's top */
};

struct gen {
	uint32_t n, nlinks;
	struct node node[BATCH_NODES];
	struct link link[BATCH_LINKS];
};

struct pb_shape pb_shape_of(uint64_t objects)
{
	struct pb_shape sh = {0};
	uint64_t roots = objects / OBJECTS_PER_ROOT;

	sh.roots = (uint32_t)(roots < 1 ? 1 : roots > MAX_ROOTS ? MAX_ROOTS : roots);
	if (objects < (uint64_t)sh.roots + 1 + BATCH_NODES)
		fail("too few objects (at least 2000)");
	sh.objects = objects;
	sh.nodes = objects - sh.roots - 1;
	sh.batches = (uint32_t)((sh.nodes + BATCH_NODES - 1) / BATCH_NODES);
	sh.chunks = (sh.batches + sh.roots - 1) / sh.roots;
	if ((uint64_t)PB_SMALL_BYTES + 8 * ((uint64_t)sh.chunks + 2) > POOL_EXTRA)
		fail("too many objects per root");
	return sh;
}

static uint64_t index_of(const struct pb_shape *sh, uint32_t b, uint32_t i)
{
	return (uint64_t)sh->roots + 1 + (uint64_t)b * BATCH_NODES + i;
}

static uint32_t draw_bytes(uint64_t *s)
{
	uint32_t u = pb_rnd(s) % 1000;

	if (u < 900)
		return 16 + pb_rnd(s) % 81;
	if (u < 995)
		return 97 + pb_rnd(s) % 160;
	return 1024 + pb_rnd(s) % 3073;
}

static uint8_t draw_nrefs(uint64_t *s)
{
	static const uint8_t t[10] = {0, 0, 0, 1, 1, 1, 2, 2, 3, 4};

	return t[pb_rnd(s) % 10];
}

/* The links of batch b: open slots filled with cycles and shares. */
static void gen_links(uint32_t b, struct gen *g, uint32_t *op, uint8_t *slot, size_t head, size_t tail,
		      uint64_t *s)
{
	g->nlinks = 0;
	while (g->nlinks < BATCH_LINKS && tail > head && g->n + g->nlinks < BATCH_OPS) {
		size_t k = head + pb_rnd(s) % (tail - head);
		struct link *l = &g->link[g->nlinks];

		l->op = op[k];
		l->slot = slot[k];
		op[k] = op[tail - 1];
		slot[k] = slot[tail - 1];
		tail--;
		l->cycle = g->nlinks % 2 == 0 || b < WINDOW;
		l->batch = l->cycle ? b : pb_rnd(s) % (b - WINDOW + 1);
		g->nlinks++;
	}
}

static void gen_batch(const struct pb_shape *sh, uint32_t b, struct gen *g)
{
	static uint32_t op[4 * BATCH_NODES + TOP_SLOTS];
	static uint8_t slot[4 * BATCH_NODES + TOP_SLOTS];
	uint64_t s = pb_mix(0x5eed0000ull + b);
	size_t head = 0, tail = 0;
	int dfs = b & 1;
	uint64_t left = sh->nodes - (uint64_t)b * BATCH_NODES;

	g->n = left < BATCH_NODES ? (uint32_t)left : BATCH_NODES;
	for (uint32_t i = 0; i < g->n; i++) {
		struct node *n = &g->node[i];

		if (i == 0) {
			*n = (struct node){.parent = NONE, .slot = (uint8_t)0, .nrefs = TOP_SLOTS};
		} else {
			size_t k = dfs ? --tail : head++;

			n->parent = op[k];
			n->slot = slot[k];
			n->depth = (uint8_t)(g->node[op[k]].depth < 255 ? g->node[op[k]].depth + 1 : 255);
			n->nrefs = draw_nrefs(&s);
			if (n->nrefs == 0 && head == tail)
				n->nrefs = 1;  /* the open slots never run out */
		}
		n->nbytes = draw_bytes(&s);
		n->off = pb_rnd(&s) % PB_POOL;
		for (uint8_t k = 0; k < n->nrefs; k++, tail++) {
			op[tail] = i;
			slot[tail] = k;
		}
	}
	gen_links(b, g, op, slot, head, tail, &s);
}

static void sums_add(struct pb_sums *sum, uint32_t nrefs, uint32_t nbytes)
{
	sum->objects++;
	sum->slots += nrefs;
	sum->data += nbytes;
}

/* Writes batch b's candidate targets: one in TARGET_SAMPLE of the objects
 * at depth 1..PB_TARGET_DEPTH, with their slot path from the top. */
static void targets_write(FILE *f, const struct pb_shape *sh, uint32_t b, const struct gen *g)
{
	uint64_t s = pb_mix(0x7a7a0000ull + b);

	for (uint32_t i = 1; i < g->n; i++) {
		const struct node *n = &g->node[i];
		uint8_t path[PB_TARGET_DEPTH];

		if (n->depth > PB_TARGET_DEPTH || pb_rnd(&s) % TARGET_SAMPLE)
			continue;
		uint32_t k = i;
		for (int d = n->depth - 1; d >= 0; d--, k = g->node[k].parent)
			path[d] = g->node[k].slot;
		fprintf(f, "%" PRIu64 " %u %u %u %u %u", index_of(sh, b, i), b % sh->roots, b / sh->roots, n->nbytes,
			n->nrefs, n->depth);
		for (int d = 0; d < n->depth; d++)
			fprintf(f, " %u", path[d]);
		fputc('\n', f);
	}
}

/* An object's Redis key: "o<index>", or the probe's root name (sh NULL:
 * not the probe, as no target is). */
void pb_key_of(char *key, size_t cap, const struct pb_shape *sh, uint64_t index)
{
	if (sh && index == sh->roots)
		snprintf(key, cap, "%s", PB_PROBE_NAME);
	else
		snprintf(key, cap, "o%" PRIu64, index);
}

/* ---- build ---- */

static void take_batch(heapd *h, heapd_batch *b, heapd_ref *top)
{
	heapd_reply r;

	if (heapd_get_reply(h, &r) != 0) {
		fprintf(stderr, "persist: a batch failed at op %d: %s\n", heapd_batch_failed(b), heapd_errmsg(h));
		exit(1);
	}
	if (heapd_batch_reply(b, 0, &r) != 0)
		pb_heapd_fail(h, "a batch's reply");
	*top = r.ref;
}

static void take_all(heapd *h, const char *what)
{
	heapd_reply r;

	while (heapd_pending(h))
		if (heapd_get_reply(h, &r) != 0)
			pb_heapd_fail(h, what);
}

static void fill_batch(heapd_batch *hb, const struct gen *g, heapd_ref spine, uint32_t chunk, const heapd_ref *top)
{
	heapd_batch_reset(hb);
	for (uint32_t i = 0; i < g->n; i++) {
		const struct node *n = &g->node[i];
		heapd_ref parent = n->parent == NONE ? spine : heapd_batch_result((int)n->parent);

		if (heapd_batch_alloc_into(hb, parent, n->parent == NONE ? chunk : n->slot, n->nrefs, n->nbytes,
					   pb_pool + n->off, n->nbytes) < 0)
			fail("out of memory for a batch");
	}
	for (uint32_t j = 0; j < g->nlinks; j++) {
		const struct link *l = &g->link[j];
		heapd_ref to = l->cycle ? heapd_batch_result(0) : top[l->batch];

		if (heapd_batch_set_ref(hb, heapd_batch_result((int)l->op), l->slot, to) < 0)
			fail("out of memory for a batch");
	}
}

/* The spines under their roots, and the probe; returns the spines. */
static heapd_ref *heapd_spines(heapd *h, const struct pb_shape *sh, struct pb_sums *sum)
{
	heapd_ref *spine = calloc(sh->roots + 1, sizeof *spine);
	heapd_reply r;
	char name[64];

	if (!spine)
		fail("out of memory");
	for (uint32_t i = 0; i <= sh->roots; i++)
		if (heapd_append_alloc(h, i < sh->roots ? sh->chunks + 2 : 0, PB_SMALL_BYTES) != 0)
			pb_heapd_fail(h, "append an alloc");
	for (uint32_t i = 0; i <= sh->roots; i++) {
		if (heapd_get_reply(h, &r) != 0)
			pb_heapd_fail(h, "alloc a spine");
		spine[i] = r.ref;
		sums_add(sum, i < sh->roots ? sh->chunks + 2 : 0, PB_SMALL_BYTES);
	}
	for (uint32_t i = 0; i <= sh->roots; i++) {
		snprintf(name, sizeof name, i < sh->roots ? "persist/%04u" : PB_PROBE_NAME, i);
		if (heapd_append_write(h, spine[i], 0, pb_pool + i, PB_SMALL_BYTES) != 0 ||
		    heapd_append_root_set(h, name, spine[i]) != 0 || heapd_append_release(h, spine[i]) != 0)
			pb_heapd_fail(h, "append a root");
	}
	take_all(h, "a spine's root");
	return spine;
}

/* Each spine's last two slots: the tops of two other roots' chunks. */
static void heapd_shares(heapd *h, const struct pb_shape *sh, const heapd_ref *spine, const heapd_ref *top)
{
	for (uint32_t r = 0; r < sh->roots; r++) {
		uint32_t a = (r + 1) % sh->roots, b = sh->roots + (r + sh->roots / 2) % sh->roots;

		if (heapd_append_set_ref(h, spine[r], sh->chunks, top[a % sh->batches]) != 0 ||
		    heapd_append_set_ref(h, spine[r], sh->chunks + 1, top[b % sh->batches]) != 0)
			pb_heapd_fail(h, "append a set_ref");
	}
	take_all(h, "a spine's share");
}

void pb_build_heapd(const char *sock, const struct pb_shape *sh, FILE *targets, struct pb_sums *sum)
{
	heapd *h = pb_hconnect(sock);
	heapd_batch *ring[WINDOW];
	heapd_ref *top = calloc(sh->batches, sizeof *top), *spine;
	struct gen *g = malloc(sizeof *g);
	uint32_t done = 0;

	if (heapd_max_batch_ops(h) < BATCH_OPS)
		fail("heapd's max_batch_ops is below 1024");
	if (!top || !g)
		fail("out of memory");
	spine = heapd_spines(h, sh, sum);
	for (int i = 0; i < WINDOW; i++)
		if (!(ring[i] = heapd_batch_new()))
			fail("out of memory");
	for (uint32_t b = 0; b < sh->batches; b++) {
		if (heapd_pending(h) == WINDOW) {
			take_batch(h, ring[done % WINDOW], &top[done]);
			done++;
		}
		gen_batch(sh, b, g);
		for (uint32_t i = 0; i < g->n; i++)
			sums_add(sum, g->node[i].nrefs, g->node[i].nbytes);
		targets_write(targets, sh, b, g);
		fill_batch(ring[b % WINDOW], g, spine[b % sh->roots], b / sh->roots, top);
		if (heapd_append_batch(h, ring[b % WINDOW]) != 0)
			pb_heapd_fail(h, "append a batch");
		if (b % 1000 == 999)
			fprintf(stderr, "persist: heapd: %u of %u batches\n", b + 1, sh->batches);
	}
	for (; done < sh->batches; done++)
		take_batch(h, ring[done % WINDOW], &top[done]);
	heapd_shares(h, sh, spine, top);
	if (heapd_gc(h) != 0)
		pb_heapd_fail(h, "gc");
	for (int i = 0; i < WINDOW; i++)
		heapd_batch_free(ring[i]);
	free(top);
	free(spine);
	free(g);
	heapd_close(h);
}

/* Queues SET key value, value len bytes; the chunk's replies are read
 * once the next chunk is sent. */
struct rload {
	struct pb_rconn *c;
	struct pb_sbuf out;
	uint64_t queued, unread;  /* in out; sent, replies not read */
};

static void rl_read(struct rload *l)
{
	struct pb_rreply r;

	for (; l->unread; l->unread--)
		if (pb_rc_reply(l->c, &r) != 0 || r.type != '+')
			fail("a SET to Redis failed");
}

static void rl_flush(struct rload *l)
{
	pb_rc_send(l->c, l->out.p, l->out.len);
	l->out.len = 0;
	rl_read(l);
	l->unread = l->queued;
	l->queued = 0;
}

static void rl_set(struct rload *l, const char *key, uint32_t off, size_t len)
{
	const char *argv[] = {"SET", key, (const char *)pb_pool + off};
	size_t lens[] = {0, 0, len};

	pb_sb_cmd(&l->out, 3, argv, lens);
	if (++l->queued == REDIS_CHUNK)
		rl_flush(l);
}

void pb_build_redis(const char *sock, const struct pb_shape *sh, struct pb_sums *sum)
{
	struct rload l = {.c = pb_rc_open(sock)};
	struct gen *g = malloc(sizeof *g);
	char key[64];

	if (!l.c || !g)
		fail("cannot connect to Redis");
	for (uint32_t i = 0; i <= sh->roots; i++) {
		uint32_t nrefs = i < sh->roots ? sh->chunks + 2 : 0;

		pb_key_of(key, sizeof key, sh, i);
		rl_set(&l, key, i, PB_SMALL_BYTES + 8u * nrefs);
		sums_add(sum, nrefs, PB_SMALL_BYTES);
	}
	for (uint32_t b = 0; b < sh->batches; b++) {
		gen_batch(sh, b, g);
		for (uint32_t i = 0; i < g->n; i++) {
			const struct node *n = &g->node[i];

			pb_key_of(key, sizeof key, sh, index_of(sh, b, i));
			rl_set(&l, key, n->off, n->nbytes + 8u * n->nrefs);
			sums_add(sum, n->nrefs, n->nbytes);
		}
		if (b % 1000 == 999)
			fprintf(stderr, "persist: redis: %u of %u batches\n", b + 1, sh->batches);
	}
	rl_flush(&l);
	rl_read(&l);
	free(l.out.p);
	free(g);
	pb_rc_close(l.c);
}
