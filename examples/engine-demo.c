/*
 * engine-demo.c - the heap engine at work, with its figures after each step.
 *
 * The quick start runs this until the daemon exists. It allocates a peak
 * of linked objects under named roots, drops most of them, lets the
 * collector, the idle sweeper and the scavenger run, and prints what the
 * stats say at each step: where every byte is, and that memory after the
 * peak goes back to the OS. Usage: engine-demo [PEAK_MIB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heap.h"

#define MIB (1024.0 * 1024.0)

static void die(const char *what, int err)
{
	fprintf(stderr, "engine-demo: %s: %s\n", what, heap_strerror(err));
	exit(1);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void report(heap *h, const char *step)
{
	struct heap_stats st;
	heap_read_stats(h, &st);
	printf("%-22s heap_alloc %7.1f MiB  inuse %7.1f  idle %7.1f  released %7.1f  gc_sys %5.1f MiB  "
	       "wbuf spans %3llu busy %3llu free  objects %9llu  GCs %3llu  max pause %5.0f us  RSS %7.1f MiB\n",
	       step, st.heap_alloc / MIB, st.heap_inuse / MIB, st.heap_idle / MIB, st.heap_released / MIB,
	       st.gc_sys / MIB, (unsigned long long)st.wbuf_spans_busy, (unsigned long long)st.wbuf_spans_free,
	       (unsigned long long)st.heap_objects, (unsigned long long)st.num_gc, st.max_pause_ns / 1e3,
	       rss_kib() / 1024.0);
}

/* A list of n objects of 1 slot and 48 bytes, rooted under name. */
static void build_list(heap *h, heap_holds *hs, const char *name, long n)
{
	heap_ref head = 0, obj;
	int err;
	for (long i = 0; i < n; i++) {
		if ((err = heap_alloc(h, hs, 1, 48, &obj)) != 0)
			die("alloc", err);
		if ((err = heap_write(h, obj, 0, &i, sizeof i)) != 0 || (err = heap_set_ref(h, obj, 0, head)) != 0)
			die("link", err);
		if (head && (err = heap_release(h, hs, head)) != 0)
			die("release", err);
		head = obj;
	}
	if ((err = heap_root_set(h, name, strlen(name), head, NULL)) != 0)
		die("root_set", err);
	if ((err = heap_release(h, hs, head)) != 0)
		die("release", err);
}

static void idle(heap *h)
{
	for (;;) {
		uint64_t next = heap_idle(h, 1000000, NULL, NULL);
		if (next == HEAP_IDLE_NONE)
			return;
		struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	long peak_mib = argc > 1 ? atol(argv[1]) : 256;
	struct heap_config cfg;
	heap_config_default(&cfg);
	heap *h = heap_new(&cfg);
	heap_holds *hs = h ? heap_holds_new(h) : NULL;
	if (!hs) {
		fprintf(stderr, "engine-demo: cannot create the heap\n");
		return 1;
	}
	long per_list = peak_mib * 1024 * 1024 / 64 / 10;
	printf("heapd engine demo: a %ld MiB peak in 10 lists, then 9 of them dropped\n", peak_mib);
	report(h, "start");
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof name, "list%d", i);
		build_list(h, hs, name, per_list);
	}
	report(h, "peak");
	for (int i = 1; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof name, "list%d", i);
		int err = heap_root_set(h, name, strlen(name), 0, NULL);
		if (err)
			die("root delete", err);
	}
	heap_gc_begin(h);
	while (heap_gc_slice(h, cfg.slice_ns))
		;
	report(h, "dropped 90%, GC done");
	idle(h);
	report(h, "after idle");
	heap_free_os_memory(h);
	report(h, "free_os_memory");
	heap_holds_free(h, hs);
	heap_free(h);
	return 0;
}
