/*
 * select.c - sv_config_select(): which jobs of a loaded config run.
 * JOB... on the command line selects those jobs, everything they need,
 * and, for a pipeline, every job at the other end of their channels;
 * no JOB selects every job.  Iterative (a chain of 100,000 needs is
 * valid) and linear in jobs plus references: each channel's endpoint
 * list is queued once, however many jobs share the channel.
 */
#include <stdlib.h>
#include <string.h>

#include "supervise/config_internal.h"
#include "supervise/xalloc.h"

/* Jobs at each end of each channel, in file order: producers of channel
 * c are prod[pfirst[c]] to prod[pfirst[c + 1] - 1], consumers likewise. */
struct ends {
	int *pfirst, *prod;
	int *cfirst, *cons;
	char *queued;        /* per channel: 1 producers queued, 2 consumers, 3 both */
};

static void ends_build(const struct sv_config *cfg, struct ends *e)
{
	size_t nc = (size_t)cfg->nchans;
	e->pfirst = sv_xcalloc(nc + 2, sizeof *e->pfirst, "channel ends");
	e->cfirst = sv_xcalloc(nc + 2, sizeof *e->cfirst, "channel ends");
	e->prod = sv_xmalloc(((size_t)cfg->njobs * 2 + 1) * sizeof *e->prod, "channel ends");
	e->cons = sv_xmalloc(((size_t)cfg->njobs + 1) * sizeof *e->cons, "channel ends");
	e->queued = sv_xcalloc(nc + 1, 1, "channel ends");
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->out.kind == SV_IO_CHAN)
			e->pfirst[j->out.chan + 1]++;
		if (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan))
			e->pfirst[j->err.chan + 1]++;
		if (j->in.kind == SV_IO_CHAN)
			e->cfirst[j->in.chan + 1]++;
	}
	for (size_t c = 1; c <= nc; c++) {
		e->pfirst[c] += e->pfirst[c - 1];
		e->cfirst[c] += e->cfirst[c - 1];
	}
	int *pat = sv_xmalloc((nc + 1) * sizeof *pat, "channel ends");
	int *cat = sv_xmalloc((nc + 1) * sizeof *cat, "channel ends");
	memcpy(pat, e->pfirst, (nc + 1) * sizeof *pat);
	memcpy(cat, e->cfirst, (nc + 1) * sizeof *cat);
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->out.kind == SV_IO_CHAN)
			e->prod[pat[j->out.chan]++] = i;
		if (j->err.kind == SV_IO_CHAN && !(j->out.kind == SV_IO_CHAN && j->out.chan == j->err.chan))
			e->prod[pat[j->err.chan]++] = i;
		if (j->in.kind == SV_IO_CHAN)
			e->cons[cat[j->in.chan]++] = i;
	}
	free(pat);
	free(cat);
}

static void ends_free(struct ends *e)
{
	free(e->pfirst);
	free(e->prod);
	free(e->cfirst);
	free(e->cons);
	free(e->queued);
}

/* The work list: every job is pushed at most once per reference to it
 * (needs) plus once per channel end list, so it is bounded by the size of
 * the config. */
struct work {
	int *v;
	int n;
};

static void push(struct work *w, int job)
{
	w->v = sv_grow(w->v, w->n, sizeof *w->v, "the selection");
	w->v[w->n++] = job;
}

static void push_list(struct work *w, const int *first, const int *list, int c, int self)
{
	for (int k = first[c]; k < first[c + 1]; k++) {
		if (list[k] != self)
			push(w, list[k]);
	}
}

/* Selects job i, what it needs, and the jobs at the other end of its
 * channels (those that write what it reads, those that read what it
 * writes), and theirs. */
static void select_from(struct sv_config *cfg, struct ends *e, struct work *w, int i)
{
	push(w, i);
	while (w->n > 0) {
		int ji = w->v[--w->n];
		struct sv_job *j = &cfg->jobs[ji];
		if (j->selected)
			continue;
		j->selected = 1;
		for (int k = 0; k < j->needs.n; k++) {
			if (j->need_idx[k] >= 0)
				push(w, j->need_idx[k]);
		}
		if (j->in.kind == SV_IO_CHAN && !(e->queued[j->in.chan] & 1)) {
			e->queued[j->in.chan] |= 1;
			push_list(w, e->pfirst, e->prod, j->in.chan, ji);
		}
		for (int c = 0; c < 2; c++) {
			const struct sv_iospec *io = c ? &j->err : &j->out;
			if (io->kind == SV_IO_CHAN && !(e->queued[io->chan] & 2)) {
				e->queued[io->chan] |= 2;
				push_list(w, e->cfirst, e->cons, io->chan, ji);
			}
		}
	}
}

int sv_config_select(struct sv_config *cfg, char **names, int n, FILE *errs)
{
	int bad = 0;
	for (int i = 0; i < cfg->njobs; i++)
		cfg->jobs[i].selected = n == 0;
	if (n == 0)
		return 0;
	struct ends e;
	struct work w = { 0 };
	ends_build(cfg, &e);
	for (int k = 0; k < n; k++) {
		int i = sv_config_find_job(cfg, names[k]);
		if (i < 0) {
			fprintf(errs, "%s: no job called %s\n", cfg->path, names[k]);
			bad = 1;
			continue;
		}
		select_from(cfg, &e, &w, i);
	}
	free(w.v);
	ends_free(&e);
	return bad ? -1 : 0;
}
