/*
 * poll.c - the runtime's single libev loop: deadlines, child exits,
 * signals, and fdwait.c's epoll set (fd readiness) as one of its fds.
 * The only file that includes ev.h.
 *
 * The deadline heap and struct rt_wait are in timer.c, fd waits in
 * fdwait.c, the child records in child.c; all are under the one poll
 * lock, and libev reaches them only through this file.
 *
 * Threads.  libev is not thread-safe, so the loop is guarded by one lock
 * (mu).  Whichever thread wants events runs the loop while holding mu
 * and the `polling` flag (an idle M blocks in it; a busy M or the monitor
 * peeks with EVRUN_NOWAIT).  While the poller sleeps in epoll_wait the
 * release/acquire callbacks drop mu, so other threads can change the
 * deadline heap and fd waits meanwhile (the pattern of ev(3) "THREAD
 * LOCKING EXAMPLE"); a change the sleeping poller must see at once (an
 * earlier deadline) is followed by ev_async_send, which breaks its sleep.
 * A new fd wait needs none: the kernel applies it to fdwait.c's epoll
 * set at once.
 *
 * Callbacks never run green-thread code: they claim the waiting G's wake
 * word (rt_wake_claim) and append it to `ready`, which rt_poll() returns
 * to the scheduler after the iteration.
 *
 * Deadlines.  Parked Gs' deadlines sit in timer.c's heap, and one
 * ev_timer (`tick`) is armed at the heap's minimum.  So arming a deadline later
 * than the earliest needs no libev call and never wakes the poller, and
 * 100,000 sleeping Gs cost one libev timer.
 *
 * Children.  libev reaps every child (its SIGCHLD watcher lives in the
 * default loop, the only loop that may have ev_child watchers).  One
 * catch-all ev_child (pid 0) sees each reaped child and hands it to
 * child.c, which keeps the records and the waits.
 *
 * Signals.  rt_run() blocks the configured signals (and SIGCHLD) in every
 * thread before any M starts; libev reads them through a signalfd
 * (EVFLAG_SIGNALFD | EVFLAG_NOSIGMASK).
 *
 * Known limit: libev caps one blocking wait at MAX_BLOCKTIME (59.743 s)
 * when no timer is armed, so an idle runtime wakes once a minute inside
 * libev (and nowhere else).
 */
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

struct fd_wait {
	ev_io io;
	struct rt_g *g;
};

struct sig_wait {
	const sigset_t *set;
	struct rt_g *g;
	struct sig_wait *next;
};

#define POLL_BLOCKING 1
#define POLL_PEEK 2

/* Everything below is guarded by mu, except the atomics. */
static struct {
	struct ev_loop *loop;
	struct rt_lock mu;
	ev_async wakeup;
	ev_timer tick;
	ev_io netio;                  /* fdwait.c's epoll set */
	bool net_ready;               /* ... has events (set by on_netio) */
	_Atomic int polling;          /* inside ev_run: 0 nobody, POLL_BLOCKING, POLL_PEEK */
	_Atomic int blocked;          /* ... and sleeping in the kernel */
	_Atomic bool stopping;        /* the runtime stops: polls must not block */
	_Atomic int nwaiters;         /* timers + fd waits + procs + signal waiters */
	_Atomic int64_t next_when;    /* heap minimum, INT64_MAX if empty */
	_Atomic int64_t last_poll;
	_Atomic uint64_t npolls;
	int64_t sleep_until;          /* heap minimum when the poller went to sleep */
	bool kick;                    /* the sleeping poller must be woken */
	struct rt_g *ready_head, *ready_tail;
	ev_child anychild;            /* pid 0: sees every reaped child (child.c) */
	ev_signal sigw[NSIG];
	sigset_t sigs;                /* signals deliverable to rt_signal_wait */
	bool sig_pending[NSIG];
	struct sig_wait *sigwaiters;
} pl;

int64_t rt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rt_poll_lock(void)
{
	rt_lock(&pl.mu);
}

void rt_poll_unlock(void)
{
	rt_unlock(&pl.mu);
}

static void waiters_add(int n)
{
	atomic_fetch_add_explicit(&pl.nwaiters, n, memory_order_relaxed);
}

bool rt_poll_has_waiters(void)
{
	return atomic_load_explicit(&pl.nwaiters, memory_order_relaxed) > 0;
}

bool rt_poll_due(int64_t now)
{
	return atomic_load_explicit(&pl.next_when, memory_order_relaxed) <= now;
}

int64_t rt_poll_next_deadline(void)
{
	return atomic_load_explicit(&pl.next_when, memory_order_relaxed);
}

bool rt_poll_active(void)
{
	return atomic_load(&pl.polling) != 0;
}

int64_t rt_poll_last(void)
{
	return atomic_load_explicit(&pl.last_poll, memory_order_relaxed);
}

void rt_poll_ready_push(struct rt_g *g)
{
	g->schedlink = NULL;
	if (pl.ready_tail)
		pl.ready_tail->schedlink = g;
	else
		pl.ready_head = g;
	pl.ready_tail = g;
}

/* ---- the libev side of the deadline heap (timer.c) ----------------------- */

/* Point the one libev timer at the heap minimum. */
static void tick_update(void)
{
	int64_t min = rt_timers_next();
	atomic_store_explicit(&pl.next_when, min, memory_order_relaxed);
	ev_timer_stop(pl.loop, &pl.tick);
	if (min == INT64_MAX)
		return;
	ev_now_update(pl.loop);
	int64_t d = min - rt_now();
	ev_timer_set(&pl.tick, d > 0 ? (ev_tstamp)d / 1e9 : 0., 0.);
	ev_timer_start(pl.loop, &pl.tick);
}

void rt_poll_waiters_add(int n)
{
	waiters_add(n);
}

/* The heap's minimum changed; armed: the deadline that became the
 * minimum (a sleeping poller that would wake later must be kicked), or
 * INT64_MAX when the minimum left.  mu held. */
void rt_poll_timers_changed(int64_t armed)
{
	tick_update();
	if (atomic_load_explicit(&pl.blocked, memory_order_relaxed) && armed < pl.sleep_until)
		pl.kick = true;
}

/* Ready the Gs whose deadlines passed.  libev stops the one-shot tick
 * when it fires; if it fired a hair before our clock reached the
 * minimum, nothing expired and the tick must still be re-armed, or the
 * next poll would sleep for libev's maximum (59.7 s) with deadlines
 * pending. */
static void timers_expire(int64_t now)
{
	if (rt_timers_expire(now, rt_poll_ready_push) ||
	    (rt_timers_next() != INT64_MAX && !ev_is_active(&pl.tick)))
		tick_update();
}

/* Park commit: release mu after the G's context is saved; wake a
 * sleeping poller if a change needs it. */
int rt_poll_unlock_commit(struct rt_g *g, void *arg)
{
	(void)g;
	(void)arg;
	bool kick = pl.kick;
	pl.kick = false;
	rt_unlock(&pl.mu);
	if (kick) {
		int saved = errno;
		ev_async_send(pl.loop, &pl.wakeup);
		errno = saved;
	}
	return 1;
}

void rt_poll_wake(void)
{
	if (pl.loop)
		ev_async_send(pl.loop, &pl.wakeup);
}

/* A wake alone could be taken by a poll that is just ending, after which
 * an M that checked for stopping before it was set would block in a new
 * poll with nobody left to wake it: the flag makes every later poll
 * non-blocking. */
void rt_poll_stop(void)
{
	atomic_store(&pl.stopping, true);
	rt_poll_wake();
}

/* ---- running the loop ---------------------------------------------------- */

static void on_release(struct ev_loop *loop)
{
	(void)loop;
	pl.sleep_until = rt_timers_next();
	atomic_store_explicit(&pl.blocked, 1, memory_order_relaxed);
	rt_unlock(&pl.mu);
}

static void on_acquire(struct ev_loop *loop)
{
	(void)loop;
	rt_lock(&pl.mu);
	atomic_store_explicit(&pl.blocked, 0, memory_order_relaxed);
}

/* Become the thread inside ev_run.  A would-be blocking poller that finds
 * a peek in progress waits for it (a peek takes microseconds) rather than
 * give up: otherwise it would park and leave nobody polling. */
static bool poll_enter(bool block)
{
	int want = block ? POLL_BLOCKING : POLL_PEEK;
	for (;;) {
		int cur = 0;
		if (atomic_compare_exchange_weak_explicit(&pl.polling, &cur, want,
				memory_order_acquire, memory_order_relaxed))
			return true;
		if (!block || cur == POLL_BLOCKING)
			return false;
		sched_yield();
	}
}

int rt_poll(bool block, struct rt_g **list)
{
	*list = NULL;
	if (!poll_enter(block))
		return -1;
	rt_lock(&pl.mu);
	if (block)
		atomic_fetch_add_explicit(&pl.npolls, 1, memory_order_relaxed);
	ev_run(pl.loop, block && !atomic_load(&pl.stopping) ? EVRUN_ONCE : EVRUN_NOWAIT);
	int64_t now = rt_now();
	timers_expire(now);
	*list = pl.ready_head;
	struct rt_g **tail = pl.ready_head ? &pl.ready_tail->schedlink : list;
	pl.ready_head = pl.ready_tail = NULL;
	bool net = pl.net_ready;
	pl.net_ready = false;
	atomic_store_explicit(&pl.last_poll, now, memory_order_relaxed);
	rt_unlock(&pl.mu);
	if (net)
		rt_fdwait_harvest(&tail);
	atomic_store(&pl.polling, 0); /* seq_cst: pairs with stopm's check */
	return 0;
}

/* The Gs whose deadlines have passed, without running libev: for an M
 * with a P that finds a deadline passed (its fairness pass) and for the
 * monitor, whether or not another thread is the poller (blocked in
 * epoll_wait with mu released).  The heap is ours (timer.c);
 * tick_update re-arms libev's one timer, which a blocked poller
 * tolerates as any change made under mu.  0 and the Gs in *list, or -1
 * if the poll lock is busy (its holder expires them). */
int rt_poll_expire(struct rt_g **list)
{
	*list = NULL;
	if (!rt_trylock(&pl.mu))
		return -1;
	timers_expire(rt_now());
	*list = pl.ready_head;
	pl.ready_head = pl.ready_tail = NULL;
	rt_unlock(&pl.mu);
	return 0;
}

static void on_nothing(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop; (void)w; (void)revents;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)w; (void)revents; /* rt_poll expires the heap */
}

/* ---- fd waits (fdwait.c) -------------------------------------------------- */

/* fdwait.c's epoll set has events: rt_poll drains it once the poll
 * lock is released. */
static void on_netio(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop; (void)w; (void)revents;
	pl.net_ready = true;
}

/* ---- sleeping ------------------------------------------------------------- */

/* Only the deadline can wake a sleeper (RT_NEVER: nothing ever does). */
void rt_sleep_until(int64_t deadline)
{
	struct rt_wait w;
	rt_wait_begin(&w, deadline);
	if (deadline <= rt_now())
		return;
	rt_lock(&pl.mu);
	rt_wait_park_locked(&w, "sleep");
	rt_wait_end(&w);
}

void rt_sleep(int64_t ns)
{
	if (ns > 0)
		rt_sleep_until(ns > RT_NEVER - rt_now() ? RT_NEVER - 1 : rt_now() + ns);
}

/* ---- child processes (child.c) ------------------------------------------ */

/* The catch-all watcher: libev has reaped child rpid. */
static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)loop;
	(void)revents;
	rt_child_reaped(w->rpid, w->rstatus);
}

/* ---- signals ------------------------------------------------------------ */

/* Take sw off the waiter list if it is still there; mu held. */
static void sigwaiter_remove(struct sig_wait *sw)
{
	for (struct sig_wait **pp = &pl.sigwaiters; *pp; pp = &(*pp)->next)
		if (*pp == sw) {
			*pp = sw->next;
			waiters_add(-1);
			return;
		}
}

/* The first waiter for sig whose wake word we win gets it; with none, it
 * is kept.  The winner leaves the list at once, so that a second signal
 * in the same iteration looks past it. */
static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	int sig = w->signum;
	(void)loop;
	(void)revents;
	for (struct sig_wait *sw = pl.sigwaiters; sw; sw = sw->next)
		if (sigismember(sw->set, sig) == 1 && rt_wake_claim(sw->g)) {
			sw->g->wake_events = sig;
			rt_poll_ready_push(sw->g);
			sigwaiter_remove(sw);
			return;
		}
	pl.sig_pending[sig] = true;
}

static int sig_take_pending(const sigset_t *set)
{
	for (int s = 1; s < NSIG; s++)
		if (pl.sig_pending[s] && sigismember(set, s) == 1) {
			pl.sig_pending[s] = false;
			return s;
		}
	return 0;
}

int rt_signal_wait(const sigset_t *set, int64_t deadline)
{
	struct rt_wait w;
	struct rt_g *g = rt_wait_begin(&w, deadline);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(set, s) == 1 && sigismember(&pl.sigs, s) != 1) {
			errno = EINVAL;
			return -1;
		}
	rt_lock(&pl.mu);
	int sig = sig_take_pending(set);
	if (sig || rt_deadline_passed(deadline)) {
		rt_unlock(&pl.mu);
		if (!sig)
			errno = ETIMEDOUT;
		return sig ? sig : -1;
	}
	struct sig_wait sw = { .set = set, .g = g, .next = pl.sigwaiters };
	pl.sigwaiters = &sw;
	waiters_add(1);
	rt_wait_park_locked(&w, "signal wait");
	rt_lock(&pl.mu);
	bool timed_out = rt_wait_end_locked(&w);
	sigwaiter_remove(&sw); /* still listed unless on_signal won */
	rt_unlock(&pl.mu);
	if (timed_out) {
		errno = ETIMEDOUT;
		return -1;
	}
	return g->wake_events;
}

/* ---- setup ---------------------------------------------------------------- */

int rt_poll_init(const sigset_t *signals)
{
	memset(&pl, 0, sizeof pl);
	pl.next_when = INT64_MAX;
	pl.loop = ev_default_loop(EVBACKEND_EPOLL | EVFLAG_SIGNALFD | EVFLAG_NOSIGMASK | EVFLAG_NOENV);
	if (!pl.loop) {
		errno = ENOSYS;
		return -1;
	}
	ev_set_loop_release_cb(pl.loop, on_release, on_acquire);
	ev_async_init(&pl.wakeup, on_nothing);
	ev_async_start(pl.loop, &pl.wakeup);
	ev_init(&pl.tick, on_tick);
	ev_child_init(&pl.anychild, on_child, 0, 0);
	ev_child_start(pl.loop, &pl.anychild);
	ev_unref(pl.loop);
	int efd = rt_fdwait_init();
	if (efd < 0)
		return -1;
	ev_io_init(&pl.netio, on_netio, efd, EV_READ);
	ev_io_start(pl.loop, &pl.netio);
	ev_unref(pl.loop);
	pl.sigs = *signals;
	for (int s = 1; s < NSIG; s++) {
		if (sigismember(signals, s) != 1 || s == SIGCHLD)
			continue;
		ev_signal_init(&pl.sigw[s], on_signal, s);
		ev_signal_start(pl.loop, &pl.sigw[s]);
	}
	pl.last_poll = rt_now();
	return 0;
}

void rt_poll_fini(void)
{
	if (!pl.loop)
		return;
	for (int s = 1; s < NSIG; s++)
		if (ev_is_active(&pl.sigw[s]))
			ev_signal_stop(pl.loop, &pl.sigw[s]);
	ev_ref(pl.loop);
	ev_child_stop(pl.loop, &pl.anychild);
	rt_child_fini();
	ev_io_stop(pl.loop, &pl.netio);
	ev_loop_destroy(pl.loop);
	rt_fdwait_fini();
	rt_timers_fini();
	memset(&pl, 0, sizeof pl);
}

/* As rt_dump: what is under mu only if mu is free at once. */
void rt_poll_dump(int fd)
{
	int64_t now = rt_now(), next = atomic_load(&pl.next_when), sleep_until = INT64_MAX;
	int ntimers = -1;
	if (rt_trylock(&pl.mu)) {
		ntimers = rt_timers_count();
		sleep_until = pl.sleep_until;
		rt_unlock(&pl.mu);
	}
	dprintf(fd, "poll: polling %d blocked %d waiters %d timers %d next in %lld us, "
			"sleep_until in %lld us, last poll %lld us ago\n",
			atomic_load(&pl.polling), atomic_load(&pl.blocked), atomic_load(&pl.nwaiters),
			ntimers, next == INT64_MAX ? -1LL : (long long)(next - now) / 1000,
			sleep_until == INT64_MAX ? -1LL : (long long)(sleep_until - now) / 1000,
			(long long)(now - atomic_load(&pl.last_poll)) / 1000);
}

void rt_poll_stats(struct rt_stats *st)
{
	st->polls = atomic_load(&pl.npolls);
}
