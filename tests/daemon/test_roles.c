/*
 * test_roles.c - what each role may do, and reloads that change roles
 * and allow lists under open sessions (daemon/admit.c, dispatch.c's
 * op_kind). Clients run as uid 54321 (userutil.h), so the test needs
 * root; without it, it reports a TAP skip.
 *
 * readonly_by_uid: a uid in readonly_uids reads, follows refs, gets and
 * lists roots and reads stats; every op that would change the heap, and
 * gc, gets EPERM, alone or in a batch, and the data is as it was.
 * readonly_by_group: readonly_gids, by the primary or a supplementary
 * group. gc_is_for_admins: gc and free_os_memory are admin-only, unless
 * gc_by_anyone. revoked_on_reload: a reload that takes the uid out of
 * allowed_uids closes its open sessions, one holding an object and one
 * waiting for a collection; the object is collected, root's session goes
 * on. demoted_on_reload: readonly_uids applies to an open session at
 * once, and taking it out again promotes it back; a config with a uid
 * both admin and read-only does not load, and a reload to it changes
 * nothing.
 */
#include <stdarg.h>

#include "runutil.h"
#include "userutil.h"

#define OTHER_UID 54321
#define OTHER_GID 54321
#define SPARE_GID 54322

/* Every config of this test: the socket open to all, and no collection
 * but those asked for. */
#define BASE_CONF "socket_mode = 0666\nidle_gc_period_s = 0\n"

static void conf_path(const struct daemon *d, char *path, size_t n)
{
	snprintf(path, n, "%s/heapd.conf", d->dir);
}

static void write_conf(const struct daemon *d, const char *text)
{
	char path[300];
	conf_path(d, path, sizeof path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(BASE_CONF, f) >= 0 && fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A daemon in a directory others may traverse, reading heapd.conf there:
 * BASE_CONF and text. */
static void start_with_conf(struct daemon *d, const char *text)
{
	char path[300];
	daemon_prepare(d);
	assert_int_equal(chmod(d->dir, 0711), 0);
	write_conf(d, text);
	conf_path(d, path, sizeof path);
	daemon_spawn(d, "--config", path, NULL);
}

/* Rewrites the config and reloads; waits for want_log once more. */
static void reload(const struct daemon *d, const char *text, const char *want_log)
{
	int before = count_text(d->log, want_log);
	write_conf(d, text);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	for (int i = 0; i < 300 && count_text(d->log, want_log) == before; i++)
		sleep_ms(10);
	if (count_text(d->log, want_log) == before)
		fail_msg("no \"%s\" in %s after a reload", want_log, d->log);
}

static void stop_with_conf(struct daemon *d)
{
	char path[300];
	conf_path(d, path, sizeof path);
	unlink(path);
	daemon_stop(d);
}

/* Root's data: root "data" names an object "hello" whose slot 0 holds
 * one reading "child". */
static heapd *make_data(const struct daemon *d)
{
	heapd *h = client(d);
	heapd_ref obj, child;
	assert_int_equal(heapd_alloc(h, 1, 5, &obj), 0);
	assert_int_equal(heapd_write(h, obj, 0, "hello", 5), 0);
	assert_int_equal(heapd_alloc(h, 0, 5, &child), 0);
	assert_int_equal(heapd_write(h, child, 0, "child", 5), 0);
	assert_int_equal(heapd_set_ref(h, obj, 0, child), 0);
	assert_int_equal(heapd_root_set(h, "data", obj), 0);
	/* Anyone may write it: what keeps a client from writing here is its
	 * role, not the root's mode (which would give it a read-only ref). */
	assert_int_equal(heapd_root_chmod(h, "data", 0666), 0);
	return h;
}

/* The data as make_data left it, and no root "mine" (probe's). */
static void data_unchanged(heapd *h)
{
	heapd_ref obj, child;
	char buf[5];
	assert_int_equal(heapd_root_get(h, "data", &obj), 0);
	assert_int_equal(heapd_read(h, obj, 0, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(heapd_get_ref(h, obj, 0, &child), 0);
	assert_int_equal(heapd_read(h, child, 0, buf, 5), 0);
	assert_memory_equal(buf, "child", 5);
	assert_int_equal(heapd_root_get(h, "mine", &obj), HEAPD_ENOTFOUND);
}

/* What a client may do: each call's code, and a message. */
enum probe_op {
	P_CONNECT, P_ROOT_GET, P_READ, P_GET_REF, P_READ_CHILD, P_ROOT_LIST, P_STATS, P_UID_STATS, P_RELEASE,
	P_ALLOC, P_WRITE, P_SET_REF, P_ROOT_SET, P_ROOT_DELETE, P_GC, P_FREE_OS, P_BATCH, P_BATCH_FAILED,
	P_BATCH_SKIPPED, P_PING, P_SAVE, P_COUNT
};

struct probe {
	int code[P_COUNT];
	char read[6], child[6];
	char alloc_msg[200], gc_msg[200], batch_msg[200], save_msg[200];
};

/* Tries every kind of op on root's data. */
static void probe(const struct daemon *d, void *out)
{
	struct probe *p = out;
	heapd *h = heapd_connect(d->sock);
	heapd_ref obj = 0, child = 0, r;
	if ((p->code[P_CONNECT] = heapd_errcode(h)) != 0) {
		heapd_close(h);
		return;
	}
	p->code[P_ROOT_GET] = heapd_root_get(h, "data", &obj);
	p->code[P_READ] = heapd_read(h, obj, 0, p->read, 5);
	p->code[P_GET_REF] = heapd_get_ref(h, obj, 0, &child);
	p->code[P_READ_CHILD] = heapd_read(h, child, 0, p->child, 5);
	char **names;
	size_t n;
	int truncated;
	p->code[P_ROOT_LIST] = heapd_root_list(h, &names, &n, &truncated);
	if (!p->code[P_ROOT_LIST])
		heapd_free_names(names);
	heapd_stats st;
	p->code[P_STATS] = heapd_get_stats(h, &st, sizeof st);
	heapd_uid_stat *rows;
	p->code[P_UID_STATS] = heapd_uid_stats(h, &rows, sizeof *rows, &n, &truncated);
	if (!p->code[P_UID_STATS])
		heapd_free_uid_stats(rows);
	p->code[P_RELEASE] = heapd_release(h, child);
	p->code[P_ALLOC] = heapd_alloc(h, 0, 8, &r);
	snprintf(p->alloc_msg, sizeof p->alloc_msg, "%s", heapd_errmsg(h));
	p->code[P_WRITE] = heapd_write(h, obj, 0, "HELLO", 5);
	p->code[P_SET_REF] = heapd_set_ref(h, obj, 0, 0);
	p->code[P_ROOT_SET] = heapd_root_set(h, "mine", obj);
	p->code[P_ROOT_DELETE] = heapd_root_set(h, "data", 0);
	p->code[P_GC] = heapd_gc(h);
	snprintf(p->gc_msg, sizeof p->gc_msg, "%s", heapd_errmsg(h));
	p->code[P_FREE_OS] = heapd_free_os_memory(h);
	p->code[P_SAVE] = heapd_save(h, 1);
	snprintf(p->save_msg, sizeof p->save_msg, "%s", heapd_errmsg(h));
	heapd_batch *b = heapd_batch_new();
	heapd_batch_read(b, obj, 0, 5);
	heapd_batch_write(b, obj, 0, "HELLO", 5);
	heapd_batch_read(b, obj, 0, 5);
	p->code[P_BATCH] = heapd_batch_exec(h, b);
	snprintf(p->batch_msg, sizeof p->batch_msg, "%s", heapd_errmsg(h));
	p->code[P_BATCH_FAILED] = heapd_batch_failed(b);
	heapd_reply rep;
	p->code[P_BATCH_SKIPPED] = heapd_batch_reply(b, 2, &rep);
	heapd_batch_free(b);
	p->code[P_PING] = heapd_ping(h, NULL);
	heapd_close(h);
}

static struct probe probe_as(const struct daemon *d, gid_t gid, gid_t supp)
{
	struct probe p;
	as_user(d, OTHER_UID, gid, supp, probe, &p, sizeof p);
	return p;
}

/* A read-only client's probe: reads all work, nothing else. */
static void expect_read_only(const struct probe *p)
{
	static const enum probe_op reads[] = {P_CONNECT, P_ROOT_GET, P_READ, P_GET_REF, P_READ_CHILD, P_ROOT_LIST,
					      P_STATS, P_UID_STATS, P_RELEASE, P_PING};
	static const enum probe_op writes[] = {P_ALLOC, P_WRITE, P_SET_REF, P_ROOT_SET, P_ROOT_DELETE,
					       P_GC, P_FREE_OS, P_BATCH, P_SAVE};
	for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
		if (p->code[reads[i]] != 0)
			fail_msg("read op %d failed: %d", (int)reads[i], p->code[reads[i]]);
	for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
		if (p->code[writes[i]] != HEAPD_EPERM)
			fail_msg("op %d: %d, not HEAPD_EPERM", (int)writes[i], p->code[writes[i]]);
	assert_string_equal(p->read, "hello");
	assert_string_equal(p->child, "child");
	assert_contains(p->alloc_msg, "alloc: uid 54321 is read-only (readonly_uids or readonly_gids)");
	assert_contains(p->gc_msg, "gc: uid 54321 is read-only");
	assert_contains(p->batch_msg, "write: uid 54321 is read-only");
	assert_int_equal(p->code[P_BATCH_FAILED], 1);
	assert_int_equal(p->code[P_BATCH_SKIPPED], HEAPD_ESKIPPED);
}

static void readonly_by_uid(void **state)
{
	(void)state;
	struct daemon d;
	start_with_conf(&d, "readonly_uids = 54321\n");
	heapd *h = make_data(&d);
	uint64_t cycles = stats_of(h)->num_gc;
	struct probe p = probe_as(&d, OTHER_GID, 0);
	expect_read_only(&p);
	data_unchanged(h);
	assert_int_equal(stats_of(h)->num_gc, cycles);  /* its gc started nothing */
	heapd_close(h);
	stop_with_conf(&d);
}

static void readonly_by_group(void **state)
{
	(void)state;
	struct daemon d;
	start_with_conf(&d, "readonly_gids = 54322\n");
	heapd *h = make_data(&d);
	struct probe p = probe_as(&d, OTHER_GID, SPARE_GID);  /* a supplementary group */
	expect_read_only(&p);
	p = probe_as(&d, SPARE_GID, 0);  /* the primary group */
	expect_read_only(&p);
	data_unchanged(h);
	/* Outside the group: a user, whose writes work (and change the data). */
	p = probe_as(&d, OTHER_GID, 0);
	assert_int_equal(p.code[P_ALLOC], 0);
	assert_int_equal(p.code[P_WRITE], 0);
	assert_int_equal(p.code[P_ROOT_SET], 0);
	assert_int_equal(p.code[P_GC], HEAPD_EPERM);  /* not an admin */
	heapd_close(h);
	stop_with_conf(&d);
}

/* gc and free_os_memory: only admins, unless gc_by_anyone; root always. */
static void gc_is_for_admins(void **state)
{
	(void)state;
	struct daemon d;
	start_with_conf(&d, "");
	heapd *h = make_data(&d);
	struct probe p = probe_as(&d, OTHER_GID, 0);
	assert_int_equal(p.code[P_ALLOC], 0);
	assert_int_equal(p.code[P_GC], HEAPD_EPERM);
	assert_int_equal(p.code[P_FREE_OS], HEAPD_EPERM);
	assert_contains(p.gc_msg, "gc: uid 54321 is not an admin; only admin_uids may start a collection "
				  "(gc_by_anyone = no)");
	assert_int_equal(p.code[P_SAVE], HEAPD_EPERM);
	assert_contains(p.save_msg, "save: uid 54321 is not an admin; only admin_uids may save");
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_free_os_memory(h), 0);
	heapd_close(h);
	stop_with_conf(&d);

	start_with_conf(&d, "admin_uids = 0, 54321\n");
	h = make_data(&d);
	p = probe_as(&d, OTHER_GID, 0);
	assert_int_equal(p.code[P_GC], 0);
	assert_int_equal(p.code[P_FREE_OS], 0);
	assert_int_equal(p.code[P_SAVE], 0);  /* an admin may save */
	heapd_close(h);
	stop_with_conf(&d);

	/* gc_by_anyone lets users collect, and not save. */
	start_with_conf(&d, "gc_by_anyone = yes\n");
	h = make_data(&d);
	p = probe_as(&d, OTHER_GID, 0);
	assert_int_equal(p.code[P_GC], 0);
	assert_int_equal(p.code[P_FREE_OS], 0);
	assert_int_equal(p.code[P_SAVE], HEAPD_EPERM);
	heapd_close(h);
	stop_with_conf(&d);

	/* Read-only clients never may. */
	start_with_conf(&d, "gc_by_anyone = yes\nreadonly_uids = 54321\n");
	h = make_data(&d);
	p = probe_as(&d, OTHER_GID, 0);
	assert_int_equal(p.code[P_GC], HEAPD_EPERM);
	assert_int_equal(p.code[P_FREE_OS], HEAPD_EPERM);
	heapd_close(h);
	stop_with_conf(&d);
}

/* ------------------------------------------- clients alive across reloads */

/* A child running as OTHER_UID that reports to the parent step by step:
 * it writes a struct step after each, then waits for a byte to go on. */
struct kid {
	pid_t pid;
	int up, down;  /* the parent reads up, writes down */
};

struct step {
	int code;
	uint64_t ref;
	char msg[200];
};

static int kid_up, kid_down;  /* the child's ends */

/* In the child: reports a step, then waits for the parent's go. */
static void kid_report(int code, uint64_t ref, const char *msg)
{
	struct step st = {.code = code, .ref = ref};
	snprintf(st.msg, sizeof st.msg, "%s", msg);
	char go;
	if (write(kid_up, &st, sizeof st) != sizeof st || read(kid_down, &go, 1) != 1)
		_exit(5);
}

static void kid_start(struct kid *k, const struct daemon *d, void (*fn)(const struct daemon *d))
{
	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		close(up[0]);
		close(down[1]);
		kid_up = up[1];
		kid_down = down[0];
		user_drop(OTHER_UID, OTHER_GID, 0);
		fn(d);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	k->up = up[0];
	k->down = down[1];
}

/* In the parent: the kid's next step. */
static struct step kid_step(struct kid *k)
{
	struct step st;
	assert_int_equal(read(k->up, &st, sizeof st), (ssize_t)sizeof st);
	return st;
}

static void kid_go(struct kid *k)
{
	assert_int_equal(write(k->down, "g", 1), 1);
}

static void kid_end(struct kid *k)
{
	int status;
	close(k->down);
	assert_int_equal(waitpid(k->pid, &status, 0), k->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(k->up);
}

/* Holds an object (its only hold), says which, then tries to read it. */
static void holder(const struct daemon *d)
{
	heapd *h = heapd_connect(d->sock);
	heapd_ref r = 0;
	int code = heapd_errcode(h);
	if (!code && !(code = heapd_alloc(h, 0, 4, &r)))
		code = heapd_write(h, r, 0, "kept", 4);
	kid_report(code, r, heapd_errmsg(h));
	char buf[4];
	code = heapd_read(h, r, 0, buf, 4);
	kid_report(code, 0, heapd_errmsg(h));
	heapd_close(h);
}

/* Connects, then asks for a collection when told to, then pings. */
static void waiter(const struct daemon *d)
{
	heapd *h = heapd_connect(d->sock);
	kid_report(heapd_errcode(h), 0, heapd_errmsg(h));
	int code = heapd_gc(h);
	kid_report(code, 0, heapd_errmsg(h));
	code = heapd_ping(h, NULL);
	kid_report(code, 0, heapd_errmsg(h));
	heapd_close(h);
}

/* A call on a session the reload closed: its error frame, or the
 * connection already gone. */
static void expect_closed(const struct step *st)
{
	if (st->code != HEAPD_EPERM && st->code != HEAPD_EIO)
		fail_msg("a call on a revoked session: %d (%s)", st->code, st->msg);
}

/* No mark worker: heapd is then one thread, which takes the SIGHUP (see
 * revoked_on_reload). */
#define ONE_THREAD "gc_mark_workers = 0\n"
static const char allowed_conf[] = ONE_THREAD "allowed_uids = 0, 54321\ngc_by_anyone = yes\n";
static const char revoked_conf[] = ONE_THREAD "allowed_uids = 0\ngc_by_anyone = yes\n";

static void revoked_on_reload(void **state)
{
	(void)state;
	struct daemon d;
	start_with_conf(&d, allowed_conf);
	heapd *h = make_data(&d);
	struct kid a, b;
	kid_start(&a, &d, holder);
	struct step st = kid_step(&a);
	assert_int_equal(st.code, 0);
	heapd_ref held = st.ref;
	kid_start(&b, &d, waiter);
	assert_int_equal(kid_step(&b).code, 0);

	/* With the daemon stopped, b sends its gc and the reload is
	 * signalled; once it goes on, one poll finds both, and libuv runs
	 * signal callbacks after the others: b's gc is read, b waits for the
	 * collection, then the reload closes it. (With a mark worker, that
	 * thread could take the SIGHUP and the loop read b's request a poll
	 * earlier, then finish the collection before the reload: b's next
	 * call would then fail instead, which is also accepted.) */
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	kid_go(&b);
	sleep_ms(100);
	write_conf(&d, revoked_conf);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	st = kid_step(&b);
	kid_go(&b);
	struct step next = kid_step(&b);
	if (st.code == 0)
		expect_closed(&next);
	else
		assert_int_equal(st.code, HEAPD_EPERM);
	const struct step *closed = st.code ? &st : &next;
	if (closed->code == HEAPD_EPERM)
		assert_contains(closed->msg,
				"uid 54321 gid 54321 is no longer allowed (allowed_uids/allowed_gids changed on reload)");
	assert_true(wait_for_text(d.log, "reload: closed 2 connection(s) no longer allowed", 3000));
	assert_int_equal(count_text(d.log, "uid 54321 gid 54321): no longer in allowed_uids or allowed_gids: closing"), 2);

	kid_go(&a);
	st = kid_step(&a);
	expect_closed(&st);
	kid_go(&a);
	kid_go(&b);
	kid_end(&a);
	kid_end(&b);

	/* Its hold went with it: the object is collected. Root's session,
	 * still allowed, saw nothing. */
	assert_int_equal(heapd_gc(h), 0);
	char buf[4];
	assert_int_equal(heapd_read(h, held, 0, buf, 4), HEAPD_EBADREF);
	data_unchanged(h);
	struct probe p = probe_as(&d, OTHER_GID, 0);
	assert_int_equal(p.code[P_CONNECT], HEAPD_EPERM);
	heapd_close(h);
	stop_with_conf(&d);
}

/* Writes when told to, three times, reporting each (with an alloc). */
static void writer(const struct daemon *d)
{
	heapd *h = heapd_connect(d->sock);
	heapd_ref r = 0, more;
	int code = heapd_errcode(h);
	if (!code)
		code = heapd_alloc(h, 0, 4, &r);
	kid_report(code, r, heapd_errmsg(h));
	for (int i = 0; i < 3; i++) {
		char buf[4];
		code = heapd_read(h, r, 0, buf, 4);
		if (!code && !(code = heapd_write(h, r, 0, "more", 4)))
			code = heapd_alloc(h, 0, 4, &more);
		kid_report(code, 0, heapd_errmsg(h));
	}
	heapd_close(h);
}

static void demoted_on_reload(void **state)
{
	(void)state;
	struct daemon d;
	start_with_conf(&d, allowed_conf);
	struct kid k;
	kid_start(&k, &d, writer);
	assert_int_equal(kid_step(&k).code, 0);

	reload(&d, "readonly_uids = 54321\n", "changed the role of 1");
	assert_true(wait_for_text(d.log, "uid 54321): a user, now read-only", 100));
	kid_go(&k);
	struct step st = kid_step(&k);
	assert_int_equal(st.code, HEAPD_EPERM);  /* the read passed, the write did not */
	assert_contains(st.msg, "write: uid 54321 is read-only");

	reload(&d, "", "changed the role of 1");
	kid_go(&k);
	assert_int_equal(kid_step(&k).code, 0);

	/* Both admin and read-only: the reload fails, the roles stay. */
	reload(&d, "admin_uids = 0, 54321\nreadonly_uids = 54321\n",
	       "reload: uid 54321 is in both admin_uids and readonly_uids (configuration unchanged)");
	kid_go(&k);
	assert_int_equal(kid_step(&k).code, 0);
	kid_go(&k);
	kid_end(&k);
	stop_with_conf(&d);

	/* Nor does it start. */
	char path[300];
	daemon_prepare(&d);
	conf_path(&d, path, sizeof path);
	write_conf(&d, "admin_uids = 54321\nreadonly_uids = 7, 54321\n");
	struct run r;
	run_prog(&r, NULL, env_or("HEAPD_BIN", "daemon/heapd"), "--config", path, "--check-config", NULL);
	assert_int_not_equal(r.code, 0);
	assert_contains(r.err, "uid 54321 is in both admin_uids and readonly_uids");
	run_free(&r);
	unlink(path);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

int main(void)
{
	if (!user_tests_possible())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(readonly_by_uid),
		cmocka_unit_test(readonly_by_group),
		cmocka_unit_test(gc_is_for_admins),
		cmocka_unit_test(revoked_on_reload),
		cmocka_unit_test(demoted_on_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
