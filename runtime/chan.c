/*
 * chan.c - channels: Go's chan.go semantics in C.
 *
 * A send to a parked receiver copies straight into the receiver's slot
 * and readies it (no trip through the buffer); a receive from a full
 * buffer with a parked sender takes the head and moves the sender's value
 * into the freed tail slot, keeping FIFO order.  Waiters are served in
 * arrival order.  Close wakes every waiter: receivers get ok = 0 once the
 * buffer is drained, senders EPIPE.
 *
 * Send and receive are safe points: a G whose time slice is over gives
 * way on entry (rt_preempt_point), before it takes the channel's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"

struct rt_chan *rt_chan_make(size_t elem_size, size_t cap)
{
	if (elem_size > (1u << 16) || (elem_size && cap > (SIZE_MAX / 2) / elem_size)) {
		errno = EINVAL;
		return NULL;
	}
	struct rt_chan *c = calloc(1, sizeof *c + elem_size * cap);
	if (!c)
		return NULL;
	c->elemsize = elem_size;
	c->cap = cap;
	c->buf = (char *)(c + 1);
	return c;
}

void rt_chan_free(struct rt_chan *c)
{
	free(c);
}

size_t rt_chan_len(struct rt_chan *c)
{
	rt_lock(&c->lock);
	size_t n = c->count;
	rt_unlock(&c->lock);
	return n;
}

size_t rt_chan_cap(struct rt_chan *c)
{
	return c->cap;
}

/* ---- wait queues -------------------------------------------------------- */

void rt_waitq_push(struct waitq *q, struct rt_sudog *s)
{
	s->next = NULL;
	s->prev = q->last;
	if (q->last)
		q->last->next = s;
	else
		q->first = s;
	q->last = s;
	s->queued = true;
}

void rt_waitq_remove(struct waitq *q, struct rt_sudog *s)
{
	if (!s->queued)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		q->first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		q->last = s->prev;
	s->next = s->prev = NULL;
	s->queued = false;
}

struct rt_sudog *rt_waitq_dequeue(struct waitq *q)
{
	struct rt_sudog *s;
	while ((s = q->first)) {
		rt_waitq_remove(q, s);
		/* A plain send/recv has no other waker than this channel (its
		 * sudog leaves the queue under the lock); a select that already
		 * won elsewhere (or timed out) is skipped. */
		if (s->case_index < 0 || rt_wake_claim(s->g)) {
			s->g->wake_sudog = s;
			return s;
		}
	}
	return NULL;
}

/* ---- transfers, c->lock held ------------------------------------------------ */

static inline void *slot(struct rt_chan *c, size_t i)
{
	return c->buf + i * c->elemsize;
}

static inline void copy_elem(struct rt_chan *c, void *dst, const void *src)
{
	if (dst && c->elemsize)
		memcpy(dst, src, c->elemsize);
}

struct rt_g *rt_chan_send_to(struct rt_chan *c, struct rt_sudog *r, const void *elem)
{
	copy_elem(c, r->elem, elem);
	r->success = true;
	return r->g;
}

struct rt_g *rt_chan_recv_from(struct rt_chan *c, struct rt_sudog *s, void *elem)
{
	if (c->cap == 0) {
		copy_elem(c, elem, s->elem);
	} else {
		/* Full buffer: take the head, the sender's value becomes the tail. */
		copy_elem(c, elem, slot(c, c->recvx));
		if (c->elemsize)
			memcpy(slot(c, c->recvx), s->elem, c->elemsize);
		if (++c->recvx == c->cap)
			c->recvx = 0;
		c->sendx = c->recvx;
	}
	s->success = true;
	return s->g;
}

void rt_chan_buf_put(struct rt_chan *c, const void *elem)
{
	if (c->elemsize)
		memcpy(slot(c, c->sendx), elem, c->elemsize);
	if (++c->sendx == c->cap)
		c->sendx = 0;
	c->count++;
}

void rt_chan_buf_take(struct rt_chan *c, void *elem)
{
	copy_elem(c, elem, slot(c, c->recvx));
	if (++c->recvx == c->cap)
		c->recvx = 0;
	c->count--;
}

/* Debug check, c->lock held: the invariants of chan.h. */
static __attribute__((unused)) void chan_check(struct rt_chan *c)
{
	rt_assert(c->count <= c->cap, "channel holds more than its capacity");
	rt_assert(!c->recvq.first || c->count == 0, "receivers wait on a non-empty channel");
	rt_assert(!c->sendq.first || c->count == c->cap, "senders wait on a channel with room");
	rt_assert(!c->closed || !c->sendq.first, "senders wait on a closed channel");
}

int rt_chan_unlock_commit(struct rt_g *g, void *arg)
{
	(void)g;
	DEBUG_CHECK(chan_check(arg));
	rt_unlock(&((struct rt_chan *)arg)->lock);
	return 1;
}

/* ---- send, receive, close ------------------------------------------------- */

int rt_chan_send(struct rt_chan *c, const void *elem)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m ? m->curg : NULL;
	rt_assert(g, "rt_chan_send outside a green thread");
	rt_preempt_point(m);
	rt_lock(&c->lock);
	if (c->closed) {
		rt_unlock(&c->lock);
		errno = EPIPE;
		return -1;
	}
	struct rt_sudog *r = rt_waitq_dequeue(&c->recvq);
	if (r) {
		struct rt_g *peer = rt_chan_send_to(c, r, elem);
		rt_unlock(&c->lock);
		rt_ready(peer);
		return 0;
	}
	if (c->count < c->cap) {
		rt_chan_buf_put(c, elem);
		rt_unlock(&c->lock);
		return 0;
	}
	struct rt_sudog me = { .g = g, .elem = (void *)elem, .c = c, .case_index = -1 };
	rt_waitq_push(&c->sendq, &me);
	rt_park(rt_chan_unlock_commit, c, "chan send");
	if (!me.success) {
		errno = EPIPE;
		return -1;
	}
	return 0;
}

int rt_chan_recv(struct rt_chan *c, void *elem)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m ? m->curg : NULL;
	rt_assert(g, "rt_chan_recv outside a green thread");
	rt_preempt_point(m);
	rt_lock(&c->lock);
	struct rt_sudog *s = rt_waitq_dequeue(&c->sendq);
	if (s) {
		struct rt_g *peer = rt_chan_recv_from(c, s, elem);
		rt_unlock(&c->lock);
		rt_ready(peer);
		return 1;
	}
	if (c->count > 0) {
		rt_chan_buf_take(c, elem);
		rt_unlock(&c->lock);
		return 1;
	}
	if (c->closed) {
		rt_unlock(&c->lock);
		if (elem && c->elemsize)
			memset(elem, 0, c->elemsize);
		return 0;
	}
	struct rt_sudog me = { .g = g, .elem = elem, .c = c, .case_index = -1 };
	rt_waitq_push(&c->recvq, &me);
	rt_park(rt_chan_unlock_commit, c, "chan receive");
	if (!me.success && elem && c->elemsize)
		memset(elem, 0, c->elemsize);
	return me.success ? 1 : 0;
}

int rt_chan_close(struct rt_chan *c)
{
	rt_lock(&c->lock);
	if (c->closed) {
		rt_unlock(&c->lock);
		errno = EPIPE;
		return -1;
	}
	c->closed = true;
	struct rt_g *wake = NULL;
	struct rt_sudog *s;
	while ((s = rt_waitq_dequeue(&c->recvq)) || (s = rt_waitq_dequeue(&c->sendq))) {
		s->success = false;
		s->g->schedlink = wake;
		wake = s->g;
	}
	rt_unlock(&c->lock);
	while (wake) {
		struct rt_g *next = wake->schedlink;
		rt_ready(wake);
		wake = next;
	}
	return 0;
}
