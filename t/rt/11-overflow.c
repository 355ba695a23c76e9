/*
 * 11-overflow.c - a green thread that overflows its stack is reported by
 * name on stderr and the process dies by a signal.  Each case runs in a
 * child made with fork() before any rt_run; its stderr comes back through
 * a pipe.
 *
 *   guard:  guard_pages = 1 (a guard marker, on Linux 6.13 and later) and
 *           guard_pages = 2 (a PROT_NONE page), a G recursing without end
 *           (4 KiB frames) hits the guard page: "guard page hit", SIGSEGV
 *           (or SIGABRT).
 *   canary: guard_pages = 0, a G recurses down to the last 2 KiB of its
 *           stack, where a frame's writes run 16 bytes past the low end
 *           (and over its lowest 64 bytes), then it yields: the canary
 *           check at switch-out reports "canary overwritten" and aborts.
 *           rt_g_current()->stack->lo (rt_internal.h) is the exact low end
 *           of the usable stack (stack.c); the canary sits right at that
 *           end (the 16 never-written bytes just below lo, at the top of
 *           the slot beneath), so any overflow reaches it first.  The G is
 *           the second stack carved (the main G has the first), so the
 *           bytes below lo are the top of the main G's slot, not unmapped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "rt_internal.h"
#include "tap.h"
#include "rt_test.h"

#define STACK (64u << 10)
#define GNAME "deep-recursion"

static volatile int stop_depth = 1 << 30; /* never reached; keeps gcc from calling it infinite */

__attribute__((noinline)) static int recurse(int depth)
{
	volatile char buf[4096];
	/* Touch the frame from the top down, every 256 bytes, so the first
	 * byte below the stack lands in the guard page, not beyond it. */
	for (int i = (int)sizeof buf - 1; i >= 0; i -= 256)
		buf[i] = (char)depth;
	buf[0] = (char)depth;
	if (depth >= stop_depth)
		return buf[1];
	return recurse(depth + 1) + buf[depth & 4095];
}

static void guard_g(void *unused)
{
	recurse(0);
}

/* Descend in 1 KiB frames until less than 2 KiB of stack is left. */
__attribute__((noinline)) static int descend(char *lo, int depth)
{
	volatile char buf[1024];
	buf[0] = buf[1023] = (char)depth;
	if ((char *)buf - lo > 2048)
		return descend(lo, depth + 1) + buf[5];
	/* The deepest frame: its writes run 16 bytes past the low end. */
	memset(lo - 16, 0x5a, 16 + 64);
	rt_yield();   /* switch-out: the runtime checks the canary here */
	return depth;
}

static void canary_g(void *unused)
{
	struct rt_g *g = rt_g_current();
	descend(g->stack->lo, 0);
}

struct child_cfg {
	int guard_pages;
	void (*fn)(void *);
};

static void child_main(void *arg)
{
	struct child_cfg *c = arg;
	if (rt_go_named(GNAME, c->fn, NULL) != 0)
		_exit(4);
	rt_sleep(5000000000LL); /* the G should kill us long before */
}

/* Runs one case in a child; returns its wait status, its stderr in err. */
static int run_child(int guard_pages, void (*fn)(void *), char *err, size_t errsz, int *timed_out)
{
	int fds[2];
	*timed_out = 0;
	err[0] = 0;
	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		close(fds[0]);
		dup2(fds[1], 2);
		close(fds[1]);
		struct child_cfg c = { guard_pages, fn };
		struct rt_config cfg;
		rt_config_default(&cfg);
		cfg.procs = 1;
		cfg.stack_size = STACK;
		cfg.guard_pages = guard_pages;
		rt_run(&cfg, child_main, &c);
		_exit(3); /* rt_run returned: nothing crashed */
	}
	close(fds[1]);
	size_t len = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		int r = poll(&p, 1, 200);
		if (r > 0) {
			ssize_t n = read(fds[0], err + len, errsz - 1 - len);
			if (n <= 0)
				break; /* EOF: the child is gone */
			len += (size_t)n;
			if (len == errsz - 1)
				break;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10) {
			*timed_out = 1;
			break;
		}
	}
	err[len] = 0;
	close(fds[0]);
	int st = -1;
	for (int i = 0; i < 1000; i++) { /* up to 10 s */
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0)
			return -1;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	*timed_out = 1;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return st;
}

static const char *status_str(int st)
{
	static char buf[64];
	if (st == -1)
		snprintf(buf, sizeof buf, "no status");
	else if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof buf, "status %#x", st);
	return buf;
}

static void one_case(const char *what, int guard_pages, void (*fn)(void *), const char *how,
		int sig1, int sig2)
{
	char err[4096];
	int timed_out;
	int st = run_child(guard_pages, fn, err, sizeof err, &timed_out);
	ok(!timed_out && st != -1 && WIFSIGNALED(st) &&
	   (WTERMSIG(st) == sig1 || WTERMSIG(st) == sig2),
	   "%s: the process died by a signal (%s)", what, status_str(st));
	int has_msg = strstr(err, "overflowed its stack") != NULL;
	int has_name = strstr(err, GNAME) != NULL;
	int has_how = strstr(err, how) != NULL;
	ok(has_msg && has_name, "%s: stderr says the G \"%s\" overflowed its stack", what, GNAME);
	ok(has_how, "%s: stderr says \"%s\"", what, how);
	if (!has_msg || !has_name || !has_how)
		diag("child's stderr: %s", err[0] ? err : "(empty)");
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(9);
	if (under_valgrind()) {
		/* The runtime gives no guard pages under valgrind. */
		for (int i = 0; i < 6; i++)
			printf("ok %d # SKIP no guard pages under valgrind\n", ++tap_n);
	} else {
		one_case("guard page (default)", 1, guard_g, "guard page hit", SIGSEGV, SIGABRT);
		one_case("guard page (mprotect)", 2, guard_g, "guard page hit", SIGSEGV, SIGABRT);
	}
	one_case("canary, no guard pages", 0, canary_g, "canary overwritten", SIGABRT, SIGABRT);
	return tap_done();
}
