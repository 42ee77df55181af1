/*
 * test_heapctl_inspect.c - heapctl's commands that look into the heap and
 * at its clients (get to the end, info, dump, du, clients, client kill),
 * root cas, root ls
 * over many scans, and -t against a daemon that stopped answering, run
 * against a real heapd. A libheapd client sets the state up and checks
 * what each command printed against what the daemon says; bad input
 * (stale refs, missing roots, a conflicting cas, a non-admin's kill) must
 * give the documented exit code and a message that says what was wrong.
 */
#include <signal.h>

#include "daemonutil.h"
#include "runutil.h"
#include "ctlutil.h"
#include "userutil.h"

/* An object of nrefs slots holding text, held by h. */
static heapd_ref object(heapd *h, uint32_t nrefs, const char *text)
{
	heapd_ref ref;
	uint32_t len = (uint32_t)strlen(text);
	assert_int_equal(heapd_alloc_into(h, 0, 0, nrefs, len, text, len, &ref), 0);
	return ref;
}

/* A ref that was valid and is not: an object collected. */
static heapd_ref stale_ref(heapd *h)
{
	heapd_ref ref = object(h, 0, "gone");
	assert_int_equal(heapd_release(h, ref), 0);
	assert_int_equal(heapd_gc(h), 0);
	struct heapd_object_info o;
	assert_int_equal(heapd_object_info(h, ref, &o), HEAPD_EBADREF);
	return ref;
}

/* Whether uid 54321 may run heapctl from this build tree; when not (a
 * package build's private directory), the parts run as it are left out,
 * said in a TAP comment. */
static int other_may_run_heapctl(void)
{
	if (user_can_exec(heapctl_bin(), 54321))
		return 1;
	printf("# %s is closed to uid 54321: its part of this test left out\n", heapctl_bin());
	return 0;
}

/* ------------------------------------------------------------- tests */

static void get_and_info(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = object(h, 3, "hello\n");
	assert_int_equal(heapd_root_set(h, "cfg", a), 0);
	assert_int_equal(heapd_root_chmod(h, "cfg", 0640), 0);
	/* two collections that it survives: info's age says at least 2 */
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_gc(h), 0);
	struct heapd_object_info o;
	assert_int_equal(heapd_object_info(h, a, &o), 0);
	assert_true(o.age >= 2);
	char ref[24], want[512], human[32];

	/* get without --length: to the end, from --offset */
	CTL_OUT(&d, "hello\n", "get", "cfg");
	CTL_OUT(&d, "lo\n", "get", "cfg", "--offset", "3");
	CTL_OUT(&d, "", "get", "cfg", "--offset", "6");
	CTL_OUT(&d, "68656c6c6f0a\n", "get", ref_text(ref, a), "--hex");
	CTL_FAIL(&d, 1, "heapctl: get: --offset 7 is past the end of the object's 6 data bytes", "get", "cfg",
		 "--offset", "7");

	/* info of a ref, of a root (owner, group, mode too) */
	assert_true(o.size >= 3 * 8 + 6 && o.size < 1024);   /* a size class, printed in bytes */
	snprintf(human, sizeof human, "%lluB", (unsigned long long)o.size);
	snprintf(want, sizeof want,
		 "ref     %s\nslots   3\nbytes   6\nsize    %s in the heap (%llu bytes)\nsealed  no\n"
		 "age     %u collections\n",
		 ref, human, (unsigned long long)o.size, o.age);
	CTL_OUT(&d, want, "info", ref);
	snprintf(want, sizeof want,
		 "root    cfg\nref     %s\nowner   root (0)\ngroup   root (0)\nmode    rw-r----- (0640)\nslots   3\n"
		 "bytes   6\nsize    %s in the heap (%llu bytes)\nsealed  no\nage     %u collections\n",
		 ref, human, (unsigned long long)o.size, o.age);
	CTL_OUT(&d, want, "info", "cfg");
	snprintf(want, sizeof want,
		 "{\"ref\": \"%s\", \"nrefs\": 3, \"nbytes\": 6, \"size\": %llu, \"sealed\": false, \"age\": %u}\n", ref,
		 (unsigned long long)o.size, o.age);
	CTL_OUT(&d, want, "info", ref, "--json");
	snprintf(want, sizeof want,
		 "{\"ref\": \"%s\", \"root\": \"cfg\", \"uid\": 0, \"gid\": 0, \"mode\": \"0640\", \"nrefs\": 3, "
		 "\"nbytes\": 6, \"size\": %llu, \"sealed\": false, \"age\": %u}\n",
		 ref, (unsigned long long)o.size, o.age);
	CTL_OUT(&d, want, "info", "--json", "root:cfg");
	/* a name with a quote and a control character, escaped in both */
	assert_int_equal(heapd_root_set(h, "q\"x", a), 0);
	struct run r;
	ctl(&r, &d, "info", "q\"x", "--json");
	assert_ok(&r);
	assert_contains(r.out, "\"root\": \"q\\\"x\"");
	run_free(&r);

	/* a stale ref, a missing root: 1, and nothing printed */
	heapd_ref gone = stale_ref(h);
	CTL_FAIL(&d, 1, "heapctl: info: ", "info", ref_text(ref, gone));
	CTL_FAIL(&d, 1, "heapctl: get: ", "get", ref);
	CTL_FAIL(&d, 1, "heapctl: info: root_get: no root named \"none\"", "info", "none");
	CTL_FAIL(&d, 1, "heapctl: get: root_get: no root named \"none\"", "get", "none");
	assert_int_equal(stats_of(h)->holds, 1);   /* heapctl's holds went with it */
	heapd_close(h);
	daemon_stop(&d);
}

/* g -> A; A.0 -> B, A.1 -> C; B.0 and C.0 -> D (shared); D.0 -> A (a cycle). */
static void dump_graph_of_daemon(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = object(h, 2, "A"), b = object(h, 1, "B"), c = object(h, 1, "C"), dd = object(h, 1, "D");
	assert_int_equal(heapd_set_ref(h, a, 0, b), 0);
	assert_int_equal(heapd_set_ref(h, a, 1, c), 0);
	assert_int_equal(heapd_set_ref(h, b, 0, dd), 0);
	assert_int_equal(heapd_set_ref(h, c, 0, dd), 0);
	assert_int_equal(heapd_set_ref(h, dd, 0, a), 0);
	assert_int_equal(heapd_root_set(h, "g", a), 0);
	char ra[24], rb[24], rc[24], rd[24], want[1024];
	ref_text(ra, a);
	ref_text(rb, b);
	ref_text(rc, c);
	ref_text(rd, dd);
	snprintf(want, sizeof want,
		 "g %s refs 2 bytes 1 \"A\"\n"
		 "  .0 %s refs 1 bytes 1 \"B\"\n"
		 "    .0 %s refs 1 bytes 1 \"D\"\n"
		 "      .0 %s (above)\n"
		 "  .1 %s refs 1 bytes 1 \"C\"\n"
		 "    .0 %s (above)\n",
		 ra, rb, rd, ra, rc, rd);
	CTL_OUT(&d, want, "dump", "g");
	/* by ref: the same walk, named by the ref */
	struct run r;
	ctl(&r, &d, "dump", ra);
	assert_ok(&r);
	assert_int_equal(count_of(r.out, "(above)"), 2);
	assert_int_equal(strncmp(r.out, ra, strlen(ra)), 0);
	run_free(&r);
	/* the depth limit, and the object limit */
	snprintf(want, sizeof want,
		 "g %s refs 2 bytes 1 \"A\"\n"
		 "  .0 %s (below --depth)\n"
		 "  .1 %s (below --depth)\n",
		 ra, rb, rc);
	CTL_OUT(&d, want, "dump", "g", "--depth", "0");
	ctl(&r, &d, "dump", "g", "--max", "2");
	assert_ok(&r);
	assert_int_equal(count_of(r.out, "(past --max)"), 2);   /* C, and D below B */
	run_free(&r);
	/* JSON: each object once, in the walk's order */
	snprintf(want, sizeof want,
		 "{\n  \"root\": \"g\",\n  \"objects\": [\n"
		 "    {\"ref\": \"%s\", \"depth\": 0, \"nbytes\": 1, \"data\": \"41\", \"slots\": [\"%s\", \"%s\"]},\n"
		 "    {\"ref\": \"%s\", \"depth\": 1, \"nbytes\": 1, \"data\": \"42\", \"slots\": [\"%s\"]},\n"
		 "    {\"ref\": \"%s\", \"depth\": 2, \"nbytes\": 1, \"data\": \"44\", \"slots\": [\"%s\"]},\n"
		 "    {\"ref\": \"%s\", \"depth\": 1, \"nbytes\": 1, \"data\": \"43\", \"slots\": [\"%s\"]}\n"
		 "  ],\n  \"complete\": true\n}\n",
		 ra, rb, rc, rb, rd, rd, ra, rc, rd);
	CTL_OUT(&d, want, "dump", "g", "--json");
	ctl(&r, &d, "dump", "g", "--json", "--depth", "1");
	assert_ok(&r);
	assert_int_equal(count_of(r.out, "{\"ref\""), 3);
	assert_contains(r.out, "\"complete\": false");
	run_free(&r);
	/* the walk's holds went with it */
	assert_int_equal(stats_of(h)->holds, 4);
	/* a stale ref, a missing root */
	heapd_ref gone = stale_ref(h);
	CTL_FAIL(&d, 1, "heapctl: dump: ", "dump", ref_text(ra, gone));
	CTL_FAIL(&d, 1, "heapctl: dump: root_get: no root named \"none\"", "dump", "none");
	heapd_close(h);
	daemon_stop(&d);
}

static void clients_and_kill(void **state)
{
	(void)state;
	if (!user_tests_possible())
		return;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", NULL);
	heapd *h = client(&d), *victim = client(&d);
	object(h, 0, "x");
	char pid[32], id[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(id, sizeof id, "%llu", (unsigned long long)heapd_session_id(victim));

	struct run r;
	ctl(&r, &d, "clients");
	assert_ok(&r);
	assert_int_equal(strncmp(r.out, "        ID      PID        UID COMM", 35), 0);
	assert_int_equal(count_of(r.out, "\n"), 4);   /* the header, h, victim, heapctl */
	assert_int_equal(count_of(r.out, "\n*"), 1);   /* heapctl's own, marked */
	assert_contains(r.out, " heapctl ");
	assert_contains(r.out, pid);
	run_free(&r);
	ctl(&r, &d, "clients", "--json");
	assert_ok(&r);
	assert_contains(r.out, "{\n  \"truncated\": false,\n  \"clients\": [\n    {\"id\": ");
	assert_int_equal(count_of(r.out, "\"self\": true"), 1);
	assert_int_equal(count_of(r.out, "\"self\": false"), 2);
	char field[128];
	snprintf(field, sizeof field, "{\"id\": %s, \"pid\": %s, \"uid\": 0", id, pid);
	assert_contains(r.out, field);
	assert_contains(r.out, "\"holds\": 1, ");   /* h's one object */
	run_free(&r);

	/* a non-admin may not kill; an admin may; then the id is gone */
	if (other_may_run_heapctl()) {
		char cmdline[600];
		snprintf(cmdline, sizeof cmdline,
			 "setpriv --reuid=54321 --regid=54321 --clear-groups '%s' -s '%s' client kill %s", heapctl_bin(),
			 d.sock, id);
		run_prog(&r, no_env, "/bin/sh", "-c", cmdline, NULL);
		expect_code(&r, 1, "heapctl: client: ");
		assert_contains(r.err, "admin");
		run_free(&r);
	}
	assert_int_equal(heapd_ping(victim, NULL), 0);   /* still there */

	CTL_OUT(&d, "", "client", "kill", id);
	assert_int_equal(heapd_ping(victim, NULL), HEAPD_EIO);
	CTL_FAIL(&d, 1, "heapctl: client: ", "client", "kill", id);   /* no such id any more */
	CTL_FAIL(&d, 1, "heapctl: client: ", "client", "kill", "999999");
	heapd_close(victim);
	heapd_close(h);
	daemon_stop(&d);
}

static void root_cas(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = object(h, 0, "a"), b = object(h, 0, "b"), got;
	char ra[24], rb[24], line[32];
	ref_text(ra, a);
	ref_text(rb, b);
	/* absent: - (or 0) expected makes it; it named nothing */
	CTL_OUT(&d, "-\n", "root", "cas", "head", "-", ra);
	assert_int_equal(heapd_root_get(h, "head", &got), 0);
	assert_true(got == a);
	/* the expected one: swapped, and what it named is printed */
	snprintf(line, sizeof line, "%s\n", ra);
	CTL_OUT(&d, line, "root", "cas", "head", ra, rb);
	assert_int_equal(heapd_root_get(h, "head", &got), 0);
	assert_true(got == b);
	/* another: exit 1, what it named on stdout (for the retry), nothing changed */
	struct run r;
	ctl(&r, &d, "root", "cas", "head", ra, ra);
	expect_code(&r, 1, "heapctl: root: ");
	snprintf(line, sizeof line, "%s\n", rb);
	assert_string_equal(r.out, line);
	run_free(&r);
	ctl(&r, &d, "root", "cas", "head", "0", ra);   /* "only if absent": it is not */
	expect_code(&r, 1, "heapctl: root: ");
	assert_string_equal(r.out, line);
	run_free(&r);
	assert_int_equal(heapd_root_get(h, "head", &got), 0);
	assert_true(got == b);
	/* NEW - deletes */
	CTL_OUT(&d, line, "root", "cas", "head", rb, "-");
	assert_int_equal(heapd_root_get(h, "head", &got), HEAPD_ENOTFOUND);
	/* a stale NEW: refused, 1, nothing made */
	char rg[24];
	ref_text(rg, stale_ref(h));
	CTL_FAIL(&d, 1, "heapctl: root: ", "root", "cas", "head", "-", rg);
	assert_int_equal(heapd_root_get(h, "head", &got), HEAPD_ENOTFOUND);
	CTL_FAIL(&d, 2, "cas: EXPECTED '--' is not a ref (- or 0 for none)", "root", "cas", "head", "--", ra);
	heapd_close(h);
	daemon_stop(&d);
}

/* root ls goes through the scan to its end: more roots than one scan
 * call looks at, the pattern matched by the daemon. */
static void root_ls_scans(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = object(h, 0, "x");
	char name[32];
	size_t want_len = 0, all_len = 0;
	char *want = calloc(1, 600 * 8), *all = calloc(1, 600 * 8);
	for (int i = 599; i >= 0; i--) {
		snprintf(name, sizeof name, "r%03d", i);
		assert_int_equal(heapd_root_set(h, name, a), 0);
	}
	for (int i = 0; i < 600; i++)   /* sorted, as heapctl prints them */
		all_len += (size_t)sprintf(all + all_len, "r%03d\n", i);
	for (int i = 100; i < 200; i++)
		want_len += (size_t)sprintf(want + want_len, "r%03d\n", i);
	CTL_OUT(&d, all, "root", "ls");
	CTL_OUT(&d, want, "root", "ls", "r1??");
	CTL_OUT(&d, "r007\nr107\nr207\nr307\nr407\nr507\n", "root", "ls", "r?07");
	CTL_OUT(&d, "", "root", "ls", "[");   /* a bad glob matches nothing */
	free(want);
	free(all);
	heapd_close(h);
	daemon_stop(&d);
}

/* du: what each root keeps, as the daemon counts it, largest first;
 * named roots and refs; those missing or unreadable reported. */
static void du_roots(void **state)
{
	(void)state;
	if (!user_tests_possible())
		return;
	struct daemon d;
	start_open_dir(&d, "--socket-mode", "0666", NULL);
	heapd *h = client(&d);
	heapd_ref a, b, c;
	assert_int_equal(heapd_alloc(h, 1, 5000, &a), 0);
	assert_int_equal(heapd_alloc(h, 0, 100, &b), 0);
	assert_int_equal(heapd_alloc(h, 0, 10, &c), 0);
	assert_int_equal(heapd_set_ref(h, a, 0, b), 0);
	assert_int_equal(heapd_root_set(h, "big", a), 0);
	assert_int_equal(heapd_root_set(h, "shared", b), 0);   /* also below big: counted in both */
	assert_int_equal(heapd_root_set(h, "small", c), 0);
	assert_int_equal(heapd_root_chmod(h, "small", 0600), 0);
	uint64_t ob, bb, os, bs, oc, bc;
	assert_int_equal(heapd_root_retained(h, "big", &ob, &bb), 0);
	assert_int_equal(heapd_root_retained(h, "shared", &os, &bs), 0);
	assert_int_equal(heapd_root_retained(h, "small", &oc, &bc), 0);
	assert_true(ob == 2 && os == 1 && oc == 1 && bb > bs && bs > bc);
	char want[512], hb[32], hs[32], hc[32];
	struct run r;
	snprintf(want, sizeof want, "%llu\t2\tbig\n%llu\t1\tshared\n%llu\t1\tsmall\n", (unsigned long long)bb,
		 (unsigned long long)bs, (unsigned long long)bc);
	CTL_OUT(&d, want, "du", "--bytes");
	ctl(&r, &d, "du");   /* human sizes: 4.99K */
	assert_ok(&r);
	snprintf(hb, sizeof hb, "%.2fK\t2\tbig\n", (double)bb / 1024);
	snprintf(hs, sizeof hs, "%lluB\t1\tshared\n", (unsigned long long)bs);
	snprintf(hc, sizeof hc, "%lluB\t1\tsmall\n", (unsigned long long)bc);
	snprintf(want, sizeof want, "%s%s%s", hb, hs, hc);
	assert_string_equal(r.out, want);
	run_free(&r);
	snprintf(want, sizeof want,
		 "{\n  \"roots\": [\n    {\"name\": \"big\", \"objects\": 2, \"bytes\": %llu},\n"
		 "    {\"name\": \"small\", \"objects\": 1, \"bytes\": %llu}\n  ]\n}\n",
		 (unsigned long long)bb, (unsigned long long)bc);
	CTL_OUT(&d, want, "du", "--json", "small", "big");
	/* a ref; a missing root and a stale ref: reported, the rest printed, 1 */
	char ref[24], stale[24];
	snprintf(want, sizeof want, "%llu\t1\t%s\n", (unsigned long long)bs, ref_text(ref, b));
	CTL_OUT(&d, want, "du", "--bytes", ref);
	ref_text(stale, stale_ref(h));
	ctl(&r, &d, "du", "--bytes", "none", stale, "shared");
	expect_code(&r, 1, "heapctl: du: retained: no root named \"none\"");
	assert_contains(r.err, stale);
	snprintf(want, sizeof want, "%llu\t1\tshared\n", (unsigned long long)bs);
	assert_string_equal(r.out, want);
	run_free(&r);
	/* another user: only the roots it may read, and small refused */
	if (!other_may_run_heapctl()) {
		heapd_close(h);
		daemon_stop(&d);
		return;
	}
	char cmdline[600];
	snprintf(cmdline, sizeof cmdline, "setpriv --reuid=54321 --regid=54321 --clear-groups '%s' -s '%s' du --bytes",
		 heapctl_bin(), d.sock);
	run_prog(&r, no_env, "/bin/sh", "-c", cmdline, NULL);
	assert_ok(&r);
	snprintf(want, sizeof want, "%llu\t2\tbig\n%llu\t1\tshared\n", (unsigned long long)bb,
		 (unsigned long long)bs);
	assert_string_equal(r.out, want);
	run_free(&r);
	strcat(cmdline, " small");
	run_prog(&r, no_env, "/bin/sh", "-c", cmdline, NULL);
	expect_fail(&r, 1, "heapctl: du: ");
	run_free(&r);
	CTL_FAIL(&d, 2, "'0' is the null ref", "du", "big", "0");
	heapd_close(h);
	daemon_stop(&d);
}

/* A daemon that stopped answering (SIGSTOP): every command gives up
 * after -t with exit 1 and the library's message, the connect's or the
 * call's. */
static void stopped_daemon(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a = object(h, 1, "x");
	assert_int_equal(heapd_root_set(h, "r", a), 0);
	heapd_close(h);
	static const char *const commands[][5] = {
		{"ping"}, {"stats"}, {"gc"}, {"free-os-memory"}, {"save"}, {"new", "--root", "n", "x"},
		{"get", "r"}, {"put", "r", "y"}, {"link", "r.0", "r"}, {"unlink", "r.0"}, {"seal", "r"}, {"info", "r"},
		{"dump", "r"}, {"du"}, {"du", "r"}, {"roots"}, {"root", "get", "r"}, {"root", "ls"}, {"root", "cas", "r", "-", "-"},
		{"root", "chmod", "0600", "r"}, {"uids"}, {"clients"}, {"client", "kill", "1"},
		{"top", "-n", "1"}, {"bench", "-n", "10", "-q"},
	};
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const char *const *c = commands[i];
		struct run r;
		uint64_t t0 = mono_ns();
		ctl_env(&r, no_env, d.sock, "-t", "300", c[0], c[1], c[2], c[3], c[4], NULL);
		uint64_t ms = (mono_ns() - t0) / 1000000;
		if (r.code != 1 || !contains(r.err, "within 300 ms") || ms > 5000)
			fail_msg("%s: exit %d after %llu ms, stderr:\n%s", c[0], r.code, (unsigned long long)ms, r.err);
		run_free(&r);
	}
	assert_int_equal(kill(d.pid, SIGCONT), 0);

	/* a session that connected, then the daemon stopped: the call's
	 * timeout; the next command connects again */
	int in[2];
	assert_int_equal(pipe(in), 0);
	int out[2];
	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		execl(heapctl_bin(), heapctl_bin(), "-s", d.sock, "-t", "300", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	assert_int_equal(write(in[1], "ping\n", 5), 5);
	char buf[2048];
	size_t len = 0;
	while (!memchr(buf, '\n', len) && len < sizeof buf - 1) {
		ssize_t n = read(out[0], buf + len, sizeof buf - 1 - len);
		assert_true(n > 0);
		len += (size_t)n;
	}
	buf[len] = '\0';
	assert_contains(buf, "PONG");
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	uint64_t t0 = mono_ns();
	assert_int_equal(write(in[1], "stats\n", 6), 6);
	close(in[1]);
	for (ssize_t n; len < sizeof buf - 1 && (n = read(out[0], buf + len, sizeof buf - 1 - len)) > 0;)
		len += (size_t)n;
	buf[len] = '\0';
	close(out[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	assert_true(mono_ns() - t0 < 5000000000u);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_contains(buf, "heapctl: stats: request");
	assert_contains(buf, "within 300 ms");
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_and_info),  cmocka_unit_test(dump_graph_of_daemon),
		cmocka_unit_test(clients_and_kill), cmocka_unit_test(root_cas),
		cmocka_unit_test(root_ls_scans), cmocka_unit_test(du_roots),
		cmocka_unit_test(stopped_daemon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
