/*
 * proc.c - creating child processes the runtime can wait for.
 *
 * libev reaps every child, so the poller must know a child before it can
 * reap it: rt_proc_start() reserves the child's record first and the
 * clone writes the new pid into it (CLONE_PARENT_SETTID) before the child
 * runs (child.c).  No lock is held while the clone waits for the exec, so
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
 *
 * Descriptors (rt_proc_start_fds).  A plain clone copies the parent's
 * whole descriptor table into the child (a reference taken on every open
 * file), and the exec then closes every close-on-exec one again: with a
 * thousand jobs running, each holding two pipes, every spawn paid for two
 * thousand descriptors twice.  So the child shares the table instead
 * (CLONE_FILES) and, first thing, takes a private copy of only its low
 * part: close_range(keep_below, ~0U, CLOSE_RANGE_UNSHARE) copies the
 * descriptors below keep_below and nothing above.  The descriptors the
 * child needs that sit higher are first moved (dup3) into a set of low
 * slots reserved when the runtime starts, and the slots are emptied
 * (dup3 of /dev/null over them) once the clone returns.  While the table
 * is small (every descriptor passed lies less than SMALL_TABLE above the
 * slots) nothing is moved and keep_below is just above the highest one.
 * Where close_range cannot unshare (Linux before 5.9) the child unshares
 * the whole table, as a plain clone would have copied it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_internal.h"
#ifdef RT_VALGRIND
#include <valgrind/valgrind.h>
#endif
#ifdef RT_SANITIZE_ADDRESS
#include <sanitizer/asan_interface.h>
#endif

#define CHILD_STACK (64u << 10)

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

struct child_args {
	int (*fn)(void *);
	void *arg;
	int err;
	int errfd;
	int keep_below;           /* >= 0: the table is shared; unshare it, keeping fds below this */
};

/* Low descriptor slots (see the top of the file): SLOT_SETS sets of
 * SLOT_FDS descriptors, reserved by rt_run before the first M starts
 * (rt_proc_slots_init) and closed by its teardown, holding /dev/null
 * while free.  A set is taken by one spawn at a time through the bits of
 * slots.free; its descriptors are that spawn's to dup3 over until it
 * gives the set back.  slots.end is one above the highest slot; 0 when
 * the slots could not be reserved (every spawn then keeps the
 * descriptors up to its own highest one), and when RLIMIT_NOFILE is
 * under SLOTS_MIN_NOFILE, where 17 descriptors are too many to set
 * aside. */
#define SLOT_SETS 4
#define SLOT_FDS 4
#define SMALL_TABLE 64
#define SLOTS_MIN_NOFILE 256 /* below this soft limit no slots are reserved */
static struct {
	int fd[SLOT_SETS][SLOT_FDS];
	int filler;               /* /dev/null, read-only, close-on-exec */
	int end;
	_Atomic unsigned free;    /* bit k: set k is free */
} slots = { .filler = -1 };

/* Stacks for the clone's child, kept between spawns: a malloc and free
 * of 64 KiB per spawn made glibc give the block back to the kernel at
 * each free (an madvise) and fault its pages in again at the next spawn.
 * A spawn takes a free one (bit k of child_stacks.free set) or mallocs
 * its own if all STACKS_KEPT are in use; stacks are made on first need
 * and kept until rt_run's teardown (rt_proc_slots_fini).  Any thread. */
#define STACKS_KEPT 4
static struct {
	char *stack[STACKS_KEPT];
	_Atomic unsigned free;    /* bit k: stack[k] is free (or not made yet) */
} child_stacks = { .free = (1u << STACKS_KEPT) - 1 };

/* A child stack; *k gets its index in child_stacks, or -1 if malloc'd. */
static char *child_stack_get(int *k)
{
	unsigned f = atomic_load(&child_stacks.free);
	while (f) {
		int i = __builtin_ctz(f);
		if (atomic_compare_exchange_weak(&child_stacks.free, &f, f & ~(1u << i))) {
			if (!child_stacks.stack[i] && !(child_stacks.stack[i] = malloc(CHILD_STACK))) {
				atomic_fetch_or(&child_stacks.free, 1u << i);
				break;
			}
			*k = i;
#ifdef RT_SANITIZE_ADDRESS
			/* the last child never returned from its frames (it exec'd
			 * or exited), so their redzones are still poisoned */
			ASAN_UNPOISON_MEMORY_REGION(child_stacks.stack[i], CHILD_STACK);
#endif
			return child_stacks.stack[i];
		}
	}
	*k = -1;
	return malloc(CHILD_STACK);
}

static void child_stack_put(char *stack, int k)
{
	if (k >= 0)
		atomic_fetch_or(&child_stacks.free, 1u << k);
	else
		free(stack);
}

/* Cleared for good once a clone refused CLONE_FILES (valgrind). */
static _Atomic bool slots_clone_files = true;

void rt_proc_slots_init(void)
{
	struct rlimit rl;
	slots.filler = -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < SLOTS_MIN_NOFILE)
		return; /* too few descriptors to set any aside */
	int filler = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int end = 0;
	if (filler < 0)
		goto fail;
	for (int k = 0; k < SLOT_SETS; k++) {
		for (int i = 0; i < SLOT_FDS; i++) {
			int fd = fcntl(filler, F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				goto fail;
			slots.fd[k][i] = fd;
			if (fd + 1 > end)
				end = fd + 1;
		}
	}
	slots.filler = filler;
	slots.end = end;
	atomic_store(&slots.free, (1u << SLOT_SETS) - 1);
	return;
fail:
	/* no slots: spawns still share the table and keep their own range */
	slots.filler = filler;
	rt_proc_slots_fini();
}

/* rt_run's teardown: every spawn has returned. */
void rt_proc_slots_fini(void)
{
	if (slots.filler >= 0)
		close(slots.filler);
	for (int k = 0; k < SLOT_SETS; k++)
		for (int i = 0; i < SLOT_FDS; i++)
			if (slots.fd[k][i] > 0)
				close(slots.fd[k][i]);
	memset(&slots, 0, sizeof slots);
	slots.filler = -1;
	for (int k = 0; k < STACKS_KEPT; k++) {
		free(child_stacks.stack[k]);
		child_stacks.stack[k] = NULL;
	}
}

/* What one spawn does with the descriptors its child needs. */
struct fd_plan {
	int set;                  /* slot set taken, or -1 */
	int n;                    /* descriptors moved into it */
	int *where[SLOT_FDS];     /* the caller's variables, rewritten while moved */
	int orig[SLOT_FDS];
};

/* Decides keep_below for a child needing *fds[0..nfds-1] (-1 entries are
 * unused), moving high ones into a slot set when the table is big. */
static int plan_fds(int *const *fds, int nfds, struct fd_plan *pl)
{
	int max = 2;
	pl->set = -1;
	pl->n = 0;
	for (int i = 0; i < nfds; i++)
		if (*fds[i] > max)
			max = *fds[i];
	if (max < slots.end + SMALL_TABLE)
		return max + 1 > slots.end ? max + 1 : slots.end;
	int high = 0;
	for (int i = 0; i < nfds; i++)
		high += *fds[i] >= slots.end;
	unsigned f = atomic_load(&slots.free);
	while (high <= SLOT_FDS && f) {
		int k = __builtin_ctz(f);
		if (atomic_compare_exchange_weak(&slots.free, &f, f & ~(1u << k))) {
			pl->set = k;
			break;
		}
	}
	if (pl->set < 0)
		return max + 1; /* no set free: copy up to the highest */
	for (int i = 0; i < nfds; i++) {
		if (*fds[i] < slots.end)
			continue;
		int slot = slots.fd[pl->set][pl->n];
		if (dup3(*fds[i], slot, O_CLOEXEC) < 0)
			continue; /* cannot move it: kept where it is, below keep */
		pl->where[pl->n] = fds[i];
		pl->orig[pl->n] = *fds[i];
		*fds[i] = slot;
		pl->n++;
	}
	int keep = slots.end;
	for (int i = 0; i < nfds; i++)
		if (*fds[i] + 1 > keep)
			keep = *fds[i] + 1;
	return keep;
}

/* After the clone: empty the slots (the child has its own copies, or is
 * gone) so no pipe end stays open here, and give the set back. */
static void unplan_fds(struct fd_plan *pl)
{
	for (int i = 0; i < pl->n; i++) {
		while (dup3(slots.filler, *pl->where[i], O_CLOEXEC) < 0 && errno == EINTR)
			;
		*pl->where[i] = pl->orig[i];
	}
	if (pl->set >= 0)
		atomic_fetch_or(&slots.free, 1u << pl->set);
}

/* In the child, on the parent's table: take a private copy of the
 * descriptors below keep_below only. */
static int unshare_fds(int keep_below)
{
	if (syscall(SYS_close_range, (unsigned)keep_below, ~0U, CLOSE_RANGE_UNSHARE) == 0)
		return 0;
	return syscall(SYS_unshare, CLONE_FILES) == 0 ? 0 : errno;
}

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
	if (a->keep_below >= 0) {
		int err = unshare_fds(a->keep_below);
		if (err) {
			a->err = err;
			_exit(127);
		}
	}
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

static pid_t proc_start(int (*child_fn)(void *), void *arg, bool waited, int *const *fds, int nfds)
{
	struct child_args a = { .fn = child_fn, .arg = arg, .errfd = -1, .keep_below = -1 };
	struct fd_plan plan = { .set = -1 };
	int errpipe[2] = { -1, -1 };
	int stack_k;
	char *stack = child_stack_get(&stack_k);
	if (!stack)
		return -1;
	if (need_errpipe() && pipe2(errpipe, O_CLOEXEC) < 0) {
		child_stack_put(stack, stack_k);
		return -1;
	}
	struct proc_rec *rec = rt_proc_reserve(waited);
	if (!rec) {
		if (errpipe[0] >= 0) {
			close(errpipe[0]);
			close(errpipe[1]);
		}
		child_stack_put(stack, stack_k);
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
	int flags = CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD;
	if (fds && errpipe[0] < 0 && atomic_load_explicit(&slots_clone_files, memory_order_relaxed)) {
		a.keep_below = plan_fds(fds, nfds, &plan);
		flags |= CLONE_FILES;
	}
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
	pid_t pid = clone(child_main, stack + CHILD_STACK, flags, &a, rt_proc_pidp(rec));
	if (pid < 0 && errno == EINVAL && (flags & CLONE_FILES)) {
		/* valgrind turns a vfork into a fork and refuses CLONE_FILES */
		atomic_store_explicit(&slots_clone_files, false, memory_order_relaxed);
		a.keep_below = -1;
		pid = clone(child_main, stack + CHILD_STACK, flags & ~CLONE_FILES, &a, rt_proc_pidp(rec));
	}
#endif
	unplan_fds(&plan);
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
	child_stack_put(stack, stack_k);
	if (err) {
		errno = err;
		return -1;
	}
	return pid;
}

pid_t rt_proc_start(int (*child_fn)(void *), void *arg)
{
	return proc_start(child_fn, arg, false, NULL, 0);
}

pid_t rt_proc_start_fds(int (*child_fn)(void *), void *arg, int *const *fds, int nfds)
{
	return proc_start(child_fn, arg, false, fds, nfds);
}

pid_t rt_proc_start_waited(int (*child_fn)(void *), void *arg)
{
	return proc_start(child_fn, arg, true, NULL, 0);
}
