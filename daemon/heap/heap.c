/*
 * heap.c - creating, configuring and destroying a heap.
 *
 * heap_new() reserves the arena and sets up every module; nothing is
 * committed until the first allocation. The configuration is checked here
 * once; heap_reconfigure() (pacer.c) changes all but what the arena,
 * size classes and threads fix here.
 */
#include <sched.h>
#include <string.h>

#include "internal.h"

/* A mark worker pays only where it can run beside the mutator. */
static int may_use_two_cpus(void)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2;
}

void heap_config_default(struct heap_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_heap = (size_t)4 << 30;
	cfg->soft_limit = 0;
	cfg->gc_percent = 100;
	cfg->max_object = (size_t)64 << 20;
	cfg->max_holds = 1u << 20;
	cfg->max_roots = 1u << 20;
	cfg->slice_ns = 500000;
	cfg->release_delay_ns = 1000000000;
	cfg->mark_workers = 1;
}

heap *heap_new(const struct heap_config *cfg)
{
	if (cfg->max_heap < ARENA_CHUNK || cfg->max_heap > HEAP_MAX_HEAP_LIMIT ||
	    cfg->max_object < HDR_SIZE || cfg->max_object > HEAP_MAX_OBJECT_LIMIT || !cfg->slice_ns ||
	    cfg->mark_workers > HEAP_MAX_MARK_WORKERS)
		return NULL;
	sc_init();
	/* Aligned: the fields the mark worker shares sit on lines of their own. */
	heap *h = aligned_alloc(CACHE_LINE, (sizeof *h + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE);
	if (!h)
		return NULL;
	memset(h, 0, sizeof *h);
	h->cfg = *cfg;
	h->max_pages = cfg->max_heap >> PAGE_SHIFT;
	h->small_limit = cfg->max_object < MAX_SMALL_SIZE ? cfg->max_object : MAX_SMALL_SIZE;
	h->sweepgen = 2;
	h->arena_fd = -1;
	h->st.start_ns = os_now_ns();
	for (unsigned i = 0; i < NUM_BINS; i++)
		list_init(&h->bins[i]);
	list_init(&h->scavq);
	central_init(h);
	wbuf_init(h);
	if (handle_init(h) != 0 || arena_init(h, cfg->max_heap) != 0 || holds_init(h) != 0) {
		heap_free(h);
		return NULL;
	}
	pacer_init(h);
	if (cfg->mark_workers && may_use_two_cpus() && bg_start(h) != 0) {
		heap_free(h);
		return NULL;
	}
	return h;
}

void heap_free(heap *h)
{
	if (!h)
		return;
	save_destroy(h);
	bg_stop(h);
	holds_destroy(h);
	arena_destroy(h);
	wbuf_destroy(h);
	handle_destroy(h);
	free(h);
}

void heap_record_pause(heap *h, uint64_t t0)
{
	uint64_t ns = os_now_ns() - t0;
	h->st.pause_ns[h->st.num_pause % HEAP_PAUSE_RING] = ns;
	h->st.num_pause++;
	h->st.pause_total_ns += ns;
	h->st.gc_ns += ns;
	if (ns > h->st.max_pause_ns)
		h->st.max_pause_ns = ns;
}

const char *heap_strerror(int err)
{
	switch (err) {
#define X(name, value, status, msg) case HEAP_##name: return msg;
	HEAP_ERRORS(X)
#undef X
	}
	return "unknown error";
}
