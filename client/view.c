/*
 * view.c - the arena mapped for zero-copy views (view.h states the
 * invariants and what is trusted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "view.h"

/* Whom the daemon grants zero-copy (docs/configuration.md). */
#define DENIED "zero-copy views are not granted to this connection: the daemon's zero_copy_uids and " \
	"zero_copy_gids name who may map its arena (never a read-only session)"

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
	if (code == HEAPD_EPERM)
		fail(m, code, "%s", DENIED);
	else
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
