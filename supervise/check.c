/*
 * check.c - checks of the graph as a whole: references between jobs and
 * supervisors, cycles (printed as a path), combinations of settings that
 * cannot work; then selection of the jobs to run, and --graph output.
 */
#include <stdlib.h>
#include <string.h>

#include "supervise/config_internal.h"

static void resolve_parents(struct sv_loader *ld, struct sv_config *cfg)
{
	for (int i = 1; i < cfg->nsups; i++) {
		struct sv_sup *s = &cfg->sups[i];
		if (!s->parent_name)
			continue;
		int p = sv_find_sup(cfg, s->parent_name);
		if (p < 0)
			sv_load_error(ld, s->parent_line, "parent = %s: no such supervisor", s->parent_name);
		else
			s->parent = p;
	}
	/* cycles: follow parents at most nsups steps */
	for (int i = 1; i < cfg->nsups; i++) {
		int p = i, steps = 0;
		while (p > 0 && steps <= cfg->nsups)
			p = cfg->sups[p].parent, steps++;
		if (p > 0) {
			/* report each cycle once, from its first supervisor in the file */
			int r = cfg->sups[i].parent, first = 1;
			for (int n = 0; r != i && n <= cfg->nsups; n++, r = cfg->sups[r].parent)
				first &= r > i;
			if (r != i || !first)
				continue;
			char path[1024] = "";
			size_t len = 0;
			int q = i;
			for (int n = 0; n <= cfg->nsups && len < sizeof path - 80; n++) {
				len += (size_t)snprintf(path + len, sizeof path - len, "%s%s", n ? " -> " : "", cfg->sups[q].name);
				q = cfg->sups[q].parent;
				if (q == i) {
					snprintf(path + len, sizeof path - len, " -> %s", cfg->sups[i].name);
					break;
				}
			}
			if (q == i)
				sv_load_error(ld, cfg->sups[i].parent_line, "supervisor parents form a cycle: %s", path);
		}
	}
}

static void resolve_needs(struct sv_loader *ld, struct sv_config *cfg)
{
	for (int i = 0; i < cfg->njobs; i++) {
		struct sv_job *j = &cfg->jobs[i];
		j->need_idx = calloc((size_t)j->needs.n + 1, sizeof *j->need_idx);
		for (int k = 0; k < j->needs.n; k++) {
			int n = sv_config_find_job(cfg, j->needs.v[k]);
			if (n < 0)
				sv_load_error(ld, j->needs_line, "needs = %s: no job called %s",
				              j->needs.v[k], j->needs.v[k]);
			else if (n == i)
				sv_load_error(ld, j->needs_line, "job %s needs itself", j->name);
			j->need_idx[k] = n;
		}
	}
}

/* "a -> b -> ... -> a": the jobs of stack[] from job back (its first
 * appearance) to depth, and job again. */
static void cycle_text(const struct sv_config *cfg, const int *stack, int depth, int back,
                       char *out, size_t size)
{
	size_t len = 0;
	int start = depth;
	while (stack[start] != back)
		start--;
	out[0] = '\0';
	for (int d = start; d <= depth && len < size - 2 * SV_NAME_MAX; d++)
		len += (size_t)snprintf(out + len, size - len, "%s -> ", cfg->jobs[stack[d]].name);
	snprintf(out + len, size - len, "%s", cfg->jobs[back].name);
}

/* Depth-first search for a cycle in needs; color 0 new, 1 on stack, 2 done. */
static int find_cycle(struct sv_config *cfg, int i, int *color, int *stack, int depth,
                      struct sv_loader *ld)
{
	color[i] = 1;
	stack[depth] = i;
	struct sv_job *j = &cfg->jobs[i];
	for (int k = 0; k < j->needs.n; k++) {
		int n = j->need_idx[k];
		if (n < 0 || n == i)
			continue;
		if (color[n] == 1) {
			char path[2048];
			cycle_text(cfg, stack, depth, n, path, sizeof path);
			sv_load_error(ld, cfg->jobs[n].needs_line, "dependency cycle: %s", path);
			return 1;
		}
		if (color[n] == 0 && find_cycle(cfg, n, color, stack, depth + 1, ld))
			return 1;
	}
	color[i] = 2;
	return 0;
}

static void check_cycles(struct sv_loader *ld, struct sv_config *cfg)
{
	int *color = calloc((size_t)cfg->njobs + 1, sizeof *color);
	int *stack = calloc((size_t)cfg->njobs + 1, sizeof *stack);
	for (int i = 0; i < cfg->njobs; i++) {
		if (color[i] == 0 && find_cycle(cfg, i, color, stack, 0, ld))
			break; /* one cycle is enough to fix first */
	}
	free(color);
	free(stack);
}

static void check_job(struct sv_loader *ld, struct sv_config *cfg, struct sv_job *j)
{
	if (j->ready == SV_READY_EXITED && j->restart == SV_PERMANENT)
		sv_load_error(ld, j->ready_line, "ready = exited cannot work with restart = permanent "
		              "(a permanent job is restarted whenever it exits)");
	if (j->significant && j->restart == SV_PERMANENT)
		sv_load_error(ld, j->significant_line, "significant = yes needs restart = transient or temporary "
		              "(a permanent job never ends for good)");
	if (j->ready_timeout && j->ready == SV_READY_STARTED)
		sv_load_error(ld, j->ready_timeout_line, "ready_timeout needs a ready = condition other than started");
	if (j->in.kind == SV_IO_INHERIT && j->instances > 1)
		sv_load_error(ld, j->line, "job %s: stdin = inherit with instances = %d "
		              "(the instances would race for grun's stdin)", j->name, j->instances);
}

static void check_significant(struct sv_loader *ld, struct sv_config *cfg)
{
	if (cfg->exit_policy == SV_EXIT_AUTO)
		return;
	for (int i = 0; i < cfg->njobs; i++) {
		if (cfg->jobs[i].significant)
			return;
	}
	sv_load_error(ld, cfg->sups[0].line, "exit = %s but no job has significant = yes",
	              cfg->exit_policy == SV_EXIT_ANY_SIGNIFICANT ? "any_significant" : "all_significant");
}

/* Counts each channel's producers and consumers and reports the channels
 * that cannot work. */
static void check_chans(struct sv_loader *ld, struct sv_config *cfg)
{
	for (int c = 0; c < cfg->nchans; c++) {
		struct sv_chan *ch = &cfg->chans[c];
		ch->producers = strcmp(ch->name, "stdin") == 0;
		ch->consumers = strcmp(ch->name, "stdout") == 0;
	}
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->out.kind == SV_IO_CHAN)
			cfg->chans[j->out.chan].producers += j->instances;
		if (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan))
			cfg->chans[j->err.chan].producers += j->instances;
		if (j->in.kind == SV_IO_CHAN)
			cfg->chans[j->in.chan].consumers += j->instances;
	}
	for (int c = 0; c < cfg->nchans; c++) {
		struct sv_chan *ch = &cfg->chans[c];
		if (!ch->producers && !ch->consumers)
			sv_load_error(ld, ch->line, "channel %s is not used by any job", ch->name);
		else if (!ch->producers)
			sv_load_error(ld, ch->line, "channel %s has consumers but no producer "
			              "(no job has stdout or stderr = chan:%s)", ch->name, ch->name);
		else if (!ch->consumers)
			sv_load_error(ld, ch->line, "channel %s has producers but no consumer "
			              "(no job has stdin = chan:%s)", ch->name, ch->name);
		else if (ch->framing == SV_FRAME_CHUNK && ch->mode == SV_SHARE && ch->consumers > 1)
			sv_load_error(ld, ch->line, "channel %s: framing = chunk with mode = share needs exactly one "
			              "consumer (raw bytes cannot be divided between %d consumers; use framing = line "
			              "or mode = broadcast)", ch->name, ch->consumers);
	}
}

/* Does job i reach job `target` through channels (i writes a channel
 * that some job reading it ... writes one that target reads)? */
static int feeds(const struct sv_config *cfg, int i, int *seen, int *path, int depth, struct sv_loader *ld)
{
	const struct sv_job *j = &cfg->jobs[i];
	seen[i] = 1;
	path[depth] = i;
	for (int k = 0; k < cfg->njobs; k++) {
		const struct sv_job *c = &cfg->jobs[k];
		if (c->in.kind != SV_IO_CHAN)
			continue;
		int linked = (j->out.kind == SV_IO_CHAN && j->out.chan == c->in.chan) ||
		             (j->err.kind == SV_IO_CHAN && j->err.chan == c->in.chan);
		if (!linked)
			continue;
		if (seen[k] == 1) {
			char text[2048];
			cycle_text(cfg, path, depth, k, text, sizeof text);
			sv_load_error(ld, cfg->chans[c->in.chan].line, "channels form a cycle: %s", text);
			return 1;
		}
		if (seen[k] == 0 && feeds(cfg, k, seen, path, depth + 1, ld))
			return 1;
	}
	seen[i] = 2;
	return 0;
}

static void check_chan_cycles(struct sv_loader *ld, struct sv_config *cfg)
{
	int *seen = calloc((size_t)cfg->njobs + 1, sizeof *seen);
	int *path = calloc((size_t)cfg->njobs + 1, sizeof *path);
	for (int i = 0; i < cfg->njobs; i++) {
		if (!seen[i] && feeds(cfg, i, seen, path, 0, ld))
			break;
	}
	free(seen);
	free(path);
}

void sv_check_graph(struct sv_loader *ld, struct sv_config *cfg)
{
	check_chans(ld, cfg);
	check_chan_cycles(ld, cfg);
	resolve_parents(ld, cfg);
	resolve_needs(ld, cfg);
	check_cycles(ld, cfg);
	for (int i = 0; i < cfg->njobs; i++)
		check_job(ld, cfg, &cfg->jobs[i]);
	check_significant(ld, cfg);
	if (cfg->njobs == 0 && ld->nerrors == 0)
		sv_load_error(ld, ld->line, "no jobs (add a [job:NAME] section with a cmd)");
}

static int chan_of(const struct sv_iospec *io)
{
	return io->kind == SV_IO_CHAN ? io->chan : -1;
}

/* Do jobs a and b share a channel, one writing what the other reads? */
static int linked(const struct sv_job *a, const struct sv_job *b)
{
	int ai = chan_of(&a->in), bi = chan_of(&b->in);
	int ao[2] = { chan_of(&a->out), chan_of(&a->err) }, bo[2] = { chan_of(&b->out), chan_of(&b->err) };
	for (int k = 0; k < 2; k++) {
		if ((ai >= 0 && bo[k] == ai) || (bi >= 0 && ao[k] == bi))
			return 1;
	}
	return 0;
}

/* A selected job brings what it needs and, for a pipeline, every job at
 * the other end of its channels. */
static void select_job(struct sv_config *cfg, int i)
{
	struct sv_job *j = &cfg->jobs[i];
	if (j->selected)
		return;
	j->selected = 1;
	for (int k = 0; k < j->needs.n; k++)
		select_job(cfg, j->need_idx[k]);
	for (int k = 0; k < cfg->njobs; k++) {
		if (k != i && linked(j, &cfg->jobs[k]))
			select_job(cfg, k);
	}
}

int sv_config_select(struct sv_config *cfg, char **names, int n, FILE *errs)
{
	int bad = 0;
	for (int i = 0; i < cfg->njobs; i++)
		cfg->jobs[i].selected = n == 0;
	for (int k = 0; k < n; k++) {
		int i = sv_config_find_job(cfg, names[k]);
		if (i < 0) {
			fprintf(errs, "%s: no job called %s\n", cfg->path, names[k]);
			bad = 1;
			continue;
		}
		select_job(cfg, i);
	}
	return bad ? -1 : 0;
}

/* ---- --graph ---------------------------------------------------------------- */

static const char *strategy_name(enum sv_strategy s)
{
	return s == SV_ONE_FOR_ALL ? "one_for_all" : s == SV_REST_FOR_ONE ? "rest_for_one" : "one_for_one";
}

static const char *restart_name(enum sv_restart r)
{
	return r == SV_PERMANENT ? "permanent" : r == SV_TRANSIENT ? "transient" : "temporary";
}

static void print_tree(const struct sv_config *cfg, FILE *out, int sup, int depth)
{
	const struct sv_sup *s = &cfg->sups[sup];
	char dur[32];
	fprintf(out, "%*ssupervisor %s (%s, intensity %d in %s)\n", depth * 2, "",
	        sup ? s->name : "(root)", strategy_name(s->strategy), s->intensity,
	        sv_duration_str(s->period, dur, sizeof dur));
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->sup != sup || !j->selected)
			continue;
		fprintf(out, "%*sjob %s (%s", depth * 2 + 2, "", j->name, restart_name(j->restart));
		if (j->instances > 1)
			fprintf(out, ", %d instances", j->instances);
		fputc(')', out);
		for (int k = 0; k < j->needs.n; k++)
			fprintf(out, "%s%s", k ? ", " : " needs ", j->needs.v[k]);
		fputc('\n', out);
	}
	for (int c = 1; c < cfg->nsups; c++) {
		if (cfg->sups[c].parent == sup)
			print_tree(cfg, out, c, depth + 1);
	}
}

static void print_dot_sup(const struct sv_config *cfg, FILE *out, int sup, int depth)
{
	fprintf(out, "%*ssubgraph \"cluster_%s\" {\n%*slabel=\"%s (%s)\";\n", depth * 2, "",
	        sup ? cfg->sups[sup].name : "root", depth * 2 + 2, "",
	        sup ? cfg->sups[sup].name : "root", strategy_name(cfg->sups[sup].strategy));
	for (int i = 0; i < cfg->njobs; i++) {
		if (cfg->jobs[i].sup == sup && cfg->jobs[i].selected)
			fprintf(out, "%*s\"%s\";\n", depth * 2 + 2, "", cfg->jobs[i].name);
	}
	for (int c = 1; c < cfg->nsups; c++) {
		if (cfg->sups[c].parent == sup)
			print_dot_sup(cfg, out, c, depth + 1);
	}
	fprintf(out, "%*s}\n", depth * 2, "");
}

void sv_graph_print(const struct sv_config *cfg, FILE *out, int dot)
{
	if (!dot) {
		print_tree(cfg, out, 0, 0);
		return;
	}
	fprintf(out, "digraph grun {\n  rankdir=LR;\n");
	print_dot_sup(cfg, out, 0, 1);
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		for (int k = 0; j->selected && k < j->needs.n; k++)
			fprintf(out, "  \"%s\" -> \"%s\";\n", j->needs.v[k], j->name);
	}
	fprintf(out, "}\n");
}
