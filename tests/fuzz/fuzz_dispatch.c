/*
 * fuzz_dispatch.c - libFuzzer target: sequences of requests on a few
 * connections, served by the daemon's own session, dispatch and
 * collector code against a live in-process engine.
 *
 * The seam. session.c does no I/O: it calls conn_read, conn_flush and
 * conn_close (server.h), which conn.c implements over a libuv pipe. This
 * file implements them instead, as the client's end of a socket: flushed
 * replies are decoded and checked at once (replies.c), in the order the
 * daemon wrote them; bytes are delivered through sess_in_room and
 * sess_received, as conn.c does, only while the session reads (otherwise
 * they wait, as in a socket buffer); a close takes effect at the next turn
 * of the harness, as libuv's close callback would. There is no descriptor
 * to pass: the arena's, which the daemon sends with a map_arena reply
 * (s->send_arena), is checked to go with that reply's first byte and taken
 * as sent. Everything else is production code on a private uv loop:
 * coll_start's handles, slices and idle work between deliveries, gc waits
 * answered by the collector.
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
 *    views, client_list each connection's holds and views; a session's
 *    holds and views together never pass max_holds_per_session, nor a uid's
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
 *  - no descriptor outlives the input (the arena's memfd, the read-only
 *    one map_arena opens, the loop's);
 *  - at the end (heapwalk.c): everything reachable from holds and named
 *    roots is readable, survives a full collection unchanged, and once
 *    every connection and root is gone a collection frees every object
 *    and every ref returned is rejected as stale.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzharness.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loop iterations a pump may take: far more than any input needs. */
#define PUMP_BOUND 100000u

struct fz_harness fz;

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
		if (fz.conn[i].s == s)
			return &fz.conn[i];
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
		if (n > fz.srv.cfg.max_frame || n > left - FRAME_HEADER)
			fz_broken("a reply frame of %u bytes (%zu written, max_frame %u)", n, left - FRAME_HEADER,
				  fz.srv.cfg.max_frame);
		Heapd__Response *r = heapd__response__unpack(NULL, n, p + FRAME_HEADER);
		if (!r)
			fz_broken("a reply that does not decode");
		fz_check_reply(c, r, fd);
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
	sess_accepted(&fz.srv, s);
}

/* What the daemon will make of frame (whole or cut short), decoded the
 * way it will decode it. */
static void expect_frame(struct conn *c, const uint8_t *frame, size_t len)
{
	uint32_t n;
	Heapd__Request *req;
	struct expect e = {.kind = E_REQUEST};
	switch (sess_decode(frame, len, fz.srv.cfg.max_frame, &fz.sc, &n, &req)) {
	case SF_PARTIAL:
		scratch_reset(&fz.sc);
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
	scratch_reset(&fz.sc);
	if (c->q_head + c->q_len == c->q_cap && c->q_head) {
		memmove(c->q, c->q + c->q_head, c->q_len * sizeof *c->q);
		c->q_head = 0;
	}
	c->q = fz_grow(c->q, &c->q_cap, c->q_head + c->q_len + 1, sizeof *c->q);
	c->q[c->q_head + c->q_len++] = e;
}

static void send_bytes(const uint8_t *p, size_t len)
{
	struct conn *c = &fz.conn[fz.cur];
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
	return fuzz_is_alias(v) && fz.nrefs ? fz.refs[(v - 1) % fz.nrefs] : v;
}

/* A frame of the input: its aliases resolved, then sent. */
static void send_frame(const uint8_t *frame, size_t len)
{
	uint32_t n;
	Heapd__Request *req;
	if (sess_decode(frame, len, FUZZ_MAX_FRAME, &fz.sc, &n, &req) == SF_REQUEST && fuzz_map_refs(req, alias, NULL)) {
		size_t m = heapd__request__get_packed_size(req);
		uint8_t *buf = malloc(FRAME_HEADER + m);
		if (!buf)
			fz_broken("out of memory in the harness");
		fuzz_put_be32(buf, (uint32_t)m);
		heapd__request__pack(req, buf + FRAME_HEADER);
		scratch_reset(&fz.sc);
		send_bytes(buf, FRAME_HEADER + m);
		free(buf);
		return;
	}
	scratch_reset(&fz.sc);
	send_bytes(frame, len);
}

/* ---- the loop ---- */

static void free_closed(void)
{
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++) {
		struct conn *c = &fz.conn[i];
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
		struct conn *c = &fz.conn[i];
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
		if (!c->closed && s->in_len > FRAME_HEADER + (size_t)fz.srv.cfg.max_frame + room)
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
		uv_run(&fz.loop, UV_RUN_NOWAIT);
		free_closed();
		if (moved || !list_empty(&fz.srv.ready))
			continue;
		int waiting = 0;
		for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
			waiting |= fz.conn[i].s && (fz.conn[i].pend_len || fz.conn[i].eof);
		if (!drain || (!waiting && list_empty(&fz.srv.waiters) && list_empty(&fz.srv.room_waiters)))
			return;
	}
}

static void on_keepalive(uv_prepare_t *p)
{
	(void)p;
}

/* What the process keeps across inputs, made once: so is libuv's own
 * (its signal pipe, made at the first loop's start), before the first
 * input counts the descriptors open. */
static void init_once(void)
{
	static int once;
	if (once)
		return;
	log_set_level(LOGL_ERROR);
	scratch_init(&fz.sc);
	uv_loop_t l;
	if (uv_loop_init(&l) != 0 || uv_loop_close(&l) != 0)
		fz_broken("uv_loop_init failed");
	once = 1;
}

static void setup(void)
{
	struct server *srv = &fz.srv;
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
	if (uv_loop_init(&fz.loop) != 0)
		fz_broken("uv_loop_init failed");
	srv->loop = &fz.loop;
	srv->start_ns = srv_now_ns();
	list_init(&srv->sessions);
	scratch_init(&srv->scratch);
	uv_prepare_init(&fz.loop, &fz.keepalive);
	uv_prepare_start(&fz.keepalive, on_keepalive);
	coll_start(srv);
	fz.cur = 0;
	fz.pipelining = 0;
	fz.nrefs = 0;
	fz.arena_size = 0;
}

/* The end of the input: everything answered, then the heap checked. */
static void finish(void)
{
	heap *h = fz.srv.heap;
	pump(1);
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++)
		if (fz.conn[i].q_len)
			fz_broken("connection %u: %zu requests never answered", i, fz.conn[i].q_len);
	struct heap_stats st;
	heap_read_stats(h, &st);
	if (st.holds != fz_model_holds())
		fz_broken("the heap counts %llu holds, the model %llu", (unsigned long long)st.holds,
			  (unsigned long long)fz_model_holds());
	uint64_t roots = 0, holds = 0;
	for (uint32_t i = 0; i < fz.srv.ten_nbuckets; i++)
		for (const struct tenant *t = fz.srv.ten_buckets[i]; t; t = t->next)
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
		if (fz.conn[i].s)
			sess_close(fz.conn[i].s, NULL);
	free_closed();
	fz_walk_final(h);
}

static void teardown(void)
{
	struct server *srv = &fz.srv;
	coll_stop(srv);
	uv_close((uv_handle_t *)&fz.keepalive, NULL);
	uv_run(&fz.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&fz.loop) != 0)
		fz_broken("handles left open on the loop");
	guard_stop(srv);
	ten_free_all(srv);
	zc_close(srv);  /* the arena's read-only descriptor, as heapd's main does */
	heap_free(srv->heap);
	scratch_free(&srv->scratch);
	config_free(&srv->cfg);
	for (unsigned i = 0; i < FUZZ_SESSIONS; i++) {
		struct conn *c = &fz.conn[i];
		forget_unanswered(c);
		free(c->pend);
		free(c->q);
		free(c->holds.v);
		free(c->views.v);
		memset(c, 0, sizeof *c);
	}
	free(fz.refs);
	fz.refs = NULL;
	fz.refs_cap = 0;
	fz_model_reset();
}

static void control(uint32_t ctl)
{
	if (fz.pipelining)
		pump(0);
	switch (ctl) {
	case FUZZ_CTL_HANGUP:
		if (fz.conn[fz.cur].s) {
			fz.conn[fz.cur].eof = 1;
			pump(1);
		}
		break;
	case FUZZ_CTL_PIPELINE:
		fz.pipelining = !fz.pipelining;
		break;
	default:
		fz.cur = ctl % FUZZ_SESSIONS;
		fz.conn[fz.cur].ident = ctl / FUZZ_SESSIONS;
		break;
	}
}

/* Descriptors open (the listing's own included, each time). */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		fz_broken("cannot list /proc/self/fd");
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	int fds = open_fds();
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
		if (!fz.pipelining)
			pump(0);
	}
	finish();
	teardown();
	if (open_fds() != fds)
		fz_broken("%d descriptors open after the input, %d before (the arena's, its read-only one, a loop's?)",
			  open_fds(), fds);
	return 0;
}
