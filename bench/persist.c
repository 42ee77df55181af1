/*
 * persist.c - persistence against Redis: heapd's save and load of a heap
 * of about 1 GiB live against Redis's BGSAVE and RDB load of the same
 * logical data, another client's latency during a save, and the memory a
 * save takes. bench/run-persist-compare.sh runs it; each subcommand does
 * one step and prints one line "persist STEP key=value ...".
 *
 *   persist build -H HEAPD_SOCK -R REDIS_SOCK -n OBJECTS -t TARGETS
 *   persist save -k heapd|redis -s SOCK -p PID -t TARGETS [-w RATE]
 *                [-i READ_US] [-S SEED] [-f FILE] [-l LOG] [-d WARMUP_S]
 *   persist ready -k heapd|redis -s SOCK -p PID -T START_NS [-l LOG]
 *   persist now
 *
 * The graph (build). OBJECTS objects under ROOTS named roots (OBJECTS /
 * 10000, at most 1000), "persist/0000", ...: each root holds a spine of
 * 64 bytes and CHUNKS + 2 slots. Each chunk is one batch of BATCH_NODES
 * alloc_into ops (heapd's default max_batch_ops is 1024): a top of 4
 * slots in the spine's slot, then objects of 0-4 slots (mean 1.4) placed
 * in the open slots breadth first (even batches: bushy trees) or depth
 * first (odd batches: long lists with side branches); then up to
 * BATCH_LINKS set_ref ops fill open slots: half point back at the
 * batch's top (cycles), half at the top of an earlier batch of any root
 * (shared subgraphs). Each spine's last two slots share the top of
 * another root's chunk. Data sizes: 90% 16-96 bytes, 9.5% 97-256, 0.5%
 * 1-4 KiB. One more root, "persist/probe", holds a 64-byte object for the
 * latency reader. Every batch is drawn from its own seed, so the same
 * graph comes out each time without any state.
 *
 * Redis gets one key per object, "o<index>" ("persist/probe" for the
 * probe), whose value has the object's bytes plus 8 per slot: the same
 * number of values and the same logical bytes, sum(nbytes + 8 * nrefs).
 * Build prints both sums, which must agree, and heapd's heap_alloc.
 *
 * The targets file lists objects the writer may change (about one in 8
 * of those at most TARGET_DEPTH below their batch's top, from every
 * batch): index, root, chunk, size, slots, and the slot path from the
 * top, which find them again in heapd after a restart changed every
 * handle.
 *
 * save: a reader (a 64-byte read or GET every READ_US us, default 0: back
 * to back; one at a time, each request timed; libheapd's spin off, so both
 * readers sleep in the kernel for a reply) and a writer (RATE ops/s,
 * default 2000, paced every 1 ms: half overwrite a target's bytes in place
 * - heapd_write, SETRANGE - and half replace a leaf target by a new object
 * of the same size - heapd_alloc_into its parent's slot, SET) run on their
 * own connections for WARMUP_S (default 1) s, then the save:
 * heapd_save(h, 1), or BGSAVE and INFO persistence every 5 ms until
 * rdb_bgsave_in_progress is 0. SEED draws the writer's targets, the same
 * for both servers. A thread samples the server's VmRSS every 2 ms and,
 * for Redis, its child's Private_Dirty (smaps_rollup) every 50 ms; the
 * server's CPU time over the save comes from /proc (Redis's with its
 * child's, which it has reaped by then). The requests over 2 ms during
 * the save go to stderr with when they began. heapd first runs a full
 * collection (heapd_gc), so no cycle is marking when the save begins (a
 * save waits for one).
 *
 * ready: polls from START_NS (CLOCK_MONOTONIC, from "persist now" before
 * the server was started) until the server answers a ping (Redis: PONG,
 * not LOADING), then reads what it loaded.
 *
 * Exits 1 when a server cannot be reached or a request fails, 2 on a
 * usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "heapd.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define NONE UINT32_MAX
#define PROBE_NAME "persist/probe"

enum {
	MAX_ROOTS = 1000,
	OBJECTS_PER_ROOT = 10000,
	BATCH_OPS = 1024,        /* heapd's default max_batch_ops */
	BATCH_NODES = 960,       /* objects a batch allocates; the rest link */
	BATCH_LINKS = 64,
	WINDOW = 8,              /* batches in flight while building */
	TOP_SLOTS = 4,
	SMALL_BYTES = 64,        /* a spine's and the probe's data */
	TARGET_DEPTH = 8,
	TARGET_SAMPLE = 8,       /* one candidate in 8 */
	MAX_TARGETS = 32768,     /* the writer's, drawn from the candidates */
	POOL = 1 << 16,          /* bytes objects take their data from, */
	POOL_EXTRA = 8192,       /* and past its end */
	REDIS_CHUNK = 20000,     /* SETs sent before the last chunk's replies are read */
	WRITER_TICK_MAX = 64,    /* most writer ops in one 1 ms tick */
	REC_MAX = 1 << 22,       /* reader requests recorded */
};

static uint8_t pool[POOL + POOL_EXTRA];

static void usage(void)
{
	fprintf(stderr, "usage: persist build -H HEAPD_SOCK -R REDIS_SOCK -n OBJECTS -t TARGETS\n"
			"       persist save -k heapd|redis -s SOCK -p PID -t TARGETS [-w RATE] [-i READ_US] [-S SEED]\n"
			"                    [-f FILE] [-l LOG] [-d WARMUP_S]\n"
			"       persist ready -k heapd|redis -s SOCK -p PID -T START_NS [-l LOG]\n"
			"       persist now\n");
	exit(2);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / SEC), .tv_nsec = (long)(ns % SEC)};

	nanosleep(&ts, NULL);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint32_t rnd(uint64_t *s)
{
	*s = mix(*s);
	return (uint32_t)(*s >> 32);
}

static void pool_fill(void)
{
	uint64_t s = 42;

	for (size_t i = 0; i < sizeof pool; i++)
		pool[i] = (uint8_t)rnd(&s);
}

static uint64_t number(const char *s)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		usage();
	return v;
}

static void heapd_fail(heapd *h, const char *what)
{
	fprintf(stderr, "persist: %s: %s\n", what, heapd_errmsg(h));
	exit(1);
}

static heapd *hconnect(const char *sock)
{
	heapd *h = heapd_connect(sock);

	if (h == NULL)
		fail("out of memory");
	if (heapd_errcode(h) != 0)
		heapd_fail(h, "connect to heapd");
	return h;
}

/* ---- the graph ---- */

struct shape {
	uint32_t roots, chunks, batches;
	uint64_t objects, nodes;  /* all objects; those of the batches */
};

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

/* Logical sizes: what both servers hold. */
struct sums {
	uint64_t objects, slots, data;
};

static struct shape shape_of(uint64_t objects)
{
	struct shape sh = {0};
	uint64_t roots = objects / OBJECTS_PER_ROOT;

	sh.roots = (uint32_t)(roots < 1 ? 1 : roots > MAX_ROOTS ? MAX_ROOTS : roots);
	if (objects < (uint64_t)sh.roots + 1 + BATCH_NODES)
		fail("too few objects (at least 2000)");
	sh.objects = objects;
	sh.nodes = objects - sh.roots - 1;
	sh.batches = (uint32_t)((sh.nodes + BATCH_NODES - 1) / BATCH_NODES);
	sh.chunks = (sh.batches + sh.roots - 1) / sh.roots;
	if ((uint64_t)SMALL_BYTES + 8 * ((uint64_t)sh.chunks + 2) > POOL_EXTRA)
		fail("too many objects per root");
	return sh;
}

static uint64_t index_of(const struct shape *sh, uint32_t b, uint32_t i)
{
	return (uint64_t)sh->roots + 1 + (uint64_t)b * BATCH_NODES + i;
}

static uint32_t draw_bytes(uint64_t *s)
{
	uint32_t u = rnd(s) % 1000;

	if (u < 900)
		return 16 + rnd(s) % 81;
	if (u < 995)
		return 97 + rnd(s) % 160;
	return 1024 + rnd(s) % 3073;
}

static uint8_t draw_nrefs(uint64_t *s)
{
	static const uint8_t t[10] = {0, 0, 0, 1, 1, 1, 2, 2, 3, 4};

	return t[rnd(s) % 10];
}

/* The links of batch b: open slots filled with cycles and shares. */
static void gen_links(uint32_t b, struct gen *g, uint32_t *op, uint8_t *slot, size_t head, size_t tail,
		      uint64_t *s)
{
	g->nlinks = 0;
	while (g->nlinks < BATCH_LINKS && tail > head && g->n + g->nlinks < BATCH_OPS) {
		size_t k = head + rnd(s) % (tail - head);
		struct link *l = &g->link[g->nlinks];

		l->op = op[k];
		l->slot = slot[k];
		op[k] = op[tail - 1];
		slot[k] = slot[tail - 1];
		tail--;
		l->cycle = g->nlinks % 2 == 0 || b < WINDOW;
		l->batch = l->cycle ? b : rnd(s) % (b - WINDOW + 1);
		g->nlinks++;
	}
}

static void gen_batch(const struct shape *sh, uint32_t b, struct gen *g)
{
	static uint32_t op[4 * BATCH_NODES + TOP_SLOTS];
	static uint8_t slot[4 * BATCH_NODES + TOP_SLOTS];
	uint64_t s = mix(0x5eed0000ull + b);
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
		n->off = rnd(&s) % POOL;
		for (uint8_t k = 0; k < n->nrefs; k++, tail++) {
			op[tail] = i;
			slot[tail] = k;
		}
	}
	gen_links(b, g, op, slot, head, tail, &s);
}

static void sums_add(struct sums *sum, uint32_t nrefs, uint32_t nbytes)
{
	sum->objects++;
	sum->slots += nrefs;
	sum->data += nbytes;
}

/* Writes batch b's candidate targets: one in TARGET_SAMPLE of the objects
 * at depth 1..TARGET_DEPTH, with their slot path from the top. */
static void targets_write(FILE *f, const struct shape *sh, uint32_t b, const struct gen *g)
{
	uint64_t s = mix(0x7a7a0000ull + b);

	for (uint32_t i = 1; i < g->n; i++) {
		const struct node *n = &g->node[i];
		uint8_t path[TARGET_DEPTH];

		if (n->depth > TARGET_DEPTH || rnd(&s) % TARGET_SAMPLE)
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

/* ---- a Redis connection: RESP, as little of it as needed ---- */

struct rconn {
	int fd;
	char *buf;
	size_t cap, r, w;
};

struct rreply {
	char type;      /* '+', '-', ':', '$' */
	const char *s;  /* the line or the bulk (NULL: a nil bulk); valid until the next reply */
	size_t len;
	long long num;
};

struct sbuf {
	char *p;
	size_t len, cap;
};

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		fail("socket path too long");
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct rconn *rc_open(const char *path)
{
	int fd = unix_connect(path);
	struct rconn *c;

	if (fd < 0)
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c || !(c->buf = malloc(c->cap = 1 << 20)))
		fail("out of memory");
	c->fd = fd;
	return c;
}

static void rc_close(struct rconn *c)
{
	if (c) {
		close(c->fd);
		free(c->buf);
		free(c);
	}
}

static void rc_send(struct rconn *c, const char *p, size_t len)
{
	while (len) {
		ssize_t k = send(c->fd, p, len, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			fail("send to Redis");
		p += k;
		len -= (size_t)k;
	}
}

/* Reads more into c's buffer, making room; -1 at EOF or on an error. */
static int rc_fill(struct rconn *c)
{
	if (c->r == c->w)
		c->r = c->w = 0;
	if (c->cap - c->w < 65536 && c->r) {
		memmove(c->buf, c->buf + c->r, c->w - c->r);
		c->w -= c->r;
		c->r = 0;
	}
	if (c->cap - c->w < 65536 && !(c->buf = realloc(c->buf, c->cap *= 2)))
		fail("out of memory");
	ssize_t k;
	do
		k = read(c->fd, c->buf + c->w, c->cap - c->w);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return -1;
	c->w += (size_t)k;
	return 0;
}

/* The next reply, waiting for it; -1 when the connection ends. */
static int rc_reply(struct rconn *c, struct rreply *out)
{
	for (;;) {
		char *line = c->buf + c->r, *nl = memmem(line, c->w - c->r, "\r\n", 2);

		if (nl) {
			size_t head = (size_t)(nl - line) + 2;

			out->type = line[0];
			out->num = strtoll(line + 1, NULL, 10);
			if (out->type != '$') {
				out->s = line + 1;
				out->len = head - 3;
				c->r += head;
				return 0;
			}
			if (out->num < 0) {
				out->s = NULL;
				out->len = 0;
				c->r += head;
				return 0;
			}
			if (c->w - c->r >= head + (size_t)out->num + 2) {
				out->s = line + head;
				out->len = (size_t)out->num;
				c->r += head + (size_t)out->num + 2;
				return 0;
			}
		}
		if (rc_fill(c) != 0)
			return -1;
	}
}

static void sb_put(struct sbuf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			fail("out of memory");
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void sb_arg(struct sbuf *b, const void *p, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof head, "$%zu\r\n", len);

	sb_put(b, head, (size_t)n);
	sb_put(b, p, len);
	sb_put(b, "\r\n", 2);
}

/* A command of argc arguments, each a string or (len[i] != 0) bytes. */
static void sb_cmd(struct sbuf *b, int argc, const char *const *argv, const size_t *len)
{
	char head[16];
	int n = snprintf(head, sizeof head, "*%d\r\n", argc);

	sb_put(b, head, (size_t)n);
	for (int i = 0; i < argc; i++)
		sb_arg(b, argv[i], len && len[i] ? len[i] : strlen(argv[i]));
}

static void key_of(char *key, size_t cap, const struct shape *sh, uint64_t index)
{
	if (sh && index == sh->roots)
		snprintf(key, cap, "%s", PROBE_NAME);
	else
		snprintf(key, cap, "o%" PRIu64, index);
}

/* One command, its reply. */
static void rc_call(struct rconn *c, struct rreply *r, int argc, const char *const *argv)
{
	struct sbuf b = {0};

	sb_cmd(&b, argc, argv, NULL);
	rc_send(c, b.p, b.len);
	free(b.p);
	if (rc_reply(c, r) != 0)
		fail("Redis closed the connection");
}

/* Field name's number in an INFO reply; -1 when missing. */
static long long info_field(const struct rreply *r, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = r->s; p && p < r->s + r->len;) {
		const char *e = memchr(p, '\n', (size_t)(r->s + r->len - p));

		if ((size_t)(r->s + r->len - p) > n && memcmp(p, name, n) == 0 && p[n] == ':')
			return strtoll(p + n + 1, NULL, 10);
		p = e ? e + 1 : r->s + r->len;
	}
	return -1;
}

static long long info(struct rconn *c, const char *section, const char *name)
{
	const char *argv[] = {"INFO", section};
	struct rreply r;

	rc_call(c, &r, 2, argv);
	if (r.type != '$')
		fail("INFO failed");
	return info_field(&r, name);
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
		heapd_fail(h, "a batch's reply");
	*top = r.ref;
}

static void take_all(heapd *h, const char *what)
{
	heapd_reply r;

	while (heapd_pending(h))
		if (heapd_get_reply(h, &r) != 0)
			heapd_fail(h, what);
}

static void fill_batch(heapd_batch *hb, const struct gen *g, heapd_ref spine, uint32_t chunk, const heapd_ref *top)
{
	heapd_batch_reset(hb);
	for (uint32_t i = 0; i < g->n; i++) {
		const struct node *n = &g->node[i];
		heapd_ref parent = n->parent == NONE ? spine : heapd_batch_result((int)n->parent);

		if (heapd_batch_alloc_into(hb, parent, n->parent == NONE ? chunk : n->slot, n->nrefs, n->nbytes,
					   pool + n->off, n->nbytes) < 0)
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
static heapd_ref *heapd_spines(heapd *h, const struct shape *sh, struct sums *sum)
{
	heapd_ref *spine = calloc(sh->roots + 1, sizeof *spine);
	heapd_reply r;
	char name[64];

	if (!spine)
		fail("out of memory");
	for (uint32_t i = 0; i <= sh->roots; i++)
		if (heapd_append_alloc(h, i < sh->roots ? sh->chunks + 2 : 0, SMALL_BYTES) != 0)
			heapd_fail(h, "append an alloc");
	for (uint32_t i = 0; i <= sh->roots; i++) {
		if (heapd_get_reply(h, &r) != 0)
			heapd_fail(h, "alloc a spine");
		spine[i] = r.ref;
		sums_add(sum, i < sh->roots ? sh->chunks + 2 : 0, SMALL_BYTES);
	}
	for (uint32_t i = 0; i <= sh->roots; i++) {
		snprintf(name, sizeof name, i < sh->roots ? "persist/%04u" : PROBE_NAME, i);
		if (heapd_append_write(h, spine[i], 0, pool + i, SMALL_BYTES) != 0 ||
		    heapd_append_root_set(h, name, spine[i]) != 0 || heapd_append_release(h, spine[i]) != 0)
			heapd_fail(h, "append a root");
	}
	take_all(h, "a spine's root");
	return spine;
}

/* Each spine's last two slots: the tops of two other roots' chunks. */
static void heapd_shares(heapd *h, const struct shape *sh, const heapd_ref *spine, const heapd_ref *top)
{
	for (uint32_t r = 0; r < sh->roots; r++) {
		uint32_t a = (r + 1) % sh->roots, b = sh->roots + (r + sh->roots / 2) % sh->roots;

		if (heapd_append_set_ref(h, spine[r], sh->chunks, top[a % sh->batches]) != 0 ||
		    heapd_append_set_ref(h, spine[r], sh->chunks + 1, top[b % sh->batches]) != 0)
			heapd_fail(h, "append a set_ref");
	}
	take_all(h, "a spine's share");
}

static void build_heapd(const char *sock, const struct shape *sh, FILE *targets, struct sums *sum)
{
	heapd *h = hconnect(sock);
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
			heapd_fail(h, "append a batch");
		if (b % 1000 == 999)
			fprintf(stderr, "persist: heapd: %u of %u batches\n", b + 1, sh->batches);
	}
	for (; done < sh->batches; done++)
		take_batch(h, ring[done % WINDOW], &top[done]);
	heapd_shares(h, sh, spine, top);
	if (heapd_gc(h) != 0)
		heapd_fail(h, "gc");
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
	struct rconn *c;
	struct sbuf out;
	uint64_t queued, unread;  /* in out; sent, replies not read */
};

static void rl_read(struct rload *l)
{
	struct rreply r;

	for (; l->unread; l->unread--)
		if (rc_reply(l->c, &r) != 0 || r.type != '+')
			fail("a SET to Redis failed");
}

static void rl_flush(struct rload *l)
{
	rc_send(l->c, l->out.p, l->out.len);
	l->out.len = 0;
	rl_read(l);
	l->unread = l->queued;
	l->queued = 0;
}

static void rl_set(struct rload *l, const char *key, uint32_t off, size_t len)
{
	const char *argv[] = {"SET", key, (const char *)pool + off};
	size_t lens[] = {0, 0, len};

	sb_cmd(&l->out, 3, argv, lens);
	if (++l->queued == REDIS_CHUNK)
		rl_flush(l);
}

static void build_redis(const char *sock, const struct shape *sh, struct sums *sum)
{
	struct rload l = {.c = rc_open(sock)};
	struct gen *g = malloc(sizeof *g);
	char key[64];

	if (!l.c || !g)
		fail("cannot connect to Redis");
	for (uint32_t i = 0; i <= sh->roots; i++) {
		uint32_t nrefs = i < sh->roots ? sh->chunks + 2 : 0;

		key_of(key, sizeof key, sh, i);
		rl_set(&l, key, i, SMALL_BYTES + 8u * nrefs);
		sums_add(sum, nrefs, SMALL_BYTES);
	}
	for (uint32_t b = 0; b < sh->batches; b++) {
		gen_batch(sh, b, g);
		for (uint32_t i = 0; i < g->n; i++) {
			const struct node *n = &g->node[i];

			key_of(key, sizeof key, sh, index_of(sh, b, i));
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
	rc_close(l.c);
}

static int cmd_build(int argc, char **argv)
{
	const char *hs = NULL, *rs = NULL, *tpath = NULL;
	uint64_t objects = 0;
	int c;

	while ((c = getopt(argc, argv, "H:R:n:t:")) != -1) {
		switch (c) {
		case 'H': hs = optarg; break;
		case 'R': rs = optarg; break;
		case 'n': objects = number(optarg); break;
		case 't': tpath = optarg; break;
		default: usage();
		}
	}
	if (!hs || !rs || !tpath || !objects || optind != argc)
		usage();
	struct shape sh = shape_of(objects);
	struct sums hsum = {0}, rsum = {0};
	FILE *tf = fopen(tpath, "w");
	if (!tf)
		fail("cannot write the targets file");
	uint64_t t0 = now_ns();
	build_heapd(hs, &sh, tf, &hsum);
	uint64_t t1 = now_ns();
	if (fclose(tf) != 0)
		fail("cannot write the targets file");
	build_redis(rs, &sh, &rsum);
	uint64_t t2 = now_ns();
	if (memcmp(&hsum, &rsum, sizeof hsum) != 0)
		fail("heapd's and Redis's sums differ");

	heapd *h = hconnect(hs);
	heapd_stats st;
	if (heapd_get_stats(h, &st, sizeof st) != 0)
		heapd_fail(h, "stats");
	heapd_close(h);
	struct rconn *rc = rc_open(rs);
	if (!rc)
		fail("cannot connect to Redis");
	long long used = info(rc, "memory", "used_memory"), rss = info(rc, "memory", "used_memory_rss");
	rc_close(rc);
	printf("persist build objects=%" PRIu64 " roots=%u chunks=%u slots=%" PRIu64 " data_bytes=%" PRIu64
	       " logical_bytes=%" PRIu64 " heapd_secs=%.1f heap_alloc=%" PRIu64 " heap_objects=%" PRIu64
	       " heapd_rss=%" PRIu64 " redis_secs=%.1f redis_used_memory=%lld redis_rss=%lld\n",
	       hsum.objects, sh.roots + 1, sh.chunks, hsum.slots, hsum.data, hsum.data + 8 * hsum.slots,
	       (double)(t1 - t0) / 1e9, st.heap_alloc, st.heap_objects, st.rss_bytes, (double)(t2 - t1) / 1e9, used,
	       rss);
	return 0;
}

/* ---- save: the reader, the writer and the sampler ---- */

enum kind { HEAPD, REDIS };

struct rec {
	uint64_t t0;
	uint64_t dur;
};

/* Shared with the reader and the writer (MAP_SHARED); each field has one
 * writer: the children their counts and rec, the parent stop. */
struct shm {
	atomic_int ready, stop;
	atomic_uint_fast64_t writer_ops, writer_errors, nrec;
	char err[256];
	struct rec rec[REC_MAX];
};

static struct shm *shm;

struct opts {
	enum kind kind;
	const char *sock, *targets, *file, *log;
	pid_t pid;
	uint64_t rate, seed, warmup_s, start_ns, interval_us;
};

static void child_fail(const char *what, const char *why)
{
	snprintf(shm->err, sizeof shm->err, "%s: %s", what, why);
	_exit(1);
}

static void record(uint64_t t0)
{
	uint64_t n = atomic_load(&shm->nrec);

	if (n < REC_MAX) {
		shm->rec[n] = (struct rec){t0, now_ns() - t0};
		atomic_store(&shm->nrec, n + 1);
	}
}

/* Waits for the reader's next turn: every interval_us, or at once. */
static void pace(const struct opts *o, uint64_t *next)
{
	uint64_t now = now_ns();

	if (!o->interval_us)
		return;
	if (now < *next)
		sleep_ns(*next - now);
	*next = (now > *next ? now : *next) + o->interval_us * 1000;
}

static void reader_heapd(const struct opts *o)
{
	heapd *h = heapd_connect(o->sock);
	heapd_ref probe;
	uint8_t buf[SMALL_BYTES];
	uint64_t next = now_ns();

	if (!h || heapd_errcode(h) || heapd_set_spin(h, 0) || heapd_root_get(h, PROBE_NAME, &probe))
		child_fail("reader", h ? heapd_errmsg(h) : "out of memory");
	atomic_fetch_add(&shm->ready, 1);
	while (!atomic_load(&shm->stop)) {
		pace(o, &next);
		uint64_t t0 = now_ns();
		if (heapd_read(h, probe, 0, buf, sizeof buf) != 0)
			child_fail("reader", heapd_errmsg(h));
		record(t0);
	}
	heapd_close(h);
}

static void reader_redis(const struct opts *o)
{
	struct rconn *c = rc_open(o->sock);
	struct sbuf get = {0};
	const char *argv[] = {"GET", PROBE_NAME};
	struct rreply r;
	uint64_t next = now_ns();

	if (!c)
		child_fail("reader", "cannot connect");
	sb_cmd(&get, 2, argv, NULL);
	atomic_fetch_add(&shm->ready, 1);
	while (!atomic_load(&shm->stop)) {
		pace(o, &next);
		uint64_t t0 = now_ns();
		rc_send(c, get.p, get.len);
		if (rc_reply(c, &r) != 0 || r.type != '$' || r.len != SMALL_BYTES)
			child_fail("reader", "GET failed");
		record(t0);
	}
	free(get.p);
	rc_close(c);
}

struct target {
	uint64_t index;
	uint32_t root, chunk, nbytes, nrefs, depth;
	uint8_t path[TARGET_DEPTH];
	heapd_ref self, parent;
};

/* Up to MAX_TARGETS of the file's candidates, drawn with seed. */
static struct target *targets_read(const char *path, uint64_t seed, size_t *count)
{
	FILE *f = fopen(path, "r");
	struct target *t = NULL;
	size_t n = 0, cap = 0;
	char line[256];

	if (!f)
		fail("cannot read the targets file");
	while (fgets(line, sizeof line, f)) {
		struct target x = {0};
		int used = 0, k = 0;
		char *p = line;

		if (sscanf(p, "%" SCNu64 " %u %u %u %u %u%n", &x.index, &x.root, &x.chunk, &x.nbytes, &x.nrefs,
			   &x.depth, &used) != 6 || x.depth < 1 || x.depth > TARGET_DEPTH)
			fail("a bad line in the targets file");
		for (p += used; k < (int)x.depth; k++) {
			unsigned v;
			if (sscanf(p, " %u%n", &v, &used) != 1)
				fail("a bad path in the targets file");
			x.path[k] = (uint8_t)v;
			p += used;
		}
		if (n == cap && !(t = realloc(t, (cap = cap ? 2 * cap : 4096) * sizeof *t)))
			fail("out of memory");
		t[n++] = x;
	}
	fclose(f);
	uint64_t s = mix(seed);
	for (size_t i = 0; i < n && i < MAX_TARGETS; i++) {
		size_t j = i + (size_t)rnd(&s) % (n - i);
		struct target x = t[i];
		t[i] = t[j];
		t[j] = x;
	}
	*count = n < MAX_TARGETS ? n : MAX_TARGETS;
	return t;
}

/* Finds every target in heapd from its root, one level of all of them at
 * a time, pipelined. Holds stay: they go with the connection. */
static void targets_find(heapd *h, struct target *t, size_t n)
{
	heapd_reply r;
	char name[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof name, "persist/%04u", t[i].root);
		if (heapd_append_root_get(h, name) != 0)
			heapd_fail(h, "append a root_get");
	}
	for (size_t i = 0; i < n; i++) {
		if (heapd_get_reply(h, &r) != 0)
			heapd_fail(h, "a target's root");
		t[i].self = r.ref;
	}
	for (uint32_t level = 0; level <= TARGET_DEPTH; level++) {
		for (size_t i = 0; i < n; i++)
			if (level <= t[i].depth &&
			    heapd_append_get_ref(h, t[i].self, level ? t[i].path[level - 1] : t[i].chunk) != 0)
				heapd_fail(h, "append a get_ref");
		for (size_t i = 0; i < n; i++) {
			if (level > t[i].depth)
				continue;
			if (heapd_get_reply(h, &r) != 0 || !r.ref)
				heapd_fail(h, "a target's path");
			t[i].parent = t[i].self;
			t[i].self = r.ref;
		}
	}
}

struct writer {
	struct target *t, **leaf;
	size_t n, nleaves;
	uint64_t seq, s;
	heapd *h;
	struct rconn *c;
	const struct shape *sh;
};

/* Which target op seq changes, and whether it replaces it. */
static struct target *pick(struct writer *w, int *replace)
{
	*replace = (w->seq++ & 1) && w->nleaves;
	return *replace ? w->leaf[rnd(&w->s) % w->nleaves] : &w->t[rnd(&w->s) % w->n];
}

static void tick_heapd(struct writer *w, unsigned k)
{
	struct target *t[WRITER_TICK_MAX];
	int rep[WRITER_TICK_MAX];
	heapd_reply r;

	for (unsigned j = 0; j < k; j++) {
		const uint8_t *data = pool + rnd(&w->s) % POOL;
		t[j] = pick(w, &rep[j]);
		int rc = rep[j] ? heapd_append_alloc_into(w->h, t[j]->parent, t[j]->path[t[j]->depth - 1], 0,
							   t[j]->nbytes, data, t[j]->nbytes)
				: heapd_append_write(w->h, t[j]->self, 0, data, t[j]->nbytes);
		if (rc != 0)
			child_fail("writer", heapd_errmsg(w->h));
	}
	for (unsigned j = 0; j < k; j++) {
		int rc = heapd_get_reply(w->h, &r);
		if (rc == HEAPD_EIO || rc == HEAPD_EPROTO)
			child_fail("writer", heapd_errmsg(w->h));
		if (rc != 0)
			atomic_fetch_add(&shm->writer_errors, 1);
		else if (rep[j])
			t[j]->self = r.ref;
	}
}

static void tick_redis(struct writer *w, unsigned k)
{
	struct sbuf b = {0};
	struct rreply r;
	char key[64], off[] = "0";

	for (unsigned j = 0; j < k; j++) {
		int replace;
		struct target *t = pick(w, &replace);
		const char *data = (const char *)pool + rnd(&w->s) % POOL;

		key_of(key, sizeof key, NULL, t->index);
		const char *set[] = {"SET", key, data}, *range[] = {"SETRANGE", key, off, data};
		size_t lset[] = {0, 0, t->nbytes}, lrange[] = {0, 0, 0, t->nbytes};
		if (replace)
			sb_cmd(&b, 3, set, lset);
		else
			sb_cmd(&b, 4, range, lrange);
	}
	rc_send(w->c, b.p, b.len);
	free(b.p);
	for (unsigned j = 0; j < k; j++) {
		if (rc_reply(w->c, &r) != 0)
			child_fail("writer", "Redis closed the connection");
		if (r.type == '-')
			atomic_fetch_add(&shm->writer_errors, 1);
	}
}

static void writer_run(const struct opts *o)
{
	struct writer w = {.s = mix(o->seed + 1)};

	w.t = targets_read(o->targets, o->seed, &w.n);
	if (!w.n || !(w.leaf = malloc(w.n * sizeof *w.leaf)))
		child_fail("writer", "no targets");
	for (size_t i = 0; i < w.n; i++)
		if (w.t[i].nrefs == 0)
			w.leaf[w.nleaves++] = &w.t[i];
	if (o->kind == HEAPD) {
		if (!(w.h = heapd_connect(o->sock)) || heapd_errcode(w.h))
			child_fail("writer", "cannot connect");
		targets_find(w.h, w.t, w.n);
	} else if (!(w.c = rc_open(o->sock))) {
		child_fail("writer", "cannot connect");
	}
	atomic_fetch_add(&shm->ready, 1);
	uint64_t start = now_ns(), done = 0;
	while (!atomic_load(&shm->stop)) {
		uint64_t due = (now_ns() - start) * o->rate / SEC;
		unsigned k = due - done > WRITER_TICK_MAX ? WRITER_TICK_MAX : (unsigned)(due - done);
		if (k && o->kind == HEAPD)
			tick_heapd(&w, k);
		else if (k)
			tick_redis(&w, k);
		done += k;
		atomic_fetch_add(&shm->writer_ops, k);
		sleep_ns(MS);
	}
	if (w.h)
		heapd_close(w.h);
	rc_close(w.c);
}

static pid_t spawn(const struct opts *o, int writer)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		if (writer && o->rate)
			writer_run(o);
		else if (writer)
			for (atomic_fetch_add(&shm->ready, 1); !atomic_load(&shm->stop);)
				sleep_ns(MS);
		else if (o->kind == HEAPD)
			reader_heapd(o);
		else
			reader_redis(o);
		_exit(0);
	}
	return pid;
}

/* A "Key: N kB" line of a /proc file, in kB; -1 when it cannot be read. */
static long long proc_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long long kb = -1;
	size_t n = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0) {
			kb = strtoll(line + n, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static long long rss_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	return proc_kb(path, "VmRSS:");
}

/* CPU time pid used, with that of the children it waited for (Redis's
 * save child, once reaped), in ns; 0 when it cannot be read. */
static uint64_t cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long t[4] = {0};
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &t[0], &t[1], &t[2],
			 &t[3]) != 4)
		return 0;
	return (t[0] + t[1] + t[2] + t[3]) * (SEC / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* The first child of pid (Redis's save child), or 0. */
static pid_t child_of(pid_t pid)
{
	char path[96];
	int child = 0;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return (pid_t)child;
}

struct sampler {
	pthread_t thread;
	pid_t pid, child;
	int redis;
	atomic_int stop;
	long long rss_peak, child_peak, sum_peak;  /* kB */
	uint64_t samples;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;
	long long child = 0;
	uint64_t child_at = 0;
	char path[64];

	while (!atomic_load(&s->stop)) {
		long long rss = rss_kb(s->pid);
		if (s->redis && !s->child)
			s->child = child_of(s->pid);
		if (s->child && now_ns() - child_at >= 50 * MS) {
			snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)s->child);
			long long pd = proc_kb(path, "Private_Dirty:");
			child = pd < 0 ? 0 : pd;
			child_at = now_ns();
		}
		if (rss > s->rss_peak)
			s->rss_peak = rss;
		if (child > s->child_peak)
			s->child_peak = child;
		if (rss + child > s->sum_peak)
			s->sum_peak = rss + child;
		s->samples++;
		sleep_ns(2 * MS);
	}
	return NULL;
}

/* ---- save: the measurement ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

struct lat {
	size_t n;
	double p50, p99, max;  /* us */
	double max_at;         /* ms from the window's start to the slowest request's */
};

/* Requests that overlap [from, to) (during) or that lie inside it. */
static struct lat lat_of(uint64_t from, uint64_t to, int overlap)
{
	uint64_t n = atomic_load(&shm->nrec), k = 0, worst = 0, worst_t0 = from;
	uint64_t *v = malloc((n ? n : 1) * sizeof *v);
	struct lat l = {0};

	if (!v)
		fail("out of memory");
	for (uint64_t i = 0; i < n; i++) {
		const struct rec *r = &shm->rec[i];
		if (overlap ? r->t0 < to && r->t0 + r->dur > from : r->t0 >= from && r->t0 + r->dur <= to) {
			v[k++] = r->dur;
			if (r->dur > worst)
				worst = r->dur, worst_t0 = r->t0;
		}
	}
	qsort(v, k, sizeof *v, cmp_u64);
	l.n = k;
	if (k) {
		l.p50 = (double)v[(k - 1) / 2] / 1e3;
		l.p99 = (double)v[(size_t)((double)k * 0.99 + 0.999999) - 1] / 1e3;
		l.max = (double)v[k - 1] / 1e3;
		l.max_at = ((double)worst_t0 - (double)from) / 1e6;
	}
	free(v);
	return l;
}

/* The requests of [from, to) over limit_ns, with when they began, on
 * stderr: where in a save the slow ones fall. */
static void lat_show(uint64_t from, uint64_t to, uint64_t limit_ns)
{
	uint64_t n = atomic_load(&shm->nrec);
	unsigned shown = 0;

	fprintf(stderr, "persist: the save ran from %" PRIu64 " to %" PRIu64 " ns (CLOCK_MONOTONIC)\n", from, to);
	for (uint64_t i = 0; i < n && shown < 20; i++) {
		const struct rec *r = &shm->rec[i];
		if (r->t0 < to && r->t0 + r->dur > from && r->dur > limit_ns) {
			fprintf(stderr, "persist: a request of %.2f ms at %.1f ms of %.1f\n", (double)r->dur / 1e6,
				((double)r->t0 - (double)from) / 1e6, (double)(to - from) / 1e6);
			shown++;
		}
	}
}

/* The save's figures, as the line prints them. */
struct result {
	uint64_t wall_ns, server_ns, child_ns, size, objects, before, after, fork_ns, cpu_ns;
	long long cow_kb, file_size;
	uint64_t hdr[4];  /* heapd's file: objects, roots, slots, data bytes */
};

static void save_heapd(heapd *h, struct result *res, uint64_t *t0, uint64_t *t1)
{
	heapd_stats st;

	if (heapd_get_stats(h, &st, sizeof st) != 0)
		heapd_fail(h, "stats");
	res->before = st.heap_alloc;
	uint64_t saves = st.saves_total;
	*t0 = now_ns();
	if (heapd_save(h, 1) != 0)
		heapd_fail(h, "save");
	*t1 = now_ns();
	if (heapd_get_stats(h, &st, sizeof st) != 0)
		heapd_fail(h, "stats");
	if (st.saves_total != saves + 1)
		fail("saves_total did not count the save");
	res->server_ns = st.last_save_duration_ns;
	res->size = st.last_save_size_bytes;
	res->objects = st.last_save_objects;
	res->after = st.heap_alloc;
}

/* Seconds since midnight of a Redis log line's time, or -1. */
static double log_time(const char *line)
{
	int day, year, hh, mm, ss, msec;
	char mon[4];

	if (sscanf(line, "%*d:%*c %d %3s %d %d:%d:%d.%d", &day, mon, &year, &hh, &mm, &ss, &msec) != 7)
		return -1;
	return hh * 3600.0 + mm * 60.0 + ss + msec / 1000.0;
}

/* The last line of the log that has text; its time in *t. */
static int log_last(const char *path, const char *text, double *t, char *line, size_t cap)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char buf[1024];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof buf, f))
		if (strstr(buf, text)) {
			*t = log_time(buf);
			snprintf(line, cap, "%s", buf);
			found = 1;
		}
	fclose(f);
	return found;
}

static void save_redis(const struct opts *o, struct rconn *c, struct result *res, uint64_t *t0, uint64_t *t1)
{
	const char *bgsave[] = {"BGSAVE"};
	struct rreply r;
	double a, b;
	char line[1024];

	res->before = (uint64_t)info(c, "memory", "used_memory");
	*t0 = now_ns();
	rc_call(c, &r, 1, bgsave);
	res->fork_ns = now_ns() - *t0;
	if (r.type != '+')
		fail("BGSAVE failed");
	while (info(c, "persistence", "rdb_bgsave_in_progress") != 0)
		sleep_ns(5 * MS);
	*t1 = now_ns();
	const char *persistence[] = {"INFO", "persistence"};
	rc_call(c, &r, 2, persistence);
	if (r.type != '$' || !memmem(r.s, r.len, "rdb_last_bgsave_status:ok", 25))
		fail("BGSAVE did not succeed");
	res->cow_kb = info(c, "persistence", "rdb_last_cow_size") / 1024;
	long long fork_us = info(c, "stats", "latest_fork_usec");
	if (fork_us >= 0)
		res->fork_ns = (uint64_t)fork_us * 1000;
	res->after = (uint64_t)info(c, "memory", "used_memory");
	if (!log_last(o->log, "Background saving started", &a, line, sizeof line) || a < 0)
		return;
	if (log_last(o->log, "Background saving terminated with success", &b, line, sizeof line) && b >= 0)
		res->server_ns = (uint64_t)(((b < a ? b + 86400 : b) - a) * 1e9);
	if (log_last(o->log, "DB saved on disk", &b, line, sizeof line) && b >= 0)
		res->child_ns = (uint64_t)(((b < a ? b + 86400 : b) - a) * 1e9);
}

static void file_figures(const struct opts *o, struct result *res)
{
	struct stat st;

	res->file_size = o->file && stat(o->file, &st) == 0 ? (long long)st.st_size : -1;
	if (o->kind != HEAPD || !o->file)
		return;
	FILE *f = fopen(o->file, "rb");
	uint8_t hdr[64];
	if (f && fread(hdr, 1, sizeof hdr, f) == sizeof hdr)
		for (int i = 0; i < 4; i++)
			for (int k = 7; k >= 0; k--)
				res->hdr[i] = res->hdr[i] << 8 | hdr[32 + 8 * i + k];
	if (f)
		fclose(f);
}

static void print_save(const struct opts *o, const struct result *res, const struct sampler *s, long long rss0,
		       uint64_t t0, uint64_t t1, uint64_t ops)
{
	struct lat d = lat_of(t0, t1, 1), q = lat_of(t0 - o->warmup_s * SEC, t0, 0);
	long long peak = o->kind == REDIS ? s->sum_peak : s->rss_peak;
	double secs = (double)(t1 - t0) / 1e9;

	printf("%s test=save wall_ms=%.1f server_ms=%.1f child_ms=%.1f fork_ms=%.2f cpu_ms=%.0f",
	       o->kind == HEAPD ? "heapd" : "redis", (double)(t1 - t0) / 1e6, (double)res->server_ns / 1e6,
	       (double)res->child_ns / 1e6, (double)res->fork_ns / 1e6, (double)res->cpu_ns / 1e6);
	printf(" size_bytes=%lld saved_objects=%" PRIu64, res->file_size, res->objects);
	printf(" lat_n=%zu lat_p50_us=%.1f lat_p99_us=%.1f lat_max_us=%.1f lat_max_at_ms=%.1f", d.n, d.p50, d.p99,
	       d.max, d.max_at);
	printf(" base_n=%zu base_p99_us=%.1f base_max_us=%.1f", q.n, q.p99, q.max);
	printf(" rss_before_mib=%.1f peak_mib=%.1f extra_mib=%.1f child_peak_mib=%.1f cow_mib=%.1f", rss0 / 1024.0,
	       peak / 1024.0, (peak - rss0) / 1024.0, s->child_peak / 1024.0, res->cow_kb / 1024.0);
	printf(" heap_before=%" PRIu64 " heap_after=%" PRIu64, res->before, res->after);
	printf(" writer_ops=%" PRIu64 " writer_rate=%.0f writer_errors=%" PRIu64, ops,
	       secs > 0 ? (double)ops / secs : 0.0, (uint64_t)atomic_load(&shm->writer_errors));
	if (o->kind == HEAPD)
		printf(" stat_size_bytes=%" PRIu64 " snap_objects=%" PRIu64 " snap_roots=%" PRIu64
		       " snap_slots=%" PRIu64 " snap_data=%" PRIu64,
		       res->size, res->hdr[0], res->hdr[1], res->hdr[2], res->hdr[3]);
	printf(" samples=%" PRIu64 "\n", s->samples);
	lat_show(t0, t1, 2 * MS);
}

static void stop_children(pid_t *pids, int n)
{
	int failed = 0;

	atomic_store(&shm->stop, 1);
	for (int i = 0; i < n; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	if (failed) {
		fprintf(stderr, "persist: a client failed: %s\n", shm->err[0] ? shm->err : "(killed)");
		exit(1);
	}
}

static void wait_ready(pid_t *pids)
{
	uint64_t deadline = now_ns() + 600 * SEC;

	while (atomic_load(&shm->ready) < 2) {
		int status;
		for (int i = 0; i < 2; i++)
			if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
				atomic_store(&shm->stop, 1);
				fprintf(stderr, "persist: a client ended early: %s\n", shm->err);
				exit(1);
			}
		if (now_ns() > deadline) {
			atomic_store(&shm->stop, 1);
			fail("the clients did not get ready");
		}
		sleep_ns(10 * MS);
	}
}

static void save_run(const struct opts *o)
{
	heapd *h = NULL;
	struct rconn *c = NULL;
	struct result res = {.cow_kb = -1};
	struct sampler s = {.pid = o->pid, .redis = o->kind == REDIS};
	pid_t pids[2];
	uint64_t t0, t1;

	if (o->kind == HEAPD) {
		h = hconnect(o->sock);
		if (heapd_gc(h) != 0)
			heapd_fail(h, "gc");
	} else if (!(c = rc_open(o->sock))) {
		fail("cannot connect to Redis");
	}
	pids[0] = spawn(o, 0);
	pids[1] = spawn(o, 1);
	wait_ready(pids);
	sleep_ns(o->warmup_s * SEC);
	long long rss0 = rss_kb(o->pid);
	if (pthread_create(&s.thread, NULL, sampler_main, &s) != 0)
		fail("cannot start the sampler");
	uint64_t ops0 = atomic_load(&shm->writer_ops), cpu0 = cpu_ns(o->pid);
	if (o->kind == HEAPD)
		save_heapd(h, &res, &t0, &t1);
	else
		save_redis(o, c, &res, &t0, &t1);
	res.cpu_ns = cpu_ns(o->pid) - cpu0;
	uint64_t ops = atomic_load(&shm->writer_ops) - ops0;
	atomic_store(&s.stop, 1);
	pthread_join(s.thread, NULL);
	sleep_ns(200 * MS);
	stop_children(pids, 2);
	file_figures(o, &res);
	print_save(o, &res, &s, rss0, t0, t1, ops);
	if (h)
		heapd_close(h);
	rc_close(c);
}

static enum kind kind_of(const char *s)
{
	if (strcmp(s, "heapd") == 0)
		return HEAPD;
	if (strcmp(s, "redis") == 0)
		return REDIS;
	usage();
	return HEAPD;
}

static void parse_opts(int argc, char **argv, struct opts *o, int *have_kind)
{
	int c;

	while ((c = getopt(argc, argv, "k:s:p:t:w:S:f:l:d:T:i:")) != -1) {
		switch (c) {
		case 'k': o->kind = kind_of(optarg), *have_kind = 1; break;
		case 's': o->sock = optarg; break;
		case 'p': o->pid = (pid_t)number(optarg); break;
		case 't': o->targets = optarg; break;
		case 'w': o->rate = number(optarg); break;
		case 'S': o->seed = number(optarg); break;
		case 'f': o->file = optarg; break;
		case 'l': o->log = optarg; break;
		case 'd': o->warmup_s = number(optarg); break;
		case 'T': o->start_ns = number(optarg); break;
		case 'i': o->interval_us = number(optarg); break;
		default: usage();
		}
	}
	if (!*have_kind || !o->sock || o->pid <= 0 || optind != argc)
		usage();
}

static int cmd_save(int argc, char **argv)
{
	struct opts o = {.rate = 2000, .seed = 1, .warmup_s = 1};
	int have_kind = 0;

	parse_opts(argc, argv, &o, &have_kind);
	if (!o.targets || o.rate > 1000 * WRITER_TICK_MAX)
		usage();
	shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		fail("mmap");
	save_run(&o);
	return 0;
}

/* ---- ready: a started server's time to serve ---- */

/* Whether pid has ended (a zombie counts: the shell waits for it later). */
static int gone(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 1;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 'Z';
	fclose(f);
	return state == 'Z' || state == 'X';
}

static heapd *ready_heapd(const struct opts *o)
{
	for (;;) {
		heapd *h = heapd_connect(o->sock);

		if (!h)
			fail("out of memory");
		if (heapd_errcode(h) == 0 && heapd_ping(h, NULL) == 0)
			return h;
		heapd_close(h);
		if (gone(o->pid))
			fail("heapd ended before it served");
		sleep_ns(MS);
	}
}

static struct rconn *ready_redis(const struct opts *o)
{
	const char *ping[] = {"PING"};
	struct rconn *c = NULL;
	struct rreply r;

	for (;;) {
		if (!c)
			c = rc_open(o->sock);
		if (c) {
			rc_call(c, &r, 1, ping);
			if (r.type == '+')
				return c;
		}
		if (gone(o->pid))
			fail("redis-server ended before it served");
		sleep_ns(MS);
	}
}

static int cmd_ready(int argc, char **argv)
{
	struct opts o = {0};
	int have_kind = 0;
	char line[1024] = "";
	double t = 0;

	parse_opts(argc, argv, &o, &have_kind);
	if (!o.start_ns)
		usage();
	if (o.kind == HEAPD) {
		heapd *h = ready_heapd(&o);
		uint64_t ready = now_ns() - o.start_ns;
		heapd_stats st;
		if (heapd_get_stats(h, &st, sizeof st) != 0)
			heapd_fail(h, "stats");
		printf("heapd test=load ready_ms=%.1f load_ms=%.1f objects=%" PRIu64 " roots=%" PRIu64
		       " heap_alloc=%" PRIu64 " rss_mib=%.1f\n",
		       (double)ready / 1e6, (double)st.load_duration_ns / 1e6, st.heap_objects, st.named_roots,
		       st.heap_alloc, (double)st.rss_bytes / 1048576.0);
		heapd_close(h);
		return 0;
	}
	struct rconn *c = ready_redis(&o);
	uint64_t ready = now_ns() - o.start_ns;
	const char *dbsize[] = {"DBSIZE"};
	struct rreply r;
	rc_call(c, &r, 1, dbsize);
	long long keys = r.num;
	long long rss = info(c, "memory", "used_memory_rss");
	if (log_last(o.log, "DB loaded from disk:", &t, line, sizeof line)) {
		char *p = strstr(line, "DB loaded from disk:");
		t = strtod(p + strlen("DB loaded from disk:"), NULL);
	}
	printf("redis test=load ready_ms=%.1f load_ms=%.1f objects=%lld rss_mib=%.1f\n", (double)ready / 1e6, t * 1e3,
	       keys, (double)rss / 1048576.0);
	rc_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	pool_fill();
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "save") == 0)
		return cmd_save(argc - 1, argv + 1);
	if (strcmp(argv[1], "ready") == 0)
		return cmd_ready(argc - 1, argv + 1);
	if (strcmp(argv[1], "now") == 0 && argc == 2) {
		printf("%" PRIu64 "\n", now_ns());
		return 0;
	}
	usage();
	return 2;
}
