/*
 * main.c - heapd: start-up, signals, reload, graceful stop.
 *
 * heapd never forks: it runs in the foreground, under systemd or in a
 * terminal. Start-up order: configuration (defaults < file < flags), the
 * heap, the socket, the collector's loop work, the signals. Any failure
 * before serving exits 1 with a message; a bad command line exits 2; a
 * snapshot that cannot be loaded exits 3 (persist.c), as restarting
 * would not help either.
 *
 * SIGHUP re-reads the configuration and applies what can change at run
 * time (config_reload says which), telling systemd RELOADING=1 and then
 * READY=1 (service.c); SIGTERM and SIGINT stop gracefully:
 * stop accepting (closing the listener removes the socket this daemon
 * created), answer every complete request already received, flush, close
 * every client, save the heap (save_on_stop), exit 0 (1 if that save
 * failed). A stop that cannot flush within STOP_TIMEOUT_MS
 * (a client that never reads) closes what is left.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define STOP_TIMEOUT_MS 5000

static void close_all_sessions(struct server *srv)
{
	struct list *l = srv->sessions.next;
	while (l != &srv->sessions) {
		struct session *s = container_of(l, struct session, link);
		l = l->next;
		sess_abort(s);
	}
}

static void on_stop_timeout(uv_timer_t *t)
{
	struct server *srv = t->data;
	log_warn("stop: clients not reading their replies after %d ms: closing them", STOP_TIMEOUT_MS);
	close_all_sessions(srv);
	uv_close((uv_handle_t *)t, NULL);
}

static void stop(struct server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_info("stopping");
	svc_stopping(srv);
	lsn_stop(srv);
	persist_stop(srv);
	retained_stop(srv);
	coll_finish_waits(srv);
	/* Answer what was received, then close each client once its replies
	 * are written. */
	struct list *l = srv->sessions.next;
	while (l != &srv->sessions) {
		struct session *s = container_of(l, struct session, link);
		l = l->next;
		while (s->state == S_READY && s->ready_link.next) {
			list_remove(&s->ready_link);
			s->ready_link.next = s->ready_link.prev = NULL;
			sess_process(s);
		}
		sess_close(s, NULL);
	}
	coll_stop(srv);
	svc_stop(srv);
	uv_close((uv_handle_t *)&srv->sigterm, NULL);
	uv_close((uv_handle_t *)&srv->sigint, NULL);
	uv_close((uv_handle_t *)&srv->sighup, NULL);
	uv_timer_init(srv->loop, &srv->stop_timer);
	srv->stop_timer.data = srv;
	uv_timer_start(&srv->stop_timer, on_stop_timeout, STOP_TIMEOUT_MS, 0);
	uv_unref((uv_handle_t *)&srv->stop_timer);
}

static void reload(struct server *srv)
{
	char err[512];
	svc_reloading();
	if (config_reload(&srv->cfg, err, sizeof err) != 0) {
		log_error("reload: %s (configuration unchanged)", err);
	} else {
		if (heap_reconfigure(srv->heap, &srv->cfg.heap) != 0)
			log_error("reload: the heap kept its settings (a setting fixed at start changed)");
		lsn_fit_fd_limit(srv);
		admit_reconfigured(srv);
		log_set_level(srv->cfg.log_level);
		log_set_target(srv->cfg.log_target);
		coll_schedule_gc_timer(srv);
		log_info("configuration reloaded");
	}
	svc_ready(srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;
	if (signum == SIGHUP)
		reload(srv);
	else
		stop(srv);
}

/* The loop ended with every client gone; what is left (the stop timer)
 * only needs closing. */
static void close_leftover(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void watch_signal(struct server *srv, uv_signal_t *h, int signum)
{
	uv_signal_init(srv->loop, h);
	h->data = srv;
	uv_signal_start(h, on_signal, signum);
	uv_unref((uv_handle_t *)h);
}

int main(int argc, char **argv)
{
	static struct server srv;
	char err[512];
	/* A client that goes away mid-write must cost an EPIPE, not the daemon. */
	signal(SIGPIPE, SIG_IGN);
	config_init(&srv.cfg);
	int r = config_parse(&srv.cfg, argc, argv, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "heapd: %s\n", err);
		config_free(&srv.cfg);
		return 2;
	}
	if (r > 0) {
		if (r == 2)
			printf("heapd: configuration is valid\n");
		config_free(&srv.cfg);
		return 0;
	}
	log_set_level(srv.cfg.log_level);
	log_set_target(srv.cfg.log_target);
	srv.start_ns = srv_now_ns();
	srv.heap = heap_new(&srv.cfg.heap);
	if (!srv.heap) {
		log_error("cannot reserve a heap of %zu bytes", srv.cfg.heap.max_heap);
		config_free(&srv.cfg);
		return 1;
	}
	lsn_fit_fd_limit(&srv);
	srv.loop = uv_default_loop();
	list_init(&srv.sessions);
	scratch_init(&srv.scratch);
	/* Signals first: a SIGTERM that arrives as soon as the socket accepts
	 * must stop heapd gracefully (removing the socket), not kill it. */
	watch_signal(&srv, &srv.sigterm, SIGTERM);
	watch_signal(&srv, &srv.sigint, SIGINT);
	watch_signal(&srv, &srv.sighup, SIGHUP);
	int loaded = 0;
	if (coll_start(&srv) != 0 || svc_start(&srv) != 0 || (loaded = persist_start(&srv)) != 0 ||
	    lsn_start(&srv) != 0) {
		uv_walk(srv.loop, close_leftover, NULL);
		uv_run(srv.loop, UV_RUN_DEFAULT);
		uv_loop_close(srv.loop);
		ten_free_all(&srv);
		heap_free(srv.heap);
		config_free(&srv.cfg);
		return loaded == PERSIST_BAD_SNAPSHOT ? 3 : 1;
	}
	log_info("heapd %s serving %s (max_heap %zu MiB, %u mark worker%s, pid %d)", PACKAGE_VERSION,
		 srv.activated ? "the socket systemd passed" : srv.cfg.socket_path, srv.cfg.heap.max_heap >> 20,
		 heap_mark_workers(srv.heap), heap_mark_workers(srv.heap) == 1 ? "" : "s", (int)getpid());
	svc_ready(&srv);
	uv_run(srv.loop, UV_RUN_DEFAULT);
	uv_walk(srv.loop, close_leftover, NULL);
	uv_run(srv.loop, UV_RUN_DEFAULT);
	uv_loop_close(srv.loop);
	int saved = persist_save_at_stop(&srv);
	persist_free(&srv);
	zc_close(&srv);
	scratch_free(&srv.scratch);
	guard_stop(&srv);
	ten_free_all(&srv);
	heap_free(srv.heap);
	config_free(&srv.cfg);
	log_info("stopped");
	return saved ? 1 : 0;
}
