/*
 * runutil.h - running a program (heapctl, heapd) as a child process with
 * its stdout and stderr captured through pipes, for the tests that check
 * what a program prints and how it exits. Include after daemonutil.h.
 */
#ifndef HEAPD_RUNUTIL_H
#define HEAPD_RUNUTIL_H

#include "daemonutil.h"

#define RUN_TIMEOUT_MS 15000

struct run {
	int code;      /* exit status; -1 if killed by a signal (sig says which) */
	int sig;
	char *out;     /* stdout, NUL-terminated (it may hold NULs: out_len counts) */
	size_t out_len;
	char *err;     /* stderr, NUL-terminated */
	size_t err_len;
};

static inline void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

static inline void run_append(char **buf, size_t *len, const char *p, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Runs argv[0] with argv, stdin from the file in_path. env: NULL-terminated
 * list of "NAME=VALUE" to set, or "NAME" to unset, in the child only (may
 * be NULL). Waits for it to exit (killing it after RUN_TIMEOUT_MS, which
 * fails the test) and fills r. */
static inline void run_env_in(struct run *r, const char *const *env, char *const *argv, const char *in_path)
{
	int po[2], pe[2];
	memset(r, 0, sizeof *r);
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (const char *const *e = env; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			if (eq) {
				char name[64];
				snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
				setenv(name, eq + 1, 1);
			} else {
				unsetenv(*e);
			}
		}
		int in = open(in_path, O_RDONLY);
		dup2(in, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	int open_fds = 2, waited = 0;
	while (open_fds > 0 && waited < RUN_TIMEOUT_MS) {
		int n = poll(p, 2, 100);
		if (n == 0) {
			waited += 100;
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char buf[4096];
			ssize_t got = read(p[i].fd, buf, sizeof buf);
			if (got > 0) {
				if (i == 0)
					run_append(&r->out, &r->out_len, buf, (size_t)got);
				else
					run_append(&r->err, &r->err_len, buf, (size_t)got);
			} else if (got == 0 || errno != EINTR) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			}
		}
	}
	if (open_fds > 0) {
		kill(pid, SIGKILL);
		for (int i = 0; i < 2; i++)
			if (p[i].fd >= 0)
				close(p[i].fd);
	}
	int status;
	waitpid(pid, &status, 0);
	r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (open_fds > 0)
		fail_msg("%s timed out after %d ms", argv[0], RUN_TIMEOUT_MS);
}

/* run_env_in with stdin from /dev/null. */
static inline void run_env(struct run *r, const char *const *env, char *const *argv)
{
	run_env_in(r, env, argv, "/dev/null");
}

/* run_env with a NULL-terminated argument list after the program. */
static inline void run_prog(struct run *r, const char *const *env, const char *prog, ...)
{
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)prog;
	va_list ap;
	va_start(ap, prog);
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 63;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_env(r, env, argv);
}

static inline void fail_contains_at(const char *file, int line, const char *needle, const char *s)
{
	print_error("%s:%d: expected \"%s\" in:\n%s\n", file, line, needle, s ? s : "(null)");
	fail();
}

/* True if s holds needle. */
static inline int contains(const char *s, const char *needle)
{
	return s && strstr(s, needle) != NULL;
}

static inline void contains_or_fail(const char *s, const char *needle, const char *file, int line)
{
	if (!contains(s, needle))
		fail_contains_at(file, line, needle, s);
}

#define assert_contains(s, needle) contains_or_fail((s), (needle), __FILE__, __LINE__)

/* Writes text to path, replacing it. */
static inline void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* The whole of a file, NUL-terminated (NULL if it cannot be read). */
static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	char chunk[4096];
	size_t n;
	buf = calloc(1, 1);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		run_append(&buf, &len, chunk, n);
	fclose(f);
	return buf;
}

/* Waits up to ms for path to hold needle; 1 if it does. */
static inline int wait_for_text(const char *path, const char *needle, long ms)
{
	for (long waited = 0;; waited += 10) {
		char *s = slurp(path);
		int found = contains(s, needle);
		free(s);
		if (found)
			return 1;
		if (waited >= ms)
			return 0;
		sleep_ms(10);
	}
}

/* How many times needle occurs in the file at path. */
static inline int count_text(const char *path, const char *needle)
{
	char *s = slurp(path);
	int n = 0;
	for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(s);
	return n;
}

#endif
