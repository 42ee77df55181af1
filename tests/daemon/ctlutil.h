/*
 * ctlutil.h - running heapctl against a test's heapd, for test_heapctl.c
 * (the commands) and test_heapctl_stats.c (the stats output): heapctl's
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

/* heapctl -s SOCK ARGS... (NULL-terminated); sock NULL: no -s. */
static inline void ctl_env(struct run *r, const char *const *env, const char *sock, ...)
{
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)heapctl_bin();
	if (sock) {
		argv[n++] = "-s";
		argv[n++] = (char *)sock;
	}
	va_list ap;
	va_start(ap, sock);
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 63;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_env(r, env, argv);
}

#define ctl(r, d, ...) ctl_env((r), no_env, (d)->sock, __VA_ARGS__, NULL)

/* A successful run: exit 0, nothing on stderr. */
static inline void assert_ok(const struct run *r)
{
	if (r->code != 0 || r->err_len != 0)
		fail_msg("heapctl exited %d (signal %d); stderr:\n%s", r->code, r->sig, r->err);
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
