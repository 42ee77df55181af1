/*
 * test_heapctl_data.c - heapctl's commands on the data (new, get, put,
 * link, unlink, root set|get|del|ls), its sessions (commands piped in on
 * stdin, a prompt on a pseudo-terminal) and the way it ends when its
 * reader goes (top | head -1), against a real heapd. A libheapd client
 * sets state up and checks what each command did; bad input (bad refs and
 * numbers, missing roots, stale refs, oversize data, no daemon) must give
 * the documented exit code and a message that says what was wrong.
 */
#include <pty.h>

#include "daemonutil.h"
#include "runutil.h"
#include "ctlutil.h"

/* A file in d's directory holding len bytes of data; its path in path. */
static void data_file(const struct daemon *d, const char *name, const void *data, size_t len, char path[160])
{
	snprintf(path, 160, "%s/%s", d->dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The ref heapctl printed: one line, 0x and hex. */
static heapd_ref printed_ref(const struct run *r)
{
	unsigned long long v;
	char end[4] = "";
	if (strncmp(r->out, "0x", 2) != 0 || sscanf(r->out, "0x%llx%3s", &v, end) != 1 ||
	    r->out[r->out_len - 1] != '\n' || count_of(r->out, "\n") != 1)
		fail_msg("not a ref: '%s'", r->out);
	return (heapd_ref)v;
}

/* ------------------------------------------------------------- tests */

static void new_get_put(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	struct run r;
	char line[24], arg[24];
	ctl(&r, &d, "new", "--root", "greeting", "hello");
	assert_ok(&r);
	heapd_ref ref = printed_ref(&r);
	run_free(&r);

	/* the root names it, and it outlived heapctl's connection */
	heapd_ref got;
	assert_int_equal(heapd_root_get(h, "greeting", &got), 0);
	assert_true(got == ref);
	char buf[16] = "";
	assert_int_equal(heapd_read(h, ref, 0, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(heapd_read(h, ref, 0, buf, 6), HEAPD_ERANGE); /* --bytes: the data's length */
	assert_int_equal(heapd_set_ref(h, ref, 0, ref), HEAPD_ERANGE);  /* --refs: 0 */

	CTL_OUT(&d, ref_line(line, ref), "root", "get", "greeting");
	/* by root name, by ref in hex and in decimal, raw */
	CTL_OUT(&d, "hello", "get", "greeting", "--length", "5");
	snprintf(arg, sizeof arg, "0x%llx", (unsigned long long)ref);
	CTL_OUT(&d, "hello", "get", arg, "--length", "5");
	snprintf(arg, sizeof arg, "%llu", (unsigned long long)ref);
	CTL_OUT(&d, "ell", "get", arg, "--offset", "1", "--length", "3");
	CTL_OUT(&d, "68656c6c6f\n", "get", "greeting", "--length", "5", "--hex");
	CTL_OUT(&d, "", "get", "root:greeting", "--length", "0");

	/* put: at an offset, from an argument, then from stdin, with a NUL */
	CTL_OUT(&d, "", "put", "greeting", "--offset", "1", "EL");
	CTL_OUT(&d, "hELlo", "get", "greeting", "--length", "5");
	char in[160];
	data_file(&d, "in", "\\\n\0\x7f" "x", 5, in);
	ctl_in(&r, &d, in, "put", "greeting", "-", NULL);
	assert_ok(&r);
	run_free(&r);
	CTL_OUT(&d, "\\\\\\n\\x00\\x7fx\n", "get", "greeting", "--length", "5", "--escaped");
	ctl(&r, &d, "get", "greeting", "--length", "5");
	assert_ok(&r);
	assert_int_equal(r.out_len, 5);
	assert_memory_equal(r.out, "\\\n\0\x7f" "x", 5);
	run_free(&r);

	/* new: --bytes beyond the data (zeros), --refs, data from a file and stdin */
	ctl(&r, &d, "new", "--refs", "2", "--bytes", "4", "--root", "padded", "ab");
	assert_ok(&r);
	heapd_ref padded = printed_ref(&r);
	run_free(&r);
	CTL_OUT(&d, "61620000\n", "get", "padded", "--length", "4", "--hex");
	assert_int_equal(heapd_set_ref(h, padded, 1, ref), 0);
	assert_int_equal(heapd_set_ref(h, padded, 2, ref), HEAPD_ERANGE);
	ctl(&r, &d, "new", "--root", "fromfile", "--file", in);
	assert_ok(&r);
	run_free(&r);
	CTL_OUT(&d, "5c0a007f78\n", "get", "fromfile", "--length", "5", "--hex");
	ctl_in(&r, &d, in, "new", "--root", "fromstdin", "-", NULL);
	assert_ok(&r);
	run_free(&r);
	CTL_OUT(&d, "5c0a007f78\n", "get", "fromstdin", "--length", "5", "--hex");
	/* an empty object */
	ctl(&r, &d, "new", "--root", "empty");
	assert_ok(&r);
	run_free(&r);
	CTL_OUT(&d, "", "get", "empty", "--length", "0");

	/* data larger than a frame goes in pieces */
	size_t big = (size_t)heapd_max_frame(h) + 1000;
	char *data = malloc(big), *back = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 26);
	char bigfile[160];
	data_file(&d, "big", data, big, bigfile);
	ctl(&r, &d, "new", "--root", "big", "--file", bigfile);
	assert_ok(&r);
	heapd_ref bigref = printed_ref(&r);
	run_free(&r);
	assert_int_equal(heapd_read(h, bigref, 0, back, 4096), 0);
	assert_int_equal(heapd_read(h, bigref, (uint32_t)big - 4096, back + big - 4096, 4096), 0);
	assert_memory_equal(back + big - 4096, data + big - 4096, 4096);
	char length[24];
	snprintf(length, sizeof length, "%zu", big);
	ctl(&r, &d, "get", "big", "--length", length);
	assert_ok(&r);
	assert_int_equal(r.out_len, big);
	assert_memory_equal(r.out, data, big);
	run_free(&r);
	free(data);
	free(back);

	/* the holds heapctl took went with it: only the roots keep these */
	assert_int_equal(stats_of(h)->holds, 1);   /* this client's root_get */
	unlink(in);
	unlink(bigfile);
	heapd_close(h);
	daemon_stop(&d);
}

static void link_unlink(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	struct run r;
	char text[24];
	ctl(&r, &d, "new", "--refs", "2", "--root", "list");
	assert_ok(&r);
	heapd_ref list = printed_ref(&r);
	run_free(&r);
	/* --into a slot: held by the slot, not by a root */
	ctl(&r, &d, "new", "--into", "list.0", "first");
	assert_ok(&r);
	heapd_ref first = printed_ref(&r);
	run_free(&r);
	heapd_ref got;
	assert_int_equal(heapd_get_ref(h, list, 0, &got), 0);
	assert_true(got == first);
	snprintf(text, sizeof text, "0x%llx.1", (unsigned long long)list);
	ctl(&r, &d, "new", "--into", text, "second");
	assert_ok(&r);
	heapd_ref second = printed_ref(&r);
	run_free(&r);
	assert_int_equal(heapd_get_ref(h, list, 1, &got), 0);
	assert_true(got == second);

	/* link by ref and by root name; unlink */
	snprintf(text, sizeof text, "0x%llx", (unsigned long long)first);
	CTL_OUT(&d, "", "link", "list.1", text);
	assert_int_equal(heapd_get_ref(h, list, 1, &got), 0);
	assert_true(got == first);
	CTL_OUT(&d, "", "link", "root:list.1", "list");   /* a cycle is fine */
	assert_int_equal(heapd_get_ref(h, list, 1, &got), 0);
	assert_true(got == list);
	CTL_OUT(&d, "", "unlink", "list.0");
	assert_int_equal(heapd_get_ref(h, list, 0, &got), 0);
	assert_true(got == 0);

	/* first and second are garbage now (get_ref's holds go with h): their
	 * refs are stale */
	heapd_close(h);
	h = client(&d);
	assert_int_equal(heapd_gc(h), 0);
	CTL_FAIL(&d, 1, "heapctl: get: ", "get", text, "--length", "1");
	CTL_FAIL(&d, 1, "heapctl: link: ", "link", "list.0", text);
	snprintf(text, sizeof text, "0x%llx.0", (unsigned long long)second);
	CTL_FAIL(&d, 1, "heapctl: unlink: ", "unlink", text);
	/* a slot past the object's */
	CTL_FAIL(&d, 1, "heapctl: unlink: ", "unlink", "list.2");
	CTL_FAIL(&d, 1, "heapctl: new: ", "new", "--into", "list.7", "x");
	heapd_close(h);
	daemon_stop(&d);
}

static void roots(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a;
	char line[24], text[24];
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	snprintf(text, sizeof text, "%llu", (unsigned long long)a);
	CTL_OUT(&d, "", "root", "set", "apple", text);
	CTL_OUT(&d, "", "root", "set", "avocado", "apple");   /* a root name: the same object */
	CTL_OUT(&d, "", "root", "set", "banana", "root:apple");
	CTL_OUT(&d, ref_line(line, a), "root", "get", "avocado");
	CTL_OUT(&d, "apple\navocado\nbanana\n", "root", "ls");
	CTL_OUT(&d, "apple\navocado\n", "root", "ls", "a*");
	CTL_OUT(&d, "banana\n", "root", "ls", "?anana");
	CTL_OUT(&d, "", "root", "ls", "cherry*");
	CTL_OUT(&d, "", "root", "del", "apple");
	CTL_OUT(&d, "avocado\nbanana\n", "root", "ls");
	heapd_ref got;
	assert_int_equal(heapd_root_get(h, "apple", &got), HEAPD_ENOTFOUND);
	/* missing roots */
	CTL_FAIL(&d, 1, "apple", "root", "del", "apple");
	CTL_FAIL(&d, 1, "heapctl: root: ", "root", "get", "apple");
	CTL_FAIL(&d, 1, "heapctl: get: ", "get", "apple", "--length", "1");
	CTL_FAIL(&d, 1, "heapctl: root: ", "root", "set", "x", "apple");
	assert_int_equal(stats_of(h)->holds, 1);   /* heapctl's holds went with it */
	heapd_close(h);
	daemon_stop(&d);
}

static void bad_input(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	struct run r;
	ctl(&r, &d, "new", "--refs", "1", "--root", "obj", "abc");
	assert_ok(&r);
	run_free(&r);
	/* usage: 2, before connecting */
	CTL_FAIL(&d, 2, "heapctl: link: 'obj.x': expected REF.SLOT", "link", "obj.x", "obj");
	CTL_FAIL(&d, 2, "expected REF.SLOT", "unlink", "obj");
	CTL_FAIL(&d, 2, "expected REF.SLOT", "unlink", "obj.-1");
	CTL_FAIL(&d, 2, "'0xzz' is neither a ref", "get", "0xzz", "--length", "1");
	CTL_FAIL(&d, 2, "'0' is the null ref", "get", "0", "--length", "1");
	CTL_FAIL(&d, 2, "'0' is the null ref", "link", "obj.0", "0");
	CTL_FAIL(&d, 2, "'99999999999999999999' is neither", "put", "99999999999999999999", "x");
	CTL_FAIL(&d, 2, "--refs 'many': a whole number", "new", "--refs", "many", "--root", "x");
	CTL_FAIL(&d, 2, "--offset '-1': a whole number", "put", "obj", "--offset", "-1", "x");
	CTL_FAIL(&d, 2, "--length '4294967296'", "get", "obj", "--length", "4294967296");
	CTL_FAIL(&d, 2, "--root NAME or --into REF.SLOT", "new", "x");
	CTL_FAIL(&d, 2, "--root NAME or --into REF.SLOT", "new", "--root", "a", "--into", "obj.0", "x");
	CTL_FAIL(&d, 2, "3 bytes of data do not fit in --bytes 2", "new", "--bytes", "2", "--root", "a", "abc");
	CTL_FAIL(&d, 2, "unexpected argument 'more'", "new", "--root", "a", "x", "more");
	CTL_FAIL(&d, 2, "choose one of --hex and --escaped", "get", "obj", "--hex", "--escaped", "--length", "1");
	CTL_FAIL(&d, 2, "expected REF|ROOTNAME", "get");
	CTL_FAIL(&d, 2, "expected REF|ROOTNAME and DATA", "put", "obj");
	CTL_FAIL(&d, 2, "expected set, get, del, ls, cas", "root", "frob");
	CTL_FAIL(&d, 2, "expected get NAME", "root", "get");
	CTL_FAIL(&d, 2, "expected ls [PATTERN]", "root", "ls", "a", "b");
	CTL_FAIL(&d, 2, "heapctl: new: unrecognized option '--bogus'\nTry 'heapctl new --help'.\n", "new", "--bogus");
	CTL_FAIL(&d, 2, "heapctl: get: option '--offset' requires an argument\nTry 'heapctl get --help'.\n", "get", "x",
		 "--offset");
	CTL_FAIL(&d, 1, "heapctl: new: nofile: No such file", "new", "--root", "a", "--file", "nofile");
	/* without --length: to the end of the data */
	CTL_OUT(&d, "abc", "get", "obj");
	CTL_OUT(&d, "c", "get", "obj", "--offset", "2");
	CTL_FAIL(&d, 1, "--offset 4 is past the end of the object's 3 data bytes", "get", "obj", "--offset", "4");
	/* the daemon's refusals: 1 */
	CTL_FAIL(&d, 1, "heapctl: put: ", "put", "obj", "--offset", "2", "xy");   /* past the end */
	CTL_FAIL(&d, 1, "heapctl: get: ", "get", "obj", "--offset", "1", "--length", "3");
	CTL_FAIL(&d, 1, "max_object_size", "new", "--bytes", "4294967295", "--root", "huge");
	CTL_FAIL(&d, 1, "max_object_size", "new", "--refs", "4294967295", "--root", "huge");
	CTL_FAIL(&d, 1, "heapctl: get: ", "get", "0x1f00000003", "--length", "1");   /* forged */
	CTL_FAIL(&d, 1, "heapctl: new: ", "new", "--root", "", "x");   /* an empty root name */
	/* nothing was made by the refused ones */
	CTL_OUT(&d, "obj\n", "root", "ls");
	daemon_stop(&d);

	/* bad arguments are found before connecting: usage, 2, even with no daemon */
	static const char *const no_daemon_usage[][6] = {
		{"get", "0xzz", "--length", "1", NULL},
		{"link", "x.y", "z", NULL},
		{"link", "x.0", "0", NULL},
		{"new", "--into", "0.0", "x", NULL},
		{"new", "--into", "x", "x", NULL},
		{"put", "", "x", NULL},
		{"root", "set", "a", "0", NULL},
		{"dump", "0x", NULL},
		{"info", "root:", NULL},
	};
	for (size_t i = 0; i < sizeof no_daemon_usage / sizeof no_daemon_usage[0]; i++) {
		const char *const *a = no_daemon_usage[i];
		struct run u;
		ctl_env(&u, no_env, "/nonexistent/heapd.sock", a[0], a[1], a[2], a[3], a[4], NULL);
		if (u.code != 2)
			fail_msg("%s %s: exit %d, stderr:\n%s", a[0], a[1], u.code, u.err);
		assert_contains(u.err, "Try 'heapctl ");
		assert_null(strstr(u.err, "nonexistent"));
		run_free(&u);
	}
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	struct run r2;
	ctl_env(&r2, no_env, "/nonexistent/heapd.sock", "get", longname, "--length", "1", NULL);
	expect_fail(&r2, 2, "a root name is 255 bytes at most");
	run_free(&r2);

	/* no daemon: an error, 1, naming the command */
	ctl_env(&r2, no_env, "/nonexistent/heapd.sock", "get", "obj", "--length", "1", NULL);
	expect_fail(&r2, 1, "heapctl: get: ");
	run_free(&r2);
	ctl_env(&r2, no_env, "/nonexistent/heapd.sock", "root", "ls", NULL);
	expect_fail(&r2, 1, "heapctl: root: ");
	run_free(&r2);
}

/* Commands piped in: one connection, each line's output in order, a bad
 * line reported without ending the rest. */
static void script_on_stdin(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	static const char script[] =
		"# make one, read it back\n"
		"new --root s 'hello world'\n"
		"\n"
		"get s --length 11\n"
		"put s \"HE\\\"LO\"\n"
		"get s --length 11 --escaped\n"
		"get missing --length 1\n"
		"put s 'unfinished\n"
		"new --root t -\n"
		"root ls\n"
		"nosuchcommand\n"
		"help get\n"
		"root del s\n"
		"quit\n"
		"ping\n";
	char in[160];
	data_file(&d, "script", script, sizeof script - 1, in);
	struct run r;
	ctl_in(&r, &d, in, NULL);
	assert_int_equal(r.code, 2);   /* the last line that failed: nosuchcommand */
	const char *p = r.out;
	assert_true(strncmp(p, "0x", 2) == 0);
	p = strchr(p, '\n') + 1;
	if (strncmp(p, "hello worldHE\"LO world\ns\n", 25) != 0)
		fail_msg("output: %s", r.out);
	assert_contains(r.out, "Usage: heapctl [-s SOCKET] get REF|ROOTNAME");
	assert_null(strstr(r.out, "PONG"));   /* nothing ran after quit */
	assert_contains(r.err, "heapctl: get: root_get: no root named \"missing\"");
	assert_contains(r.err, "heapctl: no closing ' in the line");
	assert_contains(r.err, "heapctl: new: stdin holds the commands");
	assert_contains(r.err, "heapctl: unknown command 'nosuchcommand'");
	run_free(&r);
	/* one connection for all the lines (the daemon logs each one's start) */
	assert_int_equal(count_text(d.log, "heapctl, pid"), 1);
	heapd *h = client(&d);
	heapd_ref got;
	assert_int_equal(heapd_root_get(h, "s", &got), HEAPD_ENOTFOUND);
	heapd_close(h);

	/* what failed commands held is let go: after them, the session holds nothing */
	static const char failing[] =
		"new --refs 1 --root f abc\n"
		"get f --offset 5 --length 1\n"
		"put f --offset 9 x\n"
		"link f.3 f\n"
		"new --into f.4 x\n"
		"get f --length 3\n"
		"stats\n";
	char in2[160];
	data_file(&d, "failing", failing, sizeof failing - 1, in2);
	ctl_in(&r, &d, in2, NULL);
	assert_int_equal(r.code, 1);
	assert_int_equal(count_of(r.err, "\n"), 4);
	assert_contains(r.out, "\nabc# Memory");
	assert_contains(r.out, "\nholds:0\n");
	assert_contains(r.out, "\nsessions:1\n");
	run_free(&r);
	unlink(in2);

	/* an empty stdin: nothing to do */
	ctl_in(&r, &d, "/dev/null", NULL);
	assert_ok(&r);
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	/* no daemon: each line fails, the status says so */
	struct run r2;
	char *argv[] = {(char *)heapctl_bin(), "-s", "/nonexistent/heapd.sock", NULL};
	run_env_in(&r2, no_env, argv, in);
	assert_int_equal(r2.code, 1);   /* the last line that failed: root del s */
	assert_contains(r2.err, "heapctl: new: ");
	run_free(&r2);
	unlink(in);
	daemon_stop(&d);
}

/* Reads from fd until out holds needle (or 10 s pass); 1 if it came. */
static int pty_wait(int fd, char *out, size_t size, size_t *len, const char *needle)
{
	for (int waited = 0; waited < 10000; waited += 50) {
		if (contains(out, needle))
			return 1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) == 1) {
			ssize_t n = read(fd, out + *len, size - *len - 1);
			if (n <= 0)
				return contains(out, needle);
			*len += (size_t)n;
			out[*len] = '\0';
		}
	}
	return contains(out, needle);
}

/* On a terminal: a prompt, line editing, a history kept in a file. */
static void interactive(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	assert_int_equal(heapd_root_set(h, "config", a), 0);
	char hist[160], env[200];
	snprintf(hist, sizeof hist, "%s/history", d.dir);
	snprintf(env, sizeof env, "HEAPCTL_HISTFILE=%s", hist);
	int fd;
	pid_t pid = forkpty(&fd, NULL, NULL, NULL);
	assert_true(pid >= 0);
	if (pid == 0) {
		putenv(env);
		setenv("TERM", "dumb", 1);
		execl(heapctl_bin(), heapctl_bin(), "-s", d.sock, (char *)NULL);
		_exit(127);
	}
	static char out[65536];
	size_t len = 0;
	out[0] = '\0';
	assert_true(pty_wait(fd, out, sizeof out, &len, "heapctl> "));
	/* a typo mended with backspaces: line editing */
	const char typed[] = "root gte\b\bet config\r";
	assert_int_equal(write(fd, typed, sizeof typed - 1), (ssize_t)sizeof typed - 1);
	char want[24];
	snprintf(want, sizeof want, "0x%llx", (unsigned long long)a);
	if (!pty_wait(fd, out, sizeof out, &len, want))
		fail_msg("no %s in:\n%s", want, out);
	assert_int_equal(write(fd, "quit\r", 5), 5);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd);
	char *saved = slurp(hist);
	assert_non_null(saved);
	/* libedit writes a space as \040 */
	if (!contains(saved, "root get config") && !contains(saved, "root\\040get\\040config"))
		fail_msg("history: %s", saved);
	free(saved);
	unlink(hist);
	heapd_close(h);
	daemon_stop(&d);
}

/* top | head -1: heapctl ends quietly when its reader goes, with 0, not
 * killed by SIGPIPE; and its header says 1 session, not 1 sessions. */
static void top_reader_gone(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref a;
	assert_int_equal(heapd_alloc(h, 0, 8, &a), 0);
	assert_int_equal(heapd_root_set(h, "one", a), 0);
	assert_int_equal(heapd_release(h, a), 0);
	heapd_close(h);

	int po[2];
	assert_int_equal(pipe(po), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 2);
		dup2(po[1], 1);
		close(po[0]);
		execl(heapctl_bin(), heapctl_bin(), "-s", d.sock, "top", "-i", "0.1", (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	char first[256];
	size_t n = 0;
	while (n < sizeof first - 1 && read(po[0], first + n, 1) == 1 && first[n] != '\n')
		n++;
	first[n] = '\0';
	close(po[0]);   /* as head -1 does */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("top died of signal %d", WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_contains(first, "  1 session  1 named root  0 holds  ");

	/* the same with stderr captured: nothing said */
	struct run r;
	char cmd[400];
	snprintf(cmd, sizeof cmd, "'%s' -s '%s' top -i 0.1 | head -1 >/dev/null", heapctl_bin(), d.sock);
	run_prog(&r, no_env, "/bin/sh", "-c", cmd, NULL);
	assert_ok(&r);
	run_free(&r);
	daemon_stop(&d);
}

static void timeout_option(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	CTL_OUT(&d, "", "root", "ls");
	CTL_OUT(&d, "", "-t", "0", "root", "ls");
	CTL_OUT(&d, "", "--timeout", "2500", "root", "ls");
	CTL_FAIL(&d, 2, "heapctl: -t 'soon': milliseconds", "-t", "soon", "root", "ls");
	CTL_FAIL(&d, 2, "Try 'heapctl --help'.", "-t", "-5", "root", "ls");
	daemon_stop(&d);
}

/* info, du, dump, clients, client kill, root cas: their arguments, and
 * what they do with missing objects (what they print is
 * test_heapctl_inspect.c's). */
static void inspect_usage(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	CTL_FAIL(&d, 2, "heapctl: info: expected REF|ROOTNAME", "info");
	CTL_FAIL(&d, 2, "unexpected argument 'b'", "info", "a", "b");
	CTL_FAIL(&d, 2, "'0x' is neither a ref", "info", "0x");
	CTL_FAIL(&d, 2, "Try 'heapctl info --help'.", "info", "a", "--hex");
	CTL_FAIL(&d, 2, "heapctl: dump: expected ROOT", "dump");
	CTL_FAIL(&d, 2, "--depth '1001': a whole number from 0 to 1000", "dump", "a", "--depth", "1001");
	CTL_FAIL(&d, 2, "--max 'all'", "dump", "a", "--max", "all");
	CTL_FAIL(&d, 2, "--data '4097'", "dump", "a", "--data", "4097");
	CTL_FAIL(&d, 2, "unexpected argument 'x'", "clients", "x");
	CTL_FAIL(&d, 2, "heapctl: client: expected kill ID", "client", "list", "1");
	CTL_FAIL(&d, 2, "expected kill ID", "client", "kill");
	CTL_FAIL(&d, 2, "'0' is not a client id", "client", "kill", "0");
	CTL_FAIL(&d, 2, "'abc' is not a client id", "client", "kill", "abc");
	CTL_FAIL(&d, 2, "expected cas NAME EXPECTED NEW", "root", "cas", "a", "0");
	CTL_FAIL(&d, 2, "cas: EXPECTED 'x' is not a ref (- or 0 for none)", "root", "cas", "a", "x", "0");
	CTL_FAIL(&d, 2, "cas: NEW '-1' is not a ref", "root", "cas", "a", "0", "-1");
	/* missing roots, stale refs */
	CTL_FAIL(&d, 1, "heapctl: info: root_get: no root named \"nothing\"", "info", "nothing");
	CTL_FAIL(&d, 1, "heapctl: dump: root_get: no root named \"nothing\"", "dump", "nothing");
	daemon_stop(&d);
	struct run r;
	ctl_env(&r, no_env, "/nonexistent/heapd.sock", "clients", NULL);
	expect_fail(&r, 1, "heapctl: clients: ");
	run_free(&r);
}

/* seal by root name and by ref: writes fail from then on, reads and
 * info still work, a second seal is no error; usage and a stale ref. */
static void seal(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	struct run r;
	char text[24];
	ctl(&r, &d, "new", "--refs", "1", "--root", "frozen", "abc");
	assert_ok(&r);
	heapd_ref obj = printed_ref(&r);
	run_free(&r);
	CTL_OUT(&d, "", "seal", "frozen");
	struct heapd_object_info info;
	assert_int_equal(heapd_object_info(h, obj, &info), 0);
	assert_int_equal(info.sealed, 1);
	CTL_OUT(&d, "", "seal", ref_text(text, obj));
	CTL_FAIL(&d, 1, "heapctl: put: ", "put", "frozen", "x");
	CTL_FAIL(&d, 1, "heapctl: link: ", "link", "frozen.0", "frozen");
	CTL_OUT(&d, "abc", "get", "frozen");
	CTL_FAIL(&d, 2, "heapctl: seal: expected REF|ROOTNAME", "seal");
	CTL_FAIL(&d, 2, "heapctl: seal: expected REF|ROOTNAME", "seal", "a", "b");
	CTL_FAIL(&d, 2, "'0' is the null ref", "seal", "0");
	CTL_FAIL(&d, 1, "heapctl: seal: root_get: no root named \"nothing\"", "seal", "nothing");
	assert_int_equal(heapd_root_set(h, "frozen", 0), 0);
	heapd_close(h);
	h = client(&d);
	assert_int_equal(heapd_gc(h), 0);
	CTL_FAIL(&d, 1, "heapctl: seal: ", "seal", text);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_get_put),     cmocka_unit_test(link_unlink),
		cmocka_unit_test(seal),
		cmocka_unit_test(roots),           cmocka_unit_test(bad_input),
		cmocka_unit_test(script_on_stdin), cmocka_unit_test(interactive),
		cmocka_unit_test(top_reader_gone), cmocka_unit_test(timeout_option),
		cmocka_unit_test(inspect_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
