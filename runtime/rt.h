/*
 * rt.h - grun's green-thread runtime: the whole public interface.
 *
 * An M:N scheduler in the style of Go's: green threads (G) run on OS
 * threads (M) that hold one of a fixed number of processors (P).  Green
 * threads talk through channels and select; they sleep, wait for file
 * descriptors, child processes and signals through one libev loop; they
 * make blocking calls inside a blocking region so that the others keep
 * running.  runtime/HACKING.md explains the design.
 *
 * Conventions: calls return -1 and set errno on failure, never exit.
 * Times are int64_t nanoseconds of CLOCK_MONOTONIC (rt_now()); a deadline
 * is such an absolute time, RT_NEVER waits forever and any time already
 * past (for example 0) makes the call only poll.
 *
 * Calls marked "G only" may be called only from a green thread; the
 * others may be called from any thread once rt_run() has started.
 *
 * errno and thread-local storage: a green thread may resume on another OS
 * thread after any call that can park it.  This header redefines errno
 * as (*rt_errno()), a call the compiler cannot hoist, so code that
 * includes it never reads another thread's errno through a cached
 * address; the runtime also carries each G's errno value across
 * switches.  Every file whose code runs on green threads must include
 * this header.  Your own __thread variables belong to the OS thread, not
 * to the green thread: do not keep their addresses across a call that
 * may park.
 */
#ifndef GRUN_RT_H
#define GRUN_RT_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_NEVER INT64_MAX

/* ---- Starting and stopping ---------------------------------------- */

struct rt_config {
	int procs;          /* number of Ps; 0: the cgroup CPU quota, else the online CPUs */
	size_t stack_size;  /* bytes per green-thread stack; 0: 64 KiB (min 16 KiB) */
	int guard_pages;    /* 1 (the default): a guard page below every stack, as a guard
	                       marker (Linux 6.13 and later), else as 2 does;
	                       2: a PROT_NONE page below each stack while the
	                       vm.max_map_count budget allows (about 28,000), canaries
	                       beyond; 0: canaries only */
	sigset_t signals;   /* signals delivered through rt_signal_wait() (sigemptyset: none) */
	int max_threads;    /* OS threads for running green threads, the caller's included
	                       (the monitor thread is not counted); 0: no limit but the
	                       runtime's 10,000.  At the limit, as when the OS refuses a
	                       thread (RLIMIT_NPROC, memory, vm.max_map_count), the runtime
	                       goes on with the threads it has: work waits for a thread that
	                       is busy or blocked, never a crash (rt_stats.threads_failed
	                       counts the refusals; rt_limit_message() says so).  Also the
	                       test hook for that path (t/rt/19-threads.c). */
};

/* rt_config_default() fills *cfg with the defaults: procs from the CPU
 * quota, 64 KiB stacks, guard pages (guard_pages = 1), no signals. */
void rt_config_default(struct rt_config *cfg);

/* rt_run() starts the runtime in the calling thread, runs main_fn(arg) as
 * the first green thread and returns when it returns.  Other green threads
 * still alive at that moment are discarded at their next scheduling point
 * (one that never reaches one keeps rt_run from returning); all OS threads, stacks and
 * libev state are released, so rt_run() can be called again.  Returns 0,
 * or -1 with errno (EINVAL for a bad config, ENOMEM, EAGAIN) when the
 * runtime could not start.  Not callable from a green thread. */
int rt_run(const struct rt_config *cfg, void (*main_fn)(void *), void *arg);

/* rt_procs() is the number of Ps of the running runtime;
 * rt_default_procs() the number rt_run() would pick for procs = 0. */
int rt_procs(void);
int rt_default_procs(void);

/* ---- Green threads --------------------------------------------------- */

/* rt_go() starts fn(arg) in a new green thread.  Returns 0, or -1 with
 * errno EAGAIN when no stack can be had (address space, map count or
 * memory limit); rt_limit_message() then says which limit was hit. */
int rt_go(void (*fn)(void *), void *arg);

/* rt_go_named() is rt_go() with a name shown in crash messages and
 * dumps; the string must outlive the green thread. */
int rt_go_named(const char *name, void (*fn)(void *), void *arg);

/* rt_limit_message() describes the last limit rt_go() ran into. */
const char *rt_limit_message(void);

/* rt_exit() ends the calling green thread at once.  G only. */
void rt_exit(void) __attribute__((noreturn));

/* rt_yield() lets the other runnable green threads run.  G only. */
void rt_yield(void);

/* rt_self() is the calling green thread's id (ids start at 1 and are never
 * reused; each P hands them out from its own batch, so with several Ps
 * they are not in spawn order), 0 outside green threads.  rt_self_name()
 * its name or NULL. */
uint64_t rt_self(void);
const char *rt_self_name(void);

/* rt_m_id() is the index of the OS thread running the caller (for tests
 * and logs: it changes when a green thread migrates). */
int rt_m_id(void);

/* ---- Wait groups ------------------------------------------------------ */

/* A wait group counts outstanding work (at most 2^31 - 1); rt_wg_wait()
 * parks until the count is zero.  Initialise with RT_WG_INIT or by
 * zeroing.  As with Go's WaitGroup, a group may be reused (or its memory
 * freed) as soon as every rt_wg_wait() has returned 0: the rt_wg_done()
 * that woke them no longer touches it.  After a wait timed out, the
 * group stays in use by the rt_wg_done() calls still to come. */
struct rt_wg {
	int64_t count;      /* atomic: the count << 32 | parked waiters */
	void *waiters;      /* parked waiters, under lock */
	uint32_t lock;      /* a runtime lock word */
};
#define RT_WG_INIT { 0, NULL, 0 }
void rt_wg_add(struct rt_wg *wg, int64_t delta);  /* count < 0 aborts */
void rt_wg_done(struct rt_wg *wg);
void rt_wg_wait(struct rt_wg *wg);                 /* G only */
/* rt_wg_wait_until() is rt_wg_wait() with a deadline: 0 once the count is
 * zero (at once if it is zero now), or -1 with errno ETIMEDOUT when the
 * deadline passes first (RT_NEVER: no deadline; a deadline already past
 * only looks at the count).  A count that reaches zero as the deadline
 * fires returns 0.  G only. */
int rt_wg_wait_until(struct rt_wg *wg, int64_t deadline);

/* ---- Time ---------------------------------------------------------- */

/* rt_now() is CLOCK_MONOTONIC in nanoseconds. */
int64_t rt_now(void);

/* rt_sleep() parks the caller for ns nanoseconds (at least); rt_sleep_until()
 * until the deadline.  G only. */
void rt_sleep(int64_t ns);
void rt_sleep_until(int64_t deadline);

/* ---- Channels ------------------------------------------------------ */

struct rt_chan;

/* rt_chan_make() makes a channel of elements of elem_size bytes (0 is
 * allowed: a pure signal) holding up to cap elements in its buffer (0:
 * unbuffered, every send meets a receive).  NULL with errno on failure. */
struct rt_chan *rt_chan_make(size_t elem_size, size_t cap);

/* rt_chan_free() frees a channel no green thread is using any more. */
void rt_chan_free(struct rt_chan *c);

/* rt_chan_send() copies *elem into the channel, parking while it has no
 * room and no receiver.  0, or -1 with errno EPIPE if the channel is or
 * becomes closed (the element was not sent).  G only. */
int rt_chan_send(struct rt_chan *c, const void *elem);

/* rt_chan_recv() receives into *elem (may be NULL to drop it), parking
 * while the channel is empty.  1 when an element was received, 0 when the
 * channel is closed and drained (*elem is zeroed).  G only. */
int rt_chan_recv(struct rt_chan *c, void *elem);

/* rt_chan_close() closes the channel: pending and later receives drain
 * the buffer and then return 0; parked and later senders get EPIPE.
 * 0, or -1 with EPIPE if it was already closed.  Any thread. */
int rt_chan_close(struct rt_chan *c);

/* rt_chan_len()/rt_chan_cap(): elements buffered now, and capacity. */
size_t rt_chan_len(struct rt_chan *c);
size_t rt_chan_cap(struct rt_chan *c);

/* ---- Select -------------------------------------------------------- */

enum rt_op { RT_RECV = 1, RT_SEND = 2 };

struct rt_case {
	struct rt_chan *chan; /* NULL: the case is never ready (as a nil channel in Go) */
	enum rt_op op;
	void *elem;           /* RT_SEND: element to send; RT_RECV: where to store (or NULL) */
	int ok;               /* out, chosen case only: RT_RECV 1 received / 0 closed;
	                         RT_SEND 1 sent / 0 channel closed (EPIPE) */
};

/* rt_select() waits until one of the n cases can proceed, performs it and
 * returns its index.  When several are ready it picks one uniformly at
 * random.  Returns -1 with errno ETIMEDOUT when the deadline passes first;
 * a deadline already past (0) is Go's default case.  The same channel may
 * appear in several cases.  G only. */
int rt_select(struct rt_case *cases, int n, int64_t deadline);

/* ---- File descriptors -------------------------------------------- */

enum { RT_READ = 1, RT_WRITE = 2 };

/* rt_fd_wait() parks until fd is readable (RT_READ) and/or writable
 * (RT_WRITE) as asked by events.  Returns the ready events, or -1 with
 * errno ETIMEDOUT at the deadline.  Level-triggered: call it only after
 * a non-blocking call reported EAGAIN.  G only. */
int rt_fd_wait(int fd, int events, int64_t deadline);

/* rt_fd_wait_any() is rt_fd_wait() on up to RT_FD_WAIT_MAX fds at once,
 * as poll(2): parks until at least one fds[i].fd is ready for
 * fds[i].events, then sets every fds[i].revents (RT_READ/RT_WRITE; a
 * hang-up or error counts as ready) and returns how many are ready.  An
 * entry with fd < 0 is ignored.  -1 with ETIMEDOUT at the deadline, or
 * EINVAL.  G only. */
#define RT_FD_WAIT_MAX 8
struct rt_pollfd {
	int fd;
	int events;
	int revents;
};
int rt_fd_wait_any(struct rt_pollfd *fds, int n, int64_t deadline);
/* rt_fd_wait_any_fresh() is rt_fd_wait_any() for fds that are most
 * likely not ready yet (pipes just made, whose writer has barely
 * started): it registers the wait at once instead of asking poll(2)
 * first, saving that call.  It is as correct as rt_fd_wait_any() for
 * fds that are ready: the registration sees them ready and the G is
 * readied at once. */
int rt_fd_wait_any_fresh(struct rt_pollfd *fds, int n, int64_t deadline);

/* rt_read()/rt_write() are read(2)/write(2) on a non-blocking fd that park
 * instead of returning EAGAIN; they fail with ETIMEDOUT at the deadline.
 * rt_write() writes all n bytes unless an error occurs (then it returns
 * -1; bytes already written are lost to the caller's view).  G only. */
ssize_t rt_read(int fd, void *buf, size_t n, int64_t deadline);
ssize_t rt_write(int fd, const void *buf, size_t n, int64_t deadline);

/* rt_fd_nonblock() sets O_NONBLOCK on fd.  0 or -1. */
int rt_fd_nonblock(int fd);

/* rt_close() closes an fd that green threads have waited on: it drops
 * the fd from the runtime's epoll set first, so its number can be reused
 * at once.  No green thread may be waiting on fd.  Returns close(2)'s
 * result.  Any thread. */
int rt_close(int fd);

/* ---- Child processes ----------------------------------------------- */

/* rt_proc_start() creates a child process that runs child_fn(arg) and
 * returns its pid.  The runtime owns reaping (libev reaps every child),
 * so children must be created here and waited with rt_proc_wait().
 *
 * child_fn runs in a vfork-like child that shares the parent's memory
 * until it calls execve: it may call only async-signal-safe functions,
 * must not return normally on success (it execs), and returns an errno
 * value if it fails; the runtime then ends the child with status 127,
 * reaps it, and rt_proc_start() returns -1 with that errno.  The child
 * starts with an empty signal mask and every signal at its default
 * disposition, provided the process changes signal dispositions only
 * before rt_run() (the runtime reads them once, when it starts).  Any
 * thread. */
pid_t rt_proc_start(int (*child_fn)(void *), void *arg);

/* rt_proc_start_fds() is rt_proc_start() for a child_fn that needs of the
 * parent's descriptors only *fds[0..nfds-1] (-1 entries are ignored) and
 * the parent's lowest few (0, 1, 2 and those opened before rt_run()).
 * The child gets no copy of the others, close-on-exec or not, which makes
 * a spawn cost the same with ten or ten thousand descriptors open.  The
 * runtime may move a descriptor to a low number for the length of the
 * call: it writes that number into *fds[i] (child_fn must read it there)
 * and puts the original back before returning.  Any thread. */
pid_t rt_proc_start_fds(int (*child_fn)(void *), void *arg, int *const *fds, int nfds);

/* rt_proc_adopt() makes pid, a child the process inherited as a
 * subreaper (re-parented to it when its parent ended), waitable with
 * rt_proc_wait() and rt_proc_wait_any() as if rt_proc_start() had made
 * it.  Exits of such children are otherwise dropped; the last 256 are
 * kept, so one that ended (and was reaped) before it was adopted is
 * still reported.  0, or -1 with errno ECHILD (not a child of this
 * process, nor one of those kept exits), EEXIST (already waitable) or
 * ENOMEM.  Any thread. */
int rt_proc_adopt(pid_t pid);
/* rt_proc_start_waited() is rt_proc_start() for a child whose exit only
 * rt_proc_wait() takes: rt_proc_wait_any() never returns it, even when it
 * exits before its creator calls rt_proc_wait().  Any thread. */
pid_t rt_proc_start_waited(int (*child_fn)(void *), void *arg);

/* rt_proc_wait() parks until child pid (made by rt_proc_start) has
 * exited and stores its wait status in *status.  0, -1 with ETIMEDOUT at
 * the deadline (the child stays owned: wait again), or ECHILD for an
 * unknown pid.  Only one green thread may wait for a pid.  G only. */
int rt_proc_wait(pid_t pid, int *status, int64_t deadline);

/* rt_proc_wait_any() parks until a child made by rt_proc_start() that no
 * green thread waits for with rt_proc_wait() has exited, and returns its
 * pid with its wait status in *status (as waitpid(-1) does): one green
 * thread can watch every child.  Exits are returned in the order they
 * happened.  -1 with ETIMEDOUT at the deadline, or ECANCELED after
 * rt_proc_wait_any_cancel().  G only. */
pid_t rt_proc_wait_any(int *status, int64_t deadline);

/* rt_proc_wait_any_cancel() makes one green thread parked in
 * rt_proc_wait_any() return -1 with ECANCELED, or the next call if none
 * is parked (once).  G only. */
void rt_proc_wait_any_cancel(void);

/* ---- Signals ----------------------------------------------------------- */

/* rt_signal_wait() parks until one of the signals in set (each must be in
 * rt_config.signals) arrives and returns its number, or -1 with ETIMEDOUT
 * (or EINVAL for a signal not in the config).  A signal that arrives with
 * no waiter is kept (one per signal number) for the next call.  G only. */
int rt_signal_wait(const sigset_t *set, int64_t deadline);

/* ---- Blocking calls ------------------------------------------------ */

/* Surround a call that may block the OS thread (regular-file I/O, DNS,
 * fsync, a long computation in a library):
 *
 *     rt_blocking_begin();
 *     n = read(fd, buf, len);
 *     rt_blocking_end();
 *
 * If the call takes longer than ~20 us the monitor hands this thread's P
 * to another OS thread, so the other green threads go on running.  Nothing
 * between the two may call the runtime.  G only. */
void rt_blocking_begin(void);
void rt_blocking_end(void);

/* ---- Locks held by green threads ---------------------------------- */

/* A green thread must never switch away while it holds an OS-level lock
 * (a pthread mutex, a spinlock): it may resume on another OS thread, which
 * would then unlock a mutex it never locked, and meanwhile any other green
 * thread taking the lock blocks its whole OS thread.  "Switch away" is
 * every call that can park: channel operations, rt_select, rt_sleep,
 * rt_wg_wait, the fd, child and signal waits, and rt_yield too; also
 * rt_blocking_end when the monitor took the P meanwhile.
 *
 * rt_lock_held() keeps the count of such locks the calling green thread
 * holds: +1 right after acquiring one, -1 right before releasing it.  A
 * green thread that parks or exits with a count other than zero aborts
 * the process with 'grun: runtime: G "NAME" parks while holding N
 * lock(s)' (Go's "schedule: holding locks").  The check is always on.
 * Called outside a green thread it does nothing.  A count below zero
 * aborts. */
void rt_lock_held(int delta);

/* ---- errno -------------------------------------------------------------- */

/* See the header comment: errno is re-read at every use. */
int *rt_errno(void);
#undef errno
#define errno (*rt_errno())

/* ---- Introspection ------------------------------------------------------- */

struct rt_stats {
	uint64_t spawned;       /* green threads started */
	uint64_t live;          /* green threads not yet exited */
	uint64_t stacks_mapped; /* stack slots ever carved */
	uint64_t stacks_guarded;/* of which protected by a guard page */
	uint64_t stacks_trimmed;/* free stacks whose memory went back to the kernel */
	uint64_t retakes_syscall; /* Ps handed off from blocking regions */
	uint64_t retakes_hog;   /* Ps handed off from green threads running > 10 ms */
	uint64_t preempts;      /* green threads that gave way at a runtime safe point */
	uint64_t ms;            /* OS threads created */
	uint64_t threads_failed;/* OS threads the runtime could not create (see max_threads) */
	uint64_t polls;         /* blocking libev iterations */
	uint64_t sysmon_wakes;  /* monitor wake-ups */
};
void rt_stats_get(struct rt_stats *st);

/* rt_dump() writes one line per green thread (id, name, state, wait
 * reason) to fd; for debugging hangs. */
void rt_dump(int fd);

#endif
