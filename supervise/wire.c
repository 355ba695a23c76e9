/*
 * wire.c - the fd plumbing of the pipelines (pipeline.h): the pipes grun
 * holds for each job node, the 1:1 direct channels, attaching endpoints
 * to their channels, and closing the ends when jobs end for good.
 *
 * Owns struct sv_pipes (g->pipes) and every node's struct sv_ends; the
 * descriptors in them are under ends_mu (pipe_internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise/lock.h"
#include "supervise/pipe_internal.h"
#include "supervise/xalloc.h"

/* A channel pipe of 1 MiB (the default pipe-max-size) instead of 64 KiB:
 * sixteen times fewer wake-ups per byte moved.  Best effort. */
static int chan_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
	return 0;
}

/* A chunk channel with one producer and one consumer needs no green
 * thread at all: the producer writes straight into the consumer's pipe
 * (or grun's stdout), the consumer reads the producer's (or grun's
 * stdin), as in a shell pipeline; grun only holds the ends. */
static int is_direct(const struct sv_chan *c)
{
	return c->framing == SV_FRAME_CHUNK && c->producers == 1 && c->consumers == 1;
}

static int uses_chan(const struct sv_job *j)
{
	return j->in.kind == SV_IO_CHAN || j->out.kind == SV_IO_CHAN || j->err.kind == SV_IO_CHAN;
}

static struct sv_feeder *feeder_new(int fd, int own, struct sv_node *n)
{
	struct sv_feeder *f = sv_xcalloc(1, sizeof *f, "a pipeline feeder");
	pthread_mutex_init(&f->mu, NULL);
	f->fd = fd;
	f->own_fd = own;
	f->node = n;
	return f;
}

static struct sv_source *source_new(int fd, int own)
{
	struct sv_source *s = sv_xcalloc(1, sizeof *s, "a pipeline source");
	s->fd = fd;
	s->own_fd = own;
	return s;
}

/* The held pipes of job node n (before it runs).  -1: out of descriptors. */
static int open_ends(struct sv_node *n, const struct sv_config *cfg)
{
	const struct sv_job *j = n->job;
	struct sv_ends *e = sv_xmalloc(sizeof *e, "a job's pipe ends");
	*e = (struct sv_ends){ .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	n->ends = e;
	int fds[2];
	if (j->in.kind == SV_IO_CHAN && !is_direct(&cfg->chans[j->in.chan])) {
		if (chan_pipe(fds) < 0)
			return -1;
		e->in_fd = fds[0];
		e->feeder = feeder_new(fds[1], 1, n);
		if (cfg->chans[j->in.chan].framing == SV_FRAME_LINE)
			e->feeder->ring = sv_xmalloc(RING, "a consumer's ring");
		rt_fd_nonblock(fds[1]);
	}
	const struct sv_iospec *outs[2] = { &j->out, &j->err };
	for (int k = 0; k < 2; k++) {
		if (outs[k]->kind != SV_IO_CHAN || is_direct(&cfg->chans[outs[k]->chan]))
			continue;
		if (chan_pipe(fds) < 0)
			return -1;
		rt_fd_nonblock(fds[0]);
		if (k == 0)
			e->out_fd = fds[1], e->src_out = source_new(fds[0], 1);
		else
			e->err_fd = fds[1], e->src_err = source_new(fds[0], 1);
	}
	return 0;
}

static void pipe_add_source(struct sv_pipe *p, struct sv_source *s)
{
	s->p = p;
	p->sources = sv_xreallocarray(p->sources, (size_t)p->nsources + 1, sizeof *p->sources,
	                              "a channel's sources");
	p->sources[p->nsources++] = s;
}

static void pipe_add_feeder(struct sv_pipe *p, struct sv_feeder *f)
{
	f->p = p;
	if (!(f->done = rt_chan_make(0, 0)))
		sv_fatal("cannot make a feeder's channel: %s", strerror(errno));
	p->feeders = sv_xreallocarray(p->feeders, (size_t)p->nfeeders + 1, sizeof *p->feeders,
	                              "a channel's feeders");
	p->feeders[p->nfeeders++] = f;
}

/* Per job node: open its ends and attach them to their channels, or, for
 * a direct channel, give it the one pipe's end. */
struct wiring {
	struct sv_graph *g;
	int failed;
	struct sv_node **prod, **cons;  /* by channel: the endpoints of direct ones */
	char *prod_err;
};

static void wire_node(struct sv_node *n, void *arg)
{
	struct wiring *w = arg;
	const struct sv_job *j = n->job;
	const struct sv_config *cfg = w->g->cfg;
	if (!uses_chan(j) || w->failed)
		return;
	if (open_ends(n, cfg) < 0) {
		sv_err("%s: cannot make its channel pipes: %s", n->name, strerror(errno));
		w->failed = 1;
		return;
	}
	struct sv_ends *e = n->ends;
	struct sv_pipe **pipes = w->g->pipes->v;
	if (e->feeder)
		pipe_add_feeder(pipes[j->in.chan], e->feeder);
	if (e->src_out)
		pipe_add_source(pipes[j->out.chan], e->src_out);
	if (e->src_err)
		pipe_add_source(pipes[j->err.chan], e->src_err);
	if (j->in.kind == SV_IO_CHAN && is_direct(&cfg->chans[j->in.chan]))
		w->cons[j->in.chan] = n;
	if (j->out.kind == SV_IO_CHAN && is_direct(&cfg->chans[j->out.chan]))
		w->prod[j->out.chan] = n;
	else if (j->err.kind == SV_IO_CHAN && is_direct(&cfg->chans[j->err.chan]))
		w->prod[j->err.chan] = n, w->prod_err[j->err.chan] = 1;
}

static int wire_direct(struct wiring *w, int c)
{
	const struct sv_chan *ch = &w->g->cfg->chans[c];
	int fds[2] = { -1, -1 };
	struct sv_node *prod = w->prod[c], *cons = w->cons[c];
	if (strcmp(ch->name, "stdin") == 0)
		fds[0] = fcntl(0, F_DUPFD_CLOEXEC, 3);
	else if (strcmp(ch->name, "stdout") == 0)
		fds[1] = fcntl(1, F_DUPFD_CLOEXEC, 3);
	else if (chan_pipe(fds) < 0)
		return -1;
	if (cons)
		cons->ends->in_fd = fds[0];
	else if (fds[0] > 2)
		close(fds[0]);
	if (prod && w->prod_err[c])
		prod->ends->err_fd = fds[1];
	else if (prod)
		prod->ends->out_fd = fds[1];
	else if (fds[1] > 2)
		close(fds[1]);
	return 0;
}

/* The pipe of each channel, with grun's stdin and stdout as endpoints. */
static void make_pipes(struct sv_graph *g)
{
	const struct sv_config *cfg = g->cfg;
	struct sv_pipes *ps = g->pipes;
	ps->n = cfg->nchans;
	ps->v = sv_xcalloc((size_t)cfg->nchans + 1, sizeof *ps->v, "the channel table");
	for (int i = 0; i < cfg->nchans; i++) {
		struct sv_pipe *p = sv_xcalloc(1, sizeof *p, "a channel");
		p->cfg = &cfg->chans[i];
		p->g = g;
		p->direct = is_direct(p->cfg);
		ps->v[i] = p;
		if (!p->direct && strcmp(p->cfg->name, "stdin") == 0)
			pipe_add_source(p, source_new(0, 0));
		if (!p->direct && strcmp(p->cfg->name, "stdout") == 0)
			pipe_add_feeder(p, feeder_new(1, 0, NULL));
	}
}

int sv_pipes_start(struct sv_graph *g)
{
	struct sv_pipes *ps = sv_xcalloc(1, sizeof *ps, "the channel table");
	pthread_mutex_init(&ps->ends_mu, NULL);
	g->pipes = ps;
	make_pipes(g);
	int n = g->cfg->nchans;
	struct wiring w = { .g = g };
	w.prod = sv_xcalloc((size_t)n + 1, sizeof *w.prod, "the channel table");
	w.cons = sv_xcalloc((size_t)n + 1, sizeof *w.cons, "the channel table");
	w.prod_err = sv_xcalloc((size_t)n + 1, 1, "the channel table");
	sv_tree_each_job(g, g->root, wire_node, &w);
	for (int i = 0; i < n && !w.failed; i++)
		if (ps->v[i]->direct && wire_direct(&w, i) < 0) {
			sv_err("chan:%s: cannot make its pipe: %s", ps->v[i]->cfg->name, strerror(errno));
			w.failed = 1;
		}
	free(w.prod);
	free(w.cons);
	free(w.prod_err);
	if (w.failed)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!ps->v[i]->direct && sv_pipe_run(g, ps->v[i]) < 0) {
			sv_err("chan:%s: cannot start: %s", ps->v[i]->cfg->name, rt_limit_message());
			return -1;
		}
	}
	return 0;
}

int sv_pipes_dup_ends(struct sv_node *n, int fds[3], char *why, size_t len)
{
	if (!n->ends)
		return 0;
	struct sv_pipes *ps = n->g->pipes;
	int rc = 0;
	sv_lock(&ps->ends_mu);
	int held[3] = { n->ends->in_fd, n->ends->out_fd, n->ends->err_fd };
	for (int i = 0; i < 3 && rc == 0; i++)
		if (held[i] >= 0 && (fds[i] = fcntl(held[i], F_DUPFD_CLOEXEC, 3)) < 0)
			rc = -errno;
	sv_unlock(&ps->ends_mu);
	if (rc < 0)
		snprintf(why, len, "cannot duplicate a channel's pipe: %s", strerror(-rc));
	return rc < 0 ? -1 : 0;
}

/* ---- ends ------------------------------------------------------------------------ */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void sv_pipes_node_done(struct sv_node *n)
{
	struct sv_ends *e = n->ends;
	if (!e)
		return;
	struct sv_pipes *ps = n->g->pipes;
	char msg[300] = "";
	uint64_t lost = 0;
	sv_lock(&ps->ends_mu);
	close_fd(&e->out_fd);
	close_fd(&e->err_fd);
	if (e->feeder && e->feeder->done && e->in_fd >= 0) {
		/* what is left in the pipe is lost (unless the job was stopped
		 * because grun's stdout reader went away: as in a shell
		 * pipeline, the rest is simply not read); closing the read end
		 * and `done` ends the feeder (EPIPE if it is blocked writing) */
		if (!sv_stdout_writer_orphaned(n))
			lost = sv_loss_stranded_locked(n, msg, sizeof msg);
		rt_chan_close(e->feeder->done);
	}
	close_fd(&e->in_fd);
	sv_unlock(&ps->ends_mu);
	/* logged after the lock: a log line may park on a slow stderr */
	if (*msg)
		sv_err("%s", msg);
	sv_loss_add(n->g, lost);
}

void sv_pipes_close_ends(struct sv_graph *g)
{
	/* a snapshot, then outside tree_mu: node_done logs, which may park */
	size_t n;
	struct sv_node **v = sv_tree_jobs(g, g->root, &n);
	for (size_t i = 0; i < n; i++)
		sv_pipes_node_done(v[i]);
	free(v);
}

void sv_pipes_force(struct sv_graph *g)
{
	struct sv_pipes *ps = g->pipes;
	size_t n;
	struct sv_node **v = sv_tree_jobs(g, g->root, &n);
	sv_lock(&ps->ends_mu);
	for (size_t i = 0; i < n; i++)
		if (v[i]->ends)
			close_fd(&v[i]->ends->in_fd);
	sv_unlock(&ps->ends_mu);
	free(v);
	for (int i = 0; i < ps->n; i++) {
		struct sv_pipe *p = ps->v[i];
		if (p->q && !p->direct)
			rt_chan_close(p->q);
		for (int k = 0; k < p->nfeeders; k++) {
			if (p->feeders[k]->done)
				rt_chan_close(p->feeders[k]->done);
		}
	}
}

int sv_pipes_stdout_wait(struct sv_graph *g, int64_t deadline)
{
	return rt_wg_wait_until(&g->pipes->stdout_done, deadline);
}

void sv_pipes_node_free(struct sv_node *n)
{
	struct sv_ends *e = n->ends;
	if (!e)
		return;
	close_fd(&e->in_fd);
	close_fd(&e->out_fd);
	close_fd(&e->err_fd);
	free(e);
	n->ends = NULL;
}

static void feeder_free(struct sv_pipe *p, struct sv_feeder *f)
{
	if (f->q && f->q != p->q) {
		sv_close_and_drain(f->q);
		rt_chan_free(f->q);
	}
	if (f->done)
		rt_chan_free(f->done);
	pthread_mutex_destroy(&f->mu);
	free(f->ring);
	free(f);
}

void sv_pipes_free(struct sv_graph *g)
{
	struct sv_pipes *ps = g->pipes;
	if (!ps)
		return;
	for (int i = 0; i < ps->n; i++) {
		struct sv_pipe *p = ps->v[i];
		for (int k = 0; k < p->nsources; k++)
			free(p->sources[k]);
		for (int k = 0; k < p->nfeeders; k++)
			feeder_free(p, p->feeders[k]);
		if (p->q) {
			sv_close_and_drain(p->q);
			rt_chan_free(p->q);
		}
		free(p->sources);
		free(p->feeders);
		free(p);
	}
	free(ps->v);
	pthread_mutex_destroy(&ps->ends_mu);
	free(ps);
	g->pipes = NULL;
}
