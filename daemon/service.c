/*
 * service.c - heapd under systemd: notifications, watchdog, cycle log.
 *
 * Everything here is a no-op without systemd: sd_notify does nothing when
 * $NOTIFY_SOCKET is unset, and the watchdog runs only when
 * $WATCHDOG_USEC is set for this process.
 *
 * - READY=1 once the socket listens and the heap exists; STOPPING=1 when a
 *   graceful stop begins; RELOADING=1 with MONOTONIC_USEC= when SIGHUP
 *   arrives, READY=1 again when the reload is done.
 * - STATUS= a one-line summary (heap in use, objects, cycles, clients),
 *   sent when it changed, at most once a second: the prepare callback
 *   offers it each iteration, and a one-shot timer sends what changed
 *   inside the last second, so the last state is always the one shown and
 *   a quiet daemon sends nothing.
 * - WATCHDOG=1 from a timer at half $WATCHDOG_USEC, from the loop itself:
 *   a loop that is stuck (a slice that never ends) stops the pings, and
 *   systemd restarts the service.
 * - Each completed collection cycle, at debug level: a structured journal
 *   entry (HEAPD_NUM_GC, HEAPD_PAUSE_NS: the cycle's longest pause,
 *   HEAPD_PAUSES, HEAPD_HEAP_LIVE: marked bytes, HEAPD_HEAP_GOAL,
 *   HEAPD_HEAP_INUSE, HEAPD_HEAP_RELEASED), or a log line off the journal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "server.h"

#define STATUS_INTERVAL_NS 1000000000u

static uint64_t monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void status_line(struct server *srv, char *buf, size_t n)
{
	struct heap_stats st;
	heap_read_stats(srv->heap, &st);
	snprintf(buf, n, "%.1f MiB in use, %.1f MiB released, %" PRIu64 " objects, %" PRIu64 " GCs, %u clients",
		 (double)st.heap_inuse / 1048576.0, (double)st.heap_released / 1048576.0, st.heap_objects, st.num_gc,
		 srv->nsessions);
}

static void send_status(struct server *srv)
{
	char line[160];
	status_line(srv, line, sizeof line);
	srv->status_sent_ns = srv_now_ns();
	sd_notifyf(0, "STATUS=%s", line);
}

static void on_status_timer(uv_timer_t *t)
{
	send_status(t->data);
}

/* Requests, closed sessions and cycles are what change the summary. */
void svc_status(struct server *srv)
{
	uint64_t seen = srv->activity + heap_cycles(srv->heap);
	if (!srv->notify || uv_is_active((uv_handle_t *)&srv->status_timer) || seen == srv->status_seen)
		return;
	srv->status_seen = seen;
	uint64_t since = srv_now_ns() - srv->status_sent_ns;
	if (since >= STATUS_INTERVAL_NS)
		send_status(srv);
	else
		uv_timer_start(&srv->status_timer, on_status_timer, (STATUS_INTERVAL_NS - since) / 1000000u + 1, 0);
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	sd_notify(0, "WATCHDOG=1");
}

/* The longest pause since the last cycle, from the ring. */
static uint64_t cycle_pauses(const struct heap_stats *st, uint64_t since, uint64_t *count)
{
	uint64_t n = st->num_pause - since, max = 0;
	if (n > HEAP_PAUSE_RING)
		n = HEAP_PAUSE_RING;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = st->pause_ns[(st->num_pause - 1 - i) % HEAP_PAUSE_RING];
		if (p > max)
			max = p;
	}
	*count = st->num_pause - since;
	return max;
}

void svc_cycle_done(struct server *srv)
{
	uint64_t cycles = heap_cycles(srv->heap);
	if (cycles == srv->cycles_logged)
		return;
	srv->cycles_logged = cycles;
	if (log_get_level() < LOGL_DEBUG) {
		srv->pauses_logged = 0;
		return;
	}
	struct heap_stats st;
	heap_read_stats(srv->heap, &st);
	uint64_t pauses, longest = cycle_pauses(&st, srv->pauses_logged, &pauses);
	srv->pauses_logged = st.num_pause;
	if (log_to_journal()) {
		int r = sd_journal_send("MESSAGE=gc %" PRIu64 ": %" PRIu64 " bytes live, goal %" PRIu64 ", longest pause %" PRIu64
					" ns",
					st.num_gc, st.heap_marked, st.next_gc, longest, "PRIORITY=7", "SYSLOG_IDENTIFIER=heapd",
					"HEAPD_NUM_GC=%" PRIu64, st.num_gc, "HEAPD_PAUSE_NS=%" PRIu64, longest,
					"HEAPD_PAUSES=%" PRIu64, pauses, "HEAPD_HEAP_LIVE=%" PRIu64, st.heap_marked,
					"HEAPD_HEAP_GOAL=%" PRIu64, st.next_gc, "HEAPD_HEAP_INUSE=%" PRIu64, st.heap_inuse,
					"HEAPD_HEAP_RELEASED=%" PRIu64, st.heap_released, NULL);
		if (r >= 0)
			return;
	}
	log_debug("gc %" PRIu64 ": %" PRIu64 " bytes live, goal %" PRIu64 ", %" PRIu64 " pauses, longest %" PRIu64 " ns",
		  st.num_gc, st.heap_marked, st.next_gc, pauses, longest);
}

void svc_ready(struct server *srv)
{
	char line[160];
	status_line(srv, line, sizeof line);
	srv->status_sent_ns = srv_now_ns();
	sd_notifyf(0, "READY=1\nSTATUS=%s", line);
}

void svc_reloading(void)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, monotonic_usec());
}

void svc_stopping(struct server *srv)
{
	if (uv_is_active((uv_handle_t *)&srv->status_timer))
		uv_timer_stop(&srv->status_timer);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

int svc_start(struct server *srv)
{
	srv->notify = getenv("NOTIFY_SOCKET") != NULL;
	uv_timer_init(srv->loop, &srv->status_timer);
	uv_timer_init(srv->loop, &srv->watchdog);
	srv->status_timer.data = srv->watchdog.data = srv;
	uv_unref((uv_handle_t *)&srv->status_timer);
	uv_unref((uv_handle_t *)&srv->watchdog);
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);
	if (r < 0)
		log_warn("watchdog: %s", strerror(-r));
	if (r > 0 && usec) {
		uint64_t ms = usec / 2000 ? usec / 2000 : 1;
		uv_timer_start(&srv->watchdog, on_watchdog, ms, ms);
		log_info("watchdog: pinging systemd every %" PRIu64 " ms", ms);
	}
	return 0;
}

void svc_stop(struct server *srv)
{
	uv_close((uv_handle_t *)&srv->status_timer, NULL);
	uv_close((uv_handle_t *)&srv->watchdog, NULL);
}
