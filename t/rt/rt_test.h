/*
 * rt_test.h - what the runtime's C tests share besides TAP (t/tap.h):
 * time units, the slow-down factor of sanitizer and valgrind runs, and
 * whether the test runs under valgrind (make check-valgrind), and bounded
 * waits for a counter.
 */
#ifndef GRUN_RT_TEST_H
#define GRUN_RT_TEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "rt.h"

#define MS 1000000LL
#define US 1000LL

/* $GRUN_TEST_TIMEOUT_MULT: 1, or 10-20 under sanitizers and valgrind. */
static inline int tool_factor(void)
{
	const char *m = getenv("GRUN_TEST_TIMEOUT_MULT");
	return m && atoi(m) > 0 ? atoi(m) : 1;
}

/* Set by make check-valgrind (t/valgrind-wrap.sh runs the test under it). */
static inline bool under_valgrind(void)
{
	const char *v = getenv("GRUN_VALGRIND");
	return v && *v == '1';
}

/* In a green thread: sleep in 1 ms steps until *n reaches want; 1 if it
 * did before the timeout, 0 if not. */
static inline int wait_int(_Atomic int *n, int want, int64_t timeout)
{
	int64_t deadline = rt_now() + timeout;
	while (atomic_load(n) < want) {
		if (rt_now() > deadline)
			return 0;
		rt_sleep(MS);
	}
	return 1;
}

static inline int wait_long(_Atomic long *n, long want, int64_t timeout)
{
	int64_t deadline = rt_now() + timeout;
	while (atomic_load(n) < want) {
		if (rt_now() > deadline)
			return 0;
		rt_sleep(MS);
	}
	return 1;
}

#endif
