/*
 * persist_clients.c - the load during the save test: two child processes,
 * forked before the save, each on its own connection. The reader times one
 * 64-byte read of the probe (heapd_read; GET) after another; the writer
 * runs RATE ops/s on the targets, half overwriting one in place, half
 * replacing a leaf by a new object of the same size.
 *
 * The children tell the parent everything through pb_shm: each counts
 * itself ready, then works until stop; one that fails leaves its message
 * in err and exits 1. The writer finds its targets again from their
 * roots by slot path, as a restart has changed every handle, and draws
 * them from the seed, so both servers get the same writes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "heapd.h"
#include "persist.h"

enum {
	MAX_TARGETS = 32768,     /* the writer's, drawn from the candidates */
};

static void child_fail(const char *what, const char *why)
{
	snprintf(pb_shm->err, sizeof pb_shm->err, "%s: %s", what, why);
	_exit(1);
}

static void record(uint64_t t0)
{
	uint64_t n = atomic_load(&pb_shm->nrec);

	if (n < PB_REC_MAX) {
		pb_shm->rec[n] = (struct pb_rec){t0, now_ns() - t0};
		atomic_store(&pb_shm->nrec, n + 1);
	}
}

/* Waits for the reader's next turn: every interval_us, or at once. */
static void pace(const struct pb_opts *o, uint64_t *next)
{
	uint64_t now = now_ns();

	if (!o->interval_us)
		return;
	if (now < *next)
		pb_sleep_ns(*next - now);
	*next = (now > *next ? now : *next) + o->interval_us * 1000;
}

static void reader_heapd(const struct pb_opts *o)
{
	heapd *h = heapd_connect(o->sock);
	heapd_ref probe;
	uint8_t buf[PB_SMALL_BYTES];
	uint64_t next = now_ns();

	if (!h || heapd_errcode(h) || heapd_set_spin(h, 0) || heapd_root_get(h, PB_PROBE_NAME, &probe))
		child_fail("reader", h ? heapd_errmsg(h) : "out of memory");
	atomic_fetch_add(&pb_shm->ready, 1);
	while (!atomic_load(&pb_shm->stop)) {
		pace(o, &next);
		uint64_t t0 = now_ns();
		if (heapd_read(h, probe, 0, buf, sizeof buf) != 0)
			child_fail("reader", heapd_errmsg(h));
		record(t0);
	}
	heapd_close(h);
}

static void reader_redis(const struct pb_opts *o)
{
	struct pb_rconn *c = pb_rc_open(o->sock);
	struct pb_sbuf get = {0};
	const char *argv[] = {"GET", PB_PROBE_NAME};
	struct pb_rreply r;
	uint64_t next = now_ns();

	if (!c)
		child_fail("reader", "cannot connect");
	pb_sb_cmd(&get, 2, argv, NULL);
	atomic_fetch_add(&pb_shm->ready, 1);
	while (!atomic_load(&pb_shm->stop)) {
		pace(o, &next);
		uint64_t t0 = now_ns();
		pb_rc_send(c, get.p, get.len);
		if (pb_rc_reply(c, &r) != 0 || r.type != '$' || r.len != PB_SMALL_BYTES)
			child_fail("reader", "GET failed");
		record(t0);
	}
	free(get.p);
	pb_rc_close(c);
}

struct target {
	uint64_t index;
	uint32_t root, chunk, nbytes, nrefs, depth;
	uint8_t path[PB_TARGET_DEPTH];
	heapd_ref self, parent;
};

/* Up to MAX_TARGETS of the file's candidates, drawn with seed. */
static struct target *targets_read(const char *path, uint64_t seed, size_t *count)
{
	FILE *f = fopen(path, "r");
	struct target *t = NULL;
	size_t n = 0, cap = 0;
	char line[256];

	if (!f)
		fail("cannot read the targets file");
	while (fgets(line, sizeof line, f)) {
		struct target x = {0};
		int used = 0, k = 0;
		char *p = line;

		if (sscanf(p, "%" SCNu64 " %u %u %u %u %u%n", &x.index, &x.root, &x.chunk, &x.nbytes, &x.nrefs,
			   &x.depth, &used) != 6 || x.depth < 1 || x.depth > PB_TARGET_DEPTH)
			fail("a bad line in the targets file");
		for (p += used; k < (int)x.depth; k++) {
			unsigned v;
			if (sscanf(p, " %u%n", &v, &used) != 1)
				fail("a bad path in the targets file");
			x.path[k] = (uint8_t)v;
			p += used;
		}
		if (n == cap && !(t = realloc(t, (cap = cap ? 2 * cap : 4096) * sizeof *t)))
			fail("out of memory");
		t[n++] = x;
	}
	fclose(f);
	uint64_t s = pb_mix(seed);
	for (size_t i = 0; i < n && i < MAX_TARGETS; i++) {
		size_t j = i + (size_t)pb_rnd(&s) % (n - i);
		struct target x = t[i];
		t[i] = t[j];
		t[j] = x;
	}
	*count = n < MAX_TARGETS ? n : MAX_TARGETS;
	return t;
}

/* Finds every target in heapd from its root, one level of all of them at
 * a time, pipelined. Holds stay: they go with the connection. */
static void targets_find(heapd *h, struct target *t, size_t n)
{
	heapd_reply r;
	char name[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof name, "persist/%04u", t[i].root);
		if (heapd_append_root_get(h, name) != 0)
			pb_heapd_fail(h, "append a root_get");
	}
	for (size_t i = 0; i < n; i++) {
		if (heapd_get_reply(h, &r) != 0)
			pb_heapd_fail(h, "a target's root");
		t[i].self = r.ref;
	}
	for (uint32_t level = 0; level <= PB_TARGET_DEPTH; level++) {
		for (size_t i = 0; i < n; i++)
			if (level <= t[i].depth &&
			    heapd_append_get_ref(h, t[i].self, level ? t[i].path[level - 1] : t[i].chunk) != 0)
				pb_heapd_fail(h, "append a get_ref");
		for (size_t i = 0; i < n; i++) {
			if (level > t[i].depth)
				continue;
			if (heapd_get_reply(h, &r) != 0 || !r.ref)
				pb_heapd_fail(h, "a target's path");
			t[i].parent = t[i].self;
			t[i].self = r.ref;
		}
	}
}

struct writer {
	struct target *t, **leaf;
	size_t n, nleaves;
	uint64_t seq, s;
	heapd *h;
	struct pb_rconn *c;
	const struct pb_shape *sh;
};

/* Which target op seq changes, and whether it replaces it. */
static struct target *pick(struct writer *w, int *replace)
{
	*replace = (w->seq++ & 1) && w->nleaves;
	return *replace ? w->leaf[pb_rnd(&w->s) % w->nleaves] : &w->t[pb_rnd(&w->s) % w->n];
}

static void tick_heapd(struct writer *w, unsigned k)
{
	struct target *t[PB_WRITER_TICK_MAX];
	int rep[PB_WRITER_TICK_MAX];
	heapd_reply r;

	for (unsigned j = 0; j < k; j++) {
		const uint8_t *data = pb_pool + pb_rnd(&w->s) % PB_POOL;
		t[j] = pick(w, &rep[j]);
		int rc = rep[j] ? heapd_append_alloc_into(w->h, t[j]->parent, t[j]->path[t[j]->depth - 1], 0,
							   t[j]->nbytes, data, t[j]->nbytes)
				: heapd_append_write(w->h, t[j]->self, 0, data, t[j]->nbytes);
		if (rc != 0)
			child_fail("writer", heapd_errmsg(w->h));
	}
	for (unsigned j = 0; j < k; j++) {
		int rc = heapd_get_reply(w->h, &r);
		if (rc == HEAPD_EIO || rc == HEAPD_EPROTO)
			child_fail("writer", heapd_errmsg(w->h));
		if (rc != 0)
			atomic_fetch_add(&pb_shm->writer_errors, 1);
		else if (rep[j])
			t[j]->self = r.ref;
	}
}

static void tick_redis(struct writer *w, unsigned k)
{
	struct pb_sbuf b = {0};
	struct pb_rreply r;
	char key[64], off[] = "0";

	for (unsigned j = 0; j < k; j++) {
		int replace;
		struct target *t = pick(w, &replace);
		const char *data = (const char *)pb_pool + pb_rnd(&w->s) % PB_POOL;

		pb_key_of(key, sizeof key, NULL, t->index);
		const char *set[] = {"SET", key, data}, *range[] = {"SETRANGE", key, off, data};
		size_t lset[] = {0, 0, t->nbytes}, lrange[] = {0, 0, 0, t->nbytes};
		if (replace)
			pb_sb_cmd(&b, 3, set, lset);
		else
			pb_sb_cmd(&b, 4, range, lrange);
	}
	pb_rc_send(w->c, b.p, b.len);
	free(b.p);
	for (unsigned j = 0; j < k; j++) {
		if (pb_rc_reply(w->c, &r) != 0)
			child_fail("writer", "Redis closed the connection");
		if (r.type == '-')
			atomic_fetch_add(&pb_shm->writer_errors, 1);
	}
}

static void writer_run(const struct pb_opts *o)
{
	struct writer w = {.s = pb_mix(o->seed + 1)};

	w.t = targets_read(o->targets, o->seed, &w.n);
	if (!w.n || !(w.leaf = malloc(w.n * sizeof *w.leaf)))
		child_fail("writer", "no targets");
	for (size_t i = 0; i < w.n; i++)
		if (w.t[i].nrefs == 0)
			w.leaf[w.nleaves++] = &w.t[i];
	if (o->kind == PB_HEAPD) {
		if (!(w.h = heapd_connect(o->sock)) || heapd_errcode(w.h))
			child_fail("writer", "cannot connect");
		targets_find(w.h, w.t, w.n);
	} else if (!(w.c = pb_rc_open(o->sock))) {
		child_fail("writer", "cannot connect");
	}
	atomic_fetch_add(&pb_shm->ready, 1);
	uint64_t start = now_ns(), done = 0;
	while (!atomic_load(&pb_shm->stop)) {
		uint64_t due = (now_ns() - start) * o->rate / PB_SEC;
		unsigned k = due - done > PB_WRITER_TICK_MAX ? PB_WRITER_TICK_MAX : (unsigned)(due - done);
		if (k && o->kind == PB_HEAPD)
			tick_heapd(&w, k);
		else if (k)
			tick_redis(&w, k);
		done += k;
		atomic_fetch_add(&pb_shm->writer_ops, k);
		pb_sleep_ns(PB_MS);
	}
	if (w.h)
		heapd_close(w.h);
	pb_rc_close(w.c);
}

static pid_t spawn(const struct pb_opts *o, int writer)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		if (writer && o->rate)
			writer_run(o);
		else if (writer)
			for (atomic_fetch_add(&pb_shm->ready, 1); !atomic_load(&pb_shm->stop);)
				pb_sleep_ns(PB_MS);
		else if (o->kind == PB_HEAPD)
			reader_heapd(o);
		else
			reader_redis(o);
		_exit(0);
	}
	return pid;
}

static void wait_ready(pid_t *pids)
{
	uint64_t deadline = now_ns() + 600 * PB_SEC;

	while (atomic_load(&pb_shm->ready) < 2) {
		int status;
		for (int i = 0; i < 2; i++)
			if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
				atomic_store(&pb_shm->stop, 1);
				fprintf(stderr, "persist: a client ended early: %s\n", pb_shm->err);
				exit(1);
			}
		if (now_ns() > deadline) {
			atomic_store(&pb_shm->stop, 1);
			fail("the clients did not get ready");
		}
		pb_sleep_ns(10 * PB_MS);
	}
}

/* Forks the reader and the writer (pids[0], pids[1]); returns once both
 * are ready. */
void pb_clients_start(const struct pb_opts *o, pid_t pids[2])
{
	pids[0] = spawn(o, 0);
	pids[1] = spawn(o, 1);
	wait_ready(pids);
}

/* Stops both clients and waits for them; exits 1 when one failed. */
void pb_clients_stop(const pid_t pids[2])
{
	int failed = 0;

	atomic_store(&pb_shm->stop, 1);
	for (int i = 0; i < 2; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	if (failed) {
		fprintf(stderr, "persist: a client failed: %s\n", pb_shm->err[0] ? pb_shm->err : "(killed)");
		exit(1);
	}
}
