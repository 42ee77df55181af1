/*
 * retained.c - what one object reaches: objects and heap bytes
 * (heap_retained_*).
 *
 * A count is a save's walk (save.c) with one object for its roots and
 * nothing emitted: the same seen bitmap, trace stack and copy-on-first-
 * change, so it counts the graph as it was when it began, however the
 * heap changes while it runs in the host's slices. Its phases:
 *   SAVE_WAIT   a collection is marking: the count waits for it to end
 *               (gc_hold: none starts meanwhile);
 *   SAVE_TRACE  walk_trace() from the object, each reached object once;
 *   SAVE_END    counted: objects, and heap_bytes (size classes, or large
 *               objects' spans).
 *
 * Invariants:
 *  - One walk at a time: a count begins only with no save walking or
 *    queued; a save begun while a count walks is queued (save_queued) and
 *    begins once the count ends, its phase and kind untouched meanwhile.
 *  - The object is resolved when the walk starts, with no collection
 *    marking: a live handle then names an object the last mark
 *    termination found reachable, or one allocated since, and so does
 *    every object it reaches (a slot only ever holds a live handle). No
 *    cycle starts until the count ends, and the sweeper frees only what
 *    that termination found unreachable: nothing the count reads is freed.
 */
#include "internal.h"

int heap_retained_begin(heap *h, heap_ref ref)
{
	struct save_state *sv = &h->save;
	if (sv->save_queued || (sv->phase != SAVE_NONE && (sv->kind != WALK_RETAINED || sv->phase != SAVE_WAIT)))
		return HEAP_EINVAL;
	if (sv->phase == SAVE_NONE) {
		gc_hold(h);
		sv->phase = SAVE_WAIT;
		sv->kind = WALK_RETAINED;
	}
	if (h->phase != GC_OFF)
		return 1;
	struct obj o;
	int err = obj_resolve(h, ref, &o);
	if (!err)
		err = walk_start(h);
	if (!err)
		err = walk_push(sv, ref_place(ref));
	if (err) {
		save_cancel(h);
		return err;
	}
	sv->phase = SAVE_TRACE;
	return 0;
}

int heap_retained_step(heap *h, uint64_t budget_ns)
{
	struct save_state *sv = &h->save;
	if (sv->phase == SAVE_NONE || sv->kind != WALK_RETAINED)
		return HEAP_ENOENT;
	if (sv->phase == SAVE_WAIT)
		return 1;
	if (sv->phase == SAVE_TRACE && !sv->failed && walk_trace(h, os_now_ns() + budget_ns) == 0) {
		sv->phase = SAVE_END;
		h->saving = false;  /* no more reads: no copies */
	}
	if (sv->failed)
		return sv->failed;
	return sv->phase != SAVE_END;
}

void heap_retained_result(const heap *h, uint64_t *objects, uint64_t *bytes)
{
	const struct save_state *sv = &h->save;
	int done = sv->kind == WALK_RETAINED && sv->phase == SAVE_END;
	*objects = done ? sv->objects : 0;
	*bytes = done ? sv->heap_bytes : 0;
}

void heap_retained_end(heap *h)
{
	struct save_state *sv = &h->save;
	if (sv->phase == SAVE_NONE || sv->kind != WALK_RETAINED)
		return;
	bool queued = sv->save_queued;
	save_cancel(h);
	sv->save_queued = queued;
}

bool heap_counting(const heap *h)
{
	return h->save.phase != SAVE_NONE && h->save.kind == WALK_RETAINED;
}
