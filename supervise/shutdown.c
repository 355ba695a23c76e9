/*
 * shutdown.c - see shutdown.h.
 *
 * The plan is a graph of steps with counters, executed as events arrive
 * (Kahn's algorithm run live).  A job step is released when every step
 * that must come before it is done; released, it asks the job's
 * supervisor to stop it (MSG_STOP_CHILD), and it is done when the job's
 * MSG_FINAL comes.  Edges:
 * - X needs Y: X's step before Y's (dependents first);
 * - a sequential supervisor with children c0..ck: two virtual steps per
 *   child, "begin i" before every job step below c_i and every job step
 *   below c_i before "end i"; "end i+1" before "begin i".  So the order
 *   costs O(jobs) edges, not O(jobs^2).
 * Before anything is sent, a dry run checks the plan finishes; if the
 * sequential edges make a cycle with `needs`, they are dropped and that
 * is logged.
 *
 * Owned by the main green thread; nothing here is shared.
 */
#include <stdlib.h>
#include <string.h>

#include "supervise/config.h"
#include "supervise/mailbox.h"
#include "supervise/output.h"
#include "supervise/shutdown.h"
#include "supervise/xalloc.h"

struct step {
	struct sv_node *job;   /* NULL: a virtual step */
	int before;            /* steps that must be done first, not yet done */
	int *after;            /* steps waiting for this one */
	int nafter, capafter;
	int released, done;
	int down;              /* the job ended for good (before or while released) */
};

struct sv_shutdown {
	struct sv_graph *g;
	struct step *v;
	int n, cap;
	int njobs;                     /* steps 0..njobs-1 are the roster's jobs */
	struct sv_node **by_ptr;       /* the roster's nodes sorted by address, for FINAL */
	int *by_ptr_step;
	int *queue;                    /* steps to release */
	int nqueue, capqueue;
};

static int add_step(struct sv_shutdown *sd, struct sv_node *job)
{
	if (sd->n == sd->cap) {
		sd->cap = sd->cap ? 2 * sd->cap : 64;
		sd->v = sv_xreallocarray(sd->v, (size_t)sd->cap, sizeof *sd->v, "the stop plan");
	}
	sd->v[sd->n] = (struct step){ .job = job };
	return sd->n++;
}

/* a before b */
static void add_edge(struct sv_shutdown *sd, int a, int b)
{
	struct step *s = &sd->v[a];
	if (s->nafter == s->capafter) {
		s->capafter = s->capafter ? 2 * s->capafter : 4;
		s->after = sv_xreallocarray(s->after, (size_t)s->capafter, sizeof *s->after, "the stop plan");
	}
	s->after[s->nafter++] = b;
	sd->v[b].before++;
}

/* ---- building ------------------------------------------------------------------- */

struct by_name { const char *name; int step; };

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct by_name *)a)->name, ((const struct by_name *)b)->name);
}

/* Dependents first: for each job X and each job Y it needs, X before Y. */
static void needs_edges(struct sv_shutdown *sd)
{
	struct by_name *idx = sv_xcalloc((size_t)sd->njobs + 1, sizeof *idx, "the stop plan");
	for (int i = 0; i < sd->njobs; i++)
		idx[i] = (struct by_name){ sd->v[i].job->job->name, i };
	qsort(idx, (size_t)sd->njobs, sizeof *idx, cmp_name);
	for (int x = 0; x < sd->njobs; x++) {
		const struct sv_strv *needs = &sd->v[x].job->job->needs;
		for (int k = 0; k < needs->n; k++) {
			struct by_name key = { needs->v[k], 0 };
			struct by_name *hit = bsearch(&key, idx, (size_t)sd->njobs, sizeof *idx, cmp_name);
			if (!hit)
				continue;
			while (hit > idx && strcmp(hit[-1].name, key.name) == 0)
				hit--;
			for (; hit < idx + sd->njobs && strcmp(hit->name, key.name) == 0; hit++)
				add_edge(sd, x, hit->step);
		}
	}
	free(idx);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(struct sv_node *const *)a, y = (uintptr_t)*(struct sv_node *const *)b;
	return x < y ? -1 : x > y;
}

/* Where node n is, or would be, in by_ptr (sorted by address). */
static size_t node_slot(const struct sv_shutdown *sd, const struct sv_node *n)
{
	size_t lo = 0, hi = (size_t)sd->njobs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((uintptr_t)sd->by_ptr[mid] < (uintptr_t)n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The roster step of job node n, or -1. */
static int step_of(const struct sv_shutdown *sd, const struct sv_node *n)
{
	size_t k = node_slot(sd, n);
	return k < (size_t)sd->njobs && sd->by_ptr[k] == n ? sd->by_ptr_step[k] : -1;
}

/* Every roster job below node n (in the tree) gets edges with begin and end. */
struct subtree { struct sv_shutdown *sd; int begin, end; };

static void bracket_job(struct sv_node *n, void *arg)
{
	struct subtree *t = arg;
	int x = step_of(t->sd, n);
	if (x < 0)
		return;
	add_edge(t->sd, t->begin, x);
	add_edge(t->sd, x, t->end);
}

static void sequential_edges(struct sv_shutdown *sd, struct sv_node *sup)
{
	size_t nkids = 0;
	struct sv_node **kids = sv_tree_children(sd->g, sup, &nkids);
	int prev_end = -1;
	/* from the last started child to the first: end(i+1) before begin(i) */
	for (size_t k = nkids; k-- > 0;) {
		struct subtree t = { sd, add_step(sd, NULL), add_step(sd, NULL) };
		sv_tree_each_job(sd->g, kids[k], bracket_job, &t);
		if (prev_end >= 0)
			add_edge(sd, prev_end, t.begin);
		prev_end = t.end;
	}
	free(kids);
}

/* Would the plan finish?  A dry run of Kahn's algorithm. */
static int plan_finishes(const struct sv_shutdown *sd)
{
	int *before = sv_xcalloc((size_t)sd->n + 1, sizeof *before, "the stop plan");
	int *queue = sv_xcalloc((size_t)sd->n + 1, sizeof *queue, "the stop plan");
	int head = 0, tail = 0;
	for (int i = 0; i < sd->n; i++)
		if ((before[i] = sd->v[i].before) == 0)
			queue[tail++] = i;
	while (head < tail) {
		const struct step *s = &sd->v[queue[head++]];
		for (int k = 0; k < s->nafter; k++)
			if (--before[s->after[k]] == 0)
				queue[tail++] = s->after[k];
	}
	free(before);
	free(queue);
	return tail == sd->n;
}

static void drop_virtual(struct sv_shutdown *sd)
{
	for (int i = sd->njobs; i < sd->n; i++)
		free(sd->v[i].after);
	sd->n = sd->njobs;
	for (int i = 0; i < sd->n; i++) {
		sd->v[i].before = 0;
		sd->v[i].nafter = 0;
	}
	needs_edges(sd);
}

/* ---- running --------------------------------------------------------------------- */

/* Steps are released through a queue, not by recursion: a needs chain
 * may be 100,000 long and the main green thread's stack is 64 KiB. */
static void push(struct sv_shutdown *sd, int i)
{
	if (sd->nqueue == sd->capqueue) {
		sd->capqueue = sd->capqueue ? 2 * sd->capqueue : 64;
		sd->queue = sv_xreallocarray(sd->queue, (size_t)sd->capqueue, sizeof *sd->queue, "the stop plan");
	}
	sd->queue[sd->nqueue++] = i;
}

static void mark_done(struct sv_shutdown *sd, int i)
{
	struct step *s = &sd->v[i];
	if (s->done)
		return;
	s->done = 1;
	for (int k = 0; k < s->nafter; k++)
		if (--sd->v[s->after[k]].before == 0)
			push(sd, s->after[k]);
}

/* Releases every queued step, and what their being done releases. */
static void run_queue(struct sv_shutdown *sd)
{
	while (sd->nqueue > 0) {
		int i = sd->queue[--sd->nqueue];
		struct step *s = &sd->v[i];
		if (s->released)
			continue;
		s->released = 1;
		if (!s->job || s->down)
			mark_done(sd, i);
		else
			sv_tree_to_parent(s->job, &(struct sv_msg){ .type = MSG_STOP_CHILD, .ptr = s->job });
	}
}

static void tell_sup(struct sv_node *n, void *arg)
{
	(void)arg;
	struct sv_msg m = { .type = MSG_SHUTDOWN };
	sv_mbox_post(&n->mbox, &m);
}

struct sv_shutdown *sv_shutdown_begin(struct sv_graph *g, const struct sv_roster *roster,
                                      int (*down)(const struct sv_node *, void *), void *arg)
{
	struct sv_shutdown *sd = sv_xcalloc(1, sizeof *sd, "the stop plan");
	sd->g = g;
	for (size_t i = 0; i < roster->n; i++) {
		int x = add_step(sd, roster->v[i]);
		sd->v[x].down = down(roster->v[i], arg);
	}
	sd->njobs = sd->n;
	sd->by_ptr = sv_xcalloc((size_t)sd->njobs + 1, sizeof *sd->by_ptr, "the stop plan");
	sd->by_ptr_step = sv_xcalloc((size_t)sd->njobs + 1, sizeof *sd->by_ptr_step, "the stop plan");
	for (int i = 0; i < sd->njobs; i++)
		sd->by_ptr[i] = sd->v[i].job;
	qsort(sd->by_ptr, (size_t)sd->njobs, sizeof *sd->by_ptr, cmp_ptr);
	for (int i = 0; i < sd->njobs; i++)
		sd->by_ptr_step[node_slot(sd, sd->v[i].job)] = i;
	needs_edges(sd);
	size_t nsups;
	struct sv_node **sups = sv_tree_sups(g, &nsups);
	for (size_t i = 0; i < nsups; i++)
		if (sups[i]->sup->shutdown == SV_SHUTDOWN_SEQUENTIAL)
			sequential_edges(sd, sups[i]);
	if (!plan_finishes(sd)) {
		sv_err("shutdown = sequential contradicts needs: stopping in the order needs asks for");
		drop_virtual(sd);
	}
	/* every supervisor first, so none restarts a job stopped below */
	for (size_t i = 0; i < nsups; i++)
		tell_sup(sups[i], NULL);
	free(sups);
	for (int i = 0; i < sd->n; i++)
		if (sd->v[i].before == 0)
			push(sd, i);
	run_queue(sd);
	return sd;
}

void sv_shutdown_final(struct sv_shutdown *sd, struct sv_node *n)
{
	int i = sd ? step_of(sd, n) : -1;
	if (i < 0)
		return;
	sd->v[i].down = 1;
	if (sd->v[i].released) {
		mark_done(sd, i);
		run_queue(sd);
	}
}

void sv_shutdown_free(struct sv_shutdown *sd)
{
	if (!sd)
		return;
	for (int i = 0; i < sd->n; i++)
		free(sd->v[i].after);
	free(sd->v);
	free(sd->by_ptr);
	free(sd->by_ptr_step);
	free(sd->queue);
	free(sd);
}
