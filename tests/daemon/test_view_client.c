/*
 * test_view_client.c - libheapd's side of zero-copy reads against a real
 * heapd: a sealed object's bytes read in place through heapd_view, in
 * each form (one at a time, pipelined, batched, async on both loops); the
 * mapping grown when the arena has; the map_arena the library sends by
 * itself going unseen (pending counts, ids); the arena's descriptor
 * closed with the connection. The daemon's rules (who is granted, limits,
 * views and holds apart) are tested in its own suite.
 */
#include <dirent.h>

#include "asyncutil.h"

#define MIB (1u << 20)

/* A held object of nbytes bytes, its data pattern p filled, sealed. */
static heapd_ref sealed(heapd *h, uint32_t nbytes, unsigned char p)
{
	unsigned char *buf = malloc(nbytes);
	assert_non_null(buf);
	memset(buf, p, nbytes);
	buf[0] = 'A';
	buf[nbytes - 1] = 'Z';
	heapd_ref r;
	assert_int_equal(heapd_alloc_into(h, 0, 0, 0, nbytes, buf, nbytes, &r), 0);
	free(buf);
	assert_int_equal(heapd_seal(h, r), 0);
	return r;
}

/* Whether the len bytes at data are what sealed() wrote with p. */
static void check_bytes(const void *data, size_t len, unsigned char p)
{
	const unsigned char *b = data;
	assert_non_null(b);
	assert_true(len >= 2);
	assert_int_equal(b[0], 'A');
	assert_int_equal(b[len - 1], 'Z');
	for (size_t i = 1; i + 1 < len; i++)
		if (b[i] != p)
			fail_msg("byte %zu is %d, not %d", i, b[i], p);
}

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	size_t n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Seal, view, read in place; the view outlives the hold and a
 * collection; each view is released once. */
static void seal_and_view(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	size_t fds = open_fds();
	heapd *h = client(&d);
	heapd_ref r = sealed(h, 100, 'x');
	assert_int_equal(heapd_write(h, r, 0, "b", 1), HEAPD_EPERM);
	struct heapd_object_info info;
	assert_int_equal(heapd_object_info(h, r, &info), 0);
	assert_int_equal(info.sealed, 1);
	const void *data, *again;
	size_t len = 0;
	assert_int_equal(heapd_view(h, r, &data, &len), 0);
	assert_int_equal(len, 100);
	check_bytes(data, len, 'x');
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(open_fds(), fds + 2);  /* the socket and the arena */
	assert_int_equal(heapd_view(h, r, &again, &len), 0);
	assert_ptr_equal(again, data);
	/* The view keeps it: no hold, a collection, the same bytes. */
	assert_int_equal(heapd_release(h, r), 0);
	assert_int_equal(heapd_gc(h), 0);
	check_bytes(data, len, 'x');
	assert_int_equal(heapd_release(h, r), HEAPD_ENOTFOUND);  /* a view is no hold */
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_int_equal(heapd_view_release(h, r), HEAPD_ENOTFOUND);
	heapd_ref loose;
	assert_int_equal(heapd_alloc(h, 0, 8, &loose), 0);
	assert_int_equal(heapd_view(h, loose, &data, &len), HEAPD_EINVAL);  /* not sealed */
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	assert_int_equal(open_fds(), fds);
	daemon_stop(&d);
}

/* A view of an object the arena grew for, after the arena was mapped:
 * the mapping grows by what the arena did. */
static void view_across_growth(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	const void *first, *later;
	size_t len;
	heapd_ref small = sealed(h, 64, 's');
	assert_int_equal(heapd_view(h, small, &first, &len), 0);
	heapd_ref big[12];
	for (int i = 0; i < 12; i++)
		big[i] = sealed(h, MIB, (unsigned char)('a' + i));
	assert_int_equal(heapd_view(h, big[11], &later, &len), 0);
	assert_int_equal(len, MIB);
	/* Past the first 4 MiB step of the arena, mapped since. */
	assert_true((const char *)later - (const char *)first > 4 * (long)MIB);
	check_bytes(later, len, 'a' + 11);
	check_bytes(first, 64, 's');
	for (int i = 0; i < 12; i++) {
		assert_int_equal(heapd_view(h, big[i], &later, &len), 0);
		check_bytes(later, len, (unsigned char)('a' + i));
	}
	heapd_close(h);
	daemon_stop(&d);
}

/* Pipelined: the first view's map_arena is the library's, unseen: one
 * reply pending per view appended, the replies in order. */
static void pipelined(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = sealed(h, 10, 'p'), b = sealed(h, 20, 'q');
	assert_int_equal(heapd_append_view(h, a), 0);
	assert_int_equal(heapd_append_view(h, b), 0);
	assert_int_equal(heapd_append_view_release(h, a), 0);
	assert_int_equal(heapd_append_seal(h, b), 0);
	assert_int_equal(heapd_pending(h), 4);
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	check_bytes(r.data, r.len, 'p');
	assert_int_equal(r.len, 10);
	uint64_t id = r.id;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.len, 20);
	check_bytes(r.data, r.len, 'q');
	assert_true(r.id == id + 1);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_EINVAL);
	heapd_close(h);
	daemon_stop(&d);
}

/* A batch that makes, seals and views an object, as a connection's first
 * view (the library maps the arena before it), then again. */
static void batched(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	assert_non_null(b);
	assert_int_equal(heapd_batch_alloc_into(b, 0, 0, 0, 5, "AbcdZ", 5), 0);
	assert_int_equal(heapd_batch_seal(b, heapd_batch_result(0)), 1);
	assert_int_equal(heapd_batch_view(b, heapd_batch_result(0)), 2);
	assert_int_equal(heapd_batch_exec(h, b), 0);
	assert_int_equal(heapd_pending(h), 0);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, 2, &r), 0);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.data, "AbcdZ", 5);
	heapd_ref obj;
	assert_int_equal(heapd_batch_reply(b, 0, &r), 0);
	obj = r.ref;
	/* Another view of it, after the batch was reset: the same bytes. */
	const void *kept = NULL;
	assert_int_equal(heapd_batch_reply(b, 2, &r), 0);
	kept = r.data;
	heapd_batch_reset(b);
	assert_int_equal(heapd_batch_view(b, obj), 0);
	assert_int_equal(heapd_batch_view_release(b, obj), 1);
	assert_int_equal(heapd_batch_view_release(b, obj), 2);
	assert_int_equal(heapd_batch_view_release(b, obj), 3);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_batch_failed(b), 3);
	assert_int_equal(heapd_batch_reply(b, 0, &r), 0);
	assert_ptr_equal(r.data, kept);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* Async: a context whose first request is a view. */
struct async_run {
	heapd_ref obj;
	size_t pending_after;   /* heapd_async_pending after the three requests */
	int viewed, released, sealed_again;
};

static void on_view(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct async_run *run = privdata;
	tally_reply(ac, r);
	assert_int_equal(r->status, 0);
	assert_int_equal(r->len, 300);
	check_bytes(r->data, r->len, 'y');
	run->viewed++;
}

static void on_release(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct async_run *run = privdata;
	tally_reply(ac, r);
	assert_int_equal(r->status, 0);
	run->released++;
}

static void on_seal(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct async_run *run = privdata;
	tally_reply(ac, r);
	assert_int_equal(r->status, 0);
	run->sealed_again++;
	heapd_async_disconnect(ac);
}

static void async_view(enum loop_kind kind)
{
	struct tally t;
	tally_start(&t, kind, 0);
	heapd *h = client(&t.d);
	struct async_run run = {.obj = sealed(h, 300, 'y')};
	heapd_async *ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_view(ac, run.obj, on_view, &run), 0);
	assert_int_equal(heapd_async_view(ac, run.obj, on_view, &run), 0);
	assert_int_equal(heapd_async_view_release(ac, run.obj, on_release, &run), 0);
	assert_int_equal(heapd_async_seal(ac, run.obj, on_seal, &run), 0);
	run.pending_after = heapd_async_pending(ac);
	loop_run(&t.loop);
	assert_int_equal(heapd_async_errcode(ac), 0);
	heapd_async_free(ac);
	loop_close(&t.loop);
	assert_int_equal(run.pending_after, 5);  /* the Hello and the four */
	assert_int_equal(run.viewed, 2);
	assert_int_equal(run.released, 1);
	assert_int_equal(run.sealed_again, 1);
	assert_int_equal(t.replies, 4);
	assert_int_equal(t.disconnects, 1);
	heapd_close(h);
	daemon_stop(&t.d);
}
BOTH(async_view)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_and_view),
		cmocka_unit_test(view_across_growth),
		cmocka_unit_test(pipelined),
		cmocka_unit_test(batched),
		TEST_BOTH(async_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
