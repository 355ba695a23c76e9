/*
 * rt_test.h - what the runtime's C tests share besides TAP (t/tap.h):
 * time units, the slow-down factor of sanitizer and valgrind runs, and
 * whether the test runs under valgrind (make check-valgrind).
 */
#ifndef GRUN_RT_TEST_H
#define GRUN_RT_TEST_H

#include <stdbool.h>
#include <stdlib.h>

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

#endif
