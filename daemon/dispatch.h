/*
 * dispatch.h - what the files that run operations share: dispatch.c,
 * which runs every operation of HEAPD_OPS but the root ones and the
 * introspection ones, roots.c, which runs the root ones, and
 * introspect.c, object_info and the client list, and zerocopy.c, seal,
 * views and map_arena. Nothing outside them includes it; server.h has the
 * dispatch calls the rest of the daemon makes.
 */
#ifndef HEAPD_DISPATCH_H
#define HEAPD_DISPATCH_H

#include "server.h"

/* One operation being run: op_<name>(), for each row of HEAPD_OPS. */
struct disp_call {
	struct session *s;
	Heapd__Request *req;
	size_t room;            /* what a read or root_list result may take */
	struct disp_reply *rp;  /* rp->deferred: the reply comes later */
};

/* An engine error as a status and a message about the request. */
void disp_engine_fail(struct disp_reply *rp, int err, const char *what);
/* The reply's result is ref. */
void disp_set_ref(struct disp_reply *rp, heap_ref ref);
/* A CAS (what) found was, not expected: CONFLICT, with was as the result. */
void disp_conflict(struct disp_reply *rp, const char *what, heap_ref was, heap_ref expected);
/* A read-only session gets read-only refs, and so does anyone from a
 * root it may read but not write: *ref becomes its read-only form, then
 * is held (heap/handle.c). */
int disp_hold_readonly(struct session *s, heap_ref *ref);

/* introspect.c */
/* The info of the object ref names into a new ObjectInfoReply in the
 * scratch memory, set as rp's result; 0, or an engine error. */
int disp_object_info(struct session *s, heap_ref ref, struct disp_reply *rp, Heapd__ObjectInfoReply **out);
void op_object_info(struct disp_call *c);
void op_client_list(struct disp_call *c);
void op_client_kill(struct disp_call *c);

/* roots.c */
void op_root_set(struct disp_call *c);
void op_root_get(struct disp_call *c);
void op_root_chmod(struct disp_call *c);
void op_root_chown(struct disp_call *c);
void op_root_cas(struct disp_call *c);
void op_root_list(struct disp_call *c);
void op_root_info(struct disp_call *c);
void op_root_scan(struct disp_call *c);
/* The object of the root named b that s may read, without a hold, and
 * the root's meta into *meta (may be NULL): 0, or -1 with rp failed
 * (INVALID, NOT_FOUND, PERMISSION). root_info and retained's. */
int root_read_ref(struct session *s, const ProtobufCBinaryData *b, const char *what, struct disp_reply *rp,
		  heap_ref *out, struct heap_root_meta *meta);

/* retained.c */
void op_retained(struct disp_call *c);

/* zerocopy.c */
void op_seal(struct disp_call *c);
void op_view(struct disp_call *c);
void op_view_release(struct disp_call *c);
void op_map_arena(struct disp_call *c);
/* 1 with rp failed (LIMIT) if s has views and, with its holds, as many as
 * max_holds_per_session: for the ops that add a hold. */
int zc_held_refused(struct session *s, const char *what, struct disp_reply *rp);

#endif
