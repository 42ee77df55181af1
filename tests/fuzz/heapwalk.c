/*
 * heapwalk.c - the dispatch target's end-of-input checks on the heap: no
 * reachable object lost, no unreachable object kept.
 *
 * After the requests, the graph reachable from the connections' holds
 * (the harness's model of them, itself checked against the heap's count)
 * and from the named roots is walked through the engine's API, as a
 * client would read it: every object's size, every slot, a hash of the
 * data. Every read must succeed: a reachable object is never stale. Then
 * a full collection runs and the walk is repeated on the recorded
 * objects: same sizes, same slots, same data. An incremental collector
 * that misses a write (the barrier) or frees early shows up here.
 * Finally, with every connection closed and every root deleted, one full
 * collection must leave no object, hold or root, and every ref returned
 * during the input must be rejected as stale.
 *
 * State lives in W for the duration of one input and is reset by
 * fz_walk_final.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzdispatch.h"

struct node {
	heap_ref ref;
	uint32_t nrefs, nbytes;
	uint64_t hash;  /* FNV-1a of the data */
	size_t slots;   /* its nrefs slots, from W.slots[slots] */
};

static struct {
	struct node *v;
	size_t n, cap;
	heap_ref *slots;
	size_t nslots, slots_cap;
	heap_ref *seen;     /* open addressing, 0 = empty; a power of 2 */
	size_t seen_cap, nseen;
	heap_ref *todo;
	size_t ntodo, todo_cap;
	uint8_t *buf;
	size_t buf_cap;
	heap *h;
} W;

heap_ref *fz_probe(heap_ref *t, size_t cap, heap_ref r)
{
	for (size_t j = (size_t)(r * 0x9e3779b97f4a7c15u >> 7);; j++) {
		heap_ref *e = &t[j & (cap - 1)];
		if (!*e || *e == r)
			return e;
	}
}

/* 1 if r was not seen before (and is now). */
static int see(heap_ref r)
{
	if (2 * (W.nseen + 1) > W.seen_cap) {
		size_t cap = W.seen_cap ? 2 * W.seen_cap : 256;
		heap_ref *t = calloc(cap, sizeof *t);
		if (!t)
			fz_broken("out of memory in the heap walk");
		for (size_t i = 0; i < W.seen_cap; i++)
			if (W.seen[i])
				*fz_probe(t, cap, W.seen[i]) = W.seen[i];
		free(W.seen);
		W.seen = t;
		W.seen_cap = cap;
	}
	heap_ref *e = fz_probe(W.seen, W.seen_cap, r);
	if (*e)
		return 0;
	*e = r;
	W.nseen++;
	return 1;
}

static void push(heap_ref r)
{
	W.todo = fz_grow(W.todo, &W.todo_cap, W.ntodo + 1, sizeof *W.todo);
	W.todo[W.ntodo++] = r;
}

static int root_name(void *arg, const char *name, size_t len, const struct heap_root_meta *meta)
{
	(void)arg, (void)meta;
	heap_ref r;
	int err = heap_root_get(W.h, name, len, NULL, &r);
	if (err)
		fz_broken("root \"%.*s\" is listed but does not read: %s", (int)len, name, heap_strerror(err));
	push(r);
	return 0;
}

static uint64_t data_hash(heap *h, heap_ref r, uint32_t nbytes)
{
	W.buf = fz_grow(W.buf, &W.buf_cap, nbytes ? nbytes : 1, 1);
	int err = heap_read(h, r, 0, W.buf, nbytes);
	if (err)
		fz_broken("reachable %#llx: its %u bytes do not read: %s", (unsigned long long)r, nbytes,
			  heap_strerror(err));
	uint64_t x = 0xcbf29ce484222325u;
	for (uint32_t i = 0; i < nbytes; i++)
		x = (x ^ W.buf[i]) * 0x100000001b3u;
	return x;
}

static heap_ref slot_of(heap *h, heap_ref r, uint32_t i)
{
	heap_ref v;
	int err = heap_get_ref(h, r, i, NULL, &v);
	if (err)
		fz_broken("reachable %#llx: slot %u does not read: %s", (unsigned long long)r, i, heap_strerror(err));
	return v;
}

void fz_walk_snapshot(heap *h)
{
	W.h = h;
	heap_root_names(h, root_name, NULL);
	fz_each_held(push);
	while (W.ntodo) {
		heap_ref r = W.todo[--W.ntodo];
		if (!see(r))
			continue;
		struct node nd = {.ref = r, .slots = W.nslots};
		int err = heap_object_size(h, r, &nd.nrefs, &nd.nbytes);
		if (err)
			fz_broken("reachable %#llx is gone: %s", (unsigned long long)r, heap_strerror(err));
		nd.hash = data_hash(h, r, nd.nbytes);
		W.slots = fz_grow(W.slots, &W.slots_cap, W.nslots + nd.nrefs, sizeof *W.slots);
		for (uint32_t i = 0; i < nd.nrefs; i++) {
			heap_ref v = slot_of(h, r, i);
			W.slots[W.nslots++] = v;
			if (v)
				push(v);
		}
		W.v = fz_grow(W.v, &W.cap, W.n + 1, sizeof *W.v);
		W.v[W.n++] = nd;
	}
}

void fz_walk_verify(heap *h)
{
	for (size_t k = 0; k < W.n; k++) {
		const struct node *nd = &W.v[k];
		uint32_t nrefs, nbytes;
		int err = heap_object_size(h, nd->ref, &nrefs, &nbytes);
		if (err)
			fz_broken("reachable %#llx lost by a full collection: %s", (unsigned long long)nd->ref,
				  heap_strerror(err));
		if (nrefs != nd->nrefs || nbytes != nd->nbytes)
			fz_broken("reachable %#llx changed size in a collection", (unsigned long long)nd->ref);
		if (data_hash(h, nd->ref, nbytes) != nd->hash)
			fz_broken("reachable %#llx changed data in a collection", (unsigned long long)nd->ref);
		for (uint32_t i = 0; i < nrefs; i++)
			if (slot_of(h, nd->ref, i) != W.slots[nd->slots + i])
				fz_broken("reachable %#llx: slot %u changed in a collection", (unsigned long long)nd->ref, i);
	}
}

struct names {
	char **v;
	size_t *len;
	size_t n, cap, len_cap;
};

static int add_name(void *arg, const char *name, size_t len, const struct heap_root_meta *meta)
{
	(void)meta;
	struct names *nm = arg;
	nm->v = fz_grow(nm->v, &nm->cap, nm->n + 1, sizeof *nm->v);
	nm->len = fz_grow(nm->len, &nm->len_cap, nm->n + 1, sizeof *nm->len);
	nm->v[nm->n] = malloc(len ? len : 1);
	if (!nm->v[nm->n])
		fz_broken("out of memory in the heap walk");
	memcpy(nm->v[nm->n], name, len);
	nm->len[nm->n++] = len;
	return 0;
}

static void stale(heap *h, heap_ref r)
{
	uint32_t nrefs, nbytes;
	int err = heap_object_size(h, r, &nrefs, &nbytes);
	if (err != HEAP_EBADREF)
		fz_broken("%#llx outlived every root and hold: %s", (unsigned long long)r, heap_strerror(err));
}

void fz_walk_final(heap *h)
{
	struct names nm = {0};
	heap_root_names(h, add_name, &nm);
	for (size_t i = 0; i < nm.n; i++) {
		int err = heap_root_set(h, nm.v[i], nm.len[i], 0, NULL);
		if (err)
			fz_broken("root \"%.*s\" does not delete: %s", (int)nm.len[i], nm.v[i], heap_strerror(err));
		free(nm.v[i]);
	}
	free(nm.v);
	free(nm.len);
	heap_gc(h);
	struct heap_stats st;
	heap_read_stats(h, &st);
	if (st.heap_objects || st.holds || st.named_roots)
		fz_broken("nothing is reachable, yet a full collection leaves %llu objects, %llu holds, %llu roots",
			  (unsigned long long)st.heap_objects, (unsigned long long)st.holds, (unsigned long long)st.named_roots);
	for (size_t k = 0; k < W.n; k++)
		stale(h, W.v[k].ref);
	size_t n;
	const heap_ref *refs = fz_returned(&n);
	for (size_t k = 0; k < n; k++)
		stale(h, refs[k]);
	free(W.v);
	free(W.slots);
	free(W.seen);
	free(W.todo);
	free(W.buf);
	memset(&W, 0, sizeof W);
}
