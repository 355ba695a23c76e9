/*
 * pump.c - a job's output pumps (output.h: sv_pump_start): one green
 * thread per job run reads the job's stdout and stderr pipes and puts
 * their lines, framed and stamped, into sinks (output_internal.h):
 * grun's streams, journald's socket, a file or a log directory.
 *
 * A job line's way: a pump reads up to PUMP_BUF of a pipe (pump_read),
 * notes the time once for the whole read (every line of it was read
 * then: its stamp and its time in grunctl logs), makes the head ("<N>STAMP
 * name | ") once, and pump_emit appends head + line to a buffer of up to
 * OUTBUF_MAX bytes: in one pass for the common case (linebuf.c), line by
 * line through emit_line() for a journald priority, a native entry or the
 * continued piece of a cut line.  The read's lines then go to the job's
 * joblog in one call (one lock), and full buffers to the sink's queue
 * (output.c), whose writer writes them and hands the emptied buffers
 * back for the pumps to fill again.
 *
 * A pump's state and pipes are its green thread's alone.  It shares
 * struct sv_pump_end with the job that waits for its end, the job's
 * joblog with grunctl logs (under the joblog's lock), and the sinks'
 * queues with their writers (output.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/joblog.h"
#include "supervise/linebuf.h"
#include "supervise/output.h"
#include "supervise/output_internal.h"
#include "supervise/timestamp.h"
#include "supervise/xalloc.h"

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
		if (sv_sink_put_wait(p->sink, b, p->pump->end) == 0)
			return;
		/* the job has ended and its log is stalled: what is left of its
		 * output is dropped and counted rather than held */
		p->pump->drop = p->pump->gave_up = 1;
	}
	if (p->pump->gave_up || sv_sink_put_nowait(p->sink, b) < 0) {
		p->dropped += count_lines(b->data, b->len) + (b->len && b->data[b->len - 1] != '\n');
		sv_outbuf_done(b);
		return;
	}
	/* said once there is room for the line: a count is never lost */
	if (p->dropped && sv_report_dropped(p->pump->name, p->which, p->sink->label, p->dropped, p->pump->gave_up) == 0)
		p->dropped = 0;
}

/* Appends n bytes of room to o for p's sink; returns where they go. */
static char *obuf_room(struct pump_in *p, struct obuf *o, size_t n)
{
	if (o->b && o->b->len + n > o->cap)
		obuf_flush(p, o);
	if (!o->b && n <= OUTBUF_MAX) {
		o->b = sv_outbuf_get();
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
		o->b = sv_outbuf_get();
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

/* While lines dropped under log_overflow = drop are not reported yet (a
 * report goes out with the next buffer that gets through), a pump whose
 * pipes are quiet tries again this often: a job that went quiet after
 * its flood still has its count said once the log is written again. */
#define DROP_REPORT_RETRY (100 * 1000000LL)

/* Reports the counts of dropped lines that fit in grun's log now (at
 * the pump's end, the last chance: what does not fit is lost). */
static void report_owed(struct pump *p)
{
	for (int i = 0; i < 2; i++) {
		struct pump_in *in = &p->in[i];
		if (in->dropped && sv_report_dropped(p->name, i + 1, in->sink->label, in->dropped, p->gave_up) == 0)
			in->dropped = 0;
	}
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
		bool owed = p->in[0].dropped || p->in[1].dropped;
		int64_t deadline = owed ? rt_now() + DROP_REPORT_RETRY : RT_NEVER;
		int r = fresh ? rt_fd_wait_any_fresh(pf, 2, deadline) : rt_fd_wait_any(pf, 2, deadline);
		fresh = false;
		if (r < 0) {
			if (owed)
				report_owed(p);
			continue;
		}
		for (int i = 0; i < 2; i++)
			again[i] = pf[i].revents ? pump_read(&p->in[i]) : 0;
	}
	report_owed(p);
	if (p->end) {
		rt_chan_close(p->end->eof);
		end_unref(p->end);
	}
	sv_joblog_unref(p->log);
	free(p);
	rt_wg_done(sv_output_pumps());
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
		in->ts = sv_output_ts(1);
		in->pfx = j->instances > 1 ? PFX_DIR_NAMED : PFX_DIR;
		return;
	}
	in->sink = sv_output_stream_sink(which, &in->native);
	if (in->native) {
		/* journald entries */
		in->prio = which == 1 ? PRIO_INFO : j->stderr_priority;
	} else {
		in->ts = sv_output_ts(0);
		in->pfx_width = in->sink->journal ? 0 : sv_output_name_width();
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
	rt_wg_add(sv_output_pumps(), 1);
	if (rt_go_named("pump", pump_main, p) < 0) {
		sv_joblog_unref(log);
		rt_wg_done(sv_output_pumps());
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
