/*
 * save.c - snapshots taken while the heap goes on changing (heap_save_*).
 *
 * A save writes the graph as it was when it began: snapshot at the
 * beginning, with no fork (Dragonfly's forkless save does the same for a
 * hash table, with a version per entry; here a graph). Its phases, each in
 * slices of heap_save_step():
 *   SAVE_WAIT     a collection is marking: the save waits for it to end;
 *   SAVE_ROOTSCAN marks in seen[] and queues the objects of the roots in
 *                 the copy of the root table taken at the start;
 *   SAVE_TRACE    marks in seen[] every object they reach, tracing
 *                 contents at the start;
 *   SAVE_RANK     counts seen bits per block of 512 places (rank[]);
 *   SAVE_PROLOGUE the counts;
 *   SAVE_OBJECTS  every seen object in place order: sizes and data;
 *   SAVE_SLOTS    their slots, as object numbers;
 *   SAVE_ROOTS    the roots copied at the start.
 *
 * Invariants:
 *  - No cycle starts while a save runs (gc_hold), and tracing starts with
 *    none marking. So no object of the snapshot is freed before the save
 *    ends: the sweeper frees only what the last mark termination found
 *    unreachable, which nothing has reached since. Places are stable, and
 *    a place is an object's name for the whole save.
 *  - Contents at the start: before the mutator changes an object
 *    (save_keep: heap_write, heap_set_ref, the slot of heap_alloc_into)
 *    that existed at the start and that the save may still read, its slots
 *    and bytes are copied, once (copied[], ctab); the save reads the copy
 *    from then on. While tracing, whether an object is in the snapshot is
 *    not known yet, so any that existed is copied.
 *  - "Existed at the start" needs no bit per allocation, as the
 *    allocation fast path must not pay for saves: every allocation comes
 *    from a span a tenant has cached, or a new one. Caching a span notes
 *    the save's epoch and the span's freeindex then (save_span_cached),
 *    new spans note freeindex 0, and the spans cached when the save begins
 *    are noted then. A slot of a span noted in this save's epoch was
 *    allocated before it began if it is below the noted freeindex or its
 *    alloc bit is set (alloc bits change only when the span is swept,
 *    which keeps the bits of live objects); a span not noted in this
 *    epoch has not been allocated from since.
 *  - Object numbers are 1 + the rank of the place among seen bits, so
 *    place order is number order and no map from place to number exists.
 *
 * The walk (walk_start, walk_push, walk_trace, the copies) is also a
 * count's (retained.c): one object for its roots, nothing emitted. One
 * walk at a time; a save begun while a count walks is queued
 * (save_queued) and begins once the count ends.
 *
 * The root table is copied whole at the start (one memcpy: the only
 * pause, 32 bytes per slot); its names stay the heap's, and a root deleted
 * during the save keeps its name until the save ends (save_name_dropped).
 *
 * Memory: seen[] and copied[] (a bit per 8 bytes of arena each) and the
 * trace stack (4 bytes per object queued) in one reservation, unmapped in
 * steps by idle work after the save (unmapping tens of MiB at once took
 * 2-4 ms); rank[], the root table's copy and the copies.
 */
#include <string.h>

#include "internal.h"

#define PLACE_SHIFT (PAGE_SHIFT - 3)   /* places per page: 2^10 */
#define RANK_SHIFT 9u                 /* places per rank[] block: 512 */
#define LOOK 64u                      /* objects between looks at the clock */
#define ROOM_HEAD 32u                 /* bytes an object's sizes may take, and more */
#define ROOM_ROOT (HEAP_ROOT_NAME_MAX + 64u)
#define RELEASE_STEP ((size_t)2 << 20)  /* unmapped per look at the clock */

struct save_copy {
	uint32_t place, nrefs, nbytes;
	heap_ref slots[];  /* then the bytes */
};

/* An object's contents as the save reads them. */
struct view {
	uint32_t nrefs, nbytes;
	bool sealed;
	const heap_ref *slots;
	const uint8_t *data;
};

static struct save_copy *copy_find(const struct save_state *sv, uint32_t place)
{
	uint32_t i = ref_home(place, sv->cmask);
	while (sv->ctab[i]->place != place)
		i = (i + 1) & sv->cmask;
	return sv->ctab[i];
}

static void view_of(const heap *h, uint32_t place, struct view *v)
{
	const struct save_state *sv = &h->save;
	const uint8_t *p = h->base + ((size_t)place << 3);
	uint64_t hdr = hdr_load(p);
	/* A seal changes no contents, so it is never copied: the live
	 * header's, as of the emission. */
	if (bit_test(sv->copied, place)) {
		const struct save_copy *c = copy_find(sv, place);
		*v = (struct view){c->nrefs, c->nbytes, (hdr & HDR_SEALED) != 0, c->slots,
				   (const uint8_t *)(c->slots + c->nrefs)};
		return;
	}
	const struct span *s = span_of_page(h, place >> PLACE_SHIFT);
	v->sealed = (hdr & HDR_SEALED) != 0;
	int small = spc_sizeclass(s->spanclass) != 0;
	v->nrefs = small ? hdr_nrefs(hdr) : s->u.obj.nrefs;
	v->nbytes = small ? hdr_nbytes(hdr) : s->u.obj.nbytes;
	v->slots = (const heap_ref *)(p + HDR_SIZE);
	v->data = (const uint8_t *)(v->slots + v->nrefs);
}

/* Marks place seen and queues it, the stack's room doubled within its
 * reservation (mem) as needed. */
int walk_push(struct save_state *sv, uint32_t place)
{
	if (bit_test(sv->seen, place))
		return 0;
	bit_set(sv->seen, place);
	if (sv->sp == sv->scap) {
		size_t cap = sv->scap * 2, most = (sv->mem_len - (size_t)((uint8_t *)sv->stack - sv->mem)) / 4;
		if (cap > most)
			cap = most;
		if (cap <= sv->scap || os_commit(sv->stack + sv->scap, (cap - sv->scap) * sizeof *sv->stack))
			return HEAP_ENOMEM;
		sv->scap = cap;
	}
	sv->stack[sv->sp++] = place;
	return 0;
}

static void save_free(struct save_state *sv)
{
	for (uint32_t i = 0; sv->ctab && i <= sv->cmask; i++)
		free(sv->ctab[i]);
	free(sv->ctab);
	free(sv->rank);
	free(sv->roots);
	for (size_t i = 0; i < sv->ndropped; i++)
		free(sv->dropped[i]);
	free(sv->dropped);
	uint32_t epoch = sv->epoch;
	uint8_t *dead = sv->dead;
	size_t dead_len = sv->dead_len;
	if (sv->mem) {
		if (dead)  /* the last save's is not released yet: at once */
			os_unreserve(dead, dead_len);
		dead = sv->mem;
		dead_len = sv->mem_len;
	}
	*sv = (struct save_state){.epoch = epoch, .dead = dead, .dead_len = dead_len};
}

bool save_release_step(heap *h, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	while (sv->dead_len) {
		size_t n = sv->dead_len < RELEASE_STEP ? sv->dead_len : RELEASE_STEP;
		sv->dead_len -= n;
		os_unreserve(sv->dead + sv->dead_len, n);
		if (os_now_ns() >= deadline)
			break;
	}
	if (!sv->dead_len)
		sv->dead = NULL;
	return sv->dead_len != 0;
}

void save_destroy(heap *h)
{
	save_cancel(h);
	if (h->save.dead)
		os_unreserve(h->save.dead, h->save.dead_len);
	h->save.dead = NULL;
	h->save.dead_len = 0;
}

void save_cancel(heap *h)
{
	h->save.save_queued = false;
	if (h->save.phase == SAVE_NONE)
		return;
	save_free(&h->save);
	h->saving = false;
	gc_unhold(h);
}

/* The word of the handle r stands for a read-only one. */
static int ref_is_ro(const heap *h, heap_ref r)
{
	return ref_tag(r) != hdr_tag(*(const uint64_t *)(h->base + ((size_t)ref_place(r) << 3)));
}

void save_name_dropped(heap *h, char *name)
{
	struct save_state *sv = &h->save;
	if (!sv->roots) {
		free(name);
		return;
	}
	if (sv->ndropped == sv->dropped_cap) {
		size_t cap = sv->dropped_cap ? 2 * sv->dropped_cap : 64;
		char **d = realloc(sv->dropped, cap * sizeof *d);
		if (!d) {
			/* The save cannot go on, so it reads no name again. */
			sv->failed = HEAP_ENOMEM;
			h->saving = false;
			free(name);
			return;
		}
		sv->dropped = d;
		sv->dropped_cap = cap;
	}
	sv->dropped[sv->ndropped++] = name;
}

/* Marks and queues the objects of the copied roots from slot sv->cursor
 * on: 0 when all are, 1 at the deadline or out of memory. */
static int scan_roots(heap *h, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	for (; sv->cursor < sv->nslots; sv->cursor++) {
		const struct root_entry *e = &sv->roots[sv->cursor];
		if (!e->name)
			continue;
		if ((sv->failed = walk_push(sv, ref_place(e->ref))) != 0)
			return 1;
		if (sv->cursor % 1024 == 1023 && os_now_ns() >= deadline) {
			sv->cursor++;
			return 1;
		}
	}
	return 0;
}

int walk_start(heap *h)
{
	struct save_state *sv = &h->save;
	sv->epoch++;
	sv->nplaces = (uint32_t)(h->grown << PLACE_SHIFT);
	size_t words = ((size_t)sv->nplaces + 511) / 512 * 8;  /* whole rank[] blocks */
	/* One reservation: the two bitmaps, then the stack, which may hold
	 * every object (at most one per 16 bytes: 4 bytes per 2 places);
	 * freed in steps by idle work once the save ends (save_release_step),
	 * as unmapping tens of MiB at once would be a pause. */
	size_t bits = (words * sizeof(uint64_t) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	size_t stack = ((size_t)sv->nplaces * 2 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	/* At least a page of stack, committed below: a heap that never grew
	 * has no places, and is saved all the same. */
	sv->mem_len = 2 * bits + (stack ? stack : PAGE_SIZE);
	if (!(sv->mem = os_reserve(sv->mem_len)))
		return HEAP_ENOMEM;
	sv->seen = (uint64_t *)sv->mem;
	sv->copied = (uint64_t *)(sv->mem + bits);
	sv->stack = (uint32_t *)(sv->mem + 2 * bits);
	sv->scap = PAGE_SIZE / sizeof *sv->stack;
	if (os_commit(sv->mem, 2 * bits + PAGE_SIZE))
		return HEAP_ENOMEM;
	sv->cmask = 63;
	if (!(sv->ctab = calloc(sv->cmask + 1, sizeof *sv->ctab)))
		return HEAP_ENOMEM;
	for (unsigned t = tenant_next(h, 0); t < HEAP_TENANTS; t = tenant_next(h, t + 1))
		for (unsigned spc = 0; spc < NUM_SPANCLASSES; spc++)
			if (h->ten[t].cache[spc] != &h->empty_span)
				save_span_cached(h, h->ten[t].cache[spc]);
	h->saving = true;
	return 0;
}

static int save_start(heap *h)
{
	struct save_state *sv = &h->save;
	int err = walk_start(h);
	if (err)
		return err;
	sv->nslots = h->rmask + 1;
	sv->nroots = h->nroots;
	if (!(sv->roots = malloc(sv->nslots * sizeof *sv->roots)))
		return HEAP_ENOMEM;
	memcpy(sv->roots, h->rtab, sv->nslots * sizeof *sv->roots);
	sv->phase = SAVE_ROOTSCAN;
	return 0;
}

int heap_save_begin(heap *h)
{
	struct save_state *sv = &h->save;
	if (sv->phase != SAVE_NONE && sv->kind == WALK_RETAINED) {
		sv->save_queued = true;  /* begins once the count ends */
		return 1;
	}
	if (sv->phase == SAVE_NONE) {
		sv->save_queued = false;
		gc_hold(h);
		sv->phase = SAVE_WAIT;
		sv->kind = WALK_SAVE;
	} else if (sv->phase != SAVE_WAIT) {
		return HEAP_EINVAL;
	}
	if (h->phase != GC_OFF)
		return 1;
	int err = save_start(h);
	if (err)
		save_cancel(h);
	return err;
}

/* Whether the save has done with o's contents, or never needs them. */
static int keep_needless(const heap *h, const struct obj *o, uint32_t place)
{
	const struct save_state *sv = &h->save;
	if (place >= sv->nplaces || bit_test(sv->copied, place))
		return 1;
	if (sv->phase >= SAVE_RANK && !bit_test(sv->seen, place))
		return 1;  /* traced, and not in the snapshot */
	if ((sv->phase == SAVE_OBJECTS && place < sv->cursor && !o->nrefs) ||
	    (sv->phase == SAVE_SLOTS && (place < sv->cursor || !o->nrefs)) || sv->phase >= SAVE_ROOTS)
		return 1;
	const struct span *s = o->s;
	if (s->u.obj.save_epoch != sv->epoch)
		return 0;  /* not allocated from since the start */
	uint32_t idx = 0;
	if (spc_sizeclass(s->spanclass))
		idx = (uint32_t)(((size_t)(o->p - span_base(h, s)) * s->divmul) >> 32);
	return idx >= s->u.obj.save_fi && !bit_test(s->allocbits, idx);  /* new since */
}

static int copy_insert(struct save_state *sv, struct save_copy *c)
{
	if ((sv->ncopies + 1) * 2 > sv->cmask + 1) {
		uint32_t mask = sv->cmask * 2 + 1;
		struct save_copy **tab = calloc((size_t)mask + 1, sizeof *tab);
		if (!tab)
			return HEAP_ENOMEM;
		for (uint32_t i = 0; i <= sv->cmask; i++) {
			if (!sv->ctab[i])
				continue;
			uint32_t j = ref_home(sv->ctab[i]->place, mask);
			while (tab[j])
				j = (j + 1) & mask;
			tab[j] = sv->ctab[i];
		}
		free(sv->ctab);
		sv->ctab = tab;
		sv->cmask = mask;
	}
	uint32_t i = ref_home(c->place, sv->cmask);
	while (sv->ctab[i])
		i = (i + 1) & sv->cmask;
	sv->ctab[i] = c;
	sv->ncopies++;
	return 0;
}

void save_keep_slow(heap *h, const struct obj *o)
{
	struct save_state *sv = &h->save;
	uint32_t place = (uint32_t)((size_t)(o->p - h->base) >> 3);
	if (keep_needless(h, o, place))  /* h->saving: the save has started */
		return;
	size_t body = (size_t)o->nrefs * sizeof(heap_ref) + o->nbytes;
	struct save_copy *c = malloc(sizeof *c + body);
	if (c) {
		*c = (struct save_copy){.place = place, .nrefs = o->nrefs, .nbytes = o->nbytes};
		memcpy(c->slots, o->p + HDR_SIZE, body);
	}
	if (!c || copy_insert(sv, c)) {
		free(c);
		sv->failed = HEAP_ENOMEM;  /* the change goes ahead; the save cannot */
		h->saving = false;
		return;
	}
	bit_set(sv->copied, place);
	sv->copy_bytes += sizeof *c + body;
}

/* What the object at place takes in the heap: its size class, or its
 * large object's span. */
static uint64_t place_size(const heap *h, uint32_t place)
{
	const struct span *s = span_of_page(h, place >> PLACE_SHIFT);
	return spc_sizeclass(s->spanclass) ? s->elemsize : (uint64_t)s->npages << PAGE_SHIFT;
}

int walk_trace(heap *h, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	unsigned n = 0;
	while (sv->sp) {
		struct view v;
		uint32_t place = sv->stack[--sv->sp];
		view_of(h, place, &v);
		sv->objects++;
		sv->slots += v.nrefs;
		sv->bytes += v.nbytes;
		sv->heap_bytes += place_size(h, place);
		for (uint32_t k = 0; k < v.nrefs; k++)
			if (v.slots[k] && (sv->failed = walk_push(sv, ref_place(v.slots[k]))) != 0)
				return 1;
		if (++n % LOOK == 0 && os_now_ns() >= deadline)
			return 1;
	}
	return 0;
}

/* Seen places in block b of rank[]. */
static uint32_t block_count(const struct save_state *sv, uint32_t b)
{
	uint32_t n = 0;
	for (size_t w = (size_t)b << (RANK_SHIFT - 6); w < ((size_t)b + 1) << (RANK_SHIFT - 6); w++)
		n += (uint32_t)__builtin_popcountll(sv->seen[w]);
	return n;
}

/* rank[] from block sv->cursor on, until done (0) or the deadline (1). */
static int rank_blocks(heap *h, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	uint32_t nblocks = (sv->nplaces + (1u << RANK_SHIFT) - 1) >> RANK_SHIFT;
	if (!sv->rank && !(sv->rank = malloc(((size_t)nblocks + 1) * sizeof *sv->rank))) {
		sv->failed = HEAP_ENOMEM;
		return 1;
	}
	for (uint32_t b = sv->cursor; b < nblocks; b++) {
		sv->rank[b] = b ? sv->rank[b - 1] + block_count(sv, b - 1) : 0;
		sv->cursor = b + 1;
		if (b % 4096 == 4095 && os_now_ns() >= deadline)
			return 1;
	}
	return 0;
}

/* The number of the object at place: 1 + seen places before it. */
static uint32_t number_of(const struct save_state *sv, uint32_t place)
{
	if (!bit_test(sv->seen, place))
		heap_throw("save: a slot's object is not in the snapshot");
	uint32_t n = sv->rank[place >> RANK_SHIFT] + 1;
	size_t w = (size_t)(place >> RANK_SHIFT) * 8;
	for (; w < place >> 6; w++)
		n += (uint32_t)__builtin_popcountll(sv->seen[w]);
	return n + (uint32_t)__builtin_popcountll(sv->seen[w] & (((uint64_t)1 << (place & 63)) - 1));
}

/* The first seen place at or after from; nplaces if none. */
static uint32_t next_seen(const struct save_state *sv, uint32_t from)
{
	if (from >= sv->nplaces)
		return sv->nplaces;
	size_t w = from >> 6;
	uint64_t bits = sv->seen[w] & (~(uint64_t)0 << (from & 63));
	size_t words = ((size_t)sv->nplaces + 63) / 64;
	while (!bits) {
		if (++w >= words)
			return sv->nplaces;
		bits = sv->seen[w];
	}
	uint64_t p = (uint64_t)w * 64 + (unsigned)__builtin_ctzll(bits);
	return p < sv->nplaces ? (uint32_t)p : sv->nplaces;
}

struct out {
	uint8_t *p, *end;
};

static void put(struct out *o, uint64_t v)
{
	while (v >= 0x80) {
		*o->p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o->p++ = (uint8_t)v;
}

static size_t room(const struct out *o) { return (size_t)(o->end - o->p); }

/* Emits objects from sv->cursor on: 0 when all are out, 1 when o is
 * full or the deadline passed. */
static int emit_objects(heap *h, struct out *o, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	unsigned n = 0;
	for (;;) {
		if (!sv->head) {
			if ((sv->cursor = next_seen(sv, sv->cursor)) >= sv->nplaces)
				return 0;
			if (room(o) < ROOM_HEAD)
				return 1;
		}
		struct view v;
		view_of(h, sv->cursor, &v);
		if (!sv->head) {
			put(o, (uint64_t)v.nrefs << 1 | v.sealed);
			put(o, v.nbytes);
			sv->head = 1;
			sv->part = 0;
		}
		size_t k = v.nbytes - sv->part;
		if (k > room(o))
			k = room(o);
		memcpy(o->p, v.data + sv->part, k);
		o->p += k;
		sv->part += (uint32_t)k;
		if (sv->part < v.nbytes)
			return 1;
		sv->head = 0;
		sv->cursor++;
		if (++n % LOOK == 0 && os_now_ns() >= deadline)
			return 1;
	}
}

/* Emits slots from sv->cursor on, as emit_objects. */
static int emit_slots(heap *h, struct out *o, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	unsigned n = 0;
	for (;; sv->cursor++, sv->part = 0) {
		if ((sv->cursor = next_seen(sv, sv->cursor)) >= sv->nplaces)
			return 0;
		struct view v;
		view_of(h, sv->cursor, &v);
		for (; sv->part < v.nrefs; sv->part++) {
			if (room(o) < 10)
				return 1;
			heap_ref r = v.slots[sv->part];
			put(o, r ? (uint64_t)number_of(sv, ref_place(r)) << 1 | (uint64_t)ref_is_ro(h, r) : 0);
		}
		if (++n % LOOK == 0 && os_now_ns() >= deadline) {
			sv->cursor++;
			sv->part = 0;
			return 1;
		}
	}
}

static int emit_roots(heap *h, struct out *o)
{
	struct save_state *sv = &h->save;
	for (; sv->cursor < sv->nslots; sv->cursor++) {
		const struct root_entry *r = &sv->roots[sv->cursor];
		if (!r->name)
			continue;
		if (room(o) < ROOM_ROOT)
			return 1;
		put(o, r->len);
		memcpy(o->p, r->name, r->len);
		o->p += r->len;
		put(o, r->uid);
		put(o, r->gid);
		put(o, r->mode);
		put(o, (uint64_t)number_of(sv, ref_place(r->ref)) << 1 | (uint64_t)ref_is_ro(h, r->ref));
	}
	return 0;
}

/* Runs the current phase: 0 when it is done, 1 when out of room or time. */
static int save_phase(heap *h, struct out *o, uint64_t deadline)
{
	struct save_state *sv = &h->save;
	switch (sv->phase) {
	case SAVE_ROOTSCAN:
		return scan_roots(h, deadline);
	case SAVE_TRACE:
		return walk_trace(h, deadline);
	case SAVE_RANK:
		return rank_blocks(h, deadline);
	case SAVE_PROLOGUE:
		put(o, sv->objects);
		put(o, sv->nroots);
		put(o, sv->slots);
		put(o, sv->bytes);
		return 0;
	case SAVE_OBJECTS:
		return emit_objects(h, o, deadline);
	case SAVE_SLOTS:
		return emit_slots(h, o, deadline);
	case SAVE_ROOTS:
		return emit_roots(h, o);
	default:
		return 1;
	}
}

int heap_save_step(heap *h, uint64_t budget_ns, uint8_t *buf, size_t cap, size_t *len)
{
	struct save_state *sv = &h->save;
	*len = 0;
	if (sv->save_queued && sv->phase != SAVE_NONE)
		return 1;  /* a count walks: the save begins after it */
	if (sv->phase == SAVE_NONE && !sv->save_queued)
		return HEAP_ENOENT;
	if (sv->phase == SAVE_NONE || sv->phase == SAVE_WAIT) {
		int err = heap_save_begin(h);
		if (err)
			return err < 0 ? err : 1;
	}
	uint64_t deadline = os_now_ns() + budget_ns;
	struct out o = {buf, buf + cap};
	while (!sv->failed && sv->phase != SAVE_END && save_phase(h, &o, deadline) == 0) {
		sv->phase++;
		sv->cursor = 0;
		sv->part = 0;
		sv->head = 0;
		if (os_now_ns() >= deadline)
			break;
	}
	*len = (size_t)(o.p - buf);
	if (sv->failed)
		return sv->failed;
	return sv->phase != SAVE_END;
}

void heap_save_info(const heap *h, struct heap_save_info *out)
{
	const struct save_state *sv = &h->save;
	*out = (struct heap_save_info){.objects = sv->objects, .slots = sv->slots, .bytes = sv->bytes,
				       .roots = sv->nroots, .copy_bytes = sv->copy_bytes,
				       .traced = sv->phase > SAVE_TRACE};
}

void heap_save_end(heap *h)
{
	if (h->save.kind == WALK_SAVE)
		save_cancel(h);
	h->save.save_queued = false;
}

bool heap_saving(const heap *h)
{
	return (h->save.phase != SAVE_NONE && h->save.kind == WALK_SAVE) || h->save.save_queued;
}
