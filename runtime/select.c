/*
 * select.c - waiting on several channel operations at once (Go's
 * selectgo).
 *
 *   0. A safe point: a G whose time slice is over gives way first.
 *   1. Shuffle the cases (pollorder, Fisher-Yates): taking the first
 *      ready case in a uniformly random order picks uniformly among the
 *      ready ones.  Sort the distinct channels by address (lockorder) and
 *      lock them all in that order, so two selects can never deadlock.
 *   2. Pass 1: perform the first ready case, unlock, ready the peer.
 *   3. None ready and the deadline has passed: unlock, ETIMEDOUT (this
 *      is Go's default case).
 *   4. Pass 2: enqueue one sudog per case and park with the deadline
 *      (rt_wait_park); the channels are unlocked by the park commit, once
 *      the G's context is saved.
 *   5. Pass 3: whoever won the G's wake word set g->wake_sudog (or the
 *      deadline fired); relock and dequeue the losing sudogs.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"

#define SELECT_STACK_CASES 16

struct select_park {
	struct rt_chan **locked;  /* distinct channels, in lock order */
	int nlocked;
};

static int cmp_chan(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(struct rt_chan *const *)a;
	uintptr_t y = (uintptr_t)*(struct rt_chan *const *)b;
	return x < y ? -1 : x > y;
}

static void lock_all(struct rt_chan **locked, int n)
{
	for (int i = 0; i < n; i++)
		rt_lock(&locked[i]->lock);
}

static void unlock_all(struct rt_chan **locked, int n)
{
	for (int i = n - 1; i >= 0; i--)
		rt_unlock(&locked[i]->lock);
}

/* sp and the array it points to live on the parking G's stack; a waker
 * may resume that G as soon as one channel is unlocked, but the G then
 * relocks every channel before it leaves select_wait, so both stay valid
 * until the last unlock. */
static int select_commit(struct rt_g *g, void *arg)
{
	struct select_park *sp = arg;
	(void)g;
	unlock_all(sp->locked, sp->nlocked);
	return 1;
}

/* Try case cs now; channel locked.  Returns true if it completed, with
 * *peer set to a G to ready after unlocking. */
static bool try_case(struct rt_case *cs, struct rt_g **peer)
{
	struct rt_chan *c = cs->chan;
	struct rt_sudog *s;
	if (cs->op == RT_RECV) {
		if ((s = rt_waitq_dequeue(&c->sendq))) {
			*peer = rt_chan_recv_from(c, s, cs->elem);
			cs->ok = 1;
		} else if (c->count > 0) {
			rt_chan_buf_take(c, cs->elem);
			cs->ok = 1;
		} else if (c->closed) {
			if (cs->elem && c->elemsize)
				memset(cs->elem, 0, c->elemsize);
			cs->ok = 0;
		} else {
			return false;
		}
		return true;
	}
	if (c->closed) {
		cs->ok = 0;
	} else if ((s = rt_waitq_dequeue(&c->recvq))) {
		*peer = rt_chan_send_to(c, s, cs->elem);
		cs->ok = 1;
	} else if (c->count < c->cap) {
		rt_chan_buf_put(c, cs->elem);
		cs->ok = 1;
	} else {
		return false;
	}
	return true;
}

static int finish(struct rt_case *cs, int i)
{
	if (cs->op == RT_SEND && !cs->ok)
		errno = EPIPE;
	return i;
}

static int select_wait(struct rt_case *cases, int n, int64_t deadline,
		int *order, struct rt_chan **locked, struct rt_sudog *sg)
{
	struct rt_wait w;
	struct rt_g *g = rt_wait_begin(&w, deadline);
	int nready = 0, nlocked = 0;
	/* 1. pollorder and lockorder. */
	for (int i = 0; i < n; i++) {
		cases[i].ok = 0;
		if (!cases[i].chan)
			continue;
		int j = (int)(rt_fastrand() % (uint64_t)(nready + 1));
		order[nready] = order[j];
		order[j] = i;
		nready++;
		locked[nlocked++] = cases[i].chan;
	}
	qsort(locked, (size_t)nlocked, sizeof *locked, cmp_chan);
	int d = 0;
	for (int i = 0; i < nlocked; i++)
		if (d == 0 || locked[d - 1] != locked[i])
			locked[d++] = locked[i];
	nlocked = d;
	lock_all(locked, nlocked);

	/* 2. pass 1. */
	for (int k = 0; k < nready; k++) {
		struct rt_g *peer = NULL;
		int i = order[k];
		if (try_case(&cases[i], &peer)) {
			unlock_all(locked, nlocked);
			if (peer)
				rt_ready(peer);
			return finish(&cases[i], i);
		}
	}
	/* 3. default / deadline passed. */
	if (nready == 0 && deadline == RT_NEVER) {
		/* Go's select {}: park for good. */
		struct select_park none = { .locked = locked, .nlocked = 0 };
		for (;;)
			rt_park(select_commit, &none, "select with no cases");
	}
	if (rt_deadline_passed(deadline)) {
		unlock_all(locked, nlocked);
		errno = ETIMEDOUT;
		return -1;
	}
	/* 4. pass 2: enqueue and park (nobody has seen g since rt_wait_begin
	 * reset its wake word). */
	for (int k = 0; k < nready; k++) {
		int i = order[k];
		struct rt_chan *c = cases[i].chan;
		sg[k] = (struct rt_sudog){ .g = g, .elem = cases[i].elem, .c = c, .case_index = i };
		rt_waitq_push(cases[i].op == RT_RECV ? &c->recvq : &c->sendq, &sg[k]);
	}
	struct select_park sp = { .locked = locked, .nlocked = nlocked };
	rt_wait_park(&w, select_commit, &sp, "select");

	/* 5. pass 3. */
	struct rt_sudog *won = g->wake_sudog;
	rt_wait_end(&w);
	lock_all(locked, nlocked);
	for (int k = 0; k < nready; k++) {
		struct rt_chan *c = sg[k].c;
		rt_waitq_remove(cases[sg[k].case_index].op == RT_RECV ? &c->recvq : &c->sendq, &sg[k]);
	}
	unlock_all(locked, nlocked);
	if (!won) {
		errno = ETIMEDOUT;
		return -1;
	}
	struct rt_case *cs = &cases[won->case_index];
	cs->ok = won->success;
	if (cs->op == RT_RECV && !won->success && cs->elem && won->c->elemsize)
		memset(cs->elem, 0, won->c->elemsize);
	return finish(cs, won->case_index);
}

int rt_select(struct rt_case *cases, int n, int64_t deadline)
{
	if (n < 0 || (n > 0 && !cases)) {
		errno = EINVAL;
		return -1;
	}
	rt_safe_point();
	if (n <= SELECT_STACK_CASES) {
		int order[SELECT_STACK_CASES];
		struct rt_chan *locked[SELECT_STACK_CASES];
		struct rt_sudog sg[SELECT_STACK_CASES];
		return select_wait(cases, n, deadline, order, locked, sg);
	}
	int *order = malloc((size_t)n * sizeof *order);
	struct rt_chan **locked = malloc((size_t)n * sizeof *locked);
	struct rt_sudog *sg = malloc((size_t)n * sizeof *sg);
	int r = -1;
	if (order && locked && sg)
		r = select_wait(cases, n, deadline, order, locked, sg);
	else
		errno = ENOMEM;
	int e = errno;
	free(order);
	free(locked);
	free(sg);
	errno = e;
	return r;
}
