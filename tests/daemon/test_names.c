/*
 * test_names.c - text clients send, against a live heapd: root names must
 * be UTF-8 text without control characters, read by their protobuf length
 * (an embedded NUL is INVALID, not an end); a name quoted in an error is
 * cut at a character's boundary; a client's name reaches the log escaped.
 */
#include "daemonutil.h"
#include "text.h"

static void root_names_checked(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref r, got;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	static const char *const bad[] = {"a\xff", "\x1b[31mred", "line\nbreak", "del\x7f", "\xc2\x85", "\xc0\xaf"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(heapd_root_set(h, bad[i], r), HEAPD_EINVAL);
		assert_non_null(strstr(heapd_errmsg(h), "UTF-8 text without control characters"));
		assert_int_equal(heapd_root_get(h, bad[i], &got), HEAPD_EINVAL);
	}
	assert_int_equal(heapd_root_set(h, "\xcf\x80-root", r), 0);
	char **names;
	size_t n;
	assert_int_equal(heapd_root_list(h, &names, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "\xcf\x80-root");
	heapd_free_names(names);
	heapd_close(h);
	daemon_stop(&d);
}

/* A name's status and message, sent as raw bytes (NUL included) by op. */
static Heapd__Status raw_root_op(int fd, uint64_t id, Heapd__Request__OpCase op, const char *name, size_t len,
				 heapd_ref obj)
{
	ProtobufCBinaryData b = {.data = (uint8_t *)name, .len = len};
	Heapd__RootSet rs = HEAPD__ROOT_SET__INIT;
	Heapd__RootGet rg = HEAPD__ROOT_GET__INIT;
	Heapd__RootChmod rc = HEAPD__ROOT_CHMOD__INIT;
	Heapd__RootChown ro = HEAPD__ROOT_CHOWN__INIT;
	rs.name = rg.name = rc.name = ro.name = b;
	rs.obj = obj;
	rc.mode = 0666;
	ro.uid = ro.gid = 4242;
	void *msg = op == HEAPD__REQUEST__OP_ROOT_SET ? (void *)&rs : op == HEAPD__REQUEST__OP_ROOT_GET ? (void *)&rg
		    : op == HEAPD__REQUEST__OP_ROOT_CHMOD ? (void *)&rc : (void *)&ro;
	Heapd__Request req = raw_request(id, op, msg);
	Heapd__Response *resp = raw_call(fd, &req);
	Heapd__Status st = resp->status;
	if (st == HEAPD__STATUS__INVALID && !strstr(resp->error, "UTF-8 text without control characters"))
		fail_msg("\"%s\" does not say why the name is refused", resp->error);
	heapd__response__free_unpacked(resp, NULL);
	return st;
}

/* The daemon reads a name by its protobuf length: "a/x\0zzz" is not
 * "a/x", and a NUL, as any control character, makes it INVALID for every
 * root op; "a/x" is untouched. */
static void embedded_nul_is_not_an_end(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a, b, got;
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	assert_int_equal(heapd_alloc(h, 0, 8, &b), 0);
	assert_int_equal(heapd_root_set(h, "a/x", a), 0);
	int fd = raw_connect(&d);
	raw_hello(fd);
	static const char nul[] = "a/x\0zzz";
	static const Heapd__Request__OpCase ops[] = {HEAPD__REQUEST__OP_ROOT_SET, HEAPD__REQUEST__OP_ROOT_GET,
						     HEAPD__REQUEST__OP_ROOT_CHMOD, HEAPD__REQUEST__OP_ROOT_CHOWN};
	uint64_t id = 2;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		assert_int_equal(raw_root_op(fd, id++, ops[i], nul, sizeof nul - 1, b), HEAPD__STATUS__INVALID);
		assert_int_equal(raw_root_op(fd, id++, ops[i], "a/x\0", 4, b), HEAPD__STATUS__INVALID);
	}
	assert_int_equal(raw_root_op(fd, id++, HEAPD__REQUEST__OP_ROOT_SET, nul, sizeof nul - 1, 0),
			 HEAPD__STATUS__INVALID);  /* a delete too */
	/* The same bytes up to the NUL name the root. */
	assert_int_equal(raw_root_op(fd, id++, HEAPD__REQUEST__OP_ROOT_GET, nul, 3, 0), HEAPD__STATUS__OK);
	close(fd);
	assert_int_equal(heapd_root_get(h, "a/x", &got), 0);
	assert_true(got == a);
	heapd_root_info *info;
	size_t n;
	assert_int_equal(heapd_root_list_info(h, &info, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(info[0].name, "a/x");
	assert_int_equal(info[0].mode, 0644);  /* no chmod went through */
	assert_int_equal(info[0].uid, getuid());
	heapd_free_root_info(info);
	heapd_close(h);
	daemon_stop(&d);
}

static void quoted_names_cut_whole(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	char name[128] = "x";  /* then 2-byte characters: 64 falls inside one */
	for (int i = 0; i < 50; i++)
		strcat(name, "\xc3\xa9");
	heapd_ref got;
	assert_int_equal(heapd_root_get(h, name, &got), HEAPD_ENOTFOUND);
	const char *msg = heapd_errmsg(h);
	assert_true(text_valid(msg, strlen(msg)));
	assert_non_null(strstr(msg, "no root named \"x\xc3\xa9"));
	heapd_close(h);
	daemon_stop(&d);
}

static void client_name_escaped_in_the_log(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);  /* at log level debug: Hellos are logged */
	int fd = raw_connect(&d);
	Heapd__Hello hello = HEAPD__HELLO__INIT;
	hello.version = 1;
	hello.client_name = "evil\nheapd: error: forged\x1b[2J";
	Heapd__Request req = raw_request(1, HEAPD__REQUEST__OP_HELLO, &hello);
	raw_call_ok(fd, &req);
	raw_ping(fd, 2);
	close(fd);
	assert_int_equal(daemon_stop_sig(&d, SIGTERM), 0);  /* the log stays, to be read */
	FILE *f = fopen(d.log, "r");
	assert_non_null(f);
	char line[512];
	int seen = 0;
	while (fgets(line, sizeof line, f)) {
		assert_true(strncmp(line, "heapd: error: forged", 20) != 0);
		assert_null(strchr(line, '\x1b'));
		seen |= strstr(line, "evil\\x0aheapd: error: forged\\x1b[2J") != NULL;
	}
	fclose(f);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
	assert_true(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(root_names_checked),
		cmocka_unit_test(embedded_nul_is_not_an_end),
		cmocka_unit_test(quoted_names_cut_whole),
		cmocka_unit_test(client_name_escaped_in_the_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
