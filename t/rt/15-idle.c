/*
 * 15-idle.c - an idle runtime makes no wake-ups.
 *
 * With green threads parked on a channel forever and one sleeping for
 * 2 s, nothing is runnable: every M must be parked (futex or libev) and
 * the monitor in its deep sleep.  The context switches of all the
 * process's threads over those 2 s are counted from /proc; a runtime
 * that polled (the monitor's 20 us..10 ms tick, a timer tick, a spinning
 * M) would show hundreds.  The few allowed are the wake at the end of
 * the sleep itself.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


/* Sum of voluntary and involuntary context switches of every thread. */
static long long ctxt_switches(void)
{
	long long total = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], line[256];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			long long v;
			if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1)
				total += v;
		}
		fclose(f);
	}
	closedir(d);
	return total;
}

static struct rt_chan *never;

static void parked(void *arg)
{
	(void)arg;
	rt_chan_recv(never, NULL);
}

static void main_fn(void *arg)
{
	(void)arg;
	never = rt_chan_make(0, 0);
	for (int i = 0; i < 100; i++)
		rt_go(parked, NULL);
	/* let the monitor back off and go to sleep: wait (at most 5 s) for a
	 * 200 ms window in which it did not wake up, which a machine busy
	 * with other tests can delay */
	struct rt_stats s0, s1;
	rt_sleep(300 * MS);
	for (int i = 0; i < 25; i++) {
		rt_stats_get(&s0);
		rt_sleep(200 * MS);
		rt_stats_get(&s1);
		if (s1.sysmon_wakes == s0.sysmon_wakes)
			break;
	}
	/* the counts are read around the sleep alone: reading /proc keeps
	 * the P busy, and while a P is busy the monitor ticks every 20 us,
	 * a machine busy with other work stretching that */
	long long before = ctxt_switches();
	rt_stats_get(&s0);
	rt_sleep(2000 * MS);
	rt_stats_get(&s1);
	long long after = ctxt_switches();
	diag("context switches over 2 s idle: %lld; monitor wake-ups: %llu; blocking polls: %llu",
			after - before, (unsigned long long)(s1.sysmon_wakes - s0.sysmon_wakes),
			(unsigned long long)(s1.polls - s0.polls));
	ok(before >= 0 && after - before <= 20,
			"idle for 2 s: at most 20 context switches (a 10 ms tick: 200+) in all threads (got %lld)", after - before);
	ok(s1.sysmon_wakes - s0.sysmon_wakes <= 10, "the monitor slept (a 10 ms tick would be 200)  (%llu wake-ups)",
			(unsigned long long)(s1.sysmon_wakes - s0.sysmon_wakes));
	ok(s1.polls - s0.polls <= 3, "one blocking poll covers the sleep (%llu)",
			(unsigned long long)(s1.polls - s0.polls));
}

int main(void)
{
	{
		if (under_valgrind())
			skip_all("valgrind wakes up on its own");
	}
#if defined(__SANITIZE_THREAD__)
	skip_all("ThreadSanitizer's own background thread wakes up on its own");
#endif
	struct rt_config cfg;
	tap_plan(4);
	tap_watchdog(30);
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returns 0");
	return tap_done();
}
