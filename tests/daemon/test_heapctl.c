/*
 * test_heapctl.c - every heapctl command against a real heapd, heapctl run
 * as a child process (HEAPCTL_BIN) with its output captured: what it
 * prints, on which stream, and its exit status. A libheapd client sets the
 * daemon's state up beforehand and checks what a command did afterwards.
 * What stats prints, as text, JSON and Prometheus, is checked in
 * test_heapctl_stats.c; the helpers both share are in ctlutil.h.
 */
#include <grp.h>
#include <pwd.h>

#include "daemonutil.h"
#include "runutil.h"
#include "ctlutil.h"

/* ------------------------------------------------------------- tests */

static void ping(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	struct run r;
	ctl(&r, &d, "ping");
	assert_ok(&r);
	unsigned long long us;
	char tail[8] = "";
	assert_int_equal(sscanf(r.out, "PONG %llu us%7s", &us, tail), 1);
	assert_string_equal(r.out + strlen(r.out) - 4, " us\n");
	assert_int_equal(count_of(r.out, "\n"), 1);
	assert_true(us < 5000000);
	run_free(&r);
	/* the ping was a session of its own, named heapctl */
	assert_true(wait_for_text(d.log, "heapctl, pid", 2000));
	daemon_stop(&d);
}

static void gc(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref keep, gone[100];
	assert_int_equal(heapd_alloc(h, 0, 64, &keep), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_alloc(h, 0, 64, &gone[i]), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_release(h, gone[i]), 0);
	heapd_stats before = *stats_of(h);
	assert_int_equal(before.heap_objects, 101); /* garbage, not collected yet */
	char buf[1];
	assert_int_equal(heapd_read(h, gone[0], 0, buf, 1), 0);

	struct run r;
	ctl(&r, &d, "gc");
	assert_ok(&r);
	unsigned long long freed;
	char rest[200];
	if (sscanf(r.out, "freed %llu objects (%199[^\n]", &freed, rest) != 2)
		fail_msg("unexpected gc output: %s", r.out);
	assert_int_equal(freed, 100);
	assert_contains(r.out, "; heap_alloc ");
	assert_contains(r.out, " -> ");
	assert_int_equal(count_of(r.out, "\n"), 1);
	run_free(&r);

	heapd_stats *st = stats_of(h);
	assert_int_equal(st->heap_objects, 1);
	assert_int_equal(st->frees, before.frees + 100);
	assert_true(st->num_forced_gc > before.num_forced_gc);
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_read(h, gone[i], 0, buf, 1), HEAPD_EBADREF);
	assert_int_equal(heapd_read(h, keep, 0, buf, 1), 0);
	heapd_close(h);
	daemon_stop(&d);
}

static void free_os_memory(void **state)
{
	(void)state;
	struct daemon d;
	/* the scavenger left to itself would wait a day */
	daemon_start(&d, "--release-delay-ms", "86400000", NULL);
	heapd *h = client(&d);
	heapd_ref refs[512];
	for (int i = 0; i < 512; i++)
		assert_int_equal(heapd_alloc(h, 0, 16000, &refs[i]), 0);
	heapd_close(h); /* its holds go: all garbage */
	h = client(&d);
	assert_int_equal(heapd_gc(h), 0);
	heapd_stats before = *stats_of(h);
	assert_int_equal(before.heap_objects, 0);
	assert_true(before.heap_idle > before.heap_released); /* free, still backed */

	struct run r;
	ctl(&r, &d, "free-os-memory");
	assert_ok(&r);
	assert_true(strncmp(r.out, "freed ", 6) == 0);
	assert_contains(r.out, " to the OS in ");
	assert_contains(r.out, ", rss ");
	assert_null(strstr(r.out, "released 0B"));
	run_free(&r);

	heapd_stats *st = stats_of(h);
	assert_true(st->heap_idle > 0);
	assert_int_equal(st->heap_released, st->heap_idle);
	assert_true(st->scav_released_bytes > before.scav_released_bytes);
	assert_true(st->num_forced_gc > before.num_forced_gc);
	heapd_close(h);
	daemon_stop(&d);
}

static void roots(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	struct run r;
	ctl(&r, &d, "roots");
	assert_ok(&r);
	assert_int_equal(r.out_len, 0); /* none yet */
	run_free(&r);

	heapd *h = client(&d);
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	/* created out of order; "B" sorts before "a" bytewise */
	const char *names[] = {"b", "sessions/index", "a", "B", "config"};
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_root_set(h, names[i], a), 0);
	assert_int_equal(heapd_root_set(h, "deleted", a), 0);
	assert_int_equal(heapd_root_set(h, "deleted", 0), 0);
	ctl(&r, &d, "roots");
	assert_ok(&r);
	assert_string_equal(r.out, "B\na\nb\nconfig\nsessions/index\n");
	run_free(&r);

	/* -0: NUL-terminated, for xargs -0 (names hold spaces; since heapd
	 * refuses control characters in them, no newline) */
	assert_int_equal(heapd_root_set(h, "with space", a), 0);
	static const char want[] = "B\0a\0b\0config\0sessions/index\0with space";
	ctl(&r, &d, "roots", "-0");
	assert_ok(&r);
	assert_int_equal(r.out_len, sizeof want);
	assert_memory_equal(r.out, want, sizeof want);
	run_free(&r);
	ctl(&r, &d, "roots", "--null");
	assert_ok(&r);
	assert_int_equal(r.out_len, sizeof want);
	assert_memory_equal(r.out, want, sizeof want);
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
}

/* roots -l: mode, owner and group (names where this host has them, else
 * numbers), aligned as ls -l does; root chmod and root chown change them
 * (the test runs as root, which may give a root away). */
static void roots_long_and_root(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	assert_int_equal(heapd_root_set(h, "b", a), 0);
	assert_int_equal(heapd_root_set(h, "a", a), 0);
	char user[64], group[64], want[256];
	const struct passwd *pw = getpwuid(getuid());
	const struct group *gr = getgrgid(getgid());
	assert_true(pw && gr);
	snprintf(user, sizeof user, "%s", pw->pw_name);
	snprintf(group, sizeof group, "%s", gr->gr_name);
	assert_true(!getpwuid(54321) && !getgrgid(54322));
	struct run r;
	ctl(&r, &d, "root", "chmod", "0600", "a");
	assert_ok(&r);
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	ctl(&r, &d, "root", "chown", "54321:54322", "b");
	assert_ok(&r);
	run_free(&r);
	int wu = strlen(user) > 5 ? (int)strlen(user) : 5, wg = strlen(group) > 5 ? (int)strlen(group) : 5;
	snprintf(want, sizeof want, "rw------- %-*s %-*s a\nrw-r--r-- %-*s %-*s b\n", wu, user, wg, group, wu, "54321",
		 wg, "54322");
	ctl(&r, &d, "roots", "-l");
	assert_ok(&r);
	assert_string_equal(r.out, want);
	run_free(&r);
	/* :GROUP keeps the owner; a name works as a number does. */
	ctl(&r, &d, "root", "chown", ":0", "b");
	assert_ok(&r);
	run_free(&r);
	heapd_root_info *info;
	size_t n;
	assert_int_equal(heapd_root_list_info(h, &info, &n, NULL), 0);
	assert_int_equal(n, 2);
	heapd_root_info *b = strcmp(info[0].name, "b") == 0 ? &info[0] : &info[1];
	assert_true(b->uid == 54321 && b->gid == 0 && b->mode == 0644);
	heapd_free_root_info(info);
	ctl(&r, &d, "root", "chown", user, "b");
	assert_ok(&r);
	run_free(&r);

	/* heapd's refusals are errors (1); bad arguments usage (2). */
	ctl(&r, &d, "root", "chmod", "0700", "a");
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "heapctl: root: root_chmod: mode 0700 has bits other than rw (0666)");
	run_free(&r);
	ctl(&r, &d, "root", "chmod", "0644", "nothing");
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "no root named \"nothing\"");
	run_free(&r);
	ctl(&r, &d, "root", "chmod", "rw", "a");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "'rw' is not an octal mode");
	run_free(&r);
	ctl(&r, &d, "root", "chown", "no-such-user-heapd", "a");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "no user 'no-such-user-heapd'");
	run_free(&r);
	ctl(&r, &d, "root", "chown", ":", "a");
	assert_int_equal(r.code, 2);
	run_free(&r);
	ctl(&r, &d, "root", "rename", "a", "b");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "heapctl: root: expected set, get, del, ls, cas, chmod or chown");
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
	/* Its help needs no daemon; without one, an error. */
	ctl(&r, &d, "root", "--help");
	assert_ok(&r);
	assert_contains(r.out, "Usage: heapctl [-s SOCKET] root set|get|del|ls|cas|chmod|chown ...");
	assert_contains(r.out, "  chown OWNER[:GROUP] NAME");
	run_free(&r);
	ctl(&r, &d, "root", "chmod", "0644", "a");
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "heapctl: root: ");
	run_free(&r);
}

/* More roots than one reply holds: the library says so and heapctl
 * prints what it got but fails, so a script cannot take it for whole. */
static void roots_truncated(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-frame-size", "4K", NULL);
	heapd *h = client(&d);
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	char name[210];
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "%03d-%0200d", i, 0);
		assert_int_equal(heapd_root_set(h, name, a), 0);
	}
	char **names;
	size_t n;
	int truncated = 0;
	assert_int_equal(heapd_root_list(h, &names, &n, &truncated), 0);
	assert_int_equal(truncated, 1);
	assert_true(n > 0 && n < 100);
	heapd_free_names(names);
	struct run r;
	ctl(&r, &d, "roots");
	assert_int_equal(r.code, 1);
	assert_int_equal(count_of(r.out, "\n"), (int)n);
	assert_contains(r.err, "heapctl: roots: only the first");
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
}

/* One uid (the test's): its row, in the table, in JSON and in top. */
static void uids(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-roots-per-uid", "2", NULL);
	heapd *h = client(&d), *other = client(&d);
	heapd_ref refs[7];
	populate(h, refs, 7);
	assert_int_equal(heapd_root_set(other, "third", refs[2]), HEAPD_ELIMIT);
	/* After a collection the uid's heap bytes are its objects', by size
	 * class: 7 of 1,016 bytes, in the 1,024-byte class. */
	assert_int_equal(heapd_gc(h), 0);
	/* heapctl's own connection is the third. */
	char want[256];
	snprintf(want, sizeof want,
		 "       UID  CONNS    HOLDS  ROOTS   NAMES  OUTPUT    HEAP     REFUSED STALLS\n"
		 "%10u      3        7      2     11B      0B   7.00K         1/0      0\n",
		 (unsigned)getuid());
	struct run r;
	ctl(&r, &d, "uids");
	assert_ok(&r);
	assert_string_equal(r.out, want);
	run_free(&r);
	snprintf(want, sizeof want,
		 "{\n  \"truncated\": false,\n  \"uids\": [\n    {\"uid\": %u, \"connections\": 3, \"holds\": 7, "
		 "\"named_roots\": 2, \"root_name_bytes\": 11, \"output_bytes\": 0, \"heap_bytes\": 7168, "
		 "\"roots_refused\": 1, \"holds_refused\": 0, \"output_stalls\": 0}\n  ]\n}\n",
		 (unsigned)getuid());
	ctl(&r, &d, "uids", "--json");
	assert_ok(&r);
	assert_string_equal(r.out, want);
	run_free(&r);
	/* top ends each frame with the table. */
	snprintf(want, sizeof want, "\n       UID  CONNS    HOLDS  ROOTS   NAMES  OUTPUT    HEAP     REFUSED STALLS\n"
		 "%10u      3        7      2     11B      0B   7.00K         1/0      0\n", (unsigned)getuid());
	ctl(&r, &d, "top", "-n", "1");
	assert_ok(&r);
	assert_true(r.out_len >= strlen(want));
	assert_string_equal(r.out + r.out_len - strlen(want), want);
	run_free(&r);
	heapd_close(other);
	heapd_close(h);
	daemon_stop(&d);
}

static void top(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref refs[7];
	populate(h, refs, 7);
	struct run r;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ctl(&r, &d, "top", "-n", "2", "-i", "0.1");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_ok(&r);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(took >= 0.1);   /* one interval between the two frames */
	/* plain text: no escape sequences, frames separated by a blank line */
	assert_null(memchr(r.out, '\033', r.out_len));
	assert_int_equal(count_of(r.out, "heapd " PACKAGE_VERSION "  up "), 2);
	assert_int_equal(count_of(r.out, "  2 sessions  2 named roots  7 holds  "), 2);
	assert_true(strncmp(r.out, "heapd ", 6) == 0);
	const char *second = strstr(r.out + 1, "\n\nheapd " PACKAGE_VERSION);
	assert_non_null(second);
	/* the first frame has totals, the second rates */
	assert_int_equal(count_of(r.out, "objects   7\n"), 1);
	assert_int_equal(count_of(r.out, "objects   7   allocated "), 1);
	assert_true(strstr(r.out, "allocated ") > second);
	assert_int_equal(count_of(r.out, "memory"), 2);
	assert_int_equal(count_of(r.out, "history   one sample every 0.1s"), 2);
	assert_int_equal(count_of(r.out, "q: quit"), 0); /* no keys read without a terminal */
	run_free(&r);

	/* bad intervals and counts are usage errors */
	ctl(&r, &d, "top", "-i", "0.05", "-n", "1");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "interval");
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	ctl(&r, &d, "top", "-n", "0");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "count");
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
}

/* -s beats $HEAPD_SOCKET, which beats the default. */
static void socket_choice(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	char env_good[160], env_bad[] = "HEAPD_SOCKET=/nonexistent/env.sock";
	snprintf(env_good, sizeof env_good, "HEAPD_SOCKET=%s", d.sock);
	const char *good[] = {env_good, NULL}, *bad[] = {env_bad, NULL};
	struct run r;

	ctl_env(&r, good, NULL, "ping", NULL); /* $HEAPD_SOCKET */
	assert_ok(&r);
	assert_true(strncmp(r.out, "PONG ", 5) == 0);
	run_free(&r);
	ctl_env(&r, bad, d.sock, "ping", NULL); /* -s over $HEAPD_SOCKET */
	assert_ok(&r);
	run_free(&r);
	ctl_env(&r, bad, NULL, "--socket", d.sock, "ping", NULL);
	assert_ok(&r);
	run_free(&r);
	ctl_env(&r, good, "/nonexistent/flag.sock", "ping", NULL);
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "/nonexistent/flag.sock");
	run_free(&r);
	ctl_env(&r, bad, NULL, "ping", NULL);
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "/nonexistent/env.sock");
	run_free(&r);
	/* an empty $HEAPD_SOCKET, or none: the default */
	const char *empty[] = {"HEAPD_SOCKET=", NULL};
	for (int i = 0; i < 2; i++) {
		ctl_env(&r, i ? empty : no_env, NULL, "ping", NULL);
		if (access(HEAPD_DEFAULT_SOCKET, F_OK) == 0) {
			/* a system heapd: fine either way, but never ours */
			assert_true(r.code == 0 || r.code == 1);
		} else {
			assert_int_equal(r.code, 1);
			assert_contains(r.err, HEAPD_DEFAULT_SOCKET);
		}
		run_free(&r);
	}
	daemon_stop(&d);
}

/* Those that take no argument; root is checked in roots_long_and_root. */
static const char *const commands[] = {"ping", "stats", "gc", "free-os-memory", "roots", "uids", "top", "bench",
				       NULL};

/* Help and version need no daemon: -s names none. */
static void help(void **state)
{
	(void)state;
	struct run r;
	ctl_env(&r, no_env, "/nonexistent/h.sock", "--help", NULL);
	assert_ok(&r);
	assert_true(strncmp(r.out, "Usage: heapctl ", 15) == 0);
	for (int i = 0; commands[i]; i++) {
		char line[64];
		snprintf(line, sizeof line, "\n  %s ", commands[i]);
		assert_contains(r.out, line);
	}
	assert_contains(r.out, "Exit status");
	run_free(&r);
	ctl_env(&r, no_env, NULL, "-h", NULL);
	assert_ok(&r);
	assert_true(strncmp(r.out, "Usage: heapctl ", 15) == 0);
	run_free(&r);
	ctl_env(&r, no_env, NULL, "--version", NULL);
	assert_ok(&r);
	assert_string_equal(r.out, "heapctl " PACKAGE_VERSION "\n");
	run_free(&r);
	for (int i = 0; commands[i]; i++) {
		char want[64];
		snprintf(want, sizeof want, "Usage: heapctl [-s SOCKET] %s", commands[i]);
		ctl_env(&r, no_env, "/nonexistent/h.sock", commands[i], "--help", NULL);
		assert_ok(&r);
		if (strncmp(r.out, want, strlen(want)) != 0)
			fail_msg("%s --help printed:\n%s", commands[i], r.out);
		assert_contains(r.out, "--help");
		run_free(&r);
		ctl_env(&r, no_env, "/nonexistent/h.sock", commands[i], "-h", NULL);
		assert_ok(&r);
		assert_true(strncmp(r.out, want, strlen(want)) == 0);
		run_free(&r);
	}
	ctl_env(&r, no_env, "/nonexistent/h.sock", "stats", "--help", NULL);
	assert_contains(r.out, "--json");
	assert_contains(r.out, "--prometheus");
	run_free(&r);
	ctl_env(&r, no_env, "/nonexistent/h.sock", "top", "--help", NULL);
	assert_contains(r.out, "--interval");
	assert_contains(r.out, "--count");
	run_free(&r);
}

/* Bad usage: exit 2, nothing on stdout, a pointer to the help on stderr;
 * checked before any connection (-s names no daemon). */
static void expect_usage(const char *pointer, ...)
{
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)heapctl_bin();
	argv[n++] = "-s";
	argv[n++] = "/nonexistent/u.sock";
	va_list ap;
	va_start(ap, pointer);
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 15;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	struct run r;
	run_env(&r, no_env, argv);
	if (r.code != 2)
		fail_msg("%s %s: exit %d, stderr:\n%s", argv[3], argv[4] ? argv[4] : "", r.code, r.err);
	assert_int_equal(r.out_len, 0);
	assert_contains(r.err, pointer);
	assert_null(strstr(r.err, "/nonexistent/u.sock")); /* it did not try to connect */
	run_free(&r);
}

static void bad_usage(void **state)
{
	(void)state;
	struct run r;
	ctl_env(&r, no_env, NULL, NULL); /* no command: commands from stdin, here none */
	assert_ok(&r);
	assert_int_equal(r.out_len, 0);
	run_free(&r);

	expect_usage("Try 'heapctl --help'.", "frobnicate", NULL);
	expect_usage("unknown command 'frobnicate'", "frobnicate", NULL);
	expect_usage("Try 'heapctl --help'.", "--bogus", "ping", NULL);
	expect_usage("heapctl: invalid option -- 'x'\nTry 'heapctl --help'.\n", "-x", "ping", NULL);
	expect_usage("Try 'heapctl stats --help'.", "stats", "--bogus", NULL);
	expect_usage("Try 'heapctl ping --help'.", "ping", "-z", NULL);
	expect_usage("Try 'heapctl roots --help'.", "roots", "--json", NULL);
	expect_usage("heapctl: stats: choose one of --json and --prometheus", "stats", "--json", "--prometheus", NULL);
	expect_usage("Try 'heapctl stats --help'.", "stats", "--prometheus", "--json", NULL);
	expect_usage("unexpected argument 'extra'", "ping", "extra", NULL);
	expect_usage("unexpected argument 'now'", "gc", "now", NULL);
	expect_usage("Try 'heapctl top --help'.", "top", "-i", NULL);
	expect_usage("Try 'heapctl top --help'.", "top", "-n", "ten", NULL);
}

/* Runtime errors: exit 1 and "heapctl: COMMAND: message" on stderr. */
static void runtime_errors(void **state)
{
	(void)state;
	char dir[] = "/tmp/heapctl-test.XXXXXX", sock[64];
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/none.sock", dir);
	struct run r;
	for (int i = 0; commands[i]; i++) {
		char want[64];
		ctl_env(&r, no_env, sock, commands[i], NULL);
		if (r.code != 1)
			fail_msg("%s with no daemon: exit %d", commands[i], r.code);
		snprintf(want, sizeof want, "heapctl: %s: ", commands[i]);
		assert_true(strncmp(r.err, want, strlen(want)) == 0);
		assert_contains(r.err, sock);
		assert_int_equal(count_of(r.err, "\n"), 1);
		assert_int_equal(r.out_len, 0);
		run_free(&r);
	}

	/* a daemon that refuses the peer: its message */
	struct daemon d;
	char uid[16];
	snprintf(uid, sizeof uid, "%u", (unsigned)getuid() + 1);
	daemon_start(&d, "--allowed-uids", uid, NULL);
	ctl(&r, &d, "stats");
	assert_int_equal(r.code, 1);
	assert_true(strncmp(r.err, "heapctl: stats: ", 16) == 0);
	assert_int_equal(count_of(r.err, "\n"), 1);
	assert_int_equal(r.out_len, 0);
	/* The daemon's own reason, even when its close beat our Hello. */
	assert_contains(r.err, "may not use");
	run_free(&r);
	daemon_stop(&d);
	rmdir(dir);
}

/* Output that cannot be written is an error: stdout on /dev/full. */
static void write_error(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	int pe[2];
	assert_int_equal(pipe(pe), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int full = open("/dev/full", O_WRONLY);
		dup2(full, 1);
		dup2(pe[1], 2);
		execl(heapctl_bin(), heapctl_bin(), "-s", d.sock, "stats", (char *)NULL);
		_exit(127);
	}
	close(pe[1]);
	char err[512] = "";
	size_t got = 0;
	ssize_t n;
	while ((n = read(pe[0], err + got, sizeof err - 1 - got)) > 0)
		got += (size_t)n;
	close(pe[0]);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_contains(err, "heapctl: stats: cannot write the output");
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ping),
		cmocka_unit_test(gc),
		cmocka_unit_test(free_os_memory),
		cmocka_unit_test(roots),
		cmocka_unit_test(roots_long_and_root),
		cmocka_unit_test(roots_truncated),
		cmocka_unit_test(uids),
		cmocka_unit_test(top),
		cmocka_unit_test(socket_choice),
		cmocka_unit_test(help),
		cmocka_unit_test(bad_usage),
		cmocka_unit_test(runtime_errors),
		cmocka_unit_test(write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
