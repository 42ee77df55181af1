/*
 * hist.c - the latency histogram of heapctl bench (hist.h has the layout).
 *
 * A value v >= HIST_SUB with its top bit at position msb goes to bucket
 * shift * HIST_SUB + (v >> shift), where shift = msb - HIST_SUB_BITS: its
 * top HIST_SUB_BITS + 1 bits, which lie in [HIST_SUB, 2 * HIST_SUB), offset
 * by one block of HIST_SUB buckets per power of two. For v < 2 * HIST_SUB
 * the shift is 0 and the bucket is v itself. The mapping is monotonic, so
 * walking the buckets in order walks the values in order.
 */
#include <string.h>

#include "hist.h"

static unsigned bucket_of(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
	return shift * HIST_SUB + (unsigned)(v >> shift);
}

/* The highest value that goes to bucket i. For the last bucket,
 * (sub + 1) << shift is 2^64, which wraps to 0: the top is UINT64_MAX. */
static uint64_t bucket_top(unsigned i)
{
	if (i < 2 * HIST_SUB)
		return i;
	unsigned shift = i / HIST_SUB - 1;
	uint64_t sub = i - shift * HIST_SUB;
	return ((sub + 1) << shift) - 1;
}

void hist_clear(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[bucket_of(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (!h->count)
		return 0;
	/* Nearest rank: ceil(q * count), within [1, count]. */
	double want = q * (double)h->count;
	uint64_t rank = 1;
	if (want >= (double)h->count) {
		rank = h->count;
	} else if (want > 1) {
		rank = (uint64_t)want;
		rank += (double)rank < want;
	}
	uint64_t seen = 0;
	unsigned i = 0;
	while ((seen += h->bucket[i]) < rank)
		i++;
	uint64_t v = bucket_top(i);
	return v < h->min ? h->min : v > h->max ? h->max : v;
}
