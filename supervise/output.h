/*
 * output.h - everything grun writes: its event log, and the lines of
 * jobs whose stdout or stderr is "log".
 *
 * Each of grun's stdout and stderr has one writer green thread fed by a
 * channel of whole buffers, so a line is always written by one write(2)
 * call of one thread and lines of different jobs never interleave.  A
 * pump green thread per job run (both its pipes; pump.c) cuts the job's
 * output into lines and prefixes each with the job's name (padded to the
 * longest name, colored on a terminal), stamps it (timestamp.h) and, for
 * journald, gives it a "<N>" priority (or, with --log-format=native,
 * makes it an entry with fields of its own, sent to journald's socket by
 * one more writer).  A job's file: outputs and its log = DIR directory
 * are sinks of their own with their own writers (logfile.c).  A full
 * channel parks the pumps, which stop reading the pipes, which blocks the
 * jobs: back-pressure all the way (or, with log_overflow = drop, the
 * lines are dropped and counted).  Supervision never waits for a sink.
 */
#ifndef GRUN_SV_OUTPUT_H
#define GRUN_SV_OUTPUT_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "supervise/config.h"

enum sv_verbosity { SV_QUIET = -1, SV_NORMAL = 0, SV_VERBOSE = 1 };

struct sv_pump_end;

/* sv_output_set_format() is called before sv_output_start(): time stamps
 * (SV_TS_AUTO: none on grun's streams, iso in log directories) and the
 * format (SV_LOG_AUTO: journal on a stream JOURNAL_STREAM names). */
void sv_output_set_format(enum sv_ts ts, enum sv_log_format format);

/* sv_output_start() starts the two writers; stdout_gone(arg) is called
 * (once, from the writer, never parking) when grun's stdout reader goes
 * away (EPIPE).  stdout_is_data: grun's
 * stdout carries a channel (chan:stdout), so job lines go to stderr.  color: 1 on, 0 off, -1 auto
 * (on when the stream is a terminal and NO_COLOR is unset).  G only. */
int sv_output_start(int color, int name_width, enum sv_verbosity v, int stdout_is_data,
                    void (*stdout_gone)(void *), void *arg);
/* sv_output_stop() flushes and ends the writers; a writer that makes no
 * progress for a second (a reader that never reads) is given up, and
 * sv_output_stuck() then says 1: the process must exit without waiting
 * for it.  G only. */
void sv_output_stop(void);
int sv_output_stuck(void);
/* sv_output_failed() says whether a write to grun's stdout or stderr
 * failed (a full disk, an I/O error; not EPIPE): output was lost. */
int sv_output_failed(void);
/* sv_info() writes "grun: " and the formatted text as one line on
 * stderr unless quiet; sv_debug() only when verbose; sv_err() always.
 * They never park: when stderr is not being read and its queue is full,
 * the line is dropped and counted.  G only. */
void sv_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sv_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sv_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sv_warn(): always written, at priority warning under journald (sv_err
 * is err, sv_info notice, sv_debug info). */
void sv_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sv_output_verbose() says whether -v was given. */
int sv_output_verbose(void);
/* sv_output_reopen() asks every file: output and log directory to be
 * reopened before its next write (SIGUSR1); returns how many there are.
 * Never parks. */
int sv_output_reopen(void);
/* sv_pump_start() starts a green thread that reads a job's stdout pipe
 * out_fd and stderr pipe err_fd (either may be -1; both non-blocking and
 * just made; both are owned and closed by the pump) until EOF on both.
 * Each pipe goes where job j says: a file: output gets the bytes as
 * they are; a log one goes to j's log directory, or to grun's stdout
 * (the lines of out_fd) or stderr (err_fd) prefixed with name (the
 * instance's); color_index picks the color; inst (1-based) and pid (the job's process) name its journald
 * entries with --log-format=native; log (may be NULL) gets a copy of
 * every line that is not a file: output's, for grunctl logs (joblog.h).
 * With end, *end gets a handle for sv_pump_end_wait().  0, or -1 (the
 * fds are still the caller's).  G only. */
struct sv_joblog;
int sv_pump_start(int out_fd, int err_fd, const struct sv_job *j, const char *name, int inst,
                  int color_index, int pid, struct sv_joblog *log, struct sv_pump_end **end);
/* sv_pump_end_wait() waits until the pump has written the last line of its
 * pipes, or the deadline, and lets go of *end.  So a job's output comes
 * before its exit in the log even when other pumps are busy; but it
 * returns at once when the pump is waiting for room in a sink (a reader
 * that does not read): supervision does not wait for a stalled log. */
void sv_pump_end_wait(struct sv_pump_end *end, int64_t deadline);
#endif
