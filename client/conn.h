/*
 * conn.h - the blocking connection (struct heapd): heapd.c makes its
 * requests and takes their replies; wait.c does the waiting, within the
 * connection's timeout. Prefix hwait_ for wait.c's.
 *
 * Internal to the library.
 *
 * Invariants: fd is -1 once the connection failed, never to be opened
 * again; then dead is the code it failed with (HEAPD_EIO, HEAPD_EPROTO,
 * HEAPD_ETIMEDOUT, HEAPD_ENOBUFS, or the daemon's refusal of the Hello)
 * and deadmsg its message, which every later call reports (heapd.c's
 * unusable()). err and errmsg are the last call's result, whatever it was.
 */
#ifndef HEAPD_CONN_H
#define HEAPD_CONN_H

#include <stdint.h>

#include "core.h"
#include "spin.h"

struct heapd {
	int fd;
	int err;                /* the last call's result */
	char errmsg[256];
	int dead;               /* why fd is -1 (0: open, or never opened) */
	char deadmsg[256];
	struct core core;       /* requests queued, replies received */
	int send_errno;         /* a send failed: nothing more goes out */
	uint64_t session_id;
	char server_version[32];
	uint64_t max_object;
	uint32_t max_batch_ops;
	struct spin spin;       /* whether a wait for a reply spins first */
	uint32_t timeout_ms;    /* a call's longest wait (0: none) */
	uint64_t connect_deadline_ns; /* while heapd_connect runs: when it gives up (0: never) */
	uint64_t released;      /* bytes of the views whose view_release waits in
	                         * core.out for the next send (hcall_release) */
};

enum hwait_goal {
	HWAIT_REPLY, /* until the next reply is whole in core.in */
	HWAIT_SENT,  /* until everything is sent, or HEAPD_PIPELINE_BYTES read ahead */
};

/* The connection failed with code: the socket is closed, and code with
 * the message (fmt NULL: errmsg as it is) is this and every later call's
 * result. Returns code. */
int hwait_broken(heapd *h, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sends and receives until goal, or until the call's deadline passes
 * (HEAPD_ETIMEDOUT: the connection is then closed). Returns 0, or the
 * error that broke the connection. */
int hwait_exchange(heapd *h, enum hwait_goal goal);
/* When a wait starting now gives up, in wire_mono_ns() time: the connect
 * deadline while connecting, else timeout_ms from now; 0: never. */
uint64_t hwait_deadline(const heapd *h);
/* $HEAPD_TIMEOUT_MS into *ms: 1 if it is set, 0 if not, -1 if it is not a
 * number of milliseconds up to UINT32_MAX. */
int hwait_env(uint32_t *ms);

#endif
