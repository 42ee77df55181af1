/*
 * test_spin.c - the spin policy of libheapd's blocking calls (client/spin.c):
 * the backoff sequence, $HEAPD_SPIN_US, and when spinning can pay. The
 * waits themselves, against a real daemon, are in tests/daemon/test_spin.c.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "heapd.h"
#include "spin.h"

static void off_never_spins(void **state)
{
	(void)state;
	struct spin s = {0};
	spin_set(&s, 0);
	for (int i = 0; i < 10; i++)
		assert_false(spin_start(&s));
	assert_int_equal(s.spins, 0);
}

/* After the k-th miss in a row the next 2^k - 1 waits sleep, k up to
 * SPIN_BACKOFF_MAX; a hit starts the count over. */
static void backoff(void **state)
{
	(void)state;
	struct spin s = {0};
	spin_set(&s, 50);
	assert_int_equal(s.ns, 50000);
	for (unsigned k = 1; k <= SPIN_BACKOFF_MAX + 2; k++) {
		assert_true(spin_start(&s));
		spin_miss(&s);
		unsigned k_eff = k < SPIN_BACKOFF_MAX ? k : SPIN_BACKOFF_MAX;
		for (unsigned i = 0; i < (1u << k_eff) - 1; i++)
			assert_false(spin_start(&s));
	}
	assert_int_equal(s.spins, SPIN_BACKOFF_MAX + 2);
	assert_int_equal(s.hits, 0);

	assert_true(spin_start(&s));
	spin_hit(&s);
	assert_int_equal(s.hits, 1);
	assert_true(spin_start(&s)); /* a hit: no waits skipped */
	spin_miss(&s);                /* the first miss again */
	assert_false(spin_start(&s));
	assert_true(spin_start(&s));

	spin_miss(&s);
	spin_set(&s, 50); /* setting it starts the backoff over */
	assert_true(spin_start(&s));
}

static int env_with(const char *value, uint32_t *us)
{
	setenv("HEAPD_SPIN_US", value, 1);
	int r = spin_env(us);
	unsetenv("HEAPD_SPIN_US");
	return r;
}

static void environment(void **state)
{
	(void)state;
	uint32_t us = 12345;
	unsetenv("HEAPD_SPIN_US");
	assert_int_equal(spin_env(&us), 0);
	assert_int_equal(env_with("", &us), 0);
	assert_int_equal(us, 12345);
	assert_int_equal(env_with("0", &us), 1);
	assert_int_equal(us, 0);
	assert_int_equal(env_with("10000", &us), 1);
	assert_int_equal(us, HEAPD_SPIN_MAX_US);
	assert_int_equal(env_with("10001", &us), -1);
	assert_int_equal(env_with("-5", &us), -1);
	assert_int_equal(env_with("5 ", &us), -1);
	assert_int_equal(env_with("0x10", &us), -1);
	assert_int_equal(env_with("18446744073709551616", &us), -1);
}

/* The peer of a socketpair is this process: spinning pays exactly when
 * this thread may run on two CPUs or more. */
static void pays_by_affinity(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cpu_set_t all, one;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	int first = 0;
	while (!CPU_ISSET(first, &all))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
	int pinned = spin_pays(sv[0]);
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
	assert_false(pinned);
	assert_int_equal(spin_pays(sv[0]), CPU_COUNT(&all) >= 2);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(off_never_spins),
		cmocka_unit_test(backoff),
		cmocka_unit_test(environment),
		cmocka_unit_test(pays_by_affinity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
