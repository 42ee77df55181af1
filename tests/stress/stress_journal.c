/*
 * stress_journal.c - a stress client's model kept consistent across
 * SIGKILL: the model's upkeep (entries, reachability) and the journal of
 * the operation in flight, with the recovery that reads it.
 *
 * The rules are stress.h's "Crash consistency". The journal: an operation
 * that changes what outlives the connection fills c->st->pend (what it
 * changes, from what, to what), journal_begin() marks it in flight, the
 * request goes out, journal_apply(c, 1, ...) sets the model to the state
 * after it, journal_end() clears it. Every step is safe to be killed in.
 *
 * Recovery (journal_recover), in a new incarnation, once the daemon has
 * closed the dead one's connection: the dead one's holds and views are
 * gone, so the model drops them; the operation in flight is undone in the model, then
 * redone if the daemon shows it happened (a read, get_ref, root_get or,
 * for a seal, object_info tells); what is no longer reachable from the client's roots is DEAD;
 * then a collection, after which every DEAD ref must be refused: the
 * objects only the dead incarnation held are gone.
 */
#include <string.h>

#include "client.h"

/* --- the model --- */

/* Writes entry i's fields, then (last, so that a kill never leaves a LIVE
 * entry half written) its state. */
void model_entry_set(struct cl *c, int i, const struct mobj *m, const uint8_t *data, uint32_t len)
{
	struct mobj *e = ent(c, i);
	e->ref = m->ref;
	e->kind = m->kind;
	e->nrefs = m->nrefs;
	e->nbytes = m->nbytes;
	e->holds = m->holds;
	e->views = m->views;
	e->sealed = m->sealed;
	e->id = m->id;
	if (m->kind == K_OWN) {
		for (uint32_t s = 0; s < m->nrefs; s++)
			slots_of(c, i)[s] = -1;
		memset(data_of(c, i), 0, m->nbytes);
		if (len)
			memcpy(data_of(c, i), data, len);
	}
	commit_fence();
	e->state = ST_LIVE;
	commit_fence();
}

/* Recomputes LIVE and DEAD: reachable from the roots, and from the holds
 * and views when with_holds (a new incarnation has none). Only a recovery's undo may
 * bring a DEAD entry back: operations link LIVE entries only. */
void model_reach(struct cl *c, int with_holds)
{
	struct cstate *st = c->st;
	static uint8_t mark[MAX_OBJS];
	int head = 0, tail = 0;
	memset(mark, 0, sizeof mark);
	for (int i = 0; i < MAX_OBJS; i++)
		if (st->obj[i].state == ST_LIVE && with_holds && (st->obj[i].holds || st->obj[i].views)) {
			mark[i] = 1;
			c->queue[tail++] = (int16_t)i;
		}
	for (int r = 0; r < NROOTS; r++) {
		int t = st->root[r];
		if (t >= 0 && !mark[t]) {
			mark[t] = 1;
			c->queue[tail++] = (int16_t)t;
		}
	}
	while (head < tail) {
		int i = c->queue[head++];
		if (st->obj[i].kind != K_OWN)
			continue;
		for (uint32_t s = 0; s < st->obj[i].nrefs; s++) {
			int t = slots_of(c, i)[s];
			if (t >= 0 && !mark[t]) {
				mark[t] = 1;
				c->queue[tail++] = (int16_t)t;
			}
		}
	}
	for (int i = 0; i < MAX_OBJS; i++)
		if (st->obj[i].state != ST_FREE)
			st->obj[i].state = mark[i] ? ST_LIVE : ST_DEAD;
}

/* Drops DEAD published entries: whether they live is up to others. Only
 * while no operation is in flight (stress.h). */
void model_sweep_pub(struct cl *c)
{
	for (int i = 0; i < MAX_OBJS; i++)
		if (ent(c, i)->state == ST_DEAD && ent(c, i)->kind == K_PUB)
			ent(c, i)->state = ST_FREE;
}

/* --- the journal --- */

void journal_begin(struct cl *c, uint32_t kind)
{
	commit_fence();
	c->st->pend.kind = kind;
	commit_fence();
}

void journal_end(struct cl *c)
{
	commit_fence();
	c->st->pend.kind = P_NONE;
	commit_fence();
}

/* Sets the model to the state after the operation in flight (done) or
 * before it. Idempotent, so a kill in the middle is redone from the start.
 * newref: ALLOC_INTO's new object. */
void journal_apply(struct cl *c, int done, heapd_ref newref)
{
	struct pending *p = &c->st->pend;
	switch (p->kind) {
	case P_WRITE:
		memcpy(data_of(c, p->obj) + p->off, done ? p->new_b : p->old_b, p->len);
		break;
	case P_SET_REF:
		slots_of(c, p->obj)[p->slot] = done ? p->new_t : p->old_t;
		break;
	case P_ALLOC_INTO:
		if (done) {
			struct mobj m = p->ent;
			m.ref = newref;
			model_entry_set(c, p->new_t, &m, p->new_b, p->len);
			slots_of(c, p->obj)[p->slot] = p->new_t;
		} else {
			slots_of(c, p->obj)[p->slot] = p->old_t;
			ent(c, p->new_t)->state = ST_FREE;
		}
		break;
	case P_ROOT:
		c->st->root[p->idx] = done ? p->new_t : p->old_t;
		break;
	case P_PUB:
		c->st->pub[p->idx] = done ? p->new_p : p->old_p;
		break;
	case P_SEAL:
		ent(c, p->obj)->sealed = (uint8_t)done;
		break;
	}
	commit_fence();
}

/* The ref a slot holds now; the hold get_ref took is given back. */
static heapd_ref slot_now(struct cl *c, heapd_ref obj, uint32_t slot)
{
	heapd_ref r;
	cl_ok(c, heapd_get_ref(c->h, obj, slot, &r), "recover: get_ref");
	if (r)
		cl_ok(c, heapd_release(c->h, r), "recover: release");
	return r;
}

/* The ref a root names now (0 if none). */
static heapd_ref root_now(struct cl *c, const char *name)
{
	heapd_ref r;
	int rc = heapd_root_get(c->h, name, &r);
	if (rc == HEAPD_ENOTFOUND)
		return 0;
	cl_ok(c, rc, "recover: root_get");
	cl_ok(c, heapd_release(c->h, r), "recover: release");
	return r;
}

/* Did the daemon do it? was: what the model had before, now: what the
 * daemon has, done: what the operation set. */
static int decide(struct cl *c, const char *what, heapd_ref now, heapd_ref was, heapd_ref done)
{
	if (now == done)
		return 1;
	if (now != was)
		cl_miss(c, MISS_CORRUPT, "recover %s: the daemon has ref %#llx, neither the old %#llx nor the new %#llx",
			what, (unsigned long long)now, (unsigned long long)was, (unsigned long long)done);
	return 0;
}

/* The operation a killed incarnation had in flight: undone in the model,
 * then redone if the daemon shows it. An operation on an object that only
 * the dead incarnation held changes nothing that outlives it. */
static void resolve(struct cl *c)
{
	struct pending *p = &c->st->pend;
	char name[32];
	int done = 0;
	heapd_ref newref = 0;
	journal_apply(c, 0, 0);
	model_reach(c, 0);
	int live = p->kind == P_ROOT || p->kind == P_PUB || ent(c, p->obj)->state == ST_LIVE;
	heapd_ref obj = p->kind == P_ROOT || p->kind == P_PUB ? 0 : ent(c, p->obj)->ref;
	switch (live ? p->kind : P_NONE) {
	case P_WRITE:
		cl_ok(c, heapd_read(c->h, obj, p->off, c->buf, p->len), "recover: read");
		if (memcmp(c->buf, p->new_b, p->len) == 0)
			done = 1;
		else if (memcmp(c->buf, p->old_b, p->len) != 0)
			cl_miss(c, MISS_CORRUPT, "recover write: the bytes are neither the old nor the new ones");
		break;
	case P_SET_REF:
		done = decide(c, "set_ref", slot_now(c, obj, p->slot), ref_of(c, p->old_t), ref_of(c, p->new_t));
		break;
	case P_ALLOC_INTO:
		newref = slot_now(c, obj, p->slot);
		done = newref != ref_of(c, p->old_t);
		if (done && !newref)
			cl_miss(c, MISS_CORRUPT, "recover alloc_into: the slot is empty");
		break;
	case P_ROOT:
		root_name(name, sizeof name, c->k, p->idx);
		done = decide(c, "root_set", root_now(c, name), ref_of(c, p->old_t), ref_of(c, p->new_t));
		break;
	case P_PUB:
		pub_name(name, sizeof name, c->k, p->idx);
		done = decide(c, "publish", root_now(c, name), p->old_p.ref, p->new_p.ref);
		break;
	case P_SEAL: {
		struct heapd_object_info info;
		cl_ok(c, heapd_object_info(c->h, obj, &info), "recover: object_info");
		done = info.sealed;
		break;
	}
	}
	if (done)
		journal_apply(c, 1, newref);
	c->st->recovered++;
	c->st->redone += (uint64_t)done;
	journal_end(c);
}

void journal_recover(struct cl *c)
{
	for (int i = 0; i < MAX_OBJS; i++)
		ent(c, i)->holds = ent(c, i)->views = 0;
	if (c->st->pend.kind != P_NONE)
		resolve(c);
	model_reach(c, 0);
	model_sweep_pub(c);
	gc_check(c);
}
