/*
 * retained.c - the retained op: what an object, or a root's object,
 * reaches, counted in the loop's slices (docs/protocol.md, Retained).
 *
 * A count is the engine's (heap_retained_*): a save's walk from one
 * object, which counts the graph as it was when the walk began. Here it
 * is queued and run:
 *  - op_retained checks the request at once (a stale ref, a missing root
 *    or one the caller may not read, past max_retained_per_uid: answered
 *    now), then queues a job and the session waits (S_WAITING), as for a
 *    requested collection: its later requests wait behind it, other
 *    sessions are served.
 *  - Jobs run one at a time, oldest first, on the engine's one walker,
 *    which a save shares: the walker's steps take the place of
 *    collector slices (collector.c), slice_ns each, with their duty
 *    cycle. A save asked for while a count walks begins once it ends (the
 *    engine queues it); a job waits while a save walks or is queued.
 *  - When a job starts, its root is looked up and judged again (the root
 *    may have been deleted, replaced or chmodded meanwhile): the count is
 *    of the object it names then, and the ref is resolved then, so an
 *    answer never describes an object the caller could not have asked
 *    about.
 *  - A session that closes (sess_close) drops its job (retained_drop),
 *    ending its walk if it runs: nothing is left of it.
 *
 * Invariants: srv->counts holds every job, oldest first; only the first
 * may hold the engine's walker (held); s->counting is the session's job
 * or NULL, and the session is S_WAITING while it has one (sess_close
 * drops it);
 * ten->counts is its uid's jobs.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "server.h"

struct retained_job {
	struct list link;       /* on srv->counts */
	struct session *s;
	uint64_t id;            /* the request's */
	heap_ref obj;           /* what to count, or (len) the root named name */
	size_t len;
	int held;               /* the engine's walker is this job's (walking, or waiting for marking) */
	int started;            /* its walk has begun */
	uint8_t name[HEAP_ROOT_NAME_MAX];
};

static struct retained_job *first(const struct server *srv)
{
	return list_empty(&srv->counts) ? NULL : container_of(srv->counts.next, struct retained_job, link);
}

static void detach(struct retained_job *job)
{
	struct session *s = job->s;
	list_remove(&job->link);
	s->counting = NULL;
	s->ten->counts--;
	free(job);
}

/* Ends job with the reply rp: the session serves on. */
static void answer(struct retained_job *job, struct disp_reply *rp)
{
	struct session *s = job->s;
	if (job->held)
		heap_retained_end(s->srv->heap);
	detach(job);
	s->state = S_READY;
	sess_reply(s, &rp->r);
	sess_process(s);
}

void op_retained(struct disp_call *c)
{
	struct session *s = c->s;
	struct server *srv = s->srv;
	const Heapd__Retained *q = c->req->retained;
	heap_ref ref = q->obj;
	if (q->obj && q->name.len) {
		disp_fail(c->rp, HEAPD__STATUS__INVALID, "retained: give obj (a ref) or name (a root), not both");
		return;
	}
	uint32_t nrefs, nbytes;
	int err = q->name.len ? 0 : heap_object_size(srv->heap, ref, &nrefs, &nbytes);
	if (err) {
		disp_engine_fail(c->rp, err, "retained");
		return;
	}
	if (q->name.len && root_read_ref(s, &q->name, "retained", c->rp, &ref, NULL))
		return;
	uint32_t most = srv->cfg.max_retained_per_uid;
	if (s->role != ROLE_ADMIN && s->ten->counts >= most) {
		disp_fail(c->rp, HEAPD__STATUS__LIMIT,
			  "retained: uid %u has %u counts asked for and not yet answered (max_retained_per_uid %u)",
			  (unsigned)s->uid, s->ten->counts, most);
		return;
	}
	struct retained_job *job = malloc(sizeof *job);
	if (!job) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "retained: out of memory");
		return;
	}
	*job = (struct retained_job){.s = s, .id = c->rp->r.id, .obj = q->obj, .len = q->name.len};
	if (q->name.len)  /* <= HEAP_ROOT_NAME_MAX: root_read_ref found the root */
		memcpy(job->name, q->name.data, q->name.len);
	list_push_tail(&srv->counts, &job->link);
	s->counting = job;
	s->ten->counts++;
	s->state = S_WAITING;
	c->rp->deferred = 1;
	coll_kick(srv);
}

bool retained_busy(const struct server *srv)
{
	const struct retained_job *job = first(srv);
	return job && (job->held || !heap_saving(srv->heap));
}

/* Begins the first job's walk: 0 once it walks, 1 while it waits for
 * marking to end, -1 when answered (an error). */
static int start(struct server *srv, struct retained_job *job, struct disp_reply *rp)
{
	heap_ref ref = job->obj;
	ProtobufCBinaryData name = {job->len, job->name};
	if (job->len && root_read_ref(job->s, &name, "retained", rp, &ref, NULL)) {
		answer(job, rp);
		return -1;
	}
	int r = heap_retained_begin(srv->heap, ref);
	job->held = r >= 0;
	if (r < 0) {
		disp_engine_fail(rp, r, "retained");
		answer(job, rp);
		return -1;
	}
	job->started = r == 0;
	return r;
}

void retained_turn(struct server *srv, uint64_t budget_ns)
{
	struct retained_job *job = first(srv);
	struct disp_reply rp;
	disp_reply_init(&rp, job->id);
	if (!job->started && start(srv, job, &rp) != 0)
		return;
	int r = heap_retained_step(srv->heap, budget_ns);
	if (r == 1)
		return;
	Heapd__RetainedReply out = HEAPD__RETAINED_REPLY__INIT;
	if (r == 0) {
		heap_retained_result(srv->heap, &out.objects, &out.bytes);
		rp.r.result_case = HEAPD__RESPONSE__RESULT_RETAINED;
		rp.r.retained = &out;
	} else if (r == HEAP_ENOMEM) {
		disp_fail(&rp, HEAPD__STATUS__INTERNAL, "retained: out of memory for the count "
			  "(its trace stack, or copies of objects changed meanwhile)");
	} else {
		disp_fail(&rp, HEAPD__STATUS__FAILED, "retained: the count was ended by a blocking collection");
	}
	answer(job, &rp);
}

void retained_drop(struct session *s)
{
	struct retained_job *job = s->counting;
	if (!job)
		return;
	if (job->held)
		heap_retained_end(s->srv->heap);
	detach(job);
	coll_kick(s->srv);  /* the next job, or a save queued behind this one */
}

void retained_stop(struct server *srv)
{
	struct retained_job *job;
	while ((job = first(srv)) != NULL) {
		struct disp_reply rp;
		disp_reply_init(&rp, job->id);
		disp_fail(&rp, HEAPD__STATUS__FAILED, "retained: heapd is stopping; the count was not finished");
		answer(job, &rp);
	}
}
