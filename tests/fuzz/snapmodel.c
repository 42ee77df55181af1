/*
 * snapmodel.c - the snapshot target's reference: the engine's stream
 * parsed as heap.h and docs/persistence.md describe it, without the
 * engine, and a loaded heap compared with it.
 *
 * sm_parse() accepts the streams the format allows and no other: the four
 * counts; each object's slot and byte counts (32 bits each) and its data,
 * adding up to the counts; each slot a null or a number of an object (a
 * read-only null is no value); each root a name of 1 to 255 bytes that no
 * other root has, a 32-bit uid and gid, a 16-bit mode and an object;
 * nothing after. It allocates no more than the stream's length warrants:
 * a valid stream has at most len / 2 objects, len / 6 roots, len slots.
 *
 * sm_check() walks the loaded heap through the engine's public API, from
 * the named roots, binding each object number to the place of the handle
 * that reaches it (its low 32 bits, which an object's full and read-only
 * handles share): one number, one place, and the other way round. A
 * read-only handle gives read-only handles to what it reaches, so each
 * object is read through the best handle found for it, a full one when
 * any path gives one, and is read again when a better one turns up (so at
 * most twice). Every object reached must have its stream's sizes, data
 * and slots (null, or the handle of the right number, read-only exactly
 * when the stream or the way there says so); every root its meta, its
 * right and its object. heap_objects must be the stream's count, and
 * after heap_gc() the count of the objects reached (nothing holds the
 * others), each of which must then read the same again.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzsnap.h"

static void *alloc_zero(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		snapfz_broken("out of memory");
	return p;
}

/* ---- parsing ---- */

struct cur {
	const uint8_t *p, *end;
};

/* An unsigned LEB128 number: 0, or -1 when the stream ends inside it or
 * it does not fit 64 bits. */
static int varint(struct cur *c, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; c->p < c->end; shift += 7) {
		uint8_t b = *c->p++;
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int number(struct cur *c, uint64_t max, uint64_t *v)
{
	return varint(c, v) || *v > max ? -1 : 0;
}

static int refuse(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

void sm_counts(const uint8_t *s, size_t len, uint64_t out[4])
{
	struct cur c = {s, s + len};
	int ok = 1;
	for (int i = 0; i < 4; i++)
		if (!(ok = ok && varint(&c, &out[i]) == 0))
			out[i] = 0;
}

static int parse_objects(struct sm_model *m, struct cur *c, unsigned format, char *why, size_t cap)
{
	uint64_t slots = 0, bytes = 0;
	for (uint64_t i = 1; i <= m->n; i++) {
		uint64_t nrefs, nbytes, sealed = 0;
		if (number(c, format == 1 ? UINT32_MAX : (uint64_t)UINT32_MAX << 1 | 1, &nrefs) ||
		    number(c, UINT32_MAX, &nbytes))
			return refuse(why, cap, "object %llu: its sizes", (unsigned long long)i);
		if (format != 1) {
			sealed = nrefs & 1;
			nrefs >>= 1;
		}
		if (nbytes > (uint64_t)(c->end - c->p))
			return refuse(why, cap, "object %llu: its data ends past the stream", (unsigned long long)i);
		m->obj[i] = (struct sm_obj){(uint32_t)nrefs, (uint32_t)nbytes, sealed != 0, c->p, slots};
		c->p += nbytes;
		if ((slots += nrefs) > m->nslots || (bytes += nbytes) > m->nbytes)
			return refuse(why, cap, "object %llu: past the counts", (unsigned long long)i);
		uint64_t size = 8 + 8 * nrefs + nbytes;
		m->total += size;
		if (size > m->biggest)
			m->biggest = size;
	}
	if (slots != m->nslots || bytes != m->nbytes)
		return refuse(why, cap, "the objects do not add up to the counts");
	return 0;
}

static int parse_slots(struct sm_model *m, struct cur *c, char *why, size_t cap)
{
	for (uint64_t i = 1; i <= m->n; i++) {
		const struct sm_obj *o = &m->obj[i];
		for (uint32_t k = 0; k < o->nrefs; k++) {
			uint64_t v;
			if (varint(c, &v) || v >> 1 > m->n || v == 1)
				return refuse(why, cap, "object %llu, slot %u", (unsigned long long)i, k);
			m->slots[o->slot0 + k] = v;
		}
	}
	return 0;
}

static int parse_roots(struct sm_model *m, struct cur *c, char *why, size_t cap)
{
	for (uint64_t j = 0; j < m->nroots; j++) {
		uint64_t len, uid, gid, mode, v;
		if (number(c, HEAP_ROOT_NAME_MAX, &len) || !len || len > (uint64_t)(c->end - c->p))
			return refuse(why, cap, "root %llu: its name", (unsigned long long)j);
		const uint8_t *name = c->p;
		c->p += len;
		if (number(c, UINT32_MAX, &uid) || number(c, UINT32_MAX, &gid) || number(c, UINT16_MAX, &mode) ||
		    varint(c, &v) || !(v >> 1) || v >> 1 > m->n)
			return refuse(why, cap, "root %llu: its meta or object", (unsigned long long)j);
		m->roots[j] = (struct sm_root){name, (uint32_t)len, (uint32_t)uid, (uint32_t)gid, (uint16_t)mode, v};
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct sm_root *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->name, y->name, x->len);
}

static int distinct_names(const struct sm_model *m, char *why, size_t cap)
{
	struct sm_root *r = alloc_zero(m->nroots, sizeof *r);
	memcpy(r, m->roots, m->nroots * sizeof *r);
	qsort(r, m->nroots, sizeof *r, by_name);
	int dup = 0;
	for (uint64_t j = 1; j < m->nroots && !dup; j++)
		dup = by_name(&r[j - 1], &r[j]) == 0;
	free(r);
	return dup ? refuse(why, cap, "two roots of one name") : 0;
}

int sm_parse(struct sm_model *m, const uint8_t *s, size_t len, unsigned format, char *why, size_t cap)
{
	memset(m, 0, sizeof *m);
	if (format != 1 && format != HEAP_SAVE_FORMAT)
		return refuse(why, cap, "format %u", format);
	struct cur c = {s, s + len};
	if (varint(&c, &m->n) || varint(&c, &m->nroots) || varint(&c, &m->nslots) || varint(&c, &m->nbytes))
		return refuse(why, cap, "the counts");
	if (m->n > len / 2 || m->nroots > len / 6 || m->nslots > len || m->nbytes > len)
		return refuse(why, cap, "counts more than %zu bytes can hold", len);
	m->obj = alloc_zero(m->n + 1, sizeof *m->obj);
	m->slots = alloc_zero(m->nslots, sizeof *m->slots);
	m->roots = alloc_zero(m->nroots, sizeof *m->roots);
	if (parse_objects(m, &c, format, why, cap) || parse_slots(m, &c, why, cap) || parse_roots(m, &c, why, cap))
		return -1;
	if (c.p != c.end)
		return refuse(why, cap, "bytes after the roots");
	return distinct_names(m, why, cap);
}

void sm_free(struct sm_model *m)
{
	free(m->obj);
	free(m->slots);
	free(m->roots);
	memset(m, 0, sizeof *m);
}

/* ---- checking a loaded heap ---- */

struct walk {
	heap *h;
	const struct sm_model *m;
	heap_ref *best;     /* [1..n]: the best handle found; 0: not reached */
	uint64_t *keys;     /* place + 1 by open addressing, 0 empty ... */
	uint64_t *nums;     /* ... and the number bound to it */
	size_t mask;
	uint64_t *todo;     /* numbers to read, at most 2 n */
	size_t ntodo;
	uint64_t reached;
};

static size_t place_at(const struct walk *w, uint32_t place)
{
	size_t i = (size_t)(place * 0x9e3779b97f4a7c15u >> 17);
	while (w->keys[i & w->mask] && w->keys[i & w->mask] != place + 1ull)
		i++;
	return i & w->mask;
}

enum bound { BOUND_OK, BOUND_TAKEN, BOUND_MOVED };

/* Binds number num to ref's place, queueing it when first reached or
 * reached with a full handle after a read-only one. */
static enum bound bind(struct walk *w, uint64_t num, heap_ref ref)
{
	uint32_t place = (uint32_t)ref;
	if (!w->best[num]) {
		size_t i = place_at(w, place);
		if (w->keys[i])
			return BOUND_TAKEN;
		w->keys[i] = place + 1ull;
		w->nums[i] = num;
		w->best[num] = ref;
		w->todo[w->ntodo++] = num;
		w->reached++;
		return BOUND_OK;
	}
	if ((uint32_t)w->best[num] != place)
		return BOUND_MOVED;
	if (heap_ref_is_readonly(w->h, w->best[num]) && !heap_ref_is_readonly(w->h, ref)) {
		w->best[num] = ref;
		w->todo[w->ntodo++] = num;
	}
	return BOUND_OK;
}

static void bind_or_break(struct walk *w, uint64_t num, heap_ref ref, const char *what, uint64_t a, uint32_t b)
{
	enum bound r = bind(w, num, ref);
	if (r == BOUND_TAKEN)
		snapfz_broken("%s %llu/%u: object %llu is where another object is", what, (unsigned long long)a, b,
		       (unsigned long long)num);
	if (r == BOUND_MOVED)
		snapfz_broken("%s %llu/%u: object %llu is at two places", what, (unsigned long long)a, b,
		       (unsigned long long)num);
}

static void check_slot(struct walk *w, uint64_t num, heap_ref ref, bool ro, uint32_t k, uint64_t v)
{
	heap_ref s;
	int err = heap_get_ref(w->h, ref, k, NULL, &s);
	if (err)
		snapfz_broken("object %llu, slot %u: %s", (unsigned long long)num, k, heap_strerror(err));
	if (!v != !s)
		snapfz_broken("object %llu, slot %u: %s, where the stream has %s", (unsigned long long)num, k,
		       s ? "a handle" : "null", v ? "an object" : "null");
	if (!v)
		return;
	if (heap_ref_is_readonly(w->h, s) != (ro || (v & 1)))
		snapfz_broken("object %llu, slot %u: the handle's right is not the stream's (through a %s handle)",
		       (unsigned long long)num, k, ro ? "read-only" : "full");
	bind_or_break(w, v >> 1, s, "object/slot", num, k);
}

static void visit(struct walk *w, uint64_t num)
{
	const struct sm_obj *o = &w->m->obj[num];
	heap_ref ref = w->best[num];
	uint32_t nrefs, nbytes;
	int err = heap_object_size(w->h, ref, &nrefs, &nbytes);
	if (err)
		snapfz_broken("object %llu: %s", (unsigned long long)num, heap_strerror(err));
	if (nrefs != o->nrefs || nbytes != o->nbytes)
		snapfz_broken("object %llu: %u slots and %u bytes, where the stream has %u and %u", (unsigned long long)num,
		       nrefs, nbytes, o->nrefs, o->nbytes);
	const void *d;
	if (nbytes && (heap_data(w->h, ref, 0, nbytes, &d) || memcmp(d, o->data, nbytes)))
		snapfz_broken("object %llu: its data is not the stream's", (unsigned long long)num);
	struct heap_object_info oi;
	if (heap_object_info(w->h, ref, &oi) || oi.sealed != o->sealed)
		snapfz_broken("object %llu: %ssealed, where the stream has it %ssealed", (unsigned long long)num,
			      oi.sealed ? "" : "not ", o->sealed ? "" : "not ");
	bool ro = heap_ref_is_readonly(w->h, ref);
	for (uint32_t k = 0; k < nrefs; k++)
		check_slot(w, num, ref, ro, k, w->m->slots[o->slot0 + k]);
}

static int count_root(void *arg, const char *name, size_t len, const struct heap_root_meta *meta)
{
	(void)name;
	(void)len;
	(void)meta;
	++*(uint64_t *)arg;
	return 0;
}

static void walk_roots(struct walk *w)
{
	uint64_t named = 0;
	heap_root_names(w->h, count_root, &named);
	if (named != w->m->nroots)
		snapfz_broken("heap_root_names lists %llu roots, the stream has %llu", (unsigned long long)named,
		       (unsigned long long)w->m->nroots);
	for (uint64_t j = 0; j < w->m->nroots; j++) {
		const struct sm_root *r = &w->m->roots[j];
		heap_ref ref;
		struct heap_root_meta meta;
		if (heap_root_get(w->h, (const char *)r->name, r->len, NULL, &ref) ||
		    heap_root_stat(w->h, (const char *)r->name, r->len, &meta))
			snapfz_broken("root %llu is missing", (unsigned long long)j);
		if (meta.uid != r->uid || meta.gid != r->gid || meta.mode != r->mode)
			snapfz_broken("root %llu: uid %u gid %u mode %o, where the stream has %u %u %o", (unsigned long long)j,
			       meta.uid, meta.gid, meta.mode, r->uid, r->gid, r->mode);
		if (heap_ref_is_readonly(w->h, ref) != (r->value & 1))
			snapfz_broken("root %llu: the handle's right is not the stream's", (unsigned long long)j);
		if (heap_object_size(w->h, ref, &(uint32_t){0}, &(uint32_t){0}))
			snapfz_broken("root %llu: its object is not live", (unsigned long long)j);
		bind_or_break(w, r->value >> 1, ref, "root", j, 0);
	}
}

void sm_check(heap *h, const struct sm_model *m)
{
	struct heap_stats st;
	heap_read_stats(h, &st);
	if (st.heap_objects != m->n || st.named_roots != m->nroots)
		snapfz_broken("%llu objects and %llu roots loaded, the stream has %llu and %llu",
		       (unsigned long long)st.heap_objects, (unsigned long long)st.named_roots,
		       (unsigned long long)m->n, (unsigned long long)m->nroots);
	struct walk w = {.h = h, .m = m};
	for (w.mask = 15; w.mask < 2 * m->n; w.mask = 2 * w.mask + 1)
		;
	w.best = alloc_zero(m->n + 1, sizeof *w.best);
	w.keys = alloc_zero(w.mask + 1, sizeof *w.keys);
	w.nums = alloc_zero(w.mask + 1, sizeof *w.nums);
	w.todo = alloc_zero(2 * m->n, sizeof *w.todo);
	walk_roots(&w);
	while (w.ntodo)
		visit(&w, w.todo[--w.ntodo]);
	heap_gc(h);
	heap_read_stats(h, &st);
	if (st.heap_objects != w.reached)
		snapfz_broken("after a full collection %llu objects live, where %llu are reachable",
		       (unsigned long long)st.heap_objects, (unsigned long long)w.reached);
	for (uint64_t num = 1; num <= m->n; num++)
		if (w.best[num])
			visit(&w, num);
	free(w.best);
	free(w.keys);
	free(w.nums);
	free(w.todo);
}
