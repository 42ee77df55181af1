/*
 * peakshrink.c - "peak then shrink": after the live heap falls from a peak
 * of about 1 GiB to 1% of it, do the collector's own memory (the workbufs
 * of the mark queue) and the process's RSS follow the current heap, or stay
 * at the peak? This is Go issue #19325 and the seed change "free workbufs
 * during sweeping": mark termination puts every workbuf span on a free
 * list, the idle sweeper frees them to the page heap in batches, and a
 * forced collection frees them at once.
 *
 * The graph. 100 chunks of 160000 nodes (16 million objects), each node
 * 2-4 reference slots and 16-48 data bytes, its shape a function of its
 * index. Slot 0 chains a node to the one allocated before it in its chunk,
 * and a named root "chunk/NN" holds each chunk's last node; the node being
 * linked is held in a hold set standing for the client's locals. Slots 2
 * and 3 point a few nodes back in the same chunk. Slot 1 points at a random
 * node: chunk 0's within chunk 0, every other chunk's anywhere in the heap.
 * The random slot is what makes marking need many workbufs: a LIFO mark of
 * a random graph keeps a constant fraction of its nodes queued (here about
 * a third: 1280 workbuf spans, 40 MiB, at the peak). Wide fan-out would
 * not: the engine queues a large object's slots in oblets of 512, so an
 * array of a million slots never has more than a few thousand entries
 * queued. Dropping the roots of chunks 1..99 leaves chunk 0 - the first 1%
 * of the allocation order, an "init phase then steady state" - as the only
 * live data, a closed graph of the same shape.
 *
 * The runs, on three heaps built one after the other in this process (a
 * forked child would pay copy-on-write faults, which are most of what
 * freeing a workbuf span costs in it):
 *  never peaked: chunk 0 alone, measured at path B's points (the baseline);
 *  A: the peak and one full incremental cycle at it; drop; heap_gc(), which
 *     frees the workbuf spans synchronously, as Go's forced GC does; idle;
 *  B: the same peak and cycle; drop; an incremental cycle (heap_gc_begin()
 *     and slices of the default 500 us), which leaves the peak's workbuf
 *     spans on the free list; idle, which must free them; then one more
 *     incremental cycle, the steady state.
 * Idle is a host's loop: call heap_idle() again at once when it returns 0,
 * nanosleep the delay it returns, stop at HEAP_IDLE_NONE. Its budget is
 * 1 ms, except while workbuf spans wait on the free list: then it is 0,
 * the engine's finest grain (one batch of 16 spans swept, 16 workbuf spans
 * freed or one scavenger step per call), so that calls which freed workbuf
 * spans and neither swept nor called madvise time the freeing alone (with
 * 1 ms calls, all of it would fall into one call that also sweeps and
 * scavenges). Printed: ns per span over all calls that freed workbuf
 * spans (the first and last of them usually also sweep or scavenge), and
 * over the pure ones, which the target uses.
 *
 * Workbuf memory is (busy + free) workbuf spans * 32 KiB. A cycle puts its
 * spans on the free list only at mark termination, so a cycle started with
 * an empty free list ends with exactly the spans it used there; the most
 * seen busy between slices is printed too. Targets: workbuf memory after
 * idle <= 1.1 x never peaked (0 vs 0 passes); workbuf spans after the
 * steady cycle <= 1.1 x the never-peaked heap's; RSS after idle <= live *
 * 1.1 + 8 MiB (A and B); the same for the memory behind the arena's
 * file (a memfd, shared with zero-copy clients: its blocks, which a
 * released page leaves only if it was punched out, not merely unmapped);
 * freeing one workbuf span <= 1 us. The last line
 * is "peakshrink key=value ...". Progress goes to stderr. Exits 1 when a
 * run fails, else 0 whatever the targets say.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "benchutil.h"
#include "heap.h"

enum {
	CHUNKS = 100,
	CHUNK_NODES = 160000,
	NAME_MAX_LEN = 16,
};

#define MIB (1024.0 * 1024.0)
#define WBUF_SPAN_BYTES 32768.0
#define IDLE_BUDGET_NS 1000000u
#define SALT_SHAPE 0x5eed5eed5eed5eedULL
#define SALT_EDGE 0xed6eed6eed6eed6eULL

/* The figures of one row of the table. */
struct row {
	const char *name;
	double live_mib, gc_sys_mib, released_mib, rss_mib;
	double file_mib;  /* memory behind the arena's file (a memfd): its blocks */
	uint64_t wbuf_busy, wbuf_free;
};

/* The rows, in the order printed. */
enum {
	A_PEAK, A_GC, A_IDLE,
	B_PEAK, B_CYCLE, B_IDLE, B_STEADY,
	N_CYCLE, N_IDLE, N_STEADY,
	NROWS
};

/* What an idle run's calls did: those that freed workbuf spans, and those
 * of them that neither swept nor called madvise (pure). */
struct idle_cost {
	uint64_t calls;
	uint64_t freed_calls, freed_ns, freed;
	uint64_t pure_calls, pure_ns, pure_freed;
};

struct results {
	struct row rows[NROWS];
	uint64_t peak_busy, steady_busy, never_steady_busy;
	uint64_t heap_gc_ns, heap_gc_freed;
	struct idle_cost a_idle, b_idle, n_idle;
};

/* splitmix64's finalizer: the node shapes and edges are functions of the
 * node's index, so chunk 0 is the same graph in both heaps. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t node_nrefs(uint64_t i)
{
	return 2 + (uint32_t)(mix(i ^ SALT_SHAPE) % 3);
}

static uint32_t node_nbytes(uint64_t i)
{
	return 16 + 8 * (uint32_t)((mix(i ^ SALT_SHAPE) >> 32) % 5);
}

static void chunk_name(char name[NAME_MAX_LEN], unsigned chunk)
{
	snprintf(name, NAME_MAX_LEN, "chunk/%02u", chunk);
}

/* Slot s >= 2 of node i: a node at most 65 places before it in its chunk,
 * or none. */
static uint64_t local_target(uint64_t i, uint32_t s)
{
	uint64_t back = 2 + mix((i << 2 | s) ^ SALT_EDGE) % 64;

	return i % CHUNK_NODES >= back ? i - back : UINT64_MAX;
}

/*
 * Builds chunks 0..nchunks-1: first the nodes, chained and locally linked
 * in each chunk and rooted by chunk, then every node's random slot 1, once
 * all the nodes exist. No allocation happens in that second pass, so no
 * collector work either: a cycle the build left running stays open.
 */
static void build(heap *h, heap_holds *stack, unsigned nchunks)
{
	uint64_t total = (uint64_t)nchunks * CHUNK_NODES;
	heap_ref *nodes = malloc(total * sizeof *nodes);
	uint64_t data[6];
	char name[NAME_MAX_LEN];

	if (nodes == NULL)
		fail("out of memory");
	for (unsigned c = 0; c < nchunks; c++) {
		heap_ref prev = 0;

		for (uint64_t i = (uint64_t)c * CHUNK_NODES; i < (uint64_t)(c + 1) * CHUNK_NODES; i++) {
			uint32_t nrefs = node_nrefs(i), nbytes = node_nbytes(i);
			heap_ref r;

			check(heap_alloc(h, stack, nrefs, nbytes, &r), "heap_alloc");
			for (unsigned k = 0; k < nbytes / sizeof data[0]; k++)
				data[k] = i + k;
			check(heap_write(h, r, 0, data, nbytes), "heap_write");
			for (uint32_t s = 2; s < nrefs; s++) {
				uint64_t t = local_target(i, s);

				if (t != UINT64_MAX)
					check(heap_set_ref(h, r, s, nodes[t]), "heap_set_ref local");
			}
			if (prev != 0) {
				check(heap_set_ref(h, r, 0, prev), "heap_set_ref chain");
				check(heap_release(h, stack, prev), "heap_release");
			}
			nodes[i] = r;
			prev = r;
		}
		chunk_name(name, c);
		check(heap_root_set(h, name, strlen(name), prev, NULL), "heap_root_set");
		check(heap_release(h, stack, prev), "heap_release");
	}
	for (uint64_t i = 0; i < total; i++) {
		uint64_t range = i < CHUNK_NODES ? CHUNK_NODES : total;

		check(heap_set_ref(h, nodes[i], 1, nodes[mix(i ^ SALT_EDGE) % range]),
		      "heap_set_ref random");
	}
	free(nodes);
}

static void finish_cycle(heap *h, uint64_t slice_ns)
{
	while (heap_gc_active(h))
		heap_gc_slice(h, slice_ns);
}

/* One incremental cycle from its start; returns the most workbuf spans
 * seen busy between slices. */
static uint64_t run_cycle(heap *h, uint64_t slice_ns)
{
	struct heap_stats st;
	uint64_t max_busy = 0;

	finish_cycle(h, slice_ns);
	heap_gc_begin(h);
	if (!heap_gc_active(h))
		fail("heap_gc_begin started no cycle");
	while (heap_gc_slice(h, slice_ns)) {
		heap_read_stats(h, &st);
		if (st.wbuf_spans_busy > max_busy)
			max_busy = st.wbuf_spans_busy;
	}
	return max_busy;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			fail("nanosleep failed");
}

/*
 * The host's idle loop, until HEAP_IDLE_NONE: budget 0 while workbuf spans
 * wait on the free list, 1 ms after. Each call is timed and classified by
 * what the stats say it did.
 */
static void idle_run(heap *h, struct idle_cost *ic)
{
	struct heap_stats a, b;

	memset(ic, 0, sizeof *ic);
	heap_read_stats(h, &a);
	for (;;) {
		uint64_t budget = a.wbuf_spans_free != 0 ? 0 : IDLE_BUDGET_NS;
		uint64_t t0 = now_ns();
		uint64_t next = heap_idle(h, budget, NULL, NULL);
		uint64_t ns = now_ns() - t0;
		uint64_t freed;

		heap_read_stats(h, &b);
		ic->calls++;
		freed = b.wbuf_spans_freed - a.wbuf_spans_freed;
		if (freed != 0) {
			ic->freed_calls++;
			ic->freed_ns += ns;
			ic->freed += freed;
			if (b.sweep_spans_idle == a.sweep_spans_idle &&
			    b.scav_madvise_calls == a.scav_madvise_calls) {
				ic->pure_calls++;
				ic->pure_ns += ns;
				ic->pure_freed += freed;
			}
		}
		a = b;
		if (next == HEAP_IDLE_NONE)
			return;
		if (next != 0)
			sleep_ns(next);
	}
}

static void snap(heap *h, struct row *r, const char *name)
{
	struct heap_stats st;

	heap_read_stats(h, &st);
	r->name = name;
	r->live_mib = (double)st.heap_alloc / MIB;
	r->gc_sys_mib = (double)st.gc_sys / MIB;
	r->released_mib = (double)st.heap_released / MIB;
	r->rss_mib = rss_mib();
	struct stat fs;
	r->file_mib = fstat(heap_arena_fd(h), &fs) == 0 ? (double)fs.st_blocks * 512 / MIB : -1;
	r->wbuf_busy = st.wbuf_spans_busy;
	r->wbuf_free = st.wbuf_spans_free;
}

static uint64_t wbuf_spans(const struct row *r)
{
	return r->wbuf_busy + r->wbuf_free;
}

static double wbuf_mib(const struct row *r)
{
	return (double)wbuf_spans(r) * WBUF_SPAN_BYTES / MIB;
}

static int rss_ok(const struct row *r)
{
	return r->rss_mib <= r->live_mib * 1.1 + 8;
}

static void print_row(const struct row *r)
{
	printf("| %-40s | %8.1f | %7.1f | %5" PRIu64 " + %-5" PRIu64 " | %6.2f | %8.1f | %7.1f |\n",
	       r->name, r->live_mib, r->gc_sys_mib, r->wbuf_busy, r->wbuf_free, wbuf_mib(r),
	       r->released_mib, r->rss_mib);
}

static heap *new_heap(struct heap_config *cfg, heap_holds **stack)
{
	heap *h;

	heap_config_default(cfg);
	cfg->max_heap = (size_t)4 << 30;
	h = heap_new(cfg);
	if (h == NULL)
		fail("heap_new failed");
	*stack = heap_holds_new(h);
	if (*stack == NULL)
		fail("heap_holds_new failed");
	return h;
}

static void free_heap(heap *h, heap_holds *stack)
{
	if (heap_holds_count(stack) != 0)
		fail("the build left holds behind");
	heap_holds_free(h, stack);
	heap_free(h);
}

static void drop_to_chunk0(heap *h)
{
	char name[NAME_MAX_LEN];

	for (unsigned c = 1; c < CHUNKS; c++) {
		chunk_name(name, c);
		check(heap_root_set(h, name, strlen(name), 0, NULL), "heap_root_set delete");
	}
}

static void progress(const char *what, uint64_t t0)
{
	fprintf(stderr, "peakshrink: %s in %.1f s\n", what, (double)(now_ns() - t0) / 1e9);
}

/* Chunk 0 alone, measured at B's points. */
static void run_never_peaked(struct results *res)
{
	struct heap_config cfg;
	heap_holds *stack;
	uint64_t t0 = now_ns();
	heap *h = new_heap(&cfg, &stack);

	build(h, stack, 1);
	run_cycle(h, cfg.slice_ns);
	snap(h, &res->rows[N_CYCLE], "never peaked: after GC cycle");
	idle_run(h, &res->n_idle);
	snap(h, &res->rows[N_IDLE], "never peaked: after idle");
	res->never_steady_busy = run_cycle(h, cfg.slice_ns);
	snap(h, &res->rows[N_STEADY], "never peaked: after steady cycle");
	free_heap(h, stack);
	progress("never-peaked heap", t0);
}

/* The peak, then a forced collection: workbuf spans go at once. */
static void run_path_a(struct results *res)
{
	struct heap_config cfg;
	struct heap_stats st;
	heap_holds *stack;
	uint64_t t0 = now_ns(), freed;
	heap *h = new_heap(&cfg, &stack);

	build(h, stack, CHUNKS);
	run_cycle(h, cfg.slice_ns);
	snap(h, &res->rows[A_PEAK], "A: peak (after a full cycle)");
	progress("A: peak built and collected", t0);
	drop_to_chunk0(h);
	heap_read_stats(h, &st);
	freed = st.wbuf_spans_freed;
	t0 = now_ns();
	heap_gc(h);
	res->heap_gc_ns = now_ns() - t0;
	heap_read_stats(h, &st);
	res->heap_gc_freed = st.wbuf_spans_freed - freed;
	snap(h, &res->rows[A_GC], "A: after shrink (heap_gc done)");
	idle_run(h, &res->a_idle);
	snap(h, &res->rows[A_IDLE], "A: after idle");
	free_heap(h, stack);
	progress("A: shrink and idle", t0);
}

/* The peak, then an incremental cycle: workbuf spans wait for idle time. */
static void run_path_b(struct results *res)
{
	struct heap_config cfg;
	heap_holds *stack;
	uint64_t t0 = now_ns();
	heap *h = new_heap(&cfg, &stack);

	build(h, stack, CHUNKS);
	res->peak_busy = run_cycle(h, cfg.slice_ns);
	snap(h, &res->rows[B_PEAK], "B: peak (after a full cycle)");
	progress("B: peak built and collected", t0);
	t0 = now_ns();
	drop_to_chunk0(h);
	run_cycle(h, cfg.slice_ns);
	snap(h, &res->rows[B_CYCLE], "B: after shrink (incremental cycle done)");
	idle_run(h, &res->b_idle);
	snap(h, &res->rows[B_IDLE], "B: after idle");
	res->steady_busy = run_cycle(h, cfg.slice_ns);
	snap(h, &res->rows[B_STEADY], "B: after steady cycle");
	free_heap(h, stack);
	progress("B: shrink, idle and steady cycle", t0);
}

static double per_span_ns(uint64_t ns, uint64_t spans)
{
	return spans != 0 ? (double)ns / (double)spans : 0;
}

/* a / b as text; 0 / 0 is "0/0", which the targets count as a pass. */
static const char *ratio(char buf[16], double a, double b)
{
	if (b > 0)
		snprintf(buf, 16, "%.2f", a / b);
	else
		snprintf(buf, 16, "%s", a > 0 ? "inf" : "0/0");
	return buf;
}

static const char *verdict(int ok)
{
	return ok ? "PASS" : "FAIL";
}

int main(void)
{
	static struct results res;
	const struct idle_cost *ic = &res.b_idle;
	const struct row *r = res.rows;
	double cost, after_mib, never_mib;
	char wbuf_ratio[16], steady_ratio[16];
	int ok_wbuf, ok_steady, ok_rss, ok_cost;

	run_never_peaked(&res);
	run_path_a(&res);
	run_path_b(&res);

	printf("peak then shrink: %u chunks of %u nodes, chunk 0 kept; "
	       "wbuf = workbuf spans busy + free, 32 KiB each\n\n",
	       (unsigned)CHUNKS, (unsigned)CHUNK_NODES);
	printf("| %-40s | %8s | %7s | %13s | %6s | %8s | %7s |\n", "phase", "live MiB",
	       "gc_sys MiB", "wbuf spans", "wbuf MiB", "released MiB", "RSS MiB");
	printf("| --- | --- | --- | --- | --- | --- | --- |\n");
	for (unsigned i = 0; i < NROWS; i++)
		print_row(&r[i]);

	cost = per_span_ns(ic->pure_ns, ic->pure_freed);
	after_mib = wbuf_mib(&r[B_IDLE]);
	never_mib = wbuf_mib(&r[N_IDLE]);
	ok_wbuf = after_mib <= 1.1 * never_mib;
	ok_steady = (double)wbuf_spans(&r[B_STEADY]) <= 1.1 * (double)wbuf_spans(&r[N_STEADY]);
	ok_rss = rss_ok(&r[A_IDLE]) && rss_ok(&r[B_IDLE]);
	ok_cost = ic->pure_freed != 0 && cost <= 1000;
	ratio(wbuf_ratio, after_mib, never_mib);
	ratio(steady_ratio, (double)wbuf_spans(&r[B_STEADY]), (double)wbuf_spans(&r[N_STEADY]));

	printf("\nA: heap_gc after the drop took %.1f ms and freed %" PRIu64 " workbuf spans;"
	       " idle then freed %" PRIu64 " in %" PRIu64 " calls\n", (double)res.heap_gc_ns / 1e6,
	       res.heap_gc_freed, res.a_idle.freed, res.a_idle.calls);
	printf("most workbuf spans busy between slices: B peak cycle %" PRIu64 ", B steady cycle %"
	       PRIu64 ", never-peaked steady cycle %" PRIu64 "\n",
	       res.peak_busy, res.steady_busy, res.never_steady_busy);
	printf("B idle: %" PRIu64 " calls; %" PRIu64 " freed %" PRIu64 " workbuf spans, %.0f ns/span;"
	       " %" PRIu64 " of them did nothing else and freed %" PRIu64 ", %.0f ns/span\n",
	       ic->calls, ic->freed_calls, ic->freed, per_span_ns(ic->freed_ns, ic->freed),
	       ic->pure_calls, ic->pure_freed, cost);
	printf("never-peaked idle: %" PRIu64 " calls; %" PRIu64 " freed %" PRIu64 " workbuf spans\n",
	       res.n_idle.calls, res.n_idle.freed_calls, res.n_idle.freed);

	printf("\ntarget workbuf memory after idle <= 1.1 x never-peaked (%.2f vs %.2f MiB, ratio %s):"
	       " %s\n", after_mib, never_mib, wbuf_ratio, verdict(ok_wbuf));
	printf("target steady-cycle workbuf spans <= 1.1 x never-peaked (%" PRIu64 " vs %" PRIu64
	       ", ratio %s): %s\n", wbuf_spans(&r[B_STEADY]), wbuf_spans(&r[N_STEADY]), steady_ratio,
	       verdict(ok_steady));
	printf("target RSS after idle <= live * 1.1 + 8 MiB (A: %.1f vs %.1f, B: %.1f vs %.1f): %s\n",
	       r[A_IDLE].rss_mib, r[A_IDLE].live_mib * 1.1 + 8, r[B_IDLE].rss_mib,
	       r[B_IDLE].live_mib * 1.1 + 8, verdict(ok_rss));
	printf("target free cost per workbuf span <= 1 us (%.0f ns): %s\n", cost, verdict(ok_cost));
	int ok_file = r[A_IDLE].file_mib <= r[A_IDLE].live_mib * 1.1 + 8 && r[B_IDLE].file_mib <= r[B_IDLE].live_mib * 1.1 + 8;
	printf("target arena file after idle <= live * 1.1 + 8 MiB (A: %.1f vs %.1f, B: %.1f vs %.1f; at the peak %.1f):"
	       " %s\n", r[A_IDLE].file_mib, r[A_IDLE].live_mib * 1.1 + 8, r[B_IDLE].file_mib,
	       r[B_IDLE].live_mib * 1.1 + 8, r[B_PEAK].file_mib, verdict(ok_file));

	printf("peakshrink live_peak_mib=%.1f wbuf_peak_spans=%" PRIu64 " wbuf_shrunk_spans=%" PRIu64
	       " wbuf_after_idle_mib=%.2f wbuf_never_peaked_mib=%.2f wbuf_ratio=%s steady_spans=%" PRIu64
	       " steady_spans_never_peaked=%" PRIu64 " steady_ratio=%s live_after_idle_mib=%.1f"
	       " rss_after_idle_mib=%.1f rss_after_gc_idle_mib=%.1f file_peak_mib=%.1f file_after_idle_mib=%.1f"
	       " heap_gc_ms=%.1f"
	       " wbuf_freed=%" PRIu64 " free_ns_per_span=%.0f pass=%d\n",
	       r[B_PEAK].live_mib, wbuf_spans(&r[B_PEAK]), wbuf_spans(&r[B_CYCLE]), after_mib,
	       never_mib, wbuf_ratio, wbuf_spans(&r[B_STEADY]), wbuf_spans(&r[N_STEADY]), steady_ratio,
	       r[B_IDLE].live_mib,
	       r[B_IDLE].rss_mib, r[A_IDLE].rss_mib, r[B_PEAK].file_mib, r[B_IDLE].file_mib,
	       (double)res.heap_gc_ns / 1e6, ic->freed, cost, ok_wbuf && ok_steady && ok_rss && ok_cost && ok_file);
	return 0;
}
