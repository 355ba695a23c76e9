#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * sched.c - the G/M/P scheduler.
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
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fiber.h"
#include "rt_internal.h"

struct rt_sched rt_sched;

static __thread struct rt_m *tls_m;

#define MAX_MS 10000
#define G0_STACK (256u << 10)

/* ---- current M, errno ------------------------------------------------- */

__attribute__((noipa)) struct rt_m *rt_m_current(void)
{
	return tls_m;
}

__attribute__((noipa)) int *rt_errno(void)
{
	return __errno_location();
}

struct rt_g *rt_g_current(void)
{
	struct rt_m *m = rt_m_current();
	return m ? m->curg : NULL;
}

uint64_t rt_fastrand(void)
{
	struct rt_m *m = rt_m_current();
	uint64_t x = m->rand;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return m->rand = x;
}

void rt_fatal(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "grun: runtime: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0) {
		/* nothing left to report with */
	}
	abort();
}

/* ---- P ownership -------------------------------------------------------- */

static inline uint32_t mid(const struct rt_m *m)
{
	return (uint32_t)m->id + 1;
}

/* Enter the runtime from a G's code: from now on the SIGURG handler
 * leaves the P alone.  Returns the P, or NULL if the M lost it.  On g0
 * (curg == NULL) in_rt is already 1. */
static inline struct rt_p *enter_p(struct rt_m *m)
{
	atomic_store_explicit(&m->in_rt, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	return m->p;
}

/* Back to the G's code (no-op on g0). */
static inline void leave_p(struct rt_m *m, struct rt_p *p)
{
	(void)p;
	if (m->curg)
		atomic_store_explicit(&m->in_rt, 0, memory_order_release);
}

static void acquirep(struct rt_m *m, struct rt_p *p)
{
	m->p = p;
	atomic_store_explicit(&p->state, PSTATE(mid(m), P_RUNNING), memory_order_release);
}

/* Debug check, sched.lock held: the idle list holds exactly the npidle
 * Ps whose state is P_IDLE. */
static __attribute__((unused)) void pidle_check(void)
{
	int n = 0;
	for (struct rt_p *p = rt_sched.pidle; p; p = p->link, n++)
		rt_assert(atomic_load(&p->state) == PSTATE(0, P_IDLE), "a P on the idle list is not idle");
	rt_assert(n == atomic_load(&rt_sched.npidle), "npidle differs from the idle list");
	int idle = 0;
	for (int i = 0; i < rt_sched.nprocs; i++)
		idle += atomic_load(&rt_sched.allp[i].state) == PSTATE(0, P_IDLE);
	rt_assert(idle == n || atomic_load(&rt_sched.stopping), "an idle P is missing from the idle list");
}

/* Idle P list; sched.lock held. */
static struct rt_p *pidleget(void)
{
	DEBUG_CHECK(pidle_check());
	struct rt_p *p = rt_sched.pidle;
	if (p) {
		rt_sched.pidle = p->link;
		atomic_fetch_sub_explicit(&rt_sched.npidle, 1, memory_order_relaxed);
		rt_sysmon_wake();
	}
	return p;
}

static void pidleput(struct rt_p *p)
{
	rt_assert(rt_runqempty(p), "pidleput: P has runnable Gs");
	atomic_store_explicit(&p->state, PSTATE(0, P_IDLE), memory_order_relaxed);
	p->link = rt_sched.pidle;
	rt_sched.pidle = p;
	atomic_fetch_add_explicit(&rt_sched.npidle, 1, memory_order_relaxed);
	DEBUG_CHECK(pidle_check());
}

/* ---- M creation and parking --------------------------------------------- */

static void *m_main(void *arg);

/* The calling thread's stack bounds, for the sanitizers. */
static void m_stack_bounds(struct rt_m *m)
{
	pthread_attr_t a;
	void *lo = NULL;
	size_t size = 0;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &lo, &size);
		pthread_attr_destroy(&a);
	}
	m->g0_lo = lo;
	m->g0_hi = (char *)lo + size;
}

/* Per-M setup on the M's own thread: TLS, signal stack, fibers. */
static void m_bind(struct rt_m *m)
{
	tls_m = m;
	m->self = pthread_self();
	m_stack_bounds(m);
	rt_fiber_init_m(m);
	size_t sz = 64 << 10;
	m->sigstack = malloc(sz);
	if (m->sigstack) {
		stack_t ss = { .ss_sp = m->sigstack, .ss_size = sz, .ss_flags = 0 };
		sigaltstack(&ss, NULL);
	}
}

static void m_unbind(struct rt_m *m)
{
	stack_t ss = { .ss_flags = SS_DISABLE };
	sigaltstack(&ss, NULL);
	free(m->sigstack);
	m->sigstack = NULL;
	tls_m = NULL;
}

/* Allocate an M; sched.lock held.  NULL at the M limit. */
static struct rt_m *m_alloc(void)
{
	if (rt_sched.nm >= rt_sched.maxm)
		return NULL;
	struct rt_m *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->id = rt_sched.nm;
	atomic_store_explicit(&m->in_rt, 1, memory_order_relaxed); /* g0 until it runs a G */
	m->rand = 0x9e3779b97f4a7c15ULL * (uint64_t)(m->id + 1) ^ (uint64_t)rt_now();
	if (!m->rand)
		m->rand = 1;
	rt_sched.allm[rt_sched.nm++] = m;
	atomic_fetch_add_explicit(&rt_sched.nms, 1, memory_order_relaxed);
	return m;
}

static int m_spawn_thread(struct rt_m *m)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
#if defined(RT_SANITIZE_ADDRESS) || defined(RT_SANITIZE_THREAD)
	pthread_attr_setstacksize(&a, 4 * G0_STACK);
#else
	pthread_attr_setstacksize(&a, G0_STACK);
#endif
	int err = pthread_create(&m->thread, &a, m_main, m);
	pthread_attr_destroy(&a);
	return err;
}

/* Run p on an idle M, or a new one.  p == NULL: take an idle P, if
 * none, give up (and undo the caller's spinning count). */
static void startm(struct rt_p *p, bool spinning)
{
	rt_lock(&rt_sched.lock);
	if (atomic_load(&rt_sched.stopping)) {
		if (p)
			atomic_store(&p->state, PSTATE(0, P_IDLE));
		rt_unlock(&rt_sched.lock);
		if (spinning)
			atomic_fetch_sub(&rt_sched.nmspinning, 1);
		return;
	}
	if (!p) {
		p = pidleget();
		if (!p) {
			rt_unlock(&rt_sched.lock);
			if (spinning)
				atomic_fetch_sub(&rt_sched.nmspinning, 1);
			return;
		}
	}
	struct rt_m *m = rt_sched.midle;
	bool fresh = false;
	if (m) {
		rt_sched.midle = m->schedlink;
		rt_sched.nmidle--;
	} else {
		m = m_alloc();
		fresh = true;
		if (!m) {
			pidleput(p);
			rt_unlock(&rt_sched.lock);
			if (spinning)
				atomic_fetch_sub(&rt_sched.nmspinning, 1);
			return;
		}
	}
	m->nextp = p;
	m->spinning = spinning;
	/* release: the monitor reads allm[owner] after seeing this state */
	atomic_store_explicit(&p->state, PSTATE(mid(m), P_RUNNING), memory_order_release);
	rt_unlock(&rt_sched.lock);
	if (fresh) {
		if (m_spawn_thread(m) != 0)
			rt_fatal("cannot create an OS thread (M %d)", m->id);
		return;
	}
	atomic_store_explicit(&m->park, 1, memory_order_release);
	rt_futex_wake(&m->park, 1);
}

/* Take m off the idle list if it is still there; sched.lock held. */
static bool midle_remove(struct rt_m *m)
{
	for (struct rt_m **pp = &rt_sched.midle; *pp; pp = &(*pp)->schedlink)
		if (*pp == m) {
			*pp = m->schedlink;
			rt_sched.nmidle--;
			return true;
		}
	return false;
}

/* Park the M (which has no P) until startm() hands it one, the poller
 * hands it its role, or the runtime stops.
 *
 * Never park while things wait on libev and nobody polls: a poller that
 * stopped polling to run Gs looked for an idle M to take over before
 * this M was on the list.  The M is listed first (under the lock), then
 * checks the polling flag, and the poller clears the flag before it
 * looks at the list, so one of the two sees the other. */
static void stopm(struct rt_m *m)
{
	rt_assert(!m->p, "stopm: M holds a P");
	rt_lock(&rt_sched.lock);
	if (atomic_load(&rt_sched.stopping)) {
		rt_unlock(&rt_sched.lock);
		return;
	}
	atomic_store_explicit(&m->park, 0, memory_order_relaxed);
	m->schedlink = rt_sched.midle;
	rt_sched.midle = m;
	rt_sched.nmidle++;
	rt_unlock(&rt_sched.lock);
	atomic_thread_fence(memory_order_seq_cst);
	if (rt_poll_has_waiters() && !rt_poll_active()) {
		rt_lock(&rt_sched.lock);
		bool mine = midle_remove(m);
		rt_unlock(&rt_sched.lock);
		if (mine)
			return; /* back to findrunnable, which polls */
	}
	while (atomic_load_explicit(&m->park, memory_order_acquire) == 0)
		rt_futex_wait(&m->park, 0);
	if (m->nextp) {
		m->p = m->nextp;
		m->nextp = NULL;
	}
}

/* Start a spinning M if a P is idle and nobody spins (Go's wakep). */
static void wakep(void)
{
	if (atomic_load_explicit(&rt_sched.npidle, memory_order_relaxed) == 0)
		return;
	int zero = 0;
	if (atomic_load_explicit(&rt_sched.nmspinning, memory_order_relaxed) != 0 ||
	    !atomic_compare_exchange_strong(&rt_sched.nmspinning, &zero, 1))
		return;
	startm(NULL, true);
}

/* Hand off a P whose M is gone (blocking call, hog) or that sysmon
 * took; p is owned by the caller with no M. */
void rt_handoffp(struct rt_p *p)
{
	if (!rt_runqempty(p) || atomic_load(&rt_sched.runqsize) > 0) {
		startm(p, false);
		return;
	}
	int zero = 0;
	if (atomic_load(&rt_sched.nmspinning) + atomic_load(&rt_sched.npidle) == 0 &&
	    atomic_compare_exchange_strong(&rt_sched.nmspinning, &zero, 1)) {
		startm(p, true);
		return;
	}
	rt_lock(&rt_sched.lock);
	if (atomic_load(&rt_sched.runqsize) > 0) {
		rt_unlock(&rt_sched.lock);
		startm(p, false);
		return;
	}
	/* The last P going idle while things wait in libev: someone must poll. */
	if (atomic_load(&rt_sched.npidle) == rt_sched.nprocs - 1 && rt_poll_has_waiters()) {
		rt_unlock(&rt_sched.lock);
		startm(p, false);
		return;
	}
	pidleput(p);
	rt_unlock(&rt_sched.lock);
}

bool rt_sched_has_work(void)
{
	return atomic_load_explicit(&rt_sched.runqsize, memory_order_relaxed) > 0;
}

/* ---- readying ------------------------------------------------------------ */

enum { RQ_TAIL = 0, RQ_NEXT = 1 };      /* where on p: the tail, or runnext */
enum { RQ_NOWAKE = 0, RQ_WAKE = 1 };    /* then start an M for an idle P? */

/* Make g runnable: on p, the caller's own P (runnext or the tail), or
 * without a P on the global queue; then, with RQ_WAKE, make sure an idle
 * P gets an M to run it (wakep).  Readying, spawning, requeueing and
 * yielding all come here. */
static void runqput_any(struct rt_p *p, struct rt_g *g, int where, int wake)
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
		wakep();
}

void rt_ready(struct rt_g *g)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = m ? enter_p(m) : NULL;
	runqput_any(p, g, RQ_NEXT, RQ_WAKE);
	if (p)
		leave_p(m, p);
}

/* Gs from the poller (no P: an idle M or the monitor): onto the global
 * queue under one lock (runqput_any's list form), and wake Ms for them. */
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
		startm(NULL, false);
}

/* Put the poller's Gs at the tail of our P's queue, in the order the
 * poller readied them (deadline order for timers), and return the head
 * of the queue: Gs readied earlier run first.  NULL if thieves were
 * quicker (the caller looks for work again). */
static struct rt_g *take_poll_list(struct rt_p *p, struct rt_g *list)
{
	bool inherit;
	while (list) {
		struct rt_g *next = list->schedlink;
		atomic_store_explicit(&list->status, G_RUNNABLE, memory_order_relaxed);
		rt_runqput(p, list, false);
		list = next;
	}
	wakep();
	return rt_runqget(p, &inherit);
}

/* ---- finding work ------------------------------------------------------ */

/* The poller is about to run Gs while things still wait on libev: wake a
 * parked M (without a P) so that it becomes the poller.  Otherwise a
 * timer could wait for the busy M's next trip through the scheduler. */
static void poller_handoff(void)
{
	if (!rt_poll_has_waiters())
		return;
	rt_lock(&rt_sched.lock);
	struct rt_m *m = rt_sched.midle;
	if (m) {
		rt_sched.midle = m->schedlink;
		rt_sched.nmidle--;
		m->nextp = NULL;
		m->spinning = false;
	}
	rt_unlock(&rt_sched.lock);
	if (m) {
		atomic_store_explicit(&m->park, 1, memory_order_release);
		rt_futex_wake(&m->park, 1);
	}
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
	wakep();
}

/* Called on g0, with m->p held if any; returns a G to run, with m->p held,
 * or NULL when the runtime stops.  May park the M. */
static struct rt_g *findrunnable(struct rt_m *m, bool *inherit)
{
	struct rt_g *g, *list;
	*inherit = false;
top:
	if (atomic_load(&rt_sched.stopping))
		return NULL;
	if (!m->p) {
		rt_lock(&rt_sched.lock);
		struct rt_p *p = pidleget();
		rt_unlock(&rt_sched.lock);
		if (!p)
			goto poll; /* no P to be had: be the poller, or park */
		acquirep(m, p);
	}
	struct rt_p *p = m->p;
	uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	DEBUG_CHECK(rt_runq_check(p));

	/* 1. fairness: the global queue, and due timers, now and then. */
	if (tick % 61 == 0) {
		if ((g = globrunq_take(p, 1)))
			return g;
		if (rt_poll_due(rt_now()) && rt_poll(false, &list) == 0 && list &&
		    (g = take_poll_list(p, list)))
			return g;
	}
	/* 2. local. */
	if ((g = rt_runqget(p, inherit)))
		return g;
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
	/* 6. give up the P. */
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
	pidleput(p);
	rt_unlock(&rt_sched.lock);
	if (m->spinning) {
		drop_spinning(m);
		atomic_thread_fence(memory_order_seq_cst);
		for (int i = 0; i < rt_sched.nprocs; i++) {
			if (rt_runqempty(&rt_sched.allp[i]))
				continue;
			rt_lock(&rt_sched.lock);
			p = pidleget();
			rt_unlock(&rt_sched.lock);
			if (p) {
				acquirep(m, p);
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
		p = pidleget();
		rt_unlock(&rt_sched.lock);
		if (p) {
			/* We stop polling to run Gs: let a parked M take over. */
			acquirep(m, p);
			poller_handoff();
			if (list && (g = take_poll_list(p, list)))
				return g;
			goto top;
		}
		/* Every P is busy: queue the Gs for them and keep polling. */
		rt_inject_from_poll(list);
	}
	/* 8. park. */
	stopm(m);
	goto top;
}

/* ---- switching ----------------------------------------------------------- */

static void report_overflow(struct rt_g *g, const char *how);

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
		report_overflow(g, "canary overwritten");
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
static void arrive(struct rt_g *g)
{
	rt_fiber_arrive(g->asan_fake);
	struct rt_m *m = rt_m_current();
	if (m->park_fn) {
		finish_park(m);
		leave_p(m, m->p);
	}
	*rt_errno() = g->saved_errno;
}

/* The next G for a direct switch: runnext or the local queue, unless the
 * scheduler has periodic work due (global queue fairness, timers) or is
 * stopping.  P held, in_rt == 1. */
static struct rt_g *next_local(struct rt_p *p, bool *inherit)
{
	uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	if (tick % 61 == 60 || atomic_load_explicit(&rt_sched.stopping, memory_order_relaxed))
		return NULL;
	return rt_runqget(p, inherit);
}

/* Switch away from g, whose park commit is in m->park_fn: straight to the
 * next local G when there is one (one context switch), else through g0.
 * Returns when g is resumed. */
static void park_switch(struct rt_m *m, struct rt_g *g, bool dying)
{
	bool inherit;
	struct rt_p *p = m->p;
	struct rt_g *next = p ? next_local(p, &inherit) : NULL;
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
	arrive(g);
}

static void schedule(struct rt_m *m)
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

/* Cold: a G switching away while it holds locks (see rt_lock_held). */
static __attribute__((noreturn, noinline, cold)) void holding_locks(struct rt_g *g,
		const char *what, const char *reason)
{
	char id[32];
	if (!g->name)
		snprintf(id, sizeof id, "g%llu", (unsigned long long)g->id);
	rt_fatal("G \"%s\" %s while holding %d lock(s) (%s)", g->name ? g->name : id, what,
			g->locks, reason);
}

/* Park without the held-locks check: for a G that will never run again. */
static void park_g(struct rt_m *m, struct rt_g *g, int (*fn)(struct rt_g *, void *), void *arg,
		const char *reason)
{
	enter_p(m);
	g->wait_reason = reason;
	atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
	m->park_fn = fn;
	m->park_arg = arg;
	park_switch(m, g, false);
}

void rt_park(int (*fn)(struct rt_g *, void *), void *arg, const char *reason)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m->curg;
	rt_assert(g, "park outside a green thread");
	if (RT_UNLIKELY(g->locks != 0))
		holding_locks(g, "parks", reason);
	park_g(m, g, fn, arg, reason);
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

/* ---- spawn and exit ------------------------------------------------------ */

static void stop_the_world(void);

/* Owner-only counter: a plain increment, published for rt_stats_get(). */
static inline void counter_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			memory_order_relaxed);
}

static int exit_commit(struct rt_g *g, void *arg)
{
	struct rt_m *m = rt_m_current();
	(void)arg;
	atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
	rt_fiber_fini_g(g);
	bool main_g = g == rt_sched.main_g;
	rt_stack_put(m->p, g->stack);
	if (main_g)
		stop_the_world();
	return 1;
}

void rt_exit(void)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m->curg;
	rt_assert(g, "rt_exit outside a green thread");
	if (RT_UNLIKELY(g->locks != 0))
		holding_locks(g, "exits", "rt_exit");
	struct rt_p *p = enter_p(m);
	if (p)
		counter_inc(&p->nexited);
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
		park_switch(m, g, true);
	}
	rt_fatal("a dead green thread was resumed");
}

static void g_entry(void *arg)
{
	struct rt_g *g = arg;
	arrive(g);
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

static int spawn(const char *name, void (*fn)(void *), void *arg, struct rt_g **out)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = m ? enter_p(m) : NULL;
	struct rt_g *g = rt_stack_get(p);
	if (!g) {
		if (m)
			leave_p(m, p);
		errno = EAGAIN;
		return -1;
	}
	/* Room in the global queue for every G that can exist (see struct
	 * rt_sched); the slow path runs when a stack was carved. */
	uint64_t carved = rt_stacks_carved();
	if (RT_UNLIKELY(carved > atomic_load_explicit(&rt_sched.runqcap, memory_order_relaxed)) &&
	    rt_globrunq_reserve(carved) != 0) {
		rt_stack_put(p, g->stack);
		if (m)
			leave_p(m, p);
		rt_limit_set("out of memory for the global run queue");
		errno = EAGAIN;
		return -1;
	}
	g->id = goid_new(p);
	g->name = name;
	g->fn = fn;
	g->arg = arg;
	rt_ctx_make(&g->ctx, g->stack->lo, g->stack->hi, g_entry, g);
	rt_fiber_init_g(g);
	if (p)
		counter_inc(&p->nspawned);
	else
		atomic_fetch_add_explicit(&rt_sched.spawned_nop, 1, memory_order_relaxed);
	if (out)
		*out = g;
	runqput_any(p, g, RQ_NEXT, RQ_WAKE);
	if (p)
		leave_p(m, p);
	return 0;
}

int rt_go_named(const char *name, void (*fn)(void *), void *arg)
{
	return spawn(name, fn, arg, NULL);
}

int rt_go(void (*fn)(void *), void *arg)
{
	return spawn(NULL, fn, arg, NULL);
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

int rt_m_id(void)
{
	struct rt_m *m = rt_m_current();
	return m ? m->id : -1;
}

int rt_procs(void)
{
	return rt_sched.nprocs;
}

/* ---- blocking regions -------------------------------------------------- */

void rt_blocking_begin(void)
{
	struct rt_m *m = rt_m_current();
	struct rt_p *p = enter_p(m);
	if (p) {
		atomic_fetch_add_explicit(&p->syscalltick, 1, memory_order_relaxed);
		atomic_store_explicit(&p->state, PSTATE(mid(m), P_SYSCALL), memory_order_release);
	}
	leave_p(m, p);
}

static int lostp_commit(struct rt_g *g, void *arg)
{
	(void)arg;
	runqput_any(NULL, g, RQ_TAIL, RQ_WAKE);
	return 1;
}

/* The M lost its P: take an idle one or queue the G globally. */
static void reacquire_p(struct rt_m *m)
{
	rt_lock(&rt_sched.lock);
	struct rt_p *p = pidleget();
	rt_unlock(&rt_sched.lock);
	if (p) {
		acquirep(m, p);
		leave_p(m, p);
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
	struct rt_p *p = enter_p(m);
	bool back = false;
	if (p) {
		uint32_t want = PSTATE(mid(m), P_SYSCALL);
		back = atomic_compare_exchange_strong_explicit(&p->state, &want,
				PSTATE(mid(m), P_RUNNING), memory_order_acquire, memory_order_relaxed);
		if (back)
			leave_p(m, p);
		else
			m->p = NULL;
	}
	if (!back)
		reacquire_p(m);
	/* A G back from a blocking call after the main G returned is
	 * discarded like the parked ones, or its M would never stop. */
	if (RT_UNLIKELY(atomic_load_explicit(&rt_sched.stopping, memory_order_relaxed)))
		park_g(rt_m_current(), rt_g_current(), discard_commit, NULL, "runtime stopped");
}

/* ---- overflow reports -------------------------------------------------- */

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		buf[i++] = tmp[--n];
	return i;
}

static size_t fmt_str(char *buf, const char *s, size_t max)
{
	size_t n = 0;
	while (s && s[n] && n < max)
		buf[n] = s[n], n++;
	return n;
}

/* Async-signal-safe: one write(2) of the message. */
static void write_overflow(const struct rt_g *g, const char *how)
{
	char buf[256];
	size_t n = fmt_str(buf, "grun: runtime: green thread ", 64);
	n += fmt_u64(buf + n, g->id);
	if (g->name) {
		n += fmt_str(buf + n, " (", 2);
		n += fmt_str(buf + n, g->name, 64);
		n += fmt_str(buf + n, ")", 1);
	}
	n += fmt_str(buf + n, " overflowed its stack of ", 32);
	n += fmt_u64(buf + n, rt_stack_size());
	n += fmt_str(buf + n, " bytes (", 8);
	n += fmt_str(buf + n, how, 40);
	n += fmt_str(buf + n, ")\n", 2);
	if (write(2, buf, n) < 0) {
		/* nothing to do */
	}
}

static void report_overflow(struct rt_g *g, const char *how)
{
	write_overflow(g, how);
	abort();
}

static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct rt_m *m = tls_m;
	struct rt_g *g = m ? m->curg : NULL;
	(void)uc;
	if (g && rt_stack_in_guard(g, si->si_addr))
		write_overflow(g, "guard page hit");
	/* Re-raise with the default action: returning re-runs the fault. */
	signal(sig, SIG_DFL);
}

/* SIGURG from the monitor: this M's G has run > 10 ms while others wait.
 * If the G is in its own code, give the P up for the monitor to hand on;
 * the M notices at its next runtime entry (enter_p returns NULL). */
static void on_preempt(int sig, siginfo_t *si, void *uc)
{
	struct rt_m *m = tls_m;
	(void)sig; (void)si; (void)uc;
	if (!m || !m->curg || atomic_load_explicit(&m->in_rt, memory_order_relaxed))
		return;
	struct rt_p *p = m->p;
	uint32_t want = p ? PSTATE(mid(m), P_RUNNING) : 0;
	if (p && atomic_compare_exchange_strong(&p->state, &want, PSTATE(0, P_HANDOFF)))
		m->p = NULL;
}

static struct sigaction old_urg;

static void fault_handlers_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_preempt;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGURG, &sa, &old_urg);

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
}

static void fault_handlers_restore(void)
{
	sigaction(SIGURG, &old_urg, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
}

/* ---- start and stop --------------------------------------------------- */

static void *m_main(void *arg)
{
	struct rt_m *m = arg;
	m_bind(m);
	m->p = m->nextp;
	m->nextp = NULL;
	schedule(m);
	if (m->p) {
		/* Hand the P back so the final accounting sees it idle. */
		rt_lock(&rt_sched.lock);
		struct rt_p *p = m->p;
		m->p = NULL;
		atomic_store(&p->state, PSTATE(0, P_IDLE));
		rt_unlock(&rt_sched.lock);
	}
	m_unbind(m);
	return NULL;
}

/* The main G has exited: every M leaves its scheduler loop. */
static void stop_the_world(void)
{
	rt_lock(&rt_sched.lock);
	atomic_store(&rt_sched.stopping, true);
	for (struct rt_m *m = rt_sched.midle; m; m = m->schedlink) {
		m->nextp = NULL;
		atomic_store_explicit(&m->park, 1, memory_order_release);
		rt_futex_wake(&m->park, 1);
	}
	rt_sched.midle = NULL;
	rt_sched.nmidle = 0;
	rt_unlock(&rt_sched.lock);
	rt_poll_stop();
	rt_sysmon_wake();
}

int rt_default_procs(void)
{
	int q = rt_cpus_quota();
	if (q > 0)
		return q;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void rt_config_default(struct rt_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->guard_pages = 1;
	sigemptyset(&cfg->signals);
}

static struct rt_m *m0_setup(void)
{
	rt_sched.maxm = MAX_MS;
	rt_sched.allm = calloc(MAX_MS, sizeof *rt_sched.allm);
	if (!rt_sched.allm)
		return NULL;
	struct rt_m *m = m_alloc();
	if (!m)
		return NULL;
	m->thread = pthread_self();
	m_bind(m);
	return m;
}

static int procs_setup(int n)
{
	rt_sched.nprocs = n;
	rt_sched.allp = aligned_alloc(64, ((sizeof(struct rt_p) * (size_t)n) + 63) & ~(size_t)63);
	if (!rt_sched.allp)
		return -1;
	memset(rt_sched.allp, 0, sizeof(struct rt_p) * (size_t)n);
	for (int i = 0; i < n; i++)
		atomic_store(&rt_sched.allp[i].state, PSTATE(0, P_RUNNING)); /* not yet listed */
	for (int i = n - 1; i >= 0; i--) {
		rt_sched.allp[i].id = i;
		pidleput(&rt_sched.allp[i]);
	}
	return 0;
}

static void teardown(struct rt_m *m0)
{
	rt_sysmon_stop();
	for (int i = 1; i < rt_sched.nm; i++)
		if (rt_sched.allm[i]->thread)
			pthread_join(rt_sched.allm[i]->thread, NULL);
	rt_poll_fini();
	rt_stacks_fini();
	if (m0)
		m_unbind(m0);
	for (int i = 0; i < rt_sched.nm; i++)
		free(rt_sched.allm[i]);
	free(rt_sched.allm);
	free(rt_sched.allp);
	free(rt_sched.runq);
	memset(&rt_sched, 0, sizeof rt_sched);
}

static struct {
	void (*fn)(void *);
	void *arg;
} main_call;

static void main_entry(void *arg)
{
	(void)arg;
	main_call.fn(main_call.arg);
}

int rt_run(const struct rt_config *cfg, void (*main_fn)(void *), void *arg)
{
	struct rt_config def;
	if (!cfg) {
		rt_config_default(&def);
		cfg = &def;
	}
	if (tls_m || cfg->procs < 0 || cfg->procs > 4096 ||
	    sigismember(&cfg->signals, SIGURG) == 1 || sigismember(&cfg->signals, SIGSEGV) == 1) {
		errno = tls_m ? EBUSY : EINVAL;
		return -1;
	}
	memset(&rt_sched, 0, sizeof rt_sched);
	int procs = cfg->procs ? cfg->procs : rt_default_procs();
	if (rt_stacks_init(cfg->stack_size, cfg->guard_pages) != 0)
		return -1;

	sigset_t block = cfg->signals, oldmask;
	sigaddset(&block, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &block, &oldmask);
	rt_sched.sigmask = block;
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldpipe;
	sigaction(SIGPIPE, &ign, &oldpipe);
	fault_handlers_install();
	rt_proc_snapshot_signals();

	struct rt_m *m0 = m0_setup();
	int err = 0;
	if (!m0 || procs_setup(procs) != 0)
		err = ENOMEM;
	else if (rt_poll_init(&cfg->signals) != 0 || rt_sysmon_start() != 0)
		err = errno ? errno : EAGAIN;
	if (!err) {
		main_call.fn = main_fn;
		main_call.arg = arg;
		rt_lock(&rt_sched.lock);
		acquirep(m0, pidleget());
		rt_unlock(&rt_sched.lock);
		if (spawn("main", main_entry, NULL, &rt_sched.main_g) != 0)
			err = errno;
		else
			schedule(m0);
	}
	m0 = rt_m_current();
	teardown(m0);
	fault_handlers_restore();
	sigaction(SIGPIPE, &oldpipe, NULL);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* ---- introspection --------------------------------------------------- */

void rt_stats_get(struct rt_stats *st)
{
	memset(st, 0, sizeof *st);
	uint64_t exited = atomic_load(&rt_sched.exited_nop);
	st->spawned = atomic_load(&rt_sched.spawned_nop);
	for (int i = 0; i < rt_sched.nprocs; i++) {
		st->spawned += atomic_load(&rt_sched.allp[i].nspawned);
		exited += atomic_load(&rt_sched.allp[i].nexited);
	}
	/* Read while Gs come and go, the sums may disagree a little. */
	st->live = st->spawned > exited ? st->spawned - exited : 0;
	st->retakes_syscall = atomic_load(&rt_sched.retakes_syscall);
	st->retakes_hog = atomic_load(&rt_sched.retakes_hog);
	st->ms = atomic_load(&rt_sched.nms);
	rt_stacks_stats(st);
	rt_poll_stats(st);
	rt_sysmon_stats(st);
}

static void dump_one(struct rt_g *g, void *arg)
{
	int fd = *(int *)arg;
	static const char *names[] = { "?", "runnable", "running", "waiting", "dead" };
	int s = atomic_load_explicit(&g->status, memory_order_relaxed);
	if (s == G_DEAD || s <= 0 || s > G_DEAD)
		return;
	dprintf(fd, "g%llu %s %s%s%s\n", (unsigned long long)g->id,
			g->name ? g->name : "-", names[s],
			s == G_WAITING ? " " : "", s == G_WAITING && g->wait_reason ? g->wait_reason : "");
}

void rt_dump(int fd)
{
	dprintf(fd, "sched: procs %d idle %d spinning %d; Ms %d parked %d; global queue %d; stopping %d\n",
			rt_sched.nprocs, atomic_load(&rt_sched.npidle), atomic_load(&rt_sched.nmspinning),
			rt_sched.nm, rt_sched.nmidle, atomic_load(&rt_sched.runqsize),
			(int)atomic_load(&rt_sched.stopping));
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_p *p = &rt_sched.allp[i];
		uint32_t s = atomic_load(&p->state);
		dprintf(fd, "P%d: state %u owner M%d, queue %s, schedtick %u\n", i, s & 0xff,
				(int)(s >> 8) - 1, rt_runqempty(p) ? "empty" : "non-empty",
				atomic_load(&p->schedtick));
	}
	rt_poll_dump(fd);
	rt_stack_foreach(dump_one, &fd);
}
