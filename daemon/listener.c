/*
 * listener.c - the daemon's Unix socket.
 *
 * Start-up: a file already at the socket path is replaced only when it is a
 * socket and no live daemon answers on it (a stale file left by a crash);
 * a live daemon, or a file that is not a socket, stops start-up with a
 * message. The socket is bound under a umask that gives it the configured
 * mode from the first instant, so no client can connect through wider
 * permissions in between.
 *
 * Accept: every connection becomes a session, with its peer's credentials
 * (SO_PEERCRED) and groups (SO_PEERGROUPS, read_groups() says what is
 * kept), and admit.c decides whether it is served, so that
 * refusals can be told to the client in a reply frame rather than as a
 * bare reset. A refusal needs a descriptor for the
 * moment it takes to write it, so max_clients must fit in RLIMIT_NOFILE:
 * lsn_fit_fd_limit() raises the soft limit to what max_clients needs, or
 * lowers the number of clients served to what the limit allows. Otherwise
 * accept() would fail with EMFILE past the limit and libuv would reset the
 * connections it cannot accept, a bare EOF instead of the refusal.
 *
 * Socket activation: when systemd passes a socket ($LISTEN_FDS), heapd
 * serves it instead of creating one, after checking it is a listening Unix
 * stream socket; anything else is a start-up error.
 *
 * Stop: heapd removes the socket file it created, and no other. It binds
 * the socket itself and hands libuv the descriptor (uv_pipe_open), as
 * libuv's uv_pipe_bind would unlink its path on close whatever file is
 * there by then: if the file was removed and another heapd bound the
 * path since, that one's socket would go. The device and inode of the
 * file are recorded right after bind(), and at stop the path is unlinked
 * only if it still names them. A socket systemd passed is never unlinked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "server.h"
#include "text.h"

#define ACCEPTS_PER_TURN 16u

/* 1 if a daemon accepts connections on path, 0 if not (stale). */
static int socket_alive(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return 0;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	/* A full backlog (EAGAIN) still means someone is listening. */
	int alive = r == 0 || errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return alive;
}

static void free_unaccepted(uv_handle_t *h)
{
	free(h->data);
}

/* The peer's groups into s: its primary gid, then its supplementary
 * groups up to SESS_GROUPS_MAX in all. A peer in more groups (Linux
 * allows 65536) or whose groups cannot be read keeps what fit, marked
 * groups_cut: a group it was not seen in cannot let it in (allowed_gids)
 * and, as one may be a readonly_gids group, makes it read-only while
 * readonly_gids is set (admit_role). */
static void read_groups(int fd, struct session *s)
{
	gid_t buf[SESS_GROUPS_MAX], *all = buf;
	socklen_t len = sizeof buf;
	s->groups[0] = s->gid;
	s->ngroups = 1;
	int r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len);
	if (r != 0 && errno == ERANGE && (all = malloc(len)) != NULL)
		r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, all, &len);
	size_t n = r == 0 ? len / sizeof *all : 0;
	s->groups_cut = r != 0;
	for (size_t i = 0; i < n; i++) {
		if (all[i] == s->gid)
			continue;
		if (s->ngroups == SESS_GROUPS_MAX) {
			s->groups_cut = true;
			break;
		}
		s->groups[s->ngroups++] = all[i];
	}
	if (all != buf)
		free(all);
}

/* The peer's command name (/proc/PID/comm) as text, and when it came,
 * for client_list: read once here, not at each listing. The pid may be
 * gone, or another process's by now; the name is what it says, no more. */
static void read_comm(struct session *s)
{
	char path[64], buf[32];
	ssize_t n = -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->connected_unix_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)s->pid);
	int fd = s->pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, buf, sizeof buf);
		close(fd);
	}
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	text_escape(s->comm, sizeof s->comm, buf, n > 0 ? (size_t)n : 0);
}

/* Accepts the connection libuv has ready on the listener. */
static void accept_one(struct server *srv)
{
	uv_stream_t *l = (uv_stream_t *)&srv->listener;
	srv->accepts++;
	struct session *s = calloc(1, sizeof *s);
	if (!s) {
		/* Take the connection off the queue, or libuv keeps offering it. */
		uv_pipe_t drop;
		uv_pipe_init(srv->loop, &drop, 0);
		if (uv_accept(l, (uv_stream_t *)&drop) == 0)
			log_error("out of memory: dropped a connection");
		uv_close((uv_handle_t *)&drop, NULL);
		return;
	}
	uv_pipe_init(srv->loop, &s->pipe, 0);
	s->pipe.data = s;
	if (uv_accept(l, (uv_stream_t *)&s->pipe) != 0) {
		uv_close((uv_handle_t *)&s->pipe, free_unaccepted);
		return;
	}
	struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t len = sizeof cred;
	uv_os_fd_t fd = -1;
	if (uv_fileno((uv_handle_t *)&s->pipe, &fd) == 0)
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	s->pid = cred.pid;
	s->uid = cred.uid;
	s->gid = cred.gid;
	read_groups(fd, s);
	read_comm(s);
	admit_session(srv, s);
}

/* libuv accepts every connection queued on the listener in one go, and a
 * session costs tens of microseconds to set up: a client that opens a
 * thousand at once would stop the loop for tens of ms. So at most
 * ACCEPTS_PER_TURN are taken per loop iteration; past that the callback
 * leaves the one libuv holds, which stops libuv polling the listener
 * until lsn_turn() accepts it in the next iteration. */
static void on_connection(uv_stream_t *l, int status)
{
	struct server *srv = l->data;
	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	srv->io_events++;
	if (srv->accepts >= ACCEPTS_PER_TURN) {
		srv->accept_held = 1;
		return;
	}
	accept_one(srv);
}

void lsn_turn(struct server *srv)
{
	srv->accepts = 0;
	if (srv->accept_held && srv->listening) {
		srv->accept_held = 0;
		accept_one(srv);
	}
}

/* Descriptors heapd needs besides one per client: stdio, the listener,
 * epoll, libuv's signal pipe and timers, the journal, /proc/self/statm
 * for stats, the config file on reload, and the connection being refused.
 * Redis reserves 32 as well. */
#define FD_RESERVE 32u

void lsn_fit_fd_limit(struct server *srv)
{
	uint32_t want = srv->cfg.max_clients;
	rlim_t need = (rlim_t)want + FD_RESERVE;
	struct rlimit rl;
	srv->max_clients = want;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	/* Raising the soft limit up to the hard one needs no privilege; it
	 * fails only under a seccomp filter (systemd's @resources). */
	struct rlimit raised = {rl.rlim_max < need ? rl.rlim_max : need, rl.rlim_max};
	if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
		rl.rlim_cur = raised.rlim_cur;
	if (rl.rlim_cur >= need)
		return;
	srv->max_clients = rl.rlim_cur > FD_RESERVE + 1 ? (uint32_t)(rl.rlim_cur - FD_RESERVE) : 1;
	log_warn("max_clients %u needs %llu open files but the limit is %llu: serving at most %u clients",
		 want, (unsigned long long)need, (unsigned long long)rl.rlim_cur, srv->max_clients);
}

/* Listens on srv->listener, opened or bound (r, 0 or a libuv error):
 * returns 0, or -1 after logging what failed and closing the handle. */
static int listen_or_close(struct server *srv, int r, const char *what)
{
	if (r == 0)
		r = uv_listen((uv_stream_t *)&srv->listener, SOMAXCONN, on_connection);
	if (r != 0) {
		log_error("%s: %s", what, uv_strerror(r));
		uv_close((uv_handle_t *)&srv->listener, NULL);
		return -1;
	}
	srv->listening = 1;
	return 0;
}

/* The socket systemd passed ($LISTEN_FDS): it must be one listening Unix
 * stream socket. Returns 1 when serving it, 0 when none was passed, -1 on
 * a socket heapd cannot serve. */
static int lsn_activated(struct server *srv)
{
	int n = sd_listen_fds(1);
	if (n == 0)
		return 0;
	if (n < 0) {
		log_error("socket activation: %s", strerror(-n));
		return -1;
	}
	int fd = SD_LISTEN_FDS_START;
	if (n != 1 || sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_error("socket activation: systemd passed %d socket(s); heapd serves exactly one listening "
			  "Unix stream socket (ListenStream= with a path)",
			  n);
		return -1;
	}
	uv_pipe_init(srv->loop, &srv->listener, 0);
	srv->listener.data = srv;
	char what[64];
	snprintf(what, sizeof what, "socket activation: cannot serve fd %d", fd);
	if (listen_or_close(srv, uv_pipe_open(&srv->listener, fd), what) != 0)
		return -1;
	srv->activated = 1;
	return 1;
}

/* A Unix stream socket bound to path under a umask that gives the file
 * mode from the first instant; its descriptor, or a libuv error. */
static int bind_socket(const char *path, mode_t mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return UV_ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(~mode & 0777);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	int err = errno;
	umask(old);
	if (r != 0) {
		close(fd);
		return -err; /* libuv's errors are negated errnos on Linux */
	}
	return fd;
}

/* Removes the socket file this daemon bound, if the path still names it. */
static void unlink_own(struct server *srv)
{
	const char *path = srv->cfg.socket_path;
	struct stat st;
	if (!srv->bound)
		return;
	srv->bound = 0;
	if (lstat(path, &st) != 0)
		return;
	if (st.st_dev != srv->bound_dev || st.st_ino != srv->bound_ino) {
		log_info("not removing %s: it is no longer the socket this daemon created", path);
		return;
	}
	if (unlink(path) != 0)
		log_warn("cannot remove the socket %s: %s", path, strerror(errno));
}

int lsn_start(struct server *srv)
{
	admit_start(srv);
	int act = lsn_activated(srv);
	if (act != 0)
		return act > 0 ? 0 : -1;
	const char *path = srv->cfg.socket_path;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket: not replacing it", path);
			return -1;
		}
		if (socket_alive(path)) {
			log_error("another heapd is serving %s: not starting", path);
			return -1;
		}
		if (unlink(path) != 0) {
			log_error("cannot remove the stale socket %s: %s", path, strerror(errno));
			return -1;
		}
		log_info("removed the stale socket %s", path);
	}
	char what[160];
	snprintf(what, sizeof what, "cannot listen on %s", path);
	int fd = bind_socket(path, srv->cfg.socket_mode);
	if (fd < 0) {
		log_error("%s: %s", what, uv_strerror(fd));
		return -1;
	}
	/* What the path names now is the file to remove at stop. */
	if (lstat(path, &st) == 0) {
		srv->bound = 1;
		srv->bound_dev = st.st_dev;
		srv->bound_ino = st.st_ino;
	}
	uv_pipe_init(srv->loop, &srv->listener, 0);
	srv->listener.data = srv;
	int r = uv_pipe_open(&srv->listener, fd);
	if (r != 0)
		close(fd);
	if (listen_or_close(srv, r, what) != 0) {
		unlink_own(srv);
		return -1;
	}
	return 0;
}

void lsn_stop(struct server *srv)
{
	admit_stop(srv);
	if (!srv->listening)
		return;
	srv->listening = 0;
	uv_close((uv_handle_t *)&srv->listener, NULL);
	unlink_own(srv);
}
