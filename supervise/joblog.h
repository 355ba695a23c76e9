/*
 * joblog.h - the recent lines of each job instance, for `grunctl logs`,
 * and the followers of `grunctl logs -f`.
 *
 * A job's output pump (pump.c) hands every line it logs to the job's
 * joblog: a byte ring (allocated when the job first writes, growing from
 * 1 KiB to SV_JOBLOG_BYTES) that forgets the oldest lines, and a copy to each follower.  A
 * follower is a bounded ring of its own: one that does not keep up skips
 * lines (counted), and the pump never waits for it.
 *
 * Invariants: a joblog's ring and follower list are under its own mutex,
 * held for a copy, never across a park; a joblog is reference-counted
 * (its node, each pump of its runs, each follower attached) and freed
 * with the last reference; a follower holds a reference on every joblog
 * it is attached to, so detaching never touches freed memory.
 */
#ifndef GRUN_SV_JOBLOG_H
#define GRUN_SV_JOBLOG_H
#include <stddef.h>
#include <stdint.h>

/* Bytes of recent output kept per job instance, lines and headers. */
#define SV_JOBLOG_BYTES (32u << 10)

struct sv_joblog;
struct sv_follower;

/* One line as read back. */
struct sv_logline {
	int64_t wall_ns;       /* CLOCK_REALTIME when grun read it */
	int stream;            /* 1 stdout, 2 stderr */
	const char *name;      /* the job instance ("web#2") */
	const char *text;      /* without its newline; not NUL-terminated */
	size_t len;
};

/* sv_joblog_new() makes the joblog of instance `name` (one reference;
 * exits 71 when out of memory, as xalloc.h). */
struct sv_joblog *sv_joblog_new(const char *name);
void sv_joblog_ref(struct sv_joblog *l);
void sv_joblog_unref(struct sv_joblog *l);
/* sv_joblog_add() records the lines in data[0..len) read from stream at
 * wall_ns (CLOCK_REALTIME, ns; one read's lines share it): each ends
 * with '\n', except a last one without it (a partial line flushed at
 * EOF, or a piece of a cut one); empty lines are not recorded.  One lock
 * for them all; with no follower, lines the ring would forget before the
 * call returns are not copied.  Never parks; any G. */
void sv_joblog_add(struct sv_joblog *l, int stream, int64_t wall_ns, const char *data, size_t len);
/* sv_joblog_tail() calls fn for each of the last n lines of l (all kept
 * if n < 0), oldest first, on a copy taken under the lock (fn may park).
 * Returns the number of lines. */
size_t sv_joblog_tail(struct sv_joblog *l, long n, void (*fn)(const struct sv_logline *, void *),
                      void *arg);

/* sv_follower_new() makes a follower holding up to `bytes` of unread
 * lines; wake_fd (an eventfd, the caller's) becomes readable when a line
 * arrives while none was unread.  NULL on allocation failure. */
struct sv_follower *sv_follower_new(size_t bytes, int wake_fd);
/* sv_follower_attach() adds l's last `backlog` lines (all kept if < 0)
 * and every future one to f, so that none is missed or seen twice.  Its
 * owner only. */
void sv_follower_attach(struct sv_follower *f, struct sv_joblog *l, long backlog);
/* sv_follower_take() calls fn for each unread line (on a copy; fn may
 * park) and returns how many; *skipped gets the lines lost to a full
 * ring since the last call.  The next line after it returned 0 makes
 * wake_fd readable again. */
size_t sv_follower_take(struct sv_follower *f, void (*fn)(const struct sv_logline *, void *),
                        void *arg, uint64_t *skipped);
/* sv_follower_free() detaches f from every joblog and frees it. */
void sv_follower_free(struct sv_follower *f);
#endif
