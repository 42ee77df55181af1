/*
 * log.h - heapd's leveled logging.
 *
 * Lines go to stderr as "heapd: <level>: <message>", one write() each. A
 * message above the current level costs one call and a comparison: it is
 * neither formatted nor, through the macros, are its arguments evaluated.
 * The level is process-wide and belongs to the loop thread.
 */
#ifndef HEAPD_LOG_H
#define HEAPD_LOG_H

#include <stdint.h>

/* Bytes in a line, newline included; at most PIPE_BUF. */
#define LOG_LINE_MAX 2048

/* Not LOG_*: those are <syslog.h>'s priorities. */
enum {
	LOGL_ERROR,
	LOGL_WARN,
	LOGL_INFO,
	LOGL_DEBUG,
};

/* Messages at level or more severe are written; out-of-range levels are
 * clamped. The default is LOGL_INFO. */
void log_set_level(int level);
int log_get_level(void);

/* Where lines go: LOGT_AUTO is the journal when stderr is connected to it
 * ($JOURNAL_STREAM), else stderr. */
enum {
	LOGT_AUTO,
	LOGT_STDERR,
	LOGT_JOURNAL,
};

void log_set_target(int target);
/* True while lines go to the journal (false again if it proved unreachable). */
int log_to_journal(void);
/* Parses "auto", "stderr", "journal" (any case); 0 or -1. */
int log_target_parse(const char *s, int *target);
const char *log_target_name(int target);

/* Parses "error", "warn" or "warning", "info", "debug" (any case).
 * Returns 0, or -1 leaving *level alone. */
int log_level_parse(const char *s, int *level);
/* "error", "warn", "info", "debug"; "unknown" for anything else. */
const char *log_level_name(int level);

/* Writes one line when level passes the filter. A message too long for
 * LOG_LINE_MAX is cut and ends in "..."; a trailing newline is dropped, as
 * the line gets its own. errno is preserved, so "%m" works. */
void log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A budget for one kind of line that a client can make heapd write (a
 * refused connection, a timeout): at most LOG_BURST a second. Past it the
 * lines are counted, not written, and the first line of the next second
 * is preceded by how many were dropped. A flood of connections then costs
 * the loop (and the journal) a few lines a second, not one each. */
#define LOG_BURST 20u
struct log_limit {
	uint64_t second;        /* the second (of now_ms) being counted */
	unsigned lines;         /* lines written in it */
	unsigned long dropped;  /* lines not written since the last one was */
};
/* 1 if a line may be written now (now_ms: any millisecond clock). */
int log_limit_pass(struct log_limit *l, int level, uint64_t now_ms);

#define LOG_AT(level, ...)                               \
	do {                                             \
		if (log_get_level() >= (level))          \
			log_printf((level), __VA_ARGS__); \
	} while (0)
#define log_error(...) LOG_AT(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOGL_WARN, __VA_ARGS__)
#define log_warn_limited(limit, now_ms, ...)                                                         \
	do {                                                                                          \
		if (log_get_level() >= LOGL_WARN && log_limit_pass((limit), LOGL_WARN, (now_ms)))       \
			log_printf(LOGL_WARN, __VA_ARGS__);                                           \
	} while (0)
#define log_info(...) LOG_AT(LOGL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOGL_DEBUG, __VA_ARGS__)

#endif
