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
 * The arena's descriptor (zerocopy.c). When s->send_arena is set, s->out
 * starts with the map_arena reply and nothing is in flight: the first
 * write is a sendmsg() carrying the descriptor as SCM_RIGHTS with those
 * bytes. If the socket has no room (the client has not read what it
 * was sent), s->out waits, and a poll on a dup() of the socket (libuv
 * allows one watcher per descriptor, and the pipe has its own) says when
 * there is room; nothing else is written meanwhile.
 *
 * Lengths are size_t end to end. s->out may pass 4 GiB (max_output_buffer
 * is up to 4 GiB, and a turn may add frames of up to 1 GiB past it), but
 * libuv's uv_buf_init() takes an unsigned int and uv_try_write() returns
 * an int: so libuv is handed pieces of at most PIECE bytes, never a
 * length cast down, and a write that took part of the buffer is resumed
 * at the byte where it stopped.
 *
 * Lifetime. The session's memory is freed in the close callback
 * (sess_free), never before: callbacks already queued for the pipe may
 * still name it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

/* The most a session's reply buffer keeps between turns. */
#define OUT_KEEP (64u << 10)
/* The most one uv_buf_t carries: fits uv_buf_init()'s unsigned int and
 * uv_try_write()'s int result. */
#define PIECE ((size_t)1 << 30)

struct wreq {
	uv_write_t req;
	struct session *s;
	uint8_t *data;          /* the buffer, freed once written */
	size_t len;             /* bytes of it handed to libuv */
	uv_buf_t bufs[];        /* those bytes, in pieces of at most PIECE */
};

static void on_closed(uv_handle_t *h)
{
	sess_free(h->data);
}

/* A wait for room to send the arena's descriptor: a poll on a dup of
 * the socket. */
struct arena_wait {
	uv_poll_t poll;
	int fd;
};

static void on_poll_closed(uv_handle_t *h)
{
	struct arena_wait *w = (struct arena_wait *)h;
	close(w->fd);
	free(w);
}

/* Ends the wait for room for the arena's descriptor. */
static void arena_poll_stop(struct session *s)
{
	if (s->arena_poll) {
		uv_close((uv_handle_t *)&s->arena_poll->poll, on_poll_closed);
		s->arena_poll = NULL;
	}
}

void conn_close(struct session *s)
{
	if (uv_is_closing((uv_handle_t *)&s->pipe))
		return;
	arena_poll_stop(s);
	uv_close((uv_handle_t *)&s->pipe, on_closed); /* the descriptor closes now */
	admit_closed(s);
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

/* Writes what the socket takes now of s->out[0..out_len), a piece at a
 * time; returns the bytes written, or a libuv error other than EAGAIN. */
static ssize_t try_write(struct session *s)
{
	if (s->out_len <= PIECE) {  /* every reply but a 1 GiB one: one call */
		uv_buf_t buf = uv_buf_init((char *)s->out, (unsigned)s->out_len);
		int r = uv_try_write((uv_stream_t *)&s->pipe, &buf, 1);
		return r == UV_EAGAIN ? 0 : r;
	}
	size_t done = 0;
	while (done < s->out_len) {
		size_t n = s->out_len - done < PIECE ? s->out_len - done : PIECE;
		uv_buf_t buf = uv_buf_init((char *)s->out + done, (unsigned)n);
		int r = uv_try_write((uv_stream_t *)&s->pipe, &buf, 1);
		if (r == UV_EAGAIN)
			break;
		if (r < 0)
			return r;
		done += (size_t)r;
		if ((size_t)r < n)
			break;
	}
	return (ssize_t)done;
}

static void on_arena_room(uv_poll_t *p, int status, int events)
{
	struct session *s = p->data;
	(void)events;
	arena_poll_stop(s);
	if (status < 0) {
		write_failed(s, status);
		return;
	}
	conn_flush(s);
	sess_written(s);
}

/* Sends the start of s->out with the arena's descriptor: the bytes sent,
 * 0 when the socket has no room (a poll then waits for it), or a libuv
 * error. */
static ssize_t send_arena(struct session *s)
{
	int fd;
	if (s->arena_poll || uv_fileno((uv_handle_t *)&s->pipe, &fd) != 0)
		return s->arena_poll ? 0 : UV_EBADF;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec iov = {.iov_base = s->out, .iov_len = s->out_len < PIECE ? s->out_len : PIECE};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &s->srv->arena_ro_fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		s->send_arena = 0;
		return n;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return uv_translate_sys_error(errno);
	struct arena_wait *w = malloc(sizeof *w);
	if (!w || (w->fd = dup(fd)) < 0 || uv_poll_init(s->srv->loop, &w->poll, w->fd) != 0) {
		if (w && w->fd >= 0)
			close(w->fd);
		free(w);
		return UV_ENOMEM;
	}
	w->poll.data = s;
	s->arena_poll = w;
	uv_poll_start(&w->poll, UV_WRITABLE, on_arena_room);
	return 0;
}

void conn_flush(struct session *s)
{
	if (!s->out_len || uv_is_closing((uv_handle_t *)&s->pipe))
		return;
	if (s->send_arena) {
		ssize_t n = send_arena(s);
		if (n < 0) {
			write_failed(s, (int)n);
			return;
		}
		if (s->send_arena)
			return;  /* waits for room: s->out as it is */
		memmove(s->out, s->out + n, s->out_len - (size_t)n);
		s->out_len -= (size_t)n;
		if (!s->out_len)
			return;
	}
	/* Nothing in flight: write now. A reply that fits the socket buffer,
	 * the usual case, then costs one write() and keeps s->out for the
	 * next turn, with no write request and no poll registration. */
	size_t done = 0;
	if (!s->queued) {
		ssize_t n = try_write(s);
		if (n < 0) {
			write_failed(s, (int)n);
			return;
		}
		done = (size_t)n;
		if (done == s->out_len) {
			s->out_len = 0;
			if (s->out_cap > OUT_KEEP) {
				/* A large reply's buffer is not kept for the next turn. */
				free(s->out);
				s->out = NULL;
				s->out_cap = 0;
			}
			return;
		}
	}
	/* The rest, out[done..out_len), goes to libuv with the buffer. */
	size_t len = s->out_len - done, nbufs = (len + PIECE - 1) / PIECE;
	struct wreq *w = malloc(sizeof *w + nbufs * sizeof w->bufs[0]);
	if (!w) {
		log_error("session %llu: out of memory for a write", (unsigned long long)s->id);
		return;
	}
	for (size_t i = 0; i < nbufs; i++) {
		size_t off = done + i * PIECE, n = s->out_len - off < PIECE ? s->out_len - off : PIECE;
		w->bufs[i] = uv_buf_init((char *)s->out + off, (unsigned)n);
	}
	w->s = s;
	w->data = s->out;
	w->len = len;
	s->out = NULL;
	s->out_len = s->out_cap = 0;
	s->queued += w->len;
	int r = uv_write(&w->req, (uv_stream_t *)&s->pipe, w->bufs, (unsigned)nbufs, on_written);
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
	if (room > PIECE)
		room = PIECE; /* read the rest on the next callback */
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
