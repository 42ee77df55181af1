/*
 * test_zerocopy_access.c - who may read the arena (issue 19), with
 * clients run as another uid: not granted by default (view and
 * map_arena PERMISSION, naming the settings), granted by zero_copy_uids
 * or, through a supplementary group, zero_copy_gids; never to a
 * read-only session. A granted client gets a descriptor it cannot write
 * through: no writable mapping, no truncation, no reopening it for
 * writing, no new seals, no chmod. Read-only refs may be viewed, not
 * sealed. A reload that revokes the grant refuses the next view of a
 * connection, whose open views and mapping stay. Needs root (a TAP skip
 * without).
 */
#include <sys/ioctl.h>

#include "runutil.h"
#include "userutil.h"
#include "zcutil.h"

#define ZC_UID 54351
#define ZC_GID 54351
#define ZC_GROUP 54353  /* a supplementary group zero_copy_gids lists */

enum { OBJ_LEN = 10000, OBJ_SEED = 7 };

/* What the client saw; each step's code, 0 or a HEAPD_E* (or errno). */
struct probe {
	int connect, root_get, view, view_bytes, view_release, seal_ro, alloc, seal_own;
	char view_msg[256], seal_ro_msg[256];
	int map_status, map_fd;  /* map_arena on a raw connection; map_fd: a descriptor came */
	char map_msg[256];
	int raw_view_bytes;      /* the raw view's bytes through that descriptor */
	/* errno of what must fail on the descriptor, 0 if it did not fail */
	int mmap_write, mprotect_write, ftruncate_, write_, reopen_rw, add_seals, fchmod_;
};

static int fails(int r)
{
	return r < 0 ? (errno ? errno : -1) : 0;
}

/* Tries to write through fd, every way a client could. */
static void try_writing(int fd, size_t size, struct probe *p)
{
	errno = 0;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p->mmap_write = m == MAP_FAILED ? errno : 0;
	if (m != MAP_FAILED)
		munmap(m, size);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		errno = 0;
		p->mprotect_write = fails(mprotect(m, size, PROT_READ | PROT_WRITE));
		munmap(m, size);
	}
	errno = 0;
	p->ftruncate_ = fails(ftruncate(fd, (off_t)size * 2));
	errno = 0;
	p->write_ = fails((int)pwrite(fd, "x", 1, 0));
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	errno = 0;
	int again = open(path, O_RDWR);
	p->reopen_rw = again < 0 ? errno : 0;
	if (again >= 0)
		close(again);
	errno = 0;
	p->add_seals = fails(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	errno = 0;
	p->fchmod_ = fails(fchmod(fd, 0666));
}

/* map_arena and a view of ref on a raw connection. */
static void raw_probe(const struct daemon *d, heapd_ref ref, struct probe *p)
{
	int sock = raw_connect(d);
	raw_hello(sock);
	raw_send_map_arena(sock, 2);
	int fd;
	Heapd__Response *resp = rx_frame(sock, &fd);
	p->map_status = resp->status;
	p->map_fd = fd >= 0;
	snprintf(p->map_msg, sizeof p->map_msg, "%s", resp->error);
	uint64_t size = resp->result_case == HEAPD__RESPONSE__RESULT_VIEW ? resp->view->arena_size : 0;
	heapd__response__free_unpacked(resp, NULL);
	if (fd >= 0) {
		resp = raw_view(sock, 3, ref);
		if (resp->status == HEAPD__STATUS__OK) {
			const uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
			p->raw_view_bytes = m != MAP_FAILED && resp->view->length == OBJ_LEN &&
					    pattern_diff(m + resp->view->offset, OBJ_LEN, OBJ_SEED) == OBJ_LEN;
			if (m != MAP_FAILED)
				munmap((void *)m, size);
		}
		heapd__response__free_unpacked(resp, NULL);
		try_writing(fd, size, p);
		close(fd);
	}
	close(sock);
}

/* As the user: the root "zc/obj" (root's, 0644: a read-only ref) viewed
 * and sealed, an object of its own sealed, the raw probe. */
static void probe(const struct daemon *d, void *out)
{
	struct probe *p = out;
	heapd *h = heapd_connect(d->sock);
	if ((p->connect = heapd_errcode(h)) != 0)
		return;
	heapd_ref ro = 0, own;
	const void *data;
	size_t len;
	p->root_get = heapd_root_get(h, "zc/obj", &ro);
	p->view = heapd_view(h, ro, &data, &len);
	snprintf(p->view_msg, sizeof p->view_msg, "%s", heapd_errmsg(h));
	if (p->view == 0) {
		p->view_bytes = len == OBJ_LEN && pattern_diff(data, len, OBJ_SEED) == len;
		p->view_release = heapd_view_release(h, ro);
	}
	p->seal_ro = heapd_seal(h, ro);
	snprintf(p->seal_ro_msg, sizeof p->seal_ro_msg, "%s", heapd_errmsg(h));
	p->alloc = heapd_alloc(h, 0, 8, &own);
	p->seal_own = p->alloc ? p->alloc : heapd_seal(h, own);
	raw_probe(d, ro, p);
	heapd_close(h);
}

/* A daemon others may use with extra flags, and the root "zc/obj": a
 * sealed object of OBJ_LEN bytes, readable by all. */
static heapd *start_with(struct daemon *d, const char *flag, const char *value, const char *flag2,
			 const char *value2)
{
	start_open_dir(d, "--socket-mode", "0666", "--gc-mark-workers", "0", flag, value, flag2, value2, NULL);
	heapd *h = client(d);
	heapd_ref r = sealed_pattern(h, OBJ_LEN, OBJ_SEED);
	assert_int_equal(heapd_root_set(h, "zc/obj", r), 0);
	assert_int_equal(heapd_root_chmod(h, "zc/obj", 0644), 0);
	return h;
}

static struct probe run_probe(const struct daemon *d, uid_t uid, gid_t gid, gid_t supp)
{
	struct probe p;
	as_user(d, uid, gid, supp, probe, &p, sizeof p);
	assert_int_equal(p.connect, 0);
	assert_int_equal(p.root_get, 0);
	return p;
}

static void assert_says(const char *msg, const char *want)
{
	if (!strstr(msg, want))
		fail_msg("\"%s\" does not say \"%s\"", msg, want);
}

/* Not granted: no view, no descriptor; sealing is a write, granted or not. */
static void expect_denied(const struct probe *p)
{
	assert_int_equal(p->view, HEAPD_EPERM);
	assert_int_equal(p->map_status, HEAPD__STATUS__PERMISSION);
	assert_int_equal(p->map_fd, 0);
}

/* Granted: the view's bytes, through the library and raw; a descriptor
 * that writes nothing. */
static void expect_granted(const struct probe *p)
{
	if (p->view != 0)
		fail_msg("view: %d (%s)", p->view, p->view_msg);
	assert_true(p->view_bytes);
	assert_int_equal(p->view_release, 0);
	assert_int_equal(p->map_status, HEAPD__STATUS__OK);
	assert_int_equal(p->map_fd, 1);
	assert_true(p->raw_view_bytes);
	assert_int_equal(p->mmap_write, EACCES);
	assert_int_equal(p->mprotect_write, EACCES);
	assert_int_not_equal(p->ftruncate_, 0);
	assert_int_equal(p->write_, EBADF);
	assert_int_equal(p->reopen_rw, EACCES);
	assert_int_not_equal(p->add_seals, 0);
	assert_int_equal(p->fchmod_, EPERM);
}

/* A read-only ref is viewed (when granted), never sealed. */
static void expect_ro_ref_unsealable(const struct probe *p)
{
	assert_int_equal(p->seal_ro, HEAPD_EPERM);
	assert_says(p->seal_ro_msg, "read-only");
}

static void not_granted_by_default(void **state)
{
	(void)state;
	struct daemon d;
	heapd *h = start_with(&d, NULL, NULL, NULL, NULL);
	struct probe p = run_probe(&d, ZC_UID, ZC_GID, 0);
	expect_denied(&p);
	assert_says(p.view_msg, "zero_copy_uids");
	assert_says(p.map_msg, "map_arena: zero-copy is not granted to uid 54351 (zero_copy_uids, zero_copy_gids)");
	assert_int_equal(p.seal_own, 0);
	expect_ro_ref_unsealable(&p);
	heapd_close(h);
	daemon_stop(&d);
}

static void granted_by_uid(void **state)
{
	(void)state;
	struct daemon d;
	heapd *h = start_with(&d, "--zero-copy-uids", "54350,54351", NULL, NULL);
	struct probe p = run_probe(&d, ZC_UID, ZC_GID, 0);
	expect_granted(&p);
	assert_int_equal(p.seal_own, 0);
	expect_ro_ref_unsealable(&p);
	/* Another uid, not listed. */
	p = run_probe(&d, ZC_UID + 1, ZC_GID + 1, 0);
	expect_denied(&p);
	heapd_close(h);
	daemon_stop(&d);
}

static void granted_by_group(void **state)
{
	(void)state;
	struct daemon d;
	heapd *h = start_with(&d, "--zero-copy-gids", "54353", NULL, NULL);
	struct probe p = run_probe(&d, ZC_UID, ZC_GID, ZC_GROUP);
	expect_granted(&p);
	p = run_probe(&d, ZC_UID, ZC_GID, 0);  /* the same uid outside the group */
	expect_denied(&p);
	heapd_close(h);
	daemon_stop(&d);
}

/* Listed in zero_copy_uids and read-only: denied, as the arena shows
 * every handle; and a read-only session seals nothing. */
static void readonly_session_denied(void **state)
{
	(void)state;
	struct daemon d;
	heapd *h = start_with(&d, "--zero-copy-uids", "54351", "--readonly-uids", "54351");
	struct probe p = run_probe(&d, ZC_UID, ZC_GID, 0);
	expect_denied(&p);
	assert_says(p.view_msg, "read-only");
	assert_says(p.map_msg, "map_arena: uid 54351 is read-only");
	assert_int_equal(p.alloc, HEAPD_EPERM);
	expect_ro_ref_unsealable(&p);
	heapd_close(h);
	daemon_stop(&d);
}

/* --- a reload that revokes the grant --- */

static void write_conf(const struct daemon *d, const char *grant)
{
	char path[300];
	snprintf(path, sizeof path, "%s/heapd.conf", d->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "socket_mode = 0666\ngc_mark_workers = 0\n%s", grant);
	assert_int_equal(fclose(f), 0);
}

/* What the user's connection saw: a view, then (once told) another, its
 * first view's bytes and its release. */
struct kid_result {
	int first, second, bytes_kept, release;
};

static void kid_views(const struct daemon *d, int go, int out)
{
	struct kid_result k = {-100, -100, 0, -100};
	heapd *h = heapd_connect(d->sock);
	heapd_ref ro;
	const void *data, *data2;
	size_t len, len2;
	if (heapd_errcode(h) == 0 && heapd_root_get(h, "zc/obj", &ro) == 0)
		k.first = heapd_view(h, ro, &data, &len);
	char c;
	if (write(out, &k, sizeof k) != sizeof k || read(go, &c, 1) != 1)
		_exit(1);
	if (k.first == 0) {
		k.second = heapd_view(h, ro, &data2, &len2);
		k.bytes_kept = pattern_diff(data, len, OBJ_SEED) == OBJ_LEN;
		k.release = heapd_view_release(h, ro);
	}
	heapd_close(h);
	_exit(write(out, &k, sizeof k) == sizeof k ? 0 : 1);
}

static void revoked_on_reload(void **state)
{
	(void)state;
	struct daemon d;
	char path[300];
	daemon_prepare(&d);
	assert_int_equal(chmod(d.dir, 0711), 0);
	write_conf(&d, "zero_copy_uids = 54351\n");
	snprintf(path, sizeof path, "%s/heapd.conf", d.dir);
	daemon_spawn(&d, "--config", path, NULL);
	heapd *h = client(&d);
	heapd_ref r = sealed_pattern(h, OBJ_LEN, OBJ_SEED);
	assert_int_equal(heapd_root_set(h, "zc/obj", r), 0);
	assert_int_equal(heapd_root_chmod(h, "zc/obj", 0644), 0);

	int go[2], out[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		user_drop(ZC_UID, ZC_GID, 0);
		kid_views(&d, go[0], out[1]);
	}
	close(go[0]);
	close(out[1]);
	struct kid_result k;
	assert_int_equal(read(out[0], &k, sizeof k), (ssize_t)sizeof k);
	assert_int_equal(k.first, 0);
	int before = count_text(d.log, "configuration reloaded");
	write_conf(&d, "");
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	for (int i = 0; i < 300 && count_text(d.log, "configuration reloaded") == before; i++)
		sleep_ms(10);
	assert_int_equal(count_text(d.log, "configuration reloaded"), before + 1);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(out[0], &k, sizeof k), (ssize_t)sizeof k);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(k.second, HEAPD_EPERM);
	assert_true(k.bytes_kept);
	assert_int_equal(k.release, 0);
	close(go[1]);
	close(out[0]);
	struct probe p = run_probe(&d, ZC_UID, ZC_GID, 0);
	expect_denied(&p);
	heapd_close(h);
	unlink(path);
	daemon_stop(&d);
}

int main(void)
{
	if (!user_tests_possible())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(not_granted_by_default),
		cmocka_unit_test(granted_by_uid),
		cmocka_unit_test(granted_by_group),
		cmocka_unit_test(readonly_session_denied),
		cmocka_unit_test(revoked_on_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
