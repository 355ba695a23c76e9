/*
 * output.c - see output.h.
 *
 * Owns struct sv_output, one per process (grun's stdout and stderr are
 * one per process): set up by sv_output_start() on the main green thread
 * before any job runs, torn down by sv_output_stop() after the last.  A
 * sink's fields are written by its writer green thread only (see
 * output_internal.h); pumps count in `pumps`.  The file and directory
 * sinks are logfile.c's; their writers are the same writer_main.
 *
 * A job's lines reach a sink through its pump (pump.c), which queues
 * buffers of up to OUTBUF_MAX bytes with sv_sink_put_wait(): the queue
 * is bounded in bytes, so a sink that cannot keep up parks the pump and,
 * through its pipe, the job (or, with log_overflow = drop, the lines are
 * counted and dropped).  The writer of grun's stdout or stderr writes
 * what is queued with one writev and hands the emptied buffers back
 * (out.spares).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/output.h"
#include "supervise/output_internal.h"
#include "supervise/timestamp.h"
#include "supervise/xalloc.h"

static struct sv_output {
	struct sv_sink streams[3]; /* [1] stdout, [2] stderr */
	struct sv_sink native;     /* --log-format=native: journald's socket (fd -1: none) */
	struct rt_wg pumps;        /* pump green threads still running */
	struct rt_chan *spares;    /* of struct outbuf * (OUTBUF_MAX bytes, emptied): writers
	                              put, pumps take, before malloc (fresh heap pages
	                              fault at their first write); NULL before start and
	                              after a clean stop */
	int stdout_data;           /* grun's stdout carries chan:stdout */
	int name_width;
	enum sv_verbosity verbosity;
	enum sv_ts ts;             /* as asked: SV_TS_AUTO is none here, iso in directories */
	enum sv_log_format format;
	int stuck;                 /* a writer was still blocked at the end */
	void (*stdout_gone)(void *); /* called when stdout's reader goes away */
	void *stdout_gone_arg;
} out = { .ts = SV_TS_AUTO, .format = SV_LOG_AUTO };

/* A pump parked on a sink that wrote nothing for this long, whose job
 * has ended, drops the rest of the job's output (counted). */
#define PUMP_GIVE_UP (250 * 1000000LL)
/* How long the end waits for pumps whose pipes leftovers still hold. */
#define PUMP_GRACE (2000 * 1000000LL)
/* At the end, a writer that wrote nothing for this long is given up. */
#define WRITER_STALL (1000 * 1000000LL)
/* Buffers one write to grun's stdout or stderr takes at most (stream_batch). */
#define WRITEV_BUFS 64

static void report_write_error(struct sv_sink *s, int err, size_t n);

/* Writes n buffers to grun's stdout or stderr in as few calls as it
 * takes (iov is consumed); on an error other than EAGAIN/EINTR drops the
 * rest. */
static void stream_writev(struct sv_sink *s, struct iovec *iov, int n)
{
	for (;;) {
		while (n > 0 && iov->iov_len == 0)
			iov++, n--;
		if (n == 0 || s->broken)
			return;
		rt_blocking_begin();
		ssize_t w = writev(s->fd, iov, n);
		int err = w < 0 ? errno : 0;
		rt_blocking_end();
		if (w > 0) {
			__atomic_fetch_add(&s->written, (uint64_t)w, __ATOMIC_RELAXED);
			for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
				w -= (ssize_t)iov->iov_len;
			if (n > 0) {
				iov->iov_base = (char *)iov->iov_base + w;
				iov->iov_len -= (size_t)w;
			}
		} else if (err == EAGAIN) {
			rt_fd_wait(s->fd, RT_WRITE, RT_NEVER);
		} else if (err == EPIPE) {
			s->broken = 1;
			if (s->fd == STDOUT_FILENO && out.stdout_gone)
				out.stdout_gone(out.stdout_gone_arg);
		} else if (err != EINTR) {
			size_t left = 0;
			for (int i = 0; i < n; i++)
				left += iov[i].iov_len;
			report_write_error(s, err, left);
			return;
		}
	}
}

static void stream_write(struct sv_sink *s, const char *p, size_t n)
{
	struct iovec iov = { (void *)p, n };
	stream_writev(s, &iov, 1);
}

/* A full disk or an I/O error: counted for the exit status, reported on
 * the other stream (stdout's errors on stderr; stderr's only count). */
static void report_write_error(struct sv_sink *s, int err, size_t n)
{
	int expected = 0;
	__atomic_compare_exchange_n(&s->error, &expected, err, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->lost, n, __ATOMIC_RELAXED);
	int64_t now = rt_now();
	if (s->fd != 1 || (s->last_report && now - s->last_report < SINK_REPORT_EVERY))
		return;
	s->last_report = now;
	sv_err("cannot write to stdout: %s; %llu bytes of output lost so far", strerror(err),
	       (unsigned long long)__atomic_load_n(&s->lost, __ATOMIC_RELAXED));
}

/* "<N>" and the time stamp that begin one of grun's own lines on s. */
static size_t line_head(const struct sv_sink *s, int prio, char *buf)
{
	size_t n = 0;
	if (s->journal) {
		buf[n++] = '<';
		buf[n++] = (char)('0' + prio);
		buf[n++] = '>';
	}
	return n + sv_ts_format(out.ts == SV_TS_AUTO ? SV_TS_OFF : out.ts, sv_ts_now(), buf + n);
}

static void note_dropped(struct sv_sink *s)
{
	uint64_t d = __atomic_exchange_n(&s->dropped, 0, __ATOMIC_RELAXED);
	if (!d)
		return;
	char line[200];
	size_t n = line_head(s, PRIO_WARNING, line);
	n += (size_t)snprintf(line + n, sizeof line - n, "grun: %llu line%s of grun's log dropped: %s was not being read\n",
	                      (unsigned long long)d, d == 1 ? "" : "s", s->fd == 1 ? "stdout" : "stderr");
	stream_write(s, line, n);
}

/* Sends each [u32 length][entry] record of a buffer as one datagram to
 * journald; what cannot be sent is counted and reported like a file's. */
static void journal_write(struct sv_sink *s, const char *p, size_t n)
{
	while (n >= 4) {
		uint32_t len;
		memcpy(&len, p, 4);
		const char *e = p + 4;
		p += 4 + len, n -= 4 + len;
		for (;;) {
			ssize_t w = send(s->fd, e, len, MSG_NOSIGNAL);
			if (w >= 0) {
				__atomic_fetch_add(&s->written, (uint64_t)w, __ATOMIC_RELAXED);
				break;
			}
			if (errno == EAGAIN) {
				rt_fd_wait(s->fd, RT_WRITE, RT_NEVER);
				continue;
			}
			if (errno == EINTR)
				continue;
			int err = errno;
			__atomic_fetch_add(&s->lost_lines, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&sv_sink_lost_any, 1, __ATOMIC_RELAXED);
			int64_t now = rt_now();
			if (!s->last_report || now - s->last_report >= SINK_REPORT_EVERY) {
				s->last_report = now;
				sv_err("%s: cannot send: %s; %llu lines lost so far", s->label, strerror(err),
				       (unsigned long long)__atomic_load_n(&s->lost_lines, __ATOMIC_RELAXED));
			}
			break;
		}
	}
}

/* --log-format=native: journald's socket, connected; 0 or -1 (errno). */
static int journal_connect(struct sv_sink *s)
{
	const char *path = getenv("GRUN_JOURNAL_SOCKET");
	if (!path || !*path)
		path = "/run/systemd/journal/socket";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, path);
	snprintf(s->label, sizeof s->label, "journald %s", path);
	s->kind = SINK_JOURNAL;
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	int big = 8 << 20; /* as sd-journal asks: entries wait in the socket, not in grun */
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	if (connect(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || rt_fd_nonblock(s->fd) < 0) {
		int err = errno;
		close(s->fd);
		s->fd = -1;
		errno = err;
		return -1;
	}
	return 0;
}

/* len bytes left s's queue: a pump waiting for room may go on. */
static void room_made(struct sv_sink *s, size_t len)
{
	__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE);
	struct rt_case c = { s->space, RT_SEND, NULL, 0 };
	rt_select(&c, 1, 0); /* a token already waiting is enough */
}

/* Writes b and the buffers queued behind it (up to WRITEV_BUFS) to
 * grun's stdout or stderr in one writev, then gives them back.  A writer
 * that is behind so writes up to the whole queue at once: fewer calls,
 * and a file's page cache takes larger writes in larger folios (about
 * half the kernel's time per byte on ext4 for 1 MiB writes against
 * 64 KiB ones).  Every buffer holds whole lines, so a write still ends
 * with a whole line. */
static void stream_batch(struct sv_sink *s, struct outbuf *b)
{
	struct outbuf *v[WRITEV_BUFS];
	struct iovec iov[WRITEV_BUFS];
	int n = 0;
	size_t len = 0;
	for (v[n++] = b; n < WRITEV_BUFS; n++) {
		struct rt_case c = { s->chan, RT_RECV, &v[n], 0 };
		if (rt_select(&c, 1, 0) != 0 || !c.ok || !v[n])
			break; /* nothing queued, or closed: the caller's recv sees it */
	}
	for (int i = 0; i < n; i++) {
		iov[i] = (struct iovec){ v[i]->data, v[i]->len };
		len += v[i]->len;
	}
	/* the queue has room again while these are written: the pumps fill
	 * it meanwhile (at most twice SINK_QUEUE_BYTES are held) */
	room_made(s, len);
	stream_writev(s, iov, n);
	for (int i = 0; i < n; i++)
		sv_outbuf_done(v[i]);
}

static void writer_main(void *arg)
{
	struct sv_sink *s = arg;
	struct outbuf *b;
	while (rt_chan_recv(s->chan, &b) == 1) {
		if (s->kind != SINK_STD && __atomic_exchange_n(&s->reopen, 0, __ATOMIC_ACQ_REL))
			sv_sink_file_reopen(s);
		if (!b)
			continue; /* a wake-up for the reopen */
		if (s->kind == SINK_STD) {
			stream_batch(s, b);
			note_dropped(s);
			continue;
		}
		size_t len = b->len;
		if (s->kind == SINK_JOURNAL)
			journal_write(s, b->data, len);
		else
			sv_sink_file_write(s, b->data, len);
		sv_outbuf_done(b);
		room_made(s, len);
	}
	rt_wg_done(&s->done);
}

void sv_outbuf_done(struct outbuf *b)
{
	struct rt_chan *c = __atomic_load_n(&out.spares, __ATOMIC_ACQUIRE);
	struct rt_case keep = { c, RT_SEND, &b, 0 };
	if (b->cap != OUTBUF_MAX || !c || rt_select(&keep, 1, 0) != 0 || !keep.ok)
		free(b);
}

/* An empty buffer of OUTBUF_MAX bytes: a spare, or a new one. */
struct outbuf *sv_outbuf_get(void)
{
	struct outbuf *b = NULL;
	struct rt_chan *c = __atomic_load_n(&out.spares, __ATOMIC_ACQUIRE);
	struct rt_case take = { c, RT_RECV, &b, 0 };
	if (!c || rt_select(&take, 1, 0) != 0 || !take.ok || !b) {
		b = sv_xmalloc(sizeof *b + OUTBUF_MAX, "a job's output");
		b->cap = OUTBUF_MAX;
	}
	b->len = 0;
	return b;
}

int sv_sink_start(struct sv_sink *s, const char *gname)
{
	s->space = rt_chan_make(0, 1);
	s->chan = rt_chan_make(sizeof(struct outbuf *), SINK_QUEUE_BUFS);
	if (!s->chan || !s->space)
		return -1;
	rt_wg_add(&s->done, 1);
	if (rt_go_named(gname, writer_main, s) < 0) {
		rt_wg_done(&s->done);
		return -1;
	}
	return 0;
}

static int color_on(int color, int fd)
{
	if (color >= 0)
		return color;
	const char *nc = getenv("NO_COLOR");
	return isatty(fd) && !(nc && *nc);
}

/* Is fd the stream JOURNAL_STREAM ("DEVICE:INODE") names?  That is how
 * systemd tells a service its stdout or stderr is connected to journald. */
static int journal_stream(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void sv_output_set_format(enum sv_ts ts, enum sv_log_format format)
{
	out.ts = ts;
	out.format = format;
}

int sv_output_start(int color, int width, enum sv_verbosity v, int stdout_is_data,
                    void (*stdout_gone)(void *), void *arg)
{
	out.stdout_gone = stdout_gone;
	out.stdout_gone_arg = arg;
	out.stdout_data = stdout_is_data;
	out.name_width = width;
	out.verbosity = v;
	out.native.fd = -1;
	out.spares = rt_chan_make(sizeof(struct outbuf *), OUTBUF_SPARES);
	int native_err = 0;
	if (out.format == SV_LOG_NATIVE && journal_connect(&out.native) < 0)
		native_err = errno ? errno : EIO;
	for (int i = 1; i <= 2; i++) {
		struct sv_sink *s = &out.streams[i];
		s->kind = SINK_STD;
		s->fd = i;
		snprintf(s->label, sizeof s->label, "%s", i == 1 ? "stdout" : "stderr");
		s->journal = out.format == SV_LOG_JOURNAL || out.format == SV_LOG_NATIVE ||
		             (out.format == SV_LOG_AUTO && journal_stream(i));
		s->color = !s->journal && color_on(color, i);
		s->broken = 0;
		if (sv_sink_start(s, i == 1 ? "writer stdout" : "writer stderr") < 0)
			return -1;
	}
	if (out.native.fd >= 0 && sv_sink_start(&out.native, "writer journald") < 0)
		return -1;
	if (native_err)
		sv_err("--log-format=native: cannot connect to %s: %s; job lines go to stdout and stderr",
		       out.native.label, strerror(native_err));
	return 0;
}

int sv_output_verbose(void)
{
	return out.verbosity >= SV_VERBOSE;
}

/* Waits for the writer while it makes progress: 0 when it has ended, -1
 * when it wrote nothing for WRITER_STALL (a reader that never reads). */
static int writer_wait(struct sv_sink *s)
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

/* Closes a sink's channel and waits for its writer: 0, or -1 if it is stuck. */
static int sink_stop(struct sv_sink *s, int clean)
{
	struct rt_chan *c = __atomic_load_n(&s->chan, __ATOMIC_ACQUIRE);
	if (!c)
		return 0;
	rt_chan_close(c);
	if (writer_wait(s) < 0)
		return -1;
	if (clean) {
		__atomic_store_n(&s->chan, NULL, __ATOMIC_RELEASE);
		rt_chan_free(c);
		rt_chan_free(s->space);
	}
	return 0;
}

void sv_output_stop(void)
{
	/* Pumps end at EOF, once every process holding their pipe is gone;
	 * give them a moment, then close the writers' channels (a pump still
	 * running after that writes directly).  The file and directory sinks
	 * first: their writers may still log to stderr. */
	int clean = rt_wg_wait_until(&out.pumps, rt_now() + PUMP_GRACE) == 0;
	size_t nf = 0;
	struct sv_sink **files = sv_sinks_list(&nf);
	int files_stuck = 0;
	for (size_t i = 0; i < nf; i++) {
		if (sink_stop(files[i], clean) < 0) {
			files_stuck = out.stuck = 1;
			continue;
		}
		uint64_t lost = __atomic_load_n(&files[i]->lost_lines, __ATOMIC_RELAXED);
		if (lost)
			sv_err("%s: %llu line%s lost in all", files[i]->label, (unsigned long long)lost,
			       lost == 1 ? "" : "s");
	}
	free(files);
	if (clean && !files_stuck)
		sv_sinks_free();
	if (out.native.fd >= 0) {
		if (sink_stop(&out.native, clean) < 0) {
			out.stuck = 1;
		} else {
			uint64_t lost = __atomic_load_n(&out.native.lost_lines, __ATOMIC_RELAXED);
			if (lost)
				sv_err("%s: %llu line%s lost in all", out.native.label, (unsigned long long)lost,
				       lost == 1 ? "" : "s");
			if (clean) {
				close(out.native.fd);
				out.native.fd = -1;
			}
		}
	}
	for (int i = 1; i <= 2; i++) {
		if (sink_stop(&out.streams[i], clean) < 0)
			out.stuck = 1;
	}
	if (clean && !out.stuck && out.spares) {
		struct rt_chan *c = out.spares;
		struct outbuf *b;
		__atomic_store_n(&out.spares, NULL, __ATOMIC_RELEASE);
		rt_chan_close(c);
		while (rt_chan_recv(c, &b) == 1)
			free(b);
		rt_chan_free(c);
	}
}

int sv_output_stuck(void)
{
	return out.stuck;
}

int sv_output_failed(void)
{
	if (__atomic_load_n(&sv_sink_lost_any, __ATOMIC_RELAXED))
		return 1;
	for (int i = 1; i <= 2; i++)
		if (__atomic_load_n(&out.streams[i].error, __ATOMIC_RELAXED))
			return 1;
	return 0;
}

/* Before start or after stop: written directly (grun's streams), or
 * counted as lost (a file whose writer has ended). */
static void put_direct(struct sv_sink *s, struct outbuf *b)
{
	if (s->kind == SINK_STD)
		(void)!write(s->fd, b->data, b->len);
	else
		__atomic_fetch_add(&s->lost, b->len, __ATOMIC_RELAXED);
	free(b);
}

/* Parks the pump of e (may be NULL) until case c can proceed, telling e
 * meanwhile (its job's end need not wait for it).  0, or -1 when the pump
 * gives up: its job has ended and s wrote nothing for PUMP_GIVE_UP (a
 * reader that does not read; a slow one that reads keeps it waiting). */
static int park(struct rt_case *c, struct sv_sink *s, struct sv_pump_end *e)
{
	if (!e)
		return rt_select(c, 1, RT_NEVER) == 0 ? 0 : -1;
	__atomic_store_n(&e->parked, 1, __ATOMIC_RELEASE);
	struct rt_case tell = { e->stalled, RT_SEND, NULL, 0 };
	rt_select(&tell, 1, 0);
	int rc;
	for (;;) {
		uint64_t w = __atomic_load_n(&s->written, __ATOMIC_RELAXED);
		if (rt_select(c, 1, rt_now() + PUMP_GIVE_UP) == 0) {
			rc = 0;
			break;
		}
		if (__atomic_load_n(&e->job_ended, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&s->written, __ATOMIC_RELAXED) == w) {
			rc = -1;
			break;
		}
	}
	__atomic_store_n(&e->parked, 0, __ATOMIC_RELEASE);
	return rc;
}

/* Takes room for n bytes in s's queue: parks until there is some (a queue
 * holding nothing takes any size).  0, or -1: the pump gave up (park). */
static int take_room(struct sv_sink *s, size_t n, struct sv_pump_end *e)
{
	for (;;) {
		size_t q = __atomic_load_n(&s->queued, __ATOMIC_ACQUIRE);
		if (q && q + n > SINK_QUEUE_BYTES) {
			struct rt_case c = { s->space, RT_RECV, NULL, 0 };
			if (park(&c, s, e) < 0)
				return -1;
			continue;
		}
		if (__atomic_compare_exchange_n(&s->queued, &q, q + n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 0;
	}
}

/* A pump's buffer: waits for room (back-pressure on the job).  0, or -1
 * when the pump gave up (b is still the caller's). */
int sv_sink_put_wait(struct sv_sink *s, struct outbuf *b, struct sv_pump_end *e)
{
	struct rt_chan *c = __atomic_load_n(&s->chan, __ATOMIC_ACQUIRE);
	if (!c) {
		put_direct(s, b);
		return 0;
	}
	size_t len = b->len;
	if (take_room(s, len, e) < 0)
		return -1;
	/* the channel may be full of small buffers while bytes are left */
	struct rt_case send = { c, RT_SEND, &b, 0 };
	int rc = rt_select(&send, 1, 0);
	if (rc < 0 && park(&send, s, e) < 0) {
		__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE);
		return -1;
	}
	if (send.ok)
		return 0;
	__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE); /* closed: after stop */
	put_direct(s, b);
	return 0;
}

/* Never waits: 0 queued (or written directly after the end), -1 the
 * queue is full (b is still the caller's). */
int sv_sink_put_nowait(struct sv_sink *s, struct outbuf *b)
{
	struct rt_chan *c = __atomic_load_n(&s->chan, __ATOMIC_ACQUIRE);
	if (!c) {
		put_direct(s, b);
		return 0;
	}
	size_t len = b->len, q = __atomic_load_n(&s->queued, __ATOMIC_ACQUIRE);
	struct rt_case send = { c, RT_SEND, &b, 0 };
	if (q + len > SINK_QUEUE_BYTES)
		return -1;
	__atomic_fetch_add(&s->queued, len, __ATOMIC_ACQ_REL);
	int rc = rt_select(&send, 1, 0);
	if (rc == 0 && send.ok)
		return 0;
	__atomic_fetch_sub(&s->queued, len, __ATOMIC_RELEASE);
	if (rc == 0) { /* closed: after stop */
		put_direct(s, b);
		return 0;
	}
	return -1;
}

/* 0 when the line was queued (or written), -1 when it was dropped. */
static int logv(int prio, const char *fmt, va_list ap)
{
	struct sv_sink *s = &out.streams[2];
	char line[1100];
	int n = (int)line_head(s, prio, line);
	n += snprintf(line + n, sizeof line - (size_t)n, "grun: ");
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	struct outbuf *b = malloc(sizeof *b + (size_t)n);
	if (!b)
		return -1;
	memcpy(b->data, line, (size_t)n);
	b->len = b->cap = (size_t)n;
	if (sv_sink_put_nowait(s, b) < 0) {
		__atomic_fetch_add(&s->dropped, 1, __ATOMIC_RELAXED);
		free(b);
		return -1;
	}
	return 0;
}

static int log_line(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int log_line(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = logv(prio, fmt, ap);
	va_end(ap);
	return rc;
}

int sv_report_dropped(const char *name, int which, const char *where, uint64_t n, int gave_up)
{
	return log_line(PRIO_WARNING, "%s: %llu line%s of its %s dropped: %s was not being written "
	                "(%s)", name, (unsigned long long)n, n == 1 ? "" : "s",
	                which == 1 ? "stdout" : "stderr", where,
	                gave_up ? "the job had ended" : "log_overflow = drop");
}

void sv_info(const char *fmt, ...)
{
	if (out.verbosity < SV_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)logv(PRIO_NOTICE, fmt, ap);
	va_end(ap);
}

void sv_debug(const char *fmt, ...)
{
	if (out.verbosity < SV_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)logv(PRIO_INFO, fmt, ap);
	va_end(ap);
}

void sv_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)logv(PRIO_ERR, fmt, ap);
	va_end(ap);
}

void sv_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)logv(PRIO_WARNING, fmt, ap);
	va_end(ap);
}

int sv_output_reopen(void)
{
	size_t n = 0;
	struct sv_sink **files = sv_sinks_list(&n);
	for (size_t i = 0; i < n; i++) {
		struct sv_sink *f = files[i];
		__atomic_store_n(&f->reopen, 1, __ATOMIC_RELEASE);
		/* wake an idle writer; a busy one sees the flag at its next buffer */
		struct outbuf *none = NULL;
		struct rt_chan *c = __atomic_load_n(&f->chan, __ATOMIC_ACQUIRE);
		struct rt_case send = { c, RT_SEND, &none, 0 };
		if (c)
			rt_select(&send, 1, 0);
	}
	free(files);
	return (int)n;
}

/* ---- what pump.c asks of the set-up ------------------------------------- */

enum sv_ts sv_output_ts(int in_dir)
{
	if (out.ts != SV_TS_AUTO)
		return out.ts;
	return in_dir ? SV_TS_ISO : SV_TS_OFF;
}

struct sv_sink *sv_output_stream_sink(int which, int *native)
{
	/* with chan:stdout, grun's stdout is data and the job's stdout lines
	 * stay on stderr as always */
	int data = which == 1 && out.stdout_data;
	*native = out.native.fd >= 0 && !data;
	if (*native)
		return &out.native;
	return &out.streams[which == 1 && !data ? 1 : 2];
}

int sv_output_name_width(void)
{
	return out.name_width;
}

struct rt_wg *sv_output_pumps(void)
{
	return &out.pumps;
}
