/*
 * proc.c - creating child processes the runtime can wait for.
 *
 * libev reaps every child, so the poller must know a child before it can
 * reap it: rt_proc_start() reserves the child's record first and the
 * clone writes the new pid into it (CLONE_PARENT_SETTID) before the child
 * runs (poll.c).  No lock is held while the clone waits for the exec, so
 * the poller, timers and other spawns go on meanwhile.
 *
 * The child is made with clone(CLONE_VM | CLONE_VFORK) on a small stack
 * of its own, as glibc's posix_spawn does: no copy of the parent's page
 * tables, and the calling thread waits until the child has exec'd or
 * died.  Until then the child shares the parent's memory, so it may only
 * make async-signal-safe calls; it reports a failure by storing an errno
 * value in the shared struct (and, where the child does not share our
 * memory, in a close-on-exec pipe) before _exit(127).  child_fn must
 * leave that descriptor (args.errfd) alone.  All signals are blocked
 * around the clone so no parent handler runs in the child; the child puts
 * back the default disposition of every signal that was caught or ignored
 * when rt_run() started (rt_proc_snapshot_signals) and clears its mask
 * before calling the user's function.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_internal.h"
#ifdef RT_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define CHILD_STACK (64u << 10)

struct child_args {
	int (*fn)(void *);
	void *arg;
	int err;
	int errfd;
};

/* The kernel's struct sigaction (x86-64 and aarch64): the raw system
 * call also reaches signals 32 and 33, which glibc's sigaction() refuses
 * but which a parent may have left ignored. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* Signals whose disposition is not SIG_DFL in this process, as read by
 * rt_proc_snapshot_signals() when rt_run() starts (after the runtime
 * installed its own handlers): the child resets exactly these, one
 * system call each, instead of asking about all 64 (system calls cost
 * about a microsecond each in some VMs).  Read-only afterwards. */
static uint64_t signals_to_reset;

void rt_proc_snapshot_signals(void)
{
	struct kernel_sigaction old;
	uint64_t set = 0;
	for (int s = 1; s <= 64; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, s, NULL, &old, sizeof old.mask) != 0 || old.handler != SIG_DFL)
			set |= 1ULL << (s - 1);
	}
	signals_to_reset = set;
}

static int child_main(void *p)
{
	struct child_args *a = p;
	struct kernel_sigaction dfl = { .handler = SIG_DFL };
	for (uint64_t set = signals_to_reset; set; set &= set - 1)
		syscall(SYS_rt_sigaction, __builtin_ctzll(set) + 1, &dfl, NULL, sizeof dfl.mask);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int err = a->fn(a->arg);
	a->err = err ? err : ENOEXEC;
	if (a->errfd >= 0) {
		ssize_t w = write(a->errfd, &a->err, sizeof a->err); /* failing: the shared copy tells */
		(void)w;
	}
	_exit(127);
}

/* A close-on-exec pipe for the exec error, where the child does not
 * share our memory: under TSan (fork) and under valgrind (which turns a
 * vfork into a fork; detected in --enable-valgrind builds only). */
static bool need_errpipe(void)
{
#if defined(RT_SANITIZE_THREAD)
	return true;
#elif defined(RT_VALGRIND)
	return RUNNING_ON_VALGRIND;
#else
	return false;
#endif
}

static pid_t proc_start(int (*child_fn)(void *), void *arg, bool waited)
{
	struct child_args a = { .fn = child_fn, .arg = arg, .errfd = -1 };
	int errpipe[2] = { -1, -1 };
	char *stack = malloc(CHILD_STACK);
	if (!stack)
		return -1;
	if (need_errpipe() && pipe2(errpipe, O_CLOEXEC) < 0) {
		free(stack);
		return -1;
	}
	struct proc_rec *rec = rt_proc_reserve(waited);
	if (!rec) {
		if (errpipe[0] >= 0) {
			close(errpipe[0]);
			close(errpipe[1]);
		}
		free(stack);
		errno = ENOMEM;
		return -1;
	}
	a.errfd = errpipe[1];
	sigset_t all, old;
	sigfillset(&all);
	bool in_g = rt_g_current() != NULL;
	if (in_g)
		rt_blocking_begin();
	pthread_sigmask(SIG_SETMASK, &all, &old);
#ifdef RT_SANITIZE_THREAD
	/* TSan keeps its per-thread state in TLS, which a CLONE_VM child
	 * would share: fork instead (errors come back through the pipe), with
	 * the poll lock held until the record has the pid, as fork cannot
	 * store it before the child runs. */
	rt_poll_lock();
	pid_t pid = fork();
	if (pid == 0)
		child_main(&a);
	if (pid > 0)
		__atomic_store_n(rt_proc_pidp(rec), pid, __ATOMIC_RELAXED);
	rt_poll_unlock();
#else
	pid_t pid = clone(child_main, stack + CHILD_STACK,
	                  CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, &a,
	                  rt_proc_pidp(rec));
#endif
	int err = pid < 0 ? errno : 0;
	if (errpipe[0] >= 0) {
		close(errpipe[1]);
		if (pid > 0 && !a.err) {
			int e = 0;
			while (read(errpipe[0], &e, sizeof e) < 0 && errno == EINTR)
				;
			a.err = e;
		}
		close(errpipe[0]);
	}
	if (pid > 0 && a.err)
		err = a.err;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (in_g)
		rt_blocking_end();
	rt_proc_settle(rec, pid, pid > 0 && a.err); /* may ready a G: outside the region */
	free(stack);
	if (err) {
		errno = err;
		return -1;
	}
	return pid;
}

pid_t rt_proc_start(int (*child_fn)(void *), void *arg)
{
	return proc_start(child_fn, arg, false);
}

pid_t rt_proc_start_waited(int (*child_fn)(void *), void *arg)
{
	return proc_start(child_fn, arg, true);
}
