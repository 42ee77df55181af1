/*
 * zerocopy.c - sealed objects read in place: seal, view, view_release and
 * map_arena (docs/protocol.md, Zero-copy; docs/security.md says what a
 * zero-copy client can see).
 *
 * The engine's arena is a memfd (daemon/heap/os.c). map_arena sends a
 * client a read-only descriptor of it, which the client maps; a view
 * answers where a sealed object's bytes are in that file. Sealed bytes
 * never change, and a view holds its object as a hold does, so what a
 * client reads in place stays what it viewed until it releases the view
 * or its connection ends; then the object may be collected and its pages
 * scavenged (punched out of the file) as any other.
 *
 * Invariants:
 *  - Views live in s->views, a hold set of their own (made at the first
 *    view): release never ends a view, view_release never a hold. Both
 *    count against the hold limits: max_holds_per_session counts the two
 *    sets together (sess_held: a view checks it, and so do alloc, get_ref
 *    and root_get through zc_held_refused, as the engine sees only
 *    s->holds), max_holds_per_uid the uid's, as disp_op adds a session's
 *    change in both to ten->holds.
 *  - The descriptor is read-only: a second open of the memfd through
 *    /proc/self/fd, O_RDONLY (a client cannot mmap it writable, truncate
 *    or grow it; the memfd is mode 0400, so a client of another uid cannot
 *    open it again for writing). It is opened once, at the first
 *    map_arena, and goes to a connection at most once (s->arena_sent), so
 *    descriptors in flight are bounded by the connections.
 *  - The descriptor travels as SCM_RIGHTS with the first byte of the
 *    map_arena reply: the request is held (HELD_FLUSH) until everything
 *    before it has been handed to the kernel, so that reply is the first
 *    byte of s->out when conn.c sends it (s->send_arena).
 *  - Who: zero_copy_uids and zero_copy_gids, plus heapd's own uid and
 *    root (admit_zero_copy). A read-only session never: the arena shows
 *    every object's header, whose tag is its full handle. Asked at each
 *    view and map_arena, so a reload takes effect for the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "server.h"

/* Whether s may read the arena; if not, rp fails (PERMISSION). */
static int zero_copy_permitted(const struct session *s, const char *what, struct disp_reply *rp)
{
	if (s->role == ROLE_READONLY) {
		disp_fail(rp, HEAPD__STATUS__PERMISSION,
			  "%s: uid %u is read-only, and zero-copy shows every object's handle", what,
			  (unsigned)s->uid);
		return 0;
	}
	if (!admit_zero_copy(s->srv, s)) {
		disp_fail(rp, HEAPD__STATUS__PERMISSION,
			  "%s: zero-copy is not granted to uid %u (zero_copy_uids, zero_copy_gids)", what,
			  (unsigned)s->uid);
		return 0;
	}
	return 1;
}

static Heapd__ViewReply *view_reply(struct session *s, struct disp_reply *rp, const char *what)
{
	Heapd__ViewReply *v = scratch_alloc(&s->srv->scratch, sizeof *v);
	if (!v) {
		disp_fail(rp, HEAPD__STATUS__INTERNAL, "%s: out of memory", what);
		return NULL;
	}
	heapd__view_reply__init(v);
	v->arena_size = heap_arena_size(s->srv->heap);
	v->arena_reserved = heap_arena_reserved(s->srv->heap);
	rp->r.result_case = HEAPD__RESPONSE__RESULT_VIEW;
	rp->r.view = v;
	return v;
}

/* 1 with rp failed (LIMIT) if s has as many holds and views together as
 * max_holds_per_session. */
static int held_refused(struct session *s, const char *what, struct disp_reply *rp)
{
	uint32_t most = s->srv->cfg.heap.max_holds;
	if (sess_held(s) < most)
		return 0;
	disp_fail(rp, HEAPD__STATUS__LIMIT, "%s: holds and views per connection: max_holds_per_session %u", what, most);
	return 1;
}

int zc_held_refused(struct session *s, const char *what, struct disp_reply *rp)
{
	/* Without views, the engine's check on s->holds is the same. */
	return s->views && heap_holds_count(s->views) && held_refused(s, what, rp);
}

void op_seal(struct disp_call *c)
{
	int err = heap_seal(c->s->srv->heap, c->req->seal->obj);
	if (err == HEAP_EPERM)
		disp_fail(c->rp, HEAPD__STATUS__PERMISSION, "seal: a read-only ref cannot seal");
	else if (err)
		disp_engine_fail(c->rp, err, "seal");
}

void op_view(struct disp_call *c)
{
	struct session *s = c->s;
	struct disp_reply *rp = c->rp;
	if (!zero_copy_permitted(s, "view", rp) || ten_hold_refused(s->srv, s->ten, "view", rp) ||
	    held_refused(s, "view", rp))
		return;
	if (!s->views) {
		if (!(s->views = heap_holds_new(s->srv->heap))) {
			disp_fail(rp, HEAPD__STATUS__INTERNAL, "view: out of memory");
			return;
		}
		heap_holds_set_tenant(s->srv->heap, s->views, s->ten->heap_tenant);
	}
	Heapd__ViewReply *v = view_reply(s, rp, "view");
	if (!v)
		return;
	uint64_t off;
	uint32_t len;
	int err = heap_view(s->srv->heap, c->req->view->obj, s->views, &off, &len);
	if (err) {
		rp->r.result_case = HEAPD__RESPONSE__RESULT__NOT_SET;
		if (err == HEAP_ENOTSEALED)
			disp_fail(rp, HEAPD__STATUS__INVALID, "view: the object is not sealed (seal it first)");
		else
			disp_engine_fail(rp, err, "view");
		return;
	}
	v->offset = off;
	v->length = len;
}

void op_view_release(struct disp_call *c)
{
	struct session *s = c->s;
	int err = s->views ? heap_release(s->srv->heap, s->views, c->req->view_release->obj) : HEAP_ENOENT;
	if (err == HEAP_ENOENT)
		disp_fail(c->rp, HEAPD__STATUS__NOT_FOUND, "view_release: this connection has no view of that object");
	else if (err)
		disp_engine_fail(c->rp, err, "view_release");
}

/* The read-only descriptor of the arena, opened at the first need. */
static int arena_ro_fd(struct server *srv)
{
	if (heap_arena_fd(srv->heap) < 0) {
		log_error("zero-copy: the arena is not shared memory (memfd_create failed at start)");
		return -1;
	}
	if (!srv->arena_ro_open) {
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", heap_arena_fd(srv->heap));
		srv->arena_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (srv->arena_ro_fd < 0) {
			log_error("zero-copy: cannot open the arena read-only (%s): %s", path, strerror(errno));
			return -1;
		}
		srv->arena_ro_open = 1;
	}
	return srv->arena_ro_fd;
}

void op_map_arena(struct disp_call *c)
{
	struct session *s = c->s;
	struct disp_reply *rp = c->rp;
	if (!zero_copy_permitted(s, "map_arena", rp))
		return;
	if (!s->arena_sent && (s->out_len || s->queued)) {
		rp->flush_first = 1;  /* dispatch holds it: HELD_FLUSH */
		return;
	}
	if (!s->arena_sent && arena_ro_fd(s->srv) < 0) {
		disp_fail(rp, HEAPD__STATUS__INTERNAL, "map_arena: heapd cannot give its arena (see its log)");
		return;
	}
	if (!view_reply(s, rp, "map_arena"))
		return;
	if (!s->arena_sent) {
		s->arena_sent = 1;
		s->send_arena = 1;
	}
}

void zc_close(struct server *srv)
{
	if (srv->arena_ro_open)
		close(srv->arena_ro_fd);
	srv->arena_ro_open = 0;
}
