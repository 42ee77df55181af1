/*
 * confopts.h - the table of heapd's settings (confopts.c), which
 * config.c walks to parse the file and the flags, print --help and the
 * sample file, and reload: one row per setting.
 */
#ifndef HEAPD_CONFOPTS_H
#define HEAPD_CONFOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "config.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

/* heap_new() refuses a max_heap below its growth step, ARENA_CHUNK. */
#define MIN_MAX_HEAP (4 * MIB)
/* Keeps the pacer's goal, live bytes * gc_percent / 100, inside 64 bits. */
#define GC_PERCENT_MAX 1000000
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
_Static_assert(SOCKET_PATH_MAX == 107, "the socket key's range text says 107");

enum opt_type {
	T_PATH,    /* char *, 1..max bytes (0.. with none) */
	T_MODE,    /* mode_t, octal */
	T_SIZE,    /* bytes with an optional unit */
	T_COUNT,   /* decimal; the field holds value * scale */
	T_PERCENT, /* int: min..max, or "off" or negative, held as -1 */
	T_LEVEL,   /* int: LOGL_* */
	T_TARGET,  /* int: LOGT_* */
	T_UIDS,    /* a list of uids (id_t *) and its length (size_t, count_off) */
	T_GIDS,    /* the same, of gids */
	T_BOOL,    /* int: 0 or 1, "no" or "yes" */
};

/* Numeric fields (all but T_PATH and the lists) are 4 or 8 bytes wide. */
struct opt {
	const char *key;   /* in the file */
	const char *flag;  /* on the command line, after "--" */
	enum opt_type type;
	size_t off, size;  /* the field in struct config */
	size_t count_off;  /* T_UIDS, T_GIDS: the length field */
	uint64_t min, max; /* numeric types, in the key's unit; T_MODE: max
	                    * is the bits it may have */
	uint64_t scale;    /* T_COUNT; 0 means 1 */
	bool none;         /* T_SIZE: "none" is 0 */
	bool live;         /* may change on reload */
	const char *range; /* shown instead of min..max */
	const char *help;
};

#define FIELD(f) .off = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)

/* Rows of config_opts. */
#define CONFIG_NOPTS 42
extern const struct opt config_opts[CONFIG_NOPTS];

#endif
