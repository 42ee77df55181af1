/*
 * test_systemd.c - heapd under systemd, without systemd: the test plays
 * its parts. A datagram socket in $NOTIFY_SOCKET receives the
 * notifications (READY, STATUS, WATCHDOG at the rate $WATCHDOG_USEC asks,
 * RELOADING then READY on SIGHUP, STOPPING on SIGTERM); systemd's own
 * systemd-socket-activate passes heapd a listening socket; and a private
 * mount namespace puts a socket of the test's where the journal's would
 * be, to read heapd's structured entries.
 */
#include <sched.h>
#include <sys/mount.h>

#include "daemonutil.h"

struct notify {
	int fd;
	char path[108];
};

static void notify_open(struct notify *n, const struct daemon *d)
{
	snprintf(n->path, sizeof n->path, "%s/notify", d->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, n->path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(n->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setenv("NOTIFY_SOCKET", n->path, 1);
}

/* The next notification within ms, NUL-terminated in buf; 0 if none. */
static int notify_next(struct notify *n, char *buf, size_t size, int ms)
{
	struct pollfd p = {.fd = n->fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return 0;
	ssize_t r = recv(n->fd, buf, size - 1, 0);
	assert_true(r > 0);
	buf[r] = '\0';
	return 1;
}

/* Waits for a notification containing want, skipping watchdog pings and
 * status updates in between. */
static void notify_expect(struct notify *n, const char *want, char *buf, size_t size)
{
	for (int i = 0; i < 200; i++) {
		if (!notify_next(n, buf, size, 5000))
			fail_msg("no notification with \"%s\"", want);
		if (strstr(buf, want))
			return;
	}
	fail_msg("\"%s\" never came", want);
}

static void notifications(void **state)
{
	(void)state;
	struct daemon d;
	struct notify n;
	char buf[512];
	daemon_prepare(&d);
	notify_open(&n, &d);
	setenv("WATCHDOG_USEC", "200000", 1);
	daemon_spawn(&d, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	/* READY=1, with a first status, once the socket accepts. */
	notify_expect(&n, "READY=1", buf, sizeof buf);
	assert_non_null(strstr(buf, "STATUS="));
	assert_non_null(strstr(buf, "0 objects"));

	/* WATCHDOG=1 every 100 ms (half of 200 ms), from the loop. */
	uint64_t t0 = 0;
	int pings = 0;
	while (pings < 10 && notify_next(&n, buf, sizeof buf, 1000)) {
		if (strcmp(buf, "WATCHDOG=1") != 0)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (!pings++)
			t0 = now;
		else if (pings == 10) {
			uint64_t per = (now - t0) / 9;
			assert_true(per >= 60 && per <= 250); /* 100 ms, with room for a busy machine */
		}
	}
	assert_int_equal(pings, 10);

	/* STATUS follows activity, at most once a second. */
	heapd *h = client(&d);
	heapd_ref r;
	for (int i = 0; i < 100; i++)
		assert_int_equal(heapd_alloc(h, 0, 64, &r), 0);
	int statuses = 0;
	char last[512] = "";
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	time_t until = ts.tv_sec + 3;
	while (ts.tv_sec < until) {
		if (notify_next(&n, buf, sizeof buf, 200) && strncmp(buf, "STATUS=", 7) == 0) {
			statuses++;
			snprintf(last, sizeof last, "%s", buf);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
	}
	assert_true(statuses >= 1 && statuses <= 4); /* a few, not one per request */
	assert_non_null(strstr(last, "100 objects"));
	assert_non_null(strstr(last, "1 clients"));

	/* SIGHUP: RELOADING=1 with the monotonic time, then READY=1. */
	kill(d.pid, SIGHUP);
	notify_expect(&n, "RELOADING=1", buf, sizeof buf);
	assert_non_null(strstr(buf, "MONOTONIC_USEC="));
	unsigned long long usec = strtoull(strstr(buf, "MONOTONIC_USEC=") + 15, NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	assert_true(usec <= now && now - usec < 5000000);
	notify_expect(&n, "READY=1", buf, sizeof buf);
	heapd_close(h);

	/* SIGTERM: STOPPING=1, then a clean exit. */
	kill(d.pid, SIGTERM);
	notify_expect(&n, "STOPPING=1", buf, sizeof buf);
	assert_int_equal(daemon_stop_sig(&d, 0), 0);
	close(n.fd);
	unlink(n.path);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

/* Without $NOTIFY_SOCKET nothing is sent and nothing breaks; the watchdog
 * is not armed for another process's $WATCHDOG_PID. */
static void no_systemd(void **state)
{
	(void)state;
	struct daemon d;
	setenv("WATCHDOG_USEC", "100000", 1);
	daemon_start(&d, NULL); /* WATCHDOG_PID is set to heapd's pid */
	unsetenv("WATCHDOG_USEC");
	heapd *h = client(&d);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* systemd-socket-activate listens and starts heapd at the first
 * connection with the socket as fd 3; heapd serves it and, when it stops,
 * leaves the file it did not create. */
static void socket_activation(void **state)
{
	(void)state;
	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	struct daemon d;
	daemon_prepare(&d);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(d.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/bin/systemd-socket-activate", "systemd-socket-activate", "-l", d.sock,
		      env_or("HEAPD_BIN", "daemon/heapd"), "--config", "/dev/null", "--state-dir", "", "--socket",
		      "/nonexistent/unused.sock",
		      (char *)NULL);
		_exit(127);
	}
	track(pid, 0);
	d.pid = pid;
	assert_int_equal(wait_listening(d.sock, pid), 0);
	heapd *h = client(&d); /* the first connection starts heapd */
	heapd_ref r;
	assert_int_equal(heapd_alloc(h, 0, 8, &r), 0);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	/* systemd-socket-activate became heapd (it execs in place). */
	assert_int_equal(daemon_stop_sig(&d, SIGTERM), 0);
	struct stat st;
	assert_int_equal(lstat(d.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	FILE *f = fopen(d.log, "r");
	char line[512];
	int served = 0;
	while (fgets(line, sizeof line, f))
		served |= strstr(line, "serving the socket systemd passed") != NULL;
	fclose(f);
	assert_true(served);
	unlink(d.sock);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

/* A passed socket of another kind (a datagram socket) is refused: exit 1
 * and a message saying what heapd serves. */
static void wrong_socket_type(void **state)
{
	(void)state;
	char dir[] = "/tmp/heapd-test.XXXXXX", path[128], out[2048];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/dgram.sock", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd, 3);
		dup2(pfd[1], 2);
		char p[16];
		snprintf(p, sizeof p, "%d", (int)getpid());
		setenv("LISTEN_PID", p, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(env_or("HEAPD_BIN", "daemon/heapd"), "heapd", "--config", "/dev/null", "--state-dir", "", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0;
	for (ssize_t n; len < sizeof out - 1 && (n = read(pfd[0], out + len, sizeof out - 1 - len)) > 0;)
		len += (size_t)n;  /* every line heapd logs, to its exit */
	out[len] = '\0';
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_non_null(strstr(out, "listening Unix stream socket"));
	close(fd);
	close(pfd[0]);
	unlink(path);
	rmdir(dir);
}

/* --- the journal, played by a socket of the test's --- */

static void use_fake_journal(struct daemon *d)
{
	/* A private mount namespace, so the host's /run is not touched. */
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0)
		_exit(77);
	mkdir("/run/systemd", 0755);
	mkdir("/run/systemd/journal", 0755);
	if (mount(d->arg, "/run/systemd/journal", NULL, MS_BIND, NULL) != 0)
		_exit(77);
}

static void journal_entries(void **state)
{
	(void)state;
	struct daemon d;
	daemon_prepare(&d);
	char jdir[64], jsock[128];
	snprintf(jdir, sizeof jdir, "%s/journal", d.dir);
	mkdir(jdir, 0755);
	snprintf(jsock, sizeof jsock, "%s/socket", jdir);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, jsock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	int big = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	d.child_setup = use_fake_journal;
	d.arg = jdir;
	daemon_spawn(&d, "--log", "journal", NULL);

	heapd *h = client(&d);
	assert_int_equal(heapd_gc(h), 0);
	heapd_close(h);
	/* An info line with its priority, and the cycle's structured entry. */
	int info = 0, cycle = 0;
	char buf[8192];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while ((!info || !cycle) && poll(&p, 1, 3000) > 0) {
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		assert_true(n > 0);
		buf[n] = '\0';
		if (strstr(buf, "MESSAGE=heapd " PACKAGE_VERSION " serving") && strstr(buf, "PRIORITY=6\n") &&
		    strstr(buf, "SYSLOG_IDENTIFIER=heapd\n"))
			info = 1;
		if (strstr(buf, "HEAPD_NUM_GC=1\n") && strstr(buf, "HEAPD_PAUSE_NS=") && strstr(buf, "HEAPD_HEAP_LIVE=") &&
		    strstr(buf, "PRIORITY=7\n"))
			cycle = 1;
	}
	assert_true(info);
	assert_true(cycle);
	daemon_stop_sig(&d, SIGTERM);
	/* Nothing went to stderr: the journal took it all. */
	struct stat st;
	assert_int_equal(stat(d.log, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(fd);
	unlink(jsock);
	rmdir(jdir);
	unlink(d.log);
	daemon_clear_state(&d);
	rmdir(d.dir);
}

/* No journal to reach: heapd says so once on stderr and logs there. */
static void journal_unreachable(void **state)
{
	(void)state;
	struct daemon d;
	daemon_prepare(&d);
	char empty[64];
	snprintf(empty, sizeof empty, "%s/nojournal", d.dir);
	mkdir(empty, 0755);
	d.child_setup = use_fake_journal;
	d.arg = empty;
	daemon_spawn(&d, "--log", "journal", NULL);
	heapd *h = client(&d);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	FILE *f = fopen(d.log, "r");
	char line[512];
	int note = 0, serving = 0;
	while (fgets(line, sizeof line, f)) {
		note += strstr(line, "the journal cannot be reached: logging to stderr") != NULL;
		serving += strstr(line, "heapd: info: heapd " PACKAGE_VERSION " serving") != NULL;
	}
	fclose(f);
	assert_int_equal(note, 1);
	assert_int_equal(serving, 1);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(notifications),
		cmocka_unit_test(no_systemd),
		cmocka_unit_test(socket_activation),
		cmocka_unit_test(wrong_socket_type),
		cmocka_unit_test(journal_entries),
		cmocka_unit_test(journal_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
