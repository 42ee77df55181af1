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
 * as libuv's close callback would. Everything else is production code on
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
 *  - no INTERNAL status; every error has a message; results fit their
 *    operation (alloc, root_get: a nonzero ref; read: the length asked);
 *  - batches: one result per op, OK ones first, then at most one error
 *    (the reply's status), then SKIPPED; each op is checked as a request
 *    of its own (the rest of this list), its *_from fields resolved to the
 *    refs earlier results returned, and INVALID exactly when one names no
 *    earlier op returning a ref, or is set beside its literal field, or
 *    when the op is not a batch op; outside a batch, a *_from is INVALID;
 *    a batch answered without results is refused whole (LIMIT);
 *  - holds: a model counts each connection's holds from the replies
 *    (a batch's ops' included); release succeeds exactly when the model
 *    says the connection holds the object, and get_stats reports the
 *    model's total;
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

/* The client's end of one connection. */
struct conn {
	struct session *s;   /* NULL: not connected */
	int closed;          /* conn_close was called: freed at the next turn */
	int eof;             /* the client hung up: EOF once pend is read */
	uint8_t *pend;       /* sent, not yet read by the daemon */
	size_t pend_len, pend_cap;
	struct expect *q;    /* unanswered frames, oldest first */
	size_t q_head, q_len, q_cap;
	struct hold *holds;  /* the model of s->holds */
	size_t nholds, holds_cap;
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

static struct hold *hold_find(struct conn *c, heap_ref r)
{
	for (size_t i = 0; i < c->nholds; i++)
		if (c->holds[i].ref == r)
			return &c->holds[i];
	return NULL;
}

static void hold_add(struct conn *c, heap_ref r)
{
	struct hold *h = hold_find(c, r);
	if (!h) {
		c->holds = fz_grow(c->holds, &c->holds_cap, c->nholds + 1, sizeof *c->holds);
		h = &c->holds[c->nholds++];
		*h = (struct hold){r, 0};
	}
	h->n++;
}

uint64_t fz_model_holds(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		for (size_t j = 0; j < H.conn[i].nholds; j++)
			n += H.conn[i].holds[j].n;
	return n;
}

void fz_each_held(void (*fn)(heap_ref ref))
{
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		for (size_t j = 0; j < H.conn[i].nholds; j++)
			if (H.conn[i].holds[j].n)
				fn(H.conn[i].holds[j].ref);
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
		for (size_t j = 0; H.conn[i].s && H.conn[i].who->uid == uid && j < H.conn[i].nholds; j++)
			n += H.conn[i].holds[j].n;
	return n;
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

/* An OK reply r to q, a request or a batch op as one. */
static void check_ok(struct conn *c, const Heapd__Request *q, const Heapd__Response *r)
{
	Heapd__Response__ResultCase want = HEAPD__RESPONSE__RESULT__NOT_SET;
	switch (q->op_case) {
	case HEAPD__REQUEST__OP_HELLO: want = HEAPD__RESPONSE__RESULT_HELLO; break;
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_GET_REF:
	case HEAPD__REQUEST__OP_ROOT_GET:
	case HEAPD__REQUEST__OP_CAS_REF:
	case HEAPD__REQUEST__OP_ROOT_CAS: want = HEAPD__RESPONSE__RESULT_REF; break;
	case HEAPD__REQUEST__OP_READ: want = HEAPD__RESPONSE__RESULT_DATA; break;
	case HEAPD__REQUEST__OP_ROOT_LIST: want = HEAPD__RESPONSE__RESULT_ROOTS; break;
	case HEAPD__REQUEST__OP_GET_STATS: want = HEAPD__RESPONSE__RESULT_STATS; break;
	case HEAPD__REQUEST__OP_UID_STATS: want = HEAPD__RESPONSE__RESULT_UIDS; break;
	case HEAPD__REQUEST__OP_RETAINED: want = HEAPD__RESPONSE__RESULT_RETAINED; break;
	default: break;
	}
	if (r->result_case != want)
		fz_broken("request %llu (op %d): result %d, not %d", (unsigned long long)r->id, q->op_case, r->result_case,
			  want);
	switch (q->op_case) {
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_ROOT_GET:
		if (!r->ref)
			fz_broken("request %llu (op %d): OK with a null ref", (unsigned long long)r->id, q->op_case);
		if (q->op_case == HEAPD__REQUEST__OP_ROOT_GET || !q->alloc->into_obj)
			hold_add(c, r->ref);
		break;
	case HEAPD__REQUEST__OP_GET_REF:
		if (r->ref)
			hold_add(c, r->ref);
		break;
	case HEAPD__REQUEST__OP_RELEASE: {
		struct hold *h = hold_find(c, q->release->obj);
		if (!h || !h->n)
			fz_broken("release of %#llx succeeded with no hold", (unsigned long long)q->release->obj);
		h->n--;
		break;
	}
	case HEAPD__REQUEST__OP_READ:
		if (r->data.len != q->read->length)
			fz_broken("read of %u bytes returned %zu", q->read->length, r->data.len);
		break;
	case HEAPD__REQUEST__OP_GET_STATS:
		if (r->stats->holds != fz_model_holds())
			fz_broken("get_stats says %llu holds, the model %llu", (unsigned long long)r->stats->holds,
				  (unsigned long long)fz_model_holds());
		break;
	default:
		break;
	}
	if (r->result_case == HEAPD__RESPONSE__RESULT_REF && r->ref)
		returned(r->ref);
}

/* An error reply r to q (NULL: a frame that does not decode). */
static void check_error(struct conn *c, const Heapd__Request *q, const Heapd__Response *r)
{
	if (!r->error || !r->error[0])
		fz_broken("status %d without a message", r->status);
	if (q && q->op_case == HEAPD__REQUEST__OP_RELEASE && r->status != HEAPD__STATUS__LIMIT &&
	    r->status != HEAPD__STATUS__INVALID) {
		struct hold *h = hold_find(c, q->release->obj);
		if (h && h->n)
			fz_broken("release of a held %#llx refused: %s", (unsigned long long)q->release->obj, r->error);
	}
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
		fz_model_reply(c->who, &op, res, 1);
		if (res->status == HEAPD__STATUS__OK)
			check_ok(c, &op, res);
		else
			check_error(c, &op, res);
	}
}

static void check_reply(struct conn *c, const Heapd__Response *r)
{
	if (!c->q_len)
		fz_broken("reply %llu with no request waiting for it", (unsigned long long)r->id);
	struct expect e = c->q[c->q_head];
	c->q_head++;
	c->q_len--;
	if (r->id != e.id)
		fz_broken("reply id %llu where %llu was due", (unsigned long long)r->id, (unsigned long long)e.id);
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

void conn_flush(struct session *s)
{
	struct conn *c = conn_of(s);
	if (c->closed) {
		if (s->out_len)
			fz_broken("%zu bytes of replies after the close", s->out_len);
		return;
	}
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
		check_reply(c, r);
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
	/* sess_close freed its holds before closing; what was not answered
	 * never will be. */
	c->nholds = 0;
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
	c->nholds = 0;
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
		free(c->holds);
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
