/*
 * format.c - struct heapd_stats as text, JSON and Prometheus metrics.
 *
 * One table, fields[], drives all three formats: for each field of
 * struct heapd_stats it gives the text section, the kind of figure, and the
 * Prometheus name, type and help. A field added to the struct is added
 * here once and appears everywhere (tests/client/test_format.c fails until
 * it is). The table is the metric mapping; docs/heapctl.md shows it.
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
	K_FRACTION, /* the one double */
	K_PAUSES,   /* the pause ring */
};

struct field {
	const char *name;    /* the struct's name: text and JSON key */
	size_t off;
	enum kind kind;
	const char *section; /* non-NULL: the text section this field opens */
	const char *metric;  /* Prometheus family; a family's members are adjacent */
	const char *label;   /* NULL, or what tells a family's members apart */
	const char *type;    /* "counter" or "gauge" */
	const char *help;    /* on a family's first member */
};

#define AT(f) #f, offsetof(struct heapd_stats, f)

static const struct field fields[] = {
	{AT(heap_alloc), K_BYTES, "Memory", "heapd_heap_alloc_bytes", NULL, "gauge",
	 "Bytes of allocated objects, including garbage not yet swept."},
	{AT(heap_sys), K_BYTES, NULL, "heapd_heap_sys_bytes", NULL, "gauge",
	 "Heap bytes obtained from the OS: in use plus idle."},
	{AT(heap_idle), K_BYTES, NULL, "heapd_heap_idle_bytes", NULL, "gauge",
	 "Bytes in free page runs."},
	{AT(heap_inuse), K_BYTES, NULL, "heapd_heap_inuse_bytes", NULL, "gauge",
	 "Bytes in object spans."},
	{AT(heap_released), K_BYTES, NULL, "heapd_heap_released_bytes", NULL, "gauge",
	 "Idle bytes returned to the OS."},
	{AT(heap_objects), K_COUNT, NULL, "heapd_heap_objects", NULL, "gauge",
	 "Allocated objects, including garbage not yet swept."},
	{AT(total_alloc), K_BYTES, NULL, "heapd_alloc_bytes_total", NULL, "counter",
	 "Bytes allocated."},
	{AT(mallocs), K_COUNT, NULL, "heapd_mallocs_total", NULL, "counter",
	 "Objects allocated."},
	{AT(frees), K_COUNT, NULL, "heapd_frees_total", NULL, "counter",
	 "Objects freed."},
	{AT(gc_sys), K_BYTES, NULL, "heapd_gc_sys_bytes", NULL, "gauge",
	 "Collector metadata: workbuf spans and per-page tables."},
	{AT(rss_bytes), K_BYTES, NULL, "heapd_rss_bytes", NULL, "gauge",
	 "The daemon's resident memory."},

	{AT(next_gc), K_GOAL, "GC", "heapd_next_gc_bytes", NULL, "gauge",
	 "Heap goal of the next cycle; +Inf when automatic collection is off."},
	{AT(heap_marked), K_BYTES, NULL, "heapd_heap_marked_bytes", NULL, "gauge",
	 "Bytes marked by the last cycle."},
	{AT(heap_live), K_BYTES, NULL, "heapd_heap_live_bytes", NULL, "gauge",
	 "Bytes the pacer counts as live."},
	{AT(num_gc), K_COUNT, NULL, "heapd_gc_cycles_total", NULL, "counter",
	 "Completed collection cycles."},
	{AT(num_forced_gc), K_COUNT, NULL, "heapd_forced_gc_cycles_total", NULL, "counter",
	 "Completed collection cycles that were requested."},
	{AT(last_gc_unix_ns), K_UNIX_NS, NULL, "heapd_last_gc_timestamp_seconds", NULL, "gauge",
	 "When the last cycle ended, in seconds since the epoch; 0 before the first."},
	{AT(gc_cpu_fraction), K_FRACTION, NULL, "heapd_gc_cpu_fraction", NULL, "gauge",
	 "Collector time (pauses and the mark worker's) over wall time since the heap was created."},
	{AT(mark_workers), K_COUNT, NULL, "heapd_gc_mark_workers", NULL, "gauge",
	 "Background mark workers running."},
	{AT(mark_worker_ns), K_NS, NULL, "heapd_gc_mark_worker_seconds_total", NULL, "counter",
	 "Time the background mark workers spent marking."},
	{AT(pause_total_ns), K_NS, NULL, "heapd_gc_pause_seconds_total", NULL, "counter",
	 "Time in collector pauses."},
	{AT(num_pause), K_COUNT, NULL, "heapd_gc_pauses_total", NULL, "counter",
	 "Collector pauses."},
	{AT(max_pause_ns), K_NS, NULL, "heapd_gc_max_pause_seconds", NULL, "gauge",
	 "The longest collector pause."},
	{AT(wbuf_spans_busy), K_COUNT, NULL, "heapd_wbuf_spans", "state=\"busy\"", "gauge",
	 "Workbuf spans: busy hold the cycle's mark queue, free wait for the sweeper."},
	{AT(wbuf_spans_free), K_COUNT, NULL, "heapd_wbuf_spans", "state=\"free\"", "gauge", NULL},
	{AT(wbuf_spans_alloc), K_COUNT, NULL, "heapd_wbuf_spans_allocated_total", NULL, "counter",
	 "Workbuf spans taken from the page heap."},
	{AT(wbuf_spans_reused), K_COUNT, NULL, "heapd_wbuf_spans_reused_total", NULL, "counter",
	 "Workbuf spans taken back from the free list instead of the page heap."},
	{AT(pause_ns), K_PAUSES, NULL, "heapd_gc_last_pause_seconds", NULL, "gauge",
	 "The latest collector pause; 0 before the first."},

	{AT(sweep_spans_idle), K_COUNT, "Sweeper", "heapd_sweep_spans_total", "by=\"idle\"", "counter",
	 "Spans swept, by who swept them: the idle sweeper, the allocator, the collector."},
	{AT(sweep_spans_alloc), K_COUNT, NULL, "heapd_sweep_spans_total", "by=\"alloc\"", "counter", NULL},
	{AT(sweep_spans_gc), K_COUNT, NULL, "heapd_sweep_spans_total", "by=\"gc\"", "counter", NULL},
	{AT(wbuf_spans_freed), K_COUNT, NULL, "heapd_wbuf_spans_freed_total", NULL, "counter",
	 "Workbuf spans the sweeper returned to the page heap."},

	{AT(scav_released_bytes), K_BYTES, "Scavenger", "heapd_scavenger_released_bytes_total", NULL,
	 "counter", "Bytes returned to the OS, by the scavenger or on request."},
	{AT(scav_madvise_calls), K_COUNT, NULL, "heapd_scavenger_madvise_calls_total", NULL, "counter",
	 "madvise calls made to return memory to the OS."},

	{AT(uptime_ns), K_NS, "Server", "heapd_uptime_seconds", NULL, "gauge",
	 "Time since the daemon started."},
	{AT(sessions), K_COUNT, NULL, "heapd_sessions", NULL, "gauge",
	 "Connected clients."},
	{AT(named_roots), K_COUNT, NULL, "heapd_named_roots", NULL, "gauge",
	 "Named roots."},
	{AT(holds), K_COUNT, NULL, "heapd_holds", NULL, "gauge",
	 "Holds of all connections, repeats counted."},
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

void fmt_text(FILE *f, const heapd_stats *st)
{
	char buf[FMT_HUMAN_MAX];
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *fd = &fields[i];
		if (fd->section)
			fprintf(f, "%s# %s\n", i ? "\n" : "", fd->section);
		fprintf(f, "%s:", fd->name);
		if (fd->kind == K_FRACTION) {
			fprintf(f, "%s\n", double_str(buf, st->gc_cpu_fraction));
			continue;
		}
		if (fd->kind == K_PAUSES) {
			for (uint64_t p = 0, n = fmt_npauses(st); p < n; p++)
				fprintf(f, "%s%" PRIu64, p ? "," : "", fmt_pause(st, p));
			fputc('\n', f);
			continue;
		}
		uint64_t v = u64_at(st, fd);
		fprintf(f, "%" PRIu64 "\n", v);
		if (fd->kind == K_COUNT)
			continue;
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
