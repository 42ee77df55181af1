/*
 * test_guessing.c - handles are capabilities (docs/security.md): a client
 * cannot reach an object it was not given by guessing its handle.
 *
 *   guesses_find_nothing   client A holds OBJS objects it never shares;
 *                          client B makes OBJS of its own, sees their
 *                          handles, and tries 10^6 refs at A's places
 *                          (which the test tells it, more than a real
 *                          attacker knows): tags predicted from its own as
 *                          the old Weyl sequence allowed, its own tags, and
 *                          random ones. None reads, and A's data is intact.
 *   bad_refs_close         past max_bad_refs (1000 by default) invalid
 *                          refs of a uid within a minute, the connection
 *                          that presented the last is closed after its
 *                          reply, logged with its pid and uid, and counted
 *                          (bad_ref_closes); so is another connection of
 *                          the uid that presents one more, and the uid
 *                          cannot connect again within the minute (admins
 *                          still can); other uids' connections go on.
 *   bad_refs_in_batches    an invalid ref in a batch counts once, though
 *                          the batch's reply repeats its status.
 *
 * Not under valgrind (Makefile.am): a million requests would take minutes.
 */
#include "abuseutil.h"
#include "runutil.h"
#include "userutil.h"

#define OBJS 2000
#define GUESSES 1000000
#define PIPE 10000

/* Sends the n reads of refs pipelined and says how many were not refused
 * as BAD_REF. */
static int hits(heapd *h, const heapd_ref *refs, int n)
{
	int ok = 0;
	for (int i = 0; i < n; i++)
		assert_int_equal(heapd_append_read(h, refs[i], 0, 8), 0);
	for (int i = 0; i < n; i++) {
		heapd_reply r;
		heapd_get_reply(h, &r);
		if (r.status != HEAPD_EBADREF)
			ok++;
	}
	return ok;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void guesses_find_nothing(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-bad-refs", "0", NULL);
	heapd *a = client(&d), *b = client(&d);
	heapd_ref *mine = malloc(OBJS * sizeof *mine), *theirs = malloc(OBJS * sizeof *theirs);
	for (int i = 0; i < OBJS; i++) {
		assert_int_equal(heapd_alloc(a, 0, 8, &mine[i]), 0);
		assert_int_equal(heapd_write(a, mine[i], 0, "A-secret", 8), 0);
		assert_int_equal(heapd_alloc(b, 0, 8, &theirs[i]), 0);
	}
	uint32_t last = (uint32_t)(theirs[OBJS - 1] >> 32);
	uint32_t step = last - (uint32_t)(theirs[OBJS - 2] >> 32);
	uint64_t seed = 42;
	heapd_ref *guess = malloc(PIPE * sizeof *guess);
	int found = 0, n = 0;
	for (int g = 0; g < GUESSES; g++) {
		uint64_t place = mine[g % OBJS] & 0xffffffffu;
		int k = g / OBJS;  /* 0..499 */
		uint32_t tag;
		if (k < 100)       /* the Weyl prediction, both ways */
			tag = last + (uint32_t)(k < 50 ? k + 1 : 49 - k) * step;
		else if (k < 300)  /* a tag B was given */
			tag = (uint32_t)(theirs[(g * 7 + k) % OBJS] >> 32);
		else
			tag = (uint32_t)splitmix(&seed);
		guess[n++] = (heapd_ref)tag << 32 | place;
		if (n == PIPE) {
			found += hits(b, guess, n);
			n = 0;
		}
	}
	assert_int_equal(found, 0);
	heapd_stats *st = stats_of(b);
	assert_int_equal(st->bad_ref_closes, 0);
	char buf[8];
	for (int i = 0; i < OBJS; i++) {
		assert_int_equal(heapd_read(a, mine[i], 0, buf, 8), 0);
		assert_memory_equal(buf, "A-secret", 8);
	}
	free(guess);
	free(mine);
	free(theirs);
	heapd_close(a);
	heapd_close(b);
	daemon_stop(&d);
}

/* Presents n invalid refs on h, pipelined, and says how many were
 * answered BAD_REF before something else came (the close). */
static int present_bad(heapd *h, heapd_ref valid, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(heapd_append_read(h, valid ^ (heapd_ref)(i + 1) << 32, 0, 8), 0);
	int refused = 0;
	for (int i = 0; i < n; i++) {
		heapd_reply rep;
		heapd_get_reply(h, &rep);
		if (rep.status != HEAPD_EBADREF)
			break;
		refused++;
	}
	return refused;
}

struct guesser {
	int refused;        /* BAD_REF answers before the close */
	int closed;         /* then the connection failed */
	int again;          /* heapd_connect's code for a new connection */
	char again_msg[200];
};

static void guess_as_other(const struct daemon *d, void *out)
{
	struct guesser *g = out;
	heapd *h = heapd_connect(d->sock);
	heapd_ref r;
	if (heapd_errcode(h) || heapd_alloc(h, 0, 8, &r))
		return;
	g->refused = present_bad(h, r, 1100);
	g->closed = heapd_ping(h, NULL) != 0 && heapd_alloc(h, 0, 8, &r) != 0;
	heapd_close(h);
	h = heapd_connect(d->sock);
	g->again = heapd_errcode(h);
	snprintf(g->again_msg, sizeof g->again_msg, "%s", heapd_errmsg(h));
	heapd_close(h);
}

static void bad_refs_close(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", NULL);  /* max_bad_refs = 1000, the default */
	heapd *a = client(&d), *b = client(&d), *c = client(&d);
	heapd_ref keep, r;
	assert_int_equal(heapd_alloc(a, 0, 8, &keep), 0);
	assert_int_equal(heapd_alloc(b, 0, 8, &r), 0);
	assert_int_equal(present_bad(b, r, 1500), 1001);  /* the one past the limit is answered, then the close */
	assert_int_not_equal(heapd_ping(b, NULL), 0);  /* the close's LIMIT frame, or EIO */
	assert_int_not_equal(heapd_alloc(b, 0, 8, &r), 0);
	heapd_close(b);
	char want[96];
	snprintf(want, sizeof want, "(pid %d uid %u): 1001 invalid refs within a minute (max_bad_refs 1000)",
		 (int)getpid(), (unsigned)getuid());
	char *log = slurp(d.log);
	assert_non_null(strstr(log, want));
	free(log);

	/* The uid's count goes on: one more invalid ref closes c too. */
	assert_int_equal(heapd_ping(c, NULL), 0);
	assert_int_equal(present_bad(c, keep, 1), 1);
	assert_int_not_equal(heapd_ping(c, NULL), 0);
	heapd_close(c);
	/* Another uid, not an admin, gets the same and cannot come back. */
	if (geteuid() == 0) {
		struct guesser g;
		as_user(&d, 54321, 54321, 0, guess_as_other, &g, sizeof g);
		assert_int_equal(g.refused, 1001);
		assert_true(g.closed);
		assert_int_equal(g.again, HEAPD_ELIMIT);
		assert_non_null(strstr(g.again_msg, "no new connection for"));
	}
	/* Connections that presented nothing invalid go on, and an admin
	 * (the test runs as root) still gets in. */
	assert_int_equal(heapd_ping(a, NULL), 0);
	char buf[8];
	assert_int_equal(heapd_read(a, keep, 0, buf, 8), 0);
	heapd *e = client(&d);
	assert_int_equal(heapd_ping(e, NULL), 0);
	heapd_stats *st = stats_of(e);
	assert_int_equal(st->bad_ref_closes, geteuid() == 0 ? 3 : 2);
	heapd_close(e);
	heapd_close(a);
	daemon_stop(&d);
}

/* An invalid ref inside a batch counts once, though the batch's reply
 * repeats its status: max_bad_refs of them leave the connection open. */
static void bad_refs_in_batches(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-bad-refs", "4", NULL);
	heapd *h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	heapd_batch *b = heapd_batch_new();
	assert_non_null(b);
	assert_int_equal(heapd_batch_read(b, r ^ (heapd_ref)1 << 32, 0, 8), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(heapd_batch_exec(h, b), HEAPD_EBADREF);
	assert_int_equal(heapd_ping(h, NULL), 0);
	/* The fifth is past the limit: answered, then the close. */
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_EBADREF);
	assert_int_not_equal(heapd_ping(h, NULL), 0);
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guesses_find_nothing),
		cmocka_unit_test(bad_refs_close),
		cmocka_unit_test(bad_refs_in_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
