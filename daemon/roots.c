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
 * root_get and root_list need read, root_chmod is the owner's or an
 * admin's, and root_chown is as chown(2): only an admin gives a root to
 * another uid; the owner may change its group to one it is in.
 *
 * The engine keeps the roots and their metas (heap/holds.c); it judges
 * nothing about who asks. The quotas a new root counts against are
 * tenant.c's; what a refusal changes is nothing.
 */
#include <string.h>

#include "dispatch.h"
#include "server.h"
#include "text.h"

#define ROOT_READ 04u
#define ROOT_WRITE 02u
#define ROOT_MODE_BITS 0666u
#define ID_KEEP UINT32_MAX  /* root_chown: leave it, as -1 does for chown(2) */

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
		  heap_ref *out)
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
	if (!err)
		err = heap_root_get(s->srv->heap, name, len, NULL, out);
	if (err)
		root_fail(rp, err, what, name, len, "");
	return err ? -1 : 0;
}

/* The root's owner pays for it (its uid's quotas) until it is deleted or
 * given to another uid; replacing its object costs nothing new. */
void op_root_set(struct disp_call *c)
{
	struct session *s = c->s;
	struct server *srv = s->srv;
	Heapd__RootSet *r = c->req->root_set;
	size_t len;
	const char *name = root_name(&r->name, &len, "root_set", c->rp);
	if (!name)
		return;
	struct heap_root_meta m = {.uid = s->uid, .gid = s->gid, .mode = (uint16_t)srv->cfg.root_mode};
	int exists = heap_root_stat(srv->heap, name, len, &m) == 0;
	if (exists && !root_may(s, &m, ROOT_WRITE)) {
		root_denied(c->rp, s, "root_set", "write", name, len, &m);
		return;
	}
	if (r->obj && !exists && ten_root_refused(srv, s->ten, len, c->rp))
		return;
	int err = heap_root_set(srv->heap, name, len, r->obj, &m);
	if (err)
		root_fail(c->rp, err, "root_set", name, len, " to delete");
	else if (!r->obj)
		ten_root_gone(srv, m.uid, len);
	else if (!exists)
		ten_root_made(s->ten, len);
}

void op_root_get(struct disp_call *c)
{
	struct session *s = c->s;
	size_t len;
	const char *name = root_name(&c->req->root_get->name, &len, "root_get", c->rp);
	struct heap_root_meta m;
	if (!name || ten_hold_refused(s->srv, s->ten, "root_get", c->rp) || !root_stat(c, name, len, "root_get", &m))
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

/* A root, if the caller may read it. */
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
