/*
 * 03-chan.c - channels: rendezvous, buffered FIFO order, close
 * semantics, zero-size elements, many senders and receivers on 2 Ps
 * without loss or duplication, rt_chan_len/rt_chan_cap.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


/* ---- rendezvous --------------------------------------------------------- */

struct rdv {
	struct rt_chan *c;
	_Atomic int started, returned;
	int64_t t_start, t_done;
	int rc;
};

static void rdv_sender(void *p)
{
	struct rdv *r = p;
	int v = 42;
	r->t_start = rt_now();
	atomic_store(&r->started, 1);
	r->rc = rt_chan_send(r->c, &v);
	r->t_done = rt_now();
	atomic_store(&r->returned, 1);
}

static void test_rendezvous(void)
{
	struct rdv r = { .c = rt_chan_make(sizeof(int), 0) };
	ok(r.c != NULL, "rt_chan_make(int, 0)");
	rt_go(rdv_sender, &r);
	int started = wait_int(&r.started, 1, 2000 * MS);
	rt_sleep(50 * MS);
	int early = atomic_load(&r.returned);
	int64_t t_recv = rt_now();
	int v = 0;
	int got = rt_chan_recv(r.c, &v);
	int done = wait_int(&r.returned, 1, 2000 * MS);
	ok(started && !early, "unbuffered send still blocked 50 ms later (no receiver yet)");
	ok(got == 1 && v == 42, "receiver got the value (%d, %d)", got, v);
	ok(done && r.rc == 0, "sender returned 0 after the receive");
	ok(done && r.t_done >= t_recv && r.t_done - r.t_start >= 50 * MS,
	   "send completed only after the receiver arrived (blocked %lld ms)",
	   (long long)((r.t_done - r.t_start) / MS));
	is_int((long long)rt_chan_len(r.c), 0, "unbuffered channel: len 0");
	is_int((long long)rt_chan_cap(r.c), 0, "unbuffered channel: cap 0");
	rt_chan_free(r.c);
}

/* ---- buffered FIFO ---------------------------------------------------- */

struct fifo {
	struct rt_chan *c;
	int n;
	int rc;
	_Atomic int done;
};

static void fifo_sender(void *p)
{
	struct fifo *f = p;
	f->rc = 0;
	for (int i = 0; i < f->n; i++)
		if (rt_chan_send(f->c, &i) != 0)
			f->rc = -1;
	atomic_store(&f->done, 1);
}

static void test_fifo(void)
{
	struct fifo f = { .c = rt_chan_make(sizeof(int), 8), .n = 1000 };
	is_int((long long)rt_chan_cap(f.c), 8, "buffered channel: cap 8");
	int a = 7, b = 8, c = 9, x = 0;
	rt_chan_send(f.c, &a);
	rt_chan_send(f.c, &b);
	rt_chan_send(f.c, &c);
	is_int((long long)rt_chan_len(f.c), 3, "len 3 after 3 sends");
	rt_chan_recv(f.c, &x);
	ok(x == 7 && rt_chan_len(f.c) == 2, "recv takes the oldest (7), len 2");
	rt_chan_recv(f.c, &x);
	rt_chan_recv(f.c, &x);
	is_int((long long)rt_chan_len(f.c), 0, "len 0 after draining");

	rt_go(fifo_sender, &f);
	int order_ok = 1, got_all = 1;
	for (int i = 0; i < f.n; i++) {
		int v = -1;
		if (rt_chan_recv(f.c, &v) != 1) {
			got_all = 0;
			break;
		}
		if (v != i && order_ok) {
			order_ok = 0;
			diag("element %d is %d", i, v);
		}
		if (i % 97 == 0)
			rt_yield(); /* let the buffer fill up now and then */
	}
	ok(got_all && order_ok, "cap 8: 1000 ints received in FIFO order");
	ok(wait_int(&f.done, 1, 2000 * MS) && f.rc == 0, "the sender's sends all returned 0");
	rt_chan_free(f.c);
}

/* ---- close ------------------------------------------------------------ */

struct closer_wait {
	struct rt_chan *c;
	int rc, err, val;
	_Atomic int *done;
};

static void parked_sender(void *p)
{
	struct closer_wait *w = p;
	int v = 5;
	errno = 0;
	w->rc = rt_chan_send(w->c, &v);
	w->err = errno;
	atomic_fetch_add(w->done, 1);
}

static void parked_receiver(void *p)
{
	struct closer_wait *w = p;
	w->val = 0x5a5a5a5a;
	w->rc = rt_chan_recv(w->c, &w->val);
	atomic_fetch_add(w->done, 1);
}

static void test_close(void)
{
	struct rt_chan *c = rt_chan_make(sizeof(int), 4);
	int v = 1, x;
	rt_chan_send(c, &v);
	v = 2;
	rt_chan_send(c, &v);
	is_int(rt_chan_close(c), 0, "close a buffered channel holding 2 values: 0");
	x = -1;
	int r1 = rt_chan_recv(c, &x);
	ok(r1 == 1 && x == 1, "after close, buffered value 1 still drains (%d, %d)", r1, x);
	x = -1;
	r1 = rt_chan_recv(c, &x);
	ok(r1 == 1 && x == 2, "after close, buffered value 2 still drains (%d, %d)", r1, x);
	x = 0x12345678;
	r1 = rt_chan_recv(c, &x);
	ok(r1 == 0 && x == 0, "recv on closed and drained: 0 and *elem zeroed (%d, %#x)", r1, x);
	ok(rt_chan_recv(c, NULL) == 0, "recv with elem NULL on closed channel: 0");
	errno = 0;
	v = 3;
	r1 = rt_chan_send(c, &v);
	ok(r1 == -1 && errno == EPIPE, "send on closed: -1 EPIPE (%d, %s)", r1, strerror(errno));
	errno = 0;
	r1 = rt_chan_close(c);
	ok(r1 == -1 && errno == EPIPE, "close twice: -1 EPIPE");
	rt_chan_free(c);

	/* A parked sender woken by close gets EPIPE (unbuffered, and full buffer). */
	for (int cap = 0; cap <= 1; cap++) {
		_Atomic int done = 0;
		c = rt_chan_make(sizeof(int), (size_t)cap);
		if (cap) {
			v = 9;
			rt_chan_send(c, &v); /* fill it */
		}
		struct closer_wait w = { .c = c, .rc = 99, .done = &done };
		rt_go(parked_sender, &w);
		rt_sleep(20 * MS);
		int early = atomic_load(&done);
		rt_chan_close(c);
		int woke = wait_int(&done, 1, 2000 * MS);
		ok(!early && woke && w.rc == -1 && w.err == EPIPE,
		   "cap %d: parked sender woken by close gets -1 EPIPE (rc %d, %s)", cap, w.rc,
		   strerror(w.err));
		if (cap) {
			x = -1;
			int a = rt_chan_recv(c, &x);
			int b = rt_chan_recv(c, &x);
			ok(a == 1 && b == 0, "cap 1: the buffered value drains, the parked one was not sent");
		}
		rt_chan_free(c);
	}

	/* Parked receivers woken by close get 0, elem zeroed. */
	{
		_Atomic int done = 0;
		c = rt_chan_make(sizeof(int), 0);
		struct closer_wait w[3];
		for (int i = 0; i < 3; i++) {
			w[i] = (struct closer_wait){ .c = c, .rc = 99, .done = &done };
			rt_go(parked_receiver, &w[i]);
		}
		rt_sleep(20 * MS);
		int early = atomic_load(&done);
		rt_chan_close(c);
		int woke = wait_int(&done, 3, 2000 * MS);
		int all = 1;
		for (int i = 0; i < 3; i++)
			if (w[i].rc != 0 || w[i].val != 0)
				all = 0;
		ok(!early && woke && all, "3 parked receivers woken by close get 0 with elem zeroed");
		rt_chan_free(c);
	}
}

/* ---- zero-size elements ----------------------------------------------- */

struct sig_sender {
	struct rt_chan *c;
	int n, rc;
	_Atomic int done;
};

static void sig_send(void *p)
{
	struct sig_sender *s = p;
	for (int i = 0; i < s->n; i++)
		if (rt_chan_send(s->c, NULL) != 0)
			s->rc = -1;
	atomic_store(&s->done, 1);
}

static void test_zero_size(void)
{
	struct sig_sender s = { .c = rt_chan_make(0, 0), .n = 1000 };
	ok(s.c != NULL, "rt_chan_make(0, 0)");
	rt_go(sig_send, &s);
	int got = 0;
	for (int i = 0; i < s.n; i++)
		got += rt_chan_recv(s.c, NULL) == 1;
	is_int(got, s.n, "elem_size 0, cap 0: 1000 signals received");
	ok(wait_int(&s.done, 1, 2000 * MS) && s.rc == 0, "elem_size 0: sends returned 0");
	rt_chan_free(s.c);

	struct rt_chan *c = rt_chan_make(0, 5);
	char dummy = 'x';
	int sent = 0;
	for (int i = 0; i < 5; i++)
		sent += rt_chan_send(c, &dummy) == 0;
	ok(sent == 5 && rt_chan_len(c) == 5 && rt_chan_cap(c) == 5,
	   "elem_size 0, cap 5: 5 sends buffer without blocking, len 5");
	rt_chan_close(c);
	int n = 0;
	while (n < 10 && rt_chan_recv(c, &dummy) == 1)
		n++;
	ok(n == 5 && dummy == 'x', "elem_size 0: 5 received after close, then 0; elem untouched");
	rt_chan_free(c);
}

/* ---- many senders and receivers ---------------------------------------- */

#define NSEND 8
#define NRECV 8
#define PER_SENDER 20000
#define TOTAL (NSEND * PER_SENDER)

static _Atomic unsigned char seen[TOTAL];

struct mm {
	struct rt_chan *c;
	_Atomic int senders_done, receivers_done;
	_Atomic long received, bad, send_err;
};

struct mm_arg {
	struct mm *m;
	int idx;
};

static void mm_sender(void *p)
{
	struct mm_arg *a = p;
	for (int i = 0; i < PER_SENDER; i++) {
		int v = a->idx * PER_SENDER + i;
		if (rt_chan_send(a->m->c, &v) != 0)
			atomic_fetch_add(&a->m->send_err, 1);
	}
	atomic_fetch_add(&a->m->senders_done, 1);
}

static void mm_receiver(void *p)
{
	struct mm_arg *a = p;
	int v;
	while (rt_chan_recv(a->m->c, &v) == 1) {
		if (v < 0 || v >= TOTAL)
			atomic_fetch_add(&a->m->bad, 1);
		else
			atomic_fetch_add(&seen[v], 1);
		atomic_fetch_add(&a->m->received, 1);
	}
	atomic_fetch_add(&a->m->receivers_done, 1);
}

static void test_many(size_t cap)
{
	struct mm m = { .c = rt_chan_make(sizeof(int), cap) };
	struct mm_arg sa[NSEND], ra[NRECV];
	for (int i = 0; i < TOTAL; i++)
		atomic_store(&seen[i], 0);
	int64_t t0 = rt_now();
	for (int i = 0; i < NRECV; i++) {
		ra[i] = (struct mm_arg){ &m, i };
		rt_go(mm_receiver, &ra[i]);
	}
	for (int i = 0; i < NSEND; i++) {
		sa[i] = (struct mm_arg){ &m, i };
		rt_go(mm_sender, &sa[i]);
	}
	int sdone = wait_int(&m.senders_done, NSEND, 20000 * MS);
	rt_chan_close(m.c);
	int rdone = wait_int(&m.receivers_done, NRECV, 20000 * MS);
	ok(sdone && rdone, "cap %zu: %d senders and %d receivers finished (%lld ms)", cap, NSEND,
	   NRECV, (long long)((rt_now() - t0) / MS));
	long missing = 0, dup = 0;
	for (int i = 0; i < TOTAL; i++) {
		unsigned char s = atomic_load(&seen[i]);
		missing += s == 0;
		dup += s > 1;
	}
	ok(missing == 0 && dup == 0 && atomic_load(&m.bad) == 0 &&
	   atomic_load(&m.received) == TOTAL && atomic_load(&m.send_err) == 0,
	   "cap %zu: each of %d values received exactly once (missing %ld, dup %ld, received %ld)",
	   cap, TOTAL, missing, dup, (long)atomic_load(&m.received));
	if (sdone && rdone)
		rt_chan_free(m.c);
}

static void main_fn(void *unused)
{
	test_rendezvous();
	test_fifo();
	test_close();
	test_zero_size();
	test_many(0);
	test_many(64);
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(34);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
