/*
 * test_timeout.c - the blocking API's timeout (heapd_set_timeout,
 * $HEAPD_TIMEOUT_MS): a call that gets no reply in time returns
 * HEAPD_ETIMEDOUT within about its timeout and closes the connection, so
 * every later call fails the same way; one-at-a-time calls, heapd_get_reply,
 * heapd_flush, heapd_batch_exec, heapd_connect's Hello and its connect to
 * a full listen queue; the deadline
 * cuts a spin short; 0 waits for ever. A real heapd stopped with SIGSTOP
 * is the daemon that does not answer: its socket still accepts.
 */
#include "daemonutil.h"

#define TIMEOUT_MS 200u
/* How late a timed-out call may return: a loaded machine is slow. */
#define SLACK_MS 2000u

static uint64_t ms_since(uint64_t t0)
{
	return (mono_ns() - t0) / 1000000u;
}

/* A call that began at t0 gave up after TIMEOUT_MS, and not much later. */
static void assert_took_timeout(uint64_t t0)
{
	uint64_t took = ms_since(t0);
	assert_true(took >= TIMEOUT_MS);
	assert_true(took < TIMEOUT_MS + SLACK_MS);
}

static void stop(struct daemon *d)
{
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
}

/* h's calls time out after TIMEOUT_MS, and d stops answering. */
static void stop_for(struct daemon *d, heapd *h)
{
	assert_int_equal(heapd_set_timeout(h, TIMEOUT_MS), 0);
	stop(d);
}

static void resume(struct daemon *d)
{
	assert_int_equal(kill(d->pid, SIGCONT), 0);
}

/* h, which timed out: closed, every call fails with HEAPD_ETIMEDOUT and
 * the message it timed out with, but an argument error is still said. */
static void stays_timed_out(heapd *h)
{
	char msg[256];
	snprintf(msg, sizeof msg, "%s", heapd_errmsg(h));
	assert_non_null(strstr(msg, "ms"));
	heapd_ref ref;
	assert_int_equal(heapd_ping(h, NULL), HEAPD_ETIMEDOUT);
	assert_string_equal(heapd_errmsg(h), msg);
	assert_int_equal(heapd_alloc(h, 0, 8, &ref), HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_append_ping(h), HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_flush(h), HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_read(h, 1ull << 32, 0, NULL, 8), HEAPD_EINVAL);
	assert_int_equal(heapd_ping(h, NULL), HEAPD_ETIMEDOUT);
	assert_string_equal(heapd_errmsg(h), msg);
}

static void settings(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	unsetenv("HEAPD_TIMEOUT_MS");
	heapd *h = client(&d);
	assert_int_equal(heapd_timeout(h), 0);
	assert_int_equal(heapd_set_timeout(h, 1234), 0);
	assert_int_equal(heapd_timeout(h), 1234);
	assert_int_equal(heapd_set_timeout(h, 0), 0);
	assert_int_equal(heapd_timeout(h), 0);
	assert_int_equal(heapd_set_timeout(NULL, 5), HEAPD_EINVAL);
	assert_int_equal(heapd_timeout(NULL), 0);
	assert_int_equal(heapd_set_timeout(h, TIMEOUT_MS), 0);
	assert_int_equal(heapd_ping(h, NULL), 0); /* a running daemon answers in time */
	heapd_close(h);
	daemon_stop(&d);
}

/* A one-at-a-time call to a stopped daemon. */
static void call_times_out(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref ref;
	assert_int_equal(heapd_alloc(h, 0, 8, &ref), 0);
	stop_for(&d, h);
	uint64_t t0 = mono_ns();
	assert_int_equal(heapd_write(h, ref, 0, "x", 1), HEAPD_ETIMEDOUT);
	assert_took_timeout(t0);
	assert_int_equal(heapd_errcode(h), HEAPD_ETIMEDOUT);
	assert_non_null(strstr(heapd_errmsg(h), "no reply within 200 ms"));
	stays_timed_out(h);
	resume(&d);
	heapd_close(h);
	daemon_stop(&d);
}

/* The deadline ends a spin longer than the timeout: a 2 ms timeout with a
 * 10 ms spin gives up well before the spin would. The best of three, as a
 * loaded machine may deschedule us for a while. */
static void deadline_cuts_spin(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		heapd *h = client(&d);
		assert_int_equal(heapd_set_spin(h, HEAPD_SPIN_MAX_US), 0);
		assert_int_equal(heapd_set_timeout(h, 2), 0);
		uint64_t spins0, spins;
		heapd_spin_counts(h, &spins0, NULL);
		stop(&d);
		uint64_t t0 = mono_ns();
		assert_int_equal(heapd_ping(h, NULL), HEAPD_ETIMEDOUT);
		uint64_t took = mono_ns() - t0;
		resume(&d);
		heapd_spin_counts(h, &spins, NULL);
		assert_int_equal(spins, spins0 + 1);
		assert_true(took >= 2000000u);
		if (took < best)
			best = took;
		heapd_close(h);
	}
	assert_true(best < (uint64_t)HEAPD_SPIN_MAX_US * 1000u);
	daemon_stop(&d);
}

/* Pipelined replies: the first wait times out, and every pending reply is
 * then that error. */
static void get_reply_times_out(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	stop_for(&d, h);
	for (int i = 0; i < 3; i++)
		assert_int_equal(heapd_append_ping(h), 0);
	heapd_reply r;
	uint64_t t0 = mono_ns();
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ETIMEDOUT);
	assert_true(ms_since(t0) >= TIMEOUT_MS);
	assert_int_equal(r.status, HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_pending(h), 2);
	t0 = mono_ns();
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ETIMEDOUT);
	assert_true(ms_since(t0) < TIMEOUT_MS); /* no more waiting: it is closed */
	assert_int_equal(heapd_pending(h), 0);
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ETIMEDOUT);
	stays_timed_out(h);
	resume(&d);
	heapd_close(h);
	daemon_stop(&d);
}

/* heapd_flush of more than the socket holds, to a daemon that reads
 * nothing. */
static void flush_times_out(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref ref;
	assert_int_equal(heapd_alloc(h, 0, 65536, &ref), 0);
	stop_for(&d, h);
	static char buf[65536];
	for (int i = 0; i < 256; i++) /* 16 MiB, far past the socket's buffers */
		assert_int_equal(heapd_append_write(h, ref, 0, buf, sizeof buf), 0);
	uint64_t t0 = mono_ns();
	assert_int_equal(heapd_flush(h), HEAPD_ETIMEDOUT);
	assert_took_timeout(t0);
	assert_non_null(strstr(heapd_errmsg(h), "took no requests for 200 ms"));
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ETIMEDOUT);
	resume(&d);
	heapd_close(h);
	daemon_stop(&d);
}

/* heapd_batch_exec: every op gets the error. */
static void batch_times_out(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	assert_int_equal(heapd_batch_alloc(b, 1, 8), 0);
	assert_int_equal(heapd_batch_alloc(b, 0, 8), 1);
	stop_for(&d, h);
	uint64_t t0 = mono_ns();
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ETIMEDOUT);
	assert_true(ms_since(t0) >= TIMEOUT_MS);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, 0, &r), HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_batch_reply(b, 1, &r), HEAPD_ETIMEDOUT);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ETIMEDOUT);
	resume(&d);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* A connection made with $HEAPD_TIMEOUT_MS set to value. */
static heapd *connect_with(const struct daemon *d, const char *value)
{
	setenv("HEAPD_TIMEOUT_MS", value, 1);
	heapd *h = heapd_connect(d->sock);
	unsetenv("HEAPD_TIMEOUT_MS");
	assert_non_null(h);
	return h;
}

/* $HEAPD_TIMEOUT_MS: the default, which bounds the connect's Hello too;
 * a bad value fails the connection. */
static void environment(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = connect_with(&d, "250");
	assert_int_equal(heapd_errcode(h), 0);
	assert_int_equal(heapd_timeout(h), 250);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	const char *bad[] = {"x", "-1", "12ms", "4294967296", " 5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h = connect_with(&d, bad[i]);
		assert_int_equal(heapd_errcode(h), HEAPD_EINVAL);
		assert_non_null(strstr(heapd_errmsg(h), "HEAPD_TIMEOUT_MS"));
		assert_int_equal(heapd_ping(h, NULL), HEAPD_EINVAL);
		heapd_close(h);
	}

	stop(&d); /* the socket still accepts; the Hello gets no answer */
	uint64_t t0 = mono_ns();
	h = connect_with(&d, "200");
	assert_took_timeout(t0);
	assert_int_equal(heapd_errcode(h), HEAPD_ETIMEDOUT);
	assert_non_null(strstr(heapd_errmsg(h), "did not answer the Hello within 200 ms"));
	assert_int_equal(heapd_ping(h, NULL), HEAPD_ETIMEDOUT);
	heapd_close(h);
	resume(&d);
	daemon_stop(&d);
}

/* heapd_connect_timeout: its argument, never $HEAPD_TIMEOUT_MS, bounds
 * the Hello and then every call. */
static void connect_timeout_argument(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	setenv("HEAPD_TIMEOUT_MS", "x", 1);   /* a bad value heapd_connect would refuse */
	heapd *h = heapd_connect_timeout(d.sock, 250);
	assert_non_null(h);
	assert_int_equal(heapd_errcode(h), 0);
	assert_int_equal(heapd_timeout(h), 250);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);

	setenv("HEAPD_TIMEOUT_MS", "0", 1);   /* for ever, were it read */
	stop(&d);
	uint64_t t0 = mono_ns();
	h = heapd_connect_timeout(d.sock, 200);
	unsetenv("HEAPD_TIMEOUT_MS");
	assert_took_timeout(t0);
	assert_int_equal(heapd_errcode(h), HEAPD_ETIMEDOUT);
	assert_non_null(strstr(heapd_errmsg(h), "did not answer the Hello within 200 ms"));
	heapd_close(h);
	resume(&d);
	daemon_stop(&d);
}

/* A listener whose queue is full (backlog 0, one connection waiting, none
 * accepted): the connect itself waits, within $HEAPD_TIMEOUT_MS. */
static void connect_queue_full(void **state)
{
	(void)state;
	char dir[] = "/tmp/i18-timeout.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct daemon fake = {0};
	snprintf(fake.sock, sizeof fake.sock, "%s/sock", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, fake.sock, sizeof fake.sock);   /* fake.sock fits sun_path */
	int l = socket(AF_UNIX, SOCK_STREAM, 0), first = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(l >= 0 && first >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(l, 0), 0);
	assert_int_equal(connect(first, (struct sockaddr *)&sa, sizeof sa), 0);
	uint64_t t0 = mono_ns();
	heapd *h = connect_with(&fake, "200");
	uint64_t took = ms_since(t0);
	assert_int_equal(heapd_errcode(h), HEAPD_ETIMEDOUT);
	assert_non_null(strstr(heapd_errmsg(h), "listen queue stayed full for 200 ms"));
	assert_true(took >= TIMEOUT_MS - 10 && took < TIMEOUT_MS + SLACK_MS);
	heapd_close(h);
	close(first);
	close(l);
	unlink(sa.sun_path);
	rmdir(dir);
}

/* Continues the stopped daemon after ms, from a child process. */
static pid_t resume_after(struct daemon *d, long ms)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sleep_ms(ms);
		kill(d->pid, SIGCONT);
		_exit(0);
	}
	return pid;
}

/* 0 waits for ever; a timeout longer than the pause waits it out. */
static void zero_waits(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	unsetenv("HEAPD_TIMEOUT_MS");
	heapd *h = client(&d);
	uint32_t timeouts[] = {0, 20000};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(heapd_set_timeout(h, timeouts[i]), 0);
		stop(&d);
		pid_t child = resume_after(&d, 2 * TIMEOUT_MS);
		uint64_t t0 = mono_ns();
		assert_int_equal(heapd_ping(h, NULL), 0);
		assert_true(ms_since(t0) >= 2 * TIMEOUT_MS - 10);
		assert_int_equal(waitpid(child, NULL, 0), child);
	}
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(settings),
		cmocka_unit_test(call_times_out),
		cmocka_unit_test(deadline_cuts_spin),
		cmocka_unit_test(get_reply_times_out),
		cmocka_unit_test(flush_times_out),
		cmocka_unit_test(batch_times_out),
		cmocka_unit_test(environment),
		cmocka_unit_test(connect_timeout_argument),
		cmocka_unit_test(connect_queue_full),
		cmocka_unit_test(zero_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
