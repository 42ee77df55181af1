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
 * Marking is complete when the root hold sets are all scanned and the queue
 * is empty; nothing can add work afterwards without the mutator running,
 * and the mutator does not run inside a slice, so termination follows at
 * once in the same slice.
 *
 * Large objects are scanned in oblets of OBLET_SLOTS slots (Go splits at
 * 128 KiB): the first scan queues the address of each further oblet, so no
 * single work item costs more than a few tens of microseconds.
 */
#include "internal.h"

#define ROOT_BATCH 256u
#define CHECK_EVERY 64u
#define CHECK_WORK (32u << 10)

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
}

void mark_grey(heap *h, heap_ref r)
{
	size_t off = (size_t)ref_place(r) << 3;
	struct span *s = &h->spans[h->pagemap[off >> PAGE_SHIFT] - 1];
	size_t rel = off - ((size_t)s->start << PAGE_SHIFT);
	uint32_t idx = (uint32_t)((rel * s->divmul) >> 32);
	uint64_t *w = &s->markbits[idx >> 6], m = (uint64_t)1 << (idx & 63);
	if (*w & m)
		return;
	*w |= m;
	h->gcw.marked_bytes += s->elemsize;
	if (!spc_noscan(s->spanclass))
		gcw_put(h, (uintptr_t)(h->base + off));
}

static void scan(heap *h, uintptr_t p)
{
	struct span *s = &h->spans[h->pagemap[(p - (uintptr_t)h->base) >> PAGE_SHIFT] - 1];
	const heap_ref *slots;
	uint32_t n;
	if (spc_sizeclass(s->spanclass)) {
		slots = (const heap_ref *)(p + HDR_SIZE);
		n = hdr_nrefs(*(const uint64_t *)p);
	} else {
		const heap_ref *all = (const heap_ref *)(span_base(h, s) + HDR_SIZE);
		uint32_t nrefs = s->u.large.nrefs, first;
		if (p == (uintptr_t)span_base(h, s)) {
			first = 0;
			for (uint32_t k = OBLET_SLOTS; k < nrefs; k += OBLET_SLOTS)
				gcw_put(h, (uintptr_t)(all + k));
		} else {
			first = (uint32_t)((const heap_ref *)p - all);
		}
		slots = all + first;
		n = nrefs - first < OBLET_SLOTS ? nrefs - first : OBLET_SLOTS;
	}
	for (uint32_t i = 0; i < n; i++)
		if (slots[i])
			mark_grey(h, slots[i]);
	h->gcw.scan_work += HDR_SIZE + (uint64_t)n * sizeof(heap_ref);
}

int mark_work(heap *h, uint64_t deadline, uint64_t work)
{
	uint64_t start = h->gcw.scan_work, checked = start;
	for (unsigned n = 1;; n++) {
		uintptr_t p = gcw_tryget(h);
		if (p)
			scan(h, p);
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
