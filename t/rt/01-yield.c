/*
 * 01-yield.c - rt_yield(): strict ping-pong between two green threads on
 * one P, round robin among several, and yield with nobody else to run.
 *
 * With one P the scheduler is deterministic: a yielding G goes to the
 * tail of the local run queue (not runnext), so runnable Gs that only
 * yield take turns in a fixed cyclic order.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

#define PINGPONG 2000          /* records per G in the ping-pong */
#define RR_GS 5                /* Gs in the round robin */
#define RR_ROUNDS 1000         /* records per G in the round robin */
#define MULTI_GS 8             /* Gs yielding on 2 Ps */
#define MULTI_YIELDS 20000

static char pp_log[2 * PINGPONG + 16];
static int pp_n;
static unsigned char rr_log[RR_GS * RR_ROUNDS + 16];
static int rr_n;

struct pp_arg {
	char name;
	int count;
	struct rt_wg *wg;
};

static void pinger(void *p)
{
	struct pp_arg *a = p;
	for (int i = 0; i < PINGPONG; i++) {
		if (pp_n < (int)sizeof pp_log)
			pp_log[pp_n++] = a->name;
		a->count++;
		rt_yield();
	}
	rt_wg_done(a->wg);
}

struct rr_arg {
	int idx;
	int count;
	struct rt_wg *wg;
};

static void rounder(void *p)
{
	struct rr_arg *a = p;
	for (int i = 0; i < RR_ROUNDS; i++) {
		if (rr_n < (int)sizeof rr_log)
			rr_log[rr_n++] = (unsigned char)a->idx;
		a->count++;
		rt_yield();
	}
	rt_wg_done(a->wg);
}

static void main_one_p(void *unused)
{
	/* A lone G: rt_yield() returns at once, many times. */
	int64_t t0 = rt_now();
	for (int i = 0; i < 10000; i++)
		rt_yield();
	int64_t el = rt_now() - t0;
	ok(el < 2000000000LL, "10000 yields with no other G return (%lld us)",
	   (long long)(el / 1000));

	/* Ping-pong: A B A B ... */
	struct rt_wg wg = RT_WG_INIT;
	struct pp_arg a = { 'A', 0, &wg }, b = { 'B', 0, &wg };
	rt_wg_add(&wg, 2);
	ok(rt_go(pinger, &a) == 0 && rt_go(pinger, &b) == 0, "spawned the ping-pong pair");
	rt_wg_wait(&wg);
	is_int(a.count, PINGPONG, "A ran %d times", PINGPONG);
	is_int(b.count, PINGPONG, "B ran %d times", PINGPONG);
	is_int(pp_n, 2 * PINGPONG, "%d records in the log", 2 * PINGPONG);
	int bad = -1;
	for (int i = 1; i < pp_n; i++)
		if (pp_log[i] == pp_log[i - 1]) {
			bad = i;
			break;
		}
	if (!ok(bad < 0 && pp_n > 0, "strict alternation A/B over the whole log")) {
		int lo = bad - 5 < 0 ? 0 : bad - 5;
		diag("log around %d: %.*s", bad, 12, pp_log + lo);
	}
	int na = 0, nb = 0;
	for (int i = 0; i < pp_n; i++)
		na += pp_log[i] == 'A', nb += pp_log[i] == 'B';
	ok(na == PINGPONG && nb == PINGPONG, "log holds %d A and %d B", na, nb);

	/* Round robin among RR_GS Gs: a fixed cyclic order. */
	struct rt_wg wg2 = RT_WG_INIT;
	struct rr_arg ra[RR_GS];
	int spawned = 0;
	for (int i = 0; i < RR_GS; i++) {
		ra[i] = (struct rr_arg){ i, 0, &wg2 };
		rt_wg_add(&wg2, 1);
		if (rt_go(rounder, &ra[i]) == 0)
			spawned++;
		else
			rt_wg_done(&wg2);
	}
	is_int(spawned, RR_GS, "spawned %d round-robin Gs", RR_GS);
	rt_wg_wait(&wg2);
	int counts_ok = 1;
	for (int i = 0; i < RR_GS; i++)
		if (ra[i].count != RR_ROUNDS)
			counts_ok = 0, diag("G %d ran %d times", i, ra[i].count);
	ok(counts_ok, "each of %d Gs ran %d times", RR_GS, RR_ROUNDS);
	is_int(rr_n, RR_GS * RR_ROUNDS, "round-robin log complete");
	int first_distinct = 1;
	for (int i = 0; i < RR_GS && i < rr_n; i++)
		for (int j = 0; j < i; j++)
			if (rr_log[i] == rr_log[j])
				first_distinct = 0;
	ok(first_distinct, "the first %d turns are %d different Gs", RR_GS, RR_GS);
	int period_bad = -1;
	for (int i = RR_GS; i < rr_n; i++)
		if (rr_log[i] != rr_log[i - RR_GS]) {
			period_bad = i;
			break;
		}
	if (!ok(period_bad < 0, "round robin: every window of %d turns runs each G once", RR_GS))
		diag("order breaks at turn %d", period_bad);
}

/* ---- 2 Ps: many yielders all make progress ---------------------------- */

static _Atomic long multi_total;

struct multi_arg {
	long count;
	struct rt_wg *wg;
};

static void multi_yielder(void *p)
{
	struct multi_arg *a = p;
	for (int i = 0; i < MULTI_YIELDS; i++) {
		a->count++;
		atomic_fetch_add_explicit(&multi_total, 1, memory_order_relaxed);
		rt_yield();
	}
	rt_wg_done(a->wg);
}

static void main_two_p(void *unused)
{
	struct rt_wg wg = RT_WG_INIT;
	struct multi_arg ma[MULTI_GS];
	for (int i = 0; i < MULTI_GS; i++) {
		ma[i] = (struct multi_arg){ 0, &wg };
		rt_wg_add(&wg, 1);
		if (rt_go(multi_yielder, &ma[i]) != 0)
			rt_wg_done(&wg);
	}
	rt_wg_wait(&wg);
	int all = 1;
	for (int i = 0; i < MULTI_GS; i++)
		if (ma[i].count != MULTI_YIELDS)
			all = 0;
	ok(all, "2 Ps: each of %d yielders completed %d yields", MULTI_GS, MULTI_YIELDS);
	is_int(atomic_load(&multi_total), (long long)MULTI_GS * MULTI_YIELDS,
	       "2 Ps: total yields");
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(17);
	ok(rt_self() == 0 && rt_m_id() == -1, "outside the runtime: rt_self() 0, rt_m_id() -1");

	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 1;
	is_int(rt_run(&cfg, main_one_p, NULL), 0, "rt_run (1 P) returned 0");

	cfg.procs = 2;
	is_int(rt_run(&cfg, main_two_p, NULL), 0, "rt_run (2 Ps) returned 0");
	return tap_done();
}
