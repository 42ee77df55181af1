/*
 * stress_verify.c - a stress client's checks: an object against its model
 * entry, a published tree against its identity, dead objects against the
 * collector, and the verify phase that runs them all.
 *
 * What "verified" means for one object: its ref is accepted; its data,
 * read whole, is byte for byte the model's (or, for a published node,
 * what its identity derives); reading one byte past the end and asking
 * for the slot past the last both give HEAPD_ERANGE (the sizes are
 * exact); every slot holds exactly the ref the model says (0 when
 * null); it is sealed exactly when the model says so (a published node
 * always), and where the client has a view of it, the view's bytes, read
 * in place, are the model's too. A ref refused where the model has a live object counts as lost;
 * any other difference as corrupt.
 *
 * The verify phase runs while every client is paused, so everything it
 * reads, other clients' published roots included, holds still.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

/* The ref in a slot; the hold get_ref took is given back at once (what
 * the caller walks is kept alive by something else). */
static heapd_ref slot_ref(struct cl *c, heapd_ref obj, uint32_t slot)
{
	heapd_ref r;
	cl_ok(c, heapd_get_ref(c->h, obj, slot, &r), "verify: get_ref");
	if (r)
		cl_ok(c, heapd_release(c->h, r), "verify: release");
	return r;
}

/* True if obj has exactly nrefs slots and nbytes bytes. */
static int size_is(struct cl *c, heapd_ref obj, uint32_t nrefs, uint32_t nbytes)
{
	heapd_ref r;
	uint8_t b;
	return heapd_read(c->h, obj, nbytes, &b, 1) == HEAPD_ERANGE &&
	       heapd_get_ref(c->h, obj, nrefs, &r) == HEAPD_ERANGE;
}

static void count_verified(struct cl *c)
{
	if (c->verifying)
		c->st->verified++;
}

/* Checks one node; fills *id from its header when node is 0. Returns the
 * ref in its slot 0 (the next node), or 0 after a mismatch (reported). */
static heapd_ref verify_pub_node(struct cl *c, heapd_ref cur, heapd_ref ref0, unsigned node, int owner, int j,
				 struct pubid *id, int *good)
{
	struct pubid got;
	unsigned gnode;
	*good = 0;
	int rc = heapd_read(c->h, cur, 0, c->buf, PUB_HDR);
	if (rc == HEAPD_EBADREF) {
		cl_miss(c, MISS_LOST, "published c%d/p%d node %u: ref %#llx refused", owner, j, node,
			(unsigned long long)cur);
		return 0;
	}
	cl_ok(c, rc, "verify: read");
	if (!pub_parse(c->buf, &got, &gnode) || got.owner != owner || got.j != j || gnode != node ||
	    (node > 0 && memcmp(&got, id, sizeof got) != 0)) {
		cl_miss(c, MISS_CORRUPT, "published c%d/p%d node %u: wrong header", owner, j, node);
		return 0;
	}
	*id = got;
	uint32_t nb = pub_nbytes(id, node);
	pub_fill(id, node, c->want);
	cl_ok(c, heapd_read(c->h, cur, 0, c->buf, nb), "verify: read");
	struct heapd_object_info info;
	cl_ok(c, heapd_object_info(c->h, cur, &info), "verify: object_info");
	if (memcmp(c->buf, c->want, nb) != 0 || !size_is(c, cur, 2, nb) || !info.sealed) {
		cl_miss(c, MISS_CORRUPT, "published c%d/p%d gen %u node %u: wrong contents or size, or not sealed",
			owner, j, id->gen, node);
		return 0;
	}
	if (slot_ref(c, cur, 1) != (node ? ref0 : 0)) {
		cl_miss(c, MISS_CORRUPT, "published c%d/p%d gen %u node %u: slot 1 is not node 0", owner, j, id->gen,
			node);
		return 0;
	}
	heapd_ref next = slot_ref(c, cur, 0);
	if ((next != 0) != (node + 1 < id->nnodes)) {
		cl_miss(c, MISS_CORRUPT, "published c%d/p%d gen %u node %u of %u: slot 0 is %s", owner, j, id->gen,
			node, id->nnodes, next ? "set" : "empty");
		return 0;
	}
	*good = 1;
	count_verified(c);
	return next;
}

int verify_pub_tree(struct cl *c, heapd_ref ref0, int owner, int j, struct pubid *id)
{
	int good = 1;
	memset(id, 0, sizeof *id);
	heapd_ref cur = ref0;
	for (unsigned node = 0; cur && good; node++)
		cur = verify_pub_node(c, cur, ref0, node, owner, j, id, &good);
	return good;
}

static void verify_entry(struct cl *c, int i)
{
	struct mobj *e = ent(c, i);
	if (e->kind == K_PUB) {
		struct pubid id;
		if (verify_pub_tree(c, e->ref, e->id.owner, e->id.j, &id) && memcmp(&id, &e->id, sizeof id) != 0)
			cl_miss(c, MISS_CORRUPT, "entry %d: published generation %u, model %u", i, id.gen, e->id.gen);
		return;
	}
	int rc = heapd_read(c->h, e->ref, 0, c->buf, e->nbytes);
	if (rc == HEAPD_EBADREF) {
		cl_miss(c, MISS_LOST, "entry %d (%#llx, %u refs, %u bytes): ref refused", i, (unsigned long long)e->ref,
			e->nrefs, e->nbytes);
		return;
	}
	cl_ok(c, rc, "verify: read");
	const uint8_t *want = data_of(c, i);
	for (uint32_t b = 0; b < e->nbytes; b++)
		if (c->buf[b] != want[b]) {
			cl_miss(c, MISS_CORRUPT, "entry %d byte %u of %u: %#x, model %#x", i, b, e->nbytes, c->buf[b],
				want[b]);
			return;
		}
	if (!size_is(c, e->ref, e->nrefs, e->nbytes)) {
		cl_miss(c, MISS_CORRUPT, "entry %d: not %u refs and %u bytes", i, e->nrefs, e->nbytes);
		return;
	}
	struct heapd_object_info info;
	cl_ok(c, heapd_object_info(c->h, e->ref, &info), "verify: object_info");
	if (info.sealed != e->sealed || (e->views && memcmp(c->view_data[i], want, e->nbytes) != 0)) {
		cl_miss(c, MISS_CORRUPT, "entry %d: sealed %d, model %d%s", i, info.sealed, e->sealed,
			e->views ? "; or its view's bytes are not the model's" : "");
		return;
	}
	for (uint32_t s = 0; s < e->nrefs; s++) {
		heapd_ref r = slot_ref(c, e->ref, s), want_r = ref_of(c, slots_of(c, i)[s]);
		if (r != want_r) {
			cl_miss(c, MISS_CORRUPT, "entry %d slot %u: %#llx, model %#llx", i, s, (unsigned long long)r,
				(unsigned long long)want_r);
			return;
		}
	}
	count_verified(c);
}

void gc_check(struct cl *c)
{
	int16_t *dead = c->queue;
	int n = 0;
	for (int i = 0; i < MAX_OBJS; i++)
		if (ent(c, i)->state == ST_DEAD && ent(c, i)->kind == K_OWN)
			dead[n++] = (int16_t)i;
	cl_ok(c, heapd_gc(c->h), "gc");
	for (int k = 0; k < n; k++) {
		struct mobj *e = ent(c, dead[k]);
		uint8_t b;
		int rc = heapd_read(c->h, e->ref, 0, &b, 0);
		if (rc == 0)
			cl_miss(c, MISS_UNCOLLECTED, "entry %d (%#llx): unreachable, still there after gc", dead[k],
				(unsigned long long)e->ref);
		else if (rc != HEAPD_EBADREF)
			cl_ok(c, rc, "gc check: read");
		else
			c->st->collected++;
		e->state = ST_FREE;
		commit_fence();
	}
}

/* A root against the model: ref (0: absent). The hold is given back. */
static void verify_root(struct cl *c, const char *name, heapd_ref want)
{
	heapd_ref r = 0;
	int rc = heapd_root_get(c->h, name, &r);
	if (rc == HEAPD_ENOTFOUND) {
		if (want)
			cl_miss(c, MISS_LOST, "root %s: gone", name);
		return;
	}
	cl_ok(c, rc, "verify: root_get");
	cl_ok(c, heapd_release(c->h, r), "verify: release");
	if (r != want)
		cl_miss(c, MISS_CORRUPT, "root %s: %#llx, model %#llx", name, (unsigned long long)r,
			(unsigned long long)want);
}

/* Every published tree: this client's against its model, others' against
 * their identities. */
static void verify_published(struct cl *c)
{
	char name[32];
	for (int o = 0; o < c->n; o++)
		for (int j = 0; j < NPUB; j++) {
			heapd_ref r;
			struct pubid id;
			pub_name(name, sizeof name, o, j);
			if (o == c->k)
				verify_root(c, name, c->st->pub[j].ref);
			int rc = heapd_root_get(c->h, name, &r);
			if (rc == HEAPD_ENOTFOUND)
				continue;
			cl_ok(c, rc, "verify: root_get");
			if (verify_pub_tree(c, r, o, j, &id) && o == c->k &&
			    memcmp(&id, &c->st->pub[j].id, sizeof id) != 0)
				cl_miss(c, MISS_CORRUPT, "%s: generation %u, model %u", name, id.gen, c->st->pub[j].id.gen);
			cl_ok(c, heapd_release(c->h, r), "verify: release");
		}
}

void verify_all(struct cl *c)
{
	char name[32];
	c->verifying = 1;
	c->printed = 0;
	gc_check(c);
	for (int r = 0; r < NROOTS; r++) {
		root_name(name, sizeof name, c->k, r);
		verify_root(c, name, ref_of(c, c->st->root[r]));
	}
	for (int i = 0; i < MAX_OBJS; i++)
		if (ent(c, i)->state == ST_LIVE)
			verify_entry(c, i);
	verify_published(c);
	c->verifying = 0;
}
