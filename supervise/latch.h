/*
 * latch.h - readiness latches: how `needs` waits.
 *
 * Every job has one latch, shared by its instances: it settles once, for
 * good, when all instances have been ready (OK) or when the job failed
 * before that (FAILED, with why).  A dependent waits on the latch's
 * `settled` channel, which closes at that moment, so it can wait on
 * several latches and its mailbox in one rt_select().  A reload that
 * changes a job gives it a new latch; the old one stays allocated until
 * the graph is freed, since waiters may still hold it.
 *
 * Threads: any green thread.  The latch set has its own mutex (never held
 * across a park); outcome is atomic and may be read without it.
 */
#ifndef GRUN_SV_LATCH_H
#define GRUN_SV_LATCH_H
#include "supervise/config.h"

enum { LATCH_OPEN = 0, LATCH_OK = 1, LATCH_FAILED = 2 };

struct sv_latch {
	char name[SV_NAME_MAX];    /* the job's */
	int instances;             /* ready instances needed */
	struct rt_chan *settled;   /* elem 0: closed when settled */
	int outcome;               /* atomic: LATCH_OPEN, then OK or FAILED once */
	int ready_instances;       /* under the set's mutex */
	int refs;                  /* under the set's mutex: the table while current,
	                              each node of the job, each finder */
	const char *why;           /* LATCH_FAILED: what happened (a string of static
	                              storage, not a copy); written before outcome */
};

struct sv_latches;

struct sv_latches *sv_latches_new(void);
void sv_latches_free(struct sv_latches *ls);
/* sv_latch_new() makes a new latch for job j, replacing any of the same
 * name as the one sv_latch_find() returns; a replaced latch still open
 * closes its channel, so that its waiters look again (and find the new
 * one).  The caller gets a reference. */
struct sv_latch *sv_latch_new(struct sv_latches *ls, const struct sv_job *j);
/* sv_latch_find() is the current latch of the job called name (NULL if
 * there is none), with a reference the caller gives back with
 * sv_latch_put(); sv_latch_get() takes one more.  A latch is freed with
 * its last reference. */
struct sv_latch *sv_latch_find(struct sv_latches *ls, const char *name);
void sv_latch_get(struct sv_latches *ls, struct sv_latch *l);
void sv_latch_put(struct sv_latches *ls, struct sv_latch *l);
/* One instance became ready; the latch settles OK with the last one. */
void sv_latch_ready(struct sv_latches *ls, struct sv_latch *l);
/* The job failed before it was ready: settles FAILED (once).  why must
 * outlive the latch (a string literal): the latch keeps the pointer. */
void sv_latch_fail(struct sv_latches *ls, struct sv_latch *l, const char *why);
/* sv_latch_outcome() reads the outcome without the lock. */
int sv_latch_outcome(const struct sv_latch *l);
#endif
