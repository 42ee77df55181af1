/*
 * scavenge.c - returning free pages to the OS (Go's mgcscavenge.go).
 *
 * Retained memory is what the heap keeps backed: object spans, workbuf
 * spans and free pages not yet released. In idle time the scavenger
 * releases free pages until retained memory is within 10% of the heap goal
 * (pacer_retained_goal). Once the heap has seen no allocation for
 * release_delay_ns, idle time releases every free page: a daemon that went
 * quiet after a peak should hold what its live heap needs, not twice that
 * (Go keeps the 10% margin forever; its users read the difference as a
 * leak). heap_free_os_memory() releases everything at once, and
 * heap_release_step() the same in steps a host can interleave.
 *
 * Order: oldest free runs first (scavq), each from its end, at most
 * STEP_PAGES per call so a huge run does not turn into one long madvise
 * (~70 ms per GiB here). Each call covers a whole stretch of backed pages:
 * neighbours were coalesced when they were freed.
 */
#include "internal.h"

#define STEP_PAGES 512u  /* 4 MiB, ~0.3 ms of madvise */

static uint64_t retained(const heap *h)
{
	return (uint64_t)(h->pages_obj + h->pages_wbuf + h->pages_free - h->pages_released) << PAGE_SHIFT;
}

static struct span *oldest(heap *h)
{
	return list_empty(&h->scavq) ? NULL : container_of(h->scavq.next, struct span, u.free.scav);
}

uint64_t scav_step(heap *h, uint64_t deadline, heap_preempt_fn *preempt, void *arg)
{
	uint64_t now = os_now_ns();
	if (h->st.mallocs != h->scav_mallocs_seen || !h->scav_quiet_since) {
		h->scav_mallocs_seen = h->st.mallocs;
		h->scav_quiet_since = now;
	}
	uint64_t quiet_at = h->scav_quiet_since + h->cfg.release_delay_ns;
	uint64_t goal = now >= quiet_at ? 0 : pacer_retained_goal(h);
	struct span *s;
	while (retained(h) > goal && (s = oldest(h)) != NULL) {
		pages_release(h, s, STEP_PAGES);
		if (os_now_ns() >= deadline || (preempt && preempt(arg)))
			break;
	}
	if (retained(h) > goal && oldest(h))
		return 0;
	if (!oldest(h) || now >= quiet_at)
		return HEAP_IDLE_NONE;
	return quiet_at - now;
}

int scav_release_step(heap *h, uint64_t deadline)
{
	struct span *s;
	while ((s = oldest(h)) != NULL) {
		pages_release(h, s, STEP_PAGES);
		if (os_now_ns() >= deadline)
			return oldest(h) != NULL;
	}
	return 0;
}

void scav_release_all(heap *h)
{
	struct span *s;
	while ((s = oldest(h)) != NULL)
		pages_release(h, s, 0);
}
