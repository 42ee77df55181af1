/*
 * fuzzharness.h - the dispatch harness's own state, shared by its two
 * halves: fuzz_dispatch.c (the input, the fake transport, the loop) and
 * replies.c (each reply checked as it comes, and the model of each
 * connection's holds and views). Nothing else includes it.
 */
#ifndef HEAPD_FUZZHARNESS_H
#define HEAPD_FUZZHARNESS_H

#include "fuzzdispatch.h"

enum expect_kind { E_REQUEST, E_GARBLED, E_OVERSIZE };

/* One whole frame sent on a connection and not yet answered. */
struct expect {
	enum expect_kind kind;
	uint64_t id;
	Heapd__Request *req; /* E_REQUEST: the request, for the checks and the model */
};

struct hold {
	heap_ref ref;
	uint64_t n;
};

/* A connection's holds, or its views (zerocopy.c keeps them apart), by
 * ref: what it was given, counting repeats. */
struct holdset {
	struct hold *v;
	size_t n, cap;
};

/* The client's end of one connection. */
struct conn {
	struct session *s;   /* NULL: not connected */
	int closed;          /* conn_close was called: freed at the next turn */
	int eof;             /* the client hung up: EOF once pend is read */
	uint8_t *pend;       /* sent, not yet read by the daemon */
	size_t pend_len, pend_cap;
	struct expect *q;    /* unanswered frames, oldest first */
	size_t q_head, q_len, q_cap;
	struct holdset holds; /* the model of s->holds */
	struct holdset views; /* the model of s->views */
	int arena_got;       /* the arena's descriptor came, with a map_arena reply */
	unsigned ident;      /* the identity it opens with next (fuzzutil.h) */
	const struct fz_who *who; /* while s: who it is */
};

/* The harness: one daemon, its loop, and the client ends. */
struct fz_harness {
	struct server srv;
	uv_loop_t loop;
	uv_prepare_t keepalive; /* stands for the listener: keeps the loop alive */
	struct conn conn[FUZZ_SESSIONS];
	unsigned cur;           /* the connection records go to */
	int pipelining;
	struct scratch sc;      /* the harness's own decoding */
	heap_ref *refs;         /* every nonzero ref returned, in reply order */
	size_t nrefs, refs_cap;
	uint64_t arena_size;    /* the largest arena_size a reply gave so far */
};
extern struct fz_harness fz;

/* replies.c */
/* Checks r, the next reply on c, and takes it into the models; with_fd:
 * the arena's descriptor came with its first byte. */
void fz_check_reply(struct conn *c, const Heapd__Response *r, int with_fd);

#endif
