/*
 * wire.c - requests, frames and replies, shared by libheapd's cores
 * (wire.h states the rules).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bound.h"
#include "wire.h"

#define SET_OP(w, field, kind, init)                          \
	do {                                                  \
		(w)->req = (Heapd__Request)HEAPD__REQUEST__INIT; \
		(w)->req.op_case = HEAPD__REQUEST__OP_##kind;    \
		(w)->op.field = init;                         \
		(w)->req.field = &(w)->op.field;              \
	} while (0)

void wire_hello(struct wire_req *w, const char *client_name)
{
	SET_OP(w, hello, HELLO, (Heapd__Hello)HEAPD__HELLO__INIT);
	w->op.hello.version = WIRE_VERSION;
	w->op.hello.client_name = (char *)client_name;
}

void wire_ping(struct wire_req *w)
{
	SET_OP(w, ping, PING, (Heapd__Ping)HEAPD__PING__INIT);
}

void wire_alloc(struct wire_req *w, heapd_ref into, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		uint32_t len)
{
	SET_OP(w, alloc, ALLOC, (Heapd__Alloc)HEAPD__ALLOC__INIT);
	w->op.alloc.nrefs = nrefs;
	w->op.alloc.nbytes = nbytes;
	w->op.alloc.data.data = (uint8_t *)data;
	w->op.alloc.data.len = len;
	w->op.alloc.into_obj = into;
	w->op.alloc.into_slot = slot;
}

void wire_write(struct wire_req *w, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	SET_OP(w, write, WRITE, (Heapd__Write)HEAPD__WRITE__INIT);
	w->op.write.obj = obj;
	w->op.write.offset = off;
	w->op.write.data.data = (uint8_t *)buf;
	w->op.write.data.len = len;
}

void wire_read(struct wire_req *w, heapd_ref obj, uint32_t off, uint32_t len)
{
	SET_OP(w, read, READ, (Heapd__Read)HEAPD__READ__INIT);
	w->op.read.obj = obj;
	w->op.read.offset = off;
	w->op.read.length = len;
}

void wire_set_ref(struct wire_req *w, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	SET_OP(w, set_ref, SET_REF, (Heapd__SetRef)HEAPD__SET_REF__INIT);
	w->op.set_ref.obj = obj;
	w->op.set_ref.slot = slot;
	w->op.set_ref.target = target;
}

void wire_get_ref(struct wire_req *w, heapd_ref obj, uint32_t slot)
{
	SET_OP(w, get_ref, GET_REF, (Heapd__GetRef)HEAPD__GET_REF__INIT);
	w->op.get_ref.obj = obj;
	w->op.get_ref.slot = slot;
}

void wire_release(struct wire_req *w, heapd_ref obj)
{
	SET_OP(w, release, RELEASE, (Heapd__Release)HEAPD__RELEASE__INIT);
	w->op.release.obj = obj;
}

void wire_root_set(struct wire_req *w, const char *name, heapd_ref obj)
{
	SET_OP(w, root_set, ROOT_SET, (Heapd__RootSet)HEAPD__ROOT_SET__INIT);
	w->op.root_set.name = (char *)name;
	w->op.root_set.obj = obj;
}

void wire_root_get(struct wire_req *w, const char *name)
{
	SET_OP(w, root_get, ROOT_GET, (Heapd__RootGet)HEAPD__ROOT_GET__INIT);
	w->op.root_get.name = (char *)name;
}

void wire_root_list(struct wire_req *w)
{
	SET_OP(w, root_list, ROOT_LIST, (Heapd__RootList)HEAPD__ROOT_LIST__INIT);
}

void wire_gc(struct wire_req *w)
{
	SET_OP(w, gc, GC, (Heapd__Gc)HEAPD__GC__INIT);
}

void wire_free_os_memory(struct wire_req *w)
{
	SET_OP(w, free_os_memory, FREE_OS_MEMORY, (Heapd__FreeOsMemory)HEAPD__FREE_OS_MEMORY__INIT);
}

void wire_get_stats(struct wire_req *w)
{
	SET_OP(w, get_stats, GET_STATS, (Heapd__GetStats)HEAPD__GET_STATS__INIT);
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
 * op_bound[op] is the most a request of that operation takes besides
 * payload(), or SIZE_MAX when it is sized exactly first (a batch, or an
 * operation whose message has string or bytes fields payload() does not
 * know). Set once per process. */
static size_t op_bound[HEAPD__REQUEST__OP_BATCH + 1];
static pthread_once_t op_bound_once = PTHREAD_ONCE_INIT;

/* How many string and bytes fields payload() reads in op's message. */
static unsigned known_len_fields(int op)
{
	switch (op) {
	case HEAPD__REQUEST__OP_HELLO:
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_WRITE:
	case HEAPD__REQUEST__OP_ROOT_SET:
	case HEAPD__REQUEST__OP_ROOT_GET:
		return 1;
	default:
		return 0;
	}
}

static void op_bound_init(void)
{
	const ProtobufCMessageDescriptor *d = &heapd__request__descriptor;
	unsigned n_len, n_msg = 0, n_sub;
	size_t fixed = pb_fixed_bound(d, &n_len);
	for (unsigned i = 0; i < d->n_fields; i++)
		n_msg += d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE;
	for (int op = 0; op <= HEAPD__REQUEST__OP_BATCH; op++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)op);
		op_bound[op] = SIZE_MAX;
		if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || fixed == SIZE_MAX || n_len != n_msg)
			continue;
		size_t sub = pb_fixed_bound(f->descriptor, &n_sub);
		if (sub != SIZE_MAX && n_sub == known_len_fields(op))
			op_bound[op] = fixed + sub;
	}
}

static size_t str_len(const char *s)
{
	return s ? strlen(s) : 0;
}

/* The length of req's one string or bytes field (known_len_fields). */
static size_t payload(const Heapd__Request *req)
{
	switch (req->op_case) {
	case HEAPD__REQUEST__OP_HELLO:
		return str_len(req->hello->client_name);
	case HEAPD__REQUEST__OP_ALLOC:
		return req->alloc->data.len;
	case HEAPD__REQUEST__OP_WRITE:
		return req->write->data.len;
	case HEAPD__REQUEST__OP_ROOT_SET:
		return str_len(req->root_set->name);
	case HEAPD__REQUEST__OP_ROOT_GET:
		return str_len(req->root_get->name);
	default:
		return 0;
	}
}

size_t wire_bound(const Heapd__Request *req)
{
	pthread_once(&op_bound_once, op_bound_init);
	size_t fixed = (unsigned)req->op_case <= HEAPD__REQUEST__OP_BATCH ? op_bound[req->op_case] : SIZE_MAX;
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

uint32_t wire_frame_len(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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

const char *wire_check_result(Heapd__Request__OpCase op, uint32_t read_len, const Heapd__Response *r)
{
	switch (op) {
	case HEAPD__REQUEST__OP_HELLO:
		if (r->result_case != HEAPD__RESPONSE__RESULT_HELLO || r->hello->version != WIRE_VERSION ||
		    r->hello->max_frame < 64)
			return "unexpected Hello reply";
		return NULL;
	case HEAPD__REQUEST__OP_ALLOC:
	case HEAPD__REQUEST__OP_ROOT_GET:
		return r->result_case == HEAPD__RESPONSE__RESULT_REF && r->ref ? NULL : "reply without a ref";
	case HEAPD__REQUEST__OP_GET_REF:
		return r->result_case == HEAPD__RESPONSE__RESULT_REF ? NULL : "reply without a ref";
	case HEAPD__REQUEST__OP_READ:
		return r->result_case == HEAPD__RESPONSE__RESULT_DATA && r->data.len == read_len
			       ? NULL
			       : "read reply of the wrong length";
	case HEAPD__REQUEST__OP_ROOT_LIST:
		return r->result_case == HEAPD__RESPONSE__RESULT_ROOTS ? NULL : "reply without root names";
	case HEAPD__REQUEST__OP_GET_STATS:
		return r->result_case == HEAPD__RESPONSE__RESULT_STATS ? NULL : "reply without stats";
	default:
		return NULL;
	}
}

void wire_stats(const Heapd__Stats *s, heapd_stats *out)
{
	memset(out, 0, sizeof *out);
	out->heap_alloc = s->heap_alloc;
	out->heap_sys = s->heap_sys;
	out->heap_idle = s->heap_idle;
	out->heap_inuse = s->heap_inuse;
	out->heap_released = s->heap_released;
	out->heap_objects = s->heap_objects;
	out->total_alloc = s->total_alloc;
	out->mallocs = s->mallocs;
	out->frees = s->frees;
	out->gc_sys = s->gc_sys;
	out->wbuf_spans_busy = s->wbuf_spans_busy;
	out->wbuf_spans_free = s->wbuf_spans_free;
	out->next_gc = s->next_gc;
	out->last_gc_unix_ns = s->last_gc_unix_ns;
	out->num_gc = s->num_gc;
	out->num_forced_gc = s->num_forced_gc;
	out->pause_total_ns = s->pause_total_ns;
	out->num_pause = s->num_pause;
	out->max_pause_ns = s->max_pause_ns;
	out->gc_cpu_fraction = s->gc_cpu_fraction;
	out->sweep_spans_idle = s->sweep_spans_idle;
	out->sweep_spans_alloc = s->sweep_spans_alloc;
	out->sweep_spans_gc = s->sweep_spans_gc;
	out->wbuf_spans_freed = s->wbuf_spans_freed;
	out->wbuf_spans_reused = s->wbuf_spans_reused;
	out->wbuf_spans_alloc = s->wbuf_spans_alloc;
	out->scav_released_bytes = s->scav_released_bytes;
	out->scav_madvise_calls = s->scav_madvise_calls;
	out->heap_marked = s->heap_marked;
	out->heap_live = s->heap_live;
	out->holds = s->holds;
	out->rss_bytes = s->rss_bytes;
	out->sessions = s->sessions;
	out->named_roots = s->named_roots;
	out->uptime_ns = s->uptime_ns;
	out->mark_workers = s->mark_workers;
	out->mark_worker_ns = s->mark_worker_ns;
	/* The wire sends the ring oldest first; put it back as a ring. */
	size_t n = s->n_pause_ns < HEAPD_PAUSE_RING ? s->n_pause_ns : HEAPD_PAUSE_RING;
	for (size_t i = 0; i < n; i++)
		out->pause_ns[(s->num_pause - n + i) % HEAPD_PAUSE_RING] = s->pause_ns[s->n_pause_ns - n + i];
}

void wire_result(const Heapd__Response *resp, heapd_stats *stats, heapd_reply *r)
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
		break;
	default:
		break;
	}
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
