/*
 * view.h - the daemon's arena mapped into the client, for zero-copy views
 * (heapd_view; docs/protocol.md, Zero-copy). Prefix vmap_.
 *
 * Internal to the library. One struct vmap per connection, in its struct
 * core, which both cores share; it does no socket I/O: core.c hands it
 * the descriptor a reply brought (vmap_keep_fd), and the replies of
 * map_arena and view (vmap_arena, vmap_refused, vmap_view).
 *
 * The mapping. The arena is a file (a memfd) of arena_size bytes that
 * only grows, up to arena_reserved. The first map_arena reply reserves
 * arena_reserved bytes of address space at base (PROT_NONE, no memory),
 * and maps the file's [0, arena_size) over its start, read-only and
 * shared (MAP_FIXED); a later reply with a larger arena_size maps only
 * what lies past what is mapped. A view's bytes are base + offset.
 *
 * Trust. A daemon that lies must not make the client read outside its
 * mapping, nor fault in it: a view's bytes lie within arena_size, which
 * lies within the reservation (wire.c checked the first, this file the
 * second); the file is sealed against shrinking (F_SEAL_SHRINK, which the
 * daemon sets and this file checks once), and fstat says it is at least
 * arena_size long before more is mapped, so no mapped page can lie past
 * its end (SIGBUS). A lie is HEAPD_EPROTO, which closes the connection.
 *
 * Views counted. The connection's views at the daemon, by ref (an exact
 * match: a full and a read-only ref of one object are apart, as in the
 * daemon's view set), are counted here as the replies say they come and
 * go, so that heapd_view_release can refuse a view this connection does
 * not have without asking, and send the rest without waiting for their
 * replies: a small open-addressing table (linear probing, deletion by
 * backward shift), grown as needed, freed once empty if it grew large.
 *
 * Invariants: fd is the first descriptor the connection received, or -1;
 * ready once a map_arena reply was mapped, then base != NULL, [0, mapped)
 * of the file is mapped at base (a multiple of the page size, at most
 * reserve), and stays so until vmap_free; map_due while the library's
 * map_arena is sent or queued and its reply not yet taken (core_submit
 * queues one before a view when neither ready nor map_due); status is the
 * last map_arena's failure while not ready (0: none yet); views holds
 * nviews refs with a count above 0, each found by probing from its hash
 * without crossing an empty slot, and at most half its cap slots are used.
 */
#ifndef HEAPD_VIEW_H
#define HEAPD_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "heapd.h"
#include "heapd.pb-c.h"

/* A slot of the view counts: empty when n is 0. */
struct vcount {
	uint64_t ref;
	uint64_t n;             /* views of ref this connection has */
	uint64_t len;           /* the bytes each shows (the object's nbytes) */
};

struct vmap {
	int fd;                 /* the arena's descriptor (read-only), or -1 */
	int ready;              /* mapped: views may be taken */
	int map_due;            /* a map_arena's reply is due */
	uint8_t *base;          /* reserve bytes of address space */
	size_t reserve;
	size_t mapped;          /* [0, mapped) of the file is mapped at base */
	uint64_t reserved;      /* arena_reserved, as the first reply said */
	int status;             /* the last map_arena's failure, or a mapping's */
	char error[256];        /* its message, and that of the last failure here */
	struct vcount *views;   /* nviews refs with views, in cap slots (0 or a power of 2) */
	size_t nviews, cap;
};

void vmap_init(struct vmap *m);
/* Unmaps, closes the descriptor, and forgets the views counted. */
void vmap_free(struct vmap *m);
/* A descriptor received on the connection: the first is kept, any other
 * closed. */
void vmap_keep_fd(struct vmap *m, int fd);

/* An OK map_arena reply (checked: arena_size <= arena_reserved): maps the
 * arena, or what it grew by. Returns 0; HEAPD_EPROTO when the daemon lied
 * (no descriptor, not sealed, shorter than it says, another
 * arena_reserved); or HEAPD_ENOBUFS when the address space or the mapping
 * could not be had; error says why. */
int vmap_arena(struct vmap *m, const Heapd__ViewReply *v);
/* map_arena was answered with code (a HEAPD_E* error) and message: a
 * view the daemon answers OK after it takes that failure. (The daemon
 * refuses the views of a session it refused the map, with a message of
 * their own naming zero_copy_uids and zero_copy_gids.) */
void vmap_refused(struct vmap *m, int code, const char *message);
/* An OK view reply (checked: offset + length <= arena_size <=
 * arena_reserved): *data is where its bytes are mapped, the mapping grown
 * first if the arena has. Returns 0; the map_arena's failure when the
 * arena is not mapped; HEAPD_EPROTO (a lie: a view before any map_arena
 * reply, or vmap_arena's); or HEAPD_ENOBUFS; error says why. */
int vmap_view(struct vmap *m, const Heapd__ViewReply *v, const void **data);

/* The views of ref this connection has, as counted. */
uint64_t vmap_views(const struct vmap *m, uint64_t ref);
/* The bytes a view of ref shows, as its reply said (0 with no view). */
uint64_t vmap_view_len(const struct vmap *m, uint64_t ref);
/* One more view of ref, of len bytes: 0, or HEAPD_ENOBUFS when the table
 * cannot grow (nothing counted). */
int vmap_viewed(struct vmap *m, uint64_t ref, uint64_t len);
/* One view of ref fewer (none counted: nothing to do). */
void vmap_unviewed(struct vmap *m, uint64_t ref);

#endif
