/*
 * stress_model.c - the multi-client reference-model stress test: several
 * client processes mutate a shared graph at once, each checking every
 * reply against its model of what it should read back; some are killed
 * with SIGKILL at random moments and started again; after every round
 * everything reachable is verified; at the end the heap must be empty and
 * its memory given back.
 *
 *   stress_model [--clients N] [--ops N] [--kills N] [--rounds N] [--ballast N] [--seed N]
 *
 * (or STRESS_CLIENTS, STRESS_OPS, ... in the environment; flags win). The
 * default is the short run of make check; docs/reliability.md has the long
 * one and its figures.
 *
 * Design. This process is the coordinator: it starts its own heapd
 * (tests/daemon/daemonutil.h) and N clients, each this program exec'd
 * with --client K (stress_client.c says what a client does and owns). It
 * runs the test in rounds:
 *   1. run: every client performs its share of the round's operations;
 *      meanwhile the coordinator kills some (SIGKILL) once their operation
 *      counter passes a point drawn at random, so a kill lands anywhere in
 *      an operation; sometimes it kills the new incarnation again while it
 *      recovers. After a kill it waits until the daemon has closed the dead
 *      connection (sessions), then starts the client again, which recovers
 *      its model and finishes the round's share;
 *   2. barrier: every client is paused;
 *   3. verify: each client collects, checks that what it dropped is gone,
 *      and verifies every object it knows and every published tree;
 *   4. account: with every client paused, the coordinator reads all the
 *      models (shared memory, stress.h), collects, and checks the daemon's
 *      heap_objects, holds and named_roots against them exactly: one
 *      object lost or kept anywhere shows. Objects that only a killed
 *      incarnation held are in no model, so this is also where they must
 *      have been collected.
 * Before the clients start, the coordinator builds the ballast (lists
 * that make every cycle's marking long; see ballast_build). At the end
 * every client deletes its roots and exits, the coordinator checks and
 * deletes the ballast; then the daemon must have no roots, no holds and,
 * after two collections, no objects, and its idle scavenger must bring its
 * RSS back near where it started.
 *
 * Invariants the test relies on: only client K writes its model and the
 * objects it owns; published trees are immutable; only one client is dead
 * or starting at a time (a kill waits until every other client is
 * connected), so "sessions == clients" after a kill means the daemon has
 * dropped the dead one's holds.
 *
 * How it fails: a client that finds a reply different from its model
 * while it runs exits with the reason on stderr, and the coordinator fails
 * the test; a verify phase counts what it finds (lost, corrupt, not
 * collected) and the round fails if any; the accounting and the end
 * checks fail the test with the daemon's figures and the models'. A
 * client or daemon that stops progressing fails it after 120 s.
 *
 * A second case, stress_push (stress_push.c), has the clients push onto
 * one shared list with compare and swap (root_cas, then cas_ref) and
 * checks that no push is lost.
 *
 * Reproducing: the seed is printed. It decides every client's operations
 * and the kill points; what differs between two runs with one seed is the
 * interleaving of clients and where inside an operation a kill lands (and
 * so what follows from it).
 */
#include <inttypes.h>
#include <sys/mman.h>

#include "../daemon/daemonutil.h"
#include "../sanitizers.h"
#include "stress.h"

#define STUCK_NS (120 * 1000000000ull)   /* no progress for this long: fail */
/* RSS at the end may exceed the start by this much: what malloc keeps of
 * the daemon's freed buffers (0.1-0.3 MiB measured; see daemon_env). */
#define RSS_SLACK (1u << 20)
/* Not under ASan, whose quarantine keeps freed memory by design, nor TSan,
 * which keeps the shadow of memory given back (sanitizers.h), nor with
 * heapd under a $HEAPD_WRAPPER such as valgrind (daemonutil.h). */
#if UNDER_ASAN || UNDER_TSAN
#define RSS_CHECKED 0
#else
#define RSS_CHECKED (!getenv("HEAPD_WRAPPER") || !getenv("HEAPD_WRAPPER")[0])
#endif
#define MAX_KILLS_PER_ROUND 64

struct child {
	pid_t pid;
	int fd;            /* the coordinator's end of its socketpair */
	unsigned got;      /* GOT_* reports received since they were last cleared */
};

/* What a child reported, as bits of child.got. */
#define GOT_READY 1u
#define GOT_RAN 2u
#define GOT_VERIFIED 4u

static struct opts {
	int clients, kills, rounds, ballast;
	long long ops;
	uint64_t seed;
} opt = {.clients = 4, .ops = 16000, .kills = 6, .rounds = 0, .ballast = 4000};

static struct {
	struct daemon d;
	heapd *h;
	int memfd;
	struct shm *shm;
	struct child ch[MAX_CLIENTS];
	uint64_t rng;
	int kills, recovery_kills;
	uint64_t rss_start, rss_peak, objects_after_one, scavenge_ns;
	heapd_stats end;   /* the daemon's figures at the end */
} T;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(splitmix(&T.rng) % n) : 0;
}

/* --- clients --- */

static void spawn(int k)
{
	int sv[2];
	pid_t parent = getpid();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Out of the way of 3 and 4 first (either may be taken), then
		 * there, without close-on-exec. */
		int shm = fcntl(T.memfd, F_DUPFD_CLOEXEC, 10), cmd = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
		dup2(shm, 3);
		dup2(cmd, 4);
		char ks[16], ns[16];
		snprintf(ks, sizeof ks, "%d", k);
		snprintf(ns, sizeof ns, "%d", opt.clients);
		execl("/proc/self/exe", "stress_model", "--client", ks, "--clients", ns, "--socket", T.d.sock,
		      (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	T.ch[k] = (struct child){.pid = pid, .fd = sv[0]};
}

static void send_cmd(int k, char cmd)
{
	assert_int_equal(write(T.ch[k].fd, &cmd, 1), 1);
}

static const char *status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	return buf;
}

/* Reads what the clients reported, waiting at most timeout_us. A client
 * that closed its end died on its own: that fails the test (its reason is
 * on stderr). */
static void pump(long timeout_us)
{
	struct pollfd p[MAX_CLIENTS];
	for (int k = 0; k < opt.clients; k++)
		p[k] = (struct pollfd){.fd = T.ch[k].fd, .events = POLLIN};
	struct timespec ts = {timeout_us / 1000000, timeout_us % 1000000 * 1000};
	if (ppoll(p, (nfds_t)opt.clients, &ts, NULL) <= 0)
		return;
	for (int k = 0; k < opt.clients; k++) {
		if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char buf[16];
		ssize_t n = read(T.ch[k].fd, buf, sizeof buf);
		if (n <= 0) {
			int status;
			char s[32];
			waitpid(T.ch[k].pid, &status, 0);
			fail_msg("client %d died: %s (seed %" PRIu64 ")", k, status_str(status, s, sizeof s), opt.seed);
		}
		for (ssize_t i = 0; i < n; i++) {
			T.ch[k].got |= buf[i] == REP_READY ? GOT_READY : buf[i] == REP_RAN ? GOT_RAN
							 : buf[i] == REP_VERIFIED ? GOT_VERIFIED : 0;
		}
	}
}

static uint64_t total_ops(void)
{
	uint64_t n = 0;
	for (int k = 0; k < opt.clients; k++)
		n += atomic_load(&T.shm->c[k].ops_done);
	return n;
}

static int all_got(unsigned what)
{
	for (int k = 0; k < opt.clients; k++)
		if (!(T.ch[k].got & what))
			return 0;
	return 1;
}

/* Waits until every client has reported what (a GOT_* bit). */
static void wait_all(unsigned what, const char *name)
{
	uint64_t last = total_ops(), since = now_ns();
	for (;;) {
		if (all_got(what))
			return;
		pump(50000);
		if (total_ops() != last) {
			last = total_ops();
			since = now_ns();
		} else if (now_ns() - since > STUCK_NS) {
			fail_msg("no progress for 120 s waiting for clients to %s (seed %" PRIu64 ")", name, opt.seed);
		}
	}
}

static heapd_stats *stats(void)
{
	static heapd_stats st;
	assert_int_equal(heapd_get_stats(T.h, &st, sizeof st), 0);
	if (st.rss_bytes > T.rss_peak)
		T.rss_peak = st.rss_bytes;
	return &st;
}

/* Waits until the daemon has exactly n connections: after a kill, that
 * the dead client's connection is closed and its holds dropped. */
static void wait_sessions(uint64_t n)
{
	for (int i = 0; i < 20000; i++) {
		if (stats()->sessions == n)
			return;
		sleep_ms(1);
	}
	fail_msg("the daemon still has %" PRIu64 " sessions, not %" PRIu64, stats()->sessions, n);
}

/* SIGKILL, then a new incarnation. */
static void kill_and_restart(int k)
{
	int status;
	char s[32];
	kill(T.ch[k].pid, SIGKILL);
	assert_int_equal(waitpid(T.ch[k].pid, &status, 0), T.ch[k].pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("client %d died before the kill: %s (seed %" PRIu64 ")", k, status_str(status, s, sizeof s),
			 opt.seed);
	close(T.ch[k].fd);
	T.kills++;
	wait_sessions((uint64_t)opt.clients); /* the others and this process */
	spawn(k);
}

/* A kill may fire when every other client is connected (see Invariants). */
static int others_ready(int k)
{
	for (int i = 0; i < opt.clients; i++)
		if (i != k && !(T.ch[i].got & GOT_READY))
			return 0;
	return 1;
}

/* --- rounds --- */

/* One kill, or two: the second while the new incarnation recovers. */
struct kill_plan {
	int victim, in_recovery, fired;
	uint64_t at;       /* fire once the victim's ops_done reaches this */
};

static uint64_t share(int round, int k)
{
	uint64_t cells = (uint64_t)opt.rounds * (uint64_t)opt.clients, idx = (uint64_t)round * opt.clients + k;
	return (uint64_t)opt.ops / cells + (idx < (uint64_t)opt.ops % cells);
}

static void run_round(int round, int nkills)
{
	struct kill_plan plan[MAX_KILLS_PER_ROUND];
	for (int k = 0; k < opt.clients; k++) {
		struct cstate *st = &T.shm->c[k];
		st->round_end = atomic_load(&st->ops_done) + share(round, k);
		st->running = 1;
		T.ch[k].got &= ~GOT_RAN;
		send_cmd(k, CMD_RUN);
	}
	int nplan = 0;
	for (int left = nkills; left > 0; nplan++) {
		int v = (int)below((uint32_t)opt.clients);
		uint64_t start = atomic_load(&T.shm->c[v].ops_done);
		plan[nplan] = (struct kill_plan){.victim = v, .at = start + below((uint32_t)share(round, v)),
						 .in_recovery = left >= 2 && below(4) == 0};
		left -= 1 + plan[nplan].in_recovery;
	}
	uint64_t last = total_ops(), since = now_ns();
	for (int pending = nplan;;) {
		if (all_got(GOT_RAN) && !pending)
			break;
		pump(pending ? 200 : 50000);
		for (int i = 0; i < nplan; i++) {
			struct kill_plan *p = &plan[i];
			struct child *c = &T.ch[p->victim];
			if (p->fired || !others_ready(p->victim) ||
			    (atomic_load(&T.shm->c[p->victim].ops_done) < p->at && !(c->got & GOT_RAN)))
				continue;
			kill_and_restart(p->victim);
			if (p->in_recovery) {
				sleep_ms(below(4));
				kill_and_restart(p->victim);
				T.recovery_kills++;
			}
			p->fired = 1;
			pending--;
		}
		if (total_ops() != last) {
			last = total_ops();
			since = now_ns();
		} else if (now_ns() - since > STUCK_NS) {
			fail_msg("round %d: no progress for 120 s (seed %" PRIu64 ")", round, opt.seed);
		}
	}
	for (int k = 0; k < opt.clients; k++)
		T.shm->c[k].running = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t tree_key(const struct pubid *id)
{
	return (uint64_t)id->owner << 48 | (uint64_t)id->j << 40 | (uint64_t)id->gen << 8 | id->nnodes;
}

/* --- the ballast --- */

/* BALLAST_LISTS lists of small objects, opt.ballast in all, under the
 * roots "ballast/0"..., each node holding its number; built before the
 * clients start, checked at the end. They make each cycle's marking
 * long, and cut it in pieces: roots are greyed together and then marked
 * depth first, so while marking runs down one list over many slices, the
 * clients' objects that hang from roots greyed after it are all scanned
 * and those greyed before it are not. A client's move from one to the
 * other is then what the write barrier is for. */
#define BALLAST_LISTS 8

static uint64_t ballast_first(int list)
{
	return (uint64_t)opt.ballast * (uint64_t)list / BALLAST_LISTS;
}

static void ballast_build(void)
{
	char name[32];
	for (int l = 0; l < BALLAST_LISTS; l++) {
		heapd_ref head, prev, cur;
		uint64_t i = ballast_first(l);
		assert_int_equal(heapd_alloc(T.h, 1, 8, &head), 0);
		assert_int_equal(heapd_write(T.h, head, 0, &i, 8), 0);
		for (prev = head, i++; i < ballast_first(l + 1); i++, prev = cur)
			assert_int_equal(heapd_alloc_into(T.h, prev, 0, 1, 8, &i, 8, &cur), 0);
		snprintf(name, sizeof name, "ballast/%d", l);
		assert_int_equal(heapd_root_set(T.h, name, head), 0);
		assert_int_equal(heapd_release(T.h, head), 0);
	}
}

static void ballast_check_and_drop(void)
{
	char name[32];
	for (int l = 0; l < BALLAST_LISTS; l++) {
		heapd_ref cur, next;
		uint64_t i = ballast_first(l), v;
		snprintf(name, sizeof name, "ballast/%d", l);
		assert_int_equal(heapd_root_get(T.h, name, &cur), 0);
		assert_int_equal(heapd_release(T.h, cur), 0);
		for (; cur; i++, cur = next) {
			assert_int_equal(heapd_read(T.h, cur, 0, &v, 8), 0);
			if (v != i || i >= ballast_first(l + 1))
				fail_msg("ballast node %" PRIu64 " holds %" PRIu64, i, v);
			assert_int_equal(heapd_get_ref(T.h, cur, 0, &next), 0);
			if (next)
				assert_int_equal(heapd_release(T.h, next), 0);
		}
		if (i != ballast_first(l + 1))
			fail_msg("ballast list %d ends at node %" PRIu64, l, i);
		assert_int_equal(heapd_root_set(T.h, name, 0), 0);
	}
}

/* What the daemon must hold, from every model: the ballast, each
 * client's own live objects, and every published tree that is a root or
 * linked or held by someone (all its nodes, counted once). */
static uint64_t expected_objects(uint64_t *holds, uint64_t *views, uint64_t *roots)
{
	static uint64_t keys[MAX_CLIENTS * (MAX_OBJS + NPUB)];
	size_t nk = 0;
	uint64_t n = (uint64_t)opt.ballast;
	*holds = *views = 0;
	*roots = BALLAST_LISTS;
	for (int k = 0; k < opt.clients; k++) {
		struct cstate *st = &T.shm->c[k];
		for (int i = 0; i < MAX_OBJS; i++) {
			struct mobj *e = &st->obj[i];
			if (e->state == ST_DEAD && e->kind == K_OWN)
				fail_msg("client %d entry %d: dead and not checked after a verify", k, i);
			if (e->state != ST_LIVE)
				continue;
			*holds += e->holds + e->views;  /* views are holds to the daemon */
			*views += e->views;
			if (e->kind == K_OWN)
				n++;
			else
				keys[nk++] = tree_key(&e->id);
		}
		for (int r = 0; r < NROOTS; r++)
			*roots += st->root[r] >= 0;
		for (int j = 0; j < NPUB; j++)
			if (st->pub[j].ref) {
				(*roots)++;
				keys[nk++] = tree_key(&st->pub[j].id);
			}
	}
	qsort(keys, nk, sizeof keys[0], cmp_u64);
	for (size_t i = 0; i < nk; i++)
		if (i == 0 || keys[i] != keys[i - 1])
			n += keys[i] & 0xff;
	return n;
}

struct figures {
	uint64_t verified, lost, corrupt, uncollected, collected, recovered, redone;
};

static struct figures sum_figures(void)
{
	struct figures f = {0};
	for (int k = 0; k < opt.clients; k++) {
		struct cstate *st = &T.shm->c[k];
		f.verified += st->verified;
		f.lost += st->lost;
		f.corrupt += st->corrupt;
		f.uncollected += st->uncollected;
		f.collected += st->collected;
		f.recovered += st->recovered;
		f.redone += st->redone;
	}
	return f;
}

static void verify_round(int round)
{
	for (int k = 0; k < opt.clients; k++) {
		T.ch[k].got &= ~GOT_VERIFIED;
		send_cmd(k, CMD_VERIFY);
	}
	wait_all(GOT_VERIFIED, "verify");
	struct figures f = sum_figures();
	if (f.lost || f.corrupt || f.uncollected)
		fail_msg("round %d: %" PRIu64 " objects lost, %" PRIu64 " corrupt, %" PRIu64
			 " not collected (clients' messages above; seed %" PRIu64 ")",
			 round, f.lost, f.corrupt, f.uncollected, opt.seed);
	assert_int_equal(heapd_gc(T.h), 0);
	uint64_t holds, views, roots, want = expected_objects(&holds, &views, &roots);
	heapd_stats *st = stats();
	if (st->heap_objects != want || st->holds != holds || st->views != views || st->named_roots != roots)
		fail_msg("round %d: the daemon has %" PRIu64 " objects, %" PRIu64 " holds (%" PRIu64 " views), %" PRIu64
			 " roots; the models say %" PRIu64 ", %" PRIu64 " (%" PRIu64 "), %" PRIu64 " (seed %" PRIu64 ")",
			 round, st->heap_objects, st->holds, st->views, st->named_roots, want, holds, views, roots,
			 opt.seed);
	printf("# round %d: %" PRIu64 " ops, %d kills, %" PRIu64 " objects verified; heap_objects %" PRIu64
	       ", holds %" PRIu64 ", roots %" PRIu64 ", rss %.1f MiB\n",
	       round, total_ops(), T.kills, f.verified, st->heap_objects, st->holds, st->named_roots,
	       st->rss_bytes / 1048576.0);
	fflush(stdout);
}

/* The daemon's peak RSS (VmHWM), in bytes; 0 if unknown. */
static uint64_t daemon_hwm(void)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)T.d.pid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}

/* Every client deletes its roots and exits; then the heap must empty. */
static void finish(void)
{
	for (int k = 0; k < opt.clients; k++)
		send_cmd(k, CMD_QUIT);
	for (int k = 0; k < opt.clients; k++) {
		int status;
		char s[32];
		assert_int_equal(waitpid(T.ch[k].pid, &status, 0), T.ch[k].pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("client %d at the end: %s (seed %" PRIu64 ")", k, status_str(status, s, sizeof s), opt.seed);
		close(T.ch[k].fd);
	}
	wait_sessions(1);
	ballast_check_and_drop();
	char **names;
	size_t count;
	int truncated;
	assert_int_equal(heapd_root_list(T.h, &names, &count, &truncated), 0);
	heapd_free_names(names);
	assert_int_equal(count, 0);
	assert_int_equal(heapd_gc(T.h), 0);
	T.objects_after_one = stats()->heap_objects;
	assert_int_equal(heapd_gc(T.h), 0);
	heapd_stats *st = stats();
	assert_int_equal(st->heap_objects, 0);
	assert_int_equal(st->holds, 0);
	assert_int_equal(st->named_roots, 0);
	T.rss_peak = daemon_hwm() > T.rss_peak ? daemon_hwm() : T.rss_peak;
	/* The idle scavenger returns the free pages once the release delay
	 * (100 ms here) has passed with no allocation: every one, and then
	 * RSS is back near its start. */
	uint64_t t = now_ns();
	for (int i = 0; i < 200; i++, sleep_ms(50)) {
		st = stats();
		if (st->heap_released == st->heap_idle && (!RSS_CHECKED || st->rss_bytes <= T.rss_start + RSS_SLACK))
			break;
	}
	T.end = *st;
	T.scavenge_ns = now_ns() - t;
	assert_int_equal(st->heap_inuse, 0);
	assert_int_equal(st->heap_released, st->heap_idle);
	if (!RSS_CHECKED)
		printf("# (RSS not checked under ASan or a wrapper)\n");
	else if (st->rss_bytes > T.rss_start + RSS_SLACK)
		fail_msg("rss %.1f MiB did not come back near its start, %.1f MiB", st->rss_bytes / 1048576.0,
			 T.rss_start / 1048576.0);
}

static void print_figures(uint64_t t0)
{
	static const char *const kind[NUM_OPS] = {
		"alloc", "alloc_into", "write", "set_ref", "move", "get_ref", "read", "release", "root_set",
		"root_del", "root_get", "publish", "unpublish", "read_published", "gc", "free_os_memory",
		"seal", "view", "view_release", "change_sealed"};
	struct figures f = sum_figures();
	printf("# seed %" PRIu64 ": %d clients, %d rounds, %" PRIu64 " operations, %d kills (%d during recovery), "
	       "%" PRIu64 " operations in flight at a kill resolved (%" PRIu64 " had happened)\n",
	       opt.seed, opt.clients, opt.rounds, total_ops(), T.kills, T.recovery_kills, f.recovered, f.redone);
	printf("# operations by kind:");
	for (int o = 0; o < NUM_OPS; o++) {
		uint64_t n = 0;
		for (int k = 0; k < opt.clients; k++)
			n += T.shm->c[k].ops_by_kind[o];
		printf(" %s %" PRIu64, kind[o], n);
	}
	printf("\n# verified %" PRIu64 " objects: lost %" PRIu64 ", corrupt %" PRIu64 "; %" PRIu64
	       " dropped objects checked collected, %" PRIu64 " not; %" PRIu64 " collections (%" PRIu64 " forced)\n",
	       f.verified, f.lost, f.corrupt, f.collected, f.uncollected, T.end.num_gc, T.end.num_forced_gc);
	printf("# end: heap_objects %" PRIu64 " after one gc, %" PRIu64 " after two; rss start %.1f MiB, "
	       "peak %.1f MiB, end %.1f MiB (%.1f s after the collections); %.1f s in all\n",
	       T.objects_after_one, T.end.heap_objects, T.rss_start / 1048576.0, T.rss_peak / 1048576.0,
	       T.end.rss_bytes / 1048576.0, T.scavenge_ns / 1e9, (now_ns() - t0) / 1e9);
	fflush(stdout);
}

/* In heapd's process, before exec: glibc's malloc with fixed thresholds,
 * so that a freed buffer of 128 KiB or more (a reply to a 1 MiB read)
 * goes back to the OS at once, as it does until glibc's dynamic
 * threshold first moves. Then RSS at the end measures the heap and the
 * daemon, not where that threshold happened to stand. */
static void daemon_env(struct daemon *d)
{
	(void)d;
	setenv("MALLOC_MMAP_THRESHOLD_", "131072", 1);
	setenv("MALLOC_TRIM_THRESHOLD_", "131072", 1);
}

static void stress_model(void **state)
{
	(void)state;
	uint64_t t0 = now_ns();
	printf("# seed %" PRIu64 ", %d clients, %lld operations, %d kills, %d rounds, ballast %d\n", opt.seed,
	       opt.clients, opt.ops, opt.kills, opt.rounds, opt.ballast);
	fflush(stdout);
	T.rng = opt.seed;
	/* 1 us collector slices, about 64 objects each (the engine reads
	 * the clock every 64): a cycle takes many, and the clients' requests
	 * are served between them, so operations land while it marks (the
	 * write barrier's case). With heap_set_ref's barrier removed, short
	 * runs failed 8 times in 8 with 1 us slices, 1 in 6 with 10 us, none
	 * with 50 us. A low GOGC for more cycles. */
	daemon_prepare(&T.d);
	T.d.child_setup = daemon_env;
	/* Clients check that dropped refs fail: no max_bad_refs for them. */
	daemon_spawn(&T.d, "--gc-percent", "50", "--gc-slice-us", "1", "--release-delay-ms", "100", "--max-bad-refs",
		     "0", NULL);
	T.h = client(&T.d);
	T.rss_start = stats()->rss_bytes;
	ballast_build();
	T.memfd = memfd_create("heapd-stress", MFD_CLOEXEC);
	assert_true(T.memfd >= 0);
	assert_int_equal(ftruncate(T.memfd, sizeof *T.shm), 0);
	T.shm = mmap(NULL, sizeof *T.shm, PROT_READ | PROT_WRITE, MAP_SHARED, T.memfd, 0);
	assert_true(T.shm != MAP_FAILED);
	for (int k = 0; k < opt.clients; k++) {
		struct cstate *st = &T.shm->c[k];
		uint64_t s = opt.seed ^ (uint64_t)(k + 1) << 56;
		st->rng = splitmix(&s);
		for (int r = 0; r < NROOTS; r++)
			st->root[r] = -1;
		spawn(k);
	}
	wait_all(GOT_READY, "connect");
	/* Kills fall in rounds at random: a round with two or more may kill
	 * a client again while it recovers. */
	int *kills = calloc((size_t)opt.rounds, sizeof *kills);
	assert_non_null(kills);
	for (int i = 0; i < opt.kills; i++) {
		int r = (int)below((uint32_t)opt.rounds);
		while (kills[r] == MAX_KILLS_PER_ROUND)
			r = (r + 1) % opt.rounds;
		kills[r]++;
	}
	for (int round = 0; round < opt.rounds; round++) {
		run_round(round, kills[round]);
		verify_round(round);
	}
	free(kills);
	finish();
	print_figures(t0);
	heapd_close(T.h);
	munmap(T.shm, sizeof *T.shm);
	close(T.memfd);
	daemon_stop(&T.d);
}

/* The shared list pushed onto with compare and swap (stress_push.c), with
 * as many clients. */
static void stress_push(void **state)
{
	(void)state;
	push_run(opt.clients, opt.ops);
}

/* --- options --- */

static long long number(const char *name, const char *s, long long lo, long long hi)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "stress_model: %s: %s is not a number in %lld..%lld\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

static void set_opt(const char *name, const char *val)
{
	if (!strcmp(name, "clients"))
		opt.clients = (int)number(name, val, 1, MAX_CLIENTS);
	else if (!strcmp(name, "ops"))
		opt.ops = number(name, val, 1, (long long)1 << 40);
	else if (!strcmp(name, "kills"))
		opt.kills = (int)number(name, val, 0, 1 << 20);
	else if (!strcmp(name, "rounds"))
		opt.rounds = (int)number(name, val, 1, 1 << 20);
	else if (!strcmp(name, "ballast"))
		opt.ballast = (int)number(name, val, BALLAST_LISTS, 1 << 24);
	else if (!strcmp(name, "seed"))
		opt.seed = (uint64_t)number(name, val, 0, INT64_MAX);
	else {
		fprintf(stderr, "usage: stress_model [--clients N] [--ops N] [--kills N] [--rounds N] [--ballast N] "
				"[--seed N]\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "--client"))
		return client_main(atoi(argv[2]), atoi(argv[4]), argv[6]);
	static const char *const env[][2] = {{"STRESS_CLIENTS", "clients"}, {"STRESS_OPS", "ops"},
					     {"STRESS_KILLS", "kills"}, {"STRESS_ROUNDS", "rounds"},
					     {"STRESS_BALLAST", "ballast"}, {"STRESS_SEED", "seed"}};
	opt.seed = ((uint64_t)time(NULL) << 20 ^ (uint64_t)getpid()) & INT64_MAX;
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
		if (getenv(env[i][0]) && getenv(env[i][0])[0])
			set_opt(env[i][1], getenv(env[i][0]));
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 == argc)
			set_opt("", "");
		set_opt(argv[i] + 2, argv[i + 1]);
		i++;
	}
	if (!opt.rounds)
		opt.rounds = opt.ops / 20000 > 3 ? (int)(opt.ops / 20000) : 3;
	if ((opt.kills + opt.rounds - 1) / opt.rounds > MAX_KILLS_PER_ROUND) {
		fprintf(stderr, "stress_model: at most %d kills per round: more --rounds\n", MAX_KILLS_PER_ROUND);
		return 2;
	}
	const struct CMUnitTest tests[] = {cmocka_unit_test(stress_model), cmocka_unit_test(stress_push)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
