/*
 * tenant.c - what each uid has of the daemon, and its quotas.
 *
 * A tenant is a uid, as SO_PEERCRED gives it: every session belongs to
 * the tenant of its peer's uid, and every named root to the tenant of its
 * owner (the uid that made it, or that an admin gave it to; the engine
 * keeps it in the root's meta). The
 * tenant counts what its sessions and roots cost, and the quotas of
 * opts[] (config.c) bound each count:
 *
 *   roots, root_bytes  named roots it owns and their name bytes: root_set
 *                      of a new name past max_roots_per_uid or
 *                      max_root_bytes_per_uid fails with LIMIT. Replacing
 *                      a root's object keeps its owner (and costs nothing
 *                      new); deleting it gives the owner its room back,
 *                      and root_chown to another uid moves it there
 *                      (dispatch.c), past that uid's quotas if need be.
 *   holds              holds over its sessions: an op that would add one
 *                      past max_holds_per_uid fails with LIMIT.
 *   output             unsent reply bytes over its sessions: past
 *                      max_output_per_uid none of its sessions is read
 *                      (backpressure, not an error), until the sum is back
 *                      below half of it.
 *   heap               bytes of objects its sessions allocated (held or
 *                      stored into any object), until the sweeper frees
 *                      them: the engine counts them per tenant
 *                      (docs/design.md, "Tenants"). An allocation that
 *                      would pass max_heap_per_uid (the engine's
 *                      max_tenant_heap) fails with LIMIT; no collection
 *                      is waited for, as it is for max_heap.
 *
 * Engine tenants. The engine has HEAP_TENANTS of them. A uid gets one
 * when its struct tenant is made: the one it had (srv->heap_uid keeps a
 * uid's tenant while anything is charged to it, so its objects are found
 * again), else one that no uid has, or whose uid has no struct tenant and
 * nothing charged; else tenant 0, which the uids past the table share, and
 * with it one max_heap_per_uid.
 *
 * Invariants. t->sessions lists exactly the open sessions of t's uid
 * (sess_free unlinks); t->holds is the sum of heap_holds_count() over
 * them, kept by disp_op from each op's change; t->output is the sum of
 * their out_counted, each a session's out_len + queued as of its last
 * ten_output_sync(). A tenant with no session, root or hold is freed at
 * once, so the table holds at most max_clients tenants plus those that
 * own roots, and those are bounded by max_roots.
 *
 * The table: chained buckets indexed by a multiplicative hash of the uid,
 * doubled when it holds more tenants than buckets. Uids are not chosen by
 * clients (the kernel vouches for them) and there are few, so no keyed
 * hash is needed.
 */
#include <stdlib.h>

#include "server.h"

#define TEN_MIN_BUCKETS 16u
/* Uids that get an engine tenant of their own: HEAP_TENANTS - 1. */
#define HEAP_TENANTS_SHARED_AFTER "63"
_Static_assert(HEAP_TENANTS == 64, "HEAP_TENANTS_SHARED_AFTER says 63");

static uint32_t bucket_of(const struct server *srv, uid_t uid)
{
	return (uint32_t)(((uint64_t)uid * 0x9e3779b97f4a7c15ull) >> 32) & (srv->ten_nbuckets - 1);
}

struct tenant *ten_find(const struct server *srv, uid_t uid)
{
	if (!srv->ten_buckets)
		return NULL;
	struct tenant *t = srv->ten_buckets[bucket_of(srv, uid)];
	while (t && t->uid != uid)
		t = t->next;
	return t;
}

/* Doubles the buckets; on failure the chains just grow longer. */
static void rehash(struct server *srv)
{
	uint32_t n = srv->ten_nbuckets ? 2 * srv->ten_nbuckets : TEN_MIN_BUCKETS;
	struct tenant **b = calloc(n, sizeof *b), **old = srv->ten_buckets;
	if (!b)
		return;
	uint32_t oldn = srv->ten_nbuckets;
	srv->ten_buckets = b;
	srv->ten_nbuckets = n;
	for (uint32_t i = 0; i < oldn; i++) {
		for (struct tenant *t = old[i], *next; t; t = next) {
			next = t->next;
			uint32_t k = bucket_of(srv, t->uid);
			t->next = b[k];
			b[k] = t;
		}
	}
	free(old);
}

/* See "Engine tenants" above. */
static unsigned heap_tenant_of(struct server *srv, uid_t uid)
{
	unsigned spare = 0;
	for (unsigned i = 1; i < HEAP_TENANTS; i++) {
		if (!(srv->heap_uid_set >> i & 1)) {
			spare = spare ? spare : i;
			continue;
		}
		if (srv->heap_uid[i] == uid)
			return i;
		if (!spare && !ten_find(srv, srv->heap_uid[i]) && heap_tenant_bytes(srv->heap, i) == 0)
			spare = i;
	}
	if (spare) {
		srv->heap_uid[spare] = uid;
		srv->heap_uid_set |= (uint64_t)1 << spare;
	}
	return spare;
}

struct tenant *ten_get(struct server *srv, uid_t uid)
{
	struct tenant *t = ten_find(srv, uid);
	if (t)
		return t;
	if (srv->ten_count >= srv->ten_nbuckets)
		rehash(srv);
	if (!srv->ten_buckets || !(t = calloc(1, sizeof *t)))
		return NULL;
	t->uid = uid;
	t->heap_tenant = heap_tenant_of(srv, uid);
	list_init(&t->sessions);
	uint32_t k = bucket_of(srv, uid);
	t->next = srv->ten_buckets[k];
	srv->ten_buckets[k] = t;
	srv->ten_count++;
	return t;
}

void ten_put(struct server *srv, struct tenant *t)
{
	if (!list_empty(&t->sessions) || t->roots || t->holds)
		return;
	struct tenant **p = &srv->ten_buckets[bucket_of(srv, t->uid)];
	while (*p != t)
		p = &(*p)->next;
	*p = t->next;
	srv->ten_count--;
	free(t);
}

void ten_free_all(struct server *srv)
{
	for (uint32_t i = 0; i < srv->ten_nbuckets; i++) {
		for (struct tenant *t = srv->ten_buckets[i], *next; t; t = next) {
			next = t->next;
			free(t);
		}
	}
	free(srv->ten_buckets);
	srv->ten_buckets = NULL;
	srv->ten_nbuckets = srv->ten_count = 0;
}

int ten_root_refused(struct server *srv, struct tenant *t, size_t len, const char *what, struct disp_reply *rp)
{
	const struct config *cfg = &srv->cfg;
	if (t->roots >= cfg->max_roots_per_uid)
		disp_fail(rp, HEAPD__STATUS__LIMIT, "%s: uid %u has %llu named roots (max_roots_per_uid %u)", what,
			  (unsigned)t->uid, (unsigned long long)t->roots, cfg->max_roots_per_uid);
	else if (t->root_bytes + len > cfg->max_root_bytes_per_uid)
		disp_fail(rp, HEAPD__STATUS__LIMIT,
			  "%s: uid %u has %llu bytes of root names, %zu more would pass max_root_bytes_per_uid "
			  "(max_root_bytes_per_uid %llu)",
			  what, (unsigned)t->uid, (unsigned long long)t->root_bytes, len,
			  (unsigned long long)cfg->max_root_bytes_per_uid);
	else
		return 0;
	srv->quota_roots_refused++;
	t->roots_refused++;
	return 1;
}

void ten_root_made(struct tenant *t, size_t len)
{
	t->roots++;
	t->root_bytes += len;
}

void ten_root_gone(struct server *srv, uid_t owner, size_t len)
{
	struct tenant *t = ten_find(srv, owner);
	if (!t)
		return;  /* a root the engine made without the daemon: none is */
	t->roots--;
	t->root_bytes -= len;
	ten_put(srv, t);
}

int ten_hold_refused(struct server *srv, struct tenant *t, const char *what, struct disp_reply *rp)
{
	if (t->holds < srv->cfg.max_holds_per_uid)
		return 0;
	disp_fail(rp, HEAPD__STATUS__LIMIT, "%s: uid %u has %llu holds (max_holds_per_uid %u)", what,
		  (unsigned)t->uid, (unsigned long long)t->holds, srv->cfg.max_holds_per_uid);
	srv->quota_holds_refused++;
	t->holds_refused++;
	return 1;
}

int ten_output_sync(struct session *s)
{
	struct tenant *t = s->ten;
	size_t now = s->out_len + s->queued;
	t->output += now - s->out_counted;  /* modular: a decrease subtracts */
	s->out_counted = now;
	if (!t->output_held && t->output > s->srv->cfg.max_output_per_uid) {
		t->output_held = 1;
		t->output_stalls++;
		s->srv->quota_output_stalls++;
	} else if (t->output_held && t->output <= s->srv->cfg.max_output_per_uid / 2) {
		t->output_held = 0;
		/* Its other sessions may be idle, each with nothing of its own
		 * to write that would wake it: turn them all again. */
		for (struct list *l = t->sessions.next; l != &t->sessions; l = l->next) {
			struct session *o = container_of(l, struct session, ten_link);
			if (o != s && (o->state == S_READY || o->state == S_HELLO) && !o->ready_link.next)
				list_push_tail(&s->srv->ready, &o->ready_link);
		}
		coll_kick(s->srv);
	}
	return t->output_held;
}

uint64_t ten_heap_bytes(const struct server *srv, const struct tenant *t)
{
	return heap_tenant_bytes(srv->heap, t->heap_tenant);
}

void ten_heap_refused(struct server *srv, const struct tenant *t, struct disp_reply *rp)
{
	const char *shared = t->heap_tenant ? "" : ", shared with the uids past the first " HEAP_TENANTS_SHARED_AFTER;
	disp_fail(rp, HEAPD__STATUS__LIMIT, "alloc: uid %u has %llu bytes of heap%s (max_heap_per_uid %zu)",
		  (unsigned)t->uid, (unsigned long long)ten_heap_bytes(srv, t), shared,
		  srv->cfg.heap.max_tenant_heap);
	srv->quota_heap_refused++;
}
