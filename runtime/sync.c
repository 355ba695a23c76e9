/*
 * sync.c - wait groups, after Go's sync.WaitGroup.  One atomic word holds
 * the count (high 32 bits) and the number of parked waiters (low 32).  An
 * add that leaves a count above zero, or brings it to zero with nobody
 * waiting, is one atomic add and touches nothing else: a waiter that saw
 * zero may already have reused the memory.  A waiter registers (waiter
 * count + list) under the lock with a CAS that fails if the count moved;
 * the add that brings the count to zero with waiters takes the lock (the
 * last waiter has parked once it gets it), empties the list, claims each
 * waiter's wake word, clears the word, unlocks, and only then readies
 * the Gs it claimed.
 *
 * Deadlines (rt_wg_wait_until).  A waiter whose timer won its wake word
 * takes itself off the list under the lock, unless the add that emptied
 * the list got there first (the count reached zero: it returns 0).  It
 * drops its waiter count with a CAS that fails once the count is zero: an
 * add that saw it registered is then on its way to the lock, so the
 * waiter parks again (no deadline) and returns 0 when that add wakes it.
 * No add can touch the group after a wait timed out and returned.
 *
 * Threads: the word by anyone (atomics); the list and each waiter's
 * `listed` under the lock.
 */
#include "rt_internal.h"

struct wg_waiter {
	struct rt_g *g;
	struct wg_waiter *next;
	bool listed;            /* on wg->waiters (lock) */
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

/* Empty the list (lock held): the Gs whose wake word we won, linked
 * through schedlink in list order, for readying after the unlock. */
static struct rt_g *waiters_claim(struct rt_wg *wg)
{
	struct rt_g *head = NULL, **tail = &head;
	for (struct wg_waiter *w = wg->waiters; w; w = w->next) {
		w->listed = false;
		if (rt_wake_claim(w->g)) {
			*tail = w->g;
			tail = &w->g->schedlink;
		}
	}
	*tail = NULL;
	wg->waiters = NULL;
	return head;
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
	struct rt_g *g = waiters_claim(wg);
	atomic_store(wg_state(wg), 0);
	rt_unlock(wg_lock(wg));
	while (g) {
		struct rt_g *next = g->schedlink; /* g's waiter dies once it runs */
		rt_ready(g);
		g = next;
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

static void waiter_unlink(struct rt_wg *wg, struct wg_waiter *me)
{
	struct wg_waiter *prev = NULL;
	for (struct wg_waiter *w = wg->waiters; w != me; w = w->next)
		prev = w;
	if (prev)
		prev->next = me->next;
	else
		wg->waiters = me->next;
}

/* The deadline won the wake word: lock held.  0 if the count reached
 * zero (the lock is released on return in every case). */
static int wg_timed_out(struct rt_wg *wg, struct wg_waiter *me)
{
	uint64_t v = atomic_load(wg_state(wg));
	while (me->listed) {
		if (count_of(v) == 0) {
			/* The add that zeroed the count saw us and comes for the
			 * list: wait for it with a fresh wake word. */
			rt_wake_reset(me->g);
			rt_park(wg_unlock_commit, wg, "wait group");
			return 0;
		}
		if (atomic_compare_exchange_weak(wg_state(wg), &v, v - 1)) {
			waiter_unlink(wg, me);
			rt_unlock(wg_lock(wg));
			errno = ETIMEDOUT;
			return -1;
		}
	}
	rt_unlock(wg_lock(wg));
	return 0;
}

int rt_wg_wait_until(struct rt_wg *wg, int64_t deadline)
{
	struct rt_wait w;
	struct rt_g *g = rt_wait_begin(&w, deadline);
	for (;;) {
		uint64_t v = atomic_load(wg_state(wg));
		if (count_of(v) == 0)
			return 0;
		if (rt_deadline_passed(deadline)) {
			errno = ETIMEDOUT;
			return -1;
		}
		rt_lock(wg_lock(wg));
		if (atomic_compare_exchange_strong(wg_state(wg), &v, v + 1)) {
			struct wg_waiter me = { .g = g, .next = wg->waiters, .listed = true };
			wg->waiters = &me;
			rt_wait_park(&w, wg_unlock_commit, wg, "wait group");
			if (!rt_wait_end(&w))
				return 0; /* readied by the add that zeroed the count */
			rt_lock(wg_lock(wg));
			return wg_timed_out(wg, &me);
		}
		rt_unlock(wg_lock(wg)); /* the count moved: look again */
	}
}

void rt_wg_wait(struct rt_wg *wg)
{
	rt_wg_wait_until(wg, RT_NEVER);
}
