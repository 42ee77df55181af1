/*
 * scratch.c - memory that lives for one request.
 *
 * Decoding a request (protobuf-c copies its byte fields) and building a
 * read reply need memory only until the reply is packed. A bump allocator
 * over one block, reset after every request, serves them with no malloc
 * in the common case. What does not fit (a large write) gets its own
 * block, freed at the reset; the base block never grows past its size, so
 * one large request does not keep its memory.
 *
 * One scratch per server: requests are handled one at a time.
 */
#include <stdlib.h>

#include "server.h"

#define SCRATCH_SIZE (64u << 10)

struct big {
	struct big *next;
	max_align_t data[];
};

void *scratch_alloc(struct scratch *sc, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (sc->base && sc->used + n <= SCRATCH_SIZE) {
		void *p = sc->base + sc->used;
		sc->used += n;
		return p;
	}
	if (!sc->base && n <= SCRATCH_SIZE && (sc->base = malloc(SCRATCH_SIZE)) != NULL) {
		sc->used = n;
		return sc->base;
	}
	struct big *b = malloc(sizeof *b + n);
	if (!b)
		return NULL;
	b->next = sc->bigs;
	sc->bigs = b;
	return b->data;
}

void scratch_reset(struct scratch *sc)
{
	sc->used = 0;
	while (sc->bigs) {
		struct big *b = sc->bigs;
		sc->bigs = b->next;
		free(b);
	}
}

void scratch_free(struct scratch *sc)
{
	scratch_reset(sc);
	free(sc->base);
	sc->base = NULL;
}

static void *pb_alloc(void *arg, size_t n)
{
	return scratch_alloc(arg, n);
}

static void pb_free(void *arg, void *p)
{
	(void)arg;
	(void)p; /* freed by scratch_reset */
}

void scratch_init(struct scratch *sc)
{
	sc->base = NULL;
	sc->used = 0;
	sc->bigs = NULL;
	sc->pb.alloc = pb_alloc;
	sc->pb.free = pb_free;
	sc->pb.allocator_data = sc;
}
