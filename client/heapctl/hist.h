/*
 * hist.h - a latency histogram for heapctl bench: constant time per value,
 * fixed memory, percentiles within 1%.
 *
 * Log-linear buckets, as HdrHistogram's: values below 2 * HIST_SUB are
 * counted exactly; above, each power of two [2^k, 2^(k+1)) is split into
 * HIST_SUB equal buckets, so a bucket is never wider than 1/HIST_SUB of
 * its values (0.8%). Recording a value is a count-leading-zeros, a shift
 * and an increment: cheap enough for every request of a benchmark. The
 * count, minimum and maximum are kept exactly.
 *
 * A percentile is the highest value of the bucket holding the nearest-rank
 * value, clipped to [min, max]: never below the true nearest-rank value,
 * above it by less than 1/HIST_SUB of it, and never above the maximum.
 */
#ifndef HEAPD_HEAPCTL_HIST_H
#define HEAPD_HEAPCTL_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
/* The bucket of UINT64_MAX is (63 - HIST_SUB_BITS) * HIST_SUB + 2 * HIST_SUB - 1. */
#define HIST_NBUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count, min, max;
	uint64_t bucket[HIST_NBUCKETS];
};

void hist_clear(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* The q-quantile (0 < q <= 1) of the values recorded; 0 when there are none. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
