/*
 * gc.c - the collection cycle (Go's mgc.go).
 *
 *   GC_OFF --trigger or request--> GC_SWEEPTERM --all swept--> GC_MARK
 *   GC_MARK --roots scanned, queue empty--> mark termination --> GC_OFF
 *
 * A cycle begins when heap_live crosses the pacer's trigger (noticed by the
 * allocator) or on request. Sweep termination finishes the previous cycle's
 * sweeping, usually already done by the idle and proportional sweepers.
 * Marking then runs in slices: heap_gc_slice() from the host's loop
 * (Go's background worker) and assists from heap_alloc(). Mark termination
 * is short and bounded by the number of span classes: it flushes the
 * allocation cache, hands every workbuf span to the sweeper, flips the sweep
 * generation (every span becomes unswept in O(1)) and sets the next goal.
 *
 * With the background mark worker (bgmark.c), slices and assists scan the
 * roots and mark only what the worker's credit does not cover; each ends by
 * handing its queue to the worker. Termination waits for the worker to go
 * idle: a slice waits for it until its deadline, an assist does not wait.
 *
 * Pauses: every stretch of collector work that the host cannot interrupt -
 * a slice, an assist, a forced collection - is one pause in the stats.
 */
#include <string.h>

#include "internal.h"

#define SWEEP_WORK 256u   /* scan-work units charged per span swept */

void gc_start(heap *h, int forced)
{
	if (h->phase != GC_OFF)
		return;
	if (h->cycles_held) {
		if (h->cycle_wanted < 1 + forced)
			h->cycle_wanted = 1 + forced;
		return;
	}
	h->forced = forced;
	h->phase = GC_SWEEPTERM;
	h->assist_debt = 0;
	h->assist_basis = h->heap_live;
	pacer_set_next_event(h);
}

static void mark_termination(heap *h)
{
	if (!gcw_empty(h))
		heap_throw("mark termination with work queued");
	gcw_dispose(h, &h->gcw);
	wbuf_prepare_free(h);
	central_flush(h);
	h->heap_marked = h->gcw.marked_bytes + atomic_load(&h->bg.marked_bytes);
	h->last_scan_work = h->gcw.scan_work + atomic_load(&h->bg.scan_work);
	h->heap_live = h->heap_marked;
	h->sweepgen += 2;
	memset(h->rcache, 0, sizeof h->rcache);
	h->phase = GC_OFF;
	pacer_end_cycle(h);
	sweep_begin(h);
	h->st.num_gc++;
	if (h->forced)
		h->st.num_forced_gc++;
	h->st.last_gc_unix_ns = os_unix_ns();
	pacer_set_next_event(h);
	if (h->gc_requested) {
		h->gc_requested = 0;
		gc_start(h, 1);
	}
}

/* Marking's share of gc_work with the mark worker: returns 1 when marking
 * is complete and closed to the worker. wait: 0 for none (an assist), 1
 * until deadline, 2 for as long as it takes. */
static int mark_with_worker(heap *h, uint64_t deadline, uint64_t budget, int wait)
{
	bg_serve(h);
	int done = mark_work(h, deadline, budget);
	if (!done) {
		gcw_dispose(h, &h->gcw);
		bg_kick(h);
		return 0;
	}
	while (!bg_try_close(h)) {
		if (!wait)
			return 0;
		bg_wait(h, wait == 1 ? deadline : 0);
		if (wait == 1 && os_now_ns() >= deadline)
			return 0;
		mark_work(h, 0, UINT64_MAX);
	}
	return 1;
}

/* Runs the cycle within deadline (0: none) and *budget work units, which it
 * decreases by the work done. wait is as for mark_with_worker. Returns 1 if
 * the cycle has more work. */
static int gc_work(heap *h, uint64_t deadline, uint64_t *budget, int wait)
{
	if (h->phase == GC_SWEEPTERM) {
		for (;;) {
			unsigned n;
			int more = sweep_batch(h, SWEEP_GC, &n);
			*budget = *budget > n * SWEEP_WORK ? *budget - n * SWEEP_WORK : 0;
			if (!more)
				break;
			if (!*budget || (deadline && os_now_ns() >= deadline))
				return 1;
		}
		mark_begin(h);
	}
	if (h->phase == GC_MARK) {
		uint64_t before = h->gcw.scan_work;
		int done = bg_on(h) ? mark_with_worker(h, deadline, *budget, wait) : mark_work(h, deadline, *budget);
		uint64_t used = h->gcw.scan_work - before;
		*budget = *budget > used ? *budget - used : 0;
		if (!done)
			return 1;
		mark_termination(h);
	}
	return h->phase != GC_OFF;  /* a requested cycle may have started */
}

void gc_finish_cycle(heap *h)
{
	uint64_t budget = UINT64_MAX;
	while (h->phase != GC_OFF)
		gc_work(h, 0, &budget, 2);
}

void gc_hold(heap *h)
{
	h->cycles_held++;
	pacer_set_next_event(h);
}

void gc_unhold(heap *h)
{
	if (--h->cycles_held)
		return;
	pacer_set_next_event(h);
	if (h->cycle_wanted) {
		int forced = h->cycle_wanted - 1;
		h->cycle_wanted = 0;
		gc_start(h, forced);
	}
}

void gc_alloc_slow(heap *h)
{
	if (h->phase == GC_OFF) {
		if (!pacer_should_start(h)) {
			pacer_set_next_event(h);
			return;
		}
		gc_start(h, 0);
	}
	uint64_t t0 = os_now_ns();
	uint64_t owed = pacer_assist_work(h), budget = owed;
	if (bg_on(h) && h->phase == GC_MARK)
		budget -= bg_claim(h, budget);
	gc_work(h, t0 + h->cfg.slice_ns, &budget, 0);
	uint64_t paid = owed - budget;
	h->assist_debt = h->assist_debt > paid ? h->assist_debt - paid : 0;
	heap_record_pause(h, t0);
	pacer_set_next_event(h);
}

void gc_no_room(heap *h)
{
	h->st.alloc_failures++;
	if (h->phase == GC_OFF) {
		gc_start(h, 0);
		h->st.gc_for_limit++;
	}
	h->room_cycle = h->st.num_gc + 1;
}

uint64_t heap_room_cycle(const heap *h)
{
	return h->room_cycle;
}

void gc_full(heap *h, int forced)
{
	uint64_t t0 = os_now_ns();
	save_cancel(h);  /* a blocking collection may free what it needs */
	gc_finish_cycle(h);
	gc_start(h, forced);
	gc_finish_cycle(h);
	while (sweep_one(h, SWEEP_GC))
		;
	while (wbuf_free_some(h, 0, NULL, NULL))
		;
	heap_record_pause(h, t0);
}

void heap_gc(heap *h)
{
	gc_full(h, 1);
}

/* A request needs a cycle that starts after it: one already marking may
 * have marked what the caller has just dropped. */
void heap_gc_begin(heap *h)
{
	if (h->phase == GC_OFF)
		gc_start(h, 1);
	else
		h->gc_requested = 1;
}

void heap_free_os_memory(heap *h)
{
	gc_full(h, 1);
	heap_release_all(h);
}

void heap_release_all(heap *h)
{
	while (wbuf_free_some(h, 0, NULL, NULL))
		;
	save_release_step(h, UINT64_MAX);
	scav_release_all(h);
}

bool heap_release_step(heap *h, uint64_t budget_ns)
{
	uint64_t deadline = os_now_ns() + budget_ns;
	while (wbuf_free_some(h, deadline, NULL, NULL))
		if (os_now_ns() >= deadline)
			return false;
	if (save_release_step(h, deadline))
		return false;
	return !scav_release_step(h, deadline);
}

bool heap_swept(const heap *h)
{
	return h->sweep_pending == 0;
}

bool heap_idle_due(const heap *h)
{
	return h->sweep_pending || h->nwbuf_free || h->save.dead_len || !list_empty(&h->scavq);
}

bool heap_gc_active(const heap *h)
{
	return h->phase != GC_OFF;
}

uint64_t heap_cycles(const heap *h)
{
	return h->st.num_gc;
}

uint32_t heap_mark_workers(const heap *h)
{
	return bg_on(h) ? 1 : 0;
}

int gc_slice(heap *h, uint64_t deadline, uint64_t work)
{
	if (h->phase == GC_OFF)
		return 0;
	uint64_t t0 = os_now_ns();
	int more = gc_work(h, deadline, &work, deadline ? 1 : 2);
	heap_record_pause(h, t0);
	return more;
}

bool heap_gc_slice(heap *h, uint64_t budget_ns)
{
	return gc_slice(h, os_now_ns() + budget_ns, UINT64_MAX);
}

uint64_t heap_idle(heap *h, uint64_t budget_ns, heap_preempt_fn *preempt, void *arg)
{
	uint64_t deadline = os_now_ns() + budget_ns;
	unsigned n;
	while (sweep_batch(h, SWEEP_IDLE, &n))
		if (os_now_ns() >= deadline || (preempt && preempt(arg)))
			return 0;
	while (wbuf_free_some(h, deadline, preempt, arg))
		if (os_now_ns() >= deadline || (preempt && preempt(arg)))
			return 0;
	if (save_release_step(h, deadline))
		return 0;
	return scav_step(h, deadline, preempt, arg);
}
