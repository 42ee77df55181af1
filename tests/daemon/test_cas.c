/*
 * test_cas.c - compare and swap (issue 18, part 5) against a real heapd:
 * cas_ref on a slot and root_cas on a named root, alone, in batches and
 * through the async API.
 *
 *   cas_ref_swaps_or_conflicts  a swap when the slot holds expected (0:
 *                               empty), a CONFLICT with what it holds
 *                               otherwise, nothing changed; target 0
 *                               clears; no hold added either way
 *   cas_ref_errors              a slot past the object is RANGE, a bad obj
 *                               or target BAD_REF whatever the slot holds
 *                               (they come first); a stale expected is
 *                               only a conflict; the object swapped out,
 *                               held by nothing, is collected
 *   root_cas_swaps_or_conflicts expected 0 makes a root only if absent,
 *                               target 0 deletes it, absent to absent is a
 *                               swap that changes nothing; a conflict says
 *                               what the root names (0: absent); bad names
 *                               and bad targets; named_roots follows
 *   root_cas_permissions        (as root) another uid may not root_cas a
 *                               root it may not write, nor one it may write
 *                               but not read, and learns nothing (EPERM,
 *                               not CONFLICT); cas_ref through its
 *                               read-only ref is EPERM; a root it makes
 *                               with root_cas counts against
 *                               max_roots_per_uid
 *   batch_stops_at_a_failed_cas the ops before stand, the failed CAS
 *                               carries what was there, later ops are
 *                               SKIPPED and change nothing; a CAS first
 *                               makes a batch conditional, CASes to the
 *                               same ref (checks) first all or nothing; a
 *                               later op may name a CAS's result
 *   batch_with_cas_in_one_turn  a batch that would take hundreds of turns
 *                               runs whole in one when it has a CAS
 *                               (anywhere): another client never sees its
 *                               first change without its last
 *   async_cas                   heapd_async_cas_ref and _root_cas: the
 *                               reply's ref on OK and on CONFLICT, both loops
 */
#include "asyncutil.h"
#include "userutil.h"

#define PAIRS 2000          /* one_turn's allocations */
#define PAIR_BYTES (256u << 10)

static heapd_ref alloc_data(heapd *h, uint32_t nrefs, const char *data)
{
	heapd_ref r;
	assert_int_equal(heapd_alloc_into(h, 0, 0, nrefs, 8, data, (uint32_t)strlen(data), &r), 0);
	return r;
}

static heapd_ref slot_of(heapd *h, heapd_ref obj, uint32_t slot)
{
	heapd_ref r;
	assert_int_equal(heapd_get_ref(h, obj, slot, &r), 0);
	if (r)
		assert_int_equal(heapd_release(h, r), 0);
	return r;
}

/* A ref the daemon has collected. */
static heapd_ref stale(heapd *h)
{
	heapd_ref r = alloc_data(h, 0, "gone");
	assert_int_equal(heapd_release(h, r), 0);
	assert_int_equal(heapd_gc(h), 0);
	return r;
}

static void expect_err(heapd *h, int got, int want, const char *msg)
{
	if (got != want)
		fail_msg("code %d, want %d (%s)", got, want, heapd_errmsg(h));
	if (msg && !strstr(heapd_errmsg(h), msg))
		fail_msg("\"%s\" does not say \"%s\"", heapd_errmsg(h), msg);
}

static void cas_ref_swaps_or_conflicts(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref obj = alloc_data(h, 2, "obj"), a = alloc_data(h, 0, "a"), b = alloc_data(h, 0, "b"), was = 7;
	uint64_t holds = stats_of(h)->holds;

	assert_int_equal(heapd_cas_ref(h, obj, 0, 0, a, &was), 0);
	assert_int_equal(was, 0);
	assert_int_equal(slot_of(h, obj, 0), a);
	expect_err(h, heapd_cas_ref(h, obj, 0, 0, b, &was), HEAPD_ECONFLICT, "not the expected 0x0");
	assert_int_equal(was, a);
	assert_int_equal(slot_of(h, obj, 0), a);
	expect_err(h, heapd_cas_ref(h, obj, 0, b, b, &was), HEAPD_ECONFLICT, "cas_ref: it holds 0x");
	assert_int_equal(was, a);
	assert_int_equal(heapd_cas_ref(h, obj, 0, a, b, &was), 0);
	assert_int_equal(was, a);
	assert_int_equal(slot_of(h, obj, 0), b);
	assert_int_equal(slot_of(h, obj, 1), 0);  /* the other slot untouched */
	assert_int_equal(heapd_cas_ref(h, obj, 0, b, 0, NULL), 0);  /* was may be NULL */
	assert_int_equal(slot_of(h, obj, 0), 0);
	assert_int_equal(heapd_cas_ref(h, obj, 1, 0, obj, NULL), 0);  /* a cycle, as set_ref may */
	assert_int_equal(slot_of(h, obj, 1), obj);
	assert_int_equal(stats_of(h)->holds, holds);
	assert_int_equal(heapd_errcode(h), 0);

	/* Pipelined: a conflict's reply carries what was there. */
	heapd_reply r;
	assert_int_equal(heapd_append_cas_ref(h, obj, 1, a, b), 0);
	assert_int_equal(heapd_append_cas_ref(h, obj, 1, obj, a), 0);
	assert_int_equal(heapd_get_reply(h, &r), HEAPD_ECONFLICT);
	assert_int_equal(r.ref, obj);
	assert_int_equal(heapd_get_reply(h, &r), 0);
	assert_int_equal(r.ref, obj);
	assert_int_equal(slot_of(h, obj, 1), a);
	heapd_close(h);
	daemon_stop(&d);
}

static void cas_ref_errors(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-bad-refs", "0", NULL);
	heapd *h = client(&d);
	heapd_ref obj = alloc_data(h, 2, "obj"), a = alloc_data(h, 0, "a"), gone = stale(h), was = 7;

	expect_err(h, heapd_cas_ref(h, obj, 2, 0, a, &was), HEAPD_ERANGE, "cas_ref");
	assert_int_equal(was, 7);
	expect_err(h, heapd_cas_ref(h, obj, UINT32_MAX, 0, a, &was), HEAPD_ERANGE, NULL);
	expect_err(h, heapd_cas_ref(h, gone, 0, 0, a, &was), HEAPD_EBADREF, "cas_ref");
	expect_err(h, heapd_cas_ref(h, obj ^ (1ull << 40), 0, 0, a, &was), HEAPD_EBADREF, NULL);
	expect_err(h, heapd_cas_ref(h, 0, 0, 0, a, &was), HEAPD_EBADREF, NULL);
	/* A bad target is its error though the slot holds expected. */
	expect_err(h, heapd_cas_ref(h, obj, 0, 0, gone, &was), HEAPD_EBADREF, NULL);
	expect_err(h, heapd_cas_ref(h, obj, 0, 0, a ^ 1ull << 33, &was), HEAPD_EBADREF, NULL);
	assert_int_equal(was, 7);
	assert_int_equal(slot_of(h, obj, 0), 0);
	/* A stale expected is compared, not followed: a conflict. */
	assert_int_equal(heapd_cas_ref(h, obj, 0, 0, a, NULL), 0);
	expect_err(h, heapd_cas_ref(h, obj, 0, gone, obj, &was), HEAPD_ECONFLICT, NULL);
	assert_int_equal(was, a);

	/* a, swapped out and held by nothing, is collected; obj's new
	 * referent, held by nothing but the slot, is not. */
	heapd_ref c = alloc_data(h, 0, "c");
	assert_int_equal(heapd_cas_ref(h, obj, 0, a, c, &was), 0);
	assert_int_equal(heapd_release(h, a), 0);
	assert_int_equal(heapd_release(h, c), 0);
	assert_int_equal(heapd_gc(h), 0);
	char buf[2];
	expect_err(h, heapd_read(h, a, 0, buf, 1), HEAPD_EBADREF, NULL);
	assert_int_equal(heapd_read(h, c, 0, buf, 1), 0);
	assert_int_equal(buf[0], 'c');
	heapd_close(h);
	daemon_stop(&d);
}

static void root_cas_swaps_or_conflicts(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-bad-refs", "0", NULL);
	heapd *h = client(&d);
	heapd_ref a = alloc_data(h, 0, "a"), b = alloc_data(h, 0, "b"), got, was = 7;
	uint64_t holds = stats_of(h)->holds;

	/* Expected 0: only if absent. */
	expect_err(h, heapd_root_cas(h, "list", a, b, &was), HEAPD_ECONFLICT, "root_cas: it holds 0x0");
	assert_int_equal(was, 0);
	expect_err(h, heapd_root_get(h, "list", &got), HEAPD_ENOTFOUND, NULL);
	assert_int_equal(heapd_root_cas(h, "list", 0, a, &was), 0);
	assert_int_equal(was, 0);
	assert_int_equal(stats_of(h)->named_roots, 1);
	expect_err(h, heapd_root_cas(h, "list", 0, b, &was), HEAPD_ECONFLICT, NULL);
	assert_int_equal(was, a);
	assert_int_equal(heapd_root_cas(h, "list", a, b, &was), 0);
	assert_int_equal(was, a);
	assert_int_equal(heapd_root_get(h, "list", &got), 0);
	assert_int_equal(got, b);
	assert_int_equal(heapd_release(h, got), 0);
	assert_int_equal(stats_of(h)->holds, holds);
	/* Target 0 deletes; absent to absent changes nothing. */
	expect_err(h, heapd_root_cas(h, "list", a, 0, &was), HEAPD_ECONFLICT, NULL);
	assert_int_equal(was, b);
	assert_int_equal(heapd_root_cas(h, "list", b, 0, &was), 0);
	assert_int_equal(was, b);
	expect_err(h, heapd_root_get(h, "list", &got), HEAPD_ENOTFOUND, NULL);
	assert_int_equal(stats_of(h)->named_roots, 0);
	assert_int_equal(heapd_root_cas(h, "list", 0, 0, &was), 0);
	assert_int_equal(was, 0);
	assert_int_equal(stats_of(h)->named_roots, 0);

	/* Bad names, bad targets: errors before any comparison. */
	expect_err(h, heapd_root_cas(h, NULL, 0, a, &was), HEAPD_EINVAL, "heapd_root_cas: name is NULL");
	expect_err(h, heapd_root_cas(h, "", 0, a, &was), HEAPD_EINVAL, "1 to 255 bytes");
	expect_err(h, heapd_root_cas(h, "bad\n", 0, a, &was), HEAPD_EINVAL, "control characters");
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	expect_err(h, heapd_root_cas(h, longname, 0, a, &was), HEAPD_EINVAL, "1 to 255 bytes");
	heapd_ref gone = stale(h);
	expect_err(h, heapd_root_cas(h, "list", 0, gone, &was), HEAPD_EBADREF, "root_cas");
	expect_err(h, heapd_root_cas(h, "list", 12345, gone, &was), HEAPD_EBADREF, NULL);
	assert_int_equal(stats_of(h)->named_roots, 0);

	/* What a root held, swapped out and held by nothing, is collected. */
	assert_int_equal(heapd_root_cas(h, "keep", 0, a, NULL), 0);
	assert_int_equal(heapd_root_cas(h, "keep", a, b, NULL), 0);
	assert_int_equal(heapd_release(h, a), 0);
	assert_int_equal(heapd_release(h, b), 0);
	assert_int_equal(heapd_gc(h), 0);
	char buf[1];
	expect_err(h, heapd_read(h, a, 0, buf, 1), HEAPD_EBADREF, NULL);
	assert_int_equal(heapd_read(h, b, 0, buf, 1), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* ---------------------------------------------- another uid's attempts */

#define A_UID 54331
#define A_GID 54331
#define B_UID 54332
#define B_GID 54332

enum { P_DENIED, P_DENIED_WAS, P_RO_CAS, P_MAKE, P_QUOTA, P_QUOTA_ROOT, P_SWAP, P_SWAP_WAS, P_NREF };

struct presults {
	int code[P_NREF];
	heapd_ref ref[P_NREF];
	char msg[P_NREF][160];
};

static int phase;  /* which part of b_attempts the next child runs */

static void note(heapd *h, struct presults *p, int i, int code)
{
	p->code[i] = code;
	snprintf(p->msg[i], sizeof p->msg[i], "%s", heapd_errmsg(h));
}

/* As B: phase 0, against A's 0644 root "a/x": root_cas (refused, nothing
 * shown), cas_ref through the read-only ref root_get gives, root_cas of a
 * root of its own, and of a second one past max_roots_per_uid 1. Phase
 * 1, once "a/x" is 0666: a swap. Phase 2, once it is 0622: refused. */
static void b_attempts(const struct daemon *d, void *out)
{
	struct presults *p = out;
	heapd *h = heapd_connect(d->sock);
	heapd_ref mine, cur = 0, was = 7;
	if (heapd_errcode(h) || heapd_alloc(h, 1, 8, &mine) != 0) {
		p->code[0] = heapd_errcode(h);
		heapd_close(h);
		return;
	}
	if (phase == 0) {
		note(h, p, P_DENIED, heapd_root_cas(h, "a/x", 12345, mine, &was));
		p->ref[P_DENIED_WAS] = was;
		note(h, p, P_RO_CAS, heapd_root_get(h, "a/x", &cur));
		if (!p->code[P_RO_CAS])
			note(h, p, P_RO_CAS, heapd_cas_ref(h, cur, 0, 0, mine, &was));
		note(h, p, P_MAKE, heapd_root_cas(h, "b/own", 0, mine, &was));
		note(h, p, P_QUOTA, heapd_root_cas(h, "b/more", 0, mine, &was));
		note(h, p, P_QUOTA_ROOT, heapd_root_get(h, "b/more", &cur));
	} else {
		p->code[P_SWAP] = heapd_root_get(h, "a/x", &cur);
		if (!p->code[P_SWAP] || phase == 2)
			note(h, p, P_SWAP, heapd_root_cas(h, "a/x", cur, mine, &was));
		p->ref[P_SWAP_WAS] = was;
		p->ref[P_SWAP] = mine;
	}
	heapd_close(h);
}

static struct presults b_run(const struct daemon *d, int ph)
{
	struct presults p;
	phase = ph;
	as_user(d, B_UID, B_GID, 0, b_attempts, &p, sizeof p);
	return p;
}

static void expect_code(const struct presults *p, int i, int code, const char *msg)
{
	if (p->code[i] != code)
		fail_msg("step %d: code %d, want %d (%s)", i, p->code[i], code, p->msg[i]);
	if (msg && !strstr(p->msg[i], msg))
		fail_msg("step %d: \"%s\" does not say \"%s\"", i, p->msg[i], msg);
}

static void root_cas_permissions(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", "--max-roots-per-uid", "1", NULL);
	heapd *h = client(&d);
	heapd_ref x = alloc_data(h, 1, "x"), got;
	assert_int_equal(heapd_root_cas(h, "a/x", 0, x, NULL), 0);
	assert_int_equal(heapd_root_chown(h, "a/x", A_UID, A_GID), 0);
	assert_int_equal(heapd_root_chmod(h, "a/x", 0644), 0);

	struct presults p = b_run(&d, 0);
	expect_code(&p, P_DENIED, HEAPD_EPERM, "may not read and write root \"a/x\"");
	assert_int_equal(p.ref[P_DENIED_WAS], 7);  /* nothing shown */
	expect_code(&p, P_RO_CAS, HEAPD_EPERM, "read-only");
	expect_code(&p, P_MAKE, 0, NULL);
	expect_code(&p, P_QUOTA, HEAPD_ELIMIT, "root_cas: uid 54332 has 1 named roots (max_roots_per_uid 1)");
	expect_code(&p, P_QUOTA_ROOT, HEAPD_ENOTFOUND, NULL);
	assert_int_equal(heapd_root_get(h, "a/x", &got), 0);
	assert_int_equal(got, x);
	assert_int_equal(heapd_release(h, got), 0);

	assert_int_equal(heapd_root_chmod(h, "a/x", 0666), 0);
	p = b_run(&d, 1);
	expect_code(&p, P_SWAP, 0, NULL);
	assert_int_equal(p.ref[P_SWAP_WAS], x);
	assert_int_equal(heapd_root_get(h, "a/x", &got), 0);
	assert_int_equal(got, p.ref[P_SWAP]);
	assert_int_equal(heapd_release(h, got), 0);

	/* Write without read: the reply would show what it names. */
	assert_int_equal(heapd_root_chmod(h, "a/x", 0622), 0);
	p = b_run(&d, 2);
	expect_code(&p, P_SWAP, HEAPD_EPERM, "may not read and write");
	assert_int_equal(p.ref[P_SWAP_WAS], 7);
	heapd_close(h);
	daemon_stop(&d);
}

/* ------------------------------------------------------------- batches */

static heapd_ref reply_ref(const heapd_batch *b, int i, int status)
{
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(b, i, &r), status);
	return r.ref;
}

static void batch_stops_at_a_failed_cas(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref obj = alloc_data(h, 2, "........"), n1 = alloc_data(h, 1, "n1"), n2 = alloc_data(h, 1, "n2"), got;
	assert_int_equal(heapd_root_set(h, "L", n1), 0);

	/* Op 0 stands, op 1 fails with what was there, 2 and 3 do not run. */
	heapd_batch *b = heapd_batch_new();
	assert_non_null(b);
	assert_int_equal(heapd_batch_write(b, obj, 0, "applied", 7), 0);
	assert_int_equal(heapd_batch_root_cas(b, "L", n2, obj), 1);
	assert_int_equal(heapd_batch_set_ref(b, obj, 0, n2), 2);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 1, 0, n2), 3);
	expect_err(h, heapd_batch_exec(h, b), HEAPD_ECONFLICT, "root_cas: it holds 0x");
	assert_int_equal(heapd_batch_failed(b), 1);
	reply_ref(b, 0, 0);
	assert_int_equal(reply_ref(b, 1, HEAPD_ECONFLICT), n1);
	reply_ref(b, 2, HEAPD_ESKIPPED);
	reply_ref(b, 3, HEAPD_ESKIPPED);
	char buf[8] = "";
	assert_int_equal(heapd_read(h, obj, 0, buf, 7), 0);
	assert_memory_equal(buf, "applied", 7);
	assert_int_equal(slot_of(h, obj, 0), 0);
	assert_int_equal(slot_of(h, obj, 1), 0);

	/* The idiom: the CAS first, so nothing applies unless it holds. A
	 * later op may name its result, which is then its expected. */
	heapd_batch_reset(b);
	int cas = heapd_batch_root_cas(b, "L", n1, n2);
	assert_int_equal(heapd_batch_set_ref(b, n2, 0, heapd_batch_result(cas)), 1);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 1, 0, n2), 2);
	assert_int_equal(heapd_batch_exec(h, b), 0);
	assert_int_equal(reply_ref(b, 0, 0), n1);
	assert_int_equal(reply_ref(b, 2, 0), 0);
	assert_int_equal(slot_of(h, n2, 0), n1);
	assert_int_equal(slot_of(h, obj, 1), n2);
	/* The same batch again: its CAS fails now, and nothing after it runs. */
	assert_int_equal(heapd_batch_write(b, n2, 0, "no", 2), 3);
	expect_err(h, heapd_batch_exec(h, b), HEAPD_ECONFLICT, "root_cas: it holds");
	assert_int_equal(reply_ref(b, 0, HEAPD_ECONFLICT), n2);
	assert_int_equal(heapd_read(h, n2, 0, buf, 2), 0);
	assert_memory_equal(buf, "n2", 2);

	/* All or nothing: a CAS to the same ref only checks, so both
	 * conditions come before any change; the second fails, nothing runs. */
	heapd_batch_reset(b);
	assert_int_equal(heapd_batch_root_cas(b, "L", n2, n2), 0);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 1, n1, n1), 1);
	assert_int_equal(heapd_batch_root_cas(b, "L", n2, n1), 2);
	assert_int_equal(heapd_batch_write(b, n1, 0, "no", 2), 3);
	expect_err(h, heapd_batch_exec(h, b), HEAPD_ECONFLICT, "cas_ref: it holds");
	assert_int_equal(reply_ref(b, 0, 0), n2);
	assert_int_equal(reply_ref(b, 1, HEAPD_ECONFLICT), n2);
	assert_int_equal(heapd_root_get(h, "L", &got), 0);
	assert_int_equal(got, n2);
	assert_int_equal(heapd_release(h, got), 0);
	assert_int_equal(heapd_read(h, n1, 0, buf, 2), 0);
	assert_memory_equal(buf, "n1", 2);

	/* A failed cas_ref in the middle, and an error that is not a conflict. */
	heapd_batch_reset(b);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 1, n2, n1), 0);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 1, n2, n2), 1);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 5, 0, n2), 2);
	expect_err(h, heapd_batch_exec(h, b), HEAPD_ECONFLICT, "cas_ref: it holds");
	assert_int_equal(reply_ref(b, 1, HEAPD_ECONFLICT), n1);
	reply_ref(b, 2, HEAPD_ESKIPPED);
	heapd_batch_reset(b);
	assert_int_equal(heapd_batch_cas_ref(b, obj, 5, 0, n2), 0);
	expect_err(h, heapd_batch_exec(h, b), HEAPD_ERANGE, "cas_ref");
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

static heapd_ref await_root(heapd *h, const char *name)
{
	heapd_ref r = 0;
	uint64_t until = mono_ns() + 60ull * 1000000000u;
	while (heapd_root_get(h, name, &r) == HEAPD_ENOTFOUND)
		assert_true(mono_ns() < until);
	assert_int_equal(heapd_errcode(h), 0);
	return r;
}

/* A batch that marks its start with a root, allocates and drops PAIRS
 * objects of PAIR_BYTES, then marks its end: with turns of 1 us each op
 * takes a turn of its own (test_fairness long_batch_yields), 10-20 ms in
 * all, unless the batch has a CAS, first (cas_last 0) or last (1). Without
 * the one-turn rule, the other client saw the start alone each time. */
static void one_turn(heapd *a, heapd *b, int cas_last)
{
	heapd_batch *batch = heapd_batch_new();
	heapd_ref anchor = alloc_data(a, 1, "anchor");
	int first = heapd_batch_alloc(batch, 0, 8);
	if (cas_last)
		heapd_batch_root_set(batch, "started", heapd_batch_result(first));
	else
		heapd_batch_root_cas(batch, "started", 0, heapd_batch_result(first));
	for (int i = 0; i < PAIRS; i++)
		heapd_batch_release(batch, heapd_batch_result(heapd_batch_alloc(batch, 0, PAIR_BYTES)));
	heapd_batch_root_set(batch, "done", heapd_batch_result(first));
	if (cas_last)
		heapd_batch_cas_ref(batch, anchor, 0, 0, heapd_batch_result(first));
	assert_int_equal(heapd_append_batch(a, batch), 0);
	assert_int_equal(heapd_flush(a), 0);
	await_root(b, "started");
	heapd_ref r;
	if (heapd_root_get(b, "done", &r) != 0)
		fail_msg("another client saw the batch's start, not its end (%s)", heapd_errmsg(b));
	heapd_reply rep;
	assert_int_equal(heapd_get_reply(a, &rep), 0);
	assert_int_equal(heapd_batch_failed(batch), -1);
	assert_int_equal(heapd_root_set(a, "started", 0), 0);
	assert_int_equal(heapd_root_set(a, "done", 0), 0);
	heapd_batch_free(batch);
}

static void batch_with_cas_in_one_turn(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--gc-slice-us", "1", "--max-batch-ops", "4096", "--max-cas-batch-ops", "4096", NULL);
	heapd *a = client(&d), *b = client(&d);
	one_turn(a, b, 0);
	one_turn(a, b, 1);
	heapd_close(a);
	heapd_close(b);
	daemon_stop(&d);
}

/* A batch with a CAS runs whole in one turn, so max_cas_batch_ops bounds
 * it: past it the batch is LIMIT and none of it runs (the root its first
 * op would make is not there); at it, and a longer batch without a CAS,
 * run. */
static void cas_batch_limit(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref obj = alloc_data(h, 1, "x"), r;
	heapd_batch *b = heapd_batch_new();
	heapd_batch_root_set(b, "made", obj);
	heapd_batch_cas_ref(b, obj, 0, 0, obj);
	while (heapd_batch_count(b) < 65)
		heapd_batch_get_ref(b, obj, 0);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ELIMIT);
	assert_non_null(strstr(heapd_errmsg(h), "65 ops with a compare-and-swap, more than max_cas_batch_ops 64"));
	assert_int_equal(heapd_root_get(h, "made", &r), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_get_ref(h, obj, 0, &r), 0);
	assert_int_equal(r, 0);   /* the CAS did not run either */
	heapd_batch_reset(b);
	heapd_batch_root_set(b, "made", obj);
	heapd_batch_cas_ref(b, obj, 0, 0, obj);
	while (heapd_batch_count(b) < 64)
		heapd_batch_get_ref(b, obj, 0);
	assert_int_equal(heapd_batch_exec(h, b), 0);
	heapd_batch_reset(b);
	while (heapd_batch_count(b) < 200)
		heapd_batch_get_ref(b, obj, 0);
	assert_int_equal(heapd_batch_exec(h, b), 0);   /* no CAS: split over turns, max_batch_ops bounds it */
	heapd_batch_free(b);
	heapd_close(h);
	daemon_stop(&d);
}

/* ------------------------------------------------------------- async */

struct async_cas {
	heapd_ref obj, a;
	int step;
};

static void async_step(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	struct tally *t = tally_reply(ac, r);
	struct async_cas *c = t->test;
	(void)privdata;
	switch (c->step++) {
	case 0:  /* obj.0 = a */
		assert_int_equal(r->status, 0);
		assert_int_equal(r->ref, 0);
		break;
	case 1:  /* expected 0 again: a conflict, with a */
		assert_int_equal(r->status, HEAPD_ECONFLICT);
		assert_int_equal(r->ref, c->a);
		assert_non_null(strstr(r->error, "cas_ref: it holds"));
		break;
	case 2:  /* root "r" made */
		assert_int_equal(r->status, 0);
		assert_int_equal(r->ref, 0);
		break;
	case 3:  /* not absent any more */
		assert_int_equal(r->status, HEAPD_ECONFLICT);
		assert_int_equal(r->ref, c->obj);
		heapd_async_disconnect(ac);
		break;
	default:
		fail_msg("a reply too many");
	}
}

static void async_cas(enum loop_kind kind)
{
	struct tally t;
	struct async_cas c = {0};
	tally_start(&t, kind, 0);
	t.test = &c;
	heapd *h = client(&t.d);
	c.obj = alloc_data(h, 1, "obj");
	c.a = alloc_data(h, 0, "a");
	heapd_async *ac = tally_connect(&t, t.d.sock);
	assert_int_equal(heapd_async_cas_ref(ac, c.obj, 0, 0, c.a, async_step, NULL), 0);
	assert_int_equal(heapd_async_cas_ref(ac, c.obj, 0, 0, c.a, async_step, NULL), 0);
	assert_int_equal(heapd_async_root_cas(ac, "r", 0, c.obj, async_step, NULL), 0);
	assert_int_equal(heapd_async_root_cas(ac, "r", 0, c.a, async_step, NULL), 0);
	assert_int_equal(heapd_async_root_cas(ac, NULL, 0, c.a, async_step, NULL), HEAPD_EINVAL);
	loop_run(&t.loop);
	assert_int_equal(c.step, 4);
	assert_int_equal(t.replies, 4);
	assert_int_equal(t.disconnects, 1);
	heapd_async_free(ac);
	loop_close(&t.loop);
	heapd_close(h);
	daemon_stop(&t.d);
}
BOTH(async_cas)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cas_ref_swaps_or_conflicts),
		cmocka_unit_test(cas_ref_errors),
		cmocka_unit_test(root_cas_swaps_or_conflicts),
		cmocka_unit_test(root_cas_permissions),
		cmocka_unit_test(batch_stops_at_a_failed_cas),
		cmocka_unit_test(batch_with_cas_in_one_turn),
		cmocka_unit_test(cas_batch_limit),
		TEST_BOTH(async_cas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
