/*
 * introspect.c - what is in the heap and who is connected: object_info,
 * client_list and client_kill (root_info and root_scan are roots.c's).
 *
 * object_info answers what the engine knows of an object (heap_object_info):
 * its sizes, the heap bytes it takes and its age in collections survived
 * (daemon/heap/age.c). Any ref the caller has may be asked about,
 * read-only ones too; the engine checks it as on every use; sealed says
 * whether seal was called on it (zerocopy.c).
 *
 * client_list answers a row per open connection, by session id: an admin
 * sees every one, anyone else those of its own uid. What a row says is
 * kept as it happens, never computed at the listing: pid, uid and gid from
 * SO_PEERCRED and the command name from /proc at connect time
 * (listener.c), the name from Hello, holds and held bytes from the
 * session's hold set (the engine keeps both as holds come and go),
 * requests and frame bytes as they are read and written (session.c,
 * dispatch.c). Rows that do not fit in the reply are left out, said by
 * truncated. A connection already closing is no longer listed.
 *
 * client_kill is an admin's (op_kind): it closes the connection at once,
 * dropping its unsent replies, as a client that crashed: its holds go.
 * An admin may close its own connection: the reply is sent, then it
 * closes (disp_reply.close_after).
 */
#include <string.h>

#include "bound.h"
#include "dispatch.h"
#include "server.h"

/* What a ClientRow takes besides its fields: its tag and length. */
#define CLIENT_ROW_FRAMING 6u

int disp_object_info(struct session *s, heap_ref ref, struct disp_reply *rp, Heapd__ObjectInfoReply **out)
{
	struct heap_object_info oi;
	int err = heap_object_info(s->srv->heap, ref, &oi);
	if (err)
		return err;
	Heapd__ObjectInfoReply *info = scratch_alloc(&s->srv->scratch, sizeof *info);
	if (!info)
		return HEAP_ENOMEM;
	heapd__object_info_reply__init(info);
	info->nrefs = oi.nrefs;
	info->nbytes = oi.nbytes;
	info->size = oi.size;
	info->age = oi.age;
	info->sealed = oi.sealed;
	rp->r.result_case = HEAPD__RESPONSE__RESULT_INFO;
	rp->r.info = info;
	*out = info;
	return 0;
}

void op_object_info(struct disp_call *c)
{
	Heapd__ObjectInfoReply *info;
	int err = disp_object_info(c->s, c->req->object_info->obj, c->rp, &info);
	if (err == HEAP_ENOMEM)
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "object_info: out of memory");
	else if (err)
		disp_engine_fail(c->rp, err, "object_info");
}

/* Whether asker may see (and, an admin, close) connection t. */
static int visible(const struct session *asker, const struct session *t)
{
	return t->state != S_CLOSING && (asker->role == ROLE_ADMIN || asker->uid == t->uid);
}

static void put_client_row(Heapd__ClientRow *r, const struct session *asker, struct session *t)
{
	heapd__client_row__init(r);
	r->id = t->id;
	r->pid = (uint32_t)t->pid;
	r->uid = t->uid;
	r->gid = t->gid;
	r->comm = t->comm;
	r->name = t->name;
	r->connected_unix_ns = t->connected_unix_ns;
	r->holds = t->holds ? heap_holds_count(t->holds) : 0;
	r->held_bytes = t->holds ? heap_holds_bytes(t->holds) : 0;
	r->views = t->views ? heap_holds_count(t->views) : 0;
	r->requests = t->requests;
	r->bytes_in = t->bytes_in;
	r->bytes_out = t->bytes_out;
	r->self = t == asker;
}

/* Sessions are on srv->sessions in the order they were accepted, which
 * is their ids' (sess_accepted), so the rows come by id. */
void op_client_list(struct disp_call *c)
{
	static const char *const strs[] = {"comm", "name", NULL};
	struct server *srv = c->s->srv;
	size_t fixed = pb_fixed_bound(&heapd__client_row__descriptor, strs, false) + CLIENT_ROW_FRAMING;
	size_t used = 0, n = 0;
	Heapd__ClientTable *tab = scratch_alloc(&srv->scratch, sizeof *tab);
	Heapd__ClientRow *rows = scratch_alloc(&srv->scratch, (srv->nsessions + 1) * sizeof *rows);
	Heapd__ClientRow **ptrs = scratch_alloc(&srv->scratch, (srv->nsessions + 1) * sizeof *ptrs);
	if (!tab || !rows || !ptrs) {
		disp_fail(c->rp, HEAPD__STATUS__INTERNAL, "client_list: out of memory");
		return;
	}
	heapd__client_table__init(tab);
	for (struct list *l = srv->sessions.next; l != &srv->sessions && n < srv->nsessions; l = l->next) {
		struct session *t = container_of(l, struct session, link);
		if (!visible(c->s, t))
			continue;
		size_t row = fixed + strlen(t->comm) + strlen(t->name);
		if (used + row > c->room) {
			tab->truncated = 1;
			break;
		}
		used += row;
		put_client_row(&rows[n], c->s, t);
		ptrs[n] = &rows[n];
		n++;
	}
	tab->rows = ptrs;
	tab->n_rows = n;
	c->rp->r.result_case = HEAPD__RESPONSE__RESULT_CLIENTS;
	c->rp->r.clients = tab;
}

void op_client_kill(struct disp_call *c)
{
	struct server *srv = c->s->srv;
	uint64_t id = c->req->client_kill->id;
	for (struct list *l = srv->sessions.next; l != &srv->sessions; l = l->next) {
		struct session *t = container_of(l, struct session, link);
		if (t->id != id || !visible(c->s, t))
			continue;
		log_info("session %llu (pid %d uid %u): closed by client_kill from session %llu (uid %u)",
			 (unsigned long long)t->id, (int)t->pid, (unsigned)t->uid, (unsigned long long)c->s->id,
			 (unsigned)c->s->uid);
		if (t == c->s)
			c->rp->close_after = 1;
		else
			sess_abort(t);
		return;
	}
	disp_fail(c->rp, HEAPD__STATUS__NOT_FOUND, "client_kill: no connection with id %llu", (unsigned long long)id);
}
