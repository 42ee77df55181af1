/*
 * admit.c - who gets a connection, and for how long before Hello.
 *
 * Every accepted connection becomes a session (listener.c), so that a
 * refusal reaches the client as an error frame rather than a bare reset.
 * admit_session() then decides, in this order:
 *   1. allowed_uids / allowed_gids: a peer whose uid is not in the first
 *      and none of whose groups (sess_in_group) is in the second is
 *      refused (PERMISSION);
 *   2. max_clients_per_uid: a uid not in admin_uids with that many
 *      connections open is refused (LIMIT), so one user cannot take every
 *      place;
 *   3. max_clients, of which admin_reserved_connections (at most
 *      max_clients - 1) are kept for admin_uids: a peer past its share is
 *      refused (LIMIT) unless the oldest connection that has not said
 *      Hello yet can be closed to make room for it, as sshd's MaxStartups
 *      sheds unauthenticated connections. So connections that never say
 *      Hello cannot lock the others out, and an admin (heapctl as root)
 *      gets in when the others have filled their share (PostgreSQL's
 *      superuser_reserved_connections).
 * A connection that has not said Hello within hello_timeout_ms is closed
 * with a LIMIT error. Each refusal, shedding and timeout is counted (the
 * stats refused_max_clients, refused_max_clients_per_uid, hello_shed,
 * hello_timeouts) and logged, at most LOG_BURST lines a second between
 * them (log_warn_limited): a client opening connections in a loop must
 * not cost the loop a log line each, nor fill the journal.
 *
 * What is counted. server.nconns and the per-uid counts are connections
 * whose descriptor is open: from admit_session() to conn_close()
 * (admit_closed()), not until the session's memory goes, so a connection
 * shed or refused no longer counts once its error frame is written.
 *
 * The Hello list. server.hello holds sessions in accept order, so the
 * oldest is first both for shedding and for the timeout, and one timer
 * (the oldest's deadline) serves them all. A session leaves it lazily:
 * one that said Hello stays until the timer or shedding comes to it, at
 * most hello_timeout_ms, or until its connection closes.
 *
 * Roles. An admitted session gets its role (admit_role): admin, read-only
 * or user, which dispatch.c's op_kind checks before each op. The role and
 * the allow lists are judged again on every reload (admit_reconfigured),
 * so that taking a uid or group out of the lists applies to the
 * connections it has open, not only to its next ones: a session no
 * longer allowed is closed (PERMISSION), which releases its holds as any
 * close does, whatever it was doing (waiting for a collection or for
 * room, or in the middle of a batch: sess_close takes it off every list);
 * one whose role changed has the new one from its next op on. The
 * connection limits' exemptions read admin_uids as listed; the admin role
 * adds uid 0 and heapd's own uid, who may always run a collection.
 *
 * Per-uid counts are a small array searched linearly: one entry per uid
 * with a connection open, which the machine's accounts bound.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

struct uid_conns {
	uid_t uid;
	uint32_t n;
};

/* The entry of uid, or NULL. */
static struct uid_conns *uid_find(struct server *srv, uid_t uid)
{
	for (size_t i = 0; i < srv->nuids; i++)
		if (srv->uids[i].uid == uid)
			return &srv->uids[i];
	return NULL;
}

/* Counts one more connection of uid; 0, or -1 out of memory. */
static int uid_add(struct server *srv, uid_t uid)
{
	struct uid_conns *u = uid_find(srv, uid);
	if (!u) {
		if (srv->nuids == srv->uids_cap) {
			size_t cap = srv->uids_cap ? 2 * srv->uids_cap : 8;
			struct uid_conns *p = realloc(srv->uids, cap * sizeof *p);
			if (!p)
				return -1;
			srv->uids = p;
			srv->uids_cap = cap;
		}
		u = &srv->uids[srv->nuids++];
		*u = (struct uid_conns){uid, 0};
	}
	u->n++;
	return 0;
}

/* One connection of uid fewer; the array goes once the last one does. */
static void uid_remove(struct server *srv, uid_t uid)
{
	struct uid_conns *u = uid_find(srv, uid);
	if (!u || --u->n)
		return;
	*u = srv->uids[--srv->nuids];
	if (!srv->nuids) {
		free(srv->uids);
		srv->uids = NULL;
		srv->uids_cap = 0;
	}
}

static int is_admin(const struct config *c, uid_t uid)
{
	return config_id_listed(c->admin_uids, c->n_admin_uids, uid);
}

/* Whether one of s's groups is among the n gids. */
static int group_listed(const struct session *s, const gid_t *gids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sess_in_group(s, gids[i]))
			return 1;
	return 0;
}

/* Whether the allow lists let s in: both empty, its uid in allowed_uids,
 * or one of its groups in allowed_gids. */
static int allowed(const struct config *c, const struct session *s)
{
	return (!c->n_allowed_uids && !c->n_allowed_gids) ||
	       config_id_listed(c->allowed_uids, c->n_allowed_uids, s->uid) ||
	       group_listed(s, c->allowed_gids, c->n_allowed_gids);
}

/* s's role under c. Admins are never read-only (config.c refuses a uid
 * in both lists). A peer whose groups were not all read may be in a
 * readonly_gids group unseen: read-only while that list is set. */
static enum sess_role admit_role(const struct config *c, const struct session *s)
{
	if (s->uid == 0 || s->uid == geteuid() || is_admin(c, s->uid))
		return ROLE_ADMIN;
	if (config_id_listed(c->readonly_uids, c->n_readonly_uids, s->uid) ||
	    (s->groups_cut && c->n_readonly_gids) || group_listed(s, c->readonly_gids, c->n_readonly_gids))
		return ROLE_READONLY;
	return ROLE_USER;
}

int admit_zero_copy(const struct server *srv, const struct session *s)
{
	const struct config *c = &srv->cfg;
	return s->uid == 0 || s->uid == geteuid() || config_id_listed(c->zero_copy_uids, c->n_zero_copy_uids, s->uid) ||
	       group_listed(s, c->zero_copy_gids, c->n_zero_copy_gids);
}

static void hello_unlink(struct session *s)
{
	if (s->hello_link.next)
		list_remove(&s->hello_link);
}

/* The oldest session on the Hello list still in S_HELLO, other than
 * except; those that left S_HELLO are taken off on the way. */
static struct session *oldest_hello(struct server *srv, const struct session *except)
{
	while (!list_empty(&srv->hello)) {
		struct session *s = container_of(srv->hello.next, struct session, hello_link);
		if (s->state == S_HELLO)
			return s != except ? s : NULL;
		hello_unlink(s);
	}
	return NULL;
}

static void on_hello_timer(uv_timer_t *t);

#define HELLO_CLOSES_PER_TURN 32u

/* Starts the timer for the oldest session's deadline, if none runs. */
static void arm(struct server *srv)
{
	struct session *s = oldest_hello(srv, NULL);
	if (!s || uv_is_active((uv_handle_t *)&srv->hello_timer))
		return;
	uint64_t now = uv_now(srv->loop), due = s->accepted_ms + srv->cfg.hello_timeout_ms;
	uv_timer_start(&srv->hello_timer, on_hello_timer, due > now ? due - now : 0, 0);
}

/* Closes the sessions past their deadline, HELLO_CLOSES_PER_TURN at most
 * per call: a thousand connections opened at once time out at once, and
 * closing each costs a write and a close; the rest wait for the next
 * iteration (arm() finds them due). */
static void on_hello_timer(uv_timer_t *t)
{
	struct server *srv = t->data;
	uint64_t now = uv_now(srv->loop);
	struct session *s;
	unsigned n = 0;
	while (n++ < HELLO_CLOSES_PER_TURN && (s = oldest_hello(srv, NULL)) &&
	       s->accepted_ms + srv->cfg.hello_timeout_ms <= now) {
		hello_unlink(s);
		srv->hello_timeouts++;
		log_warn_limited(&srv->admit_log, now, "session %llu (pid %d uid %u): no Hello within hello_timeout_ms (%u): closing",
				 (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid, srv->cfg.hello_timeout_ms);
		sess_refuse(s, HEAPD__STATUS__LIMIT, "no Hello within %u ms (hello_timeout_ms %u)",
			    srv->cfg.hello_timeout_ms, srv->cfg.hello_timeout_ms);
	}
	arm(srv);
}

/* Closes the oldest connection still before its Hello, other than s, to
 * make room for s; 1 if there was one. */
static int shed_for(struct server *srv, const struct session *s)
{
	struct session *old = oldest_hello(srv, s);
	if (!old)
		return 0;
	hello_unlink(old);
	srv->hello_shed++;
	log_warn_limited(&srv->admit_log, uv_now(srv->loop),
			 "session %llu (pid %d uid %u): closed before its Hello to make room: max_clients (%u) reached",
			 (unsigned long long)old->id, (int)old->pid, (unsigned)old->uid, srv->max_clients);
	sess_refuse(old, HEAPD__STATUS__LIMIT,
		    "closed to make room for a new connection: no Hello yet and max_clients %u reached",
		    srv->max_clients);
	return 1;
}

/* Refuses s past a limit: logged, counted by the caller, told to the peer. */
static void refuse_limit(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse_limit(struct session *s, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_warn_limited(&s->srv->admit_log, uv_now(s->srv->loop), "refused pid %d uid %u: %s", (int)s->pid,
			 (unsigned)s->uid, why);
	sess_refuse(s, HEAPD__STATUS__LIMIT, "%s", why);
}

/* Whether s, admitted by the allow lists, is within the limits; if not it
 * is refused. */
static void check_limits(struct server *srv, struct session *s)
{
	const struct config *c = &srv->cfg;
	int admin = is_admin(c, s->uid);
	struct uid_conns *u = uid_find(srv, s->uid);
	if (!admin && u && u->n > c->max_clients_per_uid) {
		srv->refused_max_clients_per_uid++;
		refuse_limit(s, "too many connections from uid %u (max_clients_per_uid %u)", (unsigned)s->uid,
			     c->max_clients_per_uid);
		return;
	}
	/* Non-admins always keep one place. */
	uint32_t reserved = c->admin_reserved < srv->max_clients ? c->admin_reserved : srv->max_clients - 1;
	uint32_t limit = admin ? srv->max_clients : srv->max_clients - reserved;
	/* One over (s itself): shedding one makes room. More (max_clients
	 * lowered by a reload): refused until enough have gone. */
	if (srv->nconns <= limit || (srv->nconns == limit + 1 && shed_for(srv, s)))
		return;
	srv->refused_max_clients++;
	if (admin || !reserved)
		refuse_limit(s, "too many clients (max_clients %u)", srv->max_clients);
	else
		refuse_limit(s, "too many clients (max_clients %u, of which %u kept for admin_uids)",
			     srv->max_clients, reserved);
}

void admit_session(struct server *srv, struct session *s)
{
	s->accepted_ms = uv_now(srv->loop);
	srv->nconns++;
	s->counted = uid_add(srv, s->uid) == 0;
	list_push_tail(&srv->hello, &s->hello_link);
	arm(srv);
	sess_accepted(srv, s);
	if (s->state != S_HELLO)
		return;
	if (!s->counted) {
		sess_refuse(s, HEAPD__STATUS__INTERNAL, "out of memory");
		return;
	}
	if (!allowed(&srv->cfg, s)) {
		log_warn_limited(&srv->admit_log, uv_now(srv->loop),
				 "refused pid %d uid %u gid %u: not in allowed_uids or allowed_gids", (int)s->pid,
				 (unsigned)s->uid, (unsigned)s->gid);
		sess_refuse(s, HEAPD__STATUS__PERMISSION, "uid %u gid %u may not use this daemon", (unsigned)s->uid,
			    (unsigned)s->gid);
		return;
	}
	s->role = admit_role(&srv->cfg, s);
	if (!guard_refused(srv, s, s->role == ROLE_ADMIN))
		check_limits(srv, s);
}

void admit_closed(struct session *s)
{
	struct server *srv = s->srv;
	hello_unlink(s);
	srv->nconns--;
	if (s->counted)
		uid_remove(srv, s->uid);
}

void admit_start(struct server *srv)
{
	list_init(&srv->hello);
	uv_timer_init(srv->loop, &srv->hello_timer);
	srv->hello_timer.data = srv;
}

static const char *const role_name[] = {
	[ROLE_USER] = "a user", [ROLE_READONLY] = "read-only", [ROLE_ADMIN] = "an admin",
};

/* s under the reloaded lists: closed if they no longer let it in, else
 * given its role; 1 if it was closed. */
static int rejudge(struct server *srv, struct session *s)
{
	uint64_t now = uv_now(srv->loop);
	if (!allowed(&srv->cfg, s)) {
		log_warn_limited(&srv->admit_log, now,
				 "session %llu (pid %d uid %u gid %u): no longer in allowed_uids or allowed_gids: closing",
				 (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid, (unsigned)s->gid);
		sess_refuse(s, HEAPD__STATUS__PERMISSION,
			    "uid %u gid %u is no longer allowed (allowed_uids/allowed_gids changed on reload)",
			    (unsigned)s->uid, (unsigned)s->gid);
		return 1;
	}
	enum sess_role role = admit_role(&srv->cfg, s);
	if (role != s->role)
		log_warn_limited(&srv->admit_log, now, "session %llu (pid %d uid %u): %s, now %s", (unsigned long long)s->id,
				 (int)s->pid, (unsigned)s->uid, role_name[s->role], role_name[role]);
	s->role = role;
	return 0;
}

void admit_reconfigured(struct server *srv)
{
	unsigned closed = 0, changed = 0;
	for (struct list *l = srv->sessions.next; l != &srv->sessions;) {
		struct session *s = container_of(l, struct session, link);
		l = l->next;  /* s stays on the list until sess_free, later */
		if (s->state == S_CLOSING)
			continue;
		enum sess_role was = s->role;
		if (rejudge(srv, s))
			closed++;
		else
			changed += s->role != was;
	}
	if (closed || changed)
		log_info("reload: closed %u connection(s) no longer allowed, changed the role of %u", closed, changed);
	uv_timer_stop(&srv->hello_timer);
	arm(srv);
}

void admit_stop(struct server *srv)
{
	if (!uv_is_closing((uv_handle_t *)&srv->hello_timer))
		uv_close((uv_handle_t *)&srv->hello_timer, NULL);
}
