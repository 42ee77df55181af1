/*
 * format.c - struct heapd_stats as text, JSON and Prometheus metrics.
 *
 * One table, HEAPD_STATS (<heapd/stats.h>), drives all three formats: for
 * each field of struct heapd_stats it gives the text section, the kind of
 * figure, and the Prometheus name, type and help, made into fields[]
 * here. A figure added to it appears everywhere (tests/client/test_format.c
 * walks it). The table is the metric mapping; docs/heapctl.md shows it.
 * Text shows the sections in the order they first appear in the table,
 * each with its figures in table order; JSON and Prometheus follow the
 * table.
 *
 * Prometheus wants base units, so nanoseconds become seconds. They are
 * printed as exact decimals (ns / 10^9 digit by digit), not through a
 * double, so a counter never appears to step back by a rounding.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

enum kind {
	K_COUNT,    /* a number of things */
	K_BYTES,    /* bytes */
	K_GOAL,     /* bytes; UINT64_MAX when there is no goal */
	K_NS,       /* a duration in ns */
	K_UNIX_NS,  /* ns since the epoch; 0 for never */
	K_FRACTION, /* a double */
	K_PAUSES,   /* the pause ring */
};

struct field {
	const char *name;    /* the struct's name: text and JSON key */
	size_t off;
	enum kind kind;
	const char *section; /* the text section it is shown in */
	const char *metric;  /* Prometheus family; a family's members are adjacent */
	const char *label;   /* NULL, or what tells a family's members apart */
	const char *type;    /* "counter" or "gauge" */
	const char *help;    /* on a family's first member */
};

static const struct field fields[] = {
#define X(name, kind, who, field, section, metric, label, type, help) \
	{#name, offsetof(struct heapd_stats, name), K_##kind, section, metric, label, type, help},
	HEAPD_STATS(X)
#undef X
};

#define NFIELDS (sizeof fields / sizeof fields[0])

static uint64_t u64_at(const heapd_stats *st, const struct field *f)
{
	uint64_t v;
	memcpy(&v, (const char *)st + f->off, sizeof v);
	return v;
}

uint64_t fmt_npauses(const heapd_stats *st)
{
	return st->num_pause < HEAPD_PAUSE_RING ? st->num_pause : HEAPD_PAUSE_RING;
}

/* Pause number k (counting from 0 since the daemon started) is in
 * pause_ns[k % 256]: the latest, k = num_pause - 1, is where heapd.h says. */
uint64_t fmt_pause(const heapd_stats *st, uint64_t i)
{
	return st->pause_ns[(st->num_pause - fmt_npauses(st) + i) % HEAPD_PAUSE_RING];
}

const char *fmt_bytes_human(char buf[FMT_HUMAN_MAX], uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	if (bytes < 1024) {
		snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "B", bytes);
		return buf;
	}
	double v = (double)bytes / 1024;
	unsigned u = 0;
	while (v >= 1024 && u + 1 < sizeof units - 1) {
		v /= 1024;
		u++;
	}
	snprintf(buf, FMT_HUMAN_MAX, "%.2f%c", v, units[u]);
	return buf;
}

const char *fmt_ns_human(char buf[FMT_HUMAN_MAX], uint64_t ns)
{
	if (ns < 1000) {
		snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "ns", ns);
	} else if (ns < 1000000) {
		snprintf(buf, FMT_HUMAN_MAX, "%.2fus", (double)ns / 1e3);
	} else if (ns < 1000000000) {
		snprintf(buf, FMT_HUMAN_MAX, "%.2fms", (double)ns / 1e6);
	} else if (ns < UINT64_C(60000000000)) {
		snprintf(buf, FMT_HUMAN_MAX, "%.2fs", (double)ns / 1e9);
	} else {
		uint64_t s = ns / 1000000000;
		uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
		if (d)
			snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "d%" PRIu64 "h%" PRIu64 "m%" PRIu64 "s",
				 d, h, m, s % 60);
		else if (h)
			snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "h%" PRIu64 "m%" PRIu64 "s", h, m, s % 60);
		else
			snprintf(buf, FMT_HUMAN_MAX, "%" PRIu64 "m%" PRIu64 "s", m, s % 60);
	}
	return buf;
}

/* The shortest %g that reads back as the same double, so 0.1 prints as
 * "0.1", not "0.10000000000000001". JSON readers take a number without a
 * point or exponent for an integer: such a number gets ".0". */
static const char *double_str(char buf[FMT_HUMAN_MAX], double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, FMT_HUMAN_MAX, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (isfinite(v) && !strpbrk(buf, ".e"))
		strcat(buf, ".0");
	return buf;
}

/* ns as seconds, exactly: "12.5", "0.000001", "3". */
static void put_seconds(FILE *f, uint64_t ns)
{
	char frac[16];
	int n = snprintf(frac, sizeof frac, "%09" PRIu64, ns % 1000000000);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	fprintf(f, "%" PRIu64 "%s%s", ns / 1000000000, n ? "." : "", frac);
}

/* ------------------------------------------------------------------ text */

/* "heap_inuse" -> "heap_inuse_human", "rss_bytes" -> "rss_human",
 * "last_gc_unix_ns" -> "last_gc_human": the unit goes, as the companion
 * carries its own. */
static void put_human_key(FILE *f, const char *name)
{
	static const char *const units[] = {"_unix_ns", "_ns", "_bytes"};
	size_t len = strlen(name);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		size_t ulen = strlen(units[i]);
		if (len > ulen && strcmp(name + len - ulen, units[i]) == 0) {
			len -= ulen;
			break;
		}
	}
	fprintf(f, "%.*s_human:", (int)len, name);
}

static void put_time_human(FILE *f, uint64_t unix_ns)
{
	time_t t = (time_t)(unix_ns / 1000000000);
	struct tm tm;
	char date[32];
	if (unix_ns == 0 || !gmtime_r(&t, &tm) ||
	    !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm)) {
		fputs("never", f);
		return;
	}
	fprintf(f, "%s.%03uZ", date, (unsigned)(unix_ns / 1000000 % 1000));
}

static void put_text_field(FILE *f, const heapd_stats *st, const struct field *fd)
{
	char buf[FMT_HUMAN_MAX];
	fprintf(f, "%s:", fd->name);
	if (fd->kind == K_FRACTION) {
		fprintf(f, "%s\n", double_str(buf, st->gc_cpu_fraction));
		return;
	}
	if (fd->kind == K_PAUSES) {
		for (uint64_t p = 0, n = fmt_npauses(st); p < n; p++)
			fprintf(f, "%s%" PRIu64, p ? "," : "", fmt_pause(st, p));
		fputc('\n', f);
		return;
	}
	uint64_t v = u64_at(st, fd);
	fprintf(f, "%" PRIu64 "\n", v);
	if (fd->kind == K_COUNT)
		return;
	put_human_key(f, fd->name);
	if (fd->kind == K_NS)
		fputs(fmt_ns_human(buf, v), f);
	else if (fd->kind == K_UNIX_NS)
		put_time_human(f, v);
	else if (fd->kind == K_GOAL && v == UINT64_MAX)
		fputs("off", f);
	else
		fputs(fmt_bytes_human(buf, v), f);
	fputc('\n', f);
}

/* Whether fields[i] is the first of its section. */
static int opens_section(size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(fields[j].section, fields[i].section) == 0)
			return 0;
	return 1;
}

void fmt_text(FILE *f, const heapd_stats *st)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!opens_section(i))
			continue;
		fprintf(f, "%s# %s\n", i ? "\n" : "", fields[i].section);
		for (size_t j = i; j < NFIELDS; j++)
			if (strcmp(fields[j].section, fields[i].section) == 0)
				put_text_field(f, st, &fields[j]);
	}
}

/* ------------------------------------------------------------------ JSON */

void fmt_json(FILE *f, const heapd_stats *st)
{
	char buf[FMT_HUMAN_MAX];
	fputs("{\n", f);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *fd = &fields[i];
		fprintf(f, "  \"%s\": ", fd->name);
		if (fd->kind == K_FRACTION) {
			/* JSON has no NaN or infinity; the figure comes off the wire. */
			fputs(isfinite(st->gc_cpu_fraction) ? double_str(buf, st->gc_cpu_fraction) : "null", f);
		} else if (fd->kind == K_PAUSES) {
			fputc('[', f);
			for (uint64_t p = 0, n = fmt_npauses(st); p < n; p++)
				fprintf(f, "%s%" PRIu64, p ? ", " : "", fmt_pause(st, p));
			fputc(']', f);
		} else {
			fprintf(f, "%" PRIu64, u64_at(st, fd));
		}
		fputs(i + 1 < NFIELDS ? ",\n" : "\n", f);
	}
	fputs("}\n", f);
}

/* ------------------------------------------------------------ Prometheus */

static void put_prom_value(FILE *f, const heapd_stats *st, const struct field *fd)
{
	char buf[FMT_HUMAN_MAX];
	uint64_t v;
	switch (fd->kind) {
	case K_FRACTION:
		if (isnan(st->gc_cpu_fraction))
			fputs("NaN", f);
		else if (isinf(st->gc_cpu_fraction))
			fputs(st->gc_cpu_fraction > 0 ? "+Inf" : "-Inf", f);
		else
			fputs(double_str(buf, st->gc_cpu_fraction), f);
		return;
	case K_PAUSES:
		put_seconds(f, fmt_npauses(st) ? fmt_pause(st, fmt_npauses(st) - 1) : 0);
		return;
	case K_NS:
	case K_UNIX_NS:
		put_seconds(f, u64_at(st, fd));
		return;
	case K_GOAL:
		v = u64_at(st, fd);
		if (v == UINT64_MAX) {
			fputs("+Inf", f);
			return;
		}
		fprintf(f, "%" PRIu64, v);
		return;
	case K_COUNT:
	case K_BYTES:
		fprintf(f, "%" PRIu64, u64_at(st, fd));
		return;
	}
}

void fmt_prometheus(FILE *f, const heapd_stats *st)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *fd = &fields[i];
		if (i == 0 || strcmp(fields[i - 1].metric, fd->metric) != 0) {
			fprintf(f, "# HELP %s %s\n", fd->metric, fd->help);
			fprintf(f, "# TYPE %s %s\n", fd->metric, fd->type);
		}
		if (fd->label)
			fprintf(f, "%s{%s} ", fd->metric, fd->label);
		else
			fprintf(f, "%s ", fd->metric);
		put_prom_value(f, st, fd);
		fputc('\n', f);
	}
}
