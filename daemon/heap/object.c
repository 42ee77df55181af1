/*
 * object.c - handles and object access.
 *
 * obj_resolve() (internal.h, inline: it runs on every call that takes a
 * handle) is the only way from a handle to memory. A handle passes
 * only if every step agrees: the place is inside the grown arena, its page
 * belongs to an object span, the place is the start of a slot of that span
 * (so a handle forged to point into the middle of an object, at bytes a
 * client wrote to look like a header, is refused), the slot holds a live
 * object, and the header's tag equals the handle's.
 *
 * "Live" depends on the span's sweep state: in a span swept this cycle, a
 * slot is allocated if it is below freeindex or its alloc bit is set; in a
 * span not yet swept, only marked objects are live. The second rule matters:
 * an unmarked object in an unswept span is garbage the sweeper is about to
 * free, and accepting its handle would let a client store it somewhere
 * reachable and then read freed memory.
 *
 * A read-only handle (handle.c) passes obj_resolve() with o.ro set: the
 * calls that change an object refuse it (HEAP_EPERM), and heap_get_ref()
 * through it gives the read-only handle of what the slot holds, so what
 * is reached from a read-only handle is read-only too.
 *
 * Invariant kept here: a reference slot of a live object holds 0 or the
 * handle of a live object. heap_set_ref() checks the value and shades it
 * while marking (Dijkstra's insertion barrier; see docs/design.md for why
 * not Yuasa's or Go's hybrid), so the collector never frees a referent
 * before its referrer.
 */
#include <string.h>

#include "internal.h"

int heap_object_size(heap *h, heap_ref ref, uint32_t *nrefs, uint32_t *nbytes)
{
	struct obj o;
	int err = obj_resolve(h, ref, &o);
	if (err)
		return err;
	*nrefs = o.nrefs;
	*nbytes = o.nbytes;
	return 0;
}

int heap_object_info(heap *h, heap_ref ref, struct heap_object_info *out)
{
	struct obj o;
	int err = obj_resolve(h, ref, &o);
	if (err)
		return err;
	*out = (struct heap_object_info){
		.nrefs = o.nrefs,
		.nbytes = o.nbytes,
		.size = o.s->elemsize,
		.age = obj_age(h, &o),
		.sealed = (hdr_load(o.p) & HDR_SEALED) != 0};
	return 0;
}

/* The checks of heap_set_ref and heap_cas_ref: obj and slot into *o, a
 * writable object, and val 0 or a live object. */
static int set_checks(heap *h, heap_ref obj, uint32_t slot, heap_ref val, struct obj *o)
{
	struct obj v;
	int err = obj_resolve_slot(h, obj, slot, o);
	if (err)
		return err;
	if ((err = obj_writable(o)) != 0)
		return err;
	return val ? obj_resolve(h, val, &v) : 0;
}

/* Stores val (checked) into slot of o: the insertion barrier first, then
 * the save's copy of o's contents at its start, then the store. */
static void set_store(heap *h, struct obj *o, uint32_t slot, heap_ref val)
{
	if (val)
		gc_shade(h, val);
	save_keep(h, o);
	slot_store(&obj_slots(o)[slot], val);
}

int heap_set_ref(heap *h, heap_ref obj, uint32_t slot, heap_ref val)
{
	struct obj o;
	int err = set_checks(h, obj, slot, val, &o);
	if (!err)
		set_store(h, &o, slot, val);
	return err;
}

int heap_cas_ref(heap *h, heap_ref obj, uint32_t slot, heap_ref expected, heap_ref val, heap_ref *was)
{
	struct obj o;
	int err = set_checks(h, obj, slot, val, &o);
	if (err)
		return err;
	*was = obj_slots(&o)[slot];
	if (*was != expected)
		return HEAP_ECONFLICT;
	set_store(h, &o, slot, val);
	return 0;
}

int heap_get_ref(heap *h, heap_ref obj, uint32_t slot, heap_holds *hs, heap_ref *out)
{
	struct obj o;
	int err = obj_resolve_slot(h, obj, slot, &o);
	if (err)
		return err;
	heap_ref v = obj_slots(&o)[slot];
	if (o.ro && v && (err = heap_ref_readonly(h, v, &v)) != 0)
		return err;
	if (hs && v && (err = holds_add(h, hs, v)) != 0)
		return err;
	*out = v;
	return 0;
}

/* The data of o, if [off, off + len) lies within it. */
static uint8_t *data_range(const struct obj *o, uint32_t off, uint32_t len)
{
	if ((uint64_t)off + len > o->nbytes)
		return NULL;
	return o->p + HDR_SIZE + (size_t)o->nrefs * sizeof(heap_ref) + off;
}

int heap_write(heap *h, heap_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	struct obj o;
	int err = obj_resolve(h, obj, &o);
	if (err)
		return err;
	if ((err = obj_writable(&o)) != 0)
		return err;
	uint8_t *d = data_range(&o, off, len);
	if (!d)
		return HEAP_ERANGE;
	if (len) {
		save_keep(h, &o);
		memcpy(d, buf, len);
	}
	return 0;
}

int heap_data(heap *h, heap_ref obj, uint32_t off, uint32_t len, const void **data)
{
	struct obj o;
	int err = obj_resolve(h, obj, &o);
	if (err)
		return err;
	const uint8_t *d = data_range(&o, off, len);
	if (!d)
		return HEAP_ERANGE;
	*data = d;
	return 0;
}

int heap_read(heap *h, heap_ref obj, uint32_t off, void *buf, uint32_t len)
{
	const void *d;
	int err = heap_data(h, obj, off, len, &d);
	if (!err && len)
		memcpy(buf, d, len);
	return err;
}

int heap_seal(heap *h, heap_ref obj)
{
	struct obj o;
	int err = obj_resolve(h, obj, &o);
	if (err)
		return err;
	if (o.ro)
		return HEAP_EPERM;
	hdr_seal(o.p);
	return 0;
}

int heap_view(heap *h, heap_ref obj, heap_holds *hs, uint64_t *off, uint32_t *len)
{
	struct obj o;
	int err = obj_resolve(h, obj, &o);
	if (err)
		return err;
	if (!(hdr_load(o.p) & HDR_SEALED))
		return HEAP_ENOTSEALED;
	if (hs && (err = holds_add(h, hs, obj)) != 0)
		return err;
	*off = (uint64_t)(data_range(&o, 0, 0) - h->base);
	*len = o.nbytes;
	return 0;
}

int heap_arena_fd(const heap *h)
{
	return h->arena_fd;
}

uint64_t heap_arena_size(const heap *h)
{
	return (uint64_t)h->grown << PAGE_SHIFT;
}

uint64_t heap_arena_reserved(const heap *h)
{
	return (uint64_t)h->arena_pages << PAGE_SHIFT;
}
