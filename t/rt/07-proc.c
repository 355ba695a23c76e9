/*
 * 07-proc.c - child processes: rt_proc_start/rt_proc_wait exit statuses,
 * exec failures, early exits, deadlines, unknown pids, 200 concurrent
 * children, the child's signal mask and dispositions, rt_proc_wait_any
 * (order, by-pid waiters, cancel, orphans, quick exits), rt_proc_start_waited
 * (its exit is only for rt_proc_wait), and no child left
 * behind.
 *
 * child_fn runs in a vfork-like child sharing our memory: it only calls
 * dup2, execve and close (async-signal-safe) and returns errno.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


extern char **environ;

struct exec_arg {
	const char *path;
	char *const *argv;
	int out_fd;        /* dup2'ed onto 1 if >= 0 */
};

static int exec_child(void *p)
{
	struct exec_arg *a = p;
	if (a->out_fd >= 0) {
		if (dup2(a->out_fd, 1) < 0)
			return errno;
		close(a->out_fd);
	}
	execve(a->path, a->argv, environ);
	return errno;
}

/* Every pid we started and whether it was reaped, to clean up on failure. */
#define MAXPIDS 512
static _Atomic pid_t pids[MAXPIDS]; /* atomics: Gs on other Ms read them */
static _Atomic int reaped[MAXPIDS];
static _Atomic int npids;

static pid_t start(const char *path, char *const *argv, int out_fd)
{
	struct exec_arg a = { path, argv, out_fd };
	pid_t pid = rt_proc_start(exec_child, &a);
	if (pid > 0) {
		int k = atomic_fetch_add(&npids, 1);
		if (k < MAXPIDS)
			pids[k] = pid;
	}
	return pid;
}

static void mark_reaped(pid_t pid)
{
	int n = atomic_load(&npids);
	for (int i = 0; i < n && i < MAXPIDS; i++)
		if (pids[i] == pid)
			reaped[i] = 1;
}

static int wait_for(pid_t pid, int *status, int64_t timeout)
{
	int r = rt_proc_wait(pid, status, rt_now() + timeout);
	if (r == 0)
		mark_reaped(pid);
	return r;
}

/* argv for sh -c script; a ring of 8, enough for the calls in flight. */
static char *const *sh_c(const char *script)
{
	static char *argv[8][4];
	static _Atomic int k;
	char **a = argv[atomic_fetch_add(&k, 1) % 8];
	a[0] = "sh";
	a[1] = "-c";
	a[2] = (char *)script;
	a[3] = NULL;
	return a;
}

static const char *status_str(int st)
{
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof buf, "status %#x", st);
	return buf;
}

/* Children of this process still present (zombies included), from
 * /proc/<pid>/stat: the field after the ")" is the state, then the ppid. */
static int count_children(int verbose)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	int n = 0;
	pid_t me = getpid();
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		char *rp = strrchr(buf, ')');
		char state;
		int ppid;
		if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == me) {
			n++;
			if (verbose)
				diag("child still present: pid %s state %c", e->d_name, state);
		}
	}
	closedir(d);
	return n;
}

/* ---- statuses --------------------------------------------------------------- */

static void test_statuses(void)
{
	static char *true_argv[] = { "true", NULL }, *false_argv[] = { "false", NULL };
	int st = -1;
	pid_t p = start("/bin/true", true_argv, -1);
	ok(p > 0, "rt_proc_start(/bin/true) returned a pid (%d)", (int)p);
	int r = wait_for(p, &st, 5000 * MS);
	ok(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "/bin/true: exit 0 (%s)", status_str(st));

	st = -1;
	p = start("/bin/false", false_argv, -1);
	r = wait_for(p, &st, 5000 * MS);
	ok(p > 0 && r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "/bin/false: exit 1 (%s)",
	   status_str(st));

	st = -1;
	p = start("/bin/sh", sh_c("exit 7"), -1);
	r = wait_for(p, &st, 5000 * MS);
	ok(p > 0 && r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7, "sh -c 'exit 7': exit 7 (%s)",
	   status_str(st));

	st = -1;
	p = start("/bin/sh", sh_c("kill -TERM $$; exit 3"), -1);
	r = wait_for(p, &st, 5000 * MS);
	ok(p > 0 && r == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
	   "sh -c 'kill -TERM $$': killed by SIGTERM (%s)", status_str(st));

	/* Unknown pids. */
	errno = 0;
	r = rt_proc_wait(p, &st, rt_now() + 1000 * MS);
	ok(r == -1 && errno == ECHILD, "waiting again for a reaped pid: ECHILD (%s)", strerror(errno));
	errno = 0;
	r = rt_proc_wait(getpid(), &st, rt_now() + 1000 * MS);
	ok(r == -1 && errno == ECHILD, "waiting for a pid we did not start: ECHILD (%s)",
	   strerror(errno));
}

/* ---- exec failures ----------------------------------------------------------- */

static void test_exec_fail(void)
{
	static char *argv[] = { "nope", NULL };
	errno = 0;
	pid_t p = start("/nonexistent/grun-test-no-such-binary", argv, -1);
	int e = errno;
	ok(p == -1 && e == ENOENT, "exec of a nonexistent path: -1 ENOENT (%d, %s)", (int)p,
	   strerror(e));
	errno = 0;
	p = start("/etc/passwd", argv, -1);
	e = errno;
	ok(p == -1 && e == EACCES, "exec of a non-executable file: -1 EACCES (%d, %s)", (int)p,
	   strerror(e));
}

/* ---- early exit, deadline ------------------------------------------------------- */

static void test_early_and_deadline(void)
{
	static char *true_argv[] = { "true", NULL }, *sleep_argv[] = { "sleep", "5", NULL };
	int st = -1;
	pid_t p = start("/bin/true", true_argv, -1);
	rt_sleep(100 * MS);
	int r = wait_for(p, &st, 5000 * MS);
	ok(p > 0 && r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a child that exited 100 ms before the wait is not lost (%s)", status_str(st));

	p = start("/bin/sleep", sleep_argv, -1);
	ok(p > 0, "started sleep 5");
	if (p <= 0)
		return;
	errno = 0;
	int64_t t0 = rt_now();
	r = rt_proc_wait(p, &st, rt_now() + 100 * MS);
	int64_t el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el >= 100 * MS && el < 3000 * MS,
	   "wait with a 100 ms deadline on sleep 5: ETIMEDOUT after %lld ms", (long long)(el / MS));
	errno = 0;
	r = rt_proc_wait(p, &st, 0);
	ok(r == -1 && errno == ETIMEDOUT, "a wait with deadline 0 polls: still ETIMEDOUT");
	kill(p, SIGKILL);
	st = -1;
	t0 = rt_now();
	r = wait_for(p, &st, 5000 * MS);
	el = rt_now() - t0;
	ok(r == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && el < 3000 * MS,
	   "after kill(SIGKILL), waiting again gives the SIGKILL status (%s, %lld ms)", status_str(st),
	   (long long)(el / MS));
}

/* ---- 200 concurrent children ------------------------------------------------------ */

#define NCHILD 200

struct conc {
	int idx;
	char script[32];
	char *argv[4];
	pid_t pid;
	int rc, status;
	_Atomic int *done;
};

static void conc_child(void *p)
{
	struct conc *c = p;
	snprintf(c->script, sizeof c->script, "exit %d", c->idx % 100 + 1);
	c->argv[0] = "sh";
	c->argv[1] = "-c";
	c->argv[2] = c->script;
	c->argv[3] = NULL;
	c->pid = start("/bin/sh", c->argv, -1);
	c->rc = c->pid > 0 ? wait_for(c->pid, &c->status, 20000 * MS) : -1;
	atomic_fetch_add(c->done, 1);
}

static void test_concurrent(void)
{
	static struct conc cs[NCHILD];
	_Atomic int done = 0;
	int64_t t0 = rt_now();
	for (int i = 0; i < NCHILD; i++) {
		cs[i] = (struct conc){ .idx = i, .done = &done, .status = -1 };
		rt_go(conc_child, &cs[i]);
	}
	int64_t deadline = rt_now() + 30000 * MS;
	while (atomic_load(&done) < NCHILD && rt_now() < deadline)
		rt_sleep(5 * MS);
	int started = 0, right = 0;
	for (int i = 0; i < NCHILD; i++) {
		started += cs[i].pid > 0;
		if (cs[i].rc == 0 && WIFEXITED(cs[i].status) &&
		    WEXITSTATUS(cs[i].status) == i % 100 + 1)
			right++;
		else if (right + 3 > i)
			diag("child %d: pid %d rc %d %s", i, (int)cs[i].pid, cs[i].rc,
			     status_str(cs[i].status));
	}
	is_int(started, NCHILD, "%d children started from %d Gs", NCHILD, NCHILD);
	is_int(right, NCHILD, "all %d waited, each with its own exit status (%lld ms)", NCHILD,
	       (long long)((rt_now() - t0) / MS));
}

/* ---- from a plain thread ---------------------------------------------------------- */

static void *thread_start(void *p)
{
	static char *argv[] = { "sh", "-c", "exit 42", NULL };
	*(pid_t *)p = start("/bin/sh", argv, -1);
	return NULL;
}

static void test_from_thread(void)
{
	pid_t pid = -1;
	pthread_t t;
	int ok_create = pthread_create(&t, NULL, thread_start, &pid) == 0;
	if (ok_create) {
		rt_blocking_begin();
		pthread_join(t, NULL);
		rt_blocking_end();
	}
	int st = -1;
	int r = pid > 0 ? wait_for(pid, &st, 5000 * MS) : -1;
	ok(ok_create && pid > 0 && r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 42,
	   "a child started from a plain thread is waited from a G (%s)", status_str(st));
}

/* ---- signal state in the child ---------------------------------------------------- */

static void test_child_signals(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		return;
	}
	/* Every M blocks SIGCHLD (the runtime) and SIGUSR2 and SIGTERM (main()
	 * blocked them before rt_run); SIGPIPE (the runtime) and SIGUSR2 (main())
	 * are ignored.  A shell cannot un-ignore a signal ignored on entry, so
	 * "trap - PIPE" changes nothing unless the runtime reset it. */
	pid_t p = start("/bin/sh", sh_c("trap - PIPE; cat /proc/self/status"), fds[1]);
	close(fds[1]);
	rt_fd_nonblock(fds[0]);
	char buf[8192];
	size_t len = 0;
	for (;;) {
		ssize_t n = rt_read(fds[0], buf + len, sizeof buf - 1 - len, rt_now() + 5000 * MS);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1)
			break;
	}
	buf[len] = 0;
	rt_close(fds[0]);
	int st = -1;
	int r = p > 0 ? wait_for(p, &st, 5000 * MS) : -1;
	ok(p > 0 && r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "sh -c 'trap - PIPE; cat /proc/self/status' ran (%s)", status_str(st));
	unsigned long long blk = ~0ULL, ign = ~0ULL;
	char *s = strstr(buf, "\nSigBlk:");
	if (s)
		blk = strtoull(s + 8, NULL, 16);
	s = strstr(buf, "\nSigIgn:");
	if (s)
		ign = strtoull(s + 8, NULL, 16);
	if (!ok(blk == 0, "the child's signal mask is empty (SigBlk %016llx)", blk))
		diag("child's status output: %.300s", buf);
	ok(ign != ~0ULL && !(ign & (1ULL << (SIGPIPE - 1))),
	   "SIGPIPE is not ignored in the child (SigIgn %016llx)", ign);
	ok(ign != ~0ULL && !(ign & (1ULL << (SIGUSR2 - 1))),
	   "SIGUSR2, ignored in the parent, is at its default in the child");
}

/* ---- rt_proc_wait_any ------------------------------------------------------------ */

static pid_t wait_any(int *status, int64_t timeout)
{
	pid_t pid = rt_proc_wait_any(status, rt_now() + timeout);
	if (pid > 0)
		mark_reaped(pid);
	return pid;
}

struct by_pid {
	pid_t pid;
	int rc, status;
};

static void wait_by_pid(void *p)
{
	struct by_pid *b = p;
	b->rc = wait_for(b->pid, &b->status, 5000 * MS);
}

static void cancel_waiter(void *p)
{
	int *res = p;
	errno = 0;
	pid_t r = rt_proc_wait_any(NULL, rt_now() + 5000 * MS);
	*res = r == -1 ? errno : -2;
}

static int exit_at_once(void *p)
{
	(void)p;
	_exit(5); /* before clone() returns in the parent (vfork semantics) */
}

struct any_result {
	struct rt_chan *done;
	pid_t pid;
	int status;
};

static void any_waiter(void *p)
{
	struct any_result *a = p;
	a->pid = rt_proc_wait_any(&a->status, rt_now() + 3000 * MS);
	rt_chan_send(a->done, NULL);
}

static void test_wait_any(void)
{
	/* a child that is gone before rt_proc_start returns wakes a parked
	 * waiter at once (no other event comes to wake the poller) */
	struct any_result ar = { .done = rt_chan_make(0, 1) };
	rt_go(any_waiter, &ar);
	rt_sleep(50 * MS);
	pid_t q = rt_proc_start(exit_at_once, NULL);
	int64_t t0 = rt_now();
	/* no deadline here: a timer armed now would wake the poller and hide
	 * a missed wake-up (the waiter gives up after 3 s by itself) */
	int got_it = rt_chan_recv(ar.done, NULL) == 1;
	int64_t el = rt_now() - t0;
	if (ar.pid > 0)
		mark_reaped(ar.pid);
	/* valgrind runs the child as a fork, whose _exit goes through its leak
	 * check: --error-exitcode=99 (t/valgrind-wrap.sh) replaces the 5 */
	int code = WEXITSTATUS(ar.status);
	bool status_ok = code == 5 || (under_valgrind() && code == 99);
	if (!ok(q > 0 && got_it && ar.pid == q && status_ok && el < 1000 * MS,
	        "a child that exits before rt_proc_start returns wakes rt_proc_wait_any (%lld ms)",
	        (long long)(el / MS)))
		diag("started %d, rt_proc_wait_any gave %d with status %#x", (int)q, (int)ar.pid,
		     ar.status);
	rt_chan_free(ar.done);

	/* exits come in the order they happen */
	pid_t a = start("/bin/sh", sh_c("sleep 0.4; exit 3"), -1);
	pid_t b = start("/bin/sh", sh_c("exit 1"), -1);
	pid_t c = start("/bin/sh", sh_c("sleep 0.2; exit 2"), -1);
	int st[3] = { -1, -1, -1 };
	pid_t got[3];
	for (int i = 0; i < 3; i++)
		got[i] = wait_any(&st[i], 5000 * MS);
	ok(got[0] == b && got[1] == c && got[2] == a && WEXITSTATUS(st[0]) == 1 &&
	   WEXITSTATUS(st[1]) == 2 && WEXITSTATUS(st[2]) == 3,
	   "rt_proc_wait_any returns three children in exit order with their statuses (%d %d %d)",
	   WEXITSTATUS(st[0]), WEXITSTATUS(st[1]), WEXITSTATUS(st[2]));
	errno = 0;
	pid_t r = rt_proc_wait_any(NULL, rt_now() + 100 * MS);
	ok(r == -1 && errno == ETIMEDOUT, "with no child left, it times out (ETIMEDOUT)");

	/* a child someone waits for by pid is not returned */
	struct by_pid bp = { .rc = -9 };
	bp.pid = start("/bin/sh", sh_c("sleep 0.1; exit 5"), -1);
	pid_t d = start("/bin/sh", sh_c("sleep 0.2; exit 6"), -1);
	rt_go(wait_by_pid, &bp);
	int s = -1;
	r = wait_any(&s, 5000 * MS);
	for (int i = 0; i < 100 && bp.rc == -9; i++)
		rt_sleep(10 * MS);
	ok(r == d && WEXITSTATUS(s) == 6 && bp.rc == 0 && WEXITSTATUS(bp.status) == 5,
	   "a child waited for by pid goes to that waiter, the other to rt_proc_wait_any");

	/* a queued exit can still be taken by pid */
	static char *true_argv[] = { "true", NULL };
	pid_t e = start("/bin/true", true_argv, -1);
	rt_sleep(100 * MS);
	r = wait_for(e, &s, 5000 * MS);
	errno = 0;
	pid_t r2 = rt_proc_wait_any(NULL, 0);
	ok(r == 0 && r2 == -1 && errno == ETIMEDOUT,
	   "an exit queued for rt_proc_wait_any can be taken by rt_proc_wait, once");

	/* rt_proc_start_waited: an exit that comes before rt_proc_wait is
	 * kept for it, never given to rt_proc_wait_any */
	pid_t w = rt_proc_start_waited(exit_at_once, NULL);
	errno = 0;
	r2 = rt_proc_wait_any(NULL, rt_now() + 200 * MS);
	int e0 = errno;
	s = -1;
	r = w > 0 ? rt_proc_wait(w, &s, rt_now() + 5000 * MS) : -1;
	ok(w > 0 && r2 == -1 && e0 == ETIMEDOUT && r == 0 &&
	   (WEXITSTATUS(s) == 5 || (under_valgrind() && WEXITSTATUS(s) == 99)),
	   "a child of rt_proc_start_waited that exits at once goes to rt_proc_wait, not rt_proc_wait_any");

	/* cancel: a parked waiter, then a sticky one for the next call */
	int res = -1;
	rt_go(cancel_waiter, &res);
	rt_sleep(50 * MS);
	rt_proc_wait_any_cancel();
	for (int i = 0; i < 100 && res == -1; i++)
		rt_sleep(10 * MS);
	is_int(res, ECANCELED, "rt_proc_wait_any_cancel wakes a parked waiter with ECANCELED");
	rt_proc_wait_any_cancel();
	errno = 0;
	r = rt_proc_wait_any(NULL, RT_NEVER);
	int e1 = errno;
	errno = 0;
	r2 = rt_proc_wait_any(NULL, 0);
	ok(r == -1 && e1 == ECANCELED && r2 == -1 && errno == ETIMEDOUT,
	   "a cancel with nobody parked ends the next call only");

	/* orphans inherited as a subreaper are not reported */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t f = start("/bin/sh", sh_c("sleep 0.2 & exit 4"), -1);
	r = wait_any(&s, 5000 * MS);
	errno = 0;
	r2 = rt_proc_wait_any(NULL, rt_now() + 600 * MS);
	ok(r == f && WEXITSTATUS(s) == 4 && r2 == -1 && errno == ETIMEDOUT,
	   "the orphaned grandchild's exit is reaped but not reported");
	prctl(PR_SET_CHILD_SUBREAPER, 0);

	/* many quick exits, some before rt_proc_start returns: each once */
	enum { N = 150 };
	static pid_t mine[N];
	int seen = 0, dup = 0, stray = 0;
	for (int i = 0; i < N; i++)
		mine[i] = start("/bin/true", true_argv, -1);
	for (int k = 0; k < N; k++) {
		pid_t p = wait_any(NULL, 5000 * MS);
		if (p <= 0)
			break;
		int i = 0;
		while (i < N && mine[i] != p)
			i++;
		if (i == N)
			stray++;
		else if (mine[i] == -1)
			dup++;
		else {
			seen++;
			mine[i] = -1;
		}
	}
	ok(seen == N && dup == 0 && stray == 0,
	   "%d quick children: each exit returned once (%d seen, %d twice, %d unknown)", N, seen,
	   dup, stray);
}

/* The pid a script wrote to path, or -1. */
static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return (pid_t)v;
}

/* rt_proc_adopt: a grandchild re-parented to us (a subreaper) becomes
 * waitable, still running or already reaped when adopted. */
static void test_adopt(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	char path[] = "/tmp/rt07-adopt.XXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	static char script[2][300];
	snprintf(script[0], sizeof script[0], "sh -c 'sleep 0.3; exit 7' & echo $! > %s", path);
	snprintf(script[1], sizeof script[1], "sh -c 'sleep 0.1; exit 5' & echo $! > %s", path);
	int st = -1;
	pid_t p = start("/bin/sh", sh_c(script[0]), -1);
	wait_for(p, &st, 5000 * MS);
	pid_t g = read_pid(path);
	ok(g > 0 && rt_proc_adopt(g) == 0, "rt_proc_adopt: a running grandchild re-parented to us");
	ok(rt_proc_adopt(g) < 0 && errno == EEXIST, "rt_proc_adopt again: EEXIST");
	ok(rt_proc_adopt(1) < 0 && errno == ECHILD, "rt_proc_adopt of a process that is not our child: ECHILD");
	st = -1;
	ok(g > 0 && rt_proc_wait(g, &st, rt_now() + 5000 * MS) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7,
	   "rt_proc_wait on it: exit status 7 (%s)", status_str(st));
	p = start("/bin/sh", sh_c(script[1]), -1);
	wait_for(p, &st, 5000 * MS);
	g = read_pid(path);
	rt_sleep(600 * MS); /* it ends, ours by then, and is reaped as an orphan before the adoption */
	ok(g > 0 && rt_proc_adopt(g) == 0, "rt_proc_adopt: a grandchild already reaped");
	st = -1;
	ok(g > 0 && rt_proc_wait(g, &st, rt_now() + 5000 * MS) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 5,
	   "rt_proc_wait on it: its kept exit status 5 (%s)", status_str(st));
	unlink(path);
}

static void main_fn(void *unused)
{
	test_statuses();
	test_exec_fail();
	test_early_and_deadline();
	test_concurrent();
	test_from_thread();
	test_child_signals();
	test_wait_any();
	test_adopt();

	/* Nothing left behind (an exec failure's child is reaped by the
	 * runtime on its own, so allow it a moment). */
	int n = -1;
	int64_t deadline = rt_now() + 3000 * MS;
	while ((n = count_children(0)) != 0 && rt_now() < deadline)
		rt_sleep(20 * MS);
	if (n != 0)
		count_children(1);
	is_int(n, 0, "no child process of ours is left, zombie or alive");

	/* Clean up after a failure: kill and reap anything not reaped. */
	int k = atomic_load(&npids);
	for (int i = 0; i < k && i < MAXPIDS; i++)
		if (!reaped[i]) {
			int st;
			kill(pids[i], SIGKILL);
			rt_proc_wait(pids[i], &st, rt_now() + 2000 * MS);
		}
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(39);
	/* State the child must not inherit: a blocked signal and an ignored one. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);

	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
