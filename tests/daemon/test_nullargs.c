/*
 * test_nullargs.c - every public function of libheapd given a NULL where
 * it needs a pointer: HEAPD_EINVAL (or, for a function that returns no
 * code, a harmless answer), never a crash. On a live connection the
 * message names the function and the argument, nothing is sent (no reply
 * pending) and the connection still works; a NULL connection, batch or
 * async context stores no message. The optional pointers libheapd(3)
 * lists (rtt_ns, count, truncated, n, spins, hits, was, a root_stat's root
 * and obj, a count's objects and bytes, a scan's pattern, buffers of
 * length 0) are accepted.
 *
 * Table-driven: one row per call, X(id, message, call), where the call
 * sees the fixture as f.
 */
#include "heapd/async.h"

#include "daemonutil.h"

struct fx {
	struct daemon d;
	heapd *h;
	heapd_batch *b;
	heapd_async *ac;
	heapd_ref ref;          /* an object of 1 slot and 8 bytes, held */
};

static struct fx fx;

#define REF (f->ref)
#define NAME "nullargs"

/* Calls on a live connection with one pointer NULL, and the message each
 * must leave. */
#define BLOCKING_NULLS(X)                                                                               \
	X(alloc, "heapd_alloc: out is NULL", heapd_alloc(f->h, 0, 8, NULL))                              \
	X(alloc_into_data, "heapd_alloc_into: data is NULL with len 4",                                  \
	  heapd_alloc_into(f->h, 0, 0, 0, 8, NULL, 4, &f->ref))                                          \
	X(alloc_into_out, "heapd_alloc_into: out is NULL", heapd_alloc_into(f->h, 0, 0, 0, 8, "ab", 2, NULL)) \
	X(write, "heapd_write: buf is NULL with len 8", heapd_write(f->h, REF, 0, NULL, 8))             \
	X(read, "heapd_read: buf is NULL with len 64", heapd_read(f->h, REF, 0, NULL, 64))              \
	X(get_ref, "heapd_get_ref: out is NULL", heapd_get_ref(f->h, REF, 0, NULL))                      \
	X(root_set, "heapd_root_set: name is NULL", heapd_root_set(f->h, NULL, REF))                     \
	X(root_get_name, "heapd_root_get: name is NULL", heapd_root_get(f->h, NULL, &f->ref))           \
	X(root_get_out, "heapd_root_get: out is NULL", heapd_root_get(f->h, NAME, NULL))                \
	X(root_chmod, "heapd_root_chmod: name is NULL", heapd_root_chmod(f->h, NULL, 0600))             \
	X(root_chown, "heapd_root_chown: name is NULL", heapd_root_chown(f->h, NULL, 0, 0))             \
	X(get_stats, "heapd_get_stats: out is NULL", heapd_get_stats(f->h, NULL, sizeof(heapd_stats)))   \
	X(root_list, "heapd_root_list: names is NULL", heapd_root_list(f->h, NULL, NULL, NULL))          \
	X(root_list_info, "heapd_root_list_info: roots is NULL", heapd_root_list_info(f->h, NULL, NULL, NULL)) \
	X(uid_stats, "heapd_uid_stats: rows is NULL", heapd_uid_stats(f->h, NULL, sizeof(heapd_uid_stat), NULL, NULL)) \
	X(root_cas, "heapd_root_cas: name is NULL", heapd_root_cas(f->h, NULL, 0, REF, NULL))             \
	X(root_retained, "heapd_root_retained: name is NULL", heapd_root_retained(f->h, NULL, NULL, NULL)) \
	X(root_retained_empty, "heapd_root_retained: name is empty", heapd_root_retained(f->h, "", NULL, NULL)) \
	X(object_info, "heapd_object_info: out is NULL", heapd_object_info(f->h, REF, NULL))            \
	X(root_stat, "heapd_root_stat: name is NULL", heapd_root_stat(f->h, NULL, NULL, NULL))           \
	X(root_scan_roots, "heapd_root_scan: roots is NULL",                                             \
	  heapd_root_scan(f->h, NULL, 0, 0, NULL, NULL, &(uint64_t){0}))                                 \
	X(root_scan_next, "heapd_root_scan: next is NULL",                                               \
	  heapd_root_scan(f->h, NULL, 0, 0, &(heapd_root_info *){NULL}, NULL, NULL))                     \
	X(client_list, "heapd_client_list: rows is NULL", heapd_client_list(f->h, NULL, NULL, NULL))     \
	X(view_data, "heapd_view: data is NULL", heapd_view(f->h, REF, NULL, &(size_t){0}))              \
	X(view_len, "heapd_view: len is NULL", heapd_view(f->h, REF, &(const void *){NULL}, NULL))     \
	X(batch_exec, "heapd_batch_exec: b is NULL", heapd_batch_exec(f->h, NULL))                      \
	X(append_alloc_into, "heapd_append_alloc_into: data is NULL with len 3",                         \
	  heapd_append_alloc_into(f->h, 0, 0, 0, 8, NULL, 3))                                           \
	X(append_write, "heapd_append_write: buf is NULL with len 1", heapd_append_write(f->h, REF, 0, NULL, 1)) \
	X(append_root_set, "heapd_append_root_set: name is NULL", heapd_append_root_set(f->h, NULL, REF)) \
	X(append_root_get, "heapd_append_root_get: name is NULL", heapd_append_root_get(f->h, NULL))    \
	X(append_root_chmod, "heapd_append_root_chmod: name is NULL", heapd_append_root_chmod(f->h, NULL, 0600)) \
	X(append_root_chown, "heapd_append_root_chown: name is NULL", heapd_append_root_chown(f->h, NULL, 0, 0)) \
	X(append_root_cas, "heapd_append_root_cas: name is NULL", heapd_append_root_cas(f->h, NULL, 0, REF)) \
	X(append_root_retained, "heapd_append_root_retained: name is NULL", heapd_append_root_retained(f->h, NULL)) \
	X(append_root_retained_empty, "heapd_append_root_retained: name is empty",                      \
	  heapd_append_root_retained(f->h, ""))                                                          \
	X(append_root_info, "heapd_append_root_info: name is NULL", heapd_append_root_info(f->h, NULL)) \
	X(append_batch, "heapd_append_batch: b is NULL", heapd_append_batch(f->h, NULL))                \
	X(get_reply, "heapd_get_reply: r is NULL", heapd_get_reply(f->h, NULL))

/* Every function that takes the connection, given NULL for it. */
#define BLOCKING_NULL_H(X)                                                                  \
	X(set_spin, heapd_set_spin(NULL, 0))                                                \
	X(set_timeout, heapd_set_timeout(NULL, 0))                                          \
	X(ping, heapd_ping(NULL, NULL))                                                     \
	X(alloc, heapd_alloc(NULL, 0, 8, &f->ref))                                          \
	X(alloc_into, heapd_alloc_into(NULL, 0, 0, 0, 8, "ab", 2, &f->ref))                 \
	X(write, heapd_write(NULL, REF, 0, "ab", 2))                                        \
	X(read, heapd_read(NULL, REF, 0, f, 2))                                             \
	X(set_ref, heapd_set_ref(NULL, REF, 0, 0))                                          \
	X(get_ref, heapd_get_ref(NULL, REF, 0, &f->ref))                                    \
	X(release, heapd_release(NULL, REF))                                                \
	X(root_set, heapd_root_set(NULL, NAME, REF))                                        \
	X(root_get, heapd_root_get(NULL, NAME, &f->ref))                                    \
	X(root_chmod, heapd_root_chmod(NULL, NAME, 0600))                                   \
	X(root_chown, heapd_root_chown(NULL, NAME, 0, 0))                                   \
	X(gc, heapd_gc(NULL))                                                               \
	X(free_os_memory, heapd_free_os_memory(NULL))                                       \
	X(save, heapd_save(NULL, 0))                                                        \
	X(get_stats, heapd_get_stats(NULL, &(heapd_stats){0}, sizeof(heapd_stats)))         \
	X(root_list, heapd_root_list(NULL, &(char **){NULL}, NULL, NULL))                   \
	X(root_list_info, heapd_root_list_info(NULL, &(heapd_root_info *){NULL}, NULL, NULL)) \
	X(uid_stats, heapd_uid_stats(NULL, &(heapd_uid_stat *){NULL}, sizeof(heapd_uid_stat), NULL, NULL)) \
	X(cas_ref, heapd_cas_ref(NULL, REF, 0, 0, 0, NULL))                                 \
	X(root_cas, heapd_root_cas(NULL, NAME, 0, REF, NULL))                               \
	X(retained, heapd_retained(NULL, REF, NULL, NULL))                                  \
	X(root_retained, heapd_root_retained(NULL, NAME, NULL, NULL))                       \
	X(object_info, heapd_object_info(NULL, REF, &(struct heapd_object_info){0}))        \
	X(root_stat, heapd_root_stat(NULL, NAME, NULL, NULL))                               \
	X(root_scan, heapd_root_scan(NULL, NULL, 0, 0, &(heapd_root_info *){NULL}, NULL, &(uint64_t){0})) \
	X(client_list, heapd_client_list(NULL, &(heapd_client_info *){NULL}, NULL, NULL))   \
	X(client_kill, heapd_client_kill(NULL, 1))                                          \
	X(seal, heapd_seal(NULL, REF))                                                      \
	X(view, heapd_view(NULL, REF, &(const void *){NULL}, &(size_t){0}))                 \
	X(view_release, heapd_view_release(NULL, REF))                                      \
	X(batch_exec, heapd_batch_exec(NULL, f->b))                                         \
	X(append_alloc, heapd_append_alloc(NULL, 0, 8))                                     \
	X(append_alloc_into, heapd_append_alloc_into(NULL, 0, 0, 0, 8, "ab", 2))            \
	X(append_write, heapd_append_write(NULL, REF, 0, "ab", 2))                          \
	X(append_read, heapd_append_read(NULL, REF, 0, 2))                                  \
	X(append_set_ref, heapd_append_set_ref(NULL, REF, 0, 0))                            \
	X(append_get_ref, heapd_append_get_ref(NULL, REF, 0))                               \
	X(append_release, heapd_append_release(NULL, REF))                                  \
	X(append_root_set, heapd_append_root_set(NULL, NAME, REF))                          \
	X(append_root_get, heapd_append_root_get(NULL, NAME))                               \
	X(append_root_chmod, heapd_append_root_chmod(NULL, NAME, 0600))                     \
	X(append_root_chown, heapd_append_root_chown(NULL, NAME, 0, 0))                     \
	X(append_cas_ref, heapd_append_cas_ref(NULL, REF, 0, 0, 0))                         \
	X(append_root_cas, heapd_append_root_cas(NULL, NAME, 0, REF))                       \
	X(append_retained, heapd_append_retained(NULL, REF))                                \
	X(append_root_retained, heapd_append_root_retained(NULL, NAME))                     \
	X(append_object_info, heapd_append_object_info(NULL, REF))                          \
	X(append_root_info, heapd_append_root_info(NULL, NAME))                             \
	X(append_root_scan, heapd_append_root_scan(NULL, NULL, 0, 0))                       \
	X(append_client_list, heapd_append_client_list(NULL))                               \
	X(append_client_kill, heapd_append_client_kill(NULL, 1))                            \
	X(append_seal, heapd_append_seal(NULL, REF))                                        \
	X(append_view, heapd_append_view(NULL, REF))                                        \
	X(append_view_release, heapd_append_view_release(NULL, REF))                        \
	X(append_gc, heapd_append_gc(NULL))                                                 \
	X(append_free_os_memory, heapd_append_free_os_memory(NULL))                         \
	X(append_get_stats, heapd_append_get_stats(NULL))                                   \
	X(append_ping, heapd_append_ping(NULL))                                             \
	X(append_uid_stats, heapd_append_uid_stats(NULL))                                   \
	X(append_batch, heapd_append_batch(NULL, f->b))                                     \
	X(flush, heapd_flush(NULL))                                                         \
	X(get_reply, heapd_get_reply(NULL, &(heapd_reply){0}))

/* Every batch function given a NULL batch, name or data: HEAPD_EINVAL,
 * nothing added to f->b. */
#define BATCH_NULLS(X)                                                          \
	X(alloc, heapd_batch_alloc(NULL, 0, 8))                                 \
	X(alloc_into_b, heapd_batch_alloc_into(NULL, REF, 0, 0, 8, "ab", 2))    \
	X(alloc_into_data, heapd_batch_alloc_into(f->b, REF, 0, 0, 8, NULL, 2)) \
	X(write_b, heapd_batch_write(NULL, REF, 0, "ab", 2))                    \
	X(write_buf, heapd_batch_write(f->b, REF, 0, NULL, 2))                  \
	X(read, heapd_batch_read(NULL, REF, 0, 2))                              \
	X(set_ref, heapd_batch_set_ref(NULL, REF, 0, 0))                        \
	X(get_ref, heapd_batch_get_ref(NULL, REF, 0))                           \
	X(release, heapd_batch_release(NULL, REF))                              \
	X(root_set_b, heapd_batch_root_set(NULL, NAME, REF))                    \
	X(root_set_name, heapd_batch_root_set(f->b, NULL, REF))                 \
	X(root_get_b, heapd_batch_root_get(NULL, NAME))                         \
	X(root_get_name, heapd_batch_root_get(f->b, NULL))                      \
	X(root_chmod_b, heapd_batch_root_chmod(NULL, NAME, 0600))               \
	X(root_chmod_name, heapd_batch_root_chmod(f->b, NULL, 0600))            \
	X(root_chown_b, heapd_batch_root_chown(NULL, NAME, 0, 0))               \
	X(root_chown_name, heapd_batch_root_chown(f->b, NULL, 0, 0))            \
	X(cas_ref, heapd_batch_cas_ref(NULL, REF, 0, 0, 0))                     \
	X(root_cas_b, heapd_batch_root_cas(NULL, NAME, 0, REF))                 \
	X(root_cas_name, heapd_batch_root_cas(f->b, NULL, 0, REF))              \
	X(object_info, heapd_batch_object_info(NULL, REF))                      \
	X(root_info_b, heapd_batch_root_info(NULL, NAME))                       \
	X(root_info_name, heapd_batch_root_info(f->b, NULL))                    \
	X(get_stats, heapd_batch_get_stats(NULL))                               \
	X(seal, heapd_batch_seal(NULL, REF))                                    \
	X(view, heapd_batch_view(NULL, REF))                                    \
	X(view_release, heapd_batch_view_release(NULL, REF))                    \
	X(reply_b, heapd_batch_reply(NULL, 0, &(heapd_reply){0}))               \
	X(reply_r, heapd_batch_reply(f->b, 0, NULL))

static void nop_cb(heapd_async *ac, const heapd_reply *r, void *privdata)
{
	(void)ac;
	(void)r;
	(void)privdata;
}

/* Every async request given a NULL context, then a NULL name, data or
 * batch on a live one: HEAPD_EINVAL, nothing queued. */
#define ASYNC_NULLS(X)                                                                     \
	X(alloc, heapd_async_alloc(NULL, 0, 8, nop_cb, NULL))                              \
	X(alloc_into_ac, heapd_async_alloc_into(NULL, REF, 0, 0, 8, "ab", 2, nop_cb, NULL)) \
	X(alloc_into_data, heapd_async_alloc_into(f->ac, REF, 0, 0, 8, NULL, 2, nop_cb, NULL)) \
	X(write_ac, heapd_async_write(NULL, REF, 0, "ab", 2, nop_cb, NULL))                \
	X(write_buf, heapd_async_write(f->ac, REF, 0, NULL, 2, nop_cb, NULL))              \
	X(read, heapd_async_read(NULL, REF, 0, 2, nop_cb, NULL))                           \
	X(set_ref, heapd_async_set_ref(NULL, REF, 0, 0, nop_cb, NULL))                     \
	X(get_ref, heapd_async_get_ref(NULL, REF, 0, nop_cb, NULL))                        \
	X(release, heapd_async_release(NULL, REF, nop_cb, NULL))                           \
	X(root_set_ac, heapd_async_root_set(NULL, NAME, REF, nop_cb, NULL))                \
	X(root_set_name, heapd_async_root_set(f->ac, NULL, REF, nop_cb, NULL))             \
	X(root_get_ac, heapd_async_root_get(NULL, NAME, nop_cb, NULL))                     \
	X(root_get_name, heapd_async_root_get(f->ac, NULL, nop_cb, NULL))                  \
	X(root_chmod_ac, heapd_async_root_chmod(NULL, NAME, 0600, nop_cb, NULL))           \
	X(root_chmod_name, heapd_async_root_chmod(f->ac, NULL, 0600, nop_cb, NULL))        \
	X(root_chown_ac, heapd_async_root_chown(NULL, NAME, 0, 0, nop_cb, NULL))           \
	X(root_chown_name, heapd_async_root_chown(f->ac, NULL, 0, 0, nop_cb, NULL))        \
	X(cas_ref, heapd_async_cas_ref(NULL, REF, 0, 0, 0, nop_cb, NULL))                  \
	X(root_cas_ac, heapd_async_root_cas(NULL, NAME, 0, REF, nop_cb, NULL))             \
	X(root_cas_name, heapd_async_root_cas(f->ac, NULL, 0, REF, nop_cb, NULL))          \
	X(retained, heapd_async_retained(NULL, REF, nop_cb, NULL))                         \
	X(root_retained_ac, heapd_async_root_retained(NULL, NAME, nop_cb, NULL))           \
	X(root_retained_name, heapd_async_root_retained(f->ac, NULL, nop_cb, NULL))        \
	X(root_retained_empty, heapd_async_root_retained(f->ac, "", nop_cb, NULL))         \
	X(object_info, heapd_async_object_info(NULL, REF, nop_cb, NULL))                  \
	X(root_info_ac, heapd_async_root_info(NULL, NAME, nop_cb, NULL))                   \
	X(root_info_name, heapd_async_root_info(f->ac, NULL, nop_cb, NULL))                \
	X(root_scan, heapd_async_root_scan(NULL, NULL, 0, 0, nop_cb, NULL))                \
	X(client_list, heapd_async_client_list(NULL, nop_cb, NULL))                        \
	X(client_kill, heapd_async_client_kill(NULL, 1, nop_cb, NULL))                     \
	X(root_list, heapd_async_root_list(NULL, nop_cb, NULL))                            \
	X(gc, heapd_async_gc(NULL, nop_cb, NULL))                                          \
	X(free_os_memory, heapd_async_free_os_memory(NULL, nop_cb, NULL))                  \
	X(get_stats, heapd_async_get_stats(NULL, nop_cb, NULL))                            \
	X(ping, heapd_async_ping(NULL, nop_cb, NULL))                                      \
	X(uid_stats, heapd_async_uid_stats(NULL, nop_cb, NULL))                            \
	X(seal, heapd_async_seal(NULL, REF, nop_cb, NULL))                                 \
	X(view, heapd_async_view(NULL, REF, nop_cb, NULL))                                 \
	X(view_release, heapd_async_view_release(NULL, REF, nop_cb, NULL))                 \
	X(batch_ac, heapd_async_batch(NULL, f->b, nop_cb, NULL))                           \
	X(batch_b, heapd_async_batch(f->ac, NULL, nop_cb, NULL))                           \
	X(attach_ac, heapd_async_attach(NULL, &(struct heapd_async_events){0}))            \
	X(attach_ev, heapd_async_attach(f->ac, NULL))

struct row {
	const char *id;
	const char *msg;
	int (*call)(struct fx *f);
};

#define CALL_FN(kind, id, call) \
	static int kind##_##id(struct fx *f) { (void)f; return (call); }
#define NULLS_FN(id, msg, call) CALL_FN(nulls, id, call)
BLOCKING_NULLS(NULLS_FN)
#define NULL_H_FN(id, call) CALL_FN(null_h, id, call)
BLOCKING_NULL_H(NULL_H_FN)
#define BATCH_FN(id, call) CALL_FN(batch, id, call)
BATCH_NULLS(BATCH_FN)
#define ASYNC_FN(id, call) CALL_FN(async, id, call)
ASYNC_NULLS(ASYNC_FN)

#define NULLS_ROW(id, msg, call) {#id, msg, nulls_##id},
static const struct row blocking_nulls[] = {BLOCKING_NULLS(NULLS_ROW)};
#define NULL_H_ROW(id, call) {#id, NULL, null_h_##id},
static const struct row blocking_null_h[] = {BLOCKING_NULL_H(NULL_H_ROW)};
#define BATCH_ROW(id, call) {#id, NULL, batch_##id},
static const struct row batch_nulls[] = {BATCH_NULLS(BATCH_ROW)};
#define ASYNC_ROW(id, call) {#id, NULL, async_##id},
static const struct row async_nulls[] = {ASYNC_NULLS(ASYNC_ROW)};

#define ROWS(t) (sizeof t / sizeof t[0])

static int setup(void **state)
{
	(void)state;
	daemon_start(&fx.d, NULL);
	fx.h = client(&fx.d);
	assert_int_equal(heapd_alloc(fx.h, 1, 8, &fx.ref), 0);
	fx.b = heapd_batch_new();
	assert_non_null(fx.b);
	fx.ac = heapd_async_connect(fx.d.sock);
	assert_non_null(fx.ac);
	assert_int_equal(heapd_async_errcode(fx.ac), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	heapd_async_free(fx.ac);
	heapd_batch_free(fx.b);
	heapd_close(fx.h);
	daemon_stop(&fx.d);
	return 0;
}

/* A NULL pointer argument on a live connection: said, nothing sent. */
static void blocking_pointer_args(void **state)
{
	(void)state;
	for (size_t i = 0; i < ROWS(blocking_nulls); i++) {
		const struct row *t = &blocking_nulls[i];
		assert_int_equal(heapd_ping(fx.h, NULL), 0);
		int err = t->call(&fx);
		if (err != HEAPD_EINVAL || strcmp(heapd_errmsg(fx.h), t->msg) != 0)
			fail_msg("%s: %d \"%s\", not HEAPD_EINVAL \"%s\"", t->id, err, heapd_errmsg(fx.h), t->msg);
		assert_int_equal(heapd_errcode(fx.h), HEAPD_EINVAL);
		assert_int_equal(heapd_pending(fx.h), 0);
	}
	assert_int_equal(heapd_ping(fx.h, NULL), 0);
	assert_int_equal(heapd_errcode(fx.h), 0);
}

/* A NULL connection: HEAPD_EINVAL, and no crash. */
static void blocking_null_connection(void **state)
{
	(void)state;
	for (size_t i = 0; i < ROWS(blocking_null_h); i++) {
		int err = blocking_null_h[i].call(&fx);
		if (err != HEAPD_EINVAL)
			fail_msg("heapd_%s(NULL, ...): %d, not HEAPD_EINVAL", blocking_null_h[i].id, err);
	}
	assert_int_equal(heapd_errcode(NULL), HEAPD_EINVAL);
	assert_non_null(heapd_errmsg(NULL));
	assert_true(heapd_errmsg(NULL)[0] != '\0');
	assert_int_equal(heapd_session_id(NULL), 0);
	assert_string_equal(heapd_server_version(NULL), "");
	assert_int_equal(heapd_max_frame(NULL), 0);
	assert_int_equal(heapd_max_object(NULL), 0);
	assert_int_equal(heapd_max_batch_ops(NULL), 0);
	assert_int_equal(heapd_pending(NULL), 0);
	assert_int_equal(heapd_spin(NULL), 0);
	assert_int_equal(heapd_timeout(NULL), 0);
	uint64_t spins = 7, hits = 7;
	heapd_spin_counts(NULL, &spins, &hits);
	assert_int_equal(spins, 0);
	assert_int_equal(hits, 0);
	heapd_close(NULL);
	heapd_free_names(NULL);
	heapd_free_root_info(NULL);
	heapd_free_uid_stats(NULL);
	heapd_free_client_list(NULL);
}

/* The pointers that may be NULL. */
static void optional_pointers(void **state)
{
	(void)state;
	heapd *h = fx.h;
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_spin_counts(h, NULL, NULL);
	assert_int_equal(heapd_write(h, fx.ref, 0, NULL, 0), 0);
	assert_int_equal(heapd_read(h, fx.ref, 0, NULL, 0), 0);
	char **names;
	assert_int_equal(heapd_root_list(h, &names, NULL, NULL), 0);
	heapd_free_names(names);
	heapd_root_info *roots;
	assert_int_equal(heapd_root_list_info(h, &roots, NULL, NULL), 0);
	heapd_free_root_info(roots);
	heapd_uid_stat *rows;
	assert_int_equal(heapd_uid_stats(h, &rows, sizeof *rows, NULL, NULL), 0);
	heapd_free_uid_stats(rows);
	heapd_ref was = 1;
	assert_int_equal(heapd_cas_ref(h, fx.ref, 0, 0, 0, NULL), 0);
	assert_int_equal(heapd_root_cas(h, NAME, 0, fx.ref, NULL), 0);
	assert_int_equal(heapd_root_stat(h, NAME, NULL, NULL), 0);
	assert_int_equal(heapd_retained(h, fx.ref, NULL, NULL), 0);
	assert_int_equal(heapd_root_retained(h, NAME, NULL, NULL), 0);
	assert_int_equal(heapd_root_cas(h, NAME, fx.ref, 0, &was), 0);
	assert_true(was == fx.ref);
	heapd_root_info *scan;
	uint64_t next;
	assert_int_equal(heapd_root_scan(h, NULL, 0, 0, &scan, NULL, &next), 0);
	heapd_free_root_info(scan);
	heapd_client_info *clients;
	assert_int_equal(heapd_client_list(h, &clients, NULL, NULL), 0);
	heapd_free_client_list(clients);
	assert_int_equal(heapd_batch_write(fx.b, fx.ref, 0, NULL, 0), 0);
	heapd_batch_reset(fx.b);
}

static void batch_null_args(void **state)
{
	(void)state;
	heapd_batch_reset(fx.b);
	for (size_t i = 0; i < ROWS(batch_nulls); i++) {
		int err = batch_nulls[i].call(&fx);
		if (err != HEAPD_EINVAL)
			fail_msg("batch %s: %d, not HEAPD_EINVAL", batch_nulls[i].id, err);
		assert_int_equal(heapd_batch_count(fx.b), 0);
	}
	assert_int_equal(heapd_batch_count(NULL), 0);
	assert_int_equal(heapd_batch_failed(NULL), -1);
	heapd_batch_reset(NULL);
	heapd_batch_free(NULL);
	heapd_reply r;
	assert_int_equal(heapd_batch_reply(NULL, 0, &r), HEAPD_EINVAL);
	assert_int_equal(r.status, HEAPD_EINVAL);
	assert_non_null(strstr(r.error, "b is NULL"));
}

static void async_null_args(void **state)
{
	(void)state;
	size_t pending = heapd_async_pending(fx.ac);
	for (size_t i = 0; i < ROWS(async_nulls); i++) {
		int err = async_nulls[i].call(&fx);
		if (err != HEAPD_EINVAL)
			fail_msg("async %s: %d, not HEAPD_EINVAL", async_nulls[i].id, err);
		assert_int_equal(heapd_async_pending(fx.ac), pending);
	}
	assert_int_equal(heapd_async_errcode(fx.ac), 0); /* a refused call does not close it */
	assert_int_equal(heapd_async_errcode(NULL), HEAPD_EINVAL);
	assert_non_null(heapd_async_errmsg(NULL));
	assert_null(heapd_async_data(NULL));
	assert_int_equal(heapd_async_pending(NULL), 0);
	assert_int_equal(heapd_async_fd(NULL), -1);
	heapd_async_set_connect_cb(NULL, NULL);
	heapd_async_set_disconnect_cb(NULL, NULL);
	heapd_async_set_data(NULL, NULL);
	heapd_async_set_timeout(NULL, 5);
	heapd_async_set_max_pending(NULL, 5);
	heapd_async_set_max_output(NULL, 5);
	heapd_async_handle_read(NULL);
	heapd_async_handle_write(NULL);
	heapd_async_handle_timeout(NULL);
	heapd_async_disconnect(NULL);
	heapd_async_free(NULL);
	/* Length 0 needs no data. */
	assert_int_equal(heapd_async_write(fx.ac, fx.ref, 0, NULL, 0, NULL, NULL), 0);
	assert_int_equal(heapd_async_pending(fx.ac), pending + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blocking_pointer_args),
		cmocka_unit_test(blocking_null_connection),
		cmocka_unit_test(optional_pointers),
		cmocka_unit_test(batch_null_args),
		cmocka_unit_test(async_null_args),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
