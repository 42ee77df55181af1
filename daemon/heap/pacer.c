/*
 * pacer.c - when to collect and how hard the mutator must help (Go's
 * mgcpacer.go, simplified).
 *
 * Goal. After a cycle marked heap_marked bytes, the heap may grow to
 *   goal = marked + (marked + roots) * gc_percent / 100
 * (at least HEAP_MINIMUM * gc_percent / 100), as GOGC. gc_percent < 0 turns
 * that off. A soft memory limit (GOMEMLIMIT) caps the goal at the limit
 * minus the collector's own memory; a goal at or below the live heap is
 * lifted to marked + MIN_RUNWAY, so an unreachable limit makes the
 * collector run back to back instead of failing.
 *
 * Trigger. A cycle starts at 70% of the way from marked to goal (Go's
 * lower trigger bound), leaving 30% of the runway for marking.
 *
 * Assists. While a cycle runs, every ASSIST_STEP bytes allocated the
 * mutator owes scan work in the ratio (expected work left) / (runway left),
 * the expected work being the last cycle's. Paying at least ASSIST_MIN per
 * assist (Go's gcOverAssistWork) keeps assists few. Background slices do
 * the same work, so they shrink what assists owe. At the goal the ratio is
 * taken against one step, so a mutator that outruns marking mostly marks.
 *
 * Scavenger goal. Retained memory (in use + free backed) may exceed the
 * goal by 10%, or reach 95% of the soft limit, whichever is lower.
 */
#include "internal.h"

#define MIN_RUNWAY ((uint64_t)1 << 20)
#define ASSIST_STEP ((uint64_t)64 << 10)
#define ASSIST_MIN ((uint64_t)64 << 10)

static void pacer_compute(heap *h)
{
	uint64_t marked = h->heap_marked, goal = UINT64_MAX;
	if (h->cfg.gc_percent >= 0) {
		uint64_t pct = (uint64_t)h->cfg.gc_percent;
		uint64_t roots = (holds_total(h) + h->nroots) * sizeof(heap_ref);
		uint64_t floor = HEAP_MINIMUM * pct / 100;
		goal = marked + (marked + roots) * pct / 100;
		if (goal < floor)
			goal = floor;
	}
	if (h->cfg.soft_limit) {
		uint64_t other = gc_sys_bytes(h);
		uint64_t cap = h->cfg.soft_limit > other ? h->cfg.soft_limit - other : 0;
		if (cap < goal)
			goal = cap;
	}
	if (goal != UINT64_MAX && goal < marked + MIN_RUNWAY)
		goal = marked + MIN_RUNWAY;
	h->goal = goal;
	h->trigger = goal == UINT64_MAX ? UINT64_MAX : marked + (goal - marked) / 10 * 7;
}

void pacer_init(heap *h)
{
	h->heap_marked = 0;
	pacer_compute(h);
	pacer_set_next_event(h);
}

void pacer_end_cycle(heap *h)
{
	pacer_compute(h);
}

int pacer_should_start(const heap *h)
{
	return h->heap_live >= h->trigger;
}

void pacer_set_next_event(heap *h)
{
	if (h->phase != GC_OFF)
		h->next_event = h->heap_live + ASSIST_STEP;
	else
		h->next_event = h->cycles_held ? UINT64_MAX : h->trigger;
}

uint64_t pacer_assist_work(heap *h)
{
	uint64_t allocated = h->heap_live - h->assist_basis;
	h->assist_basis = h->heap_live;
	uint64_t expected = h->last_scan_work ? h->last_scan_work : h->heap_live;
	uint64_t done = h->phase == GC_MARK ? h->gcw.scan_work + atomic_load(&h->bg.scan_work) : 0;
	uint64_t left = expected > done ? expected - done : ASSIST_MIN;
	uint64_t runway = h->goal > h->heap_live ? h->goal - h->heap_live : 0;
	if (runway < ASSIST_STEP)
		runway = ASSIST_STEP;
	h->assist_debt += (uint64_t)((double)allocated * ((double)left / (double)runway));
	return h->assist_debt > ASSIST_MIN ? h->assist_debt : ASSIST_MIN;
}

uint64_t pacer_retained_goal(const heap *h)
{
	uint64_t goal = h->goal == UINT64_MAX ? UINT64_MAX : h->goal + h->goal / 10;
	if (h->cfg.soft_limit && h->cfg.soft_limit / 100 * 95 < goal)
		goal = h->cfg.soft_limit / 100 * 95;
	return goal;
}

int heap_reconfigure(heap *h, const struct heap_config *cfg)
{
	if (cfg->max_heap != h->cfg.max_heap || cfg->max_object != h->cfg.max_object ||
	    cfg->mark_workers != h->cfg.mark_workers || !cfg->slice_ns)
		return HEAP_EINVAL;
	h->cfg = *cfg;
	pacer_compute(h);
	pacer_set_next_event(h);
	return 0;
}
