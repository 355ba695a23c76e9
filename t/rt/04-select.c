/*
 * 04-select.c - rt_select(): fairness, default (deadline 0), deadlines,
 * send cases, closed channels, NULL channels, the same channel twice,
 * opposite lock orders on 2 Ps, wake-ups by another G, and deadlines
 * racing with channel wake-ups (a select woken by a channel must never
 * be woken again by its timer).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- fairness ----------------------------------------------------------- */

static void test_fairness(void)
{
	struct rt_chan *a = rt_chan_make(sizeof(int), 1), *b = rt_chan_make(sizeof(int), 1);
	int va = 1, vb = 2, x;
	rt_chan_send(a, &va);
	rt_chan_send(b, &vb);
	int count[2] = { 0, 0 }, wrong = 0;
	for (int i = 0; i < 10000; i++) {
		struct rt_case cs[2] = {
			{ a, RT_RECV, &x, 0 },
			{ b, RT_RECV, &x, 0 },
		};
		x = 0;
		int r = rt_select(cs, 2, RT_NEVER);
		if (r < 0 || r > 1 || !cs[r].ok || x != (r == 0 ? 1 : 2)) {
			wrong++;
			continue;
		}
		count[r]++;
		rt_chan_send(r == 0 ? a : b, r == 0 ? &va : &vb); /* keep it ready */
	}
	is_int(wrong, 0, "fairness: 10000 selects on two ready cases all completed correctly");
	ok(count[0] >= 4000 && count[0] <= 6000 && count[1] >= 4000 && count[1] <= 6000,
	   "fairness: each ready case chosen 40-60%% of the time (%d / %d)", count[0], count[1]);
	rt_chan_free(a);
	rt_chan_free(b);
}

/* ---- default and deadlines --------------------------------------------- */

static void test_default_deadline(void)
{
	struct rt_chan *a = rt_chan_make(sizeof(int), 0), *b = rt_chan_make(sizeof(int), 1);
	int x, full = 5;
	struct rt_case cs[2] = { { a, RT_RECV, &x, 0 }, { b, RT_RECV, &x, 0 } };
	errno = 0;
	int64_t t0 = rt_now();
	int r = rt_select(cs, 2, 0);
	int64_t el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el < 100 * MS,
	   "deadline 0, nothing ready: -1 ETIMEDOUT at once (%d, %s)", r, strerror(errno));

	rt_chan_send(b, &full);
	x = 0;
	r = rt_select(cs, 2, 0);
	ok(r == 1 && cs[1].ok == 1 && x == 5, "deadline 0 with a ready case: that case (%d)", r);

	errno = 0;
	t0 = rt_now();
	r = rt_select(cs, 2, rt_now() + 50 * MS);
	el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el >= 50 * MS && el < 2000 * MS,
	   "deadline now+50ms: -1 ETIMEDOUT after %lld ms", (long long)(el / MS));

	errno = 0;
	t0 = rt_now();
	r = rt_select(NULL, 0, rt_now() + 20 * MS);
	el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el >= 20 * MS && el < 2000 * MS,
	   "no cases, deadline now+20ms: -1 ETIMEDOUT after %lld ms", (long long)(el / MS));

	/* Send case on a full buffer with deadline 0. */
	rt_chan_send(b, &full);
	struct rt_case sc = { b, RT_SEND, &full, 0 };
	errno = 0;
	r = rt_select(&sc, 1, 0);
	ok(r == -1 && errno == ETIMEDOUT, "send case on a full channel, deadline 0: ETIMEDOUT");
	rt_chan_recv(b, NULL);
	rt_chan_free(a);
	rt_chan_free(b);
}

/* ---- send cases --------------------------------------------------------- */

struct recv_one {
	struct rt_chan *c;
	int v, rc;
	_Atomic int done;
};

static void recv_one(void *p)
{
	struct recv_one *r = p;
	r->rc = rt_chan_recv(r->c, &r->v);
	atomic_store(&r->done, 1);
}

static void test_send_cases(void)
{
	struct rt_chan *b = rt_chan_make(sizeof(int), 1), *e = rt_chan_make(sizeof(int), 1);
	int v = 11, x = 0;
	struct rt_case sc = { b, RT_SEND, &v, 0 };
	int r = rt_select(&sc, 1, 0);
	rt_chan_recv(b, &x);
	ok(r == 0 && sc.ok == 1 && x == 11, "send case into a buffer with room: sent (%d)", x);

	/* Mixed: an empty receive and a send with room: the send is chosen. */
	int okc = 0;
	for (int i = 0; i < 100; i++) {
		struct rt_case cs[2] = { { e, RT_RECV, &x, 0 }, { b, RT_SEND, &v, 0 } };
		r = rt_select(cs, 2, 0);
		okc += r == 1 && cs[1].ok == 1;
		rt_chan_recv(b, NULL);
	}
	is_int(okc, 100, "recv (empty) + send (room): the send case every time");

	/* Unbuffered send to a parked receiver. */
	struct rt_chan *u = rt_chan_make(sizeof(int), 0);
	struct recv_one ro = { .c = u };
	rt_go(recv_one, &ro);
	rt_sleep(10 * MS);
	v = 33;
	sc = (struct rt_case){ u, RT_SEND, &v, 0 };
	r = rt_select(&sc, 1, rt_now() + 2000 * MS);
	ok(r == 0 && sc.ok == 1 && wait_int(&ro.done, 1, 2000 * MS) && ro.rc == 1 && ro.v == 33,
	   "send case on an unbuffered channel meets a parked receiver");

	/* Send case parks, a receiver arrives later. */
	struct recv_one ro2 = { .c = u };
	v = 44;
	sc = (struct rt_case){ u, RT_SEND, &v, 0 };
	rt_go(recv_one, &ro2);
	r = rt_select(&sc, 1, rt_now() + 2000 * MS);
	ok(r == 0 && sc.ok == 1 && wait_int(&ro2.done, 1, 2000 * MS) && ro2.v == 44,
	   "parked send case completed by a later receiver");
	rt_chan_free(b);
	rt_chan_free(e);
	rt_chan_free(u);
}

/* ---- closed channels, NULL channels -------------------------------------- */

static void test_closed_null(void)
{
	struct rt_chan *c = rt_chan_make(sizeof(int), 2);
	rt_chan_close(c);
	int x = 0x777;
	struct rt_case rc = { c, RT_RECV, &x, 7 };
	int r = rt_select(&rc, 1, RT_NEVER);
	ok(r == 0 && rc.ok == 0 && x == 0, "recv case on a closed channel: chosen, ok 0, elem zeroed");

	int v = 1;
	struct rt_case sc = { c, RT_SEND, &v, 7 };
	errno = 0;
	r = rt_select(&sc, 1, RT_NEVER);
	ok(r == 0 && sc.ok == 0 && errno == EPIPE,
	   "send case on a closed channel: chosen, ok 0, errno EPIPE (%s)", strerror(errno));

	struct rt_chan *a = rt_chan_make(sizeof(int), 1);
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		rt_chan_send(a, &v);
		struct rt_case cs[3] = {
			{ NULL, RT_RECV, &x, 0 },
			{ a, RT_RECV, &x, 0 },
			{ NULL, RT_SEND, &v, 0 },
		};
		r = rt_select(cs, 3, RT_NEVER);
		bad += r != 1;
	}
	is_int(bad, 0, "NULL channel cases are never chosen (1000 selects)");

	struct rt_case nc[2] = { { NULL, RT_RECV, &x, 0 }, { NULL, RT_SEND, &v, 0 } };
	errno = 0;
	int64_t t0 = rt_now();
	r = rt_select(nc, 2, rt_now() + 20 * MS);
	int64_t el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el >= 20 * MS,
	   "only NULL channels, deadline 20 ms: ETIMEDOUT after %lld ms", (long long)(el / MS));
	rt_chan_free(a);
	rt_chan_free(c);

	/* Many cases (more than fit on the stack), one ready. */
	struct rt_chan *many[20];
	struct rt_case mc[20];
	for (int i = 0; i < 20; i++) {
		many[i] = rt_chan_make(sizeof(int), 1);
		mc[i] = (struct rt_case){ many[i], RT_RECV, &x, 0 };
	}
	v = 1234;
	rt_chan_send(many[13], &v);
	x = 0;
	r = rt_select(mc, 20, rt_now() + 2000 * MS);
	ok(r == 13 && x == 1234 && mc[13].ok == 1, "20 cases, one ready: that one (%d)", r);
	for (int i = 0; i < 20; i++)
		rt_chan_free(many[i]);
}

/* ---- the same channel in two cases ------------------------------------- */

struct sel2 {
	struct rt_chan *c;
	int r, x, ok;
	_Atomic int done;
};

static void sel_same_twice(void *p)
{
	struct sel2 *s = p;
	struct rt_case cs[2] = { { s->c, RT_RECV, &s->x, 0 }, { s->c, RT_RECV, &s->x, 0 } };
	s->r = rt_select(cs, 2, rt_now() + 5000 * MS);
	s->ok = s->r >= 0 ? cs[s->r].ok : -1;
	atomic_store(&s->done, 1);
}

static void test_same_chan(void)
{
	struct rt_chan *c = rt_chan_make(sizeof(int), 1);
	int v = 5, x = 0, chosen[2] = { 0, 0 }, bad = 0;
	for (int i = 0; i < 1000; i++) {
		rt_chan_send(c, &v);
		struct rt_case cs[2] = { { c, RT_RECV, &x, 0 }, { c, RT_RECV, &x, 0 } };
		x = 0;
		int r = rt_select(cs, 2, RT_NEVER);
		if (r < 0 || x != 5)
			bad++;
		else
			chosen[r]++;
	}
	ok(bad == 0 && chosen[0] > 0 && chosen[1] > 0,
	   "same channel in two ready cases: both chosen sometimes (%d / %d)", chosen[0], chosen[1]);

	/* recv and send on the same buffered channel. */
	struct rt_case rs[2] = { { c, RT_RECV, &x, 0 }, { c, RT_SEND, &v, 0 } };
	int r1 = rt_select(rs, 2, 0);  /* empty: only the send can go */
	int r2 = rt_select(rs, 2, 0);  /* full: only the receive can go */
	ok(r1 == 1 && r2 == 0 && x == 5, "recv+send on one cap-1 channel: send when empty, recv when full");

	/* Parked on the same unbuffered channel twice: one send completes it,
	 * and no stale waiter is left behind. */
	struct rt_chan *u = rt_chan_make(sizeof(int), 0);
	struct sel2 s = { .c = u };
	rt_go(sel_same_twice, &s);
	rt_sleep(10 * MS);
	v = 66;
	int sr = rt_chan_send(u, &v);
	int done = wait_int(&s.done, 1, 2000 * MS);
	ok(sr == 0 && done && (s.r == 0 || s.r == 1) && s.x == 66 && s.ok == 1,
	   "select parked twice on one channel woken by one send (case %d)", s.r);
	struct rt_case probe = { u, RT_SEND, &v, 0 };
	errno = 0;
	int pr = rt_select(&probe, 1, 0);
	ok(pr == -1 && errno == ETIMEDOUT, "no stale receiver left on the channel afterwards");
	rt_chan_free(c);
	rt_chan_free(u);
}

/* ---- opposite orders, 2 Ps ---------------------------------------------- */

#define OPP_ITERS 20000

struct opp {
	struct rt_chan *mine, *theirs; /* send on mine, receive on theirs */
	long sent, recvd, errors;
	_Atomic int *done;
};

static void opp_loop(void *p)
{
	struct opp *o = p;
	int out = 1, in;
	for (int i = 0; i < OPP_ITERS; i++) {
		struct rt_case cs[2] = {
			{ o->mine, RT_SEND, &out, 0 },
			{ o->theirs, RT_RECV, &in, 0 },
		};
		int r = rt_select(cs, 2, rt_now() + 10000 * MS);
		if (r == 0 && cs[0].ok)
			o->sent++;
		else if (r == 1 && cs[1].ok && in == 1)
			o->recvd++;
		else
			o->errors++;
	}
	atomic_fetch_add(o->done, 1);
}

static void test_opposite(void)
{
	struct rt_chan *a = rt_chan_make(sizeof(int), 0), *b = rt_chan_make(sizeof(int), 0);
	_Atomic int done = 0;
	struct opp g1 = { a, b, 0, 0, 0, &done }, g2 = { b, a, 0, 0, 0, &done };
	int64_t t0 = rt_now();
	rt_go(opp_loop, &g1);
	rt_go(opp_loop, &g2);
	int fin = wait_int(&done, 2, 30000 * MS);
	ok(fin, "two Gs selecting {send a, recv b} / {send b, recv a}: %d iterations each, "
	   "no deadlock (%lld ms)", OPP_ITERS, (long long)((rt_now() - t0) / MS));
	ok(fin && g1.errors == 0 && g2.errors == 0 && g1.sent == g2.recvd && g2.sent == g1.recvd &&
	   g1.sent + g1.recvd == OPP_ITERS,
	   "every transfer matched (g1 sent %ld recvd %ld, g2 sent %ld recvd %ld)", g1.sent,
	   g1.recvd, g2.sent, g2.recvd);
	if (fin) {
		rt_chan_free(a);
		rt_chan_free(b);
	}
}

/* ---- woken by another G ---------------------------------------------------- */

struct woken {
	struct rt_chan *a, *b;
	int r, x, ok;
	_Atomic int done;
};

static void sel_wait_ab(void *p)
{
	struct woken *w = p;
	struct rt_case cs[2] = { { w->a, RT_RECV, &w->x, 0 }, { w->b, RT_RECV, &w->x, 0 } };
	w->r = rt_select(cs, 2, rt_now() + 5000 * MS);
	w->ok = w->r >= 0 ? cs[w->r].ok : -1;
	atomic_store(&w->done, 1);
}

static void test_woken(void)
{
	struct woken w = { .a = rt_chan_make(sizeof(int), 0), .b = rt_chan_make(sizeof(int), 0) };
	rt_go(sel_wait_ab, &w);
	rt_sleep(20 * MS);
	int early = atomic_load(&w.done);
	int v = 77;
	rt_chan_send(w.b, &v);
	int done = wait_int(&w.done, 1, 2000 * MS);
	ok(!early && done && w.r == 1 && w.x == 77 && w.ok == 1,
	   "parked select woken by a sender in another G (case %d, value %d)", w.r, w.x);

	struct woken w2 = { .a = w.a, .b = w.b };
	rt_go(sel_wait_ab, &w2);
	rt_sleep(20 * MS);
	rt_chan_close(w.a);
	done = wait_int(&w2.done, 1, 2000 * MS);
	ok(done && w2.r == 0 && w2.ok == 0, "parked select woken by close: case 0, ok 0");
	rt_chan_free(w.a);
	rt_chan_free(w.b);
}

/* ---- deadlines racing with channel wake-ups ------------------------------ */

#define RACE_PAIRS 4
#define RACE_N 5000

/* Progress of the race, watched by a plain pthread: a runtime whose
 * timers stop firing parks every G (including the ones that would notice
 * the deadline), so only a thread outside the runtime can report it
 * before the watchdog ends the test. */
static _Atomic long race_progress;
static _Atomic int race_over;

static void *race_monitor(void *unused)
{
	long last = -1;
	int still = 0;
	while (!atomic_load(&race_over)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		long now = atomic_load(&race_progress);
		still = now == last ? still + 1 : 0;
		last = now;
		if (still == 50) {
			diag("race: no progress for 5 s (%ld values so far); the runtime looks stalled, "
			     "its green threads:", now);
			rt_dump(2);
		}
	}
	return NULL;
}

struct race {
	struct rt_chan *c, *c2;
	uint64_t seed;
	long received, timeouts, early_timeouts, out_of_order, bad_ack, short_sleeps, errs;
	_Atomic int *done;
};

static void race_sender(void *p)
{
	struct race *r = p;
	uint64_t s = r->seed ^ 0xabcdef;
	for (int i = 0; i < RACE_N; i++) {
		if (rng_next(&s) % 4 == 0)
			rt_sleep((int64_t)(rng_next(&s) % 150) * US);
		if (rt_chan_send(r->c, &i) != 0 || rt_chan_send(r->c2, &i) != 0) {
			r->errs++;
			break;
		}
	}
	atomic_fetch_add(r->done, 1);
}

static void race_receiver(void *p)
{
	struct race *r = p;
	uint64_t s = r->seed;
	int64_t give_up = rt_now() + 15000 * MS;
	while (r->received < RACE_N && rt_now() < give_up) {
		int x = -1;
		int64_t d = rt_now() + (int64_t)(rng_next(&s) % 200) * US;
		struct rt_case cs = { r->c, RT_RECV, &x, 0 };
		errno = 0;
		int k = rt_select(&cs, 1, d);
		if (k < 0) {
			if (errno != ETIMEDOUT)
				r->errs++;
			if (rt_now() < d)
				r->early_timeouts++;
			r->timeouts++;
			continue;
		}
		if (k != 0 || cs.ok != 1 || x != r->received)
			r->out_of_order++;
		/* A blocking receive: a stale timer of the select above would
		 * wake it with nothing (it would return 0, as if closed). */
		int y = -1;
		if (rt_chan_recv(r->c2, &y) != 1 || y != x)
			r->bad_ack++;
		r->received++;
		atomic_fetch_add(&race_progress, 1);
		if (rng_next(&s) % 8 == 0) {
			/* A stale timer would also cut a sleep short. */
			int64_t want = (int64_t)(rng_next(&s) % 100) * US, t0 = rt_now();
			rt_sleep(want);
			if (rt_now() - t0 < want)
				r->short_sleeps++;
		}
	}
	atomic_fetch_add(r->done, 1);
}

static void test_race(void)
{
	struct race rs[RACE_PAIRS];
	_Atomic int done = 0;
	pthread_t mon;
	int have_mon = pthread_create(&mon, NULL, race_monitor, NULL) == 0;
	int64_t t0 = rt_now();
	for (int i = 0; i < RACE_PAIRS; i++) {
		rs[i] = (struct race){ .c = rt_chan_make(sizeof(int), 0),
			.c2 = rt_chan_make(sizeof(int), 0), .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1),
			.done = &done };
		rt_go(race_receiver, &rs[i]);
		rt_go(race_sender, &rs[i]);
	}
	int fin = wait_int(&done, 2 * RACE_PAIRS, 20000 * MS);
	atomic_store(&race_over, 1);
	if (have_mon) {
		rt_blocking_begin();
		pthread_join(mon, NULL);
		rt_blocking_end();
	}
	long received = 0, timeouts = 0, early = 0, ooo = 0, ack = 0, shorts = 0, errs = 0;
	for (int i = 0; i < RACE_PAIRS; i++) {
		received += rs[i].received;
		timeouts += rs[i].timeouts;
		early += rs[i].early_timeouts;
		ooo += rs[i].out_of_order;
		ack += rs[i].bad_ack;
		shorts += rs[i].short_sleeps;
		errs += rs[i].errs;
	}
	diag("race: %ld received, %ld timeouts in %lld ms", received, timeouts,
	     (long long)((rt_now() - t0) / MS));
	ok(fin && received == (long)RACE_PAIRS * RACE_N,
	   "short-deadline selects racing with sends: received %ld of %d", received,
	   RACE_PAIRS * RACE_N);
	ok(ooo == 0 && ack == 0 && errs == 0,
	   "every value once and in order; no blocking receive woken by a stale timer "
	   "(out of order %ld, bad ack %ld, errors %ld)", ooo, ack, errs);
	ok(early == 0 && shorts == 0, "no timeout before its deadline (%ld), no sleep cut short (%ld)",
	   early, shorts);
	ok(timeouts > 0, "some selects did time out (%ld), so the race was exercised", timeouts);
	if (fin)
		for (int i = 0; i < RACE_PAIRS; i++) {
			rt_chan_free(rs[i].c);
			rt_chan_free(rs[i].c2);
		}
}

static void main_fn(void *unused)
{
	test_fairness();
	test_default_deadline();
	test_send_cases();
	test_closed_null();
	test_same_chan();
	test_opposite();
	test_woken();
	test_race();
}

int main(void)
{
	tap_watchdog(45);
	tap_plan(29);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
