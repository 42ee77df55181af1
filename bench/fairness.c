/*
 * fairness.c - issue 15's fairness benchmark: what one client can make
 * heapd do to everyone else. heapd serves every client from one event
 * loop, so a client that makes it work long makes the others wait, and
 * heapd's own systemd watchdog ping waits with them.
 *
 *   fairness -s SOCK -n NOTIFY [-p HEAPD_PID] [-w WATCHDOG_USEC] [-d SECS]
 *            [-g SECS] [-c MAX_CLIENTS] [PHASE...]
 *
 * builds 1 GiB live under the root "fairness/live" (10 million objects of
 * 1 slot and 96 bytes, in chains of 16 hanging from spines of 65536 slots,
 * sent as pipelined batches), then runs each PHASE (default: all, in this
 * order):
 *   quiet         nobody else: the baseline
 *   batch         batches of max_batch_ops (1024) ops: 512 x (alloc the
 *                 largest object, release it), one after another
 *   full          holds the largest objects until an allocation fails
 *                 (the heap at max_heap), then pipelines allocations that
 *                 cannot fit, 64 deep
 *   roots         pipelines root_set with a new name each time (the roots
 *                 are deleted after the phase)
 *   idle          opens MAX_CLIENTS connections that never say Hello; the
 *                 bystander connects anew for each sample
 *   idle-ping     the same, the bystander connected before, pinging
 *   reads         pipelines reads of max_frame - 64 bytes and never takes
 *                 the replies (libheapd reads 64 MiB of them, then stops)
 *   heavy         a writer pipelining 64 alloc_into of 4 KiB (with data)
 *                 into 1000 slots, so collections run back to back; the
 *                 bystander reads 64 bytes, one request at a time
 *   heavy-nospin  the same with the reader's spin off (heapd_set_spin 0,
 *                 what HEAPD_SPIN_US=0 sets)
 * In each, the abuser (a child process) sets up unmeasured, then the
 * bystander (another child, connected before the abuser started) is timed
 * for SECS: a ping every 1 ms (idle: a connect, ping and close every 10
 * ms; heavy: reads back to back). Then the abuser stops, and the
 * bystander keeps going until the abuser has taken its last reply, so a
 * request that holds the loop past the phase is in the figures. No wait
 * is longer than the grace (-g, default 30 s) past the phase: a request
 * still in flight then is counted at its age so far, marked stuck=1, and
 * its process killed. After each phase a fresh client runs heapd_gc and
 * reads the stats (live bytes, RSS, the collections the phase ran).
 *
 * The watchdog: heapd sends WATCHDOG=1 every WATCHDOG_USEC / 2 to
 * $NOTIFY_SOCKET (daemon/service.c). This program binds NOTIFY (a
 * datagram socket; a child records when each WATCHDOG=1 from HEAPD_PID
 * comes), and reports per phase the longest gap between two pings that
 * overlaps the phase (wd_max_gap_ms) and the gaps over WATCHDOG_USEC
 * (wd_misses: systemd would have killed heapd).
 *
 * bench/redisget.c is the heavy phase's reader against Redis, timed the
 * same way; run-fairness.sh runs both and compares.
 *
 * Each phase prints one line, "fairness phase=NAME key=value ...", with
 * the bystander's count, p50_us, p99_us and max_us (the histogram of
 * heapctl bench, within 1%); abuse_ok and abuse_errors count the
 * abuser's requests (batch: batches; reads: reads queued). Progress goes
 * to stderr. Exits 1 when the build or a phase's setup fails, or when heapd
 * dies or does not answer within the grace after a phase (the phases after
 * it are not run), 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "heapd.h"
#include "hist.h"

#define MS 1000000ull
#define SEC 1000000000ull

enum {
	LIVE_OBJECTS = 10000000,
	LIVE_BYTES = 96,        /* + 8 of header + 8 of slot: 10 million make 1 GiB */
	OBJ_BYTES = 64,         /* the bystander's reads */
	CHAIN = 16,             /* objects per chain: a batch builds 64 */
	SPINE_SLOTS = 65536,
	BUILD_BATCH = 1024,     /* the default max_batch_ops */
	BUILD_WINDOW = 8,       /* batches in flight while building */
	DEPTH = 64,             /* pipelined requests of full and heavy */
	ROOTS_DEPTH = 1024,
	READS_DEPTH = 256,
	WRITER_KEYS = 1000,
	WRITER_BYTES = 4096,
	WD_RING = 1 << 16,      /* watchdog pings kept: 9 hours at 2 a second */
};

#define SETUP_NS (300 * SEC)    /* an abuser's setup, the build */
#define PING_EVERY_NS MS
#define CONNECT_EVERY_NS (10 * MS)

enum meter { M_PING, M_CONNECT, M_READ };

struct phase {
	const char *name;
	void (*setup)(heapd *h);
	void (*abuse)(heapd *h);
	void (*cleanup)(heapd *h);
	enum meter meter;
	int nospin;
};

enum { A_SETUP, A_READY, A_QUIET, A_FAILED };

/* Shared with the children (MAP_SHARED): each field has one writer. */
struct shm {
	atomic_int abuser;              /* A_*: the abuser's */
	atomic_int meter_failed;        /* the meter's */
	atomic_int meter_ready;         /* the meter's */
	atomic_int go, stop_abuse, stop_meter; /* the driver's */
	atomic_uint_fast64_t inflight;  /* the meter's: when its request began, 0 if none */
	uint64_t ok, refused, errors;   /* the meter's, read after it is gone */
	uint64_t abuse_ok, abuse_errors;
	char meter_err[200], abuse_err[200];
	heapd_stats st;                 /* from the last drain */
	int st_ok;
	struct hist hist;               /* the meter's latencies, ns */
	atomic_uint wd_n;               /* the watchdog child's: pings in wd[] */
	uint64_t wd[WD_RING];
};

static struct shm *shm;
static const char *sock_path;
static unsigned max_clients = 1024;
static uint64_t phase_ns = 5 * SEC, grace_ns = 30 * SEC;
static uint8_t data4k[WRITER_BYTES]; /* what objects are written with */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / SEC), .tv_nsec = (long)(ns % SEC)};

	nanosleep(&ts, NULL);
}

/* The child's end: a message in err, and the abuser's state. */
static void child_fail(char *err, heapd *h, const char *what)
{
	snprintf(err, sizeof shm->meter_err, "%s: %s", what, h ? heapd_errmsg(h) : strerror(errno));
	if (err == shm->abuse_err)
		atomic_store(&shm->abuser, A_FAILED);
	else
		atomic_store(&shm->meter_failed, 1);
	_exit(1);
}

static heapd *connect_or_fail(char *err)
{
	heapd *h = heapd_connect(sock_path);

	if (h == NULL)
		fail("out of memory");
	if (heapd_errcode(h) != 0)
		child_fail(err, h, "connect");
	return h;
}

/* Takes n pending replies; counts them in the abuser's figures. */
static void take_replies(heapd *h, size_t n)
{
	heapd_reply r;

	while (n--) {
		int rc = heapd_get_reply(h, &r);

		if (rc == HEAPD_EIO || rc == HEAPD_EPROTO)
			child_fail(shm->abuse_err, h, "reply");
		if (rc == 0)
			shm->abuse_ok++;
		else
			shm->abuse_errors++;
	}
}

/* ---- the live heap ---- */

/* One batch: up to 64 chains of CHAIN objects from spine's slots. */
static void add_chains(heapd_batch *b, heapd_ref spine, uint32_t slot, uint32_t chains)
{
	heapd_batch_reset(b);
	for (uint32_t c = 0; c < chains; c++) {
		int prev = heapd_batch_alloc_into(b, spine, slot + c, 1, LIVE_BYTES, data4k, LIVE_BYTES);

		for (int k = 1; k < CHAIN; k++)
			prev = heapd_batch_alloc_into(b, heapd_batch_result(prev), 0, 1, LIVE_BYTES, data4k,
						      LIVE_BYTES);
		if (prev < 0)
			fail("out of memory for a batch");
	}
}

static void build(const struct phase *p)
{
	heapd *h = connect_or_fail(shm->abuse_err);
	heapd_batch *ring[BUILD_WINDOW];
	uint32_t chains = LIVE_OBJECTS / CHAIN, nspines = (chains + SPINE_SLOTS - 1) / SPINE_SLOTS;
	uint32_t per_batch = BUILD_BATCH / CHAIN;
	heapd_ref top, spine = 0;
	size_t sent = 0;

	(void)p;
	if (heapd_alloc(h, nspines, 0, &top) != 0 || heapd_root_set(h, "fairness/live", top) != 0)
		child_fail(shm->abuse_err, h, "the live heap's top");
	for (int i = 0; i < BUILD_WINDOW; i++)
		if ((ring[i] = heapd_batch_new()) == NULL)
			fail("out of memory");
	for (uint32_t c = 0; c < chains; c += per_batch) {
		uint32_t n = chains - c < per_batch ? chains - c : per_batch;

		if (c % SPINE_SLOTS == 0) {
			take_replies(h, heapd_pending(h));
			if (heapd_alloc_into(h, top, c / SPINE_SLOTS, SPINE_SLOTS, 0, NULL, 0, &spine) != 0)
				child_fail(shm->abuse_err, h, "a spine");
		}
		if (heapd_pending(h) == BUILD_WINDOW)
			take_replies(h, 1);
		add_chains(ring[sent % BUILD_WINDOW], spine, c % SPINE_SLOTS, n);
		if (heapd_append_batch(h, ring[sent++ % BUILD_WINDOW]) != 0)
			child_fail(shm->abuse_err, h, "append a batch");
	}
	take_replies(h, heapd_pending(h));
	if (shm->abuse_errors)
		child_fail(shm->abuse_err, h, "a batch failed");
	heapd_close(h);
	_exit(0);
}

/* ---- the abusers: setup, then abuse until stop_abuse ---- */

static int abusing(void)
{
	return !atomic_load(&shm->stop_abuse);
}

/* The largest object heapd takes: 8 bytes of header, no slots. */
static uint32_t largest(heapd *h)
{
	uint64_t m = heapd_max_object(h);

	return m - 8 > UINT32_MAX ? UINT32_MAX : (uint32_t)(m - 8);
}

static void abuse_batch(heapd *h)
{
	heapd_batch *b = heapd_batch_new();

	if (b == NULL)
		fail("out of memory");
	for (uint32_t i = 0; i < heapd_max_batch_ops(h) / 2; i++)
		heapd_batch_release(b, heapd_batch_result(heapd_batch_alloc(b, 0, largest(h))));
	while (abusing()) {
		int rc = heapd_batch_exec(h, b);

		if (rc == HEAPD_EIO || rc == HEAPD_EPROTO)
			child_fail(shm->abuse_err, h, "batch");
		*(rc == 0 ? &shm->abuse_ok : &shm->abuse_errors) += 1;
	}
	heapd_batch_free(b);
}

static void setup_full(heapd *h)
{
	heapd_ref r;
	int rc;

	while ((rc = heapd_alloc(h, 0, largest(h), &r)) == 0)
		shm->abuse_ok++;
	if (rc != HEAPD_ENOMEM)
		child_fail(shm->abuse_err, h, "filling the heap");
	fprintf(stderr, "fairness: full: holding %" PRIu64 " objects of %u bytes\n", shm->abuse_ok, largest(h));
	shm->abuse_ok = 0;
}

static void abuse_full(heapd *h)
{
	while (abusing()) {
		for (int i = 0; i < DEPTH; i++)
			heapd_append_alloc(h, 0, largest(h));
		take_replies(h, heapd_pending(h));
	}
}

static heapd_ref roots_target;
static uint64_t roots_made;  /* names 0..roots_made-1 may be roots */

static void setup_roots(heapd *h)
{
	if (heapd_alloc(h, 0, OBJ_BYTES, &roots_target) != 0)
		child_fail(shm->abuse_err, h, "alloc");
}

static void root_name(char *name, size_t size, uint64_t i)
{
	snprintf(name, size, "fairness/flood/%" PRIu64, i);
}

static void abuse_roots(heapd *h)
{
	char name[64];
	heapd_reply r;

	for (uint64_t next = 0; abusing();) {
		for (int i = 0; i < ROOTS_DEPTH; i++) {
			root_name(name, sizeof name, next + (uint64_t)i);
			heapd_append_root_set(h, name, roots_target);
		}
		for (int i = 0; i < ROOTS_DEPTH; i++) {
			int rc = heapd_get_reply(h, &r);

			if (rc == HEAPD_EIO || rc == HEAPD_EPROTO)
				child_fail(shm->abuse_err, h, "reply");
			*(rc == 0 ? &shm->abuse_ok : &shm->abuse_errors) += 1;
			if (rc == 0)
				roots_made = next + (uint64_t)i + 1;
		}
		next += ROOTS_DEPTH;
	}
}

/* Deletes the roots the flood made (they outlive the client), quietly. */
static void cleanup_roots(heapd *h)
{
	char name[64];

	for (uint64_t i = 0; i < roots_made; i++) {
		root_name(name, sizeof name, i);
		heapd_append_root_set(h, name, 0);
		if (heapd_pending(h) == ROOTS_DEPTH)
			for (int k = 0; k < ROOTS_DEPTH; k++)
				heapd_get_reply(h, &(heapd_reply){0});
	}
	while (heapd_pending(h))
		heapd_get_reply(h, &(heapd_reply){0});
}

static void setup_idle(heapd *h)
{
	struct rlimit rl;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	unsigned n = 0;

	(void)h;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
	for (; n < max_clients; n++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
			break;
	}
	shm->abuse_ok = n;
	fprintf(stderr, "fairness: idle: %u connections open, none said Hello\n", n);
}

static heapd_ref big;

static void setup_reads(heapd *h)
{
	if (heapd_alloc(h, 0, heapd_max_frame(h) - 64, &big) != 0)
		child_fail(shm->abuse_err, h, "alloc");
}

static void abuse_reads(heapd *h)
{
	while (abusing()) {
		int sent = 0;

		while (sent < READS_DEPTH && heapd_append_read(h, big, 0, heapd_max_frame(h) - 64) == 0) {
			sent++;
			shm->abuse_ok++;
		}
		if (heapd_flush(h) != 0)
			child_fail(shm->abuse_err, h, "flush");
		if (sent == 0)
			sleep_ns(MS);
	}
}

static heapd_ref keys;

static void setup_heavy(heapd *h)
{
	if (heapd_alloc(h, WRITER_KEYS, 0, &keys) != 0)
		child_fail(shm->abuse_err, h, "alloc");
}

static void abuse_heavy(heapd *h)
{
	for (uint32_t k = 0; abusing();) {
		for (int i = 0; i < DEPTH; i++, k = (k + 1) % WRITER_KEYS)
			heapd_append_alloc_into(h, keys, k, 0, WRITER_BYTES, data4k, WRITER_BYTES);
		take_replies(h, heapd_pending(h));
	}
}

static const struct phase phases[] = {
	{.name = "quiet", .meter = M_PING},
	{.name = "batch", .abuse = abuse_batch, .meter = M_PING},
	{.name = "full", .setup = setup_full, .abuse = abuse_full, .meter = M_PING},
	{.name = "roots", .setup = setup_roots, .abuse = abuse_roots, .cleanup = cleanup_roots, .meter = M_PING},
	{.name = "idle", .setup = setup_idle, .meter = M_CONNECT},
	{.name = "idle-ping", .setup = setup_idle, .meter = M_PING},
	{.name = "reads", .setup = setup_reads, .abuse = abuse_reads, .meter = M_PING},
	{.name = "heavy", .setup = setup_heavy, .abuse = abuse_heavy, .meter = M_READ},
	{.name = "heavy-nospin", .setup = setup_heavy, .abuse = abuse_heavy, .meter = M_READ, .nospin = 1},
};
#define NPHASES (sizeof phases / sizeof phases[0])

static void abuser_main(const struct phase *p)
{
	heapd *h = connect_or_fail(shm->abuse_err);

	if (p->setup)
		p->setup(h);
	atomic_store(&shm->abuser, A_READY);
	while (!atomic_load(&shm->go))
		sleep_ns(100000);
	if (p->abuse)
		p->abuse(h);
	else
		while (abusing())
			sleep_ns(MS);
	atomic_store(&shm->abuser, A_QUIET);
	if (p->cleanup)
		p->cleanup(h);
	heapd_close(h);
	_exit(0);
}

/* ---- the bystander ---- */

/* Times one request of the meter's kind; inflight says since when, for
 * the driver to see if it never ends. */
static void measure(const struct phase *p, heapd **h, heapd_ref obj)
{
	uint8_t buf[OBJ_BYTES];
	uint64_t t0 = now_ns();
	int rc;

	atomic_store(&shm->inflight, t0);
	if (p->meter == M_CONNECT) {
		*h = heapd_connect(sock_path);
		if (*h == NULL)
			fail("out of memory");
		rc = heapd_errcode(*h);
		if (rc == 0)
			rc = heapd_ping(*h, NULL);
		heapd_close(*h);
		*h = NULL;
	} else {
		rc = p->meter == M_READ ? heapd_read(*h, obj, 0, buf, OBJ_BYTES) : heapd_ping(*h, NULL);
	}
	hist_add(&shm->hist, now_ns() - t0);
	atomic_store(&shm->inflight, 0);
	if (rc == 0)
		shm->ok++;
	else if (rc == HEAPD_ELIMIT)
		shm->refused++;
	else
		shm->errors++;
	if (rc != 0 && shm->meter_err[0] == 0)
		snprintf(shm->meter_err, sizeof shm->meter_err, "%s", heapd_strerror(rc));
	if ((rc == HEAPD_EIO || rc == HEAPD_EPROTO) && *h != NULL)
		_exit(1);
}

static void meter_main(const struct phase *p)
{
	heapd *h = NULL;
	heapd_ref obj = 0;
	uint64_t every = p->meter == M_PING ? PING_EVERY_NS : p->meter == M_CONNECT ? CONNECT_EVERY_NS : 0;

	if (p->meter != M_CONNECT) {
		h = connect_or_fail(shm->meter_err);
		if (p->nospin)
			heapd_set_spin(h, 0);
		if (p->meter == M_READ && (heapd_alloc(h, 0, OBJ_BYTES, &obj) != 0 ||
					   heapd_write(h, obj, 0, data4k, OBJ_BYTES) != 0))
			child_fail(shm->meter_err, h, "the reader's object");
		for (int i = 0; i < 100; i++)
			heapd_ping(h, NULL);
	}
	atomic_store(&shm->meter_ready, 1);
	while (!atomic_load(&shm->go))
		sleep_ns(100000);
	for (uint64_t next = now_ns(); !atomic_load(&shm->stop_meter);) {
		measure(p, &h, obj);
		next += every;
		uint64_t now = now_ns();
		if (next > now)
			sleep_ns(next - now);
		else
			next = now;
	}
	if (h != NULL)
		heapd_close(h);
	_exit(0);
}

/* ---- children and deadlines ---- */

static pid_t spawn(void (*fn)(const struct phase *), const struct phase *p)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork failed");
	if (pid == 0)
		fn(p);
	return pid;
}

/* Waits for pid until deadline, then kills it; returns 1 if it had to. */
static int reap(pid_t pid, uint64_t deadline)
{
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (now_ns() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 1;
		}
		sleep_ns(MS);
	}
	return 0;
}

static int child_failed(void)
{
	return atomic_load(&shm->abuser) == A_FAILED || atomic_load(&shm->meter_failed);
}

/* Waits until *flag is at least want, a child failed, or deadline. */
static int await(atomic_int *flag, int want, uint64_t deadline)
{
	while (atomic_load(flag) < want && !child_failed())
		if (now_ns() >= deadline)
			return -1;
		else
			sleep_ns(MS);
	return child_failed() ? -1 : 0;
}

/* A fresh client reads the stats a phase leaves, then collects, so that
 * the next phase starts from the live heap alone. It may be refused while
 * heapd has not yet seen the idle phase's connections close. */
static void drain_main(const struct phase *p)
{
	heapd *h;

	(void)p;
	while ((h = heapd_connect(sock_path)) != NULL && heapd_errcode(h) == HEAPD_ELIMIT) {
		heapd_close(h);
		sleep_ns(10 * MS);
	}
	if (h == NULL || heapd_errcode(h) != 0)
		child_fail(shm->meter_err, h, "connect");
	shm->st_ok = heapd_get_stats(h, &shm->st, sizeof shm->st) == 0 && heapd_gc(h) == 0;
	heapd_close(h);
	_exit(0);
}

/* Whether heapd answered within wait. */
static int drain(uint64_t wait)
{
	shm->st_ok = 0;
	reap(spawn(drain_main, NULL), now_ns() + wait);
	return shm->st_ok;
}

/* ---- the watchdog ---- */

/* Binds path and records when each WATCHDOG=1 from pid (any, if 0) comes. */
static void watchdog_main(const char *path, pid_t pid)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0), on = 1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	unlink(path);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		fail("cannot bind the notify socket");
	for (;;) {
		char msg[4096], ctl[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg - 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
		ssize_t n = recvmsg(fd, &mh, 0);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		uint64_t t = now_ns();

		if (n < 0)
			continue;
		msg[n] = 0;
		if (pid && c && c->cmsg_type == SCM_CREDENTIALS && ((struct ucred *)CMSG_DATA(c))->pid != pid)
			continue;
		unsigned i = atomic_load(&shm->wd_n);
		if (i < WD_RING && (strncmp(msg, "WATCHDOG=1", 10) == 0 || strstr(msg, "\nWATCHDOG=1") != NULL)) {
			shm->wd[i] = t;
			atomic_store(&shm->wd_n, i + 1);
		}
	}
}

/* The longest gap between pings that overlaps [t0, t1], and the gaps
 * over limit; a gap still open at t1 counts to now. */
static void watchdog_gaps(uint64_t t0, uint64_t t1, uint64_t limit, uint64_t *max, unsigned *misses, unsigned *pings)
{
	unsigned n = atomic_load(&shm->wd_n);
	uint64_t prev = 0;

	*max = 0, *misses = 0, *pings = 0;
	for (unsigned i = 0; i < n && (prev == 0 || prev <= t1); i++) {
		uint64_t t = shm->wd[i];

		if (prev != 0 && t >= t0) {
			*max = t - prev > *max ? t - prev : *max;
			*misses += t - prev > limit;
		}
		*pings += t >= t0 && t <= t1;
		prev = t;
	}
	if (prev != 0 && prev <= t1) {
		uint64_t open = now_ns() - prev;
		*max = open > *max ? open : *max;
		*misses += open > limit;
	}
}

/* ---- the driver ---- */

/* Whether heapd (a process we did not start) still runs: not a zombie. */
static int heapd_alive(pid_t pid)
{
	char path[64], line[512], *paren;
	FILE *f;

	if (pid == 0)
		return 1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	paren = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
	fclose(f);
	return paren != NULL && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static void print_phase(const struct phase *p, uint64_t stuck_ns, uint64_t wd_usec, uint64_t t0, uint64_t t1,
			const heapd_stats *before)
{
	const struct hist *hs = &shm->hist;
	uint64_t gap, max = hs->max > stuck_ns ? hs->max : stuck_ns;
	unsigned misses, pings;

	watchdog_gaps(t0, t1, wd_usec * 1000, &gap, &misses, &pings);
	printf("fairness phase=%s meter=%s count=%" PRIu64 " p50_us=%.1f p99_us=%.1f max_us=%.1f stuck=%d ok=%" PRIu64
	       " refused=%" PRIu64 " errors=%" PRIu64 " wd_max_gap_ms=%.0f wd_misses=%u wd_pings=%u abuse_ok=%" PRIu64
	       " abuse_errors=%" PRIu64,
	       p->name, p->meter == M_PING ? "ping" : p->meter == M_CONNECT ? "connect" : "read", hs->count,
	       (double)hist_quantile(hs, 0.50) / 1e3, (double)hist_quantile(hs, 0.99) / 1e3, (double)max / 1e3,
	       stuck_ns != 0, shm->ok, shm->refused, shm->errors, (double)gap / 1e6, misses, pings, shm->abuse_ok,
	       shm->abuse_errors);
	if (shm->st_ok)
		printf(" gcs=%" PRIu64 " forced_gcs=%" PRIu64 " live_mib=%.0f rss_mib=%.0f", shm->st.num_gc - before->num_gc,
		       shm->st.num_forced_gc - before->num_forced_gc, (double)shm->st.heap_live / 1048576.0,
		       (double)shm->st.rss_bytes / 1048576.0);
	printf(" secs=%.1f\n", (double)(t1 - t0) / 1e9);
	fflush(stdout);
	if (shm->meter_err[0] || shm->abuse_err[0])
		fprintf(stderr, "fairness: %s: bystander: %s; abuser: %s\n", p->name,
			shm->meter_err[0] ? shm->meter_err : "-", shm->abuse_err[0] ? shm->abuse_err : "-");
}

/* One phase; returns -1 when its setup failed, -2 when heapd did not
 * answer within the grace after it. */
static int run_phase(const struct phase *p, uint64_t wd_usec)
{
	heapd_stats before = shm->st;
	pid_t meter, abuser;
	uint64_t t0, t1, stuck = 0, inflight;
	int answered;

	memset(shm, 0, offsetof(struct shm, hist));
	hist_clear(&shm->hist);
	fprintf(stderr, "fairness: phase %s\n", p->name);
	/* The bystander connects and warms up first: it is not to be
	 * refused by the idle connections, nor starved before it starts. */
	meter = spawn(meter_main, p);
	abuser = 0;
	if (await(&shm->meter_ready, 1, now_ns() + SETUP_NS) == 0)
		abuser = spawn(abuser_main, p);
	if (abuser == 0 || await(&shm->abuser, A_READY, now_ns() + SETUP_NS) != 0) {
		fprintf(stderr, "fairness: %s: setup failed: %s%s\n", p->name, shm->abuse_err, shm->meter_err);
		reap(meter, 0);
		if (abuser != 0)
			reap(abuser, 0);
		return -1;
	}
	t0 = now_ns();
	atomic_store(&shm->go, 1);
	sleep_ns(phase_ns);
	atomic_store(&shm->stop_abuse, 1);
	await(&shm->abuser, A_QUIET, t0 + phase_ns + grace_ns);
	atomic_store(&shm->stop_meter, 1);
	/* A killed meter leaves inflight as it was: the request it waited for. */
	if (reap(meter, t0 + phase_ns + grace_ns) && (inflight = atomic_load(&shm->inflight)) != 0)
		stuck = now_ns() - inflight;
	t1 = now_ns();
	if (reap(abuser, now_ns() + grace_ns))
		fprintf(stderr, "fairness: %s: the abuser did not end; killed\n", p->name);
	fprintf(stderr, "fairness: %s: measured %.1f s, abuser gone after %.1f s\n", p->name, (double)(t1 - t0) / 1e9,
		(double)(now_ns() - t0) / 1e9);
	answered = drain(grace_ns);
	fprintf(stderr, "fairness: %s: drained after %.1f s\n", p->name, (double)(now_ns() - t0) / 1e9);
	print_phase(p, stuck, wd_usec, t0, t1, &before);
	return answered ? 0 : -2;
}

static void usage(void)
{
	fprintf(stderr, "usage: fairness -s SOCK -n NOTIFY [-p HEAPD_PID] [-w WATCHDOG_USEC] [-d SECS] [-g SECS] "
			"[-c MAX_CLIENTS] [PHASE...]\n"
			"PHASE: quiet batch full roots idle idle-ping reads heavy heavy-nospin\n");
	exit(2);
}

static uint64_t number(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end || s[0] == '-' || v == 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *notify = NULL;
	uint64_t wd_usec = 1000000;
	pid_t heapd_pid = 0, wd;
	int c, rc = 0, stop = 0;

	while ((c = getopt(argc, argv, "s:n:p:w:d:g:c:")) != -1) {
		switch (c) {
		case 's': sock_path = optarg; break;
		case 'n': notify = optarg; break;
		case 'p': heapd_pid = (pid_t)number(optarg); break;
		case 'w': wd_usec = number(optarg); break;
		case 'd': phase_ns = number(optarg) * SEC; break;
		case 'g': grace_ns = number(optarg) * SEC; break;
		case 'c': max_clients = (unsigned)number(optarg); break;
		default: usage();
		}
	}
	if (sock_path == NULL || notify == NULL)
		usage();
	for (size_t i = 0; i < sizeof data4k; i++)
		data4k[i] = (uint8_t)('a' + i % 26);
	shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		fail("mmap failed");
	for (int i = optind; i < argc; i++) {
		size_t k = 0;

		while (k < NPHASES && strcmp(argv[i], phases[k].name) != 0)
			k++;
		if (k == NPHASES)
			usage();
	}
	if ((wd = fork()) == 0)
		watchdog_main(notify, heapd_pid);
	uint64_t t = now_ns();
	fprintf(stderr, "fairness: building %d live objects of %d bytes\n", LIVE_OBJECTS, LIVE_BYTES);
	if (reap(spawn(build, NULL), t + SETUP_NS) || atomic_load(&shm->abuser) == A_FAILED || !drain(SETUP_NS)) {
		fprintf(stderr, "fairness: building the live heap failed: %s%s\n", shm->abuse_err, shm->meter_err);
		rc = stop = 1;
	} else {
		printf("fairness build secs=%.1f live_mib=%.0f objects=%" PRIu64 " rss_mib=%.0f\n",
		       (double)(now_ns() - t) / 1e9, (double)shm->st.heap_live / 1048576.0, shm->st.heap_objects,
		       (double)shm->st.rss_bytes / 1048576.0);
		drain(SETUP_NS); /* the baseline: the stats after a collection */
	}
	for (size_t k = 0; !stop && k < NPHASES; k++) {
		int wanted = optind == argc;

		for (int i = optind; i < argc; i++)
			wanted |= strcmp(argv[i], phases[k].name) == 0;
		if (!wanted)
			continue;
		int r = run_phase(&phases[k], wd_usec);

		if (r == -1)
			printf("fairness phase=%s setup=failed\n", phases[k].name);
		if (!heapd_alive(heapd_pid))
			printf("fairness phase=%s heapd=dead\n", phases[k].name);
		else if (r == -2)
			printf("fairness phase=%s heapd=unresponsive\n", phases[k].name);
		rc |= r != 0 || !heapd_alive(heapd_pid);
		stop = r == -2 || !heapd_alive(heapd_pid);
	}
	kill(wd, SIGKILL);
	waitpid(wd, NULL, 0);
	unlink(notify);
	return rc;
}
