/*
 * persist.h - what the files of bench/persist share (persist.c has the
 * program's design). Every name here starts pb_ (PB_ for a constant);
 * everything else is static in its file.
 *
 *   persist.c          main, the command line, the build step's line
 *   persist_build.c    the graph: drawn from seeds, made in heapd and as
 *                      keys in Redis; the targets file
 *   persist_redis.c    a Redis connection: RESP, INFO
 *   persist_clients.c  the save's reader and writer, child processes
 *   persist_save.c     the save's figures and the restart's
 */
#ifndef HEAPD_BENCH_PERSIST_H
#define HEAPD_BENCH_PERSIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "heapd.h"

#define PB_MS 1000000ull
#define PB_SEC 1000000000ull
#define PB_PROBE_NAME "persist/probe"

enum {
	PB_SMALL_BYTES = 64,      /* a spine's and the probe's data */
	PB_TARGET_DEPTH = 8,      /* a target's most levels below its batch's top */
	PB_POOL = 1 << 16,        /* bytes objects take their data from */
	PB_WRITER_TICK_MAX = 64,  /* most writer ops in one 1 ms tick */
	PB_REC_MAX = 1 << 22,     /* reader requests recorded */
};

enum pb_kind { PB_HEAPD, PB_REDIS };

/* A step's options, from the command line. */
struct pb_opts {
	enum pb_kind kind;
	const char *sock, *targets, *file, *log;
	pid_t pid;
	uint64_t rate, seed, warmup_s, start_ns, interval_us;
};

/* persist.c: what every step uses; the last two exit 1 on a failure. */
void pb_sleep_ns(uint64_t ns);
void pb_heapd_fail(heapd *h, const char *what);
heapd *pb_hconnect(const char *sock);

/* ---- persist_build.c: the graph ---- */

struct pb_shape {
	uint32_t roots, chunks, batches;
	uint64_t objects, nodes;  /* all objects; those of the batches */
};

/* Logical sizes: what both servers hold. */
struct pb_sums {
	uint64_t objects, slots, data;
};

/* Data for objects: PB_POOL bytes and a spine's worth past them, the same
 * in every run once pb_pool_fill has run. */
extern uint8_t pb_pool[];

void pb_pool_fill(void);
uint64_t pb_mix(uint64_t x);
uint32_t pb_rnd(uint64_t *s);
struct pb_shape pb_shape_of(uint64_t objects);
void pb_key_of(char *key, size_t cap, const struct pb_shape *sh, uint64_t index);
void pb_build_heapd(const char *sock, const struct pb_shape *sh, FILE *targets, struct pb_sums *sum);
void pb_build_redis(const char *sock, const struct pb_shape *sh, struct pb_sums *sum);

/* ---- persist_redis.c: a Redis connection ---- */

struct pb_rconn;

struct pb_rreply {
	char type;      /* '+', '-', ':', '$' */
	const char *s;  /* the line or the bulk (NULL: a nil bulk); valid until the next reply */
	size_t len;
	long long num;
};

/* Commands to send, built by pb_sb_cmd. */
struct pb_sbuf {
	char *p;
	size_t len, cap;
};

struct pb_rconn *pb_rc_open(const char *path);  /* NULL: cannot connect */
void pb_rc_close(struct pb_rconn *c);
void pb_rc_send(struct pb_rconn *c, const char *p, size_t len);
int pb_rc_reply(struct pb_rconn *c, struct pb_rreply *out);
void pb_rc_call(struct pb_rconn *c, struct pb_rreply *r, int argc, const char *const *argv);
long long pb_rc_info(struct pb_rconn *c, const char *section, const char *name);
void pb_sb_cmd(struct pb_sbuf *b, int argc, const char *const *argv, const size_t *len);

/* ---- persist_clients.c: the save's reader and writer ---- */

struct pb_rec {
	uint64_t t0;
	uint64_t dur;
};

/* Shared with the reader and the writer (MAP_SHARED); each field has one
 * writer: the children their counts and rec, the parent stop. */
struct pb_shm {
	atomic_int ready, stop;
	atomic_uint_fast64_t writer_ops, writer_errors, nrec;
	char err[256];
	struct pb_rec rec[PB_REC_MAX];
};

/* Mapped by pb_save_run before the clients start. */
extern struct pb_shm *pb_shm;

void pb_clients_start(const struct pb_opts *o, pid_t pids[2]);
void pb_clients_stop(const pid_t pids[2]);

/* ---- persist_save.c: the save step and the ready step ---- */

void pb_save_run(const struct pb_opts *o);
void pb_ready_run(const struct pb_opts *o);

#endif
