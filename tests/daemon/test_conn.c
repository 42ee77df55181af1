/*
 * test_conn.c - daemon/conn.c, the session's transport, against a fake
 * writer: uv_try_write and uv_write are replaced at link time
 * (-Wl,--wrap), so a reply buffer of more than 4 GiB can be handed over
 * without 4 GiB crossing a socket. The buffer is malloc'd and never
 * touched: neither conn.c nor the fake reads it, so it costs address space
 * only.
 *
 * What holds: every byte of s->out is handed to libuv exactly once, in
 * order, in uv_buf_t pieces of at most 1 GiB (uv_buf_init takes an
 * unsigned int); a partial uv_try_write resumes at the byte where it
 * stopped. Before, conn_flush cast the length to unsigned and compared
 * uv_try_write's result with (int)s->out_len, so 4 GiB + 100 bytes went
 * out as 100 and were taken for sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"

#define GIB ((size_t)1 << 30)
#define PIECE GIB

/* ---- the fake writer ---- */

static struct {
	const uint8_t *next;  /* the byte the next write must start at */
	size_t try_room;      /* what uv_try_write still takes before EAGAIN */
	size_t tried;         /* bytes uv_try_write took */
	unsigned try_calls;
	size_t queued;        /* bytes handed to uv_write */
	unsigned write_calls;
	uv_write_t *req;
	uv_write_cb cb;
} fake;

/* Each piece starts where the one before ended and is at most PIECE. */
static size_t take_bufs(const uv_buf_t *bufs, unsigned nbufs)
{
	size_t n = 0;
	for (unsigned i = 0; i < nbufs; i++) {
		assert_ptr_equal(bufs[i].base, fake.next);
		assert_true(bufs[i].len > 0 && bufs[i].len <= PIECE);
		fake.next += bufs[i].len;
		n += bufs[i].len;
	}
	return n;
}

int __wrap_uv_try_write(uv_stream_t *stream, const uv_buf_t bufs[], unsigned int nbufs);
int __wrap_uv_try_write(uv_stream_t *stream, const uv_buf_t bufs[], unsigned int nbufs)
{
	(void)stream;
	fake.try_calls++;
	if (!fake.try_room)
		return UV_EAGAIN;
	/* The socket takes a prefix: at most try_room bytes. */
	uv_buf_t part[8];
	assert_true(nbufs <= 8);
	size_t n = 0;
	unsigned k = 0;
	for (; k < nbufs && n < fake.try_room; k++) {
		part[k] = bufs[k];
		if (part[k].len > fake.try_room - n)
			part[k].len = fake.try_room - n;
		n += part[k].len;
	}
	take_bufs(part, k);
	fake.try_room -= n;
	fake.tried += n;
	assert_true(n <= INT32_MAX);
	return (int)n;
}

int __wrap_uv_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
		    uv_write_cb cb);
int __wrap_uv_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
		    uv_write_cb cb)
{
	(void)handle;
	fake.write_calls++;
	fake.queued += take_bufs(bufs, nbufs);
	fake.req = req;
	fake.cb = cb;
	return 0;
}

/* ---- what conn.c calls in the rest of the daemon ---- */

static unsigned written, closed;

static unsigned freed;

void sess_free(struct session *s)
{
	free(s);
	freed++;
}

void sess_close(struct session *s, Heapd__Response *resp)
{
	(void)resp;
	s->state = S_CLOSING;
	closed++;
}

void sess_written(struct session *s)
{
	(void)s;
	written++;
}

void sess_received(struct session *s, size_t n)
{
	(void)s;
	(void)n;
}

void admit_closed(struct session *s)
{
	(void)s;
}

uint8_t *sess_in_room(struct session *s, size_t *room)
{
	(void)s;
	*room = 0;
	return NULL;
}

/* ---- the tests ---- */

static struct server srv;

/* A session whose reply buffer holds len bytes, queued already handed
 * to libuv. */
static struct session *session_with(size_t len, size_t queued)
{
	struct session *s = calloc(1, sizeof *s);
	assert_non_null(s);
	srv.cfg.max_output = 4 * GIB;
	s->srv = &srv;
	s->state = S_READY;
	uv_pipe_init(uv_default_loop(), &s->pipe, 0);
	s->pipe.data = s;
	s->out = malloc(len);
	assert_non_null(s->out);
	s->out_len = s->out_cap = len;
	s->queued = queued;
	memset(&fake, 0, sizeof fake);
	fake.next = s->out;
	written = closed = freed = 0;
	return s;
}

/* Closes the session's pipe; sess_free() frees it. */
static void done(struct session *s)
{
	freed = 0;
	conn_close(s);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	assert_int_equal(freed, 1);
}

/* 4 GiB + 100 bytes, all taken by the socket at once: each byte is
 * written once, in pieces, and the buffer is done with. */
static void over_4gib_written_whole(void **state)
{
	(void)state;
	size_t len = 4 * GIB + 100;
	struct session *s = session_with(len, 0);
	fake.try_room = SIZE_MAX;
	conn_flush(s);
	assert_int_equal(fake.tried, len);
	assert_int_equal(fake.try_calls, 5); /* 4 pieces of 1 GiB and 100 bytes */
	assert_int_equal(fake.write_calls, 0);
	assert_int_equal(s->out_len, 0);
	assert_int_equal(s->queued, 0);
	assert_null(s->out); /* a buffer past OUT_KEEP is not kept */
	assert_int_equal(closed, 0);
	done(s);
}

/* The socket takes 1 GiB + 5 bytes, then would block: the rest, from the
 * next byte on, goes to one uv_write in pieces, counted in s->queued until
 * written. */
static void partial_write_resumes(void **state)
{
	(void)state;
	size_t len = 5 * GIB + 7, first = GIB + 5;
	struct session *s = session_with(len, 0);
	uint8_t *out = s->out;
	fake.try_room = first;
	conn_flush(s);
	assert_int_equal(fake.tried, first);
	assert_int_equal(fake.write_calls, 1);
	assert_int_equal(fake.queued, len - first);
	assert_ptr_equal(fake.next, out + len);
	assert_int_equal(s->queued, len - first);
	assert_int_equal(s->out_len, 0);
	assert_null(s->out); /* now the write request's */
	fake.cb(fake.req, 0); /* written: the buffer and the request are freed */
	assert_int_equal(s->queued, 0);
	assert_int_equal(written, 1); /* told the session: it resumes if below its mark */
	assert_int_equal(closed, 0);
	done(s);
}

/* With a write in flight, nothing is tried: the whole buffer, from its
 * first byte, queues behind it. */
static void queued_behind_a_write(void **state)
{
	(void)state;
	size_t len = 4 * GIB + 1;
	struct session *s = session_with(len, 10);
	fake.try_room = SIZE_MAX;
	conn_flush(s);
	assert_int_equal(fake.try_calls, 0);
	assert_int_equal(fake.write_calls, 1);
	assert_int_equal(fake.queued, len);
	assert_int_equal(s->queued, 10 + len);
	fake.cb(fake.req, 0);
	assert_int_equal(s->queued, 10);
	done(s);
}

/* A failed write closes the session and hands nothing more over. */
static void write_error_closes(void **state)
{
	(void)state;
	struct session *s = session_with(4096, 0);
	fake.try_room = 0;
	s->queued = 0;
	conn_flush(s); /* EAGAIN: queued */
	assert_int_equal(fake.write_calls, 1);
	fake.cb(fake.req, UV_EPIPE);
	assert_int_equal(closed, 1);
	assert_int_equal(s->queued, 0);
	assert_true(uv_is_closing((uv_handle_t *)&s->pipe)); /* nothing left to write */
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	assert_int_equal(freed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(over_4gib_written_whole),
		cmocka_unit_test(partial_write_resumes),
		cmocka_unit_test(queued_behind_a_write),
		cmocka_unit_test(write_error_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
