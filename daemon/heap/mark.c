/*
 * mark.c - marking (Go's mgcmark.go): greying, scanning, draining.
 *
 * Tri-colour marking with the mark bit as "grey or black": mark_grey() sets
 * the bit and queues the object if it has reference slots; scanning pops it
 * (black) and greys its referents. Nothing recurses: the queue is the
 * workbuf stack, so a ten-million-long list costs one queue entry at a time.
 *
 * Invariants while h->phase == GC_MARK:
 *  - every span is swept, so mark bits start clear each cycle;
 *  - no black object refers to a white one (strong tri-colour invariant),
 *    kept by shading every handle stored into a slot or added to a hold set;
 *  - new objects are black (malloc.c), so they need no scan.
 * Marking is complete when the root hold sets are all scanned, the queue
 * is empty and the mark worker is idle; nothing can add work afterwards
 * without the mutator running, and the mutator does not run inside a
 * slice, so termination follows at once in the same slice.
 *
 * With the mark worker (bgmark.c) the mutator scans the roots and hands
 * the queue over: each slice ends by putting its workbufs on the full
 * list. Both sides set mark bits with atomic ORs, so one greying wins, and
 * read slots with acquire loads (the mutator's stores are releases).
 *
 * Objects with more than OBLET_SLOTS slots, small or large, are scanned in
 * oblets (Go splits large objects at 128 KiB): the first scan queues the
 * address of each further oblet. A slot's referent may be a cache miss, so
 * an oblet of 512 slots bounds one work item to ~100 us.
 */
#include "internal.h"

#define ROOT_BATCH 256u
#define OBLET_BIT 1u   /* a work item that is an oblet, not an object */
/* The clock is read every CHECK_EVERY items or CHECK_WORK bytes of slots
 * scanned, whichever comes first: an oblet's referents may each be a cache
 * miss, so a check per oblet keeps a slice within ~100 us of its budget. */
#define CHECK_EVERY 64u
#define CHECK_WORK (4u << 10)

void mark_begin(heap *h)
{
	h->phase = GC_MARK;
	h->cycle++;
	h->root_cursor = h->holdsets.next;
	h->gcw.marked_bytes = 0;
	h->gcw.scan_work = 0;
	h->assist_debt = 0;
	h->assist_basis = h->heap_live;
	pacer_set_next_event(h);
	if (bg_on(h))
		bg_open(h);
}

void mark_grey(heap *h, struct gcwork *gw, heap_ref r)
{
	size_t off = (size_t)ref_place(r) << 3;
	struct span *s = &h->spans[h->pagemap[off >> PAGE_SHIFT] - 1];
	size_t rel = off - ((size_t)s->start << PAGE_SHIFT);
	uint32_t idx = (uint32_t)((rel * s->divmul) >> 32);
	if (!mark_bit_set(h, s->markbits, idx))
		return;
	gw->marked_bytes += s->elemsize;
	if (!spc_noscan(s->spanclass)) {
		/* LIFO pops it soon: start fetching its header now. */
		__builtin_prefetch(h->base + off);
		gcw_put(h, gw, (uintptr_t)(h->base + off));
	}
}

/* Scans [first, first + OBLET_SLOTS) of an object's nrefs slots. */
static void scan_slots(heap *h, struct gcwork *w, const heap_ref *slots, uint32_t first, uint32_t nrefs)
{
	uint32_t end = nrefs - first < OBLET_SLOTS ? nrefs : first + OBLET_SLOTS;
	for (uint32_t i = first; i < end; i++) {
		heap_ref r = slot_load(&slots[i]);
		if (r)
			mark_grey(h, w, r);
	}
	w->scan_work += HDR_SIZE + (uint64_t)(end - first) * sizeof(heap_ref);
}

/* An object too big for one work item (or large, whose slot count is in
 * its span), or one of its oblets: p with OBLET_BIT set is the address of
 * the oblet's first slot. */
static void scan_split(heap *h, struct gcwork *w, uintptr_t p)
{
	uintptr_t a = p & ~(uintptr_t)OBLET_BIT;
	struct span *s = &h->spans[h->pagemap[(a - (uintptr_t)h->base) >> PAGE_SHIFT] - 1];
	uint8_t *base = span_base(h, s);
	uint8_t *obj = base + (size_t)(uint32_t)(((a - (uintptr_t)base) * s->divmul) >> 32) * s->elemsize;
	uint32_t nrefs = spc_sizeclass(s->spanclass) ? hdr_nrefs(hdr_load(obj)) : s->u.obj.nrefs;
	const heap_ref *slots = (const heap_ref *)(obj + HDR_SIZE);
	if (p & OBLET_BIT) {
		scan_slots(h, w, slots, (uint32_t)((const heap_ref *)a - slots), nrefs);
		return;
	}
	for (uint32_t k = OBLET_SLOTS; k < nrefs; k += OBLET_SLOTS)
		gcw_put(h, w, (uintptr_t)(slots + k) | OBLET_BIT);
	scan_slots(h, w, slots, 0, nrefs);
}

/* Scans the work item at p. A small object of at most OBLET_SLOTS slots,
 * the common case, needs only its header. */
static inline void scan(heap *h, struct gcwork *w, uintptr_t p)
{
	if (unlikely(p & OBLET_BIT)) {
		scan_split(h, w, p);
		return;
	}
	uint32_t nrefs = hdr_nrefs(hdr_load((const void *)p));
	if (unlikely(nrefs > OBLET_SLOTS))
		scan_split(h, w, p);
	else
		scan_slots(h, w, (const heap_ref *)(p + HDR_SIZE), 0, nrefs);
}

/* The worker publishes its progress every DRAIN_BATCH items. */
#define DRAIN_BATCH 256u

void mark_drain(heap *h, struct gcwork *w)
{
	uint64_t published = w->scan_work, marked = w->marked_bytes;
	for (unsigned n = 1;; n++) {
		uintptr_t p = gcw_tryget(h, w);
		if (p)
			scan(h, w, p);
		if (!p || n % DRAIN_BATCH == 0) {
			uint64_t work = w->scan_work - published;
			atomic_fetch_add_explicit(&h->bg.scan_work, work, memory_order_relaxed);
			atomic_fetch_add_explicit(&h->bg.credit, work, memory_order_relaxed);
			atomic_fetch_add_explicit(&h->bg.marked_bytes, w->marked_bytes - marked, memory_order_relaxed);
			published = w->scan_work;
			marked = w->marked_bytes;
		}
		if (!p)
			return;
	}
}

int mark_work(heap *h, uint64_t deadline, uint64_t work)
{
	uint64_t start = h->gcw.scan_work, checked = start;
	for (unsigned n = 1;; n++) {
		uintptr_t p = gcw_tryget(h, &h->gcw);
		if (p)
			scan(h, &h->gcw, p);
		else if (!holds_scan_roots(h, ROOT_BATCH))
			return 1;
		if (h->gcw.scan_work - start >= work)
			return 0;
		if (deadline && (n % CHECK_EVERY == 0 || h->gcw.scan_work - checked >= CHECK_WORK)) {
			checked = h->gcw.scan_work;
			if (os_now_ns() >= deadline)
				return 0;
		}
	}
}
