/*
 * heapd/stats.h - every figure heapd reports, one row each (HEAPD_STATS).
 *
 * struct heapd_stats (<heapd.h>), the heap engine's struct heap_stats, the
 * protocol's Stats message as the daemon fills it and libheapd reads it,
 * and heapctl's text, JSON and Prometheus output with their help are all
 * made from this list. docs/stats.md says what each figure means. A row:
 *
 *   X(name, kind, who, field, section, metric, label, type, help)
 *
 *   name     the field of struct heapd_stats and of the Stats message,
 *            and heapctl's key for it
 *   kind     COUNT, BYTES, GOAL (bytes; UINT64_MAX for none), NS (a
 *            duration), UNIX_NS (a time, ns since the epoch; 0 for never),
 *            FRACTION (a double), PAUSES (the ring of the latest pauses)
 *   who      HEAP, the engine counts it; SERVER, the daemon does
 *   field    its field number in the Stats message (proto/heapd.proto)
 *   section  heapctl's text section ("# Memory", ...)
 *   metric   its Prometheus family: one per row, or one per run of
 *            adjacent rows told apart by label (NULL for a family of one)
 *   type     "counter" or "gauge"
 *   help     the family's help; NULL on its later rows
 *
 * The rows are in struct heapd_stats' order, which the ABI fixes: a new
 * figure is a new last row.
 */
#ifndef HEAPD_STATS_H
#define HEAPD_STATS_H

#include <stdint.h>

/* The pause ring: pause_ns[(num_pause + 255) % 256] is the latest pause. */
#define HEAPD_PAUSE_RING 256

#define HEAPD_STATS(X)                                                                                        \
	X(heap_alloc, BYTES, HEAP, 1, "Memory", "heapd_heap_alloc_bytes", NULL, "gauge",                      \
	  "Bytes of allocated objects, including garbage not yet swept.")                                      \
	X(heap_sys, BYTES, HEAP, 2, "Memory", "heapd_heap_sys_bytes", NULL, "gauge",                          \
	  "Heap bytes obtained from the OS: in use plus idle.")                                                \
	X(heap_idle, BYTES, HEAP, 3, "Memory", "heapd_heap_idle_bytes", NULL, "gauge",                        \
	  "Bytes in free page runs.")                                                                          \
	X(heap_inuse, BYTES, HEAP, 4, "Memory", "heapd_heap_inuse_bytes", NULL, "gauge",                      \
	  "Bytes in object spans.")                                                                            \
	X(heap_released, BYTES, HEAP, 5, "Memory", "heapd_heap_released_bytes", NULL, "gauge",                \
	  "Idle bytes returned to the OS.")                                                                    \
	X(heap_objects, COUNT, HEAP, 6, "Memory", "heapd_heap_objects", NULL, "gauge",                        \
	  "Allocated objects, including garbage not yet swept.")                                               \
	X(total_alloc, BYTES, HEAP, 7, "Memory", "heapd_alloc_bytes_total", NULL, "counter",                  \
	  "Bytes allocated.")                                                                                  \
	X(mallocs, COUNT, HEAP, 8, "Memory", "heapd_mallocs_total", NULL, "counter",                          \
	  "Objects allocated.")                                                                                \
	X(frees, COUNT, HEAP, 9, "Memory", "heapd_frees_total", NULL, "counter",                              \
	  "Objects freed.")                                                                                    \
	X(gc_sys, BYTES, HEAP, 10, "Memory", "heapd_gc_sys_bytes", NULL, "gauge",                             \
	  "Collector metadata: workbuf spans and per-page tables.")                                            \
	X(wbuf_spans_busy, COUNT, HEAP, 11, "GC", "heapd_wbuf_spans", "state=\"busy\"", "gauge",              \
	  "Workbuf spans: busy hold the cycle's mark queue, free wait for the sweeper.")                       \
	X(wbuf_spans_free, COUNT, HEAP, 12, "GC", "heapd_wbuf_spans", "state=\"free\"", "gauge", NULL)        \
	X(next_gc, GOAL, HEAP, 13, "GC", "heapd_next_gc_bytes", NULL, "gauge",                                \
	  "Heap goal of the next cycle; +Inf when automatic collection is off.")                               \
	X(last_gc_unix_ns, UNIX_NS, HEAP, 14, "GC", "heapd_last_gc_timestamp_seconds", NULL, "gauge",         \
	  "When the last cycle ended, in seconds since the epoch; 0 before the first.")                        \
	X(num_gc, COUNT, HEAP, 15, "GC", "heapd_gc_cycles_total", NULL, "counter",                            \
	  "Completed collection cycles.")                                                                      \
	X(num_forced_gc, COUNT, HEAP, 16, "GC", "heapd_forced_gc_cycles_total", NULL, "counter",              \
	  "Completed collection cycles that were requested.")                                                  \
	X(pause_total_ns, NS, HEAP, 17, "GC", "heapd_gc_pause_seconds_total", NULL, "counter",                \
	  "Time in collector pauses.")                                                                         \
	X(pause_ns, PAUSES, HEAP, 18, "GC", "heapd_gc_last_pause_seconds", NULL, "gauge",                     \
	  "The latest collector pause; 0 before the first.")                                                   \
	X(num_pause, COUNT, HEAP, 32, "GC", "heapd_gc_pauses_total", NULL, "counter",                         \
	  "Collector pauses.")                                                                                 \
	X(max_pause_ns, NS, HEAP, 19, "GC", "heapd_gc_max_pause_seconds", NULL, "gauge",                      \
	  "The longest collector pause.")                                                                      \
	X(gc_cpu_fraction, FRACTION, HEAP, 20, "GC", "heapd_gc_cpu_fraction", NULL, "gauge",                  \
	  "Collector time (pauses and the mark worker's) over wall time since the heap was created.")          \
	X(sweep_spans_idle, COUNT, HEAP, 21, "Sweeper", "heapd_sweep_spans_total", "by=\"idle\"", "counter",  \
	  "Spans swept, by who swept them: the idle sweeper, the allocator, the collector.")                   \
	X(sweep_spans_alloc, COUNT, HEAP, 22, "Sweeper", "heapd_sweep_spans_total", "by=\"alloc\"", "counter", \
	  NULL)                                                                                                \
	X(sweep_spans_gc, COUNT, HEAP, 23, "Sweeper", "heapd_sweep_spans_total", "by=\"gc\"", "counter", NULL) \
	X(wbuf_spans_freed, COUNT, HEAP, 24, "Sweeper", "heapd_wbuf_spans_freed_total", NULL, "counter",      \
	  "Workbuf spans the sweeper returned to the page heap.")                                              \
	X(wbuf_spans_reused, COUNT, HEAP, 25, "GC", "heapd_wbuf_spans_reused_total", NULL, "counter",         \
	  "Workbuf spans taken back from the free list instead of the page heap.")                             \
	X(wbuf_spans_alloc, COUNT, HEAP, 26, "GC", "heapd_wbuf_spans_allocated_total", NULL, "counter",       \
	  "Workbuf spans taken from the page heap.")                                                           \
	X(scav_released_bytes, BYTES, HEAP, 27, "Scavenger", "heapd_scavenger_released_bytes_total", NULL,    \
	  "counter", "Bytes returned to the OS, by the scavenger or on request.")                              \
	X(scav_madvise_calls, COUNT, HEAP, 28, "Scavenger", "heapd_scavenger_madvise_calls_total", NULL,      \
	  "counter", "madvise calls made to return memory to the OS.")                                         \
	X(heap_marked, BYTES, HEAP, 29, "GC", "heapd_heap_marked_bytes", NULL, "gauge",                       \
	  "Bytes marked by the last cycle.")                                                                   \
	X(heap_live, BYTES, HEAP, 30, "GC", "heapd_heap_live_bytes", NULL, "gauge",                           \
	  "Bytes the pacer counts as live.")                                                                   \
	X(holds, COUNT, HEAP, 31, "Server", "heapd_holds", NULL, "gauge",                                     \
	  "Holds of all connections, repeats counted.")                                                        \
	X(rss_bytes, BYTES, SERVER, 33, "Memory", "heapd_rss_bytes", NULL, "gauge",                           \
	  "The daemon's resident memory.")                                                                     \
	X(sessions, COUNT, SERVER, 34, "Server", "heapd_sessions", NULL, "gauge",                             \
	  "Connected clients.")                                                                                \
	X(named_roots, COUNT, HEAP, 35, "Server", "heapd_named_roots", NULL, "gauge",                         \
	  "Named roots.")                                                                                      \
	X(uptime_ns, NS, SERVER, 36, "Server", "heapd_uptime_seconds", NULL, "gauge",                         \
	  "Time since the daemon started.")                                                                    \
	X(mark_workers, COUNT, HEAP, 37, "GC", "heapd_gc_mark_workers", NULL, "gauge",                        \
	  "Background mark workers running.")                                                                  \
	X(mark_worker_ns, NS, HEAP, 38, "GC", "heapd_gc_mark_worker_seconds_total", NULL, "counter",          \
	  "Time the background mark workers spent marking.")                                                   \
	X(alloc_failures, COUNT, HEAP, 39, "GC", "heapd_alloc_failures_total", NULL, "counter",               \
	  "Allocations that found no room under max_heap.")                                                    \
	X(forced_gc_for_limit, COUNT, HEAP, 40, "GC", "heapd_gc_cycles_for_limit_total", NULL, "counter",     \
	  "GC cycles started because an allocation found no room under max_heap.")                              \
	X(hello_timeouts, COUNT, SERVER, 41, "Server", "heapd_hello_timeouts_total", NULL, "counter",         \
	  "Connections closed for not saying Hello within hello_timeout_ms.")                                  \
	X(hello_shed, COUNT, SERVER, 42, "Server", "heapd_hello_shed_total", NULL, "counter",                 \
	  "Connections closed before their Hello to make room for a new one at max_clients.")                  \
	X(refused_max_clients, COUNT, SERVER, 43, "Server", "heapd_connections_refused_total",                \
	  "limit=\"max_clients\"", "counter", "Connections refused by a connection limit, by the limit.")      \
	X(refused_max_clients_per_uid, COUNT, SERVER, 44, "Server", "heapd_connections_refused_total",        \
	  "limit=\"max_clients_per_uid\"", "counter", NULL)                                                  \
	X(uids, COUNT, SERVER, 45, "Server", "heapd_uids", NULL, "gauge",                                     \
	  "Uids with a connection, a named root or a hold.")                                                   \
	X(root_name_bytes, BYTES, SERVER, 46, "Server", "heapd_root_name_bytes", NULL, "gauge",               \
	  "Bytes of named roots' names.")                                                                      \
	X(uid_roots_refused, COUNT, SERVER, 47, "Server", "heapd_uid_quota_refusals_total", "quota=\"roots\"",  \
	  "counter", "Operations refused by a per-uid quota: root_set by max_roots_per_uid or "               \
	  "max_root_bytes_per_uid, holds by max_holds_per_uid.")                                              \
	X(uid_holds_refused, COUNT, SERVER, 48, "Server", "heapd_uid_quota_refusals_total", "quota=\"holds\"",  \
	  "counter", NULL)                                                                                     \
	X(uid_output_stalls, COUNT, SERVER, 49, "Server", "heapd_uid_output_stalls_total", NULL, "counter",   \
	  "Times a uid's unsent replies passed max_output_per_uid, so none of its connections was read.")     \
	X(uid_heap_refused, COUNT, SERVER, 50, "Server", "heapd_uid_heap_refusals_total", NULL, "counter",    \
	  "Allocations refused because their uid had max_heap_per_uid bytes of heap.")                          \
	X(bad_ref_closes, COUNT, SERVER, 51, "Server", "heapd_bad_ref_closes_total", NULL, "counter",         \
	  "Connections closed for presenting more than max_bad_refs invalid refs within a minute.")         \
	X(last_save_unix_ns, UNIX_NS, SERVER, 52, "Persistence", "heapd_last_save_timestamp_seconds", NULL,   \
	  "gauge", "When the last snapshot saved, or loaded at start, was begun: the heap it holds is "      \
	  "the heap then (Redis's rdb_last_save_time).")                                                     \
	X(last_save_duration_ns, NS, SERVER, 53, "Persistence", "heapd_last_save_duration_seconds", NULL,     \
	  "gauge", "How long the last save while running took, to the directory's fsync.")                   \
	X(last_save_size_bytes, BYTES, SERVER, 54, "Persistence", "heapd_last_save_size_bytes", NULL, "gauge",          \
	  "The size of the last snapshot saved or loaded.")                                                 \
	X(last_save_objects, COUNT, SERVER, 55, "Persistence", "heapd_last_save_objects", NULL, "gauge",      \
	  "Objects in the last snapshot saved or loaded.")                                                  \
	X(saves_total, COUNT, SERVER, 56, "Persistence", "heapd_saves_total", NULL, "counter",                \
	  "Saves completed while running (the save at a stop is not counted).")                              \
	X(save_failures_total, COUNT, SERVER, 57, "Persistence", "heapd_save_failures_total", NULL,           \
	  "counter", "Saves that failed (the previous snapshot was kept).")                                  \
	X(save_in_progress, COUNT, SERVER, 58, "Persistence", "heapd_save_in_progress", NULL, "gauge",        \
	  "1 while a save runs, else 0.")                                                                    \
	X(changes_since_save, COUNT, SERVER, 59, "Persistence", "heapd_changes_since_save", NULL, "gauge",    \
	  "Requests that changed the heap since the last save began (Redis's rdb_changes_since_last_save).") \
	X(load_duration_ns, NS, SERVER, 60, "Persistence", "heapd_load_duration_seconds", NULL, "gauge",      \
	  "How long loading the snapshot at start took; 0 if there was none.")                              \
	X(views, COUNT, SERVER, 61, "Zero-copy", "heapd_views", NULL, "gauge",                                \
	  "Open views of sealed objects, over all connections (repeats counted).")                           \
	X(arena_file_bytes, BYTES, SERVER, 62, "Zero-copy", "heapd_arena_file_bytes", NULL, "gauge",          \
	  "Bytes of memory behind the arena's file (its blocks), wherever they are mapped.")

/* HEAPD_STAT_DECL(kind, name): the declaration of a figure of that kind. */
#define HEAPD_STAT_DECL(kind, name) HEAPD_STAT_DECL_##kind(name)
#define HEAPD_STAT_DECL_COUNT(name) uint64_t name;
#define HEAPD_STAT_DECL_BYTES(name) uint64_t name;
#define HEAPD_STAT_DECL_GOAL(name) uint64_t name;
#define HEAPD_STAT_DECL_NS(name) uint64_t name;
#define HEAPD_STAT_DECL_UNIX_NS(name) uint64_t name;
#define HEAPD_STAT_DECL_FRACTION(name) double name;
#define HEAPD_STAT_DECL_PAUSES(name) uint64_t name[HEAPD_PAUSE_RING];

/* HEAPD_STAT_IF_RING(kind, a, b): a for the pause ring, b for a figure. */
#define HEAPD_STAT_IF_RING(kind, a, b) HEAPD_STAT_IF_RING_##kind(a, b)
#define HEAPD_STAT_IF_RING_COUNT(a, b) b
#define HEAPD_STAT_IF_RING_BYTES(a, b) b
#define HEAPD_STAT_IF_RING_GOAL(a, b) b
#define HEAPD_STAT_IF_RING_NS(a, b) b
#define HEAPD_STAT_IF_RING_UNIX_NS(a, b) b
#define HEAPD_STAT_IF_RING_FRACTION(a, b) b
#define HEAPD_STAT_IF_RING_PAUSES(a, b) a

#endif
