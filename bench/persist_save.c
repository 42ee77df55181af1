/*
 * persist_save.c - the save and the restart, measured. A save: the
 * clients started and warmed up, a sampler thread follows the server's
 * memory while the parent runs one save (heapd_save; BGSAVE, then INFO
 * until it is done), then the reader's latencies, the server's memory and
 * CPU time, the file and the writer's ops go in one line. A restart: the
 * time from the server's start to its first answer, and what it loaded.
 *
 * The sampler's thread alone writes its struct sampler, but for stop,
 * until the parent joins it. The parent reads pb_shm's writer_ops while
 * the clients run, and the requests they recorded once they have stopped.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "heapd.h"
#include "persist.h"

struct pb_shm *pb_shm;

/* ---- the sampler ---- */

/* A "Key: N kB" line of a /proc file, in kB; -1 when it cannot be read. */
static long long proc_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long long kb = -1;
	size_t n = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0) {
			kb = strtoll(line + n, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static long long rss_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	return proc_kb(path, "VmRSS:");
}

/* CPU time pid used, with that of the children it waited for (Redis's
 * save child, once reaped), in ns; 0 when it cannot be read. */
static uint64_t cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long t[4] = {0};
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &t[0], &t[1], &t[2],
			 &t[3]) != 4)
		return 0;
	return (t[0] + t[1] + t[2] + t[3]) * (PB_SEC / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* The first child of pid (Redis's save child), or 0. */
static pid_t child_of(pid_t pid)
{
	char path[96];
	int child = 0;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return (pid_t)child;
}

struct sampler {
	pthread_t thread;
	pid_t pid, child;
	int redis;
	atomic_int stop;
	long long rss_peak, child_peak, sum_peak;  /* kB */
	uint64_t samples;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;
	long long child = 0;
	uint64_t child_at = 0;
	char path[64];

	while (!atomic_load(&s->stop)) {
		long long rss = rss_kb(s->pid);
		if (s->redis && !s->child)
			s->child = child_of(s->pid);
		if (s->child && now_ns() - child_at >= 50 * PB_MS) {
			snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)s->child);
			long long pd = proc_kb(path, "Private_Dirty:");
			child = pd < 0 ? 0 : pd;
			child_at = now_ns();
		}
		if (rss > s->rss_peak)
			s->rss_peak = rss;
		if (child > s->child_peak)
			s->child_peak = child;
		if (rss + child > s->sum_peak)
			s->sum_peak = rss + child;
		s->samples++;
		pb_sleep_ns(2 * PB_MS);
	}
	return NULL;
}

/* ---- the save ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

struct lat {
	size_t n;
	double p50, p99, max;  /* us */
	double max_at;         /* ms from the window's start to the slowest request's */
};

/* Requests that overlap [from, to) (during) or that lie inside it. */
static struct lat lat_of(uint64_t from, uint64_t to, int overlap)
{
	uint64_t n = atomic_load(&pb_shm->nrec), k = 0, worst = 0, worst_t0 = from;
	uint64_t *v = malloc((n ? n : 1) * sizeof *v);
	struct lat l = {0};

	if (!v)
		fail("out of memory");
	for (uint64_t i = 0; i < n; i++) {
		const struct pb_rec *r = &pb_shm->rec[i];
		if (overlap ? r->t0 < to && r->t0 + r->dur > from : r->t0 >= from && r->t0 + r->dur <= to) {
			v[k++] = r->dur;
			if (r->dur > worst)
				worst = r->dur, worst_t0 = r->t0;
		}
	}
	qsort(v, k, sizeof *v, cmp_u64);
	l.n = k;
	if (k) {
		l.p50 = (double)v[(k - 1) / 2] / 1e3;
		l.p99 = (double)v[(size_t)((double)k * 0.99 + 0.999999) - 1] / 1e3;
		l.max = (double)v[k - 1] / 1e3;
		l.max_at = ((double)worst_t0 - (double)from) / 1e6;
	}
	free(v);
	return l;
}

/* The requests of [from, to) over limit_ns, with when they began, on
 * stderr: where in a save the slow ones fall. */
static void lat_show(uint64_t from, uint64_t to, uint64_t limit_ns)
{
	uint64_t n = atomic_load(&pb_shm->nrec);
	unsigned shown = 0;

	fprintf(stderr, "persist: the save ran from %" PRIu64 " to %" PRIu64 " ns (CLOCK_MONOTONIC)\n", from, to);
	for (uint64_t i = 0; i < n && shown < 20; i++) {
		const struct pb_rec *r = &pb_shm->rec[i];
		if (r->t0 < to && r->t0 + r->dur > from && r->dur > limit_ns) {
			fprintf(stderr, "persist: a request of %.2f ms at %.1f ms of %.1f\n", (double)r->dur / 1e6,
				((double)r->t0 - (double)from) / 1e6, (double)(to - from) / 1e6);
			shown++;
		}
	}
}

/* The save's figures, as the line prints them. */
struct result {
	uint64_t wall_ns, server_ns, child_ns, size, objects, before, after, fork_ns, cpu_ns;
	long long cow_kb, file_size;
	uint64_t hdr[4];  /* heapd's file: objects, roots, slots, data bytes */
};

static void save_heapd(heapd *h, struct result *res, uint64_t *t0, uint64_t *t1)
{
	heapd_stats st;

	if (heapd_get_stats(h, &st, sizeof st) != 0)
		pb_heapd_fail(h, "stats");
	res->before = st.heap_alloc;
	uint64_t saves = st.saves_total;
	*t0 = now_ns();
	if (heapd_save(h, 1) != 0)
		pb_heapd_fail(h, "save");
	*t1 = now_ns();
	if (heapd_get_stats(h, &st, sizeof st) != 0)
		pb_heapd_fail(h, "stats");
	if (st.saves_total != saves + 1)
		fail("saves_total did not count the save");
	res->server_ns = st.last_save_duration_ns;
	res->size = st.last_save_size_bytes;
	res->objects = st.last_save_objects;
	res->after = st.heap_alloc;
}

/* Seconds since midnight of a Redis log line's time, or -1. */
static double log_time(const char *line)
{
	int day, year, hh, mm, ss, msec;
	char mon[4];

	if (sscanf(line, "%*d:%*c %d %3s %d %d:%d:%d.%d", &day, mon, &year, &hh, &mm, &ss, &msec) != 7)
		return -1;
	return hh * 3600.0 + mm * 60.0 + ss + msec / 1000.0;
}

/* The last line of the log that has text; its time in *t. */
static int log_last(const char *path, const char *text, double *t, char *line, size_t cap)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char buf[1024];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof buf, f))
		if (strstr(buf, text)) {
			*t = log_time(buf);
			snprintf(line, cap, "%s", buf);
			found = 1;
		}
	fclose(f);
	return found;
}

static void save_redis(const struct pb_opts *o, struct pb_rconn *c, struct result *res, uint64_t *t0, uint64_t *t1)
{
	const char *bgsave[] = {"BGSAVE"};
	struct pb_rreply r;
	double a, b;
	char line[1024];

	res->before = (uint64_t)pb_rc_info(c, "memory", "used_memory");
	*t0 = now_ns();
	pb_rc_call(c, &r, 1, bgsave);
	res->fork_ns = now_ns() - *t0;
	if (r.type != '+')
		fail("BGSAVE failed");
	while (pb_rc_info(c, "persistence", "rdb_bgsave_in_progress") != 0)
		pb_sleep_ns(5 * PB_MS);
	*t1 = now_ns();
	const char *persistence[] = {"INFO", "persistence"};
	pb_rc_call(c, &r, 2, persistence);
	if (r.type != '$' || !memmem(r.s, r.len, "rdb_last_bgsave_status:ok", 25))
		fail("BGSAVE did not succeed");
	res->cow_kb = pb_rc_info(c, "persistence", "rdb_last_cow_size") / 1024;
	long long fork_us = pb_rc_info(c, "stats", "latest_fork_usec");
	if (fork_us >= 0)
		res->fork_ns = (uint64_t)fork_us * 1000;
	res->after = (uint64_t)pb_rc_info(c, "memory", "used_memory");
	if (!log_last(o->log, "Background saving started", &a, line, sizeof line) || a < 0)
		return;
	if (log_last(o->log, "Background saving terminated with success", &b, line, sizeof line) && b >= 0)
		res->server_ns = (uint64_t)(((b < a ? b + 86400 : b) - a) * 1e9);
	if (log_last(o->log, "DB saved on disk", &b, line, sizeof line) && b >= 0)
		res->child_ns = (uint64_t)(((b < a ? b + 86400 : b) - a) * 1e9);
}

static void file_figures(const struct pb_opts *o, struct result *res)
{
	struct stat st;

	res->file_size = o->file && stat(o->file, &st) == 0 ? (long long)st.st_size : -1;
	if (o->kind != PB_HEAPD || !o->file)
		return;
	FILE *f = fopen(o->file, "rb");
	uint8_t hdr[64];
	if (f && fread(hdr, 1, sizeof hdr, f) == sizeof hdr)
		for (int i = 0; i < 4; i++)
			for (int k = 7; k >= 0; k--)
				res->hdr[i] = res->hdr[i] << 8 | hdr[32 + 8 * i + k];
	if (f)
		fclose(f);
}

static void print_save(const struct pb_opts *o, const struct result *res, const struct sampler *s, long long rss0,
		       uint64_t t0, uint64_t t1, uint64_t ops)
{
	struct lat d = lat_of(t0, t1, 1), q = lat_of(t0 - o->warmup_s * PB_SEC, t0, 0);
	long long peak = o->kind == PB_REDIS ? s->sum_peak : s->rss_peak;
	double secs = (double)(t1 - t0) / 1e9;

	printf("%s test=save wall_ms=%.1f server_ms=%.1f child_ms=%.1f fork_ms=%.2f cpu_ms=%.0f",
	       o->kind == PB_HEAPD ? "heapd" : "redis", (double)(t1 - t0) / 1e6, (double)res->server_ns / 1e6,
	       (double)res->child_ns / 1e6, (double)res->fork_ns / 1e6, (double)res->cpu_ns / 1e6);
	printf(" size_bytes=%lld saved_objects=%" PRIu64, res->file_size, res->objects);
	printf(" lat_n=%zu lat_p50_us=%.1f lat_p99_us=%.1f lat_max_us=%.1f lat_max_at_ms=%.1f", d.n, d.p50, d.p99,
	       d.max, d.max_at);
	printf(" base_n=%zu base_p99_us=%.1f base_max_us=%.1f", q.n, q.p99, q.max);
	printf(" rss_before_mib=%.1f peak_mib=%.1f extra_mib=%.1f child_peak_mib=%.1f cow_mib=%.1f", rss0 / 1024.0,
	       peak / 1024.0, (peak - rss0) / 1024.0, s->child_peak / 1024.0, res->cow_kb / 1024.0);
	printf(" heap_before=%" PRIu64 " heap_after=%" PRIu64, res->before, res->after);
	printf(" writer_ops=%" PRIu64 " writer_rate=%.0f writer_errors=%" PRIu64, ops,
	       secs > 0 ? (double)ops / secs : 0.0, (uint64_t)atomic_load(&pb_shm->writer_errors));
	if (o->kind == PB_HEAPD)
		printf(" stat_size_bytes=%" PRIu64 " snap_objects=%" PRIu64 " snap_roots=%" PRIu64
		       " snap_slots=%" PRIu64 " snap_data=%" PRIu64,
		       res->size, res->hdr[0], res->hdr[1], res->hdr[2], res->hdr[3]);
	printf(" samples=%" PRIu64 "\n", s->samples);
	lat_show(t0, t1, 2 * PB_MS);
}

void pb_save_run(const struct pb_opts *o)
{
	heapd *h = NULL;
	struct pb_rconn *c = NULL;
	struct result res = {.cow_kb = -1};
	struct sampler s = {.pid = o->pid, .redis = o->kind == PB_REDIS};
	pid_t pids[2];
	uint64_t t0, t1;

	pb_shm = mmap(NULL, sizeof *pb_shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pb_shm == MAP_FAILED)
		fail("mmap");
	if (o->kind == PB_HEAPD) {
		h = pb_hconnect(o->sock);
		if (heapd_gc(h) != 0)
			pb_heapd_fail(h, "gc");
	} else if (!(c = pb_rc_open(o->sock))) {
		fail("cannot connect to Redis");
	}
	pb_clients_start(o, pids);
	pb_sleep_ns(o->warmup_s * PB_SEC);
	long long rss0 = rss_kb(o->pid);
	if (pthread_create(&s.thread, NULL, sampler_main, &s) != 0)
		fail("cannot start the sampler");
	uint64_t ops0 = atomic_load(&pb_shm->writer_ops), cpu0 = cpu_ns(o->pid);
	if (o->kind == PB_HEAPD)
		save_heapd(h, &res, &t0, &t1);
	else
		save_redis(o, c, &res, &t0, &t1);
	res.cpu_ns = cpu_ns(o->pid) - cpu0;
	uint64_t ops = atomic_load(&pb_shm->writer_ops) - ops0;
	atomic_store(&s.stop, 1);
	pthread_join(s.thread, NULL);
	pb_sleep_ns(200 * PB_MS);
	pb_clients_stop(pids);
	file_figures(o, &res);
	print_save(o, &res, &s, rss0, t0, t1, ops);
	if (h)
		heapd_close(h);
	pb_rc_close(c);
}

/* ---- ready: a started server's time to serve ---- */

/* Whether pid has ended (a zombie counts: the shell waits for it later). */
static int gone(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 1;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 'Z';
	fclose(f);
	return state == 'Z' || state == 'X';
}

static heapd *ready_heapd(const struct pb_opts *o)
{
	for (;;) {
		heapd *h = heapd_connect(o->sock);

		if (!h)
			fail("out of memory");
		if (heapd_errcode(h) == 0 && heapd_ping(h, NULL) == 0)
			return h;
		heapd_close(h);
		if (gone(o->pid))
			fail("heapd ended before it served");
		pb_sleep_ns(PB_MS);
	}
}

static struct pb_rconn *ready_redis(const struct pb_opts *o)
{
	const char *ping[] = {"PING"};
	struct pb_rconn *c = NULL;
	struct pb_rreply r;

	for (;;) {
		if (!c)
			c = pb_rc_open(o->sock);
		if (c) {
			pb_rc_call(c, &r, 1, ping);
			if (r.type == '+')
				return c;
		}
		if (gone(o->pid))
			fail("redis-server ended before it served");
		pb_sleep_ns(PB_MS);
	}
}

/* The ready step's line: the time from START_NS to the first answer, and
 * what the server loaded. */
void pb_ready_run(const struct pb_opts *o)
{
	char line[1024] = "";
	double t = 0;

	if (o->kind == PB_HEAPD) {
		heapd *h = ready_heapd(o);
		uint64_t ready = now_ns() - o->start_ns;
		heapd_stats st;
		if (heapd_get_stats(h, &st, sizeof st) != 0)
			pb_heapd_fail(h, "stats");
		printf("heapd test=load ready_ms=%.1f load_ms=%.1f objects=%" PRIu64 " roots=%" PRIu64
		       " heap_alloc=%" PRIu64 " rss_mib=%.1f\n",
		       (double)ready / 1e6, (double)st.load_duration_ns / 1e6, st.heap_objects, st.named_roots,
		       st.heap_alloc, (double)st.rss_bytes / 1048576.0);
		heapd_close(h);
		return;
	}
	struct pb_rconn *c = ready_redis(o);
	uint64_t ready = now_ns() - o->start_ns;
	const char *dbsize[] = {"DBSIZE"};
	struct pb_rreply r;
	pb_rc_call(c, &r, 1, dbsize);
	long long keys = r.num;
	long long rss = pb_rc_info(c, "memory", "used_memory_rss");
	if (log_last(o->log, "DB loaded from disk:", &t, line, sizeof line)) {
		char *p = strstr(line, "DB loaded from disk:");
		t = strtod(p + strlen("DB loaded from disk:"), NULL);
	}
	printf("redis test=load ready_ms=%.1f load_ms=%.1f objects=%lld rss_mib=%.1f\n", (double)ready / 1e6, t * 1e3,
	       keys, (double)rss / 1048576.0);
	pb_rc_close(c);
}
