/*
 * test_log.c - level names, filtering, the line format and truncation.
 *
 * stderr is captured on a SOCK_SEQPACKET socket: every write() arrives as
 * one record, so the tests also see that each line takes exactly one write.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define MAX_RECORDS 8

struct capture {
	int saved, sock;
	int n;                                 /* records received */
	char rec[MAX_RECORDS][LOG_LINE_MAX + 64];
	size_t len[MAX_RECORDS];
};

static void capture_begin(struct capture *cap)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cap->saved = dup(STDERR_FILENO);
	assert_true(cap->saved >= 0);
	assert_true(dup2(sv[0], STDERR_FILENO) >= 0);
	close(sv[0]);
	cap->sock = sv[1];
	cap->n = 0;
}

/* Restores stderr, then collects every record written meanwhile. */
static void capture_end(struct capture *cap)
{
	dup2(cap->saved, STDERR_FILENO);
	close(cap->saved);
	for (;;) {
		char buf[LOG_LINE_MAX + 64];
		ssize_t r = recv(cap->sock, buf, sizeof buf, MSG_DONTWAIT);
		if (r <= 0)
			break;
		assert_true(cap->n < MAX_RECORDS);
		memcpy(cap->rec[cap->n], buf, (size_t)r);
		cap->rec[cap->n][r] = '\0';
		cap->len[cap->n++] = (size_t)r;
	}
	close(cap->sock);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOGL_INFO);
	return 0;
}

static void level_names_parse_and_print(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int level;
	} ok[] = {
		{"error", LOGL_ERROR}, {"warn", LOGL_WARN}, {"warning", LOGL_WARN},
		{"info", LOGL_INFO},   {"debug", LOGL_DEBUG}, {"DEBUG", LOGL_DEBUG},
		{"Warning", LOGL_WARN},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int level = -1;
		assert_int_equal(log_level_parse(ok[i].s, &level), 0);
		assert_int_equal(level, ok[i].level);
	}
	static const char *const bad[] = {"", "verbose", "err", "info ", "warn2"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int level = 42;
		assert_int_equal(log_level_parse(bad[i], &level), -1);
		assert_int_equal(level, 42);
	}
	int level = 42;
	assert_int_equal(log_level_parse(NULL, &level), -1);
	assert_string_equal(log_level_name(LOGL_ERROR), "error");
	assert_string_equal(log_level_name(LOGL_WARN), "warn");
	assert_string_equal(log_level_name(LOGL_INFO), "info");
	assert_string_equal(log_level_name(LOGL_DEBUG), "debug");
	assert_string_equal(log_level_name(-1), "unknown");
	assert_string_equal(log_level_name(4), "unknown");
}

static void set_level_clamps(void **state)
{
	(void)state;
	assert_int_equal(log_get_level(), LOGL_INFO);
	log_set_level(LOGL_DEBUG);
	assert_int_equal(log_get_level(), LOGL_DEBUG);
	log_set_level(-3);
	assert_int_equal(log_get_level(), LOGL_ERROR);
	log_set_level(99);
	assert_int_equal(log_get_level(), LOGL_DEBUG);
}

static void line_format(void **state)
{
	(void)state;
	struct capture cap;
	log_set_level(LOGL_DEBUG);
	capture_begin(&cap);
	log_error("disk %s", "full");
	log_warn("%d clients", 3);
	log_info("ready");
	log_debug("x=%#x", 255);
	log_info("trailing newline dropped\n");
	capture_end(&cap);
	assert_int_equal(cap.n, 5);
	assert_string_equal(cap.rec[0], "heapd: error: disk full\n");
	assert_string_equal(cap.rec[1], "heapd: warn: 3 clients\n");
	assert_string_equal(cap.rec[2], "heapd: info: ready\n");
	assert_string_equal(cap.rec[3], "heapd: debug: x=0xff\n");
	assert_string_equal(cap.rec[4], "heapd: info: trailing newline dropped\n");
}

static void levels_filter(void **state)
{
	(void)state;
	struct capture cap;
	log_set_level(LOGL_WARN);
	capture_begin(&cap);
	log_debug("no");
	log_info("no");
	log_printf(LOGL_INFO, "no");
	log_warn("yes 1");
	log_error("yes 2");
	capture_end(&cap);
	assert_int_equal(cap.n, 2);
	assert_string_equal(cap.rec[0], "heapd: warn: yes 1\n");
	assert_string_equal(cap.rec[1], "heapd: error: yes 2\n");

	log_set_level(LOGL_ERROR);
	capture_begin(&cap);
	log_warn("no");
	log_error("only");
	capture_end(&cap);
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.rec[0], "heapd: error: only\n");
}

static int calls;

static int costly(void)
{
	return ++calls;
}

/* A filtered macro neither formats nor evaluates its arguments. */
static void filtered_arguments_not_evaluated(void **state)
{
	(void)state;
	struct capture cap;
	calls = 0;
	capture_begin(&cap);
	log_debug("%d", costly());
	log_info("%d", costly());
	capture_end(&cap);
	assert_int_equal(calls, 1);
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.rec[0], "heapd: info: 1\n");
}

static void errno_preserved_and_percent_m(void **state)
{
	(void)state;
	struct capture cap;
	capture_begin(&cap);
	errno = ENOENT;
	log_error("open: %m");
	int after = errno;
	capture_end(&cap);
	assert_int_equal(after, ENOENT);
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.rec[0], "heapd: error: open: No such file or directory\n");
}

/* The longest message that fits is written whole; one byte more is cut to
 * LOG_LINE_MAX with "..." before the newline, in one write. */
static void long_messages_truncated(void **state)
{
	(void)state;
	static char msg[3 * LOG_LINE_MAX];
	const char prefix[] = "heapd: info: ";
	size_t fits = LOG_LINE_MAX - 1 - (sizeof prefix - 1);
	struct capture cap;
	memset(msg, 'x', sizeof msg - 1);

	capture_begin(&cap);
	msg[fits] = '\0';
	log_info("%s", msg);
	msg[fits] = 'x';
	msg[fits + 1] = '\0';
	log_info("%s", msg);
	msg[fits + 1] = 'x';
	log_info("%s", msg);
	capture_end(&cap);

	assert_int_equal(cap.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cap.len[i], LOG_LINE_MAX);
		assert_memory_equal(cap.rec[i], prefix, sizeof prefix - 1);
		assert_int_equal(cap.rec[i][LOG_LINE_MAX - 1], '\n');
	}
	assert_int_equal(cap.rec[0][LOG_LINE_MAX - 2], 'x');
	for (int i = 1; i < 3; i++) {
		assert_memory_equal(cap.rec[i] + LOG_LINE_MAX - 4, "...\n", 4);
		assert_int_equal(cap.rec[i][LOG_LINE_MAX - 5], 'x');
	}
}

/* A flood of one kind of line: LOG_BURST a second are written, the rest
 * counted, and the count said before the next second's first. */
static void limited_lines(void **state)
{
	(void)state;
	struct log_limit l = {0};
	unsigned passed = 0;
	for (unsigned i = 0; i < 1000; i++)
		passed += (unsigned)log_limit_pass(&l, LOGL_WARN, 5000 + i);
	assert_int_equal(passed, LOG_BURST);
	struct capture cap;
	log_set_level(LOGL_WARN);
	capture_begin(&cap);
	log_warn_limited(&l, 5999, "dropped too");
	log_warn_limited(&l, 6000, "the next second's first");
	capture_end(&cap);
	assert_int_equal(cap.n, 2);
	assert_string_equal(cap.rec[0], "heapd: warn: 981 more lines like the next were not written (at most 20 a second)\n");
	assert_string_equal(cap.rec[1], "heapd: warn: the next second's first\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(level_names_parse_and_print, setup),
		cmocka_unit_test_setup(set_level_clamps, setup),
		cmocka_unit_test_setup(line_format, setup),
		cmocka_unit_test_setup(levels_filter, setup),
		cmocka_unit_test_setup(filtered_arguments_not_evaluated, setup),
		cmocka_unit_test_setup(errno_preserved_and_percent_m, setup),
		cmocka_unit_test_setup(long_messages_truncated, setup),
		cmocka_unit_test_setup(limited_lines, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
