/*
 * core.h - what libheapd's blocking core (heapd.c) and async core
 * (async.c) share: requests framed and queued, replies received, and
 * each reply matched to the request it answers (core.c).
 *
 * Internal to the library. A struct core holds no socket and does no I/O:
 * each core sends core.out and receives into core.in its own way (blocking
 * calls that wait, or an event loop's callbacks), and hands each whole
 * reply to core_take(), which says what it is: a request's result or
 * error, or a sign that the connection can no longer be trusted.
 *
 * Zero-copy. The arena's mapping (view.h) is the connection's, so it is
 * here: every receive goes through core_recv, which keeps the descriptor
 * a reply brings; core_submit queues the library's own map_arena before
 * the first request with a view (a view, or a batch with one) while the
 * arena is not mapped, and core_take maps it when its reply comes and
 * turns each view's offset into a pointer.
 *
 * Views counted. core_take counts each view the daemon made and each it
 * ended (view and view_release replies, and a batch's ops: hbatch_take),
 * in vmap, by ref; a view_release of the library's own (heapd_view_release
 * sends it without waiting) is counted when it is queued, since the
 * daemon ends the view when it reads it.
 *
 * Own requests. A map_arena, and heapd_view_release's view_release, are
 * the library's (pend.own): their replies go to no caller (no cb, no
 * batch), the cores take them on the way to the caller's, and the
 * caller's counts (core_pending) leave them out. A refused map_arena is
 * kept for the views after it; a refused view_release of the library's
 * says the counts are out of step with the daemon's, which is fatal.
 *
 * Invariants: pend holds, oldest first, one entry per request framed into
 * out (sent or not) whose reply is not yet taken, and the daemon answers
 * in that order; out.p[sent..len) is not yet sent; in.p[taken..len) is
 * received and not yet taken; vmap.map_due is 1 while a map_arena is in
 * pend, else 0; nown entries of pend are own, so npend - nown requests are
 * the caller's.
 */
#ifndef HEAPD_CORE_H
#define HEAPD_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapd/async.h"
#include "scratch.h"
#include "view.h"
#include "wire.h"

/* A request sent or queued, whose reply is due. */
struct pend {
	uint64_t id;
	uint64_t ref;           /* view, view_release: its obj (the key its view is counted by) */
	uint32_t len;           /* read: the length asked for; batch: its ops */
	uint16_t op;            /* Heapd__Request__OpCase */
	uint8_t own;            /* the library's request: no caller gets its reply */
	heapd_batch *batch;     /* batch: where its results go */
	heapd_async_fn *cb;     /* async: its callback, or NULL */
	void *privdata;
	uint64_t t0_ms;         /* async: when it was made, or its timeout set */
};
_Static_assert(sizeof(void *) != 8 || sizeof(struct pend) == 56,
	       "heapd/async.h and docs/async.md give 56 bytes a request in flight");

struct core {
	struct wire_buf out;    /* frames: out.p[sent..len) not yet sent */
	size_t sent;
	struct wire_buf in;     /* received: in.p[taken..len) not yet taken */
	size_t taken;
	struct pend *pend;      /* a ring of npend entries from head; cap is 0 or a power of 2 */
	size_t head, npend, cap;
	size_t nown;            /* entries of pend that are own */
	uint64_t next_id;       /* the last id given */
	uint32_t max_frame;     /* the daemon's, once it said (WIRE_HELLO_MAX_FRAME before) */
	struct scratch scratch; /* the reply taken last, decoded */
	heapd_stats stats;      /* its stats, for a get_stats result */
	struct vmap vmap;       /* the arena, for views */
};

void core_init(struct core *c);
void core_free(struct core *c);

/* core_submit's refusals besides HEAPD_ELIMIT and HEAPD_ENOBUFS. */
#define CORE_TOO_MANY 1  /* max_pending requests are due already */
#define CORE_UNSENT 2    /* max_unsent bytes would be waiting to be sent */

/* Frames req, with the next id, after what is not yet sent, and queues a
 * copy of p (its id, op, len and ref set here; own as p says) for its
 * reply; a map_arena first when req has a view and the arena is not
 * mapped nor asked for. An own view_release ends its view in the counts
 * now. A request alone always fits, whatever max_unsent says. Returns 0;
 * CORE_TOO_MANY; CORE_UNSENT; HEAPD_ELIMIT, for a request over max_frame;
 * or HEAPD_ENOBUFS. Nothing changes on an error. */
int core_submit(struct core *c, Heapd__Request *req, const struct pend *p, size_t max_pending, size_t max_unsent);
/* n more bytes of out were sent. */
void core_sent(struct core *c, size_t n);

/* The i-th request due after the oldest (i < npend), and the oldest. */
static inline struct pend *core_at(struct core *c, size_t i)
{
	return &c->pend[(c->head + i) & (c->cap - 1)];
}

static inline struct pend *core_oldest(struct core *c)
{
	return &c->pend[c->head];
}

#define CORE_KEEP_RING 4096u /* a larger ring is freed once empty */
void core_ring_free(struct core *c);

/* Takes the oldest request due off the queue (npend > 0). */
static inline struct pend core_pop(struct core *c)
{
	struct pend p = c->pend[c->head];
	if (p.op == HEAPD__REQUEST__OP_MAP_ARENA)
		c->vmap.map_due = 0;
	c->nown -= p.own;
	c->head = (c->head + 1) & (c->cap - 1);
	if (--c->npend == 0 && c->cap > CORE_KEEP_RING)
		core_ring_free(c);
	return p;
}
/* p's reply will never come: a batch gets code for each op. */
void core_lost(const struct pend *p, int code);

/* The requests due that are the caller's (not the library's own). */
static inline size_t core_pending(const struct core *c)
{
	return c->npend - c->nown;
}

/* recv(2) of up to room bytes into p from the connection's socket fd, as
 * recvmsg with room for one descriptor (SCM_RIGHTS; MSG_CMSG_CLOEXEC):
 * the first the connection receives is kept as the arena's, any other
 * closed. Returns as recv, errno set on -1. */
ssize_t core_recv(struct core *c, int fd, void *p, size_t room, int flags);

/* Room for at least want (and READ_CHUNK) more bytes at in.p + in.len:
 * NULL if out of memory. */
uint8_t *core_in_room(struct core *c, size_t want, size_t *room);
/* Bytes in lacks before the next reply is whole (0: it is), or -1 for a
 * length over max_frame: the stream is out of step. Inline: both cores
 * ask it several times a request. */
static inline ssize_t core_reply_lacks(const struct core *c)
{
	size_t have = c->in.len - c->taken;
	if (have < WIRE_HEADER)
		return (ssize_t)(WIRE_HEADER - have);
	uint32_t len = wire_frame_len(c->in.p + c->taken);
	if (len > c->max_frame)
		return -1;
	return WIRE_HEADER + (size_t)len > have ? (ssize_t)(WIRE_HEADER + len - have) : 0;
}

/* A reply taken (core_take): the result of p, the request it answers. */
struct core_reply {
	struct pend p;          /* popped, unless fatal; p.own: the library's */
	int status;             /* HEAPD_OK or the error */
	int fatal;              /* the connection can no longer be trusted: close it,
	                         * failing every request due with status */
	const char *error;      /* status's message; "" when OK */
	const Heapd__Response *resp; /* decoded, valid until the next core_take */
	const void *view;       /* an OK view's bytes, in the arena's mapping */
};

/* Takes the whole reply at the front of in (core_reply_lacks said 0) for
 * the oldest request: decodes it into scratch, checks that it answers that
 * request (its id, its result: wire_check_result, or a batch's, whose
 * results go to its heapd_batch) and pops the request, its result in *r
 * (pointing into the reply, c->stats and the arena's mapping); or says
 * fatal and leaves it. A map_arena's reply maps the arena (or records why
 * not, which the views after it take) and is no caller's; the views made
 * and ended are counted (vmap_viewed: out of memory for that is fatal,
 * HEAPD_ENOBUFS). The caller resets scratch once the reply has served. */
void core_take(struct core *c, struct core_reply *v, heapd_reply *r);

#endif
