/*
 * load.c - rebuilding a saved graph (heap_load), trusting nothing.
 *
 * The stream (heap.h) comes through a cursor over the host's chunks. Every
 * count is checked against what the rest of the stream could hold, so a
 * forged count cannot make the loader allocate more than the file's size
 * warrants; every object's sizes go through heap_alloc(), which refuses
 * what max_object and max_heap do not allow; every object number is
 * checked against the count; and the sums of sizes against the prologue.
 *
 * No cycle starts while loading (gc_hold): the objects are unreachable
 * until the roots are set, last. Objects are charged to the heap's
 * current tenant, and are new: their age (age.c) starts at 0. Sealed
 * objects are sealed once their slots are set.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct rd {
	heap_load_next_fn *next;
	void *arg;
	const uint8_t *p, *end;
	uint64_t left;     /* stream bytes not yet read, at most */
	char *msg;
	size_t cap;
	unsigned format;   /* 1 or HEAP_SAVE_FORMAT */
	uint64_t n;        /* objects */
	heap_ref *refs;    /* by number, 1..n */
	uint64_t *with_slots;  /* bit per number */
	uint64_t *sealed;      /* bit per number */
};

static int fail(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct rd *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, r->cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* Bytes in the current chunk, fetching the next when it is used up: 0,
 * or -1 at the end of the stream or on the host's error (msg empty). */
static int fill(struct rd *r)
{
	if (r->p < r->end)
		return 0;
	const uint8_t *c;
	long n = r->next(r->arg, &c);
	if (n < 0) {
		if (r->cap)
			r->msg[0] = '\0';
		return -1;
	}
	if (n == 0)
		return fail(r, "the stream ends early");
	r->p = c;
	r->end = c + n;
	return 0;
}

static int get(struct rd *r, uint64_t *v, const char *what)
{
	uint64_t x = 0;
	for (unsigned shift = 0;; shift += 7) {
		if (fill(r))
			return -1;
		uint8_t b = *r->p++;
		r->left = r->left ? r->left - 1 : 0;
		if (shift == 63 && b > 1)
			return fail(r, "%s: a number longer than 64 bits", what);
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*v = x;
	return 0;
}

/* A number of at most max. */
static int get_max(struct rd *r, uint64_t *v, uint64_t max, const char *what)
{
	if (get(r, v, what))
		return -1;
	if (*v > max)
		return fail(r, "%s: %llu is more than %llu", what, (unsigned long long)*v, (unsigned long long)max);
	return 0;
}

static int get_bytes(struct rd *r, uint8_t *dst, size_t n)
{
	while (n) {
		if (fill(r))
			return -1;
		size_t k = (size_t)(r->end - r->p) < n ? (size_t)(r->end - r->p) : n;
		memcpy(dst, r->p, k);
		r->p += k;
		dst += k;
		n -= k;
		r->left = r->left > k ? r->left - k : 0;
	}
	return 0;
}

static int load_objects(heap *h, struct rd *r, uint64_t slots, uint64_t bytes)
{
	uint64_t nslots = 0, nbytes = 0;
	for (uint64_t i = 1; i <= r->n; i++) {
		uint64_t nrefs, size, sealed = 0;
		if (get_max(r, &nrefs, r->format == 1 ? UINT32_MAX : (uint64_t)UINT32_MAX << 1 | 1, "an object's slots") ||
		    get_max(r, &size, UINT32_MAX, "an object's bytes"))
			return -1;
		if (r->format != 1) {
			sealed = nrefs & 1;
			nrefs >>= 1;
		}
		if ((nslots += nrefs) > slots || (nbytes += size) > bytes)
			return fail(r, "object %llu: more slots or bytes than the counts say (%llu, %llu)",
				    (unsigned long long)i, (unsigned long long)slots, (unsigned long long)bytes);
		if (size > r->left)
			return fail(r, "object %llu: %llu bytes, more than the stream has left", (unsigned long long)i,
				    (unsigned long long)size);
		int err = heap_alloc(h, NULL, (uint32_t)nrefs, (uint32_t)size, &r->refs[i]);
		if (err)
			return fail(r, "object %llu (%llu slots, %llu bytes): %s", (unsigned long long)i,
				    (unsigned long long)nrefs, (unsigned long long)size, heap_strerror(err));
		struct obj o;
		obj_resolve(h, r->refs[i], &o);  /* just made */
		if (get_bytes(r, o.p + HDR_SIZE + (size_t)nrefs * sizeof(heap_ref), (size_t)size))
			return -1;
		if (nrefs)
			bit_set(r->with_slots, (uint32_t)i);
		if (sealed)
			bit_set(r->sealed, (uint32_t)i);
	}
	if (nslots != slots || nbytes != bytes)
		return fail(r, "the objects have %llu slots and %llu bytes, the counts say %llu and %llu",
			    (unsigned long long)nslots, (unsigned long long)nbytes, (unsigned long long)slots,
			    (unsigned long long)bytes);
	return 0;
}

/* The handle a saved value stands for: 0 with *out set, else -1. */
static int value(heap *h, struct rd *r, uint64_t v, int nullable, heap_ref *out, const char *what)
{
	uint64_t num = v >> 1;
	if (num > r->n || (!num && (v & 1 || !nullable)))
		return fail(r, "%s: object number %llu%s, of %llu", what, (unsigned long long)num,
			    v & 1 ? " read-only" : "", (unsigned long long)r->n);
	*out = num ? r->refs[num] : 0;
	if (v & 1)
		heap_ref_readonly(h, *out, out);  /* a live object's handle */
	return 0;
}

static int load_slots(heap *h, struct rd *r)
{
	char what[64];
	for (uint64_t i = 1; i <= r->n; i++) {
		if (!bit_test(r->with_slots, (uint32_t)i))
			continue;
		struct obj o;
		obj_resolve(h, r->refs[i], &o);
		heap_ref *slots = obj_slots(&o);
		for (uint32_t k = 0; k < o.nrefs; k++) {
			uint64_t v;
			snprintf(what, sizeof what, "object %llu, slot %u", (unsigned long long)i, k);
			if (get(r, &v, what) || value(h, r, v, 1, &slots[k], what))
				return -1;
		}
	}
	for (uint64_t i = 1; i <= r->n; i++)
		if (bit_test(r->sealed, (uint32_t)i))
			heap_seal(h, r->refs[i]);
	return 0;
}

static int load_roots(heap *h, struct rd *r, uint64_t nroots)
{
	char what[32], name[HEAP_ROOT_NAME_MAX];
	for (uint64_t j = 0; j < nroots; j++) {
		uint64_t len, uid, gid, mode, v;
		struct heap_root_meta m;
		heap_ref ref;
		snprintf(what, sizeof what, "root %llu", (unsigned long long)j);
		if (get_max(r, &len, HEAP_ROOT_NAME_MAX, what))
			return -1;
		if (!len)
			return fail(r, "%s: an empty name", what);
		if (get_bytes(r, (uint8_t *)name, (size_t)len) || get_max(r, &uid, UINT32_MAX, what) ||
		    get_max(r, &gid, UINT32_MAX, what) || get_max(r, &mode, UINT16_MAX, what) || get(r, &v, what) ||
		    value(h, r, v, 0, &ref, what))
			return -1;
		if (heap_root_stat(h, name, (size_t)len, &m) == 0)
			return fail(r, "%s: its name is another root's", what);
		m = (struct heap_root_meta){.uid = (uint32_t)uid, .gid = (uint32_t)gid, .mode = (uint16_t)mode};
		int err = heap_root_set(h, name, (size_t)len, ref, &m);
		if (err == HEAP_ELIMIT)
			return fail(r, "%s: more roots than max_roots (%u)", what, h->cfg.max_roots);
		if (err)
			return fail(r, "%s: %s", what, heap_strerror(err));
	}
	return 0;
}

static int load(heap *h, struct rd *r)
{
	uint64_t nroots, slots, bytes;
	if (get(r, &r->n, "the object count") || get(r, &nroots, "the root count") || get(r, &slots, "the slot count") ||
	    get(r, &bytes, "the byte count"))
		return -1;
	/* An object takes 2 bytes of stream at least, a slot 1, a root 6. */
	if (r->n > r->left / 2 || r->n >= UINT32_MAX || nroots > r->left / 6 || slots > r->left || bytes > r->left)
		return fail(r, "counts (%llu objects, %llu roots, %llu slots, %llu bytes) more than %llu bytes can hold",
			    (unsigned long long)r->n, (unsigned long long)nroots, (unsigned long long)slots,
			    (unsigned long long)bytes, (unsigned long long)r->left);
	r->refs = calloc(r->n + 1, sizeof *r->refs);
	r->with_slots = calloc(r->n / 64 + 1, sizeof *r->with_slots);
	r->sealed = calloc(r->n / 64 + 1, sizeof *r->sealed);
	if (!r->refs || !r->with_slots || !r->sealed)
		return fail(r, "out of memory for %llu objects", (unsigned long long)r->n);
	if (load_objects(h, r, slots, bytes) || load_slots(h, r) || load_roots(h, r, nroots))
		return -1;
	const uint8_t *c;
	long more = r->p < r->end ? 1 : r->next(r->arg, &c);
	if (more < 0) {
		if (r->cap)
			r->msg[0] = '\0';
		return -1;
	}
	return more ? fail(r, "bytes after the end of the stream") : 0;
}

int heap_load(heap *h, heap_load_next_fn *next, void *arg, uint64_t avail, unsigned format, char *msg, size_t cap)
{
	struct rd r = {.next = next, .arg = arg, .left = avail, .msg = msg, .cap = cap, .format = format};
	if (h->nroots || h->pages_obj)
		return fail(&r, "the heap is not new");
	if (format != 1 && format != HEAP_SAVE_FORMAT)
		return fail(&r, "stream format %u: this heapd reads 1 and %u", format, HEAP_SAVE_FORMAT);
	gc_hold(h);
	int err = load(h, &r);
	gc_unhold(h);
	free(r.refs);
	free(r.with_slots);
	free(r.sealed);
	return err;
}
