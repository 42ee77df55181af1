/*
 * call.h - the blocking core's calls (heapd.c) for the files that add
 * blocking operations of their own (introspect.c, zerocopy.c).
 *
 * Internal to the library. The rules are heapd.c's: one request at a
 * time fails with HEAPD_EINVAL while pipelined replies are pending, and
 * every call records its error in h (heapd_errcode, heapd_errmsg).
 */
#ifndef HEAPD_CALL_H
#define HEAPD_CALL_H

#include "heapd.h"
#include "wire.h"

/* Sends w's request alone and takes its reply into *r (and *raw, the
 * decoded reply, NULL after an error), valid until the next call on h;
 * returns its status. */
int hcall(heapd *h, struct wire_req *w, heapd_reply *r, const Heapd__Response **raw);
/* Appends w's request to the pipeline (heapd_append_*). */
int hcall_queue(heapd *h, struct wire_req *w);
/* 0 when h may make a call one at a time (open, no reply of the caller's
 * pending); else the error, recorded in h (HEAPD_EINVAL for a NULL h). */
int hcall_idle(heapd *h);
/* Queues w's view_release, of a view of len bytes, as the library's own
 * request (h open): its reply is taken and checked on the way to the next
 * one the caller takes (heapd.c). It goes out with the next send (the
 * next call's request, heapd_flush), or at once, within h's timeout,
 * when the views released and not yet sent would show more than
 * HCALL_RELEASE_BYTES. Returns 0, or the error (of a connection that then
 * failed). */
#define HCALL_RELEASE_BYTES ((uint64_t)1 << 20)
int hcall_release(heapd *h, struct wire_req *w, uint64_t len);
/* Records code with msg in h; returns code. */
int hcall_error(heapd *h, int code, const char *msg);
/* A retained count's root name is NULL or empty (which the wire reads as
 * "count obj"): HEAPD_EINVAL, said in h; else 0. */
int hcall_count_name_bad(heapd *h, const char *fn, const char *name);
/* fn's argument what is NULL: HEAPD_EINVAL, said in h unless h is the one
 * (heapd.c's rule for every call). */
int hcall_null_arg(heapd *h, const char *fn, const char *what);

#endif
