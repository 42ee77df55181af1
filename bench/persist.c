/*
 * persist.c - persistence against Redis: heapd's save and load of a heap
 * of about 1 GiB live against Redis's BGSAVE and RDB load of the same
 * logical data, another client's latency during a save, and the memory a
 * save takes. bench/run-persist-compare.sh runs it; each subcommand does
 * one step and prints one line "persist STEP key=value ...".
 *
 *   persist build -H HEAPD_SOCK -R REDIS_SOCK -n OBJECTS -t TARGETS
 *   persist save -k heapd|redis -s SOCK -p PID -t TARGETS [-w RATE]
 *                [-i READ_US] [-S SEED] [-f FILE] [-l LOG] [-d WARMUP_S]
 *   persist ready -k heapd|redis -s SOCK -p PID -T START_NS [-l LOG]
 *   persist now
 *
 * The graph (build). OBJECTS objects under ROOTS named roots (OBJECTS /
 * 10000, at most 1000), "persist/0000", ...: each root holds a spine of
 * 64 bytes and CHUNKS + 2 slots. Each chunk is one batch of BATCH_NODES
 * alloc_into ops (heapd's default max_batch_ops is 1024): a top of 4
 * slots in the spine's slot, then objects of 0-4 slots (mean 1.4) placed
 * in the open slots breadth first (even batches: bushy trees) or depth
 * first (odd batches: long lists with side branches); then up to
 * BATCH_LINKS set_ref ops fill open slots: half point back at the
 * batch's top (cycles), half at the top of an earlier batch of any root
 * (shared subgraphs). Each spine's last two slots share the top of
 * another root's chunk. Data sizes: 90% 16-96 bytes, 9.5% 97-256, 0.5%
 * 1-4 KiB. One more root, "persist/probe", holds a 64-byte object for the
 * latency reader. Every batch is drawn from its own seed, so the same
 * graph comes out each time without any state.
 *
 * Redis gets one key per object, "o<index>" ("persist/probe" for the
 * probe), whose value has the object's bytes plus 8 per slot: the same
 * number of values and the same logical bytes, sum(nbytes + 8 * nrefs).
 * Build prints both sums, which must agree, and heapd's heap_alloc.
 *
 * The targets file lists objects the writer may change (about one in 8
 * of those at most TARGET_DEPTH below their batch's top, from every
 * batch): index, root, chunk, size, slots, and the slot path from the
 * top, which find them again in heapd after a restart changed every
 * handle.
 *
 * save: a reader (a 64-byte read or GET every READ_US us, default 0: back
 * to back; one at a time, each request timed; libheapd's spin off, so both
 * readers sleep in the kernel for a reply) and a writer (RATE ops/s,
 * default 2000, paced every 1 ms: half overwrite a target's bytes in place
 * - heapd_write, SETRANGE - and half replace a leaf target by a new object
 * of the same size - heapd_alloc_into its parent's slot, SET) run on their
 * own connections for WARMUP_S (default 1) s, then the save:
 * heapd_save(h, 1), or BGSAVE and INFO persistence every 5 ms until
 * rdb_bgsave_in_progress is 0. SEED draws the writer's targets, the same
 * for both servers. A thread samples the server's VmRSS every 2 ms and,
 * for Redis, its child's Private_Dirty (smaps_rollup) every 50 ms; the
 * server's CPU time over the save comes from /proc (Redis's with its
 * child's, which it has reaped by then). The requests over 2 ms during
 * the save go to stderr with when they began. heapd first runs a full
 * collection (heapd_gc), so no cycle is marking when the save begins (a
 * save waits for one).
 *
 * ready: polls from START_NS (CLOCK_MONOTONIC, from "persist now" before
 * the server was started) until the server answers a ping (Redis: PONG,
 * not LOADING), then reads what it loaded.
 *
 * Exits 1 when a server cannot be reached or a request fails, 2 on a
 * usage error.
 *
 * persist.h lists the files, by role, and has what they share; this one
 * has main, the command line and the build step's line.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "heapd.h"
#include "persist.h"

static void usage(void)
{
	fprintf(stderr, "usage: persist build -H HEAPD_SOCK -R REDIS_SOCK -n OBJECTS -t TARGETS\n"
			"       persist save -k heapd|redis -s SOCK -p PID -t TARGETS [-w RATE] [-i READ_US] [-S SEED]\n"
			"                    [-f FILE] [-l LOG] [-d WARMUP_S]\n"
			"       persist ready -k heapd|redis -s SOCK -p PID -T START_NS [-l LOG]\n"
			"       persist now\n");
	exit(2);
}

void pb_sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / PB_SEC), .tv_nsec = (long)(ns % PB_SEC)};

	nanosleep(&ts, NULL);
}

static uint64_t number(const char *s)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		usage();
	return v;
}

void pb_heapd_fail(heapd *h, const char *what)
{
	fprintf(stderr, "persist: %s: %s\n", what, heapd_errmsg(h));
	exit(1);
}

heapd *pb_hconnect(const char *sock)
{
	heapd *h = heapd_connect(sock);

	if (h == NULL)
		fail("out of memory");
	if (heapd_errcode(h) != 0)
		pb_heapd_fail(h, "connect to heapd");
	return h;
}

static int cmd_build(int argc, char **argv)
{
	const char *hs = NULL, *rs = NULL, *tpath = NULL;
	uint64_t objects = 0;
	int c;

	while ((c = getopt(argc, argv, "H:R:n:t:")) != -1) {
		switch (c) {
		case 'H': hs = optarg; break;
		case 'R': rs = optarg; break;
		case 'n': objects = number(optarg); break;
		case 't': tpath = optarg; break;
		default: usage();
		}
	}
	if (!hs || !rs || !tpath || !objects || optind != argc)
		usage();
	struct pb_shape sh = pb_shape_of(objects);
	struct pb_sums hsum = {0}, rsum = {0};
	FILE *tf = fopen(tpath, "w");
	if (!tf)
		fail("cannot write the targets file");
	uint64_t t0 = now_ns();
	pb_build_heapd(hs, &sh, tf, &hsum);
	uint64_t t1 = now_ns();
	if (fclose(tf) != 0)
		fail("cannot write the targets file");
	pb_build_redis(rs, &sh, &rsum);
	uint64_t t2 = now_ns();
	if (memcmp(&hsum, &rsum, sizeof hsum) != 0)
		fail("heapd's and Redis's sums differ");

	heapd *h = pb_hconnect(hs);
	heapd_stats st;
	if (heapd_get_stats(h, &st, sizeof st) != 0)
		pb_heapd_fail(h, "stats");
	heapd_close(h);
	struct pb_rconn *rc = pb_rc_open(rs);
	if (!rc)
		fail("cannot connect to Redis");
	long long used = pb_rc_info(rc, "memory", "used_memory"), rss = pb_rc_info(rc, "memory", "used_memory_rss");
	pb_rc_close(rc);
	printf("persist build objects=%" PRIu64 " roots=%u chunks=%u slots=%" PRIu64 " data_bytes=%" PRIu64
	       " logical_bytes=%" PRIu64 " heapd_secs=%.1f heap_alloc=%" PRIu64 " heap_objects=%" PRIu64
	       " heapd_rss=%" PRIu64 " redis_secs=%.1f redis_used_memory=%lld redis_rss=%lld\n",
	       hsum.objects, sh.roots + 1, sh.chunks, hsum.slots, hsum.data, hsum.data + 8 * hsum.slots,
	       (double)(t1 - t0) / 1e9, st.heap_alloc, st.heap_objects, st.rss_bytes, (double)(t2 - t1) / 1e9, used,
	       rss);
	return 0;
}

static enum pb_kind kind_of(const char *s)
{
	if (strcmp(s, "heapd") == 0)
		return PB_HEAPD;
	if (strcmp(s, "redis") == 0)
		return PB_REDIS;
	usage();
	return PB_HEAPD;
}

static void parse_opts(int argc, char **argv, struct pb_opts *o, int *have_kind)
{
	int c;

	while ((c = getopt(argc, argv, "k:s:p:t:w:S:f:l:d:T:i:")) != -1) {
		switch (c) {
		case 'k': o->kind = kind_of(optarg), *have_kind = 1; break;
		case 's': o->sock = optarg; break;
		case 'p': o->pid = (pid_t)number(optarg); break;
		case 't': o->targets = optarg; break;
		case 'w': o->rate = number(optarg); break;
		case 'S': o->seed = number(optarg); break;
		case 'f': o->file = optarg; break;
		case 'l': o->log = optarg; break;
		case 'd': o->warmup_s = number(optarg); break;
		case 'T': o->start_ns = number(optarg); break;
		case 'i': o->interval_us = number(optarg); break;
		default: usage();
		}
	}
	if (!*have_kind || !o->sock || o->pid <= 0 || optind != argc)
		usage();
}

static int cmd_save(int argc, char **argv)
{
	struct pb_opts o = {.rate = 2000, .seed = 1, .warmup_s = 1};
	int have_kind = 0;

	parse_opts(argc, argv, &o, &have_kind);
	if (!o.targets || o.rate > 1000 * PB_WRITER_TICK_MAX)
		usage();
	pb_save_run(&o);
	return 0;
}

static int cmd_ready(int argc, char **argv)
{
	struct pb_opts o = {0};
	int have_kind = 0;

	parse_opts(argc, argv, &o, &have_kind);
	if (!o.start_ns)
		usage();
	pb_ready_run(&o);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	pb_pool_fill();
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "save") == 0)
		return cmd_save(argc - 1, argv + 1);
	if (strcmp(argv[1], "ready") == 0)
		return cmd_ready(argc - 1, argv + 1);
	if (strcmp(argv[1], "now") == 0 && argc == 2) {
		printf("%" PRIu64 "\n", now_ns());
		return 0;
	}
	usage();
	return 2;
}
