/*
 * conn.c - a session's transport: its libuv pipe.
 *
 * session.c does framing, buffers and state and no I/O; every byte that
 * enters or leaves a session goes through the three calls here (server.h):
 * conn_read() starts or stops reading, conn_flush() hands the replies
 * gathered in s->out to the socket, conn_close() closes the pipe. So the
 * request path can be driven without a socket (the fuzzer in tests/fuzz
 * supplies its own three, see docs/fuzzing.md), and this file is the only
 * one that knows a session is a uv_pipe_t.
 *
 * Writes. When nothing is in flight, s->out is written at once with
 * uv_try_write (and kept for the next turn unless it outgrew OUT_KEEP);
 * what the socket does not take is handed to libuv in one write request
 * that owns the buffer. s->queued counts bytes handed over
 * and not yet written: session.c's backpressure reads it, and a closing
 * session is closed only once it is 0.
 *
 * Lifetime. The session's memory is freed in the close callback
 * (sess_free), never before: callbacks already queued for the pipe may
 * still name it.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

/* The most a session's reply buffer keeps between turns. */
#define OUT_KEEP (64u << 10)

struct wreq {
	uv_write_t req;
	struct session *s;
	uint8_t *data;
	size_t len;
};

static void on_closed(uv_handle_t *h)
{
	sess_free(h->data);
}

void conn_close(struct session *s)
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
			conn_close(s);
		return;
	}
	sess_written(s);
}

/* A write failed: the connection is gone. */
static void write_failed(struct session *s, int err)
{
	log_debug("session %llu: write: %s", (unsigned long long)s->id, uv_strerror(err));
	if (s->state != S_CLOSING)
		sess_close(s, NULL);
	else if (!s->queued)
		conn_close(s);
}

void conn_flush(struct session *s)
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
			if (s->out_cap > OUT_KEEP) {
				/* A large reply's buffer is not kept for the next turn. */
				free(s->out);
				s->out = NULL;
				s->out_cap = 0;
			}
			return;
		}
		if (n > 0) {
			memmove(s->out, s->out + n, s->out_len - (size_t)n);
			s->out_len -= (size_t)n;
		} else if (n != UV_EAGAIN) {
			write_failed(s, n);
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
		write_failed(s, r);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct session *s = h->data;
	(void)suggested;
	size_t room;
	uint8_t *p = sess_in_room(s, &room);
	/* NULL: libuv reports UV_ENOBUFS to on_read, which closes. */
	*buf = p ? uv_buf_init((char *)p, (unsigned)room) : uv_buf_init(NULL, 0);
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
	sess_received(s, (size_t)nread);
}

void conn_read(struct session *s, int on)
{
	if (on && !s->reading) {
		if (uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read) == 0)
			s->reading = 1;
	} else if (!on && s->reading) {
		uv_read_stop((uv_stream_t *)&s->pipe);
		s->reading = 0;
	}
}
