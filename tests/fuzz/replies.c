/*
 * replies.c - the dispatch harness's read side: each reply, as the fake
 * transport (fuzz_dispatch.c) decodes it, checked against the request it
 * answers, and the model of each connection's holds and views kept from
 * the replies. The invariants are fuzz_dispatch.c's list (replies,
 * statuses and results, batches, holds and views, the arena); the
 * reference model (model.c) and the permission rules (fuzzperm.c) are
 * called from here for each request and each op of a batch.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzzharness.h"

/* ---- the holds model ---- */

static struct hold *hold_find(struct holdset *hs, heap_ref r)
{
	for (size_t i = 0; i < hs->n; i++)
		if (hs->v[i].ref == r)
			return &hs->v[i];
	return NULL;
}

static void hold_add(struct holdset *hs, heap_ref r)
{
	struct hold *h = hold_find(hs, r);
	if (!h) {
		hs->v = fz_grow(hs->v, &hs->cap, hs->n + 1, sizeof *hs->v);
		h = &hs->v[hs->n++];
		*h = (struct hold){r, 0};
	}
	h->n++;
}

static uint64_t hold_count(const struct holdset *hs)
{
	uint64_t n = 0;
	for (size_t i = 0; i < hs->n; i++)
		n += hs->v[i].n;
	return n;
}

/* What max_holds_per_session bounds: holds and views. */
static uint64_t conn_held(const struct conn *c)
{
	return hold_count(&c->holds) + hold_count(&c->views);
}

uint64_t fz_model_holds(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		n += conn_held(&fz.conn[i]);
	return n;
}

static void each_in(const struct holdset *hs, void (*fn)(heap_ref ref))
{
	for (size_t j = 0; j < hs->n; j++)
		if (hs->v[j].n)
			fn(hs->v[j].ref);
}

void fz_each_held(void (*fn)(heap_ref ref))
{
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++) {
		each_in(&fz.conn[i].holds, fn);
		each_in(&fz.conn[i].views, fn);  /* a view keeps its object as a hold does */
	}
}

const heap_ref *fz_returned(size_t *n)
{
	*n = fz.nrefs;
	return fz.refs;
}

uint64_t fz_uid_holds(uint32_t uid)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		if (fz.conn[i].s && fz.conn[i].who->uid == uid)
			n += conn_held(&fz.conn[i]);
	return n;
}

heap *fz_heap(void)
{
	return fz.srv.heap;
}

const struct config *fz_config(void)
{
	return &fz.srv.cfg;
}

/* ---- replies: the fake transport's read side, checked as they come ---- */

static void returned(heap_ref r)
{
	fz.refs = fz_grow(fz.refs, &fz.refs_cap, fz.nrefs + 1, sizeof *fz.refs);
	fz.refs[fz.nrefs++] = r;
}

/* The result an OK reply to op carries: ops.h's result column. */
#define FZ_RESULT_none HEAPD__RESPONSE__RESULT__NOT_SET
#define FZ_RESULT_ref HEAPD__RESPONSE__RESULT_REF
#define FZ_RESULT_ref_or_null HEAPD__RESPONSE__RESULT_REF
#define FZ_RESULT_cas HEAPD__RESPONSE__RESULT_REF
#define FZ_RESULT_data HEAPD__RESPONSE__RESULT_DATA
#define FZ_RESULT_stats HEAPD__RESPONSE__RESULT_STATS
#define FZ_RESULT_roots HEAPD__RESPONSE__RESULT_ROOTS
#define FZ_RESULT_hello HEAPD__RESPONSE__RESULT_HELLO
#define FZ_RESULT_batch HEAPD__RESPONSE__RESULT_BATCH
#define FZ_RESULT_uids HEAPD__RESPONSE__RESULT_UIDS
#define FZ_RESULT_info HEAPD__RESPONSE__RESULT_INFO
#define FZ_RESULT_clients HEAPD__RESPONSE__RESULT_CLIENTS
#define FZ_RESULT_retained HEAPD__RESPONSE__RESULT_RETAINED
#define FZ_RESULT_view HEAPD__RESPONSE__RESULT_VIEW

static Heapd__Response__ResultCase result_of(Heapd__Request__OpCase op)
{
	switch (op) {
#define X(name, NAME, Type, where, refs, payload, result) \
	case HEAPD__REQUEST__OP_##NAME: return FZ_RESULT_##result;
		HEAPD_OPS(X)
#undef X
	HEAPD_OP_NONE_CASES:
		break;
	}
	return HEAPD__RESPONSE__RESULT__NOT_SET;
}

/* A view or map_arena reply: the arena is as large as the engine's (it
 * only grows), never more than it may reach, and holds the view. */
static void check_arena(const Heapd__ViewReply *v)
{
	uint64_t now = heap_arena_size(fz.srv.heap), most = heap_arena_reserved(fz.srv.heap);
	if (v->arena_reserved != most || v->arena_size > most || v->arena_size < fz.arena_size || v->arena_size > now)
		fz_broken("an arena of %llu bytes, of %llu reserved (the engine's: %llu of %llu; %llu given before)",
			  (unsigned long long)v->arena_size, (unsigned long long)v->arena_reserved,
			  (unsigned long long)now, (unsigned long long)most, (unsigned long long)fz.arena_size);
	fz.arena_size = v->arena_size;
	if (v->offset > v->arena_size || v->length > v->arena_size - v->offset)
		fz_broken("a view of %llu bytes at %llu, past the arena's %llu", (unsigned long long)v->length,
			  (unsigned long long)v->offset, (unsigned long long)v->arena_size);
}

/* client_list: each row of a connection of the harness counts its holds
 * and views as the model does. */
static void check_clients(const Heapd__ClientTable *t)
{
	for (size_t i = 0; i < t->n_rows; i++) {
		const Heapd__ClientRow *row = t->rows[i];
		for (unsigned k = 0; k < FUZZ_SESSIONS; k++) {
			const struct conn *c = &fz.conn[k];
			if (!c->s || c->closed || c->s->id != row->id)
				continue;
			if (row->holds != hold_count(&c->holds) || row->views != hold_count(&c->views))
				fz_broken("client_list: session %llu has %llu holds and %llu views, the model %llu and %llu",
					  (unsigned long long)row->id, (unsigned long long)row->holds,
					  (unsigned long long)row->views, (unsigned long long)hold_count(&c->holds),
					  (unsigned long long)hold_count(&c->views));
		}
	}
}

/* Views count as holds (docs/protocol.md, Zero-copy): one comes only
 * below both limits, the session's (its holds and views) and its uid's,
 * and LIMIT only at one of them (or, in a batch, for want of room in the
 * reply). Checked before the model takes r in. */
static void check_view_limit(const struct conn *c, const Heapd__Request *q, const Heapd__Response *r, int in_batch)
{
	if (q->op_case != HEAPD__REQUEST__OP_VIEW)
		return;
	const struct config *cfg = &fz.srv.cfg;
	uint64_t mine = conn_held(c), uid = fz_uid_holds(c->who->uid);
	int at_limit = mine >= cfg->heap.max_holds || uid >= cfg->max_holds_per_uid;
	if ((r->status == HEAPD__STATUS__OK && at_limit) ||
	    (r->status == HEAPD__STATUS__LIMIT && !at_limit && !in_batch))
		fz_broken("view by uid %u: status %d with %llu holds and views (max_holds_per_session %u), the uid %llu (max_holds_per_uid %u)",
			  (unsigned)c->who->uid, r->status, (unsigned long long)mine, cfg->heap.max_holds,
			  (unsigned long long)uid, cfg->max_holds_per_uid);
}

/* After a hold or a view was added: the session's holds and views
 * together within max_holds_per_session, its uid's within
 * max_holds_per_uid. */
static void check_held(const struct conn *c, const char *what)
{
	const struct config *cfg = &fz.srv.cfg;
	uint64_t mine = conn_held(c), uid = fz_uid_holds(c->who->uid);
	if (mine > cfg->heap.max_holds || uid > cfg->max_holds_per_uid)
		fz_broken("%s: session has %llu holds and views (max_holds_per_session %u), uid %u %llu (max_holds_per_uid %u)",
			  what, (unsigned long long)mine, cfg->heap.max_holds, (unsigned)c->who->uid,
			  (unsigned long long)uid, cfg->max_holds_per_uid);
}

/* An OK reply r to q, a request or a batch op as one. */
static void check_ok(struct conn *c, const Heapd__Request *q, const Heapd__Response *r)
{
	if (r->result_case != result_of(q->op_case))
		fz_broken("request %llu (op %d): result %d, not %d", (unsigned long long)r->id, q->op_case, r->result_case,
			  result_of(q->op_case));
	switch (q->op_case) {
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_ROOT_GET:
		if (!r->ref)
			fz_broken("request %llu (op %d): OK with a null ref", (unsigned long long)r->id, q->op_case);
		if (q->op_case == HEAPD__REQUEST__OP_ROOT_GET || !q->alloc->into_obj) {
			hold_add(&c->holds, r->ref);
			check_held(c, disp_op_name(q->op_case));
		}
		break;
	case HEAPD__REQUEST__OP_GET_REF:
		if (r->ref) {
			hold_add(&c->holds, r->ref);
			check_held(c, "get_ref");
		}
		break;
	case HEAPD__REQUEST__OP_RELEASE: {
		struct hold *h = hold_find(&c->holds, q->release->obj);
		if (!h || !h->n)
			fz_broken("release of %#llx succeeded with no hold", (unsigned long long)q->release->obj);
		h->n--;
		break;
	}
	case HEAPD__REQUEST__OP_VIEW:
		check_arena(r->view);
		hold_add(&c->views, q->view->obj);
		check_held(c, "view");
		break;
	case HEAPD__REQUEST__OP_VIEW_RELEASE: {
		struct hold *h = hold_find(&c->views, q->view_release->obj);
		if (!h || !h->n)
			fz_broken("view_release of %#llx succeeded with no view", (unsigned long long)q->view_release->obj);
		h->n--;
		break;
	}
	case HEAPD__REQUEST__OP_MAP_ARENA:
		check_arena(r->view);
		if (r->view->offset || r->view->length)
			fz_broken("map_arena: a view of %llu bytes at %llu", (unsigned long long)r->view->length,
				  (unsigned long long)r->view->offset);
		break;
	case HEAPD__REQUEST__OP_READ:
		if (r->data.len != q->read->length)
			fz_broken("read of %u bytes returned %zu", q->read->length, r->data.len);
		break;
	case HEAPD__REQUEST__OP_GET_STATS: {
		uint64_t views = 0;
		for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
			views += hold_count(&fz.conn[i].views);
		if (r->stats->holds != fz_model_holds() || r->stats->views != views)
			fz_broken("get_stats says %llu holds and %llu views, the model %llu and %llu",
				  (unsigned long long)r->stats->holds, (unsigned long long)r->stats->views,
				  (unsigned long long)fz_model_holds(), (unsigned long long)views);
		break;
	}
	case HEAPD__REQUEST__OP_CLIENT_LIST:
		check_clients(r->clients);
		break;
	default:
		break;
	}
	if (r->result_case == HEAPD__RESPONSE__RESULT_REF && r->ref)
		returned(r->ref);
}

/* An error reply r to q (NULL: a frame that does not decode). release and
 * view_release are refused (but for want of room in a batch, or a wrong
 * *_from) exactly when there is nothing to end. */
static void check_error(struct conn *c, const Heapd__Request *q, const Heapd__Response *r)
{
	if (!r->error || !r->error[0])
		fz_broken("status %d without a message", r->status);
	if (!q || r->status == HEAPD__STATUS__LIMIT || r->status == HEAPD__STATUS__INVALID)
		return;
	const struct hold *h = NULL;
	if (q->op_case == HEAPD__REQUEST__OP_RELEASE)
		h = hold_find(&c->holds, q->release->obj);
	else if (q->op_case == HEAPD__REQUEST__OP_VIEW_RELEASE)
		h = hold_find(&c->views, q->view_release->obj);
	if (h && h->n)
		fz_broken("%s of a held %#llx refused: %s", disp_op_name(q->op_case), (unsigned long long)h->ref, r->error);
}

/* 1 if q's *_from fields are wrong for op i (from 0) of a batch whose
 * results so far are res[0..i), all OK; else 0, each replaced by the ref
 * it names. Outside a batch (res NULL), any *_from is wrong. */
static int resolve_from(Heapd__Request *q, size_t i, Heapd__Response *const *res)
{
	uint64_t *ref[HEAPD_MAX_REFS];
	uint32_t *from[HEAPD_MAX_REFS];
	int n = fuzz_ref_fields(q, ref, from);
	for (int k = 0; k < n; k++) {
		uint32_t f = *from[k];
		if (!f)
			continue;
		if (!res || *ref[k] || f > i || res[f - 1]->result_case != HEAPD__RESPONSE__RESULT_REF)
			return 1;
		*ref[k] = res[f - 1]->ref;
		*from[k] = 0;
	}
	return 0;
}

/* The reply r to batch q, checked op by op. */
static void check_batch(struct conn *c, Heapd__Request *q, const Heapd__Response *r)
{
	size_t n = q->batch->n_ops;
	if (r->result_case != HEAPD__RESPONSE__RESULT_BATCH) {
		if (r->status != HEAPD__STATUS__LIMIT)
			fz_broken("batch %llu of %zu ops: status %d and no results", (unsigned long long)r->id, n,
				  r->status);
		return; /* refused whole: nothing ran */
	}
	const Heapd__BatchReply *br = r->batch;
	if (br->n_results != n || br->failed > n || !br->failed != (r->status == HEAPD__STATUS__OK))
		fz_broken("batch %llu: %zu results for %zu ops, op %u failed, status %d", (unsigned long long)r->id,
			  br->n_results, n, br->failed, r->status);
	for (size_t i = 0; i < n; i++) {
		const Heapd__Response *res = br->results[i];
		if (br->failed && i + 1 > br->failed) {
			if (res->status != HEAPD__STATUS__SKIPPED || res->result_case)
				fz_broken("batch %llu: op %zu after the failed op %u: status %d",
					  (unsigned long long)r->id, i + 1, br->failed, res->status);
			continue;
		}
		int failed = i + 1 == br->failed;
		if (res->id || failed != (res->status != HEAPD__STATUS__OK) || (failed && res->status != r->status) ||
		    res->status == HEAPD__STATUS__SKIPPED || res->status == HEAPD__STATUS__INTERNAL)
			fz_broken("batch %llu: op %zu has status %d (op %u failed, status %d)", (unsigned long long)r->id,
				  i + 1, res->status, br->failed, r->status);
		Heapd__Request op;
		if (fuzz_batch_op(q->batch->ops[i], &op) != 0 || resolve_from(&op, i, br->results)) {
			if (res->status != HEAPD__STATUS__INVALID)
				fz_broken("batch %llu: op %zu is not a batch op or names a wrong op, yet status %d",
					  (unsigned long long)r->id, i + 1, res->status);
			check_error(c, NULL, res);
			continue;
		}
		check_view_limit(c, &op, res, 1);
		fz_model_reply(c->who, &op, res, 1);
		if (res->status == HEAPD__STATUS__OK)
			check_ok(c, &op, res);
		else
			check_error(c, &op, res);
	}
}

/* The arena's descriptor comes (with_fd) with the connection's first
 * map_arena answered OK, and nothing else. */
void fz_check_reply(struct conn *c, const Heapd__Response *r, int with_fd)
{
	if (!c->q_len)
		fz_broken("reply %llu with no request waiting for it", (unsigned long long)r->id);
	struct expect e = c->q[c->q_head];
	c->q_head++;
	c->q_len--;
	if (r->id != e.id)
		fz_broken("reply id %llu where %llu was due", (unsigned long long)r->id, (unsigned long long)e.id);
	int mapped = e.kind == E_REQUEST && e.req->op_case == HEAPD__REQUEST__OP_MAP_ARENA &&
		     r->status == HEAPD__STATUS__OK;
	if (with_fd != (mapped && !c->arena_got))
		fz_broken("reply %llu (status %d) %s the arena's descriptor%s", (unsigned long long)r->id, r->status,
			  with_fd ? "carries" : "lacks", c->arena_got ? ", sent before" : "");
	c->arena_got |= mapped;
	if ((unsigned)r->status > HEAPD__STATUS__INTERNAL && r->status != HEAPD__STATUS__CONFLICT)
		fz_broken("status %d is not in the protocol for a request", r->status);
	if (r->status == HEAPD__STATUS__INTERNAL)
		fz_broken("INTERNAL (a bug in heapd, by its own account): %s", r->error);
	if (r->status != HEAPD__STATUS__OK)
		check_error(c, e.req, r);
	if (e.kind != E_REQUEST) {
		if (r->status != (e.kind == E_GARBLED ? HEAPD__STATUS__PROTOCOL : HEAPD__STATUS__LIMIT))
			fz_broken("status %d for a frame that does not decode", r->status);
		return;
	}
	if (r->status == HEAPD__STATUS__PROTOCOL) {
		/* Before Hello, Hello again, or no operation: nothing done. */
	} else if (e.req->op_case == HEAPD__REQUEST__OP_BATCH) {
		check_batch(c, e.req, r);
	} else if (resolve_from(e.req, 0, NULL)) {
		if (r->status != HEAPD__STATUS__INVALID)
			fz_broken("request %llu: a *_from outside a batch, yet status %d", (unsigned long long)r->id,
				  r->status);
	} else {
		check_view_limit(c, e.req, r, 0);
		fz_model_reply(c->who, e.req, r, 0);
		if (r->status == HEAPD__STATUS__OK)
			check_ok(c, e.req, r);
	}
	heapd__request__free_unpacked(e.req, NULL);
}
