/*
 * spawnloop.c - the floor the supervisor benchmarks compare against: what
 * a bare C loop of posix_spawn + waitpid does on this machine.
 *
 *   spawnloop restart CMD [ARG...]      restart CMD whenever it exits (forever)
 *   spawnloop oneshot N P CMD [ARG...]  run CMD N times, P at once; prints
 *                                       "<jobs per second> jobs/s"
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t start(char **argv)
{
	pid_t pid;
	int err = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (err) {
		fprintf(stderr, "spawnloop: %s: %s\n", argv[0], strerror(err));
		exit(1);
	}
	return pid;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "restart") == 0) {
		for (;;) {
			pid_t pid = start(argv + 2);
			while (waitpid(pid, NULL, 0) < 0)
				;
		}
	}
	if (argc >= 5 && strcmp(argv[1], "oneshot") == 0) {
		long n = atol(argv[2]), p = atol(argv[3]), started = 0, done = 0;
		double t0 = now();
		while (done < n) {
			while (started < n && started - done < p) {
				start(argv + 4);
				started++;
			}
			int st;
			if (wait(&st) > 0)
				done++;
		}
		printf("%.0f jobs/s\n", (double)n / (now() - t0));
		return 0;
	}
	fprintf(stderr, "usage: spawnloop restart CMD... | oneshot N P CMD...\n");
	return 2;
}
