/*
 * fdwait.c - green threads waiting for fds: the runtime's own epoll set,
 * nested in libev's loop as one fd.
 *
 * Why not one ev_io per wait: libev is not thread-safe and applies a new
 * watcher only inside ev_run, so every wait registered while the poller
 * slept in epoll_wait had to wake it (an eventfd write and a context
 * switch: about two per job in a one-shot run), and libev's lazy removal
 * of stopped fds made every close of a waited fd wait for the poll under
 * way and for clones in flight.  Here a wait is an epoll_ctl on our own
 * epoll instance, which the kernel applies at once; libev watches that
 * instance (readable while any of its fds has an event) and the poller
 * drains it in rt_fdwait_harvest() right after its libev iteration, so
 * the poller never needs waking for a new wait, as with Go's netpoller.
 *
 * Registrations are one-shot (EPOLLONESHOT): an event disarms its fd, so
 * a harvested fd stays quiet until a G waits on it again (EPOLL_CTL_MOD).
 * An fd stays registered after its waiters left, so the next wait on it
 * costs one MOD.  rt_close() forgets the fd before closing it, and
 * removes a registration that is still armed (EPOLL_CTL_DEL), so no event
 * is ever attributed to a reused fd number; a disarmed one can never fire
 * again, and close(2) drops it (or it stays, silent, with a copy of the
 * file in some child).  An fd closed with plain close(2) leaves a stale
 * entry: the next wait on its number finds the kernel's registration gone
 * (ENOENT) and adds it afresh; at worst a stale event wakes a waiter
 * early, which every caller tolerates (level-triggered: it retries).
 * Files epoll refuses (EPERM: regular files, /dev/null) are always ready,
 * as poll(2) says.
 *
 * Threads.  The table and every entry are guarded by fw.mu.  A G
 * registers and unregisters under it, and the harvest matches events to
 * waiters under it, so a waiter is only touched while listed.  Lock
 * order: fw.mu, then the poll lock (rt_wait_park arms a deadline under
 * the poll lock with fw.mu held); the harvest runs after the poller has
 * released the poll lock.  struct fd_waiter lives on the waiting G's
 * stack: it leaves its entry's list before the G returns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "rt_internal.h"

/* A G waiting on one fd; on its stack.  listed: on its entry's list
 * (poll lock).  fired: the events that woke it, set by the harvest. */
struct fd_waiter {
	struct rt_g *g;
	int events;
	int fired;
	bool listed;
	struct fd_waiter *next;
};

/* An fd known to our epoll set.  armed: the events the kernel will
 * report (0 once a one-shot event fired, until re-armed). */
struct fd_entry {
	bool registered;
	uint32_t armed;
	struct fd_waiter *waiters;
};

/* All under mu, except epfd (set once at init). */
static struct {
	struct rt_lock mu;
	int epfd;
	struct fd_entry **tab;        /* indexed by fd */
	int ntab;
} fw = { .epfd = -1 };

int rt_fdwait_init(void)
{
	fw.epfd = epoll_create1(EPOLL_CLOEXEC);
	return fw.epfd;
}

void rt_fdwait_fini(void)
{
	for (int i = 0; i < fw.ntab; i++)
		free(fw.tab[i]);
	free(fw.tab);
	if (fw.epfd >= 0)
		close(fw.epfd);
	fw.tab = NULL;
	fw.ntab = 0;
	fw.epfd = -1;
}

static uint32_t to_epoll(int events)
{
	return (events & RT_READ ? EPOLLIN : 0) | (events & RT_WRITE ? EPOLLOUT : 0);
}

/* A hang-up or an error counts as ready, as poll_many_now says below. */
static int from_epoll(uint32_t ev)
{
	return (ev & (EPOLLIN | EPOLLHUP | EPOLLERR) ? RT_READ : 0) |
	       (ev & (EPOLLOUT | EPOLLERR) ? RT_WRITE : 0);
}

/* The entry of fd, made if missing; NULL if out of memory.  fw.mu held. */
static struct fd_entry *entry_get(int fd)
{
	if (fd >= fw.ntab) {
		int n = fw.ntab ? fw.ntab : 64;
		while (n <= fd)
			n *= 2;
		struct fd_entry **t = realloc(fw.tab, (size_t)n * sizeof *t);
		if (!t)
			return NULL;
		memset(t + fw.ntab, 0, (size_t)(n - fw.ntab) * sizeof *t);
		fw.tab = t;
		fw.ntab = n;
	}
	if (!fw.tab[fd])
		fw.tab[fd] = calloc(1, sizeof **fw.tab);
	return fw.tab[fd];
}

static uint32_t wanted(const struct fd_entry *e)
{
	uint32_t m = 0;
	for (const struct fd_waiter *w = e->waiters; w; w = w->next)
		m |= to_epoll(w->events);
	return m;
}

/* Tell the kernel to report mask on fd (one-shot).  0, or -1 with errno
 * (EPERM: a file epoll cannot watch).  fw.mu held. */
static int arm(int fd, struct fd_entry *e, uint32_t mask)
{
	struct epoll_event ev = { .events = mask | EPOLLONESHOT, .data.fd = fd };
	if (e->registered) {
		if (epoll_ctl(fw.epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
			e->armed = mask;
			return 0;
		}
		if (errno != ENOENT)
			return -1;
		e->registered = false; /* closed behind our back: a new file */
	}
	if (epoll_ctl(fw.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	e->registered = true;
	e->armed = mask;
	return 0;
}

/* Take w off its entry's list.  fw.mu held.  The last waiter to leave
 * without an event (a timeout) forgets what the kernel was armed for:
 * the next wait re-arms with a MOD, which finds out (ENOENT) if the fd
 * was closed and its number reused meanwhile, instead of trusting a
 * registration the close dropped.  An event of the old registration
 * then finds no waiter, or wakes one early. */
static void unlist(int fd, struct fd_waiter *w)
{
	if (!w->listed)
		return;
	struct fd_entry *e = fw.tab[fd];
	for (struct fd_waiter **pp = &e->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->listed = false;
	rt_poll_waiters_add(-1);
	if (!e->waiters)
		e->armed = 0;
}

/* w fired: append its G to the list if its wake is ours. */
static void fire(struct fd_waiter *w, int got, struct rt_g ***tail)
{
	w->listed = false;
	w->fired = w->events & got;
	rt_poll_waiters_add(-1);
	if (rt_wake_claim(w->g)) {
		w->g->wake_events = w->fired;
		w->g->schedlink = NULL;
		**tail = w->g;
		*tail = &w->g->schedlink;
	}
}

/* Drain our epoll set: wake the waiters of every fd with an event
 * (appended at *tail, in order), and re-arm an fd for the waiters its
 * event did not concern.  The poller, after its libev iteration, without
 * the poll lock. */
void rt_fdwait_harvest(struct rt_g ***tail)
{
	struct epoll_event ev[64];
	int n;
	rt_lock(&fw.mu);
	do {
		n = epoll_wait(fw.epfd, ev, 64, 0);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			struct fd_entry *e = fd < fw.ntab ? fw.tab[fd] : NULL;
			if (!e)
				continue;
			e->armed = 0;
			int got = from_epoll(ev[i].events);
			for (struct fd_waiter **pp = &e->waiters; *pp;) {
				struct fd_waiter *w = *pp;
				if (!(w->events & got)) {
					pp = &w->next;
					continue;
				}
				*pp = w->next;
				fire(w, got, tail);
			}
			if (e->waiters && arm(fd, e, wanted(e)) < 0) {
				/* cannot re-arm: wake the rest, they poll again */
				for (struct fd_waiter *w; (w = e->waiters);) {
					e->waiters = w->next;
					fire(w, w->events, tail);
				}
			}
		}
	} while (n == 64);
	rt_unlock(&fw.mu);
}

static int unlock_commit(struct rt_g *g, void *arg)
{
	(void)g;
	(void)arg;
	rt_unlock(&fw.mu);
	return 1;
}

/* poll(2) with timeout 0: fills revents, returns the ready count. */
static int poll_many_now(struct rt_pollfd *fds, int n)
{
	struct pollfd p[RT_FD_WAIT_MAX];
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i].fd,
			.events = (short)((fds[i].events & RT_READ ? POLLIN : 0) |
			                  (fds[i].events & RT_WRITE ? POLLOUT : 0)) };
	if (poll(p, (nfds_t)n, 0) < 0)
		return -1;
	int ready = 0;
	for (int i = 0; i < n; i++) {
		int r = (p[i].revents & (POLLIN | POLLHUP | POLLERR) ? RT_READ : 0) |
			(p[i].revents & (POLLOUT | POLLERR) ? RT_WRITE : 0);
		fds[i].revents = fds[i].fd >= 0 ? r & fds[i].events : 0;
		ready += fds[i].revents != 0;
	}
	return ready;
}

/* One waiter per fd, all for this G: the first event claims the wake.
 * Sets the revents of the fds whose events were seen (those epoll
 * refuses count as ready at once) and returns how many, or -1 with
 * ETIMEDOUT. */
static int park_on_fds(struct rt_pollfd *fds, int n, int64_t deadline)
{
	struct fd_waiter w[RT_FD_WAIT_MAX];
	struct rt_wait wt;
	struct rt_g *g = rt_wait_begin(&wt, deadline);
	int ready = 0;
	rt_lock(&fw.mu);
	for (int i = 0; i < n; i++) {
		w[i] = (struct fd_waiter){ .g = g, .events = fds[i].events };
		if (fds[i].fd < 0 || !fds[i].events)
			continue;
		struct fd_entry *e = entry_get(fds[i].fd);
		uint32_t mask = e ? e->armed | to_epoll(fds[i].events) : 0;
		if (!e || (mask != e->armed && arm(fds[i].fd, e, mask) < 0)) {
			/* EPERM: always ready; out of memory or else: the
			 * caller polls again */
			fds[i].revents = fds[i].events;
			ready = 1;
			break;
		}
		w[i].next = e->waiters;
		e->waiters = &w[i];
		w[i].listed = true;
		rt_poll_waiters_add(1);
	}
	if (ready) {
		for (int i = 0; i < n; i++)
			if (fds[i].fd >= 0)
				unlist(fds[i].fd, &w[i]);
		rt_unlock(&fw.mu);
		return ready;
	}
	rt_wait_park(&wt, unlock_commit, NULL, "fd wait");
	bool timed_out = rt_wait_end(&wt);
	if (n > 1 || timed_out) {
		/* the harvest unlisted only the waiters whose fds fired */
		rt_lock(&fw.mu);
		for (int i = 0; i < n; i++)
			if (fds[i].fd >= 0)
				unlist(fds[i].fd, &w[i]);
		rt_unlock(&fw.mu);
	}
	if (timed_out) {
		errno = ETIMEDOUT;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		fds[i].revents = w[i].fired;
		ready += w[i].fired != 0;
	}
	return ready;
}

int rt_fd_wait(int fd, int events, int64_t deadline)
{
	struct rt_g *g = rt_g_current();
	events &= RT_READ | RT_WRITE;
	if (!g || fd < 0 || !events) {
		errno = EINVAL;
		return -1;
	}
	struct rt_pollfd pf = { fd, events, 0 };
	if (rt_deadline_passed(deadline)) {
		int r = poll_many_now(&pf, 1);
		if (r > 0)
			return pf.revents;
		if (r == 0)
			errno = ETIMEDOUT;
		return -1;
	}
	return park_on_fds(&pf, 1, deadline) < 0 ? -1 : pf.revents;
}

/* With ask_first, asks poll(2) first and parks only when nothing is
 * ready; without, parks at once (a wake with nothing seen asks poll). */
static int wait_any(struct rt_pollfd *fds, int n, int64_t deadline, bool ask_first)
{
	struct rt_g *g = rt_g_current();
	if (!g || n < 0 || n > RT_FD_WAIT_MAX) {
		errno = EINVAL;
		return -1;
	}
	int active = 0;
	for (int i = 0; i < n; i++) {
		fds[i].events &= RT_READ | RT_WRITE;
		fds[i].revents = 0;
		active += fds[i].fd >= 0 && fds[i].events;
	}
	if (!active) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		int ready = ask_first ? poll_many_now(fds, n) : 0;
		if (ready != 0)
			return ready;
		ask_first = true;
		if (rt_deadline_passed(deadline)) {
			errno = ETIMEDOUT;
			return -1;
		}
		int r = park_on_fds(fds, n, deadline);
		if (r != 0)
			return r;
		/* woken with nothing seen: look again */
	}
}

int rt_fd_wait_any(struct rt_pollfd *fds, int n, int64_t deadline)
{
	return wait_any(fds, n, deadline, true);
}

int rt_fd_wait_any_fresh(struct rt_pollfd *fds, int n, int64_t deadline)
{
	return wait_any(fds, n, deadline, false);
}

/* Forget fd in our set before closing it, so its number can be reused at
 * once: no event of the old file can reach a waiter of the new one. */
int rt_close(int fd)
{
	rt_lock(&fw.mu);
	struct fd_entry *e = fd >= 0 && fd < fw.ntab ? fw.tab[fd] : NULL;
	if (e) {
		rt_assert(!e->waiters, "rt_close: a green thread waits on the fd");
		if (e->registered && e->armed)
			epoll_ctl(fw.epfd, EPOLL_CTL_DEL, fd, NULL);
		free(e);
		fw.tab[fd] = NULL;
	}
	rt_unlock(&fw.mu);
	return close(fd);
}
