/*
 * bench.c - heapctl bench: requests per second and latency, as
 * redis-benchmark measures Redis. This file has the command: its options,
 * the objects the tests work on, and the output; benchloop.c generates
 * the load.
 *
 *   heapctl [-s SOCKET] bench [-c CONNS] [-n REQUESTS] [-P DEPTH] [-t TESTS]
 *                             [-d BYTES] [-q | --csv]
 *
 * The tests, each one request per operation (bench.h has the objects):
 *   alloc    alloc_into(keys[conn], k, 0 refs, d bytes, d bytes of data):
 *            a new object with its data, stored in slot k of the
 *            connection's key space, k cycling through BENCH_KEYS slots, as
 *            a Redis SET replaces a key's value: the object it replaces is
 *            garbage, so nothing piles up and the collector runs as in a
 *            steady state. (The async API's alloc carries no data; its
 *            alloc_into does, and without a slot would hold every object.)
 *   write    write d bytes at offset 0 of a pool object
 *   read     read d bytes at offset 0 of a pool object (Redis's GET)
 *   set_ref  store a pool object in a slot of another
 *   get_ref  read slot 0 of a pool object, which refers to another
 * Tests run in that order, whatever the order of -t. Each test connects
 * its connections afresh; the objects are made once, before the first test
 * is timed, on a connection of heapctl's own that holds them to the end.
 *
 * -d must fit the daemon's limits (max_object_size, max_frame_size), which
 * only the daemon can tell: that one usage error is found after connecting.
 * Everything else is checked before, as in every heapctl command.
 *
 * Output: a block per test (text), one line per test (-q), or CSV with a
 * header (--csv), each printed as its test ends. Latencies are in
 * microseconds. While a test runs, and only when stderr is a terminal, a
 * progress line there shows its requests per second so far, redrawn in
 * place and erased at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "heapctl.h"
#include "heapd/async.h"

#define BENCH_MAX_CONNS 10000u

const char *const bench_test_name[BT_NTESTS] = {"alloc", "write", "read", "set_ref", "get_ref", "batch"};

enum format { F_TEXT, F_QUIET, F_CSV };

/* A number in [min, max] from -opt's argument; -1 after a usage error. */
static int number(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		ctl_usage("bench", "%s '%s': expected a number from %" PRIu64 " to %" PRIu64, opt, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* -c, -n, -P or -d: a number from 1 to the option's most into o; -1
 * after a usage error. */
static int number_option(int c, const char *arg, struct bench_opts *o)
{
	char flag[3] = {'-', (char)c, '\0'};
	uint64_t v, most = c == 'c' ? BENCH_MAX_CONNS
			 : c == 'n' ? UINT64_MAX / 2
			 : c == 'P' ? HEAPD_ASYNC_MAX_PENDING - 1
				    : UINT32_MAX;
	if (number(flag, arg, 1, most, &v) < 0)
		return -1;
	if (c == 'c')
		o->conns = (unsigned)v;
	else if (c == 'n')
		o->requests = v;
	else if (c == 'P')
		o->pipeline = (uint32_t)v;
	else
		o->size = (uint32_t)v;
	return 0;
}

/* -t: a comma-separated list of test names into a set of bits. */
static int parse_tests(const char *arg, unsigned *tests)
{
	*tests = 0;
	const char *p = arg;
	for (;;) {
		size_t len = strcspn(p, ",");
		int found = 0;
		for (int t = 0; t < BT_NTESTS && !found; t++) {
			if (strlen(bench_test_name[t]) == len && strncmp(p, bench_test_name[t], len) == 0) {
				*tests |= 1u << t;
				found = 1;
			}
		}
		if (!found) {
			ctl_usage("bench", "unknown test '%.*s' in -t; the tests are alloc, write, read, set_ref, get_ref, batch",
				  (int)len, p);
			return -1;
		}
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* Parses argv into o and *fmt; returns -1 to go on, or the exit code. */
static int parse(const struct ctl_cmd *cmd, int argc, char **argv, struct bench_opts *o, enum format *fmt)
{
	static const struct option opts[] = {
		{"connections", required_argument, NULL, 'c'},
		{"requests", required_argument, NULL, 'n'},
		{"pipeline", required_argument, NULL, 'P'},
		{"tests", required_argument, NULL, 't'},
		{"data-size", required_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"csv", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;
	while ((c = ctl_option(cmd, argc, argv, "c:n:P:t:d:qh", opts, &rc)) > 0) {
		switch (c) {
		case 'c':
		case 'n':
		case 'P':
		case 'd':
			if (number_option(c, optarg, o) < 0)
				return CTL_USAGE;
			break;
		case 't':
			if (parse_tests(optarg, &o->tests) < 0)
				return CTL_USAGE;
			break;
		case 'q':
		case 'C':
			if (*fmt != F_TEXT && *fmt != (c == 'q' ? F_QUIET : F_CSV))
				return ctl_usage(cmd->name, "choose one of -q and --csv");
			*fmt = c == 'q' ? F_QUIET : F_CSV;
			break;
		}
	}
	return c == 0 ? rc : -1;
}

/* -d against what the daemon takes: a pool object (its header and slots
 * besides the data) within max_object_size, and a read reply of d bytes
 * within max_frame_size (the daemon keeps 64 bytes of a frame for the
 * rest of a reply). Returns -1 to go on, or CTL_USAGE. */
static int check_size(heapd *h, uint32_t size)
{
	uint64_t by_object = heapd_max_object(h) - 8 - 8 * BENCH_POOL_NREFS;
	uint64_t by_frame = heapd_max_frame(h) - 64;
	uint64_t most = by_object < by_frame ? by_object : by_frame;
	if (size <= most)
		return -1;
	heapd_close(h);
	return ctl_usage("bench", "-d %" PRIu32 ": this daemon takes at most %" PRIu64 " bytes of data (max_object_size %"
			 PRIu64 ", max_frame_size %" PRIu32 ")", size, most, by_object + 8 + 8 * BENCH_POOL_NREFS,
			 (uint32_t)(by_frame + 64));
}

/* The objects of bench.h, made and held on h. */
static int setup(heapd *h, const struct bench_opts *o, const uint8_t *data, heapd_ref **keys, heapd_ref **pool)
{
	if (o->tests & (1u << BT_ALLOC | 1u << BT_BATCH)) {
		if (!(*keys = calloc(o->conns, sizeof **keys)))
			return HEAPD_ENOBUFS;
		for (unsigned i = 0; i < o->conns; i++) {
			int err = heapd_alloc(h, BENCH_KEYS, 0, &(*keys)[i]);
			if (err)
				return err;
		}
	}
	if (!(o->tests & ~(1u << BT_ALLOC | 1u << BT_BATCH)))
		return 0;
	if (!(*pool = calloc(BENCH_POOL, sizeof **pool)))
		return HEAPD_ENOBUFS;
	int err = 0;
	for (unsigned i = 0; i < BENCH_POOL && !err; i++)
		err = heapd_alloc_into(h, 0, 0, BENCH_POOL_NREFS, o->size, data, o->size, &(*pool)[i]);
	for (unsigned i = 0; i < BENCH_POOL && !err; i++)
		err = heapd_set_ref(h, (*pool)[i], 0, (*pool)[(i + 1) % BENCH_POOL]);
	return err;
}

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static void print_result(enum format fmt, const struct bench_opts *o, enum bench_test t, const struct bench_result *r)
{
	double secs = (double)r->elapsed_ns / 1e9;
	double rps = secs > 0 ? (double)r->requests / secs : 0;
	double p50 = us(hist_quantile(&r->lat, 0.50)), p99 = us(hist_quantile(&r->lat, 0.99)), max = us(r->lat.max);
	const char *name = bench_test_name[t];
	switch (fmt) {
	case F_TEXT:
		printf("====== %s ======\n"
		       "  %" PRIu64 " requests completed in %.2f seconds\n"
		       "  %u connections, pipeline %" PRIu32 ", %" PRIu32 " bytes of data\n"
		       "  %.2f requests per second\n"
		       "  latency (us): p50 %.1f, p99 %.1f, max %.1f\n\n",
		       name, r->requests, secs, o->conns, o->pipeline, o->size, rps, p50, p99, max);
		break;
	case F_QUIET:
		printf("%s: %.2f requests per second, p50=%.1f p99=%.1f max=%.1f us\n", name, rps, p50, p99, max);
		break;
	case F_CSV:
		printf("%s,%u,%" PRIu32 ",%" PRIu32 ",%" PRIu64 ",%.6f,%.2f,%.1f,%.1f,%.1f\n", name, o->conns,
		       o->pipeline, o->size, r->requests, secs, rps, p50, p99, max);
		break;
	}
	fflush(stdout);
}

static int run_tests(heapd *h, const struct bench_opts *o, enum format fmt, const char *socket)
{
	heapd_ref *keys = NULL, *pool = NULL;
	uint8_t *data = malloc(o->size);
	struct bench_result *res = malloc(sizeof *res);
	for (uint32_t i = 0; data && i < o->size; i++)
		data[i] = (uint8_t)('a' + i % 26);
	int rc = CTL_OK, err = data && res ? setup(h, o, data, &keys, &pool) : HEAPD_ENOBUFS;
	if (err) {
		fprintf(stderr, "heapctl: bench: setting up the objects: %s\n",
			err == HEAPD_ENOBUFS ? "out of memory" : heapd_errmsg(h));
		rc = CTL_ERROR;
	}
	struct bench_setup s = {.socket = socket, .data = data, .keys = keys, .pool = pool};
	if (rc == CTL_OK && fmt == F_CSV)
		puts("test,connections,pipeline,data_bytes,requests,seconds,rps,p50_us,p99_us,max_us");
	for (int t = 0; t < BT_NTESTS && rc == CTL_OK; t++) {
		if (!(o->tests & (1u << t)))
			continue;
		rc = bench_loop_run(o, &s, (enum bench_test)t, res);
		if (rc == CTL_OK)
			print_result(fmt, o, (enum bench_test)t, res);
	}
	free(res);
	free(data);
	free(keys);
	free(pool);
	return rc;
}

static int bench_run(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct bench_opts o = {.conns = 50, .requests = 100000, .pipeline = 1, .size = 64,
			       .tests = (1u << BT_NTESTS) - 1, .progress = isatty(2)};
	enum format fmt = F_TEXT;
	int rc = parse(cmd, argc, argv, &o, &fmt);
	if (rc >= 0)
		return rc;
	heapd *h = ctl_connect_own(cmd->name);
	if (!h)
		return CTL_ERROR;
	if ((rc = check_size(h, o.size)) >= 0)
		return rc;
	rc = run_tests(h, &o, fmt, ctl_socket_path());
	heapd_close(h);
	return rc;
}

const struct ctl_cmd bench_cmd = {
	"bench", "[-c CONNS] [-n REQUESTS] [-P DEPTH] [-t TESTS] [-d BYTES] [-q | --csv]",
	"measure requests per second and latency, as redis-benchmark",
	"Load heapd as redis-benchmark loads Redis: CONNS connections on one event\n"
	"loop, each sending DEPTH requests at a time and waiting for their replies,\n"
	"REQUESTS requests per test in all. For each test, print the requests per\n"
	"second and the latency of a request (p50, p99, max, in microseconds).\n"
	"\n"
	"  -c, --connections=CONNS  connections (default 50, at most 10000)\n"
	"  -n, --requests=REQUESTS  requests per test, over all connections\n"
	"                           (default 100000)\n"
	"  -P, --pipeline=DEPTH     requests each connection sends at a time\n"
	"                           (default 1: one in flight)\n"
	"  -t, --tests=TESTS        comma-separated tests (default all):\n"
	"                           alloc    alloc with BYTES of data, stored in a\n"
	"                                    slot of the connection's key space\n"
	"                                    (the object it replaces is garbage)\n"
	"                           write    write BYTES to an object\n"
	"                           read     read BYTES of an object\n"
	"                           set_ref  store a ref in a slot\n"
	"                           get_ref  read a ref from a slot\n"
	"                           batch    a two-object list with BYTES of\n"
	"                                    data each, made in one request and\n"
	"                                    stored in a slot of the key space\n"
	"  -d, --data-size=BYTES    data per request (default 64)\n"
	"  -q, --quiet              one line per test\n"
	"      --csv                CSV: a header, then one row per test\n"
	"  -h, --help               print this help\n"
	"\n"
	"The objects are made before any test is timed. While a test runs, and when\n"
	"stderr is a terminal, its requests per second so far are shown there.\n",
	bench_run,
};
