/*
 * tree.c - building, starting, walking and freeing the supervision tree
 * (tree.h), and the messages nodes send up it.
 *
 * Owns the nodes and the tree's shape (parent, index, children), which
 * change only under g->tree_mu: at build time on the main green thread,
 * and on reload when a supervisor adds or replaces a child (sup.c).
 * Walks are iterative with an explicit stack: green-thread stacks are
 * 64 KiB and a tree may be deep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "supervise/joblog.h"
#include "supervise/latch.h"
#include "supervise/lock.h"
#include "supervise/pipeline.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

/* ---- messages up the tree ------------------------------------------------ */

void sv_post(struct sv_node *n, enum sv_msg_type t, enum sv_outcome out, int a, int status,
             const char *text)
{
	struct sv_msg m = { .type = t, .child = n->index, .gen = n->gen, .a = a,
	                    .status = status, .outcome = out };
	if (text)
		snprintf(m.text, sizeof m.text, "%s", text);
	sv_mbox_post(n->parent ? &n->parent->mbox : &n->g->mbox, &m);
}

void sv_final(struct sv_node *n, enum sv_outcome out, int status, const char *text)
{
	struct sv_msg m = { .type = MSG_FINAL, .outcome = out, .status = status, .ptr = n };
	if (text)
		snprintf(m.text, sizeof m.text, "%s", text);
	sv_mbox_post(&n->g->mbox, &m);
}

void sv_tree_to_parent(struct sv_node *n, const struct sv_msg *m)
{
	sv_lock(&n->g->tree_mu);
	struct sv_node *sup = n->parent;
	sv_unlock(&n->g->tree_mu);
	sv_mbox_post(&sup->mbox, m);
}

/* ---- building ------------------------------------------------------------- */

static struct sv_node *node_new(struct sv_graph *g, struct sv_node *parent, const char *name)
{
	size_t len = strnlen(name, SV_NODE_NAME_MAX - 1);
	struct sv_node *n = sv_xcalloc(1, sizeof *n + len + 1, "a tree node");
	memcpy(n->name, name, len);
	if (sv_mbox_init(&n->mbox) < 0)
		sv_fatal("cannot make a mailbox: %s", strerror(errno));
	n->g = g;
	n->parent = parent;
	return n;
}

static void add_child(struct sv_node *p, struct sv_node *c)
{
	p->children = sv_xreallocarray(p->children, (size_t)p->nchildren + 1, sizeof *p->children,
	                               "a supervisor's children");
	c->index = p->nchildren;
	p->children[p->nchildren++] = c;
}

struct sv_node **sv_tree_job_nodes(struct sv_graph *g, struct sv_node *sup, struct sv_config *cfg,
                                   const struct sv_job *j, int color)
{
	struct sv_node **v = sv_xcalloc((size_t)j->instances + 1, sizeof *v, "a job's nodes");
	struct sv_latch *l = sv_latch_new(g->latches, j);
	for (int inst = 1; inst <= j->instances; inst++) {
		char name[SV_NODE_NAME_MAX];
		if (j->instances > 1)
			snprintf(name, sizeof name, "%s#%d", j->name, inst);
		else
			snprintf(name, sizeof name, "%s", j->name);
		struct sv_node *c = node_new(g, sup, name);
		c->job = j;
		c->cfg = cfg;
		cfg->nodes++;
		sv_latch_get(g->latches, l);
		c->latch = l;
		c->inst = inst;
		c->color = color;
		c->log = sv_joblog_new(c->name);
		c->st.ready_after = -1;
		v[inst - 1] = c;
	}
	sv_latch_put(g->latches, l); /* sv_latch_new's: each node holds one */
	return v;
}

/* A child of a supervisor in the config, placed by its line. */
struct entry { int line; int is_sup; int index; };

static int by_line(const void *a, const void *b)
{
	return ((const struct entry *)a)->line - ((const struct entry *)b)->line;
}

/* used[s]: supervisor s has a selected job somewhere below it.  Each
 * job marks its supervisor chain until a marked one (linear overall). */
static char *used_sups(const struct sv_config *cfg)
{
	char *used = sv_xcalloc((size_t)cfg->nsups + 1, 1, "the supervisor table");
	for (int i = 0; i < cfg->njobs; i++) {
		if (!cfg->jobs[i].selected)
			continue;
		for (int s = cfg->jobs[i].sup; s >= 0 && !used[s]; s = s ? cfg->sups[s].parent : -1)
			used[s] = 1;
	}
	return used;
}

/* The children of every supervisor, each list sorted by line. */
static struct entry **children_by_sup(const struct sv_config *cfg, const char *used, int **count)
{
	struct entry **kids = sv_xcalloc((size_t)cfg->nsups + 1, sizeof *kids, "the supervisor table");
	int *n = sv_xcalloc((size_t)cfg->nsups + 1, sizeof *n, "the supervisor table");
	int *cap = sv_xcalloc((size_t)cfg->nsups + 1, sizeof *cap, "the supervisor table");
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < cfg->njobs + cfg->nsups; i++) {
			int is_sup = i >= cfg->njobs, k = is_sup ? i - cfg->njobs : i;
			int parent, line;
			if (is_sup) {
				if (k == 0 || !used[k])
					continue;
				parent = cfg->sups[k].parent, line = cfg->sups[k].line;
			} else {
				if (!cfg->jobs[k].selected)
					continue;
				parent = cfg->jobs[k].sup, line = cfg->jobs[k].line;
			}
			if (pass == 0)
				cap[parent]++;
			else
				kids[parent][n[parent]++] = (struct entry){ line, is_sup, k };
		}
		for (int s = 0; pass == 0 && s < cfg->nsups; s++)
			kids[s] = sv_xcalloc((size_t)cap[s] + 1, sizeof **kids, "the supervisor table");
	}
	for (int s = 0; s < cfg->nsups; s++)
		qsort(kids[s], (size_t)n[s], sizeof **kids, by_line);
	free(cap);
	*count = n;
	return kids;
}

struct sv_node *sv_tree_build(struct sv_graph *g)
{
	const struct sv_config *cfg = g->cfg;
	char *used = used_sups(cfg);
	int *nkids;
	struct entry **kids = children_by_sup(cfg, used, &nkids);
	struct sv_node **todo = sv_xcalloc((size_t)cfg->nsups + 1, sizeof *todo, "the tree");
	int ntodo = 0;
	struct sv_node *root = node_new(g, NULL, "root");
	root->is_sup = 1;
	root->sup = &cfg->sups[0];
	todo[ntodo++] = root;
	while (ntodo > 0) {
		struct sv_node *sn = todo[--ntodo];
		int s = (int)(sn->sup - cfg->sups);
		for (int k = 0; k < nkids[s]; k++) {
			struct entry e = kids[s][k];
			if (e.is_sup) {
				struct sv_node *c = node_new(g, sn, cfg->sups[e.index].name);
				c->is_sup = 1;
				c->sup = &cfg->sups[e.index];
				add_child(sn, c);
				todo[ntodo++] = c;
				continue;
			}
			struct sv_node **nodes = sv_tree_job_nodes(g, sn, g->cfg, &cfg->jobs[e.index], g->ncolors++);
			for (int i = 0; nodes[i]; i++)
				add_child(sn, nodes[i]);
			free(nodes);
		}
	}
	for (int s = 0; s < cfg->nsups; s++)
		free(kids[s]);
	free(kids);
	free(nkids);
	free(todo);
	free(used);
	return root;
}

/* ---- walking ----------------------------------------------------------------- */

/* Calls fn(node, arg) for n and every node below it, parents first, in
 * start order.  The caller holds tree_mu (or nothing else runs). */
static void each_node(struct sv_node *n, void (*fn)(struct sv_node *, void *), void *arg)
{
	size_t cap = 64, top = 0;
	struct sv_node **stack = sv_xmalloc(cap * sizeof *stack, "a tree walk");
	stack[top++] = n;
	while (top > 0) {
		struct sv_node *x = stack[--top];
		fn(x, arg);
		if (top + (size_t)x->nchildren > cap) {
			cap = (top + (size_t)x->nchildren) * 2;
			stack = sv_xreallocarray(stack, cap, sizeof *stack, "a tree walk");
		}
		for (int i = x->nchildren - 1; i >= 0; i--)
			if (x->children[i]) /* NULL: a retired node, freed */
				stack[top++] = x->children[i];
	}
	free(stack);
}

struct job_visit {
	void (*fn)(struct sv_node *, void *);
	void *arg;
};

static void visit_job(struct sv_node *n, void *arg)
{
	struct job_visit *v = arg;
	if (!n->is_sup)
		v->fn(n, v->arg);
}

void sv_tree_each_job(struct sv_graph *g, struct sv_node *n, void (*fn)(struct sv_node *, void *),
                      void *arg)
{
	struct job_visit v = { fn, arg };
	sv_lock(&g->tree_mu);
	each_node(n, visit_job, &v);
	sv_unlock(&g->tree_mu);
}

struct node_list {
	struct sv_node **v;
	size_t n, cap;
};

static void collect(struct sv_node *n, void *arg)
{
	struct node_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = sv_xreallocarray(l->v, l->cap, sizeof *l->v, "a tree walk");
	}
	l->v[l->n++] = n;
}

static void collect_job(struct sv_node *n, void *arg)
{
	if (!n->is_sup)
		collect(n, arg);
}

struct sv_node **sv_tree_jobs(struct sv_graph *g, struct sv_node *n, size_t *count)
{
	struct node_list l = { NULL, 0, 0 };
	sv_lock(&g->tree_mu);
	each_node(n, collect_job, &l);
	sv_unlock(&g->tree_mu);
	*count = l.n;
	return l.v;
}

static void collect_sup(struct sv_node *n, void *arg)
{
	if (n->is_sup)
		collect(n, arg);
}

struct sv_node **sv_tree_sups(struct sv_graph *g, size_t *count)
{
	struct node_list l = { NULL, 0, 0 };
	sv_lock(&g->tree_mu);
	each_node(g->root, collect_sup, &l);
	sv_unlock(&g->tree_mu);
	*count = l.n;
	return l.v;
}

struct sv_node **sv_tree_children(struct sv_graph *g, struct sv_node *sup, size_t *count)
{
	struct node_list l = { NULL, 0, 0 };
	sv_lock(&g->tree_mu);
	for (int i = 0; i < sup->nchildren; i++)
		if (sup->children[i] && !__atomic_load_n(&sup->children[i]->removed, __ATOMIC_ACQUIRE))
			collect(sup->children[i], &l);
	sv_unlock(&g->tree_mu);
	*count = l.n;
	return l.v;
}

struct sup_search {
	const char *name;
	struct sv_node *found;
};

static void match_sup(struct sv_node *n, void *arg)
{
	struct sup_search *s = arg;
	if (n->is_sup && !s->found && strcmp(n->sup->name, s->name) == 0)
		s->found = n;
}

struct sv_node *sv_tree_find_sup(struct sv_graph *g, const char *name)
{
	struct sup_search s = { name, NULL };
	sv_lock(&g->tree_mu);
	each_node(g->root, match_sup, &s);
	sv_unlock(&g->tree_mu);
	return s.found;
}

/* ---- starting and ending -------------------------------------------------------- */

struct start {
	int failed;
};

static void start_one(struct sv_node *n, void *arg)
{
	struct start *st = arg;
	if (st->failed)
		return;
	rt_wg_add(&n->g->nodes, 1);
	if (rt_go_named(n->name, n->is_sup ? sv_sup_main : sv_job_main, n) < 0) {
		rt_wg_done(&n->g->nodes);
		st->failed = 1;
	}
}

int sv_tree_start(struct sv_node *n)
{
	/* before the tree runs: nothing else reads or changes it yet */
	struct start st = { 0 };
	each_node(n, start_one, &st);
	return st.failed ? -1 : 0;
}

static void quit_one(struct sv_node *n, void *arg)
{
	(void)arg;
	struct sv_msg q = { .type = MSG_QUIT };
	sv_mbox_post(&n->mbox, &q);
}

void sv_tree_quit(struct sv_graph *g)
{
	sv_lock(&g->tree_mu);
	each_node(g->root, quit_one, NULL);
	sv_unlock(&g->tree_mu);
}

void sv_tree_retire(struct sv_graph *g, struct sv_node *n)
{
	sv_lock(&g->tree_mu);
	struct sv_node *p = n->parent;
	for (int i = 0; p && i < p->nchildren; i++)
		if (p->children[i] == n)
			p->children[i] = NULL;
	sv_unlock(&g->tree_mu);
	sv_pipes_node_free(n);
	sv_latch_put(g->latches, n->latch);
	sv_joblog_unref(n->log);
	sv_status_free(&n->st);
	sv_mbox_destroy(&n->mbox);
	free(n);
}

void sv_tree_free(struct sv_node *root)
{
	struct node_list l = { NULL, 0, 0 };
	each_node(root, collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		sv_pipes_node_free(l.v[i]);
		if (l.v[i]->latch)
			sv_latch_put(l.v[i]->g->latches, l.v[i]->latch);
		free(l.v[i]->children);
		sv_joblog_unref(l.v[i]->log);
		sv_status_free(&l.v[i]->st);
		sv_mbox_destroy(&l.v[i]->mbox);
		free(l.v[i]);
	}
	free(l.v);
}
