/*
 * heap.h - the heapd heap engine: a garbage-collected object heap.
 *
 * The engine is a library with no I/O of its own. The daemon, the tests and
 * the benchmarks link it; clients reach it only through the daemon.
 *
 * Objects. An object has nrefs reference slots followed by nbytes of data,
 * all zero when allocated. A reference (heap_ref) is a 64-bit handle: the
 * low 32 bits name the object's place in the arena, the high 32 bits are a
 * random tag the object was given when allocated (full handle), or a MAC
 * of place and tag (read-only handle, heap_ref_readonly). Every call that
 * takes a handle checks it: a handle to an object that has been collected,
 * whose memory may since hold another object, or a made-up handle, is
 * rejected with HEAP_EBADREF (a guess passes with probability 2^-32; the
 * handle of a slot's previous object never). Handle 0 is null.
 *
 * Rights. A read-only handle reads and follows refs; calls that change
 * the object it names (heap_write, heap_set_ref on it, heap_alloc_into it)
 * fail with HEAP_EPERM, and heap_get_ref through it returns read-only
 * handles. Slots and roots keep the handle stored in them as it is, right
 * included.
 *
 * Roots. An object stays alive while it is reachable from a root: a hold in
 * some hold set (heap_holds; the daemon gives every connection one, and
 * frees it when the connection ends) or a named root (shared, outliving
 * connections). Holds are counted: hold twice, release twice.
 *
 * Collection. The collector is incremental mark-sweep, precise, paced like
 * Go's (gc_percent is GOGC, soft_limit is GOMEMLIMIT). It runs in bounded
 * slices: heap_gc_slice() from the host's loop, assists inside heap_alloc()
 * when the mutator outruns marking, and heap_idle() for the idle sweeper,
 * workbuf freeing and the scavenger. heap_gc() and heap_free_os_memory() are
 * the blocking, forced forms.
 *
 * Threads: a heap and everything reached through it belong to one thread at
 * a time. Functions return 0 or a negative HEAP_E* code.
 */
#ifndef HEAPD_HEAP_H
#define HEAPD_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heapd/stats.h"

typedef uint64_t heap_ref;
typedef struct heap heap;
typedef struct heap_holds heap_holds;

/* The engine's errors: X(NAME, value, Status, message), Status being the
 * protocol's status heapd answers it with (proto/heapd.proto). enum
 * heap_error and heap_strerror() are made from it. */
#define HEAP_ERRORS(X)                                                                        \
	X(OK, 0, OK, "success")                                                               \
	X(EBADREF, -1, BAD_REF, "invalid reference (null, stale or forged)")                  \
	X(ERANGE, -2, RANGE, "slot or byte range outside the object")                         \
	X(ENOMEM, -3, NO_MEMORY, "heap is at its hard maximum") /* see heap_room_cycle */      \
	X(ETOOBIG, -4, LIMIT, "object larger than the maximum object size")                   \
	X(ENOENT, -5, NOT_FOUND, "no such root or hold")                                      \
	X(ELIMIT, -6, LIMIT, "hold or root limit reached")      /* max_holds, max_roots */    \
	X(EINVAL, -7, INVALID, "invalid argument")              /* e.g. a root name */    \
	X(EQUOTA, -8, LIMIT, "tenant's heap limit reached")     /* max_tenant_heap */    \
	X(EPERM, -9, PERMISSION, "read-only reference or sealed object") /* heap_ref_readonly, heap_seal */ \
	X(ECONFLICT, -10, CONFLICT, "the slot held another ref") /* heap_cas_ref */ \
	X(ENOTSEALED, -11, INVALID, "the object is not sealed")  /* heap_view */

#define HEAP_ERROR_ENUM_(name, value, status, msg) HEAP_##name = value,
enum heap_error { HEAP_ERRORS(HEAP_ERROR_ENUM_) };
#undef HEAP_ERROR_ENUM_

/* Limits that hold whatever the configuration says. */
#define HEAP_PAGE_SIZE 8192u
#define HEAP_MAX_HEAP_LIMIT ((size_t)16 << 30)   /* largest max_heap */
#define HEAP_MAX_OBJECT_LIMIT ((size_t)1 << 31)  /* largest max_object */
#define HEAP_MAX_MARK_WORKERS 1u                  /* largest mark_workers */
#define HEAP_ROOT_NAME_MAX 255u                  /* bytes in a root name */
#define HEAP_TENANTS 64u                         /* tenant ids are 0..63 */

struct heap_config {
	size_t max_heap;      /* hard cap on bytes in object spans (default 4 GiB) */
	size_t soft_limit;    /* soft memory limit, GOMEMLIMIT; 0 = none */
	int gc_percent;       /* GOGC; default 100; < 0 turns automatic GC off */
	size_t max_object;    /* largest object: 8 + 8 * nrefs + nbytes (default 64 MiB) */
	uint32_t max_holds;   /* holds per hold set, counting repeats (default 1 << 20) */
	uint32_t max_roots;   /* named roots (default 1 << 20) */
	uint64_t slice_ns;    /* longest assist or collector slice (default 500 us) */
	uint64_t release_delay_ns; /* with no allocation for this long, idle time
	                            * returns every free page (default 1 s) */
	uint32_t mark_workers; /* background mark threads, 0 or 1 (default 1); none
	                        * when the process may run on one CPU only */
	size_t max_tenant_heap; /* bytes charged to one tenant (heap_tenant_bytes);
	                         * 0 = no limit (the default) */
};

/* Fills cfg with the defaults above. */
void heap_config_default(struct heap_config *cfg);

/* NULL when the arena cannot be reserved or cfg is out of range. */
heap *heap_new(const struct heap_config *cfg);
void heap_free(heap *h);

/* Applies cfg. The host decides which settings change at run time (heapd:
 * daemon/config.c's opts[]); the engine can change all but those fixed
 * when the heap was made, max_heap, max_object and mark_workers (its
 * arena, size classes and threads): HEAP_EINVAL, and nothing changes,
 * when cfg has other values for them, or a slice_ns of 0. */
int heap_reconfigure(heap *h, const struct heap_config *cfg);

/* Hold sets. Freeing one drops all its holds. */
heap_holds *heap_holds_new(heap *h);
void heap_holds_free(heap *h, heap_holds *hs);
/* Number of holds in hs, counting repeats. */
uint64_t heap_holds_count(const heap_holds *hs);

/* Tenants. Every object is charged to a tenant, a number below
 * HEAP_TENANTS the host gives (heapd: one per uid): the hold set's tenant
 * for an allocation with a hold set, the heap's current tenant for one
 * without (heap_alloc_into, or hs NULL). Both start as tenant 0. A
 * tenant's bytes are those of its objects not yet found dead by the
 * sweeper, plus the free slots of the spans it allocates from (at most
 * one span per size class; docs/design.md): after heap_gc(), exactly the
 * bytes of its live objects, by size class. An allocation that would take
 * them past cfg.max_tenant_heap fails with HEAP_EQUOTA, nothing changed.
 * The setters return HEAP_EINVAL, and change nothing, for a tenant out of
 * range. */
int heap_holds_set_tenant(heap *h, heap_holds *hs, unsigned tenant);
int heap_set_tenant(heap *h, unsigned tenant);
/* Bytes charged to tenant; 0 for one out of range. */
uint64_t heap_tenant_bytes(const heap *h, unsigned tenant);

/* Allocates an object and, when hs is not NULL, one hold on it in hs.
 * Without a hold the object is unreachable the moment the call returns. */
int heap_alloc(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, heap_ref *out);

/* Allocates an object and stores it in slot of obj, as "obj.slot = new
 * T()": the object is reachable from obj, not held. A bad obj or slot is
 * refused before anything is allocated. */
int heap_alloc_into(heap *h, heap_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, heap_ref *out);

/* As heap_alloc and heap_alloc_into, with the object's data starting with
 * the len bytes at data (the rest zero); HEAP_ERANGE if len > nbytes. One
 * call costs less than an allocation and a heap_write. */
int heap_alloc_init(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, const void *data, uint32_t len,
		    heap_ref *out);
int heap_alloc_into_init(heap *h, heap_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
			 uint32_t len, heap_ref *out);

/* As heap_alloc, with the object's first nvals slots set to vals, as
 * "new T(a, b)": each is 0 or a live handle (else HEAP_EBADREF, and nothing
 * is allocated); HEAP_ERANGE if nvals > nrefs. One call costs less than an
 * allocation and nvals heap_set_ref calls. */
int heap_alloc_refs(heap *h, heap_holds *hs, uint32_t nrefs, uint32_t nbytes, const heap_ref *vals, uint32_t nvals,
		    heap_ref *out);

int heap_hold(heap *h, heap_holds *hs, heap_ref ref);
/* Drops one hold; HEAP_ENOENT when hs holds no such ref. */
int heap_release(heap *h, heap_holds *hs, heap_ref ref);

int heap_object_size(heap *h, heap_ref ref, uint32_t *nrefs, uint32_t *nbytes);
/* What an object is: its sizes, the heap bytes it takes (its size
 * class's, or a large object's pages), and its age: the collections
 * whose marking began after it was made and that it survived, up to
 * 127 (age.c). */
struct heap_object_info {
	uint32_t nrefs, nbytes;
	uint64_t size;
	uint32_t age;
	bool sealed;
};
int heap_object_info(heap *h, heap_ref ref, struct heap_object_info *out);
/* Heap bytes of the distinct objects hs holds (each once). */
uint64_t heap_holds_bytes(const heap_holds *hs);
/* The read-only handle of the object ref names (ref itself if it is one). */
int heap_ref_readonly(heap *h, heap_ref ref, heap_ref *out);
/* True when ref is a live object's read-only handle. */
bool heap_ref_is_readonly(heap *h, heap_ref ref);
/* Stores val (0 or a live object, with its right) into slot of obj. */
int heap_set_ref(heap *h, heap_ref obj, uint32_t slot, heap_ref val);
/* Compare and swap: if slot of obj holds expected (the same handle, its
 * right included), stores val there as heap_set_ref does (its checks, the
 * write barrier, the save's copy) and returns 0; else changes nothing and
 * returns HEAP_ECONFLICT. *was gets what the slot held either way, but
 * only past the checks of obj, slot and val, which come first: a bad one
 * is its error whatever the slot holds. expected is compared, never
 * followed: a stale one is a conflict, as a slot holds only live objects. */
int heap_cas_ref(heap *h, heap_ref obj, uint32_t slot, heap_ref expected, heap_ref val, heap_ref *was);
/* Reads slot of obj (read-only when obj is); adds a hold in hs on a
 * non-null result when hs is not NULL. */
int heap_get_ref(heap *h, heap_ref obj, uint32_t slot, heap_holds *hs, heap_ref *out);
int heap_write(heap *h, heap_ref obj, uint32_t off, const void *buf, uint32_t len);
int heap_read(heap *h, heap_ref obj, uint32_t off, void *buf, uint32_t len);
/* As heap_read, without the copy: *data points at the bytes in the heap,
 * valid until the next call into the engine (which may write them, or
 * collect the object). */
int heap_data(heap *h, heap_ref obj, uint32_t off, uint32_t len, const void **data);

/* Sealing and views (zero-copy reads). heap_seal makes obj immutable for
 * good: heap_write, heap_set_ref, heap_cas_ref and heap_alloc_into it fail
 * with HEAP_EPERM from then on (its slots' objects are not sealed). A full
 * handle only (HEAP_EPERM); sealing twice is no error. */
int heap_seal(heap *h, heap_ref obj);
/* Where the data of sealed obj lies in the arena: *off bytes from its
 * start, *len bytes (HEAP_ENOTSEALED if it is not sealed), with one hold
 * added in hs (when not NULL), which keeps those bytes as they are. */
int heap_view(heap *h, heap_ref obj, heap_holds *hs, uint64_t *off, uint32_t *len);
/* The arena is a memfd: this descriptor (the heap's, read-write; the host
 * gives others a read-only one; -1 when no memfd could be made, and the
 * arena is private memory), its size now (it grows, never shrinks) and
 * the most it may reach. Released pages are holes in the file. */
int heap_arena_fd(const heap *h);
uint64_t heap_arena_size(const heap *h);
uint64_t heap_arena_reserved(const heap *h);

/* After an allocation failed with HEAP_ENOMEM. No collection ran inside
 * the call: one incremental cycle is in flight (started then, unless one
 * was already running), which the host runs in its slices as any other.
 * Once heap_cycles() reaches the value returned and heap_swept() holds,
 * what that cycle found unreachable is free, and one more try may fit. */
uint64_t heap_room_cycle(const heap *h);

/* Named roots. name is 1..HEAP_ROOT_NAME_MAX bytes, not NUL-terminated.
 * root_set with ref 0 deletes (HEAP_ENOENT if absent). root_get adds a hold
 * in hs when hs is not NULL. A root has a meta, numbers the host gives it
 * (heapd: the uid and gid that own it and its mode) and the engine only
 * keeps: who may do what to a root is the host's to decide. */
struct heap_root_meta {
	uint32_t uid, gid;
	uint16_t mode;
};
/* Names ref; a root it makes gets *meta (NULL: all 0), and replacing a
 * root's object keeps its meta. */
int heap_root_set(heap *h, const char *name, size_t len, heap_ref ref, const struct heap_root_meta *meta);
/* The meta of the root named so: 0, HEAP_ENOENT or HEAP_EINVAL. */
int heap_root_stat(heap *h, const char *name, size_t len, struct heap_root_meta *out);
/* Gives the root named so meta *meta: 0, HEAP_ENOENT or HEAP_EINVAL. */
int heap_root_set_meta(heap *h, const char *name, size_t len, const struct heap_root_meta *meta);
int heap_root_get(heap *h, const char *name, size_t len, heap_holds *hs, heap_ref *out);
/* Calls fn for each named root, in no particular order, until fn returns
 * nonzero. fn must not change the roots. */
void heap_root_names(heap *h, int (*fn)(void *arg, const char *name, size_t len, const struct heap_root_meta *meta),
		     void *arg);
/* A scan of the roots in steps, as Redis SCAN: cursor 0 starts, and each
 * step is one bucket of the roots' table, which heap_root_scan_bucket()
 * gives to fn (every root whose home it is; fn must not change the roots)
 * and heap_root_scan_next() goes past, 0 meaning the scan is done. Every
 * root present from the scan's start to its end is given at least once
 * (once if the table kept its size), whatever roots are made or deleted
 * between steps. A cursor is any number: one no step gave just resumes
 * somewhere. The bucket step returns the table slots it looked at. */
uint32_t heap_root_scan_bucket(heap *h, uint64_t cursor,
			       void (*fn)(void *arg, const char *name, size_t len, const struct heap_root_meta *meta),
			       void *arg);
uint64_t heap_root_scan_next(const heap *h, uint64_t cursor);

/* Snapshots (save.c, load.c). A save writes the named roots and every
 * object reachable from one as they were when heap_save_begin() returned
 * 0, while the host goes on using the heap: snapshot at the beginning,
 * with no fork. Its only pause is the copy of the root table; after it,
 * the host runs heap_save_step() in slices, as collector slices, and
 * gets the stream's bytes to write. Meanwhile no collection cycle starts
 * (one asked for waits for heap_save_end()), and the first change to an
 * object the save has not finished with copies it (the copies are the
 * save's only memory beyond a bit per 8 bytes of arena twice and its
 * trace stack). Holds are not saved.
 *
 * The stream (format HEAP_SAVE_FORMAT), all integers unsigned LEB128
 * varints:
 *   objects N, roots R, slots S, data bytes B;
 *   N objects: nrefs << 1 | sealed, nbytes, then nbytes of data (format
 *   1, heapd's first, had nrefs alone and no seals);
 *   for each object with slots, in order: nrefs slot values;
 *   R roots: name length (1..255), the name, uid, gid, mode, value;
 * objects are numbered 1..N in stream order and a value is
 * number << 1 | read-only, 0 for null. heap_load() reads it. */
#define HEAP_SAVE_MIN_BUF 4096u
#define HEAP_SAVE_FORMAT 2u
/* Starts a save: 0; 1 while a collection is marking (none starts from
 * now on: call again after slices, or heap_save_end() to give up), or
 * while a count walks (heap_retained_begin: the save is queued, and
 * heap_save_step begins it once heap_retained_end() is called);
 * HEAP_EINVAL when one is running; HEAP_ENOMEM. */
int heap_save_begin(heap *h);
/* Runs the save for about budget_ns, putting the stream's next bytes in
 * buf[0..cap), cap >= HEAP_SAVE_MIN_BUF; *len gets how many. Returns 1
 * while more is to come, 0 once the stream is complete; HEAP_ENOENT with
 * no save (none begun, or heap_gc() ended it), HEAP_ENOMEM when it could
 * not copy an object (it cannot complete). */
int heap_save_step(heap *h, uint64_t budget_ns, uint8_t *buf, size_t cap, size_t *len);
struct heap_save_info {
	uint64_t objects, slots, bytes, roots;  /* the snapshot's, once traced */
	uint64_t copy_bytes;                    /* in copies of changed objects */
	bool traced;                            /* the counts are final */
};
void heap_save_info(const heap *h, struct heap_save_info *out);
/* Ends the save, complete, not or queued; cycles may start again. */
void heap_save_end(heap *h);
/* A save walks, waits for marking to end, or is queued behind a count. */
bool heap_saving(const heap *h);

/* Counts (retained.c). What ref reaches, ref included, each object once:
 * the objects, and the bytes they take in the heap (a size class each,
 * or a large object's span). The graph is counted as it was when the
 * count began, with a save's walk: the same pauses (none), the same cost
 * to the mutator (a copy of an object changed before it is read), and
 * meanwhile no collection cycle starts. One walk at a time: a save or a
 * count. */
/* Begins the count: 0; 1 while a collection is marking (none starts from
 * now on: call again, with the ref to count then, after slices, or
 * heap_retained_end() to give up); HEAP_EBADREF for ref, resolved when
 * the walk starts; HEAP_EINVAL while a save walks or is queued, or a
 * count walks; HEAP_ENOMEM. */
int heap_retained_begin(heap *h, heap_ref ref);
/* Counts for about budget_ns: 1 while there is more, 0 once counted;
 * HEAP_ENOENT with no count (none begun, or heap_gc() ended it),
 * HEAP_ENOMEM (a copy, or the trace stack: it cannot complete). */
int heap_retained_step(heap *h, uint64_t budget_ns);
/* The counted figures (0 before the count is complete). */
void heap_retained_result(const heap *h, uint64_t *objects, uint64_t *bytes);
/* Ends the count, complete or not; a save queued behind it may begin. */
void heap_retained_end(heap *h);
/* A count was begun and not ended. */
bool heap_counting(const heap *h);

/* The stream in pieces: *chunk and its length (> 0), valid until the
 * next call; 0 at the end of the stream; < 0 on an error the host has
 * its own words for. */
typedef long heap_load_next_fn(void *arg, const uint8_t **chunk);
/* Rebuilds a saved graph in h, a heap with no object and no root yet,
 * never trusting the stream: avail bounds its length, format (1 or
 * HEAP_SAVE_FORMAT) says how to read it. Returns 0, or
 * -1 with msg (cap bytes) saying what is wrong; then h holds part of
 * the graph and only heap_free() is left to do with it. */
int heap_load(heap *h, heap_load_next_fn *next, void *arg, uint64_t avail, unsigned format, char *msg, size_t cap);

/* Blocking full collection, like Go's runtime.GC(): finishes any cycle in
 * progress, runs a complete one and sweeps everything. It ends a save in
 * progress (heap_save_step then fails). */
void heap_gc(heap *h);
/* Requests a forced cycle without blocking: it starts now, or when the
 * cycle in progress ends (which may have marked what was just dropped).
 * heap_gc_slice() runs it. */
void heap_gc_begin(heap *h);
/* heap_gc(), then heap_release_all(), like Go's debug.FreeOSMemory(). */
void heap_free_os_memory(heap *h);
/* Frees every workbuf span and returns every free page to the OS now,
 * without collecting. Its time grows with the free memory (~70 ms per GiB). */
void heap_release_all(heap *h);
/* heap_release_all() in steps of about budget_ns, for a host that must
 * not stop that long: returns true once nothing is left to release. */
bool heap_release_step(heap *h, uint64_t budget_ns);
/* True when the last cycle's sweep is complete: every object it found
 * unreachable is freed and counted out of heap_objects. */
bool heap_swept(const heap *h);
/* True when heap_idle() has work to do (now or after a delay): spans to
 * sweep, workbuf spans to free, or free pages the scavenger may release. */
bool heap_idle_due(const heap *h);

/* True while a collection cycle is in progress. */
bool heap_gc_active(const heap *h);
/* Cycles completed so far (num_gc). */
uint64_t heap_cycles(const heap *h);
/* Background mark workers running: cfg.mark_workers, or 0 when the
 * process may run on one CPU only. */
uint32_t heap_mark_workers(const heap *h);
/* One collector slice of at most budget_ns. Returns true if the cycle has
 * more work; the host should call again soon (Go's background worker). */
bool heap_gc_slice(heap *h, uint64_t budget_ns);

/* Returns true when the host should stop idle work (requests are waiting). */
typedef bool heap_preempt_fn(void *arg);
#define HEAP_IDLE_NONE UINT64_MAX
/* Idle work for at most budget_ns: sweeping, freeing workbuf spans, then
 * scavenging. preempt (may be NULL) is polled between small batches.
 * Returns 0 if idle work remains now, HEAP_IDLE_NONE if none remains, or
 * the ns after which more will be due (the release delay). */
uint64_t heap_idle(heap *h, uint64_t budget_ns, heap_preempt_fn *preempt, void *arg);

#define HEAP_PAUSE_RING HEAPD_PAUSE_RING

/* The engine's figures: the rows of HEAPD_STATS (<heapd/stats.h>, which
 * says what each is) that the engine counts (who HEAP), with Go MemStats
 * meanings where the names match (docs/stats.md). */
#define HEAP_STATS_FIELD_(name, kind, who, ...) HEAP_STATS_FIELD_##who(kind, name)
#define HEAP_STATS_FIELD_HEAP(kind, name) HEAPD_STAT_DECL(kind, name)
#define HEAP_STATS_FIELD_SERVER(kind, name)
struct heap_stats {
	HEAPD_STATS(HEAP_STATS_FIELD_)
};
#undef HEAP_STATS_FIELD_
#undef HEAP_STATS_FIELD_HEAP
#undef HEAP_STATS_FIELD_SERVER

void heap_read_stats(heap *h, struct heap_stats *st);

const char *heap_strerror(int err);

#endif
