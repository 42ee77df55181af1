/*
 * test_async_edges.c - the async API at its edges: the hooks' contract as
 * an adapter sees it (driven by a poll() loop of the test's own, which
 * checks every hook call), connections that fail at once or are refused
 * by the daemon, and the limits on what may be queued.
 */
#include "asyncutil.h"

/* --- the hooks, as a minimal adapter sees them --- */

struct fake {
	heapd_async *ac;
	int reading, writing;    /* what the library wishes now */
	int add_read, add_write, del_write, cleanups, timers;
	uint32_t last_ms;
	size_t replies;
};

static struct fake *fake_of(void *data)
{
	struct fake *f = data;
	assert_int_equal(f->cleanups, 0); /* no hook after cleanup */
	return f;
}

static void fake_add_read(void *data)
{
	struct fake *f = fake_of(data);
	assert_false(f->reading);
	f->reading = 1;
	f->add_read++;
}

static void fake_del_read(void *data)
{
	struct fake *f = fake_of(data);
	assert_true(f->reading);
	f->reading = 0;
}

static void fake_add_write(void *data)
{
	struct fake *f = fake_of(data);
	assert_false(f->writing); /* only when the wish changes */
	f->writing = 1;
	f->add_write++;
}

static void fake_del_write(void *data)
{
	struct fake *f = fake_of(data);
	assert_true(f->writing);
	f->writing = 0;
	f->del_write++;
}

static void fake_cleanup(void *data)
{
	struct fake *f = fake_of(data);
	assert_false(f->writing);
	assert_false(f->reading);
	f->cleanups++;
}

static void fake_timer(void *data, uint32_t ms)
{
	struct fake *f = fake_of(data);
	assert_true(ms >= 1);
	f->timers++;
	f->last_ms = ms;
}

static const struct heapd_async_events fake_events = {
	.add_read = fake_add_read,
	.del_read = fake_del_read,
	.add_write = fake_add_write,
	.del_write = fake_del_write,
	.cleanup = fake_cleanup,
	.schedule_timer = fake_timer,
};

/* Runs the context until the library cleans up: poll() on what it wishes. */
static void fake_run(struct fake *f)
{
	while (!f->cleanups) {
		struct pollfd p = {.fd = heapd_async_fd(f->ac)};
		p.events = (short)((f->reading ? POLLIN : 0) | (f->writing ? POLLOUT : 0));
		assert_true(p.fd >= 0 && p.events);
		int n = poll(&p, 1, -1);
		assert_true(n == 1 || (n < 0 && errno == EINTR));
		if (n == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
			heapd_async_handle_read(f->ac);
		if (n == 1 && !f->cleanups && (p.revents & POLLOUT))
			heapd_async_handle_write(f->ac);
	}
}

static void fake_reply(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct fake *f = privdata;
	assert_int_equal(r->status, HEAPD_OK);
	if (++f->replies == 100)
		heapd_async_disconnect(ac);
}

static void hooks_contract(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	struct fake f = {0};
	f.ac = heapd_async_connect(d.sock);
	assert_non_null(f.ac);
	assert_int_equal(heapd_async_errcode(f.ac), 0);
	assert_true(heapd_async_fd(f.ac) >= 0);

	struct heapd_async_events ev = fake_events;
	ev.data = &f;
	ev.cleanup = NULL;
	assert_int_equal(heapd_async_attach(f.ac, &ev), HEAPD_EINVAL); /* a hook missing */
	ev.cleanup = fake_cleanup;
	assert_int_equal(heapd_async_attach(f.ac, &ev), 0);
	assert_int_equal(heapd_async_attach(f.ac, &ev), HEAPD_EINVAL); /* attached already */
	assert_int_equal(f.add_read, 1);
	assert_int_equal(f.add_write, 1); /* the Hello waits to be sent */
	assert_int_equal(f.timers, 0);    /* no timeout set */

	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_async_ping(f.ac, fake_reply, &f), 0);
	assert_int_equal(f.add_write, 1);
	assert_int_equal(heapd_async_pending(f.ac), 101);

	/* A timeout arms the timer for the oldest request; a timer that fires
	 * early only re-arms it. */
	heapd_async_set_timeout(f.ac, 3600u * 1000u);
	assert_int_equal(f.timers, 1);
	assert_true(f.last_ms >= 1 && f.last_ms <= 3600u * 1000u + 1); /* + 1: whole ms, rounded down */
	heapd_async_handle_timeout(f.ac);
	assert_int_equal(f.timers, 2);
	assert_int_equal(heapd_async_pending(f.ac), 101);

	fake_run(&f);
	assert_int_equal(f.replies, 100);
	assert_int_equal(f.cleanups, 1);
	assert_int_equal(f.del_write, f.add_write); /* nothing left to send at the end */
	assert_int_equal(heapd_async_fd(f.ac), -1);
	assert_int_equal(heapd_async_errcode(f.ac), 0);
	assert_int_equal(heapd_async_attach(f.ac, &ev), HEAPD_EIO);
	/* Entry points on a closed context do nothing. */
	heapd_async_handle_read(f.ac);
	heapd_async_handle_write(f.ac);
	heapd_async_handle_timeout(f.ac);
	heapd_async_disconnect(f.ac);
	heapd_async_free(f.ac);
	heapd_async_free(NULL);
	daemon_stop(&d);
}

/* --- connections that fail at once --- */

static void connect_fails_at_once(void **state)
{
	(void)state;
	struct daemon d;
	daemon_prepare(&d); /* a directory, no daemon */

	heapd_async *ac = heapd_async_connect(d.sock);
	assert_non_null(ac);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_EIO);
	char want[200];
	snprintf(want, sizeof want, "cannot connect to %s: No such file or directory", d.sock);
	assert_string_equal(heapd_async_errmsg(ac), want);
	assert_int_equal(heapd_async_fd(ac), -1);
	assert_int_equal(heapd_async_pending(ac), 0);
	assert_int_equal(heapd_async_ping(ac, NULL, NULL), HEAPD_EIO);
	struct loop ev, uv;
	loop_open(&ev, LOOP_LIBEVENT);
	loop_open(&uv, LOOP_LIBUV);
	assert_int_equal(loop_attach(&ev, ac), HEAPD_EIO);
	assert_int_equal(loop_attach(&uv, ac), HEAPD_EIO);
	heapd_async_free(ac);

	/* $HEAPD_SOCKET when given NULL. */
	setenv("HEAPD_SOCKET", d.sock, 1);
	ac = heapd_async_connect(NULL);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_EIO);
	assert_string_equal(heapd_async_errmsg(ac), want);
	heapd_async_free(ac);
	unsetenv("HEAPD_SOCKET");

	/* A socket file nobody listens on. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ac = heapd_async_connect(d.sock);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_EIO);
	assert_non_null(strstr(heapd_async_errmsg(ac), "Connection refused"));
	heapd_async_free(ac);
	close(fd);
	unlink(d.sock);

	/* A path too long for a socket address. */
	char longpath[200];
	memset(longpath, 'x', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	ac = heapd_async_connect(longpath);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_EINVAL);
	assert_non_null(strstr(heapd_async_errmsg(ac), "socket path too long"));
	heapd_async_free(ac);

	loop_close(&ev);
	loop_close(&uv);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

/* --- refused by the daemon: through the connect callback --- */

static void refused_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	int *calls = privdata;
	(*calls)++;
	tally_reply(ac, r);
	assert_int_equal(r->status, HEAPD_EPERM);
}

static void refused(enum loop_kind kind)
{
	struct tally t;
	tally_start(&t, kind, 1);
	char uid[32];
	snprintf(uid, sizeof uid, "%u", (unsigned)getuid() + 1);
	daemon_start(&t.d, "--allowed-uids", uid, NULL);
	heapd_async *ac = tally_connect(&t, t.d.sock);
	int calls[5] = {0};
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_async_ping(ac, refused_cb, &calls[i]), 0);
	loop_run(&t.loop);
	assert_int_equal(t.connects, 1);
	assert_int_equal(t.connect_status, HEAPD_EPERM);
	assert_int_equal(heapd_async_errcode(ac), HEAPD_EPERM);
	assert_true(heapd_async_errmsg(ac)[0] != '\0');
	for (int i = 0; i < 5; i++)
		assert_int_equal(calls[i], 1);
	assert_int_equal(t.disconnects, 0); /* it never connected */
	heapd_async_free(ac);
	loop_close(&t.loop);
	daemon_stop(&t.d);
}
BOTH(refused)

/* --- limits on what may be queued --- */

static void limit_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	int *calls = privdata;
	(*calls)++;
	struct tally *t = tally_reply(ac, r);
	assert_int_equal(r->status, HEAPD_OK);
	if (t->replies != 12)
		return;
	/* Everything made so far is answered, so nothing waits to be sent:
	 * one request larger than max_output still goes, a second does not. */
	static char big[100];
	heapd_async_set_max_output(ac, 64);
	assert_int_equal(heapd_async_write(ac, 0x1, 0, big, sizeof big, NULL, NULL), 0);
	assert_int_equal(heapd_async_write(ac, 0x1, 0, big, sizeof big, NULL, NULL), HEAPD_ENOBUFS);
	heapd_async_set_max_output(ac, 0);
	heapd_async_disconnect(ac);
}

static void limits(void **state)
{
	(void)state;
	struct tally t;
	tally_start(&t, LOOP_LIBEVENT, 0);
	heapd_async *ac = tally_connect(&t, t.d.sock);
	int calls[12] = {0};

	/* max_pending counts the Hello. */
	heapd_async_set_max_pending(ac, 10);
	for (int i = 0; i < 9; i++)
		assert_int_equal(heapd_async_ping(ac, limit_cb, &calls[i]), 0);
	assert_int_equal(heapd_async_ping(ac, limit_cb, NULL), HEAPD_ENOBUFS);
	heapd_async_set_max_pending(ac, 0); /* the default again */
	assert_int_equal(heapd_async_ping(ac, limit_cb, &calls[9]), 0);

	/* max_output: bytes made but not sent yet (nothing is, before the
	 * loop runs). */
	heapd_async_set_max_output(ac, 64);
	char buf[100] = {0};
	assert_int_equal(heapd_async_write(ac, 0x1, 0, buf, sizeof buf, limit_cb, NULL), HEAPD_ENOBUFS);
	heapd_async_set_max_output(ac, 0);
	assert_int_equal(heapd_async_ping(ac, limit_cb, &calls[10]), 0);

	/* Larger than a frame: HEAPD_ELIMIT; NULL names: HEAPD_EINVAL. */
	size_t huge = (16u << 20) + 1;
	char *p = calloc(1, huge);
	assert_non_null(p);
	assert_int_equal(heapd_async_write(ac, 0x1, 0, p, (uint32_t)huge, limit_cb, NULL), HEAPD_ELIMIT);
	free(p);
	assert_int_equal(heapd_async_root_set(ac, NULL, 0, limit_cb, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_async_root_get(ac, NULL, limit_cb, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_async_ping(ac, limit_cb, &calls[11]), 0);
	assert_int_equal(heapd_async_pending(ac), 13);

	loop_run(&t.loop);
	for (int i = 0; i < 12; i++)
		assert_int_equal(calls[i], 1);
	assert_int_equal(t.replies, 12); /* the two writes had no callback */
	assert_int_equal(t.disconnect_status, HEAPD_OK);
	heapd_async_free(ac);
	loop_close(&t.loop);
	daemon_stop(&t.d);
}

int main(void)
{
	alarm(900); /* against a hang only */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hooks_contract),
		cmocka_unit_test(connect_fails_at_once),
		TEST_BOTH(refused),
		cmocka_unit_test(limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
