/*
 * 12-shutdown.c - rt_run returns when the main G returns, while other Gs
 * are still parked (on a channel, in a sleep, on an fd): they are
 * discarded.  rt_run can be called again, three times in a row, and
 * afterwards no OS thread and no file descriptor is left over.  Bad
 * configurations fail with EINVAL without leaking either.  It also
 * returns while Gs are running, yielding or in blocking regions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0); /* opendir's own fd */
}

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct run {
	struct rt_chan *c, *c2;
	int pfd[2];
	_Atomic int parked;
	int nested_rc, nested_err;
};

static void chan_waiter(void *p)
{
	struct run *r = p;
	atomic_fetch_add(&r->parked, 1);
	rt_chan_recv(r->c, NULL);
}

static void chan_sender(void *p)
{
	struct run *r = p;
	int v = 1;
	atomic_fetch_add(&r->parked, 1);
	rt_chan_send(r->c2, &v); /* nobody ever receives on c2 */
}

static void sleeper(void *p)
{
	struct run *r = p;
	atomic_fetch_add(&r->parked, 1);
	rt_sleep(10000 * MS);
}

static void fd_waiter(void *p)
{
	struct run *r = p;
	atomic_fetch_add(&r->parked, 1);
	rt_fd_wait(r->pfd[0], RT_READ, RT_NEVER);
}

static void nothing(void *unused)
{
}

static void main_fn(void *p)
{
	struct run *r = p;
	for (int i = 0; i < 5; i++) {
		rt_go(chan_waiter, r);
		rt_go(sleeper, r);
	}
	rt_go(fd_waiter, r);
	rt_go(chan_sender, r);
	/* Many Gs that exit, so stacks are carved, cached and pooled too. */
	for (int i = 0; i < 3000; i++)
		rt_go(nothing, NULL);
	int64_t deadline = rt_now() + 2000 * MS;
	while (atomic_load(&r->parked) < 12 && rt_now() < deadline)
		rt_sleep(1 * MS);
	rt_sleep(20 * MS); /* let them all reach their parks */
	struct rt_config cfg;
	rt_config_default(&cfg);
	errno = 0;
	r->nested_rc = rt_run(&cfg, nothing, NULL);
	r->nested_err = errno;
}

/* ---- stopping while every M is busy -------------------------------------- */

static void ticker(void *unused)
{
	for (;;)
		rt_sleep(20 * US);
}

static void spinner(void *unused)
{
	for (;;) {
		for (volatile int i = 0; i < 2000; i++)
			;
		rt_yield();
	}
}

static void blocker(void *unused)
{
	for (;;) {
		rt_blocking_begin();
		struct timespec ts = { 0, 100 * US };
		nanosleep(&ts, NULL);
		rt_blocking_end();
	}
}

static void short_main(void *unused)
{
	for (int i = 0; i < 3; i++)
		rt_go(ticker, NULL);
	rt_go(spinner, NULL);
	rt_go(blocker, NULL);
	rt_sleep(300 * US);
}

/* rt_run must return while Gs keep every M busy: timers on both Ms (so
 * that Ms take turns at polling when the stop comes), a G yielding after
 * bursts of work, and one going in and out of a blocking region, which
 * once kept its M running after the stop (rt_run never returned). */
static void test_stop_while_busy(void)
{
	int runs = 300, done = 0;
	int64_t t0 = mono();
	for (int i = 0; i < runs; i++) {
		struct rt_config cfg;
		rt_config_default(&cfg);
		cfg.procs = 2;
		if (rt_run(&cfg, short_main, NULL) != 0)
			break;
		done++;
	}
	ok(done == runs, "%d of %d runs with Gs sleeping, yielding and blocking on every M returned (%lld ms)", done, runs,
	   (long long)((mono() - t0) / MS));
}

static const int watched_sigs[] = { SIGPIPE, SIGSEGV, SIGBUS, SIGURG, SIGCHLD };
#define NWATCHED (int)(sizeof watched_sigs / sizeof watched_sigs[0])

static void get_dispositions(void *out[NWATCHED])
{
	for (int i = 0; i < NWATCHED; i++) {
		struct sigaction sa;
		sigaction(watched_sigs[i], NULL, &sa);
		out[i] = (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction : (void *)sa.sa_handler;
	}
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(25);
	void *disp0[NWATCHED], *disp1[NWATCHED];
	get_dispositions(disp0);
	int tasks0 = count_dir("/proc/self/task"), fds0 = count_dir("/proc/self/fd");
#if defined(__SANITIZE_THREAD__)
	tasks0++; /* TSan starts its background thread with the first thread */
#endif
	ok(tasks0 >= 1 && fds0 >= 0, "before: %d threads, %d fds", tasks0, fds0);

	for (int round = 1; round <= 3; round++) {
		struct run r = { .c = rt_chan_make(sizeof(int), 0), .c2 = rt_chan_make(sizeof(int), 0) };
		if (pipe2(r.pfd, O_CLOEXEC | O_NONBLOCK) != 0)
			r.pfd[0] = r.pfd[1] = -1;
		int fds1 = count_dir("/proc/self/fd");
		struct rt_config cfg;
		rt_config_default(&cfg);
		cfg.procs = 2;
		int64_t t0 = mono();
		int rc = rt_run(&cfg, main_fn, &r);
		int64_t el = mono() - t0;
		ok(rc == 0 && el < 5000 * MS * tool_factor(),
		   "round %d: rt_run returned 0 in %lld ms with %d Gs still parked", round, rc == 0 ?
		   (long long)(el / MS) : -1LL, atomic_load(&r.parked));
		ok(r.nested_rc == -1, "round %d: rt_run from a green thread fails (errno %s)", round,
		   strerror(r.nested_err));
		/* Threads may take a moment to vanish from /proc after the join. */
		int tasks = -1;
		for (int i = 0; i < 200 && (tasks = count_dir("/proc/self/task")) != tasks0; i++) {
			struct timespec ts = { 0, 5 * MS };
			nanosleep(&ts, NULL);
		}
		is_int(tasks, tasks0, "round %d: no extra thread remains", round);
		is_int(count_dir("/proc/self/fd"), fds1, "round %d: no fd leaked", round);
		rt_chan_free(r.c);
		rt_chan_free(r.c2);
		close(r.pfd[0]);
		close(r.pfd[1]);
		sigset_t now;
		sigprocmask(SIG_BLOCK, NULL, &now);
		ok(sigismember(&now, SIGCHLD) == 0, "round %d: the signal mask is restored (SIGCHLD unblocked)",
		   round);
	}
	is_int(count_dir("/proc/self/fd"), fds0, "after 3 rounds: as many fds as before");
	get_dispositions(disp1);
	int same = 1;
	for (int i = 0; i < NWATCHED; i++)
		if (disp0[i] != disp1[i]) {
			same = 0;
			diag("signal %d: handler %p before, %p after", watched_sigs[i], disp0[i], disp1[i]);
		}
	ok(same, "SIGPIPE, SIGSEGV, SIGBUS, SIGURG, SIGCHLD dispositions are restored");

	/* Bad configurations. */
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = -1;
	errno = 0;
	int rc = rt_run(&cfg, nothing, NULL);
	ok(rc == -1 && errno == EINVAL, "procs = -1: -1 EINVAL (%s)", strerror(errno));
	rt_config_default(&cfg);
	cfg.stack_size = 4096;
	errno = 0;
	rc = rt_run(&cfg, nothing, NULL);
	ok(rc == -1 && errno == EINVAL, "stack_size 4096 (below 16 KiB): -1 EINVAL (%s)", strerror(errno));
	rt_config_default(&cfg);
	cfg.guard_pages = 3;
	errno = 0;
	rc = rt_run(&cfg, nothing, NULL);
	ok(rc == -1 && errno == EINVAL, "guard_pages = 3: -1 EINVAL (%s)", strerror(errno));
	is_int(count_dir("/proc/self/task"), tasks0, "after failed starts: no extra thread");
	is_int(count_dir("/proc/self/fd"), fds0, "after failed starts: no fd leaked");

	/* And it still works. */
	rt_config_default(&cfg);
	is_int(rt_run(&cfg, nothing, NULL), 0, "rt_run after all that returns 0");
	test_stop_while_busy();
	return tap_done();
}
