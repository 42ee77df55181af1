/*
 * log.c - leveled logging to stderr.
 *
 * Each line is formatted whole into one buffer and written with one
 * write(). Lines are at most LOG_LINE_MAX bytes, no more than PIPE_BUF, so
 * a pipe or the journal's stream receives each line intact: never torn by a
 * crash between two writes, never interleaved with another writer's output.
 * A longer message is cut to fit and ends in "...".
 *
 * log_emit() is the only function that outputs; sending lines to
 * sd_journal instead of stderr changes it alone.
 *
 * The level is a plain global, read and set on the loop thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

_Static_assert(LOG_LINE_MAX <= PIPE_BUF, "a line must reach a pipe in one piece");

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static int log_level = LOGL_INFO;

void log_set_level(int level)
{
	if (level < LOGL_ERROR)
		level = LOGL_ERROR;
	if (level > LOGL_DEBUG)
		level = LOGL_DEBUG;
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *s, int *level)
{
	if (!s)
		return -1;
	for (int l = LOGL_ERROR; l <= LOGL_DEBUG; l++) {
		if (strcasecmp(s, level_names[l]) == 0) {
			*level = l;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*level = LOGL_WARN;
		return 0;
	}
	return -1;
}

const char *log_level_name(int level)
{
	return level >= LOGL_ERROR && level <= LOGL_DEBUG ? level_names[level] : "unknown";
}

/* The one output. A failed write has nowhere to be reported. */
static void log_emit(const char *line, size_t len)
{
	ssize_t r;
	do
		r = write(STDERR_FILENO, line, len);
	while (r < 0 && errno == EINTR);
}

void log_printf(int level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	int saved_errno = errno;
	char buf[LOG_LINE_MAX];
	size_t cap = sizeof buf - 1; /* room before the newline */
	int n = snprintf(buf, cap + 1, "heapd: %s: ", log_level_name(level));
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, cap + 1 - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n;
	if (m > 0 && (size_t)m > cap - (size_t)n) {
		len = cap;
		memcpy(buf + cap - 3, "...", 3);
	} else if (m > 0) {
		len += (size_t)m;
		if (buf[len - 1] == '\n')
			len--;
	}
	buf[len++] = '\n';
	log_emit(buf, len);
	errno = saved_errno;
}
