/*
 * os.c - the engine's view of the operating system.
 *
 * Address space is reserved PROT_NONE (so a reservation of many GiB costs
 * nothing and is not charged against overcommit), committed read-write as
 * the heap grows, and released with MADV_DONTNEED: released pages read as
 * zero afterwards and leave RSS at once. MADV_FREE is not used: it leaves
 * RSS high until memory pressure, which is what users read as a leak (Go
 * went back to DONTNEED in 1.16 for that reason).
 *
 * The arena alone is shared memory, a memfd mapped MAP_SHARED (so that
 * the daemon can hand clients a read-only descriptor of it: zero-copy
 * reads). There DONTNEED would only unmap the pages, which the file
 * keeps: its pages are released with MADV_REMOVE, which punches a hole
 * in the file (pages read as zero again, and leave RSS and the file's
 * blocks at once, in every process that maps it). The file is sealed
 * against shrinking and is mode 0400, so that a client of another uid
 * cannot open it again for writing through /proc/PID/fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

void *os_reserve(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int os_commit(void *p, size_t bytes)
{
	return mprotect(p, bytes, PROT_READ | PROT_WRITE);
}

void os_release(void *p, size_t bytes)
{
	/* DONTNEED on private anonymous memory cannot fail for a valid range. */
	if (madvise(p, bytes, MADV_DONTNEED) != 0)
		heap_throw("madvise(MADV_DONTNEED) failed");
}

void *os_reserve_shared(size_t bytes, int *fd)
{
	*fd = memfd_create("heapd-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0)
		return NULL;
	void *p = MAP_FAILED;
	if (fchmod(*fd, 0400) == 0 && fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) == 0)
		p = mmap(NULL, bytes, PROT_NONE, MAP_SHARED | MAP_NORESERVE, *fd, 0);
	if (p == MAP_FAILED) {
		close(*fd);
		*fd = -1;
		return NULL;
	}
	return p;
}

void os_release_shared(void *p, size_t bytes)
{
	if (madvise(p, bytes, MADV_REMOVE) != 0)
		heap_throw("madvise(MADV_REMOVE) failed");
}

void os_unreserve(void *p, size_t bytes)
{
	munmap(p, bytes);
}

uint64_t os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t os_unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t os_random(void)
{
	uint64_t v = 0;
	ssize_t n;
	do
		n = getrandom(&v, sizeof v, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof v)
		v = os_now_ns() ^ (uint64_t)(uintptr_t)&v;
	return v;
}

_Noreturn void heap_throw(const char *msg)
{
	fprintf(stderr, "heapd: fatal heap error: %s\n", msg);
	abort();
}
