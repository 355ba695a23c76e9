/*
 * spawnloop.c - the floor the supervisor benchmarks compare against: what
 * a bare C loop of posix_spawn + waitpid does on this machine.
 *
 *   spawnloop restart CMD [ARG...]      restart CMD whenever it exits (forever)
 *   spawnloop oneshot N P CMD [ARG...]  run CMD N times, P at once; prints
 *                                       "<jobs per second> jobs/s"
 *   spawnloop start N P CMD [ARG...]    start N copies of CMD from P threads
 *                                       at once; prints the seconds until
 *                                       the last has exec'd ("<s> s"), then
 *                                       KILLs and reaps them all
 *   spawnloop hold N CMD [ARG...]       start N copies of CMD, print "<N>
 *                                       held", and wait until a signal
 *                                       ends it (the copies, in its
 *                                       process group, with it)
 */
#include <pthread.h>
#include <signal.h>
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

/* spawnloop start: threads take the next index until n are started */
struct starter {
	long n, nthreads;
	char **argv;
	pid_t *pids;
	long next; /* atomic */
};

static void *start_some(void *arg)
{
	struct starter *st = arg;
	long i;
	while ((i = __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED)) < st->n)
		st->pids[i] = start(st->argv);
	return NULL;
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
	if (argc >= 5 && strcmp(argv[1], "start") == 0) {
		struct starter st = { .n = atol(argv[2]), .nthreads = atol(argv[3]), .argv = argv + 4 };
		if (st.n < 1 || st.nthreads < 1 || st.nthreads > 64 || !(st.pids = calloc((size_t)st.n, sizeof *st.pids)))
			return 2;
		pthread_t t[64];
		double t0 = now();
		for (long i = 0; i < st.nthreads; i++)
			pthread_create(&t[i], NULL, start_some, &st);
		for (long i = 0; i < st.nthreads; i++)
			pthread_join(t[i], NULL);
		printf("%.4f s\n", now() - t0);
		for (long i = 0; i < st.n; i++)
			kill(st.pids[i], SIGKILL);
		for (long i = 0; i < st.n; i++)
			waitpid(st.pids[i], NULL, 0);
		free(st.pids);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++)
			start(argv + 3);
		printf("%ld held\n", n);
		fflush(stdout);
		for (;;)
			pause();
	}
	fprintf(stderr, "usage: spawnloop restart CMD... | oneshot N P CMD... | start N P CMD... | hold N CMD...\n");
	return 2;
}
