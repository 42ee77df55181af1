/*
 * gcwork.c - the mark queue: workbufs and their spans (Go's mgcwork.go,
 * with the "free workbufs during sweeping" change).
 *
 * The queue is a set of 2 KiB workbufs, each an array of grey object
 * addresses. Workbufs are cut 16 at a time from 32 KiB workbuf spans taken
 * from the heap's own page heap, so their memory is heap memory: counted in
 * gc_sys while they exist, and reusable for objects once freed.
 *
 * Lists, shared by the mutator and the background mark worker:
 *  - work_full and work_empty are lock-free stacks (a 32-bit counter next to
 *    a 32-bit workbuf index in one CAS word, against ABA).
 *  - wbuf_busy holds every span whose workbufs are in use; wbuf_free the
 *    spans that hold none. Both are under wbuf_lock.
 * A worker owns wbuf1 and wbuf2 (struct gcwork); see gcw_put_slow for the
 * hysteresis they give. Only the mutator takes new workbuf spans from the
 * page heap, which is its alone: the mark worker reuses free ones, and when
 * there are none it asks the mutator (bg_wait serves it).
 *
 * Lifecycle of a workbuf span:
 *   page heap --getempty--> busy --mark termination--> free
 *   free --getempty (reuse)--> busy;  free --sweeper (wbuf_free_some)--> page heap
 * At mark termination the queue is empty, so every workbuf is on work_empty
 * and none is in use: wbuf_prepare_free() drops the empty list wholesale and
 * moves all busy spans to free. The idle sweeper frees them in batches
 * after it has swept every span; a refilling getempty() takes one back
 * first. So workbuf memory follows the current heap, not the peak one.
 */
#include "internal.h"

#define LF_INDEX_MASK 0xffffffffULL

static uint64_t lf_index(const heap *h, const struct workbuf *b)
{
	return b ? (uint64_t)((const uint8_t *)b - h->base) / WBUF_SIZE + 1 : 0;
}

static struct workbuf *lf_node(const heap *h, uint64_t v)
{
	uint64_t i = v & LF_INDEX_MASK;
	return i ? (struct workbuf *)(h->base + (i - 1) * WBUF_SIZE) : NULL;
}

static void lf_push(heap *h, struct lfstack *st, struct workbuf *b)
{
	uint64_t old = atomic_load_explicit(&st->head, memory_order_relaxed), new;
	do {
		__atomic_store_n(&b->next, lf_node(h, old), __ATOMIC_RELAXED);
		new = ((old >> 32) + 1) << 32 | lf_index(h, b);
	} while (!atomic_compare_exchange_weak_explicit(&st->head, &old, new, memory_order_release,
							 memory_order_relaxed));
}

/* Reading b->next of a node another worker just popped is safe: workbuf
 * memory stays mapped while marking, and the counter fails the CAS. The
 * read races that worker's next push, so both are atomic. */
static struct workbuf *lf_pop(heap *h, struct lfstack *st)
{
	uint64_t old = atomic_load_explicit(&st->head, memory_order_acquire), new;
	struct workbuf *b;
	do {
		b = lf_node(h, old);
		if (!b)
			return NULL;
		new = ((old >> 32) + 1) << 32 | lf_index(h, __atomic_load_n(&b->next, __ATOMIC_RELAXED));
	} while (!atomic_compare_exchange_weak_explicit(&st->head, &old, new, memory_order_acquire,
							 memory_order_acquire));
	return b;
}

static int lf_empty(const struct lfstack *st)
{
	return (atomic_load_explicit(&st->head, memory_order_acquire) & LF_INDEX_MASK) == 0;
}

void wbuf_init(heap *h)
{
	pthread_mutex_init(&h->wbuf_lock, NULL);
	list_init(&h->wbuf_busy);
	list_init(&h->wbuf_free);
	atomic_init(&h->work_full.head, 0);
	atomic_init(&h->work_empty.head, 0);
}

void wbuf_destroy(heap *h)
{
	pthread_mutex_destroy(&h->wbuf_lock);
}

/* A workbuf span for the busy list: a free one, else (mutator only) a new
 * one from the page heap; NULL when the worker finds none free. */
static struct span *wbuf_span(heap *h, int background)
{
	struct span *s = NULL;
	pthread_mutex_lock(&h->wbuf_lock);
	if (!list_empty(&h->wbuf_free)) {
		s = container_of(h->wbuf_free.next, struct span, link);
		list_remove(&s->link);
		h->nwbuf_free--;
		h->st.wbuf_reused++;
	}
	pthread_mutex_unlock(&h->wbuf_lock);
	if (!s) {
		if (background)
			return NULL;
		s = pages_alloc(h, WBUF_SPAN_PAGES, PAGES_WBUF);
		if (!s)
			heap_throw("arena exhausted by workbufs");
		h->st.wbuf_alloc++;  /* the mutator's alone, as the page heap */
	}
	pthread_mutex_lock(&h->wbuf_lock);
	list_push_head(&h->wbuf_busy, &s->link);
	h->nwbuf_busy++;
	pthread_mutex_unlock(&h->wbuf_lock);
	return s;
}

/* Puts the workbufs of s from the first-th on the empty list. */
static void wbuf_carve(heap *h, struct span *s, unsigned first)
{
	uint8_t *base = span_base(h, s);
	for (unsigned i = first; i < WBUF_SPAN_BYTES / WBUF_SIZE; i++) {
		struct workbuf *w = (struct workbuf *)(base + i * WBUF_SIZE);
		w->nobj = 0;
		lf_push(h, &h->work_empty, w);
	}
}

void wbuf_provide(heap *h)
{
	wbuf_carve(h, wbuf_span(h, 0), 0);
}

/* Go's getempty. The mark worker, short of empties, waits for the mutator
 * to provide some (bg_need_empty). */
static struct workbuf *getempty(heap *h, struct gcwork *w)
{
	for (;;) {
		struct workbuf *b = lf_pop(h, &h->work_empty);
		if (b) {
			b->nobj = 0;
			return b;
		}
		struct span *s = wbuf_span(h, w->background);
		if (s) {
			/* Keep the first workbuf, put the rest on the empty list. */
			wbuf_carve(h, s, 1);
			b = (struct workbuf *)span_base(h, s);
			b->nobj = 0;
			return b;
		}
		bg_need_empty(h);
	}
}

/* A full wbuf1 swaps with wbuf2; only when both are full does one go to the
 * global full list. A worker oscillating around a buffer boundary thus
 * stays off the shared lists. */
void gcw_put_slow(heap *h, struct gcwork *w, uintptr_t p)
{
	if (!w->wbuf1) {
		w->wbuf1 = getempty(h, w);
		w->wbuf2 = getempty(h, w);
	} else {
		struct workbuf *t = w->wbuf1;
		w->wbuf1 = w->wbuf2;
		w->wbuf2 = t;
		if (w->wbuf1->nobj == WBUF_NOBJ) {
			lf_push(h, &h->work_full, w->wbuf1);
			w->wbuf1 = getempty(h, w);
		}
	}
	w->wbuf1->obj[w->wbuf1->nobj++] = p;
}

uintptr_t gcw_tryget_slow(heap *h, struct gcwork *w)
{
	if (!w->wbuf1) {
		struct workbuf *f = lf_pop(h, &h->work_full);
		if (!f)
			return 0;
		w->wbuf1 = f;
		w->wbuf2 = getempty(h, w);
		return w->wbuf1->obj[--w->wbuf1->nobj];
	}
	struct workbuf *t = w->wbuf1;
	w->wbuf1 = w->wbuf2;
	w->wbuf2 = t;
	if (w->wbuf1->nobj == 0) {
		struct workbuf *f = lf_pop(h, &h->work_full);
		if (!f)
			return 0;
		lf_push(h, &h->work_empty, w->wbuf1);
		w->wbuf1 = f;
	}
	return w->wbuf1->obj[--w->wbuf1->nobj];
}

int work_full_empty(const heap *h)
{
	return lf_empty(&h->work_full);
}

int gcw_empty(const heap *h)
{
	const struct gcwork *w = &h->gcw;
	return (!w->wbuf1 || w->wbuf1->nobj == 0) && (!w->wbuf2 || w->wbuf2->nobj == 0) &&
	       lf_empty(&h->work_full);
}

void gcw_dispose(heap *h, struct gcwork *w)
{
	if (w->wbuf1)
		lf_push(h, w->wbuf1->nobj ? &h->work_full : &h->work_empty, w->wbuf1);
	if (w->wbuf2)
		lf_push(h, w->wbuf2->nobj ? &h->work_full : &h->work_empty, w->wbuf2);
	w->wbuf1 = w->wbuf2 = NULL;
}

/* Go's prepareFreeWorkbufs: only valid when every workbuf is empty. */
void wbuf_prepare_free(heap *h)
{
	pthread_mutex_lock(&h->wbuf_lock);
	if (!lf_empty(&h->work_full))
		heap_throw("cannot free workbufs when work_full is not empty");
	atomic_store(&h->work_empty.head, 0);
	list_take_all(&h->wbuf_free, &h->wbuf_busy);
	h->nwbuf_free += h->nwbuf_busy;
	h->nwbuf_busy = 0;
	pthread_mutex_unlock(&h->wbuf_lock);
}

/* Go's freeSomeWbufs: frees up to 64 workbuf spans to the page heap, only
 * between cycles. With a deadline it stops early once the deadline passes
 * or preempt says requests are waiting (checked every 16 spans, so a check
 * costs little next to ~100 ns per span). Returns whether spans remain. */
int wbuf_free_some(heap *h, uint64_t deadline, heap_preempt_fn *preempt, void *arg)
{
	enum { BATCH = 64, CHECK = 16 };
	pthread_mutex_lock(&h->wbuf_lock);
	if (h->phase != GC_OFF || list_empty(&h->wbuf_free)) {
		pthread_mutex_unlock(&h->wbuf_lock);
		return 0;
	}
	for (unsigned i = 0; i < BATCH && !list_empty(&h->wbuf_free); i++) {
		if (deadline && i && i % CHECK == 0 &&
		    (os_now_ns() >= deadline || (preempt && preempt(arg))))
			break;
		struct span *s = container_of(h->wbuf_free.next, struct span, link);
		list_remove(&s->link);
		h->nwbuf_free--;
		pages_free(h, s);
		h->st.wbuf_freed++;
	}
	int more = !list_empty(&h->wbuf_free);
	pthread_mutex_unlock(&h->wbuf_lock);
	return more;
}
