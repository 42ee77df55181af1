/*
 * fuzzperm.c - the dispatch target's permission model: who its
 * connections are, and where the rules (docs/security.md, docs/protocol.md
 * "Roots") make PERMISSION the one right answer.
 *
 * Identities. The harness does not link admit.c: a connection gets its
 * uid, groups and role from fz_who(), as admit_session would have given
 * them to such a peer (readonly_uids naming 1002). Which identity a
 * connection has comes from the input (fuzzutil.h, the switch records),
 * so the fuzzer picks who talks, and an input of one identity only, as
 * every recorded seed is (identity 0, an admin), runs as before.
 *
 * The rules are written here from the documents, not taken from
 * dispatch.c, so that a rule broken there is a disagreement here. For
 * each reply, fz_perm_check() decides from the request, the sender and
 * the model's state before the reply (model.c: roots with their owners
 * and modes, which handles are read-only, which objects are reachable)
 * whether PERMISSION must come, may come, or must not:
 *  - by role, before anything else is looked at: a read-only session's
 *    alloc, write, set_ref, cas_ref, root_set, root_cas, root_chmod,
 *    root_chown and seal, and a
 *    non-admin's gc and free_os_memory (gc_by_anyone is off);
 *  - by handle: write, set_ref and cas_ref on it and alloc into it through a handle
 *    the model knows is read-only, or of an object it knows is sealed,
 *    and seal through a read-only handle, once the checks that come first
 *    pass (alloc's data fits, the slot is inside): must when the object is
 *    reachable, may when it may have been collected (BAD_REF comes first
 *    then), never when it was refused as stale;
 *  - zero-copy: view and map_arena by a session not granted it
 *    (zero_copy_granted), before anything else; view_release never;
 *  - by root: root_set replacing or deleting a root the sender may not
 *    write, root_cas of one it may not both read and write; root_get of a root it may not read (unless its uid is at
 *    max_holds_per_uid, which is checked first); root_chmod by anyone but
 *    the owner or an admin (of a valid mode); root_chown as chown(2): the
 *    owner only, keeping its uid, to a group it is in, or an admin.
 * Nowhere else: an op the rules allow is never refused PERMISSION. In a
 * batch an op may find no room left for its result, which batch.c checks
 * before the role: LIMIT then stands for a PERMISSION due.
 *
 * What a refused op leaves is model.c's to check: it takes nothing in
 * from a PERMISSION reply, so any change the daemon made anyway shows in
 * a later read, get_ref, root_get, root_list or the walk at the end.
 */
#include <string.h>
#include <unistd.h>

#include "fuzzdispatch.h"

static const struct fz_who who_table[FUZZ_IDENTITIES] = {
	{.uid = 0, .groups = {0}, .ngroups = 1, .role = ROLE_ADMIN},
	{.uid = 1000, .groups = {1000, 100}, .ngroups = 2, .role = ROLE_USER},
	{.uid = 1001, .groups = {1001, 1000, 100}, .ngroups = 3, .role = ROLE_USER},
	{.uid = 1002, .groups = {1002, 100}, .ngroups = 2, .role = ROLE_READONLY},
};

const struct fz_who *fz_who(unsigned k)
{
	return &who_table[k % FUZZ_IDENTITIES];
}

void fz_who_apply(const struct fz_who *who, struct session *s)
{
	s->uid = who->uid;
	s->gid = who->groups[0];
	memcpy(s->groups, who->groups, who->ngroups * sizeof *who->groups);
	s->ngroups = who->ngroups;
	s->groups_cut = false;
	s->role = who->role;
}

static int in_group(const struct fz_who *who, uint32_t gid)
{
	for (unsigned i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return 1;
	return 0;
}

/* The classes add up (docs/protocol.md), unlike a file's: others' bit
 * grants the owner too. */
int fz_root_may(const struct fz_who *who, const struct heap_root_meta *m, unsigned what)
{
	if (who->role == ROLE_ADMIN)
		return 1;
	unsigned bits = m->mode & what;
	if (who->uid == m->uid)
		bits |= m->mode >> 6 & what;
	if (in_group(who, m->gid))
		bits |= m->mode >> 3 & what;
	return bits != 0;
}

enum expect { NEVER, MAY, MUST };

static const char *const role_name[] = {
	[ROLE_USER] = "a user", [ROLE_READONLY] = "read-only", [ROLE_ADMIN] = "an admin",
};

enum kind { READS, WRITES, COLLECTS, SAVES };

/* No default: a new operation does not build until it is classified. */
static enum kind kind_of(Heapd__Request__OpCase op)
{
	switch (op) {
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_WRITE:
	case HEAPD__REQUEST__OP_SET_REF:
	case HEAPD__REQUEST__OP_ROOT_SET:
	case HEAPD__REQUEST__OP_ROOT_CHMOD:
	case HEAPD__REQUEST__OP_ROOT_CHOWN:
	case HEAPD__REQUEST__OP_CAS_REF:
	case HEAPD__REQUEST__OP_ROOT_CAS:
	case HEAPD__REQUEST__OP_SEAL:
		return WRITES;
	case HEAPD__REQUEST__OP_GC:
	case HEAPD__REQUEST__OP_FREE_OS_MEMORY:
		return COLLECTS;
	case HEAPD__REQUEST__OP_SAVE:
	case HEAPD__REQUEST__OP_CLIENT_KILL:  /* admins only, as a save */
		return SAVES;
	case HEAPD__REQUEST__OP_HELLO:
	case HEAPD__REQUEST__OP_PING:
	case HEAPD__REQUEST__OP_READ:
	case HEAPD__REQUEST__OP_GET_REF:
	case HEAPD__REQUEST__OP_RELEASE:
	case HEAPD__REQUEST__OP_ROOT_GET:
	case HEAPD__REQUEST__OP_ROOT_LIST:
	case HEAPD__REQUEST__OP_GET_STATS:
	case HEAPD__REQUEST__OP_UID_STATS:
	case HEAPD__REQUEST__OP_OBJECT_INFO:
	case HEAPD__REQUEST__OP_ROOT_INFO:
	case HEAPD__REQUEST__OP_ROOT_SCAN:
	case HEAPD__REQUEST__OP_CLIENT_LIST:
	case HEAPD__REQUEST__OP_RETAINED:
	case HEAPD__REQUEST__OP_VIEW:  /* zero_copy_granted() decides these */
	case HEAPD__REQUEST__OP_VIEW_RELEASE:
	case HEAPD__REQUEST__OP_MAP_ARENA:
	case HEAPD__REQUEST__OP_BATCH:
	HEAPD_OP_NONE_CASES:
		break;
	}
	return READS;
}

/* A change through handle r, at slot (has_slot) or in its data: refused
 * for a read-only handle, and (or_sealed) for a sealed object. */
static enum expect through(heap_ref r, int or_sealed, int has_slot, uint32_t slot)
{
	uint32_t nrefs;
	switch (fz_model_ro(r, or_sealed, &nrefs)) {
	case FZ_RO_LIVE: return has_slot && slot >= nrefs ? NEVER : MUST;
	case FZ_RO_MAYBE: return has_slot && slot >= nrefs ? NEVER : MAY;
	case FZ_RO_NOT: break;
	}
	return NEVER;
}

/* Zero-copy (docs/security.md): root and heapd's own uid, and whoever
 * zero_copy_uids or zero_copy_gids (any of its groups) lists, but never a
 * read-only session, which the arena would show every full handle. */
static int zero_copy_granted(const struct fz_who *who)
{
	const struct config *c = fz_config();
	if (who->role == ROLE_READONLY)
		return 0;
	if (who->uid == 0 || who->uid == geteuid())
		return 1;
	for (size_t i = 0; i < c->n_zero_copy_uids; i++)
		if (c->zero_copy_uids[i] == who->uid)
			return 1;
	for (size_t i = 0; i < c->n_zero_copy_gids; i++)
		if (in_group(who, c->zero_copy_gids[i]))
			return 1;
	return 0;
}

static enum expect root_rule(const struct fz_who *who, const Heapd__Request *q)
{
	struct heap_root_meta m;
	switch (q->op_case) {
	case HEAPD__REQUEST__OP_ROOT_SET:
		/* A new name is the sender's to make. */
		return fz_model_root_meta(&q->root_set->name, &m) && !fz_root_may(who, &m, FZ_ROOT_WRITE) ? MUST : NEVER;
	case HEAPD__REQUEST__OP_ROOT_CAS:
		/* It shows what the root names: read as well as write. */
		if (!fz_model_root_meta(&q->root_cas->name, &m))
			return NEVER;
		return fz_root_may(who, &m, FZ_ROOT_WRITE) && fz_root_may(who, &m, FZ_ROOT_READ) ? NEVER : MUST;
	case HEAPD__REQUEST__OP_ROOT_GET:
		if (!fz_model_root_meta(&q->root_get->name, &m) || fz_root_may(who, &m, FZ_ROOT_READ))
			return NEVER;
		return fz_uid_holds(who->uid) >= fz_config()->max_holds_per_uid ? NEVER : MUST;
	case HEAPD__REQUEST__OP_ROOT_INFO:
		return fz_model_root_meta(&q->root_info->name, &m) && !fz_root_may(who, &m, FZ_ROOT_READ) ? MUST : NEVER;
	case HEAPD__REQUEST__OP_ROOT_CHMOD:
		if (!fz_model_root_meta(&q->root_chmod->name, &m) || q->root_chmod->mode & ~FZ_ROOT_MODE_BITS)
			return NEVER;
		return who->role == ROLE_ADMIN || who->uid == m.uid ? NEVER : MUST;
	case HEAPD__REQUEST__OP_ROOT_CHOWN: {
		const Heapd__RootChown *c = q->root_chown;
		if (!fz_model_root_meta(&c->name, &m) || who->role == ROLE_ADMIN)
			return NEVER;
		uint32_t uid = c->uid == FZ_ID_KEEP ? m.uid : c->uid, gid = c->gid == FZ_ID_KEEP ? m.gid : c->gid;
		if (who->uid != m.uid || uid != m.uid)
			return MUST;
		return gid == m.gid || in_group(who, gid) ? NEVER : MUST;
	}
	default:
		return NEVER;
	}
}

static enum expect expected(const struct fz_who *who, const Heapd__Request *q)
{
	switch (kind_of(q->op_case)) {
	case COLLECTS:
		return who->role == ROLE_ADMIN || fz_config()->gc_by_anyone ? NEVER : MUST;
	case SAVES:
		return who->role == ROLE_ADMIN ? NEVER : MUST;
	case WRITES:
		if (who->role == ROLE_READONLY)
			return MUST;
		break;
	case READS:
		break;
	}
	switch (q->op_case) {
	case HEAPD__REQUEST__OP_ALLOC:
		/* More data than bytes is RANGE before into_obj is looked at. */
		if (!q->alloc->into_obj || q->alloc->data.len > q->alloc->nbytes)
			return NEVER;
		return through(q->alloc->into_obj, 1, 1, q->alloc->into_slot);
	case HEAPD__REQUEST__OP_WRITE: return through(q->write->obj, 1, 0, 0);
	case HEAPD__REQUEST__OP_SET_REF: return through(q->set_ref->obj, 1, 1, q->set_ref->slot);
	case HEAPD__REQUEST__OP_CAS_REF: return through(q->cas_ref->obj, 1, 1, q->cas_ref->slot);
	case HEAPD__REQUEST__OP_SEAL: return through(q->seal->obj, 0, 0, 0);  /* sealing twice is no error */
	case HEAPD__REQUEST__OP_VIEW:
	case HEAPD__REQUEST__OP_MAP_ARENA: return zero_copy_granted(who) ? NEVER : MUST;
	default: return root_rule(who, q);
	}
}

void fz_perm_check(const struct fz_who *who, const Heapd__Request *q, const Heapd__Response *r, int in_batch)
{
	enum expect e = expected(who, q);
	int refused = r->status == HEAPD__STATUS__PERMISSION;
	if (e == MUST && !refused && !(in_batch && r->status == HEAPD__STATUS__LIMIT))
		fz_broken("%s by uid %u (%s): status %d, where the rules refuse it (PERMISSION)",
			  disp_op_name(q->op_case), (unsigned)who->uid, role_name[who->role], r->status);
	if (e == NEVER && refused)
		fz_broken("%s by uid %u (%s): PERMISSION, where the rules allow it: %s", disp_op_name(q->op_case),
			  (unsigned)who->uid, role_name[who->role], r->error);
}
