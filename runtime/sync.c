/*
 * sync.c - wait groups.  The count is an atomic; the lock is taken only
 * by waiters and by the add that brings the count to zero, so rt_wg_done
 * on a group nobody waits for yet is one atomic add.
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

static _Atomic int64_t *wg_count(struct rt_wg *wg)
{
	return (_Atomic int64_t *)&wg->count;
}

void rt_wg_add(struct rt_wg *wg, int64_t delta)
{
	int64_t v = atomic_fetch_add(wg_count(wg), delta) + delta;
	if (v > 0)
		return;
	rt_assert(v == 0, "rt_wg_add: negative wait group counter");
	rt_lock(wg_lock(wg));
	struct wg_waiter *w = wg->waiters;
	wg->waiters = NULL;
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
	if (atomic_load(wg_count(wg)) == 0)
		return;
	struct rt_g *g = rt_g_current();
	rt_assert(g, "rt_wg_wait outside a green thread");
	rt_lock(wg_lock(wg));
	if (atomic_load(wg_count(wg)) == 0) {
		rt_unlock(wg_lock(wg));
		return;
	}
	struct wg_waiter me = { .g = g, .next = wg->waiters };
	wg->waiters = &me;
	rt_park(wg_unlock_commit, wg, "wait group");
}
