/*
 * latch.c - see latch.h.
 *
 * The set is an open-addressing hash table of the current latches by job
 * name (linear probing, at most half full) plus a list of every latch
 * ever made, which owns them.  Lookups are O(1): a job looks up each of
 * its needs at every start, and a graph may have tens of thousands of
 * jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "supervise/latch.h"
#include "supervise/lock.h"
#include "supervise/xalloc.h"

struct sv_latches {
	pthread_mutex_t mu;        /* guards everything below */
	struct sv_latch **slot;    /* cap entries, NULL = empty */
	size_t cap, used;
	struct sv_latch **all;     /* every latch still referenced, freed with the set */
	size_t nall;
};

static size_t hash_name(const char *s)
{
	size_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* The slot of name: its latch, or the empty slot where it would go. */
static struct sv_latch **probe(struct sv_latches *ls, const char *name)
{
	size_t i = hash_name(name) & (ls->cap - 1);
	while (ls->slot[i] && strcmp(ls->slot[i]->name, name) != 0)
		i = (i + 1) & (ls->cap - 1);
	return &ls->slot[i];
}

static void grow(struct sv_latches *ls)
{
	struct sv_latch **old = ls->slot;
	size_t oldcap = ls->cap;
	ls->cap = oldcap ? oldcap * 2 : 64;
	ls->slot = sv_xcalloc(ls->cap, sizeof *ls->slot, "the latch table");
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*probe(ls, old[i]->name) = old[i];
	free(old);
}

struct sv_latches *sv_latches_new(void)
{
	struct sv_latches *ls = sv_xcalloc(1, sizeof *ls, "the latch table");
	pthread_mutex_init(&ls->mu, NULL);
	grow(ls);
	return ls;
}

void sv_latches_free(struct sv_latches *ls)
{
	if (!ls)
		return;
	for (size_t i = 0; i < ls->nall; i++) {
		rt_chan_free(ls->all[i]->settled);
		free(ls->all[i]);
	}
	free(ls->all);
	free(ls->slot);
	pthread_mutex_destroy(&ls->mu);
	free(ls);
}

struct sv_latch *sv_latch_new(struct sv_latches *ls, const struct sv_job *j)
{
	struct sv_latch *l = sv_xcalloc(1, sizeof *l, "a readiness latch");
	if (!(l->settled = rt_chan_make(0, 0)))
		sv_fatal("cannot make a latch channel: %s", strerror(errno));
	snprintf(l->name, sizeof l->name, "%s", j->name);
	l->instances = j->instances;
	l->refs = 2; /* the table's and the caller's */
	struct sv_latch *old;
	sv_lock(&ls->mu);
	if (2 * (ls->used + 1) > ls->cap)
		grow(ls);
	struct sv_latch **s = probe(ls, j->name);
	old = *s;
	ls->used += !old;
	*s = l;
	ls->all = sv_xreallocarray(ls->all, ls->nall + 1, sizeof *ls->all, "the latch table");
	ls->all[ls->nall++] = l;
	int wake = old && old->outcome == LATCH_OPEN;
	sv_unlock(&ls->mu);
	if (old) {
		/* the table's reference, now ours, keeps it through the wake-up */
		if (wake)
			rt_chan_close(old->settled); /* its waiters look again */
		sv_latch_put(ls, old);
	}
	return l;
}

void sv_latch_get(struct sv_latches *ls, struct sv_latch *l)
{
	sv_lock(&ls->mu);
	l->refs++;
	sv_unlock(&ls->mu);
}

void sv_latch_put(struct sv_latches *ls, struct sv_latch *l)
{
	if (!l)
		return;
	sv_lock(&ls->mu);
	int last = --l->refs == 0;
	if (last) {
		for (size_t i = 0; i < ls->nall; i++) {
			if (ls->all[i] == l) {
				ls->all[i] = ls->all[--ls->nall];
				break;
			}
		}
	}
	sv_unlock(&ls->mu);
	if (last) {
		rt_chan_free(l->settled);
		free(l);
	}
}

struct sv_latch *sv_latch_find(struct sv_latches *ls, const char *name)
{
	sv_lock(&ls->mu);
	struct sv_latch *l = *probe(ls, name);
	if (l)
		l->refs++;
	sv_unlock(&ls->mu);
	return l;
}

int sv_latch_outcome(const struct sv_latch *l)
{
	return __atomic_load_n(&l->outcome, __ATOMIC_ACQUIRE);
}

void sv_latch_ready(struct sv_latches *ls, struct sv_latch *l)
{
	sv_lock(&ls->mu);
	int settle = l->outcome == LATCH_OPEN && ++l->ready_instances == l->instances;
	if (settle)
		__atomic_store_n(&l->outcome, LATCH_OK, __ATOMIC_RELEASE);
	sv_unlock(&ls->mu);
	if (settle)
		rt_chan_close(l->settled);
}

void sv_latch_fail(struct sv_latches *ls, struct sv_latch *l, const char *why)
{
	sv_lock(&ls->mu);
	int settle = l->outcome == LATCH_OPEN;
	if (settle) {
		l->why = why;
		__atomic_store_n(&l->outcome, LATCH_FAILED, __ATOMIC_RELEASE);
	}
	sv_unlock(&ls->mu);
	if (settle)
		rt_chan_close(l->settled);
}
