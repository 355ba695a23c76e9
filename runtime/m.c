#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * m.c - OS threads (M) and the idle lists: the current M and errno,
 * creating, binding and parking Ms (startm/stopm), waking one for idle
 * work (wakep), handing a P to an M (rt_handoffp), the idle P list.
 *
 * Threads: any M, and the monitor (rt_handoffp).  The idle P and M lists,
 * allm and M creation are under sched.lock; an M's park word is its
 * futex, written by whoever wakes it (struct rt_m says who touches what).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiber.h"
#include "rt_internal.h"

static __thread struct rt_m *tls_m;

#define MAX_MS 10000
#define M_RETRY_NS 10000000   /* after a failed thread creation, try again no sooner */
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

/* ---- P ownership -------------------------------------------------------- */

void rt_acquirep(struct rt_m *m, struct rt_p *p)
{
	m->p = p;
	atomic_store_explicit(&p->state, PSTATE(rt_mid(m), P_RUNNING), memory_order_release);
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
struct rt_p *rt_pidleget(void)
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

void rt_pidleput(struct rt_p *p)
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
void rt_m_bind(struct rt_m *m)
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

void rt_m_unbind(struct rt_m *m)
{
	stack_t ss = { .ss_flags = SS_DISABLE };
	sigaltstack(&ss, NULL);
	free(m->sigstack);
	m->sigstack = NULL;
	tls_m = NULL;
}

/* Allocate an M; sched.lock held.  NULL at the M limit. */
struct rt_m *rt_m_alloc(void)
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
	return m;
}

/* Start m's thread: 0 or pthread_create's error.  rt_config.max_threads
 * (a limit, and the test hook that makes creation fail) answers EAGAIN
 * as pthread_create would at RLIMIT_NPROC. */
static int m_spawn_thread(struct rt_m *m)
{
	int n = atomic_fetch_add_explicit(&rt_sched.nthreads, 1, memory_order_relaxed);
	if (rt_sched.max_threads && n + 1 >= rt_sched.max_threads) { /* M0 is one */
		atomic_fetch_sub_explicit(&rt_sched.nthreads, 1, memory_order_relaxed);
		return EAGAIN;
	}
	pthread_attr_t a;
	pthread_attr_init(&a);
#if defined(RT_SANITIZE_ADDRESS) || defined(RT_SANITIZE_THREAD)
	pthread_attr_setstacksize(&a, 4 * G0_STACK);
#else
	pthread_attr_setstacksize(&a, G0_STACK);
#endif
	int err = pthread_create(&m->thread, &a, m_main, m);
	pthread_attr_destroy(&a);
	if (err)
		atomic_fetch_sub_explicit(&rt_sched.nthreads, 1, memory_order_relaxed);
	return err;
}

/* A new M could not be had: count it, and back off. */
static void m_failed_note(void)
{
	atomic_store_explicit(&rt_sched.mfail_until, rt_now() + M_RETRY_NS, memory_order_relaxed);
	atomic_fetch_add_explicit(&rt_sched.mfailed, 1, memory_order_relaxed);
}

/* An M for startm when none is idle: a spare one (its thread could not
 * be created before) or a fresh one; sched.lock held.  NULL at the M
 * limit, out of memory, or while creation backs off after a failure. */
static struct rt_m *m_new(void)
{
	int64_t until = atomic_load_explicit(&rt_sched.mfail_until, memory_order_relaxed);
	if (until && rt_now() < until)
		return NULL;
	struct rt_m *m = rt_sched.mspare;
	if (!m) {
		m = rt_m_alloc();
		if (!m) {
			m_failed_note();
			rt_limit_set("cannot create an OS thread (the runtime's M limit, or memory)");
		}
		return m;
	}
	rt_sched.mspare = m->schedlink;
	m->schedlink = NULL;
	return m;
}

/* No M can run p, which the caller owns: its runnable Gs go to the global
 * queue, where any M looking for work finds them (a blocked M coming back
 * from its blocking region takes p itself, from the idle list), and p
 * goes idle.  sched.lock held; released. */
static void startm_fail(struct rt_p *p, bool spinning)
{
	struct rt_g *g;
	bool inherit;
	while ((g = rt_runqget(p, &inherit)))
		rt_globrunqput(g);
	rt_pidleput(p);
	rt_unlock(&rt_sched.lock);
	if (spinning)
		atomic_fetch_sub(&rt_sched.nmspinning, 1);
}

/* pthread_create failed for the fresh M m that was to run p: keep m as a
 * spare, back off, and run on with the threads there are.  Not fatal:
 * the runtime always has M0, and every M blocked now comes back. */
static void m_create_failed(struct rt_m *m, struct rt_p *p, bool spinning, int err)
{
	rt_lock(&rt_sched.lock);
	memset(&m->thread, 0, sizeof m->thread);
	m->nextp = NULL;
	m->schedlink = rt_sched.mspare;
	rt_sched.mspare = m;
	m_failed_note();
	atomic_store_explicit(&p->state, PSTATE(0, P_RUNNING), memory_order_relaxed); /* ours again */
	startm_fail(p, spinning);
	rt_limit_set(err == EAGAIN ? "cannot create an OS thread (thread or memory limit)"
			: "cannot create an OS thread");
}

/* Monitor: once the back-off after a failed thread creation is over, try
 * again if work waits while a P is idle. */
void rt_startm_retry(int64_t now)
{
	int64_t until = atomic_load_explicit(&rt_sched.mfail_until, memory_order_relaxed);
	if (until && now >= until && atomic_load(&rt_sched.npidle) > 0 && rt_sched_has_work())
		rt_wakep();
}

bool rt_startm_failing(void)
{
	return atomic_load_explicit(&rt_sched.mfail_until, memory_order_relaxed) != 0;
}

/* Run p on an idle M, or a new one.  p == NULL: take an idle P, if
 * none, give up (and undo the caller's spinning count).  When no M can
 * be had (the M limit, or the OS refuses a thread), p goes idle and its
 * Gs to the global queue (startm_fail); the monitor tries again later
 * (rt_startm_retry). */
void rt_startm(struct rt_p *p, bool spinning)
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
		p = rt_pidleget();
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
		m = m_new();
		fresh = true;
		if (!m) {
			startm_fail(p, spinning);
			return;
		}
	}
	m->nextp = p;
	m->spinning = spinning;
	/* release: the monitor reads allm[owner] after seeing this state */
	atomic_store_explicit(&p->state, PSTATE(rt_mid(m), P_RUNNING), memory_order_release);
	rt_unlock(&rt_sched.lock);
	if (fresh) {
		int err = m_spawn_thread(m);
		if (err) {
			m_create_failed(m, p, spinning, err);
		} else {
			atomic_fetch_add_explicit(&rt_sched.nms, 1, memory_order_relaxed);
			atomic_store_explicit(&rt_sched.mfail_until, 0, memory_order_relaxed);
		}
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

/* Park the M (which has no P) until rt_startm() hands it one, the poller
 * hands it its role, or the runtime stops.
 *
 * Never park while things wait on libev and nobody polls: a poller that
 * stopped polling to run Gs looked for an idle M to take over before
 * this M was on the list.  The M is listed first (under the lock), then
 * checks the polling flag, and the poller clears the flag before it
 * looks at the list, so one of the two sees the other. */
void rt_stopm(struct rt_m *m)
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

/* rt_wakep's slow path: a P is idle; start a spinning M unless one
 * spins already. */
void rt_wakep_slow(void)
{
	int zero = 0;
	if (atomic_load_explicit(&rt_sched.nmspinning, memory_order_relaxed) != 0 ||
	    !atomic_compare_exchange_strong(&rt_sched.nmspinning, &zero, 1))
		return;
	rt_startm(NULL, true);
}

/* Hand off a P whose M is gone (blocking call, hog) or that sysmon
 * took; p is owned by the caller with no M.  The conditions here and in
 * findrunnable (sched.c) must agree: if findrunnable would find a G to
 * run on p, this must start an M for it; otherwise p goes idle. */
void rt_handoffp(struct rt_p *p)
{
	if (!rt_runqempty(p) || atomic_load(&rt_sched.runqsize) > 0) {
		rt_startm(p, false);
		return;
	}
	int zero = 0;
	if (atomic_load(&rt_sched.nmspinning) + atomic_load(&rt_sched.npidle) == 0 &&
	    atomic_compare_exchange_strong(&rt_sched.nmspinning, &zero, 1)) {
		rt_startm(p, true);
		return;
	}
	rt_lock(&rt_sched.lock);
	if (atomic_load(&rt_sched.runqsize) > 0) {
		rt_unlock(&rt_sched.lock);
		rt_startm(p, false);
		return;
	}
	/* The last P going idle while things wait in libev: someone must poll. */
	if (atomic_load(&rt_sched.npidle) == rt_sched.nprocs - 1 && rt_poll_has_waiters()) {
		rt_unlock(&rt_sched.lock);
		rt_startm(p, false);
		return;
	}
	rt_pidleput(p);
	rt_unlock(&rt_sched.lock);
}

bool rt_sched_has_work(void)
{
	return atomic_load_explicit(&rt_sched.runqsize, memory_order_relaxed) > 0;
}

/* The poller is about to run Gs while things still wait on libev: wake a
 * parked M (without a P) so that it becomes the poller.  Otherwise a
 * timer could wait for the busy M's next trip through the scheduler. */
void rt_poller_handoff(void)
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

static void *m_main(void *arg)
{
	struct rt_m *m = arg;
	rt_m_bind(m);
	m->p = m->nextp;
	m->nextp = NULL;
	rt_schedule(m);
	if (m->p) {
		/* Hand the P back so the final accounting sees it idle. */
		rt_lock(&rt_sched.lock);
		struct rt_p *p = m->p;
		m->p = NULL;
		atomic_store(&p->state, PSTATE(0, P_IDLE));
		rt_unlock(&rt_sched.lock);
	}
	rt_m_unbind(m);
	return NULL;
}

struct rt_m *rt_m0_setup(void)
{
	rt_sched.maxm = MAX_MS;
	rt_sched.allm = calloc(MAX_MS, sizeof *rt_sched.allm);
	if (!rt_sched.allm)
		return NULL;
	struct rt_m *m = rt_m_alloc();
	if (!m)
		return NULL;
	m->thread = pthread_self();
	atomic_fetch_add_explicit(&rt_sched.nms, 1, memory_order_relaxed);
	rt_m_bind(m);
	return m;
}

int rt_m_id(void)
{
	struct rt_m *m = rt_m_current();
	return m ? m->id : -1;
}

