/*
 * timer.c - deadlines: the heap of parked Gs' deadlines, and struct
 * rt_wait, the one way a blocking call parks with a deadline (used by
 * poll.c's waits, select.c and sync.c).
 *
 * The heap is 4-ary and ordered by `when` (as Go's timers); each struct
 * rt_timer lives on its G's stack, in the heap while idx >= 0.  poll.c
 * arms its one ev_timer at the minimum (rt_poll_timers_changed): arming
 * a deadline later than the earliest needs no libev call and never wakes
 * the poller, and 100,000 sleeping Gs cost one libev timer.  This file
 * never includes ev.h.
 *
 * Threads: every function here but rt_wait_begin/park/end runs with the
 * poll lock held (or takes it); the poller expires deadlines (rt_poll on
 * any M, or the monitor) and readies the Gs whose wake word it wins.
 */
#include <stdlib.h>

#include "rt_internal.h"

/* Under the poll lock. */
static struct {
	struct rt_timer **heap;
	int nheap, capheap;
} th;

/* ---- the heap ---------------------------------------------------------- */

static void heap_set(int i, struct rt_timer *t)
{
	th.heap[i] = t;
	t->idx = i;
}

static void sift_up(int i)
{
	struct rt_timer *t = th.heap[i];
	while (i > 0) {
		int parent = (i - 1) / 4;
		if (th.heap[parent]->when <= t->when)
			break;
		heap_set(i, th.heap[parent]);
		i = parent;
	}
	heap_set(i, t);
}

static void sift_down(int i)
{
	struct rt_timer *t = th.heap[i];
	for (;;) {
		int c = 4 * i + 1, best = -1;
		int64_t w = t->when;
		for (int k = c; k < c + 4 && k < th.nheap; k++)
			if (th.heap[k]->when < w)
				w = th.heap[k]->when, best = k;
		if (best < 0)
			break;
		heap_set(i, th.heap[best]);
		i = best;
	}
	heap_set(i, t);
}

/* Debug check, poll lock held: heap order and back-indices. */
static __attribute__((unused)) void heap_check(void)
{
	for (int i = 0; i < th.nheap; i++) {
		rt_assert(th.heap[i]->idx == i, "timer heap index out of date");
		rt_assert(i == 0 || th.heap[(i - 1) / 4]->when <= th.heap[i]->when,
				"timer heap out of order");
	}
}

int64_t rt_timers_next(void)
{
	return th.nheap ? th.heap[0]->when : INT64_MAX;
}

int rt_timers_count(void)
{
	return th.nheap;
}

static void heap_remove(struct rt_timer *t)
{
	int i = t->idx;
	bool was_min = i == 0;
	struct rt_timer *last = th.heap[--th.nheap];
	t->idx = -1;
	rt_poll_waiters_add(-1);
	if (last != t) {
		heap_set(i, last);
		sift_up(i);
		sift_down(last->idx);
	}
	DEBUG_CHECK(heap_check());
	if (was_min)
		rt_poll_timers_changed(INT64_MAX);
}

void rt_timer_arm_locked(struct rt_timer *t, int64_t when, struct rt_g *g)
{
	rt_assert(th.nheap < th.capheap, "timer heap full: rt_timers_reserve was missed");
	t->when = when;
	t->g = g;
	heap_set(th.nheap++, t);
	sift_up(t->idx);
	DEBUG_CHECK(heap_check());
	rt_poll_waiters_add(1);
	if (t->idx == 0)
		rt_poll_timers_changed(when);
}

/* Remove t if it is still in the heap.  Its index moves under the lock
 * as other timers come and go, so it is read only with the lock held. */
void rt_timer_disarm(struct rt_timer *t)
{
	rt_poll_lock();
	if (t->idx >= 0)
		heap_remove(t);
	rt_poll_unlock();
}

bool rt_timers_expire(int64_t now, void (*ready)(struct rt_g *))
{
	bool changed = false;
	while (th.nheap && th.heap[0]->when <= now) {
		struct rt_timer *t = th.heap[0];
		struct rt_timer *last = th.heap[--th.nheap];
		t->idx = -1;
		rt_poll_waiters_add(-1);
		if (last != t) {
			heap_set(0, last);
			sift_down(0);
		}
		changed = true;
		if (rt_wake_claim(t->g)) {
			t->g->wake_timeout = true;
			ready(t->g);
		}
	}
	return changed;
}

/* Room for n timers.  A G arms at most one at a time, so spawn reserves
 * room for every stack slot carved (as for the global run queue, with
 * the same growth: powers of two from 1024, so the heap's capacity is
 * never below the queue's), and arming never needs memory. */
int rt_timers_reserve(uint64_t n)
{
	int err = 0;
	rt_poll_lock();
	if (n > (uint64_t)th.capheap) {
		uint64_t cap = th.capheap ? (uint64_t)th.capheap : 1024;
		while (cap < n)
			cap *= 2;
		struct rt_timer **h = cap <= INT32_MAX ? realloc(th.heap, cap * sizeof *h) : NULL;
		if (h) {
			th.heap = h;
			th.capheap = (int)cap;
		} else {
			err = -1;
		}
	}
	rt_poll_unlock();
	if (err)
		errno = ENOMEM;
	return err;
}

void rt_timers_fini(void)
{
	free(th.heap);
	th.heap = NULL;
	th.nheap = th.capheap = 0;
}

/* ---- one blocking call: rt_wait (see rt_internal.h) ----------------- */

struct rt_g *rt_wait_begin(struct rt_wait *w, int64_t deadline)
{
	struct rt_g *g = rt_g_current();
	rt_assert(g, "a blocking call outside a green thread");
	w->g = g;
	w->deadline = deadline;
	w->timer.idx = -1;
	w->unlock = NULL;
	w->unlock_arg = NULL;
	rt_wake_reset(g);
	return g;
}

void rt_wait_park_locked(struct rt_wait *w, const char *reason)
{
	if (w->deadline != RT_NEVER)
		rt_timer_arm_locked(&w->timer, w->deadline, w->g);
	rt_park(rt_poll_unlock_commit, NULL, reason);
}

/* Park commit of a wait with a deadline whose sources have their own
 * locks: release them, then the poll lock.  w lives on the parking G's
 * stack, which a waker may resume (and reuse) once the sources are
 * unlocked: read it first. */
static int wait_commit(struct rt_g *g, void *arg)
{
	struct rt_wait *w = arg;
	int (*unlock)(struct rt_g *, void *) = w->unlock;
	int r = unlock(g, w->unlock_arg);
	rt_poll_unlock_commit(g, NULL);
	return r;
}

void rt_wait_park(struct rt_wait *w, int (*unlock)(struct rt_g *, void *), void *arg,
		const char *reason)
{
	if (w->deadline == RT_NEVER) {
		rt_park(unlock, arg, reason);
		return;
	}
	w->unlock = unlock;
	w->unlock_arg = arg;
	rt_poll_lock(); /* lock order: the sources' locks, then the poll lock */
	rt_timer_arm_locked(&w->timer, w->deadline, w->g);
	rt_park(wait_commit, w, reason);
}

/* A timer that fired has left the heap (timers_expire) before its G was
 * readied: only a wait woken by another source takes the lock. */
bool rt_wait_end(struct rt_wait *w)
{
	if (w->g->wake_timeout)
		return true;
	if (w->deadline != RT_NEVER)
		rt_timer_disarm(&w->timer);
	return false;
}

bool rt_wait_end_locked(struct rt_wait *w)
{
	if (w->g->wake_timeout)
		return true;
	if (w->timer.idx >= 0)
		heap_remove(&w->timer);
	return false;
}

