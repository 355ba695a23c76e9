#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * sched.c - the G/M/P scheduler's core: readying, finding work
 * (findrunnable), switching and parking (park_switch, rt_park), the
 * scheduler loop of every M (rt_schedule).
 *
 * The scheduler's other files: m.c (Ms and idle Ps: create, park, wake,
 * hand off), g.c (spawn, exit, G ids, blocking regions), fault.c (fatal
 * reports, SIGSEGV/SIGBUS/SIGURG handlers), run.c (rt_run, teardown,
 * stats, dump).  Their shared state is struct rt_sched (rt_internal.h).
 *
 * Threads: everything here runs on an M, on g0 or on a G that entered
 * the runtime (m->in_rt == 1); the poller's Gs arrive from any M or the
 * monitor through rt_inject_from_poll.
 *
 * Design (after Go's proc.go; HACKING.md has the long form).
 *
 * A G runs only on an M that holds a P.  Each P has a local run queue
 * (runq.c) and a runnext slot; a G readied by the running G goes to
 * runnext and runs next, inheriting the time slice, which keeps a
 * channel sender and receiver on one P.  There is one global queue.
 *
 * Switching.  A G that parks first records in m->park_fn the commit that
 * must run once its context is saved (unlock a channel, put itself on a
 * queue, free its stack); only then can anyone else see it.  This is
 * Go's gopark: it is what stops another M from resuming a half-saved G.
 * park_switch then switches G -> G when the P's local queue has a next G
 * (one switch per yield or channel hand-off): the commit runs first
 * thing on that next G (arrive).  Only when nothing local is runnable, or
 * periodic work is due (global queue, timers, stopping), does it switch
 * G -> g0, where the commit runs before findrunnable.  So the commit may
 * run on a G's stack or on g0, always on the M that saved the G.
 *
 * Finding work (findrunnable), in order:
 *   1. every 61st run, one G from the global queue (fairness);
 *   2. runnext, then the local queue;
 *   3. a batch from the global queue;
 *   4. a non-blocking libev poll, if anything waits on it;
 *   5. steal half of a random victim's queue, 4 passes, runnext on the
 *      last one; only a bounded number of Ms spin (2*spinning < busy Ps);
 *   6. give the P back to the idle list; a spinning M then re-checks
 *      every queue after decrementing the spinner count (otherwise a G
 *      readied just then could be left with nobody to run it);
 *   7. become the poller: block in libev until an fd, timer, child or
 *      signal readies a G, if nobody else polls and something waits;
 *   8. park on the M's futex until startm() hands it a P.
 * Wake-ups: readying a G calls wakep(), which starts a spinning M only
 * if a P is idle and nobody spins, so a burst of readies costs at most
 * one futex wake.  An idle runtime has every M parked, the monitor
 * asleep and one M blocked in libev (or none, if nothing waits).
 *
 * Losing the P.  A G that runs for 10 ms without a scheduling point while
 * other Gs wait is a hog: the monitor (sysmon.c) sends its M a SIGURG.
 * The handler runs on that M; if the M is in user code (m->in_rt == 0) it
 * gives the P up (P_HANDOFF, m->p = NULL) and the monitor hands the P to
 * another M.  Every runtime entry sets m->in_rt = 1 and then reads m->p;
 * since the handler runs on the same thread, program order is all the
 * synchronisation needed: entering the runtime costs no atomic operation.
 * A G inside rt_blocking_begin/end has its P in P_SYSCALL, which the
 * monitor retakes with a CAS after ~20 us (the G's M CASes it back at
 * the end).  An M that finds its P gone queues its G on the global queue
 * and parks, or takes an idle P.
 *
 * Thread-local state and errno.  The current M is in a __thread
 * variable read only through rt_m_current(), which is noipa: the
 * compiler cannot assume two calls return the same M, so no M pointer
 * (and no &errno) cached in a register survives a switch.  Every switch
 * saves errno into the G and restores it on the M that resumes it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fiber.h"
#include "rt_internal.h"

struct rt_sched rt_sched;

/* ---- readying ------------------------------------------------------------ */

/* Make g runnable: on p, the caller's own P (runnext or the tail), or
 * without a P on the global queue; then, with RQ_WAKE, make sure an idle
 * P gets an M to run it (wakep).  Readying, spawning, requeueing and
 * yielding all come here. */
static inline void runqput_any(struct rt_p *p, struct rt_g *g, int where, int wake)
{
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	if (p) {
		rt_runqput(p, g, where == RQ_NEXT);
	} else {
		rt_lock(&rt_sched.lock);
		rt_globrunqput(g);
		rt_unlock(&rt_sched.lock);
	}
	if (wake)
		rt_wakep();
}

/* runqput_any for the other files (spawn, a G that lost its P); inlined
 * here, on the readying path. */
void rt_runqput_any(struct rt_p *p, struct rt_g *g, int where, int wake)
{
	runqput_any(p, g, where, wake);
}

void rt_ready(struct rt_g *g)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = m ? rt_enter_p(m) : NULL;
	runqput_any(p, g, RQ_NEXT, RQ_WAKE);
	if (p)
		rt_leave_p(m, p);
}

/* Ask the G on the M that owns p (state word s) to give way at its next
 * safe point. */
void rt_preempt_request(uint32_t s)
{
	struct rt_m *m = rt_sched.allm[(s >> 8) - 1];
	atomic_store_explicit(&m->preempt, 1, memory_order_relaxed);
}

/* Ask one running P's G to give way (Gs wait on the global queue and no
 * P is idle); the search starts at a different P each time. */
static void preempt_one(void)
{
	static _Atomic unsigned rotor; /* any thread; only spreads the choice */
	unsigned start = atomic_fetch_add_explicit(&rotor, 1, memory_order_relaxed);
	unsigned n = (unsigned)rt_sched.nprocs;
	for (unsigned i = 0; i < n; i++) {
		uint32_t s = atomic_load(&rt_sched.allp[(start + i) % n].state);
		if ((s & 0xff) == P_RUNNING && (s >> 8) != 0) {
			rt_preempt_request(s);
			return;
		}
	}
}

/* Gs from the poller (no P: an idle M or the monitor): onto the global
 * queue under one lock (runqput_any's list form), and wake Ms for them;
 * with no P idle, ask a running G to give way to them. */
void rt_inject_from_poll(struct rt_g *list)
{
	if (!list)
		return;
	int n = 0;
	rt_lock(&rt_sched.lock);
	for (struct rt_g *g = list, *next; g; g = next, n++) {
		next = g->schedlink;
		atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
		rt_globrunqput(g);
	}
	rt_unlock(&rt_sched.lock);
	for (int i = 0; i < n && atomic_load(&rt_sched.npidle) > 0; i++)
		rt_startm(NULL, false);
	if (atomic_load(&rt_sched.npidle) == 0)
		preempt_one();
}

/* Put the poller's Gs at the tail of our P's ring, in the order the
 * poller readied them (deadline order for timers), behind the Gs readied
 * before them, and start a spinner if a P is idle. */
static void queue_poll_list(struct rt_p *p, struct rt_g *list)
{
	while (list) {
		struct rt_g *next = list->schedlink;
		atomic_store_explicit(&list->status, G_RUNNABLE, memory_order_relaxed);
		rt_runqput(p, list, false);
		list = next;
	}
	rt_wakep();
}

/* queue_poll_list, then the head of the queue: Gs readied earlier run
 * first.  NULL if thieves were quicker (the caller looks for work
 * again). */
static struct rt_g *take_poll_list(struct rt_p *p, struct rt_g *list)
{
	bool inherit;
	queue_poll_list(p, list);
	return rt_runqget(p, &inherit);
}

/* ---- finding work ------------------------------------------------------ */

/* Gs whose deadlines have passed, straight from the heap (no libev poll,
 * the poll lock held for a moment), join the ring like the poller's
 * (queue_poll_list), behind Gs the poller woke for earlier deadlines, so
 * that timers fire in deadline order.  False if none, or if the poll
 * lock is busy (its holder expires them). */
static bool take_due(struct rt_p *p)
{
	struct rt_g *list;
	if (rt_poll_expire(&list) != 0 || !list)
		return false;
	queue_poll_list(p, list);
	return true;
}

static struct rt_g *steal_work(struct rt_p *p)
{
	int n = rt_sched.nprocs;
	for (int pass = 0; pass < 4; pass++) {
		int start = (int)(rt_fastrand() % (uint64_t)n);
		for (int i = 0; i < n; i++) {
			struct rt_p *v = &rt_sched.allp[(start + i) % n];
			if (v == p)
				continue;
			struct rt_g *g = rt_runqsteal(p, v, pass == 3);
			if (g)
				return g;
		}
	}
	return NULL;
}

static struct rt_g *globrunq_take(struct rt_p *p, int max)
{
	if (atomic_load_explicit(&rt_sched.runqsize, memory_order_relaxed) == 0)
		return NULL;
	rt_lock(&rt_sched.lock);
	struct rt_g *g = rt_globrunqget(p, max);
	rt_unlock(&rt_sched.lock);
	return g;
}

static void drop_spinning(struct rt_m *m)
{
	if (m->spinning) {
		m->spinning = false;
		atomic_fetch_sub(&rt_sched.nmspinning, 1);
	}
}

/* After the last spinner found work, start another (Go's resetspinning). */
static void resetspinning(struct rt_m *m)
{
	drop_spinning(m);
	rt_wakep();
}

/* Called on g0, with m->p held if any; returns a G to run, with m->p held,
 * or NULL when the runtime stops.  May park the M. */
static struct rt_g *findrunnable(struct rt_m *m, bool *inherit)
{
	struct rt_g *g, *list;
	bool fair = m->fair;
	m->fair = false;
	*inherit = false;
top:
	if (atomic_load(&rt_sched.stopping))
		return NULL;
	if (!m->p) {
		rt_lock(&rt_sched.lock);
		struct rt_p *p = rt_pidleget();
		rt_unlock(&rt_sched.lock);
		if (!p)
			goto poll; /* no P to be had: be the poller, or park */
		rt_acquirep(m, p);
	}
	struct rt_p *p = m->p;
	uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	DEBUG_CHECK(rt_runq_check(p));

	/* 1. fairness, now and then and after a G gave way at a safe point
	 * or a deadline passed: the global queue; then due timers join the
	 * local ring, whose oldest G runs before runnext (which two Gs
	 * handing a value back and forth would otherwise keep for good). */
	bool pass = tick % 61 == 0 || fair;
	if (pass) {
		if ((g = globrunq_take(p, 1)))
			return g;
		if (rt_poll_due(rt_now()))
			take_due(p);
		if ((g = rt_runqget_oldest(p)))
			return g;
	}
	/* 2. local; after a fairness pass the G starts a new time slice
	 * (runnext would keep the old one, and with it schedtick at the
	 * fairness tick: every switch would come through g0 again). */
	if ((g = rt_runqget(p, inherit))) {
		*inherit = *inherit && !pass;
		return g;
	}
	/* 3. global. */
	if ((g = globrunq_take(p, 0)))
		return g;
	/* 4. non-blocking poll. */
	if (rt_poll_has_waiters() && rt_poll(false, &list) == 0 && list &&
	    (g = take_poll_list(p, list)))
		return g;
	/* 5. steal. */
	int busy = rt_sched.nprocs - atomic_load(&rt_sched.npidle);
	if (m->spinning || 2 * atomic_load(&rt_sched.nmspinning) < busy) {
		if (!m->spinning) {
			m->spinning = true;
			atomic_fetch_add(&rt_sched.nmspinning, 1);
		}
		if ((g = steal_work(p)))
			return g;
	}
	/* 6. give up the P.  The conditions here and in rt_handoffp (m.c)
	 * must agree: if this M would have found a G above, rt_handoffp
	 * must start an M for a P it hands off (local or global queue, a
	 * steal, the last P while things wait on libev). */
	rt_lock(&rt_sched.lock);
	if (atomic_load(&rt_sched.stopping)) {
		rt_unlock(&rt_sched.lock);
		return NULL;
	}
	if (atomic_load(&rt_sched.runqsize) > 0) {
		g = rt_globrunqget(p, 0);
		rt_unlock(&rt_sched.lock);
		return g;
	}
	m->p = NULL;
	rt_pidleput(p);
	rt_unlock(&rt_sched.lock);
	if (m->spinning) {
		drop_spinning(m);
		atomic_thread_fence(memory_order_seq_cst);
		for (int i = 0; i < rt_sched.nprocs; i++) {
			if (rt_runqempty(&rt_sched.allp[i]))
				continue;
			rt_lock(&rt_sched.lock);
			p = rt_pidleget();
			rt_unlock(&rt_sched.lock);
			if (p) {
				rt_acquirep(m, p);
				m->spinning = true;
				atomic_fetch_add(&rt_sched.nmspinning, 1);
				goto top;
			}
			break;
		}
	}
	/* 7. poll, blocking, while something waits on libev. */
poll:
	while (rt_poll_has_waiters() && !atomic_load(&rt_sched.stopping)) {
		if (rt_poll(true, &list) != 0)
			break; /* another M is the poller */
		if (!list && atomic_load(&rt_sched.runqsize) == 0)
			continue;
		rt_lock(&rt_sched.lock);
		p = rt_pidleget();
		rt_unlock(&rt_sched.lock);
		if (p) {
			/* We stop polling to run Gs: let a parked M take over. */
			rt_acquirep(m, p);
			if (atomic_load(&rt_sched.npidle) == 0)
				rt_poller_handoff();
			if (list && (g = take_poll_list(p, list)))
				return g;
			rt_poller_handoff();
			goto top;
		}
		/* Every P is busy: queue the Gs for them and keep polling. */
		rt_inject_from_poll(list);
	}
	/* 8. park. */
	rt_stopm(m);
	goto top;
}

/* ---- switching ----------------------------------------------------------- */

/* Put a G whose park commit said "not parked" back on a queue. */
static void requeue(struct rt_m *m, struct rt_g *g)
{
	runqput_any(m->p, g, RQ_NEXT, RQ_NOWAKE);
}

/* Run the park commit of the G that just switched out on this M. */
static void finish_park(struct rt_m *m)
{
	int (*fn)(struct rt_g *, void *) = m->park_fn;
	struct rt_g *g = m->park_g;
	m->park_fn = NULL;
	if (RT_UNLIKELY(!rt_stack_canary_ok(g)))
		rt_report_overflow(g, "canary overwritten");
	if (!fn(g, m->park_arg))
		requeue(m, g);
}

/* Bookkeeping before g runs on m (which holds its P). */
static void prepare_run(struct rt_m *m, struct rt_p *p, struct rt_g *g, bool inherit)
{
	if (!inherit)
		atomic_store_explicit(&p->schedtick,
				atomic_load_explicit(&p->schedtick, memory_order_relaxed) + 1,
				memory_order_relaxed);
	atomic_store_explicit(&p->switchtick,
			atomic_load_explicit(&p->switchtick, memory_order_relaxed) + 1,
			memory_order_relaxed);
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	m->curg = g;
}

/* Run g on this M (g0 -> g) until it switches back to g0. */
static void execute(struct rt_m *m, struct rt_g *g, bool inherit)
{
	struct rt_p *p = m->p;
	prepare_run(m, p, g, inherit);
	atomic_store_explicit(&m->in_rt, 0, memory_order_release);
	rt_fiber_leave(&m->asan_fake, g->stack->lo, (size_t)(g->stack->hi - g->stack->lo),
			rt_fiber_of_g(g));
	rt_ctx_swap(&m->g0, &g->ctx);
	rt_fiber_arrive(m->asan_fake);
	/* Back on g0 (in_rt == 1): a G saved its context; the P is ours or gone. */
	m->curg = NULL;
	finish_park(m);
}

/* What every G does when it resumes, on whichever M: finish a direct
 * switch (run the commit of the G that switched to us, then hand the P
 * back to user code) and take back its errno. */
void rt_arrive(struct rt_g *g)
{
	rt_fiber_arrive(g->asan_fake);
	struct rt_m *m = rt_m_current();
	if (m->park_fn) {
		finish_park(m);
		rt_leave_p(m, m->p);
	}
	*rt_errno() = g->saved_errno;
}

/* The next G for a direct switch: runnext or the local queue, unless the
 * scheduler has periodic work due (global queue fairness, timers) or is
 * stopping.  The fairness tick is findrunnable's (schedtick % 61 == 0),
 * and must be: a pair handing the P back and forth through runnext keeps
 * one schedtick for its whole slice, and on a tick the two disagreed on
 * every switch of that slice would go through g0 and meet neither the
 * fairness pass nor the clock check.  Every TIMER_CHECK_SWITCHES
 * switches, while a deadline is pending, it reads the clock: with a deadline passed, the M goes through
 * g0 for a fairness pass (m->fair), which queues the G whose deadline it
 * was behind the Gs readied before it and runs the oldest, so a sleep
 * ends on time, in deadline order, while Gs pass the P to each other,
 * without waking another thread (Go checks its timers at every
 * schedule).  With no deadline pending the check costs one load.  P held,
 * in_rt == 1. */
#define TIMER_CHECK_SWITCHES 8
static struct rt_g *next_local(struct rt_m *m, struct rt_p *p, bool *inherit)
{
	uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	if (tick % 61 == 0 || atomic_load_explicit(&rt_sched.stopping, memory_order_relaxed))
		return NULL;
	uint32_t sw = atomic_load_explicit(&p->switchtick, memory_order_relaxed);
	int64_t due;
	if (RT_UNLIKELY(sw % TIMER_CHECK_SWITCHES == 0) && (due = rt_poll_next_deadline()) != INT64_MAX &&
	    due <= rt_now()) {
		m->fair = true;
		return NULL;
	}
	return rt_runqget(p, inherit);
}

/* Switch away from g, whose park commit is in m->park_fn: straight to the
 * next local G when there is one (one context switch), else through g0.
 * Returns when g is resumed. */
void rt_park_switch(struct rt_m *m, struct rt_g *g, bool dying)
{
	bool inherit;
	struct rt_p *p = m->p;
	struct rt_g *next = p ? next_local(m, p, &inherit) : NULL;
	m->park_g = g;
	g->saved_errno = *__errno_location();
	if (next) {
		prepare_run(m, p, next, inherit);
		rt_fiber_leave(dying ? NULL : &g->asan_fake, next->stack->lo,
				(size_t)(next->stack->hi - next->stack->lo), rt_fiber_of_g(next));
		rt_ctx_swap(&g->ctx, &next->ctx);
	} else {
		rt_fiber_leave(dying ? NULL : &g->asan_fake, m->g0_lo,
				(size_t)((char *)m->g0_hi - (char *)m->g0_lo), rt_fiber_of_g0(m));
		rt_ctx_swap(&g->ctx, &m->g0);
	}
	/* Resumed, possibly on another M: g is still valid, m is not. */
	rt_arrive(g);
}

/* rt_park_switch's way through g0, whatever the local queue holds. */
static void park_switch_g0(struct rt_m *m, struct rt_g *g)
{
	m->park_g = g;
	g->saved_errno = *__errno_location();
	rt_fiber_leave(&g->asan_fake, m->g0_lo, (size_t)((char *)m->g0_hi - (char *)m->g0_lo),
			rt_fiber_of_g0(m));
	rt_ctx_swap(&g->ctx, &m->g0);
	rt_arrive(g);
}

void rt_schedule(struct rt_m *m)
{
	bool inherit;
	struct rt_g *g;
	while ((g = findrunnable(m, &inherit))) {
		if (m->spinning)
			resetspinning(m);
		execute(m, g, inherit);
	}
	rt_assert(atomic_load(&rt_sched.stopping), "findrunnable gave up while running");
}

void rt_lock_held(int delta)
{
	struct rt_g *g = rt_g_current();
	if (!g)
		return;
	g->locks += delta;
	rt_assert(g->locks >= 0, "rt_lock_held: more locks released than taken");
}

/* Park without the held-locks check: for a G that will never run again. */
void rt_park_unchecked(struct rt_m *m, struct rt_g *g, int (*fn)(struct rt_g *, void *), void *arg,
		const char *reason)
{
	rt_enter_p(m);
	g->wait_reason = reason;
	atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
	m->park_fn = fn;
	m->park_arg = arg;
	rt_park_switch(m, g, false);
}

void rt_park(int (*fn)(struct rt_g *, void *), void *arg, const char *reason)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m->curg;
	rt_assert(g, "park outside a green thread");
	if (RT_UNLIKELY(g->locks != 0))
		rt_holding_locks(g, "parks", reason);
	rt_park_unchecked(m, g, fn, arg, reason);
}

/* The yielder goes behind the local queue; this M runs what is next, so
 * nobody needs waking. */
static int yield_commit(struct rt_g *g, void *arg)
{
	(void)arg;
	runqput_any(rt_m_current()->p, g, RQ_TAIL, RQ_NOWAKE);
	return 1;
}

void rt_yield(void)
{
	rt_park(yield_commit, NULL, "yield");
}

/* The monitor asked this G to give way.  It goes behind the local queue
 * as in rt_yield, but through g0, whose findrunnable first looks at the
 * global queue and due timers (m->fair) and starts a new time slice: a
 * G handed over through runnext would otherwise inherit the old one, and
 * a pair of Gs passing values back and forth would keep the P for good.
 * A G holding a lock cannot park; it gives way at its next safe point. */
void rt_preempt_yield(struct rt_m *m)
{
	struct rt_g *g = m->curg;
	atomic_store_explicit(&m->preempt, 0, memory_order_relaxed);
	if (!g || g->locks != 0)
		return;
	atomic_fetch_add_explicit(&rt_sched.preempts, 1, memory_order_relaxed);
	rt_enter_p(m);
	g->wait_reason = "preempted";
	atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
	m->park_fn = yield_commit;
	m->park_arg = NULL;
	m->fair = true;
	park_switch_g0(m, g);
}

void rt_safe_point(void)
{
	struct rt_m *m = rt_m_current();
	if (m && m->curg)
		rt_preempt_point(m);
}
