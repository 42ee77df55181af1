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
 * Memory. Buffers grown by a burst are given back once empty: out and in
 * past KEEP_BUFFER, the ring past CORE_KEEP_RING entries.
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "core.h"

#define READ_CHUNK (64u << 10)  /* room for each read, at least */
#define KEEP_BUFFER (1u << 20)  /* larger buffers are freed once empty */

void core_init(struct core *c)
{
	memset(c, 0, sizeof *c);
	c->max_frame = WIRE_HELLO_MAX_FRAME;
	scratch_init(&c->scratch);
}

void core_free(struct core *c)
{
	wire_buf_free(&c->out);
	wire_buf_free(&c->in);
	free(c->pend);
	scratch_free(&c->scratch);
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

int core_submit(struct core *c, Heapd__Request *req, const struct pend *p, size_t max_pending, size_t max_unsent)
{
	if (c->npend >= max_pending)
		return CORE_TOO_MANY;
	if (c->npend == c->cap && ring_grow(c) != 0)
		return HEAPD_ENOBUFS;
	if (c->sent && c->sent >= c->out.len / 2) {
		wire_consume(&c->out, c->sent);
		c->sent = 0;
	}
	size_t unsent = c->out.len - c->sent, framed;
	req->id = c->next_id + 1;
	int err = wire_append(&c->out, req, c->max_frame, &framed);
	if (err)
		return err;
	if (unsent && unsent + framed > max_unsent) {
		c->out.len -= framed;
		return CORE_UNSENT;
	}
	struct pend *e = core_at(c, c->npend++);
	*e = *p;
	e->id = ++c->next_id;
	e->op = (uint32_t)req->op_case;
	if (req->op_case == HEAPD__REQUEST__OP_READ)
		e->len = req->read->length;
	else if (req->op_case == HEAPD__REQUEST__OP_BATCH)
		e->len = (uint32_t)req->batch->n_ops;
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
	if (p->batch) {
		if (hbatch_take(p->batch, p->id, p->len, resp, &bad) == HEAPD_ENOBUFS) {
			hbatch_lost(p->batch, p->id, p->len, HEAPD_ENOBUFS);
			code = HEAPD_ENOBUFS;
			error = "out of memory for the results of a batch";
		}
	} else if (wire_has_result(code)) {
		bad = wire_check_result((Heapd__Request__OpCase)p->op, p->len, resp);
	}
	if (bad)
		return fatal(v, HEAPD_EPROTO, bad);
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
	if (wire_has_result(v->status) && !v->p.batch && wire_result(v->resp, &c->stats, &c->scratch, r) != 0) {
		v->status = r->status = HEAPD_ENOBUFS;
		v->error = r->error = "out of memory for a reply";
	}
}
