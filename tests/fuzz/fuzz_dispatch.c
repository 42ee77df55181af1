/*
 * fuzz_dispatch.c - libFuzzer target: sequences of requests on a few
 * connections, served by the daemon's own session, dispatch and
 * collector code against a live in-process engine.
 *
 * The seam. session.c does no I/O: it calls conn_read, conn_flush and
 * conn_close (server.h), which conn.c implements over a libuv pipe. This
 * file implements them instead, as the client's end of a socket: flushed
 * replies are decoded and checked at once, in the order the daemon wrote
 * them; bytes are delivered through sess_in_room/sess_received, as conn.c
 * does, only while the session reads (otherwise they wait, as in a
 * socket buffer); a close takes effect at the next turn of the harness,
 * as libuv's close callback would. There is no descriptor to pass: the
 * arena's, which the daemon sends with a map_arena reply (s->send_arena),
 * is checked to go with that reply's first byte and taken as sent. Everything else is production code on
 * a private uv loop: coll_start's handles, slices and idle work between
 * deliveries, gc waits answered by the collector.
 *
 * Input format and ref aliases: fuzzutil.h and docs/fuzzing.md. Without
 * pipelining, each frame is delivered and served (one busy and one idle
 * loop iteration, so collector slices interleave with requests) before
 * the next is read, so its aliases see every ref returned so far.
 *
 * Invariants, each an abort() with a message when broken:
 *  - every reply decodes, and a connection gets exactly one reply per
 *    whole frame, in order, with the request's id (0 for a frame that
 *    does not decode) until it is closed; no reply after a close;
 *  - no INTERNAL status; every error has a message; an OK reply carries
 *    its operation's result (ops.h's column; alloc, root_get: a nonzero
 *    ref; read: the length asked);
 *  - batches: one result per op, OK ones first, then at most one error
 *    (the reply's status), then SKIPPED; each op is checked as a request
 *    of its own (the rest of this list), its *_from fields resolved to the
 *    refs earlier results returned, and INVALID exactly when one names no
 *    earlier op returning a ref, or is set beside its literal field, or
 *    when the op is not a batch op; outside a batch, a *_from is INVALID;
 *    a batch answered without results is refused whole (LIMIT);
 *  - holds and views: a model counts each connection's holds and, apart,
 *    its views, from the replies (a batch's ops' included); release
 *    succeeds exactly when the model says the connection holds the
 *    object, view_release when it has a view of it (each ends only its
 *    own kind); get_stats reports the model's total of both, and of
 *    views, client_list
 *    each connection's holds and views; a session's holds and views
 *    together never pass max_holds_per_session, nor a uid's
 *    max_holds_per_uid, and a view gets LIMIT only at one of them; a
 *    connection's views end with it (the holds counted after, and the
 *    walk at the end);
 *  - the arena: its descriptor comes with the first byte of the first
 *    map_arena reply OK on a connection (so after every reply before it),
 *    and with nothing else; view and map_arena replies give the engine's
 *    arena_reserved, an arena_size no larger than the engine's and never
 *    smaller than one given before, and views inside it;
 *  - every reply agrees with the reference model of the heap (model.c):
 *    bounds, data, slots, roots, and no reachable object refused;
 *  - permissions: each connection is one of four identities (fuzzperm.c,
 *    chosen by the input's switch records), and PERMISSION comes exactly
 *    where the rules refuse what it asked (fuzzperm.c), changing nothing;
 *  - progress: every gc request is answered and every connection reads
 *    again within a bounded number of loop iterations; a session's input
 *    never exceeds one frame plus one read;
 *  - at the end (heapwalk.c): everything reachable from holds and named
 *    roots is readable, survives a full collection unchanged, and once
 *    every connection and root is gone a collection frees every object
 *    and every ref returned is rejected as stale.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzdispatch.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loop iterations a pump may take: far more than any input needs. */
#define PUMP_BOUND 100000u

enum expect_kind { E_REQUEST, E_GARBLED, E_OVERSIZE };

/* One whole frame sent on a connection and not yet answered. */
struct expect {
	enum expect_kind kind;
	uint64_t id;
	Heapd__Request *req; /* E_REQUEST: the request, for the checks and the model */
};

struct hold {
	heap_ref ref;
	uint64_t n;
};

/* A connection's holds, or its views (zerocopy.c keeps them apart), by
 * ref: what it was given, counting repeats. */
struct holdset {
	struct hold *v;
	size_t n, cap;
};

/* The client's end of one connection. */
struct conn {
	struct session *s;   /* NULL: not connected */
	int closed;          /* conn_close was called: freed at the next turn */
	int eof;             /* the client hung up: EOF once pend is read */
	uint8_t *pend;       /* sent, not yet read by the daemon */
	size_t pend_len, pend_cap;
	struct expect *q;    /* unanswered frames, oldest first */
	size_t q_head, q_len, q_cap;
	struct holdset holds; /* the model of s->holds */
	struct holdset views; /* the model of s->views */
	int arena_got;       /* the arena's descriptor came, with a map_arena reply */
	unsigned ident;      /* the identity it opens with next (fuzzutil.h) */
	const struct fz_who *who; /* while s: who it is */
};

static struct {
	struct server srv;
	uv_loop_t loop;
	uv_prepare_t keepalive; /* stands for the listener: keeps the loop alive */
	struct conn conn[FUZZ_SESSIONS];
	unsigned cur;           /* the connection records go to */
	int pipelining;
	struct scratch sc;      /* the harness's own decoding */
	heap_ref *refs;         /* every nonzero ref returned, in reply order */
	size_t nrefs, refs_cap;
	uint64_t arena_size;    /* the largest arena_size a reply gave so far */
} H;

void fz_broken(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz_dispatch: invariant broken: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void *fz_grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	p = realloc(p, c * elem);
	if (!p)
		fz_broken("out of memory in the harness");
	*cap = c;
	return p;
}

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
		n += conn_held(&H.conn[i]);
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
		each_in(&H.conn[i].holds, fn);
		each_in(&H.conn[i].views, fn);  /* a view keeps its object as a hold does */
	}
}

const heap_ref *fz_returned(size_t *n)
{
	*n = H.nrefs;
	return H.refs;
}

uint64_t fz_uid_holds(uint32_t uid)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		if (H.conn[i].s && H.conn[i].who->uid == uid)
			n += conn_held(&H.conn[i]);
	return n;
}

heap *fz_heap(void)
{
	return H.srv.heap;
}

const struct config *fz_config(void)
{
	return &H.srv.cfg;
}

/* ---- replies: the fake transport's read side, checked as they come ---- */

static void returned(heap_ref r)
{
	H.refs = fz_grow(H.refs, &H.refs_cap, H.nrefs + 1, sizeof *H.refs);
	H.refs[H.nrefs++] = r;
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
	uint64_t now = heap_arena_size(H.srv.heap), most = heap_arena_reserved(H.srv.heap);
	if (v->arena_reserved != most || v->arena_size > most || v->arena_size < H.arena_size || v->arena_size > now)
		fz_broken("an arena of %llu bytes, of %llu reserved (the engine's: %llu of %llu; %llu given before)",
			  (unsigned long long)v->arena_size, (unsigned long long)v->arena_reserved,
			  (unsigned long long)now, (unsigned long long)most, (unsigned long long)H.arena_size);
	H.arena_size = v->arena_size;
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
			const struct conn *c = &H.conn[k];
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
	const struct config *cfg = &H.srv.cfg;
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
	const struct config *cfg = &H.srv.cfg;
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
			views += hold_count(&H.conn[i].views);
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

/* r, the next reply on c; with_fd: the arena's descriptor came with its
 * first byte, which is right for the connection's first map_arena
 * answered OK, and for nothing else. */
static void check_reply(struct conn *c, const Heapd__Response *r, int with_fd)
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

static void forget_unanswered(struct conn *c)
{
	for (size_t i = 0; i < c->q_len; i++)
		if (c->q[c->q_head + i].req)
			heapd__request__free_unpacked(c->q[c->q_head + i].req, NULL);
	c->q_head = c->q_len = 0;
}

static struct conn *conn_of(const struct session *s)
{
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		if (H.conn[i].s == s)
			return &H.conn[i];
	fz_broken("a session the harness did not open");
	return NULL;
}

/* The harness opens its sessions itself: there is no listener. */
void lsn_turn(struct server *srv)
{
	(void)srv;
}

void conn_read(struct session *s, int on)
{
	s->reading = on;
}

/* The replies written: decoded and checked. There is no descriptor to
 * pass: the one the daemon would send (s->send_arena, conn.c) is checked
 * to go with the start of a map_arena reply, and taken as sent. */
void conn_flush(struct session *s)
{
	struct conn *c = conn_of(s);
	if (c->closed) {
		if (s->out_len || s->send_arena)
			fz_broken("%zu bytes of replies after the close%s", s->out_len,
				  s->send_arena ? ", and the arena's descriptor" : "");
		return;
	}
	int fd = s->send_arena;
	s->send_arena = 0;
	if (fd && !s->out_len)
		fz_broken("the arena's descriptor to send, with no reply to carry it");
	const uint8_t *p = s->out;
	size_t left = s->out_len;
	while (left) {
		if (left < FRAME_HEADER)
			fz_broken("a reply frame's header cut short");
		uint32_t n = fuzz_get_be32(p);
		if (n > H.srv.cfg.max_frame || n > left - FRAME_HEADER)
			fz_broken("a reply frame of %u bytes (%zu written, max_frame %u)", n, left - FRAME_HEADER,
				  H.srv.cfg.max_frame);
		Heapd__Response *r = heapd__response__unpack(NULL, n, p + FRAME_HEADER);
		if (!r)
			fz_broken("a reply that does not decode");
		check_reply(c, r, fd);
		fd = 0;
		heapd__response__free_unpacked(r, NULL);
		p += FRAME_HEADER + n;
		left -= FRAME_HEADER + n;
	}
	s->out_len = 0;
}

void conn_close(struct session *s)
{
	struct conn *c = conn_of(s);
	if (c->closed)
		return;
	c->closed = 1;
	/* sess_close freed its holds and views before closing; what was not
	 * answered never will be. */
	c->holds.n = c->views.n = 0;
	forget_unanswered(c);
}

/* ---- sending: the client's write side ---- */

static void conn_open(struct conn *c)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		fz_broken("out of memory in the harness");
	c->s = s;
	c->closed = c->eof = 0;
	c->pend_len = 0;
	c->holds.n = c->views.n = 0;
	c->arena_got = 0;
	forget_unanswered(c);
	c->who = fz_who(c->ident);
	fz_who_apply(c->who, s);  /* as admit_session would have it */
	sess_accepted(&H.srv, s);
}

/* What the daemon will make of frame (whole or cut short), decoded the
 * way it will decode it. */
static void expect_frame(struct conn *c, const uint8_t *frame, size_t len)
{
	uint32_t n;
	Heapd__Request *req;
	struct expect e = {.kind = E_REQUEST};
	switch (sess_decode(frame, len, H.srv.cfg.max_frame, &H.sc, &n, &req)) {
	case SF_PARTIAL:
		scratch_reset(&H.sc);
		return;
	case SF_OVERSIZE: e.kind = E_OVERSIZE; break;
	case SF_GARBLED: e.kind = E_GARBLED; break;
	case SF_REQUEST:
		e.id = req->id;
		/* A copy of its own: the scratch is reset below. */
		e.req = heapd__request__unpack(NULL, n, frame + FRAME_HEADER);
		if (!e.req)
			fz_broken("a request that decoded once does not decode again");
		break;
	}
	scratch_reset(&H.sc);
	if (c->q_head + c->q_len == c->q_cap && c->q_head) {
		memmove(c->q, c->q + c->q_head, c->q_len * sizeof *c->q);
		c->q_head = 0;
	}
	c->q = fz_grow(c->q, &c->q_cap, c->q_head + c->q_len + 1, sizeof *c->q);
	c->q[c->q_head + c->q_len++] = e;
}

static void send_bytes(const uint8_t *p, size_t len)
{
	struct conn *c = &H.conn[H.cur];
	if (!c->s)
		conn_open(c);
	expect_frame(c, p, len);
	c->pend = fz_grow(c->pend, &c->pend_cap, c->pend_len + len, 1);
	memcpy(c->pend + c->pend_len, p, len);
	c->pend_len += len;
}

static uint64_t alias(void *arg, uint64_t v)
{
	(void)arg;
	return fuzz_is_alias(v) && H.nrefs ? H.refs[(v - 1) % H.nrefs] : v;
}

/* A frame of the input: its aliases resolved, then sent. */
static void send_frame(const uint8_t *frame, size_t len)
{
	uint32_t n;
	Heapd__Request *req;
	if (sess_decode(frame, len, FUZZ_MAX_FRAME, &H.sc, &n, &req) == SF_REQUEST && fuzz_map_refs(req, alias, NULL)) {
		size_t m = heapd__request__get_packed_size(req);
		uint8_t *buf = malloc(FRAME_HEADER + m);
		if (!buf)
			fz_broken("out of memory in the harness");
		fuzz_put_be32(buf, (uint32_t)m);
		heapd__request__pack(req, buf + FRAME_HEADER);
		scratch_reset(&H.sc);
		send_bytes(buf, FRAME_HEADER + m);
		free(buf);
		return;
	}
	scratch_reset(&H.sc);
	send_bytes(frame, len);
}

/* ---- the loop ---- */

static void free_closed(void)
{
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++) {
		struct conn *c = &H.conn[i];
		if (c->s && c->closed) {
			sess_free(c->s);
			c->s = NULL;
			c->pend_len = 0;
			forget_unanswered(c);
			c->eof = 0;
		}
	}
}

/* One read for each connection the daemon reads and has bytes for (or
 * EOF after them); 1 if anything was delivered. */
static int deliver(void)
{
	int moved = 0;
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++) {
		struct conn *c = &H.conn[i];
		struct session *s = c->s;
		if (!s || c->closed || !s->reading)
			continue;
		if (!c->pend_len) {
			if (c->eof) {
				sess_close(s, NULL); /* conn.c's on_read at EOF */
				moved = 1;
			}
			continue;
		}
		size_t room;
		uint8_t *p = sess_in_room(s, &room);
		if (!p)
			fz_broken("out of memory in sess_in_room");
		size_t n = c->pend_len < room ? c->pend_len : room;
		memcpy(p, c->pend, n);
		memmove(c->pend, c->pend + n, c->pend_len - n);
		c->pend_len -= n;
		sess_received(s, n);
		moved = 1;
		if (!c->closed && s->in_len > FRAME_HEADER + (size_t)H.srv.cfg.max_frame + room)
			fz_broken("a session buffers %zu bytes of input", s->in_len);
	}
	return moved;
}

/* Serves what was sent: deliveries and loop iterations until nothing
 * moves; with drain, until every gc request and every allocation waiting
 * for room is answered and every byte read as well. */
static void pump(int drain)
{
	for (unsigned iter = 0;; iter++) {
		if (iter == PUMP_BOUND)
			fz_broken("no progress after %u loop iterations (a gc never answered, or a session that never reads again)",
				  PUMP_BOUND);
		int moved = deliver();
		free_closed();
		uv_run(&H.loop, UV_RUN_NOWAIT);
		free_closed();
		if (moved || !list_empty(&H.srv.ready))
			continue;
		int waiting = 0;
		for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
			waiting |= H.conn[i].s && (H.conn[i].pend_len || H.conn[i].eof);
		if (!drain || (!waiting && list_empty(&H.srv.waiters) && list_empty(&H.srv.room_waiters)))
			return;
	}
}

static void on_keepalive(uv_prepare_t *p)
{
	(void)p;
}

static void setup(void)
{
	static int once;
	if (!once) {
		log_set_level(LOGL_ERROR);
		scratch_init(&H.sc);
		once = 1;
	}
	struct server *srv = &H.srv;
	memset(srv, 0, sizeof *srv);
	config_init(&srv->cfg);
	/* Small limits, so that every limit is within an input's reach, and
	 * an eager collector, so that cycles run between requests. */
	srv->cfg.max_frame = FUZZ_MAX_FRAME;
	srv->cfg.idle_gc_period_s = 0;
	srv->cfg.state_dir[0] = '\0';  /* no snapshot: save answers INVALID */
	srv->cfg.max_bad_refs = 0;  /* invalid refs are what the model checks, not a reason to close */
	srv->cfg.heap.max_heap = (size_t)16 << 20;
	srv->cfg.heap.max_object = (size_t)1 << 20;
	srv->cfg.heap.max_holds = 256;
	srv->cfg.heap.max_roots = 64;
	srv->cfg.max_roots_per_uid = 48;   /* below max_roots: both within reach */
	srv->cfg.max_root_bytes_per_uid = 4096;
	srv->cfg.max_holds_per_uid = 384;
	srv->cfg.heap.gc_percent = 10;
	srv->cfg.heap.slice_ns = 1; /* the least work a slice does: 64 items */
	srv->cfg.heap.release_delay_ns = 0;
	/* Zero-copy for uid 0 and heapd's own, and here for gid 1001, which
	 * grants identity 2 but not identity 1; uid 1002 is listed, and
	 * read-only, which no list overrides (fuzzperm.c). config_free frees
	 * both. */
	srv->cfg.zero_copy_uids = malloc(sizeof *srv->cfg.zero_copy_uids);
	srv->cfg.zero_copy_gids = malloc(sizeof *srv->cfg.zero_copy_gids);
	if (!srv->cfg.zero_copy_uids || !srv->cfg.zero_copy_gids)
		fz_broken("out of memory in the harness");
	srv->cfg.zero_copy_uids[0] = 1002;
	srv->cfg.zero_copy_gids[0] = 1001;
	srv->cfg.n_zero_copy_uids = srv->cfg.n_zero_copy_gids = 1;
	srv->heap = heap_new(&srv->cfg.heap);
	if (!srv->heap)
		fz_broken("heap_new failed");
	if (uv_loop_init(&H.loop) != 0)
		fz_broken("uv_loop_init failed");
	srv->loop = &H.loop;
	srv->start_ns = srv_now_ns();
	list_init(&srv->sessions);
	scratch_init(&srv->scratch);
	uv_prepare_init(&H.loop, &H.keepalive);
	uv_prepare_start(&H.keepalive, on_keepalive);
	coll_start(srv);
	H.cur = 0;
	H.pipelining = 0;
	H.nrefs = 0;
	H.arena_size = 0;
}

/* The end of the input: everything answered, then the heap checked. */
static void finish(void)
{
	heap *h = H.srv.heap;
	pump(1);
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		if (H.conn[i].q_len)
			fz_broken("connection %u: %zu requests never answered", i, H.conn[i].q_len);
	struct heap_stats st;
	heap_read_stats(h, &st);
	if (st.holds != fz_model_holds())
		fz_broken("the heap counts %llu holds, the model %llu", (unsigned long long)st.holds,
			  (unsigned long long)fz_model_holds());
	uint64_t roots = 0, holds = 0;
	for (uint32_t i = 0; i < H.srv.ten_nbuckets; i++)
		for (const struct tenant *t = H.srv.ten_buckets[i]; t; t = t->next)
			roots += t->roots, holds += t->holds;
	if (roots != st.named_roots || holds != st.holds)
		fz_broken("the uids count %llu roots and %llu holds, the heap %llu and %llu", (unsigned long long)roots,
			  (unsigned long long)holds, (unsigned long long)st.named_roots, (unsigned long long)st.holds);
	fz_model_verify(h);
	fz_walk_snapshot(h);
	heap_gc(h);
	fz_walk_verify(h);
	fz_model_verify(h);
	/* Every client goes: their holds with them. */
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		if (H.conn[i].s)
			sess_close(H.conn[i].s, NULL);
	free_closed();
	fz_walk_final(h);
}

static void teardown(void)
{
	struct server *srv = &H.srv;
	coll_stop(srv);
	uv_close((uv_handle_t *)&H.keepalive, NULL);
	uv_run(&H.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&H.loop) != 0)
		fz_broken("handles left open on the loop");
	guard_stop(srv);
	ten_free_all(srv);
	heap_free(srv->heap);
	scratch_free(&srv->scratch);
	config_free(&srv->cfg);
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++) {
		struct conn *c = &H.conn[i];
		forget_unanswered(c);
		free(c->pend);
		free(c->q);
		free(c->holds.v);
		free(c->views.v);
		memset(c, 0, sizeof *c);
	}
	free(H.refs);
	H.refs = NULL;
	H.refs_cap = 0;
	fz_model_reset();
}

static void control(uint32_t ctl)
{
	if (H.pipelining)
		pump(0);
	switch (ctl) {
	case FUZZ_CTL_HANGUP:
		if (H.conn[H.cur].s) {
			H.conn[H.cur].eof = 1;
			pump(1);
		}
		break;
	case FUZZ_CTL_PIPELINE:
		H.pipelining = !H.pipelining;
		break;
	default:
		H.cur = ctl % FUZZ_SESSIONS;
		H.conn[H.cur].ident = ctl / FUZZ_SESSIONS;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	size_t off = 0;
	while (off < size) {
		if (size - off < FRAME_HEADER) {
			send_bytes(data + off, size - off); /* a header cut short */
			break;
		}
		uint32_t h = fuzz_get_be32(data + off);
		if (h >= FUZZ_CTL_BASE) {
			off += FRAME_HEADER;
			control(h - FUZZ_CTL_BASE);
			continue;
		}
		/* A header over the limit goes alone: the daemon closes on it. */
		size_t len = h > FUZZ_MAX_FRAME ? FRAME_HEADER : FRAME_HEADER + (size_t)h;
		if (len > size - off)
			len = size - off;
		send_frame(data + off, len);
		off += len;
		if (!H.pipelining)
			pump(0);
	}
	finish();
	teardown();
	return 0;
}
