/*
 * configutil.h - the fixture of the config tests (test_config, test_reload):
 * a fresh config whose default file is a path that does not exist, so a
 * heapd.conf installed on the machine cannot leak in, a temporary file to
 * write a configuration into, and output captured from a descriptor.
 */
#ifndef HEAPD_TEST_CONFIGUTIL_H
#define HEAPD_TEST_CONFIGUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define GIB ((size_t)1 << 30)
#define MISSING "/nonexistent-heapd-test/heapd.conf"

struct fx {
	struct config c;
	char path[64]; /* the temporary config file */
	char err[512];
};

static inline int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	config_init(&fx->c);
	free(fx->c.config_path);
	fx->c.config_path = strdup(MISSING);
	strcpy(fx->path, "/tmp/heapd-test-conf-XXXXXX");
	int fd = mkstemp(fx->path);
	assert_true(fd >= 0);
	close(fd);
	log_set_level(LOGL_INFO);
	*state = fx;
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *fx = *state;
	config_free(&fx->c);
	unlink(fx->path);
	free(fx);
	return 0;
}

static inline void write_conf(struct fx *fx, const char *text)
{
	FILE *f = fopen(fx->path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static inline int parse_argv(struct fx *fx, char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	fx->err[0] = '\0';
	return config_parse(&fx->c, argc, argv, fx->err, sizeof fx->err);
}

#define PARSE(fx, ...) parse_argv((fx), (char *[]){"heapd", __VA_ARGS__, NULL})
#define PARSE_FILE(fx, ...) PARSE((fx), "--config", (fx)->path, __VA_ARGS__)

/* Output to fd, collected in a temporary file. */
struct capture {
	int fd, saved;
	FILE *tmp;
};

static inline void capture_begin(struct capture *cap, int fd)
{
	fflush(stdout);
	cap->fd = fd;
	cap->tmp = tmpfile();
	assert_non_null(cap->tmp);
	cap->saved = dup(fd);
	assert_true(dup2(fileno(cap->tmp), fd) >= 0);
}

/* Returns what was written, to be freed. */
static inline char *capture_end(struct capture *cap)
{
	fflush(stdout);
	dup2(cap->saved, cap->fd);
	close(cap->saved);
	struct stat st;
	assert_int_equal(fstat(fileno(cap->tmp), &st), 0);
	char *s = calloc(1, (size_t)st.st_size + 1);
	assert_int_equal(pread(fileno(cap->tmp), s, (size_t)st.st_size, 0), st.st_size);
	fclose(cap->tmp);
	return s;
}

#endif
