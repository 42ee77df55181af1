/*
 * test_client.c - every call of libheapd against a real heapd, and every
 * error code a client can meet, each provoked for real.
 */
#include "daemonutil.h"

static void calls_work(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	assert_true(heapd_session_id(h) > 0);
	assert_string_equal(heapd_server_version(h), PACKAGE_VERSION);
	assert_int_equal(heapd_max_frame(h), 16u << 20);
	assert_int_equal(heapd_max_object(h), 64u << 20);
	uint64_t rtt = 0;
	assert_int_equal(heapd_ping(h, &rtt), 0);
	assert_true(rtt > 0);

	heapd_ref a, b, got;
	assert_int_equal(heapd_alloc(h, 2, 16, &a), 0);
	assert_int_equal(heapd_alloc(h, 0, 5, &b), 0);
	assert_true(a && b && a != b);
	char buf[16] = {1};
	assert_int_equal(heapd_read(h, a, 0, buf, 16), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0); /* zeroed */
	assert_int_equal(heapd_write(h, a, 3, "hello", 5), 0);
	assert_int_equal(heapd_read(h, a, 3, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(heapd_set_ref(h, a, 1, b), 0);
	assert_int_equal(heapd_get_ref(h, a, 1, &got), 0);
	assert_true(got == b);
	assert_int_equal(heapd_get_ref(h, a, 0, &got), 0);
	assert_true(got == 0); /* empty slot: no hold */
	assert_int_equal(heapd_set_ref(h, a, 1, 0), 0);
	assert_int_equal(heapd_get_ref(h, a, 1, &got), 0);
	assert_true(got == 0);

	assert_int_equal(heapd_root_set(h, "tree", a), 0);
	assert_int_equal(heapd_root_get(h, "tree", &got), 0);
	assert_true(got == a);
	char **names;
	size_t n;
	int truncated = -1;
	assert_int_equal(heapd_root_list(h, &names, &n, &truncated), 0);
	assert_int_equal(n, 1);
	assert_int_equal(truncated, 0);
	assert_string_equal(names[0], "tree");
	assert_null(names[1]);
	heapd_free_names(names);
	/* Its owner and mode, changed by its owner (the test's uid). */
	assert_int_equal(heapd_root_chmod(h, "tree", 0640), 0);
	assert_int_equal(heapd_root_chown(h, "tree", HEAPD_ID_KEEP, getgid()), 0);
	heapd_root_info *info;
	assert_int_equal(heapd_root_list_info(h, &info, &n, &truncated), 0);
	assert_int_equal(n, 1);
	assert_string_equal(info[0].name, "tree");
	assert_true(info[0].uid == getuid() && info[0].gid == getgid() && info[0].mode == 0640);
	assert_null(info[1].name);
	heapd_free_root_info(info);

	/* alloc_into: data and a slot in one round trip, no hold */
	heapd_ref in;
	assert_int_equal(heapd_alloc_into(h, a, 0, 0, 8, "slot0", 5, &in), 0);
	assert_int_equal(heapd_get_ref(h, a, 0, &got), 0);
	assert_true(got == in);
	assert_int_equal(heapd_read(h, in, 0, buf, 8), 0);
	assert_memory_equal(buf, "slot0\0\0\0", 8);
	assert_int_equal(heapd_release(h, in), 0); /* the get_ref hold */
	assert_int_equal(heapd_release(h, in), HEAPD_ENOTFOUND); /* alloc_into took none */
	assert_int_equal(heapd_alloc_into(h, a, 2, 0, 8, NULL, 0, &got), HEAPD_ERANGE);
	assert_int_equal(heapd_alloc_into(h, a, 0, 0, 4, "toolong", 7, &got), HEAPD_ERANGE);
	assert_int_equal(heapd_alloc_into(h, 0x12345, 0, 0, 4, NULL, 0, &got), HEAPD_EBADREF);
	heapd_ref held;
	assert_int_equal(heapd_alloc_into(h, 0, 0, 1, 3, "abc", 3, &held), 0); /* obj 0: held */
	assert_int_equal(heapd_read(h, held, 0, buf, 3), 0);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(heapd_release(h, held), 0);
	assert_int_equal(heapd_set_ref(h, a, 0, 0), 0); /* in is garbage now */

	heapd_stats *st = stats_of(h);
	assert_int_equal(st->heap_objects, 2 + 2); /* + in and held, not yet collected */
	assert_int_equal(st->named_roots, 1);
	assert_int_equal(st->sessions, 1);
	assert_int_equal(st->holds, 4); /* a, b, b again from get_ref, a again from root_get */
	assert_true(st->rss_bytes > 0 && st->uptime_ns > 0);

	/* b is held only by this connection, twice: released twice, it goes at
	 * the next GC. */
	assert_int_equal(heapd_release(h, b), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_read(h, b, 0, buf, 1), 0);
	assert_int_equal(heapd_release(h, b), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_read(h, b, 0, buf, 1), HEAPD_EBADREF);
	st = stats_of(h);
	assert_int_equal(st->heap_objects, 1); /* in and held went too */
	assert_true(st->num_forced_gc >= 1);
	uint64_t cycles = st->num_gc;
	assert_int_equal(heapd_free_os_memory(h), 0);
	st = stats_of(h);
	assert_true(st->num_gc > cycles);
	assert_int_equal(st->heap_released, st->heap_idle);
	assert_true(st->num_pause > 0 && st->pause_ns[(st->num_pause + 255) % 256] > 0);
	/* the root keeps a alive after its holds go */
	assert_int_equal(heapd_release(h, a), 0);
	assert_int_equal(heapd_release(h, a), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_read(h, a, 3, buf, 5), 0);
	assert_int_equal(heapd_root_set(h, "tree", 0), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_read(h, a, 3, buf, 5), HEAPD_EBADREF);
	assert_int_equal(stats_of(h)->heap_objects, 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* A program built when heapd_stats had fewer fields gets those and not a
 * byte more; one built with more gets zeroes for the fields this library
 * does not know. */
static void stats_sizes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 1, 8, &a), 0);

	const size_t old = offsetof(heapd_stats, holds);
	unsigned char buf[sizeof(heapd_stats) + 64];
	memset(buf, 0xa5, sizeof buf);
	assert_int_equal(heapd_get_stats(h, (heapd_stats *)buf, old), 0);
	heapd_stats st;
	memcpy(&st, buf, old);
	assert_int_equal(st.heap_objects, 1);
	assert_true(st.heap_alloc > 0);
	for (size_t i = old; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xa5);

	memset(buf, 0xa5, sizeof buf);
	assert_int_equal(heapd_get_stats(h, (heapd_stats *)buf, sizeof buf), 0);
	memcpy(&st, buf, sizeof st);
	assert_int_equal(st.holds, 1);
	assert_int_equal(st.sessions, 1);
	for (size_t i = sizeof st; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0);

	assert_int_equal(heapd_get_stats(h, (heapd_stats *)buf, 0), 0);
	heapd_close(h);
	daemon_stop(&d);
}

static void error_codes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-heap", "16M", "--max-object-size", "1M", "--max-holds-per-session", "100", NULL);
	heapd *h = client(&d);
	heapd_ref a, got;
	char buf[8];
	assert_int_equal(heapd_alloc(h, 1, 8, &a), 0);

	/* EBADREF: null, forged, stale */
	assert_int_equal(heapd_read(h, 0, 0, buf, 1), HEAPD_EBADREF);
	assert_int_equal(heapd_errcode(h), HEAPD_EBADREF);
	assert_true(strstr(heapd_errmsg(h), "read") != NULL);
	assert_int_equal(heapd_set_ref(h, a, 0, a ^ 0x100000000ull), HEAPD_EBADREF);
	assert_int_equal(heapd_get_ref(h, 0x123456789abcdefull, 0, &got), HEAPD_EBADREF);
	/* the connection stays usable after a request error */
	assert_int_equal(heapd_ping(h, NULL), 0);
	assert_int_equal(heapd_errcode(h), 0);
	assert_string_equal(heapd_errmsg(h), "");

	/* ERANGE: slot and offset */
	assert_int_equal(heapd_set_ref(h, a, 1, 0), HEAPD_ERANGE);
	assert_int_equal(heapd_get_ref(h, a, 1, &got), HEAPD_ERANGE);
	assert_int_equal(heapd_read(h, a, 5, buf, 4), HEAPD_ERANGE);
	assert_int_equal(heapd_write(h, a, 0xfffffffc, buf, 8), HEAPD_ERANGE);

	/* ENOTFOUND: no such root, no such hold */
	assert_int_equal(heapd_root_get(h, "nothing", &got), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_root_set(h, "nothing", 0), HEAPD_ENOTFOUND);
	heapd_ref b;
	assert_int_equal(heapd_alloc(h, 0, 8, &b), 0);
	assert_int_equal(heapd_release(h, b), 0);
	assert_int_equal(heapd_release(h, b), HEAPD_ENOTFOUND);

	/* EINVAL: root names */
	char name[300];
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(heapd_root_set(h, name, a), HEAPD_EINVAL);
	assert_int_equal(heapd_root_set(h, "", a), HEAPD_EINVAL);
	assert_int_equal(heapd_root_get(h, NULL, &got), HEAPD_EINVAL);
	assert_int_equal(heapd_root_chmod(h, NULL, 0644), HEAPD_EINVAL);
	assert_int_equal(heapd_root_chown(h, NULL, 0, 0), HEAPD_EINVAL);
	assert_int_equal(heapd_root_chmod(h, "nothing", 0644), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_root_chown(h, "nothing", 0, 0), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_root_set(h, "modes", a), 0);
	assert_int_equal(heapd_root_chmod(h, "modes", 0700), HEAPD_EINVAL);  /* rw bits only */
	assert_non_null(strstr(heapd_errmsg(h), "root_chmod: mode 0700 has bits other than rw (0666)"));
	assert_int_equal(heapd_root_set(h, "modes", 0), 0);

	/* ELIMIT: object size, holds, read length past a frame */
	assert_int_equal(heapd_alloc(h, 0, 2u << 20, &got), HEAPD_ELIMIT);
	assert_true(strstr(heapd_errmsg(h), "alloc") != NULL);
	for (int i = 0; i < 99; i++) /* 1 hold on a + 99 = max_holds_per_session */
		assert_int_equal(heapd_alloc(h, 0, 8, &got), 0);
	assert_int_equal(heapd_alloc(h, 0, 8, &got), HEAPD_ELIMIT);
	assert_int_equal(heapd_read(h, a, 0, buf, 20u << 20), HEAPD_ELIMIT);
	heapd_close(h);

	/* ENOMEM: the heap's hard maximum, for everyone at once */
	h = client(&d);
	heapd_ref big;
	int err;
	int n = 0;
	while ((err = heapd_alloc(h, 0, 1000000, &big)) == 0)
		n++;
	assert_int_equal(err, HEAPD_ENOMEM);
	assert_true(n >= 10 && n <= 16);
	heapd_close(h); /* its holds go: memory for the next client */
	h = client(&d);
	assert_int_equal(heapd_alloc(h, 0, 1000000, &big), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* EPERM: a peer outside the allow lists is refused at connect. ELIMIT: past
 * max_clients. EIO: the daemon goes away. */
static void connection_errors(void **state)
{
	(void)state;
	struct daemon d;
	char uid[16];
	snprintf(uid, sizeof uid, "%u", (unsigned)getuid() + 1);
	daemon_start(&d, "--allowed-uids", uid, NULL);
	heapd *h = heapd_connect(d.sock);
	assert_int_equal(heapd_errcode(h), HEAPD_EPERM);
	assert_true(strstr(heapd_errmsg(h), "may not use") != NULL);
	assert_int_equal(heapd_ping(h, NULL), HEAPD_EPERM); /* stays failed */
	heapd_close(h);
	daemon_stop(&d);

	daemon_start(&d, "--max-clients", "2", "--admin-reserved-connections", "0", NULL);
	heapd *c1 = client(&d), *c2 = client(&d);
	h = heapd_connect(d.sock);
	assert_int_equal(heapd_errcode(h), HEAPD_ELIMIT);
	assert_true(strstr(heapd_errmsg(h), "max_clients") != NULL);
	heapd_close(h);
	heapd_close(c2);
	sleep_ms(50);
	h = client(&d); /* a place is free again */
	heapd_close(h);
	assert_int_equal(daemon_stop_sig(&d, SIGKILL), -1);
	assert_int_equal(heapd_ping(c1, NULL), HEAPD_EIO);
	assert_int_equal(heapd_alloc(c1, 0, 1, &(heapd_ref){0}), HEAPD_EIO);
	heapd_close(c1);
	unlink(d.sock);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);

	h = heapd_connect("/nonexistent/heapd.sock");
	assert_int_equal(heapd_errcode(h), HEAPD_EIO);
	heapd_close(h);
	setenv("HEAPD_SOCKET", "/nonexistent/env.sock", 1);
	h = heapd_connect(NULL);
	assert_true(strstr(heapd_errmsg(h), "/nonexistent/env.sock") != NULL);
	heapd_close(h);
	unsetenv("HEAPD_SOCKET");
}

/* EPROTO: what the daemon sends does not follow the protocol. A fake
 * daemon answers Hello correctly, then garbage. */
static void protocol_errors(void **state)
{
	(void)state;
	char dir[] = "/tmp/heapd-fake.XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/fake.sock", dir);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 4), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = accept(lfd, NULL, NULL);
		uint8_t in[256];
		recv(fd, in, sizeof in, 0); /* the Hello request, not looked at */
		Heapd__HelloReply hr = HEAPD__HELLO_REPLY__INIT;
		hr.version = 1;
		hr.server_version = "fake";
		hr.max_frame = 1 << 20;
		Heapd__Response resp = HEAPD__RESPONSE__INIT;
		resp.id = 1;
		resp.result_case = HEAPD__RESPONSE__RESULT_HELLO;
		resp.hello = &hr;
		uint8_t out[256];
		size_t n = heapd__response__get_packed_size(&resp);
		out[0] = out[1] = out[2] = 0;
		out[3] = (uint8_t)n;
		heapd__response__pack(&resp, out + 4);
		send(fd, out, 4 + n, 0);
		char junk[64];
		recv(fd, junk, sizeof junk, 0);
		send(fd, "\0\0\0\5garbage", 9, 0);
		sleep_ms(200);
		_exit(0);
	}
	heapd *h = heapd_connect(path);
	assert_int_equal(heapd_errcode(h), 0);
	assert_int_equal(heapd_ping(h, NULL), HEAPD_EPROTO);
	assert_int_equal(heapd_ping(h, NULL), HEAPD_EPROTO); /* unusable now */
	heapd_close(h);
	waitpid(pid, NULL, 0);
	close(lfd);
	unlink(path);
	rmdir(dir);
	assert_string_equal(heapd_strerror(HEAPD_EPROTO), "protocol error");
	assert_string_equal(heapd_strerror(12345), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calls_work),
		cmocka_unit_test(stats_sizes),
		cmocka_unit_test(error_codes),
		cmocka_unit_test(connection_errors),
		cmocka_unit_test(protocol_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
