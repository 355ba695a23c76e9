/*
 * pipeline.c - see pipeline.h.
 *
 * Records are malloc'd buffers passed by pointer through an rt_chan of
 * the channel's capacity: a full channel parks the pumps, which stop
 * reading their pipes, which blocks the producers (back-pressure).  A
 * line record is a batch of whole lines cut at the last newline of what
 * one read(2) returned, so lines are never split or mixed and there is
 * no per-byte system call.  In broadcast mode a distributor green thread
 * hands every record (reference-counted) to each consumer's own channel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/pipeline.h"

#define READ_SIZE (64u << 10)
#define LINE_MAX_BUF (16u << 20)   /* a longer line is cut */
#define SPLICE_SIZE (1u << 20)
#define PIPE_SIZE (1 << 20)
#define LOST_GUESS (64u << 10)     /* a consumer's read buffer: what it may not have processed */

struct sv_rec {
	size_t len;
	uint64_t lines;
	int refs;          /* atomic (broadcast) */
	char data[];
};

/* One channel.  Set up before any of its green threads starts; q,
 * feeders and sources never change after. */
struct sv_pipe {
	const struct sv_chan *cfg;
	struct sv_graph *g;
	struct rt_chan *q;             /* of struct sv_rec * */
	int producers_left;            /* atomic */
	struct sv_feeder **feeders;
	int nfeeders;
	struct sv_source **sources;
	int nsources;
	uint64_t bytes, lines;         /* atomic: into the channel */
	int live_feeders;              /* atomic: feeders whose consumer has not ended for good */
	int direct;                    /* 1:1 chunk: one pipe from producer to consumer */
};

/* A producer endpoint: reads fd and sends records. */
struct sv_source {
	struct sv_pipe *p;
	int fd;
	int own_fd;        /* 0 for grun's stdin: read in a blocking region, not closed */
};

/* A consumer endpoint: receives records and writes fd. */
struct sv_feeder {
	struct sv_pipe *p;
	struct sv_node *node;      /* NULL for grun's stdout */
	struct rt_chan *q;         /* p->q, or its own in broadcast mode */
	struct rt_chan *done;      /* closed when the consumer ended for good */
	int fd;
	int own_fd;                /* 0 for grun's stdout */
	uint64_t written, lines;   /* atomic: into the pipe */
	uint64_t accounted;        /* bytes already attributed to earlier runs (job only) */
	/* line channels: the last RING bytes written, so that after a crash
	 * grun can tell whether the consumer stopped in the middle of a line.
	 * mu orders each write with its count, against sv_pipes_consumer_exited(). */
	pthread_mutex_t mu;
	char *ring;
};

#define RING (PIPE_SIZE + READ_SIZE)

static void helper_begin(struct sv_graph *g)
{
	__atomic_fetch_add(&g->helpers, 1, __ATOMIC_RELAXED);
}

static void helper_end(struct sv_graph *g)
{
	__atomic_fetch_sub(&g->helpers, 1, __ATOMIC_RELEASE);
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t k = 0;
	const char *end = p + n;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		k++;
		p++;
	}
	return k;
}

static struct sv_rec *rec_new(const char *data, size_t n, int add_newline)
{
	struct sv_rec *r = malloc(sizeof *r + n + 1);
	if (!r)
		abort();
	memcpy(r->data, data, n);
	if (add_newline)
		r->data[n++] = '\n';
	r->len = n;
	r->lines = count_lines(r->data, n);
	r->refs = 1;
	return r;
}

static void rec_unref(struct sv_rec *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(r);
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

static int write_all(int fd, int own, const char *p, size_t n)
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

/* ---- producers ------------------------------------------------------------------ */

/* Sends a record; -1 when the channel is closed because every consumer
 * has ended for good. */
static int send_rec(struct sv_pipe *p, struct sv_rec *r)
{
	__atomic_fetch_add(&p->bytes, r->len, __ATOMIC_RELAXED);
	__atomic_fetch_add(&p->lines, r->lines, __ATOMIC_RELAXED);
	if (rt_chan_send(p->q, &r) < 0) {
		rec_unref(r);
		return -1;
	}
	return 0;
}

/* Closes q and frees the records still in it (nobody will read them). */
static void close_and_drain(struct rt_chan *q)
{
	struct sv_rec *r;
	rt_chan_close(q);
	while (rt_chan_recv(q, &r) == 1)
		rec_unref(r);
}

static void producer_finished(struct sv_pipe *p)
{
	if (__atomic_sub_fetch(&p->producers_left, 1, __ATOMIC_ACQ_REL) == 0)
		rt_chan_close(p->q);
}

static void source_main(void *arg)
{
	struct sv_source *s = arg;
	struct sv_pipe *p = s->p;
	int lines = p->cfg->framing == SV_FRAME_LINE;
	size_t cap = READ_SIZE, have = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (have == cap) {
			if (cap < LINE_MAX_BUF) {
				cap *= 2;
				buf = realloc(buf, cap);
			} else if (send_rec(p, rec_new(buf, have, 0)) < 0) { /* a line too long: cut */
				have = 0;
				break;
			} else {
				have = 0;
			}
		}
		ssize_t n = read_some(s->fd, s->own_fd, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (!lines) {
			if (send_rec(p, rec_new(buf, have, 0)) < 0)
				break;
			have = 0;
			continue;
		}
		char *nl = memrchr(buf, '\n', have);
		if (!nl)
			continue;
		size_t whole = (size_t)(nl - buf) + 1;
		if (send_rec(p, rec_new(buf, whole, 0)) < 0)
			break;
		memmove(buf, buf + whole, have - whole);
		have -= whole;
	}
	/* at EOF, or with every consumer gone: closing the read end gives
	 * the producer EPIPE / SIGPIPE on its next write, as a shell would */
	if (have)
		send_rec(p, rec_new(buf, have, lines));
	free(buf);
	if (s->own_fd)
		rt_close(s->fd);
	producer_finished(p);
	helper_end(p->g);
}

/* ---- consumers ------------------------------------------------------------------ */

/* Writes a record to a job's pipe, counting every byte as it goes in (so
 * that written - FIONREAD is exactly what the consumer has read).  0 or
 * -1 (EPIPE: nobody reads the pipe any more). */
static int feed_pipe(struct sv_feeder *f, const struct sv_rec *r, size_t *unwritten)
{
	const char *p = r->data;
	size_t n = r->len;
	*unwritten = 0;
	while (n > 0) {
		pthread_mutex_lock(&f->mu);
		ssize_t w = write(f->fd, p, n);
		int err = errno;
		if (w > 0 && f->ring) {
			for (size_t k = 0; k < (size_t)w;) {
				size_t at = (size_t)((f->written + k) % RING);
				size_t piece = RING - at < (size_t)w - k ? RING - at : (size_t)w - k;
				memcpy(f->ring + at, p + k, piece);
				k += piece;
			}
		}
		if (w > 0)
			__atomic_fetch_add(&f->written, (uint64_t)w, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&f->mu);
		errno = err;
		if (w > 0) {
			p += w, n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			rt_fd_wait(f->fd, RT_WRITE, RT_NEVER);
		} else if (!(w < 0 && errno == EINTR)) {
			*unwritten = n;
			return -1;
		}
	}
	__atomic_fetch_add(&f->lines, r->lines, __ATOMIC_RELAXED);
	return 0;
}

/* The consumer has ended for good: what is still in its pipe will never
 * be read.  Counted and reported as lost.  With g->mu held. */
static void report_stranded_locked(struct sv_feeder *f)
{
	struct sv_graph *g = f->p->g;
	int left = 0;
	if (f->node->chan_in_fd >= 0)
		ioctl(f->node->chan_in_fd, FIONREAD, &left);
	if (left <= 0)
		return;
	uint64_t written = __atomic_load_n(&f->written, __ATOMIC_RELAXED);
	uint64_t lines = __atomic_load_n(&f->lines, __ATOMIC_RELAXED);
	uint64_t est = written ? ((uint64_t)left * lines + written - 1) / written : 0;
	if (f->ring && (uint64_t)left <= RING && (uint64_t)left <= written) {
		/* exactly: the unread bytes are the last ones written */
		est = 0;
		for (uint64_t o = written - (uint64_t)left; o < written; o++)
			est += f->ring[o % RING] == '\n';
	}
	sv_err("%s: ended for good with %d bytes (about %llu lines) of chan:%s unread in its pipe: lost",
	       f->node->name, left, (unsigned long long)est, f->p->cfg->name);
	__atomic_fetch_add(&g->lost_lines, est, __ATOMIC_RELAXED);
}

static void feeder_main(void *arg)
{
	struct sv_feeder *f = arg;
	struct sv_pipe *p = f->p;
	struct sv_rec *r;
	int consumer_gone = 0;
	for (;;) {
		struct rt_case c[2] = { { f->q, RT_RECV, &r, 0 }, { f->done, RT_RECV, NULL, 0 } };
		int i = rt_select(c, 2, RT_NEVER);
		if (i == 1) {
			consumer_gone = 1;
			break;
		}
		if (!c[0].ok)
			break; /* the channel is closed and drained: EOF */
		size_t unwritten = 0;
		int rc = f->own_fd ? feed_pipe(f, r, &unwritten) : write_all(f->fd, 0, r->data, r->len);
		if (unwritten && r->len) {
			/* the rest of a record its consumer, gone for good, never got */
			uint64_t est = count_lines(r->data + (r->len - unwritten), unwritten);
			if (unwritten && r->data[r->len - 1] != '\n')
				est++;
			if (est)
				sv_err("%s: %llu more lines of chan:%s could not be written to it: lost",
				       f->node ? f->node->name : "stdout", (unsigned long long)est, p->cfg->name);
			__atomic_fetch_add(&p->g->lost_lines, est, __ATOMIC_RELAXED);
		}
		if (rc == 0 && !f->own_fd) {
			__atomic_fetch_add(&f->written, r->len, __ATOMIC_RELAXED);
			__atomic_fetch_add(&f->lines, r->lines, __ATOMIC_RELAXED);
		}
		rec_unref(r);
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
		close_and_drain(p->q);
	if (!f->node)
		rt_wg_done(&p->g->stdout_done);
	helper_end(p->g);
}

/* Broadcast: every record to each consumer still there. */
static void distributor_main(void *arg)
{
	struct sv_pipe *p = arg;
	int live = p->nfeeders;
	char *gone = calloc((size_t)p->nfeeders + 1, 1);
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
				rec_unref(r);
			}
		}
		rec_unref(r);
	}
	for (int i = 0; i < p->nfeeders; i++)
		rt_chan_close(p->feeders[i]->q);
	free(gone);
	helper_end(p->g);
}

/* ---- 1:1 chunk channels: splice ---------------------------------------------- */

struct splicer {
	struct sv_pipe *p;
	struct sv_source *s;
	struct sv_feeder *f;
};

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
			return -1; /* an end that cannot splice (a terminal): copy instead */
		if (errno != EAGAIN)
			return 0;  /* EPIPE: the consumer is gone for good */
		int avail = 0;
		if (ioctl(s->fd, FIONREAD, &avail) == 0 && avail > 0)
			rt_fd_wait(f->fd, RT_WRITE, RT_NEVER);
		else
			rt_fd_wait(s->fd, RT_READ, RT_NEVER);
	}
}

static void splicer_main(void *arg)
{
	struct splicer *sp = arg;
	if (splice_loop(sp) < 0) {
		char *buf = malloc(READ_SIZE);
		ssize_t n;
		while ((n = read_some(sp->s->fd, sp->s->own_fd, buf, READ_SIZE)) > 0 || (n < 0 && errno == EINTR)) {
			if (n > 0 && write_all(sp->f->fd, sp->f->own_fd, buf, (size_t)n) < 0)
				break;
			if (n > 0)
				__atomic_fetch_add(&sp->f->written, (uint64_t)n, __ATOMIC_RELAXED);
		}
		free(buf);
	}
	if (sp->s->own_fd)
		rt_close(sp->s->fd);
	if (sp->f->own_fd)
		rt_close(sp->f->fd);
	helper_end(sp->p->g);
	free(sp);
}

/* ---- setting up ------------------------------------------------------------------ */

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

int sv_pipes_open(struct sv_node *n, const struct sv_config *cfg)
{
	const struct sv_job *j = n->job;
	int fds[2];
	n->chan_in_fd = n->chan_out_fd = n->chan_err_fd = -1;
	if (j->in.kind == SV_IO_CHAN && !is_direct(&cfg->chans[j->in.chan])) {
		if (chan_pipe(fds) < 0)
			return -1;
		n->chan_in_fd = fds[0];
		n->feeder = calloc(1, sizeof *n->feeder);
		pthread_mutex_init(&n->feeder->mu, NULL);
		if (cfg->chans[j->in.chan].framing == SV_FRAME_LINE)
			n->feeder->ring = malloc(RING);
		n->feeder->fd = fds[1];
		n->feeder->own_fd = 1;
		n->feeder->node = n;
		rt_fd_nonblock(fds[1]);
	}
	const struct sv_iospec *outs[2] = { &j->out, &j->err };
	for (int k = 0; k < 2; k++) {
		if (outs[k]->kind != SV_IO_CHAN || is_direct(&cfg->chans[outs[k]->chan]))
			continue;
		if (chan_pipe(fds) < 0)
			return -1;
		struct sv_source *s = calloc(1, sizeof *s);
		s->fd = fds[0];
		s->own_fd = 1;
		rt_fd_nonblock(fds[0]);
		if (k == 0)
			n->chan_out_fd = fds[1], n->src_out = s;
		else
			n->chan_err_fd = fds[1], n->src_err = s;
	}
	return 0;
}

static void pipe_add_source(struct sv_pipe *p, struct sv_source *s)
{
	s->p = p;
	p->sources = realloc(p->sources, (size_t)(p->nsources + 1) * sizeof *p->sources);
	p->sources[p->nsources++] = s;
}

static void pipe_add_feeder(struct sv_pipe *p, struct sv_feeder *f)
{
	f->p = p;
	f->done = rt_chan_make(0, 0);
	p->feeders = realloc(p->feeders, (size_t)(p->nfeeders + 1) * sizeof *p->feeders);
	p->feeders[p->nfeeders++] = f;
}

/* Attaches the endpoints of every job node under n to their channels. */
static void attach(struct sv_graph *g, struct sv_node *n)
{
	if (n->is_sup) {
		for (int i = 0; i < n->nchildren; i++)
			attach(g, n->children[i]);
		return;
	}
	const struct sv_job *j = n->job;
	if (n->feeder)
		pipe_add_feeder(g->pipes[j->in.chan], n->feeder);
	if (n->src_out)
		pipe_add_source(g->pipes[j->out.chan], n->src_out);
	if (n->src_err)
		pipe_add_source(g->pipes[j->err.chan], n->src_err);
}

static int go_helper(struct sv_graph *g, const char *name, void (*fn)(void *), void *arg)
{
	helper_begin(g);
	if (rt_go_named(name, fn, arg) < 0) {
		helper_end(g);
		return -1;
	}
	return 0;
}

/* The job node under n (selected) writing (out) or reading (!out) chan c. */
static struct sv_node *endpoint(struct sv_node *n, int c, int out, int *is_err)
{
	if (n->is_sup) {
		for (int i = 0; i < n->nchildren; i++) {
			struct sv_node *f = endpoint(n->children[i], c, out, is_err);
			if (f)
				return f;
		}
		return NULL;
	}
	const struct sv_job *j = n->job;
	if (!out)
		return j->in.kind == SV_IO_CHAN && j->in.chan == c ? n : NULL;
	*is_err = !(j->out.kind == SV_IO_CHAN && j->out.chan == c);
	return *is_err && !(j->err.kind == SV_IO_CHAN && j->err.chan == c) ? NULL : n;
}

static int wire_direct(struct sv_graph *g, struct sv_node *root, int c)
{
	const struct sv_chan *ch = &g->cfg->chans[c];
	int is_err = 0, fds[2] = { -1, -1 };
	struct sv_node *prod = endpoint(root, c, 1, &is_err);
	struct sv_node *cons = endpoint(root, c, 0, &(int){ 0 });
	if (strcmp(ch->name, "stdin") == 0)
		fds[0] = fcntl(0, F_DUPFD_CLOEXEC, 3);
	else if (strcmp(ch->name, "stdout") == 0)
		fds[1] = fcntl(1, F_DUPFD_CLOEXEC, 3);
	else if (chan_pipe(fds) < 0)
		return -1;
	if (cons)
		cons->chan_in_fd = fds[0];
	else if (fds[0] > 2)
		close(fds[0]);
	if (prod && is_err)
		prod->chan_err_fd = fds[1];
	else if (prod)
		prod->chan_out_fd = fds[1];
	else if (fds[1] > 2)
		close(fds[1]);
	return 0;
}

static int start_pipe(struct sv_graph *g, struct sv_pipe *p)
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
		struct splicer *sp = malloc(sizeof *sp);
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
			rt_wg_add(&g->stdout_done, 1);
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

int sv_pipes_start(struct sv_graph *g, struct sv_node *root)
{
	const struct sv_config *cfg = g->cfg;
	g->npipes = cfg->nchans;
	g->pipes = calloc((size_t)cfg->nchans + 1, sizeof *g->pipes);
	for (int i = 0; i < cfg->nchans; i++) {
		struct sv_pipe *p = calloc(1, sizeof *p);
		p->cfg = &cfg->chans[i];
		p->g = g;
		g->pipes[i] = p;
		if (is_direct(p->cfg)) {
			p->direct = 1;
			if (wire_direct(g, root, i) < 0)
				return -1;
			continue;
		}
		if (strcmp(p->cfg->name, "stdin") == 0) {
			struct sv_source *s = calloc(1, sizeof *s);
			s->fd = 0;
			pipe_add_source(p, s);
		}
		if (strcmp(p->cfg->name, "stdout") == 0) {
			struct sv_feeder *f = calloc(1, sizeof *f);
			f->fd = 1;
			pthread_mutex_init(&f->mu, NULL);
			pipe_add_feeder(p, f);
		}
	}
	attach(g, root);
	for (int i = 0; i < g->npipes; i++) {
		if (!g->pipes[i]->direct && start_pipe(g, g->pipes[i]) < 0)
			return -1;
	}
	return 0;
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
	if (n->is_sup)
		return;
	pthread_mutex_lock(&n->g->mu);
	close_fd(&n->chan_out_fd);
	close_fd(&n->chan_err_fd);
	if (n->feeder && n->feeder->done && n->chan_in_fd >= 0) {
		/* what is left in the pipe is lost; closing the read end and
		 * `done` ends the feeder (EPIPE if it is blocked writing) */
		report_stranded_locked(n->feeder);
		rt_chan_close(n->feeder->done);
	}
	close_fd(&n->chan_in_fd);
	pthread_mutex_unlock(&n->g->mu);
}

/* After a crash, the consumer's pipe may start in the middle of a line
 * (the dead process read its first part): read that rest away, up to its
 * newline, so that the replacement starts on a whole line.  The pipe is
 * read from its head while the feeder may append at its tail.  Returns
 * the bytes dropped. */
static size_t drop_partial_line(struct sv_node *n, struct sv_feeder *f, uint64_t consumed,
                                uint64_t written)
{
	if (!f->ring || consumed == 0 || written - consumed + 1 > RING ||
	    f->ring[(consumed - 1) % RING] == '\n')
		return 0; /* at a line boundary (or too far back to know) */
	size_t dropped = 0;
	int64_t until = rt_now() + 1000000000LL;
	for (;;) {
		int avail = 0;
		ioctl(n->chan_in_fd, FIONREAD, &avail);
		if (avail <= 0) {
			if (rt_now() > until)
				return dropped;
			rt_sleep(1000000);
			continue;
		}
		char c;
		for (int k = 0; k < avail; k++) {
			if (read(n->chan_in_fd, &c, 1) != 1)
				return dropped;
			dropped++;
			if (c == '\n')
				return dropped;
		}
	}
}

void sv_pipes_consumer_exited(struct sv_node *n)
{
	struct sv_feeder *f = n->feeder;
	if (!f || n->chan_in_fd < 0)
		return;
	int in_pipe = 0;
	pthread_mutex_lock(&f->mu);
	ioctl(n->chan_in_fd, FIONREAD, &in_pipe);
	uint64_t written = __atomic_load_n(&f->written, __ATOMIC_RELAXED);
	uint64_t lines = __atomic_load_n(&f->lines, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&f->mu);
	uint64_t consumed = written > (uint64_t)in_pipe ? written - (uint64_t)in_pipe : 0;
	size_t dropped = drop_partial_line(n, f, consumed, written);
	consumed += dropped;
	if (consumed <= f->accounted)
		return;
	uint64_t read = consumed - f->accounted;
	f->accounted = consumed;
	uint64_t bytes = read < LOST_GUESS ? read : LOST_GUESS;
	if (bytes < dropped)
		bytes = dropped;
	uint64_t est = written ? (bytes * lines + written - 1) / written : 0;
	if (f->ring && bytes <= consumed && written - (consumed - bytes) <= RING) {
		/* exactly: the lines among the last bytes it read (and dropped) */
		est = 0;
		for (uint64_t o = consumed - bytes; o < consumed; o++)
			est += f->ring[o % RING] == '\n';
	}
	if (dropped && est == 0)
		est = 1;
	if (n->job && f->p->cfg->framing == SV_FRAME_CHUNK)
		sv_err("%s: ended abnormally; up to %llu bytes it had read from chan:%s may be lost",
		       n->name, (unsigned long long)bytes, f->p->cfg->name);
	else
		sv_err("%s: ended abnormally; up to %llu lines (%llu bytes) it had read from chan:%s may be lost",
		       n->name, (unsigned long long)est, (unsigned long long)bytes, f->p->cfg->name);
	__atomic_fetch_add(&n->g->lost_lines, est, __ATOMIC_RELAXED);
}

static void close_ends(struct sv_node *n)
{
	if (n->is_sup) {
		for (int i = 0; i < n->nchildren; i++)
			close_ends(n->children[i]);
		return;
	}
	sv_pipes_node_done(n);
}

void sv_pipes_close_ends(struct sv_graph *g, struct sv_node *root)
{
	close_ends(root);
}

static void close_reads(struct sv_node *n)
{
	if (n->is_sup) {
		for (int i = 0; i < n->nchildren; i++)
			close_reads(n->children[i]);
		return;
	}
	close_fd(&n->chan_in_fd);
}

void sv_pipes_force(struct sv_graph *g, struct sv_node *root)
{
	pthread_mutex_lock(&g->mu);
	close_reads(root);
	pthread_mutex_unlock(&g->mu);
	for (int i = 0; i < g->npipes; i++) {
		struct sv_pipe *p = g->pipes[i];
		if (p->q && !p->direct)
			rt_chan_close(p->q);
		for (int k = 0; k < p->nfeeders; k++) {
			if (p->feeders[k]->done)
				rt_chan_close(p->feeders[k]->done);
		}
	}
}

void sv_pipes_free(struct sv_graph *g)
{
	for (int i = 0; i < g->npipes; i++) {
		struct sv_pipe *p = g->pipes[i];
		for (int k = 0; k < p->nsources; k++)
			free(p->sources[k]);
		for (int k = 0; k < p->nfeeders; k++) {
			struct sv_feeder *f = p->feeders[k];
			if (f->q && f->q != p->q) {
				close_and_drain(f->q);
				rt_chan_free(f->q);
			}
			if (f->done)
				rt_chan_free(f->done);
			pthread_mutex_destroy(&f->mu);
			free(f->ring);
			free(f);
		}
		if (p->q) {
			close_and_drain(p->q);
			rt_chan_free(p->q);
		}
		free(p->sources);
		free(p->feeders);
		free(p);
	}
	free(g->pipes);
	g->pipes = NULL;
	g->npipes = 0;
}
