/*
 * arena.c - the reserved address space and its per-page tables.
 *
 * heap_new() reserves the arena once: twice max_heap (object spans may use
 * at most max_heap; the rest is headroom for workbufs, whose need is bounded
 * by the number of live objects) capped at 32 GiB, because a handle names
 * an object by its offset / 8 in 32 bits. The per-page tables (pagemap,
 * span descriptors, birth stamps, released bits) are reserved alongside,
 * for the whole arena, and committed in step with it.
 *
 * The arena is a memfd mapped shared (os.c), so that clients can map it
 * read-only; the tables are private anonymous memory.
 *
 * Invariant: pages [0, grown) and their table entries are committed, and
 * the memfd is grown pages long. New pages are marked released: a file's
 * new pages read as zero and cost no memory until touched; pages.c turns
 * them into a free run.
 */
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MAX_ARENA ((size_t)32 << 30)
#define OS_PAGE ((size_t)4096)

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static size_t table_bytes(size_t pages, size_t entry) { return round_up(pages * entry, OS_PAGE); }
static size_t bitmap_bytes(size_t pages) { return round_up((pages + 63) / 64 * 8, OS_PAGE); }

int arena_init(heap *h, size_t max_heap)
{
	size_t bytes = round_up(2 * max_heap + ((size_t)64 << 20), ARENA_CHUNK);
	if (bytes > MAX_ARENA)
		bytes = MAX_ARENA;
	h->arena_pages = bytes >> PAGE_SHIFT;
	/* Without a memfd (a seccomp filter without memfd_create) the heap
	 * works as well, in private memory; only views cannot be had. */
	if (!(h->base = os_reserve_shared(bytes, &h->arena_fd)))
		h->base = os_reserve(bytes);
	h->pagemap = os_reserve(table_bytes(h->arena_pages, sizeof(uint32_t)));
	h->spans = os_reserve(table_bytes(h->arena_pages, sizeof(struct span)));
	h->released = os_reserve(bitmap_bytes(h->arena_pages));
	h->births_tab = os_reserve(table_bytes(h->arena_pages, BIRTHS_PER_PAGE * sizeof(birth_t)));
	if (!h->base || !h->pagemap || !h->spans || !h->released || !h->births_tab) {
		arena_destroy(h);
		return -1;
	}
	return 0;
}

void arena_destroy(heap *h)
{
	if (h->base)
		os_unreserve(h->base, h->arena_pages << PAGE_SHIFT);
	if (h->arena_fd >= 0)
		close(h->arena_fd);
	if (h->pagemap)
		os_unreserve(h->pagemap, table_bytes(h->arena_pages, sizeof(uint32_t)));
	if (h->spans)
		os_unreserve(h->spans, table_bytes(h->arena_pages, sizeof(struct span)));
	if (h->released)
		os_unreserve(h->released, bitmap_bytes(h->arena_pages));
	if (h->births_tab)
		os_unreserve(h->births_tab, table_bytes(h->arena_pages, BIRTHS_PER_PAGE * sizeof(birth_t)));
}

/* Commits [from, to) of a table, given in committed-byte bounds. */
static int commit_range(void *table, size_t from, size_t to)
{
	return to > from ? os_commit((char *)table + from, to - from) : 0;
}

size_t arena_grow(heap *h, size_t want)
{
	size_t chunk = ARENA_CHUNK >> PAGE_SHIFT;
	size_t to = round_up(want > h->grown + chunk ? want : h->grown + chunk, chunk);
	if (to > h->arena_pages)
		to = h->arena_pages;
	if (to <= h->grown || to < want)
		return 0;
	size_t from = h->grown;
	if ((h->arena_fd >= 0 && ftruncate(h->arena_fd, (off_t)(to << PAGE_SHIFT)) != 0) ||
	    os_commit(page_addr(h, from), (to - from) << PAGE_SHIFT) != 0 ||
	    commit_range(h->pagemap, table_bytes(from, sizeof(uint32_t)), table_bytes(to, sizeof(uint32_t))) ||
	    commit_range(h->spans, table_bytes(from, sizeof(struct span)), table_bytes(to, sizeof(struct span))) ||
	    commit_range(h->released, bitmap_bytes(from), bitmap_bytes(to)) ||
	    commit_range(h->births_tab, table_bytes(from, BIRTHS_PER_PAGE * sizeof(birth_t)),
			 table_bytes(to, BIRTHS_PER_PAGE * sizeof(birth_t))))
		return 0;
	for (size_t p = from; p < to; p++)
		bit_set(h->released, (uint32_t)p);
	h->grown = to;
	return to - from;
}
