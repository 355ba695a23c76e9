/*
 * pipe.c - the data plane of the pipelines (pipeline.h): records, the
 * source green thread of each producer pipe, the feeder of each consumer
 * pipe, the broadcast distributor and the splicer of 1:1 chunk channels.
 *
 * Records are malloc'd buffers passed by pointer through an rt_chan of
 * the channel's capacity: a full channel parks the sources, which stop
 * reading their pipes, which blocks the producers (back-pressure).  A
 * line record is a batch of whole lines cut at the last newline of what
 * one read(2) returned, so lines are never split or mixed and there is
 * no per-byte system call.  In broadcast mode a distributor hands every
 * record (reference-counted) to each consumer's own channel.
 *
 * Every green thread started here counts in g->helpers until it ends.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "supervise/lock.h"
#include "supervise/pipe_internal.h"
#include "supervise/xalloc.h"

uint64_t sv_count_lines(const char *p, size_t n)
{
	uint64_t k = 0;
	const char *end = p + n;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		k++;
		p++;
	}
	return k;
}

struct sv_rec *sv_rec_new(const char *data, size_t n, int add_newline)
{
	struct sv_rec *r = sv_xmalloc(sizeof *r + n + 1, "a pipeline record");
	memcpy(r->data, data, n);
	if (add_newline)
		r->data[n++] = '\n';
	r->len = n;
	r->lines = sv_count_lines(r->data, n);
	r->refs = 1;
	return r;
}

void sv_rec_unref(struct sv_rec *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(r);
}

/* Closes q and frees the records still in it (nobody will read them). */
void sv_close_and_drain(struct rt_chan *q)
{
	struct sv_rec *r;
	rt_chan_close(q);
	while (rt_chan_recv(q, &r) == 1)
		sv_rec_unref(r);
}

/* ---- reading and writing either kind of descriptor ------------------------ */

static ssize_t read_some(int fd, int own, char *buf, size_t n)
{
	if (own)
		return rt_read(fd, buf, n, RT_NEVER);
	ssize_t r;
	rt_blocking_begin();
	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	rt_blocking_end();
	return r;
}

/* Writes all of p to fd: a pipe of grun's (non-blocking) or one of its
 * own blocking stdio descriptors.  0, or -1. */
static int fd_write_all(int fd, int own, const char *p, size_t n)
{
	if (own)
		return rt_write(fd, p, n, RT_NEVER) < 0 ? -1 : 0;
	while (n > 0) {
		rt_blocking_begin();
		ssize_t w = write(fd, p, n);
		rt_blocking_end();
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static int go_helper(struct sv_graph *g, const char *name, void (*fn)(void *), void *arg)
{
	rt_wg_add(&g->helpers, 1);
	if (rt_go_named(name, fn, arg) < 0) {
		rt_wg_done(&g->helpers);
		return -1;
	}
	return 0;
}

/* ---- producers ------------------------------------------------------------------ */

/* Sends a record; -1 when the channel is closed because every consumer
 * has ended for good. */
static int send_rec(struct sv_pipe *p, struct sv_rec *r)
{
	__atomic_fetch_add(&p->bytes, r->len, __ATOMIC_RELAXED);
	__atomic_fetch_add(&p->lines, r->lines, __ATOMIC_RELAXED);
	if (rt_chan_send(p->q, &r) < 0) {
		sv_rec_unref(r);
		return -1;
	}
	return 0;
}

static void producer_finished(struct sv_pipe *p)
{
	if (__atomic_sub_fetch(&p->producers_left, 1, __ATOMIC_ACQ_REL) == 0)
		rt_chan_close(p->q);
}

/* Sends the whole lines of buf[0..*have) (all of it for chunks) and keeps
 * the rest at the start of buf.  -1 when nobody reads any more. */
static int send_whole(struct sv_pipe *p, char *buf, size_t *have, int lines)
{
	char *nl = lines ? memrchr(buf, '\n', *have) : buf + *have - 1;
	if (!nl)
		return 0;
	size_t whole = (size_t)(nl - buf) + 1;
	int rc = send_rec(p, sv_rec_new(buf, whole, 0));
	memmove(buf, buf + whole, *have - whole);
	*have -= whole;
	return rc;
}

static void source_main(void *arg)
{
	struct sv_source *s = arg;
	struct sv_pipe *p = s->p;
	int lines = p->cfg->framing == SV_FRAME_LINE;
	size_t cap = READ_SIZE, have = 0;
	char *buf = sv_xmalloc(cap, "a pipeline source buffer");
	for (;;) {
		if (have == cap && cap < LINE_MAX_BUF) {
			cap *= 2;
			buf = sv_xreallocarray(buf, cap, 1, "a long line of a pipeline");
		} else if (have == cap) {
			/* a line too long: cut */
			int rc = send_rec(p, sv_rec_new(buf, have, 0));
			have = 0;
			if (rc < 0)
				break;
		}
		ssize_t n = read_some(s->fd, s->own_fd, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (send_whole(p, buf, &have, lines) < 0)
			break;
	}
	/* at EOF, or with every consumer gone: closing the read end gives
	 * the producer EPIPE / SIGPIPE on its next write, as a shell would */
	if (have)
		send_rec(p, sv_rec_new(buf, have, lines));
	free(buf);
	if (s->own_fd)
		rt_close(s->fd);
	producer_finished(p);
	rt_wg_done(&p->g->helpers);
}

/* ---- consumers ------------------------------------------------------------------ */

/* Copies what was just written into the feeder's ring. */
static void ring_append(struct sv_feeder *f, const char *p, size_t w)
{
	for (size_t k = 0; k < w;) {
		size_t at = (size_t)((f->written + k) % RING);
		size_t piece = RING - at < w - k ? RING - at : w - k;
		memcpy(f->ring + at, p + k, piece);
		k += piece;
	}
}

/* Writes a record to a job's pipe, counting every byte as it goes in (so
 * that written - FIONREAD is exactly what the consumer has read).  0 or
 * -1 (EPIPE: nobody reads the pipe any more; *unwritten is the rest). */
static int feed_pipe(struct sv_feeder *f, const struct sv_rec *r, size_t *unwritten)
{
	const char *p = r->data;
	size_t n = r->len;
	*unwritten = 0;
	while (n > 0) {
		sv_lock(&f->mu);
		ssize_t w = write(f->fd, p, n);
		int err = errno;
		if (w > 0 && f->ring)
			ring_append(f, p, (size_t)w);
		if (w > 0)
			__atomic_fetch_add(&f->written, (uint64_t)w, __ATOMIC_RELAXED);
		sv_unlock(&f->mu);
		if (w > 0) {
			p += w, n -= (size_t)w;
		} else if (w < 0 && err == EAGAIN) {
			rt_fd_wait(f->fd, RT_WRITE, RT_NEVER);
		} else if (!(w < 0 && err == EINTR)) {
			*unwritten = n;
			return -1;
		}
	}
	__atomic_fetch_add(&f->lines, r->lines, __ATOMIC_RELAXED);
	return 0;
}

/* The rest of a record that a consumer gone for good never got (not a
 * loss when it was stopped because grun's stdout reader went away). */
static void count_unwritten(struct sv_feeder *f, const struct sv_rec *r, size_t unwritten)
{
	if (f->node && sv_stdout_writer_orphaned(f->node))
		return;
	uint64_t est = sv_count_lines(r->data + (r->len - unwritten), unwritten);
	if (r->data[r->len - 1] != '\n')
		est++;
	if (est)
		sv_err("%s: %llu more lines of chan:%s could not be written to it: lost",
		       f->node ? f->node->name : "stdout", (unsigned long long)est, f->p->cfg->name);
	sv_loss_add(f->p->g, est);
}

static void feeder_main(void *arg)
{
	struct sv_feeder *f = arg;
	struct sv_pipe *p = f->p;
	struct sv_rec *r;
	int consumer_gone = 0;
	for (;;) {
		struct rt_case c[2] = { { f->q, RT_RECV, &r, 0 }, { f->done, RT_RECV, NULL, 0 } };
		if (rt_select(c, 2, RT_NEVER) == 1) {
			consumer_gone = 1;
			break;
		}
		if (!c[0].ok)
			break; /* the channel is closed and drained: EOF */
		size_t unwritten = 0;
		int rc = f->own_fd ? feed_pipe(f, r, &unwritten) : fd_write_all(f->fd, 0, r->data, r->len);
		if (!f->node && rc < 0)
			sv_graph_stdout_gone(p->g); /* as yes in `yes | head -1`: no loss to report */
		else if (unwritten && r->len)
			count_unwritten(f, r, unwritten);
		if (rc == 0 && !f->own_fd) {
			__atomic_fetch_add(&f->written, r->len, __ATOMIC_RELAXED);
			__atomic_fetch_add(&f->lines, r->lines, __ATOMIC_RELAXED);
		}
		sv_rec_unref(r);
		if (rc < 0) {
			consumer_gone = 1;
			break; /* nobody reads the pipe any more */
		}
	}
	if (f->own_fd)
		rt_close(f->fd); /* EOF for the consumer once it has read the rest */
	/* the last consumer of a shared channel gone: close it, so that its
	 * producers see EPIPE (as in a shell pipeline) instead of blocking */
	if (consumer_gone && p->cfg->mode == SV_SHARE &&
	    __atomic_sub_fetch(&p->live_feeders, 1, __ATOMIC_ACQ_REL) == 0)
		sv_close_and_drain(p->q);
	if (!f->node)
		rt_wg_done(&p->g->pipes->stdout_done);
	rt_wg_done(&p->g->helpers);
}

/* Broadcast: every record to each consumer still there. */
static void distributor_main(void *arg)
{
	struct sv_pipe *p = arg;
	int live = p->nfeeders;
	char *gone = sv_xcalloc((size_t)p->nfeeders + 1, 1, "a broadcast distributor");
	struct sv_rec *r;
	while (rt_chan_recv(p->q, &r) == 1) {
		__atomic_store_n(&r->refs, live + 1, __ATOMIC_RELAXED);
		for (int i = 0; i < p->nfeeders; i++) {
			struct sv_feeder *f = p->feeders[i];
			if (gone[i])
				continue;
			struct rt_case c[2] = { { f->q, RT_SEND, &r, 0 }, { f->done, RT_RECV, NULL, 0 } };
			if (rt_select(c, 2, RT_NEVER) == 1 || !c[0].ok) {
				gone[i] = 1;
				live--;
				sv_rec_unref(r);
			}
		}
		sv_rec_unref(r);
	}
	for (int i = 0; i < p->nfeeders; i++)
		rt_chan_close(p->feeders[i]->q);
	free(gone);
	rt_wg_done(&p->g->helpers);
}

/* ---- 1:1 chunk channels between two of grun's descriptors: splice ------------ */

struct splicer {
	struct sv_pipe *p;
	struct sv_source *s;
	struct sv_feeder *f;
};

/* 0 at EOF or EPIPE, -1 if an end cannot splice (a terminal). */
static int splice_loop(struct splicer *sp)
{
	struct sv_source *s = sp->s;
	struct sv_feeder *f = sp->f;
	for (;;) {
		ssize_t n = splice(s->fd, NULL, f->fd, NULL, SPLICE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			__atomic_fetch_add(&sp->p->bytes, (uint64_t)n, __ATOMIC_RELAXED);
			__atomic_fetch_add(&f->written, (uint64_t)n, __ATOMIC_RELAXED);
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EINVAL)
			return -1;
		if (errno != EAGAIN)
			return 0;
		int avail = 0;
		if (ioctl(s->fd, FIONREAD, &avail) == 0 && avail > 0)
			rt_fd_wait(f->fd, RT_WRITE, RT_NEVER);
		else
			rt_fd_wait(s->fd, RT_READ, RT_NEVER);
	}
}

static void copy_loop(struct splicer *sp)
{
	char *buf = sv_xmalloc(READ_SIZE, "a pipeline copy buffer");
	ssize_t n;
	while ((n = read_some(sp->s->fd, sp->s->own_fd, buf, READ_SIZE)) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0 && fd_write_all(sp->f->fd, sp->f->own_fd, buf, (size_t)n) < 0)
			break;
		if (n > 0)
			__atomic_fetch_add(&sp->f->written, (uint64_t)n, __ATOMIC_RELAXED);
	}
	free(buf);
}

static void splicer_main(void *arg)
{
	struct splicer *sp = arg;
	if (splice_loop(sp) < 0)
		copy_loop(sp);
	if (sp->s->own_fd)
		rt_close(sp->s->fd);
	if (sp->f->own_fd)
		rt_close(sp->f->fd);
	rt_wg_done(&sp->p->g->helpers);
	free(sp);
}

/* ---- starting one channel ------------------------------------------------------ */

int sv_pipe_run(struct sv_graph *g, struct sv_pipe *p)
{
	const struct sv_chan *c = p->cfg;
	p->producers_left = p->nsources;
	if (p->nsources == 0) {
		/* nothing writes it in this run (not selected): EOF at once */
		p->q = rt_chan_make(sizeof(struct sv_rec *), 1);
		if (!p->q)
			return -1;
		rt_chan_close(p->q);
	}
	if (c->framing == SV_FRAME_CHUNK && p->nsources == 1 && p->nfeeders == 1) {
		struct splicer *sp = sv_xmalloc(sizeof *sp, "a splicer");
		*sp = (struct splicer){ p, p->sources[0], p->feeders[0] };
		return go_helper(g, "splice", splicer_main, sp);
	}
	if (!p->q)
		p->q = rt_chan_make(sizeof(struct sv_rec *), (size_t)c->capacity);
	if (!p->q)
		return -1;
	p->live_feeders = p->nfeeders;
	for (int i = 0; i < p->nfeeders; i++) {
		struct sv_feeder *f = p->feeders[i];
		if (!f->node)
			rt_wg_add(&g->pipes->stdout_done, 1);
		f->q = c->mode == SV_BROADCAST ? rt_chan_make(sizeof(struct sv_rec *), (size_t)c->capacity) : p->q;
		if (!f->q || go_helper(g, "feeder", feeder_main, f) < 0)
			return -1;
	}
	if (c->mode == SV_BROADCAST && go_helper(g, "broadcast", distributor_main, p) < 0)
		return -1;
	for (int i = 0; i < p->nsources; i++) {
		if (go_helper(g, "source", source_main, p->sources[i]) < 0)
			return -1;
	}
	return 0;
}
