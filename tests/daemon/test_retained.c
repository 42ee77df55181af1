/*
 * test_retained.c - the retained op against a real daemon: counts of
 * known shapes (a chain, a shared DAG, a cycle, roots sharing an object),
 * its errors (a stale ref, a missing root, a root the caller may not
 * read, both or neither argument, the per-uid bound), a 200,501-object
 * graph counted while another client's pings are answered, a client that
 * disconnects while its count runs, a stop while one runs, a count and
 * a save at once, and the async forms.
 *
 * Runs as root (the per-uid bound and permissions need a client under
 * another uid, userutil.h); the parts that need it are skipped otherwise.
 */
#include <poll.h>

#include "heapd.h"
#include "asyncutil.h"
#include "userutil.h"

#define B_UID 54322u
#define B_GID 54322u
#define FANOUT 500u     /* the big graph: a root object with FANOUT children, */
#define LEAVES 400u     /* each with LEAVES leaves of 8 bytes */
#define BIG_OBJECTS (1u + FANOUT + FANOUT * LEAVES)
#define ADMIN_AHEAD 16  /* admins' counts of it queued ahead of a user's: ~100 ms */

static void count(heapd *h, heapd_ref r, uint64_t *objects, uint64_t *bytes)
{
	if (heapd_retained(h, r, objects, bytes))
		fail_msg("retained: %s", heapd_errmsg(h));
}

/* The heap bytes of one object of these sizes, as the daemon counts them. */
static uint64_t one(heapd *h, uint32_t nrefs, uint32_t nbytes)
{
	heapd_ref r;
	uint64_t objects, bytes;
	assert_int_equal(heapd_alloc(h, nrefs, nbytes, &r), 0);
	count(h, r, &objects, &bytes);
	assert_int_equal(objects, 1);
	assert_true(bytes >= 8u + 8u * nrefs + nbytes);
	assert_int_equal(heapd_release(h, r), 0);
	return bytes;
}

static void shapes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	uint64_t node = one(h, 2, 16), objects, bytes;

	/* A chain of 10: each reaches those after it. */
	heapd_ref c[10];
	for (int i = 0; i < 10; i++)
		assert_int_equal(heapd_alloc_into(h, i ? c[i - 1] : 0, 0, 2, 16, NULL, 0, &c[i]), 0);
	count(h, c[0], &objects, &bytes);
	assert_int_equal(objects, 10);
	assert_int_equal(bytes, 10 * node);
	count(h, c[7], &objects, &bytes);
	assert_int_equal(objects, 3);

	/* A DAG: a -> b, a -> x, b -> s, x -> s: s is counted once. */
	heapd_ref a, b, x, s;
	assert_int_equal(heapd_alloc(h, 2, 16, &a), 0);
	assert_int_equal(heapd_alloc_into(h, a, 0, 2, 16, NULL, 0, &b), 0);
	assert_int_equal(heapd_alloc_into(h, a, 1, 2, 16, NULL, 0, &x), 0);
	assert_int_equal(heapd_alloc_into(h, b, 0, 2, 16, NULL, 0, &s), 0);
	assert_int_equal(heapd_set_ref(h, x, 0, s), 0);
	count(h, a, &objects, &bytes);
	assert_int_equal(objects, 4);
	assert_int_equal(bytes, 4 * node);

	/* A cycle: s -> a closes it; from any of them, all four. */
	assert_int_equal(heapd_set_ref(h, s, 1, a), 0);
	count(h, s, &objects, &bytes);
	assert_int_equal(objects, 4);
	count(h, x, &objects, NULL);
	assert_int_equal(objects, 4);

	/* Roots: two sharing s each count it, as du counts a file under both
	 * directories it is linked in. */
	assert_int_equal(heapd_root_set(h, "dag", a), 0);
	assert_int_equal(heapd_root_set(h, "chain", c[0]), 0);
	assert_int_equal(heapd_set_ref(h, c[9], 0, s), 0);
	assert_int_equal(heapd_root_retained(h, "dag", &objects, &bytes), 0);
	assert_int_equal(objects, 4);
	assert_int_equal(heapd_root_retained(h, "chain", &objects, &bytes), 0);
	assert_int_equal(objects, 14);
	assert_int_equal(bytes, 14 * node);

	/* Pipelined, and the reply's fields. */
	assert_int_equal(heapd_append_retained(h, b), 0);
	assert_int_equal(heapd_append_root_retained(h, "dag"), 0);
	heapd_reply r;
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.objects, 4);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.objects, 4);
	assert_int_equal(r.bytes, 4 * node);
	heapd_close(h);
	daemon_stop(&d);
}

static void expect_error(heapd *h, int got, int code, const char *msg)
{
	if (got != code)
		fail_msg("code %d, want %d (%s)", got, code, heapd_errmsg(h));
	if (!strstr(heapd_errmsg(h), msg))
		fail_msg("\"%s\" does not say \"%s\"", heapd_errmsg(h), msg);
}

static void errors(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref r;
	uint64_t objects = 7;
	assert_int_equal(heapd_alloc(h, 1, 8, &r), 0);
	assert_int_equal(heapd_release(h, r), 0);
	assert_int_equal(heapd_gc(h), 0);
	expect_error(h, heapd_retained(h, r, &objects, NULL), HEAPD_EBADREF, "retained: invalid reference");
	assert_int_equal(objects, 7);
	expect_error(h, heapd_retained(h, 0, NULL, NULL), HEAPD_EBADREF, "retained: invalid reference");
	expect_error(h, heapd_root_retained(h, "nothing", NULL, NULL), HEAPD_ENOTFOUND,
		     "retained: no root named \"nothing\"");
	expect_error(h, heapd_root_retained(h, "", NULL, NULL), HEAPD_EINVAL, "heapd_root_retained: name is empty");
	expect_error(h, heapd_root_retained(h, NULL, NULL, NULL), HEAPD_EINVAL, "heapd_root_retained: name is NULL");
	expect_error(h, heapd_root_retained(h, "bad\n", NULL, NULL), HEAPD_EINVAL, "retained: a root name is UTF-8");
	char long_name[300];
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	expect_error(h, heapd_root_retained(h, long_name, NULL, NULL), HEAPD_EINVAL,
		     "retained: a root name is 1 to 255 bytes");

	/* Both a ref and a name, on the wire. */
	assert_int_equal(heapd_alloc(h, 1, 8, &r), 0);
	int fd = raw_connect(&d);
	raw_hello(fd);
	Heapd__Retained q = HEAPD__RETAINED__INIT;
	q.obj = r;
	q.name = (ProtobufCBinaryData){1, (uint8_t *)"x"};
	Heapd__Request req = raw_request(5, HEAPD__REQUEST__OP_RETAINED, &q);
	Heapd__Response *resp = raw_call(fd, &req);
	assert_int_equal(resp->status, HEAPD__STATUS__INVALID);
	assert_non_null(strstr(resp->error, "not both"));
	heapd__response__free_unpacked(resp, NULL);
	close(fd);

	/* The session serves on after each. */
	uint64_t bytes;
	count(h, r, &objects, &bytes);
	assert_int_equal(objects, 1);
	heapd_close(h);
	daemon_stop(&d);
}

/* The big graph, named root "big": BIG_OBJECTS objects. *bytes gets what
 * they take, from objects of the same shapes counted alone. */
static heapd_ref big_graph(heapd *h, uint64_t *bytes)
{
	*bytes = one(h, FANOUT, 0) + FANOUT * one(h, LEAVES, 0) + (uint64_t)FANOUT * LEAVES * one(h, 0, 8);
	heapd_ref top, kids[FANOUT];
	assert_int_equal(heapd_alloc(h, FANOUT, 0, &top), 0);
	assert_int_equal(heapd_root_set(h, "big", top), 0);
	for (uint32_t i = 0; i < FANOUT; i++)
		assert_int_equal(heapd_append_alloc_into(h, top, i, LEAVES, 0, NULL, 0), 0);
	for (uint32_t i = 0; i < FANOUT; i++) {
		heapd_reply r;
		assert_int_equal(heapd_get_reply(h, &r), 0);
		kids[i] = r.ref;
	}
	for (uint32_t i = 0; i < FANOUT; i++) {
		for (uint32_t k = 0; k < LEAVES; k++)
			assert_int_equal(heapd_append_alloc_into(h, kids[i], k, 0, 8, NULL, 0), 0);
		while (heapd_pending(h)) {
			heapd_reply r;
			assert_int_equal(heapd_get_reply(h, &r), 0);
		}
	}
	return top;
}

/* A raw connection with a retained request of the root named name
 * queued in the daemon: a ping and the request go in one write, and once
 * the ping is answered the count is queued (a turn handles both before
 * it replies). */
static int send_count(const struct daemon *d, const char *name)
{
	int fd = raw_connect(d);
	raw_hello(fd);
	Heapd__Ping ping = HEAPD__PING__INIT;
	Heapd__Retained q = HEAPD__RETAINED__INIT;
	q.name = (ProtobufCBinaryData){strlen(name), (uint8_t *)name};
	Heapd__Request reqs[2] = {raw_request(2, HEAPD__REQUEST__OP_PING, &ping),
				  raw_request(3, HEAPD__REQUEST__OP_RETAINED, &q)};
	uint8_t buf[512];
	size_t n = put_request(buf, &reqs[0]);
	n += put_request(buf + n, &reqs[1]);
	raw_send(fd, buf, n);
	Heapd__Response *resp = raw_reply(fd);
	assert_non_null(resp);
	assert_int_equal(resp->id, 2);
	heapd__response__free_unpacked(resp, NULL);
	return fd;
}

static int has_reply(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

/* Its reply: OK with that count. */
static void expect_count(int fd, uint64_t objects, uint64_t bytes)
{
	Heapd__Response *resp = raw_reply(fd);
	assert_non_null(resp);
	if (resp->status != HEAPD__STATUS__OK)
		fail_msg("retained: %s", resp->error);
	assert_int_equal(resp->result_case, HEAPD__RESPONSE__RESULT_RETAINED);
	assert_int_equal(resp->retained->objects, objects);
	assert_int_equal(resp->retained->bytes, bytes);
	heapd__response__free_unpacked(resp, NULL);
}

/* Another client's pings are answered while a large graph is counted:
 * they complete after the count is queued and before its reply comes. */
static void pings_meanwhile(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	uint64_t bytes;
	big_graph(h, &bytes);
	int fd = send_count(&d, "big");
	unsigned pings = 0;
	uint64_t t0 = mono_ns();
	while (!has_reply(fd)) {
		assert_int_equal(heapd_ping(h, NULL), 0);
		pings++;
	}
	uint64_t ns = mono_ns() - t0;
	expect_count(fd, BIG_OBJECTS, bytes);
	printf("# %u objects counted in %.1f ms, %u pings answered meanwhile\n", BIG_OBJECTS, ns / 1e6, pings);
	assert_true(pings >= 3);
	close(fd);
	heapd_close(h);
	daemon_stop(&d);
}

/* A client that goes while its count runs (queued, then walking after
 * 1 and 2 pings of another client): the count is dropped, the walker
 * freed (a collection and another count complete). */
static void disconnect_midway(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	uint64_t bytes, objects, got;
	big_graph(h, &bytes);
	for (int i = 0; i < 3; i++) {
		int fd = send_count(&d, "big");
		for (int k = 0; k < i; k++)
			assert_int_equal(heapd_ping(h, NULL), 0);
		assert_false(has_reply(fd));  /* counting 200,501 objects takes milliseconds */
		close(fd);
	}
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_root_retained(h, "big", &objects, &got), 0);
	assert_int_equal(objects, BIG_OBJECTS);
	assert_int_equal(got, bytes);
	assert_int_equal(stats_of(h)->sessions, 1);
	heapd_close(h);
	daemon_stop(&d);
}

/* A stop while a count walks answers it (FAILED) before heapd exits,
 * cleanly. Slices of 1 us make the count take many loop turns. */
static void stop_while_counting(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-slice-us", "1", NULL);
	heapd *h = client(&d);
	uint64_t bytes;
	big_graph(h, &bytes);
	heapd_close(h);
	int fd = send_count(&d, "big");
	int running = !has_reply(fd);
	daemon_stop(&d);
	Heapd__Response *resp = raw_reply(fd);
	assert_non_null(resp);
	printf("# the count was %s at the stop: %s\n", running ? "running" : "done",
	       resp->status ? resp->error : "answered");
	if (resp->status != HEAPD__STATUS__OK) {
		assert_int_equal(resp->status, HEAPD__STATUS__FAILED);
		assert_non_null(strstr(resp->error, "retained: heapd is stopping; the count was not finished"));
	}
	heapd__response__free_unpacked(resp, NULL);
	close(fd);
}

/* A count and a save at once: the save asked for during the count waits
 * for it, and a count asked for during the save waits for that. */
static void with_save(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	uint64_t bytes;
	big_graph(h, &bytes);
	int a = send_count(&d, "big");
	assert_int_equal(heapd_save(h, 1), 0);
	expect_count(a, BIG_OBJECTS, bytes);
	assert_int_equal(stats_of(h)->last_save_objects, BIG_OBJECTS);
	assert_int_equal(heapd_save(h, 0), 0);
	int b = send_count(&d, "big");
	expect_count(b, BIG_OBJECTS, bytes);
	assert_int_equal(heapd_save(h, 1), 0);
	assert_int_equal(stats_of(h)->saves_total, 3);
	close(a);
	close(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* A reply's status and count, into privdata (uint64_t[3]). */
static void async_count(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct tally *t = tally_reply(ac, r);
	uint64_t *out = privdata;
	out[0] = (uint64_t)-r->status;
	out[1] = r->objects;
	out[2] = r->bytes;
	if (t->replies == 3)
		heapd_async_disconnect(ac);
}

static void async_forms(void **state)
{
	(void)state;
	struct tally t;
	tally_start(&t, LOOP_LIBUV, 0);
	heapd *h = client(&t.d);
	heapd_ref a, b;
	assert_int_equal(heapd_alloc(h, 2, 8, &a), 0);
	assert_int_equal(heapd_alloc_into(h, a, 0, 2, 8, NULL, 0, &b), 0);
	assert_int_equal(heapd_set_ref(h, b, 1, a), 0);
	assert_int_equal(heapd_root_set(h, "pair", b), 0);
	uint64_t node = one(h, 2, 8), res[3][3];
	heapd_async *ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_retained(ac, a, async_count, res[0]), 0);
	assert_int_equal(heapd_async_root_retained(ac, "pair", async_count, res[1]), 0);
	assert_int_equal(heapd_async_root_retained(ac, "nothing", async_count, res[2]), 0);
	assert_int_equal(heapd_async_root_retained(ac, "", async_count, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_async_root_retained(ac, NULL, async_count, NULL), HEAPD_EINVAL);
	loop_run(&t.loop);
	heapd_async_free(ac);
	loop_close(&t.loop);
	assert_int_equal(t.replies, 3);
	assert_true(res[0][0] == 0 && res[0][1] == 2 && res[0][2] == 2 * node);
	assert_true(res[1][0] == 0 && res[1][1] == 2 && res[1][2] == 2 * node);
	assert_int_equal(res[2][0], (uint64_t)-HEAPD_ENOTFOUND);
	heapd_close(h);
	daemon_stop(&t.d);
}

/* As another uid: a root it may not read is PERMISSION; at most
 * max_retained_per_uid of its counts wait at once (admins' do not count). */
struct user_run {
	int perm, perm_msg, ok, limit, limit_msg;
	uint64_t objects;
};

static void user_counts(const struct daemon *d, void *out)
{
	struct user_run *u = out;
	heapd *h = heapd_connect(d->sock);
	if (heapd_errcode(h))
		return;
	u->perm = heapd_root_retained(h, "secret", NULL, NULL);
	u->perm_msg = strstr(heapd_errmsg(h), "retained: uid 54322 may not read root \"secret\"") != NULL;
	heapd *c[6];
	for (int i = 0; i < 6; i++) {
		c[i] = heapd_connect(d->sock);
		heapd_append_root_retained(c[i], "big");
		heapd_flush(c[i]);
	}
	for (int i = 0; i < 6; i++) {
		heapd_reply r;
		int err = heapd_get_reply(c[i], &r);
		u->ok += err == 0;
		u->limit += err == HEAPD_ELIMIT;
		if (err == HEAPD_ELIMIT)
			u->limit_msg += strstr(r.error, "retained: uid 54322 has 3 counts asked for and not yet "
							"answered (max_retained_per_uid 3)") != NULL;
		if (!err)
			u->objects = r.objects;
		heapd_close(c[i]);
	}
	heapd_close(h);
}

static void permission_and_bound(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", "--max-retained-per-uid", "3", NULL);
	heapd *h = client(&d);
	uint64_t bytes;
	heapd_ref top = big_graph(h, &bytes);
	assert_int_equal(heapd_root_set(h, "secret", top), 0);
	assert_int_equal(heapd_root_chmod(h, "secret", 0600), 0);
	/* Admins' counts ahead, so the user's wait together. */
	int fds[ADMIN_AHEAD];
	for (int i = 0; i < ADMIN_AHEAD; i++)
		fds[i] = send_count(&d, "big");
	struct user_run u;
	as_user(&d, B_UID, B_GID, 0, user_counts, &u, sizeof u);
	assert_int_equal(u.perm, HEAPD_EPERM);
	assert_true(u.perm_msg);
	printf("# the user's 6 counts: %d answered, %d refused\n", u.ok, u.limit);
	assert_int_equal(u.ok, 3);
	assert_int_equal(u.limit, 3);
	assert_int_equal(u.limit_msg, 3);
	assert_int_equal(u.objects, BIG_OBJECTS);
	for (int i = 0; i < ADMIN_AHEAD; i++) {
		expect_count(fds[i], BIG_OBJECTS, bytes);
		close(fds[i]);
	}
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shapes),
		cmocka_unit_test(errors),
		cmocka_unit_test(pings_meanwhile),
		cmocka_unit_test(disconnect_midway),
		cmocka_unit_test(with_save),
		cmocka_unit_test(stop_while_counting),
		cmocka_unit_test(async_forms),
		cmocka_unit_test(permission_and_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
