/*
 * model.c - the dispatch target's reference model of the heap, checked
 * against every reply as it comes.
 *
 * Each input starts from an empty heap, so every object in it was made by
 * an alloc this model saw succeed: the model knows them all, by ref, with
 * their sizes, their data (up to MODEL_DATA bytes) and their slots (up to
 * MODEL_SLOTS). A ref names one object only (tags repeat after 2^32
 * allocations, far past any input), so what the model knows of a ref
 * holds for as long as the object lives, and replies are checked in the
 * order the daemon executed the requests (each session's replies are
 * flushed at the end of its turn, before another session runs).
 *
 * Invariants, each through fz_broken():
 *  - bounds: read, write, set_ref, get_ref and alloc_into on a known
 *    object succeed only inside it, and RANGE comes only outside it;
 *  - contents: a read returns what the model says was written (zeros
 *    where nothing was); get_ref returns the slot's modelled ref; alloc,
 *    get_ref and root_get return live, known objects;
 *  - dead stays dead: once a ref is refused as BAD_REF, no request
 *    naming it succeeds again and no reply returns it;
 *  - nothing reachable is lost: a ref reachable from the model of holds
 *    and named roots, through modelled slots, is never refused as BAD_REF;
 *  - roots: root_get returns the ref the model's last root_set gave the
 *    name, and NOT_FOUND exactly when it has none (so do root_chmod and
 *    root_chown, which change no ref);
 *  - compare and swap: cas_ref and root_cas answer what the model's slot
 *    or root holds (0: empty, absent), OK exactly when that is the
 *    expected ref and CONFLICT otherwise, and only an OK changes it;
 *  - owners and modes: a root made gets its maker's uid and primary gid
 *    and root_mode, which root_chmod and root_chown change; root_list
 *    shows exactly the roots the caller may read, with their owners and
 *    modes (all of them unless truncated), and uid_stats each uid's roots,
 *    their names' bytes and its holds as the model counts them;
 *  - read-only handles: root_get of a root the caller may not write (or
 *    any, by a read-only session) returns the read-only handle of the
 *    root's object, get_ref through a read-only handle (or any, by a
 *    read-only session) that of the slot's; an object has one read-only
 *    handle, at its place (the low half), learnt from the first reply that
 *    shows it, and a handle stored in a slot or root comes back as it was;
 *  - sealed objects and views: seal OK seals the object for good (from
 *    then on fuzzperm.c refuses every change to it) and object_info says
 *    so; view is INVALID exactly for an object not sealed, and OK gives
 *    its nbytes at the offset its handle's place, header and slots say,
 *    where the arena's file (read through its descriptor, as a client
 *    that mapped it would) holds the object's bytes, then and at the end;
 *  - a PERMISSION reply (fuzzperm.c says where it is due) changes nothing:
 *    the model takes nothing in from it, so a later reply or the walk at
 *    the end shows anything the daemon did change.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzdispatch.h"

#define MODEL_DATA 4096u  /* data modelled for objects up to this size */
#define MODEL_SLOTS 512u  /* slots modelled for objects with up to this many */

struct mobj {
	heap_ref ref;
	heap_ref ro;     /* its read-only handle, once a reply showed it; else 0 */
	uint32_t nrefs, nbytes;
	int dead;        /* refused as BAD_REF once */
	int sealed;      /* a seal of it answered OK */
	uint64_t view_at; /* where a view found its data in the arena; 0: none yet */
	uint8_t *data;   /* nbytes bytes, or NULL if larger than MODEL_DATA */
	heap_ref *slots; /* nrefs refs, or NULL if more than MODEL_SLOTS */
	unsigned mark;   /* the live walk that last reached it */
};

struct mroot {
	char *name;      /* len bytes */
	size_t len;
	heap_ref ref;
	struct heap_root_meta meta;
	unsigned mark;   /* the root_list check that last saw it */
};

static struct {
	struct mobj *v;
	size_t n, cap;
	heap_ref *keys;  /* open addressing on refs and ro handles, 0 = empty */
	size_t *idx;     /* the index in v of keys[i] */
	size_t keys_cap, nkeys;
	struct mroot *roots;
	size_t nroots, roots_cap;
	size_t *todo;
	size_t ntodo, todo_cap;
	unsigned mark;
	uint8_t *arena_buf, *data_buf; /* what arena_holds and data_of read */
	size_t arena_cap, data_cap;
} M;

static struct mobj *find(heap_ref r)
{
	if (!r || !M.keys_cap)
		return NULL;
	heap_ref *e = fz_probe(M.keys, M.keys_cap, r);
	return *e ? &M.v[M.idx[e - M.keys]] : NULL;
}

static void index_put(heap_ref *keys, size_t *idx, size_t cap, heap_ref r, size_t i)
{
	heap_ref *e = fz_probe(keys, cap, r);
	*e = r;
	idx[e - keys] = i;
}

static void *zalloc(size_t n, size_t elem)
{
	void *p = calloc(n ? n : 1, elem);
	if (!p)
		fz_broken("out of memory in the model");
	return p;
}

/* r, a handle of M.v[i], into the index. */
static void index_add(heap_ref r, size_t i)
{
	if (2 * (M.nkeys + 1) > M.keys_cap) {
		size_t cap = M.keys_cap ? 2 * M.keys_cap : 256;
		heap_ref *keys = zalloc(cap, sizeof *keys);
		size_t *idx = zalloc(cap, sizeof *idx);
		for (size_t k = 0; k < M.keys_cap; k++)
			if (M.keys[k])
				index_put(keys, idx, cap, M.keys[k], M.idx[k]);
		free(M.keys);
		free(M.idx);
		M.keys = keys;
		M.idx = idx;
		M.keys_cap = cap;
	}
	index_put(M.keys, M.idx, M.keys_cap, r, i);
	M.nkeys++;
}

static struct mobj *add(heap_ref r, uint32_t nrefs, uint32_t nbytes)
{
	if (find(r))
		fz_broken("alloc returned %#llx, a ref it returned before", (unsigned long long)r);
	M.v = fz_grow(M.v, &M.cap, M.n + 1, sizeof *M.v);
	struct mobj *o = &M.v[M.n];
	*o = (struct mobj){.ref = r, .nrefs = nrefs, .nbytes = nbytes};
	if (nbytes <= MODEL_DATA)
		o->data = zalloc(nbytes, 1);
	if (nrefs <= MODEL_SLOTS)
		o->slots = zalloc(nrefs, sizeof *o->slots);
	index_add(r, M.n++);
	return o;
}

static int is_ro(const struct mobj *o, heap_ref r)
{
	return o->ro && r == o->ro;
}

/* The last object the model saw made at place: the only one there that
 * may be alive, since a place is reused only once its object is freed. */
static struct mobj *latest_at(uint32_t place)
{
	for (size_t i = M.n; i--;)
		if ((uint32_t)M.v[i].ref == place)
			return &M.v[i];
	return NULL;
}

/* A reply showed ro as o's read-only handle: always the same one (a MAC
 * of place and tag), at o's place, and no other object's handle. */
static void ro_seen(struct mobj *o, heap_ref ro, const char *what)
{
	if (o->ro == ro)
		return;
	if (o->ro || (uint32_t)ro != (uint32_t)o->ref || find(ro))
		fz_broken("%s: %#llx as the read-only handle of %#llx (known as %#llx)", what, (unsigned long long)ro,
			  (unsigned long long)o->ref, (unsigned long long)o->ro);
	o->ro = ro;
	index_add(ro, (size_t)(o - M.v));
}

/* A reply returned got where the model has want (0, or a handle it
 * knows), as a read-only handle when ro: want as it is, if it is
 * read-only or ro is not asked for, else its object's read-only handle. */
static void returned_as(heap_ref got, heap_ref want, int ro, const char *what)
{
	struct mobj *o = find(want);
	if (ro && o && !is_ro(o, want)) {
		if (!got || got == want)
			fz_broken("%s: %#llx, where the rules give the read-only handle of %#llx", what,
				  (unsigned long long)got, (unsigned long long)want);
		ro_seen(o, got, what);
		return;
	}
	if (got != want)
		fz_broken("%s: %#llx, the model says %#llx%s", what, (unsigned long long)got, (unsigned long long)want,
			  o && find(got) == o ? " (its read-only handle, where the rules give this one)" : "");
}

static struct mroot *root_find(const ProtobufCBinaryData *name)
{
	for (size_t i = 0; i < M.nroots; i++)
		if (M.roots[i].len == name->len && memcmp(M.roots[i].name, name->data, name->len) == 0)
			return &M.roots[i];
	return NULL;
}

/* name now names r (0: deleted); a root made gets the meta made. */
static void root_put(const ProtobufCBinaryData *name, heap_ref r, const struct heap_root_meta *made)
{
	struct mroot *rt = root_find(name);
	if (!r) {
		if (rt) {
			free(rt->name);
			*rt = M.roots[--M.nroots];
		}
		return;
	}
	if (!rt) {
		M.roots = fz_grow(M.roots, &M.roots_cap, M.nroots + 1, sizeof *M.roots);
		rt = &M.roots[M.nroots++];
		rt->name = malloc(name->len ? name->len : 1);
		if (!rt->name)
			fz_broken("out of memory in the model");
		memcpy(rt->name, name->data, name->len);
		rt->len = name->len;
		rt->meta = *made;
	}
	rt->ref = r;
}

int fz_model_root_meta(const ProtobufCBinaryData *name, struct heap_root_meta *m)
{
	const struct mroot *rt = root_find(name);
	if (rt)
		*m = rt->meta;
	return rt != NULL;
}

/* ---- liveness: what the model says is reachable ---- */

static void reach(heap_ref r)
{
	struct mobj *o = find(r);
	if (o && o->mark != M.mark) {
		o->mark = M.mark;
		M.todo = fz_grow(M.todo, &M.todo_cap, M.ntodo + 1, sizeof *M.todo);
		M.todo[M.ntodo++] = (size_t)(o - M.v);
	}
}

/* 1 if r is reachable from the holds and roots of the model through the
 * slots it knows: the daemon must not have collected it. */
static int reachable(heap_ref r)
{
	struct mobj *target = find(r);
	if (!target)
		return 0;
	M.mark++;
	fz_each_held(reach);
	for (size_t i = 0; i < M.nroots; i++)
		reach(M.roots[i].ref);
	while (M.ntodo) {
		const struct mobj *o = &M.v[M.todo[--M.ntodo]];
		for (uint32_t i = 0; o->slots && i < o->nrefs; i++)
			reach(o->slots[i]);
	}
	return target->mark == M.mark;
}

enum fz_ro fz_model_ro(heap_ref r, int or_sealed, uint32_t *nrefs)
{
	const struct mobj *o = find(r);
	if (!o || !(is_ro(o, r) || (or_sealed && o->sealed)) || o->dead)
		return FZ_RO_NOT;
	*nrefs = o->nrefs;
	return reachable(r) ? FZ_RO_LIVE : FZ_RO_MAYBE;
}

/* ---- checks ---- */

/* A request named r and got st: dead stays dead, and, when r is what a
 * BAD_REF would be for (sole), a reachable r is never refused. */
static void named(heap_ref r, Heapd__Status st, int sole, const char *what)
{
	struct mobj *o = find(r);
	if (!o)
		return;
	if (st == HEAPD__STATUS__OK && o->dead)
		fz_broken("%s: %#llx was refused as stale, and now it is served", what, (unsigned long long)r);
	if (st == HEAPD__STATUS__BAD_REF && sole && !o->dead && reachable(r))
		fz_broken("%s: %#llx is reachable, yet refused as stale", what, (unsigned long long)r);
}

/* A reply returned r (OK): a live, known object. */
static struct mobj *returned(heap_ref r, const char *what)
{
	struct mobj *o = find(r);
	if (!o)
		fz_broken("%s returned %#llx, which no alloc made", what, (unsigned long long)r);
	if (o->dead)
		fz_broken("%s returned %#llx, refused as stale before", what, (unsigned long long)r);
	return o;
}

static void check_range(const struct mobj *o, int inside, Heapd__Status st, const char *what)
{
	if (!o)
		return;
	if (st == HEAPD__STATUS__OK && !inside)
		fz_broken("%s outside %#llx (%u slots, %u bytes) succeeded", what, (unsigned long long)o->ref, o->nrefs,
			  o->nbytes);
	if (st == HEAPD__STATUS__RANGE && inside)
		fz_broken("%s inside %#llx (%u slots, %u bytes) refused as RANGE", what, (unsigned long long)o->ref,
			  o->nrefs, o->nbytes);
}

static int bytes_inside(const struct mobj *o, uint32_t off, size_t len)
{
	return (uint64_t)off + len <= o->nbytes;
}

static void on_alloc(const Heapd__Alloc *a, const Heapd__Response *r)
{
	struct mobj *into = find(a->into_obj);
	/* More data than bytes is refused as RANGE before into_obj is looked at. */
	if (a->data.len <= a->nbytes)
		check_range(into, into && a->into_slot < into->nrefs, r->status, "alloc_into");
	if (a->into_obj)
		named(a->into_obj, r->status, 1, "alloc_into");
	if (r->status != HEAPD__STATUS__OK)
		return;
	if (a->data.len > a->nbytes)
		fz_broken("alloc of %u bytes with %zu bytes of data succeeded", a->nbytes, a->data.len);
	if (into && a->into_slot >= into->nrefs)
		fz_broken("alloc_into slot %u of %#llx with %u slots succeeded", a->into_slot,
			  (unsigned long long)into->ref, into->nrefs);
	struct mobj *o = add(r->ref, a->nrefs, a->nbytes);
	if (o->data && a->data.len)
		memcpy(o->data, a->data.data, a->data.len);
	into = find(a->into_obj); /* add() may have moved it */
	if (into && into->slots)
		into->slots[a->into_slot] = r->ref;
}

static void on_write(const Heapd__Write *w, const Heapd__Response *r)
{
	struct mobj *o = find(w->obj);
	named(w->obj, r->status, 1, "write");
	check_range(o, o && bytes_inside(o, w->offset, w->data.len), r->status, "write");
	if (r->status == HEAPD__STATUS__OK && o && o->data && w->data.len)
		memcpy(o->data + w->offset, w->data.data, w->data.len);
}

static void on_read(const Heapd__Read *q, const Heapd__Response *r)
{
	struct mobj *o = find(q->obj);
	named(q->obj, r->status, 1, "read");
	check_range(o, o && bytes_inside(o, q->offset, q->length), r->status, "read");
	if (r->status == HEAPD__STATUS__OK && o && o->data && q->length &&
	    memcmp(r->data.data, o->data + q->offset, q->length) != 0)
		fz_broken("read of %u bytes at %u of %#llx: not what was written", q->length, q->offset,
			  (unsigned long long)o->ref);
}

static void on_set_ref(const Heapd__SetRef *q, const Heapd__Response *r)
{
	struct mobj *o = find(q->obj);
	/* BAD_REF may be for either ref: it is a loss only if both are reachable. */
	named(q->obj, r->status, !q->target || reachable(q->target), "set_ref");
	if (q->target)
		named(q->target, r->status, reachable(q->obj), "set_ref target");
	check_range(o, o && q->slot < o->nrefs, r->status, "set_ref");
	if (r->status == HEAPD__STATUS__OK && o && o->slots)
		o->slots[q->slot] = q->target;
}

/* A CAS's reply (OK or CONFLICT: done) carries what was there, have when
 * the model knows it; it swapped exactly when that was expected. */
static void cas_result(const Heapd__Response *r, int known, heap_ref have, heap_ref expected, const char *what)
{
	if (r->result_case != HEAPD__RESPONSE__RESULT_REF)
		fz_broken("%s: status %d without what was there", what, r->status);
	if (r->ref)
		returned(r->ref, what);
	if (known && r->ref != have)
		fz_broken("%s: it held %#llx, the model says %#llx", what, (unsigned long long)r->ref,
			  (unsigned long long)have);
	if ((r->status == HEAPD__STATUS__OK) != (r->ref == expected))
		fz_broken("%s: status %d, where it held %#llx and %#llx was expected", what, r->status,
			  (unsigned long long)r->ref, (unsigned long long)expected);
}

/* cas_ref: set_ref's checks, whatever the slot holds (a CONFLICT served
 * obj and target as OK would), then a swap exactly when the slot held
 * expected. */
static void on_cas_ref(const Heapd__CasRef *q, const Heapd__Response *r)
{
	struct mobj *o = find(q->obj);
	int done = r->status == HEAPD__STATUS__OK || r->status == HEAPD__STATUS__CONFLICT;
	Heapd__Status st = done ? HEAPD__STATUS__OK : r->status;
	named(q->obj, st, !q->target || reachable(q->target), "cas_ref");
	if (q->target)
		named(q->target, st, reachable(q->obj), "cas_ref target");
	check_range(o, o && q->slot < o->nrefs, st, "cas_ref");
	if (!done)
		return;
	int known = o && o->slots;
	cas_result(r, known, known ? o->slots[q->slot] : 0, q->expected, "cas_ref");
	if (r->status == HEAPD__STATUS__OK && known)
		o->slots[q->slot] = q->target;
}

/* root_cas: what the model's root names (0: none) is what it held; a
 * swap to 0 deletes, from 0 makes the root as root_set does. */
static void on_root_cas(const struct fz_who *who, const Heapd__RootCas *q, const Heapd__Response *r)
{
	int done = r->status == HEAPD__STATUS__OK || r->status == HEAPD__STATUS__CONFLICT;
	if (q->target)
		named(q->target, done ? HEAPD__STATUS__OK : r->status, 1, "root_cas");
	if (!done)
		return;
	const struct mroot *rt = root_find(&q->name);
	cas_result(r, 1, rt ? rt->ref : 0, q->expected, "root_cas");
	struct heap_root_meta made = {.uid = who->uid, .gid = who->groups[0], .mode = (uint16_t)fz_config()->root_mode};
	if (r->status == HEAPD__STATUS__OK)
		root_put(&q->name, q->target, &made);
}

/* get_ref gives read-only handles through a read-only one, and to a
 * read-only session. */
static void on_get_ref(const struct fz_who *who, const Heapd__GetRef *q, const Heapd__Response *r)
{
	struct mobj *o = find(q->obj);
	named(q->obj, r->status, 1, "get_ref");
	check_range(o, o && q->slot < o->nrefs, r->status, "get_ref");
	if (r->status != HEAPD__STATUS__OK)
		return;
	if (!o) {
		if (r->ref)
			returned(r->ref, "get_ref");
		return;
	}
	int ro = who->role == ROLE_READONLY || is_ro(o, q->obj);
	if (o->slots) {
		returned_as(r->ref, o->slots[q->slot], ro, "get_ref");
	} else if (r->ref && ro && !find(r->ref)) {
		/* Slots not modelled: the object is known by its place. */
		struct mobj *t = latest_at((uint32_t)r->ref);
		if (!t)
			fz_broken("get_ref returned %#llx, at no place an alloc made", (unsigned long long)r->ref);
		ro_seen(t, r->ref, "get_ref");
	}
	if (!r->ref)
		return;
	const struct mobj *t = returned(r->ref, "get_ref");
	if (ro && !is_ro(t, r->ref))
		fz_broken("get_ref through %#llx returned %#llx, a full handle", (unsigned long long)q->obj,
			  (unsigned long long)r->ref);
}

static void on_root_set(const struct fz_who *who, const Heapd__RootSet *q, const Heapd__Response *r)
{
	if (q->obj)
		named(q->obj, r->status, 1, "root_set");
	struct heap_root_meta made = {.uid = who->uid, .gid = who->groups[0], .mode = (uint16_t)fz_config()->root_mode};
	if (r->status == HEAPD__STATUS__OK)
		root_put(&q->name, q->obj, &made);
}

/* root_get gives a read-only handle unless the caller may write the root
 * (and is not a read-only session). */
static void on_root_get(const struct fz_who *who, const Heapd__RootGet *q, const Heapd__Response *r)
{
	if (!q->name.len)
		return;
	const struct mroot *rt = root_find(&q->name);
	if (r->status == HEAPD__STATUS__NOT_FOUND && rt)
		fz_broken("root_get \"%.*s\": NOT_FOUND, the model has %#llx", (int)rt->len, rt->name,
			  (unsigned long long)rt->ref);
	if (r->status != HEAPD__STATUS__OK)
		return;
	if (!rt)
		fz_broken("root_get: %#llx, the model has no such root", (unsigned long long)r->ref);
	int ro = who->role == ROLE_READONLY || !fz_root_may(who, &rt->meta, FZ_ROOT_WRITE);
	returned_as(r->ref, rt->ref, ro, "root_get");
	returned(r->ref, "root_get");
}

/* root_chmod and root_chown find the root the model has, and change its
 * meta as asked. */
static void on_root_meta(const Heapd__Request *q, const ProtobufCBinaryData *name, const Heapd__Response *r,
			 const char *what)
{
	struct mroot *rt = root_find(name);
	if (r->status == HEAPD__STATUS__NOT_FOUND && rt)
		fz_broken("%s \"%.*s\": NOT_FOUND, the model has it", what, (int)rt->len, rt->name);
	if (r->status != HEAPD__STATUS__OK)
		return;
	if (!rt)
		fz_broken("%s of a root the model has not: OK", what);
	if (q->op_case == HEAPD__REQUEST__OP_ROOT_CHMOD) {
		if (q->root_chmod->mode & ~FZ_ROOT_MODE_BITS)
			fz_broken("root_chmod to %#o: OK", q->root_chmod->mode);
		rt->meta.mode = (uint16_t)q->root_chmod->mode;
		return;
	}
	if (q->root_chown->uid != FZ_ID_KEEP)
		rt->meta.uid = q->root_chown->uid;
	if (q->root_chown->gid != FZ_ID_KEEP)
		rt->meta.gid = q->root_chown->gid;
}

/* root_list: exactly the roots the caller may read, each once, with
 * their metas (some, if truncated). */
static void on_root_list(const struct fz_who *who, const Heapd__RootNames *l)
{
	if (l->n_uids != l->n_names || l->n_gids != l->n_names || l->n_modes != l->n_names)
		fz_broken("root_list: %zu names, %zu uids, %zu gids, %zu modes", l->n_names, l->n_uids, l->n_gids,
			  l->n_modes);
	M.mark++;  /* a new mark, for the roots listed */
	size_t readable = 0;
	for (size_t i = 0; i < M.nroots; i++)
		readable += fz_root_may(who, &M.roots[i].meta, FZ_ROOT_READ);
	for (size_t i = 0; i < l->n_names; i++) {
		ProtobufCBinaryData name = {strlen(l->names[i]), (uint8_t *)l->names[i]};
		struct mroot *rt = root_find(&name);
		if (!rt || !fz_root_may(who, &rt->meta, FZ_ROOT_READ))
			fz_broken("root_list shows \"%s\" to uid %u, which %s", l->names[i], (unsigned)who->uid,
				  rt ? "may not read it" : "the model has not");
		if (l->uids[i] != rt->meta.uid || l->gids[i] != rt->meta.gid || l->modes[i] != rt->meta.mode)
			fz_broken("root_list: \"%s\" is %u:%u %04o, the model says %u:%u %04o", l->names[i], l->uids[i],
				  l->gids[i], l->modes[i], rt->meta.uid, rt->meta.gid, rt->meta.mode);
		if (rt->mark == M.mark)
			fz_broken("root_list shows \"%s\" twice", l->names[i]);
		rt->mark = M.mark;
	}
	if (!l->truncated && l->n_names != readable)
		fz_broken("root_list shows %zu roots to uid %u, which may read %zu", l->n_names, (unsigned)who->uid,
			  readable);
}

/* uid_stats: each uid's roots, their names' bytes and its holds. */
static void on_uid_stats(const Heapd__UidTable *t)
{
	size_t owners = 0;
	for (size_t i = 0; i < M.nroots; i++) {
		size_t k = 0;
		while (k < i && M.roots[k].meta.uid != M.roots[i].meta.uid)
			k++;
		owners += k == i;
	}
	size_t rows_with_roots = 0;
	for (size_t j = 0; j < t->n_rows; j++) {
		const Heapd__UidRow *row = t->rows[j];
		uint64_t roots = 0, bytes = 0;
		for (size_t i = 0; i < M.nroots; i++)
			if (M.roots[i].meta.uid == row->uid)
				roots++, bytes += M.roots[i].len;
		rows_with_roots += roots != 0;
		if (row->named_roots != roots || row->root_name_bytes != bytes || row->holds != fz_uid_holds(row->uid))
			fz_broken("uid_stats: uid %u has %llu roots (%llu bytes) and %llu holds, the model %llu (%llu) and %llu",
				  row->uid, (unsigned long long)row->named_roots, (unsigned long long)row->root_name_bytes,
				  (unsigned long long)row->holds, (unsigned long long)roots, (unsigned long long)bytes,
				  (unsigned long long)fz_uid_holds(row->uid));
	}
	if (!t->truncated && rows_with_roots != owners)
		fz_broken("uid_stats: %zu uids with roots, the model %zu", rows_with_roots, owners);
}

/* seal: OK makes the object immutable for good (fuzzperm.c refuses
 * every change to it from then on). */
static void on_seal(const Heapd__Seal *q, const Heapd__Response *r)
{
	struct mobj *o = find(q->obj);
	named(q->obj, r->status, 1, "seal");
	if (r->status == HEAPD__STATUS__OK && o)
		o->sealed = 1;
}

/* The n bytes at off of the arena's file, as a client that mapped it
 * reads them, against want. */
static int arena_holds(uint64_t off, const uint8_t *want, size_t n)
{
	M.arena_buf = fz_grow(M.arena_buf, &M.arena_cap, n + 1, 1);
	ssize_t got = pread(heap_arena_fd(fz_heap()), M.arena_buf, n, (off_t)off);
	return got == (ssize_t)n && memcmp(M.arena_buf, want, n) == 0;
}

/* An object's data, as the model has it or, when it is not modelled
 * (larger than MODEL_DATA), as the engine reads it. */
static const uint8_t *data_of(const struct mobj *o, heap_ref r)
{
	if (o->data)
		return o->data;
	M.data_buf = fz_grow(M.data_buf, &M.data_cap, o->nbytes + 1, 1);
	int err = heap_read(fz_heap(), r, 0, M.data_buf, o->nbytes);
	if (err)
		fz_broken("viewed %#llx does not read: %s", (unsigned long long)r, heap_strerror(err));
	return M.data_buf;
}

/* view: INVALID exactly for an object not sealed; OK gives where its data
 * lies in the arena (past its header and slots, at the handle's place),
 * always the same place, and the file holds the object's bytes there. */
static void on_view(const Heapd__View *q, const Heapd__Response *r)
{
	struct mobj *o = find(q->obj);
	named(q->obj, r->status, 1, "view");
	if (!o || o->dead)
		return;
	if (r->status == HEAPD__STATUS__INVALID && o->sealed)
		fz_broken("view of %#llx: INVALID (%s), where it is sealed", (unsigned long long)q->obj, r->error);
	if (r->status != HEAPD__STATUS__OK)
		return;
	if (!o->sealed)
		fz_broken("view of %#llx, never sealed: OK", (unsigned long long)q->obj);
	uint64_t at = ((uint64_t)(uint32_t)o->ref << 3) + 8 + 8 * (uint64_t)o->nrefs;
	if (r->view->offset != at || r->view->length != o->nbytes)
		fz_broken("view of %#llx (%u slots, %u bytes at place %#x): %llu bytes at %llu", (unsigned long long)q->obj,
			  o->nrefs, o->nbytes, (uint32_t)o->ref, (unsigned long long)r->view->length,
			  (unsigned long long)r->view->offset);
	if (!arena_holds(at, data_of(o, q->obj), o->nbytes))
		fz_broken("view of %#llx: the arena's %u bytes at %llu are not the object's", (unsigned long long)q->obj,
			  o->nbytes, (unsigned long long)at);
	o->view_at = at;
}

/* object_info says whether the object is sealed. */
static void on_object_info(const Heapd__ObjectInfo *q, const Heapd__Response *r)
{
	const struct mobj *o = find(q->obj);
	named(q->obj, r->status, 1, "object_info");
	if (r->status == HEAPD__STATUS__OK && o &&
	    (r->info->nrefs != o->nrefs || r->info->nbytes != o->nbytes || r->info->sealed != o->sealed))
		fz_broken("object_info of %#llx: %u slots, %u bytes, sealed %d; the model %u, %u, %d",
			  (unsigned long long)q->obj, r->info->nrefs, r->info->nbytes, r->info->sealed, o->nrefs,
			  o->nbytes, o->sealed);
}

void fz_model_reply(const struct fz_who *who, const Heapd__Request *q, const Heapd__Response *r, int in_batch)
{
	fz_perm_check(who, q, r, in_batch);
	if (r->status == HEAPD__STATUS__PERMISSION)
		return;  /* nothing changed */
	switch (q->op_case) {
	case HEAPD__REQUEST__OP_ALLOC: on_alloc(q->alloc, r); break;
	case HEAPD__REQUEST__OP_WRITE: on_write(q->write, r); break;
	case HEAPD__REQUEST__OP_READ: on_read(q->read, r); break;
	case HEAPD__REQUEST__OP_SET_REF: on_set_ref(q->set_ref, r); break;
	case HEAPD__REQUEST__OP_GET_REF: on_get_ref(who, q->get_ref, r); break;
	case HEAPD__REQUEST__OP_ROOT_SET: on_root_set(who, q->root_set, r); break;
	case HEAPD__REQUEST__OP_CAS_REF: on_cas_ref(q->cas_ref, r); break;
	case HEAPD__REQUEST__OP_ROOT_CAS: on_root_cas(who, q->root_cas, r); break;
	case HEAPD__REQUEST__OP_ROOT_GET: on_root_get(who, q->root_get, r); break;
	case HEAPD__REQUEST__OP_ROOT_CHMOD: on_root_meta(q, &q->root_chmod->name, r, "root_chmod"); break;
	case HEAPD__REQUEST__OP_ROOT_CHOWN: on_root_meta(q, &q->root_chown->name, r, "root_chown"); break;
	case HEAPD__REQUEST__OP_ROOT_LIST:
		if (r->status == HEAPD__STATUS__OK)
			on_root_list(who, r->roots);
		break;
	case HEAPD__REQUEST__OP_UID_STATS:
		if (r->status == HEAPD__STATUS__OK)
			on_uid_stats(r->uids);
		break;
	case HEAPD__REQUEST__OP_RELEASE: named(q->release->obj, r->status, 1, "release"); break;
	case HEAPD__REQUEST__OP_SEAL: on_seal(q->seal, r); break;
	case HEAPD__REQUEST__OP_VIEW: on_view(q->view, r); break;
	case HEAPD__REQUEST__OP_VIEW_RELEASE: named(q->view_release->obj, r->status, 1, "view_release"); break;
	case HEAPD__REQUEST__OP_OBJECT_INFO: on_object_info(q->object_info, r); break;
	default: break;
	}
	/* Whatever the operation, a BAD_REF for a ref it names marks that
	 * object dead only when it names one object alone. */
	heap_ref only = 0;
	if (r->status == HEAPD__STATUS__BAD_REF) {
		switch (q->op_case) {
		case HEAPD__REQUEST__OP_WRITE: only = q->write->obj; break;
		case HEAPD__REQUEST__OP_READ: only = q->read->obj; break;
		case HEAPD__REQUEST__OP_GET_REF: only = q->get_ref->obj; break;
		case HEAPD__REQUEST__OP_ROOT_SET: only = q->root_set->obj; break;
		case HEAPD__REQUEST__OP_ROOT_CAS: only = q->root_cas->target; break;
		case HEAPD__REQUEST__OP_ALLOC: only = q->alloc->into_obj; break;
		case HEAPD__REQUEST__OP_SEAL: only = q->seal->obj; break;
		case HEAPD__REQUEST__OP_VIEW: only = q->view->obj; break;
		case HEAPD__REQUEST__OP_OBJECT_INFO: only = q->object_info->obj; break;
		default: break;
		}
	}
	struct mobj *o = find(only);
	if (o)
		o->dead = 1;
}

void fz_model_verify(heap *h)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < M.n; i++) {
		const struct mobj *o = &M.v[i];
		if (o->dead || !reachable(o->ref))
			continue;
		if (o->data) {
			buf = fz_grow(buf, &cap, o->nbytes + 1, 1);
			int err = heap_read(h, o->ref, 0, buf, o->nbytes);
			if (err || memcmp(buf, o->data, o->nbytes) != 0)
				fz_broken("reachable %#llx at the end: data not as written (%s)", (unsigned long long)o->ref,
					  err ? heap_strerror(err) : "differs");
		}
		for (uint32_t k = 0; o->slots && k < o->nrefs; k++) {
			heap_ref v;
			int err = heap_get_ref(h, o->ref, k, NULL, &v);
			if (err || v != o->slots[k])
				fz_broken("reachable %#llx at the end: slot %u not as set", (unsigned long long)o->ref, k);
		}
		/* A view's bytes stay where they were, as they were. */
		if (o->view_at && !arena_holds(o->view_at, data_of(o, o->ref), o->nbytes))
			fz_broken("reachable %#llx at the end: the arena at its view (%llu) no longer holds its bytes",
				  (unsigned long long)o->ref, (unsigned long long)o->view_at);
	}
	free(buf);
}

void fz_model_reset(void)
{
	for (size_t i = 0; i < M.n; i++) {
		free(M.v[i].data);
		free(M.v[i].slots);
	}
	for (size_t i = 0; i < M.nroots; i++)
		free(M.roots[i].name);
	free(M.v);
	free(M.keys);
	free(M.idx);
	free(M.roots);
	free(M.todo);
	free(M.arena_buf);
	free(M.data_buf);
	memset(&M, 0, sizeof M);
}
