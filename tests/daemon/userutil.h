/*
 * userutil.h - running part of a test as another user: the test runs as
 * root and forks a child that drops to a uid and gid no account uses
 * (setgroups, setgid, setuid), with a daemon whose directory they may
 * traverse. Tests that need it report a TAP skip without root.
 */
#ifndef HEAPD_TESTS_USERUTIL_H
#define HEAPD_TESTS_USERUTIL_H

#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemonutil.h"

/* Whether the test may run clients as other users; without root, says
 * so as a TAP skip of the whole program, which then returns 0. */
static inline int user_tests_possible(void)
{
	if (geteuid() == 0)
		return 1;
	printf("1..0 # SKIP needs root to run clients under another uid\n");
	return 0;
}

/* In a child process: drops to uid, gid and the supplementary group supp
 * (none if 0), or exits. */
static inline void user_drop(uid_t uid, gid_t gid, gid_t supp)
{
	gid_t groups[1] = {supp};
	if (setgroups(supp ? 1 : 0, groups) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		_exit(2);
	if (getuid() != uid || geteuid() != uid || getegid() != gid)
		_exit(3);
}

/* Whether uid may run the program at path: a test's build tree may be in
 * a directory only its owner can enter (a package build's mkdtemp). */
static inline int user_can_exec(const char *path, uid_t uid)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		user_drop(uid, uid, 0);
		_exit(access(path, X_OK) == 0 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Runs fn(d, out) in a child process that has dropped to uid, gid (and
 * the supplementary group supp, if not 0), and copies the size bytes it
 * filled at out back. The child exits: nothing it does reaches cmocka. */
static inline void as_user(const struct daemon *d, uid_t uid, gid_t gid, gid_t supp,
		    void (*fn)(const struct daemon *d, void *out), void *out, size_t size)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		user_drop(uid, gid, supp);
		memset(out, 0, size);
		fn(d, out);
		_exit(write(p[1], out, size) == (ssize_t)size ? 0 : 4);
	}
	close(p[1]);
	int status;
	assert_int_equal(read(p[0], out, size), (ssize_t)size);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A daemon in a directory others may traverse (mkdtemp makes it 0700,
 * which would refuse them before the socket's own mode is looked at). */
static inline void start_open_dir(struct daemon *d, ...)
{
	daemon_prepare(d);
	assert_int_equal(chmod(d->dir, 0711), 0);
	va_list ap;
	va_start(ap, d);
	daemon_spawnv(d, ap);
	va_end(ap);
}

#endif
