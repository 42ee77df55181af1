/*
 * permseeds.c - writes the dispatch target's seeds for the permission
 * rules (docs/security.md): connections of each identity (fuzzperm.c)
 * making, reading, changing, chmod-ing and chown-ing each other's roots,
 * and read-only handles written through, in requests and in batches;
 * sealed objects, views and the arena's descriptor.
 * Recorded traffic cannot give these: record.c maps every client to an
 * admin, as the daemon tests that change uid configure roles the target
 * has not. tests/fuzz/make-corpus.sh runs it beside the recordings.
 *
 *   permseeds DIR     writes DIR/perm-<scenario>
 *
 * Invariant: each seed is a valid input whose refs are aliases counted as
 * fuzz_dispatch counts them (every nonzero ref a reply returns, in reply
 * order), so the alias each op names is the object the comment says; the
 * comments give the answer the rules call for, which fuzz_dispatch checks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#define ADMIN 0u
#define USER_A 1u   /* uid 1000, groups 1000 and 100 */
#define USER_B 2u   /* uid 1001, groups 1001, 1000 and 100 */
#define READONLY 3u /* uid 1002, groups 1002 and 100 */
#define KEEP UINT32_MAX

struct seed {
	uint8_t *buf;
	size_t len, cap;
	uint32_t nrefs; /* refs returned so far: the next one's alias is nrefs + 1 */
	uint64_t id;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = 2 * (s->len + n);
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf) {
			perror("permseeds");
			exit(1);
		}
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void be32(struct seed *s, uint32_t v)
{
	uint8_t h[4];
	fuzz_put_be32(h, v);
	put(s, h, sizeof h);
}

static void send(struct seed *s, Heapd__Request *q)
{
	q->id = ++s->id;
	size_t n = heapd__request__get_packed_size(q);
	uint8_t *body = malloc(n ? n : 1);
	if (!body) {
		perror("permseeds");
		exit(1);
	}
	heapd__request__pack(q, body);
	be32(s, (uint32_t)n);
	put(s, body, n);
	free(body);
}

/* The alias of the ref the reply to the op just sent returns. */
static uint32_t ref_back(struct seed *s)
{
	return ++s->nrefs;
}

static ProtobufCBinaryData bytes(const char *text)
{
	return (ProtobufCBinaryData){strlen(text), (uint8_t *)text};
}

/* Switches to connection slot, which opens as identity who, and says Hello. */
static void as(struct seed *s, unsigned slot, unsigned who)
{
	be32(s, FUZZ_CTL_BASE + slot + FUZZ_SESSIONS * who);
	Heapd__Hello h = HEAPD__HELLO__INIT;
	h.version = 1;
	h.client_name = "permseeds";
	Heapd__Request q = HEAPD__REQUEST__INIT;
	q.op_case = HEAPD__REQUEST__OP_HELLO;
	q.hello = &h;
	send(s, &q);
}

/* Back to connection slot, open already. */
static void to(struct seed *s, unsigned slot)
{
	be32(s, FUZZ_CTL_BASE + slot);
}

/* Each op below sends one request; a request, filled in, as a batch op. */
#define OP(s, NAME, field, msg)                                \
	do {                                                   \
		Heapd__Request q_ = HEAPD__REQUEST__INIT;      \
		q_.op_case = HEAPD__REQUEST__OP_##NAME;        \
		q_.field = (msg);                              \
		send(s, &q_);                                  \
	} while (0)

static Heapd__Alloc alloc_msg(uint32_t nrefs, const char *data, uint64_t into, uint32_t slot)
{
	Heapd__Alloc a = HEAPD__ALLOC__INIT;
	a.nrefs = nrefs;
	a.nbytes = 8;
	a.data = bytes(data);
	a.into_obj = into;
	a.into_slot = slot;
	return a;
}

static void alloc(struct seed *s, uint32_t nrefs, const char *data, uint64_t into, uint32_t slot)
{
	Heapd__Alloc a = alloc_msg(nrefs, data, into, slot);
	OP(s, ALLOC, alloc, &a);
}

static void write_(struct seed *s, uint64_t obj, const char *data)
{
	Heapd__Write w = HEAPD__WRITE__INIT;
	w.obj = obj;
	w.data = bytes(data);
	OP(s, WRITE, write, &w);
}

static void read_(struct seed *s, uint64_t obj)
{
	Heapd__Read r = HEAPD__READ__INIT;
	r.obj = obj;
	r.length = 8;
	OP(s, READ, read, &r);
}

static void set_ref(struct seed *s, uint64_t obj, uint32_t slot, uint64_t target)
{
	Heapd__SetRef r = HEAPD__SET_REF__INIT;
	r.obj = obj;
	r.slot = slot;
	r.target = target;
	OP(s, SET_REF, set_ref, &r);
}

static void get_ref(struct seed *s, uint64_t obj, uint32_t slot)
{
	Heapd__GetRef r = HEAPD__GET_REF__INIT;
	r.obj = obj;
	r.slot = slot;
	OP(s, GET_REF, get_ref, &r);
}

static void release(struct seed *s, uint64_t obj)
{
	Heapd__Release r = HEAPD__RELEASE__INIT;
	r.obj = obj;
	OP(s, RELEASE, release, &r);
}

static void root_set(struct seed *s, const char *name, uint64_t obj)
{
	Heapd__RootSet r = HEAPD__ROOT_SET__INIT;
	r.name = bytes(name);
	r.obj = obj;
	OP(s, ROOT_SET, root_set, &r);
}

static void root_get(struct seed *s, const char *name)
{
	Heapd__RootGet r = HEAPD__ROOT_GET__INIT;
	r.name = bytes(name);
	OP(s, ROOT_GET, root_get, &r);
}

static void root_chmod(struct seed *s, const char *name, uint32_t mode)
{
	Heapd__RootChmod r = HEAPD__ROOT_CHMOD__INIT;
	r.name = bytes(name);
	r.mode = mode;
	OP(s, ROOT_CHMOD, root_chmod, &r);
}

static void root_chown(struct seed *s, const char *name, uint32_t uid, uint32_t gid)
{
	Heapd__RootChown r = HEAPD__ROOT_CHOWN__INIT;
	r.name = bytes(name);
	r.uid = uid;
	r.gid = gid;
	OP(s, ROOT_CHOWN, root_chown, &r);
}

static void cas_ref(struct seed *s, uint64_t obj, uint32_t slot, uint64_t expected, uint64_t target)
{
	Heapd__CasRef r = HEAPD__CAS_REF__INIT;
	r.obj = obj;
	r.slot = slot;
	r.expected = expected;
	r.target = target;
	OP(s, CAS_REF, cas_ref, &r);
}

static void root_cas(struct seed *s, const char *name, uint64_t expected, uint64_t target)
{
	Heapd__RootCas r = HEAPD__ROOT_CAS__INIT;
	r.name = bytes(name);
	r.expected = expected;
	r.target = target;
	OP(s, ROOT_CAS, root_cas, &r);
}

static void root_list(struct seed *s)
{
	Heapd__RootList r = HEAPD__ROOT_LIST__INIT;
	OP(s, ROOT_LIST, root_list, &r);
}

static void uid_stats(struct seed *s)
{
	Heapd__UidStats r = HEAPD__UID_STATS__INIT;
	OP(s, UID_STATS, uid_stats, &r);
}

static void gc(struct seed *s)
{
	Heapd__Gc r = HEAPD__GC__INIT;
	OP(s, GC, gc, &r);
}

static void free_os_memory(struct seed *s)
{
	Heapd__FreeOsMemory r = HEAPD__FREE_OS_MEMORY__INIT;
	OP(s, FREE_OS_MEMORY, free_os_memory, &r);
}

/* Users A and B, and an admin, on each other's roots. */
static void roots(struct seed *s)
{
	as(s, 0, ADMIN);
	as(s, 1, USER_A);
	alloc(s, 1, "mine", 0, 0);
	uint32_t a = ref_back(s);
	root_set(s, "a/x", a);          /* 1000:1000 0644 */
	root_list(s);

	as(s, 2, USER_B);               /* in A's group 1000: reads, may not write */
	root_get(s, "a/x");
	uint32_t a_ro = ref_back(s);    /* read-only */
	read_(s, a_ro);
	write_(s, a_ro, "theirs");      /* PERMISSION */
	set_ref(s, a_ro, 0, 0);         /* PERMISSION */
	alloc(s, 0, "into", a_ro, 0);   /* PERMISSION */
	alloc(s, 0, "into", a_ro, 5);   /* RANGE: the slot is checked first */
	get_ref(s, a_ro, 0);            /* empty: 0 */
	alloc(s, 1, "theirs", 0, 0);
	uint32_t b = ref_back(s);
	root_set(s, "a/x", b);          /* PERMISSION */
	root_set(s, "a/x", 0);          /* PERMISSION */
	root_chmod(s, "a/x", 0666);     /* PERMISSION */
	root_chown(s, "a/x", 1001, KEEP); /* PERMISSION */
	root_chown(s, "a/x", KEEP, 1001); /* PERMISSION */
	root_set(s, "b/y", b);          /* 1001:1001 0644 */
	root_list(s);

	to(s, 1);
	root_chmod(s, "a/x", 0664);
	root_chown(s, "a/x", KEEP, 100);  /* a group A is in */
	root_chown(s, "a/x", 1001, KEEP); /* PERMISSION: only an admin gives away */
	root_chown(s, "a/x", KEEP, 1001); /* PERMISSION: A is not in 1001 */
	root_chmod(s, "b/y", 0600);       /* PERMISSION: not the owner */
	root_chmod(s, "a/x", 0700);       /* INVALID */
	root_get(s, "b/y");
	ref_back(s);                      /* read-only */
	uid_stats(s);

	to(s, 2);
	root_get(s, "a/x");               /* group 100 may write now: full */
	uint32_t a_full = ref_back(s);
	write_(s, a_full, "ours");
	set_ref(s, a_full, 0, b);
	root_chmod(s, "b/y", 0600);
	root_list(s);

	to(s, 1);
	root_get(s, "b/y");               /* PERMISSION */
	root_list(s);                     /* a/x only */
	get_ref(s, a, 0);                 /* b, full: handles are capabilities */
	write_(s, ref_back(s), "passed");

	to(s, 0);
	root_chown(s, "a/x", 1001, 1001);
	uid_stats(s);
	root_list(s);
	gc(s);

	to(s, 2);
	root_set(s, "a/x", 0);            /* B's now */
	uid_stats(s);
}

/* A read-only session, and read-only handles in an admin's hands. */
static void readonly(struct seed *s)
{
	as(s, 0, ADMIN);
	alloc(s, 2, "shared", 0, 0);
	uint32_t r = ref_back(s);
	alloc(s, 0, "child", r, 0);
	ref_back(s);
	root_set(s, "shared", r);
	root_set(s, "hidden", r);
	root_chmod(s, "hidden", 0600);

	as(s, 1, READONLY);
	root_get(s, "shared");
	uint32_t r_ro = ref_back(s);
	read_(s, r_ro);
	get_ref(s, r_ro, 0);
	uint32_t c_ro = ref_back(s);
	read_(s, c_ro);
	write_(s, r_ro, "no");            /* PERMISSION, and so on */
	write_(s, c_ro, "no");
	set_ref(s, r_ro, 1, c_ro);
	alloc(s, 0, "no", 0, 0);
	alloc(s, 0, "no", r_ro, 1);
	root_set(s, "mine", r_ro);
	root_chmod(s, "shared", 0666);
	root_chown(s, "shared", KEEP, 100);
	gc(s);
	free_os_memory(s);
	root_get(s, "hidden");
	write_(s, r, "no");               /* a full handle: the role still refuses */
	get_ref(s, r, 0);                 /* read-only, through a full handle */
	ref_back(s);
	root_list(s);
	uid_stats(s);
	release(s, r_ro);

	/* A batch: root_get, get_ref from it, a write from that (PERMISSION),
	 * a read SKIPPED. */
	Heapd__RootGet rg = HEAPD__ROOT_GET__INIT;
	rg.name = bytes("shared");
	Heapd__GetRef gr = HEAPD__GET_REF__INIT;
	gr.obj_from = 1;
	Heapd__Write w = HEAPD__WRITE__INIT;
	w.obj_from = 2;
	w.data = bytes("no");
	Heapd__Read rd = HEAPD__READ__INIT;
	rd.obj_from = 1;
	rd.length = 1;
	Heapd__BatchOp o[4] = {HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT,
			       HEAPD__BATCH_OP__INIT};
	o[0].op_case = HEAPD__BATCH_OP__OP_ROOT_GET, o[0].root_get = &rg;
	o[1].op_case = HEAPD__BATCH_OP__OP_GET_REF, o[1].get_ref = &gr;
	o[2].op_case = HEAPD__BATCH_OP__OP_WRITE, o[2].write = &w;
	o[3].op_case = HEAPD__BATCH_OP__OP_READ, o[3].read = &rd;
	Heapd__BatchOp *ops[4] = {&o[0], &o[1], &o[2], &o[3]};
	Heapd__Batch b = HEAPD__BATCH__INIT;
	b.n_ops = 4;
	b.ops = ops;
	OP(s, BATCH, batch, &b);
	ref_back(s);
	ref_back(s);

	to(s, 0);
	write_(s, r_ro, "no");            /* PERMISSION: the handle's right, whoever holds it */
	set_ref(s, r, 1, r_ro);           /* stored as it is */
	get_ref(s, r, 1);
	write_(s, ref_back(s), "no");     /* PERMISSION */
	root_set(s, "ro", r_ro);
	root_get(s, "ro");
	write_(s, ref_back(s), "no");     /* PERMISSION */
	gc(s);
}

/* Users' gc, others' bits granting the owner, a batch refused midway,
 * and a connection reopened as someone else. */
static void users(struct seed *s)
{
	as(s, 0, USER_A);
	gc(s);                            /* PERMISSION */
	free_os_memory(s);                /* PERMISSION */
	alloc(s, 0, "mine", 0, 0);
	uint32_t a = ref_back(s);
	root_set(s, "a", a);
	root_chmod(s, "a", 0600);

	as(s, 1, USER_B);
	Heapd__Alloc al = alloc_msg(0, "theirs", 0, 0);
	Heapd__RootSet rs = HEAPD__ROOT_SET__INIT;
	rs.name = bytes("b");
	rs.obj_from = 1;
	Heapd__RootGet rg = HEAPD__ROOT_GET__INIT;
	rg.name = bytes("a");
	Heapd__RootGet rg2 = HEAPD__ROOT_GET__INIT;
	rg2.name = bytes("b");
	Heapd__BatchOp o[4] = {HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT,
			       HEAPD__BATCH_OP__INIT};
	o[0].op_case = HEAPD__BATCH_OP__OP_ALLOC, o[0].alloc = &al;
	o[1].op_case = HEAPD__BATCH_OP__OP_ROOT_SET, o[1].root_set = &rs;
	o[2].op_case = HEAPD__BATCH_OP__OP_ROOT_GET, o[2].root_get = &rg;   /* PERMISSION */
	o[3].op_case = HEAPD__BATCH_OP__OP_ROOT_GET, o[3].root_get = &rg2;  /* SKIPPED */
	Heapd__BatchOp *ops[4] = {&o[0], &o[1], &o[2], &o[3]};
	Heapd__Batch b = HEAPD__BATCH__INIT;
	b.n_ops = 4;
	b.ops = ops;
	OP(s, BATCH, batch, &b);
	ref_back(s);
	root_get(s, "a");                 /* PERMISSION */
	root_list(s);                     /* b only */

	to(s, 0);
	root_chmod(s, "a", 0006);         /* others' bits, which grant the owner too */
	root_get(s, "a");
	write_(s, ref_back(s), "again");

	as(s, 2, ADMIN);
	gc(s);
	root_chown(s, "a", 1001, 100);
	uid_stats(s);

	to(s, 1);
	root_chmod(s, "a", 0600);         /* B owns it now */
	root_set(s, "a", 0);
	be32(s, FUZZ_CTL_BASE + FUZZ_CTL_HANGUP);
	as(s, 1, READONLY);               /* the same connection, reopened read-only */
	root_get(s, "b");
	write_(s, ref_back(s), "no");     /* PERMISSION */
	root_set(s, "b", 0);              /* PERMISSION */
	uid_stats(s);
}

/* Compare and swap across users: read and write needed on a root, a
 * read-only handle's slot, a read-only session, conflicts and swaps. */
static void cas(struct seed *s)
{
	as(s, 0, USER_A);
	alloc(s, 1, "mine", 0, 0);
	uint32_t a = ref_back(s);
	root_cas(s, "a/x", 0, a);         /* made: 1000:1000 0644 */
	root_cas(s, "a/x", 0, a);         /* CONFLICT: a is there */

	as(s, 1, USER_B);                 /* in A's group: reads, may not write */
	alloc(s, 1, "theirs", 0, 0);
	uint32_t b = ref_back(s);
	root_cas(s, "a/x", a, b);         /* PERMISSION */
	root_cas(s, "a/x", b, b);         /* PERMISSION, not CONFLICT: nothing shown */
	root_get(s, "a/x");
	uint32_t a_ro = ref_back(s);
	cas_ref(s, a_ro, 0, 0, b);        /* PERMISSION */
	cas_ref(s, a_ro, 3, 0, b);        /* RANGE first */
	root_cas(s, "b/y", 0, b);
	cas_ref(s, b, 0, 0, a_ro);        /* stored as it is */
	cas_ref(s, b, 0, 0, b);           /* CONFLICT: a_ro is there */

	to(s, 0);
	root_chmod(s, "a/x", 0664);
	cas_ref(s, a, 0, 0, a);

	to(s, 1);
	root_cas(s, "a/x", b, b);         /* CONFLICT: a */
	root_cas(s, "a/x", a, b);

	to(s, 0);
	root_chmod(s, "a/x", 0620);       /* the group may write, not read */

	to(s, 1);
	root_cas(s, "a/x", b, 0);         /* PERMISSION */

	as(s, 2, READONLY);
	root_cas(s, "r", 0, 0);           /* PERMISSION: the role first */
	root_get(s, "b/y");
	cas_ref(s, ref_back(s), 0, 0, 0); /* PERMISSION */

	to(s, 1);
	root_cas(s, "b/y", b, 0);         /* deleted */
	root_cas(s, "b/y", 0, 0);         /* absent to absent */
	uid_stats(s);
	root_list(s);
}

static void seal(struct seed *s, uint64_t obj)
{
	Heapd__Seal r = HEAPD__SEAL__INIT;
	r.obj = obj;
	OP(s, SEAL, seal, &r);
}

static void view(struct seed *s, uint64_t obj)
{
	Heapd__View r = HEAPD__VIEW__INIT;
	r.obj = obj;
	OP(s, VIEW, view, &r);
}

static void view_release(struct seed *s, uint64_t obj)
{
	Heapd__ViewRelease r = HEAPD__VIEW_RELEASE__INIT;
	r.obj = obj;
	OP(s, VIEW_RELEASE, view_release, &r);
}

static void object_info(struct seed *s, uint64_t obj)
{
	Heapd__ObjectInfo r = HEAPD__OBJECT_INFO__INIT;
	r.obj = obj;
	OP(s, OBJECT_INFO, object_info, &r);
}

static void map_arena(struct seed *s)
{
	Heapd__MapArena r = HEAPD__MAP_ARENA__INIT;
	OP(s, MAP_ARENA, map_arena, &r);
}

static void ping(struct seed *s)
{
	Heapd__Ping r = HEAPD__PING__INIT;
	OP(s, PING, ping, &r);
}

static void get_stats(struct seed *s)
{
	Heapd__GetStats r = HEAPD__GET_STATS__INIT;
	OP(s, GET_STATS, get_stats, &r);
}

static void client_list(struct seed *s)
{
	Heapd__ClientList r = HEAPD__CLIENT_LIST__INIT;
	OP(s, CLIENT_LIST, client_list, &r);
}

/* A batch of n ops, each filled in by the caller. */
static void batch(struct seed *s, Heapd__BatchOp *o, size_t n)
{
	Heapd__BatchOp **ops = malloc(n * sizeof *ops);
	if (!ops) {
		perror("permseeds");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		ops[i] = &o[i];
	Heapd__Batch b = HEAPD__BATCH__INIT;
	b.n_ops = n;
	b.ops = ops;
	OP(s, BATCH, batch, &b);
	free(ops);
}

/* Sealed objects and views (docs/protocol.md, Zero-copy): what a seal
 * refuses, who may view (the target grants uid 0 and gid 1001, so user B;
 * never the read-only session), views kept apart from holds and counted
 * with them, the arena's descriptor behind pipelined replies, and views
 * ended by a hang-up. */
static void zerocopy(struct seed *s)
{
	as(s, 0, ADMIN);
	map_arena(s);                     /* the descriptor comes with this reply */
	alloc(s, 2, "sealed", 0, 0);
	uint32_t a = ref_back(s);
	alloc(s, 0, "child", a, 0);       /* into a, before the seal */
	uint32_t child = ref_back(s);
	view(s, a);                       /* INVALID: not sealed */
	write_(s, a, "sealed!!");
	seal(s, a);
	seal(s, a);                       /* twice: no error */
	object_info(s, a);                /* sealed */
	write_(s, a, "no");               /* PERMISSION, and so on */
	set_ref(s, a, 1, child);
	cas_ref(s, a, 1, 0, child);
	alloc(s, 0, "no", a, 1);
	alloc(s, 0, "no", a, 7);          /* RANGE: the slot is checked first */
	write_(s, child, "mutable");      /* shallow: a's slots' objects are not sealed */
	read_(s, a);
	view(s, a);                       /* its 8 bytes, past its header and 2 slots */
	view(s, a);                       /* a second view */
	map_arena(s);                     /* again: no second descriptor */
	release(s, a);                    /* the alloc's hold */
	release(s, a);                    /* NOT_FOUND: release never ends a view */
	view_release(s, a);
	get_stats(s);                     /* one view left, which counts as a hold */
	client_list(s);
	root_set(s, "zc", a);

	Heapd__Alloc big = HEAPD__ALLOC__INIT;
	big.nrefs = 3;
	big.nbytes = 40000;               /* a large object, its data not modelled */
	big.data = bytes("large");
	OP(s, ALLOC, alloc, &big);
	uint32_t large = ref_back(s);
	seal(s, large);
	view(s, large);
	gc(s);

	as(s, 1, USER_A);                 /* not granted: neither listed nor root */
	root_get(s, "zc");
	uint32_t a_ro = ref_back(s);      /* read-only: the root is 0:0 0644 */
	view(s, a_ro);                    /* PERMISSION */
	map_arena(s);                     /* PERMISSION */
	seal(s, a_ro);                    /* PERMISSION: a read-only handle */
	alloc(s, 0, "own", 0, 0);
	uint32_t u = ref_back(s);
	seal(s, u);                       /* anyone seals what it may write */
	write_(s, u, "no");               /* PERMISSION */
	view_release(s, u);               /* NOT_FOUND */

	as(s, 2, USER_B);                 /* granted: its group 1001 is listed */
	root_get(s, "zc");
	uint32_t b_ro = ref_back(s);
	view(s, b_ro);                    /* through a read-only handle: allowed */
	seal(s, b_ro);                    /* PERMISSION */
	view_release(s, a);               /* NOT_FOUND: the admin's view, not this one's */
	be32(s, FUZZ_CTL_BASE + FUZZ_CTL_PIPELINE);
	ping(s);                          /* these replies go before the descriptor */
	read_(s, b_ro);
	map_arena(s);
	view(s, b_ro);
	be32(s, FUZZ_CTL_BASE + FUZZ_CTL_PIPELINE);

	/* alloc, seal, view, write (PERMISSION), view_release SKIPPED. */
	Heapd__Alloc al = alloc_msg(0, "batched", 0, 0);
	Heapd__Seal sl = HEAPD__SEAL__INIT;
	sl.obj_from = 1;
	Heapd__View vw = HEAPD__VIEW__INIT;
	vw.obj_from = 1;
	Heapd__Write w = HEAPD__WRITE__INIT;
	w.obj_from = 1;
	w.data = bytes("no");
	Heapd__ViewRelease vr = HEAPD__VIEW_RELEASE__INIT;
	vr.obj_from = 1;
	Heapd__BatchOp o[5] = {HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT,
			       HEAPD__BATCH_OP__INIT, HEAPD__BATCH_OP__INIT};
	o[0].op_case = HEAPD__BATCH_OP__OP_ALLOC, o[0].alloc = &al;
	o[1].op_case = HEAPD__BATCH_OP__OP_SEAL, o[1].seal = &sl;
	o[2].op_case = HEAPD__BATCH_OP__OP_VIEW, o[2].view = &vw;
	o[3].op_case = HEAPD__BATCH_OP__OP_WRITE, o[3].write = &w;
	o[4].op_case = HEAPD__BATCH_OP__OP_VIEW_RELEASE, o[4].view_release = &vr;
	batch(s, o, 5);
	ref_back(s);
	uid_stats(s);                     /* views count as holds */

	/* Views of one object until max_holds_per_session (256, holds and
	 * views together): LIMIT at the op that finds none left. */
	enum { MANY = 260 };
	Heapd__View many = HEAPD__VIEW__INIT;
	many.obj = b_ro;
	Heapd__BatchOp mo[MANY];
	for (size_t i = 0; i < MANY; i++) {
		mo[i] = (Heapd__BatchOp)HEAPD__BATCH_OP__INIT;
		mo[i].op_case = HEAPD__BATCH_OP__OP_VIEW, mo[i].view = &many;
	}
	batch(s, mo, MANY);
	view(s, b_ro);                    /* LIMIT */
	alloc(s, 0, "full", 0, 0);        /* LIMIT: views count as holds */
	get_stats(s);
	be32(s, FUZZ_CTL_BASE + FUZZ_CTL_HANGUP);  /* every view ends with the connection */

	as(s, 2, READONLY);               /* the same connection, reopened read-only */
	root_get(s, "zc");
	uint32_t r_ro = ref_back(s);
	view(s, r_ro);                    /* PERMISSION: listed, but read-only */
	map_arena(s);                     /* PERMISSION */
	seal(s, r_ro);                    /* PERMISSION */
	get_stats(s);

	to(s, 0);
	object_info(s, u);                /* sealed */
	client_list(s);
	gc(s);
}

static void save(const char *dir, const char *name, void (*scenario)(struct seed *))
{
	struct seed s = {0};
	scenario(&s);
	char path[4096];
	snprintf(path, sizeof path, "%s/perm-%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s.buf, 1, s.len, f) != s.len || fclose(f) != 0) {
		fprintf(stderr, "permseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(s.buf);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: permseeds DIR\n");
		return 2;
	}
	save(argv[1], "roots", roots);
	save(argv[1], "readonly", readonly);
	save(argv[1], "users", users);
	save(argv[1], "cas", cas);
	save(argv[1], "zerocopy", zerocopy);
	return 0;
}
