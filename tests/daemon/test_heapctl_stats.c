/*
 * test_heapctl_stats.c - what heapctl stats prints against a real heapd,
 * in each of its formats: the text sections and their _human companions,
 * strict JSON, and the Prometheus exposition, each figure checked against
 * what a libheapd client reads from the daemon. The other commands are in
 * test_heapctl.c; the helpers both share are in ctlutil.h.
 */
#include <inttypes.h>

#include "daemonutil.h"
#include "runutil.h"
#include "ctlutil.h"

/* --- text output: "key:value" lines --- */

/* The value of key in text stats output, as a string (static buffer), or
 * NULL when there is no such line. */
static const char *text_value(const char *out, const char *key)
{
	static char val[8192];
	size_t klen = strlen(key);
	for (const char *line = out; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == ':') {
			snprintf(val, sizeof val, "%.*s", (int)(len - klen - 1), line + klen + 1);
			return val;
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static uint64_t text_u64(const char *out, const char *key)
{
	const char *v = text_value(out, key);
	if (!v)
		fail_msg("no '%s:' line in:\n%s", key, out);
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v || *end || errno)
		fail_msg("%s:%s is not a number", key, v);
	return n;
}

/* --- JSON: a strict syntax check, and reading a top-level number --- */

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_value(const char *p);

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (!*p || !strchr("\"\\/bfnrtu", *p))
				return NULL;
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p)
{
	const char *s = p;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > s ? p : NULL;
}

/* The members of an object or the elements of an array. */
static const char *json_seq(const char *p, char close, int members)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (members) {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p)
{
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_seq(p, '}', 1);
	case '[':
		return json_seq(p, ']', 0);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

/* 1 if s is one JSON value and nothing else but white space. */
static int json_valid(const char *s)
{
	const char *end = json_value(s);
	return end && *json_ws(end) == '\0';
}

/* Where the value of "key" starts in the object, NULL if absent. (The
 * output is flat, bar pause_ns, whose elements are numbers: a key cannot
 * appear inside another value.) */
static const char *json_find(const char *js, const char *key)
{
	char pat[80];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(js, pat);
	if (!p)
		return NULL;
	p = json_ws(p + strlen(pat));
	return *p == ':' ? json_ws(p + 1) : NULL;
}

static uint64_t json_u64(const char *js, const char *key)
{
	const char *p = json_find(js, key);
	if (!p)
		fail_msg("no \"%s\" in:\n%s", key, js);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || errno || !strchr(",\n}", *json_ws(end)))
		fail_msg("\"%s\" is not an integer: %.30s", key, p);
	return v;
}

/* --- Prometheus: the sample lines --- */

/* The value of a sample "name value" (name may include {labels}), as a
 * string (static buffer), or NULL. */
static const char *prom_value(const char *out, const char *name)
{
	static char val[128];
	size_t nlen = strlen(name);
	for (const char *line = out; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (line[0] != '#' && len > nlen && strncmp(line, name, nlen) == 0 && line[nlen] == ' ') {
			snprintf(val, sizeof val, "%.*s", (int)(len - nlen - 1), line + nlen + 1);
			return val;
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static void assert_prom(const char *out, const char *name, const char *want)
{
	const char *v = prom_value(out, name);
	if (!v)
		fail_msg("no sample %s in:\n%s", name, out);
	if (strcmp(v, want) != 0)
		fail_msg("%s is %s, expected %s", name, v, want);
}

static void assert_prom_u64(const char *out, const char *name, uint64_t want)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRIu64, want);
	assert_prom(out, name, buf);
}

/* ns as exact decimal seconds, as the exposition must show them. */
static const char *seconds_str(char buf[64], uint64_t ns)
{
	char frac[16];
	int n = snprintf(frac, sizeof frac, "%09" PRIu64, ns % 1000000000u);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(buf, 64, "%" PRIu64 "%s%s", ns / 1000000000u, n ? "." : "", frac);
	return buf;
}

/* ------------------------------------------------------------- tests */

static const char *const sections[] = {"Memory", "GC", "Sweeper", "Scavenger", "Server", "Persistence", "Zero-copy"};
#define NSECTIONS (int)(sizeof sections / sizeof sections[0])
static const char *const section_keys[][20] = {
	{"heap_alloc", "heap_sys", "heap_idle", "heap_inuse", "heap_released", "heap_objects",
	 "total_alloc", "mallocs", "frees", "gc_sys", "rss_bytes"},
	{"next_gc", "heap_marked", "heap_live", "num_gc", "num_forced_gc", "last_gc_unix_ns",
	 "gc_cpu_fraction", "mark_workers", "mark_worker_ns", "pause_total_ns", "num_pause",
	 "max_pause_ns", "wbuf_spans_busy", "wbuf_spans_free", "wbuf_spans_alloc", "wbuf_spans_reused",
	 "pause_ns", "alloc_failures", "forced_gc_for_limit"},
	{"sweep_spans_idle", "sweep_spans_alloc", "sweep_spans_gc", "wbuf_spans_freed"},
	{"scav_released_bytes", "scav_madvise_calls"},
	{"uptime_ns", "sessions", "named_roots", "holds", "hello_timeouts", "hello_shed", "refused_max_clients",
	 "refused_max_clients_per_uid", "uids", "root_name_bytes", "uid_roots_refused", "uid_holds_refused",
	 "uid_output_stalls", "uid_heap_refused", "bad_ref_closes"},
	{"last_save_unix_ns", "last_save_duration_ns", "last_save_size_bytes", "last_save_objects", "saves_total",
	 "save_failures_total", "save_in_progress", "changes_since_save", "load_duration_ns"},
	{"views", "arena_file_bytes"},
};

/* The section a key is documented in, or -1. */
static int section_of(const char *key)
{
	for (int s = 0; s < NSECTIONS; s++)
		for (int k = 0; section_keys[s][k]; k++)
			if (strcmp(section_keys[s][k], key) == 0)
				return s;
	return -1;
}

/* Checks the layout of text stats: sections in order, each key once under
 * its section, each _human line right after its figure. */
static void check_text_layout(const char *out)
{
	int section = -1, seen[NSECTIONS][20] = {{0}};
	char prev_key[64] = "";
	char *copy = strdup(out), *save = NULL;
	assert_true(out[strlen(out) - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			assert_true(section + 1 < NSECTIONS);
			char want[32];
			snprintf(want, sizeof want, "# %s", sections[++section]);
			assert_string_equal(line, want);
			continue;
		}
		char *colon = strchr(line, ':');
		if (!colon || colon == line)
			fail_msg("not a key:value line: '%s'", line);
		*colon = '\0';
		const char *key = line;
		size_t klen = strlen(key);
		if (klen > 6 && strcmp(key + klen - 6, "_human") == 0) {
			/* the companion of the line before: same name, unit dropped */
			size_t stem = klen - 6;
			if (strncmp(prev_key, key, stem) != 0)
				fail_msg("%s does not follow its figure (after %s)", key, prev_key);
			assert_true(colon[1] != '\0');
			continue;
		}
		assert_true(section >= 0);
		int s = section_of(key);
		if (s != section)
			fail_msg("key %s in section %s", key, sections[section]);
		for (int k = 0; section_keys[s][k]; k++)
			if (strcmp(section_keys[s][k], key) == 0)
				seen[s][k]++;
		snprintf(prev_key, sizeof prev_key, "%s", key);
	}
	free(copy);
	assert_int_equal(section, NSECTIONS - 1);
	for (int s = 0; s < NSECTIONS; s++)
		for (int k = 0; section_keys[s][k]; k++)
			if (seen[s][k] != 1)
				fail_msg("%s appears %d times", section_keys[s][k], seen[s][k]);
	/* blank lines only between sections */
	assert_int_equal(count_of(out, "\n\n"), NSECTIONS - 1);
	/* a companion for each size and time: 8 in Memory, 7 in GC, 1 in
	 * Scavenger, 2 in Server, 4 in Persistence, 1 in Zero-copy */
	assert_int_equal(count_of(out, "_human:"), 23);
}

static void stats_text(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	heapd_ref refs[5];
	populate(h, refs, 5);
	heapd_stats st = *stats_of(h);
	assert_int_equal(st.heap_objects, 5);

	struct run r;
	ctl(&r, &d, "stats");
	assert_ok(&r);
	check_text_layout(r.out);
	assert_int_equal(text_u64(r.out, "heap_objects"), st.heap_objects);
	assert_int_equal(text_u64(r.out, "heap_alloc"), st.heap_alloc);
	assert_int_equal(text_u64(r.out, "heap_inuse"), st.heap_inuse);
	assert_int_equal(text_u64(r.out, "total_alloc"), st.total_alloc);
	assert_int_equal(text_u64(r.out, "mallocs"), 5);
	assert_int_equal(text_u64(r.out, "frees"), 0);
	assert_int_equal(text_u64(r.out, "named_roots"), 2);
	assert_int_equal(text_u64(r.out, "holds"), st.holds);
	assert_int_equal(text_u64(r.out, "sessions"), 2); /* this client and heapctl */
	assert_int_equal(text_u64(r.out, "num_gc"), 0);
	assert_true(text_u64(r.out, "uptime_ns") > st.uptime_ns);
	assert_true(text_u64(r.out, "rss_bytes") > 0);
	/* the human companions */
	char want[64];
	assert_true(st.heap_alloc >= 1024 && st.heap_alloc < 1024 * 1024);
	snprintf(want, sizeof want, "%.2fK", (double)st.heap_alloc / 1024);
	assert_string_equal(text_value(r.out, "heap_alloc_human"), want);
	assert_non_null(text_value(r.out, "rss_human"));
	assert_null(text_value(r.out, "rss_bytes_human"));
	assert_string_equal(text_value(r.out, "last_gc_human"), "never");
	assert_string_equal(text_value(r.out, "pause_ns"), "");
	assert_string_equal(text_value(r.out, "gc_cpu_fraction"), "0.0");
	assert_null(text_value(r.out, "heap_objects_human")); /* a count has none */
	run_free(&r);

	/* after collections: the pause list, oldest first, and the time of the
	 * last one */
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(heapd_gc(h), 0);
	st = *stats_of(h);
	assert_true(st.num_pause >= 2 && st.num_pause < 256);
	ctl(&r, &d, "stats");
	assert_ok(&r);
	assert_int_equal(text_u64(r.out, "num_pause"), st.num_pause);
	assert_int_equal(text_u64(r.out, "num_gc"), st.num_gc);
	assert_int_equal(text_u64(r.out, "last_gc_unix_ns"), st.last_gc_unix_ns);
	char pauses[8192] = "";
	for (uint64_t i = 0; i < st.num_pause; i++)
		snprintf(pauses + strlen(pauses), sizeof pauses - strlen(pauses), "%s%" PRIu64, i ? "," : "",
			 st.pause_ns[i]);
	assert_string_equal(text_value(r.out, "pause_ns"), pauses);
	time_t t = (time_t)(st.last_gc_unix_ns / 1000000000u);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want + strlen(want), sizeof want - strlen(want), ".%03uZ",
		 (unsigned)(st.last_gc_unix_ns / 1000000 % 1000));
	assert_string_equal(text_value(r.out, "last_gc_human"), want);
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
}

static const char *const all_fields[] = {
	"heap_alloc", "heap_sys", "heap_idle", "heap_inuse", "heap_released", "heap_objects",
	"total_alloc", "mallocs", "frees", "gc_sys", "wbuf_spans_busy", "wbuf_spans_free", "next_gc",
	"last_gc_unix_ns", "num_gc", "num_forced_gc", "pause_total_ns", "pause_ns", "num_pause",
	"max_pause_ns", "gc_cpu_fraction", "sweep_spans_idle", "sweep_spans_alloc", "sweep_spans_gc",
	"wbuf_spans_freed", "wbuf_spans_reused", "wbuf_spans_alloc", "scav_released_bytes",
	"scav_madvise_calls", "heap_marked", "heap_live", "holds", "rss_bytes", "sessions",
	"named_roots", "uptime_ns", "mark_workers", "mark_worker_ns", "alloc_failures", "forced_gc_for_limit",
	"hello_timeouts", "hello_shed", "refused_max_clients", "refused_max_clients_per_uid",
	"uids", "root_name_bytes", "uid_roots_refused", "uid_holds_refused", "uid_output_stalls",
	"uid_heap_refused", "bad_ref_closes", "last_save_unix_ns", "last_save_duration_ns", "last_save_size_bytes",
	"last_save_objects", "saves_total", "save_failures_total", "save_in_progress", "changes_since_save",
	"load_duration_ns", "views", "arena_file_bytes", NULL,
};

/* A daemon with gc_percent off (next_gc has no goal: the largest
 * integer), n objects populated, one collection done; *st its stats. */
static heapd *collected(struct daemon *d, heapd_ref *refs, int n, heapd_stats *st)
{
	daemon_start(d, "--gc-percent", "off", NULL);
	heapd *h = client(d);
	populate(h, refs, n);
	assert_int_equal(heapd_gc(h), 0);
	*st = *stats_of(h);
	return h;
}

static void stats_json(void **state)
{
	(void)state;
	struct daemon d;
	heapd_ref refs[4];
	heapd_stats st;
	heapd *h = collected(&d, refs, 4, &st);

	struct run r;
	ctl(&r, &d, "stats", "--json");
	assert_ok(&r);
	if (!json_valid(r.out))
		fail_msg("not JSON:\n%s", r.out);
	assert_true(json_ws(r.out)[0] == '{');
	for (int i = 0; all_fields[i]; i++) {
		char key[64];
		snprintf(key, sizeof key, "\"%s\":", all_fields[i]);
		if (count_of(r.out, key) != 1)
			fail_msg("%s appears %d times", key, count_of(r.out, key));
	}
	assert_int_equal(count_of(r.out, "\":"), 62); /* and nothing else */
	assert_int_equal(json_u64(r.out, "heap_objects"), 4);
	assert_int_equal(json_u64(r.out, "named_roots"), 2);
	assert_int_equal(json_u64(r.out, "sessions"), 2);
	assert_int_equal(json_u64(r.out, "holds"), st.holds);
	assert_int_equal(json_u64(r.out, "mallocs"), st.mallocs);
	assert_int_equal(json_u64(r.out, "num_gc"), st.num_gc);
	assert_int_equal(json_u64(r.out, "pause_total_ns"), st.pause_total_ns);
	assert_int_equal(json_u64(r.out, "last_gc_unix_ns"), st.last_gc_unix_ns);
	assert_true(json_u64(r.out, "next_gc") == UINT64_MAX);
	/* a float always, even when whole */
	const char *frac = json_find(r.out, "gc_cpu_fraction");
	const char *end = json_number(frac);
	assert_non_null(end);
	assert_true(memchr(frac, '.', (size_t)(end - frac)) || memchr(frac, 'e', (size_t)(end - frac)));
	/* pause_ns: an array, oldest first */
	const char *arr = json_find(r.out, "pause_ns");
	assert_true(arr && *arr == '[');
	char want[8192] = "[";
	for (uint64_t i = 0; i < st.num_pause; i++)
		snprintf(want + strlen(want), sizeof want - strlen(want), "%s%" PRIu64, i ? ", " : "", st.pause_ns[i]);
	strcat(want, "]");
	assert_true(st.num_pause >= 1);
	assert_memory_equal(arr, want, strlen(want));
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
}

static void stats_prometheus(void **state)
{
	(void)state;
	struct daemon d;
	heapd_ref refs[3];
	heapd_stats st;
	heapd *h = collected(&d, refs, 3, &st);

	struct run r;
	ctl(&r, &d, "stats", "--prometheus");
	assert_ok(&r);
	assert_prom_u64(r.out, "heapd_heap_objects", 3);
	assert_prom_u64(r.out, "heapd_named_roots", 2);
	assert_prom_u64(r.out, "heapd_sessions", 2);
	assert_prom_u64(r.out, "heapd_holds", st.holds);
	assert_prom_u64(r.out, "heapd_mallocs_total", st.mallocs);
	assert_prom_u64(r.out, "heapd_alloc_bytes_total", st.total_alloc);
	assert_prom_u64(r.out, "heapd_heap_alloc_bytes", st.heap_alloc);
	assert_prom_u64(r.out, "heapd_gc_cycles_total", st.num_gc);
	assert_prom_u64(r.out, "heapd_forced_gc_cycles_total", st.num_forced_gc);
	assert_prom_u64(r.out, "heapd_wbuf_spans{state=\"busy\"}", st.wbuf_spans_busy);
	assert_prom_u64(r.out, "heapd_wbuf_spans{state=\"free\"}", st.wbuf_spans_free);
	assert_prom_u64(r.out, "heapd_sweep_spans_total{by=\"gc\"}", st.sweep_spans_gc);
	assert_prom(r.out, "heapd_next_gc_bytes", "+Inf");
	char secs[64];
	assert_prom(r.out, "heapd_gc_pause_seconds_total", seconds_str(secs, st.pause_total_ns));
	assert_prom(r.out, "heapd_gc_max_pause_seconds", seconds_str(secs, st.max_pause_ns));
	assert_prom(r.out, "heapd_gc_last_pause_seconds",
		    seconds_str(secs, st.pause_ns[(st.num_pause + 255) % 256]));
	assert_prom(r.out, "heapd_last_gc_timestamp_seconds", seconds_str(secs, st.last_gc_unix_ns));

	/* HELP and TYPE once per family, before its samples; counters, and
	 * only counters, end in _total */
	char *copy = strdup(r.out), *save = NULL;
	char family[128] = "", type[256] = "";
	int help_seen = 0, families = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], rest[256];
		if (sscanf(line, "# HELP %127s %255[^\n]", name, rest) == 2) {
			snprintf(family, sizeof family, "%s", name);
			help_seen = 1;
			families++;
			type[0] = '\0';
		} else if (sscanf(line, "# TYPE %127s %15s", name, rest) == 2) {
			assert_true(help_seen);
			assert_string_equal(name, family);
			assert_true(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0);
			snprintf(type, sizeof type, "%s", rest);
			size_t n = strlen(name);
			int total = n > 6 && strcmp(name + n - 6, "_total") == 0;
			if (total != (strcmp(type, "counter") == 0))
				fail_msg("%s is a %s", name, type);
		} else {
			assert_true(line[0] != '#');
			assert_true(type[0] != '\0');
			size_t n = strlen(family);
			if (strncmp(line, family, n) != 0 || (line[n] != ' ' && line[n] != '{'))
				fail_msg("sample '%s' outside its family %s", line, family);
			assert_true(strncmp(line, "heapd_", 6) == 0);
		}
	}
	free(copy);
	/* 62 fields; wbuf_spans, connections_refused_total and
	 * uid_quota_refusals_total have 2 members, sweep_spans_total 3 */
	assert_int_equal(families, 57);
	assert_int_equal(count_of(r.out, "# TYPE "), 57);
	assert_prom_u64(r.out, "heapd_connections_refused_total{limit=\"max_clients\"}", 0);
	assert_prom_u64(r.out, "heapd_hello_timeouts_total", 0);
	run_free(&r);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_text),
		cmocka_unit_test(stats_json),
		cmocka_unit_test(stats_prometheus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
