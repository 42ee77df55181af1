/*
 * dispatch.c - one request: check it, call the engine, encode the reply.
 *
 * Every value in a request is hostile until checked here or by the engine:
 * refs are validated by the engine on every use; lengths that decide how
 * much the daemon allocates (read) are checked against the room the reply
 * has (max_frame_size, or what a batch's reply has left) before anything
 * is allocated; root names are checked by their protobuf length and as
 * text, and who may touch a root is decided here ("roots: owners and
 * modes", roots.c), not by the engine. Engine errors map to wire
 * statuses as HEAP_ERRORS says (engine_fail), each with a message naming
 * what was wrong.
 *
 * Every operation of HEAPD_OPS (proto/ops.h) has its op_<name>() here, in
 * roots.c for the root operations, or in introspect.c for object_info and
 * the client list, called by disp_op()'s switch, which
 * the table makes; the figures of
 * get_stats are HEAPD_STATS' rows, and uid_stats' rows tenant.c's counts.
 *
 * The connection's holds live in s->holds (and its views in s->views,
 * zerocopy.c): alloc, get_ref and root_get add
 * one on what they return, release drops one; cas_ref and root_cas add
 * none (what they return, what was there, is the client's to hold). Each op's change to them is
 * added to the uid's count (disp_op), which max_holds_per_uid bounds: the
 * ops that add a hold check it first, as root_set checks the uid's root
 * quotas (tenant.c). A session in S_HELLO accepts
 * only Hello; any other first request, or a version this daemon does not
 * speak, is answered and the session closed.
 *
 * gc and free_os_memory do not answer at once: the session waits
 * (collector.c) for a cycle that started after the request to finish and
 * be swept, so that on return every object unreachable at the time of the
 * call is freed (and, for free_os_memory, every free page released).
 * Later requests on that session wait behind it; other sessions are
 * served meanwhile. So does an alloc that finds no room under max_heap:
 * the engine starts a collection (one at most) instead of running one
 * in the call, the request is held until it is done and swept, then run
 * once more; only a second failure answers NO_MEMORY. An alloc past the
 * uid's max_heap_per_uid is answered LIMIT at once: the heap has room,
 * the uid has not, and a collection frees it room only if it dropped
 * objects. A batch is batch.c's, which runs each of
 * its ops through disp_op() as a request of its own.
 *
 * Roles. Before an op runs, op_permitted() checks it against the
 * session's role (admit.c): every op is a read, a write (it changes the
 * heap) or an admin op (it makes the collector work for everyone), as
 * op_kind() says in a switch with no default, so a new operation does not
 * build until it is classified. A read-only session may not write; only
 * an admin may run an admin op, unless gc_by_anyone lets users too. A
 * refused op is PERMISSION and changes nothing. The check is in
 * disp_op(), so it covers each op of a batch, and an op held and run
 * again (a batch's next turn, an alloc retried after room was made)
 * meets the role as a reload may have changed it since.
 *
 * What a reply points to (read data, stats, root names, uid rows) lives in the
 * server's scratch memory, reset once the reply is packed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bound.h"
#include "dispatch.h"
#include "log.h"
#include "server.h"
#include "text.h"

/* Room a Read reply needs besides its data: id, status, field headers. */
#define READ_REPLY_OVERHEAD 64u
/* What a uid_stats row takes besides its fields: its tag and length. */
#define UID_ROW_FRAMING 6u

void disp_fail(struct disp_reply *rp, Heapd__Status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rp->msg, sizeof rp->msg, fmt, ap);
	va_end(ap);
	rp->r.status = status;
	rp->r.error = rp->msg;
}

/* The engine's HEAP_ELIMIT names the limit it met, and its value: the
 * connection's holds, when it has as many as it may, else the heap's
 * named roots (root_set, which adds no hold, says so itself). */
static void limit_fail(struct disp_reply *rp, const char *what)
{
	const struct heap_config *cfg = &rp->s->srv->cfg.heap;
	if (heap_holds_count(rp->s->holds) >= cfg->max_holds)
		disp_fail(rp, HEAPD__STATUS__LIMIT, "%s: holds per connection: max_holds_per_session %u", what,
			  cfg->max_holds);
	else
		disp_fail(rp, HEAPD__STATUS__LIMIT, "%s: named roots: max_roots %u", what, cfg->max_roots);
}

void disp_engine_fail(struct disp_reply *rp, int err, const char *what)
{
	if (err == HEAP_ELIMIT && rp->s) {
		limit_fail(rp, what);
		return;
	}
	Heapd__Status st = HEAPD__STATUS__INTERNAL;
	switch (err) {
#define X(name, value, status, msg) case HEAP_##name: st = HEAPD__STATUS__##status; break;
	HEAP_ERRORS(X)
#undef X
	}
	disp_fail(rp, st, "%s: %s", what, heap_strerror(err));
}

/* err, from what on the bytes [off, off + len) of obj: a range error says
 * the object's size. */
static void data_fail(struct disp_call *c, int err, const char *what, heap_ref obj, uint32_t off, uint32_t len)
{
	uint32_t nrefs, nbytes;
	if (err == HEAP_ERANGE && heap_object_size(c->s->srv->heap, obj, &nrefs, &nbytes) == 0)
		disp_fail(c->rp, HEAPD__STATUS__RANGE, "%s: offset %u + length %u is past the object's %u data bytes",
			  what, off, len, nbytes);
	else
		disp_engine_fail(c->rp, err, what);
}

/* err, from what on slot of obj: a range error says how many it has. */
static void slot_fail(struct disp_call *c, int err, const char *what, heap_ref obj, uint32_t slot)
{
	uint32_t nrefs, nbytes;
	if (err == HEAP_ERANGE && heap_object_size(c->s->srv->heap, obj, &nrefs, &nbytes) == 0)
		disp_fail(c->rp, HEAPD__STATUS__RANGE, "%s: slot %u of an object with %u slot%s", what, slot, nrefs,
			  nrefs == 1 ? "" : "s");
	else
		disp_engine_fail(c->rp, err, what);
}

/* An operation's name by its Request field number, for messages. */
const char *disp_op_name(unsigned field)
{
	static const char *const name[] = {
#define X(name, NAME, ...) [HEAPD__REQUEST__OP_##NAME] = #name,
		HEAPD_OPS(X)
#undef X
	};
	return field < sizeof name / sizeof name[0] && name[field] ? name[field] : "an unknown operation";
}

void disp_set_ref(struct disp_reply *rp, heap_ref ref)
{
	rp->r.result_case = HEAPD__RESPONSE__RESULT_REF;
	rp->r.ref = ref;
}

/* The session's first request, which must be a Hello this daemon speaks. */
static void hello_first(struct session *s, Heapd__Request *req, struct disp_reply *rp, Heapd__HelloReply *hello)
{
	if (req->op_case != HEAPD__REQUEST__OP_HELLO) {
		disp_fail(rp, HEAPD__STATUS__PROTOCOL, "the first request must be Hello");
		return;
	}
	if (req->hello->version != PROTOCOL_VERSION) {
		disp_fail(rp, HEAPD__STATUS__PROTOCOL, "protocol version %u is not spoken here (this daemon speaks %u)",
			  req->hello->version, PROTOCOL_VERSION);
		return;
	}
	text_escape(s->name, sizeof s->name, req->hello->client_name, strlen(req->hello->client_name));
	s->state = S_READY;
	log_debug("session %llu: %s, pid %d uid %u", (unsigned long long)s->id, s->name[0] ? s->name : "(unnamed)",
		  (int)s->pid, (unsigned)s->uid);
	heapd__hello_reply__init(hello);
	hello->version = PROTOCOL_VERSION;
	hello->server_version = PACKAGE_VERSION;
	hello->session_id = s->id;
	hello->max_frame = s->srv->cfg.max_frame;
	hello->max_object = s->srv->cfg.heap.max_object;
	hello->max_batch_ops = s->srv->cfg.max_batch_ops;
	rp->r.result_case = HEAPD__RESPONSE__RESULT_HELLO;
	rp->r.hello = hello;
}

static void op_hello(struct disp_call *c)
{
	disp_fail(c->rp, HEAPD__STATUS__PROTOCOL, "Hello was already said");
}

static void op_ping(struct disp_call *c)
{
	(void)c;
}

static void op_alloc(struct disp_call *c)
{
	struct session *s = c->s;
	Heapd__Alloc *a = c->req->alloc;
	struct disp_reply *rp = c->rp;
	if (a->data.len > a->nbytes) {
		disp_fail(rp, HEAPD__STATUS__RANGE, "alloc: %zu bytes of data for %u bytes of object", a->data.len,
			  a->nbytes);
		return;
	}
	if (!a->into_obj && (zc_held_refused(s, "alloc", rp) || ten_hold_refused(s->srv, s->ten, "alloc", rp)))
		return;
	heap *h = s->srv->heap;
	heap_ref ref;
	uint32_t len = (uint32_t)a->data.len;  /* <= nbytes */
	if (a->into_obj)
		heap_set_tenant(h, s->ten->heap_tenant);  /* who pays, as s->holds says it for the rest */
	int err = a->into_obj
			  ? heap_alloc_into_init(h, a->into_obj, a->into_slot, a->nrefs, a->nbytes, a->data.data, len, &ref)
			  : heap_alloc_init(h, s->holds, a->nrefs, a->nbytes, a->data.data, len, &ref);
	if (err == HEAP_ENOMEM && !rp->retried && !rp->no_wait)
		rp->wait_room = 1;  /* nothing was done: again after the collection */
	else if (err == HEAP_ENOMEM && rp->no_wait)
		disp_fail(rp, HEAPD__STATUS__NO_MEMORY, "alloc: the heap is at its hard maximum (max_heap %zu); "
			  "a batch with a cas op does not wait for a collection", s->srv->cfg.heap.max_heap);
	else if (err == HEAP_ENOMEM)
		disp_fail(rp, HEAPD__STATUS__NO_MEMORY, "alloc: the heap is at its hard maximum (max_heap %zu), "
			  "even after a collection", s->srv->cfg.heap.max_heap);
	else if (err == HEAP_EQUOTA)
		ten_heap_refused(s->srv, s->ten, rp);  /* no waiting: a collection is not due for it */
	else if (err == HEAP_ETOOBIG)
		disp_fail(rp, HEAPD__STATUS__LIMIT,
			  "alloc: %u refs and %u bytes make an object of %llu bytes, over max_object_size %zu", a->nrefs,
			  a->nbytes, 8 + 8 * (unsigned long long)a->nrefs + a->nbytes, s->srv->cfg.heap.max_object);
	else if (err && a->into_obj)
		slot_fail(c, err, "alloc into", a->into_obj, a->into_slot);
	else if (err)
		disp_engine_fail(rp, err, "alloc");
	else
		disp_set_ref(rp, ref);
}

static void op_write(struct disp_call *c)
{
	Heapd__Write *w = c->req->write;
	struct disp_reply *rp = c->rp;
	if (w->data.len > UINT32_MAX) {
		disp_fail(rp, HEAPD__STATUS__RANGE, "write: %zu bytes is past any object", w->data.len);
		return;
	}
	int err = heap_write(c->s->srv->heap, w->obj, w->offset, w->data.data, (uint32_t)w->data.len);
	if (err)
		data_fail(c, err, "write", w->obj, w->offset, (uint32_t)w->data.len);
}

static void op_read(struct disp_call *c)
{
	struct session *s = c->s;
	Heapd__Read *r = c->req->read;
	size_t room = c->room;
	struct disp_reply *rp = c->rp;
	if (r->length > room) {
		disp_fail(rp, HEAPD__STATUS__LIMIT,
			  "read: %u bytes do not fit in the reply (room for %zu; max_frame_size %u)", r->length, room,
			  s->srv->cfg.max_frame);
		return;
	}
	/* Packed before any other engine call: the reply may point into the
	 * heap, saving a copy of up to a frame (and, for a large one, the
	 * page faults of a fresh buffer). A batch's is packed after its
	 * other ops, which may change or free the object: a copy. */
	const void *data;
	int err = heap_data(s->srv->heap, r->obj, r->offset, r->length, &data);
	if (!err && !rp->packed_now) {
		uint8_t *buf = scratch_alloc(&s->srv->scratch, r->length ? r->length : 1);
		if (!buf) {
			disp_fail(rp, HEAPD__STATUS__INTERNAL, "read: out of memory");
			return;
		}
		data = memcpy(buf, data, r->length);
	}
	if (err) {
		data_fail(c, err, "read", r->obj, r->offset, r->length);
		return;
	}
	rp->r.result_case = HEAPD__RESPONSE__RESULT_DATA;
	rp->r.data.data = (uint8_t *)data;
	rp->r.data.len = r->length;
}

static void op_set_ref(struct disp_call *c)
{
	Heapd__SetRef *r = c->req->set_ref;
	int err = heap_set_ref(c->s->srv->heap, r->obj, r->slot, r->target);
	if (err)
		slot_fail(c, err, "set_ref", r->obj, r->slot);
}

void disp_conflict(struct disp_reply *rp, const char *what, heap_ref was, heap_ref expected)
{
	disp_fail(rp, HEAPD__STATUS__CONFLICT, "%s: it holds 0x%llx, not the expected 0x%llx", what,
		  (unsigned long long)was, (unsigned long long)expected);
	disp_set_ref(rp, was);
}

/* set_ref on a condition (heap_cas_ref); what the slot held is the
 * result, on CONFLICT too, with no hold added. */
static void op_cas_ref(struct disp_call *c)
{
	Heapd__CasRef *r = c->req->cas_ref;
	heap_ref was = 0;
	int err = heap_cas_ref(c->s->srv->heap, r->obj, r->slot, r->expected, r->target, &was);
	if (err == HEAP_ECONFLICT)
		disp_conflict(c->rp, "cas_ref", was, r->expected);
	else if (err)
		slot_fail(c, err, "cas_ref", r->obj, r->slot);
	else
		disp_set_ref(c->rp, was);
}

int disp_hold_readonly(struct session *s, heap_ref *ref)
{
	heap *h = s->srv->heap;
	int err = *ref ? heap_ref_readonly(h, *ref, ref) : 0;
	return err || !*ref ? err : heap_hold(h, s->holds, *ref);
}

static void op_get_ref(struct disp_call *c)
{
	struct session *s = c->s;
	Heapd__GetRef *r = c->req->get_ref;
	heap_ref ref;
	if (zc_held_refused(s, "get_ref", c->rp) || ten_hold_refused(s->srv, s->ten, "get_ref", c->rp))
		return;
	int ro = s->role == ROLE_READONLY;
	int err = heap_get_ref(s->srv->heap, r->obj, r->slot, ro ? NULL : s->holds, &ref);
	if (!err && ro)
		err = disp_hold_readonly(s, &ref);
	if (err)
		slot_fail(c, err, "get_ref", r->obj, r->slot);
	else
		disp_set_ref(c->rp, ref);
}

static void op_release(struct disp_call *c)
{
	int err = heap_release(c->s->srv->heap, c->s->holds, c->req->release->obj);
	if (err == HEAP_ENOENT)
		disp_fail(c->rp, HEAPD__STATUS__NOT_FOUND, "release: this connection holds no such object");
	else if (err)
		disp_engine_fail(c->rp, err, "release");
}

/* The figures the daemon counts (HEAPD_STATS' who SERVER): stat_<name>. */
static uint64_t stat_rss_bytes(const struct server *srv)
{
	(void)srv;
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int ok = f && fscanf(f, "%lu %lu", &size, &resident) == 2;
	if (f)
		fclose(f);
	return ok ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t stat_sessions(const struct server *srv)
{
	return srv->nsessions;
}

static uint64_t stat_uptime_ns(const struct server *srv)
{
	return srv_now_ns() - srv->start_ns;
}

/* admit.c counts these. */
static uint64_t stat_hello_timeouts(const struct server *srv)
{
	return srv->hello_timeouts;
}

static uint64_t stat_hello_shed(const struct server *srv)
{
	return srv->hello_shed;
}

static uint64_t stat_refused_max_clients(const struct server *srv)
{
	return srv->refused_max_clients;
}

static uint64_t stat_refused_max_clients_per_uid(const struct server *srv)
{
	return srv->refused_max_clients_per_uid;
}

static uint64_t stat_bad_ref_closes(const struct server *srv)
{
	return srv->bad_ref_closes;
}

/* persist.c counts these. */
static uint64_t stat_last_save_unix_ns(const struct server *srv)
{
	return srv->persist.last_unix_ns;
}

static uint64_t stat_last_save_duration_ns(const struct server *srv)
{
	return srv->persist.last_duration_ns;
}

static uint64_t stat_last_save_size_bytes(const struct server *srv)
{
	return srv->persist.last_bytes;
}

static uint64_t stat_last_save_objects(const struct server *srv)
{
	return srv->persist.last_objects;
}

static uint64_t stat_saves_total(const struct server *srv)
{
	return srv->persist.saves;
}

static uint64_t stat_save_failures_total(const struct server *srv)
{
	return srv->persist.failures;
}

static uint64_t stat_save_in_progress(const struct server *srv)
{
	return (uint64_t)srv->persist.running;
}

static uint64_t stat_changes_since_save(const struct server *srv)
{
	return srv->persist.changes - srv->persist.changes_saved;
}

static uint64_t stat_load_duration_ns(const struct server *srv)
{
	return srv->persist.load_ns;
}

/* zerocopy.c's */
static uint64_t stat_views(const struct server *srv)
{
	uint64_t n = 0;
	for (const struct list *l = srv->sessions.next; l != &srv->sessions; l = l->next) {
		const struct session *s = container_of(l, struct session, link);
		n += s->views ? heap_holds_count(s->views) : 0;
	}
	return n;
}

static uint64_t stat_arena_file_bytes(const struct server *srv)
{
	struct stat st;
	return fstat(heap_arena_fd(srv->heap), &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static uint64_t stat_uids(const struct server *srv)
{
	return srv->ten_count;
}

static uint64_t stat_root_name_bytes(const struct server *srv)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < srv->ten_nbuckets; i++)
		for (const struct tenant *t = srv->ten_buckets[i]; t; t = t->next)
			n += t->root_bytes;
	return n;
}

static uint64_t stat_uid_roots_refused(const struct server *srv)
{
	return srv->quota_roots_refused;
}

static uint64_t stat_uid_holds_refused(const struct server *srv)
{
	return srv->quota_holds_refused;
}

static uint64_t stat_uid_output_stalls(const struct server *srv)
{
	return srv->quota_output_stalls;
}

static uint64_t stat_uid_heap_refused(const struct server *srv)
{
	return srv->quota_heap_refused;
}

/* The pause ring, oldest first, as the wire has it. */
static void put_pauses(Heapd__Stats *out, const struct heap_stats *st, uint64_t *ring)
{
	size_t n = st->num_pause < HEAP_PAUSE_RING ? st->num_pause : HEAP_PAUSE_RING;
	for (size_t i = 0; i < n; i++)
		ring[i] = st->pause_ns[(st->num_pause - n + i) % HEAP_PAUSE_RING];
	out->n_pause_ns = n;
	out->pause_ns = ring;
}

/* Every row of HEAPD_STATS: the engine's figures, then the daemon's. */
static void fill_stats(struct server *srv, Heapd__Stats *out, uint64_t *ring)
{
	struct heap_stats st;
	heap_read_stats(srv->heap, &st);
	heapd__stats__init(out);
#define FROM_HEAP(name, kind) HEAPD_STAT_IF_RING(kind, put_pauses(out, &st, ring), out->name = st.name);
#define FROM_SERVER(name, kind) out->name = stat_##name(srv);
#define X(name, kind, who, ...) FROM_##who(name, kind)
	HEAPD_STATS(X)
#undef X
#undef FROM_HEAP
#undef FROM_SERVER
}

static void op_get_stats(struct disp_call *c)
{
	struct session *s = c->s;
	struct disp_reply *rp = c->rp;
	Heapd__Stats *stats = scratch_alloc(&s->srv->scratch, sizeof *stats);
	uint64_t *ring = scratch_alloc(&s->srv->scratch, HEAP_PAUSE_RING * sizeof *ring);
	if (!stats || !ring) {
		disp_fail(rp, HEAPD__STATUS__INTERNAL, "get_stats: out of memory");
		return;
	}
	fill_stats(s->srv, stats, ring);
	rp->r.result_case = HEAPD__RESPONSE__RESULT_STATS;
	rp->r.stats = stats;
}

static int by_uid(const void *a, const void *b)
{
	uint64_t x = ((const Heapd__UidRow *)a)->uid, y = ((const Heapd__UidRow *)b)->uid;
	return (x > y) - (x < y);
}

static void put_uid_row(Heapd__UidRow *r, const struct server *srv, const struct tenant *t)
{
	heapd__uid_row__init(r);
	r->uid = t->uid;
	for (const struct list *l = t->sessions.next; l != &t->sessions; l = l->next)
		r->connections++;
	r->holds = t->holds;
	r->named_roots = t->roots;
	r->root_name_bytes = t->root_bytes;
	r->output_bytes = t->output;
	r->heap_bytes = ten_heap_bytes(srv, t);
	r->roots_refused = t->roots_refused;
	r->holds_refused = t->holds_refused;
	r->output_stalls = t->output_stalls;
}

/* A row per uid, by uid, as many as fit in the room: each counts the most
 * a row takes, its fields at their longest (111 bytes). The uids are those
 * with a struct tenant (a connection, root or hold), and those with only
 * objects in the heap, which keep their engine tenant (tenant.c). */
static void op_uid_stats(struct disp_call *c)
{
	static const char *const no_strs[] = {NULL};
	struct server *srv = c->s->srv;
	size_t row = pb_fixed_bound(&heapd__uid_row__descriptor, no_strs, false) + UID_ROW_FRAMING;
	size_t fit = c->room / row, n = 0, most = srv->ten_count + HEAP_TENANTS;
	Heapd__UidTable *tab = scratch_alloc(&srv->scratch, sizeof *tab);
	Heapd__UidRow *rows = scratch_alloc(&srv->scratch, most * sizeof *rows);
	if (!tab || !rows) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "uid_stats: out of memory");
		return;
	}
	for (uint32_t i = 0; i < srv->ten_nbuckets; i++)
		for (const struct tenant *t = srv->ten_buckets[i]; t; t = t->next)
			put_uid_row(&rows[n++], srv, t);
	for (unsigned i = 1; i < HEAP_TENANTS; i++) {
		uint64_t bytes = heap_tenant_bytes(srv->heap, i);
		if ((srv->heap_uid_set >> i & 1) && bytes && !ten_find(srv, srv->heap_uid[i])) {
			heapd__uid_row__init(&rows[n]);
			rows[n].uid = srv->heap_uid[i];
			rows[n++].heap_bytes = bytes;
		}
	}
	qsort(rows, n, sizeof *rows, by_uid);
	heapd__uid_table__init(tab);
	tab->truncated = n > fit;
	tab->n_rows = n < fit ? n : fit;
	tab->rows = scratch_alloc(&srv->scratch, tab->n_rows * sizeof *tab->rows);
	if (!tab->rows) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "uid_stats: out of memory");
		return;
	}
	for (size_t i = 0; i < tab->n_rows; i++)
		tab->rows[i] = &rows[i];
	c->rp->r.result_case = HEAPD__RESPONSE__RESULT_UIDS;
	c->rp->r.uids = tab;
}

/* gc and free_os_memory answer once the collection is done (collector.c). */
static void op_gc(struct disp_call *c)
{
	coll_wait(c->s, c->rp->r.id, 0);
	c->rp->deferred = 1;
}

static void op_free_os_memory(struct disp_call *c)
{
	coll_wait(c->s, c->rp->r.id, 1);
	c->rp->deferred = 1;
}

/* save answers now, or once its save is on disk (persist.c). */
static void op_save(struct disp_call *c)
{
	if (!c->s->srv->cfg.state_dir[0]) {
		disp_fail(c->rp, HEAPD__STATUS__INVALID, "save: heapd keeps no snapshot (state_dir is empty)");
		return;
	}
	persist_request(c->s, c->rp->r.id, c->req->save->wait);
	c->rp->deferred = 1;
}

static void op_batch(struct disp_call *c)
{
	batch_run(c->s, c->rp->r.id, c->req->batch);
	c->rp->deferred = 1;
}

/* What an op costs the loop, for the turn's budget (session.c): bytes it
 * zeroes or copies, and a floor for the rest. */
static uint64_t cost(const Heapd__Request *req)
{
	enum { OP_COST = 1024 };
	switch (req->op_case) {
	case HEAPD__REQUEST__OP_ALLOC:
		return OP_COST + 8 * (uint64_t)req->alloc->nrefs + req->alloc->nbytes;
	case HEAPD__REQUEST__OP_WRITE:
		return OP_COST + req->write->data.len;
	case HEAPD__REQUEST__OP_READ:
		return OP_COST + req->read->length;
	default:
		return OP_COST;
	}
}

/* What an op does, for the roles: see op_permitted. */
enum op_kind {
	OP_READ,   /* reads the heap, or only this session's holds */
	OP_WRITE,  /* changes objects or roots */
	OP_ADMIN,  /* runs the collector for everyone */
	OP_SAVE,   /* writes the heap to disk: admins only, gc_by_anyone or not */
	OP_KILL,   /* closes another's connection: admins only */
};

static enum op_kind op_kind(Heapd__Request__OpCase op)
{
	switch (op) {
	case HEAPD__REQUEST__OP_HELLO:
	case HEAPD__REQUEST__OP_PING:
	case HEAPD__REQUEST__OP_READ:
	case HEAPD__REQUEST__OP_GET_REF:
	case HEAPD__REQUEST__OP_RELEASE:
	case HEAPD__REQUEST__OP_ROOT_GET:
	case HEAPD__REQUEST__OP_ROOT_LIST:
	case HEAPD__REQUEST__OP_GET_STATS:
	case HEAPD__REQUEST__OP_UID_STATS:
	case HEAPD__REQUEST__OP_OBJECT_INFO:
	case HEAPD__REQUEST__OP_ROOT_INFO:
	case HEAPD__REQUEST__OP_ROOT_SCAN:
	case HEAPD__REQUEST__OP_CLIENT_LIST:
	case HEAPD__REQUEST__OP_RETAINED:  /* by anyone; max_retained_per_uid bounds it */
	case HEAPD__REQUEST__OP_VIEW:      /* zero_copy_uids bound these (zerocopy.c) */
	case HEAPD__REQUEST__OP_VIEW_RELEASE:
	case HEAPD__REQUEST__OP_MAP_ARENA:
	case HEAPD__REQUEST__OP_BATCH:  /* each of its ops is checked */
		return OP_READ;
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_WRITE:
	case HEAPD__REQUEST__OP_SET_REF:
	case HEAPD__REQUEST__OP_ROOT_SET:
	case HEAPD__REQUEST__OP_ROOT_CHMOD:
	case HEAPD__REQUEST__OP_ROOT_CHOWN:
	case HEAPD__REQUEST__OP_CAS_REF:
	case HEAPD__REQUEST__OP_ROOT_CAS:
	case HEAPD__REQUEST__OP_SEAL:
		return OP_WRITE;
	case HEAPD__REQUEST__OP_GC:
	case HEAPD__REQUEST__OP_FREE_OS_MEMORY:
		return OP_ADMIN;
	case HEAPD__REQUEST__OP_SAVE:
		return OP_SAVE;
	case HEAPD__REQUEST__OP_CLIENT_KILL:
		return OP_KILL;
	HEAPD_OP_NONE_CASES:
		break;
	}
	return OP_READ;  /* no op: run_op answers it */
}

/* Whether s's role lets it run req's op; if not, rp fails (PERMISSION). */
static int op_permitted(const struct session *s, enum op_kind kind, const Heapd__Request *req,
			struct disp_reply *rp)
{
	const char *what = disp_op_name(req->op_case);
	if (kind == OP_READ || s->role == ROLE_ADMIN)
		return 1;
	if (s->role == ROLE_READONLY) {
		disp_fail(rp, HEAPD__STATUS__PERMISSION, "%s: uid %u is read-only (readonly_uids or readonly_gids)",
			  what, (unsigned)s->uid);
		return 0;
	}
	if (kind == OP_SAVE || kind == OP_KILL) {
		disp_fail(rp, HEAPD__STATUS__PERMISSION, "%s: uid %u is not an admin; only admin_uids may %s", what,
			  (unsigned)s->uid, kind == OP_SAVE ? "save" : "close a connection");
		return 0;
	}
	if (kind == OP_ADMIN && !s->srv->cfg.gc_by_anyone) {
		disp_fail(rp, HEAPD__STATUS__PERMISSION,
			  "%s: uid %u is not an admin; only admin_uids may start a collection (gc_by_anyone = no)",
			  what, (unsigned)s->uid);
		return 0;
	}
	return 1;
}

static void run_op(struct disp_call *c)
{
	switch (c->req->op_case) {
#define X(name, NAME, ...) case HEAPD__REQUEST__OP_##NAME: op_##name(c); return;
	HEAPD_OPS(X)
#undef X
	HEAPD_OP_NONE_CASES:
		break;
	}
	disp_fail(c->rp, HEAPD__STATUS__PROTOCOL, "unknown or missing operation");
}

void disp_op(struct session *s, Heapd__Request *req, size_t room, struct disp_reply *rp)
{
	struct disp_call c = {.s = s, .req = req, .room = room, .rp = rp};
	rp->s = s;
	uint64_t held = sess_held(s);
	enum op_kind kind = op_kind(req->op_case);
	sess_turn_add(s->srv, cost(req));
	if (op_permitted(s, kind, req, rp))
		run_op(&c);
	if (kind == OP_WRITE && rp->r.status == HEAPD__STATUS__OK)
		s->srv->persist.changes++;
	/* A batch's ops are counted each by its own disp_op call: its reply
	 * repeats the failed op's status, which is not another invalid ref. */
	if (req->op_case == HEAPD__REQUEST__OP_BATCH)
		return;
	if (rp->r.status == HEAPD__STATUS__BAD_REF)
		guard_bad_ref(s);
	s->ten->holds += sess_held(s) - held;  /* modular: a release subtracts */
}

int disp_request(struct session *s, Heapd__Request *req)
{
	struct disp_reply rp;
	disp_reply_init(&rp, req->id);
	s->srv->activity++;
	s->requests++;
	if (s->state == S_HELLO) {
		Heapd__HelloReply hello;
		hello_first(s, req, &rp, &hello);
		if (rp.r.status != HEAPD__STATUS__OK) {
			sess_close(s, &rp.r);
			return -1;
		}
		sess_reply(s, &rp.r);
		return 0;
	}
	rp.packed_now = 1;
	if (batch_stray_from(req, &rp) == 0)
		disp_op(s, req, s->srv->cfg.max_frame - READ_REPLY_OVERHEAD, &rp);
	if (rp.wait_room) {
		sess_hold(s, HELD_ROOM, req, NULL);
		coll_wait_room(s);
	} else if (rp.flush_first) {
		sess_hold(s, HELD_FLUSH, req, NULL);
	} else if (rp.close_after) {
		sess_close(s, &rp.r);
		return -1;
	} else if (!rp.deferred) {
		sess_reply(s, &rp.r);
	}
	return 0;
}

void disp_retry(struct session *s, Heapd__Request *req)
{
	struct disp_reply rp;
	disp_reply_init(&rp, req->id);
	rp.retried = 1;
	rp.packed_now = 1;
	disp_op(s, req, s->srv->cfg.max_frame - READ_REPLY_OVERHEAD, &rp);
	sess_reply(s, &rp.r);
}

void disp_finish_wait(struct session *s)
{
	s->state = S_READY;
	if (s->held.why == HELD_NONE) {
		Heapd__Response resp = HEAPD__RESPONSE__INIT;
		resp.id = s->wait_id;
		sess_reply(s, &resp);
	}
	sess_process(s);  /* which runs a held request on first */
}
