/*
 * confopts.c - every setting of heapd, one row each: its file key, flag,
 * type, field, range, whether a reload changes it, and its help, which
 * --help, the sample file and the docs' tests read.
 */
#include "confopts.h"
#include "log.h"

const struct opt config_opts[] = {
	{.key = "socket", .flag = "socket", .type = T_PATH, FIELD(socket_path), .max = SOCKET_PATH_MAX,
	 .range = "1..107 bytes", .help = "Path of the listening Unix socket"},
	{.key = "state_dir", .flag = "state-dir", .type = T_PATH, FIELD(state_dir), .max = STATE_DIR_MAX,
	 .none = true, .range = "empty, or a path of 1..4000 bytes",
	 .help = "Directory of the snapshot (heapd.snapshot) that keeps the named roots and what "
	         "they reach across restarts: loaded at start, saved while serving and at a stop. "
	         "heapd makes it (mode 0700) if its parent exists. Empty: nothing is saved or loaded"},
	{.key = "save_on_stop", .flag = "save-on-stop", .type = T_BOOL, FIELD(save_on_stop),
	 .max = 1, .live = true, .range = "yes or no",
	 .help = "Whether a stop (SIGTERM, SIGINT) saves the heap before heapd exits, after "
	         "its last client is closed"},
	{.key = "save_interval", .flag = "save-interval", .type = T_COUNT, FIELD(save_interval_s),
	 .max = 86400 * 365, .live = true,
	 .help = "Save while serving when this many seconds have passed since the last save "
	         "ended and save_min_changes requests have changed the heap since it began, as "
	         "Redis's \"save 300 1\"; 0 = only on request and at a stop"},
	{.key = "save_min_changes", .flag = "save-min-changes", .type = T_COUNT,
	 FIELD(save_min_changes), .min = 1, .max = UINT32_MAX, .live = true,
	 .help = "Requests that changed the heap (alloc, write, set_ref and the root changes, "
	         "batch ops each) since the last save began, below which save_interval "
	         "does not save"},
	{.key = "socket_mode", .flag = "socket-mode", .type = T_MODE, FIELD(socket_mode),
	 .max = 0777, .range = "0000..0777", .help = "Permissions of the socket file, in octal"},
	{.key = "max_clients", .flag = "max-clients", .type = T_COUNT, FIELD(max_clients),
	 .min = 1, .max = 1u << 20, .live = true, .help = "Most connections open at once"},
	{.key = "max_frame_size", .flag = "max-frame-size", .type = T_SIZE, FIELD(max_frame),
	 .min = 4 * KIB, .max = GIB, .live = true, .help = "Largest request or reply frame"},
	{.key = "max_output_buffer", .flag = "max-output-buffer", .type = T_SIZE,
	 FIELD(max_output), .min = 4 * KIB, .max = 4 * GIB, .live = true,
	 .help = "Unsent reply bytes a connection may have before heapd stops reading its "
	         "requests"},
	{.key = "max_batch_ops", .flag = "max-batch-ops", .type = T_COUNT, FIELD(max_batch_ops),
	 .min = 1, .max = 65536, .live = true,
	 .help = "Most operations in one batch request; a batch runs in one turn, so this "
	         "also bounds how long other clients wait for one"},
	{.key = "max_cas_batch_ops", .flag = "max-cas-batch-ops", .type = T_COUNT, FIELD(max_cas_batch_ops),
	 .min = 1, .max = 65536, .live = true,
	 .help = "Most operations in one batch with a cas_ref or root_cas op; such a batch runs "
	         "whole in one turn, past the turn's budget, so this bounds how long other "
	         "clients wait for it"},
	{.key = "allowed_uids", .flag = "allowed-uids", .type = T_UIDS, FIELD(allowed_uids),
	 .count_off = offsetof(struct config, n_allowed_uids), .live = true,
	 .range = "uids or user names",
	 .help = "Users who may connect, comma-separated. A peer may connect if its uid is "
	         "in allowed_uids or one of its groups in allowed_gids; with both lists empty, anyone "
	         "the socket mode lets in may"},
	{.key = "allowed_gids", .flag = "allowed-gids", .type = T_GIDS, FIELD(allowed_gids),
	 .count_off = offsetof(struct config, n_allowed_gids), .live = true,
	 .range = "gids or group names",
	 .help = "Groups who may connect, comma-separated: a peer may if any of its groups, "
	         "primary or supplementary, is listed (heapd reads at most 64 groups of a peer; "
	         "one past those does not count)"},
	{.key = "readonly_uids", .flag = "readonly-uids", .type = T_UIDS, FIELD(readonly_uids),
	 .count_off = offsetof(struct config, n_readonly_uids), .live = true,
	 .range = "uids or user names",
	 .help = "Users who may only read, comma-separated: read objects, follow refs, get and "
	         "list roots, release what they hold and read stats; anything that changes the "
	         "heap fails with PERMISSION. A uid may not be in both this and admin_uids; uid 0 "
	         "and heapd's own uid are admins whatever this says. A reload applies it to open "
	         "connections"},
	{.key = "readonly_gids", .flag = "readonly-gids", .type = T_GIDS, FIELD(readonly_gids),
	 .count_off = offsetof(struct config, n_readonly_gids), .live = true,
	 .range = "gids or group names",
	 .help = "Groups whose members may only read, as readonly_uids: a peer is read-only if "
	         "any of its groups, primary or supplementary, is listed, admins excepted. A peer "
	         "in more than 64 groups, of which heapd reads 64, is read-only while this is set"},
	{.key = "zero_copy_uids", .flag = "zero-copy-uids", .type = T_UIDS, FIELD(zero_copy_uids),
	 .count_off = offsetof(struct config, n_zero_copy_uids), .live = true,
	 .range = "uids or user names",
	 .help = "Users who may read sealed objects in place (views), comma-separated: they are "
	         "sent a read-only descriptor of the whole arena, which shows every object's bytes "
	         "and handle, so this grants reading and writing all objects (docs/security.md). "
	         "heapd's own uid and uid 0 always may; read-only clients never. A reload applies "
	         "to later views; a descriptor already sent stays with its client"},
	{.key = "zero_copy_gids", .flag = "zero-copy-gids", .type = T_GIDS, FIELD(zero_copy_gids),
	 .count_off = offsetof(struct config, n_zero_copy_gids), .live = true,
	 .range = "gids or group names",
	 .help = "Groups whose members may read sealed objects in place, as zero_copy_uids: any "
	         "of a peer's groups, primary or supplementary, listed"},
	{.key = "max_clients_per_uid", .flag = "max-clients-per-uid", .type = T_COUNT,
	 FIELD(max_clients_per_uid), .min = 1, .max = 1u << 20, .live = true,
	 .help = "Most connections open at once from one uid, admin_uids excepted"},
	{.key = "admin_uids", .flag = "admin-uids", .type = T_UIDS, FIELD(admin_uids),
	 .count_off = offsetof(struct config, n_admin_uids), .live = true,
	 .range = "uids or user names",
	 .help = "Administrators, comma-separated: only they may start a collection or "
	         "free_os_memory (unless gc_by_anyone), and change the owner of a root; they may "
	         "take the admin_reserved_connections places and are not held to "
	         "max_clients_per_uid. uid 0 and heapd's own uid are admins for the operations "
	         "whatever this says. Admins must still be let in by allowed_uids or "
	         "allowed_gids"},
	{.key = "gc_by_anyone", .flag = "gc-by-anyone", .type = T_BOOL, FIELD(gc_by_anyone),
	 .max = 1, .live = true, .range = "yes or no",
	 .help = "Whether any client, not only admins, may start a collection or "
	         "free_os_memory (read-only clients never may)"},
	{.key = "admin_reserved_connections", .flag = "admin-reserved-connections", .type = T_COUNT,
	 FIELD(admin_reserved), .max = 1u << 20, .live = true,
	 .help = "Places of max_clients kept for admin_uids (at most max_clients - 1)"},
	{.key = "hello_timeout_ms", .flag = "hello-timeout-ms", .type = T_COUNT,
	 FIELD(hello_timeout_ms), .min = 10, .max = 600000, .live = true,
	 .help = "A connection that has not said Hello within this many milliseconds is closed "
	         "with an error"},
	{.key = "max_bad_refs", .flag = "max-bad-refs", .type = T_COUNT, FIELD(max_bad_refs),
	 .max = UINT32_MAX, .live = true,
	 .help = "A connection that presents more invalid refs than this within a minute is "
	         "closed and logged, so that guessing handles is slow; 0 = no limit"},
	{.key = "max_heap", .flag = "max-heap", .type = T_SIZE, FIELD(heap.max_heap),
	 .min = MIN_MAX_HEAP, .max = HEAP_MAX_HEAP_LIMIT,
	 .help = "Hard cap on the bytes in objects; an allocation past it fails after a "
	         "full collection"},
	{.key = "soft_memory_limit", .flag = "soft-memory-limit", .type = T_SIZE,
	 FIELD(heap.soft_limit), .max = (uint64_t)1 << 62, .none = true, .live = true,
	 .help = "Soft memory limit, like Go's GOMEMLIMIT: near it the collector runs more "
	         "often and returns free memory to the OS sooner; none (or 0) for no limit"},
	{.key = "gc_percent", .flag = "gc-percent", .type = T_PERCENT, FIELD(heap.gc_percent),
	 .max = GC_PERCENT_MAX, .live = true,
	 .help = "Heap growth between collections, in percent of the live heap, like Go's "
	         "GOGC; off (or negative) leaves collection to the soft memory limit, the "
	         "hard cap and the idle period"},
	{.key = "max_object_size", .flag = "max-object-size", .type = T_SIZE,
	 FIELD(heap.max_object), .min = 4 * KIB, .max = HEAP_MAX_OBJECT_LIMIT,
	 .help = "Largest object: 8 bytes of header, 8 per reference slot, and its data"},
	{.key = "max_holds_per_session", .flag = "max-holds-per-session", .type = T_COUNT,
	 FIELD(heap.max_holds), .min = 1, .max = UINT32_MAX, .live = true,
	 .help = "Holds one connection may have, counting repeats"},
	{.key = "max_roots", .flag = "max-roots", .type = T_COUNT, FIELD(heap.max_roots),
	 .max = UINT32_MAX, .live = true, .help = "Named roots, shared by all connections"},
	{.key = "max_roots_per_uid", .flag = "max-roots-per-uid", .type = T_COUNT,
	 FIELD(max_roots_per_uid), .max = UINT32_MAX, .live = true,
	 .help = "Named roots the clients of one uid may own (replacing a root's object "
	         "keeps its owner; deleting it, or an admin giving it to another uid, gives "
	         "the owner its room back)"},
	{.key = "max_root_bytes_per_uid", .flag = "max-root-bytes-per-uid", .type = T_SIZE,
	 FIELD(max_root_bytes_per_uid), .max = (uint64_t)1 << 40, .live = true,
	 .help = "Bytes of root names the clients of one uid may make, counted as "
	         "max_roots_per_uid counts roots"},
	{.key = "root_mode", .flag = "root-mode", .type = T_MODE, FIELD(root_mode), .max = 0666,
	 .live = true, .range = "0000..0666, rw bits only",
	 .help = "Permissions a new named root gets, in octal, as a file's: read (4) and "
	         "write (2) for its owner, its group and others. The owner and an admin "
	         "may change them (root_chmod)"},
	{.key = "max_holds_per_uid", .flag = "max-holds-per-uid", .type = T_COUNT,
	 FIELD(max_holds_per_uid), .min = 1, .max = UINT32_MAX, .live = true,
	 .help = "Holds the connections of one uid may have together, counting repeats"},
	{.key = "max_output_per_uid", .flag = "max-output-per-uid", .type = T_SIZE,
	 FIELD(max_output_per_uid), .min = 4 * KIB, .max = (uint64_t)1 << 40, .live = true,
	 .help = "Unsent reply bytes the connections of one uid may have together before "
	         "heapd stops reading any of them; reading resumes below half of it"},
	{.key = "max_heap_per_uid", .flag = "max-heap-per-uid", .type = T_SIZE,
	 FIELD(heap.max_tenant_heap), .max = (uint64_t)1 << 40, .none = true, .live = true,
	 .help = "Bytes of objects the clients of one uid may have allocated and not yet "
	         "seen collected, whoever holds them; none (or 0) for no limit"},
	{.key = "max_retained_per_uid", .flag = "max-retained-per-uid", .type = T_COUNT,
	 FIELD(max_retained_per_uid), .min = 1, .max = 65536, .live = true,
	 .help = "Retained counts (the retained op) one uid may have asked for and not yet "
	         "had answered, over all its connections, admin_uids excepted: each costs the "
	         "loop collector time"},
	{.key = "gc_slice_us", .flag = "gc-slice-us", .type = T_COUNT, FIELD(heap.slice_ns),
	 .min = 1, .max = 1000000, .scale = 1000, .live = true,
	 .help = "Longest collector slice or allocation assist, in microseconds"},
	{.key = "gc_mark_workers", .flag = "gc-mark-workers", .type = T_COUNT,
	 FIELD(heap.mark_workers), .max = HEAP_MAX_MARK_WORKERS,
	 .help = "Threads that mark on other CPUs while the loop serves requests, like "
	         "Go's dedicated mark workers; none when heapd may run on one CPU only. "
	         "0 leaves all marking to the loop's slices"},
	{.key = "release_delay_ms", .flag = "release-delay-ms", .type = T_COUNT,
	 FIELD(heap.release_delay_ns), .max = 86400000, .scale = 1000000, .live = true,
	 .help = "After this many milliseconds without an allocation, idle time returns "
	         "every free page to the OS"},
	{.key = "idle_gc_period_s", .flag = "idle-gc-period", .type = T_COUNT,
	 FIELD(idle_gc_period_s), .max = 86400 * 365, .live = true,
	 .help = "Force a collection when none has run for this many seconds, like Go's "
	         "forcegc; 0 = never"},
	{.key = "log_target", .flag = "log", .type = T_TARGET, FIELD(log_target),
	 .max = LOGT_JOURNAL, .live = true, .range = "auto, stderr or journal",
	 .help = "Where log lines go: the journal, with priorities and structured fields, "
	         "or stderr; auto is the journal when stderr is connected to it "
	         "($JOURNAL_STREAM)"},
	{.key = "log_level", .flag = "log-level", .type = T_LEVEL, FIELD(log_level),
	 .max = LOGL_DEBUG, .live = true, .range = "error, warn, info or debug",
	 .help = "Least severe messages logged"},
};

_Static_assert(sizeof config_opts / sizeof config_opts[0] == CONFIG_NOPTS, "CONFIG_NOPTS counts the rows");
