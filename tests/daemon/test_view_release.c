/*
 * test_view_release.c - heapd_view_release sends its request and returns
 * without waiting for the reply, against a real heapd: it returns while
 * the daemon is stopped, the daemon ends the view as it reads it (its
 * views figure falls with no further call), and the reply is taken,
 * unseen, on the way to the caller's next one. A release of a view the
 * connection does not have is refused at once, nothing sent, by the view
 * counts the library keeps from every form's replies (one at a time,
 * pipelined, batched). Releases in a row, and many view and release
 * pairs, keep the client's memory bounded.
 *
 * HEAPD_TEST_VIEW_PAIRS sets the pairs of the last test (200000; 1000000
 * was run too, about a minute on a loaded 2-core machine); a smaller
 * number suits a daemon under valgrind (HEAPD_WRAPPER).
 */
#include "daemonutil.h"

/* A held object of nbytes bytes, sealed. */
static heapd_ref sealed(heapd *h, uint32_t nbytes)
{
	char buf[256];
	assert_true(nbytes <= sizeof buf);
	memset(buf, 'v', nbytes);
	heapd_ref r;
	assert_int_equal(heapd_alloc_into(h, 0, 0, 0, nbytes, buf, nbytes, &r), 0);
	assert_int_equal(heapd_seal(h, r), 0);
	return r;
}

static const void *view_of(heapd *h, heapd_ref r)
{
	const void *data = NULL;
	size_t len = 0;
	assert_int_equal(heapd_view(h, r, &data, &len), 0);
	assert_non_null(data);
	return data;
}

static uint64_t views_at_daemon(heapd *h)
{
	return stats_of(h)->views;
}

/* The requests the daemon counted for h, by h's own client_list. */
static uint64_t requests_of(heapd *h)
{
	heapd_client_info *rows;
	size_t n;
	assert_int_equal(heapd_client_list(h, &rows, &n, NULL), 0);
	uint64_t got = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (rows[i].self)
			got = rows[i].requests;
	heapd_free_client_list(rows);
	assert_true(got != UINT64_MAX);
	return got;
}

static void assert_not_viewed(heapd *h, heapd_ref r)
{
	assert_int_equal(heapd_view_release(h, r), HEAPD_ENOTFOUND);
	assert_string_equal(heapd_errmsg(h), "view_release: this connection has no view of that object");
}

/* The release returns at once, whatever the daemon does (stopped here):
 * nothing of it is the caller's to take. A small view's release waits
 * for the connection's next send, and goes in the same write as the next
 * request, or at heapd_flush; a release that would leave views of more
 * than 1 MiB unsent goes at once, and the daemon ends the view with no
 * further call. */
static void returns_before_its_reply(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d), *watch = client(&d);
	assert_int_equal(heapd_set_timeout(h, 5000), 0);
	heapd_ref r = sealed(h, 64);
	view_of(h, r);
	assert_int_equal(views_at_daemon(watch), 1);
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	uint64_t t0 = mono_ns();
	assert_int_equal(heapd_view_release(h, r), 0);
	uint64_t took = mono_ns() - t0;
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	assert_true(took < 1000000000u);  /* the daemon answered nothing meanwhile */
	heapd_reply reply;
	assert_int_equal(heapd_get_reply(h, &reply), HEAPD_EINVAL);  /* none is the caller's */
	sleep_ms(50);
	assert_int_equal(views_at_daemon(watch), 1);  /* not sent yet */
	assert_int_equal(heapd_flush(h), 0);
	for (int i = 0; i < 500 && views_at_daemon(watch) != 0; i++)
		sleep_ms(10);
	assert_int_equal(views_at_daemon(watch), 0);
	assert_int_equal(heapd_pending(h), 0);
	/* With the next call on the same connection, in one write. */
	view_of(h, r);
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_int_equal(views_at_daemon(h), 0);
	assert_not_viewed(h, r);
	/* Past 1 MiB of views released: sent at once. */
	static char big[(1 << 20) + 1];
	heapd_ref large;
	assert_int_equal(heapd_alloc_into(h, 0, 0, 0, sizeof big, big, sizeof big, &large), 0);
	assert_int_equal(heapd_seal(h, large), 0);
	view_of(h, large);
	assert_int_equal(views_at_daemon(watch), 1);
	assert_int_equal(heapd_view_release(h, large), 0);
	for (int i = 0; i < 500 && views_at_daemon(watch) != 0; i++)
		sleep_ms(10);
	assert_int_equal(views_at_daemon(watch), 0);
	heapd_close(watch);
	heapd_close(h);
	daemon_stop(&d);
}

/* A ref this connection has no view of, or no view left of, is refused
 * at once and nothing goes to the daemon; while replies of the caller's
 * are pending, the call is refused as any one at a time. */
static void refused_here(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d), *other = client(&d);
	heapd_ref r = sealed(h, 16);
	uint64_t base = requests_of(h);
	uint64_t step = requests_of(h) - base;  /* client_list's own count */
	base = requests_of(h);
	assert_not_viewed(h, r);
	assert_not_viewed(h, 0);
	assert_int_equal(requests_of(h) - base, step);  /* nothing was sent */
	/* Another connection's view is not this one's. */
	view_of(other, r);
	assert_not_viewed(h, r);
	view_of(h, r);
	base = requests_of(h);
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_int_equal(requests_of(h) - base, step + 1);
	assert_not_viewed(h, r);  /* one view, one release */
	/* Replies of the caller's pending: refused, the count left as it is. */
	view_of(h, r);
	assert_int_equal(heapd_append_ping(h), 0);
	assert_int_equal(heapd_view_release(h, r), HEAPD_EINVAL);
	assert_non_null(strstr(heapd_errmsg(h), "replies pending"));
	heapd_reply reply;
	assert_int_equal(heapd_get_reply(h, &reply), 0);
	assert_int_equal(heapd_view_release(h, r), 0);
	assert_not_viewed(h, r);
	assert_int_equal(views_at_daemon(h), 1);  /* other's */
	heapd_close(other);
	for (int i = 0; i < 500 && views_at_daemon(h) != 0; i++)
		sleep_ms(10);  /* the daemon ends them as it sees the close */
	assert_int_equal(views_at_daemon(h), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* Views made and ended pipelined and in batches are counted as their
 * replies are taken: the blocking release then agrees with the daemon. */
static void counted_in_every_form(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = sealed(h, 32), b = sealed(h, 48);
	heapd_ref loose;
	assert_int_equal(heapd_alloc(h, 0, 8, &loose), 0);
	heapd_reply r;

	/* Pipelined: two views, one failed view, one release of its own. */
	assert_int_equal(heapd_append_view(h, a), 0);
	assert_int_equal(heapd_append_view(h, a), 0);
	assert_int_equal(heapd_append_view(h, loose), 0);  /* not sealed */
	assert_int_equal(heapd_append_view(h, b), 0);
	assert_int_equal(heapd_append_view_release(h, b), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_get_reply(h, &r), i == 2 ? HEAPD_EINVAL : 0);
	assert_int_equal(heapd_view_release(h, a), 0);
	assert_int_equal(heapd_view_release(h, a), 0);
	assert_not_viewed(h, a);
	assert_not_viewed(h, loose);
	assert_not_viewed(h, b);

	/* Batched: views by placeholder and by ref; a batch's release. */
	heapd_batch *bt = heapd_batch_new();
	assert_non_null(bt);
	assert_int_equal(heapd_batch_alloc_into(bt, 0, 0, 0, 5, "AbcdZ", 5), 0);
	assert_int_equal(heapd_batch_seal(bt, heapd_batch_result(0)), 1);
	assert_int_equal(heapd_batch_view(bt, heapd_batch_result(0)), 2);
	assert_int_equal(heapd_batch_view(bt, heapd_batch_result(0)), 3);
	assert_int_equal(heapd_batch_view(bt, a), 4);
	assert_int_equal(heapd_batch_exec(h, bt), 0);
	assert_int_equal(heapd_batch_reply(bt, 0, &r), 0);
	heapd_ref made = r.ref;
	heapd_batch_reset(bt);
	assert_int_equal(heapd_batch_view_release(bt, made), 0);
	assert_int_equal(heapd_append_batch(h, bt), 0);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(heapd_view_release(h, made), 0);
	assert_not_viewed(h, made);
	assert_int_equal(heapd_view_release(h, a), 0);
	assert_not_viewed(h, a);

	/* A batch that stops: the view before the failure counts, the one
	 * skipped after it does not. */
	heapd_batch_reset(bt);
	assert_int_equal(heapd_batch_view(bt, a), 0);
	assert_int_equal(heapd_batch_view_release(bt, b), 1);  /* no view of b */
	assert_int_equal(heapd_batch_view(bt, a), 2);
	assert_int_equal(heapd_batch_exec(h, bt), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_batch_failed(bt), 1);
	assert_int_equal(heapd_view_release(h, a), 0);
	assert_not_viewed(h, a);
	heapd_batch_free(bt);
	assert_int_equal(views_at_daemon(h), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* The reply to a release is taken first by whatever comes next: a call,
 * a pipeline (its ids in step), a batch; heapd_close drops one pending. */
static void next_call_takes_it_first(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = sealed(h, 100);
	char buf[4];
	view_of(h, a);
	assert_int_equal(heapd_view_release(h, a), 0);
	assert_int_equal(heapd_read(h, a, 0, buf, sizeof buf), 0);
	assert_memory_equal(buf, "vvvv", 4);

	view_of(h, a);
	assert_int_equal(heapd_view_release(h, a), 0);
	assert_int_equal(heapd_append_ping(h), 0);
	assert_int_equal(heapd_append_ping(h), 0);
	assert_int_equal(heapd_pending(h), 2);
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	uint64_t id = r.id;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_true(r.id == id + 1);
	assert_int_equal(heapd_pending(h), 0);

	view_of(h, a);
	assert_int_equal(heapd_view_release(h, a), 0);
	heapd_batch *bt = heapd_batch_new();
	assert_non_null(bt);
	assert_int_equal(heapd_batch_read(bt, a, 0, 2), 0);
	assert_int_equal(heapd_batch_exec(h, bt), 0);
	heapd_batch_free(bt);

	/* A release, then a view straight away: one round trip each time. */
	for (int i = 0; i < 100; i++) {
		const char *p = view_of(h, a);
		assert_int_equal(p[0], 'v');
		assert_int_equal(heapd_view_release(h, a), 0);
	}
	view_of(h, a);
	assert_int_equal(heapd_view_release(h, a), 0);
	heapd_close(h);  /* its reply still pending */
	heapd *again = client(&d);
	assert_int_equal(views_at_daemon(again), 0);
	heapd_close(again);
	daemon_stop(&d);
}

/* Resident memory of this process, in KiB. */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	assert_non_null(f);
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

/* Many releases in a row, with no other call: their replies are taken
 * now and then, not left to pile up (left, 50000 of them would hold
 * 3.5 MiB of the library's queue). */
static void releases_in_a_row(void **state)
{
	(void)state;
	enum { N = 25000 };
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = sealed(h, 8), b = sealed(h, 8);
	for (int i = 0; i < N; i++) {
		view_of(h, a);
		view_of(h, b);
	}
	assert_int_equal(views_at_daemon(h), 2 * N);
	long rss = rss_kib();
	for (int i = 0; i < N; i++) {
		assert_int_equal(heapd_view_release(h, a), 0);
		assert_int_equal(heapd_view_release(h, b), 0);
	}
	long grew = rss_kib() - rss;
	print_message("%d releases in a row: RSS grew %ld KiB\n", 2 * N, grew);
	assert_true(grew < 1024);
	assert_not_viewed(h, a);
	assert_not_viewed(h, b);
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(views_at_daemon(h), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* View and release pairs and nothing else: the client's memory stays
 * where it was after the first thousand. */
static void many_pairs(void **state)
{
	(void)state;
	const char *env = getenv("HEAPD_TEST_VIEW_PAIRS");
	long pairs = env && env[0] ? atol(env) : 200000;
	assert_true(pairs >= 2000);
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = sealed(h, 64);
	long rss = 0;
	uint64_t t0 = mono_ns();
	for (long i = 0; i < pairs; i++) {
		const char *p = view_of(h, a);
		if (p[63] != 'v')
			fail_msg("pair %ld: byte 63 is %d", i, p[63]);
		if (heapd_view_release(h, a) != 0)
			fail_msg("pair %ld: %s", i, heapd_errmsg(h));
		if (i == 1000)
			rss = rss_kib();
	}
	double secs = (double)(mono_ns() - t0) / 1e9;
	long grew = rss_kib() - rss;
	print_message("%ld view and release pairs in %.2f s (%.2f us a pair); RSS grew %ld KiB\n", pairs, secs,
		      secs * 1e6 / (double)pairs, grew);
	assert_true(grew < 1024);
	assert_int_equal(views_at_daemon(h), 0);
	assert_not_viewed(h, a);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(returns_before_its_reply),
		cmocka_unit_test(refused_here),
		cmocka_unit_test(counted_in_every_form),
		cmocka_unit_test(next_call_takes_it_first),
		cmocka_unit_test(releases_in_a_row),
		cmocka_unit_test(many_pairs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
