/*
 * heapd/adapters/libuv.h - runs a heapd_async context on a libuv loop.
 * Header-only: libheapd does not link libuv, the program does
 * (pkg-config libuv).
 *
 *     heapd_async *ac = heapd_async_connect(NULL);
 *     if (heapd_async_errcode(ac) || heapd_libuv_attach(ac, loop) != 0)
 *             ... fail, heapd_async_free(ac) ...
 *     uv_run(loop, UV_RUN_DEFAULT);   returns once the connection has closed
 *
 * A uv_poll_t on the socket and a uv_timer_t for the request timeout. The
 * library's cleanup hook closes both; libuv frees nothing until their close
 * callbacks run on a later turn of the loop, so the state struct outlives
 * the poll callback that may have caused the cleanup: `ac` is NULL from
 * then on, and is checked before each call into the library.
 */
#ifndef HEAPD_ADAPTERS_LIBUV_H
#define HEAPD_ADAPTERS_LIBUV_H

#include <stdlib.h>

#include <uv.h>

#include "../async.h"

struct heapd_libuv {
	heapd_async *ac; /* NULL once the library cleaned up */
	uv_poll_t poll;
	uv_timer_t timer;
	int events;      /* UV_READABLE and UV_WRITABLE wished */
	int open;        /* handles not yet closed; freed at 0 */
};

/* An error status means POLLERR (the daemon reset the connection), and
 * libuv has then stopped the handle, though replies may still wait to be
 * read before the reset: the library reads (or writes) and finds them or
 * the error, and the handle is started again while the connection lasts,
 * or the loop would stop watching (and uv_run return) in mid-stream. */
static inline void heapd_libuv_on_poll(uv_poll_t *handle, int status, int events)
{
	struct heapd_libuv *p = (struct heapd_libuv *)handle->data;
	if (status < 0)
		events = p->events;
	if (p->ac && (events & UV_READABLE))
		heapd_async_handle_read(p->ac);
	if (p->ac && (events & UV_WRITABLE))
		heapd_async_handle_write(p->ac);
	if (status < 0 && p->ac && p->events)
		uv_poll_start(&p->poll, p->events, heapd_libuv_on_poll);
}

static inline void heapd_libuv_on_timer(uv_timer_t *handle)
{
	struct heapd_libuv *p = (struct heapd_libuv *)handle->data;
	if (p->ac)
		heapd_async_handle_timeout(p->ac);
}

static inline void heapd_libuv_update(struct heapd_libuv *p, int flag, int on)
{
	int events = on ? p->events | flag : p->events & ~flag;
	if (events == p->events)
		return;
	p->events = events;
	if (events)
		uv_poll_start(&p->poll, events, heapd_libuv_on_poll);
	else
		uv_poll_stop(&p->poll);
}

static inline void heapd_libuv_add_read(void *data)
{
	heapd_libuv_update((struct heapd_libuv *)data, UV_READABLE, 1);
}

static inline void heapd_libuv_del_read(void *data)
{
	heapd_libuv_update((struct heapd_libuv *)data, UV_READABLE, 0);
}

static inline void heapd_libuv_add_write(void *data)
{
	heapd_libuv_update((struct heapd_libuv *)data, UV_WRITABLE, 1);
}

static inline void heapd_libuv_del_write(void *data)
{
	heapd_libuv_update((struct heapd_libuv *)data, UV_WRITABLE, 0);
}

static inline void heapd_libuv_schedule_timer(void *data, uint32_t ms)
{
	struct heapd_libuv *p = (struct heapd_libuv *)data;
	uv_timer_start(&p->timer, heapd_libuv_on_timer, ms, 0); /* restarts it if running */
}

static inline void heapd_libuv_on_close(uv_handle_t *handle)
{
	struct heapd_libuv *p = (struct heapd_libuv *)handle->data;
	if (--p->open == 0)
		free(p);
}

static inline void heapd_libuv_cleanup(void *data)
{
	struct heapd_libuv *p = (struct heapd_libuv *)data;
	p->ac = NULL;
	uv_close((uv_handle_t *)&p->poll, heapd_libuv_on_close);
	uv_close((uv_handle_t *)&p->timer, heapd_libuv_on_close);
}

/* Attaches ac to loop. Returns 0, HEAPD_EIO if ac is closed (check
 * heapd_async_errcode) or libuv refuses the socket, HEAPD_EINVAL if it is
 * attached already, or HEAPD_ENOBUFS. */
static inline int heapd_libuv_attach(heapd_async *ac, uv_loop_t *loop)
{
	int fd = heapd_async_fd(ac);
	if (fd < 0)
		return HEAPD_EIO;
	struct heapd_libuv *p = (struct heapd_libuv *)calloc(1, sizeof *p);
	if (!p)
		return HEAPD_ENOBUFS;
	if (uv_poll_init_socket(loop, &p->poll, fd) != 0) {
		free(p);
		return HEAPD_EIO;
	}
	uv_timer_init(loop, &p->timer);
	p->poll.data = p->timer.data = p;
	p->open = 2;
	p->ac = ac;
	struct heapd_async_events ev = {
		.data = p,
		.add_read = heapd_libuv_add_read,
		.del_read = heapd_libuv_del_read,
		.add_write = heapd_libuv_add_write,
		.del_write = heapd_libuv_del_write,
		.cleanup = heapd_libuv_cleanup,
		.schedule_timer = heapd_libuv_schedule_timer,
	};
	int err = heapd_async_attach(ac, &ev);
	if (err)
		heapd_libuv_cleanup(p); /* frees p once libuv has closed the handles */
	return err;
}

#endif
