/*
 * spin.h - whether and how long a blocking call spins for its reply before
 * it sleeps (heapd_set_spin; docs/performance.md, "Waiting for a reply").
 *
 * A wait that sleeps in poll costs a wake-up when the reply comes; where
 * the CPU went idle meanwhile (on a VM, a halt and a VM exit) that wake-up
 * can take longer than the daemon took to answer. So a wait may first poll
 * without sleeping, for up to ns. The policy here, the I/O in heapd.c:
 * a spin that sees nothing come (the daemon is busy, or slow for this
 * request) makes the next 2^misses - 1 waits sleep at once, misses counted
 * up to SPIN_BACKOFF_MAX, so a client the daemon cannot answer quickly
 * soon stops spinning and then spends at most one window per
 * 2^SPIN_BACKOFF_MAX waits finding out whether it can again.
 */
#ifndef HEAPD_SPIN_H
#define HEAPD_SPIN_H

#include <stdint.h>

#define SPIN_BACKOFF_MAX 10

struct spin {
	uint32_t ns;      /* the window; 0: never spin */
	uint32_t skip;    /* waits left that sleep at once */
	uint32_t misses;  /* spins in a row that saw nothing */
	uint64_t spins;   /* waits that spun */
	uint64_t hits;    /* of them, those that saw bytes come */
};

/* A window of us microseconds, the backoff started over. */
void spin_set(struct spin *s, uint32_t us);
/* Whether the wait starting now spins; a yes counts as a spin. */
int spin_start(struct spin *s);
/* The spin saw bytes come. */
void spin_hit(struct spin *s);
/* The window passed with nothing: back off. */
void spin_miss(struct spin *s);

/* Whether spinning can pay for a connection to the daemon at the other
 * end of fd, from this thread: not when both may run on one and the same
 * CPU only. */
int spin_pays(int fd);
/* $HEAPD_SPIN_US into *us: 1 if it is set, 0 if not, -1 if it is not a
 * number of microseconds up to HEAPD_SPIN_MAX_US. */
int spin_env(uint32_t *us);

#endif
