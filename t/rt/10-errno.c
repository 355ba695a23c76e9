/*
 * 10-errno.c - errno belongs to the green thread, not to the OS thread.
 *
 * Why this works: glibc's errno is a thread-local variable of the OS
 * thread, and a green thread may resume on another OS thread after any
 * call that can park it.  Two things keep a G's errno its own:
 *   - rt.h redefines errno as (*rt_errno()), an out-of-line call the
 *     compiler cannot hoist or cache, so every use of errno in this file
 *     finds the errno of the OS thread running the G *now* (plain glibc
 *     errno is (*__errno_location()), a const function whose result the
 *     compiler may keep across a call that migrates the G);
 *   - the runtime saves errno into the G when it switches out and
 *     restores it on whichever OS thread resumes the G (sched.c,
 *     switch_to_g0).
 * So with 2 Ps, many Gs each store a unique value in errno, park or
 * yield (often resuming on the other OS thread), and must find their own
 * value again.
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

#define NG 64
#define ITERS 3000

static _Atomic long mismatches, migrations, checks;
static _Atomic int done;
static struct rt_chan *pingc[NG / 2], *pongc[NG / 2];

struct ginfo {
	int idx;
	long bad;
	int first_bad_got, first_bad_want, first_bad_op;
};

static void worker(void *p)
{
	struct ginfo *gi = p;
	long migr = 0, n = 0;
	int pair = gi->idx / 2, ping = gi->idx % 2 == 0;
	for (int i = 0; i < ITERS; i++) {
		int want = gi->idx * 1000000 + i + 1;
		int op = i % 5;
		errno = want;
		int m0 = rt_m_id();
		switch (op) {
		case 0:
		case 1:
			rt_yield();
			break;
		case 2:
			if (i % 50 == 2)
				rt_sleep(1 * MS);
			else
				rt_sleep(0);
			rt_yield();
			break;
		case 3: {
			/* Pairs ping-pong on unbuffered channels: each op parks. */
			int v = i;
			if (ping) {
				rt_chan_send(pingc[pair], &v);
				rt_chan_recv(pongc[pair], &v);
			} else {
				rt_chan_recv(pingc[pair], &v);
				rt_chan_send(pongc[pair], &v);
			}
			break;
		}
		case 4:
			rt_sleep(50 * 1000);
			break;
		}
		int got = errno;
		n++;
		if (got != want) {
			if (!gi->bad++) {
				gi->first_bad_got = got;
				gi->first_bad_want = want;
				gi->first_bad_op = op;
			}
		}
		if (rt_m_id() != m0)
			migr++;
	}
	atomic_fetch_add(&mismatches, gi->bad);
	atomic_fetch_add(&migrations, migr);
	atomic_fetch_add(&checks, n);
	atomic_fetch_add(&done, 1);
}

static void main_fn(void *unused)
{
	static struct ginfo gi[NG];
	for (int i = 0; i < NG / 2; i++) {
		pingc[i] = rt_chan_make(sizeof(int), 0);
		pongc[i] = rt_chan_make(sizeof(int), 0);
	}
	int64_t t0 = rt_now();
	for (int i = 0; i < NG; i++) {
		gi[i] = (struct ginfo){ .idx = i };
		rt_go(worker, &gi[i]);
	}
	int64_t deadline = rt_now() + 40000 * MS;
	while (atomic_load(&done) < NG && rt_now() < deadline)
		rt_sleep(5 * MS);
	is_int(atomic_load(&done), NG, "%d Gs finished %d iterations each (%lld ms)", NG, ITERS,
	       (long long)((rt_now() - t0) / MS));
	is_int(atomic_load(&checks), (long long)NG * ITERS, "%d errno checks made", NG * ITERS);
	for (int i = 0; i < NG; i++)
		if (gi[i].bad)
			diag("G %d: %ld mismatches; first: errno %d, expected %d, after op %d", i,
			     gi[i].bad, gi[i].first_bad_got, gi[i].first_bad_want, gi[i].first_bad_op);
	is_int(atomic_load(&mismatches), 0, "errno kept its value across yields, sleeps and channel ops");
	ok(atomic_load(&migrations) > 0, "Gs did migrate between OS threads (%ld times)",
	   (long)atomic_load(&migrations));

	/* The main G too, across a sleep with other Gs running. */
	errno = 4242;
	rt_sleep(2 * MS);
	is_int(errno, 4242, "the main G's errno survives a sleep");
	if (atomic_load(&done) == NG)
		for (int i = 0; i < NG / 2; i++) {
			rt_chan_free(pingc[i]);
			rt_chan_free(pongc[i]);
		}
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(6);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
