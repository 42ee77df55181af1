/*
 * test_rootperm.c - named roots have owners and modes (issue 16), met by
 * clients of other uids: the test runs as root (an admin) and forks
 * clients that drop to uids and gids no account uses (userutil.h).
 * Without root it reports a TAP skip, as test_peercred does.
 *
 *   others_may_only_read   a root made by A with the default mode (0644) is
 *                          read and listed by B; B's replace, delete, chmod
 *                          and chown get EPERM and change nothing: after a
 *                          collection the root still names A's object, its
 *                          data intact
 *   root_mode_and_groups   root_mode 0600: B neither lists nor reads A's
 *                          root; the owner's chmod opens it to A's group
 *                          (a client whose gid is A's) for reading, then
 *                          writing, and to others for reading
 *   chown_and_quotas       only an admin gives a root away (root, or a uid
 *                          of admin_uids); its owner may set a group it is
 *                          in; the uids' root counts (uid_stats) follow
 *                          the root; the new owner may write, the old may
 *                          not
 *   root_mode_on_reload    root_mode is live: roots made after a reload get
 *                          the new mode, older ones keep theirs
 *   readonly_refs          B, who may read root's 0644 root but not write
 *                          it, gets a read-only ref from root_get: it
 *                          reads and follows (read-only again), writes,
 *                          set_ref and alloc into it get EPERM, flipped
 *                          bits get BAD_REF, and storing it in B's own
 *                          object and reading it back keeps it read-only;
 *                          root's full ref still writes
 */
#include "runutil.h"
#include "userutil.h"

#define A_UID 54321
#define A_GID 54321
#define B_UID 54322
#define B_GID 54322
#define C_UID 54323  /* in A's group */

/* ------------------------------------------------- a client's script */

enum op { END, MAKE, REPLACE, DELETE, READ, CHMOD, CHOWN, LIST };

struct step {
	enum op op;
	const char *name;
	uint32_t a, b;  /* CHMOD: a the mode; CHOWN: a the uid, b the gid */
};

struct outcome {
	int code;
	int listed;             /* LIST: the root was in root_list */
	uint32_t uid, gid, mode;
	char data[8];           /* READ */
	char msg[160];
};

#define MAX_STEPS 8

struct results {
	struct outcome o[MAX_STEPS];
};

static const struct step *script;  /* what the next child runs */

/* A new object holding data, which the session holds. */
static int object(heapd *h, const char *data, heapd_ref *r)
{
	int err = heapd_alloc(h, 0, 8, r);
	return err ? err : heapd_write(h, *r, 0, data, (uint32_t)strlen(data));
}

static void list_step(heapd *h, const struct step *s, struct outcome *o)
{
	heapd_root_info *info;
	if ((o->code = heapd_root_list_info(h, &info, NULL, NULL)) != 0)
		return;
	for (heapd_root_info *i = info; i->name; i++) {
		if (strcmp(i->name, s->name) == 0) {
			o->listed = 1;
			o->uid = i->uid, o->gid = i->gid, o->mode = i->mode;
		}
	}
	heapd_free_root_info(info);
}

static void run_step(heapd *h, const struct step *s, struct outcome *o)
{
	heapd_ref r;
	switch (s->op) {
	case MAKE:
	case REPLACE:
		o->code = object(h, s->op == MAKE ? "mine" : "theirs", &r);
		if (!o->code)
			o->code = heapd_root_set(h, s->name, r);
		break;
	case DELETE: o->code = heapd_root_set(h, s->name, 0); break;
	case READ:
		o->code = heapd_root_get(h, s->name, &r);
		if (!o->code)
			o->code = heapd_read(h, r, 0, o->data, sizeof o->data - 1);
		break;
	case CHMOD: o->code = heapd_root_chmod(h, s->name, s->a); break;
	case CHOWN: o->code = heapd_root_chown(h, s->name, s->a, s->b); break;
	case LIST: list_step(h, s, o); break;
	case END: break;
	}
	snprintf(o->msg, sizeof o->msg, "%s", heapd_errmsg(h));
}

static void run_script(const struct daemon *d, void *out)
{
	struct results *run = out;
	heapd *h = heapd_connect(d->sock);
	if (heapd_errcode(h)) {
		run->o[0].code = heapd_errcode(h);
		heapd_close(h);
		return;
	}
	for (int i = 0; i < MAX_STEPS && script[i].op != END; i++)
		run_step(h, &script[i], &run->o[i]);
	heapd_close(h);
}

/* Runs steps (END-terminated) as uid, gid on one connection. */
static struct results run_as(const struct daemon *d, uid_t uid, gid_t gid, const struct step *steps)
{
	struct results run;
	script = steps;
	as_user(d, uid, gid, 0, run_script, &run, sizeof run);
	return run;
}

static void expect_code(const struct outcome *o, int code, const char *msg)
{
	if (o->code != code)
		fail_msg("code %d, want %d (%s)", o->code, code, o->msg);
	if (msg && !strstr(o->msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", o->msg, msg);
}

/* ---------------------------------------------------- as the test (root) */

/* The root's meta as root_list shows it to an admin: 0 if not there. */
static int meta_of(heapd *h, const char *name, uint32_t *uid, uint32_t *gid, uint32_t *mode)
{
	heapd_root_info *info;
	int found = 0;
	assert_int_equal(heapd_root_list_info(h, &info, NULL, NULL), 0);
	for (heapd_root_info *i = info; i->name; i++) {
		if (strcmp(i->name, name) == 0) {
			*uid = i->uid, *gid = i->gid, *mode = i->mode;
			found = 1;
		}
	}
	heapd_free_root_info(info);
	return found;
}

static void expect_meta(heapd *h, const char *name, uint32_t uid, uint32_t gid, uint32_t mode)
{
	uint32_t u = 0, g = 0, m = 0;
	if (!meta_of(h, name, &u, &g, &m))
		fail_msg("root \"%s\" is not listed", name);
	if (u != uid || g != gid || m != mode)
		fail_msg("root \"%s\": uid %u gid %u mode %04o, want %u %u %04o", name, u, g, m, uid, gid, mode);
}

static void expect_data(heapd *h, const char *name, const char *data)
{
	heapd_ref r;
	char buf[8] = "";
	assert_int_equal(heapd_root_get(h, name, &r), 0);
	assert_int_equal(heapd_read(h, r, 0, buf, (uint32_t)strlen(data)), 0);
	assert_string_equal(buf, data);
	assert_int_equal(heapd_release(h, r), 0);
}

/* uid's named_roots (uid_stats); 0 if it has no row. */
static uint64_t roots_of(heapd *h, uint32_t uid)
{
	heapd_uid_stat *rows;
	size_t n;
	uint64_t roots = 0;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		if (rows[i].uid == uid)
			roots = rows[i].named_roots;
	heapd_free_uid_stats(rows);
	return roots;
}

/* ------------------------------------------------------------- the tests */

static void others_may_only_read(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", NULL);
	heapd *h = client(&d);
	static const struct step a[] = {{MAKE, "a/x", 0, 0}, {LIST, "a/x", 0, 0}, {END, NULL, 0, 0}};
	struct results r = run_as(&d, A_UID, A_GID, a);
	expect_code(&r.o[0], 0, NULL);
	assert_true(r.o[1].listed && r.o[1].uid == A_UID && r.o[1].gid == A_GID && r.o[1].mode == 0644);

	static const struct step b[] = {
		{READ, "a/x", 0, 0}, {LIST, "a/x", 0, 0}, {REPLACE, "a/x", 0, 0}, {DELETE, "a/x", 0, 0}, {CHMOD, "a/x", 0666, 0},
		{CHOWN, "a/x", B_UID, HEAPD_ID_KEEP}, {CHOWN, "a/x", HEAPD_ID_KEEP, B_GID}, {END, NULL, 0, 0},
	};
	r = run_as(&d, B_UID, B_GID, b);
	expect_code(&r.o[0], 0, NULL);
	assert_string_equal(r.o[0].data, "mine");
	assert_true(r.o[1].listed && r.o[1].uid == A_UID && r.o[1].mode == 0644);
	expect_code(&r.o[2], HEAPD_EPERM, "root_set: uid 54322 may not write root \"a/x\" (owner 54321, mode 0644)");
	expect_code(&r.o[3], HEAPD_EPERM, "root_set: uid 54322 may not write root \"a/x\"");
	expect_code(&r.o[4], HEAPD_EPERM, "root_chmod: uid 54322 may not change the mode of root \"a/x\"");
	expect_code(&r.o[5], HEAPD_EPERM, "root_chown: uid 54322 may not change the owner of root \"a/x\"");
	expect_code(&r.o[6], HEAPD_EPERM, "root_chown");

	/* Nothing changed: B's objects are garbage, A's is the root's. */
	assert_int_equal(heapd_gc(h), 0);
	expect_data(h, "a/x", "mine");
	expect_meta(h, "a/x", A_UID, A_GID, 0644);
	assert_int_equal(roots_of(h, A_UID), 1);
	assert_int_equal(roots_of(h, B_UID), 0);
	assert_int_equal(stats_of(h)->heap_objects, 1);
	heapd_close(h);
	daemon_stop(&d);
}

static void root_mode_and_groups(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", "--root-mode", "0600", NULL);
	heapd *h = client(&d);
	static const struct step a1[] = {{MAKE, "a/p", 0, 0}, {LIST, "a/p", 0, 0}, {END, NULL, 0, 0}};
	struct results r = run_as(&d, A_UID, A_GID, a1);
	expect_code(&r.o[0], 0, NULL);
	assert_true(r.o[1].listed && r.o[1].mode == 0600);

	/* 0600: B and A's group neither list nor read it. */
	static const struct step hidden[] = {{LIST, "a/p", 0, 0}, {READ, "a/p", 0, 0}, {CHMOD, "a/p", 0666, 0}, {END, NULL, 0, 0}};
	r = run_as(&d, B_UID, B_GID, hidden);
	assert_false(r.o[0].listed);
	expect_code(&r.o[1], HEAPD_EPERM, "root_get: uid 54322 may not read root \"a/p\" (owner 54321, mode 0600)");
	expect_code(&r.o[2], HEAPD_EPERM, "root_chmod");
	r = run_as(&d, C_UID, A_GID, hidden);
	assert_false(r.o[0].listed);
	expect_code(&r.o[1], HEAPD_EPERM, NULL);
	expect_code(&r.o[2], HEAPD_EPERM, NULL);  /* the group may not chmod */

	/* 0640: the group reads, and may not write; others still nothing. */
	static const struct step a2[] = {{CHMOD, "a/p", 0640, 0}, {END, NULL, 0, 0}};
	expect_code(&run_as(&d, A_UID, A_GID, a2).o[0], 0, NULL);
	static const struct step group[] = {{LIST, "a/p", 0, 0}, {READ, "a/p", 0, 0}, {REPLACE, "a/p", 0, 0}, {END, NULL, 0, 0}};
	r = run_as(&d, C_UID, A_GID, group);
	assert_true(r.o[0].listed);
	expect_code(&r.o[1], 0, NULL);
	assert_string_equal(r.o[1].data, "mine");
	expect_code(&r.o[2], HEAPD_EPERM, NULL);
	r = run_as(&d, B_UID, B_GID, group);
	assert_false(r.o[0].listed);
	expect_code(&r.o[1], HEAPD_EPERM, NULL);

	/* 0664: the group writes; others read. */
	static const struct step a3[] = {{CHMOD, "a/p", 0664, 0}, {END, NULL, 0, 0}};
	expect_code(&run_as(&d, A_UID, A_GID, a3).o[0], 0, NULL);
	r = run_as(&d, C_UID, A_GID, group);
	expect_code(&r.o[2], 0, NULL);
	expect_data(h, "a/p", "theirs");
	expect_meta(h, "a/p", A_UID, A_GID, 0664);  /* replacing keeps the owner */
	r = run_as(&d, B_UID, B_GID, group);
	assert_true(r.o[0].listed);
	expect_code(&r.o[1], 0, NULL);
	expect_code(&r.o[2], HEAPD_EPERM, NULL);

	/* The owner's own bits: 0 leaves an admin, who may do anything. */
	static const struct step a4[] = {{CHMOD, "a/p", 0, 0}, {READ, "a/p", 0, 0}, {CHMOD, "a/p", 0700, 0}, {END, NULL, 0, 0}};
	r = run_as(&d, A_UID, A_GID, a4);
	expect_code(&r.o[0], 0, NULL);
	expect_code(&r.o[1], HEAPD_EPERM, NULL);
	expect_code(&r.o[2], HEAPD_EINVAL, "root_chmod: mode 0700 has bits other than rw (0666)");
	expect_data(h, "a/p", "theirs");
	heapd_close(h);
	daemon_stop(&d);
}

static void chown_and_quotas(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", "--admin-uids", "0,54323", NULL);
	heapd *h = client(&d);
	static const struct step a1[] = {
		{MAKE, "a/c", 0, 0}, {CHOWN, "a/c", B_UID, HEAPD_ID_KEEP}, {CHOWN, "a/c", HEAPD_ID_KEEP, B_GID},
		{CHOWN, "a/c", A_UID, A_GID}, {END, NULL, 0, 0},
	};
	struct results r = run_as(&d, A_UID, A_GID, a1);
	expect_code(&r.o[0], 0, NULL);
	expect_code(&r.o[1], HEAPD_EPERM, "root_chown: uid 54321 may not give away root \"a/c\"");
	expect_code(&r.o[2], HEAPD_EPERM, "root_chown: uid 54321 may not set a group it is not in on root \"a/c\"");
	expect_code(&r.o[3], 0, NULL);  /* its own uid and group: nothing changes */
	static const struct step b1[] = {{CHOWN, "a/c", B_UID, B_GID}, {END, NULL, 0, 0}};
	expect_code(&run_as(&d, B_UID, B_GID, b1).o[0], HEAPD_EPERM, NULL);
	expect_meta(h, "a/c", A_UID, A_GID, 0644);
	assert_int_equal(roots_of(h, A_UID), 1);

	/* root gives it to B: B's count takes it over, A's row goes. */
	assert_int_equal(heapd_root_chown(h, "a/c", B_UID, B_GID), 0);
	expect_meta(h, "a/c", B_UID, B_GID, 0644);
	assert_int_equal(roots_of(h, A_UID), 0);
	assert_int_equal(roots_of(h, B_UID), 1);
	static const struct step b2[] = {{REPLACE, "a/c", 0, 0}, {CHMOD, "a/c", 0640, 0}, {END, NULL, 0, 0}};
	r = run_as(&d, B_UID, B_GID, b2);
	expect_code(&r.o[0], 0, NULL);
	expect_code(&r.o[1], 0, NULL);
	static const struct step a2[] = {{READ, "a/c", 0, 0}, {REPLACE, "a/c", 0, 0}, {DELETE, "a/c", 0, 0}, {END, NULL, 0, 0}};
	r = run_as(&d, A_UID, A_GID, a2);
	expect_code(&r.o[0], HEAPD_EPERM, NULL);
	expect_code(&r.o[1], HEAPD_EPERM, NULL);
	expect_code(&r.o[2], HEAPD_EPERM, NULL);

	/* A uid of admin_uids may give it back, owner and group. */
	static const struct step c[] = {{CHOWN, "a/c", A_UID, A_GID}, {END, NULL, 0, 0}};
	expect_code(&run_as(&d, C_UID, A_GID, c).o[0], 0, NULL);
	expect_meta(h, "a/c", A_UID, A_GID, 0640);
	assert_int_equal(roots_of(h, A_UID), 1);
	assert_int_equal(roots_of(h, B_UID), 0);
	assert_int_equal(heapd_root_set(h, "a/c", 0), 0);  /* an admin deletes */
	assert_int_equal(roots_of(h, A_UID), 0);
	assert_int_equal(stats_of(h)->uids, 1);  /* the test's own */
	heapd_close(h);
	daemon_stop(&d);
}

static void root_mode_on_reload(void **state)
{
	(void)state;
	struct daemon d;
	char conf[160];
	daemon_prepare(&d);
	snprintf(conf, sizeof conf, "%s/heapd.conf", d.dir);
	write_file(conf, "root_mode = 0600\n");
	daemon_spawn(&d, "--config", conf, NULL);
	heapd *h = client(&d);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	assert_int_equal(heapd_root_set(h, "before", r), 0);
	write_file(conf, "root_mode = 0664\n");
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_true(wait_for_text(d.log, "configuration reloaded", 3000));
	assert_int_equal(heapd_root_set(h, "after", r), 0);
	expect_meta(h, "before", getuid(), getgid(), 0600);
	expect_meta(h, "after", getuid(), getgid(), 0664);
	heapd_close(h);
	unlink(conf);
	daemon_stop(&d);
}

/* ------------------------------------------------- read-only refs */

struct ro_outcome {
	int get, differs, read, write, set_ref, alloc_into, child_read, child_write, flipped, stored, stored_write;
	char data[8];
};

static void use_shared(const struct daemon *d, void *out)
{
	struct ro_outcome *o = out;
	heapd *h = heapd_connect(d->sock);
	heapd_ref ro, child, mine, back, r;
	o->get = heapd_root_get(h, "shared", &ro);
	if (o->get)
		return;
	o->read = heapd_read(h, ro, 0, o->data, 8);
	o->write = heapd_write(h, ro, 0, "B wrote!", 8);
	o->set_ref = heapd_set_ref(h, ro, 0, 0);
	o->alloc_into = heapd_alloc_into(h, ro, 0, 0, 8, NULL, 0, &r);
	o->child_read = heapd_get_ref(h, ro, 0, &child) || heapd_read(h, child, 0, o->data, 0);
	o->child_write = heapd_write(h, child, 0, "B wrote!", 8);
	o->flipped = 0;
	for (int bit = 32; bit < 64; bit++)
		if (heapd_write(h, ro ^ (heapd_ref)1 << bit, 0, "B", 1) != HEAPD_EBADREF)
			o->flipped++;
	o->stored = heapd_alloc(h, 1, 0, &mine) || heapd_set_ref(h, mine, 0, ro) || heapd_get_ref(h, mine, 0, &back);
	o->stored_write = heapd_write(h, back, 0, "B wrote!", 8);
	o->differs = ro != back || ro == 0;
	heapd_close(h);
}

static void readonly_refs(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", NULL);
	heapd *h = client(&d);
	heapd_ref parent, child, got;
	assert_int_equal(heapd_alloc(h, 1, 8, &parent), 0);
	assert_int_equal(heapd_write(h, parent, 0, "parent!!", 8), 0);
	assert_int_equal(heapd_alloc_into(h, parent, 0, 0, 8, "child!!!", 8, &child), 0);
	assert_int_equal(heapd_root_set(h, "shared", parent), 0);
	assert_int_equal(heapd_root_get(h, "shared", &got), 0);
	assert_int_equal(got, parent);  /* the owner may write: a full ref */

	struct ro_outcome o;
	as_user(&d, B_UID, B_GID, 0, use_shared, &o, sizeof o);
	assert_int_equal(o.get, 0);
	assert_int_equal(o.read, 0);
	assert_memory_equal(o.data, "parent!!", 8);
	assert_int_equal(o.write, HEAPD_EPERM);
	assert_int_equal(o.set_ref, HEAPD_EPERM);
	assert_int_equal(o.alloc_into, HEAPD_EPERM);
	assert_int_equal(o.child_read, 0);
	assert_int_equal(o.child_write, HEAPD_EPERM);
	assert_int_equal(o.flipped, 0);
	assert_int_equal(o.stored, 0);
	assert_int_equal(o.stored_write, HEAPD_EPERM);
	assert_int_equal(o.differs, 0);  /* stored and read back: the same read-only ref */

	char buf[8];
	assert_int_equal(heapd_read(h, parent, 0, buf, 8), 0);
	assert_memory_equal(buf, "parent!!", 8);
	assert_int_equal(heapd_read(h, child, 0, buf, 8), 0);
	assert_memory_equal(buf, "child!!!", 8);
	heapd_ref slot;
	assert_int_equal(heapd_get_ref(h, parent, 0, &slot), 0);
	assert_int_equal(slot, child);
	assert_int_equal(heapd_write(h, parent, 0, "root ok!", 8), 0);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	if (!user_tests_possible())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(others_may_only_read),
		cmocka_unit_test(root_mode_and_groups),
		cmocka_unit_test(chown_and_quotas),
		cmocka_unit_test(root_mode_on_reload),
		cmocka_unit_test(readonly_refs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
