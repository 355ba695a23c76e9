/*
 * 16-limits.c - running out of stacks is an error, never a crash.
 *
 * In a child process whose address space is capped (RLIMIT_AS), green
 * threads with 8 MiB stacks are spawned until rt_go fails: it must return
 * -1 with EAGAIN, rt_limit_message() must say which limit was hit, and the
 * runtime must keep working (the parked threads are released through a
 * channel and joined, rt_run returns 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

int main(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip_all("sanitizers reserve terabytes of address space; RLIMIT_AS cannot be tested");
#endif
	if (under_valgrind())
		skip_all("valgrind manages the address space itself");
	tap_plan(5);
	tap_watchdog(60);
	int out[2];
	if (pipe(out) != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 1536UL << 20, 1536UL << 20 };
		dup2(out[1], 1);
		close(out[0]);
		setrlimit(RLIMIT_AS, &rl);
		struct rt_config cfg;
		rt_config_default(&cfg);
		cfg.procs = 2;
		cfg.stack_size = 8u << 20;
		if (rt_run(&cfg, child_main, NULL) != 0) {
			printf("rt_run failed: %s\n", strerror(errno));
			_exit(3);
		}
		_exit(0);
	}
	close(out[1]);
	char buf[4096] = "";
	size_t have = 0;
	ssize_t r;
	while (have < sizeof buf - 1 && (r = read(out[0], buf + have, sizeof buf - 1 - have)) > 0)
		have += (size_t)r;
	buf[have] = 0;
	int status = 0;
	waitpid(pid, &status, 0);
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
	return tap_done();
}
