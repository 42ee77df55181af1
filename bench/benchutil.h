/*
 * benchutil.h - what the benchmark programs share: a monotonic clock, the
 * process's RSS, and stopping with a message when something fails (the
 * engine's errors by name). Messages start with the program's name.
 */
#ifndef HEAPD_BENCHUTIL_H
#define HEAPD_BENCHUTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "heap.h"

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
	exit(1);
}

/* Stops on an engine error: a benchmark that got one measured nothing. */
static inline void check(int rc, const char *what)
{
	if (rc != HEAP_OK) {
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, heap_strerror(rc));
		abort();
	}
}

static inline double rss_mib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		fail("cannot open /proc/self/status");
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	if (kib < 0)
		fail("no VmRSS in /proc/self/status");
	return (double)kib / 1024.0;
}

#endif
