/*
 * reaper.c - see reaper.h.
 *
 * The table maps a pid to the job run it belongs to.  A job tracks its
 * pid right after the spawn, but the process may exit (and be reaped)
 * before that: the reaper then keeps the exit in the table until the
 * job's track call takes it.  Each entry is removed by whichever of the
 * two comes second, so a pid is posted exactly once.  Exits of pids that
 * no job tracks cannot occur (rt_proc_wait_any reports only processes
 * made by rt_proc_start, and every job process is tracked; health.c's
 * exec: checks are made by rt_proc_start_waited and never reach it).
 *
 * Threads: the table is guarded by its mutex (the reaper and any job's
 * green thread); posting happens outside it.
 */
#include <stdlib.h>

#include "rt.h"
#include "supervise/lock.h"
#include "supervise/mailbox.h"
#include "supervise/reaper.h"
#include "supervise/xalloc.h"

#define BUCKETS 256

struct entry {
	pid_t pid;
	struct sv_node *node;  /* NULL: exited before it was tracked */
	uint64_t gen;
	int status;
	struct entry *next;
};

struct sv_reaper {
	pthread_mutex_t mu;
	struct entry *buckets[BUCKETS];
};

static struct entry **slot(struct sv_reaper *r, pid_t pid)
{
	struct entry **pp = &r->buckets[(unsigned)pid % BUCKETS];
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static void post_exit(struct sv_node *n, uint64_t gen, pid_t pid, int status)
{
	struct sv_msg m = { .type = MSG_PROC_EXIT, .gen = gen, .status = status, .a = pid };
	sv_mbox_post(&n->mbox, &m);
}

/* Records an exit, or hands back the run it belongs to (1). */
static int settle(struct sv_reaper *r, pid_t pid, int status, struct sv_node *node, uint64_t gen,
                  struct entry *out)
{
	sv_lock(&r->mu);
	struct entry **pp = slot(r, pid), *e = *pp;
	if (e) {
		*pp = e->next;
		*out = *e;
		if (!out->node) {
			out->node = node;
			out->gen = gen;
		} else {
			out->status = status;
		}
		sv_unlock(&r->mu);
		free(e);
		return 1;
	}
	e = sv_xmalloc(sizeof *e, "a reaper entry");
	*e = (struct entry){ pid, node, gen, status, r->buckets[(unsigned)pid % BUCKETS] };
	r->buckets[(unsigned)pid % BUCKETS] = e;
	sv_unlock(&r->mu);
	return 0;
}

static void reaper_main(void *arg)
{
	struct sv_graph *g = arg;
	for (;;) {
		int status = 0;
		pid_t pid = rt_proc_wait_any(&status, RT_NEVER);
		if (pid < 0 && errno == ECANCELED)
			break;
		struct entry e;
		if (pid > 0 && settle(g->reaper, pid, status, NULL, 0, &e))
			post_exit(e.node, e.gen, pid, e.status);
	}
	rt_wg_done(&g->watchers);
}

void sv_reaper_track(struct sv_graph *g, struct sv_node *n, pid_t pid, uint64_t gen)
{
	struct entry e;
	if (settle(g->reaper, pid, 0, n, gen, &e))
		post_exit(n, gen, pid, e.status);
}

int sv_reaper_start(struct sv_graph *g)
{
	g->reaper = sv_xcalloc(1, sizeof *g->reaper, "the reaper");
	pthread_mutex_init(&g->reaper->mu, NULL);
	rt_wg_add(&g->watchers, 1);
	if (rt_go_named("reaper", reaper_main, g) < 0) {
		rt_wg_done(&g->watchers);
		return -1;
	}
	return 0;
}

void sv_reaper_stop(struct sv_graph *g)
{
	if (g->reaper)
		rt_proc_wait_any_cancel();
}

void sv_reaper_free(struct sv_graph *g)
{
	struct sv_reaper *r = g->reaper;
	if (!r)
		return;
	for (int i = 0; i < BUCKETS; i++)
		while (r->buckets[i]) {
			struct entry *e = r->buckets[i];
			r->buckets[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&r->mu);
	free(r);
	g->reaper = NULL;
}
