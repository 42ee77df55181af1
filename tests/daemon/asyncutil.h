/*
 * asyncutil.h - what the async API's tests share: an event loop of either
 * shipped adapter (libevent, libuv) behind four calls, so that each test
 * runs on both real loops; and a tally of the callbacks a test saw, so that
 * it can check each ran exactly once. Include after daemonutil.h.
 *
 * A loop runs until it has nothing left to watch: the library's cleanup
 * hook removes the context's events when its connection closes, so
 * loop_run() returns then. loop_close() checks that nothing was left
 * behind (libuv refuses to close a loop with handles still open).
 */
#ifndef HEAPD_ASYNCUTIL_H
#define HEAPD_ASYNCUTIL_H

#include <event2/event.h>
#include <uv.h>

#include "daemonutil.h"
#include "heapd/async.h"
#include "heapd/adapters/libevent.h"
#include "heapd/adapters/libuv.h"

enum loop_kind { LOOP_LIBEVENT, LOOP_LIBUV };

struct loop {
	enum loop_kind kind;
	struct event_base *base;
	uv_loop_t uv;
};

static inline void loop_open(struct loop *l, enum loop_kind kind)
{
	memset(l, 0, sizeof *l);
	l->kind = kind;
	if (kind == LOOP_LIBEVENT)
		assert_non_null(l->base = event_base_new());
	else
		assert_int_equal(uv_loop_init(&l->uv), 0);
}

static inline int loop_attach(struct loop *l, heapd_async *ac)
{
	return l->kind == LOOP_LIBEVENT ? heapd_libevent_attach(ac, l->base) : heapd_libuv_attach(ac, &l->uv);
}

static inline void loop_run(struct loop *l)
{
	if (l->kind == LOOP_LIBEVENT)
		assert_true(event_base_dispatch(l->base) >= 0);
	else
		uv_run(&l->uv, UV_RUN_DEFAULT);
}

static inline void loop_close(struct loop *l)
{
	if (l->kind == LOOP_LIBEVENT) {
		event_base_free(l->base);
	} else {
		uv_run(&l->uv, UV_RUN_DEFAULT); /* close callbacks still due */
		assert_int_equal(uv_loop_close(&l->uv), 0);
	}
}

/* Each test on both loops, under its own name: BOTH(name) defines
 * name_libevent and name_libuv calling name(kind). */
#define BOTH(fn)                                      \
	static void fn##_libevent(void **state)       \
	{                                             \
		(void)state;                          \
		fn(LOOP_LIBEVENT);                    \
	}                                             \
	static void fn##_libuv(void **state)          \
	{                                             \
		(void)state;                          \
		fn(LOOP_LIBUV);                       \
	}
#define TEST_BOTH(fn) cmocka_unit_test(fn##_libevent), cmocka_unit_test(fn##_libuv)

/* What a test saw. The context's data pointer is its tally. */
struct tally {
	struct loop loop;
	struct daemon d;
	heapd_async *ac;
	int connects, connect_status;
	int disconnects, disconnect_status;
	size_t replies;        /* request callbacks run */
	size_t ok, errors;     /* of which with HEAPD_OK, with an error */
	uint64_t last_id;      /* replies come in request order */
	void *test;            /* the test's own state */
};

static inline void tally_connect_cb(heapd_async *ac, int status)
{
	struct tally *t = heapd_async_data(ac);
	t->connects++;
	t->connect_status = status;
}

static inline void tally_disconnect_cb(heapd_async *ac, int status)
{
	struct tally *t = heapd_async_data(ac);
	assert_int_equal(t->connects, 1);
	assert_int_equal(t->connect_status, HEAPD_OK);
	t->disconnects++;
	t->disconnect_status = status;
}

/* Counts a request callback and checks the order of ids. */
static inline struct tally *tally_reply(heapd_async *ac, const heapd_reply *r)
{
	struct tally *t = heapd_async_data(ac);
	assert_non_null(t);
	assert_true(r->id > t->last_id);
	t->last_id = r->id;
	t->replies++;
	if (r->status == HEAPD_OK) {
		t->ok++;
		assert_string_equal(r->error, "");
	} else {
		t->errors++;
		assert_true(r->error && r->error[0]);
	}
	return t;
}

/* A context on sock, its data the tally, attached to the tally's loop. */
static inline heapd_async *tally_connect(struct tally *t, const char *sock)
{
	heapd_async *ac = heapd_async_connect(sock);
	assert_non_null(ac);
	if (heapd_async_errcode(ac))
		fail_msg("heapd_async_connect: %s", heapd_async_errmsg(ac));
	heapd_async_set_data(ac, t);
	heapd_async_set_connect_cb(ac, tally_connect_cb);
	heapd_async_set_disconnect_cb(ac, tally_disconnect_cb);
	assert_int_equal(loop_attach(&t->loop, ac), 0);
	t->ac = ac;
	return ac;
}

/* A fresh tally with its loop, and a daemon of its own unless nodaemon. */
static inline void tally_start(struct tally *t, enum loop_kind kind, int nodaemon)
{
	memset(t, 0, sizeof *t);
	loop_open(&t->loop, kind);
	if (!nodaemon)
		daemon_start(&t->d, NULL);
}

/* The tally of a test's next context: counters cleared; the loop, the
 * daemon and the test's state kept. */
static inline void tally_again(struct tally *t)
{
	void *test = t->test;
	memset(&t->ac, 0, sizeof *t - offsetof(struct tally, ac));
	t->test = test;
}

#endif
