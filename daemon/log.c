/*
 * log.c - leveled logging, to stderr or to the journal.
 *
 * Each line is formatted whole into one buffer and written with one
 * write(). Lines are at most LOG_LINE_MAX bytes, no more than PIPE_BUF, so
 * a pipe or the journal's stream receives each line intact: never torn by a
 * crash between two writes, never interleaved with another writer's output.
 * A longer message is cut to fit and ends in "...".
 *
 * To the journal (LOGT_JOURNAL, or LOGT_AUTO when stderr is the journal's
 * stream, as systemd says in $JOURNAL_STREAM), a message goes with
 * sd_journal_send and its syslog priority, without the text prefix. If the
 * journal cannot be reached, logging falls back to stderr for good, and
 * says so once there. log_emit() is the only function that outputs.
 *
 * The level and target are plain globals, read and set on the loop thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

_Static_assert(LOG_LINE_MAX <= PIPE_BUF, "a line must reach a pipe in one piece");

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static const char *const target_names[] = {"auto", "stderr", "journal"};
static const int priority[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

static int log_level = LOGL_INFO;
static int to_journal;

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

int log_target_parse(const char *s, int *target)
{
	for (int t = LOGT_AUTO; s && t <= LOGT_JOURNAL; t++) {
		if (strcasecmp(s, target_names[t]) == 0) {
			*target = t;
			return 0;
		}
	}
	return -1;
}

const char *log_target_name(int target)
{
	return target >= LOGT_AUTO && target <= LOGT_JOURNAL ? target_names[target] : "unknown";
}

/* True when stderr is the stream systemd connected to the journal. */
static int stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void write_stderr(const char *line, size_t len);

static void journal_unreachable(void)
{
	static const char note[] = "heapd: warn: the journal cannot be reached: logging to stderr\n";
	to_journal = 0;
	write_stderr(note, sizeof note - 1);
}

/* sd_journal_send() returns success when the journal's socket does not
 * exist (it drops the message), so that case is checked here. */
void log_set_target(int target)
{
	to_journal = target == LOGT_JOURNAL || (target == LOGT_AUTO && stderr_is_journal());
	if (to_journal && access("/run/systemd/journal/socket", W_OK) != 0)
		journal_unreachable();
}

int log_to_journal(void)
{
	return to_journal;
}

static void write_stderr(const char *line, size_t len)
{
	ssize_t r;
	do
		r = write(STDERR_FILENO, line, len);
	while (r < 0 && errno == EINTR);
}

/* The one output: the whole line to stderr, or the message (after the
 * prefix of length skip) to the journal. A failed write has nowhere to be
 * reported; a journal that cannot be reached is reported once, on stderr. */
static void log_emit(int level, const char *line, size_t len, size_t skip)
{
	if (to_journal) {
		if (sd_journal_send("MESSAGE=%.*s", (int)(len - 1 - skip), line + skip, "PRIORITY=%d",
				    priority[level], "SYSLOG_IDENTIFIER=heapd", NULL) >= 0)
			return;
		journal_unreachable();
	}
	write_stderr(line, len);
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
	log_emit(level, buf, len, (size_t)n);
	errno = saved_errno;
}

int log_limit_pass(struct log_limit *l, int level, uint64_t now_ms)
{
	uint64_t second = now_ms / 1000;
	if (second != l->second) {
		l->second = second;
		l->lines = 0;
		if (l->dropped)
			log_printf(level, "%lu more lines like the next were not written (at most %u a second)",
				   l->dropped, LOG_BURST);
		l->dropped = 0;
	}
	if (l->lines >= LOG_BURST) {
		l->dropped++;
		return 0;
	}
	l->lines++;
	return 1;
}
