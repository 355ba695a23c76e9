/*
 * sysmon.c - the monitor thread (Go's sysmon): an OS thread with no P
 * that watches the Ps.
 *
 *   - A P in a blocking region (P_SYSCALL) for at least one monitor tick
 *     (>= 20 us) is retaken and handed to another M, unless it has no
 *     work and other Ms are already idle or spinning (then only after
 *     10 ms).
 *   - A P whose time slice is over (10 ms with an unchanged schedtick: the
 *     same G, or Gs handing the P to each other through runnext) while
 *     other Gs wait is asked to give way: first its M's preempt flag is
 *     set, which the G obeys at its next channel operation or select
 *     (rt_preempt_point: it goes to the back of the queue and the next G
 *     starts a new slice).  If the flag is still up at the next tick and
 *     the G is in its own code, its M gets a SIGURG; the handler gives the
 *     P up (P_HANDOFF) and the monitor hands it to another M, so one
 *     CPU-bound G cannot stall the rest, even with one P.  The hog keeps
 *     its M; at its next runtime call it finds the P gone and queues
 *     itself (sched.c).  (Handing the P to another M costs a thread wake
 *     and leaves the G running without a P until it parks: the flag is
 *     the cheaper remedy whenever the G reaches a safe point.)
 *   - If nobody has polled libev for 10 ms while something waits on it,
 *     the monitor polls (all Ms busy: fds still fire).  While Ps run,
 *     its sleep ends at the earliest deadline, and once that has passed
 *     it takes the due Gs from the deadline heap itself, whether or not
 *     a poller sleeps in epoll_wait (which rounds its timeout up to a
 *     millisecond; Go's timers are exact while its Ps run).  Gs it
 *     readies go to the global queue (rt_inject_from_poll, which with
 *     every P busy sets one P's preempt flag, so that they run within
 *     microseconds rather than at the end of a slice).
 *   - Every 100 ms, and before it sleeps, it gives the memory of wholly
 *     free stack chunks back to the kernel (stack.c).
 *   - After the OS refused a new thread (m.c), it tries again every
 *     10 ms while Gs wait on the global queue and a P is idle, and does
 *     not go to sleep meanwhile.
 *
 * The tick starts at 20 us and doubles after 1 ms without a retake, up to
 * 10 ms.  When every P is idle the monitor sleeps on a futex until a P
 * becomes busy again (rt_sysmon_wake, called by pidleget), so an idle
 * runtime costs it no wake-up at all.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>

#include "rt_internal.h"

#define TICK_MIN_US 20
#define TICK_MAX_US 10000
#define SYSCALL_RETAKE_NS 20000
#define HOG_NS 10000000
#define POLL_STALE_NS 10000000
#define TRIM_NS 100000000

static struct {
	pthread_t thread;
	bool started;
	_Atomic uint32_t sleeping;   /* futex word: 1 while in deep sleep */
	_Atomic bool stop;
	_Atomic uint64_t wakes;
} mon;

void rt_sysmon_wake(void)
{
	if (atomic_load(&mon.sleeping)) {
		atomic_store(&mon.sleeping, 0);
		rt_futex_wake(&mon.sleeping, 1);
	}
}

static bool all_idle(void)
{
	return atomic_load(&rt_sched.npidle) == rt_sched.nprocs;
}

static void deep_sleep(void)
{
	atomic_store(&mon.sleeping, 1);
	if (all_idle() && !atomic_load(&mon.stop))
		rt_futex_wait(&mon.sleeping, 1);
	atomic_store(&mon.sleeping, 0);
}

static bool take(struct rt_p *p, uint32_t seen)
{
	return atomic_compare_exchange_strong(&p->state, &seen, PSTATE(0, P_RUNNING));
}

static bool retake_syscall(struct rt_p *p, uint32_t s, int64_t now)
{
	uint32_t t = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
	if (p->mon_syscalltick != t || p->mon_syscallwhen == 0) {
		p->mon_syscalltick = t;
		p->mon_syscallwhen = now;
		return false;
	}
	int64_t held = now - p->mon_syscallwhen;
	if (held < SYSCALL_RETAKE_NS)
		return false;
	if (rt_runqempty(p) && !rt_sched_has_work() &&
	    atomic_load(&rt_sched.nmspinning) + atomic_load(&rt_sched.npidle) > 0 &&
	    held < HOG_NS)
		return false;
	if (!take(p, s))
		return false;
	atomic_fetch_add(&rt_sched.retakes_syscall, 1);
	rt_handoffp(p);
	return true;
}

static bool retake_hog(struct rt_p *p, uint32_t s, int64_t now)
{
	uint32_t t = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	if (p->mon_tick != t || p->mon_when == 0) {
		p->mon_tick = t;
		p->mon_when = now;
		return false;
	}
	if (now - p->mon_when < HOG_NS)
		return false;
	if (rt_runqempty(p) && !rt_sched_has_work())
		return false;
	/* First the safe point; the tick after, if the G has not reached
	 * one (its flag is still up), the signal. */
	struct rt_m *m = rt_sched.allm[(s >> 8) - 1];
	if (!atomic_exchange_explicit(&m->preempt, 1, memory_order_relaxed))
		return true;
	p->mon_when = now;
	if (!atomic_load_explicit(&m->in_rt, memory_order_acquire))
		pthread_kill(m->self, SIGURG);
	return true;
}

/* A P its hog's M gave up (SIGURG handler): hand it on. */
static bool handoff_given(struct rt_p *p, uint32_t s)
{
	if (!take(p, s))
		return false;
	atomic_fetch_add(&rt_sched.retakes_hog, 1);
	rt_handoffp(p);
	return true;
}

static int retake(int64_t now)
{
	int n = 0;
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_p *p = &rt_sched.allp[i];
		uint32_t s = atomic_load(&p->state);
		if ((s & 0xff) == P_SYSCALL)
			n += retake_syscall(p, s, now);
		else if ((s & 0xff) == P_RUNNING && (s >> 8) != 0)
			n += retake_hog(p, s, now);
		else if ((s & 0xff) == P_HANDOFF)
			n += handoff_given(p, s);
	}
	return n;
}

static void poll_if_stale(int64_t now)
{
	struct rt_g *list;
	if (!rt_poll_has_waiters())
		return;
	if (now - rt_poll_last() > POLL_STALE_NS && !rt_poll_active()) {
		if (rt_poll(false, &list) == 0 && list)
			rt_inject_from_poll(list);
		return;
	}
	/* A passed deadline needs only the heap (rt_poll_expire: no system
	 * call, the poll lock held for a moment), also while a poller sleeps
	 * in epoll_wait, which rounds its timeout up to 1 ms: waking it
	 * instead would cost a thread wake and a whole poll under the lock,
	 * during which an M that finds the deadline passed too could not
	 * take the G itself. */
	if (rt_poll_due(now) && rt_poll_expire(&list) == 0 && list)
		rt_inject_from_poll(list);
}

/* The monitor's next sleep, in us: its tick, or less if a deadline comes
 * first. */
static long sleep_us(long delay)
{
	int64_t next = rt_poll_next_deadline();
	if (next == INT64_MAX)
		return delay;
	int64_t until = (next - rt_now()) / 1000;
	return until >= delay ? delay : until < TICK_MIN_US ? TICK_MIN_US : (long)until;
}

static void *sysmon_main(void *arg)
{
	long delay = TICK_MIN_US;
	int idle = 0;
	int64_t last_trim = 0;
	(void)arg;
	/* Sleeps that end at a deadline end on time: the default 50 us slack
	 * would be most of a timer's lateness under load. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!atomic_load(&mon.stop)) {
		if (idle > 50 && delay < TICK_MAX_US)
			delay = delay * 2 > TICK_MAX_US ? TICK_MAX_US : delay * 2;
		struct timespec ts = { 0, sleep_us(delay) * 1000 };
		nanosleep(&ts, NULL);
		atomic_fetch_add_explicit(&mon.wakes, 1, memory_order_relaxed);
		/* All idle: sleep, unless things wait on libev and nobody polls
		 * (which the scheduler never allows; this is the safety net). */
		if (all_idle() && !(rt_poll_has_waiters() && !rt_poll_active()) &&
		    !(rt_startm_failing() && rt_sched_has_work())) {
			rt_stacks_trim();
			deep_sleep();
			continue;
		}
		int64_t now = rt_now();
		if (now - last_trim > TRIM_NS) {
			rt_stacks_trim();
			last_trim = now;
		}
		poll_if_stale(now);
		rt_startm_retry(now);
		if (retake(now)) {
			idle = 0;
			delay = TICK_MIN_US;
		} else {
			idle++;
		}
	}
	return NULL;
}

int rt_sysmon_start(void)
{
	memset(&mon, 0, sizeof mon);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256u << 10);
	int err = pthread_create(&mon.thread, &a, sysmon_main, NULL);
	pthread_attr_destroy(&a);
	if (err) {
		errno = err;
		return -1;
	}
	mon.started = true;
	return 0;
}

void rt_sysmon_stop(void)
{
	if (!mon.started)
		return;
	atomic_store(&mon.stop, true);
	atomic_store(&mon.sleeping, 0);
	rt_futex_wake(&mon.sleeping, 1);
	pthread_join(mon.thread, NULL);
	mon.started = false;
}

void rt_sysmon_stats(struct rt_stats *st)
{
	st->sysmon_wakes = atomic_load(&mon.wakes);
}
