/*
 * dump.h - the graph below a root, walked and printed for heapctl dump:
 * as an indented tree of text or as JSON, each object once.
 *
 * The walk reads the graph through a dump_source, so that it can be
 * tested on a graph in memory (tests/client/test_dump.c) and run on the
 * daemon's (data.c) with the same code.
 */
#ifndef HEAPD_HEAPCTL_DUMP_H
#define HEAPD_HEAPCTL_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include "heapd.h"

/* How the walk reads an object. Each returns 0 or a HEAPD_E* code, with
 * the message (if any) in the source's own keeping. slot may take a hold
 * on what it returns; release (may be NULL) is then called once the walk
 * is done with that object. */
struct dump_source {
	void *ctx;
	int (*size)(void *ctx, heapd_ref ref, uint32_t *nrefs, uint32_t *nbytes);
	int (*slot)(void *ctx, heapd_ref ref, uint32_t slot, heapd_ref *out);
	int (*read)(void *ctx, heapd_ref ref, uint32_t off, void *buf, uint32_t len);
	void (*release)(void *ctx, heapd_ref ref);
};

#define DUMP_DEPTH_DEFAULT 8
#define DUMP_DEPTH_MAX 1000        /* the walk recurses: a bound on its stack */
#define DUMP_OBJECTS_DEFAULT 1000
#define DUMP_DATA_DEFAULT 32       /* data bytes shown per object */
#define DUMP_DATA_MAX 4096

struct dump_opts {
	uint32_t depth;     /* levels below the root shown (0: the root alone) */
	uint32_t objects;   /* objects shown at most */
	uint32_t data;      /* data bytes shown per object */
	int json;
};

/* Writes the text s as dump writes a root's name: escaped for a
 * terminal (text), or for a JSON string (json), without the quotes. */
void dump_put_name(FILE *f, const char *s, int json);

/* Writes the graph below root (named name) to f. Returns 0, or the
 * source's error code for the object it could not read. */
int dump_graph(FILE *f, const struct dump_source *src, const char *name, heapd_ref root,
	       const struct dump_opts *o);

#endif
