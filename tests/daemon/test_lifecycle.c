/*
 * test_lifecycle.c - heapd's life: its command line, what it finds at the
 * socket path when it starts, the socket's mode, a reload on SIGHUP, a
 * graceful stop on SIGTERM and SIGINT, a client killed with SIGKILL, and
 * the mark workers its first line reports.
 */
#include "daemonutil.h"
#include "runutil.h"

static const char *heapd_bin(void)
{
	return env_or("HEAPD_BIN", "daemon/heapd");
}

/* heapd's whole run, for the runs that end by themselves. */
#define heapd_run(r, ...) run_prog((r), NULL, heapd_bin(), __VA_ARGS__, NULL)

/* ------------------------------------------------- (a) the command line */

static void command_line(void **state)
{
	(void)state;
	struct run r;
	heapd_run(&r, "--help");
	assert_int_equal(r.code, 0);
	assert_true(strncmp(r.out, "Usage: heapd ", 13) == 0);
	assert_contains(r.out, "--socket-mode");
	assert_contains(r.out, "--check-config");
	assert_int_equal(r.err_len, 0);
	run_free(&r);
	heapd_run(&r, "-h");
	assert_int_equal(r.code, 0);
	assert_true(strncmp(r.out, "Usage: heapd ", 13) == 0);
	run_free(&r);
	heapd_run(&r, "--version");
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "heapd " PACKAGE_VERSION "\n");
	assert_int_equal(r.err_len, 0);
	run_free(&r);
	heapd_run(&r, "-V");
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "heapd " PACKAGE_VERSION "\n");
	run_free(&r);

	/* --check-config: a valid file, checked and not served */
	struct daemon d;
	daemon_prepare(&d);
	char conf[160], text[512];
	snprintf(conf, sizeof conf, "%s/heapd.conf", d.dir);
	snprintf(text, sizeof text,
		 "# a comment\n"
		 "socket = %s\n"
		 "socket_mode = 0640\n"
		 "max_heap = 64M   # trailing comment\n"
		 "gc_percent = off\n"
		 "\n"
		 "max_holds_per_session = 5\n"
		 "log_level = warn\n",
		 d.sock);
	write_file(conf, text);
	heapd_run(&r, "--config", conf, "--check-config");
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "heapd: configuration is valid\n");
	assert_int_equal(r.err_len, 0);
	assert_int_equal(access(d.sock, F_OK), -1); /* nothing bound */
	run_free(&r);

	/* an invalid one: exit 2, FILE:LINE: what is wrong */
	char want[256];
	write_file(conf, "max_heap = 64M\n\nmax_heap_typo = 3\n");
	heapd_run(&r, "--config", conf, "--check-config");
	assert_int_equal(r.code, 2);
	snprintf(want, sizeof want, "heapd: %s:3: unknown key 'max_heap_typo'\n", conf);
	assert_string_equal(r.err, want);
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	write_file(conf, "# bad value\nmax_heap = lots\n");
	heapd_run(&r, "--config", conf, "--check-config");
	assert_int_equal(r.code, 2);
	snprintf(want, sizeof want, "%s:2: max_heap 'lots' is not a size", conf);
	assert_contains(r.err, want);
	run_free(&r);
	write_file(conf, "gc_percent = 50\ngc_percent = 60\n");
	heapd_run(&r, "--config", conf, "--check-config");
	assert_int_equal(r.code, 2);
	snprintf(want, sizeof want, "%s:2: gc_percent is set twice (first on line 1)", conf);
	assert_contains(r.err, want);
	run_free(&r);
	/* the same file without --check-config does not start either */
	heapd_run(&r, "--config", conf, "--socket", d.sock);
	assert_int_equal(r.code, 2);
	assert_contains(r.err, ":2: gc_percent is set twice");
	assert_int_equal(access(d.sock, F_OK), -1);
	run_free(&r);
	/* a flag's value is checked too, and names the flag */
	heapd_run(&r, "--config", "/dev/null", "--max-heap", "1K", "--check-config");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "--max-heap '1K' is out of range");
	run_free(&r);
	/* a --config file that is missing */
	snprintf(text, sizeof text, "%s/missing.conf", d.dir);
	heapd_run(&r, "--config", text, "--check-config");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "cannot open config file");
	assert_contains(r.err, text);
	run_free(&r);
	unlink(conf);
	daemon_clear_state(&d);
	rmdir(d.dir);

	/* unknown flags and stray arguments: exit 2 */
	heapd_run(&r, "--bogus");
	assert_int_equal(r.code, 2);
	assert_string_equal(r.err, "heapd: unknown option '--bogus'\n");
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	heapd_run(&r, "-x");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "unknown option '-x'");
	run_free(&r);
	heapd_run(&r, "--config", "/dev/null", "stray");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "unexpected argument 'stray'");
	run_free(&r);
	heapd_run(&r, "--max-heap");
	assert_int_equal(r.code, 2);
	assert_contains(r.err, "needs a value");
	run_free(&r);
}

/* ---------------------------------------- (b)-(d) what is at the path */


/* (b) A socket file nobody listens on, as a crash leaves it, is replaced. */
static void stale_socket(void **state)
{
	(void)state;
	struct daemon d;
	daemon_prepare(&d);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d.sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	struct stat before, after;
	assert_int_equal(lstat(d.sock, &before), 0);
	assert_true(S_ISSOCK(before.st_mode));

	daemon_spawn(&d, NULL);
	assert_true(wait_for_text(d.log, "serving", 2000));
	char want[200];
	snprintf(want, sizeof want, "removed the stale socket %s", d.sock);
	assert_int_equal(count_text(d.log, want), 1);
	assert_int_equal(lstat(d.sock, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	heapd *h = client(&d);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* (c) A live daemon on the path: a second one exits 1, and the first
 * keeps its socket and serves on. */
static void live_daemon(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref kept;
	assert_int_equal(heapd_alloc(h, 0, 8, &kept), 0);
	struct stat before, after;
	assert_int_equal(lstat(d.sock, &before), 0);

	struct run r;
	heapd_run(&r, "--config", "/dev/null", "--state-dir", "", "--socket", d.sock);
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "another heapd is serving");
	assert_contains(r.err, d.sock);
	assert_int_equal(r.out_len, 0);
	run_free(&r);

	assert_int_equal(lstat(d.sock, &after), 0);
	assert_true(after.st_ino == before.st_ino);
	assert_int_equal(heapd_ping(h, NULL), 0); /* the old connection */
	char buf[1];
	assert_int_equal(heapd_read(h, kept, 0, buf, 1), 0);
	heapd *h2 = client(&d); /* and new ones */
	assert_int_equal(heapd_ping(h2, NULL), 0);
	heapd_close(h2);
	heapd_close(h);
	daemon_stop(&d);
}

/* (d) A file that is not a socket is never replaced. */
static void regular_file(void **state)
{
	(void)state;
	struct daemon d;
	daemon_prepare(&d);
	write_file(d.sock, "precious data\n");
	struct stat before, after;
	assert_int_equal(lstat(d.sock, &before), 0);

	struct run r;
	heapd_run(&r, "--config", "/dev/null", "--state-dir", "", "--socket", d.sock);
	assert_int_equal(r.code, 1);
	char want[200];
	snprintf(want, sizeof want, "%s exists and is not a socket", d.sock);
	assert_contains(r.err, want);
	run_free(&r);

	assert_int_equal(lstat(d.sock, &after), 0);
	assert_true(S_ISREG(after.st_mode));
	assert_true(after.st_ino == before.st_ino);
	assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	char *text = slurp(d.sock);
	assert_string_equal(text, "precious data\n");
	free(text);

	/* nor is a directory, or a symbolic link (even to a stale socket) */
	unlink(d.sock);
	assert_int_equal(mkdir(d.sock, 0700), 0);
	heapd_run(&r, "--config", "/dev/null", "--state-dir", "", "--socket", d.sock);
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "is not a socket");
	run_free(&r);
	struct stat st;
	assert_int_equal(lstat(d.sock, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	rmdir(d.sock);
	char target[100];
	snprintf(target, sizeof target, "%s/target.sock", d.dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", target);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	assert_int_equal(symlink(target, d.sock), 0);
	heapd_run(&r, "--config", "/dev/null", "--state-dir", "", "--socket", d.sock);
	assert_int_equal(r.code, 1);
	assert_contains(r.err, "is not a socket");
	run_free(&r);
	assert_int_equal(lstat(d.sock, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(target, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	unlink(d.sock);
	unlink(target);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

/* (d') Stopping a daemon removes the socket file it created and no other:
 * A's file removed, B started on the same path, A stopped: B's socket is
 * still there and serving. (libuv's uv_pipe_bind unlinks its path on
 * close whatever is there: heapd now compares device and inode first.) */
static void stop_keeps_anothers_socket(void **state)
{
	(void)state;
	struct daemon a, b;
	daemon_start(&a, NULL);
	assert_true(wait_for_text(a.log, "serving", 2000));
	assert_int_equal(unlink(a.sock), 0);
	b = a;
	snprintf(b.log, sizeof b.log, "%s/heapd-b.log", a.dir);
	daemon_spawn(&b, NULL);
	struct stat before, after;
	assert_int_equal(lstat(b.sock, &before), 0);

	assert_int_equal(daemon_stop_sig(&a, SIGTERM), 0);
	assert_int_equal(lstat(b.sock, &after), 0);
	assert_true(S_ISSOCK(after.st_mode) && after.st_ino == before.st_ino);
	char want[200];
	snprintf(want, sizeof want, "not removing %s: it is no longer the socket this daemon created", a.sock);
	assert_int_equal(count_text(a.log, want), 1);
	heapd *h = client(&b);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);

	/* B, stopped, removes its own. */
	assert_int_equal(daemon_stop_sig(&b, SIGTERM), 0);
	assert_int_equal(lstat(b.sock, &after), -1);
	assert_int_equal(errno, ENOENT);
	unlink(a.log);
	unlink(b.log);
	rmdir(a.dir);
}

/* ------------------------------------------------------ (e) socket mode */

/* The mode of the daemon's socket file, once it has served a ping (so it
 * is in its loop, where SIGTERM is a graceful stop: see the report on
 * heapd's start-up order). */
static mode_t socket_mode_of(const struct daemon *d)
{
	heapd *h = client(d);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	const char *path = d->sock;
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	return st.st_mode & 07777;
}

static void socket_mode(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--socket-mode", "0600", NULL);
	assert_int_equal(socket_mode_of(&d), 0600);
	daemon_stop(&d);
	daemon_start(&d, NULL);
	assert_int_equal(socket_mode_of(&d), 0660);
	daemon_stop(&d);
	/* wider than the test's umask */
	mode_t old = umask(077);
	daemon_start(&d, "--socket-mode", "666", NULL);
	umask(old);
	assert_int_equal(socket_mode_of(&d), 0666);
	daemon_stop(&d);
}

/* ------------------------------------------------------- (f) SIGHUP */

/* Sends SIGHUP and waits for the reload's nth outcome in the log:
 * "configuration reloaded" or a reload error. */
static void reload(struct daemon *d, const char *outcome, int nth)
{
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	for (int i = 0; i < 300 && count_text(d->log, outcome) < nth; i++)
		sleep_ms(10);
	if (count_text(d->log, outcome) != nth)
		fail_msg("'%s' is in %s %d times, expected %d", outcome, d->log, count_text(d->log, outcome), nth);
}

/* A new client may hold limit objects, and is refused one more. */
static void expect_hold_limit(struct daemon *d, int limit)
{
	heapd *h = client(d);
	heapd_ref r;
	for (int i = 0; i < limit; i++)
		if (heapd_alloc(h, 0, 8, &r) != 0)
			fail_msg("hold %d of %d: %s", i + 1, limit, heapd_errmsg(h));
	assert_int_equal(heapd_alloc(h, 0, 8, &r), HEAPD_ELIMIT);
	heapd_close(h);
}

static void sighup_reload(void **state)
{
	(void)state;
	char dir[] = "/tmp/heapd-conf.XXXXXX", conf[64];
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/heapd.conf", dir);
	write_file(conf, "max_holds_per_session = 5\n");
	struct daemon d;
	daemon_start(&d, "--config", conf, NULL); /* the last --config wins */
	heapd *h = client(&d);
	heapd_ref r;
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	assert_int_equal(heapd_alloc(h, 0, 8, &r), HEAPD_ELIMIT);
	assert_contains(heapd_errmsg(h), "alloc");

	/* a live key: applied, to the sessions already connected too */
	write_file(conf, "max_holds_per_session = 1000\n");
	reload(&d, "configuration reloaded", 1);
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	expect_hold_limit(&d, 1000);
	assert_int_equal(count_text(d.log, "takes effect at restart"), 0);

	/* a restart-only key: logged, not applied; the live one is */
	write_file(conf, "max_holds_per_session = 10\nmax_heap = 4M\n");
	reload(&d, "configuration reloaded", 2);
	assert_int_equal(count_text(d.log, "max_heap changed: takes effect at restart"), 1);
	heapd *big = client(&d);
	for (int i = 0; i < 8; i++) /* 8 MiB: past a 4 MiB max_heap */
		assert_int_equal(heapd_alloc(big, 0, 1u << 20, &r), 0);
	heapd_close(big);
	expect_hold_limit(&d, 10);

	/* a broken file: an error, and nothing changes, not even the keys
	 * before the broken line */
	write_file(conf, "max_holds_per_session = 1000\nmax_heap = 4M\nbogus = 1\n");
	reload(&d, "reload: ", 1);
	char want[160];
	snprintf(want, sizeof want, "%s:3: unknown key 'bogus' (configuration unchanged)", conf);
	assert_int_equal(count_text(d.log, want), 1);
	assert_int_equal(count_text(d.log, "configuration reloaded"), 2);
	assert_int_equal(count_text(d.log, "takes effect at restart"), 1);
	expect_hold_limit(&d, 10);
	write_file(conf, "max_holds_per_session = 7\nlog_level = loud\n");
	reload(&d, "reload: ", 2);
	assert_int_equal(count_text(d.log, "log_level 'loud' is not a log level"), 1);
	expect_hold_limit(&d, 10);
	/* a file gone: the same */
	unlink(conf);
	reload(&d, "reload: ", 3);
	assert_int_equal(count_text(d.log, "cannot open config file"), 1);
	assert_int_equal(heapd_ping(h, NULL), 0);
	expect_hold_limit(&d, 10);
	heapd_close(h);
	daemon_stop(&d);
	rmdir(dir);
}

/* --------------------------------------------- (g) SIGTERM and SIGINT */

static Heapd__Request ping_request(uint64_t id)
{
	static Heapd__Ping ping = HEAPD__PING__INIT;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = id;
	req.op_case = HEAPD__REQUEST__OP_PING;
	req.ping = &ping;
	return req;
}

static Heapd__Request gc_request(uint64_t id)
{
	static Heapd__Gc gc = HEAPD__GC__INIT;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.id = id;
	req.op_case = HEAPD__REQUEST__OP_GC;
	req.gc = &gc;
	return req;
}

/* Appends req, framed, to *buf. */
static void frame_append(uint8_t **buf, size_t *len, Heapd__Request *req)
{
	size_t n = heapd__request__get_packed_size(req);
	*buf = realloc(*buf, *len + 4 + n);
	assert_non_null(*buf);
	uint8_t *p = *buf + *len;
	put_frame_len(p, n);
	heapd__request__pack(req, p + 4);
	*len += 4 + n;
}

/* A session of its own holding n objects in a linked list, allocated by
 * pipelined requests; returns its socket, to keep them held. */
static int hold_many(const struct daemon *d, int n)
{
	int fd = raw_connect(d);
	raw_hello(fd);
	uint8_t *buf = NULL;
	size_t len = 0;
	Heapd__Alloc alloc = HEAPD__ALLOC__INIT;
	alloc.nrefs = 1;
	alloc.nbytes = 8;
	for (int i = 0; i < n; i++) {
		Heapd__Request req = HEAPD__REQUEST__INIT;
		req.id = (uint64_t)i + 2;
		req.op_case = HEAPD__REQUEST__OP_ALLOC;
		req.alloc = &alloc;
		frame_append(&buf, &len, &req);
	}
	raw_send(fd, buf, len);
	free(buf);
	for (int i = 0; i < n; i++) {
		Heapd__Response *resp = raw_reply(fd);
		assert_non_null(resp);
		assert_int_equal(resp->status, HEAPD__STATUS__OK);
		heapd__response__free_unpacked(resp, NULL);
	}
	return fd;
}

enum pipeline {
	PINGS_EACH_SENT,  /* 200 pings, one raw_send_request() each */
	PINGS_ONE_SEND,   /* 200 pings in one send() */
	GC_THEN_PINGS,    /* a gc (on a heap with work to do), then 199 pings, in one send() */
};

/* 200 requests sent and not read, then sig: every reply, in order, then
 * EOF; exit 0; the socket file removed. */
static void graceful_stop(int sig, enum pipeline how)
{
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *idle = client(&d); /* a client with nothing to say */
	int holder = how == GC_THEN_PINGS ? hold_many(&d, 20000) : -1;
	int fd = raw_connect(&d);
	raw_hello(fd);
	if (how == PINGS_EACH_SENT) {
		for (uint64_t id = 2; id < 202; id++) {
			Heapd__Request req = ping_request(id);
			raw_send_request(fd, &req);
		}
	} else {
		uint8_t *buf = NULL;
		size_t len = 0;
		for (uint64_t id = 2; id < 202; id++) {
			Heapd__Request req = id == 2 && how == GC_THEN_PINGS ? gc_request(id) : ping_request(id);
			frame_append(&buf, &len, &req);
		}
		raw_send(fd, buf, len);
		free(buf);
	}
	/* The replies fit in the socket buffer: the daemon can finish without
	 * this test reading. */
	assert_int_equal(daemon_stop_sig(&d, sig), 0);
	for (uint64_t id = 2; id < 202; id++) {
		Heapd__Response *resp = raw_reply(fd);
		if (!resp)
			fail_msg("EOF before the reply to request %llu", (unsigned long long)id);
		assert_int_equal(resp->id, id);
		assert_int_equal(resp->status, HEAPD__STATUS__OK);
		heapd__response__free_unpacked(resp, NULL);
	}
	assert_null(raw_reply(fd)); /* then EOF */
	close(fd);
	if (holder >= 0) {
		assert_true(raw_closed(holder));
		close(holder);
	}
	assert_int_equal(heapd_ping(idle, NULL), HEAPD_EIO);
	heapd_close(idle);
	struct stat st;
	assert_int_equal(lstat(d.sock, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_text(d.log, "heapd: info: stopping\n"), 1);
	assert_int_equal(count_text(d.log, "heapd: info: stopped\n"), 1);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

static void sigterm_graceful(void **state)
{
	(void)state;
	graceful_stop(SIGTERM, PINGS_ONE_SEND);
	graceful_stop(SIGTERM, PINGS_EACH_SENT);
	graceful_stop(SIGTERM, GC_THEN_PINGS);
}

static void sigint_graceful(void **state)
{
	(void)state;
	graceful_stop(SIGINT, PINGS_ONE_SEND);
	graceful_stop(SIGINT, PINGS_EACH_SENT);
	graceful_stop(SIGINT, GC_THEN_PINGS);
}

/* ------------------------------------------ (i) a client killed with -9 */

static void killed_client(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->heap_objects, 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		heapd *c = heapd_connect(d.sock);
		if (!c || heapd_errcode(c))
			_exit(1);
		heapd_ref prev = 0, r;
		for (int i = 0; i < 1000; i++) {
			if (heapd_alloc(c, 1, 16, &r) != 0)
				_exit(1);
			if (i % 2 && heapd_set_ref(c, r, 0, prev) != 0) /* some linked, too */
				_exit(1);
			prev = r;
		}
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	st = stats_of(h);
	assert_int_equal(st->heap_objects, 1000);
	assert_int_equal(st->holds, 1000);
	assert_int_equal(st->sessions, 2);
	/* still alive after a collection: held */
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(stats_of(h)->heap_objects, 1000);

	assert_int_equal(kill(pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* the daemon sees the connection end */
	for (int i = 0; i < 200 && stats_of(h)->sessions != 1; i++)
		sleep_ms(10);
	st = stats_of(h);
	assert_int_equal(st->sessions, 1);
	assert_int_equal(st->holds, 0);
	assert_int_equal(heapd_gc(h), 0);
	st = stats_of(h);
	assert_int_equal(st->heap_objects, 0);
	assert_int_equal(st->heap_alloc, 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* (j) The line heapd starts with says how many mark workers run: the one
 * configured, or none when told so or when it may run on one CPU only;
 * and the stats say the same, with no marking time when there are none. */
static void mark_workers_started(int cpu, const char *flag, uint64_t workers, const char *want)
{
	struct daemon d;
	daemon_prepare(&d);
	if (cpu >= 0)
		daemon_pin(&d, cpu);
	if (flag)
		daemon_spawn(&d, "--gc-mark-workers", flag, NULL);
	else
		daemon_spawn(&d, NULL);
	assert_true(wait_for_text(d.log, "serving", 2000));
	if (count_text(d.log, want) != 1)
		fail_msg("%s does not say \"%s\"", d.log, want);
	heapd *h = client(&d);
	assert_int_equal(heapd_gc(h), 0);
	heapd_stats *st = stats_of(h);
	assert_int_equal(st->mark_workers, workers);
	if (!workers)
		assert_int_equal(st->mark_worker_ns, 0);
	heapd_close(h);
	daemon_stop(&d);
}

static void mark_worker_line(void **state)
{
	(void)state;
	cpu_set_t all;
	int first = 0;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	while (!CPU_ISSET(first, &all))
		first++;
	int two = CPU_COUNT(&all) >= 2;
	mark_workers_started(-1, "0", 0, "0 mark workers,");
	mark_workers_started(first, NULL, 0, "0 mark workers,");
	mark_workers_started(-1, NULL, two, two ? "1 mark worker," : "0 mark workers,");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(command_line),
		cmocka_unit_test(stale_socket),
		cmocka_unit_test(live_daemon),
		cmocka_unit_test(regular_file),
		cmocka_unit_test(stop_keeps_anothers_socket),
		cmocka_unit_test(socket_mode),
		cmocka_unit_test(sighup_reload),
		cmocka_unit_test(sigterm_graceful),
		cmocka_unit_test(sigint_graceful),
		/* (h) keeping a socket this daemon did not create (systemd socket
		 * activation) belongs to a later issue. */
		cmocka_unit_test(killed_client),
		cmocka_unit_test(mark_worker_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
