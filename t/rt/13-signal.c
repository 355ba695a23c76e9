/*
 * 13-signal.c - rt_signal_wait: cfg.signals = { SIGUSR1, SIGHUP }; a G
 * waits and another sends; a signal arriving with no waiter is kept for
 * the next call (one per signal number); a signal outside the config is
 * EINVAL; deadlines give ETIMEDOUT.  Whichever wins, signal or deadline,
 * the wait leaves nothing behind: the poller's count of waiters and its
 * timer heap are back to zero (rt_dump), and a later signal is kept.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


struct waiter {
	sigset_t set;
	int64_t timeout;
	int got, err;
	_Atomic int started, done;
};

static void sig_waiter(void *p)
{
	struct waiter *w = p;
	atomic_store(&w->started, 1);
	errno = 0;
	w->got = rt_signal_wait(&w->set, rt_now() + w->timeout);
	w->err = errno;
	atomic_store(&w->done, 1);
}

static void delayed_kill(void *p)
{
	int sig = (int)(intptr_t)p;
	rt_sleep(20 * MS);
	kill(getpid(), sig);
}

static void *thread_kill(void *p)
{
	kill(getpid(), (int)(intptr_t)p);
	return NULL;
}

static sigset_t set_of(int a, int b)
{
	sigset_t s;
	sigemptyset(&s);
	if (a)
		sigaddset(&s, a);
	if (b)
		sigaddset(&s, b);
	return s;
}

/* The poller's "waiters N timers M" from rt_dump(); -1 if not found
 * (rt_dump prints -1 timers while the poll lock is busy: ask again). */
static void poll_counts1(int *waiters, int *timers);
static void poll_counts(int *waiters, int *timers)
{
	for (int i = 0; i < 100; i++) {
		poll_counts1(waiters, timers);
		if (*timers != -1)
			return;
		rt_sleep(MS);
	}
}

static void poll_counts1(int *waiters, int *timers)
{
	char buf[8192];
	*waiters = *timers = -1;
	int fd = memfd_create("dump", 0);
	if (fd < 0)
		return;
	rt_dump(fd);
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	const char *p = strstr(buf, " waiters ");
	if (p)
		sscanf(p, " waiters %d timers %d", waiters, timers);
}

/* Signal and deadline racing, both ways: each wait must unregister from
 * the signal list and the timer heap, whoever won. */
static void nothing_left_behind(void)
{
	sigset_t usr1 = set_of(SIGUSR1, 0);
	struct waiter w = { .set = usr1, .timeout = 200 * MS };
	rt_go(sig_waiter, &w);
	wait_int(&w.started, 1, 2000 * MS);
	rt_sleep(10 * MS);
	kill(getpid(), SIGUSR1);
	int fin = wait_int(&w.done, 1, 6000 * MS);
	int nw, nt;
	poll_counts(&nw, &nt);
	ok(fin && w.got == SIGUSR1 && nw == 0 && nt == 0,
	   "woken by the signal before its deadline: got %d, poller waiters %d timers %d", w.got, nw, nt);
	rt_sleep(250 * MS); /* past that deadline: nothing fires for it */

	struct waiter t = { .set = usr1, .timeout = 20 * MS };
	rt_go(sig_waiter, &t);
	fin = wait_int(&t.done, 1, 6000 * MS);
	poll_counts(&nw, &nt);
	ok(fin && t.got == -1 && t.err == ETIMEDOUT && nw == 0 && nt == 0,
	   "timed out: got %d, poller waiters %d timers %d", t.got, nw, nt);

	/* Many rounds with the signal sent right at the deadline. */
	int bad = 0, got = 0;
	for (int i = 0; i < 200; i++) {
		struct waiter r = { .set = usr1, .timeout = 2 * MS };
		rt_go(sig_waiter, &r);
		wait_int(&r.started, 1, 2000 * MS);
		rt_sleep((i % 4) * MS / 2);
		kill(getpid(), SIGUSR1);
		wait_int(&r.done, 1, 6000 * MS);
		got += r.got == SIGUSR1;
		if (r.got != SIGUSR1) {
			/* the deadline won: the signal was kept for the next call */
			int s = rt_signal_wait(&usr1, rt_now() + 2000 * MS);
			bad += s != SIGUSR1;
		}
	}
	poll_counts(&nw, &nt);
	diag("signal first in %d of 200 rounds", got);
	ok(bad == 0 && nw == 0 && nt == 0,
	   "200 rounds of a signal racing the deadline: none lost (%d), poller waiters %d timers %d", bad,
	   nw, nt);
}

static void main_fn(void *unused)
{
	/* A waiter and a sender in another G. */
	struct waiter w = { .set = set_of(SIGUSR1, 0), .timeout = 5000 * MS };
	rt_go(sig_waiter, &w);
	wait_int(&w.started, 1, 2000 * MS);
	int64_t t0 = rt_now();
	rt_go(delayed_kill, (void *)(intptr_t)SIGUSR1);
	int fin = wait_int(&w.done, 1, 6000 * MS);
	ok(fin && w.got == SIGUSR1, "a waiting G gets SIGUSR1 sent by another G (%d, %lld ms)", w.got,
	   (long long)((rt_now() - t0) / MS));

	/* The waiter's set has both; SIGHUP comes from a plain thread. */
	struct waiter w2 = { .set = set_of(SIGUSR1, SIGHUP), .timeout = 5000 * MS };
	rt_go(sig_waiter, &w2);
	wait_int(&w2.started, 1, 2000 * MS);
	rt_sleep(10 * MS);
	pthread_t th;
	int th_ok = pthread_create(&th, NULL, thread_kill, (void *)(intptr_t)SIGHUP) == 0;
	fin = wait_int(&w2.done, 1, 6000 * MS);
	ok(th_ok && fin && w2.got == SIGHUP, "waiting for {USR1, HUP}: SIGHUP from a plain thread (%d)",
	   w2.got);
	if (th_ok) {
		rt_blocking_begin();
		pthread_join(th, NULL);
		rt_blocking_end();
	}

	/* Two waiters, one per signal. */
	struct waiter a = { .set = set_of(SIGUSR1, 0), .timeout = 5000 * MS };
	struct waiter b = { .set = set_of(SIGHUP, 0), .timeout = 5000 * MS };
	rt_go(sig_waiter, &a);
	rt_go(sig_waiter, &b);
	wait_int(&a.started, 1, 2000 * MS);
	wait_int(&b.started, 1, 2000 * MS);
	rt_sleep(10 * MS);
	kill(getpid(), SIGHUP);
	kill(getpid(), SIGUSR1);
	fin = wait_int(&a.done, 1, 6000 * MS) && wait_int(&b.done, 1, 6000 * MS);
	ok(fin && a.got == SIGUSR1 && b.got == SIGHUP, "two waiters each get their own signal (%d, %d)",
	   a.got, b.got);

	/* No waiter: kept for the next call.  Nothing else waits on the
	 * poller here, so nothing reads the signals before the calls below. */
	sigset_t usr1 = set_of(SIGUSR1, 0), hup = set_of(SIGHUP, 0), both = set_of(SIGUSR1, SIGHUP);
	kill(getpid(), SIGHUP);
	rt_sleep(30 * MS);
	t0 = rt_now();
	int s = rt_signal_wait(&hup, rt_now() + 2000 * MS);
	ok(s == SIGHUP && rt_now() - t0 < 1000 * MS,
	   "a SIGHUP sent with no waiter is returned by the next call (%d)", s);

	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGHUP);
	rt_sleep(30 * MS);
	int s1 = rt_signal_wait(&hup, rt_now() + 2000 * MS);
	int s2 = rt_signal_wait(&usr1, rt_now() + 2000 * MS);
	ok(s1 == SIGHUP && s2 == SIGUSR1, "USR1 and HUP pending: each call takes the one it asks for (%d, %d)",
	   s1, s2);

	/* One per signal number: two SIGUSR1 with no waiter are one. */
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR1);
	rt_sleep(30 * MS);
	s1 = rt_signal_wait(&usr1, rt_now() + 2000 * MS);
	errno = 0;
	s2 = rt_signal_wait(&usr1, rt_now() + 100 * MS);
	ok(s1 == SIGUSR1 && s2 == -1 && errno == ETIMEDOUT,
	   "two SIGUSR1 sent with no waiter are kept as one (%d, then %d)", s1, s2);

	/* Signals outside the config. */
	sigset_t usr2 = set_of(SIGUSR2, 0), mixed = set_of(SIGUSR1, SIGUSR2);
	errno = 0;
	s = rt_signal_wait(&usr2, rt_now() + 1000 * MS);
	ok(s == -1 && errno == EINVAL, "waiting for SIGUSR2 (not in cfg.signals): -1 EINVAL (%s)",
	   strerror(errno));
	errno = 0;
	s = rt_signal_wait(&mixed, rt_now() + 1000 * MS);
	ok(s == -1 && errno == EINVAL, "a set with USR1 and USR2: -1 EINVAL (%s)", strerror(errno));

	/* Deadlines. */
	errno = 0;
	t0 = rt_now();
	s = rt_signal_wait(&both, rt_now() + 50 * MS);
	int64_t el = rt_now() - t0;
	ok(s == -1 && errno == ETIMEDOUT && el >= 50 * MS && el < 2000 * MS,
	   "no signal, deadline now+50ms: -1 ETIMEDOUT after %lld ms", (long long)(el / MS));
	errno = 0;
	s = rt_signal_wait(&both, 0);
	ok(s == -1 && errno == ETIMEDOUT, "no signal, deadline 0: -1 ETIMEDOUT at once");

	/* A waiter that timed out is gone: the next signal is kept, not lost. */
	kill(getpid(), SIGUSR1);
	rt_sleep(30 * MS);
	s = rt_signal_wait(&usr1, rt_now() + 2000 * MS);
	is_int(s, SIGUSR1, "after a timed-out wait, the next SIGUSR1 is still delivered");

	nothing_left_behind();
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(16);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	sigaddset(&cfg.signals, SIGUSR1);
	sigaddset(&cfg.signals, SIGHUP);
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");

	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	ok(!sigismember(&now, SIGUSR1) && !sigismember(&now, SIGHUP),
	   "after rt_run, SIGUSR1 and SIGHUP are unblocked again");
	return tap_done();
}
