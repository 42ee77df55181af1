/*
 * test_quota.c - the quotas per uid (daemon/tenant.c), each provoked the
 * way a client would abuse what it bounds, and the memory the hold and
 * root tables really take (docs/daemon.md):
 *
 *   root_flood                100,000 named roots pipelined at the default
 *                             quota: 65,536 made, the rest refused naming
 *                             max_roots_per_uid, and the daemon's RSS
 *                             within the documented cost per root; they
 *                             stay charged after the client leaves
 *   root_bytes                long names against max_root_bytes_per_uid
 *   root_ownership            replacing keeps the maker's charge, deleting
 *                             (from another connection) gives it back
 *   holds_across_connections  max_holds_per_uid over three connections,
 *                             alone and in a batch
 *   output_across_connections ten connections that never read: the uid's
 *                             unsent replies stay near max_output_per_uid,
 *                             where max_output_buffer alone allows ten
 *                             times more, and its other connections wait
 *   heap_per_uid              max_heap_per_uid over two connections, by
 *                             alloc, alloc_into and batch, large objects
 *                             and small: LIMIT at once (no collection
 *                             waited for), and room again once the uid's
 *                             objects are dropped and collected
 *   hold_table_size           one connection holding 2^20 - 1 objects: the
 *                             hold table's real size, 16-byte entries in a
 *                             table at most 8/3 times the holds
 *   uid_rows                  uid_stats' row of the uid, figure by figure,
 *                             as connections, holds, roots and refusals
 *                             come and go; in rows of a smaller struct, and
 *                             pipelined
 *
 * Every connection here is the test's own uid: test_peercred covers
 * clients of other uids.
 */
#include <poll.h>

#include "abuseutil.h"

/* Takes every pending reply; returns how many were OK, and checks that the
 * others failed with LIMIT and a message holding want. */
static unsigned take_all(heapd *h, const char *want)
{
	unsigned ok = 0;
	while (heapd_pending(h)) {
		heapd_reply r;
		int st = heapd_get_reply(h, &r);
		if (st == HEAPD_OK) {
			ok++;
			continue;
		}
		assert_int_equal(st, HEAPD_ELIMIT);
		if (!strstr(r.error, want))
			fail_msg("\"%s\" does not name %s", r.error, want);
	}
	return ok;
}

/* ---------------------------------------------------------------- roots */

#define FLOOD 100000
#define ROOTS_PER_UID 65536  /* the default */

static void root_flood(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref obj;
	assert_int_equal(heapd_alloc(h, 0, 8, &obj), 0);
	uint64_t rss0 = rss_now(&d);
	uint64_t t0 = mono_ns();
	char name[32];
	for (unsigned i = 0; i < FLOOD; i++) {
		snprintf(name, sizeof name, "flood/%06u", i);  /* 12 bytes */
		assert_int_equal(heapd_append_root_set(h, name, obj), 0);
		if (heapd_pending(h) >= 4096)
			assert_int_equal(take_all(h, "(max_roots_per_uid 65536)"), i < ROOTS_PER_UID ? 4096 : 0);
	}
	take_all(h, "(max_roots_per_uid 65536)");
	print_message("# root_flood: %u root_sets in %.2f s\n", FLOOD, (double)(mono_ns() - t0) / 1e9);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->named_roots, ROOTS_PER_UID);
	assert_int_equal(st->root_name_bytes, ROOTS_PER_UID * 12);
	assert_int_equal(st->uid_roots_refused, FLOOD - ROOTS_PER_UID);
	/* Per root (docs/daemon.md): its entry (32 bytes) and its hold (16)
	 * in tables at most 8/3 times the roots, 128 bytes in all, while a
	 * table grows the old one too (another half: 64), and the name's
	 * malloc chunk (32 for 12 bytes); 4 MiB for the daemon's own noise. */
	rss_check(&d, rss0, (uint64_t)ROOTS_PER_UID * (128 + 64 + 32) + 4 * MIB, "root_flood");
	/* The roots outlive the connection, and so does their charge. */
	heapd_close(h);
	h = client(&d);
	assert_int_equal(heapd_root_set(h, "one-more", obj), HEAPD_ELIMIT);
	assert_true(strstr(heapd_errmsg(h), "root_set: uid ") != NULL);
	assert_int_equal(stats_of(h)->uids, 1);
	heapd_close(h);
	daemon_stop(&d);
}

static void root_bytes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-root-bytes-per-uid", "1K", NULL);
	heapd *h = client(&d);
	heapd_ref obj;
	assert_int_equal(heapd_alloc(h, 0, 8, &obj), 0);
	char name[256];
	for (int i = 0; i < 4; i++) {
		memset(name, 'a' + i, 255);
		name[255] = '\0';
		assert_int_equal(heapd_root_set(h, name, obj), 0);  /* 4 x 255 = 1020 bytes */
	}
	memset(name, 'z', 5);
	name[5] = '\0';
	assert_int_equal(heapd_root_set(h, name, obj), HEAPD_ELIMIT);
	assert_true(strstr(heapd_errmsg(h), "(max_root_bytes_per_uid 1024)") != NULL);
	name[4] = '\0';
	assert_int_equal(heapd_root_set(h, name, obj), 0);  /* 1024 exactly */
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->root_name_bytes, 1024);
	assert_int_equal(st->uid_roots_refused, 1);
	heapd_close(h);
	daemon_stop(&d);
}

static void root_ownership(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-roots-per-uid", "2", NULL);
	heapd *a = client(&d), *b = client(&d);
	heapd_ref x, y;
	assert_int_equal(heapd_alloc(a, 0, 8, &x), 0);
	assert_int_equal(heapd_alloc(a, 0, 8, &y), 0);
	assert_int_equal(heapd_root_set(a, "one", x), 0);
	assert_int_equal(heapd_root_set(a, "two", x), 0);
	assert_int_equal(heapd_root_set(a, "three", x), HEAPD_ELIMIT);
	assert_true(strstr(heapd_errmsg(a), "has 2 named roots (max_roots_per_uid 2)") != NULL);
	/* At the quota, replacing still works: it makes nothing new. */
	assert_int_equal(heapd_root_set(a, "two", y), 0);
	assert_int_equal(heapd_root_set(b, "one", y), 0);
	/* Deleted from another connection, a root gives its room back. */
	assert_int_equal(heapd_root_set(b, "one", 0), 0);
	assert_int_equal(heapd_root_set(a, "three", x), 0);
	assert_int_equal(heapd_root_set(a, "four", x), HEAPD_ELIMIT);
	/* Deleting is never refused. */
	assert_int_equal(heapd_root_set(a, "two", 0), 0);
	assert_int_equal(heapd_root_set(a, "three", 0), 0);
	heapd_stats *st = stats_of(a);
	assert_int_equal(st->named_roots, 0);
	assert_int_equal(st->root_name_bytes, 0);
	assert_int_equal(st->uid_roots_refused, 2);
	heapd_close(a);
	heapd_close(b);
	daemon_stop(&d);
}

/* ---------------------------------------------------------------- holds */

static void holds_across_connections(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-holds-per-uid", "100", "--max-holds-per-session", "80", NULL);
	heapd *a = client(&d), *b = client(&d), *c = client(&d);
	heapd_ref obj[80];
	for (int i = 0; i < 80; i++)
		assert_int_equal(heapd_alloc(a, 1, 8, &obj[i]), 0);
	heapd_ref r;
	assert_int_equal(heapd_alloc(a, 0, 8, &r), HEAPD_ELIMIT);  /* the session's limit */
	for (int i = 0; i < 20; i++)
		assert_int_equal(heapd_alloc(b, 0, 8, &r), 0);
	/* The uid's 100 holds are spread over two connections: a third gets
	 * none, by any op that adds one. */
	assert_int_equal(heapd_alloc(c, 0, 8, &r), HEAPD_ELIMIT);
	assert_true(strstr(heapd_errmsg(c), "alloc: uid ") != NULL);
	assert_true(strstr(heapd_errmsg(c), "has 100 holds (max_holds_per_uid 100)") != NULL);
	assert_int_equal(heapd_set_ref(a, obj[0], 0, obj[1]), 0);
	assert_int_equal(heapd_get_ref(c, obj[0], 0, &r), HEAPD_ELIMIT);
	assert_int_equal(heapd_root_set(a, "r", obj[1]), 0);
	assert_int_equal(heapd_root_get(c, "r", &r), HEAPD_ELIMIT);
	/* Allocating into an object adds no hold. */
	assert_int_equal(heapd_alloc_into(c, obj[0], 0, 0, 8, NULL, 0, &r), 0);
	/* A batch of allocations stops at the quota. */
	assert_int_equal(heapd_release(a, obj[79]), 0);
	assert_int_equal(heapd_release(a, obj[78]), 0);
	heapd_batch *bt = heapd_batch_new();
	for (int i = 0; i < 4; i++)
		heapd_batch_alloc(bt, 0, 8);
	assert_int_equal(heapd_batch_exec(c, bt), HEAPD_ELIMIT);
	assert_int_equal(heapd_batch_failed(bt), 2);  /* the third op, from 0 */
	heapd_batch_free(bt);
	/* A connection that goes gives its holds back to the uid. */
	heapd_close(a);
	for (int i = 0; i < 78; i++)
		assert_int_equal(heapd_alloc(c, 0, 8, &r), 0);
	heapd_stats *st = stats_of(c);
	assert_int_equal(st->holds, 100);
	assert_int_equal(st->uid_holds_refused, 4);
	heapd_close(b);
	heapd_close(c);
	daemon_stop(&d);
}

/* ----------------------------------------------------------------- heap */

#define HEAP_PER_UID (4 * MIB)

static void heap_per_uid(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-heap-per-uid", "4M", NULL);
	heapd *a = client(&d), *b = client(&d);
	enum { MAXN = HEAP_PER_UID / 1024 };
	heapd_ref big, r, *obj = malloc(MAXN * sizeof *obj);
	assert_int_equal(heapd_alloc(a, 0, 1 << 20, &big), 0);
	int n = 0, err;
	while ((err = heapd_alloc(n % 2 ? a : b, 1, 1000, &obj[n])) == 0)
		assert_true(++n < MAXN);
	assert_int_equal(err, HEAPD_ELIMIT);
	const char *msg = heapd_errmsg(n % 2 ? a : b);
	if (!strstr(msg, "alloc: uid ") || !strstr(msg, " bytes of heap (max_heap_per_uid 4194304)"))
		fail_msg("\"%s\" does not name max_heap_per_uid", msg);
	/* 1 MiB and its header, and 1024-byte slots to within one span each
	 * of the classes used (8 KiB) of the limit. */
	assert_true((size_t)n * 1024 + (1 << 20) + 8192 > HEAP_PER_UID - 16 * 1024);
	/* The uid is refused however it allocates: into an object, a large
	 * one, in a batch. */
	assert_int_equal(heapd_alloc_into(a, obj[0], 0, 0, 1000, NULL, 0, &r), HEAPD_ELIMIT);
	assert_int_equal(heapd_alloc(b, 0, 1 << 20, &r), HEAPD_ELIMIT);
	heapd_batch *bt = heapd_batch_new();
	heapd_batch_alloc(bt, 0, 8);
	heapd_batch_alloc(bt, 0, 1000);
	assert_int_equal(heapd_batch_exec(a, bt), HEAPD_ELIMIT);
	heapd_batch_free(bt);
	/* A refusal is the uid's, not the heap's: no collection was started
	 * or waited for. */
	heapd_stats *st = stats_of(a);
	assert_true(st->uid_heap_refused >= 3);
	assert_int_equal(st->alloc_failures, 0);
	assert_int_equal(st->forced_gc_for_limit, 0);
	/* Dropped and collected, its objects give the uid room again. */
	assert_int_equal(heapd_release(a, big), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(heapd_release(i % 2 ? a : b, obj[i]), 0);
	assert_int_equal(heapd_gc(a), 0);
	assert_int_equal(heapd_alloc(a, 0, 1 << 20, &r), 0);
	for (int i = 0; i < n / 2; i++)
		assert_int_equal(heapd_alloc(b, 1, 1000, &r), 0);
	free(obj);
	heapd_close(a);
	heapd_close(b);
	daemon_stop(&d);
}

/* --------------------------------------------------------------- output */

#define SILENT 10

/* Whether fd has a reply to read within ms. */
static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

static void output_across_connections(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-output-per-uid", "2M", "--max-frame-size", "1M", NULL);
	heapd *h = client(&d);
	heapd_ref obj;
	assert_int_equal(heapd_alloc(h, 0, 65536, &obj), 0);
	uint64_t rss0 = rss_now(&d);
	struct batch reads = {0};
	for (int i = 0; i < 1024; i++)
		batch_add(&reads, rq_read(100, obj, 0, 65536));
	/* Each asks for 64 MiB of replies and reads none: with the default
	 * max_output_buffer (8 MiB) alone, 80 MiB would wait in heapd. */
	int fd[SILENT];
	for (int i = 0; i < SILENT; i++) {
		fd[i] = raw_connect(&d);
		raw_hello(fd[i]);  /* first: once the uid is held back, a Hello waits too */
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	}
	for (int i = 0; i < SILENT; i++) {
		size_t sent = 0;
		for (int tries = 0; tries < 50 && sent < reads.len; tries++) {
			ssize_t w = send(fd[i], reads.buf + sent, reads.len - sent, MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
			else
				sleep_ms(5);
		}
	}
	sleep_ms(200);
	/* Held back: no connection of the uid is served, not even a new one's
	 * Hello, while its replies wait unread (so h is not used meanwhile). */
	int late = raw_connect(&d);
	Heapd__Hello hello = HEAPD__HELLO__INIT;
	hello.version = 1;
	Heapd__Request req = raw_request(1, HEAPD__REQUEST__OP_HELLO, &hello);
	raw_send_request(late, &req);
	assert_false(readable(late, 300));
	/* Per connection: the reply that crossed the mark (64 KiB), its read
	 * buffer and input (2 x 64 KiB); the uid's 2 MiB; 8 MiB of slack. */
	rss_check(&d, rss0, 2 * MIB + SILENT * 192 * KIB + 8 * MIB, "output_across_connections");
	/* Once they go, the late one is served, and so is h again. */
	for (int i = 0; i < SILENT; i++)
		close(fd[i]);
	assert_true(readable(late, 5000));
	Heapd__Response *resp = raw_reply(late);
	assert_non_null(resp);
	assert_int_equal(resp->status, HEAPD__STATUS__OK);
	heapd__response__free_unpacked(resp, NULL);
	close(late);
	assert_true(stats_of(h)->uid_output_stalls >= 1);
	heapd_uid_stat *rows;
	size_t n;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_true(rows[0].output_stalls >= 1);
	heapd_free_uid_stats(rows);
	batch_free(&reads);
	heapd_close(h);
	daemon_stop(&d);
}

/* ----------------------------------------------------------- hold table */

#define HOLDS ((1u << 20) - 1)

/* The figure docs/daemon.md gives: 2^20 - 1 holds (max_holds_per_session)
 * need a table of 2^21 entries (it doubles at 3/4 full), 16 bytes each:
 * 32 MiB, and while it doubles the old one too (16 MiB). The objects
 * themselves are 16 MiB of heap (16-byte slots). */
static void hold_table_size(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-holds-per-uid", "2000000", NULL);
	heapd *h = client(&d);
	uint64_t rss0 = rss_now(&d);
	for (unsigned i = 0; i < HOLDS; i++) {
		assert_int_equal(heapd_append_alloc(h, 0, 8), 0);
		if (heapd_pending(h) >= 4096)
			assert_int_equal(take_all(h, "-"), 4096);
	}
	take_all(h, "-");
	assert_int_equal(stats_of(h)->holds, HOLDS);
	uint64_t peak = rss_check(&d, rss0, 32 * MIB + 16 * MIB + 16 * MIB + 8 * MIB, "hold_table_size");
	print_message("# hold_table_size: %u holds, %.1f bytes of RSS each\n", HOLDS,
		      (double)(peak - rss0) / HOLDS);
	heapd_close(h);
	daemon_stop(&d);
}

/* ------------------------------------------------------------ uid rows */

/* The one row there is (the test's uid), which must be whole. */
static heapd_uid_stat row_of(heapd *h)
{
	heapd_uid_stat *rows, row;
	size_t n;
	int truncated;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, &n, &truncated), 0);
	assert_int_equal(n, 1);
	assert_int_equal(truncated, 0);
	row = rows[0];
	heapd_free_uid_stats(rows);
	assert_int_equal(row.uid, getuid());
	assert_int_equal(row.output_bytes, 0);  /* every reply was read */
	assert_int_equal(row.output_stalls, 0);
	return row;
}

static void uid_rows(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-holds-per-uid", "3", "--max-roots-per-uid", "2", NULL);
	heapd *a = client(&d), *b = client(&d), *c = client(&d);
	heapd_ref r[3], x;
	assert_int_equal(heapd_alloc(a, 0, 8, &r[0]), 0);
	assert_int_equal(heapd_alloc(a, 0, 8, &r[1]), 0);
	assert_int_equal(heapd_alloc(b, 0, 8, &r[2]), 0);
	assert_int_equal(heapd_alloc(c, 0, 8, &x), HEAPD_ELIMIT);
	assert_int_equal(heapd_root_get(c, "a", &x), HEAPD_ELIMIT);  /* the quota first */
	assert_int_equal(heapd_root_set(a, "a", r[0]), 0);
	assert_int_equal(heapd_root_set(b, "bc", r[2]), 0);
	assert_int_equal(heapd_root_set(c, "def", r[2]), HEAPD_ELIMIT);
	heapd_uid_stat row = row_of(c);
	assert_int_equal(row.connections, 3);
	assert_int_equal(row.holds, 3);
	assert_int_equal(row.named_roots, 2);
	assert_int_equal(row.root_name_bytes, 3);
	assert_int_equal(row.roots_refused, 1);
	assert_int_equal(row.holds_refused, 2);
	assert_int_equal(stats_of(c)->uids, 1);
	/* Its heap bytes: between collections, what its cached spans hold
	 * besides; after one, its 3 objects of 16 bytes exactly. */
	assert_true(row.heap_bytes >= 3 * 16);
	assert_int_equal(heapd_gc(c), 0);
	assert_int_equal(row_of(c).heap_bytes, 3 * 16);

	/* A connection that goes takes its holds; the roots stay, and a
	 * root deleted by anyone gives its bytes back. */
	heapd_close(a);
	assert_int_equal(heapd_root_set(c, "a", 0), 0);
	row = row_of(c);
	assert_int_equal(row.connections, 2);
	assert_int_equal(row.holds, 1);
	assert_int_equal(row.named_roots, 1);
	assert_int_equal(row.root_name_bytes, 2);
	assert_int_equal(row.roots_refused, 1);

	/* A program built with fewer fields gets rows of its size, and
	 * nothing past them. */
	size_t small = offsetof(heapd_uid_stat, heap_bytes);
	unsigned char *rows;
	size_t n;
	assert_int_equal(heapd_uid_stats(c, (heapd_uid_stat **)&rows, small, &n, NULL), 0);
	assert_int_equal(n, 1);
	heapd_uid_stat part = {0};
	memcpy(&part, rows, small);
	assert_int_equal(part.uid, getuid());
	assert_int_equal(part.holds, 1);
	assert_int_equal(part.root_name_bytes, 2);
	heapd_free_uid_stats((heapd_uid_stat *)rows);

	/* Pipelined, behind a hold it counts. */
	assert_int_equal(heapd_append_alloc(c, 0, 8), 0);
	assert_int_equal(heapd_append_uid_stats(c), 0);
	heapd_reply rep;
	assert_int_equal(heapd_get_reply(c, &rep), 0);
	assert_int_equal(heapd_get_reply(c, &rep), 0);
	assert_int_equal(rep.nuids, 1);
	assert_int_equal(rep.truncated, 0);
	assert_int_equal(rep.uids[0]->uid, getuid());
	assert_int_equal(rep.uids[0]->holds, 2);
	assert_int_equal(rep.uids[0]->connections, 2);
	heapd_close(b);
	heapd_close(c);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(root_flood),
		cmocka_unit_test(root_bytes),
		cmocka_unit_test(root_ownership),
		cmocka_unit_test(holds_across_connections),
		cmocka_unit_test(heap_per_uid),
		cmocka_unit_test(output_across_connections),
		cmocka_unit_test(hold_table_size),
		cmocka_unit_test(uid_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
