/*
 * fuzzperm.h - who the dispatch target's connections are, and what the
 * rules of docs/security.md let each of them do (fuzzperm.c).
 */
#ifndef HEAPD_FUZZPERM_H
#define HEAPD_FUZZPERM_H

#include "fuzzutil.h"
#include "server.h"

/* A peer, as admit.c would have made it: uid, groups (gid first), role. */
struct fz_who {
	uint32_t uid;
	gid_t groups[3];
	unsigned ngroups;
	enum sess_role role;
};

/* Identity k of FUZZ_IDENTITIES (fuzzutil.h): 0 admin (uid 0), 1 and 2
 * users (uids 1000 and 1001; 1001 is in 1000's group, both in 100), 3
 * read-only (uid 1002, in group 100). */
const struct fz_who *fz_who(unsigned k);
/* s, before sess_accepted, as who. */
void fz_who_apply(const struct fz_who *who, struct session *s);

/* A root's mode bits (docs/protocol.md, "Roots"), and root_chown's
 * "leave it as it is". */
#define FZ_ROOT_READ 04u
#define FZ_ROOT_WRITE 02u
#define FZ_ROOT_MODE_BITS 0666u
#define FZ_ID_KEEP UINT32_MAX

/* Whether who may read (FZ_ROOT_READ) or write (FZ_ROOT_WRITE) a root of
 * meta m. */
int fz_root_may(const struct fz_who *who, const struct heap_root_meta *m, unsigned what);

/* Checks r's status against the rules, for q (a request, or a batch op
 * when in_batch) sent by who, before the model takes r in: PERMISSION
 * where the rules refuse q, and nowhere else. */
void fz_perm_check(const struct fz_who *who, const Heapd__Request *q, const Heapd__Response *r, int in_batch);

#endif
