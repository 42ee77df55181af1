/*
 * test_spin.c - how a blocking call waits for its reply: the spin before
 * sleeping (heapd_set_spin, $HEAPD_SPIN_US, the default by CPU affinity),
 * its counts, and the backoff after a spin that saw nothing. A daemon
 * stopped with SIGSTOP makes a spin miss for certain; the calls still get
 * their replies once it goes on.
 */
#include <sched.h>

#include "daemonutil.h"

/* The spin counts since the last call of this with reset set: the hello
 * that connecting made may have spun too. */
static void spins_of(heapd *h, uint64_t *spins, uint64_t *hits, int reset)
{
	static uint64_t spins0, hits0;
	uint64_t s, t;
	heapd_spin_counts(h, &s, &t);
	if (reset) {
		spins0 = s;
		hits0 = t;
	}
	*spins = s - spins0;
	*hits = t - hits0;
}

static void settings(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	assert_int_equal(heapd_set_spin(h, HEAPD_SPIN_MAX_US + 1), HEAPD_EINVAL);
	assert_int_equal(heapd_errcode(h), HEAPD_EINVAL);
	assert_int_equal(heapd_set_spin(h, 0), 0);
	assert_int_equal(heapd_spin(h), 0);
	assert_int_equal(heapd_set_spin(h, HEAPD_SPIN_MAX_US), 0);
	assert_int_equal(heapd_spin(h), HEAPD_SPIN_MAX_US);

	/* Spinning off: no wait spins, and calls still work. */
	assert_int_equal(heapd_set_spin(h, 0), 0);
	uint64_t spins, hits;
	spins_of(h, &spins, &hits, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(heapd_ping(h, NULL), 0);
	spins_of(h, &spins, &hits, 0);
	assert_int_equal(spins, 0);
	assert_int_equal(hits, 0);
	heapd_close(h);
	daemon_stop(&d);
}

/* A connection made with $HEAPD_SPIN_US set to value: its error, and
 * *spin the spin it got. */
static int connect_with(const struct daemon *d, const char *value, uint32_t *spin)
{
	setenv("HEAPD_SPIN_US", value, 1);
	heapd *h = heapd_connect(d->sock);
	unsetenv("HEAPD_SPIN_US");
	assert_non_null(h);
	int err = heapd_errcode(h);
	*spin = heapd_spin(h);
	if (!err)
		assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	return err;
}

/* $HEAPD_SPIN_US applies, and a bad one fails the connection (its parsing:
 * tests/client/test_spin.c). */
static void environment(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	uint32_t spin;
	assert_int_equal(connect_with(&d, "0", &spin), 0);
	assert_int_equal(spin, 0);
	assert_int_equal(connect_with(&d, "7", &spin), 0);
	assert_int_equal(spin, 7);
	assert_int_equal(connect_with(&d, "10001", &spin), HEAPD_EINVAL);
	setenv("HEAPD_SPIN_US", "x", 1);
	heapd *h = heapd_connect(d.sock);
	unsetenv("HEAPD_SPIN_US");
	assert_int_equal(heapd_errcode(h), HEAPD_EINVAL);
	assert_non_null(strstr(heapd_errmsg(h), "HEAPD_SPIN_US"));
	heapd_close(h);
	daemon_stop(&d);
}

/* The spin a connection made from this thread, pinned to CPU mine (-1:
 * not pinned), gets from a daemon pinned to CPU its (-1: not pinned). */
static uint32_t spin_placed(int mine, int its)
{
	struct daemon d;
	daemon_prepare(&d);
	if (its >= 0)
		daemon_pin(&d, its);
	daemon_spawn(&d, NULL);
	cpu_set_t all, one;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	if (mine >= 0) {
		CPU_ZERO(&one);
		CPU_SET(mine, &one);
		assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
	}
	heapd *h = client(&d);
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
	uint32_t spin = heapd_spin(h);
	assert_int_equal(heapd_ping(h, NULL), 0);
	heapd_close(h);
	daemon_stop(&d);
	return spin;
}

/* Without $HEAPD_SPIN_US, a connection spins unless it and the daemon may
 * run on one and the same CPU only. */
static void default_by_affinity(void **state)
{
	(void)state;
	cpu_set_t all;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	int cpus[2], n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &all))
			cpus[n++] = c;
	assert_int_equal(spin_placed(cpus[0], cpus[0]), 0);
	if (n < 2) {
		assert_int_equal(spin_placed(-1, -1), 0);
		return;
	}
	assert_int_equal(spin_placed(cpus[1], cpus[0]), HEAPD_SPIN_DEFAULT_US);
	assert_int_equal(spin_placed(cpus[0], -1), HEAPD_SPIN_DEFAULT_US);
	assert_int_equal(spin_placed(-1, cpus[0]), HEAPD_SPIN_DEFAULT_US);
	assert_int_equal(spin_placed(-1, -1), HEAPD_SPIN_DEFAULT_US);
}

/* Spinning as long as allowed, a reply from a running daemon comes while
 * spinning (10 ms is far more than a ping takes). */
static void hits(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	assert_int_equal(heapd_set_spin(h, HEAPD_SPIN_MAX_US), 0);
	uint64_t spins, hit;
	spins_of(h, &spins, &hit, 1);
	heapd_ref r;
	assert_int_equal(heapd_alloc_into(h, 0, 0, 0, 8, "spinning", 8, &r), 0);
	char buf[8];
	for (int i = 0; i < 20; i++) {
		assert_int_equal(heapd_read(h, r, 0, buf, sizeof buf), 0);
		assert_memory_equal(buf, "spinning", 8);
	}
	spins_of(h, &spins, &hit, 0);
	assert_true(hit >= 1);
	assert_true(hit <= spins);
	heapd_close(h);
	daemon_stop(&d);
}

/* A ping to a daemon stopped for 100 ms, which a child wakes. */
static void ping_stopped(struct daemon *d, heapd *h)
{
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sleep_ms(100);
		kill(d->pid, SIGCONT);
		_exit(0);
	}
	assert_int_equal(heapd_ping(h, NULL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* A spin that sees nothing makes the next 2^misses - 1 waits sleep at once. */
static void backoff(void **state)
{
	(void)state;
	struct daemon d;
	daemon_start(&d, NULL);
	heapd *h = client(&d);
	assert_int_equal(heapd_set_spin(h, 1000), 0);
	uint64_t spins, hit;
	spins_of(h, &spins, &hit, 1);

	ping_stopped(&d, h); /* spins in vain: 1 miss, the next wait sleeps */
	spins_of(h, &spins, &hit, 0);
	assert_int_equal(spins, 1);
	assert_int_equal(hit, 0);
	ping_stopped(&d, h); /* sleeps at once */
	spins_of(h, &spins, &hit, 0);
	assert_int_equal(spins, 1);
	ping_stopped(&d, h); /* spins in vain: 2 misses, 3 waits sleep */
	spins_of(h, &spins, &hit, 0);
	assert_int_equal(spins, 2);
	assert_int_equal(hit, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(heapd_ping(h, NULL), 0);
	spins_of(h, &spins, &hit, 0);
	assert_int_equal(spins, 2);
	assert_int_equal(heapd_ping(h, NULL), 0); /* spins again */
	spins_of(h, &spins, &hit, 0);
	assert_int_equal(spins, 3);

	/* Setting the spin starts over: the next wait spins. */
	assert_int_equal(heapd_set_spin(h, 1000), 0);
	ping_stopped(&d, h);
	spins_of(h, &spins, &hit, 0);
	assert_int_equal(spins, 4);
	heapd_close(h);
	daemon_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(settings),
		cmocka_unit_test(environment),
		cmocka_unit_test(default_by_affinity),
		cmocka_unit_test(hits),
		cmocka_unit_test(backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
