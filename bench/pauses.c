/*
 * pauses.c - how long does the collector stop the mutator while it marks a
 * heap of about 1 GiB? Every stretch of collector work the host cannot
 * interrupt - a heap_gc_slice() call, an assist inside heap_alloc() - is
 * one pause; heapd's target is a longest pause of 1 ms (Go's STW goal is
 * well under 1 ms; bdwgc's incremental slices are 15 ms).
 *
 * The heap: 30 binary trees of depth 17 (nodes of 2 slots and 16 bytes),
 * 20 lists of 300000 nodes (1 slot, 48 bytes) behind a header object, and
 * 30 arrays of 262144 slots (2 MiB large objects, scanned in oblets) each
 * pointing at as many 24-byte strings (no slots). Every structure is under
 * a named root; what the builder and the mutator keep in locals is held in
 * one hold set, as a client's connection would. Building it already runs
 * cycles, driven by assists; their pauses are reported as "build".
 *
 * Then two phases are measured:
 *  cycle: heap_gc_begin(), then heap_gc_slice() with the engine's default
 *     budget (heap_config_default's slice_ns), and between slices 1 ms of
 *     mutator work: replacing array strings, rotating list heads, swapping
 *     subtrees found by walking trees with held references, and allocating
 *     short-lived scratch objects. So marking runs against a mutator that
 *     allocates (and so assists) and moves references (write barrier);
 *  assists: a mutator that allocates as fast as it can (7 of 8 objects
 *     scratch, 1 of 8 replacing an array string) with no slices at all,
 *     until the pacer starts a cycle and the assists alone have finished
 *     it.
 * Pauses are read from the engine's ring (struct heap_stats pause_ns, 256
 * entries, num_pause) often enough that none is overwritten unread, and
 * attributed to the phase and to slice or assist by when they appear; each
 * heap_gc_slice() call is also timed here with CLOCK_MONOTONIC. Per group:
 * count, p50 and p99 (the value at index floor(q * n) of the sorted
 * pauses), max and total. A pause is wall time, so one during which the
 * OS ran something else is longer than the work it did: pauses over the
 * target are also counted with the involuntary context switches
 * (getrusage) seen in the window they were read in. The target is checked
 * on the engine's max_pause_ns, which covers every pause since heap_new().
 * The last line is "pauses key=value ...". Progress goes to stderr. Exits
 * 1 when a run fails, else 0 whatever the target says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "heap.h"

enum {
	TREES = 30,
	TREE_DEPTH = 17,
	LISTS = 20,
	LIST_LEN = 300000,
	ARRAYS = 30,
	ARRAY_SLOTS = 262144,
	NAME_MAX_LEN = 16,
	WALK_DEPTH = 10,        /* levels walked down a tree before a swap */
	COLLECT_EVERY = 512,    /* allocations between reads of the pause ring */
};

/* Object shapes. */
enum {
	NODE_NREFS = 2, NODE_NBYTES = 16,  /* tree node: left, right */
	LNODE_NREFS = 1, LNODE_NBYTES = 48, /* list node: next */
	STR_NBYTES = 24,                    /* string: data only */
};

#define MUTATOR_STEP_NS 1000000u   /* mutator work between slices */
#define ASSIST_PHASE_MAX_ALLOCS 100000000u
#define TARGET_NS 1000000u         /* longest pause allowed */

/* Pauses recorded in one group. */
struct pauses {
	const char *name;
	uint64_t *ns;
	size_t n, cap;
};

enum { G_BUILD, G_SLICE, G_CYCLE_ASSIST, G_ASSIST, NGROUPS };

static heap *h;
static heap_holds *stack;
static struct heap_config cfg;
static heap_ref trees[TREES], lists[LISTS], arrays[ARRAYS];
static struct pauses groups[NGROUPS] = {
	{.name = "build (assists, slices)"},
	{.name = "cycle: slices"},
	{.name = "cycle: assists between slices"},
	{.name = "assist-only cycle: assists"},
};
static uint64_t pauses_seen;  /* engine pauses already attributed */
static uint64_t pauses_lost;  /* overwritten in the ring before being read */
static uint64_t pauses_over;  /* longer than the target */
static uint64_t pauses_over_preempted; /* ... read in a window with an
                                         * involuntary context switch */
static long nivcsw;           /* involuntary context switches, last read */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t allocs;       /* heap_alloc calls since the last ring read */

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void add_pause(struct pauses *g, uint64_t ns)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->ns = realloc(g->ns, g->cap * sizeof *g->ns);
		if (g->ns == NULL)
			fail("out of memory");
	}
	g->ns[g->n++] = ns;
}

/* Attributes the engine's pauses since the last call to g, and counts
 * those over the target, and whether the OS took the CPU away meanwhile. */
static void collect(struct pauses *g)
{
	struct heap_stats st;
	struct rusage ru;
	int preempted;

	heap_read_stats(h, &st);
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		fail("getrusage failed");
	preempted = ru.ru_nivcsw != nivcsw;
	nivcsw = ru.ru_nivcsw;
	if (st.num_pause - pauses_seen > HEAP_PAUSE_RING) {
		pauses_lost += st.num_pause - pauses_seen - HEAP_PAUSE_RING;
		pauses_seen = st.num_pause - HEAP_PAUSE_RING;
	}
	for (; pauses_seen < st.num_pause; pauses_seen++) {
		uint64_t ns = st.pause_ns[pauses_seen % HEAP_PAUSE_RING];

		add_pause(g, ns);
		if (ns > TARGET_NS) {
			pauses_over++;
			pauses_over_preempted += preempted;
		}
	}
	allocs = 0;
}

static heap_ref alloc(uint32_t nrefs, uint32_t nbytes, struct pauses *g)
{
	heap_ref r;

	check(heap_alloc(h, stack, nrefs, nbytes, &r), "heap_alloc");
	if (++allocs == COLLECT_EVERY)
		collect(g);
	return r;
}

static void release(heap_ref r)
{
	check(heap_release(h, stack, r), "heap_release");
}

static void set_ref(heap_ref obj, uint32_t slot, heap_ref val)
{
	check(heap_set_ref(h, obj, slot, val), "heap_set_ref");
}

/* Reads slot of obj, held on the stack when not null. */
static heap_ref get_ref(heap_ref obj, uint32_t slot)
{
	heap_ref r;

	check(heap_get_ref(h, obj, slot, stack, &r), "heap_get_ref");
	return r;
}

static void write_u64(heap_ref obj, uint64_t v)
{
	check(heap_write(h, obj, 0, &v, sizeof v), "heap_write");
}

static void root(const char *kind, unsigned i, heap_ref r)
{
	char name[NAME_MAX_LEN];
	int len = snprintf(name, sizeof name, "%s/%02u", kind, i);

	check(heap_root_set(h, name, (size_t)len, r, NULL), "heap_root_set");
}

/* A tree built bottom-up, returned held on the stack. */
static heap_ref make_tree(int depth, struct pauses *g)
{
	heap_ref n, left, right;

	if (depth == 0)
		return alloc(NODE_NREFS, NODE_NBYTES, g);
	left = make_tree(depth - 1, g);
	right = make_tree(depth - 1, g);
	n = alloc(NODE_NREFS, NODE_NBYTES, g);
	write_u64(n, (uint64_t)depth);
	set_ref(n, 0, left);
	set_ref(n, 1, right);
	release(left);
	release(right);
	return n;
}

static heap_ref make_string(struct pauses *g)
{
	heap_ref s = alloc(0, STR_NBYTES, g);

	write_u64(s, rnd());
	return s;
}

static void build(struct pauses *g)
{
	for (unsigned i = 0; i < TREES; i++) {
		trees[i] = make_tree(TREE_DEPTH, g);
		root("tree", i, trees[i]);
		release(trees[i]);
	}
	for (unsigned i = 0; i < LISTS; i++) {
		heap_ref head = 0;

		lists[i] = alloc(LNODE_NREFS, 0, g);
		root("list", i, lists[i]);
		release(lists[i]);
		for (unsigned k = 0; k < LIST_LEN; k++) {
			heap_ref n = alloc(LNODE_NREFS, LNODE_NBYTES, g);

			write_u64(n, k);
			set_ref(n, 0, head);
			set_ref(lists[i], 0, n);
			release(n);
			head = n;
		}
	}
	for (unsigned i = 0; i < ARRAYS; i++) {
		arrays[i] = alloc(ARRAY_SLOTS, 0, g);
		root("array", i, arrays[i]);
		release(arrays[i]);
		for (uint32_t k = 0; k < ARRAY_SLOTS; k++) {
			heap_ref s = make_string(g);

			set_ref(arrays[i], k, s);
			release(s);
		}
	}
}

/* One mutator operation of kind op. */
static void mutate(unsigned op, struct pauses *g)
{
	heap_ref a, b, c;
	unsigned i;

	switch (op) {
	case 0: /* replace an array's string: the old one becomes garbage */
		a = make_string(g);
		set_ref(arrays[rnd() % ARRAYS], (uint32_t)(rnd() % ARRAY_SLOTS), a);
		release(a);
		break;
	case 1: /* rotate a list: a new head in place of the old one */
		i = (unsigned)(rnd() % LISTS);
		a = get_ref(lists[i], 0);
		b = get_ref(a, 0);
		c = alloc(LNODE_NREFS, LNODE_NBYTES, g);
		write_u64(c, rnd());
		set_ref(c, 0, b);
		set_ref(lists[i], 0, c);
		release(a);
		release(b);
		release(c);
		break;
	case 2: /* walk a tree down a random path, swap a node's subtrees */
		a = trees[rnd() % TREES];
		check(heap_hold(h, stack, a), "heap_hold");
		for (int d = 0; d < WALK_DEPTH; d++) {
			b = get_ref(a, (uint32_t)(rnd() % 2));
			release(a);
			a = b;
		}
		b = get_ref(a, 0);
		c = get_ref(a, 1);
		set_ref(a, 0, c);
		set_ref(a, 1, b);
		release(a);
		release(b);
		release(c);
		break;
	default: /* scratch: held while in use, then dropped */
		a = alloc(LNODE_NREFS, LNODE_NBYTES, g);
		write_u64(a, rnd());
		release(a);
	}
}

/* Runs the cycle in progress to its end in slices, with no mutator. */
static void finish_cycle(struct pauses *g)
{
	while (heap_gc_active(h)) {
		heap_gc_slice(h, cfg.slice_ns);
		collect(g);
	}
}

/* heap_gc_begin(), then slices with MUTATOR_STEP_NS of mutator work
 * between them; returns the mutator operations done. */
static uint64_t sliced_cycle(struct pauses *slices, struct pauses *assists, struct pauses *self)
{
	uint64_t ops = 0;

	heap_gc_begin(h);
	if (!heap_gc_active(h))
		fail("heap_gc_begin started no cycle");
	for (;;) {
		uint64_t t0 = now_ns();
		bool more = heap_gc_slice(h, cfg.slice_ns);
		uint64_t t1 = now_ns();

		add_pause(self, t1 - t0);
		collect(slices);
		if (!more)
			return ops;
		while (now_ns() - t1 < MUTATOR_STEP_NS)
			for (unsigned k = 0; k < 8; k++)
				mutate((unsigned)(ops++ % 6), assists);
		collect(assists);
	}
}

/* Allocates, 7 of 8 objects scratch and 1 of 8 replacing an array string,
 * until the pacer has started a cycle and assists have finished it. */
static uint64_t assist_cycle(struct pauses *g)
{
	uint64_t n = 0;

	while (!heap_gc_active(h)) {
		if (n == ASSIST_PHASE_MAX_ALLOCS)
			fail("the pacer started no cycle");
		mutate(n++ % 8 == 0 ? 0 : 3, g);
	}
	while (heap_gc_active(h))
		mutate(n++ % 8 == 0 ? 0 : 3, g);
	collect(g);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The value at quantile q of sorted v[0..n-1]. */
static uint64_t quantile(const uint64_t *v, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n);

	if (n == 0)
		return 0;
	return v[rank < n ? rank : n - 1];
}

static uint64_t sum(const uint64_t *v, size_t n)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

static void print_group(struct pauses *g)
{
	qsort(g->ns, g->n, sizeof *g->ns, cmp_u64);
	printf("| %-31s | %7zu | %7.1f | %7.1f | %7.1f | %9.1f |\n", g->name, g->n,
	       (double)quantile(g->ns, g->n, 0.50) / 1e3, (double)quantile(g->ns, g->n, 0.99) / 1e3,
	       (double)(g->n ? g->ns[g->n - 1] : 0) / 1e3, (double)sum(g->ns, g->n) / 1e6);
}

/* The longest pause of a group print_group() has sorted. */
static double max_us(const struct pauses *g)
{
	return g->n ? (double)g->ns[g->n - 1] / 1e3 : 0;
}

int main(void)
{
	static struct pauses all = {.name = "all recorded"};
	static struct pauses self = {.name = "cycle: slices, self-timed"};
	struct heap_stats st;
	uint64_t t0, cycle_ns, assist_ns, ops, assist_allocs, live, objects, marked, mark_ns;
	int ok;

	heap_config_default(&cfg);
	h = heap_new(&cfg);
	if (h == NULL)
		fail("heap_new failed");
	stack = heap_holds_new(h);
	if (stack == NULL)
		fail("heap_holds_new failed");

	t0 = now_ns();
	build(&groups[G_BUILD]);
	finish_cycle(&groups[G_BUILD]);
	heap_read_stats(h, &st);
	live = st.heap_alloc;
	objects = st.heap_objects;
	fprintf(stderr, "pauses: built %.0f MiB in %.1f s\n", (double)live / 1048576.0,
	        (double)(now_ns() - t0) / 1e9);

	t0 = now_ns();
	ops = sliced_cycle(&groups[G_SLICE], &groups[G_CYCLE_ASSIST], &self);
	cycle_ns = now_ns() - t0;
	heap_read_stats(h, &st);
	marked = st.heap_marked;
	fprintf(stderr, "pauses: sliced cycle in %.1f s\n", (double)cycle_ns / 1e9);

	t0 = now_ns();
	assist_allocs = assist_cycle(&groups[G_ASSIST]);
	assist_ns = now_ns() - t0;
	fprintf(stderr, "pauses: assist-only cycle in %.1f s\n", (double)assist_ns / 1e9);

	heap_read_stats(h, &st);
	if (heap_holds_count(stack) != 0)
		fail("holds left on the stack");
	mark_ns = sum(groups[G_SLICE].ns, groups[G_SLICE].n) +
	          sum(groups[G_CYCLE_ASSIST].ns, groups[G_CYCLE_ASSIST].n);
	for (unsigned g = 0; g < NGROUPS; g++)
		for (size_t i = 0; i < groups[g].n; i++)
			add_pause(&all, groups[g].ns[i]);

	printf("pauses: %.0f MiB live in %.1f M objects (%u trees, %u lists, %u arrays); "
	       "slice budget %.0f us\n\n", (double)live / 1048576.0, (double)objects / 1e6,
	       (unsigned)TREES, (unsigned)LISTS, (unsigned)ARRAYS, (double)cfg.slice_ns / 1e3);
	printf("| %-31s | %7s | %7s | %7s | %7s | %9s |\n", "pauses", "count", "p50 us", "p99 us",
	       "max us", "total ms");
	printf("| --- | --- | --- | --- | --- | --- |\n");
	for (unsigned g = 0; g < NGROUPS; g++)
		print_group(&groups[g]);
	print_group(&self);
	print_group(&all);

	printf("\nsliced cycle: %zu slices, %zu assists, %" PRIu64 " mutator ops, %.2f s wall, "
	       "mark time %.2f s (slices + assists), %.0f MiB marked\n", groups[G_SLICE].n,
	       groups[G_CYCLE_ASSIST].n, ops, (double)cycle_ns / 1e9, (double)mark_ns / 1e9,
	       (double)marked / 1048576.0);
	printf("assist-only cycle: %" PRIu64 " allocations, %zu assists, %.2f s wall\n",
	       assist_allocs, groups[G_ASSIST].n, (double)assist_ns / 1e9);
	printf("engine: num_gc %" PRIu64 ", num_pause %" PRIu64 " (%" PRIu64 " lost from the ring), "
	       "max_pause_ns %" PRIu64 ", gc_cpu_fraction %.3f\n", st.num_gc, st.num_pause,
	       pauses_lost, st.max_pause_ns, st.gc_cpu_fraction);
	printf("pauses over %.0f us: %" PRIu64 ", %" PRIu64 " of them read in a window with an "
	       "involuntary context switch (the OS may have taken the CPU during the pause)\n",
	       (double)TARGET_NS / 1e3, pauses_over, pauses_over_preempted);
	ok = st.max_pause_ns <= TARGET_NS;
	printf("target max <= %.0fus: %s\n", (double)TARGET_NS / 1e3, ok ? "PASS" : "FAIL");

	printf("pauses live_mib=%.0f slices=%zu slice_p50_us=%.1f slice_p99_us=%.1f "
	       "slice_max_us=%.1f slice_max_self_us=%.1f cycle_assists=%zu cycle_assist_max_us=%.1f "
	       "assists=%zu assist_p99_us=%.1f assist_max_us=%.1f build_max_us=%.1f mark_ms=%.1f "
	       "max_pause_us=%.1f pass=%d\n",
	       (double)live / 1048576.0, groups[G_SLICE].n,
	       (double)quantile(groups[G_SLICE].ns, groups[G_SLICE].n, 0.50) / 1e3,
	       (double)quantile(groups[G_SLICE].ns, groups[G_SLICE].n, 0.99) / 1e3,
	       max_us(&groups[G_SLICE]), max_us(&self), groups[G_CYCLE_ASSIST].n,
	       max_us(&groups[G_CYCLE_ASSIST]), groups[G_ASSIST].n,
	       (double)quantile(groups[G_ASSIST].ns, groups[G_ASSIST].n, 0.99) / 1e3,
	       max_us(&groups[G_ASSIST]), max_us(&groups[G_BUILD]), (double)mark_ns / 1e6,
	       (double)st.max_pause_ns / 1e3, ok);

	heap_holds_free(h, stack);
	heap_free(h);
	return 0;
}
