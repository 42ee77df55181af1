/*
 * test_async.c - the async API against a real heapd, on both adapters'
 * real loops (libevent and libuv): every operation, ten thousand requests
 * in flight with each reply matched to its callback, the daemon stopped
 * in the middle (every pending callback fails exactly once) and a new
 * context after it restarts, heapd_async_free and heapd_async_disconnect
 * from inside callbacks, requests timing out against a stopped daemon,
 * and batches. No test asserts on timing.
 */
#include <sys/ioctl.h>

#include "asyncutil.h"

#define MANY 10000

/* One request of a test, its privdata: the callback checks it is its own. */
struct req {
	struct tally *t;
	uint32_t idx;
	int phase;        /* which of its chained requests is in flight */
	int calls[3];     /* callbacks run, per phase */
	int status;
	heapd_ref ref;
};

static struct req *reqs_new(struct tally *t, size_t n)
{
	struct req *q = calloc(n, sizeof *q);
	assert_non_null(q);
	for (size_t i = 0; i < n; i++) {
		q[i].t = t;
		q[i].idx = (uint32_t)i;
	}
	return q;
}

static struct req *req_of(heapd_async *ac, void *privdata)
{
	struct req *q = privdata;
	assert_non_null(q);
	assert_ptr_equal(q->t, heapd_async_data(ac));
	q->calls[q->phase]++;
	assert_int_equal(q->calls[q->phase], 1);
	return q;
}

/* --- every operation, each chained on the last reply --- */

struct script {
	int step;
	heapd_ref a, in;
	int done;
};

static void step_cb(heapd_async *ac, const heapd_reply *r, void *privdata);

static void next_step(heapd_async *ac, struct script *s)
{
	int err = 0;
	switch (++s->step) {
	case 1: err = heapd_async_alloc(ac, 2, 16, step_cb, s); break;
	case 2: err = heapd_async_alloc_into(ac, s->a, 0, 0, 8, "slot0", 5, step_cb, s); break;
	case 3: err = heapd_async_write(ac, s->a, 3, "hello", 5, step_cb, s); break;
	case 4: err = heapd_async_read(ac, s->a, 3, 5, step_cb, s); break;
	case 5: err = heapd_async_set_ref(ac, s->a, 1, s->in, step_cb, s); break;
	case 6: err = heapd_async_get_ref(ac, s->a, 1, step_cb, s); break;
	case 7: err = heapd_async_root_set(ac, "async-tree", s->a, step_cb, s); break;
	case 8: err = heapd_async_root_get(ac, "async-tree", step_cb, s); break;
	case 9: err = heapd_async_root_list(ac, step_cb, s); break;
	case 10: err = heapd_async_get_stats(ac, step_cb, s); break;
	case 11: err = heapd_async_release(ac, s->in, step_cb, s); break;  /* the get_ref hold */
	case 12: err = heapd_async_release(ac, s->in, step_cb, s); break;  /* none left */
	case 13: err = heapd_async_read(ac, 0x12345, 0, 1, step_cb, s); break;
	case 14: err = heapd_async_gc(ac, step_cb, s); break;
	case 15: err = heapd_async_free_os_memory(ac, step_cb, s); break;
	case 16: err = heapd_async_ping(ac, step_cb, s); break;
	case 17: err = heapd_async_uid_stats(ac, step_cb, s); break;
	case 18: err = heapd_async_root_chmod(ac, "async-tree", 0600, step_cb, s); break;
	case 19: err = heapd_async_root_chown(ac, "async-tree", HEAPD_ID_KEEP, getgid(), step_cb, s); break;
	case 20: err = heapd_async_root_list(ac, step_cb, s); break;
	default:
		s->done = 1;
		heapd_async_disconnect(ac);
		return;
	}
	assert_int_equal(err, 0);
}

static void step_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct script *s = privdata;
	struct tally *t = tally_reply(ac, r);
	assert_ptr_equal(t->test, s);
	int want = s->step == 12 ? HEAPD_ENOTFOUND : s->step == 13 ? HEAPD_EBADREF : HEAPD_OK;
	if (r->status != want)
		fail_msg("step %d: status %d (%s), want %d", s->step, r->status, r->error, want);
	switch (s->step) {
	case 1: assert_true(r->ref != 0); s->a = r->ref; break;
	case 2: assert_true(r->ref != 0 && r->ref != s->a); s->in = r->ref; break;
	case 4: assert_int_equal(r->len, 5); assert_memory_equal(r->data, "hello", 5); break;
	case 6: assert_true(r->ref == s->in); break;
	case 8: assert_true(r->ref == s->a); break;
	case 9:
	case 20:
		assert_int_equal(r->nnames, 1);
		assert_string_equal(r->names[0], "async-tree");
		assert_int_equal(r->truncated, 0);
		assert_int_equal(r->root_uids[0], getuid());
		assert_int_equal(r->root_gids[0], getgid());
		assert_int_equal(r->root_modes[0], s->step == 9 ? 0644 : 0600);
		break;
	case 17:
		/* The holds of alloc and root_get; get_ref's was released. */
		assert_int_equal(r->nuids, 1);
		assert_int_equal(r->uids[0]->uid, getuid());
		assert_int_equal(r->uids[0]->connections, 1);
		assert_int_equal(r->uids[0]->holds, 2);
		assert_int_equal(r->uids[0]->named_roots, 1);
		assert_int_equal(r->uids[0]->root_name_bytes, strlen("async-tree"));
		assert_int_equal(r->truncated, 0);
		break;
	case 10:
		assert_non_null(r->stats);
		assert_int_equal(r->stats->named_roots, 1);
		assert_int_equal(r->stats->sessions, 1);
		assert_int_equal(r->stats->heap_objects, 2);
		break;
	default:
		assert_true(r->ref == 0 && r->data == NULL && r->stats == NULL && r->uids == NULL);
		break;
	}
	next_step(ac, s);
}

static void every_operation(enum loop_kind kind)
{
	struct tally t;
	struct script s = {0};
	tally_start(&t, kind, 0);
	t.test = &s;
	heapd_async *ac = tally_connect(&t, t.d.sock);
	next_step(ac, &s); /* made before the Hello is answered: it waits behind it */
	loop_run(&t.loop);
	assert_int_equal(s.done, 1);
	assert_int_equal(t.replies, 20);
	assert_int_equal(t.errors, 2);
	assert_int_equal(t.connects, 1);
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_OK);
	assert_int_equal(heapd_async_errcode(ac), 0);
	assert_int_equal(heapd_async_ping(ac, NULL, NULL), HEAPD_EIO); /* closed */
	heapd_async_free(ac);
	loop_close(&t.loop);
	daemon_stop(&t.d);
}
BOTH(every_operation)

/* --- ten thousand in flight: alloc with data, read back, release --- */

static void fill_text(char out[16], uint32_t idx)
{
	memset(out, 0, 16);
	snprintf(out, 16, "req %u", idx);
}

static void many_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct req *q = req_of(ac, privdata);
	struct tally *t = tally_reply(ac, r);
	size_t *done = t->test;
	char text[16];
	int forged = q->idx % 100 == 99;
	switch (q->phase) {
	case 0:
		if (forged) { /* a read of a ref never issued */
			assert_int_equal(r->status, HEAPD_EBADREF);
			break;
		}
		assert_int_equal(r->status, HEAPD_OK);
		assert_true(r->ref != 0);
		q->ref = r->ref;
		q->phase = 1;
		assert_int_equal(heapd_async_read(ac, q->ref, 0, 16, many_cb, q), 0);
		return;
	case 1:
		fill_text(text, q->idx);
		assert_int_equal(r->status, HEAPD_OK);
		assert_int_equal(r->len, 16);
		assert_memory_equal(r->data, text, 16);
		q->phase = 2;
		assert_int_equal(heapd_async_release(ac, q->ref, many_cb, q), 0);
		return;
	default:
		assert_int_equal(r->status, HEAPD_OK);
		break;
	}
	if (++*done == MANY)
		heapd_async_disconnect(ac);
}

static void many_in_flight(enum loop_kind kind)
{
	struct tally t;
	size_t done = 0;
	tally_start(&t, kind, 0);
	t.test = &done;
	struct req *q = reqs_new(&t, MANY);
	heapd_async *ac = tally_connect(&t, t.d.sock);
	/* A timeout far beyond any run: the timer is armed and re-armed, and
	 * never fails a request. */
	heapd_async_set_timeout(ac, 3600u * 1000u);
	for (uint32_t i = 0; i < MANY; i++) {
		char text[16];
		fill_text(text, i);
		if (i % 100 == 99)
			assert_int_equal(heapd_async_read(ac, 0xdead0000u + i, 0, 8, many_cb, &q[i]), 0);
		else
			assert_int_equal(heapd_async_alloc_into(ac, 0, 0, 0, 16, text, (uint32_t)strlen(text), many_cb, &q[i]), 0);
	}
	assert_int_equal(heapd_async_pending(ac), MANY + 1); /* and the Hello */
	loop_run(&t.loop);
	assert_int_equal(done, MANY);
	for (uint32_t i = 0; i < MANY; i++) {
		int forged = i % 100 == 99;
		assert_int_equal(q[i].calls[0], 1);
		assert_int_equal(q[i].calls[1], !forged);
		assert_int_equal(q[i].calls[2], !forged);
	}
	assert_int_equal(t.errors, MANY / 100);
	assert_int_equal(t.replies, 3 * MANY - 2 * (MANY / 100));
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_OK);
	heapd_async_free(ac);
	loop_close(&t.loop);
	free(q);
	daemon_stop(&t.d);
}
BOTH(many_in_flight)

/* --- the daemon stopped in the middle; a new context once it is back --- */

#define STOP_AT 100
#define BIG 4096 /* each reply: enough of them to fill the socket when it stops */
#define STOP_QUEUED (96 << 10) /* bytes of replies waiting to be read at the stop */

struct stopping {
	int sig;
	heapd_ref obj;      /* BIG bytes, read by every request */
	struct req *q;
};

static void stop_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct req *q = req_of(ac, privdata);
	struct tally *t = tally_reply(ac, r);
	struct stopping *s = t->test;
	q->status = r->status;
	if (r->status != HEAPD_OK)
		assert_int_equal(r->status, HEAPD_EIO);
	else
		assert_int_equal(r->len, BIG);
	if (t->ok == STOP_AT && r->status == HEAPD_OK) {
		/* Let heapd fill this end's socket first (a few seconds at most:
		 * a shortfall only makes the test weaker, not fail). */
		int queued = 0;
		for (int i = 0; i < 500 && queued < STOP_QUEUED; i++) {
			if (ioctl(heapd_async_fd(ac), FIONREAD, &queued) != 0)
				break;
			sleep_ms(10);
		}
		if (s->sig == SIGKILL)
			daemon_stop_sig(&t->d, SIGKILL); /* dead once this returns */
		else
			assert_int_equal(kill(t->d.pid, s->sig), 0);
	}
	if (r->status != HEAPD_OK) /* the connection is closed: refused at once */
		assert_int_equal(heapd_async_ping(ac, stop_cb, NULL), HEAPD_EIO);
}

static void ping_then_disconnect(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	(void)privdata;
	tally_reply(ac, r);
	assert_int_equal(r->status, HEAPD_OK);
	heapd_async_disconnect(ac);
}

static void daemon_stopped(enum loop_kind kind, int sig)
{
	struct tally t;
	struct stopping s = {.sig = sig};
	tally_start(&t, kind, 0);
	t.test = &s;
	s.q = reqs_new(&t, MANY);
	heapd *h = client(&t.d);
	assert_int_equal(heapd_alloc(h, 0, BIG, &s.obj), 0);
	assert_int_equal(heapd_root_set(h, "big", s.obj), 0);
	heapd_close(h);
	heapd_async *ac = tally_connect(&t, t.d.sock);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(heapd_async_read(ac, s.obj, 0, BIG, stop_cb, &s.q[i]), 0);
	/* Stopped at the STOP_AT-th reply, heapd leaves replies unread in this
	 * end's socket, far more than one read, and requests unread in its
	 * own, all of them sent already: on a kill, the socket reports an
	 * error (the reset) with replies still to read and nothing to write,
	 * which the loop must see through to the end of the stream. */
	loop_run(&t.loop);

	/* Every request got its callback, exactly once (req_of checks). */
	for (size_t i = 0; i < MANY; i++)
		assert_int_equal(s.q[i].calls[0], 1);
	assert_int_equal(t.ok + t.errors, MANY);
	assert_true(t.ok >= STOP_AT);
	if (sig == SIGKILL)
		assert_true(t.errors > 0); /* 40 MB of replies do not fit in the buffers */
	else
		assert_int_equal(daemon_stop_sig(&t.d, 0), 0); /* a graceful exit */
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_EIO);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_EIO);
	assert_int_equal(heapd_async_pending(ac), 0);
	print_message("# %s: %zu answered, %zu failed\n", sig == SIGKILL ? "SIGKILL" : "SIGTERM", t.ok, t.errors);
	heapd_async_free(ac);

	/* The daemon restarts (on the socket a killed one left behind): a new
	 * context on the same loop works. */
	daemon_spawn(&t.d, NULL);
	tally_again(&t);
	ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_ping(ac, ping_then_disconnect, NULL), 0);
	loop_run(&t.loop);
	assert_int_equal(t.connect_status, HEAPD_OK);
	assert_int_equal(t.ok, 1);
	assert_int_equal(t.disconnect_status, HEAPD_OK);
	heapd_async_free(ac);
	loop_close(&t.loop);
	free(s.q);
	daemon_stop(&t.d);
}

static void daemon_killed(enum loop_kind kind)
{
	daemon_stopped(kind, SIGKILL);
}
BOTH(daemon_killed)

static void daemon_terminated(enum loop_kind kind)
{
	daemon_stopped(kind, SIGTERM);
}
BOTH(daemon_terminated)

/* --- heapd_async_free and heapd_async_disconnect inside callbacks --- */

#define INSIDE 1000
#define ACT_AT 10

enum act { ACT_FREE, ACT_DISCONNECT };

struct inside {
	enum act act;
	struct req *q;
	int acted;
};

static void inside_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct req *q = req_of(ac, privdata);
	struct tally *t = tally_reply(ac, r);
	struct inside *in = t->test;
	q->status = r->status;
	if (in->acted && in->act == ACT_FREE) {
		/* Failed by the free: once each, after the callback that freed. */
		assert_int_equal(r->status, HEAPD_EIO);
		heapd_async_free(ac);       /* no-op: being freed */
		heapd_async_disconnect(ac); /* no-op */
		assert_int_equal(heapd_async_ping(ac, NULL, NULL), HEAPD_EIO);
		return;
	}
	assert_int_equal(r->status, HEAPD_OK);
	if (q->idx + 1 == ACT_AT) {
		in->acted = 1;
		if (in->act == ACT_FREE)
			heapd_async_free(ac);
		else
			heapd_async_disconnect(ac);
		/* Either way, no new requests; ac is still valid here. */
		assert_int_equal(heapd_async_ping(ac, inside_cb, NULL), HEAPD_EIO);
		assert_int_equal(heapd_async_pending(ac), INSIDE - ACT_AT);
	}
}

static void act_inside(enum loop_kind kind, enum act act)
{
	struct tally t;
	struct inside in = {.act = act};
	tally_start(&t, kind, 0);
	t.test = &in;
	in.q = reqs_new(&t, INSIDE);
	heapd_async *ac = tally_connect(&t, t.d.sock);
	for (int i = 0; i < INSIDE; i++)
		assert_int_equal(heapd_async_ping(ac, inside_cb, &in.q[i]), 0);
	loop_run(&t.loop);
	for (int i = 0; i < INSIDE; i++)
		assert_int_equal(in.q[i].calls[0], 1);
	assert_int_equal(t.replies, INSIDE);
	if (act == ACT_FREE) {
		/* The ones after ACT_AT may have been answered before the free
		 * took effect only if they were delivered first: none were. */
		assert_int_equal(t.ok, ACT_AT);
		assert_int_equal(t.errors, INSIDE - ACT_AT);
	} else {
		assert_int_equal(t.ok, INSIDE); /* disconnect finishes what is in flight */
		assert_int_equal(heapd_async_errcode(ac), 0);
		heapd_async_free(ac);
	}
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_OK);
	loop_close(&t.loop);
	free(in.q);
	daemon_stop(&t.d);
}

static void free_inside_callback(enum loop_kind kind)
{
	act_inside(kind, ACT_FREE);
}
BOTH(free_inside_callback)

static void disconnect_inside_callback(enum loop_kind kind)
{
	act_inside(kind, ACT_DISCONNECT);
}
BOTH(disconnect_inside_callback)

/* Freed from the connect callback, from the disconnect callback, and from
 * a callback failed by a dying connection. */
static void free_on_connect(heapd_async *ac, int status)
{
	tally_connect_cb(ac, status);
	heapd_async_free(ac);
}

static void free_on_disconnect(heapd_async *ac, int status)
{
	tally_disconnect_cb(ac, status);
	heapd_async_free(ac);
}

static void count_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	req_of(ac, privdata)->status = r->status;
	tally_reply(ac, r);
}

static void free_on_error_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	count_cb(ac, r, privdata);
	if (r->status != HEAPD_OK)
		heapd_async_free(ac); /* the first failed one frees; the rest still fail once */
}

/* Kills the daemon, then makes requests that can only fail. */
static void kill_on_first_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct tally *t = heapd_async_data(ac);
	struct req *q = t->test;
	count_cb(ac, r, privdata);
	daemon_stop_sig(&t->d, SIGKILL);
	for (int i = 190; i < 200; i++)
		assert_int_equal(heapd_async_ping(ac, free_on_error_cb, &q[i]), 0);
}

static void free_in_other_callbacks(enum loop_kind kind)
{
	struct tally t;
	tally_start(&t, kind, 0);
	struct req *q = reqs_new(&t, 200);

	/* In the connect callback: the requests behind the Hello fail. */
	heapd_async *ac = tally_connect(&t, t.d.sock);
	heapd_async_set_connect_cb(ac, free_on_connect);
	for (int i = 0; i < 50; i++)
		assert_int_equal(heapd_async_ping(ac, count_cb, &q[i]), 0);
	loop_run(&t.loop);
	assert_int_equal(t.connect_status, HEAPD_OK);
	assert_int_equal(t.errors, 50);
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_OK);

	/* In the disconnect callback of a graceful disconnect. */
	tally_again(&t);
	ac = tally_connect(&t, t.d.sock);
	heapd_async_set_disconnect_cb(ac, free_on_disconnect);
	for (int i = 50; i < 100; i++)
		assert_int_equal(heapd_async_ping(ac, count_cb, &q[i]), 0);
	heapd_async_disconnect(ac);
	loop_run(&t.loop);
	assert_int_equal(t.ok, 50);
	assert_int_equal(t.disconnects, 1);

	/* In a callback failed because the daemon died: the first reply kills
	 * it, the first failure frees the context while the others are still
	 * being failed; each still fails once. */
	tally_again(&t);
	t.test = q;
	ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_ping(ac, kill_on_first_cb, &q[100]), 0);
	for (int i = 101; i < 190; i++)
		assert_int_equal(heapd_async_ping(ac, free_on_error_cb, &q[i]), 0);
	loop_run(&t.loop);
	assert_int_equal(t.replies, 100);
	assert_true(t.errors >= 10);
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_EIO);

	for (int i = 0; i < 200; i++)
		assert_int_equal(q[i].calls[0], 1);
	free(q);
	loop_close(&t.loop);
	daemon_spawn(&t.d, NULL); /* for the directory's cleanup */
	daemon_stop(&t.d);
}
BOTH(free_in_other_callbacks)

/* --- a request timeout against a stopped daemon --- */

#define TIMED 100

static uint64_t timed_set_ns; /* when the timeout was set */

static void timed_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct req *q = req_of(ac, privdata);
	tally_reply(ac, r);
	q->status = r->status;
	assert_int_equal(r->status, HEAPD_ETIMEDOUT);
}

static void stop_and_ask(heapd_async *ac, int status)
{
	struct tally *t = heapd_async_data(ac);
	tally_connect_cb(ac, status);
	assert_int_equal(status, HEAPD_OK);
	assert_int_equal(kill(t->d.pid, SIGSTOP), 0);
	/* Half are made with no timeout set: theirs counts from the call. */
	struct req *q = t->test;
	for (int i = 0; i < TIMED / 2; i++)
		assert_int_equal(heapd_async_ping(ac, timed_cb, &q[i]), 0);
	timed_set_ns = mono_ns();
	heapd_async_set_timeout(ac, 200);
	for (int i = TIMED / 2; i < TIMED; i++)
		assert_int_equal(heapd_async_ping(ac, timed_cb, &q[i]), 0);
}

static void request_timeout(enum loop_kind kind)
{
	struct tally t;
	tally_start(&t, kind, 0);
	struct req *q = reqs_new(&t, TIMED);
	t.test = q;
	heapd_async *ac = tally_connect(&t, t.d.sock);
	heapd_async_set_connect_cb(ac, stop_and_ask);
	loop_run(&t.loop);
	assert_true(mono_ns() - timed_set_ns >= 200u * 1000000u);
	for (int i = 0; i < TIMED; i++)
		assert_int_equal(q[i].calls[0], 1);
	assert_int_equal(t.errors, TIMED);
	assert_int_equal(t.disconnects, 1);
	assert_int_equal(t.disconnect_status, HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_ETIMEDOUT);
	assert_non_null(strstr(heapd_async_errmsg(ac), "no reply within 200 ms"));
	assert_string_equal(heapd_strerror(HEAPD_ETIMEDOUT), "no reply in time");
	heapd_async_free(ac);
	loop_close(&t.loop);
	assert_int_equal(kill(t.d.pid, SIGCONT), 0);
	free(q);
	daemon_stop(&t.d);
}
BOTH(request_timeout)

/* --- batches: the example in one request, a failure in the
 * middle, the result read back; a batch in flight when the context goes --- */

struct batches {
	heapd_batch *build, *broken, *lost;
	int step, done;
};

static void batch_cb(heapd_async *ac, const heapd_reply *r, void *privdata);

static void batch_step(heapd_async *ac, struct batches *s, const heapd_reply *r)
{
	heapd_reply op;
	switch (++s->step) {
	case 1: /* alloc A, alloc B, A[0] = B, write B, root "async-batch" = A */
		assert_int_equal(heapd_batch_alloc(s->build, 1, 0), 0);
		assert_int_equal(heapd_batch_alloc(s->build, 0, 8), 1);
		assert_int_equal(heapd_batch_set_ref(s->build, heapd_batch_result(0), 0, heapd_batch_result(1)), 2);
		assert_int_equal(heapd_batch_write(s->build, heapd_batch_result(1), 0, "batched!", 8), 3);
		assert_int_equal(heapd_batch_root_set(s->build, "async-batch", heapd_batch_result(0)), 4);
		assert_int_equal(heapd_async_batch(ac, s->build, batch_cb, s), 0);
		break;
	case 2: /* its results; then alloc, a write past B's end, alloc */
		assert_int_equal(r->status, HEAPD_OK);
		assert_int_equal(heapd_batch_failed(s->build), -1);
		assert_int_equal(heapd_batch_reply(s->build, 1, &op), HEAPD_OK);
		assert_true(op.ref != 0);
		assert_int_equal(heapd_batch_alloc(s->broken, 0, 4), 0);
		assert_int_equal(heapd_batch_write(s->broken, op.ref, 100, "x", 1), 1);
		assert_int_equal(heapd_batch_alloc(s->broken, 0, 4), 2);
		assert_int_equal(heapd_async_batch(ac, s->broken, batch_cb, s), 0);
		break;
	case 3: /* the ops before the failure stand, the rest are skipped */
		assert_int_equal(r->status, HEAPD_ERANGE);
		assert_int_equal(heapd_batch_failed(s->broken), 1);
		assert_int_equal(heapd_batch_reply(s->broken, 0, &op), HEAPD_OK);
		assert_int_equal(heapd_batch_reply(s->broken, 1, &op), HEAPD_ERANGE);
		assert_int_equal(heapd_batch_reply(s->broken, 2, &op), HEAPD_ESKIPPED);
		assert_int_equal(heapd_async_root_get(ac, "async-batch", batch_cb, s), 0);
		break;
	case 4:
		assert_int_equal(heapd_async_get_ref(ac, r->ref, 0, batch_cb, s), 0);
		break;
	case 5:
		assert_int_equal(heapd_async_read(ac, r->ref, 0, 8, batch_cb, s), 0);
		break;
	case 6: /* the structure the first batch built */
		assert_memory_equal(r->data, "batched!", 8);
		assert_int_equal(heapd_batch_alloc(s->lost, 0, 8), 0);
		assert_int_equal(heapd_async_batch(ac, s->lost, batch_cb, s), 0);
		heapd_async_free(ac); /* from inside a callback: the batch fails */
		break;
	case 7:
		assert_int_equal(r->status, HEAPD_EIO);
		assert_int_equal(heapd_batch_reply(s->lost, 0, &op), HEAPD_EIO);
		s->done = 1;
		break;
	default:
		fail_msg("a callback too many");
	}
}

static void batch_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct batches *s = privdata;
	tally_reply(ac, r);
	assert_true(s->step == 6 || r->status == (s->step == 2 ? HEAPD_ERANGE : HEAPD_OK));
	batch_step(ac, s, r);
}

static void batches(enum loop_kind kind)
{
	struct tally t;
	struct batches s = {heapd_batch_new(), heapd_batch_new(), heapd_batch_new(), 0, 0};
	assert_true(s.build && s.broken && s.lost);
	assert_int_equal(heapd_async_batch(NULL, s.build, NULL, NULL), HEAPD_EINVAL);
	tally_start(&t, kind, 0);
	t.test = &s;
	heapd_async *ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_batch(ac, NULL, NULL, NULL), HEAPD_EINVAL);
	batch_step(ac, &s, NULL);
	loop_run(&t.loop);
	assert_int_equal(s.done, 1);
	assert_int_equal(t.replies, 6);
	heapd_batch_free(s.build);
	heapd_batch_free(s.broken);
	heapd_batch_free(s.lost);
	loop_close(&t.loop);
	daemon_stop(&t.d);
}
BOTH(batches)

int main(void)
{
	/* Against a hang only (no test waits on a clock otherwise): far beyond
	 * what the slowest run takes, under sanitizers on a loaded machine. */
	alarm(900);
	const struct CMUnitTest tests[] = {
		TEST_BOTH(every_operation),
		TEST_BOTH(many_in_flight),
		TEST_BOTH(daemon_killed),
		TEST_BOTH(daemon_terminated),
		TEST_BOTH(free_inside_callback),
		TEST_BOTH(disconnect_inside_callback),
		TEST_BOTH(free_in_other_callbacks),
		TEST_BOTH(request_timeout),
		TEST_BOTH(batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
