/*
 * check.c - checks of the graph as a whole, once every section is read:
 * references between jobs and supervisors, cycles, channels nobody
 * uses, combinations of settings that cannot work; and, when the file
 * has no error, warnings about programs and directories that do not
 * exist.  Selection of the jobs to run is in select.c, --graph in
 * print.c.
 *
 * Every walk here is iterative, with its stack on the heap: a valid file
 * may chain 100,000 jobs by needs or by channels, and the loader also
 * runs on a green thread (reloads).  Cycles in needs and in channel feeds
 * are found by one depth-first search over a graph in compressed form;
 * parents, where each supervisor has one, by following them.  A cycle is
 * printed whole when it is short, as its first and last names and its
 * length when it is long.
 *
 * Size: about 700 lines: the graph checks share one depth-first search
 * and the program/directory warnings share the PATH lookup of spawn.c's
 * rules (with its memo, and each job's executable found at load);
 * split further they would repeat them.  Next to move out: the PATH
 * lookup and its memo (about 150 lines).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "supervise/config_internal.h"
#include "supervise/sockets.h"
#include "supervise/xalloc.h"

/* ---- cycle text -------------------------------------------------------- */

/* Cycles of at most this many names are printed whole. */
#define CYCLE_WHOLE 8

/* "a -> b -> c -> a", or "a -> b -> c -> d -> ... -> y -> z -> a" for a
 * long one.  name(i, ctx) names the i-th member.  Returns a malloc'd
 * string. */
static char *cycle_text(int n, const char *(*name)(int i, const void *ctx), const void *ctx)
{
	size_t size = (CYCLE_WHOLE + 2) * (SV_NAME_MAX + 4) + 16;
	char *out = sv_xmalloc(size, "a cycle's text");
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		if (n > CYCLE_WHOLE && i == CYCLE_WHOLE / 2) {
			len += (size_t)snprintf(out + len, size - len, "... -> ");
			i = n - CYCLE_WHOLE / 2;
		}
		len += (size_t)snprintf(out + len, size - len, "%s -> ", name(i, ctx));
	}
	snprintf(out + len, size - len, "%s", name(0, ctx));
	return out;
}

struct named_cycle {
	const struct sv_config *cfg;
	const int *v;     /* indexes into cfg->jobs or cfg->sups */
};

static const char *job_at(int i, const void *ctx)
{
	const struct named_cycle *c = ctx;
	return c->cfg->jobs[c->v[i]].name;
}

static const char *sup_at(int i, const void *ctx)
{
	const struct named_cycle *c = ctx;
	return c->cfg->sups[c->v[i]].name;
}

/* " of N jobs" for a cycle too long to print whole, else "". */
static const char *cycle_size(int n, const char *what, char *buf, size_t len)
{
	if (n <= CYCLE_WHOLE)
		return "";
	snprintf(buf, len, " of %d %s", n, what);
	return buf;
}

/* Reports the cycle v[0..n) of jobs (or supervisors) at line: "WHAT of N
 * jobs: a -> b -> ... -> a". */
static void report_cycle(struct sv_loader *ld, int line, const char *what, const struct sv_config *cfg,
                         const int *v, int n, int sups)
{
	struct named_cycle nc = { cfg, v };
	char *text = cycle_text(n, sups ? sup_at : job_at, &nc);
	char size[48];
	sv_load_error(ld, line, "%s%s: %s", what, cycle_size(n, sups ? "supervisors" : "jobs", size, sizeof size),
	              text);
	free(text);
}

/* ---- one depth-first search ---------------------------------------------- */

/* A directed graph: node i's successors are adj[first[i]] to
 * adj[first[i + 1] - 1]. */
struct digraph {
	int n;
	int *first;   /* n + 1 offsets */
	int *adj;
};

static void digraph_free(struct digraph *g)
{
	free(g->first);
	free(g->adj);
}

/* Finds a cycle through nodes reachable from nodes 0 to nroots - 1.
 * Returns its length and its nodes in *cycle (malloc'd, in edge order,
 * the earliest on the search path first), or 0 if there is none.
 * Iterative: the path is kept in two arrays, not in C frames. */
static int find_cycle(const struct digraph *g, int nroots, int **cycle)
{
	int *color = sv_xcalloc((size_t)g->n + 1, sizeof *color, "a graph search"); /* 0 new, 1 on path, 2 done */
	int *path = sv_xmalloc(((size_t)g->n + 1) * sizeof *path, "a graph search");
	int *next = sv_xmalloc(((size_t)g->n + 1) * sizeof *next, "a graph search"); /* next edge of path[d] */
	int found = 0;
	for (int root = 0; root < nroots && !found; root++) {
		if (color[root])
			continue;
		int depth = 0;
		path[0] = root;
		next[0] = g->first[root];
		color[root] = 1;
		while (depth >= 0 && !found) {
			int u = path[depth];
			if (next[depth] == g->first[u + 1]) {
				color[u] = 2;
				depth--;
				continue;
			}
			int v = g->adj[next[depth]++];
			if (color[v] == 1) {
				int d = depth;
				while (path[d] != v)
					d--;
				found = depth - d + 1;
				*cycle = sv_xmalloc((size_t)found * sizeof **cycle, "a cycle");
				memcpy(*cycle, path + d, (size_t)found * sizeof **cycle);
			} else if (color[v] == 0) {
				color[v] = 1;
				depth++;
				path[depth] = v;
				next[depth] = g->first[v];
			}
		}
	}
	free(color);
	free(path);
	free(next);
	return found;
}

/* ---- supervisors ------------------------------------------------------------ */

static void report_parent_cycle(struct sv_loader *ld, const struct sv_config *cfg, int p)
{
	/* from its first supervisor in the file */
	int m = p, n = 1;
	for (int q = cfg->sups[p].parent; q != p; q = cfg->sups[q].parent, n++)
		m = q < m ? q : m;
	int *v = sv_xmalloc((size_t)n * sizeof *v, "a cycle");
	for (int i = 0, q = m; i < n; i++, q = cfg->sups[q].parent)
		v[i] = q;
	report_cycle(ld, cfg->sups[m].parent_line, "supervisor parents form a cycle", cfg, v, n, 1);
	free(v);
}

/* Resolves parent = NAME, then reports every cycle of parents once: each
 * supervisor has one parent, so following them from each supervisor not
 * yet seen either reaches the root, a supervisor seen before, or one seen
 * on this walk (a new cycle).  O(supervisors). */
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
	char *color = sv_xcalloc((size_t)cfg->nsups, 1, "a parent walk"); /* 0 new, 1 this walk, 2 done */
	for (int i = 1; i < cfg->nsups; i++) {
		int p = i;
		while (p > 0 && color[p] == 0) {
			color[p] = 1;
			p = cfg->sups[p].parent;
		}
		if (p > 0 && color[p] == 1)
			report_parent_cycle(ld, cfg, p);
		for (p = i; p > 0 && color[p] == 1; p = cfg->sups[p].parent)
			color[p] = 2;
	}
	free(color);
}

/* ---- needs ------------------------------------------------------------------- */

static void resolve_needs(struct sv_loader *ld, struct sv_config *cfg)
{
	for (int i = 0; i < cfg->njobs; i++) {
		struct sv_job *j = &cfg->jobs[i];
		j->need_idx = sv_xcalloc((size_t)j->needs.n + 1, sizeof *j->need_idx, "needs");
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

/* Jobs, with an edge from each job to each job it needs. */
static void needs_graph(const struct sv_config *cfg, struct digraph *g)
{
	g->n = cfg->njobs;
	g->first = sv_xmalloc(((size_t)g->n + 1) * sizeof *g->first, "the needs graph");
	size_t m = 0;
	for (int i = 0; i < cfg->njobs; i++)
		m += (size_t)cfg->jobs[i].needs.n;
	g->adj = sv_xmalloc((m + 1) * sizeof *g->adj, "the needs graph");
	int e = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		g->first[i] = e;
		for (int k = 0; k < j->needs.n; k++) {
			if (j->need_idx[k] >= 0 && j->need_idx[k] != i)
				g->adj[e++] = j->need_idx[k];
		}
	}
	g->first[g->n] = e;
}

static void check_needs_cycles(struct sv_loader *ld, struct sv_config *cfg)
{
	struct digraph g;
	needs_graph(cfg, &g);
	int *cycle = NULL;
	int n = find_cycle(&g, g.n, &cycle);
	if (n) {
		/* one cycle is enough to fix first */
		report_cycle(ld, cfg->jobs[cycle[0]].needs_line, "dependency cycle", cfg, cycle, n, 0);
	}
	free(cycle);
	digraph_free(&g);
}

/* ---- channels -------------------------------------------------------------- */

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

/* Jobs (nodes 0 to njobs - 1) and channels (njobs + c), with an edge from
 * each job to the channels it writes and from each channel to the jobs
 * that read it: a cycle is a pipeline that feeds itself.  Through channel
 * nodes, the edges stay as many as the endpoints, however many jobs share
 * one channel. */
static void feeds_graph(const struct sv_config *cfg, struct digraph *g)
{
	int nj = cfg->njobs;
	g->n = nj + cfg->nchans;
	g->first = sv_xcalloc((size_t)g->n + 2, sizeof *g->first, "the channel graph");
	g->adj = sv_xmalloc(((size_t)nj * 3 + 1) * sizeof *g->adj, "the channel graph");
	int *fill = g->first + 1; /* counts, then offsets, of each node's edges */
	for (int i = 0; i < nj; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		fill[i] = (j->out.kind == SV_IO_CHAN) +
		          (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan));
		if (j->in.kind == SV_IO_CHAN)
			fill[nj + j->in.chan]++;
	}
	for (int v = 1; v <= g->n; v++)
		g->first[v] += g->first[v - 1];
	int *at = sv_xmalloc(((size_t)g->n + 1) * sizeof *at, "the channel graph");
	memcpy(at, g->first, ((size_t)g->n + 1) * sizeof *at);
	for (int i = 0; i < nj; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->out.kind == SV_IO_CHAN)
			g->adj[at[i]++] = nj + j->out.chan;
		if (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan))
			g->adj[at[i]++] = nj + j->err.chan;
		if (j->in.kind == SV_IO_CHAN)
			g->adj[at[nj + j->in.chan]++] = i;
	}
	free(at);
}

static void check_chan_cycles(struct sv_loader *ld, struct sv_config *cfg)
{
	struct digraph g;
	feeds_graph(cfg, &g);
	int *cycle = NULL;
	int n = find_cycle(&g, cfg->njobs, &cycle);
	if (n) {
		/* the jobs of the cycle, from the first job on it; the error is
		 * at the channel through which the cycle enters that job */
		int nj = cfg->njobs, first = cycle[0] < nj ? 0 : 1, njobs = 0;
		int chan = (first ? cycle[0] : cycle[n - 1]) - nj;
		int *jobs = sv_xmalloc((size_t)n * sizeof *jobs, "a cycle");
		for (int i = 0; i < n; i++) {
			int v = cycle[(first + i) % n];
			if (v < nj)
				jobs[njobs++] = v;
		}
		report_cycle(ld, cfg->chans[chan].line, "channels form a cycle", cfg, jobs, njobs, 0);
		free(jobs);
	}
	free(cycle);
	digraph_free(&g);
}

/* ---- single jobs and the whole ---------------------------------------------- */

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
	if (j->ready == SV_READY_LOG && j->out.kind != SV_IO_LOG && j->err.kind != SV_IO_LOG)
		sv_load_error(ld, j->ready_line, "ready = log: needs stdout = log or stderr = log "
		              "(grun reads only the lines it logs)");
	if (j->ready == SV_READY_FD && j->sockets.n && j->ready_fd >= 3 && j->ready_fd < 3 + j->sockets.n)
		sv_load_error(ld, j->ready_line, "ready = fd:%d is one of the descriptors of sockets = "
		              "(3 to %d)", j->ready_fd, 2 + j->sockets.n);
	for (int i = 0; i < j->sockets.n && sv_sockets_named(); i++) {
		int fd;
		if (sv_sockets_find(j->sockets.v[i], &fd, 1) == 0) {
			char what[200];
			sv_sockets_describe(what, sizeof what);
			sv_load_error(ld, j->sockets_line, "sockets = %s: no socket named %s: %s",
			              j->sockets.v[i], j->sockets.v[i], what);
		}
	}
	if (j->in.kind == SV_IO_INHERIT && j->instances > 1)
		sv_load_error(ld, j->line, "job %s: stdin = inherit with instances = %d "
		              "(the instances would race for grun's stdin)", j->name, j->instances);
}

/* A need on a one-shot job that is ready as soon as it starts: the
 * dependent starts alongside it, not after it (the footgun of task files
 * that forget ready = exited).  One warning, at the first, with a count. */
static void check_oneshot_needs(struct sv_loader *ld, struct sv_config *cfg)
{
	const struct sv_job *first = NULL, *first_need = NULL;
	int count = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		for (int k = 0; k < j->needs.n && j->need_idx; k++) {
			if (j->need_idx[k] < 0)
				continue;
			const struct sv_job *n = &cfg->jobs[j->need_idx[k]];
			if (n->restart == SV_PERMANENT || n->ready != SV_READY_STARTED)
				continue;
			if (!first || j->needs_line < first->needs_line)
				first = j, first_need = n;
			count++;
		}
	}
	if (!first)
		return;
	char more[64] = "";
	if (count > 1)
		snprintf(more, sizeof more, " (and %d more needs like it)", count - 1);
	sv_load_warning(ld, first->needs_line, "needs = %s: %s is a one-shot job that is ready when it starts, "
	                "so %s starts alongside it, not after it%s; write ready = exited on such jobs, "
	                "or [grun] ready = exited", first_need->name, first_need->name, first->name, more);
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

/* Which jobs write grun's stdout: stdout = log (unless chan:stdout takes
 * grun's stdout, which sends the log to stderr) or inherit, a producer of
 * chan:stdout, and, through channels, whatever feeds those.  When the
 * reader of grun's stdout goes away, these are stopped (graph.c). */
static void mark_stdout_feeders(struct sv_config *cfg)
{
	int out_chan = sv_config_find_chan(cfg, "stdout");
	size_t nc = (size_t)cfg->nchans + 1;
	/* producers by channel, as index lists (CSR: first[c] .. first[c+1]) */
	int *first = sv_xcalloc(nc + 1, sizeof *first, "the channel table");
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->out.kind == SV_IO_CHAN)
			first[j->out.chan + 1]++;
		if (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan))
			first[j->err.chan + 1]++;
	}
	for (size_t c = 0; c < nc; c++)
		first[c + 1] += first[c];
	int *prod = sv_xcalloc((size_t)first[nc] + 1, sizeof *prod, "the channel table");
	int *fill = sv_xcalloc(nc + 1, sizeof *fill, "the channel table");
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->out.kind == SV_IO_CHAN)
			prod[first[j->out.chan] + fill[j->out.chan]++] = i;
		if (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan))
			prod[first[j->err.chan] + fill[j->err.chan]++] = i;
	}
	/* a work list of jobs found to feed grun's stdout */
	int *work = sv_xcalloc((size_t)cfg->njobs + 1, sizeof *work, "the channel table");
	char *chan_done = sv_xcalloc(nc, 1, "the channel table");
	int nwork = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		struct sv_job *j = &cfg->jobs[i];
		if ((j->out.kind == SV_IO_LOG && out_chan < 0) || j->out.kind == SV_IO_INHERIT) {
			j->feeds_stdout = 1;
			work[nwork++] = i;
		}
	}
	/* seed: chan:stdout itself, as if a marked job read it */
	int seed = out_chan;
	while (nwork > 0 || seed >= 0) {
		int c = seed;
		seed = -1;
		if (c < 0) {
			const struct sv_job *j = &cfg->jobs[work[--nwork]];
			c = j->in.kind == SV_IO_CHAN ? j->in.chan : -1;
		}
		if (c < 0 || chan_done[c])
			continue;
		chan_done[c] = 1;
		for (int k = first[c]; k < first[c + 1]; k++) {
			struct sv_job *p = &cfg->jobs[prod[k]];
			if (!p->feeds_stdout) {
				p->feeds_stdout = 1;
				work[nwork++] = prod[k];
			}
		}
	}
	free(first);
	free(prod);
	free(fill);
	free(work);
	free(chan_done);
}

void sv_check_graph(struct sv_loader *ld, struct sv_config *cfg)
{
	check_chans(ld, cfg);
	check_chan_cycles(ld, cfg);
	resolve_parents(ld, cfg);
	resolve_needs(ld, cfg);
	check_needs_cycles(ld, cfg);
	for (int i = 0; i < cfg->njobs; i++)
		check_job(ld, cfg, &cfg->jobs[i]);
	check_significant(ld, cfg);
	if (ld->nfatal == 0) {
		check_oneshot_needs(ld, cfg);
		mark_stdout_feeders(cfg);
	}
	if (cfg->njobs == 0 && ld->nfatal == 0)
		sv_load_error(ld, ld->line, "no jobs (add a [job:NAME] section with a cmd)");
}

/* ---- programs and directories (warnings) ------------------------------------ */

/* Words that /bin/sh runs itself (keywords and builtins), for which
 * there is no program to look for. */
static int shell_word(const char *w)
{
	static const char *const words[] = {
		"!", "{", "}", "[", "[[", ".", ":", "alias", "bg", "break", "case", "cd", "command",
		"continue", "do", "done", "echo", "elif", "else", "esac", "eval", "exec", "exit",
		"export", "false", "fg", "fi", "for", "function", "getopts", "hash", "if", "jobs",
		"kill", "local", "printf", "pwd", "read", "readonly", "return", "set", "shift",
		"source", "test", "then", "time", "times", "trap", "true", "type", "ulimit",
		"umask", "unalias", "unset", "until", "wait", "while", NULL,
	};
	for (int i = 0; words[i]; i++) {
		if (strcmp(w, words[i]) == 0)
			return 1;
	}
	return 0;
}

/* The program a job runs, if it can be known before running it: argv[0],
 * or for shell = yes the first word of cmd when it is a plain word (not
 * a keyword, builtin, assignment, redirection, expansion or quote).
 * Returns NULL when there is nothing to check. */
static const char *job_program(const struct sv_job *j, char *buf, size_t len)
{
	if (!j->shell)
		return j->argv.n > 0 ? j->argv.v[0] : NULL;
	const char *p = j->cmd;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,@%");
	if (n == 0 || n >= len || (p[n] && !strchr(" \t;&|", p[n])))
		return NULL;
	snprintf(buf, len, "%.*s", (int)n, p);
	return shell_word(buf) ? NULL : buf;
}

static const char *job_path_env(const struct sv_job *j)
{
	for (int i = 0; i < j->env.n; i++) {
		if (strncmp(j->env.v[i], "PATH=", 5) == 0)
			return j->env.v[i] + 5;
	}
	const char *path = getenv("PATH");
	return path ? path : "/usr/local/bin:/usr/bin:/bin";
}

static int runnable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The first runnable prog along path (malloc'd), or NULL. */
static char *search_path(const char *path, const char *prog)
{
	char *buf = sv_xmalloc(4096 + 2 * SV_LINE_MAX, "a program path");
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, 4096 + 2 * SV_LINE_MAX, "%.*s%s%s", (int)n, path, n ? "/" : "", prog);
		if (runnable(buf))
			return buf;
		path += n + (path[n] == ':');
	}
	free(buf);
	return NULL;
}

/*
 * The PATH searches of one check, by PATH and program: a file of 100,000
 * jobs that run a handful of programs searches PATH a handful of times
 * (each search is a stat per directory).  Open addressing, linear
 * probing; the capacity is a power of two, at most half used.  key is
 * "PATH\nprogram"; found the search's result (NULL: not on PATH).  Local
 * to sv_check_files.
 */
struct path_memo {
	struct path_hit {
		char *key;
		char *found;
	} *slot;
	size_t cap, n;
};

static uint64_t memo_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct path_hit *memo_slot(struct path_memo *m, const char *key)
{
	size_t i = (size_t)memo_hash(key) & (m->cap - 1);
	while (m->slot[i].key && strcmp(m->slot[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slot[i];
}

static void memo_grow(struct path_memo *m)
{
	struct path_memo old = *m;
	m->cap = old.cap ? 2 * old.cap : 64;
	m->slot = sv_xcalloc(m->cap, sizeof *m->slot, "the PATH search memo");
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i].key)
			*memo_slot(m, old.slot[i].key) = old.slot[i];
	free(old.slot);
}

static void memo_free(struct path_memo *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slot[i].key);
		free(m->slot[i].found);
	}
	free(m->slot);
}

/* search_path(path, prog), remembered: NULL or a path m owns. */
static const char *memo_search(struct path_memo *m, const char *path, const char *prog)
{
	if (2 * (m->n + 1) > m->cap)
		memo_grow(m);
	size_t len = strlen(path) + strlen(prog) + 2;
	char *key = sv_xmalloc(len, "the PATH search memo");
	snprintf(key, len, "%s\n%s", path, prog);
	struct path_hit *h = memo_slot(m, key);
	if (h->key) {
		free(key);
		return h->found;
	}
	h->key = key;
	h->found = search_path(path, prog);
	m->n++;
	return h->found;
}

/* Looks for prog as the job's start would (spawn.c find_exec): a name
 * with a '/' as is (after entering dir), else along the PATH the job
 * gets.  Returns 0, or -1 with errno; *found (if not NULL) gets the path
 * of a name found along PATH (m's), else NULL. */
static int find_program(struct path_memo *m, const struct sv_job *j, const char *prog,
		const char **found)
{
	if (found)
		*found = NULL;
	if (!strchr(prog, '/')) {
		const char *hit = memo_search(m, job_path_env(j), prog);
		if (found)
			*found = hit;
		errno = ENOENT;
		return hit ? 0 : -1;
	}
	char *buf = sv_xmalloc(4096 + 2 * SV_LINE_MAX, "a program path");
	if (prog[0] != '/' && j->dir)
		snprintf(buf, 4096 + 2 * SV_LINE_MAX, "%s/%s", j->dir, prog);
	else
		snprintf(buf, 4096 + 2 * SV_LINE_MAX, "%s", prog);
	errno = 0;
	int rc = runnable(buf) ? 0 : -1;
	if (rc < 0 && errno == 0)
		errno = EACCES; /* there, but not an executable file */
	free(buf);
	return rc;
}

/* The job's argv[0] along its PATH, once at load instead of at every
 * spawn (about ten stat calls each; systemd resolves ExecStart= at load
 * too).  A program missing now is looked for again at each spawn, as an
 * earlier job may install it. */
static void resolve_exec(struct path_memo *m, struct sv_job *j)
{
	const char *found;
	if (j->argv.n > 0 && !strchr(j->argv.v[0], '/') &&
	    find_program(m, j, j->argv.v[0], &found) == 0)
		j->exec_path = sv_xstrdup(found, "a program path");
}

/* What a job's start would fail on now: a dir that is not there, a
 * program that cannot be found.  Warnings only: an earlier job may create
 * them (grun.ini(5) VALIDATION).  Also finds each job's executable
 * (sv_job.exec_path). */
void sv_check_files(struct sv_loader *ld, struct sv_config *cfg)
{
	struct path_memo memo = { 0 };
	for (int i = 0; i < cfg->njobs; i++) {
		struct sv_job *j = &cfg->jobs[i];
		struct stat st;
		int dir_ok = 1;
		resolve_exec(&memo, j);
		if (j->dir) {
			int err = stat(j->dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
			if (err) {
				sv_load_warning(ld, j->dir_line, "dir = %s: %s", j->dir, strerror(err));
				dir_ok = 0;
			}
		}
		char word[256];
		const char *prog = job_program(j, word, sizeof word);
		if (!prog || (!dir_ok && prog[0] != '/' && strchr(prog, '/')))
			continue;
		if (j->exec_path && strcmp(prog, j->argv.v[0]) == 0)
			continue; /* found by resolve_exec */
		if (find_program(&memo, j, prog, NULL) < 0) {
			if (strchr(prog, '/'))
				sv_load_warning(ld, j->cmd_line, "cmd: cannot run %s: %s", prog, strerror(errno));
			else
				sv_load_warning(ld, j->cmd_line, "cmd: %s is not on PATH", prog);
		}
	}
	memo_free(&memo);
}
