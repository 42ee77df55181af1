/*
 * ctlutil.h - running heapctl against a test's heapd, for test_heapctl.c
 * (the commands), test_heapctl_stats.c (the stats output),
 * test_heapctl_data.c and test_heapctl_inspect.c: heapctl's
 * command line, the checks on its run, and a daemon state to look at.
 * Include after daemonutil.h.
 */
#ifndef HEAPD_CTLUTIL_H
#define HEAPD_CTLUTIL_H

#include "daemonutil.h"
#include "runutil.h"

/* HEAPD_SOCKET unset unless a test says otherwise: -s or the default. */
static const char *const no_env[] = {"HEAPD_SOCKET", NULL};

static inline const char *heapctl_bin(void)
{
	return env_or("HEAPCTL_BIN", "client/heapctl/heapctl");
}

/* heapctl -s SOCK ARGS... (ap, NULL-terminated) with stdin from the file
 * at in; sock NULL: no -s. */
static inline void ctl_run(struct run *r, const char *const *env, const char *sock, const char *in, va_list ap)
{
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)heapctl_bin();
	if (sock) {
		argv[n++] = "-s";
		argv[n++] = (char *)sock;
	}
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 63;)
		argv[n++] = a;
	argv[n] = NULL;
	run_env_in(r, env, argv, in);
}

/* heapctl -s SOCK ARGS... (NULL-terminated); sock NULL: no -s. */
static inline void ctl_env(struct run *r, const char *const *env, const char *sock, ...)
{
	va_list ap;
	va_start(ap, sock);
	ctl_run(r, env, sock, "/dev/null", ap);
	va_end(ap);
}

/* heapctl -s SOCK ARGS... (NULL-terminated) with stdin from the file at in. */
static inline void ctl_in(struct run *r, const struct daemon *d, const char *in, ...)
{
	va_list ap;
	va_start(ap, in);
	ctl_run(r, no_env, d->sock, in, ap);
	va_end(ap);
}

#define ctl(r, d, ...) ctl_env((r), no_env, (d)->sock, __VA_ARGS__, NULL)

/* A successful run: exit 0, nothing on stderr. */
static inline void assert_ok(const struct run *r)
{
	if (r->code != 0 || r->err_len != 0)
		fail_msg("heapctl exited %d (signal %d); stderr:\n%s", r->code, r->sig, r->err);
}

/* A failed run: exit code, and needle on stderr. */
static inline void expect_code(const struct run *r, int code, const char *needle)
{
	if (r->code != code)
		fail_msg("exit %d (wanted %d; \"%s\"), stderr:\n%s", r->code, code, needle, r->err);
	assert_contains(r->err, needle);
}

/* expect_code, and nothing on stdout. */
static inline void expect_fail(const struct run *r, int code, const char *needle)
{
	expect_code(r, code, needle);
	assert_int_equal(r->out_len, 0);
}

/* heapctl ARGS must fail with code, needle on stderr and nothing on stdout. */
#define CTL_FAIL(d, code, needle, ...)                    \
	do {                                              \
		struct run r_;                            \
		ctl(&r_, (d), __VA_ARGS__);               \
		expect_fail(&r_, (code), (needle));       \
		run_free(&r_);                            \
	} while (0)

/* heapctl ARGS must print want exactly and succeed. */
#define CTL_OUT(d, want, ...)                             \
	do {                                              \
		struct run r_;                            \
		ctl(&r_, (d), __VA_ARGS__);               \
		assert_ok(&r_);                           \
		assert_string_equal(r_.out, (want));      \
		run_free(&r_);                            \
	} while (0)

/* ref as heapctl takes it ("0x" and hex), into buf. */
static inline const char *ref_text(char buf[24], heapd_ref ref)
{
	snprintf(buf, 24, "0x%llx", (unsigned long long)ref);
	return buf;
}

/* ref as heapctl prints it: ref_text and a newline. */
static inline const char *ref_line(char buf[24], heapd_ref ref)
{
	snprintf(buf, 24, "0x%llx\n", (unsigned long long)ref);
	return buf;
}

/* How many times needle occurs in s. */
static inline int count_of(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* A few objects, held by h, and two named roots; the daemon's figures
 * are then quiet (nothing allocates, nothing is garbage). */
static inline void populate(heapd *h, heapd_ref *refs, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(heapd_alloc(h, 1, 1000, &refs[i]), 0);
	assert_int_equal(heapd_root_set(h, "first", refs[0]), 0);
	assert_int_equal(heapd_root_set(h, "second", refs[1]), 0);
}

#endif
