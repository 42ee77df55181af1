/*
 * config.h - heapd's configuration: defaults, then the config file, then
 * command-line flags, each overriding the one before.
 *
 * The file holds "key = value" lines; every key has a flag of the same name
 * (heapd --help lists them, config_write_sample() documents them). Every
 * value is checked against its range when parsed, so a struct config that
 * config_parse() accepted is one the heap engine and the daemon accept.
 */
#ifndef HEAPD_CONFIG_H
#define HEAPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "heap.h"

#define CONFIG_DEFAULT_PATH "/etc/heapd/heapd.conf"
#define CONFIG_DEFAULT_SOCKET "/run/heapd/heapd.sock"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/heapd"
#define STATE_DIR_MAX 4000u   /* bytes: room left in PATH_MAX for a file name */

struct config {
	char *socket_path;        /* socket */
	mode_t socket_mode;       /* socket_mode */
	struct heap_config heap;  /* the engine's keys (max_heap, gc_percent, ...) */
	uint32_t max_clients;     /* max_clients: connections open at once */
	uint32_t max_frame;       /* max_frame_size: largest request or reply */
	size_t max_output;        /* max_output_buffer: unsent reply bytes per
	                           * client before heapd stops reading it */
	uint32_t max_batch_ops;   /* max_batch_ops: ops in one batch request */
	uint32_t max_cas_batch_ops; /* max_cas_batch_ops: ops in one batch with a CAS */
	/* Quotas per uid (tenant.c): named roots made and their name bytes,
	 * holds, and unsent reply bytes over its connections; its heap bytes
	 * are the engine's heap.max_tenant_heap (max_heap_per_uid). */
	uint32_t max_roots_per_uid;
	uint64_t max_root_bytes_per_uid;
	uint32_t max_holds_per_uid;
	size_t max_output_per_uid;
	uint32_t max_retained_per_uid; /* retained requests queued or running (retained.c) */
	mode_t root_mode;         /* root_mode: a new root's rw bits (dispatch.c) */
	/* allowed_uids, allowed_gids: a peer may connect when both lists are
	 * empty, or its uid is in the first, or one of its groups in the
	 * second (admit.c). */
	uid_t *allowed_uids;
	size_t n_allowed_uids;
	gid_t *allowed_gids;
	size_t n_allowed_gids;
	/* admin_uids: peers that may use the admin_reserved_connections
	 * places and are exempt from max_clients_per_uid (admit.c); with uid
	 * 0 and heapd's own uid, the admins who may run gc and
	 * free_os_memory (unless gc_by_anyone). No uid is in both admin_uids
	 * and readonly_uids: config_parse and config_reload refuse it. */
	uid_t *admin_uids;
	size_t n_admin_uids;
	/* readonly_uids, readonly_gids: peers, admins excepted, that may not
	 * change the heap (dispatch.c). */
	uid_t *readonly_uids;
	size_t n_readonly_uids;
	gid_t *readonly_gids;
	size_t n_readonly_gids;
	/* zero_copy_uids, zero_copy_gids: peers, read-only ones excepted,
	 * that may map the arena (zerocopy.c); heapd's own uid and root
	 * always may. */
	uid_t *zero_copy_uids;
	size_t n_zero_copy_uids;
	gid_t *zero_copy_gids;
	size_t n_zero_copy_gids;
	int gc_by_anyone;          /* gc_by_anyone */
	uint32_t admin_reserved; /* admin_reserved_connections */
	uint32_t max_clients_per_uid; /* max_clients_per_uid */
	uint32_t hello_timeout_ms; /* hello_timeout_ms */
	uint32_t max_bad_refs;     /* max_bad_refs: per connection and minute; 0 = none */
	int log_level;             /* log_level: LOGL_* */
	int log_target;            /* log_target: LOGT_* */
	uint64_t idle_gc_period_s; /* idle_gc_period_s: 0 = never */
	/* persist.c: state_dir ("" = no snapshot), save_on_stop,
	 * save_interval (0 = none), save_min_changes; and the flag
	 * --discard-snapshot, which is no key. */
	char *state_dir;
	int save_on_stop;
	uint64_t save_interval_s;
	uint64_t save_min_changes;
	bool discard_snapshot;

	/* The file read: CONFIG_DEFAULT_PATH (which may be missing) unless
	 * --config named one (which must exist). A relative name is made
	 * absolute, so a reload after a chdir reads the same file. Tests may
	 * replace it after config_init(). */
	char *config_path;
	bool config_given;
	/* The file was read by the last load, at start or on reload: a reload
	 * then needs it, even the default one (config_reload). */
	bool config_read;
	/* A copy of the command line, re-applied by config_reload(). */
	int argc;
	char **argv;
};

/* Fills c with the defaults. Out of memory here, and anywhere in this
 * module, aborts: a process that cannot allocate a path cannot serve. */
void config_init(struct config *c);
void config_free(struct config *c);

/* Reads the file and the flags in argv into c (initialized by
 * config_init()). Returns
 *    0  configuration loaded;
 *    1  --help or --version printed to stdout: exit 0 now;
 *    2  --check-config: the configuration is valid, exit 0 now;
 *   -1  an error, described in err ("FILE:LINE: ..." for the file).
 * argv is not modified. After an error c holds a mix of old and new
 * values, and should only be freed. */
int config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen);

/* Re-reads running's file, re-applies its command line, and copies into
 * *running the settings that may change at run time: those opts[]
 * (config.c) marks live, the one place that says so. Any other setting
 * that changed is logged as a warning and keeps its running value. The
 * caller applies the result (heap_reconfigure(), log_set_level(), ...).
 * Returns 0, or -1 with err filled and *running unchanged. The file must
 * be there if it was at the last load, the default one too: a reload
 * never falls back to the defaults (which would empty the allow lists).
 * The default file missing then and now changes nothing. */
int config_reload(struct config *running, char *err, size_t errlen);

/* 1 if id is one of the n ids, else 0. */
int config_id_listed(const id_t *ids, size_t n, id_t id);

/* Writes the default config file: every key commented out, with its
 * default, range and meaning. packaging/heapd.conf is its output. */
void config_write_sample(FILE *f);

#endif
