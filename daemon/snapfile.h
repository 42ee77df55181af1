/*
 * snapfile.h - the snapshot file: its format, a blocking writer and the
 * loader (docs/persistence.md has the format).
 *
 * A file is a header, then the engine's stream (heap.h) cut into blocks
 * of at most SNAP_BLOCK_MAX bytes, each with its length before it and an
 * XXH3 hash after it (seeded with its index and length, so blocks cannot
 * be swapped, dropped or repeated unseen), then an end block giving the
 * stream's length. Integers are little-endian.
 */
#ifndef HEAPD_SNAPFILE_H
#define HEAPD_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define SNAP_FILE "heapd.snapshot"
#define SNAP_TMP "heapd.snapshot.tmp"
#define SNAP_VERSION 2u      /* written; 1 is read too (no seals) */
#define SNAP_HEADER 80u
#define SNAP_BLOCK_MAX (1u << 20)   /* payload bytes in a block */
#define SNAP_BLOCK_EXTRA 12u        /* its length before, its hash after */
#define SNAP_END 20u                /* the end block */

/* What a header says. */
struct snap_info {
	uint64_t objects, roots, slots, bytes;  /* the snapshot's */
	uint64_t created_unix_ns;
	uint64_t version;       /* the file's format: SNAP_VERSION, or 1 (64 bits:
	                         * no padding, the struct is compared whole) */
};

/* The header for info, at out. */
void snap_header(uint8_t out[SNAP_HEADER], const struct snap_info *info);
/* Seals block index, whose len payload bytes are at buf + 4: returns the
 * block's bytes (len + SNAP_BLOCK_EXTRA). */
size_t snap_seal(uint8_t *buf, uint32_t len, uint64_t index);
/* The end block after index blocks holding total stream bytes, at out. */
void snap_end(uint8_t out[SNAP_END], uint64_t index, uint64_t total);

/* Makes a written file the snapshot: fsync of fd, rename of tmp over path,
 * fsync of dir. NULL, or the step that failed (errno says why). */
const char *snap_commit(int fd, const char *tmp, const char *path, const char *dir);

/* Writes h's snapshot to fd (a new file) with blocking writes, running
 * the whole save: at a stop, when nothing else runs. 0, or -1 with err. */
int snap_write(heap *h, int fd, struct snap_info *info, char *err, size_t cap);

/* The file's bytes: up to len into buf; 0 at its end, < 0 on an error
 * (errno). */
typedef long snap_read_fn(void *arg, void *buf, size_t len);
/* Told, as loading goes on, how many of the file's size bytes are read. */
typedef void snap_progress_fn(void *arg, uint64_t done, uint64_t size);

/* Loads the snapshot file of size bytes read through rd into h, a new
 * heap. 0, or -1 with err saying at which offset what is wrong. */
int snap_load(heap *h, snap_read_fn *rd, void *arg, uint64_t size, snap_progress_fn *progress, void *parg,
	      struct snap_info *info, char *err, size_t cap);

#endif
