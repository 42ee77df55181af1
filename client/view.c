/*
 * view.c - the arena mapped for zero-copy views, and the views counted
 * (view.h states the invariants and what is trusted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "view.h"

void vmap_init(struct vmap *m)
{
	memset(m, 0, sizeof *m);
	m->fd = -1;
}

void vmap_free(struct vmap *m)
{
	if (m->base)
		munmap(m->base, m->reserve);
	if (m->fd >= 0)
		close(m->fd);
	free(m->views);
	vmap_init(m);
}

void vmap_keep_fd(struct vmap *m, int fd)
{
	if (m->fd < 0)
		m->fd = fd;
	else
		close(fd);
}

static int fail(struct vmap *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct vmap *m, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof m->error, fmt, ap);
	va_end(ap);
	m->status = code;
	return code;
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* The first reply: address space for all the arena may become, at base. */
static int reserve(struct vmap *m, uint64_t reserved)
{
	if (m->fd < 0)
		return fail(m, HEAPD_EPROTO, "map_arena reply without the arena's descriptor");
	int seals = fcntl(m->fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return fail(m, HEAPD_EPROTO, "the arena's descriptor is not sealed against shrinking");
	size_t page = page_size();
	if (reserved > SIZE_MAX - page)
		return fail(m, HEAPD_ENOBUFS, "the arena's %llu bytes exceed the address space",
			    (unsigned long long)reserved);
	size_t len = ((size_t)reserved + page - 1) & ~(page - 1);
	void *p = len ? mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : NULL;
	if (p == MAP_FAILED)
		return fail(m, HEAPD_ENOBUFS, "cannot reserve %zu bytes of address space for the arena: %s", len,
			    strerror(errno));
	m->base = p;
	m->reserve = len;
	m->reserved = reserved;
	return 0;
}

/* Maps the file up to size (<= reserved), past what is mapped. */
static int map_to(struct vmap *m, uint64_t size)
{
	if (size <= m->mapped)
		return 0;
	struct stat st;
	if (fstat(m->fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size < size)
		return fail(m, HEAPD_EPROTO, "the arena's file is shorter than the %llu bytes the daemon says",
			    (unsigned long long)size);
	size_t page = page_size();
	size_t end = ((size_t)size + page - 1) & ~(page - 1);  /* <= reserve: size <= reserved */
	if (mmap(m->base + m->mapped, end - m->mapped, PROT_READ, MAP_SHARED | MAP_FIXED, m->fd,
		 (off_t)m->mapped) == MAP_FAILED)
		return fail(m, HEAPD_ENOBUFS, "cannot map %zu bytes of the arena: %s", end - m->mapped, strerror(errno));
	m->mapped = end;
	return 0;
}

int vmap_arena(struct vmap *m, const Heapd__ViewReply *v)
{
	if (m->ready) {
		if (v->arena_reserved != m->reserved)
			return fail(m, HEAPD_EPROTO, "arena_reserved changed from %llu to %llu",
				    (unsigned long long)m->reserved, (unsigned long long)v->arena_reserved);
		return map_to(m, v->arena_size);
	}
	int err = reserve(m, v->arena_reserved);
	if (!err)
		err = map_to(m, v->arena_size);
	if (err) {
		if (m->base)
			munmap(m->base, m->reserve);
		m->base = NULL;
		m->reserve = m->mapped = 0;
		return err;
	}
	m->ready = 1;
	m->status = 0;
	return 0;
}

void vmap_refused(struct vmap *m, int code, const char *message)
{
	fail(m, code, "map_arena: %s", message);
}

int vmap_view(struct vmap *m, const Heapd__ViewReply *v, const void **data)
{
	if (!m->ready)
		return m->status ? m->status : fail(m, HEAPD_EPROTO, "a view before the arena was mapped");
	int err = vmap_arena(m, v);
	if (err)
		return err;
	*data = m->base + v->offset;
	return 0;
}

/* ---- the views counted ---- */

#define VIEWS_KEEP 1024u  /* a larger table is freed once empty */

/* Where ref's probe starts in a table of cap slots: Fibonacci hashing,
 * whose high bits depend on every bit of the ref. */
static size_t home(uint64_t ref, size_t cap)
{
	return (size_t)((ref * 0x9e3779b97f4a7c15u) >> 32) & (cap - 1);
}

/* The slot of ref in v (cap slots, one empty at least): ref's, or the
 * empty one that ends its probe. */
static size_t slot_of(const struct vcount *v, size_t cap, uint64_t ref)
{
	size_t i = home(ref, cap);
	while (v[i].n && v[i].ref != ref)
		i = (i + 1) & (cap - 1);
	return i;
}

uint64_t vmap_views(const struct vmap *m, uint64_t ref)
{
	return m->cap ? m->views[slot_of(m->views, m->cap, ref)].n : 0;
}

static int views_grow(struct vmap *m)
{
	size_t cap = m->cap ? 2 * m->cap : 16;
	struct vcount *v = calloc(cap, sizeof *v);
	if (!v)
		return HEAPD_ENOBUFS;
	for (size_t i = 0; i < m->cap; i++)
		if (m->views[i].n)
			v[slot_of(v, cap, m->views[i].ref)] = m->views[i];
	free(m->views);
	m->views = v;
	m->cap = cap;
	return 0;
}

uint64_t vmap_view_len(const struct vmap *m, uint64_t ref)
{
	const struct vcount *e = m->cap ? &m->views[slot_of(m->views, m->cap, ref)] : NULL;
	return e && e->n ? e->len : 0;
}

int vmap_viewed(struct vmap *m, uint64_t ref, uint64_t len)
{
	struct vcount *e = m->cap ? &m->views[slot_of(m->views, m->cap, ref)] : NULL;
	if (e && e->n) {
		e->n++;
		return 0;
	}
	if (2 * (m->nviews + 1) > m->cap) {
		if (views_grow(m) != 0)
			return HEAPD_ENOBUFS;
		e = &m->views[slot_of(m->views, m->cap, ref)];
	}
	*e = (struct vcount){.ref = ref, .n = 1, .len = len};
	m->nviews++;
	return 0;
}

void vmap_unviewed(struct vmap *m, uint64_t ref)
{
	if (!m->cap)
		return;
	size_t mask = m->cap - 1, i = slot_of(m->views, m->cap, ref);
	if (!m->views[i].n || --m->views[i].n)
		return;
	if (--m->nviews == 0 && m->cap > VIEWS_KEEP) {
		free(m->views);
		m->views = NULL;
		m->cap = 0;
		return;
	}
	/* Slot i is empty now: each later entry of its run whose probe
	 * passes i moves back into the hole, which moves to where it was. */
	for (size_t j = (i + 1) & mask; m->views[j].n; j = (j + 1) & mask) {
		if (((j - home(m->views[j].ref, m->cap)) & mask) >= ((j - i) & mask)) {
			m->views[i] = m->views[j];
			m->views[j].n = 0;
			i = j;
		}
	}
}
