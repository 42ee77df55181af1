/*
 * test_bench.c - heapctl bench against a real heapd, heapctl run as a
 * child process (HEAPCTL_BIN) with its output captured.
 *
 * What is checked is what can be without timing anything: every test runs
 * and exits 0 in each shape of load (one connection and several, one
 * request in flight and a pipeline), the CSV has its columns and a
 * positive rate, the requests counted are the requests asked for and the
 * daemon saw them (its mallocs), nothing is left behind (sessions, holds),
 * and bad options are usage errors with a message. No rate is compared to
 * anything.
 */
#include <inttypes.h>

#include "daemonutil.h"
#include "runutil.h"

static const char *const no_env[] = {"HEAPD_SOCKET", NULL};

#define CSV_HEADER "test,connections,pipeline,data_bytes,requests,seconds,rps,p50_us,p99_us,max_us\n"
#define NCOLUMNS 10

/* heapctl -s SOCK bench ARGS... (NULL-terminated). */
static void bench_v(struct run *r, const char *sock, va_list ap)
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)env_or("HEAPCTL_BIN", "client/heapctl/heapctl");
	argv[n++] = "-s";
	argv[n++] = (char *)sock;
	argv[n++] = "bench";
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 31;)
		argv[n++] = a;
	argv[n] = NULL;
	run_env(r, no_env, argv);
}

static void bench(struct run *r, const char *sock, ...)
{
	va_list ap;
	va_start(ap, sock);
	bench_v(r, sock, ap);
	va_end(ap);
}

static void assert_ok(const struct run *r)
{
	if (r->code != 0 || r->err_len != 0)
		fail_msg("heapctl bench exited %d (signal %d); stderr:\n%s", r->code, r->sig, r->err);
}

struct row {
	char test[16];
	unsigned long long conns, pipeline, size, requests;
	double seconds, rps, p50, p99, max;
};

/* The rows of CSV output, after checking its header and every row's
 * shape. Returns how many. */
static int parse_csv(const char *out, struct row *rows, int max)
{
	if (strncmp(out, CSV_HEADER, strlen(CSV_HEADER)) != 0)
		fail_msg("no CSV header in:\n%s", out);
	int n = 0;
	for (const char *line = out + strlen(CSV_HEADER); *line; n++) {
		const char *nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true(n < max);
		int commas = 0;
		for (const char *p = line; p < nl; p++)
			commas += *p == ',';
		assert_int_equal(commas, NCOLUMNS - 1);
		struct row *w = &rows[n];
		int got = sscanf(line, "%15[a-z_],%llu,%llu,%llu,%llu,%lf,%lf,%lf,%lf,%lf", w->test, &w->conns,
				 &w->pipeline, &w->size, &w->requests, &w->seconds, &w->rps, &w->p50, &w->p99, &w->max);
		if (got != NCOLUMNS)
			fail_msg("bad CSV row: %.*s", (int)(nl - line), line);
		line = nl + 1;
	}
	return n;
}

/* Waits (2 s at most) for heapctl's sessions to be gone: it has exited,
 * but the daemon may not have read the end of its connections yet. */
static heapd_stats *settled(heapd *h)
{
	heapd_stats *st = stats_of(h);
	for (int i = 0; i < 200 && st->sessions > 1; i++) {
		sleep_ms(10);
		st = stats_of(h);
	}
	assert_int_equal(st->sessions, 1);
	return st;
}

static const char *const all_tests[] = {"alloc", "write", "read", "set_ref", "get_ref", "batch"};

/* A row that says what was asked and measured something. */
static void check_row(const struct row *w, const char *test, unsigned long long conns,
		      unsigned long long pipeline, unsigned long long requests)
{
	assert_string_equal(w->test, test);
	assert_int_equal(w->conns, conns);
	assert_int_equal(w->pipeline, pipeline);
	assert_int_equal(w->size, 64);
	assert_int_equal(w->requests, requests);
	assert_true(w->seconds > 0);
	assert_true(w->rps > 0);
	assert_true(w->p50 >= 0 && w->p50 <= w->p99 && w->p99 <= w->max);
}

/* Every test, one and eight connections, one and sixteen in flight; a
 * request count no batch divides, so the last batches are partial. */
static void every_test_every_shape(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	static const char *const shapes[][2] = {{"1", "1"}, {"1", "16"}, {"8", "1"}, {"8", "16"}};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		struct run r;
		bench(&r, d.sock, "-c", shapes[i][0], "-P", shapes[i][1], "-n", "1999", "--csv", NULL);
		assert_ok(&r);
		struct row rows[8];
		int ntests = (int)(sizeof all_tests / sizeof all_tests[0]);
		assert_int_equal(parse_csv(r.out, rows, 8), ntests);
		for (int t = 0; t < ntests; t++)
			check_row(&rows[t], all_tests[t], strtoull(shapes[i][0], NULL, 10),
				  strtoull(shapes[i][1], NULL, 10), 1999);
		run_free(&r);
	}
	/* Nothing stays: heapctl's sessions are gone, and with them their holds. */
	heapd *h = client(&d);
	assert_int_equal(settled(h)->holds, 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* alloc: one object per request, plus one key space per connection; the
 * objects replaced are garbage, and a collection frees them. batch: two
 * per request. */
static void alloc_counts(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	uint64_t before = stats_of(h)->mallocs;
	struct run r;
	bench(&r, d.sock, "-t", "alloc", "-c", "3", "-P", "7", "-n", "5000", "--csv", NULL);
	assert_ok(&r);
	struct row rows[2];
	assert_int_equal(parse_csv(r.out, rows, 2), 1);
	check_row(&rows[0], "alloc", 3, 7, 5000);
	run_free(&r);
	assert_int_equal(settled(h)->mallocs - before, 5000 + 3);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(stats_of(h)->heap_objects, 0); /* heapctl's holds went with it */
	/* batch: two objects per request, the second linked from the first */
	before = stats_of(h)->mallocs;
	bench(&r, d.sock, "-t", "batch", "-c", "3", "-P", "7", "-n", "5000", "--csv", NULL);
	assert_ok(&r);
	assert_int_equal(parse_csv(r.out, rows, 2), 1);
	check_row(&rows[0], "batch", 3, 7, 5000);
	run_free(&r);
	assert_int_equal(settled(h)->mallocs - before, 2 * 5000 + 3);
	assert_int_equal(heapd_gc(h), 0);
	assert_int_equal(stats_of(h)->heap_objects, 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* get_ref holds what it reads; a connection reconnects before its holds
 * reach max_holds_per_session's default, so any -n works. Here the limit
 * is barely above where it reconnects: without, the run would fail. */
static void get_ref_holds_bounded(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-holds-per-session", "66000", NULL);
	struct run r;
	bench(&r, d.sock, "-t", "get_ref", "-c", "1", "-P", "16", "-n", "140000", "--csv", NULL);
	assert_ok(&r);
	struct row rows[2];
	assert_int_equal(parse_csv(r.out, rows, 2), 1);
	check_row(&rows[0], "get_ref", 1, 16, 140000);
	run_free(&r);
	/* heapctl's own, the bench connection, and its two reconnects */
	assert_int_equal(count_text(d.log, "heapctl, pid"), 4);
	daemon_stop(&d);
}

/* The text block and the quiet line of each test, in the tests' order
 * whatever -t's. */
static void text_and_quiet(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	struct run r;
	bench(&r, d.sock, "-t", "read,alloc", "-n", "500", "-c", "2", NULL);
	assert_ok(&r);
	const char *alloc = strstr(r.out, "====== alloc ======\n"), *read = strstr(r.out, "====== read ======\n");
	assert_true(alloc == r.out && read > alloc);
	assert_contains(r.out, "  500 requests completed in ");
	assert_contains(r.out, "  2 connections, pipeline 1, 64 bytes of data\n");
	assert_contains(r.out, " requests per second\n  latency (us): p50 ");
	assert_null(strstr(r.out, "write"));
	run_free(&r);
	bench(&r, d.sock, "-q", "-t", "set_ref,get_ref", "-n", "500", "-d", "10", NULL);
	assert_ok(&r);
	char name[16];
	double rps, p50, p99, max;
	assert_int_equal(sscanf(r.out, "%15[a-z_]: %lf requests per second, p50=%lf p99=%lf max=%lf us\n", name, &rps,
				&p50, &p99, &max), 5);
	assert_string_equal(name, "set_ref");
	assert_true(rps > 0 && p50 <= max);
	assert_non_null(strstr(r.out, "\nget_ref: "));
	assert_int_equal(strchr(strchr(r.out, '\n') + 1, '\n')[1], '\0'); /* two lines */
	run_free(&r);
	daemon_stop(&d);
}

/* A usage error: exit 2, nothing on stdout, the message and a pointer
 * to the help on stderr. */
static void expect_usage(const char *sock, const char *message, ...)
{
	struct run r;
	va_list ap;
	va_start(ap, message);
	bench_v(&r, sock, ap);
	va_end(ap);
	if (r.code != 2)
		fail_msg("exit %d, expected 2; stderr:\n%s", r.code, r.err);
	assert_int_equal(r.out_len, 0);
	assert_contains(r.err, message);
	assert_contains(r.err, "Try 'heapctl bench --help'.");
	run_free(&r);
}

static void bad_options(void **state)
{
	(void)state;
	const char *none = "/nonexistent/b.sock"; /* checked before connecting */
	/* The help names every test the usage error lists. */
	struct run r;
	bench(&r, none, "--help", NULL);
	assert_ok(&r);
	static const char *const tests[] = {"alloc", "write", "read", "set_ref", "get_ref", "batch"};
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		char line[32];
		snprintf(line, sizeof line, "  %s ", tests[i]);
		assert_contains(r.out, line);
	}
	run_free(&r);
	expect_usage(none, "unknown test 'scan' in -t; the tests are alloc, write, read, set_ref, get_ref, batch",
		     "-t", "scan", NULL);
	expect_usage(none, "unknown test 'gets'", "-t", "read,gets", NULL);
	expect_usage(none, "unknown test ''", "-t", "read,,write", NULL);
	expect_usage(none, "unknown test ''", "-t", "", NULL);
	expect_usage(none, "-P '0': expected a number from 1 to ", "-P", "0", NULL);
	expect_usage(none, "-c '0': expected a number from 1 to 10000", "-c", "0", NULL);
	expect_usage(none, "-c '10001'", "-c", "10001", NULL);
	expect_usage(none, "-n '0': expected a number from 1 to ", "-n", "0", NULL);
	expect_usage(none, "-n '-5'", "-n", "-5", NULL);
	expect_usage(none, "-d '0'", "-d", "0", NULL);
	expect_usage(none, "-d 'x'", "-d", "x", NULL);
	expect_usage(none, "choose one of -q and --csv", "-q", "--csv", NULL);
	expect_usage(none, "unexpected argument 'now'", "now", NULL);
	expect_usage(none, "heapctl: bench: unrecognized option '--frobnicate'", "--frobnicate", NULL);

	/* -d past what the daemon takes: found once connected */
	struct daemon d;
	daemon_start(&d, "--max-object-size", "4K", NULL);
	expect_usage(d.sock, "-d 4057: this daemon takes at most 4056 bytes of data (max_object_size 4096", "-d",
		     "4057", "-n", "10", NULL);
	bench(&r, d.sock, "-d", "4056", "-n", "100", "-c", "2", "-q", NULL);
	assert_ok(&r);
	run_free(&r);
	daemon_stop(&d);
}

/* The daemon refuses connections past max_clients: a runtime error with
 * its message. */
static void refused(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, "--max-clients", "4", NULL);
	struct run r;
	bench(&r, d.sock, "-c", "8", "-n", "100", "-t", "read", NULL);
	assert_int_equal(r.code, 1);
	assert_true(strncmp(r.err, "heapctl: bench: connection ", 27) == 0);
	assert_contains(r.err, "max_clients 4");
	assert_null(strstr(r.out, "requests per second"));
	run_free(&r);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_test_every_shape),
		cmocka_unit_test(alloc_counts),
		cmocka_unit_test(get_ref_holds_bounded),
		cmocka_unit_test(text_and_quiet),
		cmocka_unit_test(bad_options),
		cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
