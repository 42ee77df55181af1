/*
 * sizeclass.c - size classes for small objects (Go's sizeclasses.go).
 *
 * The sizes and span lengths are Go's table: it bounds the tail waste of a
 * span and the rounding waste of an object to about 12.5%. heapd keeps the
 * alloc and mark bitmaps and the birth stamps (age.c) of a span with more
 * than 64 objects at the end of the span's pages, so nelems is what fits
 * before them.
 *
 * Invariants (checked by tests/heap/test_sizeclass.c): sizes increase and
 * are multiples of 8; for every class, offset * divmul >> 32 equals
 * offset / size for every offset inside the span; sc_of(n) is the smallest
 * class whose size is >= n.
 */
#include <pthread.h>

#include "internal.h"

static const uint16_t go_sizes[NUM_SIZE_CLASSES][2] = {
	{0, 0}, {8, 1}, {16, 1}, {24, 1}, {32, 1}, {48, 1}, {64, 1}, {80, 1}, {96, 1},
	{112, 1}, {128, 1}, {144, 1}, {160, 1}, {176, 1}, {192, 1}, {208, 1}, {224, 1},
	{240, 1}, {256, 1}, {288, 1}, {320, 1}, {352, 1}, {384, 1}, {416, 1}, {448, 1},
	{480, 1}, {512, 1}, {576, 1}, {640, 1}, {704, 1}, {768, 1}, {896, 1}, {1024, 1},
	{1152, 1}, {1280, 1}, {1408, 2}, {1536, 1}, {1792, 2}, {2048, 1}, {2304, 2},
	{2688, 1}, {3072, 3}, {3200, 2}, {3456, 3}, {4096, 1}, {4864, 3}, {5376, 2},
	{6144, 3}, {6528, 4}, {6784, 5}, {6912, 6}, {8192, 1}, {9472, 7}, {9728, 10},
	{10240, 5}, {10880, 4}, {12288, 3}, {13568, 5}, {14336, 7}, {16384, 2},
	{18432, 9}, {19072, 7}, {20480, 5}, {21760, 8}, {24576, 3}, {27264, 10},
	{28672, 7}, {32768, 4},
};

struct sizeclass sc_table[NUM_SIZE_CLASSES];

uint8_t sc_class8[1024 / 8 + 1];
uint8_t sc_class128[(MAX_SMALL_SIZE - 1024) / 128 + 1];
static pthread_once_t sc_once = PTHREAD_ONCE_INIT;

/* The tail of a span of n > 64 objects: stamps, rounded to words, and
 * the bitmaps. */
static size_t tail_bytes(uint32_t n)
{
	return ((size_t)n * sizeof(birth_t) + 7) / 8 * 8 + 2 * 8 * (size_t)((n + 63) / 64);
}

static void sc_build(void)
{
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		struct sizeclass *sc = &sc_table[c];
		sc->size = go_sizes[c][0];
		sc->npages = go_sizes[c][1];
		size_t bytes = (size_t)sc->npages * PAGE_SIZE;
		uint32_t n = (uint32_t)(bytes / sc->size);
		if (n > 64) {
			/* n birth stamps (age.c), then two bitmaps of ceil(n / 64)
			 * words, come out of the span's tail. */
			while ((size_t)n * sc->size + tail_bytes(n) > bytes)
				n--;
			sc->births_off = (uint32_t)(bytes - tail_bytes(n));
		}
		sc->nelems = n;
		sc->bitwords = (n + 63) / 64;
		sc->divmul = UINT32_MAX / sc->size + 1;
	}
	unsigned c = 1;
	for (unsigned i = 0; i < sizeof sc_class8; i++) {
		while (sc_table[c].size < i * 8)
			c++;
		sc_class8[i] = (uint8_t)c;
	}
	for (unsigned i = 0; i < sizeof sc_class128; i++) {
		while (sc_table[c].size < 1024 + i * 128)
			c++;
		sc_class128[i] = (uint8_t)c;
	}
}

void sc_init(void)
{
	pthread_once(&sc_once, sc_build);
}
