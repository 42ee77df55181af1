/*
 * core.c - requests queued and replies matched, for both of libheapd's
 * cores (core.h states the invariants).
 *
 * Matching. The daemon answers in request order, so a reply belongs to
 * the oldest request due, and anything else means the byte stream is out
 * of step: a reply that does not decode, one to another id, an OK (or
 * CONFLICT, which carries what a CAS found) reply whose result does not
 * fit the request (wire_check_result, or a batch's
 * results: hbatch_take) is fatal, as is PROTOCOL (the daemon says we broke
 * the protocol) and any error with id 0 (a refusal, or a frame the daemon
 * could not take: about the connection, not a request). So is a failed
 * Hello: a connection that did not start cannot go on. Any other error is
 * the request's alone.
 *
 * Views. A view's reply, and a batch's view op's, is checked against the
 * arena's mapping (view.h) before its request is popped, so that a lie
 * about the arena is fatal like any reply out of step. The library's
 * map_arena goes right before the request that needs it, in the same
 * write, so that the sync core's first heapd_view is one round trip.
 * Each OK view counts one view of its ref, each OK view_release one
 * fewer, but for an own view_release, counted when it was queued: its
 * refusal means the counts have gone out of step with the daemon's view
 * set, and heapd_view_release would go on refusing or sending wrongly.
 *
 * Memory. Buffers grown by a burst are given back once empty: out and in
 * past KEEP_BUFFER, the ring past CORE_KEEP_RING entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "batch.h"
#include "core.h"

#define READ_CHUNK (64u << 10)  /* room for each read, at least */
#define KEEP_BUFFER (1u << 20)  /* larger buffers are freed once empty */

void core_init(struct core *c)
{
	memset(c, 0, sizeof *c);
	c->max_frame = WIRE_HELLO_MAX_FRAME;
	scratch_init(&c->scratch);
	vmap_init(&c->vmap);
}

void core_free(struct core *c)
{
	wire_buf_free(&c->out);
	wire_buf_free(&c->in);
	free(c->pend);
	scratch_free(&c->scratch);
	vmap_free(&c->vmap);
}

/* ---- the ring of requests due ---- */

static int ring_grow(struct core *c)
{
	size_t cap = c->cap ? 2 * c->cap : 64;
	struct pend *v = malloc(cap * sizeof *v);
	if (!v)
		return HEAPD_ENOBUFS;
	for (size_t i = 0; i < c->npend; i++)
		v[i] = *core_at(c, i);
	free(c->pend);
	c->pend = v;
	c->cap = cap;
	c->head = 0;
	return 0;
}

void core_ring_free(struct core *c)
{
	free(c->pend);
	c->pend = NULL;
	c->cap = c->head = 0;
}

void core_lost(const struct pend *p, int code)
{
	if (p->batch)
		hbatch_lost(p->batch, p->id, p->len, code);
}

/* ---- requests out ---- */

/* core_submit for one request, *framed bytes at the end of out; `before`
 * bytes just framed by the same core_submit do not count against
 * max_unsent. */
static int submit_one(struct core *c, Heapd__Request *req, const struct pend *p, size_t max_pending,
		      size_t max_unsent, size_t before, size_t *framed)
{
	if (c->npend >= max_pending)
		return CORE_TOO_MANY;
	if (c->npend == c->cap && ring_grow(c) != 0)
		return HEAPD_ENOBUFS;
	if (c->sent && c->sent >= c->out.len / 2) {
		wire_consume(&c->out, c->sent);
		c->sent = 0;
	}
	size_t unsent = c->out.len - c->sent - before;
	req->id = c->next_id + 1;
	int err = wire_append(&c->out, req, c->max_frame, framed);
	if (err)
		return err;
	if (unsent && unsent + *framed > max_unsent) {
		c->out.len -= *framed;
		return CORE_UNSENT;
	}
	struct pend *e = core_at(c, c->npend++);
	*e = *p;
	e->id = ++c->next_id;
	e->op = (uint16_t)req->op_case;
	if (req->op_case == HEAPD__REQUEST__OP_READ)
		e->len = req->read->length;
	else if (req->op_case == HEAPD__REQUEST__OP_BATCH)
		e->len = (uint32_t)req->batch->n_ops;
	else if (req->op_case == HEAPD__REQUEST__OP_VIEW)
		e->ref = req->view->obj;
	else if (req->op_case == HEAPD__REQUEST__OP_VIEW_RELEASE)
		e->ref = req->view_release->obj;
	c->nown += e->own;
	if (e->own && e->op == HEAPD__REQUEST__OP_VIEW_RELEASE)
		vmap_unviewed(&c->vmap, e->ref);
	return 0;
}

/* Whether req asks for a view: the arena must be mapped first. */
static int has_view(const Heapd__Request *req)
{
	if (req->op_case == HEAPD__REQUEST__OP_VIEW)
		return 1;
	if (req->op_case == HEAPD__REQUEST__OP_BATCH)
		for (size_t i = 0; i < req->batch->n_ops; i++)
			if (req->batch->ops[i]->op_case == HEAPD__BATCH_OP__OP_VIEW)
				return 1;
	return 0;
}

int core_submit(struct core *c, Heapd__Request *req, const struct pend *p, size_t max_pending, size_t max_unsent)
{
	size_t framed, map_framed;
	if (c->vmap.ready || c->vmap.map_due || !has_view(req))
		return submit_one(c, req, p, max_pending, max_unsent, 0, &framed);
	if (c->npend + 1 >= max_pending)
		return CORE_TOO_MANY;
	struct wire_req map;
	wire_op(&map, HEAPD__REQUEST__OP_MAP_ARENA);
	int err = submit_one(c, &map.req, &(struct pend){.own = 1, .t0_ms = p->t0_ms}, max_pending, max_unsent, 0,
			     &map_framed);
	if (err)
		return err;
	err = submit_one(c, req, p, max_pending, max_unsent, map_framed, &framed);
	if (err) { /* the map_arena is the last frame and entry: undone */
		c->out.len -= map_framed;
		c->npend--;
		c->nown--;
		c->next_id--;
		return err;
	}
	c->vmap.map_due = 1;
	return 0;
}

void core_sent(struct core *c, size_t n)
{
	c->sent += n;
	if (c->sent < c->out.len)
		return;
	c->sent = c->out.len = 0;
	if (c->out.cap > KEEP_BUFFER)
		wire_buf_free(&c->out);
}

/* ---- replies in ---- */

ssize_t core_recv(struct core *c, int fd, void *p, size_t room, int flags)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = p, .iov_len = room};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	ssize_t r = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC);
	if (r < 0)
		return r;
	/* Descriptors past the room (MSG_CTRUNC) the kernel closed. */
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int got;
			memcpy(&got, CMSG_DATA(h) + i * sizeof got, sizeof got);
			vmap_keep_fd(&c->vmap, got);
		}
	}
	return r;
}

uint8_t *core_in_room(struct core *c, size_t want, size_t *room)
{
	if (c->taken == c->in.len) {
		c->taken = c->in.len = 0;
		if (c->in.cap > KEEP_BUFFER && want <= READ_CHUNK)
			wire_buf_free(&c->in);
	}
	if (want < READ_CHUNK)
		want = READ_CHUNK;
	if (c->taken && c->in.cap - c->in.len < want) {
		wire_consume(&c->in, c->taken);
		c->taken = 0;
	}
	if (wire_reserve(&c->in, want) != 0)
		return NULL;
	*room = c->in.cap - c->in.len;
	return c->in.p + c->in.len;
}

/* v says the connection can no longer be trusted; returns 1. */
static int fatal(struct core_reply *v, int status, const char *error)
{
	v->fatal = 1;
	v->status = status;
	v->error = error;
	return 1;
}

static const char *error_text(const Heapd__Response *resp, int code)
{
	return resp->error && resp->error[0] ? resp->error : heapd_strerror(code);
}

/* The reply to the library's map_arena, of status code: the arena mapped,
 * or why not, for the views after it. NULL, or the lie that is fatal. */
static const char *map_taken(struct vmap *m, const Heapd__Response *resp, int code, const char *error)
{
	if (code) {
		vmap_refused(m, code, error);
		return NULL;
	}
	return vmap_arena(m, resp->view) == HEAPD_EPROTO ? m->error : NULL;
}

/* A view's reply, of status *code: *data where its bytes are mapped, or
 * the failure that kept the arena from being mapped in *code and *error.
 * NULL, or the lie that is fatal. */
static const char *view_taken(struct vmap *m, const Heapd__Response *resp, int *code, const char **error,
			      const void **data)
{
	if (*code)
		return NULL;
	int err = vmap_view(m, resp->view, data);
	if (err == HEAPD_EPROTO)
		return m->error;
	if (err) {
		*code = err;
		*error = m->error;
	}
	return NULL;
}

/* The daemon refused a view_release of the library's own, which the
 * counts said has a view: what is fatal, with the daemon's error, in
 * scratch (the cores copy it at once). */
static const char *own_release_refused(struct core *c, const char *error)
{
	static const char what[] = "the daemon refused the view_release heapd_view_release sent "
				    "(the library's view counts are out of step)";
	size_t n = sizeof what + 2 + strlen(error);
	char *s = scratch_alloc(&c->scratch, n);
	if (!s)
		return what;
	snprintf(s, n, "%s: %s", what, error);
	return s;
}

/* The views resp, the reply of status code to p, made or ended, counted:
 * 0, or 1 if fatal (out of memory for the counts). */
static int count_views(struct core *c, const struct pend *p, int code, struct core_reply *v)
{
	if (code)
		return 0;
	if (p->op == HEAPD__REQUEST__OP_VIEW && vmap_viewed(&c->vmap, p->ref, v->resp->view->length) != 0)
		return fatal(v, HEAPD_ENOBUFS, "out of memory for the connection's view counts");
	if (p->op == HEAPD__REQUEST__OP_VIEW_RELEASE && !p->own)
		vmap_unviewed(&c->vmap, p->ref);
	return 0;
}

/* The verdict on resp, the reply to the oldest request (if any): 1 if
 * fatal, else 0 with the request popped. */
static int match_reply(struct core *c, const Heapd__Response *resp, struct core_reply *v)
{
	const struct pend *p = c->npend ? core_oldest(c) : NULL;
	if (!resp)
		return fatal(v, HEAPD_EPROTO, "reply does not decode");
	int code = wire_status(resp);
	if (resp->id == 0 && code)
		return fatal(v, code, error_text(resp, code));
	if (!p || resp->id != p->id)
		return fatal(v, HEAPD_EPROTO, "reply to another request");
	if (code && (code == HEAPD_EPROTO || p->op == HEAPD__REQUEST__OP_HELLO))
		return fatal(v, code, error_text(resp, code));
	const char *bad = NULL, *error = code ? error_text(resp, code) : "";
	int daemon_code = code; /* a view's, before the mapping may fail it here */
	v->view = NULL;
	if (p->batch) {
		int err = hbatch_take(p->batch, p->id, p->len, resp, &c->vmap, &bad);
		if (err && bad)
			return fatal(v, err, bad);
		if (err == HEAPD_ENOBUFS) {
			hbatch_lost(p->batch, p->id, p->len, HEAPD_ENOBUFS);
			code = HEAPD_ENOBUFS;
			error = "out of memory for the results of a batch";
		}
	} else if (wire_has_result(code)) {
		bad = wire_check_result((Heapd__Request__OpCase)p->op, p->len, resp);
	}
	if (!bad && p->op == HEAPD__REQUEST__OP_MAP_ARENA)
		bad = map_taken(&c->vmap, resp, code, error);
	else if (!bad && p->op == HEAPD__REQUEST__OP_VIEW)
		bad = view_taken(&c->vmap, resp, &code, &error, &v->view);
	else if (!bad && p->own && p->op == HEAPD__REQUEST__OP_VIEW_RELEASE && code)
		bad = own_release_refused(c, error);
	if (bad)
		return fatal(v, HEAPD_EPROTO, bad);
	if (count_views(c, p, daemon_code, v))
		return 1;
	v->p = core_pop(c);
	v->status = code;
	v->error = error;
	return 0;
}

void core_take(struct core *c, struct core_reply *v, heapd_reply *r)
{
	v->fatal = 0;
	uint32_t len = wire_frame_len(c->in.p + c->taken);
	v->resp = heapd__response__unpack(&c->scratch.pb, len, c->in.p + c->taken + WIRE_HEADER);
	c->taken += WIRE_HEADER + (size_t)len;
	if (match_reply(c, v->resp, v))
		return;
	*r = (heapd_reply){.status = v->status, .error = v->error, .id = v->p.id};
	if (v->view) {
		r->data = v->view;
		r->len = v->resp->view->length;
	} else if (wire_has_result(v->status) && !v->p.batch &&
		   wire_result(v->resp, &c->stats, &c->scratch, r) != 0) {
		v->status = r->status = HEAPD_ENOBUFS;
		v->error = r->error = "out of memory for a reply";
	}
}
