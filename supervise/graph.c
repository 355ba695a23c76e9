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
#include "supervise/tree.h"

/* ---- latches ------------------------------------------------------------- */

void sv_latch_ready(struct sv_graph *g, struct sv_node *n)
{
	struct sv_latch *l = &g->latches[n->job_index];
	pthread_mutex_lock(&g->mu);
	if (l->outcome == LATCH_OPEN && ++l->ready_instances == n->job->instances) {
		__atomic_store_n(&l->outcome, LATCH_OK, __ATOMIC_RELEASE);
		rt_chan_close(l->settled);
	}
	pthread_mutex_unlock(&g->mu);
}

void sv_latch_fail(struct sv_graph *g, int job_index, const char *why)
{
	struct sv_latch *l = &g->latches[job_index];
	pthread_mutex_lock(&g->mu);
	if (l->outcome == LATCH_OPEN) {
		snprintf(l->why, sizeof l->why, "%s", why);
		__atomic_store_n(&l->outcome, LATCH_FAILED, __ATOMIC_RELEASE);
		rt_chan_close(l->settled);
	}
	pthread_mutex_unlock(&g->mu);
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
		const struct sv_job *j = &cfg->jobs[o[k].index];
		int jc = (*color)++;
		for (int inst = 1; inst <= j->instances; inst++) {
			struct sv_node *c = node_new(g, sn);
			c->job = j;
			c->job_index = o[k].index;
			c->inst = inst;
			c->color = jc;
			if (j->instances > 1)
				snprintf(c->name, sizeof c->name, "%s#%d", j->name, inst);
			else
				snprintf(c->name, sizeof c->name, "%s", j->name);
			add_child(sn, c);
		}
	}
	free(o);
}

static int start_nodes(struct sv_node *n)
{
	if (rt_go_named(n->name, n->is_sup ? sv_sup_main : sv_job_main, n) < 0)
		return -1;
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
	for (int i = 0; i < g->cfg->njobs; i++) {
		if (g->cfg->jobs[i].selected)
			rt_chan_recv(g->latches[i].settled, NULL);
	}
	sv_debug("every job is ready or settled");
	notify_systemd("READY=1\nSTATUS=running");
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
		if (sig < 0)
			continue;
		struct sv_msg m = { .type = MSG_SIGNAL, .a = sig };
		sv_mbox_post(&g->mbox, &m);
	}
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

static void kill_all_jobs(struct sv_node *n)
{
	int pid = __atomic_load_n(&n->pid, __ATOMIC_ACQUIRE);
	if (pid > 0)
		kill(-pid, SIGKILL);
	for (int i = 0; i < n->nchildren; i++)
		kill_all_jobs(n->children[i]);
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

static int summarize(struct tally *t, int nt, const char *tree_text, enum sv_outcome tree_out)
{
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
	else
		sv_info("%d job%s ended: %d succeeded, %d stopped", nt, nt == 1 ? "" : "s",
		        count[OUT_OK], count[OUT_STOPPED]);
	return bad ? 1 : 0;
}

static int significant_exit(struct sv_graph *g, struct tally *t, int nt, struct sv_node *n)
{
	enum sv_exit_policy p = g->cfg->exit_policy;
	if (p == SV_EXIT_AUTO || !n->job->significant)
		return 0;
	if (p == SV_EXIT_ANY_SIGNIFICANT)
		return 1;
	for (int i = 0; i < g->cfg->njobs; i++) {
		const struct sv_job *j = &g->cfg->jobs[i];
		if (!j->selected || !j->significant)
			continue;
		int ended = 0;
		for (int k = 0; k < nt; k++)
			ended += t[k].node->job == j;
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
	struct sv_graph g = { .cfg = cfg, .verbosity = opts->verbosity };
	pthread_mutex_init(&g.mu, NULL);
	sv_mbox_init(&g.mbox);
	g.name_width = name_width(cfg);
	if (sv_output_start(opts->color >= 0 ? opts->color : cfg->color, g.name_width, opts->verbosity) < 0)
		return 1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int max_running = opts->max_running ? opts->max_running : cfg->max_running;
	if (max_running > 0)
		g.slots = rt_chan_make(0, (size_t)max_running);
	g.latches = calloc((size_t)cfg->njobs + 1, sizeof *g.latches);
	for (int i = 0; i < cfg->njobs; i++)
		g.latches[i].settled = rt_chan_make(0, 0);
	int color = 0;
	g.root = node_new(&g, NULL);
	build(&g, g.root, 0, &color);
	if (start_nodes(g.root) < 0 || rt_go_named("signals", signal_main, &g) < 0 ||
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
			if (m->a == SIGHUP) {
				sv_info("SIGHUP: reloading is not supported yet; ignored");
			} else if (stopping && m->a == SIGINT) {
				sv_err("second SIGINT: killing every job");
				kill_all_jobs(g.root);
				signal_orphans(SIGKILL);
				code = 130;
			} else if (!stopping) {
				sv_info("%s: stopping every job", m->a == SIGINT ? "SIGINT" : "SIGTERM");
				stop = 1;
			}
			break;
		case MSG_FINAL:
			record(&t, &nt, m->ptr, m->outcome);
			stop = !stopping && significant_exit(&g, t, nt, m->ptr);
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
	if (code == 0) {
		sweep_orphans(2000000000LL);
		code = summarize(t, nt, tree_text, tree_out);
	}
	free(t);
	sv_output_stop();
	return code;
}
