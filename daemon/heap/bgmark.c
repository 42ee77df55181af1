/*
 * bgmark.c - the background mark worker (Go's gcBgMarkWorker).
 *
 * One thread that drains the mark queue on another CPU while the mutator
 * runs, so marking costs the mutator little more than its root scans and
 * barriers. The mutator still owns the cycle: it starts marking, scans
 * the roots (hold sets are its alone), ends every slice by putting its
 * workbufs on the full list and waking the worker, and terminates.
 *
 * Handshake, all under bg.lock:
 *  - open: set by mark_begin, cleared by the termination that follows;
 *    the worker takes work only while it is set.
 *  - busy: the worker has taken work from the full list. It clears busy
 *    only after putting every workbuf it holds back on a list, so "not
 *    busy and the full list empty" means the queue is empty everywhere
 *    but in the mutator's gcwork, which the mutator checks itself.
 *  - need_empty: the worker has no empty workbuf and no free workbuf span
 *    to cut one from; it waits while the mutator takes a span from the
 *    page heap, which only the mutator may touch (bg_wait, every slice).
 * Termination (bg_try_close) closes only when the worker is not busy and
 * the full list is empty; nothing else can make work while the mutator is
 * in the collector, so marking is then complete.
 *
 * The worker's scan work is credit: assists claim it before marking
 * themselves (Go's bgScanCredit), so a worker that keeps up leaves the
 * mutator no marking to do.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "internal.h"

static void *bg_main(void *arg)
{
	heap *h = arg;
	struct bgmark *bg = &h->bg;
	/* Idle priority: any other thread that wants a CPU takes the worker's
	 * rather than the mutator's, so the worker never lengthens a pause
	 * (marking then falls back to slices and assists). Lowering one's own
	 * priority needs no privilege; if it fails, the worker runs as is. */
	struct sched_param sp = {.sched_priority = 0};
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&bg->lock);
	for (;;) {
		while (!bg->quit && !(bg->open && !work_full_empty(h)))
			pthread_cond_wait(&bg->wake, &bg->lock);
		if (bg->quit)
			break;
		bg->busy = 1;
		pthread_mutex_unlock(&bg->lock);
		uint64_t t0 = os_now_ns();
		mark_drain(h, &bg->gcw);
		gcw_dispose(h, &bg->gcw);
		atomic_fetch_add_explicit(&bg->busy_ns, os_now_ns() - t0, memory_order_relaxed);
		pthread_mutex_lock(&bg->lock);
		bg->busy = 0;
		pthread_cond_broadcast(&bg->idle);
	}
	pthread_mutex_unlock(&bg->lock);
	return NULL;
}

int bg_start(heap *h)
{
	struct bgmark *bg = &h->bg;
	pthread_mutex_init(&bg->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bg->wake, NULL);
	pthread_cond_init(&bg->idle, &ca);
	pthread_condattr_destroy(&ca);
	bg->gcw.background = 1;
	if (pthread_create(&bg->thread, NULL, bg_main, h) != 0) {
		pthread_cond_destroy(&bg->wake);
		pthread_cond_destroy(&bg->idle);
		pthread_mutex_destroy(&bg->lock);
		return -1;
	}
	h->bg_running = 1;
	return 0;
}

void bg_stop(heap *h)
{
	struct bgmark *bg = &h->bg;
	if (!h->bg_running)
		return;
	/* A worker in the middle of a cycle finishes what it holds (it may
	 * need empties to do so) and takes nothing more. */
	pthread_mutex_lock(&bg->lock);
	bg->open = 0;
	pthread_mutex_unlock(&bg->lock);
	bg_wait(h, 0);
	pthread_mutex_lock(&bg->lock);
	bg->quit = 1;
	pthread_cond_broadcast(&bg->wake);
	pthread_mutex_unlock(&bg->lock);
	pthread_join(bg->thread, NULL);
	pthread_cond_destroy(&bg->wake);
	pthread_cond_destroy(&bg->idle);
	pthread_mutex_destroy(&bg->lock);
	h->bg_running = 0;
}

void bg_open(heap *h)
{
	struct bgmark *bg = &h->bg;
	atomic_store_explicit(&bg->scan_work, 0, memory_order_relaxed);
	atomic_store_explicit(&bg->marked_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&bg->credit, 0, memory_order_relaxed);
	bg->gcw.scan_work = 0;
	bg->gcw.marked_bytes = 0;
	pthread_mutex_lock(&bg->lock);
	bg->open = 1;
	pthread_mutex_unlock(&bg->lock);
}

int bg_try_close(heap *h)
{
	struct bgmark *bg = &h->bg;
	pthread_mutex_lock(&bg->lock);
	int idle = !bg->busy && work_full_empty(h);
	if (idle)
		bg->open = 0;
	pthread_mutex_unlock(&bg->lock);
	return idle;
}

void bg_kick(heap *h)
{
	if (work_full_empty(h))
		return;
	pthread_mutex_lock(&h->bg.lock);
	pthread_cond_signal(&h->bg.wake);
	pthread_mutex_unlock(&h->bg.lock);
}

void bg_need_empty(heap *h)
{
	struct bgmark *bg = &h->bg;
	pthread_mutex_lock(&bg->lock);
	bg->need_empty = 1;
	pthread_cond_broadcast(&bg->idle);
	while (bg->need_empty)
		pthread_cond_wait(&bg->wake, &bg->lock);
	pthread_mutex_unlock(&bg->lock);
}

/* Called with bg->lock held. */
static void serve_locked(heap *h)
{
	struct bgmark *bg = &h->bg;
	if (!bg->need_empty)
		return;
	pthread_mutex_unlock(&bg->lock);
	wbuf_provide(h);
	pthread_mutex_lock(&bg->lock);
	bg->need_empty = 0;
	bg->provided++;
	pthread_cond_broadcast(&bg->wake);
}

void bg_serve(heap *h)
{
	pthread_mutex_lock(&h->bg.lock);
	serve_locked(h);
	pthread_mutex_unlock(&h->bg.lock);
}

void bg_wait(heap *h, uint64_t deadline)
{
	struct bgmark *bg = &h->bg;
	pthread_mutex_lock(&bg->lock);
	for (;;) {
		serve_locked(h);
		if (!bg->busy)
			break;
		if (!deadline) {
			pthread_cond_wait(&bg->idle, &bg->lock);
			continue;
		}
		struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u),
				      .tv_nsec = (long)(deadline % 1000000000u)};
		if (pthread_cond_timedwait(&bg->idle, &bg->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&bg->lock);
}

uint64_t bg_claim(heap *h, uint64_t want)
{
	uint64_t have = atomic_load_explicit(&h->bg.credit, memory_order_relaxed);
	uint64_t take = have < want ? have : want;
	/* Only the worker adds and only the mutator takes: no lower bound race. */
	atomic_fetch_sub_explicit(&h->bg.credit, take, memory_order_relaxed);
	return take;
}
