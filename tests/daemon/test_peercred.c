/*
 * test_peercred.c - who may connect: the socket file's mode and group,
 * then allowed_uids / allowed_gids, which heapd checks against the peer's
 * SO_PEERCRED and SO_PEERGROUPS. Each case is met by a client running under another uid and
 * gid: the test runs as root and forks clients that drop to uid 54321
 * (setgroups, setgid, setuid), an id no account uses. Without root it
 * reports a TAP skip ("1..0 # SKIP"): cmocka 1.1's skip() prints "not ok",
 * which the TAP driver counts as a failure.
 *
 * uid_stats across uids: clients of 40 uids each leave a named root; the
 * rows say whose is what, sorted by uid, and stop at what fits in a frame
 * of 4 KiB (truncated).
 *
 * heap_per_uid: max_heap_per_uid is counted per uid, so a uid at its
 * limit holds back no other.
 */
#include "abuseutil.h"
#include "runutil.h"
#include "userutil.h"

/* ------------------------------------------------------ peer credentials */

#define OTHER_UID 54321
#define OTHER_GID 54321
#define SPARE_GID 54322

struct outcome {
	int connect_errno;  /* of a raw connect(): 0 if it connected */
	int code;           /* heapd_connect's error code */
	int works;          /* alloc, write, read all succeeded */
	char msg[200];
};

/* Connects to d, raw and with libheapd, and says what happened. */
static void try_connect(const struct daemon *d, void *out)
{
	struct outcome *o = out;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	o->connect_errno = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno;
	close(fd);
	heapd *h = heapd_connect(d->sock);
	o->code = heapd_errcode(h);
	snprintf(o->msg, sizeof o->msg, "%s", heapd_errmsg(h));
	heapd_ref r;
	char buf[5];
	o->works = !o->code && heapd_alloc(h, 0, 5, &r) == 0 && heapd_write(h, r, 0, "other", 5) == 0 &&
		   heapd_read(h, r, 0, buf, 5) == 0 && memcmp(buf, "other", 5) == 0;
	heapd_close(h);
}

static struct outcome connect_as(const struct daemon *d, uid_t uid, gid_t gid, gid_t supp)
{
	struct outcome o;
	as_user(d, uid, gid, supp, try_connect, &o, sizeof o);
	return o;
}

/* What a client of uid made before max_heap_per_uid stopped it. */
struct filled {
	int n;              /* 1000-byte objects allocated */
	int code;           /* the error that stopped it */
	char msg[200];
};

/* Allocates 1000-byte objects on h until one fails. */
static struct filled fill(heapd *h)
{
	struct filled f = {0};
	heapd_ref r;
	while (f.n < 100000 && (f.code = heapd_alloc(h, 0, 1000, &r)) == 0)
		f.n++;
	snprintf(f.msg, sizeof f.msg, "%s", heapd_errmsg(h));
	return f;
}

static void fill_out(const struct daemon *d, void *out)
{
	heapd *h = heapd_connect(d->sock);
	*(struct filled *)out = fill(h);
	heapd_close(h);
}

/* fill() by a client of uid, gid. */
static struct filled fill_as(const struct daemon *d, uid_t uid, gid_t gid)
{
	struct filled f;
	as_user(d, uid, gid, 0, fill_out, &f, sizeof f);
	return f;
}

static void peer_credentials(void **state)
{
	(void)state;
	struct daemon d;
	struct outcome o;

	/* (a) Mode 0660, socket owned by root's group: others cannot even
	 * connect (EACCES), whatever the allow lists say. */
	start_open_dir(&d, NULL);
	struct stat st;
	assert_int_equal(lstat(d.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	o = connect_as(&d, OTHER_UID, OTHER_GID, 0);
	assert_int_equal(o.connect_errno, EACCES);
	assert_int_equal(o.code, HEAPD_EIO);
	assert_non_null(strstr(o.msg, "Permission denied"));
	/* The socket's group may connect (as heapd.socket's SocketGroup=);
	 * a user outside it still may not. */
	assert_int_equal(chown(d.sock, (uid_t)-1, OTHER_GID), 0);
	o = connect_as(&d, OTHER_UID, OTHER_GID, 0);
	assert_int_equal(o.connect_errno, 0);
	assert_int_equal(o.code, 0);
	assert_true(o.works);
	o = connect_as(&d, OTHER_UID, SPARE_GID, 0);
	assert_int_equal(o.connect_errno, EACCES);
	daemon_stop(&d);

	/* (b) A mode that lets everyone connect, and allowed_uids without
	 * the client: refused with PERMISSION, and the refusal is logged. */
	start_open_dir(&d, "--socket-mode", "0666", "--allowed-uids", "0", NULL);
	o = connect_as(&d, OTHER_UID, OTHER_GID, 0);
	assert_int_equal(o.connect_errno, 0);
	assert_int_equal(o.code, HEAPD_EPERM);
	assert_non_null(strstr(o.msg, "uid 54321 gid 54321 may not use this daemon"));
	assert_false(o.works);
	assert_true(wait_for_text(d.log, "uid 54321 gid 54321: not in allowed_uids or allowed_gids", 2000));
	daemon_stop(&d);

	/* (c) Listed: served. */
	start_open_dir(&d, "--socket-mode", "0666", "--allowed-uids", "0,54321", NULL);
	o = connect_as(&d, OTHER_UID, OTHER_GID, 0);
	assert_int_equal(o.code, 0);
	assert_true(o.works);
	daemon_stop(&d);

	/* (d) allowed_gids matches any of the peer's groups: the primary one
	 * (SO_PEERCRED) or a supplementary one (SO_PEERGROUPS). */
	start_open_dir(&d, "--socket-mode", "0666", "--allowed-gids", "54322", NULL);
	o = connect_as(&d, OTHER_UID, SPARE_GID, 0);
	assert_int_equal(o.code, 0);
	assert_true(o.works);
	o = connect_as(&d, OTHER_UID, OTHER_GID, SPARE_GID);
	assert_int_equal(o.code, 0);
	assert_true(o.works);
	o = connect_as(&d, OTHER_UID, OTHER_GID, 0);
	assert_int_equal(o.code, HEAPD_EPERM);
	daemon_stop(&d);
}

/* ------------------------------------------------------------ uid_stats */

#define UIDS 40
#define ROW_ROOM 111  /* what docs/protocol.md says a row counts */

struct uid_view {
	size_t n;
	int truncated;
	int failed;         /* a request of the client failed */
	heapd_uid_stat rows[UIDS + 1];
};

/* Holds a new object, names it "u<uid>", and reads the rows then. */
static void name_root(const struct daemon *d, void *out)
{
	struct uid_view *o = out;
	heapd_uid_stat *rows;
	heapd_ref r;
	char name[16];
	snprintf(name, sizeof name, "u%u", (unsigned)getuid());
	heapd *h = heapd_connect(d->sock);
	if (heapd_errcode(h) || heapd_alloc(h, 0, 8, &r) || heapd_root_set(h, name, r) ||
	    heapd_uid_stats(h, &rows, sizeof *rows, &o->n, &o->truncated) || o->n > UIDS + 1) {
		o->failed = 1;
	} else {
		memcpy(o->rows, rows, o->n * sizeof *rows);
		heapd_free_uid_stats(rows);
	}
	heapd_close(h);
}

/* name_root() by a client of uid. */
static void root_as(const struct daemon *d, uid_t uid, struct uid_view *v)
{
	as_user(d, uid, OTHER_GID, 0, name_root, v, sizeof *v);
	assert_false(v->failed);
}

static void uid_stats_across_uids(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", "--max-frame-size", "4096", NULL);
	heapd *h = client(&d);
	static struct uid_view v;
	root_as(&d, OTHER_UID, &v);
	/* Seen by the other uid: root's connection, and its own figures. */
	assert_int_equal(v.n, 2);
	assert_int_equal(v.truncated, 0);
	assert_int_equal(v.rows[0].uid, 0);
	assert_int_equal(v.rows[0].connections, 1);
	assert_int_equal(v.rows[0].holds, 0);
	assert_int_equal(v.rows[0].named_roots, 0);
	assert_int_equal(v.rows[1].uid, OTHER_UID);
	assert_int_equal(v.rows[1].connections, 1);
	assert_int_equal(v.rows[1].holds, 1);
	assert_int_equal(v.rows[1].named_roots, 1);
	assert_int_equal(v.rows[1].root_name_bytes, strlen("u54321"));
	for (uid_t u = OTHER_UID + 1; u < OTHER_UID + UIDS; u++)
		root_as(&d, u, &v);
	/* Their connections went, their roots stay theirs; a 4 KiB frame
	 * holds the first (4096 - 64) / ROW_ROOM rows by uid. */
	heapd_uid_stat *rows;
	size_t n;
	int truncated;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, &n, &truncated), 0);
	assert_int_equal(n, (4096 - 64) / ROW_ROOM);
	assert_int_equal(truncated, 1);
	assert_int_equal(rows[0].uid, 0);
	for (size_t i = 1; i < n; i++) {
		assert_int_equal(rows[i].uid, OTHER_UID + i - 1);
		assert_int_equal(rows[i].connections, 0);
		assert_int_equal(rows[i].holds, 0);
		assert_int_equal(rows[i].named_roots, 1);
		assert_int_equal(rows[i].root_name_bytes, strlen("u54321"));
	}
	heapd_free_uid_stats(rows);
	assert_int_equal(stats_of(h)->uids, UIDS + 1);
	heapd_close(h);
	daemon_stop(&d);
}

static void heap_per_uid(void **state)
{
	(void)state;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", "--max-heap-per-uid", "2M", NULL);
	heapd *h = heapd_connect(d.sock);
	struct filled mine = fill(h);
	assert_int_equal(mine.code, HEAPD_ELIMIT);
	/* 1024-byte slots, within a span (8 KiB) of the limit. */
	assert_true(mine.n >= 2040 && mine.n <= 2048);
	struct filled other = fill_as(&d, OTHER_UID, OTHER_GID);
	assert_int_equal(other.code, HEAPD_ELIMIT);
	assert_int_equal(other.n, mine.n);
	if (!strstr(other.msg, "uid 54321 has ") || !strstr(other.msg, "(max_heap_per_uid 2097152)"))
		fail_msg("\"%s\" does not name uid 54321's heap", other.msg);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 1000, &r), HEAPD_ELIMIT);
	heapd_stats st;
	assert_int_equal(heapd_get_stats(h, &st, sizeof st), 0);
	assert_int_equal(st.uid_heap_refused, 3);
	assert_int_equal(st.uids, 1);  /* the other's connection is gone, its objects garbage */
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	if (!user_tests_possible())
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(peer_credentials),
		cmocka_unit_test(uid_stats_across_uids),
		cmocka_unit_test(heap_per_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
