/*
 * output.c - see output.h.
 *
 * Owns struct sv_output, one per process (grun's stdout and stderr are
 * one per process): set up by sv_output_start() on the main green thread
 * before any job runs, torn down by sv_output_stop() after the last.  A
 * stream's fields are written by its writer green thread only; pumps
 * count in `pumps`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/joblog.h"
#include "supervise/output.h"
#include "supervise/xalloc.h"

struct outbuf {
	size_t len;
	char data[];
};

/* One of grun's own streams.  chan, space and done are set up before any
 * pump or log call and torn down after all of them; broken and
 * last_report are written by the writer only; the counters are atomic.
 *
 * The queue is bounded in bytes (QUEUE_BYTES), not buffers: a pump waits
 * for room (back-pressure on its job, as with any pipe), while grun's own
 * log lines never wait: when the queue is full they are dropped and
 * counted, and the writer says how many once it can write again.  So a
 * stderr nobody reads stalls job output, never supervision. */
struct stream {
	int fd;
	int color;
	struct rt_chan *chan;   /* of struct outbuf *, cap QUEUE_BUFS */
	struct rt_chan *space;  /* elem 0, cap 1: a token after each write */
	struct rt_wg done;
	size_t queued;          /* atomic: bytes in chan */
	uint64_t written;       /* atomic: bytes written so far */
	uint64_t dropped;       /* atomic: grun's own lines dropped while full */
	uint64_t lost;          /* atomic: bytes that could not be written (an error) */
	int error;              /* atomic: errno of the first failed write, EPIPE aside */
	int broken;             /* EPIPE: nobody will ever read; drop everything */
	int64_t last_report;    /* when a write error was last reported */
};

static struct sv_output {
	struct stream streams[3];  /* [1] stdout, [2] stderr */
	struct rt_wg pumps;        /* pump green threads still running */
	int stdout_data;           /* grun's stdout carries chan:stdout */
	int name_width;
	enum sv_verbosity verbosity;
	int stuck;                 /* a writer was still blocked at the end */
	void (*stdout_gone)(void *); /* called when stdout's reader goes away */
	void *stdout_gone_arg;
} out;

/* How long the end waits for pumps whose pipes leftovers still hold. */
#define PUMP_GRACE (2000 * 1000000LL)
/* At the end, a writer that wrote nothing for this long is given up. */
#define WRITER_STALL (1000 * 1000000LL)
/* Bytes queued per stream, and buffers (each at most OUTBUF_MAX + a line). */
#define QUEUE_BYTES (1u << 20)
#define QUEUE_BUFS 4096
#define OUTBUF_MAX (64u << 10)
/* A write error is reported at most this often. */
#define ERROR_REPORT_EVERY (10000 * 1000000LL)

static void report_write_error(struct stream *s, int err, size_t n);

/* Writes one buffer; on an error other than EAGAIN/EINTR drops the rest. */
static void stream_write(struct stream *s, const char *p, size_t n)
{
	while (n > 0 && !s->broken) {
		rt_blocking_begin();
		ssize_t w = write(s->fd, p, n);
		int err = w < 0 ? errno : 0;
		rt_blocking_end();
		if (w > 0) {
			p += w, n -= (size_t)w;
			__atomic_fetch_add(&s->written, (uint64_t)w, __ATOMIC_RELAXED);
		} else if (err == EAGAIN) {
			rt_fd_wait(s->fd, RT_WRITE, RT_NEVER);
		} else if (err == EPIPE) {
			s->broken = 1;
			if (s->fd == STDOUT_FILENO && out.stdout_gone)
				out.stdout_gone(out.stdout_gone_arg);
		} else if (err != EINTR) {
			report_write_error(s, err, n);
			return;
		}
	}
}

/* A full disk or an I/O error: counted for the exit status, reported on
 * the other stream (stdout's errors on stderr; stderr's only count). */
static void report_write_error(struct stream *s, int err, size_t n)
{
	int expected = 0;
	__atomic_compare_exchange_n(&s->error, &expected, err, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->lost, n, __ATOMIC_RELAXED);
	int64_t now = rt_now();
	if (s->fd != 1 || (s->last_report && now - s->last_report < ERROR_REPORT_EVERY))
		return;
	s->last_report = now;
	sv_err("cannot write to stdout: %s; %llu bytes of output lost so far", strerror(err),
	       (unsigned long long)__atomic_load_n(&s->lost, __ATOMIC_RELAXED));
}

static void note_dropped(struct stream *s)
{
	uint64_t d = __atomic_exchange_n(&s->dropped, 0, __ATOMIC_RELAXED);
	if (!d)
		return;
	char line[160];
	int n = snprintf(line, sizeof line, "grun: %llu line%s of grun's log dropped: %s was not being read\n",
	                 (unsigned long long)d, d == 1 ? "" : "s", s->fd == 1 ? "stdout" : "stderr");
	stream_write(s, line, (size_t)n);
}

static void writer_main(void *arg)
{
	struct stream *s = arg;
	struct outbuf *b;
	while (rt_chan_recv(s->chan, &b) == 1) {
		size_t len = b->len;
		stream_write(s, b->data, len);
		free(b);
		__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE);
		struct rt_case c = { s->space, RT_SEND, NULL, 0 };
		rt_select(&c, 1, 0); /* a token already waiting is enough */
		note_dropped(s);
	}
	rt_wg_done(&s->done);
}

static int color_on(int color, int fd)
{
	if (color >= 0)
		return color;
	const char *nc = getenv("NO_COLOR");
	return isatty(fd) && !(nc && *nc);
}

int sv_output_start(int color, int width, enum sv_verbosity v, int stdout_is_data,
                    void (*stdout_gone)(void *), void *arg)
{
	out.stdout_gone = stdout_gone;
	out.stdout_gone_arg = arg;
	out.stdout_data = stdout_is_data;
	out.name_width = width;
	out.verbosity = v;
	for (int i = 1; i <= 2; i++) {
		struct stream *s = &out.streams[i];
		s->fd = i;
		s->color = color_on(color, i);
		s->broken = 0;
		s->space = rt_chan_make(0, 1);
		s->chan = rt_chan_make(sizeof(struct outbuf *), QUEUE_BUFS);
		if (!s->chan || !s->space)
			return -1;
		rt_wg_add(&s->done, 1);
		if (rt_go_named(i == 1 ? "writer stdout" : "writer stderr", writer_main, s) < 0)
			return -1;
	}
	return 0;
}

/* Waits for the writer while it makes progress: 0 when it has ended, -1
 * when it wrote nothing for WRITER_STALL (a reader that never reads). */
static int writer_wait(struct stream *s)
{
	uint64_t seen = __atomic_load_n(&s->written, __ATOMIC_RELAXED);
	while (rt_wg_wait_until(&s->done, rt_now() + WRITER_STALL) < 0) {
		uint64_t now = __atomic_load_n(&s->written, __ATOMIC_RELAXED);
		if (now == seen)
			return -1;
		seen = now;
	}
	return 0;
}

void sv_output_stop(void)
{
	/* Pumps end at EOF, once every process holding their pipe is gone;
	 * give them a moment, then close the writers' channels (a pump still
	 * running after that writes directly). */
	int clean = rt_wg_wait_until(&out.pumps, rt_now() + PUMP_GRACE) == 0;
	for (int i = 1; i <= 2; i++) {
		struct stream *s = &out.streams[i];
		if (!s->chan)
			continue;
		rt_chan_close(s->chan);
		if (writer_wait(s) < 0) {
			out.stuck = 1;
			continue;
		}
		if (clean) {
			rt_chan_free(s->chan);
			rt_chan_free(s->space);
			s->chan = NULL;
		}
	}
}

int sv_output_stuck(void)
{
	return out.stuck;
}

int sv_output_failed(void)
{
	for (int i = 1; i <= 2; i++)
		if (__atomic_load_n(&out.streams[i].error, __ATOMIC_RELAXED))
			return 1;
	return 0;
}

/* Before start or after stop: written directly. */
static void put_direct(int stream, struct outbuf *b)
{
	(void)!write(stream, b->data, b->len);
	free(b);
}

/* Takes room for n bytes in s's queue: parks until there is some (a queue
 * holding nothing takes any size). */
static void take_room(struct stream *s, size_t n)
{
	for (;;) {
		size_t q = __atomic_load_n(&s->queued, __ATOMIC_ACQUIRE);
		if (q && q + n > QUEUE_BYTES) {
			rt_chan_recv(s->space, NULL);
			continue;
		}
		if (__atomic_compare_exchange_n(&s->queued, &q, q + n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return;
	}
}

/* A pump's buffer: waits for room (back-pressure on the job). */
static void stream_put_wait(int stream, struct outbuf *b)
{
	struct stream *s = &out.streams[stream];
	struct rt_chan *c = __atomic_load_n(&s->chan, __ATOMIC_ACQUIRE);
	if (!c)
		return put_direct(stream, b);
	size_t len = b->len;
	take_room(s, len);
	if (rt_chan_send(c, &b) < 0) {
		__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE);
		put_direct(stream, b);
	}
}

/* One of grun's own lines: never waits; dropped and counted when full. */
static void stream_put_nowait(int stream, struct outbuf *b)
{
	struct stream *s = &out.streams[stream];
	struct rt_chan *c = __atomic_load_n(&s->chan, __ATOMIC_ACQUIRE);
	if (!c)
		return put_direct(stream, b);
	size_t len = b->len, q = __atomic_load_n(&s->queued, __ATOMIC_ACQUIRE);
	struct rt_case send = { c, RT_SEND, &b, 0 };
	if (q + len > QUEUE_BYTES) {
		__atomic_fetch_add(&s->dropped, 1, __ATOMIC_RELAXED);
		free(b);
		return;
	}
	__atomic_fetch_add(&s->queued, len, __ATOMIC_ACQ_REL);
	int rc = rt_select(&send, 1, 0);
	if (rc == 0 && send.ok)
		return;
	__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE);
	if (rc == 0) /* closed: after stop */
		return put_direct(stream, b);
	__atomic_fetch_add(&s->dropped, 1, __ATOMIC_RELAXED);
	free(b);
}

static void logv(const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "grun: ");
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	struct outbuf *b = malloc(sizeof *b + (size_t)n);
	if (!b)
		return;
	memcpy(b->data, line, (size_t)n);
	b->len = (size_t)n;
	stream_put_nowait(2, b);
}

void sv_info(const char *fmt, ...)
{
	if (out.verbosity < SV_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	logv(fmt, ap);
	va_end(ap);
}

void sv_debug(const char *fmt, ...)
{
	if (out.verbosity < SV_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	logv(fmt, ap);
	va_end(ap);
}

void sv_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	logv(fmt, ap);
	va_end(ap);
}

/* ---- pumps ------------------------------------------------------------ */

#define PUMP_BUF (64u << 10)

/* Shared by a pump and the job waiting for it; the last to let go frees it. */
struct sv_pump_end {
	int refs;               /* atomic */
	struct rt_chan *eof;    /* closed when the pump has written everything */
};

static void end_unref(struct sv_pump_end *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		rt_chan_free(e->eof);
		free(e);
	}
}

void sv_pump_end_wait(struct sv_pump_end *e, int64_t deadline)
{
	if (!e)
		return;
	struct rt_case c = { e->eof, RT_RECV, NULL, 0 };
	rt_select(&c, 1, deadline);
	end_unref(e);
}

/* One of the job's pipes the pump reads. */
struct pump_in {
	int fd;                 /* -1 once at EOF (or never there) */
	int stream;             /* 1 or 2: where its lines go */
	int origin;             /* 1 or 2: the job's stdout or stderr */
	struct sv_joblog *log;  /* the job's recent lines (a reference of the pump's), or NULL */
	char prefix[160];
	size_t prefix_len;
	const char *suffix;     /* after the line: "" or the color reset */
	char *buf;              /* PUMP_BUF bytes, allocated when the job first writes */
	size_t have;
};

/* One green thread per job run reads both its stdout and stderr pipes
 * (when they go to the log): a parked green thread costs a page. */
struct pump {
	struct sv_pump_end *end;
	struct pump_in in[2];
};

static const int palette[] = { 36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91 };

/* Appends prefix + line + suffix + '\n' for every complete line in
 * p->buf (and, if flush, the incomplete rest), in buffers of about
 * OUTBUF_MAX bytes each (a 64 KiB read of one-byte lines becomes
 * megabytes with the prefixes, and the queue is bounded in bytes). */
static void pump_emit(struct pump_in *p, int flush)
{
	size_t start = 0, sl = strlen(p->suffix);
	struct outbuf *b = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < p->have; i++) {
		int last = i + 1 == p->have;
		if (p->buf[i] != '\n' && !(flush && last))
			continue;
		size_t end = p->buf[i] == '\n' ? i : i + 1;
		size_t need = p->prefix_len + (end - start) + sl + 1;
		if (b && b->len + need > cap) {
			stream_put_wait(p->stream, b);
			b = NULL;
		}
		if (!b) {
			cap = need > OUTBUF_MAX ? need : OUTBUF_MAX;
			b = sv_xmalloc(sizeof *b + cap, "a job's output");
			b->len = 0;
		}
		memcpy(b->data + b->len, p->prefix, p->prefix_len);
		b->len += p->prefix_len;
		memcpy(b->data + b->len, p->buf + start, end - start);
		b->len += end - start;
		memcpy(b->data + b->len, p->suffix, sl);
		b->len += sl;
		b->data[b->len++] = '\n';
		start = i + 1;
	}
	if (b)
		stream_put_wait(p->stream, b);
	sv_joblog_add(p->log, p->origin, p->buf, start);
	memmove(p->buf, p->buf + start, p->have - start);
	p->have -= start;
}

/* Reads what is there; at EOF (or an error) flushes and closes. */
static void pump_read(struct pump_in *p)
{
	/* most services write little: no buffer until there is something */
	if (!p->buf && !(p->buf = malloc(PUMP_BUF))) {
		rt_close(p->fd);
		p->fd = -1;
		return;
	}
	ssize_t n = read(p->fd, p->buf + p->have, PUMP_BUF - p->have);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		p->have += (size_t)n;
		pump_emit(p, 0);
		/* a line longer than the whole buffer is cut into buffer-sized lines */
		if (p->have == PUMP_BUF)
			pump_emit(p, 1);
		return;
	}
	pump_emit(p, 1);
	rt_close(p->fd);
	p->fd = -1;
	free(p->buf);
	p->buf = NULL;
}

static void pump_main(void *arg)
{
	struct pump *p = arg;
	for (;;) {
		struct rt_pollfd pf[2] = { { p->in[0].fd, RT_READ, 0 }, { p->in[1].fd, RT_READ, 0 } };
		if (pf[0].fd < 0 && pf[1].fd < 0)
			break;
		if (rt_fd_wait_any(pf, 2, RT_NEVER) < 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (pf[i].revents)
				pump_read(&p->in[i]);
	}
	if (p->end) {
		rt_chan_close(p->end->eof);
		end_unref(p->end);
	}
	sv_joblog_unref(p->in[0].log);
	free(p);
	rt_wg_done(&out.pumps);
}

static void pump_in_init(struct pump_in *in, int fd, int stream, const char *name, int color_index,
                         struct sv_joblog *log)
{
	in->fd = fd;
	in->origin = stream;
	in->log = log;
	in->stream = stream == 1 && out.stdout_data ? 2 : stream;
	in->have = 0;
	in->buf = NULL;
	if (out.streams[in->stream].color) {
		int c = palette[color_index % (int)(sizeof palette / sizeof palette[0])];
		snprintf(in->prefix, sizeof in->prefix, "\033[%dm%-*s |\033[0m ", c, out.name_width, name);
	} else {
		snprintf(in->prefix, sizeof in->prefix, "%-*s | ", out.name_width, name);
	}
	in->suffix = "";
	in->prefix_len = strlen(in->prefix);
}

int sv_pump_start(int out_fd, int err_fd, const char *name, int color_index, struct sv_joblog *log,
                  struct sv_pump_end **end)
{
	if ((out_fd >= 0 && rt_fd_nonblock(out_fd) < 0) || (err_fd >= 0 && rt_fd_nonblock(err_fd) < 0))
		return -1;
	struct pump *p = malloc(sizeof *p);
	if (!p)
		return -1;
	p->end = NULL;
	if (end) {
		p->end = malloc(sizeof *p->end);
		if (!p->end || !(p->end->eof = rt_chan_make(0, 0))) {
			free(p->end);
			free(p);
			return -1;
		}
		p->end->refs = 2;
		*end = p->end;
	}
	pump_in_init(&p->in[0], out_fd, 1, name, color_index, log);
	pump_in_init(&p->in[1], err_fd, 2, name, color_index, log);
	sv_joblog_ref(log); /* one for the pump, released as it ends */
	rt_wg_add(&out.pumps, 1);
	if (rt_go_named("pump", pump_main, p) < 0) {
		sv_joblog_unref(log);
		rt_wg_done(&out.pumps);
		if (p->end) {
			rt_chan_free(p->end->eof);
			free(p->end);
			*end = NULL;
		}
		free(p);
		return -1;
	}
	return 0;
}
