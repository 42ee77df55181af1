/*
 * gcbench_bdwgc.c - GCBench (Ellis/Kovac, modified by Boehm) on bdwgc.
 *
 * The baseline for heapd's collector targets: the classic binary-tree
 * benchmark run on Debian's libgc with its default settings (non-incremental,
 * no tuning). gcbench_heapd.c runs the same shape on the heapd engine, and
 * run-gcbench.sh compares the two.
 *
 * Shape: a stretch tree of depth 18 made and dropped, a long-lived tree of
 * depth 16 and a long-lived array of 500000 doubles (half filled) kept for
 * the whole run, then for depths 4..16 step 2, NumIters(d) temporary trees
 * built top-down (populate) and as many bottom-up (make_tree).
 *
 * Measured over the whole run: wall time (CLOCK_MONOTONIC), collections
 * (GC_get_gc_no), the longest collection pause, peak RSS (ru_maxrss) and the
 * final heap size (GC_get_heap_size). Progress goes to stderr, one line per
 * depth; the result is one key=value line on stdout.
 */
#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "gcbench.h"

typedef struct node {
	struct node *left;
	struct node *right;
	int i, j;
} node;

static uint64_t gc_start_ns;
static uint64_t max_pause_ns, total_pause_ns;

/*
 * In its default non-incremental mode bdwgc runs every collection as a full
 * stop-the-world collection inside the allocating call, bracketed by
 * GC_EVENT_START and GC_EVENT_END: that span is the mutator's pause. The
 * world-stop events (GC_EVENT_PRE_STOP_WORLD .. GC_EVENT_POST_START_WORLD)
 * could be used instead; they cover the stopped mark alone and leave out the
 * set-up of reclaim after it, which this single-threaded mutator waits for
 * too. Lazy sweeping done later by allocations is not a pause here, as
 * heapd's sweeping on allocation is not one either.
 */
static void GC_CALLBACK on_gc_event(GC_EventType ev)
{
	if (ev == GC_EVENT_START) {
		gc_start_ns = now_ns();
	} else if (ev == GC_EVENT_END) {
		uint64_t pause = now_ns() - gc_start_ns;

		total_pause_ns += pause;
		if (pause > max_pause_ns)
			max_pause_ns = pause;
	}
}

static node *new_node(void)
{
	node *n = GC_MALLOC(sizeof *n);

	if (n == NULL) {
		fprintf(stderr, "gcbench_bdwgc: out of memory\n");
		abort();
	}
	return n;
}

/* Builds the tree top down, assigning to older objects. */
static void populate(int depth, node *n)
{
	if (depth <= 0)
		return;
	depth--;
	n->left = new_node();
	n->right = new_node();
	populate(depth, n->left);
	populate(depth, n->right);
}

/* Builds the tree bottom up. */
static node *make_tree(int depth)
{
	node *left, *right, *n;

	if (depth <= 0)
		return new_node();
	left = make_tree(depth - 1);
	right = make_tree(depth - 1);
	n = new_node();
	n->left = left;
	n->right = right;
	return n;
}

static void time_construction(int depth)
{
	int iters = num_iters(depth);
	uint64_t t0, t1, t2;

	t0 = now_ns();
	for (int i = 0; i < iters; i++)
		populate(depth, new_node());
	t1 = now_ns();
	for (int i = 0; i < iters; i++)
		make_tree(depth);
	t2 = now_ns();
	fprintf(stderr, "depth %2d: %6d trees, top-down %4llu ms, bottom-up %4llu ms\n",
	        depth, iters, (unsigned long long)((t1 - t0) / 1000000),
	        (unsigned long long)((t2 - t1) / 1000000));
}

int main(void)
{
	node *long_lived;
	double *array;
	uint64_t t0, elapsed;
	struct rusage ru;

	GC_INIT();
	GC_set_on_collection_event(on_gc_event);

	t0 = now_ns();

	/* Stretch the memory space quickly. */
	make_tree(STRETCH_DEPTH);

	long_lived = new_node();
	populate(LONG_LIVED_DEPTH, long_lived);

	/* Pointer-free, as GCBench allocates it under a collector. */
	array = GC_MALLOC_ATOMIC(sizeof(double) * ARRAY_SIZE);
	if (array == NULL) {
		fprintf(stderr, "gcbench_bdwgc: out of memory\n");
		abort();
	}
	for (int i = 0; i < ARRAY_SIZE / 2; i++)
		array[i] = 1.0 / i;

	for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2)
		time_construction(d);

	/* Uses the long-lived data so that it stays live to the end. */
	if (long_lived->left == NULL || array[1000] != 1.0 / 1000) {
		fprintf(stderr, "gcbench_bdwgc: long-lived data lost\n");
		return 1;
	}
	elapsed = now_ns() - t0;

	getrusage(RUSAGE_SELF, &ru);
	printf("gcbench impl=bdwgc time_s=%.3f num_gc=%lu gc_ms=%.1f max_pause_us=%llu "
	       "peak_rss_kib=%ld heap_mib=%.1f\n",
	       (double)elapsed / 1e9, (unsigned long)GC_get_gc_no(), (double)total_pause_ns / 1e6,
	       (unsigned long long)((max_pause_ns + 500) / 1000), ru.ru_maxrss,
	       (double)GC_get_heap_size() / 1048576.0);
	return 0;
}
