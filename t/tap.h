/*
 * tap.h - a tiny TAP producer for grun's C tests, header only.
 *
 *   tap_plan(n);                 1..n
 *   ok(cond, fmt, ...);          ok N - name / not ok N - name
 *   is_int(got, want, fmt, ...); ok, with "got/expected" diagnostics
 *   diag(fmt, ...);              # comment on stderr
 *   skip_all(fmt, ...);          1..0 # SKIP reason, exit 0
 *   tap_watchdog(seconds);       a hang becomes "not ok - timed out" and exit 1;
 *                                the time is multiplied by $GRUN_TEST_TIMEOUT_MULT
 *                                (sanitizer and valgrind runs set it)
 *   return tap_done();           exit status: 0 when every test passed
 *
 * Everything here writes with write(2)-level stdio flushed at once, so
 * output stays ordered when a test dies by a signal.
 */
#ifndef GRUN_TAP_H
#define GRUN_TAP_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed, tap_planned;

static inline void tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void skip_all(const char *fmt, ...)
{
	va_list ap;
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(0);
}

static inline void diag(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "# ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
}

static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

static inline int is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		diag("got %lld, expected %lld", got, want);
	return got == want;
}

static void tap_on_alarm(int sig)
{
	static const char msg[] = "not ok - timed out (watchdog)\n";
	(void)sig;
	if (write(1, msg, sizeof msg - 1) < 0) {
		/* nothing more can be done in a signal handler */
	}
	_exit(1);
}

static inline void tap_watchdog(unsigned seconds)
{
	const char *m = getenv("GRUN_TEST_TIMEOUT_MULT");
	unsigned mult = m ? (unsigned)atoi(m) : 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tap_on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds * (mult ? mult : 1));
}

static inline int tap_done(void)
{
	if (tap_planned && tap_n != tap_planned) {
		diag("planned %d tests but ran %d", tap_planned, tap_n);
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#endif
