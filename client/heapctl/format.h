/*
 * format.h - heapctl's renderings of struct heapd_stats: redis-style text,
 * JSON and the Prometheus text format, plus the small helpers top.c shares.
 *
 * Everything here is a pure function of its arguments; the only I/O is on
 * the FILE * it is given, and write errors are left in that stream for the
 * caller to check. Numbers are printed in the C locale (heapctl never calls
 * setlocale), so a decimal point is always '.'.
 */
#ifndef HEAPD_HEAPCTL_FORMAT_H
#define HEAPD_HEAPCTL_FORMAT_H

#include <stdint.h>
#include <stdio.h>

#include "heapd.h"

/* "# Section" headers and key:value lines, byte and time figures with a
 * key_human companion, as `redis-cli info` prints. */
void fmt_text(FILE *f, const heapd_stats *st);
/* One object, every field under its struct name; pause_ns oldest first. */
void fmt_json(FILE *f, const heapd_stats *st);
/* Text exposition format 0.0.4: heapd_ names, base units, HELP and TYPE. */
void fmt_prometheus(FILE *f, const heapd_stats *st);

/* Large enough for every string the two functions below make. */
#define FMT_HUMAN_MAX 32

/* 12345678 -> "11.77M": powers of 1024, two decimals, as redis does. */
const char *fmt_bytes_human(char buf[FMT_HUMAN_MAX], uint64_t bytes);
/* 1234567 -> "1.23ms"; from a minute on, "1d2h3m4s". */
const char *fmt_ns_human(char buf[FMT_HUMAN_MAX], uint64_t ns);

/* The pause ring in time order: fmt_npauses() valid entries, which is
 * min(num_pause, HEAPD_PAUSE_RING); fmt_pause(st, 0) is the oldest of them
 * and fmt_pause(st, fmt_npauses(st) - 1) the latest. */
uint64_t fmt_npauses(const heapd_stats *st);
uint64_t fmt_pause(const heapd_stats *st, uint64_t i);

#endif
