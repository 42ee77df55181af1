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
 * the library: only heapd_* symbols are exported. Requests are built and
 * replies checked by wire.c, which the other cores share.
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

#include "scratch.h"
#include "wire.h"

struct heapd {
	int fd;
	int err;
	char errmsg[256];
	uint64_t next_id;
	struct wire_buf out;    /* the request being sent */
	struct wire_buf in;     /* bytes received: the reply being read, and
	                         * any that followed it */
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
	if (n > h->in.len && wire_reserve(&h->in, n - h->in.len) != 0)
		return -2;
	while (h->in.len < n) {
		ssize_t r = recv(h->fd, h->in.p + h->in.len, h->in.cap - h->in.len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		h->in.len += (size_t)r;
	}
	return 0;
}

/* The next reply frame's body and length, from h->in; dropped from it
 * once decoded. Returns 0, or the error (the connection is then broken). */
static int read_frame(heapd *h, const uint8_t **body, uint32_t *len)
{
	int r = fill(h, WIRE_HEADER);
	if (r == 0) {
		*len = wire_frame_len(h->in.p);
		if (*len > h->max_frame)
			return broken(h, HEAPD_EPROTO, "reply longer than max_frame_size");
		r = fill(h, WIRE_HEADER + (size_t)*len);
	}
	if (r == -2)
		return broken(h, HEAPD_ENOBUFS, "out of memory for a reply");
	if (r != 0)
		return broken(h, HEAPD_EIO, "connection closed by the daemon");
	*body = h->in.p + WIRE_HEADER;
	return 0;
}

/* Sends req and reads its reply into *out, which lives in h->scratch
 * until the next call. Returns 0 when the daemon said OK with a result
 * that fits the request, or the error, recorded in h. */
static int call(heapd *h, Heapd__Request *req, Heapd__Response **out)
{
	*out = NULL;
	scratch_reset(&h->scratch);
	if (h->fd < 0)
		return h->err ? h->err : set_error(h, HEAPD_EIO, "not connected");
	req->id = ++h->next_id;
	h->out.len = 0;
	int err = wire_append(&h->out, req, h->max_frame);
	if (err == HEAPD_ELIMIT)
		return set_error(h, err, "request of %zu bytes exceeds the daemon's max_frame_size %u",
				 heapd__request__get_packed_size(req), h->max_frame);
	if (err)
		return set_error(h, err, "out of memory");
	/* A send that fails may still find the daemon's reason waiting to be
	 * read (a refusal sent at accept, then a close): read on, and report
	 * that reason if it is there. */
	int send_errno = write_all(h->fd, h->out.p, h->out.len) != 0 ? (errno ? errno : EPIPE) : 0;
	const uint8_t *body = NULL;
	uint32_t len = 0;
	err = read_frame(h, &body, &len);
	Heapd__Response *resp = err ? NULL : heapd__response__unpack(&h->scratch.pb, len, body);
	if (!err)
		wire_consume(&h->in, WIRE_HEADER + (size_t)len);
	if (send_errno) {
		if (!resp || resp->status == HEAPD__STATUS__OK)
			return broken(h, HEAPD_EIO, strerror(send_errno));
		set_error(h, wire_status(resp), "%s", resp->error);
		return broken(h, h->err, NULL);
	}
	if (err)
		return err;
	if (!resp)
		return broken(h, HEAPD_EPROTO, "reply does not decode");
	/* Id 0: an error about the connection itself (e.g. a refusal). */
	if (resp->id != req->id && resp->id != 0)
		return broken(h, HEAPD_EPROTO, "reply to another request");
	int code = wire_status(resp);
	if (code) {
		set_error(h, code, "%s", resp->error && resp->error[0] ? resp->error : heapd_strerror(code));
		int fatal = code == HEAPD_EPROTO || resp->id == 0;
		if (fatal)
			broken(h, code, NULL);
		return code;
	}
	const char *bad = wire_check_result(req, resp);
	if (bad)
		return broken(h, HEAPD_EPROTO, bad);
	h->err = 0;
	h->errmsg[0] = '\0';
	*out = resp;
	return 0;
}

/* call() for requests whose reply carries only the status. */
static int call_status(heapd *h, struct wire_req *w)
{
	Heapd__Response *resp;
	return call(h, &w->req, &resp);
}

/* call() for requests answered with a ref. */
static int call_ref(heapd *h, struct wire_req *w, heapd_ref *out)
{
	Heapd__Response *resp;
	int err = call(h, &w->req, &resp);
	if (!err)
		*out = resp->ref;
	return err;
}

static int hello(heapd *h)
{
	struct wire_req w;
	wire_hello(&w, program_invocation_short_name);
	Heapd__Response *resp;
	int err = call(h, &w.req, &resp);
	if (err)
		return broken(h, err, NULL);
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
	h->max_frame = WIRE_HELLO_MAX_FRAME;
	scratch_init(&h->scratch);
	struct sockaddr_un sa;
	if (wire_sockaddr(&socket_path, &sa) != 0) {
		set_error(h, HEAPD_EINVAL, "socket path too long: %s", socket_path);
		return h;
	}
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
	wire_buf_free(&h->out);
	wire_buf_free(&h->in);
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
	case HEAPD_ETIMEDOUT: return "no reply in time";
	}
	return "unknown error";
}

int heapd_ping(heapd *h, uint64_t *rtt_ns)
{
	struct wire_req w;
	wire_ping(&w);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int err = call_status(h, &w);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!err && rtt_ns)
		*rtt_ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	return err;
}

int heapd_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes, heapd_ref *out)
{
	struct wire_req w;
	wire_alloc(&w, 0, 0, nrefs, nbytes, NULL, 0);
	return call_ref(h, &w, out);
}

int heapd_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		     uint32_t len, heapd_ref *out)
{
	struct wire_req w;
	wire_alloc(&w, obj, slot, nrefs, nbytes, data, len);
	return call_ref(h, &w, out);
}

int heapd_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len)
{
	struct wire_req w;
	wire_write(&w, obj, off, buf, len);
	return call_status(h, &w);
}

int heapd_read(heapd *h, heapd_ref obj, uint32_t off, void *buf, uint32_t len)
{
	struct wire_req w;
	wire_read(&w, obj, off, len);
	Heapd__Response *resp;
	int err = call(h, &w.req, &resp);
	if (!err && len)
		memcpy(buf, resp->data.data, len);
	return err;
}

int heapd_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target)
{
	struct wire_req w;
	wire_set_ref(&w, obj, slot, target);
	return call_status(h, &w);
}

int heapd_get_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref *out)
{
	struct wire_req w;
	wire_get_ref(&w, obj, slot);
	return call_ref(h, &w, out);
}

int heapd_release(heapd *h, heapd_ref obj)
{
	struct wire_req w;
	wire_release(&w, obj);
	return call_status(h, &w);
}

int heapd_root_set(heapd *h, const char *name, heapd_ref obj)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_set(&w, name, obj);
	return call_status(h, &w);
}

int heapd_root_get(heapd *h, const char *name, heapd_ref *out)
{
	if (!name)
		return set_error(h, HEAPD_EINVAL, "root name is NULL");
	struct wire_req w;
	wire_root_get(&w, name);
	return call_ref(h, &w, out);
}

int heapd_root_list(heapd *h, char ***names, size_t *count, int *truncated)
{
	struct wire_req w;
	wire_root_list(&w);
	Heapd__Response *resp;
	int err = call(h, &w.req, &resp);
	if (err)
		return err;
	char **v = wire_names(resp->roots);
	if (!v)
		return set_error(h, HEAPD_ENOBUFS, "out of memory");
	*names = v;
	if (count)
		*count = resp->roots->n_names;
	if (truncated)
		*truncated = resp->roots->truncated;
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
	struct wire_req w;
	wire_gc(&w);
	return call_status(h, &w);
}

int heapd_free_os_memory(heapd *h)
{
	struct wire_req w;
	wire_free_os_memory(&w);
	return call_status(h, &w);
}

int heapd_get_stats(heapd *h, heapd_stats *out)
{
	struct wire_req w;
	wire_get_stats(&w);
	Heapd__Response *resp;
	int err = call(h, &w.req, &resp);
	if (!err)
		wire_stats(resp->stats, out);
	return err;
}
