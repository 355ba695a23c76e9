/*
 * sync.c - wait groups, after Go's sync.WaitGroup.  One atomic word holds
 * the count (high 32 bits) and the number of parked waiters (low 32).  An
 * add that leaves a count above zero, or brings it to zero with nobody
 * waiting, is one atomic add and touches nothing else: a waiter that saw
 * zero may already have reused the memory.  A waiter registers (waiter
 * count + list) under the lock with a CAS that fails if the count moved;
 * the add that brings the count to zero with waiters takes the lock (the
 * last waiter has parked once it gets it), empties the list, clears the
 * word, unlocks, and only then readies them.
 */
#include "rt_internal.h"

struct wg_waiter {
	struct rt_g *g;
	struct wg_waiter *next;
};

static struct rt_lock *wg_lock(struct rt_wg *wg)
{
	_Static_assert(sizeof(struct rt_lock) == sizeof wg->lock, "rt_wg lock word");
	return (struct rt_lock *)&wg->lock;
}

static _Atomic uint64_t *wg_state(struct rt_wg *wg)
{
	return (_Atomic uint64_t *)&wg->count;
}

static inline int64_t count_of(uint64_t state)
{
	return (int64_t)state >> 32;
}

void rt_wg_add(struct rt_wg *wg, int64_t delta)
{
	uint64_t add = (uint64_t)delta << 32;
	uint64_t v = atomic_fetch_add(wg_state(wg), add) + add;
	int64_t count = count_of(v);
	rt_assert(count >= 0, "rt_wg_add: negative wait group counter");
	if (count > 0 || (uint32_t)v == 0)
		return;
	rt_lock(wg_lock(wg));
	struct wg_waiter *w = wg->waiters;
	wg->waiters = NULL;
	atomic_store(wg_state(wg), 0);
	rt_unlock(wg_lock(wg));
	while (w) {
		struct wg_waiter *next = w->next; /* w dies once its G runs */
		rt_ready(w->g);
		w = next;
	}
}

void rt_wg_done(struct rt_wg *wg)
{
	rt_wg_add(wg, -1);
}

static int wg_unlock_commit(struct rt_g *g, void *arg)
{
	(void)g;
	rt_unlock(wg_lock(arg));
	return 1;
}

void rt_wg_wait(struct rt_wg *wg)
{
	struct rt_g *g = rt_g_current();
	rt_assert(g, "rt_wg_wait outside a green thread");
	for (;;) {
		uint64_t v = atomic_load(wg_state(wg));
		if (count_of(v) == 0)
			return;
		rt_lock(wg_lock(wg));
		if (atomic_compare_exchange_strong(wg_state(wg), &v, v + 1)) {
			struct wg_waiter me = { .g = g, .next = wg->waiters };
			wg->waiters = &me;
			rt_park(wg_unlock_commit, wg, "wait group");
			return;
		}
		rt_unlock(wg_lock(wg)); /* the count moved: look again */
	}
}
