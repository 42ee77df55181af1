/*
 * stats.c - the heap's figures, with Go MemStats meanings where the names
 * match (see docs/stats.md for each field).
 *
 * Page counts are kept by the page heap and converted here, so every byte
 * of the arena is in exactly one of heap_inuse, heap_idle (of which
 * heap_released is not backed) and the workbuf part of gc_sys. The rest of
 * gc_sys estimates the per-page tables that are backed (gc_sys_bytes).
 */
#include <string.h>

#include "internal.h"

void heap_read_stats(heap *h, struct heap_stats *st)
{
	memset(st, 0, sizeof *st);
	uint64_t cached_objects, cached_bytes;
	central_cached_stats(h, &cached_objects, &cached_bytes);
	st->heap_alloc = h->st.heap_alloc + cached_bytes;
	st->heap_inuse = (uint64_t)h->pages_obj << PAGE_SHIFT;
	st->heap_idle = (uint64_t)h->pages_free << PAGE_SHIFT;
	st->heap_sys = st->heap_inuse + st->heap_idle;
	st->heap_released = (uint64_t)h->pages_released << PAGE_SHIFT;
	st->heap_objects = h->st.heap_objects + cached_objects;
	st->total_alloc = h->st.total_alloc + cached_bytes;
	st->mallocs = h->st.mallocs + cached_objects;
	st->frees = h->st.frees;
	st->gc_sys = gc_sys_bytes(h);
	pthread_mutex_lock(&h->wbuf_lock);
	st->wbuf_spans_busy = h->nwbuf_busy;
	st->wbuf_spans_free = h->nwbuf_free;
	pthread_mutex_unlock(&h->wbuf_lock);
	st->next_gc = h->goal;
	st->last_gc_unix_ns = h->st.last_gc_unix_ns;
	st->num_gc = h->st.num_gc;
	st->num_forced_gc = h->st.num_forced_gc;
	st->alloc_failures = h->st.alloc_failures;
	st->forced_gc_for_limit = h->st.gc_for_limit;
	st->pause_total_ns = h->st.pause_total_ns;
	memcpy(st->pause_ns, h->st.pause_ns, sizeof st->pause_ns);
	st->num_pause = h->st.num_pause;
	st->max_pause_ns = h->st.max_pause_ns;
	uint64_t wall = os_now_ns() - h->st.start_ns;
	st->mark_workers = heap_mark_workers(h);
	st->mark_worker_ns = atomic_load_explicit(&h->bg.busy_ns, memory_order_relaxed);
	uint64_t gc_ns = h->st.gc_ns + st->mark_worker_ns;
	st->gc_cpu_fraction = wall ? (double)gc_ns / (double)wall : 0;
	st->sweep_spans_idle = h->st.sweep_spans[SWEEP_IDLE];
	st->sweep_spans_alloc = h->st.sweep_spans[SWEEP_ALLOC];
	st->sweep_spans_gc = h->st.sweep_spans[SWEEP_GC];
	st->wbuf_spans_freed = h->st.wbuf_freed;
	st->wbuf_spans_reused = h->st.wbuf_reused;
	st->wbuf_spans_alloc = h->st.wbuf_alloc;
	st->scav_released_bytes = h->st.released_bytes;
	st->scav_madvise_calls = h->st.madvise_calls;
	st->heap_marked = h->heap_marked;
	st->heap_live = h->heap_live;
	st->named_roots = h->nroots;
	st->holds = holds_total(h);
}
