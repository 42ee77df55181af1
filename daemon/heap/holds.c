/*
 * holds.c - the roots: counted hold sets and named roots.
 *
 * A hold set maps a handle to a count, in an open-addressing table with
 * linear probing and backward-shift deletion (no tombstones, so a set that
 * churns does not degrade). The home slot is ref_home(): a Fibonacci hash
 * of the handle's place, which spreads objects made one after another. Named roots are a name -> handle table;
 * each named root holds its object through one internal hold set
 * (h->roots_hs), so the collector only ever scans hold sets. Each root
 * keeps a meta (struct heap_root_meta: the host's owner, group and mode),
 * given when it is made and changed only by heap_root_set_meta; replacing
 * the object keeps it, so a host that counts roots per owner counts a
 * root once, from its making to its deletion or change of owner. A hold
 * set has a tenant, which the objects allocated with it are charged to
 * (central.c); holding or releasing an object changes no tenant's bytes.
 * A hold entry keeps its object's heap bytes (its span's elemsize), and a
 * set the sum over its entries (hs->bytes: each object once, however
 * often held), kept as entries come and go, for the host's client list.
 *
 * Sizes. The roots' table doubles at 3/4 full and halves below 1/8 full;
 * a hold set doubles at 1/4 full up to 1,024 entries and at 3/4 above
 * (grow_at), and halves well below that, so memory follows the current
 * count, not the peak: a hold entry is 16 bytes, in a table of 64 to
 * 1,024 entries up to 256 holds and at most 16/3 times the entries above;
 * a root entry 32 bytes (and its name, malloc'd), in a table at most 8/3
 * times the entries (docs/daemon.md has the per-client figures).
 *
 * Marking scans hold sets incrementally: h->root_cursor walks h->holdsets
 * and each set's cursor walks its table. That stays correct while the
 * mutator changes the sets in between slices because
 *  - every hold added while marking shades its object (insertion barrier);
 *  - an entry moved by a backward shift or a rehash while marking is shaded
 *    too, since it might move from the unscanned part to the scanned part;
 *  - a hold set created while marking starts out scanned (it is empty).
 * Dropping a hold needs no barrier: Dijkstra's invariant does not care.
 */
#include <string.h>

#include "internal.h"

#define HOLDS_MIN_CAP 16u   /* the named roots' table */
#define HOLDS_SET_CAP 64u   /* a hold set's */
#define HOLDS_SPARSE_CAP 1024u

/* When a hold set of cap entries grows: at 1/4 full up to
 * HOLDS_SPARSE_CAP, at 3/4 above. Homes are a hash of the place, so they
 * collide as hashed keys do (the sequential tags handles had before they
 * were random gave objects made one after another distinct homes), and in
 * a small, busy set (GCBench's "stack", a client's few holds) each
 * collision is a probe loop whose end the branch predictor cannot guess:
 * at 3/4 from 16 entries GCBench took 17% longer than at 1/4 from 64, for
 * at most 16 KiB a set. A set shrinks when half of what the next smaller
 * size would grow at is used, so it never grows and shrinks on one hold. */
static uint32_t grow_at(uint32_t cap)
{
	return cap <= HOLDS_SPARSE_CAP ? cap / 4 : cap / 4 * 3;
}
_Static_assert(sizeof(struct root_entry) == 32, "docs/daemon.md says a root entry is 32 bytes");
_Static_assert(HEAP_ROOT_NAME_MAX <= UINT16_MAX, "root_entry.len is 16 bits");

static int table_alloc(struct hold **tab, uint32_t cap)
{
	*tab = calloc(cap, sizeof **tab);
	return *tab ? 0 : HEAP_ENOMEM;
}

heap_holds *heap_holds_new(heap *h)
{
	heap_holds *hs = calloc(1, sizeof *hs);
	if (!hs || table_alloc(&hs->tab, HOLDS_SET_CAP)) {
		free(hs);
		return NULL;
	}
	hs->mask = HOLDS_SET_CAP - 1;
	hs->grow_at = grow_at(HOLDS_SET_CAP);
	hs->scanned = h->cycle;
	hs->ten = &h->ten[0];
	list_push_tail(&h->holdsets, &hs->link);
	return hs;
}

int heap_holds_set_tenant(heap *h, heap_holds *hs, unsigned tenant)
{
	if (tenant >= HEAP_TENANTS)
		return HEAP_EINVAL;
	hs->ten = &h->ten[tenant];
	return 0;
}

void heap_holds_free(heap *h, heap_holds *hs)
{
	if (!hs)
		return;
	if (h->root_cursor == &hs->link)
		h->root_cursor = hs->link.next;
	list_remove(&hs->link);
	free(hs->tab);
	free(hs);
}

uint64_t heap_holds_count(const heap_holds *hs)
{
	return hs->count;
}

static int rehash(heap *h, heap_holds *hs, uint32_t cap)
{
	struct hold *old = hs->tab, *tab;
	uint32_t oldcap = hs->mask + 1;
	if (table_alloc(&tab, cap))
		return HEAP_ENOMEM;
	for (uint32_t i = 0; i < oldcap; i++) {
		if (!old[i].ref)
			continue;
		uint32_t j = ref_home(old[i].ref, cap - 1);
		while (tab[j].ref)
			j = (j + 1) & (cap - 1);
		tab[j] = old[i];
		gc_shade(h, old[i].ref);
	}
	free(old);
	hs->tab = tab;
	hs->mask = cap - 1;
	hs->grow_at = grow_at(cap);
	if (h->phase == GC_MARK) {
		hs->scanned = h->cycle;
		hs->cursor = 0;
	}
	return 0;
}

/* The heap bytes of the live object r names (its span's elemsize: the
 * size class, or a large object's pages). r was checked by the caller. */
static uint32_t ref_bytes(const heap *h, heap_ref r)
{
	return h->spans[h->pagemap[ref_place(r) >> (PAGE_SHIFT - 3)] - 1].elemsize;
}

uint64_t heap_holds_bytes(const heap_holds *hs)
{
	return hs->bytes;
}

int holds_add(heap *h, heap_holds *hs, heap_ref r)
{
	if (hs != h->roots_hs && hs->count >= h->cfg.max_holds)
		return HEAP_ELIMIT;
	uint32_t i = ref_home(r, hs->mask);
	while (hs->tab[i].ref && hs->tab[i].ref != r)
		i = (i + 1) & hs->mask;
	if (!hs->tab[i].ref) {
		if (hs->used >= hs->grow_at) {
			int err = rehash(h, hs, (hs->mask + 1) * 2);
			if (err)
				return err;
			i = ref_home(r, hs->mask);
			while (hs->tab[i].ref)
				i = (i + 1) & hs->mask;
		}
		hs->tab[i].ref = r;
		hs->tab[i].bytes = ref_bytes(h, r);
		hs->bytes += hs->tab[i].bytes;
		hs->used++;
	}
	hs->tab[i].count++;
	hs->count++;
	gc_shade(h, r);
	return 0;
}

/* Removes slot i, shifting back the entries that probed past it. */
static void holds_delete(heap *h, heap_holds *hs, uint32_t i)
{
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & hs->mask;
		heap_ref r = hs->tab[j].ref;
		if (!r)
			break;
		uint32_t home = ref_home(r, hs->mask);
		/* r may move to i if i lies cyclically in [home, j). */
		if (((j - home) & hs->mask) >= ((j - i) & hs->mask)) {
			hs->tab[i] = hs->tab[j];
			gc_shade(h, r);
			i = j;
		}
	}
	hs->tab[i].ref = 0;
	hs->tab[i].count = 0;
	hs->used--;
	if (hs->mask + 1 > HOLDS_SET_CAP && hs->used * 2 < grow_at((hs->mask + 1) / 2))
		rehash(h, hs, (hs->mask + 1) / 2);  /* on failure the table just stays large */
}

int heap_hold(heap *h, heap_holds *hs, heap_ref ref)
{
	struct obj o;
	int err = obj_resolve(h, ref, &o);
	return err ? err : holds_add(h, hs, ref);
}

int heap_release(heap *h, heap_holds *hs, heap_ref ref)
{
	if (!ref)
		return HEAP_ENOENT;
	uint32_t i = ref_home(ref, hs->mask);
	while (hs->tab[i].ref != ref) {
		if (!hs->tab[i].ref)
			return HEAP_ENOENT;
		i = (i + 1) & hs->mask;
	}
	hs->count--;
	if (--hs->tab[i].count == 0) {
		hs->bytes -= hs->tab[i].bytes;
		holds_delete(h, hs, i);
	}
	return 0;
}

uint64_t holds_total(const heap *h)
{
	uint64_t n = 0;
	for (const struct list *l = h->holdsets.next; l != &h->holdsets; l = l->next)
		n += container_of(l, heap_holds, link)->count;
	return n - h->roots_hs->count;
}

int holds_scan_roots(heap *h, uint32_t budget)
{
	if (h->root_cursor == &h->holdsets)
		return 0;
	while (h->root_cursor != &h->holdsets) {
		heap_holds *hs = container_of(h->root_cursor, heap_holds, link);
		if (hs->scanned != h->cycle) {
			uint32_t cap = hs->mask + 1;
			while (hs->cursor < cap) {
				if (!budget--)
					return 1;
				heap_ref r = hs->tab[hs->cursor++].ref;
				if (r)
					mark_grey(h, &h->gcw, r);
				h->gcw.scan_work += sizeof(struct hold);
			}
			hs->scanned = h->cycle;
			hs->cursor = 0;
		}
		h->root_cursor = hs->link.next;
	}
	return 1;
}

/* --- named roots --- */

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIPROUND                                                       \
	do {                                                           \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                 \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                 \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
	} while (0)

/* SipHash-1-3 with the heap's random key: root names come from clients, so
 * their hash must not be predictable (hash flooding). Its low half: the
 * table's index takes no more. */
static uint32_t name_hash(const heap *h, const char *name, size_t len)
{
	uint64_t k0 = h->hash_key[0], k1 = h->hash_key[1];
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m;
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t k = 0; i + k < len; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

static struct root_entry *root_find(heap *h, const char *name, size_t len, uint32_t hash)
{
	uint32_t i = hash & h->rmask;
	while (h->rtab[i].name) {
		struct root_entry *e = &h->rtab[i];
		if (e->hash == hash && e->len == len && memcmp(e->name, name, len) == 0)
			return e;
		i = (i + 1) & h->rmask;
	}
	return &h->rtab[i];
}

static int roots_resize(heap *h, uint32_t cap)
{
	struct root_entry *tab = calloc(cap, sizeof *tab), *old = h->rtab;
	if (!tab)
		return HEAP_ENOMEM;
	for (uint32_t i = 0; i <= h->rmask; i++) {
		if (!old[i].name)
			continue;
		uint32_t j = old[i].hash & (cap - 1);
		while (tab[j].name)
			j = (j + 1) & (cap - 1);
		tab[j] = old[i];
	}
	free(old);
	h->rtab = tab;
	h->rmask = cap - 1;
	return 0;
}

static void root_delete(heap *h, struct root_entry *e)
{
	uint32_t i = (uint32_t)(e - h->rtab), j = i;
	save_name_dropped(h, e->name);
	for (;;) {
		j = (j + 1) & h->rmask;
		if (!h->rtab[j].name)
			break;
		uint32_t home = h->rtab[j].hash & h->rmask;
		if (((j - home) & h->rmask) >= ((j - i) & h->rmask)) {
			h->rtab[i] = h->rtab[j];
			i = j;
		}
	}
	memset(&h->rtab[i], 0, sizeof h->rtab[i]);
	h->nroots--;
	/* A million roots made and deleted must not keep their table. */
	if (h->rmask + 1 > HOLDS_MIN_CAP && h->nroots * 8 < h->rmask + 1)
		roots_resize(h, (h->rmask + 1) / 2);  /* on failure the table just stays large */
}

static int name_ok(const char *name, size_t len)
{
	return name && len >= 1 && len <= HEAP_ROOT_NAME_MAX;
}

int heap_root_set(heap *h, const char *name, size_t len, heap_ref ref, const struct heap_root_meta *meta)
{
	if (!name_ok(name, len))
		return HEAP_EINVAL;
	struct obj o;
	int err;
	if (ref && (err = obj_resolve(h, ref, &o)) != 0)
		return err;
	uint32_t hash = name_hash(h, name, len);
	struct root_entry *e = root_find(h, name, len, hash);
	if (e->name) {
		heap_ref old = e->ref;
		if (!ref) {
			root_delete(h, e);
		} else {
			if ((err = holds_add(h, h->roots_hs, ref)) != 0)
				return err;
			e->ref = ref;
		}
		heap_release(h, h->roots_hs, old);
		return 0;
	}
	if (!ref)
		return HEAP_ENOENT;
	if (h->nroots >= h->cfg.max_roots)
		return HEAP_ELIMIT;
	if ((h->nroots + 1) * 4 > (h->rmask + 1) * 3) {
		if ((err = roots_resize(h, (h->rmask + 1) * 2)) != 0)
			return err;
		e = root_find(h, name, len, hash);
	}
	char *copy = malloc(len);
	if (!copy || (err = holds_add(h, h->roots_hs, ref)) != 0) {
		free(copy);
		return copy ? err : HEAP_ENOMEM;
	}
	memcpy(copy, name, len);
	*e = (struct root_entry){.name = copy, .hash = hash, .len = (uint16_t)len, .ref = ref};
	if (meta) {
		e->uid = meta->uid;
		e->gid = meta->gid;
		e->mode = meta->mode;
	}
	h->nroots++;
	return 0;
}

/* The root named so, or NULL (*err says why). */
static struct root_entry *root_named(heap *h, const char *name, size_t len, int *err)
{
	if (!name_ok(name, len)) {
		*err = HEAP_EINVAL;
		return NULL;
	}
	struct root_entry *e = root_find(h, name, len, name_hash(h, name, len));
	*err = e->name ? 0 : HEAP_ENOENT;
	return e->name ? e : NULL;
}

static void meta_of(const struct root_entry *e, struct heap_root_meta *out)
{
	*out = (struct heap_root_meta){.uid = e->uid, .gid = e->gid, .mode = e->mode};
}

int heap_root_stat(heap *h, const char *name, size_t len, struct heap_root_meta *out)
{
	int err;
	struct root_entry *e = root_named(h, name, len, &err);
	if (e)
		meta_of(e, out);
	return err;
}

int heap_root_set_meta(heap *h, const char *name, size_t len, const struct heap_root_meta *meta)
{
	int err;
	struct root_entry *e = root_named(h, name, len, &err);
	if (e) {
		e->uid = meta->uid;
		e->gid = meta->gid;
		e->mode = meta->mode;
	}
	return err;
}

int heap_root_get(heap *h, const char *name, size_t len, heap_holds *hs, heap_ref *out)
{
	int err;
	struct root_entry *e = root_named(h, name, len, &err);
	if (!e)
		return err;
	if (hs && (err = holds_add(h, hs, e->ref)) != 0)
		return err;
	*out = e->ref;
	return 0;
}

void heap_root_names(heap *h, int (*fn)(void *arg, const char *name, size_t len, const struct heap_root_meta *meta),
		     void *arg)
{
	struct heap_root_meta m;
	for (uint32_t i = 0; i <= h->rmask; i++) {
		if (!h->rtab[i].name)
			continue;
		meta_of(&h->rtab[i], &m);
		if (fn(arg, h->rtab[i].name, h->rtab[i].len, &m))
			return;
	}
}

/* The scan's cursor is Redis's: a bucket index whose bits are counted
 * from the top (reversed, incremented, reversed back). A table that
 * doubles puts the roots of bucket b in b and b + cap; one that halves
 * puts b and b + cap / 2 in b; in both cases the reversed order has
 * visited all of them or none before the cursor, so no root that stays
 * is missed (a halving may give some twice). A root's home is
 * hash & rmask wherever linear probing put it, and it lies in the run of
 * full slots from its home, which the bucket step walks to its end. */
static uint64_t rev64(uint64_t v)
{
	v = (v >> 1 & 0x5555555555555555ULL) | (v & 0x5555555555555555ULL) << 1;
	v = (v >> 2 & 0x3333333333333333ULL) | (v & 0x3333333333333333ULL) << 2;
	v = (v >> 4 & 0x0f0f0f0f0f0f0f0fULL) | (v & 0x0f0f0f0f0f0f0f0fULL) << 4;
	return __builtin_bswap64(v);
}

uint32_t heap_root_scan_bucket(heap *h, uint64_t cursor,
			       void (*fn)(void *arg, const char *name, size_t len, const struct heap_root_meta *meta),
			       void *arg)
{
	uint32_t home = (uint32_t)(cursor & h->rmask), i = home, looked = 1;
	struct heap_root_meta m;
	for (; h->rtab[i].name; i = (i + 1) & h->rmask, looked++) {
		const struct root_entry *e = &h->rtab[i];
		if ((e->hash & h->rmask) != home)
			continue;
		meta_of(e, &m);
		fn(arg, e->name, e->len, &m);
	}
	return looked;
}

uint64_t heap_root_scan_next(const heap *h, uint64_t cursor)
{
	cursor |= ~(uint64_t)h->rmask;
	return rev64(rev64(cursor) + 1);
}

int holds_init(heap *h)
{
	list_init(&h->holdsets);
	h->root_cursor = &h->holdsets;
	h->hash_key[0] = os_random();
	h->hash_key[1] = os_random();
	h->rtab = calloc(HOLDS_MIN_CAP, sizeof *h->rtab);
	h->rmask = HOLDS_MIN_CAP - 1;
	h->roots_hs = h->rtab ? heap_holds_new(h) : NULL;
	return h->roots_hs ? 0 : HEAP_ENOMEM;
}

void holds_destroy(heap *h)
{
	while (!list_empty(&h->holdsets))
		heap_holds_free(h, container_of(h->holdsets.next, heap_holds, link));
	if (h->rtab) {
		for (uint32_t i = 0; i <= h->rmask; i++)
			free(h->rtab[i].name);
		free(h->rtab);
	}
}
