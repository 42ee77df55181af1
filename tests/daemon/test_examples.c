/*
 * test_examples.c - the async examples (examples/async-*.c), one per event
 * loop adapter, run as a user would run them, against a heapd of the
 * test's own: each connects, allocates, writes, reads back, prints and
 * disconnects, and exits 0. Then against a socket with nothing behind it,
 * where each must say why and exit 1.
 */
#include "daemonutil.h"
#include "runutil.h"

static void run_example(const char *name, const char *sock, struct run *r)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", env_or("HEAPD_EXAMPLES_DIR", "examples"), name);
	char *argv[] = {path, (char *)sock, NULL};
	run_env(r, NULL, argv);
}

static void example_works(const char *name, const char *text)
{
	struct daemon d;
	daemon_start(&d, NULL);
	struct run r;
	run_example(name, d.sock, &r);
	if (r.code != 0)
		fail_msg("%s exited %d: %s", name, r.code, r.err);
	assert_non_null(strstr(r.out, "connected\n"));
	assert_non_null(strstr(r.out, "allocated object 0x"));
	char want[64];
	snprintf(want, sizeof want, "read back: %s\n", text);
	assert_non_null(strstr(r.out, want));
	assert_non_null(strstr(r.out, "disconnected\n"));
	assert_string_equal(r.err, "");
	run_free(&r);

	/* No daemon: a clear message, at once. */
	char gone[160];
	snprintf(gone, sizeof gone, "%s/none.sock", d.dir);
	run_example(name, gone, &r);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err, "cannot connect to"));
	assert_non_null(strstr(r.err, "No such file or directory"));
	run_free(&r);
	daemon_stop(&d);
}

static void libevent_example(void **state)
{
	(void)state;
	example_works("async-libevent", "hello from libevent");
}

static void libuv_example(void **state)
{
	(void)state;
	example_works("async-libuv", "hello from libuv");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(libevent_example),
		cmocka_unit_test(libuv_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
