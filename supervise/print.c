/*
 * print.c - sv_graph_print(): the supervision tree of the selected jobs
 * for --graph, as indented text or as Graphviz dot.  Each supervisor is
 * printed with its jobs, then its child supervisors, in file order.  The
 * tree is walked with a stack on the heap (parents may nest 100,000
 * deep), and indentation stops growing at MAX_INDENT levels.
 */
#include <stdlib.h>
#include <string.h>

#include "supervise/config_internal.h"
#include "supervise/xalloc.h"

#define MAX_INDENT 32

static const char *restart_name(enum sv_restart r)
{
	return r == SV_PERMANENT ? "permanent" : r == SV_TRANSIENT ? "transient" : "temporary";
}

/* Members of each supervisor in file order: jobs of sup s are
 * job[jfirst[s]] to job[jfirst[s + 1] - 1], child supervisors likewise. */
struct members {
	int *jfirst, *job;
	int *sfirst, *sup;
};

/* Fills first[] (n + 1 offsets) and list[] with the items 0 to m - 1
 * grouped by owner(item), keeping their order; owners out of 0 to
 * n - 1 are left out. */
static void group(int n, int m, const int *owner, int **first, int **list)
{
	*first = sv_xcalloc((size_t)n + 2, sizeof **first, "the --graph tree");
	*list = sv_xmalloc(((size_t)m + 1) * sizeof **list, "the --graph tree");
	for (int i = 0; i < m; i++) {
		if (owner[i] >= 0 && owner[i] < n)
			(*first)[owner[i] + 1]++;
	}
	for (int s = 1; s <= n; s++)
		(*first)[s] += (*first)[s - 1];
	int *at = sv_xmalloc(((size_t)n + 1) * sizeof *at, "the --graph tree");
	memcpy(at, *first, ((size_t)n + 1) * sizeof *at);
	for (int i = 0; i < m; i++) {
		if (owner[i] >= 0 && owner[i] < n)
			(*list)[at[owner[i]]++] = i;
	}
	free(at);
}

static void members_build(const struct sv_config *cfg, struct members *mb)
{
	int m = cfg->njobs > cfg->nsups ? cfg->njobs : cfg->nsups;
	int *owner = sv_xmalloc(((size_t)m + 1) * sizeof *owner, "the --graph tree");
	for (int i = 0; i < cfg->njobs; i++)
		owner[i] = cfg->jobs[i].selected ? cfg->jobs[i].sup : -1;
	group(cfg->nsups, cfg->njobs, owner, &mb->jfirst, &mb->job);
	owner[0] = -1; /* the root is nobody's child */
	for (int s = 1; s < cfg->nsups; s++)
		owner[s] = cfg->sups[s].parent;
	group(cfg->nsups, cfg->nsups, owner, &mb->sfirst, &mb->sup);
	free(owner);
}

static void members_free(struct members *mb)
{
	free(mb->jfirst);
	free(mb->job);
	free(mb->sfirst);
	free(mb->sup);
}

static int indent(int depth)
{
	return 2 * (depth < MAX_INDENT ? depth : MAX_INDENT);
}

static void text_sup(const struct sv_config *cfg, const struct members *mb, FILE *out, int sup,
                     int depth)
{
	const struct sv_sup *s = &cfg->sups[sup];
	char dur[32];
	fprintf(out, "%*ssupervisor %s (%s, intensity %d in %s)\n", indent(depth), "",
	        sup ? s->name : "(root)", sv_strategy_name(s->strategy), s->intensity,
	        sv_duration_str(s->period, dur, sizeof dur));
	for (int k = mb->jfirst[sup]; k < mb->jfirst[sup + 1]; k++) {
		const struct sv_job *j = &cfg->jobs[mb->job[k]];
		fprintf(out, "%*sjob %s (%s", indent(depth + 1), "", j->name, restart_name(j->restart));
		if (j->instances > 1)
			fprintf(out, ", %d instances", j->instances);
		fputc(')', out);
		for (int n = 0; n < j->needs.n; n++)
			fprintf(out, "%s%s", n ? ", " : " needs ", j->needs.v[n]);
		fputc('\n', out);
	}
}

static void dot_sup_open(const struct sv_config *cfg, const struct members *mb, FILE *out, int sup,
                         int depth)
{
	const char *name = sup ? cfg->sups[sup].name : "root";
	fprintf(out, "%*ssubgraph \"cluster_%s\" {\n%*slabel=\"%s (%s)\";\n", indent(depth), "",
	        name, indent(depth + 1), "", name, sv_strategy_name(cfg->sups[sup].strategy));
	for (int k = mb->jfirst[sup]; k < mb->jfirst[sup + 1]; k++)
		fprintf(out, "%*s\"%s\";\n", indent(depth + 1), "", cfg->jobs[mb->job[k]].name);
}

/* Pre-order over the supervisors from the root; for dot, each one's
 * closing brace after its children.  A stack entry is a supervisor
 * (opening) or ~supervisor (closing). */
static void walk(const struct sv_config *cfg, const struct members *mb, FILE *out, int dot)
{
	int *stack = sv_xmalloc(((size_t)cfg->nsups * 2 + 2) * sizeof *stack, "the --graph tree");
	int *depth = sv_xmalloc(((size_t)cfg->nsups * 2 + 2) * sizeof *depth, "the --graph tree");
	int top = 0;
	stack[top] = 0;
	depth[top++] = dot ? 1 : 0;
	while (top > 0) {
		int sup = stack[--top], d = depth[top];
		if (sup < 0) {
			fprintf(out, "%*s}\n", indent(d), "");
			continue;
		}
		if (dot) {
			dot_sup_open(cfg, mb, out, sup, d);
			stack[top] = ~sup;
			depth[top++] = d;
		} else {
			text_sup(cfg, mb, out, sup, d);
		}
		for (int k = mb->sfirst[sup + 1] - 1; k >= mb->sfirst[sup]; k--) {
			stack[top] = mb->sup[k];
			depth[top++] = d + 1;
		}
	}
	free(stack);
	free(depth);
}

void sv_graph_print(const struct sv_config *cfg, FILE *out, int dot)
{
	struct members mb;
	members_build(cfg, &mb);
	if (dot)
		fprintf(out, "digraph grun {\n  rankdir=LR;\n");
	walk(cfg, &mb, out, dot);
	if (dot) {
		for (int i = 0; i < cfg->njobs; i++) {
			const struct sv_job *j = &cfg->jobs[i];
			for (int k = 0; j->selected && k < j->needs.n; k++)
				fprintf(out, "  \"%s\" -> \"%s\";\n", j->needs.v[k], j->name);
		}
		fprintf(out, "}\n");
	}
	members_free(&mb);
}
