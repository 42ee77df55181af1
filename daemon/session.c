/*
 * session.c - one client connection: framing, buffers, backpressure, close.
 *
 * Input. Bytes are read into s->in. A frame is a 4-byte big-endian length
 * N and N bytes of Request. N is checked against max_frame_size before the
 * buffer grows for the body: a larger N (4 GiB of nothing, or HTTP sent to
 * the wrong socket) means the byte stream cannot be trusted, so the session
 * gets one error reply and is closed. A body that does not decode is
 * answered with a PROTOCOL error and the session goes on: the framing still
 * holds. So s->in never exceeds one frame plus one read.
 *
 * Output. Replies are packed into s->out while a batch of requests is
 * processed, then written at once when nothing is in flight
 * (uv_try_write), the rest handed to libuv in one write. s->queued counts bytes
 * handed over and not yet written. When queued + out_len passes
 * max_output_buffer, the session stops reading and stops processing
 * (backpressure): a client that writes requests and never reads replies
 * costs at most one frame in and max_output_buffer out. It resumes below
 * half of that.
 *
 * Fairness. One turn processes at most REQUESTS_PER_TURN requests; a
 * session with more complete frames goes on server.ready and gets another
 * turn after the others have had theirs (collector.c's check callback).
 *
 * Lifetime. sess_close() drops the session's holds at once, sends its last
 * replies, and closes the handle when they are written (or failed); the
 * memory is freed in the close callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

#define REQUESTS_PER_TURN 64
#define READ_SIZE (64u << 10)

struct wreq {
	uv_write_t req;
	struct session *s;
	uint8_t *data;
	size_t len;
};

static int backpressured(const struct session *s)
{
	return s->queued + s->out_len > s->srv->cfg.max_output;
}

static void unlink_if(struct list *l)
{
	if (l->next) {
		list_remove(l);
		l->next = l->prev = NULL;
	}
}

static void stop_reading(struct session *s)
{
	if (s->reading) {
		uv_read_stop((uv_stream_t *)&s->pipe);
		s->reading = 0;
	}
}

static void on_closed(uv_handle_t *h)
{
	struct session *s = h->data;
	struct server *srv = s->srv;
	list_remove(&s->link);
	srv->nsessions--;
	free(s->in);
	free(s->out);
	free(s);
}

static void close_handle(struct session *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->pipe))
		uv_close((uv_handle_t *)&s->pipe, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct session *s = w->s;
	s->queued -= w->len;
	free(w->data);
	free(w);
	if (status < 0 && s->state != S_CLOSING) {
		log_debug("session %llu: write: %s", (unsigned long long)s->id, uv_strerror(status));
		sess_close(s, NULL);
	}
	if (s->state == S_CLOSING) {
		if (!s->queued)
			close_handle(s);
		return;
	}
	if (s->queued + s->out_len <= s->srv->cfg.max_output / 2)
		sess_process(s);
}

void sess_flush(struct session *s)
{
	if (!s->out_len || uv_is_closing((uv_handle_t *)&s->pipe))
		return;
	/* Nothing in flight: write now. A reply that fits the socket buffer,
	 * the usual case, then costs one write() and keeps s->out for the
	 * next turn, with no write request and no poll registration. */
	if (!s->queued) {
		uv_buf_t buf = uv_buf_init((char *)s->out, (unsigned)s->out_len);
		int n = uv_try_write((uv_stream_t *)&s->pipe, &buf, 1);
		if (n == (int)s->out_len) {
			s->out_len = 0;
			return;
		}
		if (n > 0) {
			memmove(s->out, s->out + n, s->out_len - (size_t)n);
			s->out_len -= (size_t)n;
		} else if (n != UV_EAGAIN) {
			log_debug("session %llu: write: %s", (unsigned long long)s->id, uv_strerror(n));
			if (s->state != S_CLOSING)
				sess_close(s, NULL);
			else if (!s->queued)
				close_handle(s);
			return;
		}
	}
	struct wreq *w = malloc(sizeof *w);
	if (!w) {
		log_error("session %llu: out of memory for a write", (unsigned long long)s->id);
		return;
	}
	w->s = s;
	w->data = s->out;
	w->len = s->out_len;
	s->out = NULL;
	s->out_len = s->out_cap = 0;
	s->queued += w->len;
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
	int r = uv_write(&w->req, (uv_stream_t *)&s->pipe, &buf, 1, on_written);
	if (r < 0) {
		s->queued -= w->len;
		free(w->data);
		free(w);
		if (s->state != S_CLOSING)
			sess_close(s, NULL);
		else if (!s->queued)
			close_handle(s);
	}
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

void sess_reply(struct session *s, Heapd__Response *resp)
{
	size_t n = heapd__response__get_packed_size(resp);
	if (n > s->srv->cfg.max_frame) {
		/* Checked by dispatch for what it can foresee; this is the net. */
		Heapd__Response err = HEAPD__RESPONSE__INIT;
		err.id = resp->id;
		err.status = HEAPD__STATUS__LIMIT;
		err.error = "the reply would exceed max_frame_size";
		sess_reply(s, &err);
		return;
	}
	if (out_reserve(s, FRAME_HEADER + n) != 0) {
		log_error("session %llu: out of memory for a reply", (unsigned long long)s->id);
		sess_close(s, NULL);
		return;
	}
	put_be32(s->out + s->out_len, (uint32_t)n);
	heapd__response__pack(resp, s->out + s->out_len + FRAME_HEADER);
	s->out_len += FRAME_HEADER + n;
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
	stop_reading(s);
	heap_holds_free(s->srv->heap, s->holds);
	s->holds = NULL;
	s->srv->activity++;  /* its holds went: there may be garbage */
	sess_flush(s);
	if (!s->queued)
		close_handle(s);
}

void sess_abort(struct session *s)
{
	if (s->state != S_CLOSING)
		sess_close(s, NULL);
	close_handle(s);
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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct session *s = h->data;
	(void)suggested;
	size_t want = s->in_len + READ_SIZE;
	if (want > s->in_cap) {
		uint8_t *p = realloc(s->in, want);
		if (!p) {
			*buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
			return;
		}
		s->in = p;
		s->in_cap = want;
	}
	*buf = uv_buf_init((char *)s->in + s->in_len, (unsigned)(s->in_cap - s->in_len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct session *s = stream->data;
	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("session %llu: read: %s", (unsigned long long)s->id, uv_strerror((int)nread));
		sess_close(s, NULL);
		return;
	}
	s->srv->io_events++;
	s->in_len += (size_t)nread;
	sess_process(s);
}

static void start_reading(struct session *s)
{
	if (!s->reading && uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read) == 0)
		s->reading = 1;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The next frame's body if it is all here, with its length; NULL if not.
 * A length over max_frame_size closes the session (*bad set). */
static const uint8_t *next_frame(struct session *s, size_t off, uint32_t *len, int *bad)
{
	*bad = 0;
	if (s->in_len - off < FRAME_HEADER)
		return NULL;
	uint32_t n = get_be32(s->in + off);
	if (n > s->srv->cfg.max_frame) {
		*bad = 1;
		*len = n;
		return NULL;
	}
	if (s->in_len - off - FRAME_HEADER < n)
		return NULL;
	*len = n;
	return s->in + off + FRAME_HEADER;
}

void sess_process(struct session *s)
{
	size_t off = 0;
	unsigned budget = REQUESTS_PER_TURN;
	while (s->state == S_HELLO || s->state == S_READY) {
		if (backpressured(s))
			break;
		uint32_t n;
		int bad;
		const uint8_t *body = next_frame(s, off, &n, &bad);
		if (bad) {
			log_info("session %llu: frame of %u bytes over max_frame_size %u: closing",
				 (unsigned long long)s->id, n, s->srv->cfg.max_frame);
			Heapd__Response resp = HEAPD__RESPONSE__INIT;
			char msg[128];
			snprintf(msg, sizeof msg, "frame of %u bytes exceeds max_frame_size %u", n, s->srv->cfg.max_frame);
			resp.status = HEAPD__STATUS__LIMIT;
			resp.error = msg;
			sess_close(s, &resp);
			return;
		}
		if (!body)
			break;
		if (!budget--) {
			if (!s->ready_link.next)
				list_push_tail(&s->srv->ready, &s->ready_link);
			break;
		}
		off += FRAME_HEADER + n;
		Heapd__Request *req = heapd__request__unpack(&s->srv->scratch.pb, n, body);
		if (!req) {
			scratch_reset(&s->srv->scratch);
			Heapd__Response resp = HEAPD__RESPONSE__INIT;
			resp.status = HEAPD__STATUS__PROTOCOL;
			resp.error = "the request does not decode";
			if (s->state == S_HELLO) {
				sess_close(s, &resp);
				return;
			}
			sess_reply(s, &resp);
			continue;
		}
		int r = disp_request(s, req);
		scratch_reset(&s->srv->scratch);
		if (r < 0)
			return;
	}
	if (s->state == S_CLOSING)
		return;
	if (off) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
	sess_flush(s);
	/* Writing may have taken this session below its backpressure mark
	 * with whole frames still buffered: they get a turn of their own, as
	 * no read may come to trigger one (the client may be waiting). */
	int serving = s->state == S_HELLO || s->state == S_READY;
	uint32_t n;
	int bad;
	if (serving && !backpressured(s) && !s->ready_link.next && (next_frame(s, 0, &n, &bad) || bad))
		list_push_tail(&s->srv->ready, &s->ready_link);
	/* Read on only when this turn could take more: not while waiting for
	 * the collector, held back, or with frames left for a later turn. */
	if (serving && !backpressured(s) && !s->ready_link.next)
		start_reading(s);
	else
		stop_reading(s);
	if (s->ready_link.next)
		coll_kick(s->srv); /* its next turn must not wait for I/O */
}

void sess_accepted(struct server *srv, struct session *s)
{
	s->srv = srv;
	s->id = ++srv->next_session_id;
	s->state = S_HELLO;
	list_push_tail(&srv->sessions, &s->link);
	srv->nsessions++;
	s->holds = heap_holds_new(srv->heap);
	if (!s->holds) {
		sess_refuse(s, HEAPD__STATUS__INTERNAL, "out of memory");
		return;
	}
	start_reading(s);
}
