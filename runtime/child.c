/*
 * child.c - the records of the children rt_proc_start() makes, and the
 * waits for their exits (rt_proc_wait, rt_proc_wait_any, rt_proc_adopt).
 *
 * libev reaps every child: poll.c's one catch-all ev_child watcher hands
 * each reaped pid to rt_child_reaped(), inside the loop, with the poll
 * lock held; this file never sees libev.  A child made by
 * rt_proc_start() has a record from before its clone (see struct
 * proc_rec), so its status is kept until rt_proc_wait() or
 * rt_proc_wait_any() takes it, however early it exits, and no lock is
 * held while the clone waits for the exec.  Exits of children without a
 * record (orphans inherited as a subreaper) are kept, the last
 * ORPHANS_KEPT of them, for rt_proc_adopt().
 *
 * Threads: everything here is under the poll lock (poll.c: rt_poll_lock),
 * which rt_child_reaped's caller holds; a G found ready goes to the
 * poller's ready list (rt_poll_ready_push) from there, or through
 * rt_ready() after the lock is dropped elsewhere.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rt_internal.h"

/* A child made by rt_proc_start(), from before its clone until its
 * status is taken.  Pending (on ch.pending) while the clone runs: the
 * kernel stores the new pid in `pid` (CLONE_PARENT_SETTID) before the
 * child can run, so an exit reaped before rt_proc_settle() still finds
 * its record.  Then settled, in the pid hash.  An exited, settled record
 * with no waiter by pid is also on the unclaimed FIFO for
 * rt_proc_wait_any().  All fields under the poll lock, except that the
 * kernel writes `pid` while pending (read with __atomic). */
struct proc_rec {
	pid_t pid;
	int status;
	bool exited;
	bool settled;
	bool discard;             /* exec failed: reap and forget */
	bool in_fifo;
	struct rt_g *waiter;      /* rt_proc_wait() by pid */
	bool waited;              /* rt_proc_start_waited(): never on the unclaimed FIFO */
	struct proc_rec *next;    /* hash chain, or the pending list */
	struct proc_rec *fifo_prev, *fifo_next;
};

/* A G parked in rt_proc_wait_any(); on its stack. */
struct any_wait {
	struct rt_g *g;
	bool woken;
	struct any_wait *next;
};

#define PROC_BUCKETS 1024
/* Exits of inherited orphans remembered for rt_proc_adopt(). */
#define ORPHANS_KEPT 256

/* Under the poll lock. */
static struct {
	struct proc_rec *procs[PROC_BUCKETS];
	struct proc_rec *pending;     /* being cloned */
	struct proc_rec *unclaimed_head, *unclaimed_tail;
	struct any_wait *anywaiters;
	bool any_cancel;
	/* exits of children rt_proc_start did not make (orphans inherited as
	 * a subreaper), the last ORPHANS_KEPT, for rt_proc_adopt() */
	struct { pid_t pid; int status; } orphans[ORPHANS_KEPT];
	unsigned norphans;
} ch;

static struct proc_rec **proc_slot(pid_t pid)
{
	struct proc_rec **pp = &ch.procs[(unsigned)pid % PROC_BUCKETS];
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

/* The oldest record of pid whose child has not exited yet (pids can be
 * reused while an older exit waits to be taken). */
static struct proc_rec **proc_slot_live(pid_t pid)
{
	struct proc_rec **pp = &ch.procs[(unsigned)pid % PROC_BUCKETS];
	while (*pp && ((*pp)->pid != pid || (*pp)->exited))
		pp = &(*pp)->next;
	return pp;
}

static void fifo_append(struct proc_rec *r)
{
	r->fifo_next = NULL;
	r->fifo_prev = ch.unclaimed_tail;
	if (ch.unclaimed_tail)
		ch.unclaimed_tail->fifo_next = r;
	else
		ch.unclaimed_head = r;
	ch.unclaimed_tail = r;
	r->in_fifo = true;
}

static void fifo_remove(struct proc_rec *r)
{
	if (!r->in_fifo)
		return;
	if (r->fifo_prev)
		r->fifo_prev->fifo_next = r->fifo_next;
	else
		ch.unclaimed_head = r->fifo_next;
	if (r->fifo_next)
		r->fifo_next->fifo_prev = r->fifo_prev;
	else
		ch.unclaimed_tail = r->fifo_prev;
	r->in_fifo = false;
}

/* Where the settled record r is linked in its hash chain. */
static struct proc_rec **proc_slot_of(struct proc_rec *r)
{
	struct proc_rec **pp = &ch.procs[(unsigned)r->pid % PROC_BUCKETS];
	while (*pp != r)
		pp = &(*pp)->next;
	return pp;
}

/* Unlink the settled record at *pp and free it. */
static void proc_forget(struct proc_rec **pp)
{
	struct proc_rec *r = *pp;
	*pp = r->next;
	fifo_remove(r);
	free(r);
	rt_poll_waiters_add(-1);
}

/* An exited, settled record nobody waits for by pid: queue it for
 * rt_proc_wait_any() and claim the first such waiter still parked.
 * Returns that G, for the caller to ready: the poller through its ready
 * list, any other thread with rt_ready() after unlocking. */
static struct rt_g *proc_unclaimed(struct proc_rec *r)
{
	fifo_append(r);
	for (struct any_wait *w = ch.anywaiters; w; w = w->next)
		if (!w->woken && rt_wake_claim(w->g)) {
			w->woken = true;
			return w->g;
		}
	return NULL;
}

static struct proc_rec *pending_find(pid_t pid)
{
	for (struct proc_rec *r = ch.pending; r; r = r->next)
		if (__atomic_load_n(&r->pid, __ATOMIC_RELAXED) == pid)
			return r;
	return NULL;
}

void rt_child_reaped(pid_t pid, int status)
{
	struct proc_rec **pp = proc_slot_live(pid), *r = *pp;
	if (!r && !(r = pending_find(pid))) {
		/* not made by rt_proc_start: an orphan we inherited, kept for
		 * a while in case it is adopted (rt_proc_adopt) */
		unsigned k = ch.norphans++ % ORPHANS_KEPT;
		ch.orphans[k].pid = pid;
		ch.orphans[k].status = status;
		return;
	}
	if (r->discard) {
		proc_forget(pp);
		return;
	}
	r->status = status;
	r->exited = true;
	if (r->waiter) {
		if (rt_wake_claim(r->waiter))
			rt_poll_ready_push(r->waiter);
	} else if (r->settled && !r->waited) {
		struct rt_g *g = proc_unclaimed(r);
		if (g)
			rt_poll_ready_push(g);
	}
}

pid_t *rt_proc_pidp(struct proc_rec *r)
{
	return &r->pid;
}

struct proc_rec *rt_proc_reserve(bool waited)
{
	struct proc_rec *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->waited = waited;
	rt_poll_lock();
	r->next = ch.pending;
	ch.pending = r;
	rt_poll_waiters_add(1);
	rt_poll_unlock();
	return r;
}

void rt_proc_settle(struct proc_rec *r, pid_t pid, bool failed)
{
	rt_poll_lock();
	struct proc_rec **pp = &ch.pending;
	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	if (pid <= 0) {
		free(r);
		rt_poll_waiters_add(-1);
		rt_poll_unlock();
		return;
	}
	r->pid = pid;
	r->settled = true;
	r->next = NULL;
	pp = &ch.procs[(unsigned)pid % PROC_BUCKETS];
	while (*pp)
		pp = &(*pp)->next; /* after older records of a reused pid */
	*pp = r;
	if (failed && r->exited)
		proc_forget(pp);
	else if (failed)
		r->discard = true; /* on_child forgets it */
	struct rt_g *wake = NULL;
	if (!failed && r->exited && !r->waited)
		wake = proc_unclaimed(r);
	rt_poll_unlock();
	if (wake)
		rt_ready(wake);
}

int rt_proc_adopt(pid_t pid)
{
	struct proc_rec *r = calloc(1, sizeof *r);
	if (!r)
		return -1;
	rt_poll_lock();
	if (*proc_slot_live(pid) || pending_find(pid)) {
		rt_poll_unlock();
		free(r);
		errno = EEXIST;
		return -1;
	}
	r->pid = pid;
	r->settled = true;
	/* reaped before it was adopted: its exit, the latest of that pid */
	unsigned n = ch.norphans < ORPHANS_KEPT ? ch.norphans : ORPHANS_KEPT;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (ch.norphans - 1 - i) % ORPHANS_KEPT;
		if (ch.orphans[k].pid == pid) {
			r->exited = true;
			r->status = ch.orphans[k].status;
			ch.orphans[k].pid = 0;
			break;
		}
	}
	/* else it must be our child now: libev reaps under the poll lock, so a child
	 * that is ours here has its exit seen by on_child, with this record */
	siginfo_t si;
	if (!r->exited && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		int err = errno;
		rt_poll_unlock();
		free(r);
		errno = err;
		return -1;
	}
	struct proc_rec **pp = &ch.procs[(unsigned)pid % PROC_BUCKETS];
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	rt_poll_waiters_add(1);
	struct rt_g *wake = r->exited ? proc_unclaimed(r) : NULL;
	rt_poll_unlock();
	if (wake)
		rt_ready(wake);
	return 0;
}

int rt_proc_wait(pid_t pid, int *status, int64_t deadline)
{
	struct rt_wait w;
	struct rt_g *g = rt_wait_begin(&w, deadline);
	rt_poll_lock();
	struct proc_rec *r = *proc_slot(pid);
	if (!r || r->discard || r->waiter) {
		rt_poll_unlock();
		errno = r ? EBUSY : ECHILD;
		return -1;
	}
	if (!r->exited) {
		if (rt_deadline_passed(deadline)) {
			rt_poll_unlock();
			errno = ETIMEDOUT;
			return -1;
		}
		r->waiter = g;
		rt_wait_park_locked(&w, "child wait");
		rt_poll_lock();
		rt_wait_end_locked(&w);
		r->waiter = NULL;
		if (!r->exited) { /* the deadline won, and the child still runs */
			rt_poll_unlock();
			errno = ETIMEDOUT;
			return -1;
		}
	}
	if (status)
		*status = r->status;
	proc_forget(proc_slot_of(r));
	rt_poll_unlock();
	return 0;
}

/* Take the oldest unclaimed exit; poll lock held. */
static pid_t take_unclaimed(int *status)
{
	struct proc_rec *r = ch.unclaimed_head;
	pid_t pid = r->pid;
	if (status)
		*status = r->status;
	proc_forget(proc_slot_of(r));
	return pid;
}

static void anywaiter_remove(struct any_wait *w)
{
	struct any_wait **pp = &ch.anywaiters;
	while (*pp != w)
		pp = &(*pp)->next;
	*pp = w->next;
}

pid_t rt_proc_wait_any(int *status, int64_t deadline)
{
	struct rt_wait w;
	struct rt_g *g = rt_wait_begin(&w, deadline);
	rt_poll_lock();
	for (;;) {
		if (ch.unclaimed_head) {
			pid_t pid = take_unclaimed(status);
			rt_poll_unlock();
			return pid;
		}
		if (ch.any_cancel) {
			ch.any_cancel = false;
			rt_poll_unlock();
			errno = ECANCELED;
			return -1;
		}
		if (rt_deadline_passed(deadline)) {
			rt_poll_unlock();
			errno = ETIMEDOUT;
			return -1;
		}
		/* Woken by an exit, a cancel or the deadline: look again. */
		struct any_wait aw = { .g = g, .next = ch.anywaiters };
		rt_wait_begin(&w, deadline);
		ch.anywaiters = &aw;
		rt_wait_park_locked(&w, "child wait (any)");
		rt_poll_lock();
		rt_wait_end_locked(&w);
		anywaiter_remove(&aw);
	}
}

void rt_proc_wait_any_cancel(void)
{
	struct rt_g *wake = NULL;
	rt_poll_lock();
	ch.any_cancel = true;
	for (struct any_wait *w = ch.anywaiters; w && !wake; w = w->next)
		if (!w->woken && rt_wake_claim(w->g)) {
			w->woken = true;
			wake = w->g;
		}
	rt_poll_unlock();
	if (wake)
		rt_ready(wake);
}

/* rt_run's teardown (rt_poll_fini): every child record goes. */
void rt_child_fini(void)
{
	for (int i = 0; i < PROC_BUCKETS; i++)
		while (ch.procs[i]) {
			struct proc_rec *r = ch.procs[i];
			ch.procs[i] = r->next;
			free(r);
		}
	while (ch.pending) {
		struct proc_rec *r = ch.pending;
		ch.pending = r->next;
		free(r);
	}
	memset(&ch, 0, sizeof ch);
}
