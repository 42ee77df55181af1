/*
 * persist.c - the heap kept across restarts: the snapshot loaded at
 * start, saves while serving, and the save at a stop (docs/persistence.md).
 *
 * A save while serving runs in the loop's slices as collection does
 * (collector.c calls persist_turn with the same duty cycle): the engine's
 * steps fill blocks (snapfile.c's format) in PERSIST_BUFS buffers, and the
 * thread pool writes them, one at a time, to SNAP_TMP in the state
 * directory; then, still off the loop, the end block and the header, an
 * fsync, the rename over SNAP_FILE and an fsync of the directory. The loop
 * never waits on the disk: when every buffer waits for the disk, the save
 * waits and clients are served. A save that fails (the disk's error, a
 * full disk, no memory for a copy) removes its temporary file and leaves
 * the previous snapshot as it was; heapd goes on serving.
 *
 * A stop (after the loop has closed every client) saves again, blocking,
 * when save_on_stop says so: that snapshot holds everything. Saves start
 * on request (op save), and every save_interval seconds when at least
 * save_min_changes requests changed the heap since the last save began.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "server.h"
#include "snapfile.h"
#include "text.h"

#define PERIOD_MS 1000u   /* how often the periodic rule is looked at */

static uint64_t unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* path of name in the state directory. */
static void state_path(const struct server *srv, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", srv->cfg.state_dir, name);
}

/* ---- answering save requests ---- */

static void answer(struct session *s, int ok, const char *msg)
{
	Heapd__Response resp = HEAPD__RESPONSE__INIT;
	resp.id = s->wait_id;
	if (!ok) {
		resp.status = HEAPD__STATUS__FAILED;
		resp.error = (char *)msg;
	}
	list_remove(&s->wait_link);
	s->wait_link.next = s->wait_link.prev = NULL;
	s->state = S_READY;
	sess_reply(s, &resp);
	sess_process(s);
}

static void answer_all(struct list *list, int ok, const char *msg)
{
	while (!list_empty(list))
		answer(container_of(list->next, struct session, wait_link), ok, msg);
}

/* ---- a save while serving ---- */

static void write_next(struct server *srv);

/* Ends the save: its file is renamed into place (ok) or removed. Its
 * waiters are answered last, once the next save (again) has begun: what
 * they do next finds the state settled. */
static void save_done(struct server *srv, int ok, const char *why)
{
	struct persist *p = &srv->persist;
	char tmp[PATH_MAX], msg[sizeof p->error];
	snprintf(msg, sizeof msg, "%s", why ? why : "");
	if (heap_saving(srv->heap))
		heap_save_end(srv->heap);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	uint64_t ns = srv_now_ns() - p->begun_ns;
	if (ok) {
		p->last_unix_ns = p->begun_unix_ns;
		p->last_duration_ns = ns;
		p->last_bytes = p->off + SNAP_END;
		p->last_objects = p->info.objects;
		p->changes_saved = p->changes_at_begin;
		p->saves++;
		log_info("saved %llu objects and %llu roots (%llu bytes) in %llu ms", (unsigned long long)p->info.objects,
			 (unsigned long long)p->info.roots, (unsigned long long)p->last_bytes,
			 (unsigned long long)(ns / 1000000));
	} else {
		state_path(srv, SNAP_TMP, tmp, sizeof tmp);
		unlink(tmp);
		p->failures++;
		log_error("save failed: %s (the previous snapshot is kept)", msg);
	}
	p->running = 0;
	p->last_end_ns = srv_now_ns();
	struct list done;
	list_init(&done);
	list_take_all(&done, &p->waiters);
	if (p->again) {
		p->again = 0;
		list_take_all(&p->waiters, &p->next_waiters);
		persist_save(srv);
	}
	answer_all(&done, ok, msg);
}

/* Stops the save where it is; save_done follows once no I/O is in flight. */
static void save_fail(struct server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void save_fail(struct server *srv, const char *fmt, ...)
{
	struct persist *p = &srv->persist;
	if (p->error[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	if (heap_saving(srv->heap))
		heap_save_end(srv->heap);
	p->stream_done = 1;
	write_next(srv);
}

/* The end of a save's file: the end block and the header, then fsync,
 * rename and the directory's fsync. NULL, or the step that failed. */
static const char *finish_file(struct persist *p)
{
	if (pwrite(p->fd, p->end, SNAP_END, (off_t)p->off) != SNAP_END ||
	    pwrite(p->fd, p->header, SNAP_HEADER, 0) != SNAP_HEADER)
		return "write";
	return snap_commit(p->fd, p->tmp, p->path, p->dir);
}

/* The thread pool's part: one block written, or the file finished. */
static void io_work(uv_work_t *w)
{
	struct persist *p = w->data;
	errno = 0;
	p->io_step = NULL;
	if (!p->io_len) {
		p->io_step = finish_file(p);
	} else {
		for (size_t done = 0; done < p->io_len;) {
			ssize_t k = pwrite(p->fd, p->io_buf + done, p->io_len - done, (off_t)(p->io_off + done));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				p->io_step = "write";
				break;
			}
			done += (size_t)k;
		}
	}
	p->io_errno = p->io_step ? (errno ? errno : EIO) : 0;
}

static void io_done(uv_work_t *w, int status)
{
	struct server *srv = container_of(w, struct server, persist.work);
	struct persist *p = &srv->persist;
	p->writing = 0;
	if (status || p->io_errno) {
		save_fail(srv, "%s %s: %s", p->io_step ? p->io_step : "write", p->tmp,
			  status ? uv_strerror(status) : strerror(p->io_errno));
		return;
	}
	if (p->io_len) {
		p->len[p->wr] = 0;
		p->wr = (p->wr + 1) % PERSIST_BUFS;
		p->off += p->io_len;
	} else {
		save_done(srv, 1, NULL);
		return;
	}
	write_next(srv);
	coll_kick(srv);  /* a buffer is free: the save may go on */
}

/* Starts the next write, or the finish, or ends a failed save. */
static void write_next(struct server *srv)
{
	struct persist *p = &srv->persist;
	if (p->writing || !p->running)
		return;
	if (p->error[0]) {
		save_done(srv, 0, p->error);
		return;
	}
	if (p->len[p->wr]) {
		p->io_buf = p->buf[p->wr];
		p->io_len = p->len[p->wr];
		p->io_off = p->off;
	} else if (p->stream_done) {
		struct heap_save_info si;
		heap_save_info(srv->heap, &si);
		p->info = (struct snap_info){si.objects, si.roots, si.slots, si.bytes, p->begun_unix_ns, SNAP_VERSION};
		snap_end(p->end, p->index, p->total);
		snap_header(p->header, &p->info);
		p->io_len = 0;
	} else {
		return;
	}
	p->writing = 1;
	p->work.data = p;
	uv_queue_work(srv->loop, &p->work, io_work, io_done);
}

/* Seals the buffer being filled and queues it. */
static void seal(struct persist *p)
{
	p->len[p->fill_buf] = snap_seal(p->buf[p->fill_buf], (uint32_t)p->fill, p->index++);
	p->fill_buf = (p->fill_buf + 1) % PERSIST_BUFS;
	p->fill = 0;
}

bool persist_busy(const struct server *srv)
{
	const struct persist *p = &srv->persist;
	return p->running && !p->stream_done && !p->len[p->fill_buf];
}

void persist_turn(struct server *srv, uint64_t budget_ns)
{
	struct persist *p = &srv->persist;
	if (!persist_busy(srv))
		return;
	size_t len;
	int more = heap_save_step(srv->heap, budget_ns, p->buf[p->fill_buf] + 4 + p->fill, SNAP_BLOCK_MAX - p->fill,
				  &len);
	p->fill += len;
	p->total += len;
	if (more < 0) {
		save_fail(srv, "%s", more == HEAP_ENOMEM ? "out of memory for a copy of a changed object"
							 : heap_strerror(more));
		return;
	}
	if (p->fill && (!more || SNAP_BLOCK_MAX - p->fill < HEAP_SAVE_MIN_BUF))
		seal(p);
	if (!more)
		p->stream_done = 1;
	write_next(srv);
}

void persist_save(struct server *srv)
{
	struct persist *p = &srv->persist;
	if (p->running) {
		p->again = 1;
		return;
	}
	for (unsigned i = 0; i < PERSIST_BUFS; i++)
		if (!p->buf[i] && !(p->buf[i] = malloc(SNAP_BLOCK_MAX + SNAP_BLOCK_EXTRA))) {
			save_done(srv, 0, "out of memory for the save's buffers");
			return;
		}
	state_path(srv, SNAP_TMP, p->tmp, sizeof p->tmp);
	state_path(srv, SNAP_FILE, p->path, sizeof p->path);
	snprintf(p->dir, sizeof p->dir, "%s", srv->cfg.state_dir);
	p->running = 1;
	p->begun_ns = srv_now_ns();
	p->begun_unix_ns = unix_ns();
	p->changes_at_begin = p->changes;
	p->error[0] = '\0';
	p->stream_done = 0;
	p->fill = p->fill_buf = p->wr = 0;
	p->off = SNAP_HEADER;
	p->index = p->total = 0;
	p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (p->fd < 0) {
		save_done(srv, 0, strerror(errno));
		return;
	}
	int r = heap_save_begin(srv->heap);
	if (r < 0) {
		save_done(srv, 0, heap_strerror(r));
		return;
	}
	log_debug("save begun%s", r ? ", after the marking or the retained count in progress" : "");
	coll_kick(srv);
}

void persist_request(struct session *s, uint64_t id, bool wait)
{
	struct server *srv = s->srv;
	struct persist *p = &srv->persist;
	int again = p->running;
	if (wait) {
		s->wait_id = id;
		s->state = S_WAITING;
		list_push_tail(again ? &p->next_waiters : &p->waiters, &s->wait_link);
	}
	persist_save(srv);
	if (!wait) {
		Heapd__Response resp = HEAPD__RESPONSE__INIT;
		resp.id = id;
		sess_reply(s, &resp);
	}
}

static void on_period(uv_timer_t *t)
{
	struct server *srv = t->data;
	struct persist *p = &srv->persist;
	uint64_t interval = srv->cfg.save_interval_s * 1000000000u;
	if (!interval || p->running || srv_now_ns() - p->last_end_ns < interval)
		return;
	if (p->changes - p->changes_saved < (srv->cfg.save_min_changes ? srv->cfg.save_min_changes : 1))
		return;
	log_debug("%llu changes since the last save: saving", (unsigned long long)(p->changes - p->changes_saved));
	persist_save(srv);
}

/* ---- loading at start ---- */

static long read_fd(void *arg, void *buf, size_t len)
{
	return (long)read(*(int *)arg, buf, len);
}

struct progress {
	struct server *srv;
	uint64_t last_ns;
};

static void on_progress(void *arg, uint64_t done, uint64_t size)
{
	struct progress *pr = arg;
	uint64_t now = srv_now_ns();
	if (now - pr->last_ns < 1000000000u)
		return;
	pr->last_ns = now;
	unsigned pct = (unsigned)(size ? done * 100 / size : 100);
	if (pr->srv->notify)
		sd_notifyf(0, "STATUS=loading the snapshot: %u%%\nWATCHDOG=1", pct);
	log_info("loading the snapshot: %u%% (%llu of %llu MiB)", pct, (unsigned long long)(done >> 20),
		 (unsigned long long)(size >> 20));
}

/* Roots as the daemon's own rules want them: names of text, rw modes,
 * each charged to its owner. 0, or -1 with err. */
struct root_check {
	struct server *srv;
	char *err;
	size_t cap;
	int bad;
};

static int check_root(void *arg, const char *name, size_t len, const struct heap_root_meta *m)
{
	struct root_check *rc = arg;
	if (!text_valid(name, len) || (m->mode & ~0666u)) {
		snprintf(rc->err, rc->cap, "a root %s", text_valid(name, len) ? "with a mode other than rw bits"
									       : "whose name is not UTF-8 text");
		rc->bad = 1;
		return 1;
	}
	struct tenant *t = ten_get(rc->srv, m->uid);
	if (!t) {
		snprintf(rc->err, rc->cap, "out of memory");
		rc->bad = 1;
		return 1;
	}
	ten_root_made(t, len);
	return 0;
}

/* Loads path into srv->heap: 0, 1 when there is none, -1 with err. */
static int load_file(struct server *srv, const char *path, char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, cap, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct progress pr = {srv, srv_now_ns()};
	struct snap_info info;
	log_info("loading %s (%llu MiB)", path, (unsigned long long)((uint64_t)st.st_size >> 20));
	int r = snap_load(srv->heap, read_fd, &fd, (uint64_t)st.st_size, on_progress, &pr, &info, err, cap);
	close(fd);
	if (r)
		return -1;
	struct root_check rc = {srv, err, cap, 0};
	heap_root_names(srv->heap, check_root, &rc);
	if (rc.bad)
		return -1;
	srv->persist.last_unix_ns = info.created_unix_ns;
	srv->persist.last_objects = info.objects;
	srv->persist.last_bytes = (uint64_t)st.st_size;
	log_info("loaded %llu objects and %llu roots", (unsigned long long)info.objects,
		 (unsigned long long)info.roots);
	return 0;
}

/* Moves a snapshot that could not be loaded aside, to path.bad-TIME. */
static void move_aside(const char *path)
{
	char to[PATH_MAX + 32];
	snprintf(to, sizeof to, "%s.bad-%lld", path, (long long)time(NULL));
	if (rename(path, to))
		log_error("cannot move %s aside: %s", path, strerror(errno));
	else
		log_warn("moved %s to %s: heapd starts with an empty heap", path, to);
}

int persist_start(struct server *srv)
{
	struct persist *p = &srv->persist;
	p->fd = -1;
	list_init(&p->waiters);
	list_init(&p->next_waiters);
	uv_timer_init(srv->loop, &p->timer);
	p->timer.data = srv;
	uv_timer_start(&p->timer, on_period, PERIOD_MS, PERIOD_MS);
	uv_unref((uv_handle_t *)&p->timer);
	p->last_end_ns = srv_now_ns();
	if (!srv->cfg.state_dir[0]) {
		log_info("state_dir is empty: the heap is not saved");
		return 0;
	}
	char path[PATH_MAX], err[512];
	if (mkdir(srv->cfg.state_dir, 0700) && errno != EEXIST) {
		log_error("state_dir %s: %s", srv->cfg.state_dir, strerror(errno));
		return -1;
	}
	if (access(srv->cfg.state_dir, W_OK | X_OK)) {
		log_error("state_dir %s: %s (heapd saves its snapshot there)", srv->cfg.state_dir, strerror(errno));
		return -1;
	}
	state_path(srv, SNAP_TMP, path, sizeof path);
	unlink(path);  /* a save a crash interrupted */
	state_path(srv, SNAP_FILE, path, sizeof path);
	uint64_t t0 = srv_now_ns();
	int r = load_file(srv, path, err, sizeof err);
	if (r < 0) {
		log_error("cannot load %s: %s", path, err);
		if (!srv->cfg.discard_snapshot) {
			log_error("heapd does not start with a snapshot it cannot load; --discard-snapshot moves it "
				  "aside and starts with an empty heap");
			return PERSIST_BAD_SNAPSHOT;
		}
		heap_free(srv->heap);
		ten_free_all(srv);
		if (!(srv->heap = heap_new(&srv->cfg.heap)))
			return -1;
		move_aside(path);
	}
	p->load_ns = r ? 0 : srv_now_ns() - t0;
	return 0;
}

void persist_stop(struct server *srv)
{
	struct persist *p = &srv->persist;
	uv_close((uv_handle_t *)&p->timer, NULL);
	const char *msg = "heapd is stopping; the save at stop (save_on_stop) takes this one's place";
	answer_all(&p->waiters, 0, msg);
	answer_all(&p->next_waiters, 0, msg);
}

int persist_save_at_stop(struct server *srv)
{
	struct persist *p = &srv->persist;
	if (!srv->cfg.state_dir[0] || !srv->cfg.save_on_stop)
		return 0;
	if (heap_saving(srv->heap))
		heap_save_end(srv->heap);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	char tmp[PATH_MAX], path[PATH_MAX], err[512];
	state_path(srv, SNAP_TMP, tmp, sizeof tmp);
	state_path(srv, SNAP_FILE, path, sizeof path);
	if (srv->notify)
		sd_notify(0, "STATUS=saving the heap");
	uint64_t t0 = srv_now_ns();
	struct snap_info info = {.created_unix_ns = unix_ns()};
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = -1;
	const char *step;
	if (fd < 0)
		snprintf(err, sizeof err, "open: %s", strerror(errno));
	else if ((r = snap_write(srv->heap, fd, &info, err, sizeof err)) == 0 &&
		 (step = snap_commit(fd, tmp, path, srv->cfg.state_dir)) != NULL) {
		snprintf(err, sizeof err, "%s: %s", step, strerror(errno));
		r = -1;
	}
	if (fd >= 0)
		close(fd);
	if (r) {
		unlink(tmp);
		log_error("save at stop failed: %s (the previous snapshot is kept)", err);
		return -1;
	}
	log_info("saved %llu objects and %llu roots at stop in %llu ms", (unsigned long long)info.objects,
		 (unsigned long long)info.roots, (unsigned long long)((srv_now_ns() - t0) / 1000000));
	return 0;
}

void persist_free(struct server *srv)
{
	for (unsigned i = 0; i < PERSIST_BUFS; i++)
		free(srv->persist.buf[i]);
}
