/*
 * reqbench.c - requests per second through libheapd, as redis-benchmark
 * measures Redis: many connections, each a blocking client with one
 * request in flight (no pipelining), a shared count of operations.
 *
 * Usage: reqbench [-s SOCKET] [-c CONNECTIONS] [-n OPS] [-d BYTES]
 *                 [-t TESTS] [-r RING] [-p POOL]
 *
 *   -s  the daemon's socket (default $HEAPD_SOCKET, else libheapd's default)
 *   -c  connections, one thread each (default 50)
 *   -n  operations per test, shared by all connections (default 100000),
 *       as redis-benchmark's -n
 *   -d  data bytes per object (default 64)
 *   -t  comma-separated tests (default alloc+write,read,set_ref)
 *   -r  keys (slots of its key space) each connection cycles through in
 *       alloc+write (default 1000)
 *   -p  objects each connection allocates for read and set_ref (default 1000)
 *
 * The tests, and what counts as one operation:
 *   alloc+write  heapd_alloc_into(keys, k, 0 refs, d bytes, d bytes of data):
 *                a new object with its data, stored in slot k of the
 *                connection's key space (an object of RING slots, k cycling
 *                through them): one request, one operation, as Redis's SET
 *                of a key. The object it replaces becomes garbage, so the
 *                live heap stays bounded and the collector runs as in a
 *                steady state.
 *   read         heapd_read of d bytes of a held object (Redis's GET); one
 *                request, one operation.
 *   set_ref      heapd_set_ref from one held object's slot to another held
 *                object; one request, one operation. Redis has no peer.
 *
 * Every connection connects and allocates its pool before the clock starts;
 * the clock runs from the moment all of them start to the last reply.
 * Latency is that of every request (not operation), measured around the
 * libheapd call, merged over all connections. For each test, a line:
 *
 *   reqbench test=read conns=50 ops_per_s=... reqs_per_s=... p50_us=... p99_us=... max_us=...
 *
 * and then cpu_us (this process's CPU time per operation, all threads),
 * spun_pct (the share of requests whose wait for the reply spun before
 * sleeping; see heapd_set_spin) and spin_hit_pct (the share of those spins
 * that saw the reply come), preceded by a '#' line saying how many
 * operations and requests ran. Exits 1
 * when any request fails (a benchmark with an error measured nothing), 2 on
 * a usage error.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapd.h"

enum test { T_ALLOC_WRITE, T_READ, T_SET_REF, NTESTS };

static const char *const test_name[NTESTS] = {"alloc+write", "read", "set_ref"};

#define POOL_NREFS 4u

struct opts {
	const char *socket;
	unsigned conns;
	uint64_t ops;
	uint32_t size;
	uint32_t ring;       /* keys per connection in alloc+write */
	uint32_t pool;
};

/* Latencies of one connection's requests, in ns. */
struct lat {
	uint32_t *v;
	size_t n, cap;
};

struct worker {
	pthread_t thread;
	unsigned index;
	enum test test;
	const struct opts *o;
	struct shared *sh;
	struct lat lat;
	uint64_t ops, reqs;
	uint64_t spins, hits;   /* waits that spun, and saw their reply come (measured part) */
	char err[320];          /* set when the worker failed */
};

struct shared {
	pthread_barrier_t ready;  /* every connection set up */
	pthread_barrier_t go;     /* the clock has started */
	atomic_uint_fast64_t next_op;
	uint64_t total_ops;
	atomic_int failed;
};

/* Clock id's time in ns: CLOCK_MONOTONIC for latencies and the run,
 * CLOCK_PROCESS_CPUTIME_ID for this process's CPU (all threads). */
static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "reqbench: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1u << 16;
		uint32_t *p = realloc(l->v, cap * sizeof *p);
		if (!p)
			die("%s", "out of memory for latencies");
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Records a failed call; returns -1. */
static int failed(struct worker *w, heapd *h, const char *what)
{
	snprintf(w->err, sizeof w->err, "connection %u: %s: %s", w->index, what, heapd_errmsg(h));
	atomic_store(&w->sh->failed, 1);
	return -1;
}

/* Claims the next operation; 0 when all are taken, or after a failure. */
static int claim(struct shared *sh)
{
	if (atomic_load_explicit(&sh->failed, memory_order_relaxed))
		return 0;
	return atomic_fetch_add_explicit(&sh->next_op, 1, memory_order_relaxed) < sh->total_ops;
}

/* Records one request that started at t0 (now_ns()) and has returned. */
static void done(struct worker *w, uint64_t t0)
{
	lat_add(&w->lat, now_ns() - t0);
	w->reqs++;
}

/* Waits for the others and the clock; the spin counts from here on are
 * the measured part's. */
static void start(struct worker *w, heapd *h)
{
	pthread_barrier_wait(&w->sh->ready);
	pthread_barrier_wait(&w->sh->go);
	uint64_t spins, hits;
	heapd_spin_counts(h, &spins, &hits);
	w->spins -= spins;
	w->hits -= hits;
}

static int run_alloc_write(struct worker *w, heapd *h, const uint8_t *data)
{
	const struct opts *o = w->o;
	heapd_ref keys;
	int rc = 0;
	if (heapd_alloc(h, o->ring, 0, &keys) != 0)
		rc = failed(w, h, "alloc of the key space");
	start(w, h);
	for (uint32_t k = 0; !rc && claim(w->sh); k = (k + 1) % o->ring) {
		heapd_ref ref;
		uint64_t t0 = now_ns();
		int r = heapd_alloc_into(h, keys, k, 0, o->size, data, o->size, &ref);
		done(w, t0);
		if (r != 0) {
			rc = failed(w, h, "alloc_into");
			break;
		}
		w->ops++;
	}
	return rc;
}

static int run_pool_test(struct worker *w, heapd *h, const uint8_t *data)
{
	const struct opts *o = w->o;
	heapd_ref *pool = calloc(o->pool, sizeof *pool);
	uint8_t *buf = malloc(o->size ? o->size : 1);
	int rc = 0;
	if (!pool || !buf)
		die("%s", "out of memory for the pool");
	for (uint32_t i = 0; i < o->pool; i++) {
		if (heapd_alloc(h, POOL_NREFS, o->size, &pool[i]) != 0 || heapd_write(h, pool[i], 0, data, o->size) != 0) {
			rc = failed(w, h, "setting up the pool");
			break;
		}
	}
	/* Check once that a read returns what was written. */
	if (rc == 0 && (heapd_read(h, pool[0], 0, buf, o->size) != 0 || memcmp(buf, data, o->size) != 0)) {
		if (heapd_errcode(h) == 0)
			snprintf(w->err, sizeof w->err, "connection %u: read returned other bytes", w->index);
		else
			failed(w, h, "read");
		atomic_store(&w->sh->failed, 1);
		rc = -1;
	}
	start(w, h);
	uint64_t i = 0;
	while (rc == 0 && claim(w->sh)) {
		heapd_ref obj = pool[i % o->pool];
		/* set_ref: a different target each time (a stride coprime
		 * with most pool sizes walks them all). */
		heapd_ref target = pool[(i * 7 + 1) % o->pool];
		uint64_t t0 = now_ns();
		int r = w->test == T_READ ? heapd_read(h, obj, 0, buf, o->size)
					  : heapd_set_ref(h, obj, (uint32_t)(i % POOL_NREFS), target);
		done(w, t0);
		if (r != 0)
			rc = failed(w, h, w->test == T_READ ? "read" : "set_ref");
		w->ops++;
		i++;
	}
	free(pool);
	free(buf);
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *data = malloc(w->o->size ? w->o->size : 1);
	if (!data)
		die("%s", "out of memory");
	for (uint32_t i = 0; i < w->o->size; i++)
		data[i] = (uint8_t)('a' + (i + w->index) % 26);
	heapd *h = heapd_connect(w->o->socket);
	if (!h)
		die("%s", "out of memory for a connection");
	if (heapd_errcode(h) != 0) {
		failed(w, h, "connect");
		/* Still meet the others at both barriers. */
		pthread_barrier_wait(&w->sh->ready);
		pthread_barrier_wait(&w->sh->go);
	} else if (w->test == T_ALLOC_WRITE) {
		run_alloc_write(w, h, data);
	} else {
		run_pool_test(w, h, data);
	}
	uint64_t spins, hits;
	heapd_spin_counts(h, &spins, &hits);
	w->spins += spins;
	w->hits += hits;
	heapd_close(h);
	free(data);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v, in us. */
static double pct_us(const uint32_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1] / 1000.0;
}

static int run_test(const struct opts *o, enum test t)
{
	struct shared sh;
	struct worker *w = calloc(o->conns, sizeof *w);
	if (!w)
		die("%s", "out of memory");
	pthread_barrier_init(&sh.ready, NULL, o->conns + 1);
	pthread_barrier_init(&sh.go, NULL, o->conns + 1);
	atomic_init(&sh.next_op, 0);
	atomic_init(&sh.failed, 0);
	sh.total_ops = o->ops;
	for (unsigned i = 0; i < o->conns; i++) {
		w[i].index = i;
		w[i].test = t;
		w[i].o = o;
		w[i].sh = &sh;
		int e = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		if (e)
			die("cannot start a thread: %s", strerror(e));
	}
	pthread_barrier_wait(&sh.ready);
	uint64_t cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns();
	pthread_barrier_wait(&sh.go);
	for (unsigned i = 0; i < o->conns; i++)
		pthread_join(w[i].thread, NULL);
	uint64_t elapsed = now_ns() - t0, cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;

	int rc = 0;
	uint64_t ops = 0, reqs = 0, spins = 0, hits = 0;
	size_t nlat = 0;
	for (unsigned i = 0; i < o->conns; i++) {
		if (w[i].err[0]) {
			fprintf(stderr, "reqbench: %s: %s\n", test_name[t], w[i].err);
			rc = 1;
		}
		ops += w[i].ops;
		reqs += w[i].reqs;
		spins += w[i].spins;
		hits += w[i].hits;
		nlat += w[i].lat.n;
	}
	if (rc == 0) {
		uint32_t *all = malloc((nlat ? nlat : 1) * sizeof *all);
		if (!all)
			die("%s", "out of memory for latencies");
		size_t k = 0;
		for (unsigned i = 0; i < o->conns; i++) {
			memcpy(all + k, w[i].lat.v, w[i].lat.n * sizeof *all);
			k += w[i].lat.n;
		}
		qsort(all, nlat, sizeof *all, cmp_u32);
		double secs = (double)elapsed / 1e9;
		printf("# %s: %llu ops, %llu requests in %.3f s\n", test_name[t], (unsigned long long)ops,
		       (unsigned long long)reqs, secs);
		printf("reqbench test=%s conns=%u ops_per_s=%.0f reqs_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f "
		       "cpu_us=%.2f spun_pct=%.0f spin_hit_pct=%.0f\n",
		       test_name[t], o->conns, (double)ops / secs, (double)reqs / secs, pct_us(all, nlat, 0.50),
		       pct_us(all, nlat, 0.99), nlat ? all[nlat - 1] / 1000.0 : 0.0,
		       ops ? (double)cpu / 1e3 / (double)ops : 0.0, reqs ? 100.0 * (double)spins / (double)reqs : 0.0,
		       spins ? 100.0 * (double)hits / (double)spins : 0.0);
		fflush(stdout);
		free(all);
	}
	for (unsigned i = 0; i < o->conns; i++)
		free(w[i].lat.v);
	free(w);
	pthread_barrier_destroy(&sh.ready);
	pthread_barrier_destroy(&sh.go);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: reqbench [-s SOCKET] [-c CONNECTIONS] [-n OPS] [-d BYTES] [-t TESTS] [-r RING] [-p POOL]\n"
		"  TESTS: comma-separated, of alloc+write, read, set_ref (default all three)\n");
	exit(2);
}

static uint64_t number(const char *s, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {.socket = NULL, .conns = 50, .ops = 100000, .size = 64, .ring = 1000, .pool = 1000};
	const char *tests = "alloc+write,read,set_ref";
	int c;
	while ((c = getopt(argc, argv, "s:c:n:d:t:r:p:")) != -1) {
		switch (c) {
		case 's': o.socket = optarg; break;
		case 'c': o.conns = (unsigned)number(optarg, 1, 10000); break;
		case 'n': o.ops = number(optarg, 1, UINT64_MAX / 2); break;
		case 'd': o.size = (uint32_t)number(optarg, 1, 1u << 20); break;
		case 't': tests = optarg; break;
		case 'r': o.ring = (uint32_t)number(optarg, 1, 1u << 24); break;
		case 'p': o.pool = (uint32_t)number(optarg, 1, 1u << 24); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	int want[NTESTS] = {0};
	char *list = strdup(tests);
	if (!list)
		die("%s", "out of memory");
	for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int found = 0;
		for (int t = 0; t < NTESTS; t++)
			if (strcmp(tok, test_name[t]) == 0)
				want[t] = found = 1;
		if (!found) {
			fprintf(stderr, "reqbench: unknown test \"%s\"\n", tok);
			usage();
		}
	}
	free(list);

	printf("# reqbench: %u connections, %llu ops per test, %u-byte data, %u keys, pool %u\n", o.conns,
	       (unsigned long long)o.ops, o.size, o.ring, o.pool);
	for (int t = 0; t < NTESTS; t++)
		if (want[t] && run_test(&o, (enum test)t) != 0)
			return 1;
	return 0;
}
