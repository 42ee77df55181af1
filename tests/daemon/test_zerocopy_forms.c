/*
 * test_zerocopy_forms.c - views in every form libheapd has against a
 * real heapd (issue 19): pipelined (heapd_append_view as a connection's
 * first request: the library's map_arena goes in front of it), in a batch
 * (seal and view in one request), and async on both shipped loops (the
 * arena grown between two views of one context). Each view's pointer
 * stays good for as long as the view, past the reply, batch or callback
 * that gave it; the descriptor goes with the connection.
 */
#include "asyncutil.h"
#include "zcutil.h"

enum { NOBJ = 50 };

/* NOBJ sealed objects of 100 * i + 1 bytes, pattern i, held by h. */
static void make_objects(heapd *h, heapd_ref *objs)
{
	for (unsigned i = 0; i < NOBJ; i++)
		objs[i] = sealed_pattern(h, 100 * i + 1, i);
}

static void pipelined_views(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", NULL);
	heapd *h = client(&d), *p = client(&d);
	heapd_ref objs[NOBJ], open = alloc_pattern(h, 0, 64, 99);
	make_objects(h, objs);
	struct fd_set_now before = arena_fds_now();
	for (unsigned i = 0; i < NOBJ; i++) {
		assert_int_equal(heapd_append_view(p, objs[i]), 0);
		if (i == NOBJ / 2) {
			assert_int_equal(heapd_append_view(p, open), 0);
			assert_int_equal(heapd_append_read(p, objs[i], 0, 1), 0);
		}
	}
	const void *data[NOBJ];
	heapd_reply r;
	for (unsigned i = 0; i < NOBJ; i++) {
		assert_int_equal(heapd_get_reply(p, &r), 0);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.len, 100 * i + 1);
		assert_pattern(r.data, r.len, i);
		data[i] = r.data;
		if (i == NOBJ / 2) {
			assert_int_equal(heapd_get_reply(p, &r), HEAPD_EINVAL);  /* not sealed */
			assert_int_equal(r.status, HEAPD_EINVAL);
			assert_int_equal(heapd_get_reply(p, &r), 0);  /* the read after it */
			assert_int_equal(r.len, 1);
		}
	}
	new_arena_fd(&before);
	for (unsigned i = 0; i < NOBJ; i++)
		assert_int_equal(heapd_release(h, objs[i]), 0);
	assert_int_equal(heapd_gc(h), 0);
	for (unsigned i = 0; i < NOBJ; i++)  /* the replies are gone, the views not */
		assert_pattern(data[i], 100 * i + 1, i);
	for (unsigned i = 0; i < NOBJ; i++)
		assert_int_equal(heapd_append_view_release(p, objs[i]), 0);
	for (unsigned i = 0; i < NOBJ; i++) {
		assert_int_equal(heapd_get_reply(p, &r), 0);
		assert_int_equal(r.status, 0);
	}
	heapd_close(p);
	assert_int_equal(arena_fds(NULL, 0), before.n);
	assert_int_equal(heapd_gc(h), 0);
	struct heapd_object_info info;
	assert_int_equal(heapd_object_info(h, objs[0], &info), HEAPD_EBADREF);
	heapd_close(h);
	daemon_stop(&d);
}

/* Seal and view in one batch, a connection's first request; a view that
 * fails stops the batch as any op does. */
static void batched_views(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-mark-workers", "0", NULL);
	heapd *h = client(&d), *b_conn = client(&d);
	heapd_ref a = alloc_pattern(h, 0, 3000, 1), b = alloc_pattern(h, 0, 300000, 2), c = alloc_pattern(h, 0, 10, 3);
	heapd_batch *b1 = heapd_batch_new();
	assert_non_null(b1);
	heapd_batch_seal(b1, a);
	heapd_batch_view(b1, a);
	heapd_batch_seal(b1, b);
	heapd_batch_view(b1, b);
	heapd_batch_view(b1, b);
	heapd_batch_view_release(b1, b);
	assert_int_equal(heapd_batch_exec(b_conn, b1), 0);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b1, 1, &r), 0);
	assert_int_equal(r.len, 3000);
	const void *da = r.data;
	assert_int_equal(heapd_batch_reply(b1, 4, &r), 0);
	assert_int_equal(r.len, 300000);
	const void *db = r.data;
	heapd_batch_free(b1);
	assert_pattern(da, 3000, 1);
	assert_pattern(db, 300000, 2);  /* one view of b left */

	heapd_batch *b2 = heapd_batch_new();
	heapd_batch_view(b2, b);
	heapd_batch_view(b2, c);  /* not sealed */
	heapd_batch_view(b2, a);
	assert_int_equal(heapd_batch_exec(b_conn, b2), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_failed(b2), 1);
	assert_int_equal(heapd_batch_reply(b2, 2, &r), HEAPD_ESKIPPED);
	heapd_batch_free(b2);
	assert_int_equal(heapd_view_release(b_conn, a), 0);
	assert_int_equal(heapd_view_release(b_conn, a), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_view_release(b_conn, b), 0);
	assert_int_equal(heapd_view_release(b_conn, b), 0);  /* b2's */
	assert_int_equal(heapd_view_release(b_conn, b), HEAPD_ENOTFOUND);
	heapd_close(b_conn);
	heapd_close(h);
	daemon_stop(&d);
}

/* ------------------------------------------------------------- async */

struct async_views {
	heapd *h;            /* the blocking connection that makes objects */
	heapd_ref small, open, big;
	const void *small_data;
	int step;
};

static void async_step(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct tally *t = tally_reply(ac, r);
	struct async_views *v = t->test;
	(void)privdata;
	switch (v->step++) {
	case 0:  /* the context's first request: a view */
		assert_int_equal(r->status, 0);
		assert_int_equal(r->len, 5000);
		assert_pattern(r->data, r->len, 5);
		v->small_data = r->data;
		break;
	case 1:  /* not sealed; then the arena grows, and a view past it */
		assert_int_equal(r->status, HEAPD_EINVAL);
		for (int i = 0; i < 3; i++) {
			heapd_ref fill;
			assert_int_equal(heapd_alloc(v->h, 0, 30 * MIB, &fill), 0);
		}
		v->big = sealed_pattern(v->h, 4 * MIB, 6);
		assert_int_equal(heapd_async_view(ac, v->big, async_step, NULL), 0);
		assert_int_equal(heapd_async_view_release(ac, v->small, async_step, NULL), 0);
		break;
	case 2:
		assert_int_equal(r->status, 0);
		assert_int_equal(r->len, 4 * MIB);
		assert_pattern(r->data, r->len, 6);
		assert_pattern(v->small_data, 5000, 5);  /* still viewed, still mapped */
		break;
	case 3:  /* the view_release */
		assert_int_equal(r->status, 0);
		assert_int_equal(heapd_async_view_release(ac, v->small, async_step, NULL), 0);
		break;
	case 4:
		assert_int_equal(r->status, HEAPD_ENOTFOUND);
		heapd_async_disconnect(ac);
		break;
	default:
		fail_msg("a reply too many");
	}
}

static void async_views(enum loop_kind kind)
{
	struct tally t;
	struct async_views v = {0};
	tally_start(&t, kind, 0);
	t.test = &v;
	v.h = client(&t.d);
	v.small = sealed_pattern(v.h, 5000, 5);
	v.open = alloc_pattern(v.h, 0, 100, 7);
	struct fd_set_now before = arena_fds_now();
	heapd_async *ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_view(ac, v.small, async_step, NULL), 0);
	assert_int_equal(heapd_async_view(ac, v.open, async_step, NULL), 0);
	loop_run(&t.loop);
	assert_int_equal(v.step, 5);
	assert_int_equal(t.replies, 5);  /* the library's map_arena runs no callback */
	assert_int_equal(t.disconnects, 1);
	heapd_async_free(ac);
	assert_int_equal(arena_fds(NULL, 0), before.n);
	loop_close(&t.loop);
	heapd_close(v.h);
	daemon_stop(&t.d);
}
BOTH(async_views)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pipelined_views),
		cmocka_unit_test(batched_views),
		TEST_BOTH(async_views),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
