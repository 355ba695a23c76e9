/*
 * 16-limits.c - running out of stacks is an error, never a crash.
 *
 * In a child process whose address space is capped (RLIMIT_AS), green
 * threads with 8 MiB stacks are spawned until rt_go fails: it must return
 * -1 with EAGAIN, rt_limit_message() must say which limit was hit, and the
 * runtime must keep working (the parked threads are released through a
 * channel and joined, rt_run returns 0).
 *
 * Then, with guard_pages = 2 (mprotect guard pages within the map-count
 * budget computed at start), something else in the process uses up every
 * vm.max_map_count entry: new stacks must fall back to canaries (rt_go
 * still succeeds, stacks_guarded stops growing) instead of failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

static struct rt_chan *gate;
static struct rt_wg wg;

static void parked(void *arg)
{
	(void)arg;
	rt_chan_recv(gate, NULL);
	rt_wg_done(&wg);
}

/* Child: prints "spawned N errno E msg M" and "after ok" on stdout. */
static void child_main(void *arg)
{
	(void)arg;
	gate = rt_chan_make(0, 0);
	long n = 0;
	int err = 0;
	for (; n < 1000000; n++) {
		rt_wg_add(&wg, 1);
		if (rt_go(parked, NULL) != 0) {
			err = errno;
			rt_wg_done(&wg);
			break;
		}
	}
	printf("spawned %ld errno %d msg %s\n", n, err, rt_limit_message());
	rt_chan_close(gate);
	rt_wg_wait(&wg);
	printf("after ok\n");
	fflush(stdout);
}

/* Child: uses up the map count after the first stacks were carved, then
 * spawns 200 more; prints what happened on stdout. */
static void fallback_main(void *arg)
{
	long max_maps = *(long *)arg, page = sysconf(_SC_PAGESIZE);
	struct rt_stats st0, st1;
	gate = rt_chan_make(0, 0);
	rt_wg_add(&wg, 1);
	if (rt_go(parked, NULL) != 0)
		rt_wg_done(&wg);
	rt_stats_get(&st0);
	/* Every other page PROT_NONE: each one splits off two mappings.  The
	 * loop yields now and then: a hog would have its P handed to a new M,
	 * and no thread can be created once the map count is used up. */
	size_t npages = 2 * (size_t)max_maps + 16;
	char *a = mmap(NULL, npages * (size_t)page, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long split = 0;
	int split_err = 0;
	for (size_t i = 1; a != MAP_FAILED && i < npages; i += 2, split++) {
		if (mprotect(a + i * (size_t)page, (size_t)page, PROT_NONE) != 0) {
			split_err = errno;
			break;
		}
		if (split % 256 == 255)
			rt_yield();
	}
	int spawned = 0;
	for (int i = 0; i < 200; i++) {
		rt_wg_add(&wg, 1);
		if (rt_go(parked, NULL) != 0) {
			rt_wg_done(&wg);
			break;
		}
		spawned++;
	}
	rt_stats_get(&st1);
	if (a != MAP_FAILED)
		munmap(a, npages * (size_t)page);
	printf("split %ld errno %d spawned %d mapped %llu %llu guarded %llu %llu\n", split, split_err,
	       spawned, (unsigned long long)st0.stacks_mapped, (unsigned long long)st1.stacks_mapped,
	       (unsigned long long)st0.stacks_guarded, (unsigned long long)st1.stacks_guarded);
	rt_chan_close(gate);
	rt_wg_wait(&wg);
	printf("after ok\n");
	fflush(stdout);
}

static long read_max_map_count(void)
{
	long max = -1;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = -1;
		fclose(f);
	}
	return max;
}

/* Runs fn in a child with cfg; its stdout into buf; returns its status. */
static int run_child(const struct rt_config *cfg, struct rlimit *as, void (*fn)(void *), void *arg,
		char *buf, size_t size)
{
	int out[2];
	if (pipe(out) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		if (as)
			setrlimit(RLIMIT_AS, as);
		if (rt_run(cfg, fn, arg) != 0) {
			printf("rt_run failed: %s\n", strerror(errno));
			_exit(3);
		}
		_exit(0);
	}
	close(out[1]);
	size_t have = 0;
	ssize_t r;
	while (have < size - 1 && (r = read(out[0], buf + have, size - 1 - have)) > 0)
		have += (size_t)r;
	buf[have] = 0;
	close(out[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

static void guard_fallback(void)
{
	long max_maps = read_max_map_count();
	if (max_maps <= 0 || max_maps > (1L << 20)) {
		for (int i = 0; i < 5; i++)
			printf("ok %d # SKIP vm.max_map_count is %ld\n", ++tap_n, max_maps);
		return;
	}
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 1;
	cfg.guard_pages = 2;
	char buf[4096];
	int status = run_child(&cfg, NULL, fallback_main, &max_maps, buf, sizeof buf);
	diag("child said: %s", buf);
	long split = -1;
	int err = -1, spawned = -1;
	unsigned long long m0 = 0, m1 = 0, g0 = 0, g1 = 0;
	sscanf(buf, "split %ld errno %d spawned %d mapped %llu %llu guarded %llu %llu", &split, &err,
	       &spawned, &m0, &m1, &g0, &g1);
	ok(err == ENOMEM && split > 1000, "the map count was used up: mprotect failed with ENOMEM "
	   "after %ld splits", split);
	is_int(spawned, 200, "rt_go kept working: 200 more green threads");
	ok(g0 > 0 && m1 >= m0 + 100 && g1 == g0, "new stacks got canaries: stacks_mapped %llu -> %llu, "
	   "stacks_guarded %llu -> %llu", m0, m1, g0, g1);
	ok(strstr(buf, "after ok") != NULL, "every green thread was joined");
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited 0, no crash (status %#x)",
	   status);
}

int main(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip_all("sanitizers reserve terabytes of address space; RLIMIT_AS cannot be tested");
#endif
	if (under_valgrind())
		skip_all("valgrind manages the address space itself");
	tap_plan(10);
	tap_watchdog(60);
	char buf[4096];
	struct rlimit rl = { 1536UL << 20, 1536UL << 20 };
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	cfg.stack_size = 8u << 20;
	int status = run_child(&cfg, &rl, child_main, NULL, buf, sizeof buf);
	long n = -1;
	int err = -1;
	char msg[256] = "";
	sscanf(buf, "spawned %ld errno %d msg %255[^\n]", &n, &err, msg);
	diag("child said: %s", buf);
	ok(n > 0 && n < 1000000, "spawning stopped at a limit after %ld green threads", n);
	is_int(err, EAGAIN, "rt_go failed with EAGAIN");
	ok(strstr(msg, "cannot map") != NULL, "rt_limit_message names the limit: %s", msg);
	ok(strstr(buf, "after ok") != NULL, "the runtime kept working: the parked threads were joined");
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited 0, no crash (status %#x)",
			status);
	guard_fallback();
	return tap_done();
}
