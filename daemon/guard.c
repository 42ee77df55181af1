/*
 * guard.c - max_bad_refs: a uid that presents invalid refs faster than
 * max_bad_refs a minute is taken to be guessing handles.
 *
 * A handle's word is 32 random bits (heap/handle.c), so a guess at an
 * object whose place is known passes with probability 2^-32; but a guess
 * costs only a request, and one pipelining connection makes over a
 * million a second. So invalid refs (ops answered BAD_REF) are counted per
 * uid, over all its connections, in windows of a minute that start at the
 * uid's first invalid ref. Past max_bad_refs in a window, each of the
 * uid's connections that presents one more is closed (LIMIT) once that
 * request is answered, and logged with its pid and uid; and the uid may
 * not open a connection until the window ends (admit.c asks
 * guard_refused), admins excepted, so heapctl as root still gets in.
 * Counting per uid rather than per connection is what makes opening many
 * connections, or reconnecting, no faster: a uid gets at most
 * max_bad_refs plus one per open connection guesses a minute.
 *
 * The table has an entry per uid with an invalid ref in the last minute,
 * searched linearly (the machine's accounts bound it); expired entries go
 * when one is added.
 */
#include <stdlib.h>

#include "log.h"
#include "server.h"

#define WINDOW_MS 60000u

struct bad_uid {
	uid_t uid;
	uint32_t count;     /* invalid refs since since_ms */
	uint64_t since_ms;
};

static struct bad_uid *find(struct server *srv, uid_t uid, uint64_t now)
{
	for (size_t i = 0; i < srv->nbad; i++)
		if (srv->bad[i].uid == uid)
			return now - srv->bad[i].since_ms < WINDOW_MS ? &srv->bad[i] : NULL;
	return NULL;
}

/* The uid's entry for a window starting now, or NULL out of memory. */
static struct bad_uid *add(struct server *srv, uid_t uid, uint64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < srv->nbad; i++)
		if (srv->bad[i].uid != uid && now - srv->bad[i].since_ms < WINDOW_MS)
			srv->bad[n++] = srv->bad[i];
	srv->nbad = n;
	if (n == srv->bad_cap) {
		size_t cap = n ? 2 * n : 8;
		struct bad_uid *p = realloc(srv->bad, cap * sizeof *p);
		if (!p)
			return NULL;
		srv->bad = p;
		srv->bad_cap = cap;
	}
	srv->bad[n] = (struct bad_uid){.uid = uid, .since_ms = now};
	return &srv->bad[srv->nbad++];
}

void guard_bad_ref(struct session *s)
{
	struct server *srv = s->srv;
	uint64_t now = uv_now(srv->loop);
	struct bad_uid *b = find(srv, s->uid, now);
	if (!b && !(b = add(srv, s->uid, now)))
		return;  /* out of memory: not counted, nothing else lost */
	b->count++;
	if (srv->cfg.max_bad_refs && b->count > srv->cfg.max_bad_refs)
		s->guessing = b->count;
}

int guard_close(struct session *s)
{
	struct server *srv = s->srv;
	if (!s->guessing || s->state == S_CLOSING)
		return 0;
	srv->bad_ref_closes++;
	log_warn_limited(&srv->admit_log, uv_now(srv->loop),
			 "session %llu (pid %d uid %u): %u invalid refs within a minute (max_bad_refs %u): closing",
			 (unsigned long long)s->id, (int)s->pid, (unsigned)s->uid, s->guessing, srv->cfg.max_bad_refs);
	sess_refuse(s, HEAPD__STATUS__LIMIT, "closed: uid %u presented %u invalid refs within a minute (max_bad_refs %u)",
		    (unsigned)s->uid, s->guessing, srv->cfg.max_bad_refs);
	return 1;
}

int guard_refused(struct server *srv, struct session *s, int admin)
{
	uint64_t now = uv_now(srv->loop);
	const struct bad_uid *b = find(srv, s->uid, now);
	if (admin || !b || !srv->cfg.max_bad_refs || b->count <= srv->cfg.max_bad_refs)
		return 0;
	unsigned wait_s = (unsigned)((b->since_ms + WINDOW_MS - now + 999) / 1000);
	log_warn_limited(&srv->admit_log, now, "refused pid %d uid %u: past max_bad_refs, for %u s more", (int)s->pid,
			 (unsigned)s->uid, wait_s);
	sess_refuse(s, HEAPD__STATUS__LIMIT,
		    "uid %u presented more than max_bad_refs (%u) invalid refs within a minute: no new connection "
		    "for %u s",
		    (unsigned)s->uid, srv->cfg.max_bad_refs, wait_s);
	return 1;
}

void guard_stop(struct server *srv)
{
	free(srv->bad);
	srv->bad = NULL;
	srv->nbad = srv->bad_cap = 0;
}
