/*
 * test_reload.c - config_reload(): what a SIGHUP changes, what it keeps,
 * and a file that went missing (fail closed).
 */
#include "configutil.h"

static const char reload_before[] =
	"socket = /tmp/heapd-a.sock\n"
	"max_heap = 1G\n"
	"gc_percent = 50\n"
	"max_clients = 99\n";

static const char reload_after[] =
	"socket = /tmp/heapd-b.sock\n"
	"socket_mode = 0600\n"
	"max_heap = 2G\n"
	"max_object_size = 1M\n"
	"soft_memory_limit = 1G\n"
	"gc_percent = 200\n"
	"max_holds_per_session = 5\n"
	"max_roots = 6\n"
	"max_roots_per_uid = 7\n"
	"max_output_per_uid = 5M\n"
	"max_heap_per_uid = 9M\n"
	"gc_slice_us = 100\n"
	"release_delay_ms = 50\n"
	"max_clients = 100\n"
	"max_frame_size = 1M\n"
	"max_output_buffer = 2M\n"
	"max_batch_ops = 3\n"
	"allowed_uids = 0,1000\n"
	"allowed_gids = 20\n"
	"log_level = debug\n"
	"log_target = stderr\n"
	"idle_gc_period_s = 0\n"
	"max_clients_per_uid = 4\n"
	"admin_uids = 1000\n"
	"admin_reserved_connections = 1\n"
	"readonly_uids = 2000\n"
	"readonly_gids = 30\n"
	"gc_by_anyone = yes\n"
	"hello_timeout_ms = 250\n";

static void reload_applies_live_keys(void **state)
{
	struct fx *fx = *state;
	write_conf(fx, reload_before);
	assert_int_equal(PARSE_FILE(fx, "--max-frame-size", "8M"), 0);
	assert_int_equal(fx->c.max_clients, 99);

	/* Nothing changed: no warning. */
	struct capture cap;
	capture_begin(&cap, STDERR_FILENO);
	int rc = config_reload(&fx->c, fx->err, sizeof fx->err);
	char *out = capture_end(&cap);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);

	write_conf(fx, reload_after);
	capture_begin(&cap, STDERR_FILENO);
	rc = config_reload(&fx->c, fx->err, sizeof fx->err);
	out = capture_end(&cap);
	assert_int_equal(rc, 0);
	const struct config *c = &fx->c;
	assert_int_equal(c->heap.soft_limit, GIB);
	assert_int_equal(c->heap.gc_percent, 200);
	assert_int_equal(c->heap.max_holds, 5);
	assert_int_equal(c->heap.max_roots, 6);
	assert_int_equal(c->max_roots_per_uid, 7);
	assert_int_equal(c->max_output_per_uid, 5 * MIB);
	assert_int_equal(c->heap.max_tenant_heap, 9 * MIB);
	assert_int_equal(c->heap.slice_ns, 100000);
	assert_int_equal(c->heap.release_delay_ns, 50000000);
	assert_int_equal(c->max_clients, 100);
	assert_int_equal(c->max_frame, 8 * MIB); /* the flag is applied again */
	assert_int_equal(c->max_output, 2 * MIB);
	assert_int_equal(c->max_batch_ops, 3);
	assert_int_equal(c->n_allowed_uids, 2);
	assert_int_equal(c->allowed_uids[1], 1000);
	assert_int_equal(c->n_allowed_gids, 1);
	assert_int_equal(c->allowed_gids[0], 20);
	assert_int_equal(c->log_level, LOGL_DEBUG);
	assert_int_equal(c->log_target, LOGT_STDERR);
	assert_int_equal(c->idle_gc_period_s, 0);
	assert_int_equal(c->max_clients_per_uid, 4);
	assert_int_equal(c->n_admin_uids, 1);
	assert_int_equal(c->admin_uids[0], 1000);
	assert_int_equal(c->admin_reserved, 1);
	assert_int_equal(c->n_readonly_uids, 1);
	assert_int_equal(c->readonly_uids[0], 2000);
	assert_int_equal(c->n_readonly_gids, 1);
	assert_int_equal(c->readonly_gids[0], 30);
	assert_int_equal(c->gc_by_anyone, 1);
	assert_int_equal(c->hello_timeout_ms, 250);
	/* Restart-only keys keep their running values, with a warning each. */
	assert_string_equal(c->socket_path, "/tmp/heapd-a.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->heap.max_heap, GIB);
	assert_int_equal(c->heap.max_object, 64 * MIB);
	assert_string_equal(out,
		"heapd: warn: socket changed: takes effect at restart "
		"(running /tmp/heapd-a.sock, new /tmp/heapd-b.sock)\n"
		"heapd: warn: socket_mode changed: takes effect at restart (running 0660, new 0600)\n"
		"heapd: warn: max_heap changed: takes effect at restart (running 1GiB, new 2GiB)\n"
		"heapd: warn: max_object_size changed: takes effect at restart "
		"(running 64MiB, new 1MiB)\n");
	free(out);

	/* Back to the first file: the lists empty again. */
	write_conf(fx, reload_before);
	capture_begin(&cap, STDERR_FILENO);
	rc = config_reload(&fx->c, fx->err, sizeof fx->err);
	free(capture_end(&cap));
	assert_int_equal(rc, 0);
	assert_int_equal(c->n_allowed_uids, 0);
	assert_null(c->allowed_uids);
	assert_int_equal(c->n_readonly_uids, 0);
	assert_int_equal(c->gc_by_anyone, 0);
	assert_int_equal(c->heap.gc_percent, 50);
}

static void assert_same(const struct config *a, const struct config *b)
{
	assert_ptr_equal(a->socket_path, b->socket_path);
	assert_int_equal(a->socket_mode, b->socket_mode);
	assert_int_equal(a->heap.max_heap, b->heap.max_heap);
	assert_int_equal(a->heap.soft_limit, b->heap.soft_limit);
	assert_int_equal(a->heap.gc_percent, b->heap.gc_percent);
	assert_int_equal(a->heap.max_object, b->heap.max_object);
	assert_int_equal(a->heap.max_holds, b->heap.max_holds);
	assert_int_equal(a->heap.max_roots, b->heap.max_roots);
	assert_int_equal(a->heap.slice_ns, b->heap.slice_ns);
	assert_int_equal(a->heap.release_delay_ns, b->heap.release_delay_ns);
	assert_int_equal(a->max_clients, b->max_clients);
	assert_int_equal(a->max_frame, b->max_frame);
	assert_int_equal(a->max_output, b->max_output);
	assert_int_equal(a->max_batch_ops, b->max_batch_ops);
	assert_ptr_equal(a->allowed_uids, b->allowed_uids);
	assert_int_equal(a->n_allowed_uids, b->n_allowed_uids);
	assert_ptr_equal(a->allowed_gids, b->allowed_gids);
	assert_int_equal(a->n_allowed_gids, b->n_allowed_gids);
	assert_int_equal(a->log_level, b->log_level);
	assert_int_equal(a->log_target, b->log_target);
	assert_int_equal(a->idle_gc_period_s, b->idle_gc_period_s);
	assert_ptr_equal(a->admin_uids, b->admin_uids);
	assert_int_equal(a->n_admin_uids, b->n_admin_uids);
	assert_int_equal(a->admin_reserved, b->admin_reserved);
	assert_ptr_equal(a->readonly_uids, b->readonly_uids);
	assert_int_equal(a->n_readonly_uids, b->n_readonly_uids);
	assert_ptr_equal(a->readonly_gids, b->readonly_gids);
	assert_int_equal(a->n_readonly_gids, b->n_readonly_gids);
	assert_int_equal(a->gc_by_anyone, b->gc_by_anyone);
	assert_int_equal(a->max_clients_per_uid, b->max_clients_per_uid);
	assert_int_equal(a->hello_timeout_ms, b->hello_timeout_ms);
	assert_ptr_equal(a->config_path, b->config_path);
}

static void reload_failure_changes_nothing(void **state)
{
	struct fx *fx = *state;
	write_conf(fx, "gc_percent = 50\nallowed_uids = 7\n");
	assert_int_equal(PARSE_FILE(fx, "--max-roots", "3"), 0);
	struct config before = fx->c;

	/* Good lines first, then an error. */
	char want[512];
	write_conf(fx, "gc_percent = 200\nallowed_uids = 8\nmax_heap = 99G\n");
	struct capture cap;
	capture_begin(&cap, STDERR_FILENO);
	int rc = config_reload(&fx->c, fx->err, sizeof fx->err);
	char *out = capture_end(&cap);
	assert_int_equal(rc, -1);
	snprintf(want, sizeof want, "%s:3: max_heap '99G' is out of range (4MiB..16GiB)", fx->path);
	assert_string_equal(fx->err, want);
	assert_string_equal(out, "");
	free(out);
	assert_same(&fx->c, &before);
	assert_int_equal(fx->c.heap.gc_percent, 50);
	assert_int_equal(fx->c.allowed_uids[0], 7);

	/* A uid both admin and read-only: refused as a whole, as any error
	 * (the roles of open sessions stay as they were). */
	write_conf(fx, "gc_percent = 200\nadmin_uids = 0, 1000\nreadonly_uids = 1000\n");
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), -1);
	assert_string_equal(fx->err, "uid 1000 is in both admin_uids and readonly_uids");
	assert_same(&fx->c, &before);
	assert_int_equal(fx->c.heap.gc_percent, 50);

	/* A --config file that went away is an error too. */
	unlink(fx->path);
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), -1);
	snprintf(want, sizeof want, "cannot open config file %s: No such file or directory", fx->path);
	assert_string_equal(fx->err, want);
	assert_same(&fx->c, &before);
}

/* Without --config, a missing default file means the defaults (and the
 * flags): reload is then like a restart with no file. */
static void reload_without_file(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(PARSE(fx, "--gc-percent", "30"), 0);
	fx->c.max_clients = 5;
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), 0);
	assert_int_equal(fx->c.heap.gc_percent, 30);
	assert_int_equal(fx->c.max_clients, 1024);
}

/* The default file (no --config) read at start and gone at reload: an
 * error, and every setting kept. Before, the reload went on with the
 * defaults, emptying allowed_uids: fail-open. */
static void reload_default_file_gone(void **state)
{
	struct fx *fx = *state;
	free(fx->c.config_path);
	fx->c.config_path = strdup(fx->path); /* as if it were the default path */
	write_conf(fx, "allowed_uids = 7\nmax_clients = 9\n");
	assert_int_equal(PARSE(fx, "--gc-percent", "30"), 0);
	assert_false(fx->c.config_given);
	assert_int_equal(fx->c.n_allowed_uids, 1);
	struct config before = fx->c;

	unlink(fx->path);
	char want[512];
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), -1);
	snprintf(want, sizeof want,
		 "cannot open config file %s: No such file or directory (it was read before; heapd runs "
		 "without it only after a restart)",
		 fx->path);
	assert_string_equal(fx->err, want);
	assert_same(&fx->c, &before);
	assert_int_equal(fx->c.allowed_uids[0], 7);
	assert_int_equal(config_id_listed(fx->c.allowed_uids, fx->c.n_allowed_uids, 8), 0);

	/* Unreadable: the same. (Root reads it anyway: not checked then.) */
	write_conf(fx, "allowed_uids = 7\n");
	if (geteuid() != 0) {
		assert_int_equal(chmod(fx->path, 0), 0);
		assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), -1);
		assert_non_null(strstr(fx->err, "Permission denied"));
		assert_same(&fx->c, &before);
		assert_int_equal(chmod(fx->path, 0600), 0);
	}
	/* Back: read again. */
	write_conf(fx, "allowed_uids = 8\n");
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), 0);
	assert_int_equal(fx->c.allowed_uids[0], 8);
	assert_int_equal(fx->c.max_clients, 1024);
	assert_int_equal(fx->c.heap.gc_percent, 30);
}

/* The default file missing at start, created later: a reload reads it,
 * and from then on needs it. */
static void reload_default_file_created(void **state)
{
	struct fx *fx = *state;
	free(fx->c.config_path);
	fx->c.config_path = strdup(fx->path);
	unlink(fx->path);
	assert_int_equal(PARSE(fx, NULL), 0);
	assert_int_equal(fx->c.n_allowed_uids, 0);
	write_conf(fx, "allowed_uids = 7\n");
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), 0);
	assert_int_equal(fx->c.n_allowed_uids, 1);
	unlink(fx->path);
	assert_int_equal(config_reload(&fx->c, fx->err, sizeof fx->err), -1);
	assert_int_equal(fx->c.n_allowed_uids, 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(reload_applies_live_keys),
		T(reload_failure_changes_nothing),
		T(reload_without_file),
		T(reload_default_file_gone),
		T(reload_default_file_created),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
