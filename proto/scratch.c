/*
 * scratch.c - memory for one message, for the daemon and libheapd alike.
 *
 * Decoding a message (protobuf-c allocates its parts and copies its byte
 * fields) and what is built around it live only until the message has been
 * handled. A bump allocator over one block, reset after each message,
 * serves them with no malloc in the common case. What does not fit goes
 * to further chunks of the same size (a large batch), or to a block of its
 * own (a large write or read), all freed at the reset; the base block
 * never grows, so one large message does not keep its memory.
 *
 * Decoding can take many times the bytes it decodes (protobuf-c makes a
 * structure of tens of bytes for every field, and a field can be 2 bytes
 * on the wire), so what it may take is capped by pb_limit: past it, the
 * allocation fails, so does the unpack, and pb_over says why.
 *
 * Not thread-safe: one scratch per owner (the daemon's loop, a client
 * connection), which handles one message at a time.
 *
 * Under AddressSanitizer the base block is poisoned except for what is
 * handed out, with a redzone after each piece, and poisoned again at the
 * reset: a bump allocator would otherwise hide an overrun from one piece
 * into the next, or a use of a decoded message after its reset, which is
 * what the fuzzer (tests/fuzz) is there to find.
 */
#include <stdlib.h>

#include "scratch.h"

#define SCRATCH_SIZE (64u << 10)

#if defined(__SANITIZE_ADDRESS__)
#define SCRATCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCRATCH_ASAN 1
#endif
#endif
#ifdef SCRATCH_ASAN
#include <sanitizer/asan_interface.h>
#define REDZONE 16u
#else
#define REDZONE 0u
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

/* A block past the base one: a chunk of SCRATCH_SIZE that later pieces
 * share, or a piece larger than that on its own. */
struct big {
	struct big *next;
	size_t size, used;
	max_align_t data[];
};

void *scratch_alloc(struct scratch *sc, size_t n)
{
	size_t take = ((n + 15) & ~(size_t)15) + REDZONE;
	if (!sc->base && take <= SCRATCH_SIZE && (sc->base = malloc(SCRATCH_SIZE)) != NULL)
		ASAN_POISON_MEMORY_REGION(sc->base, SCRATCH_SIZE);
	uint8_t *p;
	if (sc->base && sc->used + take <= SCRATCH_SIZE) {
		p = sc->base + sc->used;
		sc->used += take;
	} else if (sc->bigs && sc->bigs->size - sc->bigs->used >= take) {
		p = (uint8_t *)sc->bigs->data + sc->bigs->used;
		sc->bigs->used += take;
	} else {
		size_t size = take > SCRATCH_SIZE ? take : SCRATCH_SIZE;
		struct big *b = malloc(sizeof *b + size);
		if (!b)
			return NULL;
		ASAN_POISON_MEMORY_REGION(b->data, size);
		b->size = size;
		b->used = take;
		/* A piece alone goes behind the chunk in use, which has room left. */
		if (size > SCRATCH_SIZE && sc->bigs) {
			b->next = sc->bigs->next;
			sc->bigs->next = b;
		} else {
			b->next = sc->bigs;
			sc->bigs = b;
		}
		p = (uint8_t *)b->data;
	}
	ASAN_UNPOISON_MEMORY_REGION(p, n);
	return p;
}

void scratch_reset(struct scratch *sc)
{
	if (sc->base)
		ASAN_POISON_MEMORY_REGION(sc->base, sc->used);
	sc->used = 0;
	sc->pb_taken = 0;
	sc->pb_over = 0;
	while (sc->bigs) {
		struct big *b = sc->bigs;
		sc->bigs = b->next;
		ASAN_UNPOISON_MEMORY_REGION(b->data, b->size);
		free(b);
	}
}

void scratch_swap(struct scratch *a, struct scratch *b)
{
	struct scratch t = *a;
	*a = *b;
	*b = t;
	a->pb.allocator_data = a;
	b->pb.allocator_data = b;
}

void scratch_free(struct scratch *sc)
{
	scratch_reset(sc);
	if (sc->base)
		ASAN_UNPOISON_MEMORY_REGION(sc->base, SCRATCH_SIZE);
	free(sc->base);
	sc->base = NULL;
}

/* What an allocation of n costs at most: rounded to 16 bytes, and as much
 * again at most left unused at the end of a chunk it did not fit in. */
#define PB_COST(n) (2 * (((n) + 15) & ~(size_t)15))

static void *pb_alloc(void *arg, size_t n)
{
	struct scratch *sc = arg;
	/* pb_taken <= pb_limit always: the subtraction cannot wrap. */
	if (sc->pb_limit && (n > sc->pb_limit || PB_COST(n) > sc->pb_limit - sc->pb_taken)) {
		sc->pb_over = 1;
		return NULL;
	}
	sc->pb_taken += PB_COST(n);
	return scratch_alloc(sc, n);
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
	sc->pb_limit = 0;
	sc->pb_taken = 0;
	sc->pb_over = 0;
}
