/*
 * 05-timer.c - sleeping: timers fire in deadline order, rt_sleep sleeps
 * at least as long as asked, 100,000 concurrent sleepers all wake, and a
 * deadline in the past returns at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


/* A plain thread that reports a runtime whose timers stopped firing (every
 * G is then parked, so none can notice); the watchdog ends the test. */
static _Atomic long progress;
static _Atomic int monitor_stop;

static void *monitor(void *unused)
{
	long last = -1;
	int still = 0;
	while (!atomic_load(&monitor_stop)) {
		struct timespec ts = { 0, 100 * MS };
		nanosleep(&ts, NULL);
		long now = atomic_load(&progress);
		still = now == last ? still + 1 : 0;
		last = now;
		if (still == 50)
			diag("no timer progress for 5 s (progress %ld): the runtime looks stalled", now);
	}
	return NULL;
}

/* ---- order ---------------------------------------------------------------- */

#define ORDER_N 200

struct sleeper {
	int64_t deadline;
	int64_t armed;
	int64_t woke;
	int idx;
};

static struct sleeper order_s[ORDER_N];
static int wake_order[ORDER_N];
static _Atomic long order_n;

static void order_sleeper(void *p)
{
	struct sleeper *s = p;
	s->armed = rt_now();
	rt_sleep_until(s->deadline);
	s->woke = rt_now();
	long k = atomic_fetch_add(&order_n, 1);
	if (k < ORDER_N)
		wake_order[k] = s->idx;
	atomic_fetch_add(&progress, 1);
}

static void noop(void *p)
{
	atomic_fetch_add((_Atomic long *)p, 1);
}

static void test_order(void)
{
	/* Warm the stack pool first: under TSan a fresh stack also costs a
	 * fiber, milliseconds each, which would make sleepers start late. */
	static _Atomic long warm;
	for (int i = 0; i < ORDER_N; i++)
		rt_go(noop, &warm);
	wait_long(&warm, ORDER_N, 5000 * MS * tool_factor());

	/* 200 distinct durations 0, 0.5, ..., 99.5 ms, shuffled; every G sleeps
	 * until base + its duration, so spawn times do not matter. */
	int perm[ORDER_N];
	uint64_t x = 0x2545f4914f6cdd1dULL;
	for (int i = 0; i < ORDER_N; i++)
		perm[i] = i;
	for (int i = ORDER_N - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int j = (int)(x % (uint64_t)(i + 1)), t = perm[i];
		perm[i] = perm[j], perm[j] = t;
	}
	int64_t base = rt_now() + 100 * MS * tool_factor();
	for (int i = 0; i < ORDER_N; i++) {
		order_s[i] = (struct sleeper){ base + (int64_t)perm[i] * 500 * US, 0, 0, i };
		rt_go(order_sleeper, &order_s[i]);
	}
	int fin = wait_long(&order_n, ORDER_N, 5000 * MS);
	ok(fin, "200 sleepers with distinct deadlines all woke");
	/* A sleeper that only got to run after its deadline (a loaded machine
	 * can delay the first run by more than the 100 ms margin) returns at
	 * once: only timers armed in time are held to deadline order. */
	int sorted = 1, early = 0, late_armed = 0;
	for (int i = 0; i < ORDER_N; i++)
		late_armed += order_s[i].armed >= order_s[i].deadline;
	if (late_armed)
		diag("%d sleepers were first scheduled after their deadline", late_armed);
	for (int k = 1; k < ORDER_N && fin; k++)
		if (order_s[wake_order[k]].armed < order_s[wake_order[k]].deadline &&
		    order_s[wake_order[k]].deadline < order_s[wake_order[k - 1]].deadline) {
			if (sorted)
				diag("wake %d (deadline +%lld us) after wake %d (+%lld us)", k,
				     (long long)((order_s[wake_order[k]].deadline - base) / US), k - 1,
				     (long long)((order_s[wake_order[k - 1]].deadline - base) / US));
			sorted = 0;
		}
	for (int i = 0; i < ORDER_N; i++)
		early += order_s[i].woke && order_s[i].woke < order_s[i].deadline;
	ok(fin && sorted && late_armed < ORDER_N / 2,
	   "wake order is sorted by deadline (%d armed late)", late_armed);
	is_int(early, 0, "no sleeper woke before its deadline");
}

/* ---- at least as long as asked ---------------------------------------------- */

static void test_min_duration(void)
{
	static const int64_t asks[] = { 1, 1 * US, 100 * US, 1 * MS, 10 * MS, 30 * MS };
	int short_ = 0;
	int64_t worst_over = 0;
	for (int rep = 0; rep < 5; rep++)
		for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
			int64_t t0 = rt_now();
			rt_sleep(asks[i]);
			int64_t el = rt_now() - t0;
			if (el < asks[i]) {
				short_++;
				diag("rt_sleep(%lld ns) returned after %lld ns", (long long)asks[i], (long long)el);
			}
			if (el - asks[i] > worst_over)
				worst_over = el - asks[i];
			atomic_fetch_add(&progress, 1);
		}
	is_int(short_, 0, "rt_sleep sleeps at least the time asked (1 ns .. 30 ms)");
	ok(worst_over < 1000 * MS, "and not absurdly longer (worst +%lld us)", (long long)(worst_over / US));

	int64_t t0 = rt_now();
	rt_sleep_until(t0 + 20 * MS);
	int64_t el = rt_now() - t0;
	ok(el >= 20 * MS && el < 1000 * MS, "rt_sleep_until(now + 20 ms) took %lld us", (long long)(el / US));
}

/* ---- past deadlines ------------------------------------------------------------ */

static void test_past(void)
{
	int64_t t0 = rt_now();
	rt_sleep_until(t0 - 1000 * MS);
	int64_t a = rt_now() - t0;
	t0 = rt_now();
	rt_sleep_until(0);
	int64_t b = rt_now() - t0;
	t0 = rt_now();
	rt_sleep(0);
	rt_sleep(-5 * MS);
	int64_t c = rt_now() - t0;
	ok(a < 5 * MS, "rt_sleep_until(now - 1 s) returns at once (%lld us)", (long long)(a / US));
	ok(b < 5 * MS, "rt_sleep_until(0) returns at once (%lld us)", (long long)(b / US));
	ok(c < 5 * MS, "rt_sleep(0) and rt_sleep(-5 ms) return at once (%lld us)", (long long)(c / US));
}

/* ---- 100,000 sleepers ----------------------------------------------------------- */

#if defined(__SANITIZE_THREAD__)
#define MANY 5000 /* TSan allows about 8,000 fibers (threads) at once */
#else
#define MANY 100000
#endif

static _Atomic long many_woke, many_early;
static int64_t many_base;

static void many_sleeper(void *p)
{
	long i = (long)(intptr_t)p;
	/* 1 s each, deadlines staggered over 100 ms (1 us apart, wrapping). */
	int64_t deadline = many_base + 1000 * MS + (i % 100000) * US;
	rt_sleep_until(deadline);
	if (rt_now() < deadline)
		atomic_fetch_add(&many_early, 1);
	atomic_fetch_add(&many_woke, 1);
	atomic_fetch_add(&progress, 1);
}

static void test_many(void)
{
	int64_t t0 = rt_now();
	many_base = t0;
	long spawned = 0;
	for (long i = 0; i < MANY; i++) {
		if (rt_go(many_sleeper, (void *)(intptr_t)i) != 0) {
			diag("rt_go failed at %ld: %s", i, rt_limit_message());
			break;
		}
		spawned++;
	}
	is_int(spawned, MANY, "spawned %d sleepers", MANY);
	int fin = wait_long(&many_woke, spawned, 20000 * MS * tool_factor());
	int64_t el = rt_now() - t0;
	ok(fin && atomic_load(&many_woke) == MANY,
	   "all %d sleepers (1 s each, staggered) woke: %ld in %lld ms", MANY,
	   (long)atomic_load(&many_woke), (long long)(el / MS));
	ok(el >= 1000 * MS && el < 20000 * MS * tool_factor(), "total time between 1 s and 20 s x the tool factor (%lld ms)",
	   (long long)(el / MS));
	is_int(atomic_load(&many_early), 0, "none of them woke early");
}

static void main_fn(void *unused)
{
	pthread_t mon;
	int have_mon = pthread_create(&mon, NULL, monitor, NULL) == 0;
	test_past();
	test_min_duration();
	test_order();
	test_many();
	atomic_store(&monitor_stop, 1);
	if (have_mon) {
		rt_blocking_begin();
		pthread_join(mon, NULL);
		rt_blocking_end();
	}
}

int main(void)
{
	tap_watchdog(50);
	tap_plan(14);
	struct rt_config cfg;
	rt_config_default(&cfg);
	/* One P: readied sleepers run in the order the poller readies them,
	 * so the observed wake order is the timers' order. */
	cfg.procs = 1;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
