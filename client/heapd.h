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
 *   - named roots are shared by every connection and outlive them.
 * An object reachable from neither is collected; a ref to it then gets
 * HEAPD_EBADREF, as does any ref that was never valid.
 *
 * Errors. Every call returns 0 or a negative HEAPD_E* code, and keeps the
 * code and a message in the connection (heapd_errcode, heapd_errmsg). After
 * HEAPD_EIO or HEAPD_EPROTO the connection is unusable: close it.
 *
 * Threads. A heapd connection is used from one thread at a time.
 */
#ifndef HEAPD_H
#define HEAPD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t heapd_ref;          /* opaque object handle; 0 is null */
typedef struct heapd heapd;          /* one connection; use from one thread at a time */
typedef struct heapd_stats heapd_stats;

enum heapd_error {
	HEAPD_OK = 0,
	HEAPD_EBADREF = -1,    /* null, stale or forged ref */
	HEAPD_ERANGE = -2,     /* offset or slot out of range */
	HEAPD_ENOMEM = -3,     /* the heap's hard maximum is reached */
	HEAPD_EINVAL = -4,     /* malformed argument */
	HEAPD_ENOTFOUND = -5,  /* no such root, or no hold on that object */
	HEAPD_EPERM = -6,      /* this peer may not use the daemon */
	HEAPD_ELIMIT = -7,     /* a daemon limit: clients, holds, roots, object or frame size */
	HEAPD_EPROTO = -8,     /* the daemon sent what the protocol does not allow */
	HEAPD_EIO = -9,        /* the connection failed or is closed */
	HEAPD_ENOBUFS = -10,   /* this process could not allocate memory */
	HEAPD_ETIMEDOUT = -11, /* no reply in time (async timeouts); the connection is dropped */
};

#define HEAPD_DEFAULT_SOCKET "/run/heapd/heapd.sock"
#define HEAPD_PAUSE_RING 256

/* The daemon's figures; see docs/stats.md. Fields are only ever appended. */
struct heapd_stats {
	uint64_t heap_alloc;
	uint64_t heap_sys;
	uint64_t heap_idle;
	uint64_t heap_inuse;
	uint64_t heap_released;
	uint64_t heap_objects;
	uint64_t total_alloc;
	uint64_t mallocs;
	uint64_t frees;
	uint64_t gc_sys;
	uint64_t wbuf_spans_busy;
	uint64_t wbuf_spans_free;
	uint64_t next_gc;
	uint64_t last_gc_unix_ns;
	uint64_t num_gc;
	uint64_t num_forced_gc;
	uint64_t pause_total_ns;
	uint64_t pause_ns[HEAPD_PAUSE_RING]; /* pause_ns[(num_pause + 255) % 256] is the latest */
	uint64_t num_pause;
	uint64_t max_pause_ns;
	double gc_cpu_fraction;
	uint64_t sweep_spans_idle;
	uint64_t sweep_spans_alloc;
	uint64_t sweep_spans_gc;
	uint64_t wbuf_spans_freed;
	uint64_t wbuf_spans_reused;
	uint64_t wbuf_spans_alloc;
	uint64_t scav_released_bytes;
	uint64_t scav_madvise_calls;
	uint64_t heap_marked;
	uint64_t heap_live;
	uint64_t holds;
	uint64_t rss_bytes;      /* the daemon's resident memory */
	uint64_t sessions;       /* connected clients */
	uint64_t named_roots;
	uint64_t uptime_ns;
};

/* One reply, as the async API (<heapd/async.h>) hands it to a callback.
 * Owned by the library: valid only while the callback runs. */
typedef struct heapd_reply {
	int status;                  /* HEAPD_OK or a HEAPD_E* code */
	const char *error;           /* a message when status is not HEAPD_OK, else "" */
	heapd_ref ref;               /* alloc, alloc_into, get_ref, root_get */
	const void *data;            /* read: len bytes */
	size_t len;
	const heapd_stats *stats;    /* get_stats */
	uint64_t id;                 /* the request's id */
	char *const *names;          /* root_list: nnames names */
	size_t nnames;
	int truncated;               /* root_list: 1 when more names did not fit */
} heapd_reply;

/* Connects and says hello. socket_path NULL: $HEAPD_SOCKET, else
 * HEAPD_DEFAULT_SOCKET. Returns NULL only when out of memory; otherwise
 * check heapd_errcode(): a failed connection has HEAPD_EIO (or the
 * daemon's refusal, e.g. HEAPD_EPERM, HEAPD_ELIMIT) and accepts only
 * heapd_errcode, heapd_errmsg and heapd_close. */
heapd *heapd_connect(const char *socket_path);
void heapd_close(heapd *h);
int heapd_errcode(const heapd *h);          /* last call's error, 0 if none */
const char *heapd_errmsg(const heapd *h);   /* its message, "" if none */
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
int heapd_root_set(heapd *h, const char *name, heapd_ref obj);                 /* obj 0 deletes */
int heapd_root_get(heapd *h, const char *name, heapd_ref *out);
/* Full collection: when it returns, every object that was unreachable when
 * it was called is freed, and its refs get HEAPD_EBADREF. */
int heapd_gc(heapd *h);
int heapd_free_os_memory(heapd *h);         /* collect, then return every free page to the OS */
int heapd_get_stats(heapd *h, heapd_stats *out);

/* One round trip; *rtt_ns (may be NULL) gets its duration. */
int heapd_ping(heapd *h, uint64_t *rtt_ns);
/* The named roots' names: *names is a NULL-terminated array to release
 * with heapd_free_names(). At most what fits in one frame: *truncated
 * (may be NULL) is set to 1 when there are more. */
int heapd_root_list(heapd *h, char ***names, size_t *count, int *truncated);
void heapd_free_names(char **names);

/* What the daemon said at hello. */
uint64_t heapd_session_id(const heapd *h);
const char *heapd_server_version(const heapd *h);
uint32_t heapd_max_frame(const heapd *h);
uint64_t heapd_max_object(const heapd *h);

#ifdef __cplusplus
}
#endif

#endif
