/*
 * chan.h - channel internals shared by chan.c and select.c.
 *
 * Invariants (all under c->lock):
 *   - recvq is non-empty only while the buffer is empty, and sendq only
 *     while it is full (for cap 0: always "full" and "empty");
 *   - once closed, sendq is empty and stays empty; recvq drains;
 *   - a sudog is in at most one queue, and `queued` says whether it is.
 * Never ready a G while holding a channel lock: collect it, unlock, then
 * rt_ready() (chan.go's rule; otherwise the woken G could run, free the
 * channel, and we would unlock freed memory).
 */
#ifndef GRUN_RT_CHAN_H
#define GRUN_RT_CHAN_H

#include "rt_internal.h"

/* A G waiting on a channel; lives on that G's stack.  elem points into
 * the waiting G's memory: a sender's value or a receiver's slot. */
struct rt_sudog {
	struct rt_g *g;
	struct rt_sudog *next, *prev;
	void *elem;
	struct rt_chan *c;
	int case_index;    /* select case, or -1 */
	bool queued;       /* in c's recvq or sendq */
	bool success;      /* woken by a transfer (true) or by close (false) */
};

struct waitq {
	struct rt_sudog *first, *last;
};

struct rt_chan {
	struct rt_lock lock;
	bool closed;
	size_t elemsize;
	size_t cap;
	size_t count;              /* elements in buf */
	size_t sendx, recvx;       /* ring indices into buf */
	struct waitq recvq, sendq;
	char *buf;                 /* cap * elemsize bytes, right after the struct */
};

void rt_waitq_push(struct waitq *q, struct rt_sudog *s);
void rt_waitq_remove(struct waitq *q, struct rt_sudog *s);
/* Pop the first sudog whose G can still be woken (wins its wake word);
 * sets g->wake_sudog.  NULL if none. */
struct rt_sudog *rt_waitq_dequeue(struct waitq *q);

/* The three transfers, c->lock held; they return the peer G to ready. */
struct rt_g *rt_chan_send_to(struct rt_chan *c, struct rt_sudog *receiver, const void *elem);
struct rt_g *rt_chan_recv_from(struct rt_chan *c, struct rt_sudog *sender, void *elem);
void rt_chan_buf_put(struct rt_chan *c, const void *elem);
void rt_chan_buf_take(struct rt_chan *c, void *elem);

int rt_chan_unlock_commit(struct rt_g *g, void *arg);

#endif
