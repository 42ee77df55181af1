/*
 * wire.h - the bottom of libheapd: requests built from the API's
 * arguments, frames, and replies checked and turned into results; and
 * heapd_strerror(), heapd_free_names() and heapd_free_root_info(). It
 * calls nothing else of the library: core.c, batch.c and the two cores
 * call it.
 *
 * Internal to the library (nothing here is exported but heapd_*, and the
 * generated protobuf types stay private). Requests follow HEAPD_OPS
 * (proto/ops.h). A request is built in a struct wire_req,
 * which holds the Request and its operation's message: the data and names
 * it points to are the caller's, so it is framed (wire_append) before the
 * caller's arguments go. A reply whose status is OK is only a result once
 * wire_check_result() says it fits the request's operation; otherwise the
 * stream is out of step and the connection must be dropped.
 */
#ifndef HEAPD_WIRE_H
#define HEAPD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "heapd.h"
#include "heapd.pb-c.h"
#include "ops.h"
#include "scratch.h"

#define WIRE_HEADER 4u          /* the big-endian length before each frame */
#define WIRE_VERSION 1u         /* the protocol version libheapd speaks */
#define WIRE_HELLO_MAX_FRAME (16u << 20) /* until the daemon says its own */

struct wire_req {
	Heapd__Request req;
	union {
#define X(name, NAME, Type, ...) Heapd__##Type name;
		HEAPD_OPS(X)
#undef X
	} op;
};

/* w as a request of operation op (HEAPD_OPS) with its message empty.
 * Inline: where op is a constant, one case is left. */
static inline void wire_op(struct wire_req *w, Heapd__Request__OpCase op)
{
	w->req = (Heapd__Request)HEAPD__REQUEST__INIT;
	w->req.op_case = op;
	switch (op) {
#define X(name, NAME, Type, ...)                                        \
	case HEAPD__REQUEST__OP_##NAME:                                 \
		w->op.name = (Heapd__##Type)HEAPD__##NAME##__INIT;      \
		w->req.name = &w->op.name;                              \
		break;
		HEAPD_OPS(X)
#undef X
	HEAPD_OP_NONE_CASES:
		break;
	}
}
/* Each fills w with one operation that has arguments (id 0: set when it
 * is sent); wire_op() makes the others. */
void wire_hello(struct wire_req *w, const char *client_name);
/* into 0: a held object; else stored in slot of into (alloc_into). */
void wire_alloc(struct wire_req *w, heapd_ref into, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		uint32_t len);
void wire_write(struct wire_req *w, heapd_ref obj, uint32_t off, const void *buf, uint32_t len);
void wire_read(struct wire_req *w, heapd_ref obj, uint32_t off, uint32_t len);
void wire_set_ref(struct wire_req *w, heapd_ref obj, uint32_t slot, heapd_ref target);
void wire_get_ref(struct wire_req *w, heapd_ref obj, uint32_t slot);
void wire_release(struct wire_req *w, heapd_ref obj);
void wire_root_set(struct wire_req *w, const char *name, heapd_ref obj);
void wire_root_get(struct wire_req *w, const char *name);
void wire_root_chmod(struct wire_req *w, const char *name, uint32_t mode);
void wire_root_chown(struct wire_req *w, const char *name, uint32_t uid, uint32_t gid);
void wire_object_info(struct wire_req *w, heapd_ref obj);
void wire_root_info_req(struct wire_req *w, const char *name);
void wire_root_scan(struct wire_req *w, const char *pattern, uint64_t cursor, uint32_t count);
void wire_client_kill(struct wire_req *w, uint64_t id);
void wire_cas_ref(struct wire_req *w, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target);
void wire_root_cas(struct wire_req *w, const char *name, heapd_ref expected, heapd_ref target);
/* name NULL: the object obj; else the root name (obj 0). */
void wire_retained(struct wire_req *w, heapd_ref obj, const char *name);
void wire_seal(struct wire_req *w, heapd_ref obj);
void wire_view(struct wire_req *w, heapd_ref obj);
void wire_view_release(struct wire_req *w, heapd_ref obj);

/* A growing byte buffer of frames. */
struct wire_buf {
	uint8_t *p;
	size_t len, cap;
};

/* The most bytes req's encoding can take, or SIZE_MAX when it must be
 * sized exactly (proto/bound.c). */
size_t wire_bound(const Heapd__Request *req);
/* Appends req's frame to b, *framed bytes. Returns 0, HEAPD_ELIMIT if
 * its body exceeds max_frame, or HEAPD_ENOBUFS (b's contents unchanged). */
int wire_append(struct wire_buf *b, const Heapd__Request *req, uint32_t max_frame, size_t *framed);
/* Makes room for n more bytes; 0 or HEAPD_ENOBUFS. */
int wire_reserve(struct wire_buf *b, size_t n);
/* Drops the first n bytes. */
void wire_consume(struct wire_buf *b, size_t n);
void wire_buf_free(struct wire_buf *b);

/* The body length announced by the header at p (WIRE_HEADER bytes). */
static inline uint32_t wire_frame_len(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The HEAPD_* code of a reply's status (HEAPD_EPROTO for one not in the
 * protocol, and for INTERNAL). */
int wire_status(const Heapd__Response *r);
/* Whether a reply of status code (HEAPD_*) carries a result: an OK one,
 * and a CAS's HEAPD_ECONFLICT, which says what was there. */
static inline int wire_has_result(int code)
{
	return code == HEAPD_OK || code == HEAPD_ECONFLICT;
}
/* For an OK reply to a request of operation op (and, for a read, of
 * read_len bytes), or a CONFLICT one (wire_has_result): NULL if its result
 * fits, else what is wrong. A view's (view, map_arena) fits when
 * offset + length <= arena_size <= arena_reserved; its bytes are found in
 * the arena's mapping by core.c and batch.c (view.h), not here. */
const char *wire_check_result(Heapd__Request__OpCase op, uint32_t read_len, const Heapd__Response *r);

/* The results of checked replies, in the API's types. */
void wire_stats(const Heapd__Stats *s, heapd_stats *out);
void wire_object_info_of(const Heapd__ObjectInfoReply *w, struct heapd_object_info *out);
/* The result of a checked OK reply into r's result fields (ref, data and
 * len but a view's, stats, names, uids, info, clients): they point into resp, into
 * *stats for get_stats, and into sc for uid_stats', client_list's and
 * object_info's rows. An empty read's data is "",
 * not NULL. Returns 0, or HEAPD_ENOBUFS when sc has no room for the rows. */
int wire_result(const Heapd__Response *resp, heapd_stats *stats, struct scratch *sc, heapd_reply *r);
/* A NULL-terminated copy of the names (heapd_free_names), or NULL. */
char **wire_names(const Heapd__RootNames *r);
/* A copy of the roots, in one block (heapd_free_root_info): n_names rows
 * and a row of zeros, then the names; or NULL. r was checked
 * (wire_check_result). */
heapd_root_info *wire_root_info(const Heapd__RootNames *r);

/* The daemon's address: *path, else $HEAPD_SOCKET, else
 * HEAPD_DEFAULT_SOCKET; *path is set to the one chosen. Returns 0, or
 * HEAPD_EINVAL when it is too long for a socket address. */
int wire_sockaddr(const char **path, struct sockaddr_un *sa);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t wire_mono_ns(void);

#endif
