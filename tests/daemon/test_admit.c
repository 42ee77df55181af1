/*
 * test_admit.c - who gets a connection (daemon/admit.c): connections that
 * never say Hello are shed for newcomers at max_clients and closed after
 * hello_timeout_ms; admin_uids keep admin_reserved_connections places;
 * one uid gets at most max_clients_per_uid connections.
 *
 * The test's own uid is made an admin or not with admin_uids (never left
 * to the default, 0, so the tests mean the same as root and as a user).
 */
#include "daemonutil.h"
#include "runutil.h"

static char me[16], other[16]; /* the test's uid, and one that is not */

static void uids(void)
{
	snprintf(me, sizeof me, "%u", (unsigned)getuid());
	snprintf(other, sizeof other, "%u", (unsigned)getuid() + 1);
}

/* A connection refused at connect, with a message containing want. */
static void expect_refused(const struct daemon *d, const char *want)
{
	heapd *h = heapd_connect(d->sock);
	assert_int_equal(heapd_errcode(h), HEAPD_ELIMIT);
	if (!strstr(heapd_errmsg(h), want))
		fail_msg("refused with \"%s\", expected \"%s\"", heapd_errmsg(h), want);
	heapd_close(h);
}

/* An idle connection, closed by the daemon with a LIMIT error containing
 * want. */
static void expect_closed_with(int fd, const char *want)
{
	Heapd__Response *resp = raw_reply(fd);
	assert_non_null(resp);
	assert_int_equal(resp->id, 0);
	assert_int_equal(resp->status, HEAPD__STATUS__LIMIT);
	if (!strstr(resp->error, want))
		fail_msg("closed with \"%s\", expected \"%s\"", resp->error, want);
	heapd__response__free_unpacked(resp, NULL);
	assert_true(raw_closed(fd));
	close(fd);
}

/* A first client, once the connection that found the daemon listening
 * (daemon_start) is gone: from then on the test knows every place. */
static heapd *first_client(const struct daemon *d)
{
	heapd *h = client(d);
	for (int i = 0; i < 200 && stats_of(h)->sessions > 1; i++)
		sleep_ms(10);
	assert_int_equal(stats_of(h)->sessions, 1);
	return h;
}

#define MAX 8

/* max_clients connections that never say Hello (the 1,030 idle
 * connections, scaled down) no longer lock the others out: each newcomer
 * sheds the oldest of them. Once none is left, a newcomer is refused. */
static void idle_connections_are_shed(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-clients", "8", "--admin-reserved-connections", "0", NULL);
	heapd *h[MAX];
	h[0] = first_client(&d);
	int idle[MAX];
	for (int i = 1; i < MAX; i++)
		idle[i] = raw_connect(&d);
	for (int i = 1; i < MAX; i++) {
		h[i] = client(&d); /* sheds idle[i], the oldest left */
		assert_int_equal(heapd_ping(h[i], NULL), 0);
		expect_closed_with(idle[i], "closed to make room for a new connection: no Hello yet and "
					    "max_clients 8 reached");
	}
	/* All eight said Hello: none to shed. */
	expect_refused(&d, "too many clients (max_clients 8)");
	heapd_stats *st = stats_of(h[0]);
	assert_int_equal(st->hello_shed, MAX - 1);
	assert_int_equal(st->refused_max_clients, 1);
	assert_int_equal(st->sessions, MAX);
	assert_int_equal(count_text(d.log, "closed before its Hello to make room: max_clients (8) reached"), MAX - 1);
	for (int i = 0; i < MAX; i++)
		heapd_close(h[i]);
	daemon_stop(&d);
}

/* Non-admins fill max_clients - admin_reserved_connections; then a
 * non-admin is refused and an admin gets in, up to max_clients. The test
 * becomes an admin by a reload (admin_uids is live). */
static void admins_have_reserved_places(void **state)
{
	(void)state;
	uids();
	struct daemon d;
	daemon_prepare(&d);
	char conf[160], text[256];
	snprintf(conf, sizeof conf, "%s/heapd.conf", d.dir);
	snprintf(text, sizeof text, "max_clients = 6\nadmin_reserved_connections = 2\nadmin_uids = %s\n", other);
	write_file(conf, text);
	daemon_spawn(&d, "--config", conf, NULL);
	heapd *h[6];
	h[0] = first_client(&d);
	for (int i = 1; i < 4; i++)
		h[i] = client(&d);
	expect_refused(&d, "too many clients (max_clients 6, of which 2 kept for admin_uids)");

	snprintf(text, sizeof text, "max_clients = 6\nadmin_reserved_connections = 2\nadmin_uids = %s,%s\n", other,
		 me);
	write_file(conf, text);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_true(wait_for_text(d.log, "configuration reloaded", 3000));
	for (int i = 4; i < 6; i++) {
		h[i] = client(&d);
		assert_int_equal(heapd_ping(h[i], NULL), 0);
	}
	expect_refused(&d, "too many clients (max_clients 6)");
	assert_int_equal(stats_of(h[0])->refused_max_clients, 2);
	assert_int_equal(count_text(d.log, "refused pid"), 2);
	for (int i = 0; i < 6; i++)
		heapd_close(h[i]);
	unlink(conf);
	daemon_stop(&d);
}

/* One uid, not an admin, gets max_clients_per_uid connections; an admin
 * is exempt. */
static void per_uid_limit(void **state)
{
	(void)state;
	uids();
	struct daemon d;
	daemon_start(&d, "--max-clients-per-uid", "3", "--admin-uids", other, NULL);
	heapd *h[5];
	h[0] = first_client(&d);
	for (int i = 1; i < 3; i++)
		h[i] = client(&d);
	char want[96];
	snprintf(want, sizeof want, "too many connections from uid %s (max_clients_per_uid 3)", me);
	expect_refused(&d, want);
	expect_refused(&d, want);
	assert_int_equal(stats_of(h[0])->refused_max_clients_per_uid, 2);
	heapd_close(h[2]); /* one goes: one place */
	for (int i = 0; i < 100; i++) {
		h[2] = heapd_connect(d.sock);
		if (heapd_errcode(h[2]) == 0)
			break;
		heapd_close(h[2]);
		sleep_ms(10);
	}
	assert_int_equal(heapd_ping(h[2], NULL), 0);
	for (int i = 0; i < 3; i++)
		heapd_close(h[i]);
	daemon_stop(&d);

	daemon_start(&d, "--max-clients-per-uid", "3", "--admin-uids", me, NULL);
	h[0] = first_client(&d);
	for (int i = 1; i < 5; i++)
		h[i] = client(&d);
	assert_int_equal(stats_of(h[4])->refused_max_clients_per_uid, 0);
	for (int i = 0; i < 5; i++)
		heapd_close(h[i]);
	daemon_stop(&d);
}

/* A connection that says nothing is closed after hello_timeout_ms, with an
 * error naming it; one that said Hello may then idle as long as it likes. */
static void hello_timeout_closes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--hello-timeout-ms", "200", NULL);
	heapd *h = client(&d);
	uint64_t t0 = mono_ns();
	int fd = raw_connect(&d);
	expect_closed_with(fd, "no Hello within 200 ms (hello_timeout_ms 200)");
	uint64_t waited_ms = (mono_ns() - t0) / 1000000;
	assert_true(waited_ms >= 190);
	assert_true(waited_ms < 3000);
	sleep_ms(300);
	assert_int_equal(heapd_ping(h, NULL), 0); /* said Hello: stays */
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->hello_timeouts, 1);
	assert_int_equal(st->sessions, 1);
	assert_int_equal(count_text(d.log, "no Hello within hello_timeout_ms (200): closing"), 1);
	/* A raw client that says Hello in time is served. */
	fd = raw_connect(&d);
	raw_hello(fd);
	sleep_ms(300);
	raw_ping(fd, 2);
	close(fd);
	assert_int_equal(stats_of(h)->hello_timeouts, 1);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(idle_connections_are_shed),
		cmocka_unit_test(admins_have_reserved_places),
		cmocka_unit_test(per_uid_limit),
		cmocka_unit_test(hello_timeout_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
