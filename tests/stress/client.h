/*
 * client.h - inside a stress client process: its connection and model
 * (struct cl), shared by stress_client.c (operations), stress_journal.c
 * (the model's upkeep, the journal, recovery after a kill) and
 * stress_verify.c (the checks).
 *
 * A mismatch between the daemon and the model stops the client (exit 1,
 * the reason on stderr) while it runs operations: the coordinator sees an
 * exit it did not cause and fails the test. While it verifies (c->verifying)
 * mismatches are counted in the figures instead (lost, corrupt,
 * uncollected) and the first few printed, so that a round reports how many
 * objects were lost; the coordinator fails the test if any were.
 */
#ifndef HEAPD_STRESS_CLIENT_H
#define HEAPD_STRESS_CLIENT_H

#include "stress.h"

struct cl {
	heapd *h;
	struct shm *shm;
	struct cstate *st;     /* &shm->c[k] */
	int k, n;              /* this client, and how many there are */
	int verifying;
	int printed;           /* mismatches printed so far */
	const uint8_t *view_data[MAX_OBJS]; /* where entry i's views show its bytes */
	uint8_t buf[BIG_BYTES];
	uint8_t want[BIG_BYTES];
	int16_t queue[MAX_OBJS];
};

enum miss { MISS_LOST, MISS_CORRUPT, MISS_UNCOLLECTED };

void cl_die(struct cl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void cl_miss(struct cl *c, enum miss what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rc must be 0: else stops the client with what and the daemon's message. */
void cl_ok(struct cl *c, int rc, const char *what);

static inline struct mobj *ent(struct cl *c, int i)
{
	return &c->st->obj[i];
}

static inline int16_t *slots_of(struct cl *c, int i)
{
	return &c->st->slots[slot_base(i)];
}

static inline uint8_t *data_of(struct cl *c, int i)
{
	return &c->st->data[data_base(i)];
}

static inline heapd_ref ref_of(struct cl *c, int t)
{
	return t < 0 ? 0 : c->st->obj[t].ref;
}

void root_name(char *buf, size_t len, int k, int r);
void pub_name(char *buf, size_t len, int k, int j);

/* stress_journal.c */
/* Writes entry i (its slots null, its data zero, then len bytes of data),
 * state LIVE last. */
void model_entry_set(struct cl *c, int i, const struct mobj *m, const uint8_t *data, uint32_t len);
/* Recomputes LIVE and DEAD from the roots, and the holds if with_holds. */
void model_reach(struct cl *c, int with_holds);
/* DEAD published entries become FREE; only with no operation in flight. */
void model_sweep_pub(struct cl *c);
void journal_begin(struct cl *c, uint32_t kind);
void journal_apply(struct cl *c, int done, heapd_ref newref);
void journal_end(struct cl *c);
/* A new incarnation's start: see stress_journal.c. */
void journal_recover(struct cl *c);

/* stress_verify.c */
/* Checks the published tree at ref0 (held or reachable) node by node:
 * contents, slots, sizes. Fills *id from its first node; owner and j are
 * what the root's name says. Returns 1 if it matched throughout. */
int verify_pub_tree(struct cl *c, heapd_ref ref0, int owner, int j, struct pubid *id);
/* Collects (heapd_gc), then checks that every entry that was DEAD before
 * has its ref refused, and frees those entries. */
void gc_check(struct cl *c);
/* The verify phase: every entry of the model, every published tree. */
void verify_all(struct cl *c);

#endif
