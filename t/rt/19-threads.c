/*
 * 19-threads.c - when no new OS thread can be had, the runtime goes on
 * with the threads it has: never a crash (it used to be "grun: runtime:
 * cannot create an OS thread" and abort).
 *
 * rt_config.max_threads is the test hook: creating a thread beyond it
 * fails with EAGAIN exactly where pthread_create fails at RLIMIT_NPROC
 * (which does not apply to root, so it cannot be provoked here).
 *
 *   1. max_threads = 1 (only the caller's thread), 2 Ps: green threads
 *      in blocking regions while others wait for their P.  The monitor
 *      retakes the P, cannot start an M for it, queues its Gs globally
 *      and leaves it idle; the blocked M takes a P back when its call
 *      returns.  Everything completes; one OS thread; refusals counted.
 *   2. max_threads = 2, 4 Ps: 200 green threads mixing blocking regions,
 *      channel round trips, sleeps and a CPU hog all complete.
 *   3. No limit: the same work creates threads and counts no refusal.
 *   0. A real refusal, first: in a child whose address space is capped
 *      after start (RLIMIT_AS), thread stacks cannot be mapped; the work
 *      completes on the threads the child already had.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

static struct rt_wg done, echo_done;
static _Atomic int finished;
static struct rt_chan *ping;

static void block_for(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };
	rt_blocking_begin();
	nanosleep(&ts, NULL);
	rt_blocking_end();
}

static void echo(void *arg)
{
	(void)arg;
	int v;
	while (rt_chan_recv(ping, &v) == 1)
		rt_sleep(10 * US);
	rt_wg_done(&echo_done);
}

static void worker(void *arg)
{
	long i = (long)arg;
	int v = (int)i;
	switch (i % 4) {
	case 0:
		block_for(5 * MS);
		break;
	case 1:
		for (int k = 0; k < 20; k++)
			rt_chan_send(ping, &v);
		break;
	case 2:
		rt_sleep(2 * MS);
		rt_yield();
		break;
	default: {
		int64_t end = rt_now() + 3 * MS; /* a short hog */
		while (rt_now() < end)
			;
	}
	}
	atomic_fetch_add(&finished, 1);
	rt_wg_done(&done);
}

static int nworkers;
/* The work both cases run, on the channel ping made beforehand: the echo
 * and nworkers workers; the main G itself blocks too, holding a P the
 * others want.  Returns when all are done; frees ping. */
static void run_work(void)
{
	rt_wg_add(&echo_done, 1);
	rt_go(echo, NULL);
	for (long i = 0; i < nworkers; i++) {
		rt_wg_add(&done, 1);
		if (rt_go(worker, (void *)i) != 0)
			rt_wg_done(&done);
	}
	block_for(30 * MS);
	rt_wg_wait(&done);
	rt_chan_close(ping);
	rt_wg_wait(&echo_done);
	rt_chan_free(ping);
}

static struct rt_stats stats; /* at the end of main_fn: rt_run clears them */

static void main_fn(void *arg)
{
	(void)arg;
	ping = rt_chan_make(sizeof(int), 0);
	run_work();
	rt_stats_get(&stats);
}

static int run(int procs, int max_threads, int n, struct rt_stats *st)
{
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = procs;
	cfg.max_threads = max_threads;
	nworkers = n;
	atomic_store(&finished, 0);
	int r = rt_run(&cfg, main_fn, NULL);
	*st = stats;
	return r;
}

/* ---- 0: a real refusal ----------------------------------------------------- */

static void capped_main(void *arg)
{
	(void)arg;
	struct rlimit rl;
	/* room in the heap for what the work allocates after the cap: blocks
	 * under the mmap threshold, so they come from (and stay in) the heap */
	void *room[8];
	for (int i = 0; i < 8; i++)
		room[i] = malloc(64u << 10);
	for (int i = 0; i < 8; i++)
		free(room[i]);
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	/* Cap the address space at what is mapped (plus 128 KiB for malloc, less than a thread stack):
	 * no thread stack can be mapped any more, while the green threads'
	 * stacks come from the chunk already mapped. */
	ping = rt_chan_make(sizeof(int), 0);
	rl.rlim_cur = rl.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (128u << 10);
	int capped = setrlimit(RLIMIT_AS, &rl) == 0;
	run_work();
	struct rt_stats st;
	rt_stats_get(&st);
	printf("capped %d finished %d failed %llu ms %llu msg %s\n", capped, atomic_load(&finished),
	       (unsigned long long)st.threads_failed, (unsigned long long)st.ms, rt_limit_message());
	fflush(stdout);
}

static void real_refusal(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	for (int i = 0; i < 3; i++)
		printf("ok %d # SKIP sanitizers reserve terabytes of address space\n", ++tap_n);
	fflush(stdout);
	return;
#endif
	if (under_valgrind()) {
		for (int i = 0; i < 3; i++)
			printf("ok %d # SKIP valgrind manages the address space itself\n", ++tap_n);
		fflush(stdout);
		return;
	}
	int out[2];
	char buf[512] = "";
	if (pipe(out) != 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		/* one malloc arena, which keeps what is freed: a thread's first
		 * malloc would otherwise reserve a 64 MiB arena, and libev's
		 * allocations under the cap would fail (and abort) */
		mallopt(M_ARENA_MAX, 1);
		mallopt(M_TRIM_THRESHOLD, 1 << 30);
		struct rt_config cfg;
		rt_config_default(&cfg);
		cfg.procs = 4;
		nworkers = 40;
		atomic_store(&finished, 0);
		_exit(rt_run(&cfg, capped_main, NULL) == 0 ? 0 : 3);
	}
	close(out[1]);
	size_t have = 0;
	ssize_t r;
	while (have < sizeof buf - 1 && (r = read(out[0], buf + have, sizeof buf - 1 - have)) > 0)
		have += (size_t)r;
	buf[have] = 0;
	close(out[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	diag("child said: %s", buf);
	int capped = 0, fin = -1;
	unsigned long long failed = 0, ms = 0;
	sscanf(buf, "capped %d finished %d failed %llu ms %llu", &capped, &fin, &failed, &ms);
	ok(capped && failed > 0, "RLIMIT_AS after start: the OS refused %llu thread(s)", failed);
	is_int(fin, 40, "... and all 40 green threads completed on %llu thread(s)", ms);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "... and the child exited 0 (status %#x)",
	   status);
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(12);
	struct rt_stats st;

	/* First, while this process has never had a thread to exit: glibc
	 * reuses the stacks of exited threads without mapping anything. */
	real_refusal();

	int r = run(2, 1, 8, &st);
	is_int(r, 0, "max_threads 1, 2 Ps, blocking regions: rt_run returned 0");
	is_int(atomic_load(&finished), 8, "... every green thread completed");
	ok(st.ms == 1 && st.threads_failed > 0, "... on one OS thread (ms %llu), %llu refusals counted",
	   (unsigned long long)st.ms, (unsigned long long)st.threads_failed);
	ok(strstr(rt_limit_message(), "cannot create an OS thread") != NULL,
	   "... rt_limit_message: %s", rt_limit_message());

	r = run(4, 2, 200, &st);
	is_int(r, 0, "max_threads 2, 4 Ps, 200 mixed green threads: rt_run returned 0");
	ok(atomic_load(&finished) == 200 && st.ms <= 2,
	   "... all completed (%d) on at most 2 OS threads (%llu), %llu refusals",
	   atomic_load(&finished), (unsigned long long)st.ms, (unsigned long long)st.threads_failed);

	r = run(2, 0, 8, &st);
	ok(r == 0 && atomic_load(&finished) == 8, "no limit: the same work completes");
	ok(st.ms >= 2 && st.threads_failed == 0, "... creating threads (%llu), no refusal",
	   (unsigned long long)st.ms);

	struct rt_config bad;
	rt_config_default(&bad);
	bad.max_threads = -1;
	errno = 0;
	ok(rt_run(&bad, main_fn, NULL) == -1 && errno == EINVAL, "max_threads -1: EINVAL");
	return tap_done();
}
