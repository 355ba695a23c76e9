/*
 * 20-fair.c - with one P, green threads that live in channel operations
 * do not keep the P from the others: the monitor ends their time slice
 * and they give way at their next channel operation or select.
 *
 * SIGURG is blocked in every thread, so the monitor's other remedy (the
 * signal that takes the P from a G running its own code) cannot act:
 * only the safe points inside the runtime can.  Each case is decided by
 * the order of events, not by how long anything took: the busy green threads stop by themselves after a number of
 * rounds that takes seconds on any machine, and the test asserts that the
 * starved party got its turn before that.
 *
 *   (a) a ping-pong pair on an unbuffered channel, and a third green
 *       thread in a 50 ms rt_sleep: the sleep returns before the pair has
 *       finished its rounds;
 *   (b) four producers keep a cap-16 channel each full while a consumer
 *       selects over the four: every producer is resumed after blocking
 *       on its full channel (more than 2 x 17 sends each) before the
 *       consumer has finished its rounds;
 *   (c) the P's own M notices passed deadlines while a pair passes it
 *       back and forth, in every time slice: 200 sleeps of 1 ms beside a
 *       ping-pong pair each end within TIMELY_ROUNDS rounds of the pair
 *       after the deadline (the pinger reads the clock every round).
 *       Rounds, not time, so a machine that deschedules the threads
 *       cannot fail it; when the M misses a deadline only the monitor
 *       thread's wake-up ends the sleep, hundreds of rounds late;
 *   (d) rt_stats counts the preemptions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

#define PAIR_ROUNDS 50000000L    /* seconds of work on any machine */
#define SELECT_ROUNDS 50000000L
#define PRODUCERS 4
#define CAP 16

/* ---- a ping-pong pair, for (a) and (c) ------------------------------- */

static struct rt_chan *ping, *pong;
static _Atomic long rounds;
static _Atomic int pair_stop;
static struct rt_wg pair_wg = RT_WG_INIT;
/* (c): the sleeper's deadline, until the pinger sees the clock pass it
 * and notes the round in rounds_at_deadline */
static _Atomic int64_t watched = INT64_MAX;
static _Atomic long rounds_at_deadline;

static void ponger(void *unused)
{
	long v;
	(void)unused;
	while (rt_chan_recv(ping, &v) == 1)
		if (rt_chan_send(pong, &v) < 0)
			break;
	rt_wg_done(&pair_wg);
}

static void pinger(void *unused)
{
	long v = 0;
	(void)unused;
	for (long i = 0; i < PAIR_ROUNDS && !atomic_load_explicit(&pair_stop, memory_order_relaxed); i++) {
		if (rt_chan_send(ping, &v) < 0 || rt_chan_recv(pong, &v) != 1)
			break;
		atomic_store_explicit(&rounds, i + 1, memory_order_relaxed);
		int64_t d = atomic_load_explicit(&watched, memory_order_relaxed);
		if (d != INT64_MAX && rt_now() >= d) {
			atomic_store(&rounds_at_deadline, i + 1);
			atomic_store(&watched, INT64_MAX);
		}
	}
	rt_chan_close(ping);
	rt_wg_done(&pair_wg);
}

/* Runs the pair beside sleeper_fn, which sets pair_stop and calls
 * rt_wg_done(&pair_wg) when it is done, until all three have ended. */
static void run_pair(void (*sleeper_fn)(void *))
{
	ping = rt_chan_make(sizeof(long), 0);
	pong = rt_chan_make(sizeof(long), 0);
	atomic_store(&pair_stop, 0);
	atomic_store(&rounds, 0);
	rt_wg_add(&pair_wg, 3);
	rt_go_named("sleeper", sleeper_fn, NULL);
	rt_go_named("pinger", pinger, NULL);
	rt_go_named("ponger", ponger, NULL);
	rt_wg_wait(&pair_wg);
	rt_chan_free(ping);
	rt_chan_free(pong);
}

/* ---- (a) --------------------------------------------------------------- */

static long rounds_at_wake = -1;

static void sleeper(void *unused)
{
	(void)unused;
	rt_sleep(50 * MS);
	rounds_at_wake = atomic_load(&rounds);
	atomic_store(&pair_stop, 1);
	rt_wg_done(&pair_wg);
}

static void case_pair(void)
{
	run_pair(sleeper);
	ok(rounds_at_wake >= 0 && rounds_at_wake < PAIR_ROUNDS,
	   "a 50 ms sleep returned while a ping-pong pair ran (after %ld of %ld rounds)",
	   rounds_at_wake, PAIR_ROUNDS);
}

/* ---- (c) --------------------------------------------------------------- */

#define SLEEPS 200
#define TIMELY_ROUNDS 64
static long worst_late = -1;
static int late_sleeps;

static void timely_sleeper(void *unused)
{
	(void)unused;
	for (int k = 0; k < SLEEPS && atomic_load(&rounds) < PAIR_ROUNDS / 2; k++) {
		int64_t d = rt_now() + MS;
		atomic_store(&rounds_at_deadline, -1);
		atomic_store(&watched, d);
		rt_sleep_until(d);
		long woke = atomic_load(&rounds);
		long seen = atomic_load(&rounds_at_deadline);
		atomic_store(&watched, INT64_MAX);
		/* -1: the pinger had not seen the clock pass d yet */
		long late = seen < 0 ? 0 : woke - seen;
		if (late > worst_late)
			worst_late = late;
		late_sleeps += late > TIMELY_ROUNDS;
	}
	atomic_store(&pair_stop, 1);
	rt_wg_done(&pair_wg);
}

static void case_timely(void)
{
	run_pair(timely_sleeper);
	ok(late_sleeps == 0 && worst_late >= 0,
	   "%d sleeps of 1 ms ended within %d rounds of a ping-pong pair after the deadline "
	   "(%d later; the latest after %ld rounds)",
	   SLEEPS, TIMELY_ROUNDS, late_sleeps, worst_late);
}

/* ---- (b) --------------------------------------------------------------- */

static struct rt_chan *chans[PRODUCERS];
static _Atomic long sent[PRODUCERS];
static long selects_done;
static struct rt_wg sel_wg = RT_WG_INIT;

static void producer(void *arg)
{
	int i = (int)(intptr_t)arg;
	long v = 0;
	while (rt_chan_send(chans[i], &v) == 0)
		atomic_fetch_add_explicit(&sent[i], 1, memory_order_relaxed);
	rt_wg_done(&sel_wg);
}

static bool all_resumed(void)
{
	for (int i = 0; i < PRODUCERS; i++)
		if (atomic_load_explicit(&sent[i], memory_order_relaxed) <= 2 * (CAP + 1))
			return false;
	return true;
}

static void consumer(void *unused)
{
	struct rt_case cs[PRODUCERS];
	long v;
	(void)unused;
	for (int i = 0; i < PRODUCERS; i++)
		cs[i] = (struct rt_case){ chans[i], RT_RECV, &v, 0 };
	long k;
	for (k = 0; k < SELECT_ROUNDS && !all_resumed(); k++)
		if (rt_select(cs, PRODUCERS, RT_NEVER) < 0)
			break;
	selects_done = k;
	for (int i = 0; i < PRODUCERS; i++)
		rt_chan_close(chans[i]);
	rt_wg_done(&sel_wg);
}

static void case_select(void)
{
	for (int i = 0; i < PRODUCERS; i++)
		chans[i] = rt_chan_make(sizeof(long), CAP);
	rt_wg_add(&sel_wg, PRODUCERS + 1);
	for (int i = 0; i < PRODUCERS; i++)
		rt_go_named("producer", producer, (void *)(intptr_t)i);
	rt_go_named("consumer", consumer, NULL);
	rt_wg_wait(&sel_wg);
	ok(selects_done < SELECT_ROUNDS,
	   "every producer was resumed after blocking (sends %ld %ld %ld %ld) within %ld selects",
	   (long)sent[0], (long)sent[1], (long)sent[2], (long)sent[3], selects_done);
	for (int i = 0; i < PRODUCERS; i++)
		rt_chan_free(chans[i]);
}

static void main_fn(void *unused)
{
	struct rt_stats st0, st1;
	(void)unused;
	rt_stats_get(&st0);
	case_pair();
	case_select();
	case_timely();
	rt_stats_get(&st1);
	ok(st1.preempts > st0.preempts, "rt_stats preempts went up (%llu -> %llu)",
	   (unsigned long long)st0.preempts, (unsigned long long)st1.preempts);
}

int main(void)
{
	tap_watchdog(120);
	tap_plan(5);
	sigset_t urg;
	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	pthread_sigmask(SIG_BLOCK, &urg, NULL); /* every M inherits the mask */
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 1;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
