/*
 * 17-wg.c - rt_wg_wait_until(): a wait group waited with a deadline.
 *
 * The count reaching zero before the deadline returns 0 (and wakes the
 * waiter long before the deadline); a count that stays up returns -1
 * ETIMEDOUT no earlier than the deadline; a past deadline only looks; a
 * group is reused at once after each kind of return (a stale waiter or
 * waker would show as a wrong result or a crash); many waiters, half with
 * a short deadline and half with none, all come back right; and the race
 * of a deadline against the last rt_wg_done, repeated, never loses a
 * wake-up or touches a group after its wait returned.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

static void done_after(void *arg)
{
	struct rt_wg *wg = arg;
	rt_sleep(20 * MS);
	rt_wg_done(wg);
}

static void reached_zero(void)
{
	struct rt_wg wg = RT_WG_INIT;
	rt_wg_add(&wg, 2);
	rt_go(done_after, &wg);
	rt_go(done_after, &wg);
	int64_t t0 = rt_now();
	int r = rt_wg_wait_until(&wg, t0 + 5000 * MS * tool_factor());
	int64_t took = rt_now() - t0;
	is_int(r, 0, "count reached zero before the deadline: 0");
	ok(took >= 15 * MS && took < 2000 * MS * tool_factor(),
	   "woken when the count reached zero (%lld ms), not at the deadline", (long long)(took / MS));
	is_int(rt_wg_wait_until(&wg, rt_now() + MS), 0, "a zero count returns 0 at once");
	is_int(rt_wg_wait_until(&wg, 0), 0, "... even with a past deadline");
}

static void timeout(void)
{
	struct rt_wg wg = RT_WG_INIT;
	rt_wg_add(&wg, 1);
	int64_t t0 = rt_now();
	errno = 0;
	int r = rt_wg_wait_until(&wg, t0 + 30 * MS);
	int e = errno;
	int64_t took = rt_now() - t0;
	ok(r == -1 && e == ETIMEDOUT, "count stays at 1: -1 ETIMEDOUT (r %d errno %d)", r, e);
	ok(took >= 30 * MS, "not before the deadline (%lld ms)", (long long)(took / MS));
	errno = 0;
	r = rt_wg_wait_until(&wg, 0);
	ok(r == -1 && errno == ETIMEDOUT, "a past deadline with a count: -1 ETIMEDOUT at once");
	/* Reused after the timeout: the timed-out waiter left no trace. */
	rt_go(done_after, &wg);
	is_int(rt_wg_wait_until(&wg, rt_now() + 5000 * MS * tool_factor()), 0,
	       "the same group, waited again after a timeout: 0 when the count reaches zero");
	rt_wg_add(&wg, 1);
	rt_go(done_after, &wg);
	rt_wg_wait(&wg);
	ok(1, "and reused again after returning 0 (rt_wg_wait)");
}

/* ---- many waiters ------------------------------------------------------ */

struct many {
	struct rt_wg *wg;
	int64_t deadline;
	_Atomic int *zero, *timedout, *wrong;
	struct rt_wg *joined;
};

static void waiter(void *arg)
{
	struct many *m = arg;
	int r = rt_wg_wait_until(m->wg, m->deadline);
	if (r == 0)
		atomic_fetch_add(m->zero, 1);
	else if (errno == ETIMEDOUT)
		atomic_fetch_add(m->timedout, 1);
	else
		atomic_fetch_add(m->wrong, 1);
	rt_wg_done(m->joined);
}

static void many_waiters(void)
{
	enum { N = 200 };
	static struct many args[N];
	struct rt_wg wg = RT_WG_INIT, joined = RT_WG_INIT;
	_Atomic int zero = 0, timedout = 0, wrong = 0;
	rt_wg_add(&wg, 1);
	int64_t now = rt_now();
	for (int i = 0; i < N; i++) {
		args[i] = (struct many){ &wg, i % 2 ? now + 10 * MS : RT_NEVER, &zero, &timedout, &wrong,
		                         &joined };
		rt_wg_add(&joined, 1);
		rt_go(waiter, &args[i]);
	}
	/* Past the short deadlines, then release the rest. */
	rt_sleep(100 * MS);
	is_int(atomic_load(&timedout), N / 2, "the %d waiters with a 10 ms deadline timed out", N / 2);
	is_int(atomic_load(&zero), 0, "... and the others still wait");
	rt_wg_done(&wg);
	rt_wg_wait(&joined);
	is_int(atomic_load(&zero), N / 2, "the %d waiters without a deadline got 0", N / 2);
	is_int(atomic_load(&wrong), 0, "no waiter saw another error");
}

/* ---- the deadline racing the last done --------------------------------- */

static void done_now(void *arg)
{
	rt_wg_done(arg);
}

static void race(void)
{
	int rounds = 2000, zero = 0, timedout = 0, bad = 0;
	for (int i = 0; i < rounds; i++) {
		/* A fresh group on this stack each round: a waker still touching
		 * the previous round's group would corrupt this one. */
		struct rt_wg wg = RT_WG_INIT;
		rt_wg_add(&wg, 1);
		rt_go(done_now, &wg);
		int r = rt_wg_wait_until(&wg, rt_now() + (i % 7) * 2 * US);
		if (r == 0) {
			zero++;
		} else if (errno == ETIMEDOUT) {
			timedout++;
			if (rt_wg_wait_until(&wg, rt_now() + 5000 * MS * tool_factor()) != 0)
				bad++;
		} else {
			bad++;
		}
	}
	diag("race: %d returned 0 first, %d timed out first", zero, timedout);
	is_int(bad, 0, "%d rounds of a deadline racing the last done: every wait settled right", rounds);
}

static void main_fn(void *arg)
{
	(void)arg;
	reached_zero();
	timeout();
	many_waiters();
	race();
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(15);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
