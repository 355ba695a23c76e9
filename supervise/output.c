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
 * Size: over the ~500 lines of most files because the sinks' bounded
 * queues (parking, dropping, giving up) and the pumps that fill them are
 * one protocol; what is only about files is in logfile.c, and the stamp
 * formats in timestamp.c.
 *
 * A job line's way: a pump reads up to PUMP_BUF of a pipe (pump_read),
 * notes the time once for the whole read (every line of it was read
 * then: its stamp and its time in grunctl logs), makes the head ("<N>STAMP
 * name | ") once, and pump_emit appends head + line to a buffer of up to
 * OUTBUF_MAX bytes: in one pass for the common case (linebuf.c), line by
 * line through emit_line() for a journald priority, a native entry or the
 * continued piece of a cut line.  The read's lines then go to the job's
 * joblog in one call (one lock), and full buffers to the sink's queue;
 * the writer of grun's stdout or stderr writes what is queued with one
 * writev and hands the emptied buffers back (out.spares).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
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
#include "supervise/joblog.h"
#include "supervise/linebuf.h"
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
/* syslog priorities of grun's own lines under journald */
enum { PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_NOTICE = 5, PRIO_INFO = 6 };

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
static struct outbuf *outbuf_get(void)
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

/* Shared by a pump and the job waiting for it; the last to let go frees it. */
struct sv_pump_end {
	int refs;               /* atomic */
	int parked;             /* atomic: the pump waits for room in a sink */
	int job_ended;          /* atomic: the job stopped waiting for the pump */
	struct rt_chan *eof;    /* closed when the pump has written everything */
	struct rt_chan *stalled; /* elem 0, cap 1: a token each time the pump parks */
};

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
static int sink_put_wait(struct sv_sink *s, struct outbuf *b, struct sv_pump_end *e)
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
static int sink_put_nowait(struct sv_sink *s, struct outbuf *b)
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
	if (sink_put_nowait(s, b) < 0) {
		__atomic_fetch_add(&s->dropped, 1, __ATOMIC_RELAXED);
		free(b);
		return -1;
	}
	return 0;
}

static int log_line(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A pump's count of dropped lines: 0 when the line was queued. */
static int report_dropped(const char *name, int which, const char *where, uint64_t n, int gave_up)
{
	return log_line(PRIO_WARNING, "%s: %llu line%s of its %s dropped: %s was not being written "
	                "(%s)", name, (unsigned long long)n, n == 1 ? "" : "s",
	                which == 1 ? "stdout" : "stderr", where,
	                gave_up ? "the job had ended" : "log_overflow = drop");
}

static int log_line(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = logv(prio, fmt, ap);
	va_end(ap);
	return rc;
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

/* ---- pumps ------------------------------------------------------------ */

/* A pump reads up to this much of a pipe at once; a longer line is cut
 * into pieces of this size (grun(1) OUTPUT). */
#define PUMP_BUF (64u << 10)

static void end_unref(struct sv_pump_end *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		rt_chan_free(e->eof);
		rt_chan_free(e->stalled);
		free(e);
	}
}

void sv_pump_end_wait(struct sv_pump_end *e, int64_t deadline)
{
	if (!e)
		return;
	while (!__atomic_load_n(&e->parked, __ATOMIC_ACQUIRE)) {
		struct rt_case c[2] = { { e->eof, RT_RECV, NULL, 0 }, { e->stalled, RT_RECV, NULL, 0 } };
		if (rt_select(c, 2, deadline) != 1)
			break; /* the deadline, or everything written (eof closed) */
	}
	__atomic_store_n(&e->job_ended, 1, __ATOMIC_RELEASE);
	end_unref(e);
}

struct pump;

/* How a pump_in's line prefixes look; pump_in_init picks (the job's
 * config may be gone by the first line: a reload), pump_in_names makes
 * the strings at the first read. */
enum pfx_style {
	PFX_NONE,       /* "" (raw file: output, journald entries) */
	PFX_DIR,        /* a log directory of a single instance: "", cont "+ " */
	PFX_DIR_NAMED,  /* a log directory shared by instances: "name | ", "name + " */
	PFX_PLAIN,      /* grun's streams: "name | " padded to pfx_width */
	PFX_COLOR,      /* the same in pfx_color */
};

#define PUMP_HEAD_MAX (SV_TS_MAX + 400)

/* The text a pump_in needs only once its job has written, kept right
 * after its PUMP_BUF bytes of buf (one allocation, freed with buf). */
struct pump_text {
	char prefix[160];
	char cont[160];
	char stamp[SV_TS_MAX];
	char head[PUMP_HEAD_MAX];
};

struct pump_in;
static int pump_in_buffers(struct pump_in *in);

/* One of the job's pipes the pump reads.  Touched only by its pump's
 * green thread once the pump runs. */
struct pump_in {
	struct pump *pump;
	int fd;                 /* -1 once at EOF (or never there) */
	int which;              /* 1: the job's stdout, 2: its stderr */
	struct sv_sink *sink;   /* where its lines go */
	int raw;                /* file: the bytes as they are, nothing added */
	int native;             /* journald entries: head holds every field but MESSAGE's value */
	int prio;               /* journal: the syslog priority of its lines; -1 none */
	enum sv_ts ts;          /* SV_TS_OFF: no stamp */
	enum pfx_style pfx;     /* how prefix and cont are made (pump_in_names) */
	int pfx_color;          /* PFX_COLOR: the ANSI color */
	int pfx_width;          /* PFX_PLAIN, PFX_COLOR: the name's column width */
	/* The four below point into the struct pump_text after buf: NULL (and
	 * their lengths 0) until the job first writes, so a silent job's pump
	 * costs no text buffers (pump_in_buffers). */
	char *prefix;           /* "name | " (colored, padded), or "" */
	size_t prefix_len;
	char *cont;             /* "name + ": a piece that continues a cut line */
	size_t cont_len;
	const char *suffix;     /* after the line: "" or the color reset */
	size_t suffix_len;
	int continued;          /* the last piece was cut: the next one continues it */
	int64_t when;           /* wall-clock time of the last read: its lines' time */
	char *stamp;            /* when, formatted (timestamps on): SV_TS_MAX bytes */
	size_t stamp_len;
	char *head;             /* PUMP_HEAD_MAX bytes: "<N>", stamp and prefix: the head of
	                           a whole line (native: the entry's fields up to "MESSAGE=") */
	size_t head_len;
	char *buf;              /* PUMP_BUF bytes and a struct pump_text, one allocation
	                           made when the job first writes (or at EOF), freed at EOF */
	size_t have;
	uint64_t dropped;       /* log_overflow = drop: lines dropped, not yet reported */
};

/* One green thread per job run reads both its stdout and stderr pipes
 * (when they go to the log): a parked green thread costs a page. */
struct pump {
	struct sv_pump_end *end;
	const char *job;        /* the job's name: a copy in names[] (a reload may free its
	                           config first) */
	int inst, pid;
	int drop;               /* log_overflow = drop, or gave_up */
	int gave_up;            /* the job ended with its log stalled: drop the rest */
	struct sv_joblog *log;  /* the job's recent lines (joblog.h): the pump's reference, or NULL */
	struct pump_in in[2];
	const char *name;       /* the instance's name ("web#2"): in names[] */
	char names[];           /* name and job, each at its length: allocated with the pump */
};

/* A buffer being filled for one sink. */
struct obuf {
	struct outbuf *b;
	size_t cap;
};

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t k = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		k++;
	return k;
}

/* Hands o's buffer to p's sink: waits for room, or with log_overflow =
 * drop drops it and counts its lines (said once the sink takes lines
 * again). */
static void obuf_flush(struct pump_in *p, struct obuf *o)
{
	struct outbuf *b = o->b;
	o->b = NULL;
	if (!b)
		return;
	if (!p->pump->drop) {
		if (sink_put_wait(p->sink, b, p->pump->end) == 0)
			return;
		/* the job has ended and its log is stalled: what is left of its
		 * output is dropped and counted rather than held */
		p->pump->drop = p->pump->gave_up = 1;
	}
	if (p->pump->gave_up || sink_put_nowait(p->sink, b) < 0) {
		p->dropped += count_lines(b->data, b->len) + (b->len && b->data[b->len - 1] != '\n');
		sv_outbuf_done(b);
		return;
	}
	/* said once there is room for the line: a count is never lost */
	if (p->dropped && report_dropped(p->pump->name, p->which, p->sink->label, p->dropped, p->pump->gave_up) == 0)
		p->dropped = 0;
}

/* Appends n bytes of room to o for p's sink; returns where they go. */
static char *obuf_room(struct pump_in *p, struct obuf *o, size_t n)
{
	if (o->b && o->b->len + n > o->cap)
		obuf_flush(p, o);
	if (!o->b && n <= OUTBUF_MAX) {
		o->b = outbuf_get();
	} else if (!o->b) {
		o->b = sv_xmalloc(sizeof *o->b + n, "a job's output");
		o->b->len = 0;
		o->b->cap = n;
	}
	o->cap = o->b->cap;
	char *d = o->b->data + o->b->len;
	o->b->len += n;
	return d;
}

/* One job line where pump_emit does not take the fast path: job
 * p->pump->name, its stream p->which, the time grun read it p->when (wall
 * clock), its text without the newline, cont when it continues a line
 * cut at PUMP_BUF, nl when it ended with a newline (else it was cut, or
 * is the last bytes before EOF).  It is appended to o as the sink wants it:
 *   [<N>][STAMP ]name | text        (<N> for journald; "name + " if cont)
 * p->head holds what comes before the text of a whole line ("<N>STAMP
 * name | "), made once per read.  A file: output (raw) does not come
 * here: pump_emit copies its bytes in blocks.  The joblog gets the line
 * here only with a journald priority (its own "<N>" is not kept). */
static void emit_native(struct pump_in *p, struct obuf *o, const char *text, size_t len);

static void emit_line(struct pump_in *p, struct obuf *o, const char *text, size_t len, int cont, int nl)
{
	(void)nl;
	if (p->native)
		return emit_native(p, o, text, len);
	const char *head = p->head;
	size_t hl = p->head_len;
	char own[SV_TS_MAX + 200];
	/* a job that speaks journald's "<N>" itself (sd-daemon(3)) keeps its
	 * priority; a continued piece has its own head */
	int prio_own = p->prio >= 0 && !cont && len >= 3 && text[0] == '<' && text[1] >= '0' &&
	               text[1] <= '7' && text[2] == '>';
	if (prio_own || cont) {
		int prio = prio_own ? text[1] - '0' : p->prio;
		if (prio_own)
			text += 3, len -= 3;
		hl = 0;
		if (prio >= 0) {
			own[hl++] = '<';
			own[hl++] = (char)('0' + prio);
			own[hl++] = '>';
		}
		memcpy(own + hl, p->stamp, p->stamp_len);
		hl += p->stamp_len;
		memcpy(own + hl, cont ? p->cont : p->prefix, cont ? p->cont_len : p->prefix_len);
		hl += cont ? p->cont_len : p->prefix_len;
		head = own;
	}
	if (p->prio >= 0) /* its own "<N>" is not part of the line grunctl shows */
		sv_joblog_add(p->pump->log, p->which, p->when, text, len);
	char *d = obuf_room(p, o, hl + len + p->suffix_len + 1);
	memcpy(d, head, hl);
	memcpy(d + hl, text, len);
	memcpy(d + hl + len, p->suffix, p->suffix_len);
	d[hl + len + p->suffix_len] = '\n';
}

/* journald's fields of a line of p at priority prio, up to "MESSAGE=". */
static size_t native_head(const struct pump_in *p, int prio, char *buf, size_t cap)
{
	const struct pump *pp = p->pump;
	int n = snprintf(buf, cap, "PRIORITY=%d\nSYSLOG_IDENTIFIER=%s\nGRUN_JOB=%s\nGRUN_INSTANCE=%d\n"
	                 "GRUN_PID=%d\nGRUN_STREAM=%s\nMESSAGE=", prio, pp->name, pp->job, pp->inst, pp->pid,
	                 p->which == 1 ? "stdout" : "stderr");
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* One line as one journald entry: [u32 length][fields]; a job's own
 * "<N>" is its PRIORITY. */
static void emit_native(struct pump_in *p, struct obuf *o, const char *text, size_t len)
{
	const char *head = p->head;
	size_t hl = p->head_len;
	char own[400];
	if (len >= 3 && text[0] == '<' && text[1] >= '0' && text[1] <= '7' && text[2] == '>') {
		hl = native_head(p, text[1] - '0', own, sizeof own);
		head = own;
		text += 3, len -= 3;
	}
	uint32_t rec = (uint32_t)(hl + len + 1);
	char *d = obuf_room(p, o, 4 + rec);
	memcpy(d, &rec, 4);
	memcpy(d + 4, head, hl);
	memcpy(d + 4 + hl, text, len);
	d[4 + hl + len] = '\n';
}

/* Makes p->head for the lines of one read (its stamp). */
static void make_head(struct pump_in *p)
{
	size_t n = 0;
	if (p->native) {
		if (!p->head_len)
			p->head_len = native_head(p, p->prio, p->head, PUMP_HEAD_MAX);
		return;
	}
	if (p->prio >= 0) {
		p->head[n++] = '<';
		p->head[n++] = (char)('0' + p->prio);
		p->head[n++] = '>';
	}
	memcpy(p->head + n, p->stamp, p->stamp_len);
	n += p->stamp_len;
	memcpy(p->head + n, p->prefix, p->prefix_len);
	p->head_len = n + p->prefix_len;
}

/* The complete lines of p->buf from start on, each after p->head, into
 * o's buffer (made if there is none) until it is full: the common case,
 * without journald priorities, native entries or a continued piece. */
static struct sv_lines emit_lines(struct pump_in *p, struct obuf *o, size_t start)
{
	if (!o->b) {
		o->b = outbuf_get();
		o->cap = o->b->cap;
	}
	struct sv_lines r = sv_lines_head(p->buf + start, p->have - start, p->head, p->head_len,
	                                  o->b->data + o->b->len, o->cap - o->b->len);
	o->b->len += r.out;
	return r;
}

enum { EMIT_LINES, EMIT_CUT, EMIT_EOF };

/* Emits every complete line in p->buf and, when the buffer is full
 * (EMIT_CUT) or at EOF, the incomplete rest, in buffers of about
 * OUTBUF_MAX bytes (a 64 KiB read of one-byte lines becomes megabytes
 * with the prefixes, and the queues are bounded in bytes). */
static void pump_emit(struct pump_in *p, int how)
{
	struct obuf o = { NULL, 0 };
	size_t start = 0;
	char *nl;
	if (p->raw) {
		/* the bytes as they are: every complete line at once, and at a
		 * cut or EOF the rest, no newline added */
		size_t upto = how != EMIT_LINES ? p->have : 0;
		if (!upto && (nl = memrchr(p->buf, '\n', p->have)))
			upto = (size_t)(nl - p->buf) + 1;
		if (upto)
			memcpy(obuf_room(p, &o, upto), p->buf, upto);
		start = upto;
		obuf_flush(p, &o);
		memmove(p->buf, p->buf + start, p->have - start);
		p->have -= start;
		return;
	}
	while (start < p->have) {
		if (!p->native && p->prio < 0 && !p->continued) {
			struct sv_lines r = emit_lines(p, &o, start);
			start += r.in;
			if (!r.full)
				break;
			if (o.b->len) {
				obuf_flush(p, &o);
				continue;
			}
			/* a line too long for an empty buffer: on its own below */
			sv_outbuf_done(o.b);
			o.b = NULL;
		}
		if (!(nl = memchr(p->buf + start, '\n', p->have - start)))
			break;
		size_t end = (size_t)(nl - p->buf);
		emit_line(p, &o, p->buf + start, end - start, p->continued, 1);
		p->continued = 0;
		start = end + 1;
	}
	if (how != EMIT_LINES && start < p->have) {
		emit_line(p, &o, p->buf + start, p->have - start, p->continued, 0);
		p->continued = how == EMIT_CUT;
		start = p->have;
	}
	obuf_flush(p, &o);
	/* for grunctl logs, every line of the read at once (one lock); with
	 * journald's "<N>" on grun's streams, emit_line gave them one by one */
	if (p->native || p->prio < 0)
		sv_joblog_add(p->pump->log, p->which, p->when, p->buf, start);
	memmove(p->buf, p->buf + start, p->have - start);
	p->have -= start;
}

/* Reads what is there; at EOF (or an error) flushes and closes.  1 when
 * it read something (there may be more), 0 when the pipe was empty or
 * has ended. */
static int pump_read(struct pump_in *p)
{
	/* most services write little: no buffer until there is something */
	if (!p->buf && pump_in_buffers(p) < 0) {
		rt_close(p->fd);
		p->fd = -1;
		return 0;
	}
	ssize_t n = read(p->fd, p->buf + p->have, PUMP_BUF - p->have);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0) {
		p->when = sv_ts_now();
		p->stamp_len = sv_ts_format(p->ts, p->when, p->stamp);
		if (!p->raw)
			make_head(p);
		p->have += (size_t)n;
		pump_emit(p, EMIT_LINES);
		/* a line longer than the whole buffer is cut into buffer-sized pieces */
		if (p->have == PUMP_BUF)
			pump_emit(p, EMIT_CUT);
		return 1;
	}
	pump_emit(p, EMIT_EOF);
	rt_close(p->fd);
	p->fd = -1;
	free(p->buf);
	p->buf = NULL;
	return 0;
}

/* Reads in a row before a pump lets the other green threads run. */
#define PUMP_READS_IN_A_ROW 8

static void pump_main(void *arg)
{
	struct pump *p = arg;
	/* a pipe that just gave data is read again before any wait: under
	 * load it seldom is empty, and the wait asks poll(2) first (a call
	 * per read saved); one that was empty is read once the wait says so.
	 * Every PUMP_READS_IN_A_ROW reads in a row the pump lets the other
	 * green threads run and looks at both pipes again, so a flood on one
	 * does not hold the other's lines back. */
	int again[2] = { 0, 0 };
	unsigned row = 0;
	bool fresh = true; /* the pipes were just made: no poll(2) before the first wait */
	for (;;) {
		struct rt_pollfd pf[2] = { { p->in[0].fd, RT_READ, 0 }, { p->in[1].fd, RT_READ, 0 } };
		if (pf[0].fd < 0 && pf[1].fd < 0)
			break;
		if (again[0] || again[1]) {
			if (++row % PUMP_READS_IN_A_ROW) {
				for (int i = 0; i < 2; i++)
					if (again[i])
						again[i] = pump_read(&p->in[i]);
				continue;
			}
			rt_yield();
		}
		int r = fresh ? rt_fd_wait_any_fresh(pf, 2, RT_NEVER) : rt_fd_wait_any(pf, 2, RT_NEVER);
		fresh = false;
		if (r < 0)
			continue;
		for (int i = 0; i < 2; i++)
			again[i] = pf[i].revents ? pump_read(&p->in[i]) : 0;
	}
	for (int i = 0; i < 2; i++)
		if (p->in[i].dropped)
			report_dropped(p->name, i + 1, p->in[i].sink->label, p->in[i].dropped, p->gave_up);
	if (p->end) {
		rt_chan_close(p->end->eof);
		end_unref(p->end);
	}
	sv_joblog_unref(p->log);
	free(p);
	rt_wg_done(&out.pumps);
}

static const int palette[] = { 36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91 };

static void pump_in_init(struct pump_in *in, struct pump *p, int fd, int which, const struct sv_job *j,
                         int color_index)
{
	memset(in, 0, sizeof *in);
	in->pump = p;
	in->fd = fd;
	in->which = which;
	in->prio = -1;
	in->suffix = "";
	const struct sv_iospec *io = which == 1 ? &j->out : &j->err;
	if (fd < 0)
		return;
	if (io->kind == SV_IO_FILE && (in->sink = sv_sink_find(SINK_FILE, io->path, j))) {
		in->raw = 1;
		return;
	}
	if (j->log_dir && (in->sink = sv_sink_find(SINK_DIR, j->log_dir, j))) {
		/* the directory is the job's: its instances are named, nothing else */
		in->ts = out.ts == SV_TS_AUTO ? SV_TS_ISO : out.ts;
		in->pfx = j->instances > 1 ? PFX_DIR_NAMED : PFX_DIR;
	} else if (out.native.fd >= 0 && !(which == 1 && out.stdout_data)) {
		/* journald entries; with chan:stdout, grun's stdout is data and
		 * the job's stdout lines stay on stderr as always */
		in->sink = &out.native;
		in->native = 1;
		in->prio = which == 1 ? PRIO_INFO : j->stderr_priority;
	} else {
		int stream = which == 1 && !out.stdout_data ? 1 : 2;
		in->sink = &out.streams[stream];
		in->ts = out.ts == SV_TS_AUTO ? SV_TS_OFF : out.ts;
		in->pfx_width = in->sink->journal ? 0 : out.name_width;
		if (in->sink->journal)
			in->prio = which == 1 ? PRIO_INFO : j->stderr_priority;
		in->pfx = in->sink->color ? PFX_COLOR : PFX_PLAIN;
		in->pfx_color = palette[color_index % (int)(sizeof palette / sizeof palette[0])];
	}
}

/* Makes in's prefix and cont (struct pump_text, pump_in_buffers). */
static void pump_in_names(struct pump_in *in)
{
	const char *name = in->pump->name;
	size_t cap = sizeof ((struct pump_text *)0)->prefix;
	int c = in->pfx_color, width = in->pfx_width;
	in->prefix[0] = in->cont[0] = '\0';
	switch (in->pfx) {
	case PFX_NONE:
		break;
	case PFX_DIR:
		snprintf(in->cont, cap, "+ ");
		break;
	case PFX_DIR_NAMED:
		snprintf(in->prefix, cap, "%s | ", name);
		snprintf(in->cont, cap, "%s + ", name);
		break;
	case PFX_COLOR:
		snprintf(in->prefix, cap, "\033[%dm%-*s |\033[0m ", c, width, name);
		snprintf(in->cont, cap, "\033[%dm%-*s +\033[0m ", c, width, name);
		break;
	case PFX_PLAIN:
		snprintf(in->prefix, cap, "%-*s | ", width, name);
		snprintf(in->cont, cap, "%-*s + ", width, name);
		break;
	}
	in->prefix_len = strlen(in->prefix);
	in->cont_len = strlen(in->cont);
}

/* in's first read (or its EOF): buf and, after it, its struct pump_text.
 * Most services write little, and a silent one never: nothing until
 * there is something.  -1 when out of memory. */
static int pump_in_buffers(struct pump_in *in)
{
	char *b = malloc(PUMP_BUF + sizeof(struct pump_text));
	if (!b)
		return -1;
	struct pump_text *t = (struct pump_text *)(b + PUMP_BUF);
	in->prefix = t->prefix;
	in->cont = t->cont;
	in->stamp = t->stamp;
	in->head = t->head;
	in->buf = b;
	pump_in_names(in);
	return 0;
}

int sv_pump_start(int out_fd, int err_fd, const struct sv_job *j, const char *name, int inst,
                  int color_index, int pid, struct sv_joblog *log, struct sv_pump_end **end)
{
	size_t name_len = strnlen(name, SV_NAME_MAX + 15), job_len = strnlen(j->name, SV_NAME_MAX - 1);
	struct pump *p = malloc(sizeof *p + name_len + 1 + job_len + 1);
	if (!p)
		return -1;
	char *names = p->names;
	memcpy(names, name, name_len);
	names[name_len] = '\0';
	memcpy(names + name_len + 1, j->name, job_len);
	names[name_len + 1 + job_len] = '\0';
	p->name = names;
	p->job = names + name_len + 1;
	p->end = NULL;
	if (end) {
		p->end = calloc(1, sizeof *p->end);
		if (!p->end || !(p->end->eof = rt_chan_make(0, 0)) || !(p->end->stalled = rt_chan_make(0, 1))) {
			if (p->end && p->end->eof)
				rt_chan_free(p->end->eof);
			free(p->end);
			free(p);
			return -1;
		}
		p->end->refs = 2;
		*end = p->end;
	}
	p->drop = j->log_drop;
	p->gave_up = 0;
	p->inst = inst;
	p->pid = pid;
	p->log = log;
	sv_joblog_ref(log);
	pump_in_init(&p->in[0], p, out_fd, 1, j, color_index);
	pump_in_init(&p->in[1], p, err_fd, 2, j, color_index);
	rt_wg_add(&out.pumps, 1);
	if (rt_go_named("pump", pump_main, p) < 0) {
		sv_joblog_unref(log);
		rt_wg_done(&out.pumps);
		if (p->end) {
			rt_chan_free(p->end->eof);
			rt_chan_free(p->end->stalled);
			free(p->end);
			*end = NULL;
		}
		free(p);
		return -1;
	}
	return 0;
}
