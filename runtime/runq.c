/*
 * runq.c - run queues: each P's bounded lock-free ring plus its runnext
 * slot, and the global queue.  The algorithm is Go's (proc.go runqput,
 * runqget, runqgrab): the owner is the only producer; the owner and
 * thieves consume by CAS on head.
 *
 * Memory orders: the owner publishes a slot with a release store of tail;
 * consumers read tail with acquire, read the slots, and claim them with a
 * release CAS on head (the owner may then overwrite those slots).
 */
#include <stdlib.h>
#include <unistd.h>

#include "rt_internal.h"

#define LOAD_ACQ(x) atomic_load_explicit(&(x), memory_order_acquire)
#define LOAD_RLX(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Move half the local queue plus g to the global queue; owner only.
 * False if a thief moved things meanwhile (then retry the fast path). */
static bool runqputslow(struct rt_p *p, struct rt_g *g, uint32_t h, uint32_t t)
{
	struct rt_g *batch[RT_RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2;
	rt_assert(n == RT_RUNQ_SIZE / 2, "runqputslow: queue is not full");
	for (uint32_t i = 0; i < n; i++)
		batch[i] = LOAD_RLX(p->runq[(h + i) % RT_RUNQ_SIZE]);
	if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n,
			memory_order_release, memory_order_relaxed))
		return false;
	batch[n] = g;
	rt_lock(&rt_sched.lock);
	for (uint32_t i = 0; i <= n; i++)
		rt_globrunqput(batch[i]);
	rt_unlock(&rt_sched.lock);
	return true;
}

/* Put g on p's queue; next: into runnext, kicking the old one to the
 * tail.  Owner only.  Returns true if the G went to the global queue. */
bool rt_runqput(struct rt_p *p, struct rt_g *g, bool next)
{
	if (next) {
		g = atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
		if (!g)
			return false;
	}
	for (;;) {
		uint32_t h = LOAD_ACQ(p->runqhead);
		uint32_t t = LOAD_RLX(p->runqtail);
		if (t - h < RT_RUNQ_SIZE) {
			atomic_store_explicit(&p->runq[t % RT_RUNQ_SIZE], g, memory_order_relaxed);
			atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
			return false;
		}
		if (runqputslow(p, g, h, t))
			return true;
	}
}

/* Take a G from p: runnext first (*inherit: it inherits the time
 * slice), then the head.  Owner only. */
struct rt_g *rt_runqget(struct rt_p *p, bool *inherit)
{
	struct rt_g *next = LOAD_RLX(p->runnext);
	*inherit = false;
	if (next && atomic_compare_exchange_strong_explicit(&p->runnext, &next, NULL,
			memory_order_acq_rel, memory_order_relaxed)) {
		*inherit = true;
		return next;
	}
	return rt_runqget_oldest(p);
}

/* The head of p's ring, passing over runnext (a fairness pass: the
 * oldest runnable G first).  Owner only. */
struct rt_g *rt_runqget_oldest(struct rt_p *p)
{
	for (;;) {
		uint32_t h = LOAD_ACQ(p->runqhead);
		uint32_t t = LOAD_RLX(p->runqtail);
		if (t == h)
			return NULL;
		struct rt_g *g = LOAD_RLX(p->runq[h % RT_RUNQ_SIZE]);
		if (atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + 1,
				memory_order_release, memory_order_relaxed))
			return g;
	}
}

bool rt_runqempty(struct rt_p *p)
{
	/* Read head, tail, runnext, and tail again, so that a G moving from
	 * runnext to the queue is not missed (Go's runqempty). */
	for (;;) {
		uint32_t h = LOAD_ACQ(p->runqhead);
		uint32_t t = LOAD_ACQ(p->runqtail);
		struct rt_g *n = LOAD_ACQ(p->runnext);
		if (t == LOAD_ACQ(p->runqtail))
			return h == t && n == NULL;
	}
}

/* Debug check, owner only: the ring holds at most RT_RUNQ_SIZE Gs, each
 * runnable (a G in a queue has a saved context). */
void rt_runq_check(struct rt_p *p)
{
	uint32_t h = LOAD_ACQ(p->runqhead), t = LOAD_ACQ(p->runqtail);
	rt_assert(t - h <= RT_RUNQ_SIZE, "run queue holds more than its size");
	for (uint32_t i = h; i != t; i++) {
		struct rt_g *g = LOAD_RLX(p->runq[i % RT_RUNQ_SIZE]);
		if (LOAD_ACQ(p->runqhead) != h)
			return; /* a thief moved on: the rest may be stale */
		rt_assert(g && atomic_load(&g->status) == G_RUNNABLE, "a queued G is not runnable");
	}
}

/* Grab half of victim's queue into batch; any thread.  Returns count. */
static uint32_t runqgrab(struct rt_p *victim, struct rt_g **batch, bool stealnext)
{
	for (;;) {
		uint32_t h = LOAD_ACQ(victim->runqhead);
		uint32_t t = LOAD_ACQ(victim->runqtail);
		uint32_t n = t - h;
		n = n - n / 2;
		if (n == 0) {
			if (!stealnext)
				return 0;
			struct rt_g *next = LOAD_ACQ(victim->runnext);
			if (!next)
				return 0;
			/* A G in runnext of a running P was usually just readied by the
			 * G running there, which is about to block (a channel partner):
			 * give that P a moment to run it before taking it away, or the
			 * pair ends up split over two threads (Go's runqgrab sleeps for
			 * the same reason).  The sleep lasts ~75 us here (timer slack),
			 * long enough for a ping-pong pair to trade places many times
			 * and leave the same G in runnext again: so steal only if the
			 * victim ran no other G meanwhile (its current G is still
			 * running, or has been for the whole sleep). */
			if ((atomic_load_explicit(&victim->state, memory_order_relaxed) & 0xff) == P_RUNNING) {
				uint32_t sw = LOAD_RLX(victim->switchtick);
				usleep(3);
				if (LOAD_RLX(victim->switchtick) != sw)
					return 0;
			}
			if (atomic_compare_exchange_strong_explicit(&victim->runnext,
					&next, NULL, memory_order_acq_rel, memory_order_relaxed)) {
				batch[0] = next;
				return 1;
			}
			return 0;
		}
		if (n > RT_RUNQ_SIZE / 2)
			continue; /* read an inconsistent h and t */
		for (uint32_t i = 0; i < n; i++)
			batch[i] = LOAD_RLX(victim->runq[(h + i) % RT_RUNQ_SIZE]);
		if (atomic_compare_exchange_strong_explicit(&victim->runqhead, &h, h + n,
				memory_order_release, memory_order_relaxed))
			return n;
	}
}

/* Steal half of victim's Gs into p's queue and return one to run.
 * Called by p's owner. */
struct rt_g *rt_runqsteal(struct rt_p *p, struct rt_p *victim, bool stealnext)
{
	struct rt_g *batch[RT_RUNQ_SIZE / 2];
	uint32_t n = runqgrab(victim, batch, stealnext);
	if (n == 0)
		return NULL;
	uint32_t t = LOAD_RLX(p->runqtail);
	uint32_t h = LOAD_ACQ(p->runqhead);
	rt_assert(t - h + n - 1 <= RT_RUNQ_SIZE, "runqsteal: queue overflow");
	for (uint32_t i = 1; i < n; i++)
		atomic_store_explicit(&p->runq[(t + i - 1) % RT_RUNQ_SIZE], batch[i],
				memory_order_relaxed);
	atomic_store_explicit(&p->runqtail, t + n - 1, memory_order_release);
	return batch[0];
}

/* ---- global queue, sched.lock held ---------------------------------- */

void rt_globrunqput(struct rt_g *g)
{
	uint32_t cap = LOAD_RLX(rt_sched.runqcap);
	uint32_t size = (uint32_t)LOAD_RLX(rt_sched.runqsize);
	rt_assert(size < cap, "global run queue overflow");
	rt_sched.runq[(rt_sched.runqfirst + size) & (cap - 1)] = g;
	atomic_store_explicit(&rt_sched.runqsize, (int)size + 1, memory_order_relaxed);
}

static struct rt_g *globrunqpop(void)
{
	uint32_t cap = LOAD_RLX(rt_sched.runqcap);
	struct rt_g *g = rt_sched.runq[rt_sched.runqfirst];
	rt_sched.runqfirst = (rt_sched.runqfirst + 1) & (cap - 1);
	atomic_fetch_sub_explicit(&rt_sched.runqsize, 1, memory_order_relaxed);
	return g;
}

/* Take a batch for p (Go's globrunqget): one to run, the rest into p's
 * local queue. */
struct rt_g *rt_globrunqget(struct rt_p *p, int max)
{
	int size = LOAD_RLX(rt_sched.runqsize);
	if (size == 0)
		return NULL;
	int n = size / rt_sched.nprocs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RT_RUNQ_SIZE / 2)
		n = RT_RUNQ_SIZE / 2;
	struct rt_g *g = globrunqpop();
	for (int i = 1; i < n; i++)
		rt_runqput(p, globrunqpop(), false);
	return g;
}

int rt_globrunq_reserve(uint64_t n)
{
	int err = 0;
	rt_lock(&rt_sched.lock);
	uint32_t cap = LOAD_RLX(rt_sched.runqcap);
	if (n > cap) {
		uint64_t ncap = cap ? cap : 1024;
		while (ncap < n)
			ncap *= 2;
		struct rt_g **ring = ncap <= UINT32_MAX / 2 + 1 ? malloc(ncap * sizeof *ring) : NULL;
		if (ring) {
			/* Unroll the old ring into the start of the new one. */
			uint32_t size = (uint32_t)LOAD_RLX(rt_sched.runqsize);
			for (uint32_t i = 0; i < size; i++)
				ring[i] = rt_sched.runq[(rt_sched.runqfirst + i) & (cap - 1)];
			free(rt_sched.runq);
			rt_sched.runq = ring;
			rt_sched.runqfirst = 0;
			atomic_store_explicit(&rt_sched.runqcap, (uint32_t)ncap, memory_order_relaxed);
		} else {
			err = -1;
		}
	}
	rt_unlock(&rt_sched.lock);
	return err;
}
