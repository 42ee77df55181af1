/*
 * internal.h - structures shared by the heap engine's modules.
 *
 * Layout of memory. One arena of address space is reserved at heap_new()
 * and committed in ARENA_CHUNK steps as the heap grows. It is cut into
 * 8 KiB pages. Every page belongs to at most one span:
 *   SPAN_OBJ   objects of one size class (small) or one large object;
 *   SPAN_WBUF  workbufs for the mark queue (Go's "manual" spans);
 *   SPAN_FREE  a run of free pages, coalesced with its free neighbours.
 * Span descriptors live in spans[], indexed by the span's first page, so a
 * descriptor needs no allocator of its own and its memory follows the
 * heap's: the scavenger releases the descriptors of free pages with them.
 * pagemap[p] is start + 1 for every page of an in-use span and for the
 * first and last page of a free run; 0 elsewhere. That makes page -> span
 * one load, and lets a freed span find its free neighbours.
 *
 * Objects. An object is an 8-byte header, nrefs 8-byte reference slots,
 * then nbytes of data. A small object's header packs its tag and sizes; a
 * large object (its own span) keeps its sizes in the span. Reference slots
 * hold handles, never raw pointers, and only handles of live objects.
 * Alloc and mark bits are per-span bitmaps: in the descriptor when the span
 * has at most 64 objects, else at the end of the span's own pages. So are
 * the birth stamps (age.c), one per slot: in a per-page table (births_tab,
 * 64 a page) for a span of at most 64 objects, else in the span's tail
 * before the bitmaps.
 *
 * Threads. Everything here belongs to the heap's one mutator thread, except
 * what the background mark worker (bgmark.c) shares with it while marking:
 * the workbuf lists (full and empty are lock-free stacks, the workbuf span
 * lists are under wbuf_lock), mark bits (set with atomic ORs), the
 * reference slots of live objects (stored with release, loaded with
 * acquire) and the read-only span fields of live objects' spans. The
 * worker never touches the page heap, hold sets or allocation state.
 */
#ifndef HEAPD_HEAP_INTERNAL_H
#define HEAPD_HEAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "heap.h"
#include "list.h"

#define PAGE_SHIFT 13
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)
#define ARENA_CHUNK ((size_t)4 << 20)     /* heap growth step */
#define HEAP_MINIMUM ((uint64_t)4 << 20)  /* smallest heap goal at GOGC=100 */

#define NUM_SIZE_CLASSES 68               /* class 0 is "large" */
#define NUM_SPANCLASSES (NUM_SIZE_CLASSES * 2)
#define MAX_SMALL_SIZE 32768u
#define HDR_SIZE 8u

#define WBUF_SIZE 2048u                   /* bytes per workbuf, as Go */
#define WBUF_SPAN_BYTES 32768u            /* bytes per workbuf span, as Go */
#define WBUF_SPAN_PAGES (WBUF_SPAN_BYTES / PAGE_SIZE)
#define WBUF_NOBJ ((WBUF_SIZE - 16) / sizeof(uintptr_t))
#define OBLET_SLOTS 512u                  /* slots scanned per work item */
#define TAG_BUF 1024u                     /* tags drawn per keystream refill */

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Impossible states stop the process with a constant message, as Go's throw. */
_Noreturn void heap_throw(const char *msg);

/* A small object's birth stamp: the low bits of the cycle count (age.c). */
typedef uint8_t birth_t;
#define BIRTHS_PER_PAGE 64u   /* table entries: a span with bitmaps in its descriptor */

/* --- spans --- */
enum span_state { SPAN_DEAD = 0, SPAN_FREE, SPAN_OBJ, SPAN_WBUF };

struct span {
	struct list link;       /* central list, free bin or workbuf span list */
	uint32_t start;         /* first page */
	uint32_t npages;
	uint8_t state;          /* enum span_state */
	uint8_t spanclass;      /* sizeclass << 1 | noscan; sizeclass 0 = large */
	uint8_t needzero;       /* free slots may hold old bytes */
	uint8_t tenant;         /* SPAN_OBJ: charged to h->ten[tenant] (central.c) */
	uint32_t sweepgen;      /* == h->sweepgen: swept this cycle; +2 behind: unswept */
	uint32_t elemsize;
	uint32_t nelems;
	uint32_t divmul;        /* offset * divmul >> 32 == offset / elemsize */
	uint32_t freeindex;     /* slots below it are allocated */
	uint32_t allocount;     /* allocated slots, as of freeindex */
	uint32_t mark_fi;       /* first slot allocated while marking since the last sweep (age.c) */
	uint64_t alloccache;    /* ~allocbits from freeindex's word, shifted to it */
	uint64_t *allocbits;    /* allocated as of the last sweep */
	uint64_t *markbits;     /* marked this cycle */
	uint64_t smallbits[2];
	union {
		/* SPAN_OBJ: nrefs and nbytes of a large object (class 0), or
		 * a small span's birth stamps; the save (save.c) whose epoch
		 * saw it allocated from first, and its freeindex then; and
		 * the cycle of a large object's birth, or the one a small
		 * span's stamps were last clamped in (age.c). */
		struct {
			union {
				struct { uint32_t nrefs, nbytes; };
				birth_t *births;
			};
			uint32_t save_epoch, save_fi, birth;
		} obj;
		struct { struct list scav; uint32_t nreleased; } free;  /* SPAN_FREE */
	} u;
};

static inline unsigned spc_sizeclass(unsigned spc) { return spc >> 1; }
static inline int spc_noscan(unsigned spc) { return spc & 1; }

/* --- size classes (sizeclass.c) --- */
struct sizeclass {
	uint32_t size;     /* bytes per object */
	uint32_t npages;   /* pages per span */
	uint32_t nelems;   /* objects per span, after room for the tail (stamps, bitmaps) */
	uint32_t divmul;
	uint32_t bitwords; /* 64-bit words per bitmap */
	uint32_t births_off;  /* past 64 objects: where the stamps start in the span */
};
extern struct sizeclass sc_table[NUM_SIZE_CLASSES];
/* Class by (size + 7) / 8 up to 1024 bytes, by (size - 1024 + 127) / 128 above. */
extern uint8_t sc_class8[1024 / 8 + 1];
extern uint8_t sc_class128[(MAX_SMALL_SIZE - 1024) / 128 + 1];
void sc_init(void);

/* Class of the smallest size >= bytes; bytes must be 1..MAX_SMALL_SIZE. */
static inline unsigned sc_of(size_t bytes)
{
	if (bytes <= 1024)
		return sc_class8[(bytes + 7) >> 3];
	return sc_class128[(bytes - 1024 + 127) >> 7];
}

/* --- object headers and handles --- */
/* A large object's header says HDR_LARGE for nrefs: its sizes are in its
 * span. Small objects have at most 4095 slots. The nrefs field's top bit
 * is HDR_SEALED (heap_seal), in small and large objects alike. The mark
 * worker reads headers while the mutator may seal: both access them with
 * relaxed atomics (hdr_load, hdr_seal), which cost a plain load. */
#define HDR_LARGE 0x7fffu
#define HDR_SEALED ((uint64_t)1 << 47)

static inline uint64_t hdr_make(uint32_t tag, uint32_t nrefs, uint32_t nbytes)
{
	return (uint64_t)tag | (uint64_t)nrefs << 32 | (uint64_t)nbytes << 48;
}
static inline uint64_t hdr_load(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED); }
static inline void hdr_seal(void *p)
{
	__atomic_store_n((uint64_t *)p, hdr_load(p) | HDR_SEALED, __ATOMIC_RELAXED);
}
static inline uint32_t hdr_tag(uint64_t hdr) { return (uint32_t)hdr; }
static inline uint32_t hdr_nrefs(uint64_t hdr) { return (uint32_t)(hdr >> 32) & HDR_LARGE; }
static inline uint32_t hdr_nbytes(uint64_t hdr) { return (uint32_t)(hdr >> 48); }

/* A handle is word << 32 | (arena offset / 8), the word being the
 * object's tag (a full handle) or a MAC of place and tag (read-only;
 * handle.c). */
static inline uint32_t ref_place(heap_ref r) { return (uint32_t)r; }
static inline uint32_t ref_tag(heap_ref r) { return (uint32_t)(r >> 32); }

/* Where a handle goes in a table of mask + 1 entries (hold sets, the
 * handle cache): Fibonacci hashing of its place, whose high bits spread
 * the places of objects made one after another (an arithmetic sequence
 * within a span) evenly, so consecutive objects seldom collide. The word,
 * random since it is a capability (handle.c), would collide as random
 * keys do: 3x the probing in GCBench's hold sets. A full and a read-only
 * handle of one object share a home. */
static inline uint32_t ref_home(heap_ref r, uint32_t mask)
{
	return (uint32_t)(((uint64_t)(uint32_t)(ref_place(r) * 0x9e3779b9u) * ((uint64_t)mask + 1)) >> 32);
}

/* A resolved handle. */
struct obj {
	uint8_t *p;        /* header */
	struct span *s;
	/* 24 bytes, as a handle-cache entry copies it whole; nrefs < 2^28,
	 * as HEAP_MAX_OBJECT_LIMIT is 2^31. */
	uint32_t nrefs : 31;
	uint32_t ro : 1;   /* the handle is read-only */
	uint32_t nbytes;
};

/* A handle that resolved since the last mark termination, with what it
 * resolved to. */
struct rcache_entry {
	heap_ref ref;
	struct obj o;
};
#define RCACHE_SIZE 64

/* --- work buffers (gcwork.c) --- */
struct workbuf {
	struct workbuf *next;   /* lock-free stack link */
	uint32_t nobj;
	uint32_t pad;
	uintptr_t obj[WBUF_NOBJ];
};

/* A lock-free stack of workbufs: a packed (counter, node index) word. */
struct lfstack {
	_Atomic uint64_t head;
};

/* One mark worker's view of the queue, as Go's gcWork: wbuf1 is the buffer
 * in use, wbuf2 a spare that absorbs a worker oscillating around a buffer
 * boundary. Both are empty or absent at mark termination. */
struct gcwork {
	struct workbuf *wbuf1, *wbuf2;
	uint64_t marked_bytes;  /* bytes greyed by this worker this cycle */
	uint64_t scan_work;     /* bytes of reference slots scanned */
	int background;         /* the mark worker's: may not use the page heap */
};

/* The background mark worker (bgmark.c), Go's dedicated gcBgMarkWorker.
 * The mutator opens marking to it (open), it drains work_full while busy,
 * and mark termination needs it idle with the queue empty. Under lock:
 * open, busy, need_empty, quit; the counters are its progress, published
 * every batch. */
#define CACHE_LINE 64
struct bgmark {
	/* Written by one side, read by both: each group on lines of its own,
	 * or every write would take the line from the other CPU. */
	_Alignas(CACHE_LINE) struct gcwork gcw;    /* the worker's */
	_Alignas(CACHE_LINE) _Atomic uint64_t scan_work, marked_bytes;  /* this cycle */
	_Atomic uint64_t credit;                   /* scan work assists may claim */
	_Atomic uint64_t busy_ns;                  /* over the heap's life */
	_Alignas(CACHE_LINE) pthread_mutex_t lock;
	pthread_cond_t wake;    /* the worker waits: work, empties or quit */
	pthread_cond_t idle;    /* the mutator waits: the worker is idle or short of empties */
	int open, busy, need_empty, quit;
	uint64_t provided;      /* times the worker was given empties */
	pthread_t thread;
};

/* --- hold sets (holds.c) --- */
struct hold {
	heap_ref ref;
	uint32_t count;       /* <= max_holds, or max_roots for h->roots_hs */
	uint32_t bytes;       /* the object's heap bytes (its span's elemsize) */
};

struct heap_holds {
	struct list link;     /* on h->holdsets */
	struct hold *tab;     /* open addressing, linear probing, no tombstones */
	struct heap_tenant *ten;  /* what its allocations are charged to; beside
	                           * what the allocation fast path reads */
	uint32_t mask;        /* capacity - 1 */
	uint32_t used;        /* distinct refs */
	uint32_t grow_at;     /* used count that makes the table grow: 3/4 full */
	uint64_t count;       /* holds, counting repeats */
	uint64_t bytes;       /* heap bytes of the distinct objects held */
	uint64_t scanned;     /* cycle whose root scan has covered this set */
	uint32_t cursor;      /* next slot to scan in cycle scanned + 1 */
};

/* 32 bytes: the hash's low half is all the table's index needs, and
 * names are compared in full. */
struct root_entry {
	char *name;           /* NULL: empty slot */
	uint32_t hash;        /* name_hash()'s low 32 bits */
	uint16_t len;         /* <= HEAP_ROOT_NAME_MAX */
	uint16_t mode;        /* meta: given when the root was made, kept on */
	uint32_t uid, gid;    /* replace, changed by heap_root_set_meta */
	heap_ref ref;
};

/* One tenant's allocation state (central.c). cache[] is the span each
 * class allocates from (empty_span when none); partial[] its spans with
 * free slots, indexed [sweepgen / 2 % 2] for swept and the other for
 * unswept, as Go's mcentral, so a tenant only ever fills its own spans.
 * bytes is what it is charged: the slots allocated in its spans as of
 * their last sweep or since, and every slot of the spans it has cached. */
struct heap_tenant {
	struct span *cache[NUM_SPANCLASSES];
	uint32_t cache_mark[NUM_SPANCLASSES];  /* cache[i]->allocount when cached */
	uint64_t bytes;
	struct list partial[NUM_SPANCLASSES][2];
};
_Static_assert(HEAP_TENANTS <= 64, "h->tenants_used has a bit per tenant");

enum gc_phase { GC_OFF = 0, GC_SWEEPTERM, GC_MARK };

/* --- saves (save.c) --- */
enum save_phase {
	SAVE_NONE = 0, SAVE_WAIT, SAVE_ROOTSCAN, SAVE_TRACE, SAVE_RANK, SAVE_PROLOGUE, SAVE_OBJECTS, SAVE_SLOTS,
	SAVE_ROOTS, SAVE_END
};
/* What the walk in save_state is for: a save (every phase), or a count
 * of what one object reaches (retained.c: SAVE_WAIT, SAVE_TRACE, then
 * SAVE_END). One walk at a time. */
enum walk_kind { WALK_SAVE = 0, WALK_RETAINED };
struct save_copy;
struct root_entry;
struct save_state {
	enum save_phase phase;
	enum walk_kind kind;
	bool save_queued;         /* a save was begun while a count walks: it
	                           * begins once the count ends (kept by save_free) */
	int failed;               /* a HEAP_E* code: the save cannot complete */
	uint32_t epoch;           /* saves begun so far */
	uint32_t nplaces;         /* places in the arena at the start */
	uint8_t *mem;             /* seen, copied and stack: one reservation */
	size_t mem_len;
	uint8_t *dead;            /* an ended save's, unmapped in steps */
	size_t dead_len;
	uint64_t *seen;           /* bit per place: in the snapshot */
	uint64_t *copied;         /* bit per place: its contents at the start are a copy */
	uint32_t *rank;           /* seen bits before each block of 512 places */
	uint32_t *stack;          /* places to trace */
	size_t sp, scap;
	struct save_copy **ctab;  /* copies by place: open addressing */
	uint32_t cmask, ncopies;
	uint64_t copy_bytes;
	struct root_entry *roots;  /* the root table when the save began */
	uint32_t nslots, nroots;   /* its slots; the roots in them */
	char **dropped;           /* names of roots deleted since: freed at the end */
	size_t ndropped, dropped_cap;
	uint64_t objects, slots, bytes;  /* the snapshot's, once traced */
	uint64_t heap_bytes;      /* what its objects take in the heap */
	uint32_t cursor;          /* the place (block, root) being emitted */
	uint32_t part;            /* of it already emitted: bytes, slots */
	int head;                 /* its sizes are emitted */
};

enum sweep_who { SWEEP_IDLE, SWEEP_ALLOC, SWEEP_GC };

struct heap {
	struct heap_config cfg;
	size_t small_limit;   /* largest size the allocation fast path takes */
	int bg_running;       /* a mark worker thread exists */
	bool saving;          /* a save may need copies (save_keep) */

	/* Arena (arena.c). Reserved at heap_new; [0, grown) committed. */
	uint8_t *base;
	int arena_fd;         /* the memfd base maps, its size grown's; -1 when
	                       * none could be made: private memory, no views */
	size_t arena_pages;   /* reserved */
	size_t grown;         /* pages committed so far */
	uint32_t *pagemap;
	struct span *spans;
	uint64_t *released;   /* bit per page: not backed (fresh or madvised) */
	birth_t *births_tab;  /* BIRTHS_PER_PAGE per page (age.c) */

	/* Page heap (pages.c). bins[n] holds free runs of n pages (backed ones
	 * first), bins[0] the runs of NUM_BINS pages or more; binmask has a bit
	 * per non-empty bin. scavq holds free runs with backed pages, oldest
	 * first. */
#define NUM_BINS 128
	_Alignas(CACHE_LINE) struct list bins[NUM_BINS];
	uint64_t binmask[NUM_BINS / 64];
	struct list scavq;
	size_t pages_obj;       /* in object spans */
	size_t pages_wbuf;      /* in workbuf spans */
	size_t pages_free;
	size_t pages_released;  /* free and not backed */
	size_t max_pages;       /* cfg.max_heap in pages */

	/* Central span lists (central.c). Full spans, per span class, and
	 * large ones are shared, indexed as a tenant's partial lists (the
	 * tenants, h->ten, are at the end of the struct). cur is the tenant of
	 * allocations without a hold set; tenants_used has a bit per tenant
	 * that has taken a span, the only ones the sweeper, stats and mark
	 * termination look at. */
	struct heap_tenant *cur;
	uint64_t tenants_used;
	struct list full[NUM_SPANCLASSES][2];
	struct list large[2];
	struct span empty_span;
	size_t nspans_obj;
	size_t nspans_tab;       /* of them, small spans with stamps in births_tab */

	/* Collector state (gc.c, mark.c). */
	enum gc_phase phase;
	uint32_t sweepgen;
	uint64_t cycle;          /* cycles started */
	int forced;              /* the cycle in progress was requested */
	int gc_requested;        /* start a forced cycle when this one ends */
	uint64_t room_cycle;     /* heap_room_cycle() */
	int cycles_held;         /* no cycle starts while > 0 (gc_hold) */
	int cycle_wanted;        /* one was asked for meanwhile: 1, 2 if forced */
	struct gcwork gcw;
	struct bgmark bg;
	_Alignas(CACHE_LINE) struct lfstack work_full;
	_Alignas(CACHE_LINE) struct lfstack work_empty;
	struct list *root_cursor;  /* next hold set to scan (on holdsets) */
	struct heap_holds *roots_hs;  /* the named roots' holds */
	struct list holdsets;
	uint64_t assist_debt;    /* scan work owed by the mutator */
	uint64_t assist_basis;   /* heap_live when the debt was last charged */

	/* Workbuf spans (gcwork.c), under wbuf_lock. */
	pthread_mutex_t wbuf_lock;
	struct list wbuf_busy, wbuf_free;
	size_t nwbuf_busy, nwbuf_free;

	/* Pacer (pacer.c). heap_live counts a cached span's free slots as
	 * allocated when the span is cached (as Go), gives back what was left
	 * unused when it is uncached, and is reset to heap_marked at mark
	 * termination; crossing next_event sends the allocator to the slow path
	 * (cycle start or assist). So the fast path touches no counter. */
	uint64_t heap_live;
	uint64_t heap_marked;
	uint64_t last_scan_work;
	uint64_t goal;
	uint64_t trigger;
	uint64_t next_event;

	/* Sweeper (sweep.c). */
	size_t sweep_pending;    /* unswept object spans */
	unsigned sweep_cursor;   /* span class to look at next; NUM_SPANCLASSES = large */
	unsigned sweep_tenant;   /* its partial lists from this tenant; HEAP_TENANTS = full */
	double sweep_pages_per_byte;
	uint64_t sweep_live_basis;
	uint64_t sweep_pages_basis;
	uint64_t sweep_pages_swept;

	/* Scavenger (scavenge.c). */
	uint64_t scav_mallocs_seen;
	uint64_t scav_quiet_since;

	/* Named roots (holds.c). */
	struct root_entry *rtab;
	uint32_t rmask;
	uint32_t nroots;
	uint64_t hash_key[2];

	/* Handle cache (object.c), indexed by ref_home(). Cleared at
	 * every mark termination, the only event that makes a valid handle
	 * invalid: sweeping frees only objects termination left unmarked,
	 * whose handles already fail. So an entry is always exact. */
	struct rcache_entry rcache[RCACHE_SIZE];

	/* Statistics (stats.c reads them). */
	struct {
		uint64_t heap_alloc, heap_objects, total_alloc, mallocs, frees;
		uint64_t num_gc, num_forced_gc, last_gc_unix_ns;
		uint64_t alloc_failures, gc_for_limit;
		uint64_t pause_total_ns, pause_ns[HEAP_PAUSE_RING], num_pause, max_pause_ns;
		uint64_t gc_ns, start_ns;
		uint64_t sweep_spans[3];
		uint64_t wbuf_freed, wbuf_reused, wbuf_alloc;
		uint64_t released_bytes, madvise_calls;
	} st;

	/* Tenants (central.c): last but for the tags, as all but a few
	 * stay cold. */
	struct heap_tenant ten[HEAP_TENANTS];

	/* A save in progress (save.c). */
	struct save_state save;

	/* Tags and read-only handles (handle.c): tag_buf[tag_pos..] are the
	 * next tags, from an AES-128-CTR keystream (tag_ctx), and
	 * tag_buf[TAG_BUF] is 0, the end; ro_ctx, AES-128 under another key,
	 * makes the MAC of read-only handles. At the end, so that the fields
	 * before keep the lines they share, or not, with the mark worker's. */
	_Alignas(CACHE_LINE) uint32_t tag_pos;
	struct evp_cipher_ctx_st *tag_ctx, *ro_ctx;
	uint32_t tag_buf[TAG_BUF + 1];
};

/* heap.c */
void heap_record_pause(heap *h, uint64_t t0);

/* os.c: the operating system behind a small interface. */
void *os_reserve(size_t bytes);
int os_commit(void *p, size_t bytes);
void os_release(void *p, size_t bytes);
void os_unreserve(void *p, size_t bytes);
/* The arena's: a memfd (*fd) of size 0 mapped over bytes, PROT_NONE; the
 * caller grows the file and commits, and releases with MADV_REMOVE. */
void *os_reserve_shared(size_t bytes, int *fd);
void os_release_shared(void *p, size_t bytes);
uint64_t os_now_ns(void);
uint64_t os_unix_ns(void);
uint64_t os_random(void);

/* arena.c */
int arena_init(heap *h, size_t max_heap);
void arena_destroy(heap *h);
/* Commits pages so that at least want pages exist; returns pages added. */
size_t arena_grow(heap *h, size_t want);
/* Returns arena pages to the OS: they read as zero afterwards. */
static inline void arena_release(heap *h, void *p, size_t bytes)
{
	if (h->arena_fd >= 0)
		os_release_shared(p, bytes);
	else
		os_release(p, bytes);
}
static inline uint8_t *page_addr(const heap *h, size_t page) { return h->base + (page << PAGE_SHIFT); }
static inline struct span *span_of_page(const heap *h, size_t page)
{
	uint32_t e = h->pagemap[page];
	return e ? &h->spans[e - 1] : NULL;
}
static inline uint8_t *span_base(const heap *h, const struct span *s) { return page_addr(h, s->start); }

/* The collector's own memory: workbuf spans, and the per-page tables for
 * pages that are not released (a released run's inner entries are released
 * with it), plus the released-page bits and the birth stamps in births_tab
 * (BIRTHS_PER_PAGE for each span that has its stamps there). An estimate
 * of what is resident: descriptors of pages inside multi-page spans are
 * counted, never touched. */
static inline uint64_t gc_sys_bytes(const heap *h)
{
	return ((uint64_t)h->pages_wbuf << PAGE_SHIFT) +
	       (uint64_t)(h->grown - h->pages_released) * (sizeof(struct span) + sizeof(uint32_t)) + h->grown / 8 +
	       (uint64_t)h->nspans_tab * BIRTHS_PER_PAGE * sizeof(birth_t);
}

/* pages.c */
/* What a span is for: a small-object span (its slots zeroed one by one as
 * they are allocated, when needzero), a large object (zeroed here, only
 * the pages that are backed), or workbufs (outside max_heap). */
enum pages_use { PAGES_SMALL, PAGES_LARGE, PAGES_WBUF };
struct span *pages_alloc(heap *h, size_t npages, enum pages_use use);
void pages_free(heap *h, struct span *s);
/* Releases up to max (0: all) backed pages of free run s, from its end. */
size_t pages_release(heap *h, struct span *s, size_t max);

/* central.c */
void central_init(heap *h);
/* Caches a span of class spc with a free slot for t: 0, HEAP_ENOMEM (no
 * room under max_heap) or HEAP_EQUOTA (none within t's limit). */
int central_refill(heap *h, struct heap_tenant *t, unsigned spc, struct span **sp);
void central_flush(heap *h);
void central_put_swept(heap *h, struct span *s);
/* Whether charging t more bytes would take it past max_tenant_heap. */
static inline int tenant_over(const heap *h, const struct heap_tenant *t, uint64_t more)
{
	return h->cfg.max_tenant_heap && t->bytes + more > h->cfg.max_tenant_heap;
}
/* The next tenant at or after from that has taken a span; HEAP_TENANTS if
 * none. */
static inline unsigned tenant_next(const heap *h, unsigned from)
{
	uint64_t m = from < HEAP_TENANTS ? h->tenants_used & (~(uint64_t)0 << from) : 0;
	return m ? (unsigned)__builtin_ctzll(m) : HEAP_TENANTS;
}
/* Makes s, a new object span, t's until it is freed. */
void span_give(heap *h, struct span *s, struct heap_tenant *t);
/* Allocations from cached spans not yet added to h->st. */
void central_cached_stats(const heap *h, uint64_t *objects, uint64_t *bytes);
void span_init_obj(heap *h, struct span *s, unsigned spc);
void span_refill_cache(struct span *s, uint32_t index);

static inline int bit_test(const uint64_t *bits, uint32_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }
static inline void bit_set(uint64_t *bits, uint32_t i) { bits[i >> 6] |= (uint64_t)1 << (i & 63); }


/* A reference slot of a live object, as the mark worker may read it: the
 * release store publishes whatever the handle's object was made with. */
static inline void slot_store(heap_ref *slot, heap_ref v) { __atomic_store_n(slot, v, __ATOMIC_RELEASE); }
static inline heap_ref slot_load(const heap_ref *slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

/* handle.c */
int handle_init(heap *h);
void handle_destroy(heap *h);
void tag_refill(heap *h);
uint32_t tag_redraw(heap *h, uint32_t old);
/* The word of the read-only handle of the object at place with tag. */
uint32_t ro_word(const heap *h, uint32_t place, uint32_t tag);

static inline int obj_fill(struct obj *o, uint8_t *p, struct span *s, uint64_t hdr, uint32_t ro)
{
	int small = s->spanclass >> 1;
	*o = (struct obj){.p = p,
			  .s = s,
			  .nrefs = small ? hdr_nrefs(hdr) : s->u.obj.nrefs,
			  .ro = ro,
			  .nbytes = small ? hdr_nbytes(hdr) : s->u.obj.nbytes};
	return 0;
}

/* obj_resolve_full() for a word that is not the tag: the read-only
 * handle's, or none (handle.c). Out of line, so that the common path
 * holds no call. */
int obj_resolve_ro(const heap *h, uint32_t word, struct obj *o, uint8_t *p, struct span *s, uint64_t hdr);

/* The object a handle names, if it is live and the handle is its own; see
 * object.c for why each check is there. */
static inline int obj_resolve_full(const heap *h, heap_ref r, struct obj *o)
{
	uint32_t tag = ref_tag(r), place = ref_place(r);
	size_t page = place >> (PAGE_SHIFT - 3);
	if (tag == 0 || page >= h->grown)
		return HEAP_EBADREF;
	uint32_t e = h->pagemap[page];
	if (!e)
		return HEAP_EBADREF;
	struct span *s = &h->spans[e - 1];
	if (s->state != SPAN_OBJ)
		return HEAP_EBADREF;
	size_t rel = ((size_t)place << 3) - ((size_t)s->start << PAGE_SHIFT);
	uint32_t idx = (uint32_t)((rel * s->divmul) >> 32);
	if (idx >= s->nelems || (size_t)idx * s->elemsize != rel)
		return HEAP_EBADREF;
	if (s->sweepgen == h->sweepgen) {
		if (idx >= s->freeindex && !bit_test(s->allocbits, idx))
			return HEAP_EBADREF;
	} else if (!bit_test(s->markbits, idx)) {
		return HEAP_EBADREF;
	}
	uint8_t *p = h->base + ((size_t)place << 3);
	uint64_t hdr = hdr_load(p);
	if (unlikely(hdr_tag(hdr) != tag))
		return obj_resolve_ro(h, tag, o, p, s, hdr);
	return obj_fill(o, p, s, hdr, 0);
}

static inline struct rcache_entry *rcache_slot(heap *h, heap_ref r)
{
	return &h->rcache[ref_home(r, RCACHE_SIZE - 1)];
}

static inline void rcache_put(heap *h, heap_ref r, const struct obj *o)
{
	struct rcache_entry *e = rcache_slot(h, r);
	e->ref = r;
	e->o = *o;
}

/* The cached resolution of r, or NULL. */
static inline const struct rcache_entry *rcache_hit(heap *h, heap_ref r)
{
	const struct rcache_entry *e = rcache_slot(h, r);
	return e->ref == r && r ? e : NULL;
}

static inline int obj_resolve(heap *h, heap_ref r, struct obj *o)
{
	const struct rcache_entry *e = rcache_hit(h, r);
	if (e) {
		*o = e->o;
		return 0;
	}
	int err = obj_resolve_full(h, r, o);
	if (!err)
		rcache_put(h, r, o);
	return err;
}

/* obj_resolve() for a caller that needs only to know: no copy on a hit. */
static inline int obj_live(heap *h, heap_ref r)
{
	struct obj o;
	return rcache_hit(h, r) || obj_resolve(h, r, &o) == 0;
}

static inline heap_ref *obj_slots(const struct obj *o) { return (heap_ref *)(o->p + HDR_SIZE); }

/* 0 when o may be changed: HEAP_EPERM through a read-only handle or
 * once sealed. */
static inline int obj_writable(const struct obj *o)
{
	return o->ro || (hdr_load(o->p) & HDR_SEALED) ? HEAP_EPERM : 0;
}

/* obj_resolve(), and slot must be one of the object's slots. */
static inline int obj_resolve_slot(heap *h, heap_ref r, uint32_t slot, struct obj *o)
{
	int err = obj_resolve(h, r, o);
	if (!err && slot >= o->nrefs)
		err = HEAP_ERANGE;
	return err;
}

/* gcwork.c */
void wbuf_init(heap *h);
void wbuf_destroy(heap *h);
void gcw_put_slow(heap *h, struct gcwork *w, uintptr_t p);
uintptr_t gcw_tryget_slow(heap *h, struct gcwork *w);
/* The mutator's gcwork and the global full list are empty. */
int gcw_empty(const heap *h);
void gcw_dispose(heap *h, struct gcwork *w);
int work_full_empty(const heap *h);
/* The mutator gives the worker a workbuf span of empties. */
void wbuf_provide(heap *h);
void wbuf_prepare_free(heap *h);
/* deadline 0: not preemptible (a forced collection drains the free list). */
int wbuf_free_some(heap *h, uint64_t deadline, heap_preempt_fn *preempt, void *arg);

static inline void gcw_put(heap *h, struct gcwork *w, uintptr_t p)
{
	struct workbuf *b = w->wbuf1;
	if (b && b->nobj < WBUF_NOBJ)
		b->obj[b->nobj++] = p;
	else
		gcw_put_slow(h, w, p);
}

/* 0 when the queue is empty. */
static inline uintptr_t gcw_tryget(heap *h, struct gcwork *w)
{
	struct workbuf *b = w->wbuf1;
	if (b && b->nobj)
		return b->obj[--b->nobj];
	return gcw_tryget_slow(h, w);
}

/* mark.c */
void mark_begin(heap *h);
/* The mutator marks until done or out of budget; returns 1 when marking is
 * complete but for the mark worker (see bg_try_close). */
int mark_work(heap *h, uint64_t deadline, uint64_t work);
/* The mark worker drains the queue; returns when it is empty. */
void mark_drain(heap *h, struct gcwork *w);
void mark_grey(heap *h, struct gcwork *w, heap_ref r);
static inline void gc_shade(heap *h, heap_ref r)
{
	if (h->phase == GC_MARK && r)
		mark_grey(h, &h->gcw, r);
}

/* bgmark.c */
int bg_start(heap *h);
void bg_stop(heap *h);
/* Opens this cycle's marking to the worker, or closes it for good once
 * the worker is idle with nothing queued: returns 0 when it is not. */
void bg_open(heap *h);
int bg_try_close(heap *h);
/* Provides empty workbufs if the worker is waiting for them. */
void bg_serve(heap *h);
/* Wakes the worker for work the mutator has put on the full list. */
void bg_kick(heap *h);
/* Serves a worker short of empties, then waits for it to go idle or
 * until deadline (0: no limit). */
void bg_wait(heap *h, uint64_t deadline);
/* The worker, out of empty workbufs, waits for the mutator to provide. */
void bg_need_empty(heap *h);
/* Scan work the worker did that assists may count as theirs. */
uint64_t bg_claim(heap *h, uint64_t want);
static inline int bg_on(const heap *h) { return h->bg_running; }

/* Sets mark bit i; returns 0 if it was set already. With the mark worker
 * running, others in the same word may be set at the same time: an atomic
 * OR, after a relaxed load that spares it when the bit is already set. */
static inline int mark_bit_set(const heap *h, uint64_t *bits, uint32_t i)
{
	uint64_t *w = &bits[i >> 6], m = (uint64_t)1 << (i & 63);
	if (__atomic_load_n(w, __ATOMIC_RELAXED) & m)
		return 0;
	if (bg_on(h))
		return !(__atomic_fetch_or(w, m, __ATOMIC_RELAXED) & m);
	*w |= m;
	return 1;
}

/* gc.c */
void gc_start(heap *h, int forced);
/* One collector slice bounded by deadline (0: none) and work units (bytes
 * of scanning; a swept span counts 256). Returns 1 if the cycle has more
 * work. Tests use the work bound: it makes runs reproducible. */
int gc_slice(heap *h, uint64_t deadline, uint64_t work);
/* The allocator crossed next_event: start a cycle or assist. */
void gc_alloc_slow(heap *h);
/* An allocation found no room under max_heap: counts it, and starts a
 * cycle unless one is in flight (at most one is, whatever the failures). */
void gc_no_room(heap *h);
void gc_finish_cycle(heap *h);
/* No cycle starts until as many gc_unhold(): one asked for meanwhile
 * (the pacer's, a request, no room) starts then. */
void gc_hold(heap *h);
void gc_unhold(heap *h);
/* Blocking: completes any cycle, runs a full one, sweeps everything and
 * frees every workbuf span. One pause. */
void gc_full(heap *h, int forced);

/* pacer.c */
void pacer_init(heap *h);
void pacer_end_cycle(heap *h);
void pacer_set_next_event(heap *h);
uint64_t pacer_assist_work(heap *h);
int pacer_should_start(const heap *h);
uint64_t pacer_retained_goal(const heap *h);

/* sweep.c */
void sweep_begin(heap *h);
/* Sweeps s (taken off its list); returns 0 if it was freed to the page heap. */
int sweep_span(heap *h, struct span *s, enum sweep_who who);
/* Sweeps one unswept span; returns 0 when none is left. */
int sweep_one(heap *h, enum sweep_who who);
/* Sweeps a batch of spans, the most to sweep between looks at the clock
 * (SWEEP_BATCH); *n gets how many. Returns 1 after a whole batch (spans
 * may be left), 0 once none is left. */
int sweep_batch(heap *h, enum sweep_who who, unsigned *n);
void sweep_proportional(heap *h);

/* age.c: what an object's age (collections survived) is made of. A small
 * object's birth stamp is the low bits of h->cycle when it was made, in
 * its span's births[], written by the sweeper once it survives its first
 * collection; a large one's is u.obj.birth. Ages are reported up to
 * AGE_MAX, then saturate: half a stamp's range, less one. */
#define AGE_MAX ((uint32_t)((birth_t)~(birth_t)0 >> 1))
/* Stamps the objects of s (words bitmap words) that survive their first
 * collection: marked and not in allocbits, before the sweep swaps them. */
void births_stamp(const heap *h, struct span *s, uint32_t words);
/* Keeps the stamps of s, just swept, within a stamp's range of h->cycle. */
void births_clamp(const heap *h, struct span *s);
uint32_t obj_age(const heap *h, const struct obj *o);

/* scavenge.c */
/* Returns as heap_idle() does. */
uint64_t scav_step(heap *h, uint64_t deadline, heap_preempt_fn *preempt, void *arg);
void scav_release_all(heap *h);
/* Releases free pages, every one, until deadline: returns 1 if some are
 * left. */
int scav_release_step(heap *h, uint64_t deadline);

/* save.c */
void save_keep_slow(heap *h, const struct obj *o);
/* Before the mutator changes o's slots or bytes: a save that needs its
 * contents at the start copies them first. */
static inline void save_keep(heap *h, const struct obj *o)
{
	if (unlikely(h->saving))
		save_keep_slow(h, o);
}
/* Ends a save or a count, if one runs, and forgets a queued save
 * (heap_gc, heap_free). */
void save_cancel(heap *h);
/* The walk's start, shared by a save and a count: the bitmaps and stack,
 * the epoch, the spans cached now noted; h->saving on. 0 or HEAP_ENOMEM
 * (then save_cancel). */
int walk_start(heap *h);
/* Marks place seen and queues it: 0 or HEAP_ENOMEM. */
int walk_push(struct save_state *sv, uint32_t place);
/* Traces until the stack is empty (0), or the deadline or a failure (1). */
int walk_trace(heap *h, uint64_t deadline);
/* Unmaps an ended save's memory until deadline: true if some is left. */
bool save_release_step(heap *h, uint64_t deadline);
/* save_cancel(), and all of it unmapped (heap_free). */
void save_destroy(heap *h);
/* A deleted root's name, freed now or, while a save's copy of the root
 * table points to it, when the save ends. */
void save_name_dropped(heap *h, char *name);
/* What a span's freeindex and epoch say once a tenant caches it. */
static inline void save_span_cached(const heap *h, struct span *s)
{
	if (s->u.obj.save_epoch != h->save.epoch) {
		s->u.obj.save_epoch = h->save.epoch;
		s->u.obj.save_fi = s->freeindex;
	}
}

/* holds.c */
int holds_init(heap *h);
/* Holds in client hold sets, counting repeats. */
uint64_t holds_total(const heap *h);
void holds_destroy(heap *h);
int holds_add(heap *h, heap_holds *hs, heap_ref r);

/* holds_add() for the handle of an object just allocated, when hs has
 * room without growing: the handle cannot be in hs yet, and needs no
 * shading (the object is black if marking is on). */
static inline void holds_add_new(heap_holds *hs, heap_ref r, uint32_t bytes)
{
	uint32_t i = ref_home(r, hs->mask);
	while (hs->tab[i].ref)
		i = (i + 1) & hs->mask;
	hs->tab[i].ref = r;
	hs->tab[i].count = 1;
	hs->tab[i].bytes = bytes;
	hs->used++;
	hs->count++;
	hs->bytes += bytes;
}
/* Scans up to budget slots of root hold sets; returns 0 if none was left. */
int holds_scan_roots(heap *h, uint32_t budget);

#endif
