/*
 * benchloop.c - heapctl bench's load generator: one thread, one epoll
 * loop, every connection a libheapd async context driven through the hook
 * interface of <heapd/async.h> (docs/async.md, "Writing an adapter").
 *
 * Batches. Each connection works as redis-benchmark's clients do with -P:
 * it makes a batch of `pipeline` requests, sends them together, waits for
 * every reply, then makes the next batch, until the test's requests are
 * all claimed (a count shared by the connections, so -n is exact). A
 * request's latency runs from when its batch went to the socket to when
 * the read that brought its reply began (the clock is read once per read
 * event, as redis-benchmark does, so decoding is not counted).
 *
 * Writes without a poll. The library asks to write (add_write) when a
 * request is made; instead of watching the socket for EPOLLOUT, which
 * would cost two epoll_ctl and a wake-up per batch, the watch goes on the
 * flush list, and before the loop waits again heapd_async_handle_write is
 * called for each: the socket usually takes the whole batch at once. Only
 * when it does not (EAGAIN) is EPOLLOUT watched, until del_write. So a
 * batch costs what it costs redis-benchmark: epoll_wait, recv, send.
 *
 * Lifetime. A watch is the hooks' state for one context. The library may
 * clean up from inside heapd_async_handle_* (a reply callback freed its
 * context, the daemon went away), while the events epoll_wait returned may
 * still name the watch: cleanup takes it out of epoll and marks it dead,
 * dead watches are skipped, and they are freed only at the start of the
 * next turn (reap), once no event of the last epoll_wait is left. A
 * connection's context is replaced only by get_ref's reconnect (below),
 * between batches, so at most two watches per connection exist in a turn.
 *
 * get_ref. Each get_ref reply is held by the connection (the protocol's
 * rule), and a connection may hold at most max_holds_per_session. Every
 * GETREF_HOLDS held, a connection closes and connects again between two
 * batches (one connect and Hello per GETREF_HOLDS requests, in the timed
 * window), which drops them: its holds stay bounded whatever -n is.
 *
 * Invariants: requests claimed <= o->requests; a connection has requests
 * in flight only from its current batch; the loop ends when all
 * o->requests were answered, or at the first error (the rest is then
 * discarded: a benchmark with a failed request measured nothing).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench.h"
#include "heapctl.h"
#include "heapd/async.h"

#define GETREF_HOLDS (1u << 16)
#define PROGRESS_NS 250000000u  /* the progress line's refresh */
#define MAX_EVENTS 256

struct loop;
struct conn;

/* The hooks' state for one context. */
struct watch {
	struct loop *lp;
	struct conn *c;
	heapd_async *ac;
	int fd;
	unsigned reading : 1;    /* add_read is in force */
	unsigned writing : 1;    /* add_write is in force */
	unsigned out_polled : 1; /* EPOLLOUT is watched (a send was cut short) */
	unsigned in_epoll : 1;
	unsigned queued : 1;     /* on the flush list */
	unsigned dead : 1;       /* cleaned up; freed by reap() */
	struct watch *next_dead;
};

struct conn {
	struct loop *lp;
	unsigned index;
	heapd_async *ac;
	uint32_t inflight;       /* requests of the batch without a reply */
	int fresh;               /* a batch was made and has not gone out yet */
	uint64_t t0;             /* when the batch went out */
	uint64_t seq;            /* requests made: picks the key or object */
	uint64_t holds;          /* get_ref: holds taken on this context */
	heapd_batch **batches;   /* batch: one per request in flight, by seq % pipeline */
	int connected;           /* its first context said Hello */
};

enum phase { L_CONNECTING, L_RUNNING, L_DONE, L_FAILED };

struct loop {
	const struct bench_opts *o;
	const struct bench_setup *s;
	enum bench_test test;
	enum phase phase;
	int epfd;
	struct conn *conns;
	unsigned nconnected;
	uint64_t claimed, answered;
	uint64_t start_ns, end_ns;
	uint64_t now;            /* read before each read event */
	struct hist *lat;
	struct watch **flush;    /* watches that want to write */
	size_t nflush, flush_cap;
	struct watch *dead;
	uint64_t next_progress;
	int progress_len;
	char err[320];
};

/* The first failure ends the run; later ones are its consequences, and
 * once the run is over (L_DONE) closing the contexts is no failure. */
static void failed(struct loop *lp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int active(const struct loop *lp)
{
	return lp->phase == L_CONNECTING || lp->phase == L_RUNNING;
}

static void failed(struct loop *lp, const char *fmt, ...)
{
	if (!active(lp))
		return;
	lp->phase = L_FAILED;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lp->err, sizeof lp->err, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ hooks */

static void watch_epoll(struct watch *w)
{
	struct epoll_event ev = {.events = (w->reading ? EPOLLIN : 0u) | (w->out_polled ? EPOLLOUT : 0u),
				 .data.ptr = w};
	if (epoll_ctl(w->lp->epfd, w->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) != 0)
		failed(w->lp, "epoll_ctl: %s", strerror(errno));
	else
		w->in_epoll = 1;
}

static void hook_add_read(void *data)
{
	struct watch *w = data;
	w->reading = 1;
	watch_epoll(w);
}

static void hook_del_read(void *data)
{
	struct watch *w = data;
	w->reading = 0;
	watch_epoll(w);
}

static void hook_add_write(void *data)
{
	struct watch *w = data;
	struct loop *lp = w->lp;
	w->writing = 1;
	if (w->queued)
		return;
	if (lp->nflush == lp->flush_cap) {
		size_t cap = lp->flush_cap ? 2 * lp->flush_cap : 64;
		struct watch **p = realloc(lp->flush, cap * sizeof *p);
		if (!p) {
			failed(lp, "out of memory");
			return;
		}
		lp->flush = p;
		lp->flush_cap = cap;
	}
	lp->flush[lp->nflush++] = w;
	w->queued = 1;
}

static void hook_del_write(void *data)
{
	struct watch *w = data;
	w->writing = 0;
	if (w->out_polled) {
		w->out_polled = 0;
		watch_epoll(w);
	}
}

static void hook_cleanup(void *data)
{
	struct watch *w = data;
	if (w->in_epoll)
		epoll_ctl(w->lp->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = 1;
	w->next_dead = w->lp->dead;
	w->lp->dead = w;
}

static void reap(struct loop *lp)
{
	while (lp->dead) {
		struct watch *w = lp->dead;
		lp->dead = w->next_dead;
		free(w);
	}
}

/* ------------------------------------------------------ connections */

static void on_reply(heapd_async *ac, const heapd_reply *r, void *privdata);

static void on_connect(heapd_async *ac, int status)
{
	struct conn *c = heapd_async_data(ac);
	if (status != HEAPD_OK) {
		failed(c->lp, "connection %u: %s", c->index, heapd_async_errmsg(ac));
	} else if (!c->connected) {
		c->connected = 1;
		c->lp->nconnected++;
	}
}

static void on_disconnect(heapd_async *ac, int status)
{
	struct conn *c = heapd_async_data(ac);
	if (status != HEAPD_OK)
		failed(c->lp, "connection %u: %s", c->index, heapd_async_errmsg(ac));
}

/* A new context for c, attached to the loop; its Hello is queued. */
static int conn_open(struct conn *c)
{
	struct loop *lp = c->lp;
	heapd_async *ac = heapd_async_connect(lp->s->socket);
	struct watch *w = calloc(1, sizeof *w);
	if (!ac || !w) {
		heapd_async_free(ac);
		free(w);
		failed(lp, "out of memory");
		return -1;
	}
	if (heapd_async_errcode(ac)) {
		failed(lp, "%s", heapd_async_errmsg(ac));
		heapd_async_free(ac);
		free(w);
		return -1;
	}
	heapd_async_set_data(ac, c);
	heapd_async_set_connect_cb(ac, on_connect);
	heapd_async_set_disconnect_cb(ac, on_disconnect);
	/* A batch of large requests may exceed the default output limit. */
	uint64_t batch = (uint64_t)lp->o->pipeline * ((uint64_t)lp->o->size + 64);
	if (batch > HEAPD_ASYNC_MAX_OUTPUT)
		heapd_async_set_max_output(ac, (size_t)batch);
	*w = (struct watch){.lp = lp, .c = c, .ac = ac, .fd = heapd_async_fd(ac)};
	struct heapd_async_events ev = {
		.data = w,
		.add_read = hook_add_read,
		.del_read = hook_del_read,
		.add_write = hook_add_write,
		.del_write = hook_del_write,
		.cleanup = hook_cleanup,
	};
	int err = heapd_async_attach(ac, &ev);
	if (err) {
		failed(lp, "connection %u: %s", c->index, heapd_strerror(err));
		heapd_async_free(ac);
		free(w);
		return -1;
	}
	c->ac = ac;
	return 0;
}

/* get_ref: drops c's holds by closing its context (from inside its last
 * reply's callback: the library frees it when the callback returns) and
 * connecting again. */
static int conn_reopen(struct conn *c)
{
	heapd_async_free(c->ac);
	c->ac = NULL;
	c->holds = 0;
	return conn_open(c);
}

/* ---------------------------------------------------------- batches */

/* batch: a two-object list with its data in one request, stored in a slot
 * of the connection's key space (the list it replaces becomes garbage):
 * keys[c].slot = A(d bytes), then A[0] = B(d bytes). b is this request's
 * own until its reply (the requests in flight on c have consecutive seqs,
 * at most a pipeline of them, so seq % pipeline tells them apart). */
static int make_batch(struct conn *c, heapd_batch *b, uint32_t slot)
{
	const struct bench_setup *s = c->lp->s;
	uint32_t d = c->lp->o->size;
	heapd_batch_reset(b);
	if (heapd_batch_alloc_into(b, s->keys[c->index], slot, 1, d, s->data, d) < 0 ||
	    heapd_batch_alloc_into(b, heapd_batch_result(0), 0, 0, d, s->data, d) < 0)
		return HEAPD_ENOBUFS;
	return heapd_async_batch(c->ac, b, on_reply, c);
}

static int make_request(struct conn *c)
{
	struct loop *lp = c->lp;
	const struct bench_setup *s = lp->s;
	uint32_t d = lp->o->size;
	uint64_t i = c->seq++;
	heapd_ref obj = s->pool ? s->pool[i % BENCH_POOL] : 0;
	switch (lp->test) {
	case BT_ALLOC:
		/* keys[c].slot = new object(data): the one it replaces is garbage */
		return heapd_async_alloc_into(c->ac, s->keys[c->index], (uint32_t)(i % BENCH_KEYS), 0, d, s->data, d,
					      on_reply, c);
	case BT_WRITE:
		return heapd_async_write(c->ac, obj, 0, s->data, d, on_reply, c);
	case BT_READ:
		return heapd_async_read(c->ac, obj, 0, d, on_reply, c);
	case BT_SET_REF:
		return heapd_async_set_ref(c->ac, obj, (uint32_t)(i % BENCH_POOL_NREFS),
					   s->pool[(i * 7 + 1) % BENCH_POOL], on_reply, c);
	case BT_GET_REF:
		return heapd_async_get_ref(c->ac, obj, 0, on_reply, c);
	case BT_BATCH:
		return make_batch(c, c->batches[i % lp->o->pipeline], (uint32_t)(i % BENCH_KEYS));
	case BT_NTESTS:
		break;
	}
	return HEAPD_EINVAL;
}

/* Claims up to a pipeline of requests and makes them; they go out when
 * the loop flushes. */
static void send_batch(struct conn *c)
{
	struct loop *lp = c->lp;
	uint64_t left = lp->o->requests - lp->claimed;
	uint32_t k = left < lp->o->pipeline ? (uint32_t)left : lp->o->pipeline;
	lp->claimed += k;
	c->inflight = k;
	c->fresh = k > 0;
	for (uint32_t i = 0; i < k; i++) {
		int err = make_request(c);
		if (err) {
			failed(lp, "connection %u: %s: %s", c->index, bench_test_name[lp->test], heapd_strerror(err));
			return;
		}
	}
}

static void on_reply(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct conn *c = privdata;
	struct loop *lp = c->lp;
	(void)ac;
	if (lp->phase != L_RUNNING)
		return; /* the run is over: the contexts are being freed */
	if (r->status != HEAPD_OK) {
		failed(lp, "connection %u: %s", c->index, r->error); /* the daemon's names the operation */
		return;
	}
	hist_add(lp->lat, lp->now > c->t0 ? lp->now - c->t0 : 0);
	c->holds += lp->test == BT_GET_REF && r->ref;
	if (++lp->answered == lp->o->requests) {
		lp->end_ns = lp->now;
		lp->phase = L_DONE;
		return;
	}
	if (--c->inflight || lp->claimed == lp->o->requests)
		return;
	if (c->holds >= GETREF_HOLDS && conn_reopen(c) != 0)
		return;
	send_batch(c);
}

/* ------------------------------------------------------------- loop */

/* Sends what each watch on the flush list has (see the top). */
static void flush_all(struct loop *lp)
{
	for (size_t i = 0; i < lp->nflush; i++) {
		struct watch *w = lp->flush[i];
		w->queued = 0;
		if (w->dead || !w->writing)
			continue;
		if (w->c->fresh) {
			w->c->fresh = 0;
			w->c->t0 = ctl_now_ns();
		}
		heapd_async_handle_write(w->ac);
		if (!w->dead && w->writing && !w->out_polled) {
			w->out_polled = 1;
			watch_epoll(w);
		}
	}
	lp->nflush = 0;
}

static void progress(struct loop *lp)
{
	if (!lp->o->progress || lp->phase != L_RUNNING)
		return;
	uint64_t now = ctl_now_ns();
	if (now < lp->next_progress)
		return;
	lp->next_progress = now + PROGRESS_NS;
	double secs = (double)(now - lp->start_ns) / 1e9;
	int n = fprintf(stderr, "\r%s: %.2f", bench_test_name[lp->test], secs > 0 ? (double)lp->answered / secs : 0);
	if (n < lp->progress_len)
		fprintf(stderr, "%*s", lp->progress_len - n, ""); /* what the last line had more */
	else
		lp->progress_len = n;
}

/* Milliseconds epoll_wait may wait: until the next progress line. */
static int wait_ms(const struct loop *lp)
{
	if (!lp->o->progress || lp->phase != L_RUNNING)
		return -1;
	uint64_t now = ctl_now_ns();
	return now >= lp->next_progress ? 0 : (int)((lp->next_progress - now) / 1000000u) + 1;
}

static void turn(struct loop *lp)
{
	struct epoll_event ev[MAX_EVENTS];
	flush_all(lp);
	reap(lp);
	if (!active(lp))
		return;
	int n = epoll_wait(lp->epfd, ev, MAX_EVENTS, wait_ms(lp));
	if (n < 0 && errno != EINTR)
		failed(lp, "epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n && active(lp); i++) {
		struct watch *w = ev[i].data.ptr;
		if (!w->dead && w->reading && (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
			lp->now = ctl_now_ns();
			heapd_async_handle_read(w->ac);
		}
		if (!w->dead && w->writing && (ev[i].events & (EPOLLOUT | EPOLLERR)))
			heapd_async_handle_write(w->ac);
	}
	progress(lp);
}

static int batches_new(struct conn *c)
{
	uint32_t n = c->lp->o->pipeline;
	if (!(c->batches = calloc(n, sizeof *c->batches)))
		return -1;
	for (uint32_t k = 0; k < n; k++)
		if (!(c->batches[k] = heapd_batch_new()))
			return -1;
	return 0;
}

static void start(struct loop *lp)
{
	lp->phase = L_RUNNING;
	lp->start_ns = ctl_now_ns();
	lp->next_progress = lp->start_ns + PROGRESS_NS;
	for (unsigned i = 0; i < lp->o->conns && lp->phase == L_RUNNING; i++)
		send_batch(&lp->conns[i]);
}

static void finish(struct loop *lp)
{
	if (lp->progress_len)
		fprintf(stderr, "\r%*s\r", lp->progress_len, "");
	for (unsigned i = 0; lp->conns && i < lp->o->conns; i++)
		heapd_async_free(lp->conns[i].ac);
	for (unsigned i = 0; lp->conns && i < lp->o->conns; i++) {
		for (uint32_t k = 0; lp->conns[i].batches && k < lp->o->pipeline; k++)
			heapd_batch_free(lp->conns[i].batches[k]);
		free(lp->conns[i].batches);
	}
	reap(lp);
	free(lp->flush);
	free(lp->conns);
	if (lp->epfd >= 0)
		close(lp->epfd);
}

int bench_loop_run(const struct bench_opts *o, const struct bench_setup *s, enum bench_test t,
		   struct bench_result *res)
{
	struct loop lp = {.o = o, .s = s, .test = t, .phase = L_CONNECTING, .lat = &res->lat};
	hist_clear(&res->lat);
	lp.epfd = epoll_create1(EPOLL_CLOEXEC);
	lp.conns = calloc(o->conns, sizeof *lp.conns);
	if (lp.epfd < 0)
		failed(&lp, "epoll_create1: %s", strerror(errno));
	else if (!lp.conns)
		failed(&lp, "out of memory");
	for (unsigned i = 0; i < o->conns && lp.phase == L_CONNECTING; i++) {
		lp.conns[i] = (struct conn){.lp = &lp, .index = i, .seq = (uint64_t)i * 101};
		if (t == BT_BATCH && batches_new(&lp.conns[i]) != 0)
			failed(&lp, "out of memory");
		else
			conn_open(&lp.conns[i]);
	}
	while (active(&lp)) {
		if (lp.phase == L_CONNECTING && lp.nconnected == o->conns)
			start(&lp);
		turn(&lp);
	}
	int ok = lp.phase == L_DONE;
	res->requests = lp.answered;
	res->elapsed_ns = ok ? lp.end_ns - lp.start_ns : 0;
	finish(&lp);
	if (!ok) {
		fprintf(stderr, "heapctl: bench: %s\n", lp.err);
		return CTL_ERROR;
	}
	return CTL_OK;
}
