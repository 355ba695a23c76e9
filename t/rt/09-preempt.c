/*
 * 09-preempt.c - with one P, neither a green thread spinning without
 * runtime calls nor one blocked in a system call inside
 * rt_blocking_begin/end stops the others: the monitor hands the P to
 * another OS thread (rt_stats retakes_hog, retakes_syscall).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
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


/* Plain clock_gettime: the hog must not call into the runtime at all. */
static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define MAXTICKS 4096
static int64_t ticks[MAXTICKS];
static _Atomic int nticks;
static _Atomic int ticker_stop, ticker_done;

static void ticker(void *unused)
{
	while (!atomic_load(&ticker_stop)) {
		rt_sleep(10 * MS);
		int k = atomic_fetch_add(&nticks, 1);
		if (k < MAXTICKS)
			ticks[k] = mono();
	}
	atomic_store(&ticker_done, 1);
}

/* Ticks inside [from, to] and the longest gap there (edges included). */
static int ticks_between(int64_t from, int64_t to, int64_t *maxgap)
{
	int n = 0, k = atomic_load(&nticks);
	int64_t prev = from, gap = 0;
	for (int i = 0; i < k && i < MAXTICKS; i++) {
		if (ticks[i] < from || ticks[i] > to)
			continue;
		n++;
		if (ticks[i] - prev > gap)
			gap = ticks[i] - prev;
		prev = ticks[i];
	}
	if (to - prev > gap)
		gap = to - prev;
	*maxgap = gap;
	return n;
}

/* ---- (a) a CPU hog ------------------------------------------------------------ */

static int64_t hog_start, hog_end;
static _Atomic int hog_done;

static void hog(void *unused)
{
	volatile uint64_t sink = 0;
	hog_start = mono();
	while (mono() - hog_start < 300 * MS)
		for (int i = 0; i < 1000; i++)
			sink += (uint64_t)i;
	hog_end = mono();
	atomic_store(&hog_done, 1);
}

/* ---- (b) a blocking read ---------------------------------------------------------- */

static int bfd[2];
static int64_t blk_start, blk_end;
static ssize_t blk_n;
static _Atomic int blk_done;

static void blocked_reader(void *unused)
{
	char c;
	blk_start = mono();
	rt_blocking_begin();
	ssize_t n = read(bfd[0], &c, 1);  /* blocking fd: the OS thread sleeps */
	rt_blocking_end();
	blk_n = n;
	blk_end = mono();
	atomic_store(&blk_done, 1);
}

static void *late_writer(void *unused)
{
	struct timespec ts = { 0, 300 * MS };
	nanosleep(&ts, NULL);
	if (write(bfd[1], "w", 1) != 1)
		perror("write");
	return NULL;
}

static int wait_flag(_Atomic int *f, int64_t timeout)
{
	int64_t deadline = rt_now() + timeout;
	while (!atomic_load(f)) {
		if (rt_now() > deadline)
			return 0;
		rt_sleep(5 * MS);
	}
	return 1;
}

static pthread_t writer;
static int writer_started;

static void main_fn(void *unused)
{
	struct rt_stats st0, st1, st2;
	rt_go(ticker, NULL);
	rt_sleep(50 * MS); /* the ticker is ticking */

	/* (a) */
	rt_stats_get(&st0);
	rt_go(hog, NULL);
	int fin = wait_flag(&hog_done, 10000 * MS);
	rt_stats_get(&st1);
	int64_t gap;
	int n = ticks_between(hog_start, hog_end, &gap);
	ok(fin, "the hog spun 300 ms and finished");
	ok(n >= 10, "the ticker ticked %d times during the 300 ms spin (>= 10)", n);
	ok(gap <= 200 * MS, "longest gap between ticks during the 300 ms spin: %lld ms (<= 200)",
	   (long long)(gap / MS));
	ok(st1.retakes_hog > st0.retakes_hog, "rt_stats retakes_hog went up (%llu -> %llu)",
	   (unsigned long long)st0.retakes_hog, (unsigned long long)st1.retakes_hog);

	/* (b) */
	if (pipe2(bfd, O_CLOEXEC) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		return;
	}
	rt_sleep(30 * MS);
	rt_stats_get(&st1);
	rt_go(blocked_reader, NULL);
	writer_started = pthread_create(&writer, NULL, late_writer, NULL) == 0;
	ok(writer_started, "helper pthread started");
	fin = wait_flag(&blk_done, 10000 * MS);
	rt_stats_get(&st2);
	n = ticks_between(blk_start, blk_end, &gap);
	ok(fin && blk_n == 1 && blk_end - blk_start >= 250 * MS,
	   "the reader blocked in read() for %lld ms and got the byte",
	   (long long)((blk_end - blk_start) / MS));
	ok(n >= 10, "the ticker ticked %d times while the reader was blocked (>= 10)", n);
	ok(gap <= 200 * MS, "longest gap between ticks during the 300 ms read: %lld ms (<= 200)",
	   (long long)(gap / MS));
	ok(st2.retakes_syscall > st1.retakes_syscall, "rt_stats retakes_syscall went up (%llu -> %llu)",
	   (unsigned long long)st1.retakes_syscall, (unsigned long long)st2.retakes_syscall);

	atomic_store(&ticker_stop, 1);
	ok(wait_flag(&ticker_done, 2000 * MS), "the ticker stopped");
}

int main(void)
{
	{
		if (under_valgrind())
			skip_all("valgrind runs one thread at a time and delays signals: no preemption to observe");
	}
	tap_watchdog(60);
	tap_plan(11);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 1;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	if (writer_started)
		pthread_join(writer, NULL);
	close(bfd[0]);
	close(bfd[1]);
	return tap_done();
}
