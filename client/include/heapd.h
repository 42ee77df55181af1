/*
 * heapd.h - libheapd, the client library of heapd.
 *
 * heapd hosts a garbage-collected object heap for local processes. An
 * object has nrefs reference slots and nbytes of data, zeroed when it is
 * allocated. A heapd_ref names an object; 0 is null. Objects stay alive
 * while reachable from a hold or a named root:
 *   - holds belong to a connection: heapd_alloc, heapd_get_ref and
 *     heapd_root_get each add one on the object they return, and
 *     heapd_release drops one. When the connection ends, however it ends,
 *     its holds go with it;
 *   - named roots are shared by every connection and outlive them. Each
 *     has an owner uid, a group gid and a mode, as a file has: read (4)
 *     and write (2) bits for the owner, the group and others (0644 by
 *     default, heapd's root_mode). A caller may use a root if any class
 *     it is in has the bit: root_get and root_list need read; replacing
 *     or deleting a root needs write (HEAPD_EPERM otherwise, and nothing
 *     changes); root_chmod is the owner's; root_chown is as chown(2). An
 *     admin (uid 0, heapd's admin_uids) may do anything.
 * An object reachable from neither is collected; a ref to it then gets
 * HEAPD_EBADREF, as does any ref that was never valid.
 *
 * Errors. Every call returns 0 or a negative HEAPD_E* code, and keeps the
 * code and a message in the connection (heapd_errcode, heapd_errmsg). After
 * HEAPD_EIO, HEAPD_EPROTO or HEAPD_ETIMEDOUT the connection is closed:
 * every later call fails with that same code and message; close it.
 *
 * Arguments. A NULL pointer where a call needs one is HEAPD_EINVAL, sent
 * nowhere, its message naming the function and the argument
 * ("heapd_read: buf is NULL with len 64"); a NULL heapd is HEAPD_EINVAL
 * with no message stored (heapd_errcode(NULL) is HEAPD_EINVAL and
 * heapd_errmsg(NULL) a fixed text). Pointers that may be NULL say so
 * below: socket_path, rtt_ns, count and truncated, spins and hits, and
 * buffers (buf, data) whose len is 0.
 *
 * Timeouts. heapd_set_timeout bounds how long each blocking call waits
 * (heapd_connect, the one-at-a-time calls, heapd_batch_exec,
 * heapd_get_reply, heapd_flush). A call that runs out of time returns
 * HEAPD_ETIMEDOUT and closes the connection, as the async API does: its
 * reply may still come, and could not be told from a later one's.
 *
 * Three ways to make requests, on the same connection:
 *   - one at a time: heapd_alloc(), heapd_read(), ... send a request and
 *     wait for its reply;
 *   - pipelined: heapd_append_alloc(), heapd_append_read(), ... queue
 *     requests, which go in as few writes as the socket allows; then
 *     heapd_get_reply() takes their replies, in order, one per call. Many
 *     requests cost about one round trip;
 *   - batched: a heapd_batch holds several operations that go as one
 *     request and run in order, with one reply;
 *     an operation may name the ref an earlier one returns, so a linked
 *     structure is built in one round trip (see heapd_batch_new below).
 *
 * Threads. A heapd connection is used from one thread at a time.
 */
#ifndef HEAPD_H
#define HEAPD_H

#include <stddef.h>
#include <stdint.h>

#include "heapd/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t heapd_ref;          /* opaque object handle; 0 is null */
typedef struct heapd heapd;          /* one connection; use from one thread at a time */
typedef struct heapd_stats heapd_stats;
typedef struct heapd_reply heapd_reply;
typedef struct heapd_batch heapd_batch;  /* operations sent as one request */
typedef struct heapd_uid_stat heapd_uid_stat;
typedef struct heapd_root_info heapd_root_info;

/* Every error code, in one list: X(NAME, value, Status, message) for the
 * codes the daemon answers with, Status being the protocol's status it
 * sends (docs/protocol.md; INTERNAL, and any status this library does not
 * know, is HEAPD_EPROTO); L(NAME, value, message) for the library's own.
 * enum heapd_error and heapd_strerror() are made from it.
 *   EBADREF    null, stale or forged ref
 *   ENOTFOUND  no such root, or no hold on that object
 *   EPERM      this peer may not use the daemon, or not for this operation
 *              (a read-only client's writes; gc by a non-admin; a root
 *              its owner and mode keep from it; a write to a sealed
 *              object; a view without zero-copy granted)
 *   ELIMIT     a daemon limit: clients, holds, roots, object or frame size
 *   EPROTO     the daemon broke the protocol, or said the request did
 *   EIO        the connection failed or is closed
 *   ETIMEDOUT  a call or async request ran out of time; the connection
 *              is closed
 *   EFAILED    it ran and could not complete: a save's disk error
 *   ECONFLICT  a compare-and-swap found another ref than expected: nothing
 *              changed, and the reply's ref says what was there */
#define HEAPD_ERRORS(X, L)                                                        \
	X(OK, 0, OK, "success")                                                   \
	X(EBADREF, -1, BAD_REF, "invalid reference (null, stale or forged)")      \
	X(ERANGE, -2, RANGE, "offset or slot out of range")                       \
	X(ENOMEM, -3, NO_MEMORY, "the heap is at its hard maximum")               \
	X(EINVAL, -4, INVALID, "invalid argument")                                \
	X(ENOTFOUND, -5, NOT_FOUND, "not found")                                  \
	X(EPERM, -6, PERMISSION, "permission denied")                             \
	X(ELIMIT, -7, LIMIT, "a daemon limit was reached")                        \
	X(EPROTO, -8, PROTOCOL, "protocol error")                                 \
	L(EIO, -9, "connection failed")                                           \
	L(ENOBUFS, -10, "out of memory in the client")                            \
	L(ETIMEDOUT, -11, "no reply in time")                                     \
	X(ESKIPPED, -12, SKIPPED, "not run: an earlier operation of the batch failed") \
	X(EFAILED, -13, FAILED, "the daemon could not complete it (a save: the message says why)") \
	X(ECONFLICT, -14, CONFLICT, "the condition did not hold (cas: the slot or root held another ref)")

#define HEAPD_ERROR_ENUM_(name, value, ...) HEAPD_##name = value,
enum heapd_error { HEAPD_ERRORS(HEAPD_ERROR_ENUM_, HEAPD_ERROR_ENUM_) };
#undef HEAPD_ERROR_ENUM_

#define HEAPD_DEFAULT_SOCKET "/run/heapd/heapd.sock"
/* Replies a connection may have pending (appended, not yet taken). */
#define HEAPD_PIPELINE_MAX 1048576
/* Bytes of appended requests not yet sent, past which an append is
 * refused (a request alone always goes); also the replies heapd_flush
 * reads ahead at most. */
#define HEAPD_PIPELINE_BYTES (64u << 20)
/* How long a blocking call spins for its reply before it sleeps, by
 * default and at most (heapd_set_spin). */
#define HEAPD_SPIN_DEFAULT_US 50
#define HEAPD_SPIN_MAX_US 10000

/* The daemon's figures, one field per row of HEAPD_STATS (<heapd/stats.h>),
 * in its order; docs/stats.md says what each means. Fields are only ever
 * appended, so a program built with fewer of them must tell
 * heapd_get_stats how many bytes it has room for. */
#define HEAPD_STATS_FIELD_(name, kind, ...) HEAPD_STAT_DECL(kind, name)
struct heapd_stats {
	HEAPD_STATS(HEAPD_STATS_FIELD_)
};
#undef HEAPD_STATS_FIELD_

/* What one uid has of the daemon: a row of heapd_uid_stats.
 * docs/protocol.md (uid_stats) says what each figure counts. Fields are
 * only ever appended, so a program built with fewer of them must tell
 * heapd_uid_stats how large its rows are. */
struct heapd_uid_stat {
	uint32_t uid;
	uint64_t connections;      /* its open connections */
	uint64_t holds;            /* over them, repeats counted */
	uint64_t named_roots;      /* roots it made, not yet deleted */
	uint64_t root_name_bytes;  /* their names' bytes */
	uint64_t output_bytes;     /* replies not yet sent to its connections */
	uint64_t heap_bytes;       /* heap bytes of the objects it allocated */
	uint64_t roots_refused;    /* by max_roots_per_uid, max_root_bytes_per_uid */
	uint64_t holds_refused;    /* by max_holds_per_uid */
	uint64_t output_stalls;    /* times it passed max_output_per_uid */
};

/* A named root, as heapd_root_list_info lists it. */
struct heapd_root_info {
	const char *name;
	uint32_t uid, gid;  /* its owner and group */
	uint32_t mode;      /* its rw bits: 0644 is rw-r--r-- */
};

/* What an object is (heapd_object_info, heapd_root_stat). A struct tag
 * only, as struct stat: heapd_object_info is the function. */
struct heapd_object_info {
	uint32_t nrefs, nbytes;
	uint64_t size;      /* bytes it takes in the heap: its size class, or its pages */
	int sealed;         /* 1 once sealed (heapd_seal) */
	uint32_t age;       /* collections it has survived (not tracked yet: 0) */
};

/* A connection to the daemon, as heapd_client_list lists it. */
typedef struct heapd_client_info {
	uint64_t id;        /* its session id (heapd_session_id) */
	uint32_t pid, uid, gid;
	int self;           /* 1 for the connection that asked */
	char comm[17];      /* its command name (/proc/PID/comm) when it connected */
	char name[65];      /* the name it gave at hello */
	uint64_t connected_unix_ns;
	uint64_t holds;      /* its holds, repeats counted */
	uint64_t held_bytes; /* heap bytes of the objects it holds, each once */
	uint64_t requests;   /* requests it made (a batch counts once) */
	uint64_t bytes_in, bytes_out;  /* frame bytes it sent, and was sent */
} heapd_client_info;

/* The reply to one request: from heapd_get_reply (valid until the next
 * call on the connection), heapd_batch_reply (until the next call on the
 * batch), or handed to an async callback (<heapd/async.h>: valid only
 * while the callback runs). Owned by the library. Fields are only ever
 * appended. */
struct heapd_reply {
	int status;                /* HEAPD_OK or a HEAPD_E* code */
	const char *error;         /* its message; "" when status is HEAPD_OK */
	heapd_ref ref;             /* alloc, alloc_into, root_get; get_ref (0: empty slot);
	                            * cas_ref, root_cas: what was there, also on HEAPD_ECONFLICT */
	const void *data;          /* read: len bytes; view: len bytes in the daemon's
	                            * arena, valid as long as the view (heapd_view) */
	size_t len;
	const heapd_stats *stats;  /* get_stats */
	uint64_t id;               /* the request's id: 1, 2, ... on each connection */
	char *const *names;        /* root_list, root_scan: nnames names */
	size_t nnames;
	int truncated;             /* root_list, uid_stats, client_list: 1 when more did not fit */
	const heapd_uid_stat *const *uids;  /* uid_stats: nuids rows, by uid */
	size_t nuids;
	const uint32_t *root_uids;  /* root_list, root_scan: the owner, group and */
	const uint32_t *root_gids;  /* mode of each of names, in its order */
	const uint32_t *root_modes;
	const struct heapd_object_info *info;  /* object_info, root_info (whose root's
	                                 * owner, group and mode are
	                                 * root_uids[0], root_gids[0], root_modes[0]) */
	uint64_t cursor;                /* root_scan (names): the next cursor, 0 when done */
	const heapd_client_info *clients;  /* client_list: nclients rows, by id */
	size_t nclients;
	uint64_t objects, bytes;   /* retained: objects reached, the heap bytes they take */
};

/* Connects and says hello. socket_path NULL: $HEAPD_SOCKET, else
 * HEAPD_DEFAULT_SOCKET. Returns NULL only when out of memory; otherwise
 * check heapd_errcode(): a failed connection has HEAPD_EIO (or the
 * daemon's refusal, e.g. HEAPD_EPERM, HEAPD_ELIMIT) and accepts only
 * heapd_errcode, heapd_errmsg and heapd_close. */
heapd *heapd_connect(const char *socket_path);
/* heapd_connect with the connection's timeout (heapd_set_timeout) given,
 * not taken from $HEAPD_TIMEOUT_MS: it bounds the connect and the Hello,
 * then every call (0: none). */
heapd *heapd_connect_timeout(const char *socket_path, uint32_t timeout_ms);
void heapd_close(heapd *h);
/* How long a call waits for its reply by polling without sleeping, in
 * microseconds, before it sleeps in poll (0: it sleeps at once). A sleep
 * costs a wake-up, which on some machines (VMs, deep idle states) takes
 * longer than the daemon takes to answer; spinning trades this thread's
 * CPU time while it waits for a shorter round trip. The default is
 * $HEAPD_SPIN_US if set (heapd_connect fails with HEAPD_EINVAL when it is
 * not a number up to HEAPD_SPIN_MAX_US), else HEAPD_SPIN_DEFAULT_US, or 0
 * when the connecting thread and the daemon may run on one and the same
 * CPU only. A wait that
 * spins in vain makes the next ones sleep at once, for up to 1023 waits
 * (docs/performance.md). HEAPD_EINVAL past HEAPD_SPIN_MAX_US. */
int heapd_set_spin(heapd *h, uint32_t usec);
uint32_t heapd_spin(const heapd *h);
/* Waits that spun on this connection, and of them those that saw reply
 * bytes come while spinning (spins - hits spun in vain). */
void heapd_spin_counts(const heapd *h, uint64_t *spins, uint64_t *hits);  /* either may be NULL */
/* The longest a blocking call waits, in milliseconds; 0 waits for ever.
 * The default is $HEAPD_TIMEOUT_MS if set (heapd_connect fails with
 * HEAPD_EINVAL when it is not a number up to UINT32_MAX), else 0; the
 * connect and the Hello share one such timeout. A call waits that long
 * from when it starts waiting (heapd_get_reply: for its one reply;
 * heapd_flush: for the socket to take more), spinning included; past it,
 * HEAPD_ETIMEDOUT, and the connection is closed. */
int heapd_set_timeout(heapd *h, uint32_t ms);
uint32_t heapd_timeout(const heapd *h);
int heapd_errcode(const heapd *h);          /* last call's error, 0 if none; NULL: HEAPD_EINVAL */
const char *heapd_errmsg(const heapd *h);   /* its message, "" if none; NULL: a fixed text */
const char *heapd_strerror(int code);

int heapd_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes, heapd_ref *out);
/* heapd_alloc and heapd_write in one round trip: the object's data starts
 * with data[0..len) (len <= nbytes). With obj not 0, the new object is
 * stored in slot of obj ("obj.slot = new T(data)") and not held; whatever
 * the slot referred to before may become garbage. */
int heapd_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes, const void *data,
		     uint32_t len, heapd_ref *out);
int heapd_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len);
int heapd_read(heapd *h, heapd_ref obj, uint32_t off, void *buf, uint32_t len);
int heapd_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target);   /* target 0 clears */
int heapd_get_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref *out);     /* *out 0 if empty (no hold) */
int heapd_release(heapd *h, heapd_ref obj);
/* Root names are 1 to 255 bytes of UTF-8 text without control characters
 * (else HEAPD_EINVAL), sent without their NUL. root_set of a new name
 * makes a root that the caller owns, with its gid and heapd's root_mode;
 * replacing or deleting (obj 0) one needs write on it. */
int heapd_root_set(heapd *h, const char *name, heapd_ref obj);                 /* obj 0 deletes */
int heapd_root_get(heapd *h, const char *name, heapd_ref *out);                /* needs read */
/* The root's mode: rw bits only (else HEAPD_EINVAL); by its owner or an
 * admin (else HEAPD_EPERM). */
int heapd_root_chmod(heapd *h, const char *name, uint32_t mode);
/* Gives the root an owner and a group, HEAPD_ID_KEEP leaving either as it
 * is. As chown(2): only an admin may change the owner; the owner may set
 * a group it is in (its primary gid). A root counts against its owner's
 * quotas (max_roots_per_uid), so a new owner takes it over, whatever its
 * quotas say. */
int heapd_root_chown(heapd *h, const char *name, uint32_t uid, uint32_t gid);
#define HEAPD_ID_KEEP UINT32_MAX
/* Compare and swap, for structures several clients change: if slot of obj
 * holds expected (the very ref, 0 for an empty slot), it gets target, as
 * heapd_set_ref would set it, and the call returns 0; else nothing changes
 * and it returns HEAPD_ECONFLICT. Either way *was (may be NULL) gets what
 * the slot held (expected when it swapped), without a hold: it is
 * reachable only while something else keeps it. Errors of obj, slot and
 * target (HEAPD_EBADREF, HEAPD_ERANGE, HEAPD_EPERM) come first, whatever
 * the slot holds; a stale expected is only a conflict. */
int heapd_cas_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target, heapd_ref *was);
/* The same for the root name: expected 0 means "only if absent" (the swap
 * then makes the root, as heapd_root_set does: the caller owns it, and it
 * counts against its quotas), target 0 deletes it. Needs write on an
 * existing root (HEAPD_EPERM, before anything is compared or shown). *was
 * gets what the root named, 0 when absent, without a hold. The push of a
 * shared list: node.slot 0 = head; heapd_root_cas(h, "list", head, node,
 * &was); on HEAPD_ECONFLICT, head = was and again. */
int heapd_root_cas(heapd *h, const char *name, heapd_ref expected, heapd_ref target, heapd_ref *was);
/* Full collection: when it returns, every object that was unreachable when
 * it was called is freed, and its refs get HEAPD_EBADREF. */
int heapd_gc(heapd *h);
int heapd_free_os_memory(heapd *h);         /* collect, then return every free page to the OS */
/* Saves the heap's named roots and what they reach to the daemon's
 * snapshot (docs/persistence.md); admins only (else HEAPD_EPERM), and
 * HEAPD_EINVAL when the daemon keeps none (state_dir empty). wait != 0:
 * returns once a save begun after the call is on disk, or HEAPD_EFAILED
 * with the disk's error; 0: returns at once, the save going on. */
int heapd_save(heapd *h, int wait);
/* What obj reaches, obj included, each object once: *objects, and the
 * heap bytes they take in *bytes (size classes, or a large object's
 * pages); either may be NULL. The graph is counted as it was when the
 * count began, in the daemon's slices, so a large graph takes a while and
 * other clients are served meanwhile; an object shared by two roots
 * counts in both roots' counts (docs/protocol.md, Retained). At most
 * max_retained_per_uid (4) counts per uid asked for and not yet answered
 * (else HEAPD_ELIMIT), admins excepted. HEAPD_EBADREF for a stale ref (or 0). */
int heapd_retained(heapd *h, heapd_ref obj, uint64_t *objects, uint64_t *bytes);
/* The same for the object of the root name, which the caller must be
 * able to read (else HEAPD_EPERM; HEAPD_ENOTFOUND if there is none): the
 * object the root names when the count begins. A NULL or empty name is
 * HEAPD_EINVAL (the wire's empty name asks for obj's count). */
int heapd_root_retained(heapd *h, const char *name, uint64_t *objects, uint64_t *bytes);
/* Fills out, which has size bytes (pass sizeof *out): the library writes
 * no more than that, and zeroes what it has no field for. */
int heapd_get_stats(heapd *h, heapd_stats *out, size_t size);

/* One round trip; *rtt_ns (may be NULL) gets its duration. */
int heapd_ping(heapd *h, uint64_t *rtt_ns);
/* The named roots' names: *names is a NULL-terminated array to release
 * with heapd_free_names(). At most what fits in one frame: *truncated
 * (may be NULL) is set to 1 when there are more. */
int heapd_root_list(heapd *h, char ***names, size_t *count, int *truncated);
void heapd_free_names(char **names);
/* The same roots with their owner, group and mode: *roots is an array of
 * *count of them, then one whose name is NULL, to release (names
 * included) with heapd_free_root_info(). Both list the roots the caller
 * may read, no others. */
int heapd_root_list_info(heapd *h, heapd_root_info **roots, size_t *count, int *truncated);
void heapd_free_root_info(heapd_root_info *roots);
/* A row for each uid with a connection, a named root or a hold, by uid:
 * *rows is an array of *count rows of size bytes each (pass sizeof
 * **rows; the library writes no more of each row and zeroes what it has
 * no field for), to release with heapd_free_uid_stats(). At most what
 * fits in one frame: *truncated (may be NULL) is set to 1 when there are
 * more uids. */
int heapd_uid_stats(heapd *h, heapd_uid_stat **rows, size_t size, size_t *count, int *truncated);
void heapd_free_uid_stats(heapd_uid_stat *rows);

/* ---- introspection ---- */
/* What obj is: its sizes and the heap bytes it takes. Any ref the caller
 * has, read-only ones too. */
int heapd_object_info(heapd *h, heapd_ref obj, struct heapd_object_info *out);
/* The root's owner, group and mode into *root (root->name is set to
 * NULL), its object's info into *obj; either may be NULL. Needs read on
 * the root. */
/* (heapd_root_info is the type, hence the name: the operation is root_info.) */
int heapd_root_stat(heapd *h, const char *name, heapd_root_info *root, struct heapd_object_info *obj);
/* The roots the caller may read, a piece at a time, as Redis SCAN:
 * cursor 0 starts, and *next is the cursor to go on with, 0 once the
 * scan is complete. pattern NULL or "" lists every root, else those it
 * matches as fnmatch(3) without flags (at most 1024 bytes). count: about
 * how many of the daemon's table slots to look at (0: its default, 100;
 * at most 10,000), so a call may list none and still not be done. A root
 * present from the scan's start to its end is listed at least once
 * (twice, rarely, if the table shrank meanwhile); one made or deleted
 * meanwhile may or may not be. *roots (*n of them, n may be NULL, then
 * one whose name is NULL) is released with heapd_free_root_info(). */
int heapd_root_scan(heapd *h, const char *pattern, uint64_t cursor, uint32_t count, heapd_root_info **roots,
		    size_t *n, uint64_t *next);
/* Every connection (an admin) or those of the caller's uid (anyone
 * else), by id: *rows, *count of them, released with
 * heapd_free_client_list(). *truncated is 1 when more did not fit in a
 * frame; count and truncated may be NULL. */
int heapd_client_list(heapd *h, heapd_client_info **rows, size_t *count, int *truncated);
void heapd_free_client_list(heapd_client_info *rows);
/* Closes connection id as if its client had crashed (its holds go);
 * admins only (else HEAPD_EPERM), HEAPD_ENOTFOUND for no such id. An
 * admin may close its own: the call returns 0, then the connection is
 * closed. */
int heapd_client_kill(heapd *h, uint64_t id);

/* ---- zero-copy reads ----
 *
 * A sealed object's data can be read where the daemon keeps it, mapped
 * read-only into the caller, with no copy through the socket.
 *
 * heapd_seal makes obj immutable for good: heapd_write, heapd_set_ref,
 * heapd_cas_ref and heapd_alloc_into into it fail with HEAPD_EPERM from
 * then on (the objects its slots name are not sealed). A full ref only (a
 * read-only ref or session: HEAPD_EPERM); sealing twice is no error.
 *
 * heapd_view sets *data to the *len data bytes of sealed obj (HEAPD_EINVAL
 * if it is not sealed), read-only memory, and keeps obj alive and those
 * bytes as they are until heapd_view_release(obj) or the end of the
 * connection (heapd_close, or a failure); then *data must not be used.
 * Each view is one: heapd_view_release ends one, heapd_release ends none;
 * views count against the daemon's hold limits (HEAPD_ELIMIT). A
 * read-only ref may be viewed. Only for connections the daemon grants
 * zero-copy (its zero_copy_uids and zero_copy_gids, by default its own uid
 * and root; never a read-only session): else HEAPD_EPERM, and the message
 * names those settings. The first view of a connection maps the daemon's arena
 * (address space for all it may grow to; memory only for the pages read)
 * in the same round trip, and it stays mapped until heapd_close. A view
 * whose bytes cannot be mapped (no address space left) fails with
 * HEAPD_ENOBUFS, though the daemon made it: heapd_view_release ends it.
 *
 * heapd_view_release does not wait for its reply (as Plasma's Release),
 * and its request goes out with the connection's next request, in the
 * same write: view, read, release in a loop costs one round trip, as
 * heapd_read does. The daemon ends the view when that request reaches it,
 * at the next call, heapd_flush or heapd_close; at once (the call then
 * sends, within the timeout) when the views released and not yet sent
 * would show more than 1 MiB, so at most that much stays pinned in the
 * daemon by a caller that goes idle after a release. It returns 0; HEAPD_ENOTFOUND at once, nothing
 * sent, when this connection has no view of obj (the library counts the
 * views each form's replies made and ended, by ref: a full and a
 * read-only ref of one object are views apart); HEAPD_EINVAL while
 * pipelined replies are pending, as any call one at a time; or the error
 * of a connection that failed. Its reply is the library's: taken on the
 * way to the next reply the caller waits for, counted by no
 * heapd_pending; a refusal there (the daemon and the library disagree)
 * closes the connection with HEAPD_EPROTO. heapd_append_view_release,
 * heapd_batch_view_release and heapd_async_view_release have replies of
 * their own, as any request (HEAPD_ENOTFOUND from the daemon).
 *
 * Pipelined, heapd_append_view's reply has data and len (heapd_get_reply);
 * batched, heapd_batch_view's result has them (heapd_batch_reply). Either
 * pointer is valid as long as its view, not as the reply or the batch. */
int heapd_seal(heapd *h, heapd_ref obj);
int heapd_view(heapd *h, heapd_ref obj, const void **data, size_t *len);
int heapd_view_release(heapd *h, heapd_ref obj);

/* What the daemon said at hello. */
uint64_t heapd_session_id(const heapd *h);
const char *heapd_server_version(const heapd *h);
uint32_t heapd_max_frame(const heapd *h);
uint64_t heapd_max_object(const heapd *h);
uint32_t heapd_max_batch_ops(const heapd *h);

/* ---- pipelining ----
 *
 * Each heapd_append_* frames a request into the connection's output
 * buffer (copying what it points to: the caller's buffers may go at once)
 * and returns 0, or an error for that request alone, which is then not
 * queued: HEAPD_ELIMIT past HEAPD_PIPELINE_MAX pending replies or
 * HEAPD_PIPELINE_BYTES unsent (take replies, then append again), or for a
 * request over the daemon's max_frame_size; HEAPD_EINVAL for a NULL name
 * or batch, or NULL data with a length;
 * HEAPD_ENOBUFS; or the error of a connection that failed.
 *
 * heapd_get_reply takes the oldest pending reply into *r and returns its
 * status (also in heapd_errcode/heapd_errmsg): HEAPD_OK, the request's
 * error, or, once the connection fails, HEAPD_EIO (or HEAPD_EPROTO) for
 * this and every pending reply. It sends what is still queued as it waits,
 * reading replies as they come, so no pipeline is too long: the daemon
 * never stalls on replies nobody reads. HEAPD_EINVAL when none is pending.
 *
 * heapd_flush sends what is queued without taking replies (optional:
 * heapd_get_reply sends too). Replies that arrive meanwhile are read into
 * the connection, up to HEAPD_PIPELINE_BYTES of them; past that it
 * returns, leaving the rest to go as replies are taken.
 *
 * Mixing: while replies are pending, the one-at-a-time calls (and
 * heapd_batch_exec) fail with HEAPD_EINVAL ("replies pending") and change
 * nothing; take the replies first. gc and free_os_memory may be appended:
 * their replies come when the collection is done, and the requests after
 * them wait for it, as one at a time. */
int heapd_append_alloc(heapd *h, uint32_t nrefs, uint32_t nbytes);
int heapd_append_alloc_into(heapd *h, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			    const void *data, uint32_t len);
int heapd_append_write(heapd *h, heapd_ref obj, uint32_t off, const void *buf, uint32_t len);
int heapd_append_read(heapd *h, heapd_ref obj, uint32_t off, uint32_t len);
int heapd_append_set_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref target);
int heapd_append_get_ref(heapd *h, heapd_ref obj, uint32_t slot);
int heapd_append_release(heapd *h, heapd_ref obj);
int heapd_append_root_set(heapd *h, const char *name, heapd_ref obj);
int heapd_append_root_get(heapd *h, const char *name);
int heapd_append_root_chmod(heapd *h, const char *name, uint32_t mode);
int heapd_append_root_chown(heapd *h, const char *name, uint32_t uid, uint32_t gid);
int heapd_append_cas_ref(heapd *h, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target);
int heapd_append_root_cas(heapd *h, const char *name, heapd_ref expected, heapd_ref target);
int heapd_append_gc(heapd *h);
int heapd_append_free_os_memory(heapd *h);
int heapd_append_get_stats(heapd *h);
int heapd_append_ping(heapd *h);
int heapd_append_uid_stats(heapd *h);
int heapd_append_object_info(heapd *h, heapd_ref obj);
int heapd_append_root_info(heapd *h, const char *name);
int heapd_append_root_scan(heapd *h, const char *pattern, uint64_t cursor, uint32_t count);
int heapd_append_client_list(heapd *h);
int heapd_append_client_kill(heapd *h, uint64_t id);
int heapd_append_retained(heapd *h, heapd_ref obj);          /* reply: objects, bytes */
int heapd_append_root_retained(heapd *h, const char *name);
int heapd_append_seal(heapd *h, heapd_ref obj);
int heapd_append_view(heapd *h, heapd_ref obj);                  /* reply: data, len */
int heapd_append_view_release(heapd *h, heapd_ref obj);
/* A batch as one pipelined request: its reply's status is the batch's
 * (heapd_batch_exec), and taking it stores the ops' results in b, which
 * must stay alive until then. */
int heapd_append_batch(heapd *h, heapd_batch *b);
int heapd_flush(heapd *h);
int heapd_get_reply(heapd *h, heapd_reply *r);
size_t heapd_pending(const heapd *h);   /* replies appended and not yet taken */

/* ---- batches ----
 *
 * A heapd_batch is a list of operations, built without a connection and
 * sent as one request by heapd_batch_exec (or heapd_append_batch). The
 * daemon runs them in order (nothing else of the connection in between),
 * until one fails: the ones before it stand, the ones after it are not
 * run (HEAPD_ESKIPPED). A batch is not a transaction: nothing is undone.
 * A long batch may go on over several turns of the daemon, so another
 * client's request may run between two of its ops, unless it has a
 * cas_ref or root_cas op: such a batch runs whole in one turn (an alloc
 * in it that finds no room fails with HEAPD_ENOMEM at once, without
 * waiting for a collection). A failed CAS fails its op (HEAPD_ECONFLICT),
 * so a CAS first makes the rest conditional: nothing is applied unless it
 * holds, and nothing runs between it and them. Holds are as for the calls
 * alone: alloc, get_ref and root_get each add one; a CAS adds none.
 *
 * Each heapd_batch_* adder copies its arguments and returns the op's
 * index (0, 1, ...), or HEAPD_ENOBUFS, or HEAPD_EINVAL for a NULL batch,
 * name, or data with a length (with no message: a batch has no
 * connection). Ops are numbered from 0 everywhere, messages included. Any ref argument may be a literal
 * ref or heapd_batch_result(i): the ref that op i of this batch returns
 * (alloc, alloc_into, get_ref, root_get; cas_ref and root_cas: what was
 * there, which is their expected, since later ops run only if they
 * swapped). Naming an op that is not
 * earlier, or one that returns no ref, makes that op fail with
 * HEAPD_EINVAL. (Placeholders are values below 2^32, which the protocol
 * guarantees no ref has.) heapd_batch_result of a negative index (an
 * adder's error) names no op.
 *
 * heapd_batch_exec returns 0 when every op succeeded; else the error of
 * the op that failed (heapd_batch_failed says which, and heapd_errmsg
 * names it); HEAPD_ELIMIT when the batch is refused whole (more than
 * max_batch_ops ops, or a reply that could not fit in a frame), or the
 * error that kept it from being sent (replies pending, a request over
 * max_frame_size): nothing ran, and every op has HEAPD_ESKIPPED; or a
 * connection error, which every op then has. Then heapd_batch_reply gives
 * each op's status and result, valid until the batch is reset or runs
 * again. A batch may be run again, as it is or with ops added; a read
 * op's reply must fit, with all the others, in one frame (max_frame_size). */
heapd_batch *heapd_batch_new(void);             /* NULL when out of memory */
void heapd_batch_free(heapd_batch *b);
void heapd_batch_reset(heapd_batch *b);         /* no ops, no results: as new */
size_t heapd_batch_count(const heapd_batch *b); /* ops */
heapd_ref heapd_batch_result(int index);
int heapd_batch_alloc(heapd_batch *b, uint32_t nrefs, uint32_t nbytes);
int heapd_batch_alloc_into(heapd_batch *b, heapd_ref obj, uint32_t slot, uint32_t nrefs, uint32_t nbytes,
			   const void *data, uint32_t len);
int heapd_batch_write(heapd_batch *b, heapd_ref obj, uint32_t off, const void *buf, uint32_t len);
int heapd_batch_read(heapd_batch *b, heapd_ref obj, uint32_t off, uint32_t len);
int heapd_batch_set_ref(heapd_batch *b, heapd_ref obj, uint32_t slot, heapd_ref target);
int heapd_batch_get_ref(heapd_batch *b, heapd_ref obj, uint32_t slot);
int heapd_batch_release(heapd_batch *b, heapd_ref obj);
int heapd_batch_root_set(heapd_batch *b, const char *name, heapd_ref obj);  /* NULL name: HEAPD_EINVAL */
int heapd_batch_root_get(heapd_batch *b, const char *name);
int heapd_batch_root_chmod(heapd_batch *b, const char *name, uint32_t mode);
int heapd_batch_root_chown(heapd_batch *b, const char *name, uint32_t uid, uint32_t gid);
int heapd_batch_cas_ref(heapd_batch *b, heapd_ref obj, uint32_t slot, heapd_ref expected, heapd_ref target);
int heapd_batch_root_cas(heapd_batch *b, const char *name, heapd_ref expected, heapd_ref target);
int heapd_batch_get_stats(heapd_batch *b);
int heapd_batch_object_info(heapd_batch *b, heapd_ref obj);
int heapd_batch_root_info(heapd_batch *b, const char *name);  /* NULL name: HEAPD_EINVAL */
int heapd_batch_seal(heapd_batch *b, heapd_ref obj);
int heapd_batch_view(heapd_batch *b, heapd_ref obj);         /* result: data, len */
int heapd_batch_view_release(heapd_batch *b, heapd_ref obj);
int heapd_batch_exec(heapd *h, heapd_batch *b);
int heapd_batch_failed(const heapd_batch *b);   /* the op that failed, or -1 */
/* Op index's status (returned) and result; HEAPD_EINVAL for an index the
 * last run did not have. */
int heapd_batch_reply(const heapd_batch *b, int index, heapd_reply *r);

#ifdef __cplusplus
}
#endif

#endif
