/*
 * session.c - one client connection: framing, buffers, backpressure, close.
 *
 * Input. Bytes are read into s->in. A frame is a 4-byte big-endian length
 * N and N bytes of Request. N is checked against max_frame_size before the
 * buffer grows for the body: a larger N (4 GiB of nothing, or HTTP sent to
 * the wrong socket) means the byte stream cannot be trusted, so the session
 * gets one error reply and is closed. A body that does not decode is
 * answered with a PROTOCOL error and the session goes on: the framing still
 * holds. So s->in never exceeds one frame plus one read, and shrinks back
 * to about one read once a larger frame is handled (in_trim).
 *
 * Output. Replies are packed into s->out while a batch of requests is
 * processed (a flat one straight into room for the most it can take, see
 * proto/bound.c), then written at once when nothing is in flight
 * (uv_try_write), the rest handed to libuv in one write. s->queued counts
 * bytes handed over and not yet written. s->out keeps its memory between
 * turns only up to OUT_KEEP (conn.c). When queued + out_len passes
 * max_output_buffer, the session stops reading and stops processing
 * (backpressure): a client that writes requests and never reads replies
 * costs at most one frame in and max_output_buffer out. It resumes below
 * half of that. The same holds for a uid's sessions together and
 * max_output_per_uid (tenant.c), so many connections of one uid cannot
 * multiply what it may leave unread.
 *
 * Fairness. What one session makes the loop do, every other waits for, so
 * a turn is bounded by cost, not by count alone: at most
 * REQUESTS_PER_TURN requests, and no more work than a collector slice's
 * time (gc_slice_us; disp_op counts bytes touched, and the clock is read
 * every TURN_LOOK of them). A session with more to do goes on
 * server.ready and gets another turn after the others have had theirs
 * (collector.c's check callback). A batch is the one request that can
 * outlast a turn: batch.c stops between two ops and holds the rest
 * (sess_hold) for the session's next turn. So is an allocation that found
 * no room under max_heap: it is held until the collection the engine
 * started for it is done (coll_wait_room), then run once more; and a
 * map_arena behind unwritten replies, held until they are written
 * (HELD_FLUSH: its reply must be the first byte sent after them). A held
 * request moves the scratch memory its decoding lives in into the
 * session (s->held), and nothing else of the session runs before it is
 * done; every turn at least one op of it runs, so it always finishes.
 *
 * Guessing. A session whose uid presents invalid refs faster than
 * max_bad_refs a minute is closed once the request is answered (guard.c).
 *
 * Lifetime. sess_close() drops the session's holds at once, sends its last
 * replies, and closes the handle when they are written (or failed); the
 * memory is freed in the close callback (sess_free).
 *
 * No I/O here: bytes come in through sess_in_room() and sess_received(),
 * and leave through the transport's conn_read, conn_flush and conn_close
 * (conn.c, a libuv pipe). Decoding a frame is sess_decode(), a pure
 * function of the bytes, which the fuzzer in tests/fuzz calls as this
 * file does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bound.h"
#include "log.h"
#include "server.h"

#define REQUESTS_PER_TURN 64
#define READ_SIZE (64u << 10)

/* The uid's figure is as of its sessions' last ten_output_sync(): once a
 * turn, after its replies were handed to the socket, and after writes. */
static int backpressured(const struct session *s)
{
	return s->ten->output_held || s->queued + s->out_len > s->srv->cfg.max_output;
}

static void unlink_if(struct list *l)
{
	if (l->next) {
		list_remove(l);
		l->next = l->prev = NULL;
	}
}

void sess_free(struct session *s)
{
	list_remove(&s->link);
	s->srv->nsessions--;
	scratch_free(&s->held.sc);
	if (s->ten) {
		s->out_len = s->queued = 0;  /* what was left unsent went with the connection */
		ten_output_sync(s);
		list_remove(&s->ten_link);
		ten_put(s->srv, s->ten);
	}
	free(s->in);
	free(s->out);
	free(s);
}

int sess_in_group(const struct session *s, gid_t gid)
{
	for (unsigned i = 0; i < s->ngroups; i++)
		if (s->groups[i] == gid)
			return 1;
	return 0;
}

static int out_reserve(struct session *s, size_t need)
{
	if (s->out_len + need <= s->out_cap)
		return 0;
	size_t cap = s->out_cap ? s->out_cap : 4096;
	while (cap < s->out_len + need)
		cap *= 2;
	uint8_t *p = realloc(s->out, cap);
	if (!p)
		return -1;
	s->out = p;
	s->out_cap = cap;
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Room for resp's encoding: a bound for a flat reply, else its size. */
static size_t reply_room(const Heapd__Response *resp)
{
	size_t fixed = pb_flat_reply_bound();
	switch (resp->result_case) {
	case HEAPD__RESPONSE__RESULT__NOT_SET:
	case HEAPD__RESPONSE__RESULT_REF:
	case HEAPD__RESPONSE__RESULT_DATA:
		if (fixed == SIZE_MAX)
			break;
		return fixed + (resp->error ? strlen(resp->error) : 0) +
		       (resp->result_case == HEAPD__RESPONSE__RESULT_DATA ? resp->data.len : 0);
	default:
		break;
	}
	return heapd__response__get_packed_size(resp);
}

void sess_reply(struct session *s, Heapd__Response *resp)
{
	size_t n = reply_room(resp);
	if (n > s->srv->cfg.max_frame)
		n = heapd__response__get_packed_size(resp);
	if (n > s->srv->cfg.max_frame) {
		/* Checked by dispatch for what it can foresee; this is the net. */
		Heapd__Response err = HEAPD__RESPONSE__INIT;
		char msg[96];
		snprintf(msg, sizeof msg, "the reply of %zu bytes would exceed max_frame_size %u", n,
			 s->srv->cfg.max_frame);
		err.id = resp->id;
		err.status = HEAPD__STATUS__LIMIT;
		err.error = msg;
		sess_reply(s, &err);
		return;
	}
	if (out_reserve(s, FRAME_HEADER + n) != 0) {
		/* A large reply (a read) is answered INTERNAL instead, as a read
		 * whose buffer could not be had. Not a batch's: that would hide
		 * what its ops did. Only then, or when even the error cannot be
		 * packed, is the session beyond help. */
		if (resp->status == HEAPD__STATUS__OK && resp->result_case != HEAPD__RESPONSE__RESULT_BATCH &&
		    n > 4096) {
			char msg[96];
			snprintf(msg, sizeof msg, "out of memory for a reply of %zu bytes", n);
			Heapd__Response err = HEAPD__RESPONSE__INIT;
			err.id = resp->id;
			err.status = HEAPD__STATUS__INTERNAL;
			err.error = msg;
			sess_reply(s, &err);
			return;
		}
		log_error("session %llu: out of memory for a reply", (unsigned long long)s->id);
		sess_close(s, NULL);
		return;
	}
	n = heapd__response__pack(resp, s->out + s->out_len + FRAME_HEADER);
	put_be32(s->out + s->out_len, (uint32_t)n);
	s->out_len += FRAME_HEADER + n;
	s->bytes_out += FRAME_HEADER + n;
}

void sess_close(struct session *s, Heapd__Response *resp)
{
	if (s->state == S_CLOSING)
		return;
	if (resp)
		sess_reply(s, resp);
	s->state = S_CLOSING;
	unlink_if(&s->ready_link);
	unlink_if(&s->wait_link);
	retained_drop(s);
	conn_read(s, 0);
	if (s->holds)
		s->ten->holds -= sess_held(s);
	heap_holds_free(s->srv->heap, s->holds);
	heap_holds_free(s->srv->heap, s->views);
	s->holds = s->views = NULL;
	s->srv->activity++;  /* its holds went: there may be garbage */
	conn_flush(s);
	if (!s->queued)
		conn_close(s);
}

void sess_abort(struct session *s)
{
	if (s->state != S_CLOSING)
		sess_close(s, NULL);
	conn_close(s);
}

void sess_refuse(struct session *s, int status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	Heapd__Response resp = HEAPD__RESPONSE__INIT;
	resp.status = (Heapd__Status)status;
	resp.error = msg;
	sess_close(s, &resp);
}

uint8_t *sess_in_room(struct session *s, size_t *room)
{
	size_t want = s->in_len + READ_SIZE;
	if (want > s->in_cap) {
		uint8_t *p = realloc(s->in, want);
		if (!p)
			return NULL;
		s->in = p;
		s->in_cap = want;
	}
	*room = s->in_cap - s->in_len;
	return s->in + s->in_len;
}

void sess_received(struct session *s, size_t n)
{
	s->srv->io_events++;
	s->in_len += n;
	sess_process(s);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* From the header alone: 1 if buf starts with a whole frame, 0 if not
 * yet, -1 if the header announces more than max_frame. *n is the length
 * announced, once there is a header. */
static int frame_at(const uint8_t *buf, size_t len, uint32_t max_frame, uint32_t *n)
{
	if (len < FRAME_HEADER)
		return 0;
	*n = get_be32(buf);
	if (*n > max_frame)
		return -1;
	return len - FRAME_HEADER >= *n;
}

enum sess_frame sess_decode(const uint8_t *buf, size_t len, uint32_t max_frame, struct scratch *sc, uint32_t *n,
			    Heapd__Request **req)
{
	*req = NULL;
	int whole = frame_at(buf, len, max_frame, n);
	if (whole <= 0)
		return whole < 0 ? SF_OVERSIZE : SF_PARTIAL;
	*req = heapd__request__unpack(&sc->pb, *n, buf + FRAME_HEADER);
	return *req ? SF_REQUEST : SF_GARBLED;
}

/* A frame larger than a read grows s->in to its size; once it is handled
 * the buffer goes back to a read's worth, so one large request does not
 * cost its connection that memory for as long as it lives (Redis trims
 * its query buffers for the same reason). */
static void in_trim(struct session *s)
{
	if (s->in_cap <= 2 * READ_SIZE || s->in_len > READ_SIZE)
		return;
	uint8_t *p = realloc(s->in, s->in_len + READ_SIZE);
	if (p) {
		s->in = p;
		s->in_cap = s->in_len + READ_SIZE;
	}
}

/* The most decoding one request may take (scratch.c says why there is a
 * cap): enough for any request max_frame_size and max_batch_ops allow
 * (the densest, a batch of the smallest ops, takes about 200 bytes an op),
 * and a small multiple of a frame for the rest. */
static size_t decode_limit(const struct config *cfg)
{
	return 4 * (size_t)cfg->max_frame + 512 * (size_t)cfg->max_batch_ops + ((size_t)1 << 20);
}

/* A turn's clock starts at its first costly op, or at the first look: a
 * turn of cheap requests (a ping-pong client's) never reads it. */
static void turn_start(struct server *srv)
{
	srv->turn_end_ns = 0;
	srv->turn_cost = 0;
	srv->turn_look = TURN_LOOK;
}

void sess_turn_clock(struct server *srv)
{
	srv->turn_end_ns = srv_now_ns() + srv->cfg.heap.slice_ns;
}

bool sess_turn_look(struct server *srv)
{
	uint64_t now = srv_now_ns();
	if (!srv->turn_end_ns)
		srv->turn_end_ns = now + srv->cfg.heap.slice_ns;
	else if (now >= srv->turn_end_ns)
		return true;
	srv->turn_look = srv->turn_cost + TURN_LOOK;
	return false;
}

/* A map_arena held until the replies before it are written still waits:
 * sess_written turns the session again when they are. */
static bool flush_waits(const struct session *s)
{
	return s->held.why == HELD_FLUSH && (s->out_len || s->queued);
}

void sess_hold(struct session *s, enum held_why why, Heapd__Request *req, struct batch_state *batch)
{
	scratch_swap(&s->srv->scratch, &s->held.sc);
	s->held.why = why;
	s->held.req = req;
	s->held.batch = batch;
}

/* Runs the held request on, with its memory back in srv->scratch: to its
 * end, or until it is held again. */
static void resume(struct session *s)
{
	struct server *srv = s->srv;
	struct held_req *hr = &s->held;
	scratch_swap(&srv->scratch, &hr->sc);
	hr->why = HELD_NONE;
	if (hr->batch)
		batch_resume(s, hr->batch);
	else
		disp_retry(s, hr->req);
	if (hr->why == HELD_NONE)
		scratch_free(&hr->sc);  /* what srv->scratch had before, unused */
	scratch_reset(&srv->scratch);
}

void sess_process(struct session *s)
{
	struct server *srv = s->srv;
	size_t off = 0;
	unsigned budget = REQUESTS_PER_TURN;
	srv->scratch.pb_limit = decode_limit(&srv->cfg);  /* per turn: the config may have been reloaded */
	turn_start(srv);
	if (s->state == S_READY && s->held.why != HELD_NONE && !flush_waits(s))
		resume(s);
	if (guard_close(s))
		return;
	while (s->state == S_HELLO || s->state == S_READY) {
		/* What is left gets a turn of its own (below). */
		if (s->held.why != HELD_NONE || backpressured(s) || !budget-- || sess_turn_over(srv))
			break;
		uint32_t n = 0;
		Heapd__Request *req;
		enum sess_frame f = sess_decode(s->in + off, s->in_len - off, srv->cfg.max_frame, &srv->scratch, &n, &req);
		if (f == SF_PARTIAL)
			break;
		if (f == SF_OVERSIZE) {
			log_info("session %llu: frame of %u bytes over max_frame_size %u: closing",
				 (unsigned long long)s->id, n, srv->cfg.max_frame);
			Heapd__Response resp = HEAPD__RESPONSE__INIT;
			char msg[128];
			snprintf(msg, sizeof msg, "frame of %u bytes exceeds max_frame_size %u", n, srv->cfg.max_frame);
			resp.status = HEAPD__STATUS__LIMIT;
			resp.error = msg;
			sess_close(s, &resp);
			return;
		}
		off += FRAME_HEADER + n;
		s->bytes_in += FRAME_HEADER + n;
		if (f == SF_GARBLED) {
			char msg[160];
			Heapd__Response resp = HEAPD__RESPONSE__INIT;
			resp.status = HEAPD__STATUS__PROTOCOL;
			resp.error = "the request does not decode";
			if (srv->scratch.pb_over) {
				snprintf(msg, sizeof msg,
					 "decoding the request would take more than %zu bytes "
					 "(4 x max_frame_size + 512 per max_batch_ops + 1 MiB)",
					 srv->scratch.pb_limit);
				resp.status = HEAPD__STATUS__LIMIT;
				resp.error = msg;
			}
			scratch_reset(&srv->scratch);
			if (s->state == S_HELLO) {
				sess_close(s, &resp);
				return;
			}
			sess_reply(s, &resp);
			continue;
		}
		int r = disp_request(s, req);
		scratch_reset(&srv->scratch);
		if (r < 0 || guard_close(s))
			return;
	}
	if (s->state == S_CLOSING)
		return;
	if (off) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
		in_trim(s);
	}
	conn_flush(s);
	ten_output_sync(s);
	/* Frames left whole in s->in (the budget ran out, or writing took
	 * this session below its backpressure mark), or a batch held for its
	 * next turn, get a turn of their own, as no read may come to trigger
	 * one (the client may be waiting). */
	int serving = s->state == S_HELLO || s->state == S_READY;
	uint32_t n;
	if (serving && !backpressured(s) && !s->ready_link.next &&
	    (s->held.why == HELD_TURN || (s->held.why == HELD_FLUSH && !flush_waits(s)) ||
	     frame_at(s->in, s->in_len, srv->cfg.max_frame, &n)))
		list_push_tail(&srv->ready, &s->ready_link);
	/* Read on only when this turn could take more: not while waiting for
	 * the collector, held back, or with frames left for a later turn. */
	conn_read(s, serving && !backpressured(s) && !s->ready_link.next);
	if (s->ready_link.next)
		coll_kick(srv); /* its next turn must not wait for I/O */
}

void sess_written(struct session *s)
{
	ten_output_sync(s);
	if (s->queued + s->out_len <= s->srv->cfg.max_output / 2)
		sess_process(s);
}

void sess_accepted(struct server *srv, struct session *s)
{
	s->srv = srv;
	s->id = ++srv->next_session_id;
	s->state = S_HELLO;
	scratch_init(&s->held.sc);
	list_push_tail(&srv->sessions, &s->link);
	srv->nsessions++;
	s->ten = ten_get(srv, s->uid);
	if (s->ten) {
		list_push_tail(&s->ten->sessions, &s->ten_link);
		s->holds = heap_holds_new(srv->heap);
		if (s->holds)
			heap_holds_set_tenant(srv->heap, s->holds, s->ten->heap_tenant);
	}
	if (!s->holds) {
		sess_refuse(s, HEAPD__STATUS__INTERNAL, "out of memory");
		return;
	}
	conn_read(s, 1);
}
