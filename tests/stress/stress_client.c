/*
 * stress_client.c - one client of the stress test: random operations on
 * its own part of the shared graph, each checked against its model, and
 * recovery when it starts again after being killed.
 *
 * What client K owns: the roots "c<K>/r0".."c<K>/r7" and the objects it
 * allocated (K_OWN entries), reachable only from those roots and its own
 * holds, so its model of them is exact; and the published roots
 * "c<K>/p0".."c<K>/p2", each naming a small tree built whole, each node
 * sealed, then published by one root_set. What it shares: any
 * client reads any published tree (root_get, then checks every node
 * against its identity), may keep a hold on it, and may link it into its
 * own graph (a slot or a root), which keeps it alive after its owner
 * replaced or deleted the root, or was killed.
 *
 * Operations (weights in op_weight): alloc, alloc_into (obj.slot = new
 * T(data)), write, set_ref, move (an object's only path moved to another
 * slot, the write barrier's case), get_ref, read, release (and release of an
 * object not held: NOT_FOUND), root_set, root deletion (and of an absent
 * root: NOT_FOUND), root_get, publish, unpublish, read a published tree,
 * gc (then every ref the model dropped before it must be refused),
 * free_os_memory; seal (then the model knows the object is immutable, and
 * picks only objects not sealed to change), view (HEAPD_EINVAL for an
 * object not sealed; else its bytes in place are the model's, kept half
 * the time, and checked again when released and in the verify phase: a
 * view keeps them as they are), view_release (of an object not viewed:
 * NOT_FOUND), and a change to a sealed object, which must be HEAPD_EPERM.
 * Every reply is compared with the model: refs, bytes, error codes.
 *
 * Recovery. A client killed with SIGKILL leaves its model in shared memory
 * (stress.h, "Crash consistency"); the coordinator starts a new
 * incarnation only once the daemon has closed the dead one's connection,
 * and the new one recovers its model from the journal (stress_journal.c)
 * before it goes on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client.h"

#define SHM_FD 3
#define CMD_FD 4
#define HOLDS_MAX 48
#define VIEWS_MAX 16
#define MAX_PRINTED 20

void cl_die(struct cl *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "stress: client %d (incarnation %u) at op %llu: ", c->k, c->st->incarnation,
		(unsigned long long)atomic_load(&c->st->ops_done));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void cl_miss(struct cl *c, enum miss what, const char *fmt, ...)
{
	static const char *const name[] = {"lost", "corrupt", "not collected"};
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!c->verifying)
		cl_die(c, "%s: %s", name[what], msg);
	uint64_t *count[] = {&c->st->lost, &c->st->corrupt, &c->st->uncollected};
	(*count[what])++;
	if (c->printed++ < MAX_PRINTED)
		fprintf(stderr, "stress: client %d verify: %s: %s\n", c->k, name[what], msg);
}

void cl_ok(struct cl *c, int rc, const char *what)
{
	if (rc != 0)
		cl_die(c, "%s: %s (%s)", what, heapd_strerror(rc), heapd_errmsg(c->h));
}

/* rc must be 0 for a call on model entries a and b (-1: none). When the
 * daemon refused a ref, it says which entry is gone before stopping. */
static void cl_used(struct cl *c, int rc, const char *what, int a, int b)
{
	static const char *const state[] = {"free", "live", "dead"};
	int e[2] = {a, b};
	uint8_t byte;
	for (int i = 0; i < 2 && rc == HEAPD_EBADREF; i++) {
		struct mobj *m = e[i] >= 0 ? ent(c, e[i]) : NULL;
		if (m && heapd_read(c->h, m->ref, 0, &byte, 0) == HEAPD_EBADREF)
			cl_miss(c, MISS_LOST, "%s: entry %d (%#llx, %s %s, %u refs, %u bytes, %u holds) refused", what,
				e[i], (unsigned long long)m->ref, state[m->state], m->kind == K_OWN ? "own" : "published",
				m->nrefs, m->nbytes, m->holds);
	}
	cl_ok(c, rc, what);
}

/* rc must be want (an error code): else stops the client. */
static void expect_err(struct cl *c, int rc, int want, const char *what)
{
	if (rc != want)
		cl_die(c, "%s: got %s (%s), want %s", what, heapd_strerror(rc), heapd_errmsg(c->h),
		       heapd_strerror(want));
}

void root_name(char *buf, size_t len, int k, int r)
{
	snprintf(buf, len, "c%d/r%d", k, r);
}

void pub_name(char *buf, size_t len, int k, int j)
{
	snprintf(buf, len, "c%d/p%d", k, j);
}

static uint64_t rnd(struct cl *c)
{
	return splitmix(&c->st->rng);
}

static uint32_t below(struct cl *c, uint32_t n)
{
	return n ? (uint32_t)(rnd(c) % n) : 0;
}

static void random_bytes(struct cl *c, uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd(c);
}

/* --- the model --- */

/* pick's kinds besides K_OWN and K_PUB: any, and own ones not sealed
 * (what may be changed). */
enum { ANY = 0, MUTABLE = 3 };

/* A LIVE entry chosen at random, of kind; with at least min_refs slots
 * and min_bytes bytes; with holds (held 1), without (held 0) or either
 * (-1). -1 if there is none. */
static int pick(struct cl *c, int kind, uint32_t min_refs, uint32_t min_bytes, int held)
{
	int found = -1, seen = 0;
	for (int i = 0; i < MAX_OBJS; i++) {
		struct mobj *e = ent(c, i);
		int k = kind == MUTABLE ? K_OWN : kind;
		if (e->state != ST_LIVE || (k && e->kind != k) || (kind == MUTABLE && e->sealed) ||
		    e->nrefs < min_refs || e->nbytes < min_bytes)
			continue;
		if (held >= 0 && (e->holds > 0) != held)
			continue;
		if (below(c, (uint32_t)++seen) == 0)
			found = i;
	}
	return found;
}

/* A FREE entry: a big one (0..NBIG-1) or a small one; -1 if none. */
static int free_entry(struct cl *c, int big)
{
	int lo = big ? 0 : NBIG, n = big ? NBIG : MAX_OBJS - NBIG;
	int start = (int)below(c, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		int idx = lo + (start + i) % n;
		if (ent(c, idx)->state == ST_FREE)
			return idx;
	}
	return -1;
}

/* --- operations: each returns 0 when it found nothing to work on --- */

static void choose_size(struct cl *c, int big, uint32_t *nrefs, uint32_t *nbytes)
{
	if (big) {
		/* Just past the largest size class, within the classes, or
		 * 256 KiB..1 MiB. */
		uint32_t r = below(c, 4);
		*nrefs = below(c, 2) ? below(c, 17) : BIG_SLOTS - below(c, 8);
		*nbytes = r == 0 ? 32769 + below(c, 8192) : r == 1 ? below(c, 32769) : BIG_BYTES - below(c, 3 * BIG_BYTES / 4);
		return;
	}
	*nrefs = below(c, SMALL_SLOTS + 1);
	uint32_t r = below(c, 8);
	*nbytes = below(c, r < 5 ? 65 : r < 7 ? 257 : SMALL_BYTES + 1);
}

/* A new entry, big one time in 16 (when one is free). */
static int new_entry(struct cl *c)
{
	int i = below(c, 16) == 0 ? free_entry(c, 1) : -1;
	return i >= 0 ? i : free_entry(c, 0);
}

static int op_alloc(struct cl *c)
{
	int i = new_entry(c);
	if (i < 0)
		return 0;
	struct mobj m = {.kind = K_OWN, .holds = 1};
	choose_size(c, i < NBIG, &m.nrefs, &m.nbytes);
	cl_ok(c, heapd_alloc(c->h, m.nrefs, m.nbytes, &m.ref), "alloc");
	model_entry_set(c, i, &m, NULL, 0);
	return 1;
}

static int op_alloc_into(struct cl *c)
{
	int obj = pick(c, MUTABLE, 1, 0, -1);
	int i = new_entry(c);
	if (obj < 0 || i < 0)
		return 0;
	struct pending *p = &c->st->pend;
	p->obj = (int16_t)obj;
	p->slot = below(c, ent(c, obj)->nrefs);
	p->old_t = slots_of(c, obj)[p->slot];
	p->new_t = (int16_t)i;
	p->ent = (struct mobj){.kind = K_OWN};
	choose_size(c, i < NBIG, &p->ent.nrefs, &p->ent.nbytes);
	p->len = below(c, (p->ent.nbytes < WRITE_MAX ? p->ent.nbytes : WRITE_MAX) + 1);
	random_bytes(c, p->new_b, p->len);
	journal_begin(c, P_ALLOC_INTO);
	heapd_ref r;
	cl_used(c, heapd_alloc_into(c->h, ent(c, obj)->ref, p->slot, p->ent.nrefs, p->ent.nbytes, p->new_b, p->len, &r),
		"alloc_into", obj, -1);
	journal_apply(c, 1, r);
	model_reach(c, 1);
	journal_end(c);
	return 1;
}

static int op_write(struct cl *c)
{
	int obj = pick(c, MUTABLE, 0, 1, -1);
	if (obj < 0)
		return 0;
	struct pending *p = &c->st->pend;
	uint32_t nbytes = ent(c, obj)->nbytes;
	p->obj = (int16_t)obj;
	p->off = below(c, nbytes);
	uint32_t room = nbytes - p->off < WRITE_MAX ? nbytes - p->off : WRITE_MAX;
	p->len = 1 + below(c, room);
	memcpy(p->old_b, data_of(c, obj) + p->off, p->len);
	random_bytes(c, p->new_b, p->len);
	journal_begin(c, P_WRITE);
	cl_used(c, heapd_write(c->h, ent(c, obj)->ref, p->off, p->new_b, p->len), "write", obj, -1);
	journal_apply(c, 1, 0);
	journal_end(c);
	return 1;
}

static int op_root(struct cl *c, int r, int t);

/* obj.slot = entry t (-1: null). */
static void set_slot(struct cl *c, int obj, uint32_t slot, int t)
{
	struct pending *p = &c->st->pend;
	p->obj = (int16_t)obj;
	p->slot = slot;
	p->old_t = slots_of(c, obj)[slot];
	p->new_t = (int16_t)t;
	journal_begin(c, P_SET_REF);
	cl_used(c, heapd_set_ref(c->h, ent(c, obj)->ref, slot, ref_of(c, t)), "set_ref", obj, t);
	journal_apply(c, 1, 0);
	model_reach(c, 1);
	journal_end(c);
}

/* obj.slot = a LIVE entry (own or published) or, when clear, null. */
static int op_set_ref(struct cl *c, int clear)
{
	int obj = pick(c, MUTABLE, 1, 0, -1);
	int t = clear || below(c, 5) == 0 ? -1 : pick(c, ANY, 0, 0, -1);
	if (obj < 0)
		return 0;
	set_slot(c, obj, below(c, ent(c, obj)->nrefs), t);
	return 1;
}

/* True if entry t is own and reachable only through one slot or root,
 * given the number of slots and roots naming each entry (indeg); a slot
 * of a sealed object is such a path too, but not one to move. */
static int sole_path(struct cl *c, const uint16_t *indeg, int t)
{
	return t >= 0 && ent(c, t)->kind == K_OWN && !ent(c, t)->holds && indeg[t] == 1;
}

/* Moves an object's only path: obj.slot = t, then the slot or root that
 * was t's only path is cleared. While a cycle marks, obj may be scanned
 * already and the old path not yet: then only the write barrier keeps t
 * alive. */
static int op_move(struct cl *c)
{
	static uint16_t indeg[MAX_OBJS];
	struct cstate *st = c->st;
	memset(indeg, 0, sizeof indeg);
	for (int r = 0; r < NROOTS; r++)
		if (st->root[r] >= 0)
			indeg[st->root[r]]++;
	for (int i = 0; i < MAX_OBJS; i++)
		if (ent(c, i)->state == ST_LIVE && ent(c, i)->kind == K_OWN)
			for (uint32_t k = 0; k < ent(c, i)->nrefs; k++)
				if (slots_of(c, i)[k] >= 0)
					indeg[slots_of(c, i)[k]]++;
	/* One such path at random: a root (from -1) or a slot. */
	int from = -1, root = -1, seen = 0;
	uint32_t from_slot = 0;
	for (int r = 0; r < NROOTS; r++)
		if (sole_path(c, indeg, st->root[r]) && below(c, (uint32_t)++seen) == 0)
			root = r;
	for (int i = 0; i < MAX_OBJS; i++)
		if (ent(c, i)->state == ST_LIVE && ent(c, i)->kind == K_OWN && !ent(c, i)->sealed)
			for (uint32_t k = 0; k < ent(c, i)->nrefs; k++)
				if (sole_path(c, indeg, slots_of(c, i)[k]) && below(c, (uint32_t)++seen) == 0) {
					from = i;
					from_slot = k;
				}
	int obj = pick(c, MUTABLE, 1, 0, -1);
	if (!seen || obj < 0)
		return 0;
	if (from >= 0)
		root = -1;
	int t = from >= 0 ? slots_of(c, from)[from_slot] : st->root[root];
	set_slot(c, obj, below(c, ent(c, obj)->nrefs), t);
	/* The store may have cut from off (it was reachable only through
	 * obj's old referent) or taken from's path itself (obj == from). */
	if (from >= 0 && ent(c, from)->state == ST_LIVE && slots_of(c, from)[from_slot] == t)
		set_slot(c, from, from_slot, -1);
	else if (root >= 0)
		op_root(c, root, -1);
	return 1;
}

static int op_get_ref(struct cl *c)
{
	int obj = pick(c, K_OWN, 1, 0, -1);
	if (obj < 0)
		return 0;
	uint32_t slot = below(c, ent(c, obj)->nrefs);
	int t = slots_of(c, obj)[slot];
	heapd_ref r;
	cl_used(c, heapd_get_ref(c->h, ent(c, obj)->ref, slot, &r), "get_ref", obj, -1);
	if (r != ref_of(c, t))
		cl_miss(c, MISS_CORRUPT, "get_ref slot %u of entry %d: %#llx, model %#llx", slot, obj,
			(unsigned long long)r, (unsigned long long)ref_of(c, t));
	if (t >= 0)
		ent(c, t)->holds++;
	return 1;
}

static int op_read(struct cl *c)
{
	int i = pick(c, ANY, 0, 0, -1);
	if (i < 0)
		return 0;
	struct mobj *e = ent(c, i);
	if (e->kind == K_PUB) {
		struct pubid id;
		if (verify_pub_tree(c, e->ref, e->id.owner, e->id.j, &id) && memcmp(&id, &e->id, sizeof id) != 0)
			cl_miss(c, MISS_CORRUPT, "entry %d is another published tree", i);
		return 1;
	}
	uint32_t off = below(c, e->nbytes + 1);
	uint32_t len = below(c, e->nbytes - off + 1);
	cl_used(c, heapd_read(c->h, e->ref, off, c->buf, len), "read", i, -1);
	if (memcmp(c->buf, data_of(c, i) + off, len) != 0)
		cl_miss(c, MISS_CORRUPT, "read entry %d bytes %u..%u: not the model's", i, off, off + len);
	return 1;
}

static int op_release(struct cl *c, int unheld)
{
	int i = pick(c, ANY, 0, 0, !unheld);
	if (i < 0)
		return 0;
	int rc = heapd_release(c->h, ent(c, i)->ref);
	if (unheld) {
		expect_err(c, rc, HEAPD_ENOTFOUND, "release of an object not held");
		return 1;
	}
	cl_used(c, rc, "release", i, -1);
	ent(c, i)->holds--;
	model_reach(c, 1);
	return 1;
}

/* Root r = entry t (-1 deletes). */
static int op_root(struct cl *c, int r, int t)
{
	char name[32];
	root_name(name, sizeof name, c->k, r);
	int old = c->st->root[r];
	if (t < 0 && old < 0) {
		expect_err(c, heapd_root_set(c->h, name, 0), HEAPD_ENOTFOUND, "delete of an absent root");
		return 1;
	}
	struct pending *p = &c->st->pend;
	p->idx = (int16_t)r;
	p->old_t = (int16_t)old;
	p->new_t = (int16_t)t;
	journal_begin(c, P_ROOT);
	cl_used(c, heapd_root_set(c->h, name, ref_of(c, t)), "root_set", t, -1);
	journal_apply(c, 1, 0);
	model_reach(c, 1);
	journal_end(c);
	return 1;
}

static int op_root_get(struct cl *c)
{
	char name[32];
	int r = (int)below(c, NROOTS), t = c->st->root[r];
	heapd_ref got;
	root_name(name, sizeof name, c->k, r);
	int rc = heapd_root_get(c->h, name, &got);
	if (t < 0) {
		expect_err(c, rc, HEAPD_ENOTFOUND, "root_get of an absent root");
		return 1;
	}
	cl_ok(c, rc, "root_get");
	if (got != ref_of(c, t))
		cl_miss(c, MISS_CORRUPT, "root %s: %#llx, model %#llx", name, (unsigned long long)got,
			(unsigned long long)ref_of(c, t));
	ent(c, t)->holds++;
	return 1;
}

/* Builds a new generation of tree j and publishes it with one root_set.
 * Node i's slot 0 is node i+1, slot 1 node 0 (a cycle); each node is
 * sealed once its slots are set, and the tree is held through node 0
 * until it is published. */
static int op_publish(struct cl *c)
{
	struct cstate *st = c->st;
	int j = (int)below(c, NPUB);
	struct pubid id = {.owner = (uint16_t)c->k, .j = (uint8_t)j, .nnodes = (uint8_t)(1 + below(c, PUB_NODES_MAX))};
	id.gen = ++st->pub_gen;
	commit_fence();
	heapd_ref node0, prev, cur;
	uint32_t nb = pub_nbytes(&id, 0);
	pub_fill(&id, 0, c->buf);
	cl_ok(c, heapd_alloc(c->h, 2, nb, &node0), "publish: alloc");
	cl_ok(c, heapd_write(c->h, node0, 0, c->buf, nb), "publish: write");
	prev = node0;
	for (unsigned i = 1; i < id.nnodes; i++, prev = cur) {
		nb = pub_nbytes(&id, i);
		pub_fill(&id, i, c->buf);
		cl_ok(c, heapd_alloc_into(c->h, prev, 0, 2, nb, c->buf, nb, &cur), "publish: alloc_into");
		cl_ok(c, heapd_set_ref(c->h, cur, 1, node0), "publish: set_ref");
		cl_ok(c, heapd_seal(c->h, prev), "publish: seal");
	}
	cl_ok(c, heapd_seal(c->h, prev), "publish: seal");
	struct pending *p = &st->pend;
	char name[32];
	pub_name(name, sizeof name, c->k, j);
	p->idx = (int16_t)j;
	p->old_p = st->pub[j];
	p->new_p = (struct pubroot){.ref = node0, .id = id};
	journal_begin(c, P_PUB);
	cl_ok(c, heapd_root_set(c->h, name, node0), "publish: root_set");
	journal_apply(c, 1, 0);
	journal_end(c);
	cl_ok(c, heapd_release(c->h, node0), "publish: release");
	return 1;
}

static int op_unpublish(struct cl *c)
{
	struct cstate *st = c->st;
	int j = (int)below(c, NPUB);
	char name[32];
	pub_name(name, sizeof name, c->k, j);
	if (!st->pub[j].ref) {
		expect_err(c, heapd_root_set(c->h, name, 0), HEAPD_ENOTFOUND, "unpublish of an absent root");
		return 1;
	}
	struct pending *p = &st->pend;
	p->idx = (int16_t)j;
	p->old_p = st->pub[j];
	p->new_p = (struct pubroot){0};
	journal_begin(c, P_PUB);
	cl_ok(c, heapd_root_set(c->h, name, 0), "unpublish");
	journal_apply(c, 1, 0);
	journal_end(c);
	return 1;
}

/* Reads a published tree, maybe another client's, while its owner may be
 * replacing it: the hold from root_get keeps it whole. Half the time the
 * hold is kept, as an entry that set_ref and root_set may then link. */
static int op_read_foreign(struct cl *c)
{
	int o = (int)below(c, (uint32_t)c->n), j = (int)below(c, NPUB);
	char name[32];
	heapd_ref r;
	struct pubid id;
	pub_name(name, sizeof name, o, j);
	int rc = heapd_root_get(c->h, name, &r);
	if (rc == HEAPD_ENOTFOUND && (o != c->k || !c->st->pub[j].ref))
		return 1;
	cl_ok(c, rc, "root_get of a published tree");
	if (o == c->k && r != c->st->pub[j].ref)
		cl_miss(c, MISS_CORRUPT, "own published root %s: %#llx, model %#llx", name, (unsigned long long)r,
			(unsigned long long)c->st->pub[j].ref);
	int good = verify_pub_tree(c, r, o, j, &id);
	if (good && o == c->k && memcmp(&id, &c->st->pub[j].id, sizeof id) != 0)
		cl_miss(c, MISS_CORRUPT, "own published root %s: generation %u, model %u", name, id.gen,
			c->st->pub[j].id.gen);
	if (!good || below(c, 2)) {
		cl_ok(c, heapd_release(c->h, r), "release");
		return 1;
	}
	for (int i = 0; i < MAX_OBJS; i++) {
		struct mobj *e = ent(c, i);
		if (e->state == ST_LIVE && e->ref == r) {
			if (e->kind != K_PUB || memcmp(&e->id, &id, sizeof id) != 0)
				cl_miss(c, MISS_CORRUPT, "%s names entry %d, which is something else", name, i);
			e->holds++;
			return 1;
		}
	}
	int i = free_entry(c, 0);
	if (i < 0) {
		cl_ok(c, heapd_release(c->h, r), "release");
		return 1;
	}
	struct mobj m = {.ref = r, .kind = K_PUB, .nrefs = 2, .nbytes = pub_nbytes(&id, 0), .holds = 1, .id = id};
	model_entry_set(c, i, &m, NULL, 0);
	return 1;
}

/* --- sealed objects and views --- */

/* Seals an own object (one sealed already, again: no error). */
static int op_seal(struct cl *c)
{
	int i = pick(c, K_OWN, 0, 0, -1);
	if (i < 0)
		return 0;
	if (ent(c, i)->sealed) {
		cl_used(c, heapd_seal(c->h, ent(c, i)->ref), "seal again", i, -1);
		return 1;
	}
	c->st->pend.obj = (int16_t)i;
	journal_begin(c, P_SEAL);
	cl_used(c, heapd_seal(c->h, ent(c, i)->ref), "seal", i, -1);
	journal_apply(c, 1, 0);
	journal_end(c);
	return 1;
}

/* Entry i's bytes as the model has them, in c->want. */
static const uint8_t *model_bytes(struct cl *c, int i)
{
	struct mobj *e = ent(c, i);
	if (e->kind == K_OWN)
		return data_of(c, i);
	pub_fill(&e->id, 0, c->want);
	return c->want;
}

/* A view of entry i: HEAPD_EINVAL unless sealed, else its bytes, in place,
 * the model's, where any earlier view of it showed them. Kept half the
 * time. */
static int op_view(struct cl *c)
{
	int i = pick(c, ANY, 0, 0, -1);
	if (i < 0)
		return 0;
	struct mobj *e = ent(c, i);
	const void *data;
	size_t len;
	int rc = heapd_view(c->h, e->ref, &data, &len);
	if (e->kind == K_OWN && !e->sealed) {
		expect_err(c, rc, HEAPD_EINVAL, "view of an object not sealed");
		return 1;
	}
	cl_used(c, rc, "view", i, -1);
	if (len != e->nbytes || memcmp(data, model_bytes(c, i), len) != 0)
		cl_miss(c, MISS_CORRUPT, "view of entry %d: %zu bytes, not the model's %u", i, len, e->nbytes);
	if (e->views && data != c->view_data[i])
		cl_miss(c, MISS_CORRUPT, "entry %d: a second view at %p, the first at %p", i, data,
			(const void *)c->view_data[i]);
	if (below(c, 2)) {
		cl_ok(c, heapd_view_release(c->h, e->ref), "view_release");
		return 1;
	}
	c->view_data[i] = data;
	e->views++;
	return 1;
}

/* Ends a view, once its bytes are checked again: unchanged while viewed.
 * Sometimes of an entry with none: HEAPD_ENOTFOUND. */
static int op_view_release(struct cl *c)
{
	int found = -1, seen = 0;
	for (int i = 0; i < MAX_OBJS; i++)
		if (ent(c, i)->state == ST_LIVE && ent(c, i)->views && below(c, (uint32_t)++seen) == 0)
			found = i;
	if (found < 0) {
		int i = pick(c, ANY, 0, 0, -1);
		if (i < 0 || below(c, 4))
			return 0;
		expect_err(c, heapd_view_release(c->h, ent(c, i)->ref), HEAPD_ENOTFOUND, "view_release without a view");
		return 1;
	}
	struct mobj *e = ent(c, found);
	if (memcmp(c->view_data[found], model_bytes(c, found), e->nbytes) != 0)
		cl_miss(c, MISS_CORRUPT, "entry %d: its view's bytes changed while viewed", found);
	cl_used(c, heapd_view_release(c->h, e->ref), "view_release", found, -1);
	e->views--;
	model_reach(c, 1);
	return 1;
}

/* A change to a sealed object: write, set_ref, cas_ref or alloc_into,
 * each HEAPD_EPERM; the verify phase shows any that took effect. */
static int op_change_sealed(struct cl *c)
{
	int i = pick(c, ANY, 0, 0, -1);
	if (i < 0 || (ent(c, i)->kind == K_OWN && !ent(c, i)->sealed))
		return 0;
	struct mobj *e = ent(c, i);
	int t = pick(c, ANY, 0, 0, -1);
	uint8_t b = 1;
	heapd_ref r;
	int rc;
	const char *what;
	switch (e->nrefs ? below(c, 4) : 0) {
	case 0:
		what = "write to a sealed object";
		rc = heapd_write(c->h, e->ref, below(c, e->nbytes), &b, e->nbytes ? 1 : 0);
		break;
	case 1:
		what = "set_ref in a sealed object";
		rc = heapd_set_ref(c->h, e->ref, below(c, e->nrefs), ref_of(c, t));
		break;
	case 2:
		what = "cas_ref in a sealed object";
		rc = heapd_cas_ref(c->h, e->ref, below(c, e->nrefs), 0, ref_of(c, t), &r);
		break;
	default:
		what = "alloc_into a sealed object";
		rc = heapd_alloc_into(c->h, e->ref, below(c, e->nrefs), 0, 1, &b, 1, &r);
		break;
	}
	expect_err(c, rc, HEAPD_EPERM, what);
	return 1;
}

/* --- the loop --- */

/* Per 1000 operations: they add up to 1000. */
static const uint16_t op_weight[NUM_OPS] = {
	[OP_ALLOC] = 80, [OP_ALLOC_INTO] = 105, [OP_WRITE] = 115, [OP_SET_REF] = 120,
	[OP_MOVE] = 60, [OP_GET_REF] = 80, [OP_READ] = 80, [OP_RELEASE] = 85, [OP_ROOT_SET] = 35,
	[OP_ROOT_DEL] = 25, [OP_ROOT_GET] = 30, [OP_PUBLISH] = 20, [OP_UNPUBLISH] = 6,
	[OP_READ_FOREIGN] = 70, [OP_GC] = 3, [OP_FREE_OS] = 1,
	[OP_SEAL] = 15, [OP_VIEW] = 30, [OP_VIEW_RELEASE] = 20, [OP_CHANGE_SEALED] = 20,
};

static int run_op(struct cl *c, int op)
{
	switch (op) {
	case OP_ALLOC: return op_alloc(c);
	case OP_ALLOC_INTO: return op_alloc_into(c);
	case OP_WRITE: return op_write(c);
	case OP_SET_REF: return op_set_ref(c, 0);
	case OP_MOVE: return op_move(c);
	case OP_GET_REF: return op_get_ref(c);
	case OP_READ: return op_read(c);
	case OP_RELEASE: return op_release(c, below(c, 8) == 0);
	case OP_ROOT_SET: return op_root(c, (int)below(c, NROOTS), pick(c, ANY, 0, 0, -1));
	case OP_ROOT_DEL: return op_root(c, (int)below(c, NROOTS), -1);
	case OP_ROOT_GET: return op_root_get(c);
	case OP_PUBLISH: return op_publish(c);
	case OP_UNPUBLISH: return op_unpublish(c);
	case OP_READ_FOREIGN: return op_read_foreign(c);
	case OP_GC: gc_check(c); return 1;
	case OP_FREE_OS: cl_ok(c, heapd_free_os_memory(c->h), "free_os_memory"); return 1;
	case OP_SEAL: return op_seal(c);
	case OP_VIEW: return op_view(c);
	case OP_VIEW_RELEASE: return op_view_release(c);
	case OP_CHANGE_SEALED: return op_change_sealed(c);
	}
	return 0;
}

/* One operation: at random by weight, except under pressure: too many
 * holds (release) or views (view_release), or a model nearly full
 * (collect the dead, or cut). */
static void one_op(struct cl *c)
{
	int live = 0, dead = 0;
	uint32_t holds = 0, views = 0;
	model_sweep_pub(c);
	for (int i = 0; i < MAX_OBJS; i++) {
		live += ent(c, i)->state == ST_LIVE;
		dead += ent(c, i)->state == ST_DEAD;
		holds += ent(c, i)->holds;
		views += ent(c, i)->views;
	}
	int op = -1, done = 0;
	if (holds > HOLDS_MAX) {
		op = OP_RELEASE;
		done = op_release(c, 0);
	} else if (views > VIEWS_MAX) {
		op = OP_VIEW_RELEASE;
		done = op_view_release(c);
	} else if (live + dead > MAX_OBJS - 64) {
		op = dead > live / 4 ? OP_GC : below(c, 2) ? OP_ROOT_DEL : OP_SET_REF;
		done = op == OP_SET_REF ? op_set_ref(c, 1) : run_op(c, op);
	}
	while (!done) {
		uint32_t w = below(c, 1000);
		for (op = 0; w >= op_weight[op]; op++)
			w -= op_weight[op];
		done = run_op(c, op);
	}
	c->st->ops_by_kind[op]++;
	atomic_fetch_add(&c->st->ops_done, 1);
}

/* The coordinator gone (it failed, and says why): exit quietly. */
static void report(char what)
{
	if (write(CMD_FD, &what, 1) != 1)
		exit(1);
}

/* The end: every root this client has is deleted. */
static void quit(struct cl *c)
{
	char name[32];
	for (int r = 0; r < NROOTS; r++)
		if (c->st->root[r] >= 0) {
			root_name(name, sizeof name, c->k, r);
			cl_ok(c, heapd_root_set(c->h, name, 0), "quit: root_set");
		}
	for (int j = 0; j < NPUB; j++)
		if (c->st->pub[j].ref) {
			pub_name(name, sizeof name, c->k, j);
			cl_ok(c, heapd_root_set(c->h, name, 0), "quit: unpublish");
		}
}

int client_main(int k, int nclients, const char *sock)
{
	static struct cl cl;
	struct cl *c = &cl;
	c->shm = mmap(NULL, sizeof *c->shm, PROT_READ | PROT_WRITE, MAP_SHARED, SHM_FD, 0);
	if (c->shm == MAP_FAILED) {
		perror("stress: client: mmap");
		return 1;
	}
	c->k = k;
	c->n = nclients;
	c->st = &c->shm->c[k];
	unsigned weights = 0;
	for (int o = 0; o < NUM_OPS; o++)
		weights += op_weight[o];
	if (weights != 1000)
		cl_die(c, "the operations' weights add up to %u", weights);
	c->h = heapd_connect(sock);
	if (!c->h || heapd_errcode(c->h))
		cl_die(c, "connect: %s", c->h ? heapd_errmsg(c->h) : "out of memory");
	if (c->st->incarnation++ > 0)
		journal_recover(c);
	report(REP_READY);
	if (c->st->running) {
		while (atomic_load(&c->st->ops_done) < c->st->round_end)
			one_op(c);
		report(REP_RAN);
	}
	for (;;) {
		char cmd;
		if (read(CMD_FD, &cmd, 1) != 1)
			exit(1);
		switch (cmd) {
		case CMD_RUN:
			while (atomic_load(&c->st->ops_done) < c->st->round_end)
				one_op(c);
			report(REP_RAN);
			break;
		case CMD_VERIFY:
			verify_all(c);
			report(REP_VERIFIED);
			break;
		case CMD_QUIT:
			quit(c);
			heapd_close(c->h);
			munmap(c->shm, sizeof *c->shm);
			return 0;
		default:
			cl_die(c, "unknown command %#x", cmd);
		}
	}
}
