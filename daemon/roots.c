/*
 * roots.c - the root operations: who may touch a root, and what each does.
 *
 * A root has an owner uid, a group gid and a mode of rw bits, which the
 * engine keeps (heap_root_meta) and this file alone judges. A caller may
 * read a root when its uid is the owner's and 0400 is set, or it is in the
 * root's group and 040 is set, or 04 is set; write likewise with 0200, 020
 * and 02. The classes add up, unlike a file's: a bit for others grants the
 * owner too. An admin may do anything. A new root gets its maker's uid and
 * gid and the mode root_mode; replacing or deleting one needs write,
 * root_cas write and read (its reply shows what the root names),
 * root_get and root_list need read, root_chmod is the owner's or an
 * admin's, and root_chown is as chown(2): only an admin gives a root to
 * another uid; the owner may change its group to one it is in. root_info
 * needs read, and root_scan lists only the roots the caller may read.
 *
 * root_scan walks the roots' table a bucket at a time with the engine's
 * cursor (heap_root_scan_bucket: Redis SCAN's, so a root present for the
 * whole scan is listed at least once while others come and go), looking
 * at about count table slots a call (ROOT_SCAN_DEFAULT, at most
 * ROOT_SCAN_MAX); a bucket is listed whole or not at all, so a reply that
 * fills up stops before the bucket that would not fit, and the cursor
 * points at it. Names are matched by fnmatch(3) without flags, pattern
 * and names being text without NUL.
 *
 * The engine keeps the roots and their metas (heap/holds.c); it judges
 * nothing about who asks. The quotas a new root counts against are
 * tenant.c's; what a refusal changes is nothing.
 */
#include <fnmatch.h>
#include <string.h>

#include "dispatch.h"
#include "server.h"
#include "text.h"

#define ROOT_READ 04u
#define ROOT_WRITE 02u
#define ROOT_MODE_BITS 0666u
#define ID_KEEP UINT32_MAX  /* root_chown: leave it, as -1 does for chown(2) */
#define ROOT_SCAN_DEFAULT 100u   /* table slots a root_scan looks at, when count is 0 */
#define ROOT_SCAN_MAX 10000u     /* and at most, whatever count says */
#define ROOT_PATTERN_MAX 1024u   /* bytes of a root_scan pattern */

/* Whether s may read (ROOT_READ) or write (ROOT_WRITE) a root of meta m. */
static int root_may(const struct session *s, const struct heap_root_meta *m, unsigned what)
{
	unsigned bits = m->mode & what;  /* others' */
	if (s->uid == m->uid)
		bits |= m->mode >> 6 & what;
	if (sess_in_group(s, m->gid))
		bits |= m->mode >> 3 & what;
	return bits || s->role == ROLE_ADMIN;
}

/* A name quoted in a message: at most 64 bytes, cut at a character. */
#define QUOTE(name, len) (int)text_cut(name, len, 64), name

/* A root operation's error: the missing root and a bad name said in full. */
static void root_fail(struct disp_reply *rp, int err, const char *what, const char *name, size_t len,
		      const char *absent)
{
	if (err == HEAP_ENOENT)
		disp_fail(rp, HEAPD__STATUS__NOT_FOUND, "%s: no root named \"%.*s\"%s", what, QUOTE(name, len), absent);
	else if (err == HEAP_EINVAL)
		disp_fail(rp, HEAPD__STATUS__INVALID, "%s: a root name is 1 to %u bytes", what, HEAP_ROOT_NAME_MAX);
	else
		disp_engine_fail(rp, err, what);
}

/* PERMISSION for what s may not do (verb) to the root of meta m. */
static void root_denied(struct disp_reply *rp, const struct session *s, const char *what, const char *verb,
			const char *name, size_t len, const struct heap_root_meta *m)
{
	disp_fail(rp, HEAPD__STATUS__PERMISSION, "%s: uid %u may not %s root \"%.*s\" (owner %u, mode %04o)", what,
		  (unsigned)s->uid, verb, QUOTE(name, len), (unsigned)m->uid, (unsigned)m->mode);
}

/* A root name from the wire: its protobuf length, not strlen, and text
 * every client may list and print: valid UTF-8 with no control character,
 * NUL included (text.c); else rp fails (INVALID) and NULL. */
static const char *root_name(const ProtobufCBinaryData *b, size_t *len, const char *what, struct disp_reply *rp)
{
	if (text_valid((const char *)b->data, b->len)) {
		*len = b->len;
		return b->len ? (const char *)b->data : "";
	}
	disp_fail(rp, HEAPD__STATUS__INVALID, "%s: a root name is UTF-8 text without control characters", what);
	return NULL;
}

/* The meta of the root named so, or 0 with rp failed (NOT_FOUND, INVALID). */
static int root_stat(struct disp_call *c, const char *name, size_t len, const char *what, struct heap_root_meta *m)
{
	int err = heap_root_stat(c->s->srv->heap, name, len, m);
	if (err)
		root_fail(c->rp, err, what, name, len, "");
	return !err;
}

int root_read_ref(struct session *s, const ProtobufCBinaryData *b, const char *what, struct disp_reply *rp,
		  heap_ref *out, struct heap_root_meta *meta)
{
	size_t len;
	const char *name = root_name(b, &len, what, rp);
	struct heap_root_meta m;
	if (!name)
		return -1;
	int err = heap_root_stat(s->srv->heap, name, len, &m);
	if (!err && !root_may(s, &m, ROOT_READ)) {
		root_denied(rp, s, what, "read", name, len, &m);
		return -1;
	}
	if (!err && meta)
		*meta = m;
	if (!err)
		err = heap_root_get(s->srv->heap, name, len, NULL, out);
	if (err)
		root_fail(rp, err, what, name, len, "");
	return err ? -1 : 0;
}

/* Names obj (0: deletes) the root named so, which exists or not (*m: its
 * meta, or the one a new root gets). The root's owner pays for it (its
 * uid's quotas) until it is deleted or given to another uid; replacing its
 * object costs nothing new. 0, or rp failed and nothing changed. */
static int root_store(struct disp_call *c, const char *what, const char *name, size_t len, int exists,
		      heap_ref obj, const struct heap_root_meta *m)
{
	struct server *srv = c->s->srv;
	if (obj && !exists && ten_root_refused(srv, c->s->ten, len, what, c->rp))
		return -1;
	int err = heap_root_set(srv->heap, name, len, obj, m);
	if (err == HEAP_ELIMIT) { /* it adds no hold: the roots are full */
		disp_fail(c->rp, HEAPD__STATUS__LIMIT, "%s: named roots: max_roots %u", what, srv->cfg.heap.max_roots);
		return -1;
	}
	if (err) {
		root_fail(c->rp, err, what, name, len, " to delete");
		return -1;
	}
	if (!obj)
		ten_root_gone(srv, m->uid, len);
	else if (!exists)
		ten_root_made(c->s->ten, len);
	return 0;
}

/* Whether the root named so exists (1) or not (0), its meta in *m (a new
 * root's when it does not); -1 with rp failed for a bad name, or a root s
 * may not write (nor read, with and_read). */
static int root_for_change(struct disp_call *c, const char *what, const char *name, size_t len, int and_read,
			   struct heap_root_meta *m)
{
	struct session *s = c->s;
	*m = (struct heap_root_meta){.uid = s->uid, .gid = s->gid, .mode = (uint16_t)s->srv->cfg.root_mode};
	int err = heap_root_stat(s->srv->heap, name, len, m);
	if (err == HEAP_EINVAL) {
		root_fail(c->rp, err, what, name, len, "");
		return -1;
	}
	if (!err && (!root_may(s, m, ROOT_WRITE) || (and_read && !root_may(s, m, ROOT_READ)))) {
		root_denied(c->rp, s, what, and_read ? "read and write" : "write", name, len, m);
		return -1;
	}
	return !err;
}

void op_root_set(struct disp_call *c)
{
	Heapd__RootSet *r = c->req->root_set;
	size_t len;
	struct heap_root_meta m;
	const char *name = root_name(&r->name, &len, "root_set", c->rp);
	int exists = name ? root_for_change(c, "root_set", name, len, 0, &m) : -1;
	if (exists >= 0)
		root_store(c, "root_set", name, len, exists, r->obj, &m);
}

/* root_set on a condition: the root names expected (0: it is absent). Its
 * reply shows what the root names, so it needs read as well as write. A
 * bad target is BAD_REF whatever the root names, as for cas_ref; expected
 * is compared, never followed. What the root named is the result, on
 * CONFLICT too, with no hold added. The swap is root_store's, so it does
 * all a root_set does: quotas, holds, the collector's barrier. */
void op_root_cas(struct disp_call *c)
{
	Heapd__RootCas *r = c->req->root_cas;
	heap *h = c->s->srv->heap;
	size_t len;
	struct heap_root_meta m;
	const char *name = root_name(&r->name, &len, "root_cas", c->rp);
	int exists = name ? root_for_change(c, "root_cas", name, len, 1, &m) : -1;
	if (exists < 0)
		return;
	uint32_t nrefs, nbytes;
	int err = r->target ? heap_object_size(h, r->target, &nrefs, &nbytes) : 0;
	heap_ref was = 0;
	if (!err && exists)
		err = heap_root_get(h, name, len, NULL, &was);
	if (err) {
		disp_engine_fail(c->rp, err, "root_cas");
		return;
	}
	if (was != r->expected) {
		disp_conflict(c->rp, "root_cas", was, r->expected);
		return;
	}
	if ((exists || r->target) && root_store(c, "root_cas", name, len, exists, r->target, &m) != 0)
		return;
	disp_set_ref(c->rp, was);
}

void op_root_get(struct disp_call *c)
{
	struct session *s = c->s;
	size_t len;
	const char *name = root_name(&c->req->root_get->name, &len, "root_get", c->rp);
	struct heap_root_meta m;
	if (!name || zc_held_refused(s, "root_get", c->rp) || ten_hold_refused(s->srv, s->ten, "root_get", c->rp) ||
	    !root_stat(c, name, len, "root_get", &m))
		return;
	if (!root_may(s, &m, ROOT_READ)) {
		root_denied(c->rp, s, "root_get", "read", name, len, &m);
		return;
	}
	heap_ref ref;
	int ro = s->role == ROLE_READONLY || !root_may(s, &m, ROOT_WRITE);
	int err = heap_root_get(s->srv->heap, name, len, ro ? NULL : s->holds, &ref);
	if (!err && ro)
		err = disp_hold_readonly(s, &ref);
	if (err)
		root_fail(c->rp, err, "root_get", name, len, "");
	else
		disp_set_ref(c->rp, ref);
}

void op_root_chmod(struct disp_call *c)
{
	struct session *s = c->s;
	Heapd__RootChmod *r = c->req->root_chmod;
	size_t len;
	const char *name = root_name(&r->name, &len, "root_chmod", c->rp);
	struct heap_root_meta m;
	if (!name)
		return;
	if (r->mode & ~ROOT_MODE_BITS) {
		disp_fail(c->rp, HEAPD__STATUS__INVALID, "root_chmod: mode %04o has bits other than rw (0666)", r->mode);
		return;
	}
	if (!root_stat(c, name, len, "root_chmod", &m))
		return;
	if (s->uid != m.uid && s->role != ROLE_ADMIN) {
		root_denied(c->rp, s, "root_chmod", "change the mode of", name, len, &m);
		return;
	}
	m.mode = (uint16_t)r->mode;
	heap_root_set_meta(s->srv->heap, name, len, &m);  /* it exists: root_stat said so */
}

/* root_chown's rule (chown(2)'s): an admin may set any uid and gid; the
 * owner may keep its uid and set a gid it is in. NULL if s may, else
 * what it may not do. */
static const char *chown_refused(const struct session *s, const struct heap_root_meta *m, uint32_t uid,
				 uint32_t gid)
{
	if (s->role == ROLE_ADMIN)
		return NULL;
	if (s->uid != m->uid)
		return "change the owner of";
	if (uid != m->uid)
		return "give away";
	return gid == m->gid || sess_in_group(s, gid) ? NULL : "set a group it is not in on";
}

/* A root given to another uid moves its charge (tenant.c) to that uid,
 * which its quotas do not refuse: it is an admin's act. */
void op_root_chown(struct disp_call *c)
{
	struct session *s = c->s;
	Heapd__RootChown *r = c->req->root_chown;
	size_t len;
	const char *name = root_name(&r->name, &len, "root_chown", c->rp);
	struct heap_root_meta m;
	if (!name || !root_stat(c, name, len, "root_chown", &m))
		return;
	uint32_t uid = r->uid == ID_KEEP ? m.uid : r->uid, gid = r->gid == ID_KEEP ? m.gid : r->gid;
	const char *refused = chown_refused(s, &m, uid, gid);
	if (refused) {
		root_denied(c->rp, s, "root_chown", refused, name, len, &m);
		return;
	}
	struct tenant *to = uid == m.uid ? NULL : ten_get(s->srv, uid);
	if (uid != m.uid && !to) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "root_chown: out of memory");
		return;
	}
	uid_t from = m.uid;
	m.uid = uid;
	m.gid = gid;
	heap_root_set_meta(s->srv->heap, name, len, &m);  /* it exists: root_stat said so */
	if (to) {
		ten_root_made(to, len);
		ten_root_gone(s->srv, from, len);
	}
}

/* What root_list's reply takes per root besides its name: the name's tag
 * and length, and a uid, gid and mode of at most 5 bytes each. */
#define ROOT_ROW_FRAMING (3u + 3 * 5u)
/* And once: the headers of its three packed arrays. */
#define ROOT_LIST_FRAMING (3 * 6u)

/* root_list's reply being built: parallel arrays, in the scratch memory
 * as the rest of the reply. */
struct names {
	Heapd__RootNames msg;
	struct session *s;
	size_t cap, bytes, limit;
	const char *pattern;    /* root_scan's, NUL-terminated; NULL: every root */
	int full;               /* root_scan: a name did not fit */
};

/* Room for one more row in every array; 0, or -1 when out of memory. */
static int names_grow(struct names *n)
{
	if (n->msg.n_names < n->cap)
		return 0;
	size_t cap = n->cap ? 2 * n->cap : 64, k = n->msg.n_names;
	struct scratch *sc = &n->s->srv->scratch;
	char **names = scratch_alloc(sc, cap * sizeof *names);
	uint32_t *ids = scratch_alloc(sc, 3 * cap * sizeof *ids);
	if (!names || !ids)
		return -1;
	if (k) {
		memcpy(names, n->msg.names, k * sizeof *names);
		memcpy(ids, n->msg.uids, k * sizeof *ids);
		memcpy(ids + cap, n->msg.gids, k * sizeof *ids);
		memcpy(ids + 2 * cap, n->msg.modes, k * sizeof *ids);
	}
	n->msg.names = names;
	n->msg.uids = ids;
	n->msg.gids = ids + cap;
	n->msg.modes = ids + 2 * cap;
	n->cap = cap;
	return 0;
}

/* A root, if the caller may read it; 1 when the reply is full. */
static int add_name(void *arg, const char *name, size_t len, const struct heap_root_meta *m)
{
	struct names *n = arg;
	if (!root_may(n->s, m, ROOT_READ))
		return 0;
	if (n->bytes + len + ROOT_ROW_FRAMING > n->limit) {
		n->msg.truncated = 1;
		return 1;
	}
	char *copy = names_grow(n) == 0 ? scratch_alloc(&n->s->srv->scratch, len + 1) : NULL;
	if (!copy) {
		n->msg.truncated = 1;  /* out of memory: a partial list, said so */
		return 1;
	}
	memcpy(copy, name, len);
	copy[len] = '\0';
	size_t i = n->msg.n_names;
	n->msg.names[i] = copy;
	n->msg.uids[i] = m->uid;
	n->msg.gids[i] = m->gid;
	n->msg.modes[i] = m->mode;
	n->msg.n_names = n->msg.n_uids = n->msg.n_gids = n->msg.n_modes = i + 1;
	n->bytes += len + ROOT_ROW_FRAMING;
	return 0;
}

void op_root_list(struct disp_call *c)
{
	struct session *s = c->s;
	struct disp_reply *rp = c->rp;
	struct names *n = scratch_alloc(&s->srv->scratch, sizeof *n);
	if (!n) {
		disp_fail(rp, HEAPD__STATUS__INTERNAL, "root_list: out of memory");
		return;
	}
	*n = (struct names){.msg = HEAPD__ROOT_NAMES__INIT, .s = s, .bytes = ROOT_LIST_FRAMING, .limit = c->room};
	heap_root_names(s->srv->heap, add_name, n);
	rp->r.result_case = HEAPD__RESPONSE__RESULT_ROOTS;
	rp->r.roots = &n->msg;
}

void op_root_info(struct disp_call *c)
{
	heap_ref ref;
	struct heap_root_meta m;
	Heapd__ObjectInfoReply *info;
	if (root_read_ref(c->s, &c->req->root_info->name, "root_info", c->rp, &ref, &m))
		return;
	int err = disp_object_info(c->s, ref, c->rp, &info);
	if (err == HEAP_ENOMEM) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "root_info: out of memory");
		return;
	}
	if (err) {
		disp_engine_fail(c->rp, err, "root_info");
		return;
	}
	info->uid = m.uid;
	info->gid = m.gid;
	info->mode = m.mode;
}

/* A root of the bucket being scanned, if it matches and may be read. */
static void scan_name(void *arg, const char *name, size_t len, const struct heap_root_meta *m)
{
	struct names *n = arg;
	char buf[HEAP_ROOT_NAME_MAX + 1];
	if (n->full)
		return;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (!n->pattern || fnmatch(n->pattern, buf, 0) == 0)
		n->full = add_name(n, name, len, m);
}

/* The pattern as a C string (NULL: every root), or NULL with rp failed. */
static const char *scan_pattern(struct disp_call *c, int *ok)
{
	const ProtobufCBinaryData *p = &c->req->root_scan->pattern;
	*ok = 0;
	if (p->len > ROOT_PATTERN_MAX) {
		disp_fail(c->rp, HEAPD__STATUS__INVALID, "root_scan: a pattern of %zu bytes (at most %u)", p->len,
			  ROOT_PATTERN_MAX);
		return NULL;
	}
	if (!text_valid((const char *)p->data, p->len)) {
		disp_fail(c->rp, HEAPD__STATUS__INVALID, "root_scan: a pattern is UTF-8 text without control characters");
		return NULL;
	}
	*ok = 1;
	if (!p->len)
		return NULL;
	char *pat = scratch_alloc(&c->s->srv->scratch, p->len + 1);
	if (!pat) {
		*ok = 0;
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "root_scan: out of memory");
		return NULL;
	}
	memcpy(pat, p->data, p->len);
	pat[p->len] = '\0';
	return pat;
}

void op_root_scan(struct disp_call *c)
{
	struct session *s = c->s;
	heap *h = s->srv->heap;
	Heapd__RootScan *r = c->req->root_scan;
	int ok;
	const char *pattern = scan_pattern(c, &ok);
	struct names *n = ok ? scratch_alloc(&s->srv->scratch, sizeof *n) : NULL;
	if (!ok)
		return;
	if (!n) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "root_scan: out of memory");
		return;
	}
	*n = (struct names){.msg = HEAPD__ROOT_NAMES__INIT, .s = s, .bytes = ROOT_LIST_FRAMING + 11,
			    .limit = c->room, .pattern = pattern};
	uint32_t count = r->count ? r->count : ROOT_SCAN_DEFAULT, looked = 0;
	if (count > ROOT_SCAN_MAX)
		count = ROOT_SCAN_MAX;
	uint64_t cursor = r->cursor;
	do {
		size_t k = n->msg.n_names, bytes = n->bytes;
		looked += heap_root_scan_bucket(h, cursor, scan_name, n);
		if (n->full) {
			n->msg.n_names = n->msg.n_uids = n->msg.n_gids = n->msg.n_modes = k;
			n->bytes = bytes;
			n->msg.truncated = 0;
			if (!k) {
				disp_fail(c->rp, HEAPD__STATUS__LIMIT, "root_scan: a bucket's roots do not fit in a "
					  "reply (max_frame_size %u)", s->srv->cfg.max_frame);
				return;
			}
			break;
		}
		cursor = heap_root_scan_next(h, cursor);
	} while (cursor && looked < count);
	sess_turn_add(s->srv, (uint64_t)looked * 64);
	n->msg.next_cursor = cursor;
	c->rp->r.result_case = HEAPD__RESPONSE__RESULT_ROOTS;
	c->rp->r.roots = &n->msg;
}
