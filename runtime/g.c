#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * g.c - a green thread's life: spawn (stack, id from the P's batch,
 * first frame), exit (the stack goes back to the P's cache from the
 * next context), and blocking regions (rt_blocking_begin/end: the P in
 * P_SYSCALL, taken back with a CAS, or another one found).
 *
 * Threads: a G on its M (spawn also from any thread, without a P: the
 * global queue); the monitor retakes P_SYSCALL Ps (sysmon.c).
 */
#include "fiber.h"
#include "rt_internal.h"

/* ---- spawn and exit ------------------------------------------------------ */

static int exit_commit(struct rt_g *g, void *arg)
{
	struct rt_m *m = rt_m_current();
	(void)arg;
	atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
	rt_fiber_fini_g(g);
	bool main_g = g == rt_sched.main_g;
	rt_stack_put(m->p, g->stack);
	if (main_g)
		rt_stop_the_world();
	return 1;
}

void rt_exit(void)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m->curg;
	rt_assert(g, "rt_exit outside a green thread");
	if (RT_UNLIKELY(g->locks != 0))
		rt_holding_locks(g, "exits", "rt_exit");
	struct rt_p *p = rt_enter_p(m);
	if (p)
		rt_counter_inc(&p->nexited);
	else /* a hog that lost its P */
		atomic_fetch_add_explicit(&rt_sched.exited_nop, 1, memory_order_relaxed);
	m->park_fn = exit_commit;
	m->park_arg = NULL;
	if (g == rt_sched.main_g) {
		/* Through g0: the world stops there. */
		m->park_g = g;
		rt_fiber_leave(NULL, m->g0_lo, (size_t)((char *)m->g0_hi - (char *)m->g0_lo),
				rt_fiber_of_g0(m));
		rt_ctx_swap(&g->ctx, &m->g0);
	} else {
		rt_park_switch(m, g, true);
	}
	rt_fatal("a dead green thread was resumed");
}

static void g_entry(void *arg)
{
	struct rt_g *g = arg;
	rt_arrive(g);
	g->fn(g->arg);
	rt_exit();
}

/* A new G id: from p's batch (Go's goidcache), or one at a time without
 * a P.  Ids are unique; with several Ps they are not in spawn order. */
#define GOID_BATCH 64
static uint64_t goid_new(struct rt_p *p)
{
	if (!p)
		return atomic_fetch_add_explicit(&rt_sched.goid, 1, memory_order_relaxed) + 1;
	if (p->goid_next == p->goid_end) {
		p->goid_next = atomic_fetch_add_explicit(&rt_sched.goid, GOID_BATCH,
				memory_order_relaxed) + 1;
		p->goid_end = p->goid_next + GOID_BATCH;
	}
	return p->goid_next++;
}

int rt_spawn(const char *name, void (*fn)(void *), void *arg, struct rt_g **out)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = m ? rt_enter_p(m) : NULL;
	struct rt_g *g = rt_stack_get(p);
	if (!g) {
		if (m)
			rt_leave_p(m, p);
		errno = EAGAIN;
		return -1;
	}
	/* Room in the timer heap and the global queue for every G that can
	 * exist (see struct rt_sched and rt_timers_reserve), timers first so
	 * that the heap's capacity is never below the queue's: the slow path
	 * runs when a stack was carved. */
	uint64_t carved = rt_stacks_carved();
	if (RT_UNLIKELY(carved > atomic_load_explicit(&rt_sched.runqcap, memory_order_relaxed))) {
		const char *limit = rt_timers_reserve(carved) != 0 ? "out of memory for the timer heap"
			: rt_globrunq_reserve(carved) != 0 ? "out of memory for the global run queue"
			: NULL;
		if (limit) {
			rt_stack_put(p, g->stack);
			if (m)
				rt_leave_p(m, p);
			rt_limit_set(limit);
			errno = EAGAIN;
			return -1;
		}
	}
	g->id = goid_new(p);
	g->name = name;
	g->fn = fn;
	g->arg = arg;
	rt_ctx_make(&g->ctx, g->stack->lo, g->stack->hi, g_entry, g);
	rt_fiber_init_g(g);
	if (p)
		rt_counter_inc(&p->nspawned);
	else
		atomic_fetch_add_explicit(&rt_sched.spawned_nop, 1, memory_order_relaxed);
	if (out)
		*out = g;
	rt_runqput_any(p, g, RQ_NEXT, RQ_WAKE);
	if (p)
		rt_leave_p(m, p);
	return 0;
}

int rt_go_named(const char *name, void (*fn)(void *), void *arg)
{
	return rt_spawn(name, fn, arg, NULL);
}

int rt_go(void (*fn)(void *), void *arg)
{
	return rt_spawn(NULL, fn, arg, NULL);
}

uint64_t rt_self(void)
{
	struct rt_g *g = rt_g_current();
	return g ? g->id : 0;
}

const char *rt_self_name(void)
{
	struct rt_g *g = rt_g_current();
	return g ? g->name : NULL;
}

/* ---- blocking regions -------------------------------------------------- */

void rt_blocking_begin(void)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = rt_enter_p(m);
	if (p) {
		atomic_fetch_add_explicit(&p->syscalltick, 1, memory_order_relaxed);
		atomic_store_explicit(&p->state, PSTATE(rt_mid(m), P_SYSCALL), memory_order_release);
	}
	rt_leave_p(m, p);
}

static int lostp_commit(struct rt_g *g, void *arg)
{
	(void)arg;
	rt_runqput_any(NULL, g, RQ_TAIL, RQ_WAKE);
	return 1;
}

/* The M lost its P: take an idle one or queue the G globally. */
static void reacquire_p(struct rt_m *m)
{
	rt_lock(&rt_sched.lock);
	struct rt_p *p = rt_pidleget();
	rt_unlock(&rt_sched.lock);
	if (p) {
		rt_acquirep(m, p);
		rt_leave_p(m, p);
		return;
	}
	rt_park(lostp_commit, NULL, "waiting for a P");
}

static int discard_commit(struct rt_g *g, void *arg)
{
	(void)g;
	(void)arg;
	return 1; /* parked for good: nothing will ready it */
}

void rt_blocking_end(void)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = rt_enter_p(m);
	bool back = false;
	if (p) {
		uint32_t want = PSTATE(rt_mid(m), P_SYSCALL);
		back = atomic_compare_exchange_strong_explicit(&p->state, &want,
				PSTATE(rt_mid(m), P_RUNNING), memory_order_acquire, memory_order_relaxed);
		if (back)
			rt_leave_p(m, p);
		else
			m->p = NULL;
	}
	if (!back)
		reacquire_p(m);
	/* A G back from a blocking call after the main G returned is
	 * discarded like the parked ones, or its M would never stop. */
	if (RT_UNLIKELY(atomic_load_explicit(&rt_sched.stopping, memory_order_relaxed)))
		rt_park_unchecked(rt_m_current(), rt_g_current(), discard_commit, NULL, "runtime stopped");
}

