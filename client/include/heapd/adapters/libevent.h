/*
 * heapd/adapters/libevent.h - runs a heapd_async context on a libevent 2
 * event_base. Header-only: libheapd does not link libevent, the program
 * does (pkg-config libevent).
 *
 *     heapd_async *ac = heapd_async_connect(NULL);
 *     if (heapd_async_errcode(ac) || heapd_libevent_attach(ac, base) != 0)
 *             ... fail, heapd_async_free(ac) ...
 *     event_base_dispatch(base);   returns once the connection has closed
 *
 * Three events: one persistent read event, one persistent write event
 * (added only while the library has requests to send) and a timer for the
 * request timeout. The library's cleanup hook frees them, and may do so
 * from inside one of their callbacks (a reply callback that frees or
 * disconnects its context, a failure): the state struct then stays until
 * that callback returns (`entered`, `gone`), as hiredis' adapter does.
 */
#ifndef HEAPD_ADAPTERS_LIBEVENT_H
#define HEAPD_ADAPTERS_LIBEVENT_H

#include <stdlib.h>

#include <event2/event.h>

#include "../async.h"

struct heapd_libevent {
	heapd_async *ac;
	struct event *rev, *wev, *timer;
	int entered; /* one of our callbacks is running */
	int gone;    /* cleanup ran meanwhile: free on the way out */
};

static inline void heapd_libevent_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct heapd_libevent *e = (struct heapd_libevent *)arg;
	(void)fd;
	e->entered = 1;
	if (what & EV_TIMEOUT)
		heapd_async_handle_timeout(e->ac);
	if (!e->gone && (what & EV_READ))
		heapd_async_handle_read(e->ac);
	if (!e->gone && (what & EV_WRITE))
		heapd_async_handle_write(e->ac);
	e->entered = 0;
	if (e->gone)
		free(e);
}

static inline void heapd_libevent_add_read(void *data)
{
	event_add(((struct heapd_libevent *)data)->rev, NULL);
}

static inline void heapd_libevent_del_read(void *data)
{
	event_del(((struct heapd_libevent *)data)->rev);
}

static inline void heapd_libevent_add_write(void *data)
{
	event_add(((struct heapd_libevent *)data)->wev, NULL);
}

static inline void heapd_libevent_del_write(void *data)
{
	event_del(((struct heapd_libevent *)data)->wev);
}

static inline void heapd_libevent_schedule_timer(void *data, uint32_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(((struct heapd_libevent *)data)->timer, &tv); /* re-adding reschedules */
}

static inline void heapd_libevent_free_events(struct heapd_libevent *e)
{
	if (e->rev)
		event_free(e->rev);
	if (e->wev)
		event_free(e->wev);
	if (e->timer)
		event_free(e->timer);
	e->rev = e->wev = e->timer = NULL;
}

static inline void heapd_libevent_cleanup(void *data)
{
	struct heapd_libevent *e = (struct heapd_libevent *)data;
	heapd_libevent_free_events(e);
	if (e->entered)
		e->gone = 1;
	else
		free(e);
}

/* Attaches ac to base. Returns 0, HEAPD_EIO if ac is closed (check
 * heapd_async_errcode), HEAPD_EINVAL if it is attached already, or
 * HEAPD_ENOBUFS. */
static inline int heapd_libevent_attach(heapd_async *ac, struct event_base *base)
{
	int fd = heapd_async_fd(ac);
	if (fd < 0)
		return HEAPD_EIO;
	struct heapd_libevent *e = (struct heapd_libevent *)calloc(1, sizeof *e);
	if (!e)
		return HEAPD_ENOBUFS;
	e->ac = ac;
	e->rev = event_new(base, fd, EV_READ | EV_PERSIST, heapd_libevent_on_event, e);
	e->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, heapd_libevent_on_event, e);
	e->timer = evtimer_new(base, heapd_libevent_on_event, e);
	int err = HEAPD_ENOBUFS;
	if (e->rev && e->wev && e->timer) {
		struct heapd_async_events ev = {
			.data = e,
			.add_read = heapd_libevent_add_read,
			.del_read = heapd_libevent_del_read,
			.add_write = heapd_libevent_add_write,
			.del_write = heapd_libevent_del_write,
			.cleanup = heapd_libevent_cleanup,
			.schedule_timer = heapd_libevent_schedule_timer,
		};
		err = heapd_async_attach(ac, &ev);
	}
	if (err) {
		heapd_libevent_free_events(e);
		free(e);
	}
	return err;
}

#endif
