/*
 * graph.c - a loaded config turned into a running supervision tree, and
 * grun's main green thread: it starts the root supervisor, turns signals
 * into shutdown (or a hard kill on a second SIGINT), applies the
 * significant-job exit policy, tells systemd (Type=notify) when the graph
 * is up, sweeps orphans of daemonizing jobs at the end, and computes the
 * exit status from every job's final outcome.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/graph.h"
#include "supervise/pipeline.h"
#include "supervise/reaper.h"
#include "supervise/tree.h"

/* ---- latches ------------------------------------------------------------- */

void sv_latch_ready(struct sv_graph *g, struct sv_node *n)
{
	struct sv_latch *l = n->latch;
	pthread_mutex_lock(&g->mu);
	if (l->outcome == LATCH_OPEN && ++l->ready_instances == l->instances) {
		__atomic_store_n(&l->outcome, LATCH_OK, __ATOMIC_RELEASE);
		rt_chan_close(l->settled);
	}
	pthread_mutex_unlock(&g->mu);
}

void sv_latch_fail(struct sv_graph *g, struct sv_node *n, const char *why)
{
	struct sv_latch *l = n->latch;
	pthread_mutex_lock(&g->mu);
	if (l->outcome == LATCH_OPEN) {
		snprintf(l->why, sizeof l->why, "%s", why);
		__atomic_store_n(&l->outcome, LATCH_FAILED, __ATOMIC_RELEASE);
		rt_chan_close(l->settled);
	}
	pthread_mutex_unlock(&g->mu);
}

struct sv_latch *sv_latch_find(struct sv_graph *g, const char *name)
{
	struct sv_latch *l = NULL;
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < g->nlatches && !l; i++) {
		if (strcmp(g->latches[i]->name, name) == 0)
			l = g->latches[i];
	}
	pthread_mutex_unlock(&g->mu);
	return l;
}

/* Makes a new latch for job j, replacing any of the same name. */
static struct sv_latch *latch_new(struct sv_graph *g, const struct sv_job *j)
{
	struct sv_latch *l = calloc(1, sizeof *l);
	if (!l || !(l->settled = rt_chan_make(0, 0)))
		abort();
	snprintf(l->name, sizeof l->name, "%s", j->name);
	l->instances = j->instances;
	pthread_mutex_lock(&g->mu);
	int i = 0;
	while (i < g->nlatches && strcmp(g->latches[i]->name, j->name) != 0)
		i++;
	int replacing = i < g->nlatches;
	if (!replacing) {
		g->latches = realloc(g->latches, (size_t)(g->nlatches + 1) * sizeof *g->latches);
		if (!g->latches)
			abort();
		g->nlatches++;
	}
	if (replacing) {
		/* a replaced latch stays allocated until teardown: waiters may hold it */
		g->old_latches = realloc(g->old_latches, (size_t)(g->nold_latches + 1) * sizeof *g->old_latches);
		if (!g->old_latches)
			abort();
		g->old_latches[g->nold_latches++] = g->latches[i];
	}
	g->latches[i] = l;
	pthread_mutex_unlock(&g->mu);
	return l;
}

/* ---- messages up the tree -------------------------------------------------- */

void sv_post(struct sv_node *n, enum sv_msg_type t, enum sv_outcome out, int a, int status,
             const char *text)
{
	struct sv_msg m = { .type = t, .child = n->index, .gen = n->gen, .a = a,
	                    .status = status, .outcome = out };
	if (text)
		snprintf(m.text, sizeof m.text, "%s", text);
	sv_mbox_post(n->parent ? &n->parent->mbox : &n->g->mbox, &m);
}

void sv_final(struct sv_node *n, enum sv_outcome out, const char *text)
{
	struct sv_msg m = { .type = MSG_FINAL, .outcome = out, .ptr = n };
	if (text)
		snprintf(m.text, sizeof m.text, "%s", text);
	sv_mbox_post(&n->g->mbox, &m);
}

/* ---- building the tree ---------------------------------------------------- */

struct order { int line; int is_sup; int index; };

static int by_line(const void *a, const void *b)
{
	return ((const struct order *)a)->line - ((const struct order *)b)->line;
}

static struct sv_node *node_new(struct sv_graph *g, struct sv_node *parent)
{
	struct sv_node *n = calloc(1, sizeof *n);
	if (!n || sv_mbox_init(&n->mbox) < 0)
		abort();
	n->g = g;
	n->parent = parent;
	return n;
}

static void add_child(struct sv_node *p, struct sv_node *c)
{
	p->children = realloc(p->children, (size_t)(p->nchildren + 1) * sizeof *p->children);
	if (!p->children)
		abort();
	c->index = p->nchildren;
	p->children[p->nchildren++] = c;
}

/* The nodes of every instance of job j (NULL-terminated), with a new
 * latch; they become children of sup. */
static struct sv_node **job_nodes(struct sv_graph *g, struct sv_node *sup, const struct sv_job *j,
                                  int color)
{
	struct sv_node **v = calloc((size_t)j->instances + 1, sizeof *v);
	struct sv_latch *l = latch_new(g, j);
	for (int inst = 1; inst <= j->instances; inst++) {
		struct sv_node *c = node_new(g, sup);
		c->job = j;
		c->latch = l;
		c->inst = inst;
		c->color = color;
		if (j->instances > 1)
			snprintf(c->name, sizeof c->name, "%s#%d", j->name, inst);
		else
			snprintf(c->name, sizeof c->name, "%s", j->name);
		if (sv_pipes_open(c, g->cfg) < 0)
			abort(); /* out of descriptors: checked by the caller's limit */
		v[inst - 1] = c;
	}
	return v;
}

/* Does supervisor s have any selected job below it? */
static int sup_used(const struct sv_config *cfg, int s)
{
	for (int i = 0; i < cfg->njobs; i++) {
		if (cfg->jobs[i].selected && cfg->jobs[i].sup == s)
			return 1;
	}
	for (int c = 1; c < cfg->nsups; c++) {
		if (cfg->sups[c].parent == s && sup_used(cfg, c))
			return 1;
	}
	return 0;
}

static void build(struct sv_graph *g, struct sv_node *sn, int sup, int *color)
{
	const struct sv_config *cfg = g->cfg;
	sn->is_sup = 1;
	sn->sup = &cfg->sups[sup];
	snprintf(sn->name, sizeof sn->name, "%s", sup ? cfg->sups[sup].name : "root");
	struct order *o = calloc((size_t)(cfg->njobs + cfg->nsups) + 1, sizeof *o);
	int no = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		if (cfg->jobs[i].sup == sup && cfg->jobs[i].selected)
			o[no++] = (struct order){ cfg->jobs[i].line, 0, i };
	}
	for (int c = 1; c < cfg->nsups; c++) {
		if (cfg->sups[c].parent == sup && sup_used(cfg, c))
			o[no++] = (struct order){ cfg->sups[c].line, 1, c };
	}
	qsort(o, (size_t)no, sizeof *o, by_line);
	for (int k = 0; k < no; k++) {
		if (o[k].is_sup) {
			struct sv_node *c = node_new(g, sn);
			add_child(sn, c);
			build(g, c, o[k].index, color);
			continue;
		}
		struct sv_node **nodes = job_nodes(g, sn, &cfg->jobs[o[k].index], (*color)++);
		for (int i = 0; nodes[i]; i++)
			add_child(sn, nodes[i]);
		free(nodes);
	}
	free(o);
}

static int start_nodes(struct sv_node *n)
{
	rt_wg_add(&n->g->nodes, 1);
	if (rt_go_named(n->name, n->is_sup ? sv_sup_main : sv_job_main, n) < 0) {
		rt_wg_done(&n->g->nodes);
		return -1;
	}
	for (int i = 0; i < n->nchildren; i++) {
		if (start_nodes(n->children[i]) < 0)
			return -1;
	}
	return 0;
}

static int name_width(const struct sv_config *cfg)
{
	int w = 1;
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (!j->selected)
			continue;
		int l = (int)strlen(j->name) + (j->instances > 1 ? 1 + snprintf(NULL, 0, "%d", j->instances) : 0);
		if (l > w)
			w = l;
	}
	return w;
}

/* ---- systemd ------------------------------------------------------------------ */

/* sd_notify(3) for grun itself when run as a Type=notify service. */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

/* Waits until every selected job has settled, then says READY=1. */
static void ready_watch(void *arg)
{
	struct sv_graph *g = arg;
	const struct sv_config *cfg = g->cfg; /* the first: reloads keep it allocated */
	int all = 1;
	for (int i = 0; i < cfg->njobs && all; i++) {
		struct sv_latch *l = cfg->jobs[i].selected ? sv_latch_find(g, cfg->jobs[i].name) : NULL;
		struct rt_case c[2] = { { g->quit, RT_RECV, NULL, 0 }, { l ? l->settled : NULL, RT_RECV, NULL, 0 } };
		all = !l || rt_select(c, 2, RT_NEVER) == 1;
	}
	if (all) {
		sv_debug("every job is ready or settled");
		notify_systemd("READY=1\nSTATUS=running");
	}
	rt_wg_done(&g->watchers);
}

/* ---- signals ------------------------------------------------------------------ */

static void signal_main(void *arg)
{
	struct sv_graph *g = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig = rt_signal_wait(&set, RT_NEVER);
		if (__atomic_load_n(&g->quitting, __ATOMIC_ACQUIRE))
			break;
		if (sig < 0)
			continue;
		struct sv_msg m = { .type = MSG_SIGNAL, .a = sig };
		sv_mbox_post(&g->mbox, &m);
	}
	rt_wg_done(&g->watchers);
}

/* ---- teardown ------------------------------------------------------------------ */

static void quit_nodes(struct sv_node *n)
{
	struct sv_msg q = { .type = MSG_QUIT };
	sv_mbox_post(&n->mbox, &q);
	for (int i = 0; i < n->nchildren; i++)
		quit_nodes(n->children[i]);
}

static void free_nodes(struct sv_node *n)
{
	for (int i = 0; i < n->nchildren; i++)
		free_nodes(n->children[i]);
	free(n->children);
	sv_mbox_destroy(&n->mbox);
	free(n);
}

/* Ends every green thread of the graph: jobs, supervisors, watchers, and
 * the pipeline helpers once the channels have drained.  Returns 1 when
 * every helper has ended, 0 if some is still running after 2 s (then the
 * memory must be left alone: the process is about to exit anyway).  After
 * it, the count of lost lines is final. */
static int quiesce(struct sv_graph *g)
{
	pthread_mutex_lock(&g->mu);
	quit_nodes(g->root);
	pthread_mutex_unlock(&g->mu);
	rt_wg_wait(&g->nodes);
	sv_reaper_stop(g); /* every job has ended: no process of theirs is left */
	__atomic_store_n(&g->quitting, 1, __ATOMIC_RELEASE);
	rt_chan_close(g->quit);
	kill(getpid(), SIGHUP); /* wakes the signal thread, which now ends */
	rt_wg_wait(&g->watchers);
	/* every job has ended: the channels drain, and everything bound for
	 * chan:stdout is written (however slow the reader) before grun exits */
	sv_pipes_close_ends(g, g->root);
	rt_wg_wait(&g->stdout_done);
	int64_t until = rt_now() + 2000000000LL;
	while (__atomic_load_n(&g->helpers, __ATOMIC_ACQUIRE) > 0 && rt_now() < until)
		rt_sleep(1000000);
	sv_pipes_force(g, g->root);
	until = rt_now() + 2000000000LL;
	while (__atomic_load_n(&g->helpers, __ATOMIC_ACQUIRE) > 0 && rt_now() < until)
		rt_sleep(1000000);
	if (__atomic_load_n(&g->helpers, __ATOMIC_ACQUIRE) > 0) {
		sv_debug("teardown: helpers still running; not freeing the tree");
		return 0;
	}
	return 1;
}

/* Frees the tree and everything of the graph; after quiesce() said 1. */
static void free_graph(struct sv_graph *g)
{
	sv_pipes_free(g);
	sv_reaper_free(g);
	free_nodes(g->root);
	for (int i = 0; i < g->nlatches; i++) {
		rt_chan_free(g->latches[i]->settled);
		free(g->latches[i]);
	}
	free(g->latches);
	for (int i = 0; i < g->nold_latches; i++) {
		rt_chan_free(g->old_latches[i]->settled);
		free(g->old_latches[i]);
	}
	free(g->old_latches);
	if (g->slots)
		rt_chan_free(g->slots);
	rt_chan_free(g->quit);
	sv_mbox_destroy(&g->mbox);
	pthread_mutex_destroy(&g->mu);
}

/* ---- the end ------------------------------------------------------------------ */

/* grun's direct children other than jobs: orphans of daemonizing jobs,
 * reparented to grun because it is a subreaper.  Returns their number
 * and sends them sig. */
static int signal_orphans(int sig)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t self = getpid();
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* pid (comm) state ppid ...: comm may hold spaces and parens */
		char *rp = strrchr(buf, ')');
		char state;
		int ppid;
		if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != self || state == 'Z')
			continue;
		count++;
		kill(pid, sig);
		if (sig != SIGKILL)
			kill(pid, SIGCONT);
	}
	closedir(d);
	return count;
}

static void sweep_orphans(int64_t grace)
{
	/* members of a group just sent KILL may take a moment to go */
	int64_t settle = rt_now() + 100000000LL;
	while (signal_orphans(0) > 0 && rt_now() < settle)
		rt_sleep(5000000);
	int n = signal_orphans(SIGTERM);
	if (n == 0)
		return;
	sv_info("stopping %d leftover process%s of daemonizing jobs", n, n == 1 ? "" : "es");
	int64_t until = rt_now() + grace;
	while (rt_now() < until) {
		rt_sleep(10 * 1000000LL);
		if (signal_orphans(0) == 0)
			return;
	}
	/* KILL until none is left: killing one may reparent its children to us */
	for (int round = 0; round < 100 && signal_orphans(SIGKILL) > 0; round++)
		rt_sleep(10 * 1000000LL);
}

/* With g->mu held. */
static void kill_all_jobs(struct sv_node *n)
{
	int pid = __atomic_load_n(&n->pid, __ATOMIC_ACQUIRE);
	if (pid > 0)
		kill(-pid, SIGKILL);
	for (int i = 0; i < n->nchildren; i++)
		kill_all_jobs(n->children[i]);
}

/* ---- reload (SIGHUP) ---------------------------------------------------------- */

/* The running supervisor node configured by sup (NULL if none); g->mu held. */
static struct sv_node *find_sup_node(struct sv_node *n, const char *name)
{
	if (!n->is_sup)
		return NULL;
	if (strcmp(n->sup->name, name) == 0)
		return n;
	for (int i = 0; i < n->nchildren; i++) {
		struct sv_node *f = find_sup_node(n->children[i], name);
		if (f)
			return f;
	}
	return NULL;
}

/* Collects the running (not removed) job nodes under n; g->mu held. */
static void collect_jobs(struct sv_node *n, struct sv_node ***v, int *nv)
{
	if (!n->is_sup) {
		if (!n->removed) {
			*v = realloc(*v, (size_t)(*nv + 1) * sizeof **v);
			(*v)[(*nv)++] = n;
		}
		return;
	}
	for (int i = 0; i < n->nchildren; i++)
		collect_jobs(n->children[i], v, nv);
}

static void warn_unapplied(const struct sv_config *a, const struct sv_config *b)
{
	if (a->procs != b->procs || a->max_running != b->max_running || a->exit_policy != b->exit_policy ||
	    a->color != b->color)
		sv_err("reload: changes to [grun] are not applied by a reload (restart grun)");
	int same = a->nsups == b->nsups;
	for (int i = 0; same && i < a->nsups; i++) {
		const struct sv_sup *x = &a->sups[i], *y = &b->sups[i];
		same = strcmp(x->name, y->name) == 0 && x->strategy == y->strategy &&
		       x->intensity == y->intensity && x->period == y->period &&
		       (x->parent < 0 ? y->parent < 0 : y->parent >= 0 &&
		        strcmp(a->sups[x->parent].name, b->sups[y->parent].name) == 0);
	}
	if (!same)
		sv_err("reload: changes to [supervisor:] sections are not applied by a reload (restart grun)");
}

static void post_membership(struct sv_node *sup, enum sv_msg_type t, struct sv_node *n,
                            struct sv_node *replacement)
{
	struct sv_msg m = { .type = t, .ptr = n, .ptr2 = replacement };
	sv_mbox_post(&sup->mbox, &m);
}

/* Starts the nodes of job j under its supervisor; 1 if done.  With old
 * (the nodes of the job's previous version), the new instances replace
 * them in place, the extra old ones are removed and the extra new ones
 * added; a job moved to another supervisor is removed and added. */
static int add_job(struct sv_graph *g, struct sv_config *cfg, const struct sv_job *j, int color,
                   struct sv_node **old, int nold)
{
	pthread_mutex_lock(&g->mu);
	struct sv_node *sup = find_sup_node(g->root, cfg->sups[j->sup].name);
	pthread_mutex_unlock(&g->mu);
	if (!sup) {
		sv_err("reload: job %s: supervisor %s is not running (restart grun to add it)", j->name,
		       cfg->sups[j->sup].name);
		return 0;
	}
	struct sv_node **nodes = job_nodes(g, sup, j, color);
	int i = 0;
	for (; nodes[i]; i++) {
		rt_wg_add(&g->nodes, 1);
		if (rt_go_named(nodes[i]->name, sv_job_main, nodes[i]) < 0) {
			rt_wg_done(&g->nodes);
			sv_err("reload: job %s: %s", j->name, rt_limit_message());
			break;
		}
		if (i < nold && old[i]->parent == sup) {
			old[i]->removed = 1;
			post_membership(sup, MSG_REMOVE_CHILD, old[i], nodes[i]);
		} else {
			if (i < nold) {
				old[i]->removed = 1;
				post_membership(old[i]->parent, MSG_REMOVE_CHILD, old[i], NULL);
			}
			post_membership(sup, MSG_ADD_CHILD, nodes[i], NULL);
		}
	}
	for (int x = i; x < nold; x++) {
		old[x]->removed = 1;
		post_membership(old[x]->parent, MSG_REMOVE_CHILD, old[x], NULL);
	}
	free(nodes);
	return 1;
}

static int uses_chan(const struct sv_job *j)
{
	return j->in.kind == SV_IO_CHAN || j->out.kind == SV_IO_CHAN || j->err.kind == SV_IO_CHAN;
}

/* Is a job called name among the running nodes? */
static int is_running(struct sv_node **running, int nr, const char *name)
{
	for (int i = 0; i < nr; i++) {
		if (strcmp(running[i]->job->name, name) == 0)
			return 1;
	}
	return 0;
}

static void reload(struct sv_graph *g)
{
	char *errs = NULL;
	size_t errlen = 0;
	FILE *ef = open_memstream(&errs, &errlen);
	struct sv_config *cfg = sv_config_load(g->cfg->path, ef);
	if (cfg && sv_config_select(cfg, g->select, g->nselect, ef) < 0) {
		sv_config_free(cfg);
		cfg = NULL;
	}
	fclose(ef);
	if (!cfg) {
		for (char *line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			sv_err("%s", line);
		sv_err("reload rejected: %s has errors; the running jobs are unchanged", g->cfg->path);
		free(errs);
		return;
	}
	free(errs);
	notify_systemd("RELOADING=1");
	warn_unapplied(g->cfg, cfg);
	struct sv_node **running = NULL;
	int nr = 0, removed = 0, changed = 0, added = 0, kept = 0;
	pthread_mutex_lock(&g->mu);
	collect_jobs(g->root, &running, &nr);
	pthread_mutex_unlock(&g->mu);
	/* channels are wired once: a reload may not touch a job that uses one */
	for (int i = 0; i < nr; i++) {
		const struct sv_job *oj = running[i]->job;
		int k = sv_config_find_job(cfg, oj->name);
		int differs = k < 0 || !cfg->jobs[k].selected || cfg->jobs[k].hash != oj->hash;
		if (differs && uses_chan(oj)) {
			sv_err("reload rejected: job %s uses a channel, and pipelines cannot change by reload "
			       "(restart grun)", oj->name);
			goto reject;
		}
	}
	for (int k = 0; k < cfg->njobs; k++) {
		const struct sv_job *j = &cfg->jobs[k];
		if (j->selected && !is_running(running, nr, j->name) && uses_chan(j)) {
			sv_err("reload rejected: new job %s uses a channel, and pipelines cannot change by reload "
			       "(restart grun)", j->name);
			goto reject;
		}
	}
	/* 1. changed jobs, each instance replaced in place (with a new latch
	 * before any added job can look for it); removed jobs are only
	 * marked here */
	for (int i = 0; i < nr; i++) {
		struct sv_node *n = running[i];
		if (n->inst != 1)
			continue; /* handled with instance 1 */
		int k = sv_config_find_job(cfg, n->job->name);
		int gone = k < 0 || !cfg->jobs[k].selected;
		if (!gone && cfg->jobs[k].hash == n->job->hash) {
			kept++;
			continue;
		}
		struct sv_node **old = NULL;
		int nold = 0;
		for (int x = 0; x < nr; x++) {
			if (strcmp(running[x]->job->name, n->job->name) == 0) {
				old = realloc(old, (size_t)(nold + 1) * sizeof *old);
				old[nold++] = running[x];
			}
		}
		if (gone) {
			removed++;
		} else if (add_job(g, cfg, &cfg->jobs[k], n->color, old, nold)) {
			changed++;
		}
		free(old);
	}
	/* 2. new jobs, before any job is removed, so that no supervisor is
	 * left without children half-way */
	for (int k = 0; k < cfg->njobs; k++) {
		const struct sv_job *j = &cfg->jobs[k];
		if (j->selected && !is_running(running, nr, j->name) && add_job(g, cfg, j, g->ncolors++, NULL, 0))
			added++;
	}
	/* 3. removed jobs: stop and forget every instance */
	for (int i = 0; i < nr; i++) {
		struct sv_node *n = running[i];
		int k = sv_config_find_job(cfg, n->job->name);
		if (k >= 0 && cfg->jobs[k].selected)
			continue;
		n->removed = 1;
		post_membership(n->parent, MSG_REMOVE_CHILD, n, NULL);
	}
	free(running);
	g->old_cfgs = realloc(g->old_cfgs, (size_t)(g->nold + 1) * sizeof *g->old_cfgs);
	g->old_cfgs[g->nold++] = g->cfg;
	g->cfg = cfg;
	sv_info("reloaded %s: %d added, %d removed, %d changed, %d unchanged", cfg->path, added,
	        removed, changed, kept);
	notify_systemd("READY=1");
	return;
reject:
	free(running);
	sv_config_free(cfg);
	notify_systemd("READY=1");
}

/* Per job instance: the last final outcome (0: none). */
struct tally {
	struct sv_node *node;
	enum sv_outcome out;
};

static const char *outcome_name(enum sv_outcome o)
{
	return o == OUT_OK ? "succeeded" : o == OUT_FAILED ? "failed" : o == OUT_SKIPPED ? "skipped" : "stopped";
}

static int summarize(struct sv_graph *g, struct tally *t, int nt, const char *tree_text,
                     enum sv_outcome tree_out)
{
	uint64_t lost = __atomic_load_n(&g->lost_lines, __ATOMIC_RELAXED);
	if (lost)
		sv_err("possibly lost: up to %llu lines read by consumers that ended abnormally",
		       (unsigned long long)lost);
	int count[5] = { 0 };
	char failed[512] = "";
	size_t len = 0;
	for (int i = 0; i < nt; i++) {
		count[t[i].out]++;
		if ((t[i].out == OUT_FAILED || t[i].out == OUT_SKIPPED) && len < sizeof failed - 80)
			len += (size_t)snprintf(failed + len, sizeof failed - len, "%s%s %s", len ? ", " : "",
			                        t[i].node->name, outcome_name(t[i].out));
	}
	int bad = count[OUT_FAILED] + count[OUT_SKIPPED];
	if (tree_out == OUT_FAILED) {
		sv_err("failed: %s", tree_text);
		return 1;
	}
	if (bad)
		sv_err("%d job%s ended: %d succeeded, %d failed, %d skipped, %d stopped (%s)", nt,
		       nt == 1 ? "" : "s", count[OUT_OK], count[OUT_FAILED], count[OUT_SKIPPED],
		       count[OUT_STOPPED], failed);
	else if (nt)
		sv_info("%d job%s ended: %d succeeded, %d stopped", nt, nt == 1 ? "" : "s",
		        count[OUT_OK], count[OUT_STOPPED]);
	else
		sv_info("every job stopped");
	return bad ? 1 : 0;
}

static int significant_exit(struct sv_graph *g, struct tally *t, int nt, struct sv_node *n)
{
	enum sv_exit_policy p = g->exit_policy;
	if (p == SV_EXIT_AUTO || !n->job->significant)
		return 0;
	if (p == SV_EXIT_ANY_SIGNIFICANT)
		return 1;
	for (int i = 0; i < g->cfg->njobs; i++) {
		const struct sv_job *j = &g->cfg->jobs[i];
		if (!j->selected || !j->significant)
			continue; /* (the jobs of the newest config) */
		int ended = 0;
		for (int k = 0; k < nt; k++)
			ended += strcmp(t[k].node->job->name, j->name) == 0 && !t[k].node->removed;
		if (ended < j->instances)
			return 0;
	}
	return 1;
}

static void record(struct tally **t, int *nt, struct sv_node *n, enum sv_outcome out)
{
	for (int i = 0; i < *nt; i++) {
		if ((*t)[i].node == n) {
			(*t)[i].out = out;
			return;
		}
	}
	*t = realloc(*t, (size_t)(*nt + 1) * sizeof **t);
	(*t)[(*nt)++] = (struct tally){ n, out };
}

/* ---- main ---------------------------------------------------------------------- */

int sv_graph_run(struct sv_config *cfg, const struct sv_run_opts *opts)
{
	struct sv_graph g = { .cfg = cfg, .verbosity = opts->verbosity, .select = opts->select,
	                      .nselect = opts->nselect, .exit_policy = cfg->exit_policy };
	pthread_mutex_init(&g.mu, NULL);
	sv_mbox_init(&g.mbox);
	g.name_width = name_width(cfg);
	if (sv_output_start(opts->color >= 0 ? opts->color : cfg->color, g.name_width, opts->verbosity,
	                    sv_config_find_chan(cfg, "stdout") >= 0) < 0)
		return 1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int max_running = opts->max_running ? opts->max_running : cfg->max_running;
	if (max_running > 0)
		g.slots = rt_chan_make(0, (size_t)max_running);
	g.root = node_new(&g, NULL);
	build(&g, g.root, 0, &g.ncolors);
	g.quit = rt_chan_make(0, 0);
	rt_wg_add(&g.watchers, 2);
	if (!g.quit || sv_reaper_start(&g) < 0 || sv_pipes_start(&g, g.root) < 0 ||
	    start_nodes(g.root) < 0 ||
	    rt_go_named("signals", signal_main, &g) < 0 ||
	    rt_go_named("ready watch", ready_watch, &g) < 0) {
		sv_err("cannot start: %s", rt_limit_message());
		sv_output_stop();
		return 1;
	}
	struct sv_msg start = { .type = MSG_START, .gen = 1 };
	sv_mbox_post(&g.root->mbox, &start);

	struct tally *t = NULL;
	int nt = 0, stopping = 0, code = -1;
	enum sv_outcome tree_out = OUT_OK;
	char tree_text[200] = "";
	while (code < 0) {
		struct sv_msg *m = sv_mbox_get(&g.mbox, RT_NEVER);
		int stop = 0;
		switch (m->type) {
		case MSG_SIGNAL:
			if (m->a == SIGHUP && !stopping) {
				sv_info("SIGHUP: reloading %s", g.cfg->path);
				reload(&g);
			} else if (m->a == SIGHUP) {
				sv_info("SIGHUP ignored: stopping");
			} else if (stopping && m->a == SIGINT) {
				/* at once: no teardown, no waiting for anything */
				static const char msg[] = "grun: second SIGINT: killing every job\n";
				ssize_t w = write(2, msg, sizeof msg - 1);
				(void)w;
				pthread_mutex_lock(&g.mu);
				kill_all_jobs(g.root);
				pthread_mutex_unlock(&g.mu);
				signal_orphans(SIGKILL);
				_exit(130);
			} else if (!stopping) {
				sv_info("%s: stopping every job", m->a == SIGINT ? "SIGINT" : "SIGTERM");
				stop = 1;
			}
			break;
		case MSG_FINAL:
			record(&t, &nt, m->ptr, m->outcome);
			/* as OTP's auto_shutdown: only a significant child that ended by
			 * itself, not one its supervisor stopped */
			stop = !stopping && m->outcome != OUT_STOPPED && significant_exit(&g, t, nt, m->ptr);
			if (stop)
				sv_info("%s: significant job ended (exit = %s): stopping every job",
				        ((struct sv_node *)m->ptr)->name,
				        cfg->exit_policy == SV_EXIT_ANY_SIGNIFICANT ? "any_significant" : "all_significant");
			break;
		case MSG_TREE_EXITED:
			tree_out = m->outcome;
			snprintf(tree_text, sizeof tree_text, "%s", m->text);
			code = 0;
			break;
		default:
			break;
		}
		free(m);
		if (stop) {
			stopping = 1;
			notify_systemd("STOPPING=1");
			struct sv_msg sm = { .type = MSG_STOP, .gen = 1 };
			sv_mbox_post(&g.root->mbox, &sm);
		}
	}
	sweep_orphans(2000000000LL);
	/* the summary comes after the pipes have drained: a feeder that finds
	 * its consumer gone counts what it could not write on its way out */
	int freeable = quiesce(&g);
	code = summarize(&g, t, nt, tree_text, tree_out);
	free(t);
	if (freeable)
		free_graph(&g);
	sv_output_stop();
	/* the caller frees the config it passed; the graph keeps the newest */
	for (int i = 0; i < g.nold; i++) {
		if (g.old_cfgs[i] != cfg)
			sv_config_free(g.old_cfgs[i]);
	}
	if (g.cfg != cfg)
		sv_config_free(g.cfg);
	free(g.old_cfgs);
	return code;
}
