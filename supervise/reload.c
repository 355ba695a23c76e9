/*
 * reload.c - see reload.h.
 *
 * A reload compares each job's hash (of every key that affects a run)
 * between the running config and the new one and works in three passes:
 * 1. changed jobs: each instance replaced in place (a new latch before
 *    any added job can look for it);
 * 2. new jobs, before anything is removed, so that no supervisor is left
 *    without children half-way;
 * 3. removed jobs: stopped and forgotten.
 * The supervisors apply the changes from their mailboxes (ADD_CHILD,
 * REMOVE_CHILD), in order; the roster is updated here at once.
 * Channels are wired once, so a reload that would touch a job using one
 * is rejected whole.  [grun] and [supervisor:] changes are not applied
 * (a warning says so).
 *
 * Runs on the main green thread only; owns the roster.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "supervise/lock.h"
#include "supervise/notify.h"
#include "supervise/reload.h"
#include "supervise/xalloc.h"

/* ---- what a reload says ------------------------------------------------------ */

/* During sv_reload(), the caller's copy of what the reload logs (grunctl
 * reload shows it), or NULL.  Main green thread only. */
static FILE *said;

static void say(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int err, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (err)
		sv_err("%s", line);
	else
		sv_info("%s", line);
	if (said)
		fprintf(said, "%s\n", line);
}

/* ---- the roster ------------------------------------------------------------ */

static void roster_add(struct sv_roster *r, struct sv_node *n)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = sv_xreallocarray(r->v, r->cap, sizeof *r->v, "the job roster");
	}
	r->v[r->n++] = n;
}

void sv_roster_init(struct sv_roster *r, struct sv_graph *g)
{
	size_t n;
	struct sv_node **v = sv_tree_jobs(g, g->root, &n);
	*r = (struct sv_roster){ 0 };
	for (size_t i = 0; i < n; i++)
		roster_add(r, v[i]);
	free(v);
}

void sv_roster_free(struct sv_roster *r)
{
	free(r->v);
	*r = (struct sv_roster){ 0 };
}

static int by_name(const void *a, const void *b)
{
	const struct sv_node *x = *(struct sv_node *const *)a, *y = *(struct sv_node *const *)b;
	int c = strcmp(x->job->name, y->job->name);
	return c ? c : x->inst - y->inst;
}

/* The roster's nodes of the job called name: [*first, *first + *count). */
static void find_job(const struct sv_roster *r, const char *name, size_t *first, size_t *count)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(r->v[mid]->job->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t k = lo;
	while (k < r->n && strcmp(r->v[k]->job->name, name) == 0)
		k++;
	*first = lo;
	*count = k - lo;
}

/* ---- applying ---------------------------------------------------------------- */

static void warn_unapplied(const struct sv_config *a, const struct sv_config *b)
{
	if (a->procs != b->procs || a->max_running != b->max_running || a->exit_policy != b->exit_policy ||
	    a->color != b->color)
		say(1, "reload: changes to [grun] are not applied by a reload (restart grun)");
	int same = a->nsups == b->nsups;
	for (int i = 0; same && i < a->nsups; i++) {
		const struct sv_sup *x = &a->sups[i], *y = &b->sups[i];
		same = strcmp(x->name, y->name) == 0 && x->strategy == y->strategy &&
		       x->intensity == y->intensity && x->period == y->period &&
		       (x->parent < 0 ? y->parent < 0 : y->parent >= 0 &&
		        strcmp(a->sups[x->parent].name, b->sups[y->parent].name) == 0);
	}
	if (!same)
		say(1, "reload: changes to [supervisor:] sections are not applied by a reload (restart grun)");
}

static void remove_node(struct sv_node *n, struct sv_node *replacement)
{
	__atomic_store_n(&n->removed, 1, __ATOMIC_RELEASE);
	struct sv_msg m = { .type = MSG_REMOVE_CHILD, .ptr = n, .ptr2 = replacement };
	sv_tree_to_parent(n, &m);
}

/* Starts the nodes of job j under its supervisor and adds them to the
 * new roster; 1 if done.  old[0..nold) are the nodes of the job's
 * previous version: the new instances replace them in place, the extra
 * old ones are removed and the extra new ones added; a job moved to
 * another supervisor is removed and added. */
static int add_job(struct sv_graph *g, struct sv_config *cfg, const struct sv_job *j, int color,
                   struct sv_node **old, size_t nold, struct sv_roster *next)
{
	struct sv_node *sup = sv_tree_find_sup(g, cfg->sups[j->sup].name);
	if (!sup) {
		say(1, "reload: job %s: supervisor %s is not running (restart grun to add it)", j->name,
		       cfg->sups[j->sup].name);
		for (size_t i = 0; i < nold; i++)
			roster_add(next, old[i]);
		return 0;
	}
	struct sv_node **nodes = sv_tree_job_nodes(g, sup, cfg, j, color);
	size_t i = 0;
	for (; nodes[i]; i++) {
		rt_wg_add(&g->nodes, 1);
		if (rt_go_named(nodes[i]->name, sv_job_main, nodes[i]) < 0) {
			rt_wg_done(&g->nodes);
			say(1, "reload: job %s: %s", j->name, rt_limit_message());
			sv_tree_free(nodes[i]);
			for (size_t k = i + 1; nodes[k]; k++)
				sv_tree_free(nodes[k]);
			break;
		}
		roster_add(next, nodes[i]);
		/* a supervisor moves its children under tree_mu (sup.c) */
		sv_lock(&g->tree_mu);
		int same_sup = i < nold && old[i]->parent == sup;
		sv_unlock(&g->tree_mu);
		if (same_sup) {
			remove_node(old[i], nodes[i]);
		} else {
			if (i < nold)
				remove_node(old[i], NULL);
			struct sv_msg m = { .type = MSG_ADD_CHILD, .ptr = nodes[i] };
			sv_mbox_post(&sup->mbox, &m);
		}
	}
	for (size_t x = i; x < nold; x++)
		remove_node(old[x], NULL);
	free(nodes);
	return 1;
}

static int uses_chan(const struct sv_job *j)
{
	return j->in.kind == SV_IO_CHAN || j->out.kind == SV_IO_CHAN || j->err.kind == SV_IO_CHAN;
}

static int is_selected(const struct sv_config *cfg, const char *name, int *k)
{
	*k = sv_config_find_job(cfg, name);
	return *k >= 0 && cfg->jobs[*k].selected;
}

/* Channels are wired once: a reload may not touch a job that uses one.
 * 0, or -1 (logged). */
static int check_channels(const struct sv_roster *r, const struct sv_config *cfg)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct sv_job *oj = r->v[i]->job;
		int k;
		int differs = !is_selected(cfg, oj->name, &k) || cfg->jobs[k].hash != oj->hash;
		if (differs && uses_chan(oj)) {
			say(1, "reload rejected: job %s uses a channel, and pipelines cannot change by reload "
			       "(restart grun)", oj->name);
			return -1;
		}
	}
	for (int k = 0; k < cfg->njobs; k++) {
		const struct sv_job *j = &cfg->jobs[k];
		size_t first, count;
		find_job(r, j->name, &first, &count);
		if (j->selected && count == 0 && uses_chan(j)) {
			say(1, "reload rejected: new job %s uses a channel, and pipelines cannot change by reload "
			       "(restart grun)", j->name);
			return -1;
		}
	}
	return 0;
}

/* The new config, or NULL with its errors logged. */
static struct sv_config *load(struct sv_graph *g)
{
	char *errs = NULL;
	size_t errlen = 0;
	FILE *ef = open_memstream(&errs, &errlen);
	if (!ef) {
		say(1, "reload rejected: %s", strerror(errno));
		return NULL;
	}
	struct sv_config *cfg = sv_config_load(g->cfg->path, ef);
	if (cfg && sv_config_select(cfg, g->select, g->nselect, ef) < 0) {
		sv_config_free(cfg);
		cfg = NULL;
	}
	fclose(ef);
	if (!cfg) {
		for (char *line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			say(1, "%s", line);
		say(1, "reload rejected: %s has errors; the running jobs are unchanged", g->cfg->path);
	}
	free(errs);
	return cfg;
}

/* ---- freeing replaced configs ---------------------------------------------- */

/* Frees old config c if nothing runs from it any more (it is neither the
 * current one nor the caller's first). */
static void maybe_free_config(struct sv_graph *g, struct sv_config *c)
{
	if (c->nodes > 0 || c == g->cfg || c == g->first_cfg)
		return;
	for (int i = 0; i < g->nold; i++) {
		if (g->old_cfgs[i] == c) {
			g->old_cfgs[i] = g->old_cfgs[--g->nold];
			sv_config_free(c);
			return;
		}
	}
}

void sv_reload_retired(struct sv_graph *g, struct sv_node *n)
{
	struct sv_config *c = n->cfg;
	if (!c)
		return;
	/* nothing reads a retired node's job any more: its green thread has
	 * ended, and the supervisor skips removed slots (graph.c then frees
	 * the node itself) */
	n->job = NULL;
	n->cfg = NULL;
	c->nodes--;
	maybe_free_config(g, c);
}

struct tally { int added, removed, changed, kept; };

/* Pass 1: changed jobs replaced, unchanged ones kept (both into next);
 * removed ones left for pass 3. */
static void apply_changed(struct sv_graph *g, struct sv_config *cfg, struct sv_roster *r,
                          struct sv_roster *next, struct tally *t)
{
	for (size_t i = 0; i < r->n;) {
		size_t first, count;
		find_job(r, r->v[i]->job->name, &first, &count);
		const struct sv_job *oj = r->v[i]->job;
		int k;
		if (!is_selected(cfg, oj->name, &k)) {
			t->removed++;
		} else if (cfg->jobs[k].hash == oj->hash) {
			t->kept++;
			for (size_t x = first; x < first + count; x++)
				roster_add(next, r->v[x]);
		} else if (add_job(g, cfg, &cfg->jobs[k], r->v[first]->color, r->v + first, count, next)) {
			t->changed++;
		}
		i = first + count;
	}
}

static int reload(struct sv_graph *g, struct sv_roster *r);

int sv_reload(struct sv_graph *g, struct sv_roster *r, char **report)
{
	char *text = NULL;
	size_t len = 0;
	said = report ? open_memstream(&text, &len) : NULL;
	/* Type=notify-reload: RELOADING=1 with the time, then READY=1 once
	 * the reload is applied or rejected (STATUS= says which) */
	char msg[128];
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)(rt_now() / 1000));
	sv_notify_systemd(msg);
	int rc = reload(g, r);
	sv_notify_systemd(rc == 0 ? "READY=1" : "READY=1\nSTATUS=reload rejected (the log says why)");
	if (said)
		fclose(said);
	said = NULL;
	if (report)
		*report = text;
	return rc;
}

static int reload(struct sv_graph *g, struct sv_roster *r)
{
	struct sv_config *cfg = load(g);
	if (!cfg)
		return -1;
	warn_unapplied(g->cfg, cfg);
	if (r->n > 1)
		qsort(r->v, r->n, sizeof *r->v, by_name);
	if (check_channels(r, cfg) < 0) {
		sv_config_free(cfg);
		return -1;
	}
	struct sv_roster next = { 0 };
	struct tally t = { 0 };
	apply_changed(g, cfg, r, &next, &t);
	for (int k = 0; k < cfg->njobs; k++) {
		const struct sv_job *j = &cfg->jobs[k];
		size_t first, count;
		find_job(r, j->name, &first, &count);
		if (j->selected && count == 0 && add_job(g, cfg, j, g->ncolors++, NULL, 0, &next))
			t.added++;
	}
	for (size_t i = 0; i < r->n; i++) {
		int k;
		if (!is_selected(cfg, r->v[i]->job->name, &k))
			remove_node(r->v[i], NULL);
	}
	sv_roster_free(r);
	*r = next;
	if (t.added + t.removed + t.changed == 0) {
		/* nothing to apply: the running nodes keep using the config they
		 * have, and repeated reloads of an unchanged file cost nothing */
		sv_config_free(cfg);
		say(0, "reloaded %s: %d added, %d removed, %d changed, %d unchanged", g->cfg->path, 0, 0, 0,
		        t.kept);
		return 0;
	}
	g->old_cfgs = sv_xreallocarray(g->old_cfgs, (size_t)g->nold + 1, sizeof *g->old_cfgs, "a reload");
	g->old_cfgs[g->nold++] = g->cfg;
	struct sv_config *previous = g->cfg;
	g->cfg = cfg;
	maybe_free_config(g, previous); /* every node of it was replaced before */
	say(0, "reloaded %s: %d added, %d removed, %d changed, %d unchanged", cfg->path, t.added,
	        t.removed, t.changed, t.kept);
	return 0;
}
