/*
 * test_introspect.c - the introspection operations (issue 18) against a
 * daemon of the test's own: object_info, root_info (heapd_root_stat),
 * root_scan, client_list and client_kill, blocking, pipelined, in a batch
 * and async. The parts run by another uid need root (userutil.h) and are
 * skipped without it.
 *
 *   object_info_sizes      sizes and heap bytes of a small and a large
 *                          object; a null, forged and stale ref are BAD_REF
 *   object_info_age        an object held through N heapd_gc calls is N
 *                          collections old (as many as num_gc counted
 *                          since), small and large; a new one 0
 *   root_info_and_perms    a root's owner, group, mode and object; no such
 *                          root, a bad name; another uid without read
 *   scan_patterns          globs over a cursor: every match once, no other
 *   scan_stable            10,000 roots in pieces of a bounded size (a
 *                          count past the cap is capped), while
 *                          half of them are deleted and others made between
 *                          calls: every root there all along is listed
 *   scan_unreadable        another uid's scan lists its own and readable
 *                          roots only
 *   client_list_fields     pid, uid, comm, name, holds and held bytes as the
 *                          test allocates and releases, requests, bytes
 *   client_list_own_uid    a user sees its uid's connections only
 *   client_kill_admin      an admin closes a connection: its holds go; no
 *                          such id; its own connection; a user may not
 *   batch_and_pipeline     object_info and root_info as batch ops (and a
 *                          failed one), the five as pipelined requests
 *   async_forms            the five through the async API on libuv
 */
#include <errno.h>

#include "asyncutil.h"
#include "userutil.h"

#define B_UID 54331
#define B_GID 54331

static struct daemon d;

static int setup(void **state)
{
	(void)state;
	if (geteuid() == 0)
		start_open_dir(&d, "--socket-mode", "0666", "--root-mode", "0644", NULL);
	else
		daemon_start(&d, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	daemon_stop(&d);
	return 0;
}

static void object_info_sizes(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref small, large, gone;
	struct heapd_object_info oi;
	assert_int_equal(heapd_alloc(h, 2, 100, &small), 0);
	assert_int_equal(heapd_object_info(h, small, &oi), 0);
	assert_int_equal(oi.nrefs, 2);
	assert_int_equal(oi.nbytes, 100);
	assert_true(oi.size >= 8 + 16 + 100 && oi.size <= 2 * (8 + 16 + 100));
	assert_int_equal(oi.sealed, 0);
	assert_int_equal(oi.age, 0);
	assert_int_equal(heapd_alloc(h, 0, 100000, &large), 0);
	assert_int_equal(heapd_object_info(h, large, &oi), 0);
	assert_int_equal(oi.nrefs, 0);
	assert_int_equal(oi.nbytes, 100000);
	assert_true(oi.size >= 100008 && oi.size % 8192 == 0);

	assert_int_equal(heapd_object_info(h, 0, &oi), HEAPD_EBADREF);
	assert_int_equal(heapd_object_info(h, small ^ ((heapd_ref)1 << 40), &oi), HEAPD_EBADREF);
	assert_non_null(strstr(heapd_errmsg(h), "object_info"));
	assert_int_equal(heapd_alloc(h, 0, 8, &gone), 0);
	assert_int_equal(heapd_release(h, gone), 0);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_object_info(h, gone, &oi), HEAPD_EBADREF);
	assert_int_equal(heapd_object_info(h, small, NULL), HEAPD_EINVAL);
	heapd_close(h);
}

static uint64_t num_gc(heapd *h)
{
	heapd_stats st;
	assert_int_equal(heapd_get_stats(h, &st, sizeof st), 0);
	return st.num_gc;
}

static uint32_t age_of(heapd *h, heapd_ref r)
{
	struct heapd_object_info oi;
	assert_int_equal(heapd_object_info(h, r, &oi), 0);
	return oi.age;
}

/* The daemon may run a cycle of its own between calls: an age is checked
 * against num_gc's count since the object was made, read before and
 * after it, and each heapd_gc must add one at least. */
static void assert_age(heapd *h, heapd_ref r, uint64_t born, uint64_t least)
{
	uint64_t before = num_gc(h) - born;
	uint32_t age = age_of(h, r);
	uint64_t after = num_gc(h) - born;
	assert_true(before >= least);
	assert_true(age >= before && age <= after);
}

static void object_info_age(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref small, large, young;
	assert_int_equal(heapd_gc(h), 0);
	uint64_t born = num_gc(h);
	assert_int_equal(heapd_alloc(h, 2, 16, &small), 0);
	assert_int_equal(heapd_alloc(h, 0, 100000, &large), 0);
	assert_age(h, small, born, 0);
	assert_age(h, large, born, 0);
	for (uint32_t n = 1; n <= 5; n++) {
		assert_int_equal(heapd_gc(h), 0);
		assert_age(h, small, born, n);
		assert_age(h, large, born, n);
		uint64_t young_born = num_gc(h);
		assert_int_equal(heapd_alloc(h, 1, 8, &young), 0);
		assert_age(h, young, young_born, 0);
		assert_int_equal(heapd_release(h, young), 0);
	}
	heapd_close(h);
}

struct perm_out {
	int code;
	char msg[160];
};

static void stat_as_b(const struct daemon *dm, void *out)
{
	struct perm_out *o = out;
	heapd *h = client(dm);
	heapd_root_info ri;
	o->code = heapd_root_stat(h, "info:private", &ri, NULL);
	snprintf(o->msg, sizeof o->msg, "%s", heapd_errmsg(h));
	heapd_close(h);
}

static void root_info_and_perms(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 1, 40, &r), 0);
	assert_int_equal(heapd_root_set(h, "info:private", r), 0);
	heapd_root_info ri = {.name = "x"};
	struct heapd_object_info oi;
	assert_int_equal(heapd_root_stat(h, "info:private", &ri, &oi), 0);
	assert_null(ri.name);
	assert_int_equal(ri.uid, getuid());
	assert_int_equal(ri.gid, getgid());
	assert_int_equal(ri.mode, 0644);
	assert_int_equal(oi.nrefs, 1);
	assert_int_equal(oi.nbytes, 40);
	assert_int_equal(heapd_root_stat(h, "info:private", NULL, NULL), 0);
	assert_int_equal(heapd_root_stat(h, "info:none", &ri, &oi), HEAPD_ENOTFOUND);
	assert_non_null(strstr(heapd_errmsg(h), "info:none"));
	assert_int_equal(heapd_root_stat(h, "", &ri, &oi), HEAPD_EINVAL);
	assert_int_equal(heapd_root_stat(h, "bad\001name", &ri, &oi), HEAPD_EINVAL);
	assert_int_equal(heapd_root_stat(h, NULL, &ri, &oi), HEAPD_EINVAL);
	if (geteuid() == 0) {
		struct perm_out o;
		assert_int_equal(heapd_root_chmod(h, "info:private", 0600), 0);
		as_user(&d, B_UID, B_GID, 0, stat_as_b, &o, sizeof o);
		assert_int_equal(o.code, HEAPD_EPERM);
		assert_non_null(strstr(o.msg, "may not read"));
		assert_int_equal(heapd_root_chmod(h, "info:private", 0644), 0);
		as_user(&d, B_UID, B_GID, 0, stat_as_b, &o, sizeof o);
		assert_int_equal(o.code, 0);
	}
	assert_int_equal(heapd_root_set(h, "info:private", 0), 0);
	heapd_close(h);
}

/* Scans pattern to its end, count slots a call; marks what it sees in
 * seen[] by the number after prefix (a name seen twice counts twice),
 * and returns the names seen that are not prefix + a number below n. */
static size_t scan_all(heapd *h, const char *pattern, uint32_t count, const char *prefix, unsigned *seen, size_t n,
		       size_t *calls, size_t *most)
{
	uint64_t cursor = 0;
	size_t other = 0, plen = strlen(prefix);
	*calls = *most = 0;
	do {
		heapd_root_info *v;
		size_t k;
		assert_int_equal(heapd_root_scan(h, pattern, cursor, count, &v, &k, &cursor), 0);
		(*calls)++;
		*most = k > *most ? k : *most;
		for (size_t i = 0; i < k; i++) {
			char *end;
			unsigned long x = strncmp(v[i].name, prefix, plen) == 0 ? strtoul(v[i].name + plen, &end, 10) : n;
			if (x < n && !*end)
				seen[x]++;
			else
				other++;
		}
		assert_null(v[k].name);
		heapd_free_root_info(v);
		assert_true(*calls < 1000000);
	} while (cursor);
	return other;
}

static void make_roots(heapd *h, heapd_ref r, const char *fmt, unsigned from, unsigned to)
{
	char name[64];
	for (unsigned i = from; i < to;) {
		unsigned k = 0;
		for (; i < to && k < 1000; i++, k++) {
			snprintf(name, sizeof name, fmt, i);
			assert_int_equal(heapd_append_root_set(h, name, r), 0);
		}
		heapd_reply rep;
		while (k--)
			assert_int_equal(heapd_get_reply(h, &rep), 0);
	}
}

static void drop_roots(heapd *h, const char *fmt, unsigned from, unsigned to)
{
	char name[64];
	heapd_reply rep;
	for (unsigned i = from; i < to; i++) {
		snprintf(name, sizeof name, fmt, i);
		assert_int_equal(heapd_append_root_set(h, name, 0), 0);
	}
	for (unsigned i = from; i < to; i++)
		assert_int_equal(heapd_get_reply(h, &rep), 0);
}

static void scan_patterns(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref r;
	unsigned seen[64];
	size_t calls, most;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	make_roots(h, r, "user:%u", 0, 50);
	make_roots(h, r, "item:%u", 0, 30);

	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, "user:*", 10, "user:", seen, 64, &calls, &most), 0);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(seen[i], i < 50);
	assert_true(calls > 1);

	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, "item:?", 0, "item:", seen, 64, &calls, &most), 0);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(seen[i], i < 10);

	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, "*:[12]", 1000, "user:", seen, 64, &calls, &most), 2);  /* item:1, item:2 */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(seen[i], i == 1 || i == 2);

	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, NULL, 7, "user:", seen, 64, &calls, &most), 30);
	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, "", 7, "user:", seen, 64, &calls, &most), 30);
	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, "nothing*", 1000, "user:", seen, 64, &calls, &most), 0);
	assert_int_equal(most, 0);

	heapd_root_info *v;
	uint64_t next;
	assert_int_equal(heapd_root_scan(h, "bad\001", 0, 0, &v, NULL, &next), HEAPD_EINVAL);
	char big[1100];
	memset(big, '*', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(heapd_root_scan(h, big, 0, 0, &v, NULL, &next), HEAPD_EINVAL);
	assert_non_null(strstr(heapd_errmsg(h), "1099 bytes"));
	assert_int_equal(heapd_root_scan(h, "*", 0, 0, NULL, NULL, &next), HEAPD_EINVAL);
	/* Any cursor is accepted: it resumes somewhere. */
	assert_int_equal(heapd_root_scan(h, "*", UINT64_MAX - 5, 0, &v, NULL, &next), 0);
	heapd_free_root_info(v);

	drop_roots(h, "user:%u", 0, 50);
	drop_roots(h, "item:%u", 0, 30);
	heapd_close(h);
}

#define STABLE 5000u
#define CHURN 5000u

static void scan_stable(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref r;
	static unsigned seen[STABLE + CHURN];
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	make_roots(h, r, "s%05u", 0, STABLE + CHURN);

	/* A count past the cap (10,000 slots) looks at no more: 10,000 roots
	 * fill more slots than that, so one call cannot list them all. */
	heapd_root_info *v;
	size_t k;
	uint64_t next;
	assert_int_equal(heapd_root_scan(h, NULL, 0, UINT32_MAX, &v, &k, &next), 0);
	assert_true(k > 0 && k < STABLE + CHURN);
	assert_int_not_equal(next, 0);
	heapd_free_root_info(v);

	/* 10,000 roots at once, 100 slots a call: in pieces. */
	size_t calls, most;
	memset(seen, 0, sizeof seen);
	assert_int_equal(scan_all(h, "s*", 100, "s", seen, STABLE + CHURN, &calls, &most), 0);
	for (unsigned i = 0; i < STABLE + CHURN; i++)
		assert_int_equal(seen[i], 1);  /* the table kept its size: once each */
	assert_true(most <= 200);
	assert_true(calls >= (STABLE + CHURN) / 200);

	/* Half of them deleted while the scan goes (the table halves), new
	 * ones made (it grows again): the other half is listed all the same. */
	memset(seen, 0, sizeof seen);
	uint64_t cursor = 0;
	unsigned dropped = STABLE, made = 0;
	calls = 0;
	do {
		heapd_root_info *v;
		size_t k;
		assert_int_equal(heapd_root_scan(h, NULL, cursor, 100, &v, &k, &cursor), 0);
		for (size_t i = 0; i < k; i++)
			if (v[i].name[0] == 's' && atoi(v[i].name + 1) < (int)STABLE)
				seen[atoi(v[i].name + 1)]++;
		heapd_free_root_info(v);
		if (dropped < STABLE + CHURN) {
			drop_roots(h, "s%05u", dropped, dropped + 100 < STABLE + CHURN ? dropped + 100 : STABLE + CHURN);
			dropped += 100;
		} else if (made < 20000) {
			make_roots(h, r, "n%05u", made, made + 400);
			made += 400;
		}
		calls++;
	} while (cursor);
	for (unsigned i = 0; i < STABLE; i++)
		assert_true(seen[i] >= 1);
	drop_roots(h, "s%05u", 0, STABLE);
	drop_roots(h, "n%05u", 0, made);
	heapd_close(h);
}

struct scan_out {
	int code;
	int own, others_private, others_open;
};

static void scan_as_b(const struct daemon *dm, void *out)
{
	struct scan_out *o = out;
	heapd *h = client(dm);
	heapd_ref r;
	if ((o->code = heapd_alloc(h, 0, 8, &r)) || (o->code = heapd_root_set(h, "b:own", r)))
		return;
	uint64_t cursor = 0;
	do {
		heapd_root_info *v;
		size_t k;
		if ((o->code = heapd_root_scan(h, NULL, cursor, 0, &v, &k, &cursor)) != 0)
			break;
		for (size_t i = 0; i < k; i++) {
			o->own += strcmp(v[i].name, "b:own") == 0;
			o->others_private += strcmp(v[i].name, "a:private") == 0;
			o->others_open += strcmp(v[i].name, "a:open") == 0;
		}
		heapd_free_root_info(v);
	} while (cursor);
	heapd_root_set(h, "b:own", 0);
	heapd_close(h);
}

static void scan_unreadable(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	heapd *h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	assert_int_equal(heapd_root_set(h, "a:private", r), 0);
	assert_int_equal(heapd_root_set(h, "a:open", r), 0);
	assert_int_equal(heapd_root_chmod(h, "a:private", 0600), 0);
	struct scan_out o;
	as_user(&d, B_UID, B_GID, 0, scan_as_b, &o, sizeof o);
	assert_int_equal(o.code, 0);
	assert_int_equal(o.own, 1);
	assert_int_equal(o.others_private, 0);
	assert_int_equal(o.others_open, 1);
	heapd_root_set(h, "a:private", 0);
	heapd_root_set(h, "a:open", 0);
	heapd_close(h);
}

static const heapd_client_info *row_of(const heapd_client_info *rows, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].id == id)
			return &rows[i];
	return NULL;
}

static void client_list_fields(void **state)
{
	(void)state;
	heapd *a = client(&d), *b = client(&d);
	heapd_client_info *rows;
	size_t n;
	int truncated = -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;

	assert_int_equal(heapd_client_list(a, &rows, &n, &truncated), 0);
	assert_int_equal(truncated, 0);
	assert_true(n >= 2);
	for (size_t i = 1; i < n; i++)
		assert_true(rows[i - 1].id < rows[i].id);
	const heapd_client_info *me = row_of(rows, n, heapd_session_id(a));
	const heapd_client_info *other = row_of(rows, n, heapd_session_id(b));
	assert_non_null(me);
	assert_non_null(other);
	assert_int_equal(me->self, 1);
	assert_int_equal(other->self, 0);
	assert_int_equal(me->pid, getpid());
	assert_int_equal(me->uid, getuid());
	assert_int_equal(me->gid, getgid());
	char comm[17];
	snprintf(comm, sizeof comm, "%.15s", program_invocation_short_name);
	assert_string_equal(me->comm, comm);
	assert_string_equal(me->name, program_invocation_short_name);
	assert_true(me->connected_unix_ns <= now_ns + 1000000000ull && me->connected_unix_ns + 60000000000ull > now_ns);
	assert_int_equal(other->holds, 0);
	assert_int_equal(other->held_bytes, 0);
	assert_int_equal(me->requests, 2);  /* hello, this list */
	assert_true(me->bytes_in > 0 && me->bytes_out > 0);
	uint64_t b_requests = other->requests, b_in = other->bytes_in, b_out = other->bytes_out;
	heapd_free_client_list(rows);

	/* b holds three objects, one twice; its bytes count each once. */
	heapd_ref x, y, z, again;
	struct heapd_object_info ox, oy, oz;
	assert_int_equal(heapd_alloc(b, 0, 10, &x), 0);
	assert_int_equal(heapd_alloc(b, 3, 500, &y), 0);
	assert_int_equal(heapd_alloc(b, 0, 70000, &z), 0);
	assert_int_equal(heapd_set_ref(b, y, 0, x), 0);
	assert_int_equal(heapd_get_ref(b, y, 0, &again), 0);
	assert_int_equal(again, x);
	assert_int_equal(heapd_object_info(a, x, &ox), 0);
	assert_int_equal(heapd_object_info(a, y, &oy), 0);
	assert_int_equal(heapd_object_info(a, z, &oz), 0);
	assert_int_equal(heapd_client_list(a, &rows, &n, NULL), 0);
	other = row_of(rows, n, heapd_session_id(b));
	assert_non_null(other);
	assert_int_equal(other->holds, 4);
	assert_int_equal(other->held_bytes, ox.size + oy.size + oz.size);
	assert_int_equal(other->requests, b_requests + 5);
	assert_true(other->bytes_in > b_in && other->bytes_out > b_out);
	heapd_free_client_list(rows);

	assert_int_equal(heapd_release(b, x), 0);
	assert_int_equal(heapd_release(b, z), 0);
	assert_int_equal(heapd_client_list(a, &rows, &n, NULL), 0);
	other = row_of(rows, n, heapd_session_id(b));
	assert_int_equal(other->holds, 2);
	assert_int_equal(other->held_bytes, ox.size + oy.size);  /* x is still held once */
	heapd_free_client_list(rows);
	assert_int_equal(heapd_release(b, x), 0);
	assert_int_equal(heapd_client_list(a, &rows, &n, NULL), 0);
	other = row_of(rows, n, heapd_session_id(b));
	assert_int_equal(other->holds, 1);
	assert_int_equal(other->held_bytes, oy.size);
	heapd_free_client_list(rows);
	assert_int_equal(heapd_client_list(a, NULL, &n, NULL), HEAPD_EINVAL);
	heapd_close(a);
	heapd_close(b);
}

struct list_out {
	int code, kill_code;
	size_t n;
	uint32_t uids[8];
	int self;
	char msg[160];
};

static uint64_t victim;

static void list_as_b(const struct daemon *dm, void *out)
{
	struct list_out *o = out;
	heapd *h = client(dm);
	heapd_client_info *rows;
	if ((o->code = heapd_client_list(h, &rows, &o->n, NULL)) != 0)
		return;
	for (size_t i = 0; i < o->n && i < 8; i++) {
		o->uids[i] = rows[i].uid;
		o->self += rows[i].self;
	}
	heapd_free_client_list(rows);
	o->kill_code = heapd_client_kill(h, victim);
	snprintf(o->msg, sizeof o->msg, "%s", heapd_errmsg(h));
	heapd_close(h);
}

static void client_list_own_uid(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	heapd *a = client(&d);
	victim = heapd_session_id(a);
	struct list_out o;
	as_user(&d, B_UID, B_GID, 0, list_as_b, &o, sizeof o);
	assert_int_equal(o.code, 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.uids[0], B_UID);
	assert_int_equal(o.self, 1);
	/* and may not close root's connection */
	assert_int_equal(o.kill_code, HEAPD_EPERM);
	assert_non_null(strstr(o.msg, "not an admin"));
	assert_int_equal(heapd_ping(a, NULL), 0);
	heapd_close(a);
}

static void client_kill_admin(void **state)
{
	(void)state;
	heapd *a = client(&d), *b = client(&d);
	heapd_ref r;
	struct heapd_object_info oi;
	assert_int_equal(heapd_alloc(b, 0, 64, &r), 0);
	assert_int_equal(heapd_client_kill(a, heapd_session_id(b)), 0);
	assert_int_equal(heapd_ping(b, NULL), HEAPD_EIO);
	/* Its hold went with it: the object is garbage. */
	assert_int_equal(heapd_gc(a), 0);
	assert_int_equal(heapd_object_info(a, r, &oi), HEAPD_EBADREF);
	assert_int_equal(heapd_client_kill(a, heapd_session_id(b)), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_client_kill(a, 0), HEAPD_ENOTFOUND);
	heapd_client_info *rows;
	size_t n;
	assert_int_equal(heapd_client_list(a, &rows, &n, NULL), 0);
	assert_null(row_of(rows, n, heapd_session_id(b)));
	heapd_free_client_list(rows);
	/* Its own: answered, then closed. */
	assert_int_equal(heapd_client_kill(a, heapd_session_id(a)), 0);
	assert_int_equal(heapd_ping(a, NULL), HEAPD_EIO);
	heapd_close(a);
	heapd_close(b);
}

static void batch_and_pipeline(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	assert_int_equal(heapd_root_set(h, "bp:root", r), 0);
	heapd_batch *b = heapd_batch_new();
	int i0 = heapd_batch_alloc(b, 4, 20);
	int i1 = heapd_batch_object_info(b, heapd_batch_result(i0));
	int i2 = heapd_batch_root_info(b, "bp:root");
	assert_int_equal(heapd_batch_root_info(b, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_batch_exec(h, b), 0);
	heapd_reply rep;
	assert_int_equal(heapd_batch_reply(b, i1, &rep), 0);
	assert_non_null(rep.info);
	assert_int_equal(rep.info->nrefs, 4);
	assert_int_equal(rep.info->nbytes, 20);
	assert_int_equal(heapd_batch_reply(b, i2, &rep), 0);
	assert_int_equal(rep.info->nbytes, 8);
	assert_int_equal(rep.root_uids[0], getuid());
	assert_int_equal(rep.root_modes[0], 0644);
	heapd_batch_reset(b);
	heapd_batch_object_info(b, r);
	heapd_batch_root_info(b, "bp:none");
	heapd_batch_object_info(b, r);
	assert_int_equal(heapd_batch_exec(h, b), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_batch_failed(b), 1);
	assert_int_equal(heapd_batch_reply(b, 2, &rep), HEAPD_ESKIPPED);
	heapd_batch_free(b);

	assert_int_equal(heapd_append_object_info(h, r), 0);
	assert_int_equal(heapd_append_root_info(h, "bp:root"), 0);
	assert_int_equal(heapd_append_root_scan(h, "bp:*", 0, 10000), 0);
	assert_int_equal(heapd_append_client_list(h), 0);
	assert_int_equal(heapd_append_client_kill(h, 0), 0);
	assert_int_equal(heapd_append_root_info(h, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_get_reply(h, &rep), 0);
	assert_int_equal(rep.info->nbytes, 8);
	assert_int_equal(heapd_get_reply(h, &rep), 0);
	assert_int_equal(rep.root_modes[0], 0644);
	assert_int_equal(heapd_get_reply(h, &rep), 0);
	assert_int_equal(rep.nnames, 1);
	assert_string_equal(rep.names[0], "bp:root");
	assert_int_equal(heapd_get_reply(h, &rep), 0);
	assert_true(rep.nclients >= 1);
	assert_int_equal(heapd_get_reply(h, &rep), HEAPD_ENOTFOUND);
	assert_int_equal(heapd_root_set(h, "bp:root", 0), 0);
	heapd_close(h);
}

struct async_seen {
	int replies;
	uint32_t nbytes, mode;
	size_t nnames, nclients;
	uint64_t cursor;
	int kill_status;
};

static void on_info(heapd_async *ac, const heapd_reply *r, void *p)
{
	struct async_seen *s = heapd_async_data(ac);
	s->replies++;
	if (!r->status && p == (void *)1)
		s->nbytes = r->info->nbytes;
	if (!r->status && p == (void *)2)
		s->mode = r->root_modes[0];
}

static void on_scan(heapd_async *ac, const heapd_reply *r, void *p)
{
	struct async_seen *s = heapd_async_data(ac);
	(void)p;
	s->replies++;
	s->nnames = r->status ? 99 : r->nnames;
	s->cursor = r->cursor;
}

static void on_clients(heapd_async *ac, const heapd_reply *r, void *p)
{
	struct async_seen *s = heapd_async_data(ac);
	(void)p;
	s->replies++;
	s->nclients = r->status ? 0 : r->nclients;
}

static void on_kill(heapd_async *ac, const heapd_reply *r, void *p)
{
	struct async_seen *s = heapd_async_data(ac);
	(void)p;
	s->replies++;
	s->kill_status = r->status;
	heapd_async_disconnect(ac);
}

static void async_forms(void **state)
{
	(void)state;
	heapd *h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 33, &r), 0);
	assert_int_equal(heapd_root_set(h, "as:root", r), 0);
	struct loop l;
	struct async_seen s = {0};
	loop_open(&l, LOOP_LIBUV);
	heapd_async *ac = heapd_async_connect(d.sock);
	assert_non_null(ac);
	heapd_async_set_data(ac, &s);
	assert_int_equal(loop_attach(&l, ac), 0);
	assert_int_equal(heapd_async_object_info(ac, r, on_info, (void *)1), 0);
	assert_int_equal(heapd_async_root_info(ac, "as:root", on_info, (void *)2), 0);
	assert_int_equal(heapd_async_root_info(ac, NULL, on_info, NULL), HEAPD_EINVAL);
	assert_int_equal(heapd_async_root_scan(ac, "as:*", 0, 10000, on_scan, NULL), 0);
	assert_int_equal(heapd_async_client_list(ac, on_clients, NULL), 0);
	assert_int_equal(heapd_async_client_kill(ac, 0, on_kill, NULL), 0);
	loop_run(&l);
	heapd_async_free(ac);
	loop_close(&l);
	assert_int_equal(s.replies, 5);
	assert_int_equal(s.nbytes, 33);
	assert_int_equal(s.mode, 0644);
	assert_int_equal(s.nnames, 1);
	assert_int_equal(s.cursor, 0);
	assert_true(s.nclients >= 2);
	assert_int_equal(s.kill_status, HEAPD_ENOTFOUND);
	assert_int_equal(heapd_root_set(h, "as:root", 0), 0);
	heapd_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(object_info_sizes),
		cmocka_unit_test(object_info_age),
		cmocka_unit_test(root_info_and_perms),
		cmocka_unit_test(scan_patterns),
		cmocka_unit_test(scan_stable),
		cmocka_unit_test(scan_unreadable),
		cmocka_unit_test(client_list_fields),
		cmocka_unit_test(client_list_own_uid),
		cmocka_unit_test(client_kill_admin),
		cmocka_unit_test(batch_and_pipeline),
		cmocka_unit_test(async_forms),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
