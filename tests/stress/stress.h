/*
 * stress.h - what the stress test's coordinator (stress_model.c) and its
 * client processes (stress_client.c, stress_journal.c, stress_verify.c)
 * share: the layout of the shared memory that holds every client's
 * model, the commands they exchange, the random numbers, and the contents
 * of published objects.
 *
 * Shared memory. One memfd, mapped by the coordinator and by every client
 * (a client is this program exec'd with --client K; the memfd is its fd 3,
 * its end of a socketpair to the coordinator its fd 4). Client K's model,
 * struct cstate, is written only by the incarnation of client K that is
 * alive, and read by the coordinator only while every client is paused
 * (between rounds), or after the incarnation that wrote it is dead. The
 * one exception is ops_done, which the coordinator polls while clients run
 * to time its kills: it is atomic.
 *
 * Crash consistency. A client may be killed at any instruction. Its model
 * lives in shared memory, so the next incarnation finds it as the dead one
 * left it; writes are ordered with commit_fence() so that what the next
 * incarnation finds is always one of the states the rules below allow:
 *  - an entry's fields are all written before its state says LIVE;
 *  - an operation that changes what outlives the connection (data, slots,
 *    named roots) is first described in full in cstate.pend (what it
 *    changes, from what, to what), then sent, then applied to the model,
 *    then pend is cleared. A new incarnation finding pend set undoes it,
 *    asks the daemon whether it happened, and redoes it if it did;
 *  - an entry becomes FREE (reusable) only while pend is clear, so an undo
 *    never points at an entry that was reused.
 */
#ifndef HEAPD_STRESS_H
#define HEAPD_STRESS_H

#include <stdatomic.h>
#include <stdint.h>

#include "heapd.h"

#define MAX_CLIENTS 16
#define MAX_OBJS 512           /* model entries per client */
#define NBIG 4                 /* entries 0..NBIG-1 may hold large objects */
#define SMALL_SLOTS 8
#define SMALL_BYTES 1024
#define BIG_SLOTS 520          /* past one oblet (512 slots scanned per work item) */
#define BIG_BYTES (1u << 20)   /* large spans, and a heap of some size to give back */
#define SLOT_POOL (NBIG * BIG_SLOTS + (MAX_OBJS - NBIG) * SMALL_SLOTS)
#define DATA_POOL (NBIG * BIG_BYTES + (MAX_OBJS - NBIG) * SMALL_BYTES)
#define NROOTS 8               /* a client's own roots, "c<K>/r<i>" */
#define NPUB 3                 /* its published roots, "c<K>/p<j>" */
#define PUB_NODES_MAX 4
#define PUB_HDR 16
#define WRITE_MAX 256          /* bytes one write (or alloc_into's data) changes */

/* Commands, coordinator to client, one byte each. */
#define CMD_RUN 'R'     /* run operations until ops_done == round_end */
#define CMD_VERIFY 'V'  /* verify everything reachable */
#define CMD_QUIT 'Q'    /* delete every root, close, exit 0 */
/* Reports, client to coordinator. */
#define REP_READY 'i'   /* connected, model recovered */
#define REP_RAN 'r'
#define REP_VERIFIED 'v'

enum { ST_FREE, ST_LIVE, ST_DEAD };
enum { K_OWN = 1, K_PUB };

/* A published tree's identity: its nodes' contents derive from it. */
struct pubid {
	uint32_t gen;
	uint16_t owner;
	uint8_t j, nnodes;
};

/* One object a client knows. K_OWN: created by this client, reachable only
 * from its own roots, holds and views, so the model of its slots and data
 * is exact; once sealed, every change to it is refused (HEAPD_EPERM).
 * K_PUB: the first node of a published tree (its own or another
 * client's), sealed, checked against its identity. LIVE: reachable in
 * the model; DEAD (K_OWN): unreachable, and must be gone after this
 * client's next forced collection; DEAD (K_PUB): dropped at the next
 * operation (others may keep it alive). */
struct mobj {
	heapd_ref ref;
	uint8_t state, kind;
	uint8_t sealed;        /* K_OWN: a seal of it succeeded (a publisher seals every node) */
	uint32_t nrefs, nbytes;
	uint32_t holds;        /* this incarnation's holds; 0 after a restart */
	uint32_t views;        /* this incarnation's views, which keep it as holds do */
	struct pubid id;       /* K_PUB */
};

struct pubroot {
	heapd_ref ref;         /* 0: not published */
	struct pubid id;
};

/* An operation in flight: enough to undo it and to redo it. */
enum { P_NONE, P_WRITE, P_SET_REF, P_ALLOC_INTO, P_ROOT, P_PUB, P_SEAL };
struct pending {
	uint32_t kind;
	int16_t obj;           /* WRITE, SET_REF, ALLOC_INTO, SEAL: the object changed */
	int16_t idx;           /* ROOT: the root; PUB: the published root */
	uint32_t slot;         /* SET_REF, ALLOC_INTO */
	int16_t old_t, new_t;  /* entries before and after (-1 null); ALLOC_INTO's new_t is the new entry */
	uint32_t off, len;     /* WRITE; ALLOC_INTO: len bytes of data */
	uint8_t old_b[WRITE_MAX], new_b[WRITE_MAX];
	struct mobj ent;       /* ALLOC_INTO: the new entry (its ref comes with the reply) */
	struct pubroot old_p, new_p;
};

enum {
	OP_ALLOC, OP_ALLOC_INTO, OP_WRITE, OP_SET_REF, OP_MOVE, OP_GET_REF, OP_READ, OP_RELEASE,
	OP_ROOT_SET, OP_ROOT_DEL, OP_ROOT_GET, OP_PUBLISH, OP_UNPUBLISH, OP_READ_FOREIGN,
	OP_GC, OP_FREE_OS, OP_SEAL, OP_VIEW, OP_VIEW_RELEASE, OP_CHANGE_SEALED, NUM_OPS
};

/* Client K's model and figures. */
struct cstate {
	/* The coordinator's, written before it sends CMD_RUN. */
	uint64_t round_end;
	int running;           /* a round is in progress: a new incarnation goes on with it */
	/* The client's. */
	_Atomic uint64_t ops_done;
	uint64_t rng;
	uint32_t incarnation;
	uint32_t pub_gen;      /* last generation drawn: never reused, even across kills */
	int16_t root[NROOTS];  /* entry, -1 when absent */
	struct pubroot pub[NPUB];
	struct pending pend;
	struct mobj obj[MAX_OBJS];
	int16_t slots[SLOT_POOL];
	uint8_t data[DATA_POOL];
	/* Figures, summed by the coordinator. */
	uint64_t ops_by_kind[NUM_OPS];
	uint64_t verified;     /* objects whose contents and refs were checked */
	uint64_t lost;         /* ones the model has and the daemon had not */
	uint64_t corrupt;      /* ones whose contents or refs differed */
	uint64_t collected;    /* dead objects whose refs were then refused */
	uint64_t uncollected;  /* dead objects still there after a collection */
	uint64_t recovered;    /* operations in flight at a kill, resolved */
	uint64_t redone;       /* of those, the ones the daemon had done */
};

struct shm {
	struct cstate c[MAX_CLIENTS];
};

/* The model's writes, in program order as seen by a later incarnation.
 * Whoever reads them does so after this process died or paused (waitpid,
 * the socketpair), when every store it executed is visible: only the
 * compiler's order is at stake, so a signal fence (which TSan also
 * accepts, where gcc warns on a thread fence) is enough. */
static inline void commit_fence(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

static inline uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static inline uint32_t slot_base(int i)
{
	return i < NBIG ? (uint32_t)i * BIG_SLOTS : NBIG * BIG_SLOTS + (uint32_t)(i - NBIG) * SMALL_SLOTS;
}

static inline uint32_t data_base(int i)
{
	return i < NBIG ? (uint32_t)i * BIG_BYTES : NBIG * BIG_BYTES + (uint32_t)(i - NBIG) * SMALL_BYTES;
}

/* The shared-list case (stress_push.c): clients push onto one list with
 * compare and swap, ops / (4 * clients) pushes each, and none is lost. */
void push_run(int clients, long long ops);

/* Published node contents: a header naming it, then bytes drawn from a
 * generator seeded by its identity, so any reader can check a node it
 * never saw written. */
static inline uint64_t pub_seed(const struct pubid *id, unsigned node)
{
	uint64_t s = (uint64_t)id->owner << 48 ^ (uint64_t)id->j << 40 ^ (uint64_t)id->gen << 8 ^ node;
	return splitmix(&s);
}

static inline uint32_t pub_nbytes(const struct pubid *id, unsigned node)
{
	return PUB_HDR + (uint32_t)(pub_seed(id, node) % (WRITE_MAX - PUB_HDR));
}

#define PUB_MAGIC 0x42555048u /* "HPUB" */

/* Fills buf (pub_nbytes bytes) with the contents of node of tree id. */
static inline void pub_fill(const struct pubid *id, unsigned node, uint8_t *buf)
{
	uint32_t n = pub_nbytes(id, node);
	uint64_t s = pub_seed(id, node);
	uint32_t hdr[4] = {PUB_MAGIC, (uint32_t)id->owner << 16 | (uint32_t)id->j << 8 | node, id->gen, id->nnodes};
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t)splitmix(&s);
	for (int w = 0; w < 4; w++)
		for (int b = 0; b < 4; b++)
			buf[w * 4 + b] = (uint8_t)(hdr[w] >> (8 * b));
}

/* Parses a node's header; 0 if it is not a published node's. */
static inline int pub_parse(const uint8_t *buf, struct pubid *id, unsigned *node)
{
	uint32_t w[4];
	for (int i = 0; i < 4; i++)
		w[i] = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 | (uint32_t)buf[4 * i + 2] << 16 |
		       (uint32_t)buf[4 * i + 3] << 24;
	if (w[0] != PUB_MAGIC || w[3] < 1 || w[3] > PUB_NODES_MAX)
		return 0;
	id->owner = (uint16_t)(w[1] >> 16);
	id->j = (uint8_t)(w[1] >> 8);
	*node = w[1] & 0xff;
	id->gen = w[2];
	id->nnodes = (uint8_t)w[3];
	return 1;
}

/* The client process: stress_client.c. */
int client_main(int k, int nclients, const char *sock);

#endif
