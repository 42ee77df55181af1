/*
 * test_format.c - heapctl's stats formats (client/heapctl/format.c).
 *
 * The test walks HEAPD_STATS (<heapd/stats.h>), the table struct
 * heapd_stats and the formats are made from: every figure must show up in
 * every format, under its name in text and JSON, and under a Prometheus
 * name that says its unit (from its kind) and its type. So a figure added
 * to the table is checked here at once.
 *
 * Each field of the fixture holds a value no other holds, so a Prometheus
 * sample can be traced back to its field by value alone.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heapctl/format.h"

enum unit { U_COUNT, U_BYTES, U_NS, U_OTHER };

#define UNIT_COUNT U_COUNT
#define UNIT_BYTES U_BYTES
#define UNIT_GOAL U_BYTES
#define UNIT_NS U_NS
#define UNIT_UNIX_NS U_NS
#define UNIT_FRACTION U_OTHER
#define UNIT_PAUSES U_OTHER

struct tfield {
	const char *name;
	size_t off;
	enum unit unit;
	int cumulative;
};

/* Every row of the table. */
static const struct tfield rows[] = {
#define X(name, kind, who, field, section, metric, label, type, help) \
	{#name, offsetof(struct heapd_stats, name), UNIT_##kind, strcmp(type, "counter") == 0},
	HEAPD_STATS(X)
#undef X
};

#define NROWS (sizeof rows / sizeof rows[0])

/* The plain uint64_t figures: every row but the pause ring, num_pause,
 * which the fixture sets to wrap the ring, and gc_cpu_fraction. */
static struct tfield tfields[NROWS];
static size_t ntfields;

static void pick_tfields(void)
{
	for (size_t i = 0; i < NROWS; i++)
		if (rows[i].unit != U_OTHER && strcmp(rows[i].name, "num_pause") != 0)
			tfields[ntfields++] = rows[i];
}

#define NUM_PAUSE 300   /* wraps the ring: 256 valid, the oldest at index 300 % 256 */
#define CPU_FRACTION 0.25

static uint64_t tvalue(size_t i)
{
	return (uint64_t)(i + 1) * 1000000007u;
}

/* Pause k is 1000 + k ns, so the order of a listing shows. */
static heapd_stats fixture(uint64_t num_pause)
{
	heapd_stats st;
	memset(&st, 0, sizeof st);
	for (size_t i = 0; i < ntfields; i++) {
		uint64_t v = tvalue(i);
		memcpy((char *)&st + tfields[i].off, &v, sizeof v);
	}
	st.num_pause = num_pause;
	for (uint64_t k = 0; k < num_pause; k++)
		st.pause_ns[k % HEAPD_PAUSE_RING] = 1000 + k;
	st.gc_cpu_fraction = CPU_FRACTION;
	return st;
}

static char *render(void (*fn)(FILE *, const heapd_stats *), const heapd_stats *st)
{
	/* Static: GCC 12 at -O3 takes what open_memstream writes to its
	 * arguments for pointers to them (-Wdangling-pointer). */
	static char *out;
	static size_t len;
	out = NULL;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	fn(f, st);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* ------------------------------------------------------------- layout */

/* struct heapd_stats is made from the table, in its order; its layout
 * as libheapd1 ships it does not change (fields are only appended). */
static void struct_follows_the_table(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		size_t off;
	} abi[] = {
		{"heap_alloc", 0},        {"gc_sys", 72},           {"pause_total_ns", 128}, {"pause_ns", 136},
		{"num_pause", 2184},      {"gc_cpu_fraction", 2200}, {"holds", 2288},        {"rss_bytes", 2296},
		{"mark_worker_ns", 2336},
	};
	for (size_t i = 1; i < NROWS; i++)
		assert_true(rows[i].off > rows[i - 1].off);
	for (size_t k = 0; k < sizeof abi / sizeof abi[0]; k++) {
		size_t i = 0;
		while (i < NROWS && strcmp(rows[i].name, abi[k].name) != 0)
			i++;
		assert_true(i < NROWS);
		assert_int_equal(rows[i].off, abi[k].off);
	}
	assert_true(sizeof(heapd_stats) >= 2344);
}

static void human_sizes_and_times(void **state)
{
	(void)state;
	char buf[FMT_HUMAN_MAX];
	assert_string_equal(fmt_bytes_human(buf, 0), "0B");
	assert_string_equal(fmt_bytes_human(buf, 1023), "1023B");
	assert_string_equal(fmt_bytes_human(buf, 1024), "1.00K");
	assert_string_equal(fmt_bytes_human(buf, 12345678), "11.77M");
	assert_string_equal(fmt_bytes_human(buf, (uint64_t)3 << 30), "3.00G");
	assert_string_equal(fmt_bytes_human(buf, UINT64_MAX), "16.00E");
	assert_string_equal(fmt_ns_human(buf, 999), "999ns");
	assert_string_equal(fmt_ns_human(buf, 42500), "42.50us");
	assert_string_equal(fmt_ns_human(buf, 1234567), "1.23ms");
	assert_string_equal(fmt_ns_human(buf, 2500000000u), "2.50s");
	assert_string_equal(fmt_ns_human(buf, UINT64_C(90000000000)), "1m30s");
	assert_string_equal(fmt_ns_human(buf, UINT64_C(3723000000000)), "1h2m3s");
	assert_string_equal(fmt_ns_human(buf, UINT64_C(93784000000000)), "1d2h3m4s");
}

static void pause_ring_in_time_order(void **state)
{
	(void)state;
	static const uint64_t counts[] = {0, 1, 3, 255, 256, 257, 300, 1000};
	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		heapd_stats st = fixture(counts[c]);
		uint64_t n = fmt_npauses(&st);
		assert_int_equal(n, counts[c] < 256 ? counts[c] : 256);
		for (uint64_t i = 0; i < n; i++)
			assert_int_equal(fmt_pause(&st, i), 1000 + counts[c] - n + i);
	}
}

/* --------------------------------------------------------------- text */

static void text_has_every_field(void **state)
{
	(void)state;
	heapd_stats st = fixture(NUM_PAUSE);
	char *out = render(fmt_text, &st);
	char want[128];
	for (size_t i = 0; i < ntfields; i++) {
		snprintf(want, sizeof want, "\n%s:%" PRIu64 "\n", tfields[i].name, tvalue(i));
		assert_int_equal(count(out, want), 1);
		if (tfields[i].unit != U_COUNT) {
			/* The unit goes: "rss_bytes" -> "rss_human". */
			const char *name = tfields[i].name, *unit = strrchr(name, '_');
			size_t len = strlen(name);
			if (len > 8 && strcmp(name + len - 8, "_unix_ns") == 0)
				len -= 8;  /* "last_gc_unix_ns" -> "last_gc_human" */
			else if (strcmp(unit, "_ns") == 0 || strcmp(unit, "_bytes") == 0)
				len = (size_t)(unit - name);
			snprintf(want, sizeof want, "\n%.*s_human:", (int)len, name);
			assert_int_equal(count(out, want), 1);
		}
	}
	assert_int_equal(count(out, "\nnum_pause:300\n"), 1);
	assert_int_equal(count(out, "\ngc_cpu_fraction:0.25\n"), 1);
	assert_int_equal(count(out, "\nheap_alloc_human:"), 1);
	assert_int_equal(count(out, "\nheap_inuse_human:"), 1);
	/* pause_ns lists the valid pauses, oldest first: 1044 .. 1299. */
	assert_non_null(strstr(out, "\npause_ns:1044,1045,"));
	assert_non_null(strstr(out, ",1298,1299\n"));
	assert_int_equal(count(out, "\npause_ns:"), 1);
	free(out);
}

static void text_is_sections_and_pairs(void **state)
{
	(void)state;
	static const char *const sections[] = {"# Memory", "# GC", "# Sweeper", "# Scavenger", "# Server",
						"# Persistence", "# Zero-copy"};
	heapd_stats st = fixture(NUM_PAUSE);
	char *out = render(fmt_text, &st);
	size_t nsection = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			assert_true(nsection < sizeof sections / sizeof sections[0]);
			assert_string_equal(line, sections[nsection++]);
			continue;
		}
		size_t key = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
		assert_true(key > 0);
		assert_int_equal(line[key], ':');
		assert_true(line[key + 1] != '\0' && line[key + 1] != ' ');
	}
	assert_int_equal(nsection, sizeof sections / sizeof sections[0]);
	free(out);
}

static void text_special_values(void **state)
{
	(void)state;
	heapd_stats st = fixture(0);
	st.next_gc = UINT64_MAX;
	st.heap_inuse = 12345678;
	st.last_gc_unix_ns = UINT64_C(1700000000123456789);
	char *out = render(fmt_text, &st);
	assert_non_null(strstr(out, "\nnext_gc:18446744073709551615\nnext_gc_human:off\n"));
	assert_non_null(strstr(out, "\nheap_inuse:12345678\nheap_inuse_human:11.77M\n"));
	assert_non_null(strstr(out, "\nlast_gc_human:2023-11-14T22:13:20.123Z\n"));
	assert_non_null(strstr(out, "\npause_ns:\n"));
	free(out);
	st.last_gc_unix_ns = 0;
	out = render(fmt_text, &st);
	assert_non_null(strstr(out, "\nlast_gc_human:never\n"));
	free(out);
}

/* --------------------------------------------------------------- JSON */

/* A strict reader for the JSON fmt_json may write: objects, arrays,
 * strings without escapes, numbers, null. Each function advances *p past
 * what it read and returns 0 on malformed input. */
static void j_ws(const char **p)
{
	*p += strspn(*p, " \t\r\n");
}

static int j_number(const char **p)
{
	const char *s = *p;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		s += strspn(s, "0123456789");
	else
		return 0;
	if (*s == '.') {
		s++;
		size_t n = strspn(s, "0123456789");
		if (!n)
			return 0;
		s += n;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		size_t n = strspn(s, "0123456789");
		if (!n)
			return 0;
		s += n;
	}
	*p = s;
	return 1;
}

static int j_string(const char **p, char *out, size_t cap)
{
	if (**p != '"')
		return 0;
	const char *end = strchr(*p + 1, '"');
	if (!end || (size_t)(end - *p - 1) >= cap || memchr(*p + 1, '\\', (size_t)(end - *p - 1)))
		return 0;
	memcpy(out, *p + 1, (size_t)(end - *p - 1));
	out[end - *p - 1] = '\0';
	*p = end + 1;
	return 1;
}

static int j_value(const char **p)
{
	char key[64];
	j_ws(p);
	if (strncmp(*p, "null", 4) == 0) {
		*p += 4;
		return 1;
	}
	if (**p == '"')
		return j_string(p, key, sizeof key);
	if (**p != '[' && **p != '{')
		return j_number(p);
	char close = **p == '[' ? ']' : '}';
	int object = close == '}';
	(*p)++;
	j_ws(p);
	if (**p == close) {
		(*p)++;
		return 1;
	}
	for (;;) {
		j_ws(p);
		if (object) {
			if (!j_string(p, key, sizeof key))
				return 0;
			j_ws(p);
			if (*(*p)++ != ':')
				return 0;
		}
		if (!j_value(p))
			return 0;
		j_ws(p);
		if (**p == close) {
			(*p)++;
			return 1;
		}
		if (*(*p)++ != ',')
			return 0;
	}
}

/* Checks out is one valid JSON object whose members are exactly the
 * fields of fixture(num_pause). */
static void check_json(const char *out, uint64_t num_pause)
{
	const char *p = out;
	assert_true(j_value(&p));
	j_ws(&p);
	assert_int_equal(*p, '\0');

	/* The structure is sound; now the members, one "key": value per line. */
	size_t seen[NROWS] = {0}, npause = 0, nfrac = 0, nnum_pause = 0, members = 0;
	char key[64], line[8192];
	for (p = strchr(out, '\n') + 1; *p && *p != '}'; p = strchr(p, '\n') + 1) {
		size_t len = strcspn(p, "\n");
		assert_true(len < sizeof line);
		memcpy(line, p, len);
		line[len] = '\0';
		const char *q = line;
		j_ws(&q);
		assert_true(j_string(&q, key, sizeof key));
		assert_true(q[0] == ':' && q[1] == ' ');
		q += 2;
		members++;
		if (strcmp(key, "pause_ns") == 0) {
			npause++;
			assert_int_equal(*q, '[');
			uint64_t n = 0, want = num_pause < 256 ? num_pause : 256;
			for (q++; *q != ']'; n++) {
				char *end;
				uint64_t v = strtoull(q, &end, 10);
				assert_int_equal(v, 1000 + num_pause - want + n);
				q = end + strspn(end, ", ");
			}
			assert_int_equal(n, want);
			continue;
		}
		if (strcmp(key, "gc_cpu_fraction") == 0) {
			nfrac++;
			/* A float to every reader: a point or an exponent. */
			assert_true(strcspn(q, ".e,") < strcspn(q, ","));
			assert_true(strtod(q, NULL) == CPU_FRACTION);
			continue;
		}
		if (strcmp(key, "num_pause") == 0) {
			nnum_pause++;
			assert_int_equal(strtoull(q, NULL, 10), num_pause);
			continue;
		}
		size_t i = 0;
		while (i < ntfields && strcmp(tfields[i].name, key) != 0)
			i++;
		assert_true(i < ntfields);
		seen[i]++;
		assert_int_equal(strtoull(q, NULL, 10), tvalue(i));
	}
	for (size_t i = 0; i < ntfields; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(npause, 1);
	assert_int_equal(nfrac, 1);
	assert_int_equal(nnum_pause, 1);
	assert_int_equal(members, ntfields + 3);
}

static void json_has_every_field_once(void **state)
{
	(void)state;
	static const uint64_t counts[] = {0, 1, 3, 256, NUM_PAUSE};
	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		heapd_stats st = fixture(counts[c]);
		char *out = render(fmt_json, &st);
		check_json(out, counts[c]);
		free(out);
	}
}

static void json_fraction_is_always_a_float(void **state)
{
	(void)state;
	static const double fractions[] = {0, 1, 0.1, 1e-7, 0.123456789012345};
	for (size_t c = 0; c < sizeof fractions / sizeof fractions[0]; c++) {
		heapd_stats st = fixture(0);
		st.gc_cpu_fraction = fractions[c];
		char *out = render(fmt_json, &st);
		const char *v = strstr(out, "\"gc_cpu_fraction\": ") + strlen("\"gc_cpu_fraction\": ");
		const char *p = v;
		assert_true(j_number(&p));
		assert_true(memchr(v, '.', (size_t)(p - v)) || memchr(v, 'e', (size_t)(p - v)));
		assert_true(strtod(v, NULL) == fractions[c]);
		free(out);
	}
}

/* --------------------------------------------------------- Prometheus */

struct sample {
	char name[64], labels[64], value[64];
};

/* Parses and checks every line; returns the samples in order. */
static size_t parse_prometheus(char *out, struct sample *s, size_t cap)
{
	char helped[64][64], typed[64][64], types[64][16];
	size_t nhelp = 0, ntype = 0, n = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
			int help = line[2] == 'H';
			const char *rest = line + 7;
			size_t len = strspn(rest, "abcdefghijklmnopqrstuvwxyz_");
			assert_true(len > 0 && len < sizeof name && rest[len] == ' ' && rest[len + 1] != '\0');
			memcpy(name, rest, len);
			name[len] = '\0';
			/* One HELP and one TYPE per family, before its samples. */
			for (size_t i = 0; i < (help ? nhelp : ntype); i++)
				assert_string_not_equal(help ? helped[i] : typed[i], name);
			for (size_t i = 0; i < n; i++)
				assert_string_not_equal(s[i].name, name);
			if (help) {
				strcpy(helped[nhelp++], name);
			} else {
				assert_true(strcmp(rest + len + 1, "counter") == 0 || strcmp(rest + len + 1, "gauge") == 0);
				strcpy(types[ntype], rest + len + 1);
				strcpy(typed[ntype++], name);
			}
			continue;
		}
		assert_true(line[0] != '#');
		assert_true(n < cap);
		struct sample *sm = &s[n++];
		size_t len = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
		assert_true(len > 0 && len < sizeof sm->name);
		memcpy(sm->name, line, len);
		sm->name[len] = '\0';
		assert_true(strncmp(sm->name, "heapd_", 6) == 0 && sm->name[6] != '\0');
		const char *rest = line + len;
		sm->labels[0] = '\0';
		if (*rest == '{') {
			/* {key="value"}: one label is all fmt_prometheus uses. */
			const char *end = strchr(rest, '}');
			assert_non_null(end);
			size_t llen = (size_t)(end - rest + 1), key = strspn(rest + 1, "abcdefghijklmnopqrstuvwxyz_");
			assert_true(llen < sizeof sm->labels && key > 0);
			assert_true(rest[1 + key] == '=' && rest[2 + key] == '"' && end[-1] == '"');
			assert_null(memchr(rest + 3 + key, '"', (size_t)(end - rest - 4 - key)));
			memcpy(sm->labels, rest, llen);
			sm->labels[llen] = '\0';
			rest = end + 1;
		}
		assert_int_equal(*rest, ' ');
		strcpy(sm->value, rest + 1);
		char *end;
		strtod(sm->value, &end);
		assert_true(*end == '\0' && end != sm->value);
		size_t t = 0, h = 0;
		while (t < ntype && strcmp(typed[t], sm->name) != 0)
			t++;
		while (h < nhelp && strcmp(helped[h], sm->name) != 0)
			h++;
		assert_true(t < ntype && h < nhelp);
		size_t nlen = strlen(sm->name);
		int total = nlen > 6 && strcmp(sm->name + nlen - 6, "_total") == 0;
		assert_int_equal(strcmp(types[t], "counter") == 0, total);
	}
	assert_int_equal(nhelp, ntype);
	return n;
}

static const struct sample *sample_named(const struct sample *s, size_t n, const char *name, const char *labels)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0 && strcmp(s[i].labels, labels) == 0)
			return &s[i];
	fail_msg("no sample %s%s", name, labels);
	return NULL;
}

static void prometheus_names_units_types(void **state)
{
	(void)state;
	heapd_stats st = fixture(NUM_PAUSE);
	char *out = render(fmt_prometheus, &st);
	struct sample s[64];
	size_t n = parse_prometheus(out, s, 64);
	for (size_t i = 0; i < ntfields; i++) {
		/* Trace the field by its value: exact, or in seconds. */
		uint64_t v = tvalue(i);
		const struct sample *found = NULL;
		for (size_t j = 0; j < n && !found; j++) {
			double got = strtod(s[j].value, NULL);
			if (tfields[i].unit == U_NS ? got == (double)v / 1e9 : strtoull(s[j].value, NULL, 10) == v)
				found = &s[j];
		}
		if (!found)
			fail_msg("%s is not exported", tfields[i].name);
		const char *name = found->name;
		size_t len = strlen(name);
		int total = len > 6 && strcmp(name + len - 6, "_total") == 0;
		assert_int_equal(total, tfields[i].cumulative);
		if (total)
			len -= 6;
		const char *unit = tfields[i].unit == U_BYTES ? "_bytes" : tfields[i].unit == U_NS ? "_seconds" : NULL;
		if (unit)
			assert_true(len > strlen(unit) && strncmp(name + len - strlen(unit), unit, strlen(unit)) == 0);
		else
			assert_null(strstr(name, "_bytes"));
	}
	assert_string_equal(sample_named(s, n, "heapd_heap_inuse_bytes", "")->value, "4000000028");
	assert_string_equal(sample_named(s, n, "heapd_mallocs_total", "")->value, "8000000056");
	assert_string_equal(sample_named(s, n, "heapd_frees_total", "")->value, "9000000063");
	assert_string_equal(sample_named(s, n, "heapd_gc_pauses_total", "")->value, "300");
	assert_string_equal(sample_named(s, n, "heapd_gc_pause_seconds_total", "")->value, "17.000000119");
	assert_string_equal(sample_named(s, n, "heapd_gc_last_pause_seconds", "")->value, "0.000001299");
	assert_string_equal(sample_named(s, n, "heapd_gc_cpu_fraction", "")->value, "0.25");
	sample_named(s, n, "heapd_gc_sys_bytes", "");
	sample_named(s, n, "heapd_rss_bytes", "");
	sample_named(s, n, "heapd_alloc_bytes_total", "");
	sample_named(s, n, "heapd_gc_cycles_total", "");
	sample_named(s, n, "heapd_forced_gc_cycles_total", "");
	sample_named(s, n, "heapd_sweep_spans_total", "{by=\"idle\"}");
	sample_named(s, n, "heapd_sweep_spans_total", "{by=\"alloc\"}");
	sample_named(s, n, "heapd_sweep_spans_total", "{by=\"gc\"}");
	sample_named(s, n, "heapd_wbuf_spans", "{state=\"busy\"}");
	sample_named(s, n, "heapd_wbuf_spans", "{state=\"free\"}");
	sample_named(s, n, "heapd_scavenger_released_bytes_total", "");
	sample_named(s, n, "heapd_heap_objects", "");
	sample_named(s, n, "heapd_sessions", "");
	sample_named(s, n, "heapd_named_roots", "");
	sample_named(s, n, "heapd_uptime_seconds", "");
	sample_named(s, n, "heapd_next_gc_bytes", "");
	sample_named(s, n, "heapd_last_gc_timestamp_seconds", "");
	free(out);
}

static void prometheus_special_values(void **state)
{
	(void)state;
	heapd_stats st = fixture(0);
	st.next_gc = UINT64_MAX;
	st.last_gc_unix_ns = 0;
	st.pause_total_ns = 1500000000;
	st.uptime_ns = 7000000000;
	char *out = render(fmt_prometheus, &st);
	struct sample s[64];
	size_t n = parse_prometheus(out, s, 64);
	assert_string_equal(sample_named(s, n, "heapd_next_gc_bytes", "")->value, "+Inf");
	assert_string_equal(sample_named(s, n, "heapd_last_gc_timestamp_seconds", "")->value, "0");
	assert_string_equal(sample_named(s, n, "heapd_gc_last_pause_seconds", "")->value, "0");
	assert_string_equal(sample_named(s, n, "heapd_gc_pause_seconds_total", "")->value, "1.5");
	assert_string_equal(sample_named(s, n, "heapd_uptime_seconds", "")->value, "7");
	free(out);
}

int main(void)
{
	pick_tfields();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(struct_follows_the_table),
		cmocka_unit_test(human_sizes_and_times),
		cmocka_unit_test(pause_ring_in_time_order),
		cmocka_unit_test(text_has_every_field),
		cmocka_unit_test(text_is_sections_and_pairs),
		cmocka_unit_test(text_special_values),
		cmocka_unit_test(json_has_every_field_once),
		cmocka_unit_test(json_fraction_is_always_a_float),
		cmocka_unit_test(prometheus_names_units_types),
		cmocka_unit_test(prometheus_special_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
