/*
 * gcbench_heapd.c - GCBench (Ellis/Kovac, modified by Boehm) on the heapd
 * engine, in process through heap.h.
 *
 * The same shape as gcbench_bdwgc.c, so that run-gcbench.sh can hold heapd
 * to its targets against bdwgc: a stretch tree of depth 18, a long-lived
 * tree of depth 16 and a long-lived array of 500000 doubles (half filled),
 * then for depths 4..16 step 2, NumIters(d) temporary trees built top-down
 * (populate) and as many bottom-up (make_tree).
 *
 * A node is an object with 2 reference slots (left, right) and 8 bytes of
 * data (int i, j); the array is one object of 4000000 bytes and no slots.
 * The benchmark treats the engine as a client would: whatever the original
 * holds in a local is held in one hold set standing for the stack, and
 * released when the local goes out of scope; a new object stored straight
 * into a field is allocated into that field, and the original's
 * constructor "new Node(left, right)" is heap_alloc_refs(). With --strict,
 * every new object is held and released, as if each passed through a
 * local, and fields are set one call at a time (the result line then says
 * impl=heapd-strict). Every engine call is checked. The engine runs with
 * heap_config_default(), so with its background mark worker where the
 * process may use two CPUs; nothing here drives heap_gc_slice(), so the
 * mutator's share of collection is its allocation assists.
 *
 * Measured over the whole run: wall time (CLOCK_MONOTONIC), collections
 * (num_gc), the longest collector pause (max_pause_ns: slices and assists),
 * peak RSS (ru_maxrss) and the final heap_sys. Progress goes to stderr, one
 * line per depth; the result is one key=value line on stdout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "gcbench.h"
#include "heap.h"

/* A node: slots left and right, then int i and j. */
enum { LEFT = 0, RIGHT = 1, NODE_NREFS = 2, NODE_NBYTES = 2 * sizeof(int) };

static heap *h;
static heap_holds *stack; /* holds for the objects the original keeps in locals */
static int strict;        /* hold every new object, even those in no local */

/* A new node, held on the stack; the caller releases it. */
static heap_ref new_node(void)
{
	heap_ref n;

	check(heap_alloc(h, stack, NODE_NREFS, NODE_NBYTES, &n), "heap_alloc node");
	return n;
}

static void release(heap_ref ref)
{
	check(heap_release(h, stack, ref), "heap_release");
}

static void set_ref(heap_ref obj, uint32_t slot, heap_ref val)
{
	check(heap_set_ref(h, obj, slot, val), "heap_set_ref");
}

/*
 * Builds the tree top down, assigning to older objects. The original's
 * "n.left = new Node()" keeps the new node in no local: it is
 * heap_alloc_into(), which roots the node in n's slot. In strict mode every
 * new node is held and released instead, as if it passed through a local.
 * A child's handle stays valid while n is reachable, as the original
 * rereads it from n's field.
 */
static void populate(int depth, heap_ref n)
{
	heap_ref left, right;

	if (depth <= 0)
		return;
	depth--;
	if (strict) {
		left = new_node();
		set_ref(n, LEFT, left);
		release(left);
		right = new_node();
		set_ref(n, RIGHT, right);
		release(right);
	} else {
		check(heap_alloc_into(h, n, LEFT, NODE_NREFS, NODE_NBYTES, &left), "heap_alloc_into");
		check(heap_alloc_into(h, n, RIGHT, NODE_NREFS, NODE_NBYTES, &right), "heap_alloc_into");
	}
	populate(depth, left);
	populate(depth, right);
}

/* Builds the tree bottom up; returns its root held on the stack. The
 * original's "new Node(MakeTree(d - 1), MakeTree(d - 1))" holds both
 * subtrees in locals until the constructor has stored them. */
static heap_ref make_tree(int depth)
{
	heap_ref left, right, n;

	if (depth <= 0)
		return new_node();
	left = make_tree(depth - 1);
	right = make_tree(depth - 1);
	if (strict) {
		n = new_node();
		set_ref(n, LEFT, left);
		set_ref(n, RIGHT, right);
	} else {
		heap_ref kids[NODE_NREFS] = {[LEFT] = left, [RIGHT] = right};

		check(heap_alloc_refs(h, stack, NODE_NREFS, NODE_NBYTES, kids, NODE_NREFS, &n), "heap_alloc_refs");
	}
	release(left);
	release(right);
	return n;
}

static void time_construction(int depth)
{
	int iters = num_iters(depth);
	uint64_t t0, t1, t2;

	t0 = now_ns();
	for (int i = 0; i < iters; i++) {
		heap_ref tree = new_node();

		populate(depth, tree);
		release(tree);
	}
	t1 = now_ns();
	for (int i = 0; i < iters; i++)
		release(make_tree(depth));
	t2 = now_ns();
	fprintf(stderr, "depth %2d: %6d trees, top-down %4llu ms, bottom-up %4llu ms\n",
	        depth, iters, (unsigned long long)((t1 - t0) / 1000000),
	        (unsigned long long)((t2 - t1) / 1000000));
}

int main(int argc, char **argv)
{
	struct heap_config cfg;
	struct heap_stats st;
	struct rusage ru;
	heap_ref long_lived, array;
	uint32_t nrefs, nbytes;
	uint64_t t0, elapsed;
	double v;

	strict = argc > 1 && strcmp(argv[1], "--strict") == 0;
	heap_config_default(&cfg);
	h = heap_new(&cfg);
	if (h == NULL) {
		fprintf(stderr, "gcbench_heapd: heap_new failed\n");
		abort();
	}
	stack = heap_holds_new(h);
	if (stack == NULL) {
		fprintf(stderr, "gcbench_heapd: heap_holds_new failed\n");
		abort();
	}

	t0 = now_ns();

	/* Stretch the memory space quickly. */
	release(make_tree(STRETCH_DEPTH));

	long_lived = new_node();
	populate(LONG_LIVED_DEPTH, long_lived);

	check(heap_alloc(h, stack, 0, ARRAY_SIZE * sizeof(double), &array), "heap_alloc array");
	for (uint32_t i = 0; i < ARRAY_SIZE / 2; i++) {
		v = 1.0 / i;
		check(heap_write(h, array, i * sizeof v, &v, sizeof v), "heap_write");
	}

	for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2)
		time_construction(d);

	/* Uses the long-lived data, as the original does to keep it live. */
	check(heap_object_size(h, long_lived, &nrefs, &nbytes), "heap_object_size");
	check(heap_read(h, array, 1000 * sizeof v, &v, sizeof v), "heap_read");
	if (v != 1.0 / 1000) {
		fprintf(stderr, "gcbench_heapd: long-lived array corrupted\n");
		return 1;
	}
	elapsed = now_ns() - t0;

	heap_read_stats(h, &st);
	getrusage(RUSAGE_SELF, &ru);
	/* Only the long-lived tree and the array may still be held. */
	if (heap_holds_count(stack) != 2) {
		fprintf(stderr, "gcbench_heapd: %llu holds left, want 2\n",
		        (unsigned long long)heap_holds_count(stack));
		return 1;
	}
	release(long_lived);
	release(array);
	heap_holds_free(h, stack);
	heap_free(h);

	printf("gcbench impl=%s time_s=%.3f num_gc=%llu gc_ms=%.1f max_pause_us=%llu "
	       "peak_rss_kib=%ld heap_mib=%.1f\n",
	       strict ? "heapd-strict" : "heapd", (double)elapsed / 1e9, (unsigned long long)st.num_gc,
	       (double)st.pause_total_ns / 1e6,
	       (unsigned long long)((st.max_pause_ns + 500) / 1000), ru.ru_maxrss,
	       (double)st.heap_sys / 1048576.0);
	return 0;
}
