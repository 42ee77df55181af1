/*
 * wire.c - requests, frames and replies, at the bottom of libheapd
 * (wire.h states the rules).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bound.h"
#include "wire.h"

void wire_hello(struct wire_req *w, const char *client_name)
{
	wire_op(w, HEAPD__REQUEST__OP_HELLO);
	w->op.hello.version = WIRE_VERSION;
	w->op.hello.client_name = (char *)client_name;
}

void wire_alloc(struct wire_req *w, heapd_ref into, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		uint32_t len)
{
	wire_op(w, HEAPD__REQUEST__OP_ALLOC);
	w->op.alloc.nrefs = nrefs;
	w->op.alloc.nbytes = nbytes;
	w->op.alloc.data.data = (uint8_t *)data;
	w->op.alloc.data.len = len;
	w->op.alloc.into_obj = into;
	w->op.alloc.into_slot = slot;
}

void wire_write(struct wire_req *w, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	wire_op(w, HEAPD__REQUEST__OP_WRITE);
	w->op.write.obj = obj;
	w->op.write.offset = off;
	w->op.write.data.data = (uint8_t *)buf;
	w->op.write.data.len = len;
}

void wire_read(struct wire_req *w, heapd_ref obj, uint32_t off, uint32_t len)
{
	wire_op(w, HEAPD__REQUEST__OP_READ);
	w->op.read.obj = obj;
	w->op.read.offset = off;
	w->op.read.length = len;
}

void wire_set_ref(struct wire_req *w, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	wire_op(w, HEAPD__REQUEST__OP_SET_REF);
	w->op.set_ref.obj = obj;
	w->op.set_ref.slot = slot;
	w->op.set_ref.target = target;
}

void wire_get_ref(struct wire_req *w, heapd_ref obj, uint32_t slot)
{
	wire_op(w, HEAPD__REQUEST__OP_GET_REF);
	w->op.get_ref.obj = obj;
	w->op.get_ref.slot = slot;
}

void wire_release(struct wire_req *w, heapd_ref obj)
{
	wire_op(w, HEAPD__REQUEST__OP_RELEASE);
	w->op.release.obj = obj;
}

/* A root name goes as bytes: those before its NUL. */
static ProtobufCBinaryData name_bytes(const char *name)
{
	return (ProtobufCBinaryData){.data = (uint8_t *)name, .len = name ? strlen(name) : 0};
}

void wire_root_set(struct wire_req *w, const char *name, heapd_ref obj)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_SET);
	w->op.root_set.name = name_bytes(name);
	w->op.root_set.obj = obj;
}

void wire_root_get(struct wire_req *w, const char *name)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_GET);
	w->op.root_get.name = name_bytes(name);
}

void wire_root_chmod(struct wire_req *w, const char *name, uint32_t mode)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_CHMOD);
	w->op.root_chmod.name = name_bytes(name);
	w->op.root_chmod.mode = mode;
}

void wire_root_chown(struct wire_req *w, const char *name, uint32_t uid, uint32_t gid)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_CHOWN);
	w->op.root_chown.name = name_bytes(name);
	w->op.root_chown.uid = uid;
	w->op.root_chown.gid = gid;
}

void wire_object_info(struct wire_req *w, heapd_ref obj)
{
	wire_op(w, HEAPD__REQUEST__OP_OBJECT_INFO);
	w->op.object_info.obj = obj;
}

void wire_root_info_req(struct wire_req *w, const char *name)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_INFO);
	w->op.root_info.name = name_bytes(name);
}

void wire_root_scan(struct wire_req *w, const char *pattern, uint64_t cursor, uint32_t count)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_SCAN);
	w->op.root_scan.pattern = name_bytes(pattern);
	w->op.root_scan.cursor = cursor;
	w->op.root_scan.count = count;
}

void wire_client_kill(struct wire_req *w, uint64_t id)
{
	wire_op(w, HEAPD__REQUEST__OP_CLIENT_KILL);
	w->op.client_kill.id = id;
}

void wire_cas_ref(struct wire_req *w, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target)
{
	wire_op(w, HEAPD__REQUEST__OP_CAS_REF);
	w->op.cas_ref.obj = obj;
	w->op.cas_ref.slot = slot;
	w->op.cas_ref.expected = expected;
	w->op.cas_ref.target = target;
}

void wire_root_cas(struct wire_req *w, const char *name, heapd_ref expected, heapd_ref target)
{
	wire_op(w, HEAPD__REQUEST__OP_ROOT_CAS);
	w->op.root_cas.name = name_bytes(name);
	w->op.root_cas.expected = expected;
	w->op.root_cas.target = target;
}

void wire_retained(struct wire_req *w, heapd_ref obj, const char *name)
{
	wire_op(w, HEAPD__REQUEST__OP_RETAINED);
	w->op.retained.obj = obj;
	w->op.retained.name = name_bytes(name);
}

void wire_seal(struct wire_req *w, heapd_ref obj)
{
	wire_op(w, HEAPD__REQUEST__OP_SEAL);
	w->op.seal.obj = obj;
}

void wire_view(struct wire_req *w, heapd_ref obj)
{
	wire_op(w, HEAPD__REQUEST__OP_VIEW);
	w->op.view.obj = obj;
}

void wire_view_release(struct wire_req *w, heapd_ref obj)
{
	wire_op(w, HEAPD__REQUEST__OP_VIEW_RELEASE);
	w->op.view_release.obj = obj;
}

int wire_reserve(struct wire_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return HEAPD_ENOBUFS;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Requests are packed straight into their frame (proto/bound.c):
 * op_bound[op] is the most a request of that operation takes besides its
 * payload (HEAPD_OPS), or SIZE_MAX when it is sized exactly first (a
 * batch, HEAPD_SIZED, whose repeated ops have no bound; or a message with
 * fields the bound would not count, which tests/client/test_wire rules
 * out). Set once per process. */
#define OP_CASES 64 /* more than Request's largest field number */
#define X(name, NAME, ...) _Static_assert(HEAPD__REQUEST__OP_##NAME < OP_CASES, "op_bound has room for " #name);
HEAPD_OPS(X)
#undef X
static size_t op_bound[OP_CASES];
static pthread_once_t op_bound_once = PTHREAD_ONCE_INIT;

static void op_bound_init(void)
{
	static const char *const none[] = {NULL};
	size_t fixed = pb_fixed_bound(&heapd__request__descriptor, none, true);
#define HEAPD_OP_STR(f) #f,
#define HEAPD_OP_BYTES(f) #f,
#define HEAPD_OP_SIZED
#define X(name, NAME, Type, where, refs, payload, ...)                                                 \
	{                                                                                              \
		static const char *const strs[] = {payload NULL};                                      \
		size_t sub = pb_fixed_bound(&heapd__##name##__descriptor, strs, false);                \
		op_bound[HEAPD__REQUEST__OP_##NAME] = fixed == SIZE_MAX || sub == SIZE_MAX ? SIZE_MAX : fixed + sub; \
	}
	HEAPD_OPS(X)
#undef X
#undef HEAPD_OP_STR
#undef HEAPD_OP_BYTES
#undef HEAPD_OP_SIZED
}

static size_t str_len(const char *s)
{
	return s ? strlen(s) : 0;
}

/* The length of req's one string or bytes field (HEAPD_OPS' payload). */
static size_t payload(const Heapd__Request *req)
{
	switch (req->op_case) {
#define HEAPD_OP_STR(f) return str_len(m->f);
#define HEAPD_OP_BYTES(f) return m->f.len;
#define HEAPD_OP_SIZED
#define X(name, NAME, Type, where, refs, payload, ...) \
	case HEAPD__REQUEST__OP_##NAME: {              \
		const Heapd__##Type *m = req->name;    \
		(void)m;                               \
		payload                                \
		break;                                 \
	}
		HEAPD_OPS(X)
#undef X
#undef HEAPD_OP_STR
#undef HEAPD_OP_BYTES
#undef HEAPD_OP_SIZED
	HEAPD_OP_NONE_CASES:
		break;
	}
	return 0;
}

size_t wire_bound(const Heapd__Request *req)
{
	pthread_once(&op_bound_once, op_bound_init);
	size_t fixed = (unsigned)req->op_case < OP_CASES ? op_bound[req->op_case] : SIZE_MAX;
	return fixed == SIZE_MAX ? SIZE_MAX : fixed + payload(req);
}

int wire_append(struct wire_buf *b, const Heapd__Request *req, uint32_t max_frame, size_t *framed)
{
	size_t room = wire_bound(req);
	if (room > max_frame) {
		room = heapd__request__get_packed_size(req);
		if (room > max_frame)
			return HEAPD_ELIMIT;
	}
	if (wire_reserve(b, WIRE_HEADER + room) != 0)
		return HEAPD_ENOBUFS;
	uint8_t *p = b->p + b->len;
	size_t n = heapd__request__pack(req, p + WIRE_HEADER);  /* <= room <= max_frame */
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	b->len += WIRE_HEADER + n;
	*framed = WIRE_HEADER + n;
	return 0;
}

void wire_consume(struct wire_buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void wire_buf_free(struct wire_buf *b)
{
	free(b->p);
	*b = (struct wire_buf){0};
}

int wire_status(const Heapd__Response *r)
{
	switch (r->status) {
#define X(name, value, status, msg) case HEAPD__STATUS__##status: return HEAPD_##name;
#define L(name, value, msg)
	HEAPD_ERRORS(X, L)
#undef X
#undef L
	default: /* INTERNAL, or a status this library does not know */
		return HEAPD_EPROTO;
	}
}

const char *heapd_strerror(int code)
{
	switch (code) {
#define X(name, value, status, msg) case HEAPD_##name: return msg;
#define L(name, value, msg) case HEAPD_##name: return msg;
	HEAPD_ERRORS(X, L)
#undef X
#undef L
	}
	return "unknown error";
}

/* Whether an OK reply r fits a request whose result (HEAPD_OPS) is ...:
 * NULL if it does, else what is wrong. */
static const char *result_none(const Heapd__Response *r, uint32_t read_len)
{
	(void)r, (void)read_len;
	return NULL;
}

/* The results that need only be of their kind. */
#define RESULT_OF(kind, CASE, msg)                                                        \
	static const char *result_##kind(const Heapd__Response *r, uint32_t read_len)     \
	{                                                                                 \
		(void)read_len;                                                           \
		return r->result_case == HEAPD__RESPONSE__RESULT_##CASE ? NULL : msg;     \
	}
RESULT_OF(ref_or_null, REF, "reply without a ref")
RESULT_OF(cas, REF, "reply without a ref")  /* cas_ref, root_cas: what was there, 0 or a ref */
RESULT_OF(stats, STATS, "reply without stats")
RESULT_OF(uids, UIDS, "reply without uid rows")
RESULT_OF(info, INFO, "reply without object info")
RESULT_OF(clients, CLIENTS, "reply without client rows")
RESULT_OF(retained, RETAINED, "reply without a count")
RESULT_OF(batch, BATCH, "batch reply without results")
#undef RESULT_OF

static const char *result_ref(const Heapd__Response *r, uint32_t read_len)
{
	(void)read_len;
	return r->result_case == HEAPD__RESPONSE__RESULT_REF && r->ref ? NULL : "reply without a ref";
}

static const char *result_data(const Heapd__Response *r, uint32_t read_len)
{
	return r->result_case == HEAPD__RESPONSE__RESULT_DATA && r->data.len == read_len
		       ? NULL
		       : "read reply of the wrong length";
}

static const char *result_roots(const Heapd__Response *r, uint32_t read_len)
{
	(void)read_len;
	if (r->result_case != HEAPD__RESPONSE__RESULT_ROOTS)
		return "reply without root names";
	const Heapd__RootNames *n = r->roots;
	return n->n_uids == n->n_names && n->n_gids == n->n_names && n->n_modes == n->n_names
		       ? NULL
		       : "root names without an owner, group and mode each";
}

/* view, map_arena: the bytes lie within the arena, the arena within what
 * it may grow to (view.h relies on both), without overflow. */
static const char *result_view(const Heapd__Response *r, uint32_t read_len)
{
	(void)read_len;
	if (r->result_case != HEAPD__RESPONSE__RESULT_VIEW)
		return "reply without a view";
	const Heapd__ViewReply *v = r->view;
	if (v->arena_size > v->arena_reserved || v->offset > v->arena_size || v->length > v->arena_size - v->offset)
		return "view reply outside the arena";
	return NULL;
}

static const char *result_hello(const Heapd__Response *r, uint32_t read_len)
{
	(void)read_len;
	if (r->result_case != HEAPD__RESPONSE__RESULT_HELLO || r->hello->version != WIRE_VERSION ||
	    r->hello->max_frame < 64)
		return "unexpected Hello reply";
	return NULL;
}

const char *wire_check_result(Heapd__Request__OpCase op, uint32_t read_len, const Heapd__Response *r)
{
	switch (op) {
#define X(name, NAME, Type, where, refs, payload, result) \
	case HEAPD__REQUEST__OP_##NAME: return result_##result(r, read_len);
		HEAPD_OPS(X)
#undef X
	HEAPD_OP_NONE_CASES:
		break;
	}
	return "reply to no operation";
}

/* The wire sends the pause ring oldest first; put it back as a ring. */
static void get_pauses(const Heapd__Stats *s, heapd_stats *out)
{
	size_t n = s->n_pause_ns < HEAPD_PAUSE_RING ? s->n_pause_ns : HEAPD_PAUSE_RING;
	for (size_t i = 0; i < n; i++)
		out->pause_ns[(s->num_pause - n + i) % HEAPD_PAUSE_RING] = s->pause_ns[s->n_pause_ns - n + i];
}

void wire_stats(const Heapd__Stats *s, heapd_stats *out)
{
	memset(out, 0, sizeof *out);
#define X(name, kind, ...) HEAPD_STAT_IF_RING(kind, , out->name = s->name;)
	HEAPD_STATS(X)
#undef X
	get_pauses(s, out);
}

static void uid_row(const Heapd__UidRow *w, heapd_uid_stat *out)
{
	*out = (heapd_uid_stat){
		.uid = w->uid,
		.connections = w->connections,
		.holds = w->holds,
		.named_roots = w->named_roots,
		.root_name_bytes = w->root_name_bytes,
		.output_bytes = w->output_bytes,
		.heap_bytes = w->heap_bytes,
		.roots_refused = w->roots_refused,
		.holds_refused = w->holds_refused,
		.output_stalls = w->output_stalls,
	};
}

/* Rows by pointer, so that a program built with fewer fields reads each
 * at its start (heapd_reply's uids). */
static int uid_rows(const Heapd__UidTable *t, struct scratch *sc, heapd_reply *r)
{
	heapd_uid_stat *rows = scratch_alloc(sc, t->n_rows * sizeof *rows);
	const heapd_uid_stat **p = scratch_alloc(sc, t->n_rows * sizeof *p);
	if (!rows || !p)
		return HEAPD_ENOBUFS;
	for (size_t i = 0; i < t->n_rows; i++) {
		uid_row(t->rows[i], &rows[i]);
		p[i] = &rows[i];
	}
	r->uids = p;
	r->nuids = t->n_rows;
	r->truncated = t->truncated;
	return 0;
}

void wire_object_info_of(const Heapd__ObjectInfoReply *w, struct heapd_object_info *out)
{
	*out = (struct heapd_object_info){
		.nrefs = w->nrefs, .nbytes = w->nbytes, .size = w->size, .sealed = w->sealed, .age = w->age};
}

/* A string from the daemon into a fixed field, cut to fit. */
static void copy_text(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);
	n = n < size - 1 ? n : size - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static void client_row(const Heapd__ClientRow *w, heapd_client_info *out)
{
	*out = (heapd_client_info){
		.id = w->id,
		.pid = w->pid,
		.uid = w->uid,
		.gid = w->gid,
		.self = w->self,
		.connected_unix_ns = w->connected_unix_ns,
		.holds = w->holds,
		.held_bytes = w->held_bytes,
		.requests = w->requests,
		.bytes_in = w->bytes_in,
		.bytes_out = w->bytes_out,
	};
	copy_text(out->comm, sizeof out->comm, w->comm);
	copy_text(out->name, sizeof out->name, w->name);
}

static int client_rows(const Heapd__ClientTable *t, struct scratch *sc, heapd_reply *r)
{
	heapd_client_info *rows = scratch_alloc(sc, (t->n_rows ? t->n_rows : 1) * sizeof *rows);
	if (!rows)
		return HEAPD_ENOBUFS;
	for (size_t i = 0; i < t->n_rows; i++)
		client_row(t->rows[i], &rows[i]);
	r->clients = rows;
	r->nclients = t->n_rows;
	r->truncated = t->truncated;
	return 0;
}

static int info_result(const Heapd__ObjectInfoReply *w, struct scratch *sc, heapd_reply *r)
{
	struct heapd_object_info *info = scratch_alloc(sc, sizeof *info);
	if (!info)
		return HEAPD_ENOBUFS;
	wire_object_info_of(w, info);
	r->info = info;
	r->root_uids = &w->uid;
	r->root_gids = &w->gid;
	r->root_modes = &w->mode;
	return 0;
}

int wire_result(const Heapd__Response *resp, heapd_stats *stats, struct scratch *sc, heapd_reply *r)
{
	switch (resp->result_case) {
	case HEAPD__RESPONSE__RESULT_REF:
		r->ref = resp->ref;
		break;
	case HEAPD__RESPONSE__RESULT_DATA:
		r->data = resp->data.len ? resp->data.data : (const uint8_t *)"";
		r->len = resp->data.len;
		break;
	case HEAPD__RESPONSE__RESULT_STATS:
		wire_stats(resp->stats, stats);
		r->stats = stats;
		break;
	case HEAPD__RESPONSE__RESULT_ROOTS:
		r->names = resp->roots->names;
		r->nnames = resp->roots->n_names;
		r->truncated = resp->roots->truncated;
		r->root_uids = resp->roots->uids;
		r->root_gids = resp->roots->gids;
		r->root_modes = resp->roots->modes;
		r->cursor = resp->roots->next_cursor;
		break;
	case HEAPD__RESPONSE__RESULT_UIDS:
		return uid_rows(resp->uids, sc, r);
	case HEAPD__RESPONSE__RESULT_INFO:
		return info_result(resp->info, sc, r);
	case HEAPD__RESPONSE__RESULT_CLIENTS:
		return client_rows(resp->clients, sc, r);
	case HEAPD__RESPONSE__RESULT_RETAINED:
		r->objects = resp->retained->objects;
		r->bytes = resp->retained->bytes;
		break;
	default:
		break;
	}
	return 0;
}

void heapd_free_names(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

char **wire_names(const Heapd__RootNames *r)
{
	char **v = calloc(r->n_names + 1, sizeof *v);
	for (size_t i = 0; v && i < r->n_names; i++) {
		if (!(v[i] = strdup(r->names[i]))) {
			heapd_free_names(v);
			v = NULL;
		}
	}
	return v;
}

heapd_root_info *wire_root_info(const Heapd__RootNames *r)
{
	size_t size = (r->n_names + 1) * sizeof(heapd_root_info);
	for (size_t i = 0; i < r->n_names; i++)
		size += strlen(r->names[i]) + 1;
	heapd_root_info *v = calloc(1, size);
	if (!v)
		return NULL;
	char *p = (char *)(v + r->n_names + 1);
	for (size_t i = 0; i < r->n_names; i++) {
		size_t len = strlen(r->names[i]) + 1;
		v[i] = (heapd_root_info){.name = memcpy(p, r->names[i], len), .uid = r->uids[i], .gid = r->gids[i],
					 .mode = r->modes[i]};
		p += len;
	}
	return v;
}

void heapd_free_root_info(heapd_root_info *roots)
{
	free(roots);
}

int wire_sockaddr(const char **path, struct sockaddr_un *sa)
{
	if (!*path)
		*path = getenv("HEAPD_SOCKET");
	if (!*path || !(*path)[0])
		*path = HEAPD_DEFAULT_SOCKET;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(*path) >= sizeof sa->sun_path)
		return HEAPD_EINVAL;
	strcpy(sa->sun_path, *path);
	return 0;
}

uint64_t wire_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
