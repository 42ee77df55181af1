/*
 * spin.c - the spin policy of libheapd's blocking calls (spin.h).
 *
 * Invariants: skip is 0 whenever misses is 0; a hit resets misses but not
 * skip (a wait that skips does not spin, so it cannot hit).
 */
#include <sched.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heapd.h"
#include "spin.h"

void spin_set(struct spin *s, uint32_t us)
{
	s->ns = us * 1000u;
	s->skip = s->misses = 0;
}

int spin_start(struct spin *s)
{
	if (!s->ns)
		return 0;
	if (s->skip) {
		s->skip--;
		return 0;
	}
	s->spins++;
	return 1;
}

void spin_hit(struct spin *s)
{
	s->hits++;
	s->misses = 0;
}

void spin_miss(struct spin *s)
{
	if (s->misses < SPIN_BACKOFF_MAX)
		s->misses++;
	s->skip = (1u << s->misses) - 1;
}

/* The daemon is the peer's process, when it can be known (SO_PEERCRED
 * gives no pid across PID namespaces): otherwise it is taken to run
 * anywhere. A thread that shares the daemon's only CPU would keep the
 * daemon off it while spinning. */
int spin_pays(int fd)
{
	cpu_set_t mine, its;
	if (sched_getaffinity(0, sizeof mine, &mine) != 0)
		return 0;
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || cr.pid <= 0 ||
	    sched_getaffinity(cr.pid, sizeof its, &its) != 0)
		return CPU_COUNT(&mine) >= 2 || sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	CPU_OR(&its, &its, &mine);
	return CPU_COUNT(&its) >= 2;
}

int spin_env(uint32_t *us)
{
	const char *env = getenv("HEAPD_SPIN_US");
	if (!env || !env[0])
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(env, &end, 10);
	if (errno || *end || env[0] == '-' || v > HEAPD_SPIN_MAX_US)
		return -1;
	*us = (uint32_t)v;
	return 1;
}
