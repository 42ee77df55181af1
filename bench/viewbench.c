/*
 * viewbench.c - issue 19's zero-copy benchmark for one object size, at one
 * connection: reading a sealed object in place (heapd_view) against
 * copying it out (heapd_read), against Redis's GET of a value of the same
 * size, and against the physical floor: one round trip plus reading the
 * bytes where they already are. run-view-compare.sh runs it per size.
 *
 *   viewbench -s HEAPD_SOCK -b BYTES [-r REDIS_SOCK] [-d SECS] [-t TESTS]
 *
 * Setup, not timed: an object of BYTES data bytes (no slots) written with
 * pseudo-random bytes and sealed, held by this connection; with -r, the
 * same bytes SET as the Redis key viewbench:BYTES.
 *
 * The tests (-t, comma-separated; default all, redis only with -r), one
 * operation each. Every one that moves bytes reads every one of them: it
 * sums them as 8-byte words and checks the sum against that of what was
 * written, so the compiler cannot skip the reading and a wrong byte stops
 * the run.
 *   view        heapd_view, the sum, heapd_view_release
 *   view-batch  one batch [view_release of the previous view, view], the
 *               sum: the release goes with the next view, so an operation
 *               is one request whether or not heapd_view_release waits
 *               for its reply
 *   read        heapd_read of the whole object into a buffer, the sum. A
 *               read's reply must fit in max_frame_size, so a larger
 *               object is read in equal pieces of at most max_frame_size
 *               - 4 KiB, one heapd_read each (the "#" line says how many)
 *   redis       GET, the sum: RESP spoken over the Unix socket, the reply
 *               received with blocking recv straight into a buffer laid
 *               out so that the value lands 64-byte aligned (no parse, no
 *               copy: the least a client can do)
 *   ping        heapd_ping: one round trip, no bytes
 *   inplace     the sum over the bytes of a view held open: reading in
 *               place, no request
 *   floor       heapd_ping, then the sum over the bytes of a view held
 *               open: the least a view can cost. Not ping's time plus
 *               inplace's: while the client sums, the daemon idles, and on
 *               some machines (VMs) waking it takes tens of us more than
 *               a round trip in a tight loop does; a view meets the same
 *               (docs/performance.md, Zero-copy reads)
 *
 * Timing: each test runs for SECS in all (default 1; decimals allowed),
 * in 40 rounds in which the tests take turns, so that a change in the
 * machine's speed meets them all; the first round of each starts with a
 * warm-up (the first view maps the arena and faults its pages in). A
 * test runs in samples of k operations: k is 1 unless an operation takes
 * under 20 us, then k makes a sample about 20 us, as the clock costs tens
 * of ns. An operation's time is the median over the samples of the
 * sample's time over k. For each test, a line:
 *
 *   viewbench test=view bytes=N ops=... samples=... p50_ns=... min_ns=... mean_ns=... gbps=...
 *
 * gbps being BYTES / p50 (10^9 bytes a second; none for ping). Exits 1
 * when a call fails or a sum is wrong, 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "benchutil.h"
#include "heapd.h"

#define US 1000ull
#define SAMPLE_NS (20 * US)           /* a sample of small operations lasts about this */
#define PIECE_SLACK 4096u             /* of max_frame_size, for the read reply's framing */
#define REDIS_PAD 64u                 /* room before the value for GET's "$N\r\n" */
#define ROUNDS 40                     /* the tests take turns, so that drift meets them all */

struct bench {
	heapd *h;
	heapd_ref obj;
	size_t bytes;
	uint64_t want;        /* the sum of the object's bytes as words */
	uint8_t *buf;         /* read's destination */
	uint32_t piece;       /* read's piece */
	heapd_batch *batch;   /* view-batch: [view_release(obj), view(obj)] */
	int view_op;          /* its view's index */
	const void *held;     /* inplace: the bytes of the view held open */
	int rfd;              /* Redis, or -1 */
	char get[64];         /* the GET request */
	size_t getlen;
	char hdr[32];         /* the reply's "$N\r\n" */
	size_t hdrlen;
	uint8_t *rbuf;        /* the reply's buffer: the value at rbuf + REDIS_PAD */
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "viewbench: %s: %s\n", what, why);
	exit(1);
}

static void die_h(struct bench *b, const char *what)
{
	die(what, heapd_errmsg(b->h));
}

/* The bytes as little-endian 8-byte words (and the tail's bytes), summed
 * mod 2^64 in four lanes: every byte is loaded, at about the rate memory
 * gives them. */
static uint64_t sum_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, w;
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		memcpy(&w, c + i, 8), s0 += w;
		memcpy(&w, c + i + 8, 8), s1 += w;
		memcpy(&w, c + i + 16, 8), s2 += w;
		memcpy(&w, c + i + 24, 8), s3 += w;
	}
	for (; i + 8 <= n; i += 8)
		memcpy(&w, c + i, 8), s0 += w;
	for (; i < n; i++)
		s0 += c[i];
	return s0 + s1 + s2 + s3;
}

static void check_sum(const struct bench *b, const void *p, size_t len, const char *what)
{
	if (len != b->bytes)
		die(what, "wrong length");
	if (sum_bytes(p, len) != b->want)
		die(what, "the bytes are not those written");
}

/* ---- Redis: RESP by hand ---- */

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t r = send(fd, c, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("redis", "send failed");
		c += r, n -= (size_t)r;
	}
}

static void recv_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = recv(fd, c, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("redis", "the server went away");
		c += r, n -= (size_t)r;
	}
}

static void redis_setup(struct bench *b, const char *path, const uint8_t *data)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char key[32], head[128], ok[5];

	if (strlen(path) >= sizeof sa.sun_path)
		die("redis", "socket path too long");
	strcpy(sa.sun_path, path);
	b->rfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (b->rfd < 0 || connect(b->rfd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("redis", strerror(errno));
	int klen = snprintf(key, sizeof key, "viewbench:%zu", b->bytes);
	int hlen = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n", klen, key, b->bytes);
	send_all(b->rfd, head, (size_t)hlen);
	send_all(b->rfd, data, b->bytes);
	send_all(b->rfd, "\r\n", 2);
	recv_all(b->rfd, ok, sizeof ok);
	if (memcmp(ok, "+OK\r\n", sizeof ok) != 0)
		die("redis", "SET did not answer +OK");
	b->getlen = (size_t)snprintf(b->get, sizeof b->get, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", klen, key);
	b->hdrlen = (size_t)snprintf(b->hdr, sizeof b->hdr, "$%zu\r\n", b->bytes);
	b->rbuf = aligned_alloc(4096, (REDIS_PAD + b->bytes + 2 + 4095) / 4096 * 4096);
	if (!b->rbuf)
		die("redis", "out of memory");
}

/* ---- the operations ---- */

static void op_view(struct bench *b)
{
	const void *p;
	size_t len;

	if (heapd_view(b->h, b->obj, &p, &len) != 0)
		die_h(b, "view");
	check_sum(b, p, len, "view");
	if (heapd_view_release(b->h, b->obj) != 0)
		die_h(b, "view_release");
}

static void view_batch_begin(struct bench *b)
{
	const void *p;
	size_t len;

	/* Opens the view the first batch releases. */
	if (heapd_view(b->h, b->obj, &p, &len) != 0)
		die_h(b, "view");
}

static void op_view_batch(struct bench *b)
{
	heapd_reply r;

	if (heapd_batch_exec(b->h, b->batch) != 0)
		die_h(b, "batch [view_release, view]");
	heapd_batch_reply(b->batch, b->view_op, &r);
	check_sum(b, r.data, r.len, "batch view");
}

static void view_end(struct bench *b)
{
	if (heapd_view_release(b->h, b->obj) != 0)
		die_h(b, "view_release");
}

static void op_read(struct bench *b)
{
	for (size_t off = 0; off < b->bytes; off += b->piece) {
		size_t n = b->bytes - off < b->piece ? b->bytes - off : b->piece;
		if (heapd_read(b->h, b->obj, (uint32_t)off, b->buf + off, (uint32_t)n) != 0)
			die_h(b, "read");
	}
	check_sum(b, b->buf, b->bytes, "read");
}

static void op_redis(struct bench *b)
{
	uint8_t *value = b->rbuf + REDIS_PAD;

	send_all(b->rfd, b->get, b->getlen);
	recv_all(b->rfd, value - b->hdrlen, b->hdrlen + b->bytes + 2);
	if (memcmp(value - b->hdrlen, b->hdr, b->hdrlen) != 0 || memcmp(value + b->bytes, "\r\n", 2) != 0)
		die("redis", "GET's reply is not the value");
	check_sum(b, value, b->bytes, "redis GET");
}

static void op_ping(struct bench *b)
{
	if (heapd_ping(b->h, NULL) != 0)
		die_h(b, "ping");
}

static void inplace_begin(struct bench *b)
{
	size_t len;

	if (heapd_view(b->h, b->obj, &b->held, &len) != 0)
		die_h(b, "view");
	check_sum(b, b->held, len, "view");
}

static void op_inplace(struct bench *b)
{
	check_sum(b, b->held, b->bytes, "in place");
}

static void op_floor(struct bench *b)
{
	op_ping(b);
	op_inplace(b);
}

struct test {
	const char *name;
	void (*begin)(struct bench *);  /* may be NULL */
	void (*op)(struct bench *);
	void (*end)(struct bench *);    /* may be NULL */
	int moves_bytes;                /* 0: no gbps */
};

static const struct test tests[] = {
	{"view", NULL, op_view, NULL, 1},
	{"view-batch", view_batch_begin, op_view_batch, view_end, 1},
	{"read", NULL, op_read, NULL, 1},
	{"redis", NULL, op_redis, NULL, 1},
	{"ping", NULL, op_ping, NULL, 0},
	{"inplace", inplace_begin, op_inplace, view_end, 1},
	{"floor", inplace_begin, op_floor, view_end, 1},
};
#define NTESTS (sizeof tests / sizeof tests[0])

/* ---- timing ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* k operations; the memory clobber keeps the compiler from merging the
 * sums of one unchanged buffer. */
static uint64_t sample(const struct test *t, struct bench *b, uint64_t k)
{
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < k; i++) {
		t->op(b);
		__asm__ volatile("" ::: "memory");
	}
	return now_ns() - t0;
}

/* What one test has measured so far: each sample's time per operation. */
struct result {
	double *v;
	size_t n, cap;
	double sum;
	uint64_t ops, k;  /* k: operations per sample; 0 until the warm-up sized it */
};

static void record(struct result *r, double d)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		double *w = realloc(r->v, cap * sizeof *w);
		if (!w)
			die("viewbench", "out of memory");
		r->v = w, r->cap = cap;
	}
	r->v[r->n++] = d, r->sum += d, r->ops += r->k;
}

/* One round of test t: samples for budget ns (at least one). The first
 * round starts with a warm-up, at least one operation and a tenth of the
 * budget, which also sizes k. */
static void round_of(const struct test *t, struct bench *b, struct result *r, uint64_t budget)
{
	if (t->begin)
		t->begin(b);
	if (!r->k) {
		uint64_t spent = 0, n = 0;
		do {
			spent += sample(t, b, 1);
			n++;
		} while (spent < budget / 10);
		r->k = spent / n < SAMPLE_NS ? SAMPLE_NS / (spent / n + 1) + 1 : 1;
	}
	uint64_t t0 = now_ns();
	do
		record(r, (double)sample(t, b, r->k) / (double)r->k);
	while (now_ns() - t0 < budget);
	if (t->end)
		t->end(b);
}

static void report(const struct test *t, const struct bench *b, struct result *r)
{
	qsort(r->v, r->n, sizeof *r->v, cmp_double);
	double p50 = r->n % 2 ? r->v[r->n / 2] : (r->v[r->n / 2 - 1] + r->v[r->n / 2]) / 2;
	printf("viewbench test=%s bytes=%zu ops=%" PRIu64 " samples=%zu p50_ns=%.1f min_ns=%.1f mean_ns=%.1f", t->name,
	       b->bytes, r->ops, r->n, p50, r->v[0], r->sum / (double)r->n);
	if (t->moves_bytes)
		printf(" gbps=%.3f", (double)b->bytes / p50);
	printf("\n");
	fflush(stdout);
	free(r->v);
}

/* ---- setup ---- */

static uint8_t *make_data(size_t n)
{
	uint8_t *d = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15u ^ n;

	if (!d)
		die("viewbench", "out of memory");
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		d[i] = (uint8_t)x;
	}
	return d;
}

static void heapd_setup(struct bench *b, const char *path, const uint8_t *data)
{
	b->h = heapd_connect(path);
	if (!b->h)
		die("connect", "out of memory");
	if (heapd_errcode(b->h) != 0)
		die_h(b, "connect");
	uint32_t room = heapd_max_frame(b->h) - PIECE_SLACK;
	if (heapd_alloc(b->h, 0, (uint32_t)b->bytes, &b->obj) != 0)
		die_h(b, "alloc (is max_object_size big enough?)");
	for (size_t off = 0; off < b->bytes; off += room / 2) {
		size_t n = b->bytes - off < room / 2 ? b->bytes - off : room / 2;
		if (heapd_write(b->h, b->obj, (uint32_t)off, data + off, (uint32_t)n) != 0)
			die_h(b, "write");
	}
	if (heapd_seal(b->h, b->obj) != 0)
		die_h(b, "seal");
	size_t pieces = (b->bytes + room - 1) / room;
	b->piece = (uint32_t)((b->bytes + pieces - 1) / pieces);
	b->buf = aligned_alloc(4096, (b->bytes + 4095) / 4096 * 4096);
	b->batch = heapd_batch_new();
	if (!b->buf || !b->batch || heapd_batch_view_release(b->batch, b->obj) < 0 ||
	    (b->view_op = heapd_batch_view(b->batch, b->obj)) < 0)
		die("viewbench", "out of memory");
	printf("# viewbench: %zu bytes, max_frame_size %" PRIu32 ": read in %zu piece(s) of at most %" PRIu32
	       " bytes; the object is %s than max_frame_size\n",
	       b->bytes, heapd_max_frame(b->h), pieces, b->piece, b->bytes > heapd_max_frame(b->h) ? "larger" : "no larger");
}

static void usage(void)
{
	fprintf(stderr, "usage: viewbench -s HEAPD_SOCK -b BYTES [-r REDIS_SOCK] [-d SECS] [-t TESTS]\n"
			"  TESTS: comma-separated, of view, view-batch, read, redis, ping, inplace, floor\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = {.rfd = -1};
	const char *hpath = NULL, *rpath = NULL, *list = NULL;
	double secs = 1;
	int c, want[NTESTS];

	while ((c = getopt(argc, argv, "s:b:r:d:t:")) != -1) {
		char *end;
		switch (c) {
		case 's': hpath = optarg; break;
		case 'r': rpath = optarg; break;
		case 't': list = optarg; break;
		case 'b':
			b.bytes = strtoull(optarg, &end, 10);
			if (*end || optarg[0] == '-' || b.bytes == 0 || b.bytes > UINT32_MAX)
				usage();
			break;
		case 'd':
			secs = strtod(optarg, &end);
			if (*end || !(secs > 0 && secs < 3600))
				usage();
			break;
		default: usage();
		}
	}
	if (!hpath || !b.bytes || optind != argc)
		usage();
	for (size_t i = 0; i < NTESTS; i++)
		want[i] = list == NULL && (rpath || strcmp(tests[i].name, "redis") != 0);
	if (list) {
		char *copy = strdup(list);
		if (!copy)
			die("viewbench", "out of memory");
		for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			size_t i = 0;
			while (i < NTESTS && strcmp(tok, tests[i].name) != 0)
				i++;
			if (i == NTESTS || (!rpath && strcmp(tok, "redis") == 0))
				usage();
			want[i] = 1;
		}
		free(copy);
	}

	uint8_t *data = make_data(b.bytes);
	b.want = sum_bytes(data, b.bytes);
	heapd_setup(&b, hpath, data);
	if (rpath)
		redis_setup(&b, rpath, data);
	free(data);
	struct result res[NTESTS] = {0};
	for (int round = 0; round < ROUNDS; round++)
		for (size_t i = 0; i < NTESTS; i++)
			if (want[i])
				round_of(&tests[i], &b, &res[i], (uint64_t)(secs * 1e9 / ROUNDS));
	for (size_t i = 0; i < NTESTS; i++)
		if (want[i])
			report(&tests[i], &b, &res[i]);
	heapd_batch_free(b.batch);
	heapd_close(b.h);
	if (b.rfd >= 0)
		close(b.rfd);
	free(b.buf);
	free(b.rbuf);
	return 0;
}
