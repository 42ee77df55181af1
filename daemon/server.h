/*
 * server.h - the daemon's shared state: the server and its sessions.
 *
 * One libuv loop, one thread. The loop owns everything here; no lock is
 * needed and none is taken. The modules:
 *   main.c       startup, signals, reload, graceful stop
 *   listener.c   the socket: stale-file check, bind, accept, credentials
 *   admit.c      who gets in: allow lists, connection limits, Hello timeout
 *   session.c    one connection: framing, buffers, backpressure, close
 *   conn.c       a session's transport: its libuv pipe
 *   dispatch.c   one request: decode, call the engine, encode the reply
 *   batch.c      a batch request: its ops in order, one reply
 *   collector.c  the collector in the loop: slices, idle work, waiters
 *   tenant.c     each uid's sessions, roots, holds and output; its quotas
 *   introspect.c what is in the heap and who is connected: object_info,
 *                client_list, client_kill
 *   zerocopy.c   sealed objects read in place: seal, view, map_arena
 *   service.c    systemd: notifications, watchdog, the cycle log
 */
#ifndef HEAPD_SERVER_H
#define HEAPD_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "config.h"
#include "log.h"
#include "heap.h"
#include "heapd.pb-c.h"
#include "list.h"
#include "ops.h"
#include "scratch.h"
#include "snapfile.h"

#define PROTOCOL_VERSION 1u
#define FRAME_HEADER 4u

struct session;
struct batch_state;
struct retained_job;
struct uid_conns;
struct arena_wait;

/* One uid's share of the daemon (tenant.c says what each count is). */
struct tenant {
	struct tenant *next;    /* in its bucket of server.ten_buckets */
	uid_t uid;
	struct list sessions;   /* its open sessions, by session.ten_link */
	uint64_t roots;         /* named roots it owns */
	uint64_t root_bytes;    /* their name bytes */
	uint64_t holds;         /* holds over its sessions, repeats counted */
	size_t output;          /* unsent reply bytes over its sessions */
	int output_held;        /* past max_output_per_uid: its sessions wait */
	uint64_t roots_refused; /* its refusals by the quotas (uid_stats), */
	uint64_t holds_refused; /* since it last had nothing in the daemon */
	uint64_t output_stalls;
	uint32_t counts;        /* retained requests asked for, not yet answered */
	unsigned heap_tenant;   /* the engine's tenant its objects are charged to
	                         * (ten_heap_bytes); 0 is shared by the uids past
	                         * the first HEAP_TENANTS - 1 */
};

/* A save while serving, and what saves and the load did (persist.c). */
#define PERSIST_BUFS 4u
struct persist {
	int running;            /* a save: engine steps, then file writes */
	int stream_done;        /* the engine has nothing more to give it */
	int writing;            /* work is in the thread pool */
	int again;              /* one more save when this one ends */
	int fd;                 /* its temporary file, or -1 */
	uint8_t *buf[PERSIST_BUFS];   /* blocks, filled in turn */
	size_t len[PERSIST_BUFS];     /* a sealed block's bytes; 0: free */
	unsigned fill_buf, wr;  /* the buffer being filled, the next to write */
	size_t fill;            /* payload bytes in the one being filled */
	uint64_t off, index, total;   /* file offset, blocks, stream bytes */
	const uint8_t *io_buf;  /* the thread pool's work: io_len bytes at */
	size_t io_len;          /* io_off, or (0) the finish */
	uint64_t io_off;
	int io_errno;
	const char *io_step;
	uint8_t end[SNAP_END], header[SNAP_HEADER];
	struct snap_info info;
	char tmp[PATH_MAX], path[PATH_MAX], dir[PATH_MAX];
	char error[256];        /* why the save fails, once it does */
	uv_work_t work;
	uv_timer_t timer;       /* save_interval's rule, looked at each second */
	struct list waiters;    /* sessions waiting for this save */
	struct list next_waiters; /* for the next one (again) */
	uint64_t begun_ns, begun_unix_ns, last_end_ns;
	uint64_t changes;       /* successful requests that changed the heap */
	uint64_t changes_at_begin, changes_saved;
	/* stats */
	uint64_t last_unix_ns, last_duration_ns, last_bytes, last_objects;
	uint64_t saves, failures, load_ns;
};

struct server {
	uv_loop_t *loop;
	struct config cfg;
	heap *heap;
	uint64_t start_ns;
	struct scratch scratch; /* the request being handled: reset after each */

	uv_pipe_t listener;
	int listening;          /* the listener is open */
	unsigned accepts;       /* connections accepted in this loop iteration */
	int accept_held;        /* one more is ready: lsn_turn() takes it */
	int bound;              /* heapd bound the socket file: removed at stop */
	dev_t bound_dev;        /* that file, as it was right after bind() */
	ino_t bound_ino;

	struct list sessions;   /* every open session */
	uint32_t nsessions;
	uint32_t max_clients;   /* cfg.max_clients, lowered to fit RLIMIT_NOFILE (lsn_fit_fd_limit) */

	/* admit.c */
	uint32_t nconns;        /* connections open (descriptor not closed): what max_clients bounds */
	struct uid_conns *uids; /* open connections per uid, nuids of uids_cap entries */
	size_t nuids, uids_cap;
	struct list hello;      /* sessions by accept time, those in S_HELLO and some that left it */
	uv_timer_t hello_timer; /* the first's hello_timeout_ms */
	uint64_t hello_timeouts, hello_shed; /* stats */
	struct log_limit admit_log; /* refusals, shedding and timeouts: a flood logs a few a second */
	uint64_t refused_max_clients, refused_max_clients_per_uid;
	/* guard.c: uids with invalid refs in the last minute */
	struct bad_uid *bad;
	size_t nbad, bad_cap;
	uint64_t bad_ref_closes; /* sessions closed by max_bad_refs */
	struct persist persist;
	/* zerocopy.c: the arena's read-only descriptor, once opened */
	int arena_ro_fd;
	bool arena_ro_open;
	uint64_t next_session_id;
	struct list ready;      /* sessions with complete frames left to process */
	uint64_t turn_end_ns;   /* when the session being served must yield; 0: not yet known */
	uint64_t turn_cost;     /* its work so far, in bytes touched (disp_op) */
	uint64_t turn_look;     /* turn_cost at which to look at the clock next */

	/* tenant.c: every uid with a session, a root or a hold */
	struct tenant **ten_buckets;
	uint32_t ten_nbuckets, ten_count;
	uint64_t quota_roots_refused;  /* root_set refused by a per-uid quota */
	uint64_t quota_holds_refused;  /* holds refused by max_holds_per_uid */
	uint64_t quota_output_stalls;  /* times a uid passed max_output_per_uid */
	uint64_t quota_heap_refused;   /* allocations refused by max_heap_per_uid */
	/* The uid of each engine tenant but 0, which it keeps while anything
	 * is charged to it, with or without a struct tenant. */
	uid_t heap_uid[HEAP_TENANTS];
	uint64_t heap_uid_set;  /* bit per engine tenant with a uid */

	/* collector.c */
	uv_idle_t idle;         /* active only while the loop has work to do now */
	uv_prepare_t prepare;   /* before each poll: slices and idle work */
	uv_check_t check;       /* after each poll: deferred sessions, waiters */
	uv_timer_t idle_timer;  /* the next scavenger deadline */
	uv_timer_t quiet_timer; /* 1 ms after a busy iteration with work pending */
	uv_timer_t gc_timer;    /* idle_gc_period_s */
	uint64_t io_events;     /* reads and accepts, so idle time can be told apart */
	uint64_t activity;      /* requests answered and sessions closed */
	uint64_t activity_at_gc; /* activity when the idle GC timer last looked */
	uint64_t cycles_at_gc;  /* heap_cycles then */
	uint64_t io_seen;       /* io_events when the last idle callback ran */
	uint64_t slice_end_ns;  /* end of the last collector slice */
	struct list waiters;    /* sessions waiting for a requested collection */
	struct list room_waiters; /* sessions whose allocation waits for room */
	struct list counts;     /* retained.c's jobs, oldest first */

	/* service.c */
	int notify;             /* $NOTIFY_SOCKET is set: systemd listens */
	int activated;          /* serving a socket systemd passed */
	uv_timer_t status_timer; /* sends a STATUS that changed within the last second */
	uv_timer_t watchdog;    /* WATCHDOG=1 at half $WATCHDOG_USEC */
	uint64_t status_sent_ns;
	uint64_t status_seen;   /* activity + cycles when STATUS last looked */
	uint64_t cycles_logged; /* cycles already logged */
	uint64_t pauses_logged; /* num_pause then */

	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t stop_timer;  /* bounds a graceful stop */
	int stopping;
};

/* Why a session holds a request that outlived its turn (session.c). */
enum held_why {
	HELD_NONE,
	HELD_TURN,  /* a batch ran past the turn's budget: it goes on next turn */
	HELD_ROOM,  /* an allocation waits for the collector to make room */
	HELD_FLUSH, /* map_arena waits for the replies before it to be written */
};

/* A request that outlived its turn, with the memory its decoding and
 * progress live in; the session serves nothing else until it is done. */
struct held_req {
	enum held_why why;
	struct scratch sc;
	Heapd__Request *req;         /* a single request, or */
	struct batch_state *batch;   /* a batch's progress */
};

/* A session's state; requests are answered only in S_READY, and in order. */
enum session_state {
	S_HELLO,    /* connected: the first request must be Hello */
	S_READY,    /* serving */
	S_WAITING,  /* a gc / free-os-memory / save / retained request, or an
	             * allocation that found no room, waits for the collector */
	S_CLOSING,  /* flushing its last replies, then closed */
};

/* What a session may do (admit_role, dispatch.c's op_kind): computed when
 * it is admitted and again on every reload. */
enum sess_role {
	ROLE_USER,      /* reads and changes the heap; gc only with gc_by_anyone */
	ROLE_READONLY,  /* reads only: readonly_uids, readonly_gids */
	ROLE_ADMIN,     /* anything: uid 0, heapd's own uid, admin_uids */
};

/* The peer's groups a session keeps: its primary gid and the first
 * SESS_GROUPS_MAX - 1 supplementary ones (listener.c). */
#define SESS_GROUPS_MAX 64

struct session {
	struct list link;       /* on server.sessions */
	struct list ready_link; /* on server.ready, or unlinked */
	struct list wait_link;  /* on server.waiters, or unlinked */
	struct list hello_link; /* on server.hello, or unlinked (admit.c) */
	uint64_t accepted_ms;   /* uv_now() when accepted */
	int counted;            /* in server.uids */
	struct server *srv;
	uv_pipe_t pipe;
	enum session_state state;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	/* The peer's groups at connect time, gid first: what allowed_gids and
	 * readonly_gids match (sess_in_group). groups_cut: the peer had more
	 * than fit, or they could not be read; only gid and what fit count. */
	gid_t groups[SESS_GROUPS_MAX];
	unsigned ngroups;
	bool groups_cut;
	enum sess_role role;
	char name[64];          /* from Hello, for logs */
	char comm[17];          /* /proc/PID/comm when it connected, as text (listener.c) */
	uint64_t connected_unix_ns;
	uint64_t requests;      /* requests decoded (disp_request) */
	uint64_t bytes_in;      /* frame bytes read, and written to it (session.c) */
	uint64_t bytes_out;
	heap_holds *holds;
	heap_holds *views;      /* its views (zerocopy.c), once it has made one */
	bool arena_sent;        /* map_arena gave it the arena's descriptor */
	bool send_arena;        /* that descriptor goes with s->out's first byte */
	struct arena_wait *arena_poll; /* the socket was full for it: waits for room (conn.c) */
	struct tenant *ten;     /* its uid's */
	struct list ten_link;   /* on ten->sessions */

	uint8_t *in;            /* received bytes not yet processed */
	size_t in_len, in_cap;
	uint8_t *out;           /* replies not yet handed to libuv */
	size_t out_len, out_cap;
	size_t queued;          /* bytes handed to libuv and not yet written */
	size_t out_counted;     /* out_len + queued as counted in ten->output */
	int reading;            /* uv_read_start is in effect */

	struct held_req held;
	uint32_t guessing;      /* its uid's invalid refs, once past max_bad_refs (guard.c) */

	uint64_t wait_id;       /* the waiting request's id */
	uint64_t wait_cycle;    /* num_gc it waits for */
	int wait_release;       /* then release every free page (free-os-memory) */
	struct retained_job *counting; /* its retained request, queued or running (retained.c) */
};

/* Holds and views of s, repeats counted: what max_holds_per_session bounds. */
static inline uint64_t sess_held(const struct session *s)
{
	return heap_holds_count(s->holds) + (s->views ? heap_holds_count(s->views) : 0);
}

/* listener.c */
int lsn_start(struct server *srv);
void lsn_stop(struct server *srv);
/* Once per loop iteration, before it polls: lets the listener accept
 * again (a burst is taken ACCEPTS_PER_TURN at a time). */
void lsn_turn(struct server *srv);
/* Sets srv->max_clients from cfg.max_clients and the open file limit,
 * raising the soft limit when it can; at start-up and on reload. */
void lsn_fit_fd_limit(struct server *srv);

/* admit.c */
void admit_start(struct server *srv);
void admit_stop(struct server *srv);
/* A connection just accepted, its credentials read: it becomes a session,
 * served or refused (allow lists, max_clients_per_uid, max_clients), with
 * its role. */
void admit_session(struct server *srv, struct session *s);
/* s's connection is closing (conn_close): it no longer counts. */
void admit_closed(struct session *s);
/* The configuration was reloaded: hello_timeout_ms may have changed, and
 * every open session is judged again: closed if the allow lists no longer
 * let it in, else given its role under the new lists. */
void admit_reconfigured(struct server *srv);
/* Whether s may read the arena in place: heapd's own uid, root, or
 * zero_copy_uids or zero_copy_gids lists it (zerocopy.c). */
int admit_zero_copy(const struct server *srv, const struct session *s);

/* session.c */
void sess_accepted(struct server *srv, struct session *s);
/* Room for a read at s->in + s->in_len, *room bytes; NULL if out of memory. */
uint8_t *sess_in_room(struct session *s, size_t *room);
/* n bytes were read into that room: processes what is complete. */
void sess_received(struct session *s, size_t n);
/* A turn: the held request, then complete frames, until the turn's
 * budget, backpressure or a wait. */
void sess_process(struct session *s);
/* The turn's budget: gc_slice_us of time, the clock read once per
 * TURN_LOOK of cost (bytes an op zeroes or copies, disp_op counts). */
#define TURN_LOOK (64u << 10)
void sess_turn_clock(struct server *srv);
bool sess_turn_look(struct server *srv);
/* Counts an op's cost to the turn; a costly one starts its clock. */
static inline void sess_turn_add(struct server *srv, uint64_t cost)
{
	if (cost >= TURN_LOOK && !srv->turn_end_ns)
		sess_turn_clock(srv);
	srv->turn_cost += cost;
}
/* Whether the turn has run past its budget. */
static inline bool sess_turn_over(struct server *srv)
{
	return srv->turn_cost >= srv->turn_look && sess_turn_look(srv);
}
/* Keeps the request being handled (req, or batch's progress) past this
 * turn: its memory (srv->scratch) moves to s->held. HELD_TURN: resumed on
 * the session's next turn; HELD_ROOM: once the collector answers the wait
 * (coll_wait_room). */
void sess_hold(struct session *s, enum held_why why, Heapd__Request *req, struct batch_state *batch);
/* What sess_decode found at the start of a buffer. */
enum sess_frame {
	SF_PARTIAL,  /* not a whole frame yet */
	SF_OVERSIZE, /* a header announcing more than max_frame: *n is that length */
	SF_GARBLED,  /* a whole frame whose body is not a Request */
	SF_REQUEST,  /* a whole frame holding *req */
};
/* Decodes the frame at the start of buf[0..len): no I/O, no state but sc,
 * from which *req is allocated (valid until scratch_reset). For a whole
 * frame, *n is its body's length: it takes FRAME_HEADER + *n bytes. */
enum sess_frame sess_decode(const uint8_t *buf, size_t len, uint32_t max_frame, struct scratch *sc, uint32_t *n,
			    Heapd__Request **req);
/* Appends a reply frame (a LIMIT error instead if it would not fit in a
 * frame). */
void sess_reply(struct session *s, Heapd__Response *resp);
/* Sends resp (if not NULL), then closes once it is written. */
void sess_close(struct session *s, Heapd__Response *resp);
/* Closes at once, dropping replies not yet written. */
void sess_abort(struct session *s);
/* A refusal before any request: one error reply, then close. */
void sess_refuse(struct session *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* guard.c */
/* An op of s was answered BAD_REF: counted against its uid's max_bad_refs. */
void guard_bad_ref(struct session *s);
/* Closes s if its uid passed max_bad_refs with an invalid ref of s's;
 * true if it did. Called once the request is answered. */
int guard_close(struct session *s);
/* Refuses s, a new connection, when its uid passed max_bad_refs within
 * the minute, unless admin; true if it did. */
int guard_refused(struct server *srv, struct session *s, int admin);
void guard_stop(struct server *srv);
/* Frees a session the transport has closed. */
void sess_free(struct session *s);
/* 1 if gid is one of the peer's groups that s keeps, else 0 (a group
 * past SESS_GROUPS_MAX is not seen: s->groups_cut). */
int sess_in_group(const struct session *s, gid_t gid);
/* Some of s->queued was written: resumes what waited for it. */
void sess_written(struct session *s);

/* conn.c: the transport, the only I/O a session does (a libuv pipe; the
 * fuzzer in tests/fuzz supplies another). */
/* Starts (on) or stops reading; bytes read go to sess_received(). */
void conn_read(struct session *s, int on);
/* Hands the replies gathered in s->out to the socket; what it cannot take
 * now is counted in s->queued until written. */
void conn_flush(struct session *s);
/* Closes the connection, dropping what is still queued; sess_free()
 * follows, later (not from within this call). */
void conn_close(struct session *s);

/* dispatch.c */
/* One operation's reply, with room for its error message. */
struct disp_reply {
	Heapd__Response r;
	int deferred;           /* answered later (gc, free_os_memory, batch) */
	int wait_room;          /* an allocation found no room and did nothing:
	                         * run it again once the collector is done */
	int retried;            /* in: this is that second run */
	int no_wait;            /* in: fail rather than wait for room (a batch
	                         * that runs in one turn: batch.c) */
	int packed_now;         /* in: sess_reply packs it before any other
	                         * engine call (not a batch's op) */
	const struct session *s; /* in: whose op it is (disp_op sets it), for
	                         * the limits a message names; NULL: none */
	int close_after;        /* the session closes once this reply is sent
	                         * (client_kill of itself) */
	int flush_first;        /* map_arena: run it again once every reply
	                         * before it is written (HELD_FLUSH) */
	char msg[256];
};
/* An OK reply with that id; msg is only read once disp_fail set it, so it
 * is not zeroed (there is one reply per request). */
static inline void disp_reply_init(struct disp_reply *rp, uint64_t id)
{
	rp->r = (Heapd__Response)HEAPD__RESPONSE__INIT;
	rp->r.id = id;
	rp->deferred = 0;
	rp->wait_room = 0;
	rp->retried = 0;
	rp->no_wait = 0;
	rp->packed_now = 0;
	rp->s = NULL;
	rp->close_after = 0;
	rp->flush_first = 0;
}
/* Answers one request; returns 0, or -1 if it closed the session. */
int disp_request(struct session *s, Heapd__Request *req);
/* Runs req's operation into rp, whose id the caller sets: each row of
 * HEAPD_OPS (proto/ops.h) has its op_<name>() in dispatch.c. A read or
 * root_list result takes at most room bytes. What rp points to lives in
 * srv->scratch. gc, free_os_memory and batch set rp->deferred: their
 * reply is sent later, by the collector or the batch. */
void disp_op(struct session *s, Heapd__Request *req, size_t room, struct disp_reply *rp);
void disp_fail(struct disp_reply *rp, Heapd__Status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An operation's name by its Request field number, for messages. */
const char *disp_op_name(unsigned field);
/* Runs a held single request again (HELD_ROOM) and replies. */
void disp_retry(struct session *s, Heapd__Request *req);
/* The collector answered the session's wait: a gc reply, or its held
 * request goes on. */
void disp_finish_wait(struct session *s);

/* batch.c */
/* Runs the batch of request id and replies (sess_reply), or holds it
 * (sess_hold) when it runs past the turn or an op waits for room. */
void batch_run(struct session *s, uint64_t id, const Heapd__Batch *b);
/* Goes on with a held batch. */
void batch_resume(struct session *s, struct batch_state *st);
/* Outside a batch, no *_from field may be set: 0 if none is, else -1 with
 * rp failed (INVALID). */
int batch_stray_from(Heapd__Request *req, struct disp_reply *rp);

/* tenant.c */
struct tenant *ten_find(const struct server *srv, uid_t uid);
/* uid's tenant, made if there is none; NULL if out of memory. */
struct tenant *ten_get(struct server *srv, uid_t uid);
/* Frees t if it has no session, root or hold left. */
void ten_put(struct server *srv, struct tenant *t);
void ten_free_all(struct server *srv);
/* 1 with rp failed (LIMIT, naming the quota) if t may not make one more
 * root of len name bytes, else 0. */
int ten_root_refused(struct server *srv, struct tenant *t, size_t len, const char *what, struct disp_reply *rp);
void ten_root_made(struct tenant *t, size_t len);
/* A root owned by owner was deleted, or given to another uid. */
void ten_root_gone(struct server *srv, uid_t owner, size_t len);
/* 1 with rp failed (LIMIT) if t may not add a hold, for op what; else 0. */
int ten_hold_refused(struct server *srv, struct tenant *t, const char *what, struct disp_reply *rp);
/* Counts s's unsent output into its tenant's; returns 1 while the tenant
 * is past max_output_per_uid (and not yet back below half of it). */
int ten_output_sync(struct session *s);
/* Bytes of heap charged to t's uid (shared with others in tenant 0). */
uint64_t ten_heap_bytes(const struct server *srv, const struct tenant *t);
/* Fails rp (LIMIT, naming max_heap_per_uid) for an allocation the engine
 * refused with HEAP_EQUOTA, and counts it. */
void ten_heap_refused(struct server *srv, const struct tenant *t, struct disp_reply *rp);

/* collector.c */
int coll_start(struct server *srv);
void coll_stop(struct server *srv);
/* Something happened that may need loop work: makes sure the idle
 * handle runs. */
void coll_kick(struct server *srv);
void coll_wait(struct session *s, uint64_t id, int release);
/* The session's allocation found no room: it waits for the cycle in
 * flight (heap_room_cycle) to be done and swept. */
void coll_wait_room(struct session *s);
/* Completes every requested collection now (a stop answers them). */
void coll_finish_waits(struct server *srv);
/* (Re)arms the idle_gc_period_s timer from the configuration. */
void coll_schedule_gc_timer(struct server *srv);

/* zerocopy.c */
/* Closes the arena's read-only descriptor (heapd is stopping). */
void zc_close(struct server *srv);

/* persist.c */
/* Loads the snapshot, if any (state_dir): before serving. 0, -1, or
 * PERSIST_BAD_SNAPSHOT when the file cannot be loaded. */
#define PERSIST_BAD_SNAPSHOT (-2)
int persist_start(struct server *srv);
/* Answers the sessions waiting for a save (heapd is stopping). */
void persist_stop(struct server *srv);
/* After the loop: the blocking save at a stop (save_on_stop). */
int persist_save_at_stop(struct server *srv);
void persist_free(struct server *srv);
/* Begins a save, or one more after the one running; one that fails at
 * once is logged and counted as any failed save. */
void persist_save(struct server *srv);
/* The save op: wait says whether the reply waits for a save begun after
 * it to be on disk (else it is sent now). */
void persist_request(struct session *s, uint64_t id, bool wait);
/* The save's share of the loop: one step of about budget_ns; whether it
 * has more to do now, persist_busy() says. */
void persist_turn(struct server *srv, uint64_t budget_ns);
bool persist_busy(const struct server *srv);

/* retained.c */
/* The first retained job may run now: it holds the engine's walker, or
 * no save does. */
bool retained_busy(const struct server *srv);
/* One step of the first job, about budget_ns: it begins, counts, or is
 * answered. */
void retained_turn(struct server *srv, uint64_t budget_ns);
/* s is closing: its job, if any, is dropped, its walk ended. */
void retained_drop(struct session *s);
/* Answers every job FAILED (heapd is stopping). */
void retained_stop(struct server *srv);

/* service.c */
int svc_start(struct server *srv);
void svc_stop(struct server *srv);
void svc_ready(struct server *srv);
void svc_reloading(void);
void svc_stopping(struct server *srv);
/* Offered every loop iteration: sends a changed STATUS at most once a second. */
void svc_status(struct server *srv);
/* Logs a cycle that completed since the last call. */
void svc_cycle_done(struct server *srv);

/* CLOCK_MONOTONIC in ns: the daemon's clock. */
static inline uint64_t srv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
