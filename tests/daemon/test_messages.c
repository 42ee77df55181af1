/*
 * test_messages.c - what an error says, through libheapd: the numbers that
 * matter (a range error's offset, length and the object's size or slot
 * count; a limit's name and value), ops numbered from 0 in a batch, a
 * small literal ref in a batch said as the placeholder it was taken for
 * (in the C API's words, no wire field), and a daemon that went away said
 * as such, not as an errno.
 */
#include "daemonutil.h"

/* The call's code is want, and heapd_errmsg(h) is exactly msg. */
#define SAYS(h, call, want, msg)                                                                   \
	do {                                                                                        \
		int err_ = (call);                                                                  \
		if (err_ != (want) || strcmp(heapd_errmsg(h), (msg)) != 0)                          \
			fail_msg("%s: %d \"%s\", not %d \"%s\"", #call, err_, heapd_errmsg(h), (want), (msg)); \
	} while (0)

static void range_errors(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref obj, out;
	assert_int_equal(heapd_alloc(h, 3, 64, &obj), 0);
	char buf[64] = {0};
	SAYS(h, heapd_read(h, obj, 60, buf, 10), HEAPD_ERANGE,
	     "read: offset 60 + length 10 is past the object's 64 data bytes");
	SAYS(h, heapd_write(h, obj, 64, buf, 1), HEAPD_ERANGE,
	     "write: offset 64 + length 1 is past the object's 64 data bytes");
	SAYS(h, heapd_set_ref(h, obj, 5, 0), HEAPD_ERANGE, "set_ref: slot 5 of an object with 3 slots");
	SAYS(h, heapd_get_ref(h, obj, 3, &out), HEAPD_ERANGE, "get_ref: slot 3 of an object with 3 slots");
	SAYS(h, heapd_alloc_into(h, obj, 7, 0, 8, NULL, 0, &out), HEAPD_ERANGE,
	     "alloc into: slot 7 of an object with 3 slots");
	heapd_ref one;
	assert_int_equal(heapd_alloc(h, 1, 0, &one), 0);
	SAYS(h, heapd_set_ref(h, one, 1, 0), HEAPD_ERANGE, "set_ref: slot 1 of an object with 1 slot");
	SAYS(h, heapd_alloc_into(h, 0, 0, 0, 4, "toolong", 7, &out), HEAPD_ERANGE,
	     "alloc: 7 bytes of data for 4 bytes of object");

	/* In a batch: the same message, after the op's index from 0. */
	heapd_batch *b = heapd_batch_new();
	heapd_batch_write(b, obj, 0, "x", 1);
	heapd_batch_get_ref(b, obj, 9);
	heapd_batch_release(b, obj);
	SAYS(h, heapd_batch_exec(h, b), HEAPD_ERANGE, "batch op 1: get_ref: slot 9 of an object with 3 slots");
	assert_int_equal(heapd_batch_failed(b), 1);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, 1, &r), HEAPD_ERANGE);
	assert_string_equal(r.error, "get_ref: slot 9 of an object with 3 slots");
	heapd_batch_free(b);

	/* The calls of a later day: cas_ref's slot as set_ref's. */
	SAYS(h, heapd_cas_ref(h, obj, 3, 0, one, NULL), HEAPD_ERANGE, "cas_ref: slot 3 of an object with 3 slots");
	b = heapd_batch_new();
	heapd_batch_cas_ref(b, obj, 0, 0, one);
	heapd_batch_cas_ref(b, one, 4, 0, obj);
	SAYS(h, heapd_batch_exec(h, b), HEAPD_ERANGE, "batch op 1: cas_ref: slot 4 of an object with 1 slot");
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* A small literal ref in a batch is taken for heapd_batch_result's
 * placeholder: the message says so in the C API's words, no wire field. */
static void placeholder_errors(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_batch *b = heapd_batch_new();
	heapd_batch_release(b, 5);
	SAYS(h, heapd_batch_exec(h, b), HEAPD_EINVAL,
	     "batch op 0: release: obj is the result of op 4, which does not come before this op (0); "
	     "a ref below 2^32 stands for the result of a batch op");
	heapd_batch_reset(b);
	heapd_batch_alloc(b, 0, 8);
	heapd_batch_get_stats(b);
	heapd_batch_root_cas(b, "p", 0, 2);
	SAYS(h, heapd_batch_exec(h, b), HEAPD_EINVAL,
	     "batch op 2: root_cas: target is the result of op 1, which is not a ref; "
	     "a ref below 2^32 stands for the result of a batch op");
	assert_null(strstr(heapd_errmsg(h), "_from"));
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

static void limit_errors(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-holds-per-session", "2", "--max-roots", "1", "--max-object-size", "4K", NULL);
	heapd *h = client(&d);
	heapd_ref a, c;
	assert_int_equal(heapd_alloc(h, 1, 8, &a), 0);
	assert_int_equal(heapd_alloc(h, 0, 8, &c), 0);
	SAYS(h, heapd_alloc(h, 0, 8, &c), HEAPD_ELIMIT,
	     "alloc: holds per connection: max_holds_per_session 2");
	assert_int_equal(heapd_root_set(h, "first", a), 0);
	SAYS(h, heapd_root_set(h, "second", a), HEAPD_ELIMIT, "root_set: named roots: max_roots 1");
	assert_int_equal(heapd_release(h, c), 0);
	SAYS(h, heapd_alloc(h, 100, 4000, &c), HEAPD_ELIMIT,
	     "alloc: 100 refs and 4000 bytes make an object of 4808 bytes, over max_object_size 4096");
	char pattern[1026];
	memset(pattern, '*', sizeof pattern - 1);
	pattern[sizeof pattern - 1] = '\0';
	heapd_root_info *roots;
	uint64_t next;
	SAYS(h, heapd_root_scan(h, pattern, 0, 0, &roots, NULL, &next), HEAPD_EINVAL,
	     "root_scan: a pattern of 1025 bytes (at most 1024)");
	SAYS(h, heapd_root_cas(h, "second", 0, a, NULL), HEAPD_ELIMIT, "root_cas: named roots: max_roots 1");
	heapd_close(h);
	daemon_stop(&d);
}

/* A daemon that is gone: the blocking API says so, whether the recv saw
 * the end or a send found the socket closed. */
static void daemon_gone(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd *p = client(&d);
	heapd_ref obj;
	assert_int_equal(heapd_alloc(p, 0, 65536, &obj), 0);
	daemon_stop_sig(&d, SIGKILL);
	SAYS(h, heapd_ping(h, NULL), HEAPD_EIO, "connection closed by the daemon");
	SAYS(h, heapd_ping(h, NULL), HEAPD_EIO, "connection closed by the daemon");
	static char buf[65536];
	for (int i = 0; i < 64; i++)
		assert_int_equal(heapd_append_write(p, obj, 0, buf, sizeof buf), 0);
	heapd_flush(p); /* the send fails; what the daemon said before may still come */
	heapd_reply r;
	SAYS(p, heapd_get_reply(p, &r), HEAPD_EIO, "connection closed by the daemon");
	SAYS(p, heapd_get_reply(p, &r), HEAPD_EIO, "connection closed by the daemon");
	heapd_close(p);
	heapd_close(h);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(range_errors),
		cmocka_unit_test(placeholder_errors),
		cmocka_unit_test(limit_errors),
		cmocka_unit_test(daemon_gone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
