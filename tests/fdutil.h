/*
 * fdutil.h - the descriptors a test process has open, for the tests that
 * check a descriptor passed over the socket (the arena's) is kept, or
 * closed, and no other is left behind.
 */
#ifndef HEAPD_TESTS_FDUTIL_H
#define HEAPD_TESTS_FDUTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdlib.h>

/* Entries of /proc/self/fd: the open descriptors, plus . and .. and the
 * one opendir uses; only differences between two counts mean anything. */
static inline size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		abort();
	size_t n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#endif
