/*
 * batch.c - heapd_batch: operations built without a connection, sent as
 * one Batch request (docs/protocol.md), and the results of its last run.
 *
 * Ops. Each op is a struct wire_req filled by wire.c's builders, as a
 * request alone would be, plus a copy of the bytes it points to (data or
 * a name), which the op owns: the caller's buffers may go at once. The
 * ops array moves as it grows, so the BatchOp messages and the pointers
 * between an op and its message are made afresh for each request
 * (hbatch_request), which is framed before the batch changes.
 *
 * References. A ref argument below 2^32 is a placeholder made by
 * heapd_batch_result(i): i + 1, which is what the wire's *_from fields
 * say ("op k, from 1"). No ref is below 2^32 (the protocol says so), so a
 * placeholder cannot be mistaken for a ref. heapd_batch_result of a
 * negative index gives UINT32_MAX, which names an op no batch has, and
 * the daemon refuses that op (INVALID). Whether a placeholder names an
 * earlier op returning a ref is the daemon's to check, not this file's:
 * one rule, in one place.
 *
 * Results. hbatch_take checks that a reply fits the batch (one result per
 * op: OK ones fitting their op, then at most the failed op with the
 * reply's status, then SKIPPED) and copies each result into res[], owned
 * by the batch, so they outlive the connection's scratch memory. They are
 * replaced by the next run, and freed by heapd_batch_reset/free. A view's
 * bytes are not copied: its result points into the connection's mapping
 * of the arena (view.h), and lives as the view does. The views the OK ops
 * made and ended are counted in the connection's vmap (by the ref each op
 * named, or the one the op its *_from names returned, as the daemon
 * resolves it) before any result is stored, so that no failure to store
 * one leaves a view the daemon made uncounted.
 *
 * Arguments. A NULL batch, a NULL name, or NULL data with a length is
 * HEAPD_EINVAL and adds nothing (a batch has no connection to say why in:
 * the caller's code names the call); asked of a NULL batch, count is 0
 * and failed -1.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "wire.h"

struct bop {
	struct wire_req w;  /* the op as a request alone; w.req's union unused */
	Heapd__BatchOp op;  /* made by hbatch_request */
	void *copy;         /* the data or name w points to */
};

struct bres {
	int status;
	char *error;        /* NULL: heapd_strerror(status) */
	heapd_ref ref;
	void *data;         /* a read's copy */
	const void *view;   /* a view's bytes, in the connection's mapping */
	size_t len;
	heapd_stats *stats;
	struct heapd_object_info *info;
	uint32_t root_meta[3];  /* root_info: the root's uid, gid, mode */
};

struct heapd_batch {
	struct bop *ops;
	size_t n, cap;
	Heapd__BatchOp **ptrs;  /* n pointers into ops, for the request */
	struct bres *res;       /* the last run: nres results */
	size_t nres;
	uint64_t id;            /* its request's id */
	int failed;             /* the op that failed, or -1 */
};

heapd_batch *heapd_batch_new(void)
{
	heapd_batch *b = calloc(1, sizeof *b);
	if (b)
		b->failed = -1;
	return b;
}

static void results_free(heapd_batch *b)
{
	for (size_t i = 0; i < b->nres; i++) {
		free(b->res[i].error);
		free(b->res[i].data);
		free(b->res[i].stats);
		free(b->res[i].info);
	}
	free(b->res);
	b->res = NULL;
	b->nres = 0;
	b->failed = -1;
}

void heapd_batch_reset(heapd_batch *b)
{
	if (!b)
		return;
	results_free(b);
	for (size_t i = 0; i < b->n; i++)
		free(b->ops[i].copy);
	b->n = 0;
}

void heapd_batch_free(heapd_batch *b)
{
	if (!b)
		return;
	heapd_batch_reset(b);
	free(b->ops);
	free(b->ptrs);
	free(b);
}

size_t heapd_batch_count(const heapd_batch *b)
{
	return b ? b->n : 0;
}

heapd_ref heapd_batch_result(int index)
{
	return index >= 0 ? (heapd_ref)index + 1 : UINT32_MAX;
}

/* A ref argument: a literal ref, or a placeholder for *_from. */
static void ref_arg(heapd_ref v, uint64_t *ref, uint32_t *from)
{
	*ref = v > UINT32_MAX ? v : 0;
	*from = v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* Appends w's op, owning a copy of the len bytes at p (NUL-terminated
 * when text), for the caller to point w's field at: *op is the new op.
 * Returns its index, or an error (the batch unchanged). */
static int add(heapd_batch *b, const struct wire_req *w, const void *p, size_t len, int text, struct bop **op)
{
	if (!b || (!p && len))
		return HEAPD_EINVAL;
	if (b->n >= INT_MAX)
		return HEAPD_ELIMIT;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		struct bop *v = realloc(b->ops, cap * sizeof *v);
		if (!v)
			return HEAPD_ENOBUFS;
		b->ops = v;
		Heapd__BatchOp **ptrs = realloc(b->ptrs, cap * sizeof *ptrs);
		if (!ptrs)
			return HEAPD_ENOBUFS;
		b->ptrs = ptrs;
		b->cap = cap;
	}
	void *copy = NULL;
	if (len || text) {
		if (!(copy = malloc(len + (text ? 1 : 0))))
			return HEAPD_ENOBUFS;
		if (len)
			memcpy(copy, p, len);
		if (text)
			((char *)copy)[len] = '\0';
	}
	*op = &b->ops[b->n];
	(*op)->w = *w;
	(*op)->copy = copy;
	return (int)b->n++;
}

int heapd_batch_alloc(heapd_batch *b, uint32_t nrefs, uint32_t nbytes)
{
	struct wire_req w;
	struct bop *o;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_alloc_into(heapd_batch *b, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			   const void *data, uint32_t len)
{
	struct wire_req w;
	struct bop *o;
	wire_alloc(&w, 0, slot, nrefs, nbytes, NULL, len);
	ref_arg(obj, &w.op.alloc.into_obj, &w.op.alloc.into_obj_from);
	int i = add(b, &w, data, len, 0, &o);
	if (i >= 0)
		o->w.op.alloc.data.data = o->copy;
	return i;
}

int heapd_batch_write(heapd_batch *b, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	struct wire_req w;
	struct bop *o;
	wire_write(&w, 0, off, NULL, len);
	ref_arg(obj, &w.op.write.obj, &w.op.write.obj_from);
	int i = add(b, &w, buf, len, 0, &o);
	if (i >= 0)
		o->w.op.write.data.data = o->copy;
	return i;
}

int heapd_batch_read(heapd_batch *b, heapd_ref obj, uint32_t off, uint32_t len)
{
	struct wire_req w;
	struct bop *o;
	wire_read(&w, 0, off, len);
	ref_arg(obj, &w.op.read.obj, &w.op.read.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_set_ref(heapd_batch *b, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	struct wire_req w;
	struct bop *o;
	wire_set_ref(&w, 0, slot, 0);
	ref_arg(obj, &w.op.set_ref.obj, &w.op.set_ref.obj_from);
	ref_arg(target, &w.op.set_ref.target, &w.op.set_ref.target_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_get_ref(heapd_batch *b, heapd_ref obj, uint32_t slot)
{
	struct wire_req w;
	struct bop *o;
	wire_get_ref(&w, 0, slot);
	ref_arg(obj, &w.op.get_ref.obj, &w.op.get_ref.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_release(heapd_batch *b, heapd_ref obj)
{
	struct wire_req w;
	struct bop *o;
	wire_release(&w, 0);
	ref_arg(obj, &w.op.release.obj, &w.op.release.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

/* Root ops: w names name (wire.c set its length); the op keeps a copy of
 * its bytes, which its field then points to. */
int heapd_batch_root_set(heapd_batch *b, const char *name, heapd_ref obj)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	struct bop *o;
	wire_root_set(&w, name, 0);
	ref_arg(obj, &w.op.root_set.obj, &w.op.root_set.obj_from);
	int i = add(b, &w, name, w.op.root_set.name.len, 0, &o);
	if (i >= 0)
		o->w.op.root_set.name.data = o->copy;
	return i;
}

int heapd_batch_root_get(heapd_batch *b, const char *name)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	struct bop *o;
	wire_root_get(&w, name);
	int i = add(b, &w, name, w.op.root_get.name.len, 0, &o);
	if (i >= 0)
		o->w.op.root_get.name.data = o->copy;
	return i;
}

int heapd_batch_root_chmod(heapd_batch *b, const char *name, uint32_t mode)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	struct bop *o;
	wire_root_chmod(&w, name, mode);
	int i = add(b, &w, name, w.op.root_chmod.name.len, 0, &o);
	if (i >= 0)
		o->w.op.root_chmod.name.data = o->copy;
	return i;
}

int heapd_batch_root_chown(heapd_batch *b, const char *name, uint32_t uid, uint32_t gid)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	struct bop *o;
	wire_root_chown(&w, name, uid, gid);
	int i = add(b, &w, name, w.op.root_chown.name.len, 0, &o);
	if (i >= 0)
		o->w.op.root_chown.name.data = o->copy;
	return i;
}

int heapd_batch_cas_ref(heapd_batch *b, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target)
{
	struct wire_req w;
	struct bop *o;
	wire_cas_ref(&w, 0, slot, 0, 0);
	ref_arg(obj, &w.op.cas_ref.obj, &w.op.cas_ref.obj_from);
	ref_arg(expected, &w.op.cas_ref.expected, &w.op.cas_ref.expected_from);
	ref_arg(target, &w.op.cas_ref.target, &w.op.cas_ref.target_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_root_cas(heapd_batch *b, const char *name, heapd_ref expected, heapd_ref target)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	struct bop *o;
	wire_root_cas(&w, name, 0, 0);
	ref_arg(expected, &w.op.root_cas.expected, &w.op.root_cas.expected_from);
	ref_arg(target, &w.op.root_cas.target, &w.op.root_cas.target_from);
	int i = add(b, &w, name, w.op.root_cas.name.len, 0, &o);
	if (i >= 0)
		o->w.op.root_cas.name.data = o->copy;
	return i;
}

int heapd_batch_get_stats(heapd_batch *b)
{
	struct wire_req w;
	struct bop *o;
	wire_op(&w, HEAPD__REQUEST__OP_GET_STATS);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_object_info(heapd_batch *b, heapd_ref obj)
{
	struct wire_req w;
	struct bop *o;
	wire_object_info(&w, 0);
	ref_arg(obj, &w.op.object_info.obj, &w.op.object_info.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_root_info(heapd_batch *b, const char *name)
{
	if (!name)
		return HEAPD_EINVAL;
	struct wire_req w;
	struct bop *o;
	wire_root_info_req(&w, name);
	int i = add(b, &w, name, w.op.root_info.name.len, 0, &o);
	if (i >= 0)
		o->w.op.root_info.name.data = o->copy;
	return i;
}

int heapd_batch_seal(heapd_batch *b, heapd_ref obj)
{
	struct wire_req w;
	struct bop *o;
	wire_seal(&w, 0);
	ref_arg(obj, &w.op.seal.obj, &w.op.seal.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_view(heapd_batch *b, heapd_ref obj)
{
	struct wire_req w;
	struct bop *o;
	wire_view(&w, 0);
	ref_arg(obj, &w.op.view.obj, &w.op.view.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

int heapd_batch_view_release(heapd_batch *b, heapd_ref obj)
{
	struct wire_req w;
	struct bop *o;
	wire_view_release(&w, 0);
	ref_arg(obj, &w.op.view_release.obj, &w.op.view_release.obj_from);
	return add(b, &w, NULL, 0, 0, &o);
}

/* ---- the request ---- */

/* The BatchOp of o, pointing at o's message. An op of no batchable
 * operation cannot be built here; it would go as an op without one, which
 * the daemon refuses (INVALID). */
static void make_op(struct bop *o)
{
	Heapd__BatchOp *m = &o->op;
	struct wire_req *w = &o->w;
	*m = (Heapd__BatchOp)HEAPD__BATCH_OP__INIT;
	switch (w->req.op_case) {
#define X(name, NAME, Type, where, ...)                      \
	case HEAPD__REQUEST__OP_##NAME:                      \
		HEAPD_IF_BATCH(where, m->op_case = HEAPD__BATCH_OP__OP_##NAME; m->name = &w->op.name;) \
		break;
		HEAPD_OPS(X)
#undef X
	HEAPD_OP_NONE_CASES:
		break;
	}
}

void hbatch_request(heapd_batch *b, struct wire_req *w)
{
	for (size_t i = 0; i < b->n; i++) {
		make_op(&b->ops[i]);
		b->ptrs[i] = &b->ops[i].op;
	}
	wire_op(w, HEAPD__REQUEST__OP_BATCH);
	w->op.batch.n_ops = b->n;
	w->op.batch.ops = b->ptrs;
}

/* ---- results ---- */

static int results_new(heapd_batch *b, uint64_t id, uint32_t nops)
{
	results_free(b);
	b->id = id;
	b->res = calloc(nops ? nops : 1, sizeof *b->res);
	if (!b->res)
		return HEAPD_ENOBUFS;
	b->nres = nops;
	return 0;
}

void hbatch_lost(heapd_batch *b, uint64_t id, uint32_t nops, int code)
{
	if (results_new(b, id, nops) != 0)
		return;
	for (size_t i = 0; i < nops; i++)
		b->res[i].status = code;
}

/* NULL if r, a result with one (wire_has_result), fits op i of b (when b
 * still has it). */
static const char *result_fits_op(const heapd_batch *b, size_t i, const Heapd__Response *r)
{
	if (i >= b->n)
		return NULL;
	const struct wire_req *w = &b->ops[i].w;
	uint32_t read_len = w->req.op_case == HEAPD__REQUEST__OP_READ ? w->op.read.length : 0;
	return wire_check_result(w->req.op_case, read_len, r);
}

static int store_result(struct bres *x, const Heapd__Response *r, int status)
{
	x->status = status;
	if (status && status != HEAPD_ESKIPPED && r->error && r->error[0] && !(x->error = strdup(r->error)))
		return HEAPD_ENOBUFS;
	if (!wire_has_result(status))
		return 0;
	switch (r->result_case) {
	case HEAPD__RESPONSE__RESULT_REF:
		x->ref = r->ref;
		break;
	case HEAPD__RESPONSE__RESULT_DATA:
		x->len = r->data.len;
		if (!(x->data = malloc(x->len ? x->len : 1)))
			return HEAPD_ENOBUFS;
		if (x->len)
			memcpy(x->data, r->data.data, x->len);
		break;
	case HEAPD__RESPONSE__RESULT_STATS:
		if (!(x->stats = malloc(sizeof *x->stats)))
			return HEAPD_ENOBUFS;
		wire_stats(r->stats, x->stats);
		break;
	case HEAPD__RESPONSE__RESULT_INFO:
		if (!(x->info = malloc(sizeof *x->info)))
			return HEAPD_ENOBUFS;
		wire_object_info_of(r->info, x->info);
		x->root_meta[0] = r->info->uid;
		x->root_meta[1] = r->info->gid;
		x->root_meta[2] = r->info->mode;
		break;
	default:
		break;
	}
	return 0;
}

/* The ref op i of b names, ref or from (its *_from): the literal ref, or
 * the one the earlier op from names returned in br. -1 with *bad when the
 * op ran OK though it names none (a lie). */
static int named_ref(const Heapd__BatchReply *br, size_t i, uint64_t ref, uint32_t from, uint64_t *out,
		     const char **bad)
{
	if (!from) {
		*out = ref;
		return 0;
	}
	if (from > i || br->results[from - 1]->result_case != HEAPD__RESPONSE__RESULT_REF) {
		*bad = "a batch's view op ran on a ref no earlier op returned";
		return -1;
	}
	*out = br->results[from - 1]->ref;
	return 0;
}

/* The views made and ended by the first nok ops of b (those that ran OK),
 * counted in m: 0; HEAPD_EPROTO (a lie); or HEAPD_ENOBUFS (the counts
 * cannot grow); *bad says which. */
static int count_views(const heapd_batch *b, const Heapd__BatchReply *br, size_t nok, struct vmap *m,
		       const char **bad)
{
	for (size_t i = 0; i < nok && i < b->n; i++) {
		const struct wire_req *w = &b->ops[i].w;
		uint64_t ref;
		if (w->req.op_case == HEAPD__REQUEST__OP_VIEW) {
			if (named_ref(br, i, w->op.view.obj, w->op.view.obj_from, &ref, bad) != 0)
				return HEAPD_EPROTO;
			if (vmap_viewed(m, ref, br->results[i]->view->length) != 0) {
				*bad = "out of memory for the connection's view counts";
				return HEAPD_ENOBUFS;
			}
		} else if (w->req.op_case == HEAPD__REQUEST__OP_VIEW_RELEASE) {
			if (named_ref(br, i, w->op.view_release.obj, w->op.view_release.obj_from, &ref, bad) != 0)
				return HEAPD_EPROTO;
			vmap_unviewed(m, ref);
		}
	}
	return 0;
}

/* An OK view op's result x: its bytes, or the failure that kept the
 * arena from being mapped. HEAPD_EPROTO for a lie (*bad says it). */
static int view_result(struct bres *x, const Heapd__ViewReply *v, struct vmap *m, const char **bad)
{
	int err = vmap_view(m, v, &x->view);
	if (err == HEAPD_EPROTO) {
		*bad = m->error;
		return err;
	}
	if (err) {
		x->status = err;
		return (x->error = strdup(m->error)) ? 0 : HEAPD_ENOBUFS;
	}
	x->len = v->length;
	return 0;
}

/* NULL if br, the results of a batch of nops ops whose reply has status
 * code, fits b: one result per op, in order, each fitting its op. */
static const char *results_fit(const heapd_batch *b, uint32_t nops, const Heapd__BatchReply *br, int code)
{
	if (br->n_results != nops || br->failed > nops || !br->failed != !code || code == HEAPD_ESKIPPED)
		return "batch reply that does not fit the batch";
	for (size_t i = 0; i < nops; i++) {
		const Heapd__Response *r = br->results[i];
		int st = wire_status(r);
		int want = !br->failed || i + 1 < br->failed ? HEAPD_OK : i + 1 == br->failed ? code : HEAPD_ESKIPPED;
		if (st != want)
			return "batch results out of order";
		const char *bad = wire_has_result(st) ? result_fits_op(b, i, r) : NULL;
		if (bad)
			return bad;
	}
	return NULL;
}

int hbatch_take(heapd_batch *b, uint64_t id, uint32_t nops, const Heapd__Response *resp, struct vmap *m,
		const char **bad)
{
	int code = wire_status(resp);
	*bad = NULL;
	if (resp->result_case != HEAPD__RESPONSE__RESULT_BATCH) {
		if (!code) {
			*bad = "batch reply without results";
			return HEAPD_EPROTO;
		}
		/* Refused whole: nothing ran. */
		if (results_new(b, id, nops) != 0)
			return HEAPD_ENOBUFS;
		for (size_t i = 0; i < nops; i++)
			b->res[i].status = HEAPD_ESKIPPED;
		return 0;
	}
	const Heapd__BatchReply *br = resp->batch;
	if ((*bad = results_fit(b, nops, br, code)) != NULL)
		return HEAPD_EPROTO;
	int err = count_views(b, br, br->failed ? br->failed - 1 : nops, m, bad);
	if (err)
		return err;
	if (results_new(b, id, nops) != 0)
		return HEAPD_ENOBUFS;
	for (size_t i = 0; i < nops; i++) {
		const Heapd__Response *r = br->results[i];
		int st = wire_status(r);
		if (store_result(&b->res[i], r, st) != 0)
			return HEAPD_ENOBUFS;
		if (st == HEAPD_OK && i < b->n && b->ops[i].w.req.op_case == HEAPD__REQUEST__OP_VIEW &&
		    (err = view_result(&b->res[i], r->view, m, bad)) != 0)
			return err;
	}
	b->failed = br->failed ? (int)br->failed - 1 : -1;
	return 0;
}

int heapd_batch_failed(const heapd_batch *b)
{
	return b ? b->failed : -1;
}

int heapd_batch_reply(const heapd_batch *b, int index, heapd_reply *r)
{
	if (!r)
		return HEAPD_EINVAL;
	if (!b) {
		*r = (heapd_reply){.status = HEAPD_EINVAL, .error = "heapd_batch_reply: b is NULL"};
		return HEAPD_EINVAL;
	}
	if (index < 0 || (size_t)index >= b->nres) {
		*r = (heapd_reply){.status = HEAPD_EINVAL, .error = "no such op in the batch's last run"};
		return HEAPD_EINVAL;
	}
	const struct bres *x = &b->res[index];
	*r = (heapd_reply){
		.status = x->status,
		.error = x->error ? x->error : x->status ? heapd_strerror(x->status) : "",
		.ref = x->ref,
		.data = x->data ? x->data : x->view,
		.len = x->len,
		.stats = x->stats,
		.id = b->id,
		.info = x->info,
		.root_uids = x->info ? &x->root_meta[0] : NULL,
		.root_gids = x->info ? &x->root_meta[1] : NULL,
		.root_modes = x->info ? &x->root_meta[2] : NULL,
	};
	return x->status;
}
