/*
 * heapd.c - libheapd's blocking core: one connection, one request at a
 * time, each a frame out and a frame back.
 *
 * A frame is a 4-byte big-endian length and a protobuf message (see
 * docs/protocol.md). The reply to a request carries its id; anything else
 * (another id, an undecodable body, a length over the daemon's max_frame,
 * a missing result) is a protocol error. HEAPD_EIO and HEAPD_EPROTO leave
 * the connection unusable, because the byte stream can no longer be
 * trusted to be in step: every later call fails with the same error.
 *
 * Errors live in the connection (code and message), as in hiredis; they
 * are never thrown into errno. The generated protobuf code is private to
 * the library: only heapd_* symbols are exported.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "heapd.h"
#include "heapd.pb-c.h"
#include "scratch.h"

#define FRAME_HEADER 4u
#define PROTOCOL_VERSION 1u
#define HELLO_MAX_FRAME (16u << 20)  /* until the daemon says its own */

struct heapd {
	int fd;
	int err;
	char errmsg[256];
	uint64_t next_id;
	uint8_t *buf;          /* the request being sent */
	size_t cap;
	uint8_t *in;           /* bytes received: the reply being read, and
	                        * any that followed it */
	size_t in_len, in_cap;
	struct scratch scratch; /* the last reply, decoded: valid until the next call */
	uint64_t session_id;
	char server_version[32];
	uint32_t max_frame;
	uint64_t max_object;
};

static int set_error(heapd *h, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_error(heapd *h, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof h->errmsg, fmt, ap);
	va_end(ap);
	h->err = code;
	return code;
}

/* The connection failed; it stays failed. what NULL keeps the message. */
static int broken(heapd *h, int code, const char *what)
{
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
	if (!what) {
		h->err = code;
		return code;
	}
	return set_error(h, code, "%s", what);
}

static int reserve(heapd *h, size_t n)
{
	if (n <= h->cap)
		return 0;
	uint8_t *p = realloc(h->buf, n);
	if (!p)
		return -1;
	h->buf = p;
	h->cap = n;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Receives until h->in holds at least n bytes, taking whatever the
 * socket has in each recv: a whole reply usually comes in one call. */
static int fill(heapd *h, size_t n)
{
	if (n > h->in_cap) {
		size_t cap = h->in_cap ? h->in_cap : 4096;
		while (cap < n)
			cap *= 2;
		uint8_t *p = realloc(h->in, cap);
		if (!p)
			return -2;
		h->in = p;
		h->in_cap = cap;
	}
	while (h->in_len < n) {
		ssize_t r = recv(h->fd, h->in + h->in_len, h->in_cap - h->in_len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		h->in_len += (size_t)r;
	}
	return 0;
}

/* The next reply frame's body and length, from h->in; consume() drops it
 * once decoded. Returns 0, or the error (the connection is then broken). */
static int read_frame(heapd *h, const uint8_t **body, uint32_t *len)
{
	int r = fill(h, FRAME_HEADER);
	if (r == 0) {
		const uint8_t *p = h->in;
		*len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (*len > h->max_frame)
			return broken(h, HEAPD_EPROTO, "reply longer than max_frame_size");
		r = fill(h, FRAME_HEADER + (size_t)*len);
	}
	if (r == -2)
		return broken(h, HEAPD_ENOBUFS, "out of memory for a reply");
	if (r != 0)
		return broken(h, HEAPD_EIO, "connection closed by the daemon");
	*body = h->in + FRAME_HEADER;
	return 0;
}

static void consume(heapd *h, uint32_t len)
{
	size_t n = FRAME_HEADER + (size_t)len;
	memmove(h->in, h->in + n, h->in_len - n);
	h->in_len -= n;
}

static const int status_code[] = {
	[HEAPD__STATUS__OK] = HEAPD_OK,
	[HEAPD__STATUS__BAD_REF] = HEAPD_EBADREF,
	[HEAPD__STATUS__RANGE] = HEAPD_ERANGE,
	[HEAPD__STATUS__NO_MEMORY] = HEAPD_ENOMEM,
	[HEAPD__STATUS__INVALID] = HEAPD_EINVAL,
	[HEAPD__STATUS__NOT_FOUND] = HEAPD_ENOTFOUND,
	[HEAPD__STATUS__PERMISSION] = HEAPD_EPERM,
	[HEAPD__STATUS__LIMIT] = HEAPD_ELIMIT,
	[HEAPD__STATUS__PROTOCOL] = HEAPD_EPROTO,
	[HEAPD__STATUS__INTERNAL] = HEAPD_EPROTO,
};

/* Sends req and reads its reply into *out, which lives in h->scratch
 * until the next call. Returns 0 when the daemon said OK, or the error,
 * recorded in h. */
static int call(heapd *h, Heapd__Request *req, Heapd__Response **out)
{
	*out = NULL;
	scratch_reset(&h->scratch);
	if (h->fd < 0)
		return h->err ? h->err : set_error(h, HEAPD_EIO, "not connected");
	req->id = ++h->next_id;
	size_t n = heapd__request__get_packed_size(req);
	if (n > h->max_frame)
		return set_error(h, HEAPD_ELIMIT, "request of %zu bytes exceeds the daemon's max_frame_size %u", n,
				 h->max_frame);
	if (reserve(h, FRAME_HEADER + n) != 0)
		return set_error(h, HEAPD_ENOBUFS, "out of memory");
	h->buf[0] = (uint8_t)(n >> 24);
	h->buf[1] = (uint8_t)(n >> 16);
	h->buf[2] = (uint8_t)(n >> 8);
	h->buf[3] = (uint8_t)n;
	heapd__request__pack(req, h->buf + FRAME_HEADER);
	/* A send that fails may still find the daemon's reason waiting to be
	 * read (a refusal sent at accept, then a close): read on, and report
	 * that reason if it is there. */
	int send_errno = write_all(h->fd, h->buf, FRAME_HEADER + n) != 0 ? (errno ? errno : EPIPE) : 0;
	const uint8_t *body = NULL;
	uint32_t len = 0;
	int err = read_frame(h, &body, &len);
	Heapd__Response *resp = err ? NULL : heapd__response__unpack(&h->scratch.pb, len, body);
	if (!err)
		consume(h, len);
	if (send_errno) {
		if (!resp || resp->status == HEAPD__STATUS__OK ||
		    (unsigned)resp->status >= sizeof status_code / sizeof status_code[0])
			return broken(h, HEAPD_EIO, strerror(send_errno));
		set_error(h, status_code[resp->status], "%s", resp->error);
		return broken(h, h->err, NULL);
	}
	if (err)
		return err;
	if (!resp)
		return broken(h, HEAPD_EPROTO, "reply does not decode");
	/* Id 0: an error about the connection itself (e.g. a refusal). */
	if (resp->id != req->id && resp->id != 0)
		return broken(h, HEAPD_EPROTO, "reply to another request");
	if ((unsigned)resp->status >= sizeof status_code / sizeof status_code[0])
		return broken(h, HEAPD_EPROTO, "unknown status in reply");
	int code = status_code[resp->status];
	if (code) {
		set_error(h, code, "%s", resp->error && resp->error[0] ? resp->error : heapd_strerror(code));
		int fatal = code == HEAPD_EPROTO || resp->id == 0;
		if (fatal)
			broken(h, code, NULL);
		return code;
	}
	h->err = 0;
	h->errmsg[0] = '\0';
	*out = resp;
	return 0;
}

/* call() for requests whose reply carries only the status. */
static int call_status(heapd *h, Heapd__Request *req)
{
	Heapd__Response *resp;
	return call(h, req, &resp);
}

/* call() for requests answered with a ref. */
static int call_ref(heapd *h, Heapd__Request *req, heapd_ref *out)
{
	Heapd__Response *resp;
	int err = call(h, req, &resp);
	if (err)
		return err;
	if (resp->result_case != HEAPD__RESPONSE__RESULT_REF)
		return broken(h, HEAPD_EPROTO, "reply without a ref");
	*out = resp->ref;
	return 0;
}

static int hello(heapd *h)
{
	Heapd__Hello msg = HEAPD__HELLO__INIT;
	msg.version = PROTOCOL_VERSION;
	msg.client_name = program_invocation_short_name;
	Heapd__Request req = HEAPD__REQUEST__INIT;
	req.op_case = HEAPD__REQUEST__OP_HELLO;
	req.hello = &msg;
	Heapd__Response *resp;
	int err = call(h, &req, &resp);
	if (err)
		return broken(h, err, NULL);
	if (resp->result_case != HEAPD__RESPONSE__RESULT_HELLO || resp->hello->version != PROTOCOL_VERSION ||
	    resp->hello->max_frame < 64)
		return broken(h, HEAPD_EPROTO, "unexpected Hello reply");
	h->session_id = resp->hello->session_id;
	snprintf(h->server_version, sizeof h->server_version, "%s", resp->hello->server_version);
	h->max_frame = resp->hello->max_frame;
	h->max_object = resp->hello->max_object;
	return 0;
}

heapd *heapd_connect(const char *socket_path)
{
	heapd *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->fd = -1;
	h->max_frame = HELLO_MAX_FRAME;
	scratch_init(&h->scratch);
	if (!socket_path)
		socket_path = getenv("HEAPD_SOCKET");
	if (!socket_path || !socket_path[0])
		socket_path = HEAPD_DEFAULT_SOCKET;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof sa.sun_path) {
		set_error(h, HEAPD_EINVAL, "socket path too long: %s", socket_path);
		return h;
	}
	strcpy(sa.sun_path, socket_path);
	h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0 || connect(h->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		set_error(h, HEAPD_EIO, "cannot connect to %s: %s", socket_path, strerror(errno));
		if (h->fd >= 0) {
			close(h->fd);
			h->fd = -1;
		}
		return h;
	}
	hello(h);
	return h;
}

void heapd_close(heapd *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h->buf);
	free(h->in);
	scratch_free(&h->scratch);
	free(h);
}

int heapd_errcode(const heapd *h) { return h->err; }
const char *heapd_errmsg(const heapd *h) { return h->errmsg; }
uint64_t heapd_session_id(const heapd *h) { return h->session_id; }
const char *heapd_server_version(const heapd *h) { return h->server_version; }
uint32_t heapd_max_frame(const heapd *h) { return h->max_frame; }
uint64_t heapd_max_object(const heapd *h) { return h->max_object; }

const char *heapd_strerror(int code)
{
	switch (code) {
	case HEAPD_OK: return "success";
	case HEAPD_EBADREF: return "invalid reference (null, stale or forged)";
	case HEAPD_ERANGE: return "offset or slot out of range";
	case HEAPD_ENOMEM: return "the heap is at its hard maximum";
	case HEAPD_EINVAL: return "invalid argument";
	case HEAPD_ENOTFOUND: return "not found";
	case HEAPD_EPERM: return "permission denied";
	case HEAPD_ELIMIT: return "a daemon limit was reached";
	case HEAPD_EPROTO: return "protocol error";
	case HEAPD_EIO: return "connection failed";
	case HEAPD_ENOBUFS: return "out of memory in the client";
	}
	return "unknown error";
}

#define REQUEST(field, kind, msgp)                     \
	Heapd__Request req = HEAPD__REQUEST__INIT;     \
	req.op_case = HEAPD__REQUEST__OP_##kind;       \
	req.field = (msgp)

int heapd_ping(heapd *h, uint64_t *rtt_ns)
{
	Heapd__Ping msg = HEAPD__PING__INIT;
	REQUEST(ping, PING, &msg);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int err = call_status(h, &req);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!err && rtt_ns)
		*rtt_ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	return err;
}

int heapd_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes, heapd_ref *out)
{
	Heapd__Alloc msg = HEAPD__ALLOC__INIT;
	msg.nrefs = nrefs;
	msg.nbytes = nbytes;
	REQUEST(alloc, ALLOC, &msg);
	return call_ref(h, &req, out);
}

int heapd_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		     uint32_t len, heapd_ref *out)
{
	Heapd__Alloc msg = HEAPD__ALLOC__INIT;
	msg.nrefs = nrefs;
	msg.nbytes = nbytes;
	msg.data.data = (uint8_t *)data;
	msg.data.len = len;
	msg.into_obj = obj;
	msg.into_slot = slot;
	REQUEST(alloc, ALLOC, &msg);
	return call_ref(h, &req, out);
}

int heapd_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	Heapd__Write msg = HEAPD__WRITE__INIT;
	msg.obj = obj;
	msg.offset = off;
	msg.data.data = (uint8_t *)buf;
	msg.data.len = len;
	REQUEST(write, WRITE, &msg);
	return call_status(h, &req);
}

int heapd_read(heapd *h, heapd_ref obj, uint32_t off, void *buf, uint32_t len)
{
	Heapd__Read msg = HEAPD__READ__INIT;
	msg.obj = obj;
	msg.offset = off;
	msg.length = len;
	REQUEST(read, READ, &msg);
	Heapd__Response *resp;
	int err = call(h, &req, &resp);
	if (err)
		return err;
	if (resp->result_case != HEAPD__RESPONSE__RESULT_DATA || resp->data.len != len)
		return broken(h, HEAPD_EPROTO, "read reply of the wrong length");
	if (len)
		memcpy(buf, resp->data.data, len);
	return 0;
}

int heapd_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	Heapd__SetRef msg = HEAPD__SET_REF__INIT;
	msg.obj = obj;
	msg.slot = slot;
	msg.target = target;
	REQUEST(set_ref, SET_REF, &msg);
	return call_status(h, &req);
}

int heapd_get_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref *out)
{
	Heapd__GetRef msg = HEAPD__GET_REF__INIT;
	msg.obj = obj;
	msg.slot = slot;
	REQUEST(get_ref, GET_REF, &msg);
	return call_ref(h, &req, out);
}

int heapd_release(heapd *h, heapd_ref obj)
{
	Heapd__Release msg = HEAPD__RELEASE__INIT;
	msg.obj = obj;
	REQUEST(release, RELEASE, &msg);
	return call_status(h, &req);
}

int heapd_root_set(heapd *h, const char *name, heapd_ref obj)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	Heapd__RootSet msg = HEAPD__ROOT_SET__INIT;
	msg.name = (char *)name;
	msg.obj = obj;
	REQUEST(root_set, ROOT_SET, &msg);
	return call_status(h, &req);
}

int heapd_root_get(heapd *h, const char *name, heapd_ref *out)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	Heapd__RootGet msg = HEAPD__ROOT_GET__INIT;
	msg.name = (char *)name;
	REQUEST(root_get, ROOT_GET, &msg);
	return call_ref(h, &req, out);
}

int heapd_root_list(heapd *h, char ***names, size_t *count, int *truncated)
{
	Heapd__RootList msg = HEAPD__ROOT_LIST__INIT;
	REQUEST(root_list, ROOT_LIST, &msg);
	Heapd__Response *resp;
	int err = call(h, &req, &resp);
	if (err)
		return err;
	if (resp->result_case != HEAPD__RESPONSE__RESULT_ROOTS)
		return broken(h, HEAPD_EPROTO, "reply without root names");
	size_t n = resp->roots->n_names;
	int trunc = resp->roots->truncated;
	char **v = calloc(n + 1, sizeof *v);
	for (size_t i = 0; v && i < n; i++) {
		if (!(v[i] = strdup(resp->roots->names[i]))) {
			heapd_free_names(v);
			v = NULL;
		}
	}
	if (!v)
		return set_error(h, HEAPD_ENOBUFS, "out of memory");
	*names = v;
	if (count)
		*count = n;
	if (truncated)
		*truncated = trunc;
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

int heapd_gc(heapd *h)
{
	Heapd__Gc msg = HEAPD__GC__INIT;
	REQUEST(gc, GC, &msg);
	return call_status(h, &req);
}

int heapd_free_os_memory(heapd *h)
{
	Heapd__FreeOsMemory msg = HEAPD__FREE_OS_MEMORY__INIT;
	REQUEST(free_os_memory, FREE_OS_MEMORY, &msg);
	return call_status(h, &req);
}

int heapd_get_stats(heapd *h, heapd_stats *out)
{
	Heapd__GetStats msg = HEAPD__GET_STATS__INIT;
	REQUEST(get_stats, GET_STATS, &msg);
	Heapd__Response *resp;
	int err = call(h, &req, &resp);
	if (err)
		return err;
	if (resp->result_case != HEAPD__RESPONSE__RESULT_STATS)
		return broken(h, HEAPD_EPROTO, "reply without stats");
	const Heapd__Stats *s = resp->stats;
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
	/* The wire sends the ring oldest first; put it back as a ring. */
	size_t n = s->n_pause_ns < HEAPD_PAUSE_RING ? s->n_pause_ns : HEAPD_PAUSE_RING;
	for (size_t i = 0; i < n; i++)
		out->pause_ns[(s->num_pause - n + i) % HEAPD_PAUSE_RING] = s->pause_ns[s->n_pause_ns - n + i];
	return 0;
}
