/*
 * test_config.c - defaults, the file, flags, every error, the roles' lists
 * and switches, and the sample file in the tree (reload: test_reload.c).
 */
#include "configutil.h"

/* Parses text as the config file and expects "FILE:LINE: msg". */
static void expect_file_error(struct fx *fx, const char *text, unsigned line, const char *msg)
{
	char want[512];
	write_conf(fx, text);
	assert_int_equal(PARSE(fx, "--config", fx->path), -1);
	snprintf(want, sizeof want, "%s:%u: %s", fx->path, line, msg);
	assert_string_equal(fx->err, want);
}

static void expect_flag_error(struct fx *fx, const char *flag, const char *val, const char *msg)
{
	assert_int_equal(PARSE(fx, (char *)flag, (char *)val), -1);
	assert_string_equal(fx->err, msg);
}

static void defaults(void **state)
{
	struct fx *fx = *state;
	struct heap_config h;
	heap_config_default(&h);
	assert_int_equal(PARSE(fx, NULL), 0);
	const struct config *c = &fx->c;
	assert_string_equal(c->socket_path, "/run/heapd/heapd.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->root_mode, 0644);
	assert_int_equal(c->heap.max_heap, 4 * GIB);
	assert_int_equal(c->heap.soft_limit, 0);
	assert_int_equal(c->heap.gc_percent, 100);
	assert_int_equal(c->heap.max_object, 64 * MIB);
	assert_int_equal(c->heap.max_holds, 1048576);
	assert_int_equal(c->heap.max_roots, 1048576);
	assert_int_equal(c->heap.slice_ns, 500000);
	assert_int_equal(c->heap.mark_workers, 1);
	assert_int_equal(c->heap.release_delay_ns, 1000000000);
	assert_int_equal(c->heap.max_heap, h.max_heap);
	assert_int_equal(c->heap.max_object, h.max_object);
	assert_int_equal(c->max_clients, 1024);
	assert_int_equal(c->max_frame, 16 * MIB);
	assert_int_equal(c->max_output, 8 * MIB);
	assert_int_equal(c->max_batch_ops, 1024);
	assert_int_equal(c->n_allowed_uids, 0);
	assert_int_equal(c->n_allowed_gids, 0);
	assert_int_equal(c->log_level, LOGL_INFO);
	assert_int_equal(c->log_target, LOGT_AUTO);
	assert_int_equal(c->idle_gc_period_s, 120);
	assert_int_equal(c->max_clients_per_uid, 256);
	assert_int_equal(c->n_admin_uids, 1);
	assert_int_equal(c->admin_uids[0], 0);
	assert_int_equal(c->admin_reserved, 3);
	assert_int_equal(c->n_readonly_uids, 0);
	assert_int_equal(c->n_readonly_gids, 0);
	assert_int_equal(c->gc_by_anyone, 0);
	assert_int_equal(c->hello_timeout_ms, 5000);
	assert_false(c->config_given);
	/* A fresh config names the real default file. */
	struct config d;
	config_init(&d);
	assert_string_equal(d.config_path, "/etc/heapd/heapd.conf");
	config_free(&d);
}

static const char every_key[] =
	"# every key, in an order of its own\n"
	"\n"
	"  socket = /tmp/heapd#1.sock   # '#' inside a value stays\n"
	"socket_mode=0600\n"
	"max_heap = 1G\n"
	"soft_memory_limit = 512 MiB\n"
	"gc_percent = 50\n"
	"max_object_size = 1m\n"
	"\tmax_holds_per_session = 1000\t\n"
	"max_roots = 0\n"
	"max_roots_per_uid = 5\n"
	"max_root_bytes_per_uid = 2K\n"
	"max_holds_per_uid = 6\n"
	"root_mode = 0640\n"
	"max_output_per_uid = 3M\n"
	"max_heap_per_uid = none\n"
	"gc_slice_us = 250\n"
	"gc_mark_workers = 0\n"
	"release_delay_ms = 0\n"
	"max_clients = 7\n"
	"max_frame_size = 64KiB\n"
	"max_output_buffer = 1048576\n"
	"max_batch_ops = 16\n"
	"allowed_uids = 0, root ,4242\n"
	"allowed_gids = root,77\n"
	"log_level = debug\n"
	"log_target = journal\n"
	"idle_gc_period_s = 0\n"
	"max_clients_per_uid = 5\n"
	"admin_uids = 4242, root\n"
	"admin_reserved_connections = 2\n"
	"readonly_uids = 4243\n"
	"readonly_gids = 88, root\n"
	"gc_by_anyone = yes\n"
	"hello_timeout_ms = 100\n";

static void check_every_key(const struct config *c)
{
	assert_string_equal(c->socket_path, "/tmp/heapd#1.sock");
	assert_int_equal(c->socket_mode, 0600);
	assert_int_equal(c->heap.max_heap, GIB);
	assert_int_equal(c->heap.soft_limit, 512 * MIB);
	assert_int_equal(c->heap.gc_percent, 50);
	assert_int_equal(c->heap.max_object, MIB);
	assert_int_equal(c->heap.max_holds, 1000);
	assert_int_equal(c->max_roots_per_uid, 5);
	assert_int_equal(c->max_root_bytes_per_uid, 2048);
	assert_int_equal(c->max_holds_per_uid, 6);
	assert_int_equal(c->root_mode, 0640);
	assert_int_equal(c->max_output_per_uid, 3 * MIB);
	assert_int_equal(c->heap.max_tenant_heap, 0);
	assert_int_equal(c->heap.max_roots, 0);
	assert_int_equal(c->heap.slice_ns, 250000);
	assert_int_equal(c->heap.mark_workers, 0);
	assert_int_equal(c->heap.release_delay_ns, 0);
	assert_int_equal(c->max_clients, 7);
	assert_int_equal(c->max_frame, 64 * KIB);
	assert_int_equal(c->max_output, MIB);
	assert_int_equal(c->max_batch_ops, 16);
	assert_int_equal(c->n_allowed_uids, 3);
	assert_int_equal(c->allowed_uids[0], 0);
	assert_int_equal(c->allowed_uids[1], 0);
	assert_int_equal(c->allowed_uids[2], 4242);
	assert_int_equal(c->n_allowed_gids, 2);
	assert_int_equal(c->allowed_gids[0], 0);
	assert_int_equal(c->allowed_gids[1], 77);
	assert_int_equal(c->log_level, LOGL_DEBUG);
	assert_int_equal(c->log_target, LOGT_JOURNAL);
	assert_int_equal(c->idle_gc_period_s, 0);
	assert_int_equal(c->max_clients_per_uid, 5);
	assert_int_equal(c->n_admin_uids, 2);
	assert_int_equal(c->admin_uids[0], 4242);
	assert_int_equal(c->admin_uids[1], 0);
	assert_int_equal(c->admin_reserved, 2);
	assert_int_equal(c->n_readonly_uids, 1);
	assert_int_equal(c->readonly_uids[0], 4243);
	assert_int_equal(c->n_readonly_gids, 2);
	assert_int_equal(c->readonly_gids[0], 88);
	assert_int_equal(c->readonly_gids[1], 0);
	assert_int_equal(c->gc_by_anyone, 1);
	assert_int_equal(c->hello_timeout_ms, 100);
}

static void file_sets_every_key(void **state)
{
	struct fx *fx = *state;
	write_conf(fx, every_key);
	assert_int_equal(PARSE(fx, "--config", fx->path), 0);
	check_every_key(&fx->c);
	assert_true(fx->c.config_given);
	assert_string_equal(fx->c.config_path, fx->path);
}

static void flags_set_every_key(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(PARSE(fx, "--socket", "/tmp/heapd#1.sock", "--socket-mode=600",
	                       "--max-heap", "1GiB", "--soft-memory-limit", "512M", "--gc-percent", "50",
	                       "--max-object-size", "1024k", "--max-holds-per-session", "1000",
	                       "--max-roots", "0", "--max-roots-per-uid", "5", "--max-root-bytes-per-uid", "2K",
	                       "--max-holds-per-uid", "6", "--root-mode", "640", "--max-output-per-uid", "3M", "--max-heap-per-uid", "0",
	                       "--gc-slice-us", "250", "--gc-mark-workers", "0",
	                       "--release-delay-ms", "0",
	                       "--max-clients", "7", "--max-frame-size", "65536", "--max-output-buffer",
	                       "1MB", "--max-batch-ops", "16", "--allowed-uids", "0,root,4242", "--allowed-gids", "root,77",
	                       "--log-level", "DEBUG", "--log", "Journal", "--idle-gc-period", "0",
	                       "--max-clients-per-uid", "5", "--admin-uids", "4242,root",
	                       "--admin-reserved-connections", "2", "--hello-timeout-ms", "100",
	                       "--readonly-uids", "4243", "--readonly-gids", "88,root", "--gc-by-anyone", "YES"),
	                 0);
	check_every_key(&fx->c);
	assert_false(fx->c.config_given);
}

static void flags_override_file(void **state)
{
	struct fx *fx = *state;
	write_conf(fx, "max_heap = 1G\ngc_percent = 50\nmax_roots = 9\nallowed_uids = 1,2\n");
	/* Flags before --config still win: the file is read first. */
	assert_int_equal(PARSE(fx, "--max-heap", "2G", "--config", fx->path, "--gc-percent=off",
	                       "--allowed-uids="),
	                 0);
	assert_int_equal(fx->c.heap.max_heap, 2 * GIB);
	assert_int_equal(fx->c.heap.gc_percent, -1);
	assert_int_equal(fx->c.heap.max_roots, 9);
	assert_int_equal(fx->c.n_allowed_uids, 0);
	/* The last of a repeated flag wins. */
	assert_int_equal(PARSE_FILE(fx, "--max-roots", "1", "--max-roots", "2"), 0);
	assert_int_equal(fx->c.heap.max_roots, 2);
}

static void relative_config_path_made_absolute(void **state)
{
	struct fx *fx = *state;
	char *cwd = getcwd(NULL, 0);
	write_conf(fx, "max_roots = 3\n");
	assert_int_equal(chdir("/tmp"), 0);
	int rc = PARSE(fx, "--config", fx->path + strlen("/tmp/"));
	assert_int_equal(chdir(cwd), 0);
	free(cwd);
	assert_int_equal(rc, 0);
	assert_int_equal(fx->c.heap.max_roots, 3);
	assert_string_equal(fx->c.config_path, fx->path);
}

static void gc_percent_values(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *s;
		int pct;
	} ok[] = {{"0", 0}, {"100", 100}, {"1000000", 1000000}, {"off", -1}, {"OFF", -1},
	          {"-1", -1}, {"-250", -1}};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(PARSE(fx, "--gc-percent", (char *)ok[i].s), 0);
		assert_int_equal(fx->c.heap.gc_percent, ok[i].pct);
	}
	expect_flag_error(fx, "--gc-percent", "1000001",
	                  "--gc-percent '1000001' is out of range (off or 0..1000000)");
	expect_flag_error(fx, "--gc-percent", "-x", "--gc-percent '-x' is not a percentage or off");
	expect_flag_error(fx, "--gc-percent", "50%", "--gc-percent '50%' is not a percentage or off");
}

static void size_units(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{"0", 0},
		{"none", 0},
		{"NONE", 0},
		{"1234", 1234},
		{"16b", 16},
		{"16 B", 16},
		{"4k", 4 * KIB},
		{"4K", 4 * KIB},
		{"4KiB", 4 * KIB},
		{"4kib", 4 * KIB},
		{"4KB", 4 * KIB},
		{"3 M", 3 * MIB},
		{"3MiB", 3 * MIB},
		{"2G", 2 * GIB},
		{"2gb", 2 * GIB},
		{"5T", (uint64_t)5 << 40},
		{"0010M", 10 * MIB},
		{"4194304T", (uint64_t)1 << 62},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(PARSE(fx, "--soft-memory-limit", (char *)ok[i].s), 0);
		assert_int_equal(fx->c.heap.soft_limit, ok[i].v);
	}
	static const struct {
		const char *s, *msg;
	} bad[] = {
		{"-1", "must not be negative"},
		{"-4G", "must not be negative"},
		{"18446744073709551616", "is too large"},
		{"16777216T", "is too large"},
		{"17179869184G", "is too large"},
		{"4194305T", "is out of range (none or 0..4EiB)"},
		{"", "is not a size (bytes, or a number with K, M, G or T)"},
		{"G", "is not a size (bytes, or a number with K, M, G or T)"},
		{"4X", "is not a size (bytes, or a number with K, M, G or T)"},
		{"4Ki", "is not a size (bytes, or a number with K, M, G or T)"},
		{"4KiBx", "is not a size (bytes, or a number with K, M, G or T)"},
		{"4P", "is not a size (bytes, or a number with K, M, G or T)"},
		{"4.5G", "is not a size (bytes, or a number with K, M, G or T)"},
		{"0x10", "is not a size (bytes, or a number with K, M, G or T)"},
		{"+4", "is not a size (bytes, or a number with K, M, G or T)"},
		{" 4", "is not a size (bytes, or a number with K, M, G or T)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[256];
		snprintf(want, sizeof want, "--soft-memory-limit '%s' %s", bad[i].s, bad[i].msg);
		expect_flag_error(fx, "--soft-memory-limit", bad[i].s, want);
	}
	/* A 32-bit field: in range for SIZE, out of the key's range. */
	expect_flag_error(fx, "--max-frame-size", "4G",
	                  "--max-frame-size '4G' is out of range (4KiB..1GiB)");
}

static void file_errors(void **state)
{
	struct fx *fx = *state;
	expect_file_error(fx, "max_roots = 1\nmax_hepa = 1G\n", 2, "unknown key 'max_hepa'");
	expect_file_error(fx, "max_heap = 1G\n\n# again\nmax_heap = 2G\n", 4,
	                  "max_heap is set twice (first on line 1)");
	expect_file_error(fx, "max_heap 1G\n", 1, "expected 'key = value', got 'max_heap 1G'");
	expect_file_error(fx, "  = 1G\n", 1, "expected 'key = value', got '= 1G'");
	expect_file_error(fx, "max_heap = 32G\n", 1, "max_heap '32G' is out of range (4MiB..16GiB)");
	expect_file_error(fx, "max_heap = 1M\n", 1, "max_heap '1M' is out of range (4MiB..16GiB)");
	expect_file_error(fx, "max_heap =\n", 1,
	                  "max_heap '' is not a size (bytes, or a number with K, M, G or T)");
	expect_file_error(fx, "max_object_size = 3G\n", 1,
	                  "max_object_size '3G' is out of range (4KiB..2GiB)");
	expect_file_error(fx, "max_clients = 12abc\n", 1, "max_clients '12abc' is not a number");
	expect_file_error(fx, "max_clients = 0\n", 1, "max_clients '0' is out of range (1..1048576)");
	expect_file_error(fx, "max_roots = -5\n", 1, "max_roots '-5' must not be negative");
	expect_file_error(fx, "max_roots = 4294967296\n", 1,
	                  "max_roots '4294967296' is out of range (0..4294967295)");
	expect_file_error(fx, "max_holds_per_session = 0\n", 1,
	                  "max_holds_per_session '0' is out of range (1..4294967295)");
	expect_file_error(fx, "gc_slice_us = 0\n", 1, "gc_slice_us '0' is out of range (1..1000000)");
	expect_file_error(fx, "gc_mark_workers = 2\n", 1, "gc_mark_workers '2' is out of range (0..1)");
	expect_file_error(fx, "release_delay_ms = 86400001\n", 1,
	                  "release_delay_ms '86400001' is out of range (0..86400000)");
	expect_file_error(fx, "idle_gc_period_s = 1e3\n", 1, "idle_gc_period_s '1e3' is not a number");
	expect_file_error(fx, "max_output_buffer = 1K\n", 1,
	                  "max_output_buffer '1K' is out of range (4KiB..4GiB)");
	expect_file_error(fx, "max_batch_ops = 0\n", 1, "max_batch_ops '0' is out of range (1..65536)");
	expect_file_error(fx, "max_batch_ops = 65537\n", 1, "max_batch_ops '65537' is out of range (1..65536)");
	expect_file_error(fx, "socket_mode = 0988\n", 1, "socket_mode '0988' is not an octal mode");
	expect_file_error(fx, "socket_mode = 1777\n", 1, "socket_mode '1777' is out of range (0000..0777)");
	expect_file_error(fx, "root_mode = 0700\n", 1, "root_mode '0700' is out of range (0000..0666, rw bits only)");
	expect_file_error(fx, "root_mode = 0111\n", 1, "root_mode '0111' is out of range (0000..0666, rw bits only)");
	expect_file_error(fx, "log_level = loud\n", 1,
	                  "log_level 'loud' is not a log level (error, warn, info or debug)");
	expect_file_error(fx, "log_target = syslog\n", 1,
	                  "log_target 'syslog' is not a log target (auto, stderr or journal)");
	expect_file_error(fx, "socket =\n", 1, "socket '' is out of range (1..107 bytes)");
	expect_file_error(fx, "allowed_uids = root, no-such-user-heapd\n", 1,
	                  "allowed_uids: 'no-such-user-heapd' is not a uid or a user name");
	expect_file_error(fx, "allowed_uids = 4294967295\n", 1,
	                  "allowed_uids: '4294967295' is out of range (0..4294967294)");
	expect_file_error(fx, "allowed_uids = 1,,2\n", 1, "allowed_uids '1,,2' has an empty entry");
	expect_file_error(fx, "allowed_uids = 1,\n", 1, "allowed_uids '1,' has an empty entry");
	expect_file_error(fx, "allowed_gids = no-such-group-heapd\n", 1,
	                  "allowed_gids: 'no-such-group-heapd' is not a gid or a group name");
	/* The first error stops the file, whatever follows. */
	expect_file_error(fx, "max_roots = x\nbogus = 1\n", 1, "max_roots 'x' is not a number");
}

static void flag_errors(void **state)
{
	struct fx *fx = *state;
	char path[256], want[512];
	memset(path, 'p', sizeof path);
	path[0] = '/';
	path[108] = '\0';
	snprintf(want, sizeof want, "--socket '%s' is out of range (1..107 bytes)", path);
	expect_flag_error(fx, "--socket", path, want);
	path[107] = '\0';
	assert_int_equal(PARSE(fx, "--socket", path), 0);
	expect_flag_error(fx, "--max-heap", "32G", "--max-heap '32G' is out of range (4MiB..16GiB)");
	expect_flag_error(fx, "--max-clients", "many", "--max-clients 'many' is not a number");
	expect_flag_error(fx, "--allowed-uids", "no-such-user-heapd",
	                  "--allowed-uids: 'no-such-user-heapd' is not a uid or a user name");
	expect_flag_error(fx, "--allowed-gids", "0,no-such-group-heapd",
	                  "--allowed-gids: 'no-such-group-heapd' is not a gid or a group name");
	expect_flag_error(fx, "--log-level", "trace",
	                  "--log-level 'trace' is not a log level (error, warn, info or debug)");
	expect_flag_error(fx, "--config", MISSING,
	                  "cannot open config file " MISSING ": No such file or directory");
	expect_flag_error(fx, "--bogus", "1", "unknown option '--bogus'");
	expect_flag_error(fx, "-x", "1", "unknown option '-x'");
	expect_flag_error(fx, "--help=yes", "1", "option '--help=yes' takes no value");
	assert_int_equal(PARSE(fx, "--max-roots"), -1);
	assert_string_equal(fx->err, "option '--max-roots' needs a value");
	assert_int_equal(PARSE(fx, "--max-roots", "1", "stray"), -1);
	assert_string_equal(fx->err, "unexpected argument 'stray'");
}

static void help_version_check(void **state)
{
	struct fx *fx = *state;
	static const char *const keys[][2] = {
		{"socket", "--socket PATH"},
		{"socket_mode", "--socket-mode MODE"},
		{"root_mode", "--root-mode MODE"},
		{"max_heap", "--max-heap SIZE"},
		{"soft_memory_limit", "--soft-memory-limit SIZE"},
		{"gc_percent", "--gc-percent N|off"},
		{"max_object_size", "--max-object-size SIZE"},
		{"max_holds_per_session", "--max-holds-per-session N"},
		{"max_roots", "--max-roots N"},
		{"gc_slice_us", "--gc-slice-us N"},
		{"gc_mark_workers", "--gc-mark-workers N"},
		{"release_delay_ms", "--release-delay-ms N"},
		{"max_clients", "--max-clients N"},
		{"max_frame_size", "--max-frame-size SIZE"},
		{"max_output_buffer", "--max-output-buffer SIZE"},
		{"max_batch_ops", "--max-batch-ops N"},
		{"allowed_uids", "--allowed-uids LIST"},
		{"allowed_gids", "--allowed-gids LIST"},
		{"log_target", "--log WHERE"},
		{"log_level", "--log-level LEVEL"},
		{"idle_gc_period_s", "--idle-gc-period N"},
	};
	struct capture cap;

	/* --help wins over a bad --config: nothing is read. */
	capture_begin(&cap, STDOUT_FILENO);
	int rc = PARSE(fx, "--config", MISSING, "--help");
	char *out = capture_end(&cap);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "Usage: heapd"));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char key[64];
		snprintf(key, sizeof key, "        %s: ", keys[i][0]);
		assert_non_null(strstr(out, keys[i][1]));
		assert_non_null(strstr(out, key));
	}
	assert_non_null(strstr(out, "--config FILE"));
	assert_non_null(strstr(out, "--check-config"));
	assert_non_null(strstr(out, "Default: 4GiB. Range: 4MiB..16GiB."));
	free(out);

	capture_begin(&cap, STDOUT_FILENO);
	rc = PARSE(fx, "-h");
	free(capture_end(&cap));
	assert_int_equal(rc, 1);

	capture_begin(&cap, STDOUT_FILENO);
	rc = PARSE(fx, "--version");
	out = capture_end(&cap);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "heapd " PACKAGE_VERSION "\n");
	free(out);

	write_conf(fx, "max_heap = 1G\n");
	capture_begin(&cap, STDOUT_FILENO);
	rc = PARSE_FILE(fx, "--check-config");
	out = capture_end(&cap);
	assert_int_equal(rc, 2);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(fx->c.heap.max_heap, GIB);

	write_conf(fx, "max_heap = 1T\n");
	assert_int_equal(PARSE_FILE(fx, "--check-config"), -1);
	assert_non_null(strstr(fx->err, "max_heap '1T' is out of range"));
}

/* gc_by_anyone's words, and the one rule across keys: no uid is both an
 * admin and read-only, by the file or the flags. */
static void roles(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *s;
		int v;
	} ok[] = {{"yes", 1}, {"no", 0}, {"On", 1}, {"off", 0}, {"TRUE", 1}, {"false", 0}, {"1", 1}, {"0", 0}};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(PARSE(fx, "--gc-by-anyone", (char *)ok[i].s), 0);
		assert_int_equal(fx->c.gc_by_anyone, ok[i].v);
	}
	expect_flag_error(fx, "--gc-by-anyone", "maybe", "--gc-by-anyone 'maybe' is not yes or no");
	expect_file_error(fx, "gc_by_anyone = 2\n", 1, "gc_by_anyone '2' is not yes or no");

	/* uid 0 is an admin by default. */
	write_conf(fx, "");
	expect_flag_error(fx, "--readonly-uids", "5,root", "uid 0 is in both admin_uids and readonly_uids");
	write_conf(fx, "admin_uids = 1000, 1001\nreadonly_uids = 7, 1001\n");
	assert_int_equal(PARSE(fx, "--config", fx->path), -1);
	assert_string_equal(fx->err, "uid 1001 is in both admin_uids and readonly_uids");
	/* A flag can settle it, as it overrides the file. */
	assert_int_equal(PARSE_FILE(fx, "--admin-uids", "1000"), 0);
	assert_int_equal(fx->c.n_readonly_uids, 2);
	/* Groups are not uids: an admin's gid may be read-only (the uid wins). */
	write_conf(fx, "");
	assert_int_equal(PARSE(fx, "--readonly-gids", "0"), 0);

	const id_t ids[] = {3, 5, 8};
	assert_int_equal(config_id_listed(ids, 3, 5), 1);
	assert_int_equal(config_id_listed(ids, 3, 4), 0);
	assert_int_equal(config_id_listed(NULL, 0, 0), 0);
}

static char *sample_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	config_write_sample(f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* packaging/heapd.conf is config_write_sample()'s output, byte for byte. */
static void sample_file_in_tree(void **state)
{
	(void)state;
	const char *srcdir = getenv("srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/packaging/heapd.conf", srcdir ? srcdir : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	char *tree = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&tree, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	char *sample = sample_text();
	if (strcmp(tree, sample) != 0)
		fail_msg("%s differs from config_write_sample(): regenerate it", path);
	free(tree);
	free(sample);
}

/* Uncommenting every setting of the sample gives the defaults. */
static void sample_uncommented_gives_defaults(void **state)
{
	struct fx *fx = *state;
	char *sample = sample_text();
	FILE *f = fopen(fx->path, "w");
	assert_non_null(f);
	unsigned settings = 0;
	for (char *line = strtok(sample, "\n"); line; line = strtok(NULL, "\n")) {
		bool setting = line[0] == '#' && line[1] >= 'a' && line[1] <= 'z';
		settings += setting;
		fprintf(f, "%s\n", line + setting);
	}
	fclose(f);
	free(sample);
	assert_int_equal(settings, 42);
	assert_int_equal(PARSE(fx, "--config", fx->path), 0);

	struct config d;
	config_init(&d);
	assert_string_equal(fx->c.socket_path, d.socket_path);
	assert_int_equal(fx->c.socket_mode, d.socket_mode);
	assert_memory_equal(&fx->c.heap, &d.heap, sizeof d.heap);
	assert_int_equal(fx->c.max_clients, d.max_clients);
	assert_int_equal(fx->c.max_frame, d.max_frame);
	assert_int_equal(fx->c.max_output, d.max_output);
	assert_int_equal(fx->c.max_batch_ops, d.max_batch_ops);
	assert_int_equal(fx->c.max_roots_per_uid, d.max_roots_per_uid);
	assert_int_equal(fx->c.max_root_bytes_per_uid, d.max_root_bytes_per_uid);
	assert_int_equal(fx->c.max_holds_per_uid, d.max_holds_per_uid);
	assert_int_equal(fx->c.max_output_per_uid, d.max_output_per_uid);
	assert_int_equal(fx->c.max_retained_per_uid, d.max_retained_per_uid);
	assert_int_equal(fx->c.root_mode, d.root_mode);
	assert_int_equal(fx->c.n_allowed_uids, 0);
	assert_int_equal(fx->c.n_allowed_gids, 0);
	assert_int_equal(fx->c.log_level, d.log_level);
	assert_int_equal(fx->c.log_target, d.log_target);
	assert_int_equal(fx->c.idle_gc_period_s, d.idle_gc_period_s);
	assert_int_equal(fx->c.max_clients_per_uid, d.max_clients_per_uid);
	assert_int_equal(fx->c.n_admin_uids, 1);
	assert_int_equal(fx->c.admin_uids[0], 0);
	assert_int_equal(fx->c.admin_reserved, d.admin_reserved);
	assert_int_equal(fx->c.n_readonly_uids, 0);
	assert_int_equal(fx->c.n_readonly_gids, 0);
	assert_int_equal(fx->c.gc_by_anyone, d.gc_by_anyone);
	assert_int_equal(fx->c.hello_timeout_ms, d.hello_timeout_ms);
	config_free(&d);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(defaults),
		T(file_sets_every_key),
		T(flags_set_every_key),
		T(flags_override_file),
		T(relative_config_path_made_absolute),
		T(gc_percent_values),
		T(size_units),
		T(file_errors),
		T(flag_errors),
		T(help_version_check),
		T(roles),
		T(sample_file_in_tree),
		T(sample_uncommented_gives_defaults),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
