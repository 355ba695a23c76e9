/*
 * output_internal.h - what output.c (grun's own streams, the log calls,
 * the sinks' queues), pump.c (a job's pipes into the sinks) and
 * logfile.c (file: outputs and log = DIR directories) share: the sink,
 * one destination of lines with its own writer green thread and
 * byte-bounded queue.
 *
 * A sink's fd, size and retry_at are the writer's alone; the counters
 * are atomic; chan, space and done are set before any pump uses the
 * sink and torn down after the last (sv_output_stop).
 */
#ifndef GRUN_SV_OUTPUT_INTERNAL_H
#define GRUN_SV_OUTPUT_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "rt.h"
#include "supervise/config.h"

/* A buffer of lines on its way to a sink: filled by one pump (or a log
 * call), then owned by the sink's writer, which frees it or keeps it in
 * the sink's spares for a pump to fill again. */
struct outbuf {
	size_t len;             /* bytes in data */
	size_t cap;             /* bytes data has room for */
	char data[];
};

enum sink_kind {
	SINK_STD,   /* grun's stdout or stderr */
	SINK_FILE,  /* stdout/stderr = file:PATH, appended, reopened on SIGUSR1 */
	SINK_DIR,   /* log = DIR: DIR/current, rotated by size */
	SINK_JOURNAL, /* journald's native socket: buffers of [u32 length][entry] records */
};

struct sv_sink {
	enum sink_kind kind;
	int fd;                 /* writer only; -1 while a file is not open */
	char *path;             /* FILE: the file; DIR: the directory */
	char label[80];         /* for messages: "stdout", "log /var/log/app" */
	int color;              /* STD: color job names */
	int journal;            /* STD: "<N>" priority prefixes for journald */
	struct rt_chan *chan;   /* of struct outbuf * (NULL: wake-up, see reopen) */
	struct rt_chan *space;  /* elem 0, cap 1: a token after each write */
	struct rt_wg done;
	size_t queued;          /* atomic: bytes in chan */
	uint64_t written;       /* atomic: bytes written so far */
	uint64_t dropped;       /* atomic: grun's own lines dropped while full */
	uint64_t lost;          /* atomic: bytes that could not be written (an error) */
	uint64_t lost_lines;    /* atomic: FILE, DIR: lines that could not be written */
	int error;              /* atomic: errno of the first failed write, EPIPE aside */
	int broken;             /* writer only: EPIPE, nobody will ever read */
	int64_t last_report;    /* writer only: when a write error was last reported */
	/* FILE and DIR */
	int reopen;             /* atomic: SIGUSR1 asked for a reopen */
	int64_t retry_at;       /* writer only: the file could not be opened; try again then */
	int64_t max_size;       /* DIR: rotate when current would grow past it */
	int keep;               /* DIR: rotated files kept */
	int64_t size;           /* DIR, writer only: bytes in current */
	struct sv_sink *next;   /* the registry (logfile.c) */
};

/* Bytes per buffer a pump hands a sink (each at most this + a line). */
#define OUTBUF_MAX (64u << 10)
/* Emptied buffers of OUTBUF_MAX bytes kept for the pumps, all sinks
 * together (output.c: out.spares). */
#define OUTBUF_SPARES 32
/* Queue bound per sink, in bytes and buffers. */
#define SINK_QUEUE_BYTES (1u << 20)
#define SINK_QUEUE_BUFS 4096
/* A write error is reported at most this often. */
#define SINK_REPORT_EVERY (10000 * 1000000LL)

/* Set (atomic) once a file or directory sink has lost lines: grun's exit
 * status says output was lost. */
extern int sv_sink_lost_any;

/* output.c: makes s's channels and starts its writer (G only). 0 or -1. */
int sv_sink_start(struct sv_sink *s, const char *gname);
/* output.c: frees b, or keeps it for a pump to fill again.  Any G. */
void sv_outbuf_done(struct outbuf *b);

/* syslog priorities of grun's own lines and of job lines under journald */
enum { PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_NOTICE = 5, PRIO_INFO = 6 };

/* Shared by a pump and the job waiting for it; the last to let go frees it. */
struct sv_pump_end {
	int refs;               /* atomic */
	int parked;             /* atomic: the pump waits for room in a sink */
	int job_ended;          /* atomic: the job stopped waiting for the pump */
	struct rt_chan *eof;    /* closed when the pump has written everything */
	struct rt_chan *stalled; /* elem 0, cap 1: a token each time the pump parks */
};


/* output.c: the sinks' queues, for the pumps (pump.c) and grun's own
 * lines.  sv_outbuf_get() is an empty buffer of OUTBUF_MAX bytes: a
 * spare, or a new one.  sv_sink_put_wait() queues a pump's buffer,
 * parking until there is room (back-pressure on the job; e, which may be
 * NULL, learns meanwhile that the pump is parked): 0, or -1 when the
 * pump gave up because its job had ended and s wrote nothing for
 * 250 ms (b is still the caller's).  sv_sink_put_nowait() never
 * waits: 0 queued (or written directly after the end), -1 the queue is
 * full (b is still the caller's).  sv_report_dropped() logs a pump's
 * count of dropped lines: 0 when that line was queued.  Any G. */
struct outbuf *sv_outbuf_get(void);
int sv_sink_put_wait(struct sv_sink *s, struct outbuf *b, struct sv_pump_end *e);
int sv_sink_put_nowait(struct sv_sink *s, struct outbuf *b);
int sv_report_dropped(const char *name, int which, const char *where, uint64_t n, int gave_up);

/* output.c: the set-up the pumps follow, fixed by sv_output_start()
 * before any pump runs.  sv_output_ts() is the stamp format of job lines
 * in a log directory (in_dir) or elsewhere: --timestamps as asked, or by
 * default ISO in directories and none on grun's streams.
 * sv_output_stream_sink() is the sink of a job's stream which (1 stdout,
 * 2 stderr) when it is neither a file nor a log directory: journald's
 * socket (*native set) under --log-format=native, else grun's stderr or
 * stdout.  sv_output_name_width() pads job names on grun's streams.
 * sv_output_pumps() counts the running pumps (sv_output_stop waits for
 * them). */
enum sv_ts sv_output_ts(int in_dir);
struct sv_sink *sv_output_stream_sink(int which, int *native);
int sv_output_name_width(void);
struct rt_wg *sv_output_pumps(void);

/* logfile.c */
/* sv_sink_find() is the sink of a file: output (kind SINK_FILE) or a log
 * directory (SINK_DIR) of path, made and started on first use with j's
 * rotation settings; NULL when it cannot be made (logged).  Any G. */
struct sv_sink *sv_sink_find(enum sink_kind kind, const char *path, const struct sv_job *j);
/* sv_sink_file_write() writes a buffer of whole lines (raw bytes for
 * FILE) to a file or directory sink, opening and rotating as needed;
 * what cannot be written is counted and reported.  Its writer only. */
void sv_sink_file_write(struct sv_sink *s, const char *p, size_t n);
/* sv_sink_file_reopen() closes the file, to be opened again at the next
 * write (SIGUSR1).  Its writer only. */
void sv_sink_file_reopen(struct sv_sink *s);
/* sv_sinks_list() is a snapshot of every file and directory sink (the
 * caller frees the array; *n gets their number). */
struct sv_sink **sv_sinks_list(size_t *n);
/* sv_sinks_free() forgets every sink, after their writers ended. */
void sv_sinks_free(void);
#endif
