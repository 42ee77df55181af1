/*
 * batch.c - a batch: several operations in one request, run in order in
 * one turn of the loop, answered with one reply (docs/protocol.md).
 *
 * Order and failure. Op i runs only if every op before it succeeded. The
 * first op that fails ends the run: its result carries its error, every
 * later op is SKIPPED, and the reply's status is the failed op's, its
 * message the op's prefixed with the op's index, and BatchReply.failed
 * that index + 1. So the results always read: OK..., then at most one
 * error, then SKIPPED...; a client knows exactly what took effect.
 *
 * Numbers. Messages number ops from 0, as libheapd's API does (op 0 is
 * the first); the wire's fields count from 1 (failed, *_from), 0 there
 * meaning none. Messages a client library passes on name a ref argument
 * as the C API does (arg_name), never by its *_from twin.
 *
 * References. A ref field's *_from twin names an earlier op by its number
 * (from 1) and stands for the ref that op returned. Since every earlier op
 * succeeded, the only ways to get one wrong are to name this op, a later
 * one or none, to name an op whose result is not a ref, or to set the
 * literal field as well; each is INVALID for the op that does it. A named
 * get_ref that found an empty slot stands for 0, the null ref, as it would
 * be to a client. Outside a batch, a *_from field is INVALID.
 *
 * Holds and the collector. Each op is a request of its own to the engine
 * (disp_op): alloc (not into), get_ref and root_get add one hold in
 * s->holds, taken inside the engine call (heap_alloc with a hold set roots
 * the object before it returns), so what an op returned is rooted before
 * the next op runs, and an assist in a later op (the collector runs inside
 * heap_alloc when the mutator outruns it) cannot free it. alloc_into's
 * object is reachable through the slot it went into, for as long as the
 * slot holds it, as outside a batch. gc and free_os_memory, which wait for
 * the collector, are not batch ops; nor are hello, ping, root_list,
 * uid_stats and batch. BatchOp has no field for them, so a batch cannot nest and
 * decoding one never recurses; one sent anyway is an unknown field, and
 * that op gets INVALID.
 *
 * The reply fits in max_frame_size, without sess_reply's net (a LIMIT
 * reply replacing one too large would hide what took effect). Up front:
 * at most max_batch_ops ops, and room for each to be SKIPPED, else LIMIT
 * and nothing runs. Then, op by op, the room an op may take is what is
 * left once every later op is counted as SKIPPED and BATCH_OVERHEAD is
 * kept for the envelope and a failure's messages: a read longer than
 * that, or stats that do not fit, fail with LIMIT; any other op needs
 * SMALL_RESULT of room, or fails with LIMIT before it runs.
 *
 * Turns. A batch is the session's only request until it is answered, but
 * not the loop's: when it runs past the turn's budget (sess_turn_over),
 * it stops between two ops and is held (sess_hold) for the session's next
 * turn, after every other session has had one; an alloc that finds no
 * room under max_heap holds it until the collection in flight is done,
 * then runs once more (a second failure is its error). So another
 * client's request may run between two ops of a batch, and see what the
 * first ones did; a batch was never a transaction (nothing is undone when
 * an op fails), and its ops still run in order, each once, with nothing
 * else of its session in between. Its progress (struct batch_state)
 * lives with its request in the scratch memory that sess_hold moves into
 * the session.
 *
 * Conditions. A batch with a cas_ref or root_cas op (st->whole) is never
 * held: it runs whole in the turn it starts in, past the budget, and an
 * alloc in it that finds no room fails with NO_MEMORY at once (no_wait)
 * rather than wait for a collection. So no other client's request runs
 * between a CAS and the ops after it, and a CAS first makes the batch
 * conditional: the ops after it run only if it swapped, on the state it
 * checked. The price is a turn as long as the batch, so such a batch has
 * at most max_cas_batch_ops ops (else LIMIT, and none runs).
 */
#include <stdio.h>
#include <string.h>

#include "reffields.h"
#include "server.h"

#define BATCH_OVERHEAD 1024u /* id, status, the failed op's message twice, headers */
#define SKIPPED_COST 4u      /* one SKIPPED result: its entry's header, 2, and status, 2 */
#define SMALL_RESULT 32u     /* the most an op but read and get_stats returns (a ref: 13) */
#define DATA_OVERHEAD 16u    /* a read result's entry besides its data: headers */

int batch_stray_from(Heapd__Request *req, struct disp_reply *rp)
{
	struct heapd_ref_field f[HEAPD_MAX_REFS];
	int n = heapd_ref_fields(req, f);
	for (int i = 0; i < n; i++) {
		if (*f[i].from) {
			disp_fail(rp, HEAPD__STATUS__INVALID, "%s: %s_from names a batch op, outside a batch",
				  disp_op_name(req->op_case), f[i].name);
			return -1;
		}
	}
	return 0;
}

/* The field numbers of BatchOp are the Request's (heapd.proto). */
#define X(name, NAME, Type, where, ...)                                                         \
	HEAPD_IF_BATCH(where, _Static_assert((int)HEAPD__BATCH_OP__OP_##NAME == (int)HEAPD__REQUEST__OP_##NAME, \
					     "BatchOp." #name " is Request's");)
HEAPD_OPS(X)
#undef X

/* q as the request op would be alone; -1 if op holds no batch op. */
static int as_request(const Heapd__BatchOp *op, Heapd__Request *q)
{
	*q = (Heapd__Request)HEAPD__REQUEST__INIT;
	switch (op->op_case) {
#define X(name, NAME, Type, where, ...)                                 \
	HEAPD_IF_BATCH(where, case HEAPD__BATCH_OP__OP_##NAME:          \
		       q->name = op->name;                              \
		       q->op_case = HEAPD__REQUEST__OP_##NAME;          \
		       return 0;)
		HEAPD_OPS(X)
#undef X
	case HEAPD__BATCH_OP__OP__NOT_SET:
	case _HEAPD__BATCH_OP__OP__CASE_IS_INT_SIZE:
		break;
	}
	return -1;
}

/* Bytes a result takes in the BatchReply: field header, length, body. */
static size_t entry_size(const Heapd__Response *r)
{
	size_t n = heapd__response__get_packed_size(r), len = 1;
	for (size_t v = n; v >= 128; v >>= 7)
		len++;
	return 1 + len + n;
}

/* A ref field as messages name it: the C API's argument (alloc's into_obj
 * is heapd_batch_alloc_into's obj). */
static const char *arg_name(const char *field)
{
	return strncmp(field, "into_", 5) == 0 ? field + 5 : field;
}

/* What a bad *_from message ends with: a C caller gave a small number as a
 * ref (libheapd's heapd_batch_result(i) is i + 1), so say what it was taken
 * for. */
#define PLACEHOLDER_HINT "; a ref below 2^32 stands for the result of a batch op"

/* Replaces each *_from of q (op number i, from 0) by the ref it names. */
static int resolve(Heapd__Request *q, size_t i, Heapd__Response *const *res, struct disp_reply *rp)
{
	struct heapd_ref_field f[HEAPD_MAX_REFS];
	int n = heapd_ref_fields(q, f);
	const char *what = disp_op_name(q->op_case);
	for (int k = 0; k < n; k++) {
		uint32_t from = *f[k].from;
		if (!from)
			continue;
		if (*f[k].ref) {
			disp_fail(rp, HEAPD__STATUS__INVALID, "%s: both %s and %s_from are set", what, f[k].name,
				  f[k].name);
			return -1;
		}
		if (from > i) {
			disp_fail(rp, HEAPD__STATUS__INVALID,
				  "%s: %s is the result of op %u, which does not come before this op (%zu)" PLACEHOLDER_HINT,
				  what, arg_name(f[k].name), from - 1, i);
			return -1;
		}
		if (res[from - 1]->result_case != HEAPD__RESPONSE__RESULT_REF) {
			disp_fail(rp, HEAPD__STATUS__INVALID,
				  "%s: %s is the result of op %u, which is not a ref" PLACEHOLDER_HINT, what,
				  arg_name(f[k].name), from - 1);
			return -1;
		}
		*f[k].ref = res[from - 1]->ref;
		*f[k].from = 0;
	}
	return 0;
}

/* Op i (from 0) into rp, taking at most room bytes of the reply. */
static void run_op(struct session *s, const Heapd__BatchOp *op, size_t i, Heapd__Response *const *res, size_t room,
		   struct disp_reply *rp)
{
	Heapd__Request q;
	if (as_request(op, &q) != 0) {
		const ProtobufCMessage *m = &op->base;
		if (m->n_unknown_fields)
			disp_fail(rp, HEAPD__STATUS__INVALID, "%s is not a batch op", disp_op_name(m->unknown_fields[0].tag));
		else
			disp_fail(rp, HEAPD__STATUS__INVALID, "an op without an operation");
		return;
	}
	if (resolve(&q, i, res, rp) != 0)
		return;
	if (room < SMALL_RESULT) {
		disp_fail(rp, HEAPD__STATUS__LIMIT, "%s: no room left in the batch's reply (max_frame_size %u)",
			  disp_op_name(q.op_case), s->srv->cfg.max_frame);
		return;
	}
	disp_op(s, &q, room - DATA_OVERHEAD, rp);
	if (rp->r.status == HEAPD__STATUS__OK && entry_size(&rp->r) > room) {
		/* Only get_stats can get here, and it changed nothing. */
		rp->r.result_case = HEAPD__RESPONSE__RESULT__NOT_SET;
		disp_fail(rp, HEAPD__STATUS__LIMIT,
			  "%s: the result does not fit in the batch's reply (max_frame_size %u)", disp_op_name(q.op_case),
			  s->srv->cfg.max_frame);
	}
}

/* A batch's progress, in the scratch memory its request lives in, so it
 * can be held past a turn (sess_hold) and go on where it stopped. */
struct batch_state {
	const Heapd__Batch *b;
	size_t next;               /* the op to run next, from 0 */
	size_t limit, used;        /* room for the results, and what they took */
	int retry;                 /* op next found no room once: last try */
	int whole;                 /* it has a CAS: it runs in this turn, whole */
	Heapd__BatchReply *br;
	Heapd__Response **res;
	struct disp_reply out;
};

/* Runs ops from st->next on: to the end, replying, or until the turn is
 * over or an op waits for room, holding the batch. At least one op runs
 * per call, so a held batch always finishes. */
static void step(struct session *s, struct batch_state *st)
{
	struct scratch *sc = &s->srv->scratch;
	size_t n = st->b->n_ops, first = st->next;
	Heapd__BatchReply *br = st->br;
	Heapd__Response **res = st->res;
	for (; st->next < n; st->next++) {
		size_t i = st->next;
		if (br->failed) {
			res[i]->status = HEAPD__STATUS__SKIPPED;
			continue;
		}
		if (i > first && !st->whole && sess_turn_over(s->srv)) {
			sess_hold(s, HELD_TURN, NULL, st);
			return;
		}
		struct disp_reply rp;
		disp_reply_init(&rp, 0);
		rp.retried = st->retry;
		rp.no_wait = st->whole;
		st->retry = 0;
		run_op(s, st->b->ops[i], i, res, st->limit - st->used - SKIPPED_COST * (n - 1 - i), &rp);
		if (rp.wait_room) {
			st->retry = 1;
			sess_hold(s, HELD_ROOM, NULL, st);
			coll_wait_room(s);
			return;
		}
		*res[i] = rp.r;
		if (rp.r.status == HEAPD__STATUS__OK) {
			st->used += entry_size(res[i]);
			continue;
		}
		size_t len = strlen(rp.msg) + 1;
		char *msg = scratch_alloc(sc, len);
		res[i]->error = msg ? memcpy(msg, rp.msg, len) : "out of memory";
		br->failed = (uint32_t)(i + 1);
		disp_fail(&st->out, rp.r.status, "batch op %zu: %s", i, rp.msg);
	}
	br->n_results = n;
	br->results = res;
	st->out.r.result_case = HEAPD__RESPONSE__RESULT_BATCH;
	st->out.r.batch = br;
	sess_reply(s, &st->out.r);
}

void batch_resume(struct session *s, struct batch_state *st)
{
	step(s, st);
}

/* Whether b has a cas_ref or root_cas op. */
static int has_cas(const Heapd__Batch *b)
{
	for (size_t i = 0; i < b->n_ops; i++)
		if (b->ops[i]->op_case == HEAPD__BATCH_OP__OP_CAS_REF ||
		    b->ops[i]->op_case == HEAPD__BATCH_OP__OP_ROOT_CAS)
			return 1;
	return 0;
}

/* A new batch's progress, every result OK so far; NULL if out of memory. */
static struct batch_state *start(struct scratch *sc, uint64_t id, const Heapd__Batch *b, size_t limit)
{
	size_t n = b->n_ops;
	struct batch_state *st = scratch_alloc(sc, sizeof *st);
	Heapd__BatchReply *br = scratch_alloc(sc, sizeof *br);
	Heapd__Response **res = scratch_alloc(sc, (n + 1) * sizeof *res);
	Heapd__Response *rv = scratch_alloc(sc, (n + 1) * sizeof *rv);
	if (!st || !br || !res || !rv)
		return NULL;
	heapd__batch_reply__init(br);
	for (size_t i = 0; i < n; i++) {
		res[i] = &rv[i];
		heapd__response__init(res[i]);
	}
	*st = (struct batch_state){.b = b, .limit = limit, .br = br, .res = res, .whole = has_cas(b)};
	disp_reply_init(&st->out, id);
	return st;
}

void batch_run(struct session *s, uint64_t id, const Heapd__Batch *b)
{
	const struct config *cfg = &s->srv->cfg;
	size_t n = b->n_ops, limit = cfg->max_frame - BATCH_OVERHEAD;
	struct disp_reply out;
	disp_reply_init(&out, id);
	if (n > cfg->max_batch_ops) {
		disp_fail(&out, HEAPD__STATUS__LIMIT, "batch: %zu ops, more than max_batch_ops %u", n,
			  cfg->max_batch_ops);
	} else if (n > cfg->max_cas_batch_ops && has_cas(b)) {
		disp_fail(&out, HEAPD__STATUS__LIMIT, "batch: %zu ops with a compare-and-swap, more than max_cas_batch_ops %u",
			  n, cfg->max_cas_batch_ops);
	} else if (n * SKIPPED_COST > limit) {
		disp_fail(&out, HEAPD__STATUS__LIMIT, "batch: the reply to %zu ops cannot fit in max_frame_size %u", n,
			  cfg->max_frame);
	} else {
		struct batch_state *st = start(&s->srv->scratch, id, b, limit);
		if (st) {
			step(s, st);
			return;
		}
		disp_fail(&out, HEAPD__STATUS__INTERNAL, "batch: out of memory");
	}
	sess_reply(s, &out.r);
}
