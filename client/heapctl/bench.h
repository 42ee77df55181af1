/*
 * bench.h - what heapctl bench's two files share: the command (bench.c:
 * options, setup, output) hands one test at a time to the load loop
 * (benchloop.c), which fills in a result.
 *
 * Invariants the loop relies on, set up by bench.c before any test:
 *   - keys[i] is an object of BENCH_KEYS slots, one per connection (alloc,
 *     batch);
 *   - pool[] holds BENCH_POOL objects of BENCH_POOL_NREFS slots and `size`
 *     bytes of data, slot 0 of each referring to another pool object
 *     (get_ref finds a ref), all held by bench.c's own connection, which
 *     stays open until every test is over;
 *   - data is `size` bytes, what alloc and write store.
 */
#ifndef HEAPD_HEAPCTL_BENCH_H
#define HEAPD_HEAPCTL_BENCH_H

#include <stdint.h>

#include "heapd.h"
#include "hist.h"

enum bench_test { BT_ALLOC, BT_WRITE, BT_READ, BT_SET_REF, BT_GET_REF, BT_BATCH, BT_NTESTS };

#define BENCH_KEYS 500u        /* slots of a key space: 8 + 8 * 500 fits the smallest max_object_size */
#define BENCH_POOL 1000u       /* objects the other tests use */
#define BENCH_POOL_NREFS 4u

extern const char *const bench_test_name[BT_NTESTS];

struct bench_opts {
	unsigned conns;        /* -c */
	uint64_t requests;     /* -n, per test, over all connections */
	uint32_t pipeline;     /* -P: requests each connection sends per batch */
	uint32_t size;         /* -d */
	unsigned tests;        /* -t: bit 1 << enum bench_test */
	int progress;          /* a progress line on stderr */
};

struct bench_setup {
	const char *socket;    /* NULL: the library's default */
	const uint8_t *data;
	const heapd_ref *keys;
	const heapd_ref *pool;
};

struct bench_result {
	uint64_t requests;     /* answered */
	uint64_t elapsed_ns;   /* from the first batch to the last reply */
	struct hist lat;       /* each request's latency, in ns */
};

/* Runs test t: connects o->conns connections, sends o->requests requests
 * in batches of o->pipeline per connection, and fills res. Returns CTL_OK,
 * or CTL_ERROR after reporting on stderr. */
int bench_loop_run(const struct bench_opts *o, const struct bench_setup *s, enum bench_test t,
		   struct bench_result *res);

#endif
