/*
 * 18-locks.c - the held-locks check: a green thread that parks (sleep,
 * yield, channel receive, wait group) or exits while rt_lock_held() says
 * it holds a lock aborts the process with 'G "NAME" parks while holding N
 * lock(s)'; one whose count went back to zero parks freely; a count below
 * zero aborts; outside a green thread the call does nothing.
 *
 * Each case runs in a child made with fork() before any rt_run; its
 * stderr comes back through a pipe.  Removing the check makes the first
 * cases fail (the child exits 0).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void lock(void)
{
	pthread_mutex_lock(&mu);
	rt_lock_held(1);
}

static void unlock(void)
{
	rt_lock_held(-1);
	pthread_mutex_unlock(&mu);
}

/* The cases; each runs as the green thread "holder". */

static void sleep_locked(void)
{
	lock();
	rt_sleep(MS);
	unlock();
}

static void yield_locked(void)
{
	lock();
	rt_yield();
	unlock();
}

static void recv_locked(void)
{
	struct rt_chan *c = rt_chan_make(0, 0);
	lock();
	rt_lock_held(1); /* a second lock */
	rt_chan_recv(c, NULL);
}

static void wg_locked(void)
{
	struct rt_wg wg = RT_WG_INIT;
	rt_wg_add(&wg, 1);
	lock();
	rt_wg_wait_until(&wg, rt_now() + MS);
}

static void exit_locked(void)
{
	lock();
	rt_exit();
}

static void negative(void)
{
	rt_lock_held(-1);
}

static void released(void)
{
	struct rt_chan *c = rt_chan_make(sizeof(int), 1);
	int v = 1;
	lock();
	rt_chan_send(c, &v); /* buffered, room: does not park */
	unlock();
	rt_sleep(MS);
	rt_yield();
	rt_chan_recv(c, &v);
	lock();
	rt_lock_held(1); /* a second lock */
	rt_lock_held(-1);
	unlock();
	struct rt_wg wg = RT_WG_INIT;
	rt_wg_add(&wg, 1);
	rt_wg_wait_until(&wg, rt_now() + MS);
	rt_chan_free(c);
}

static void (*the_case)(void);
static struct rt_wg holder_done;

static void holder(void *arg)
{
	(void)arg;
	the_case();
	rt_wg_done(&holder_done);
}

static void child_main(void *arg)
{
	(void)arg;
	rt_wg_add(&holder_done, 1);
	rt_go_named("holder", holder, NULL);
	rt_wg_wait(&holder_done);
}

/* Runs fn in a child; returns its wait status, its stderr in err. */
static int run_case(void (*fn)(void), char *err, size_t size)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(p[1], 2);
		close(p[0]);
		signal(SIGALRM, SIG_DFL); /* not tap's watchdog: a hang kills only the child */
		alarm(10 * (unsigned)tool_factor());
		struct rt_config cfg;
		rt_config_default(&cfg);
		cfg.procs = 2;
		the_case = fn;
		_exit(rt_run(&cfg, child_main, NULL) == 0 ? 0 : 3);
	}
	close(p[1]);
	size_t have = 0;
	ssize_t r;
	while (have < size - 1 && (r = read(p[0], err + have, size - 1 - have)) > 0)
		have += (size_t)r;
	err[have] = 0;
	close(p[0]);
	int st = -1;
	waitpid(pid, &st, 0);
	return st;
}

static void expect_abort(const char *what, void (*fn)(void), const char *msg)
{
	char err[4096];
	int st = run_case(fn, err, sizeof err);
	ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: the child aborts (status %#x)",
	   what, st);
	ok(strstr(err, msg) != NULL, "%s: stderr says '%s'", what, msg);
	if (!strstr(err, msg))
		diag("child's stderr: %s", err[0] ? err : "(empty)");
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(15);
	expect_abort("rt_sleep with a lock", sleep_locked,
	             "grun: runtime: G \"holder\" parks while holding 1 lock(s)");
	expect_abort("rt_yield with a lock", yield_locked,
	             "G \"holder\" parks while holding 1 lock(s) (yield)");
	expect_abort("rt_chan_recv with two locks", recv_locked,
	             "G \"holder\" parks while holding 2 lock(s) (chan receive)");
	expect_abort("rt_wg_wait_until with a lock", wg_locked,
	             "G \"holder\" parks while holding 1 lock(s) (wait group)");
	expect_abort("rt_exit with a lock", exit_locked, "G \"holder\" exits while holding 1 lock(s)");
	expect_abort("a count below zero", negative, "more locks released than taken");

	char err[4096];
	int st = run_case(released, err, sizeof err);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "count back to 0: sleep, yield, channel and wait group park freely (status %#x)", st);
	is_int((long long)strlen(err), 0, "... and nothing on stderr");
	if (err[0])
		diag("child's stderr: %s", err);

	rt_lock_held(1);
	rt_lock_held(-1);
	rt_lock_held(-1);
	ok(1, "outside a green thread rt_lock_held does nothing (not even below zero)");
	return tap_done();
}
