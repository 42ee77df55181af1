/*
 * collector.c - the collector's share of the loop.
 *
 * Three kinds of work, each in bounded pieces between requests:
 *  - collector slices (heap_gc_slice, gc_slice_us each) while a cycle runs.
 *    While clients are being served, a slice runs only once the previous
 *    one is three slices old, so marking takes about a quarter of the
 *    thread, as Go's background worker does; assists make fast allocators
 *    pay for the rest. When the loop is otherwise idle, or a client waits
 *    on a collection it asked for, slices run back to back;
 *  - idle work (heap_idle: sweeping, freeing workbuf spans, scavenging),
 *    only in iterations that saw no I/O and leave no session a turn to
 *    come (a batch held past its turn keeps the loop busy without I/O),
 *    preempted as soon as the loop has events waiting (the epoll fd polls
 *    readable);
 *  - deferred sessions (server.ready), one more turn each;
 *  - the engine's walker: a save's steps (persist.c) or a retained
 *    count's (retained.c), in place of collector slices.
 *
 * A prepare handle, which runs just before the loop would wait for
 * events, does this work. The idle handle (which makes libuv poll with a
 * zero timeout) is active only while work must run now: deferred sessions,
 * a client waiting on a collection, or work that found the loop idle and
 * is not finished. After a busy iteration with work pending, a 1 ms timer
 * brings the loop back if the clients go quiet, so a stream of requests
 * costs no extra system call. When heap_idle says more work is due only
 * later (the scavenger's release delay), a timer wakes the loop then. So an
 * idle daemon sleeps in epoll_wait at 0% CPU.
 *
 * Requested collections (heapd_gc, heapd_free_os_memory): the session
 * waits for a cycle that starts after its request (heap_gc_begin queues one
 * behind a cycle already marking) to finish and be swept; the check
 * callback answers it then; while one waits, slices run every iteration
 * (still one slice between two polls for I/O). An allocation that found
 * no room waits the same way for the cycle the engine has in flight
 * (heap_room_cycle), on room_waiters, but at the usual duty cycle: a
 * storm of failing allocations must cost the others no more collector
 * time than a busy heap does (Go's GC CPU limiter guards the same death
 * spiral, golang/go#58106). It only lets idle work (sweeping, which the
 * answer needs) run in busy iterations too, preempted by pending I/O.
 *
 * idle_gc_period_s: like Go's forced GC every two minutes, a cycle starts
 * when none has run for that long and something happened meanwhile (a
 * request, or a connection that ended, dropping its holds), so garbage
 * left by clients that went quiet or crashed is found and its memory
 * returned; an untouched heap is left alone.
 */
#include <poll.h>
#include <sched.h>
#include <time.h>

#include "log.h"
#include "server.h"

#define IDLE_BUDGET_NS 1000000u   /* one heap_idle call */
#define DUTY 3u                   /* slices run at most 1 in DUTY + 1 of the time when busy */

static bool loop_has_events(void *arg)
{
	struct server *srv = arg;
	struct pollfd p = {.fd = uv_backend_fd(srv->loop), .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

static int waits_done(struct server *srv, const struct session *s)
{
	return heap_cycles(srv->heap) >= s->wait_cycle && heap_swept(srv->heap);
}

/* Answers the sessions on list whose collection is complete.
 * free_os_memory's then waits for every free page to be released, a
 * slice's time per step: releasing is ~70 ms per GiB of free memory. */
static void answer_list(struct server *srv, struct list *list)
{
	struct list *l = list->next;
	while (l != list) {
		struct session *s = container_of(l, struct session, wait_link);
		l = l->next;
		if (!waits_done(srv, s))
			continue;
		if (s->wait_release) {
			if (!heap_release_step(srv->heap, srv->cfg.heap.slice_ns))
				continue;
			s->wait_release = 0;
		}
		list_remove(&s->wait_link);
		s->wait_link.next = s->wait_link.prev = NULL;
		disp_finish_wait(s);
	}
}

static void answer_waiters(struct server *srv)
{
	if (!list_empty(&srv->waiters))
		answer_list(srv, &srv->waiters);
	if (!list_empty(&srv->room_waiters))
		answer_list(srv, &srv->room_waiters);
}

static void run_slice(struct server *srv)
{
	uint64_t slice = srv->cfg.heap.slice_ns;
	heap_gc_slice(srv->heap, slice);
	srv->slice_end_ns = srv_now_ns();
}

/* The engine's walker has work: a save's steps, or a retained count's. */
static bool walker_busy(const struct server *srv)
{
	return persist_busy(srv) || retained_busy(srv);
}

/* Timers only wake the loop: the prepare callback does the work. */
static void on_wake(uv_timer_t *t)
{
	(void)t;
}

static void on_idle(uv_idle_t *handle)
{
	(void)handle; /* while active, the loop does not block: see on_prepare */
}

/* Runs just before the loop would wait for events. An iteration that saw
 * I/O is busy: collector slices keep their duty cycle and idle work waits;
 * a 1 ms timer then brings the loop back if the clients go quiet. */
static void on_prepare(uv_prepare_t *handle)
{
	struct server *srv = handle->data;
	lsn_turn(srv);
	/* Busy: this iteration saw I/O, or a session has a turn to come (a
	 * held batch, frames left): idle work is for when there is none. */
	int busy = srv->io_events != srv->io_seen || !list_empty(&srv->ready);
	srv->io_seen = srv->io_events;
	int waiting = !list_empty(&srv->waiters);
	int room = !list_empty(&srv->room_waiters);
	int now = !list_empty(&srv->ready) || waiting;
	int later = 0;

	if (heap_gc_active(srv->heap)) {
		if (!busy || waiting || srv_now_ns() - srv->slice_end_ns >= DUTY * srv->cfg.heap.slice_ns)
			run_slice(srv);
		if (heap_gc_active(srv->heap)) {
			if (!busy)
				now = 1;
			else
				later = 1;
		}
	}
	/* The walker's steps, a save's or a retained count's (whichever
	 * holds it), take the place of collector slices (no cycle starts
	 * while one runs), with their duty cycle; back to back when a client
	 * waits for the save, or for a collection or room it holds up. */
	if (!heap_gc_active(srv->heap) && walker_busy(srv)) {
		int saver = !list_empty(&srv->persist.waiters) || waiting || room;
		if (!busy || saver || srv_now_ns() - srv->slice_end_ns >= DUTY * srv->cfg.heap.slice_ns) {
			if (retained_busy(srv))
				retained_turn(srv, srv->cfg.heap.slice_ns);
			else
				persist_turn(srv, srv->cfg.heap.slice_ns);
			srv->slice_end_ns = srv_now_ns();
			/* Steps back to back never block in epoll_wait: a client
			 * the kernel wakes on this CPU would wait out the loop's
			 * time slice (3.5 ms seen, bench/persist). */
			sched_yield();
		}
		if (walker_busy(srv)) {
			if (!busy || saver)
				now = 1;
			else
				later = 1;
		}
	}
	if (!heap_gc_active(srv->heap)) {
		if (!busy || waiting || room) {
			uint64_t next = heap_idle(srv->heap, IDLE_BUDGET_NS, loop_has_events, srv);
			if (next == 0)
				now = 1;
			else if (next != HEAP_IDLE_NONE)
				uv_timer_start(&srv->idle_timer, on_wake, (next + 999999) / 1000000, 0);
		} else if (heap_idle_due(srv->heap)) {
			/* Only then: a timer makes every epoll_wait arm a kernel
			 * timer, which a stream of requests should not pay for. */
			later = 1;
		}
	}
	/* An answered session may have gone on to start work: a cycle (its
	 * allocation found no room again), or frames left for a later turn. */
	answer_waiters(srv);
	if (!list_empty(&srv->ready) || !list_empty(&srv->waiters))
		now = 1;
	else if (heap_gc_active(srv->heap))
		later = 1;
	svc_cycle_done(srv);
	svc_status(srv);
	if (now)
		uv_idle_start(&srv->idle, on_idle);
	else
		uv_idle_stop(&srv->idle);
	if (later && !now)
		uv_timer_start(&srv->quiet_timer, on_wake, 1, 0);
}

static void on_check(uv_check_t *handle)
{
	struct server *srv = handle->data;
	/* One more turn for each deferred session; a session that is still
	 * not done puts itself back at the tail. */
	struct list turn;
	list_init(&turn);
	list_take_all(&turn, &srv->ready);
	while (!list_empty(&turn)) {
		struct session *s = container_of(turn.next, struct session, ready_link);
		list_remove(&s->ready_link);
		s->ready_link.next = s->ready_link.prev = NULL;
		sess_process(s);
	}
	answer_waiters(srv);
}

static void on_gc_timer(uv_timer_t *t)
{
	struct server *srv = t->data;
	uint64_t cycles = heap_cycles(srv->heap);
	/* Nothing happened since the last look (no request, no connection
	 * ended): the heap is as the last cycle left it. */
	int idle = srv->activity == srv->activity_at_gc;
	srv->activity_at_gc = srv->activity;
	if (idle || heap_gc_active(srv->heap) || cycles != srv->cycles_at_gc) {
		srv->cycles_at_gc = cycles;
		return;
	}
	log_debug("no collection for %llu s: starting one", (unsigned long long)srv->cfg.idle_gc_period_s);
	heap_gc_begin(srv->heap);
	srv->cycles_at_gc = cycles + 1;
	coll_kick(srv);
}

void coll_schedule_gc_timer(struct server *srv)
{
	uint64_t period = srv->cfg.idle_gc_period_s * 1000;
	if (period)
		uv_timer_start(&srv->gc_timer, on_gc_timer, period, period);
	else
		uv_timer_stop(&srv->gc_timer);
}

void coll_kick(struct server *srv)
{
	if (!srv->stopping)
		uv_idle_start(&srv->idle, on_idle);
}

static void wait_for(struct session *s, struct list *list, uint64_t cycle)
{
	s->wait_cycle = cycle;
	s->state = S_WAITING;
	list_push_tail(list, &s->wait_link);
	coll_kick(s->srv);
}

void coll_wait(struct session *s, uint64_t id, int release)
{
	heap *h = s->srv->heap;
	s->wait_id = id;
	s->wait_release = release;
	/* A cycle that starts after this request: the next one, or the one
	 * queued behind the cycle already marking. */
	uint64_t cycle = heap_cycles(h) + (heap_gc_active(h) ? 2 : 1);
	heap_gc_begin(h);
	wait_for(s, &s->srv->waiters, cycle);
}

void coll_wait_room(struct session *s)
{
	s->wait_release = 0;
	wait_for(s, &s->srv->room_waiters, heap_room_cycle(s->srv->heap));
}

int coll_start(struct server *srv)
{
	list_init(&srv->ready);
	list_init(&srv->waiters);
	list_init(&srv->room_waiters);
	list_init(&srv->counts);
	uv_idle_init(srv->loop, &srv->idle);
	uv_prepare_init(srv->loop, &srv->prepare);
	uv_check_init(srv->loop, &srv->check);
	uv_timer_init(srv->loop, &srv->idle_timer);
	uv_timer_init(srv->loop, &srv->quiet_timer);
	uv_timer_init(srv->loop, &srv->gc_timer);
	srv->idle.data = srv->prepare.data = srv->check.data = srv;
	srv->idle_timer.data = srv->quiet_timer.data = srv->gc_timer.data = srv;
	uv_prepare_start(&srv->prepare, on_prepare);
	uv_check_start(&srv->check, on_check);
	uv_unref((uv_handle_t *)&srv->prepare);
	uv_unref((uv_handle_t *)&srv->check);
	uv_unref((uv_handle_t *)&srv->idle_timer);
	uv_unref((uv_handle_t *)&srv->quiet_timer);
	uv_unref((uv_handle_t *)&srv->gc_timer);
	coll_schedule_gc_timer(srv);
	return 0;
}

/* Finishes every requested collection at once (a graceful stop answers
 * what was received). */
void coll_finish_waits(struct server *srv)
{
	/* A held batch answered here may wait for room again at a later op;
	 * each round runs at least one op of it, so this ends. */
	while (!list_empty(&srv->waiters) || !list_empty(&srv->room_waiters)) {
		heap_gc(srv->heap);
		heap_release_all(srv->heap);
		answer_waiters(srv);
	}
}

void coll_stop(struct server *srv)
{
	uv_close((uv_handle_t *)&srv->idle, NULL);
	uv_close((uv_handle_t *)&srv->prepare, NULL);
	uv_close((uv_handle_t *)&srv->check, NULL);
	uv_close((uv_handle_t *)&srv->idle_timer, NULL);
	uv_close((uv_handle_t *)&srv->quiet_timer, NULL);
	uv_close((uv_handle_t *)&srv->gc_timer, NULL);
}
