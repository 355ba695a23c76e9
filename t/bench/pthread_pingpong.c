/*
 * pthread_pingpong - the kernel reference for grun's yield benchmark.
 *
 *   taskset -c 0 pthread_pingpong <n>
 *
 * Two OS threads hand a turn back and forth through one mutex and one
 * condition variable, strictly alternating, n times each.  Run on a
 * single core (t/bench/run uses taskset -c 0) every hand-off is a kernel
 * context switch.  Prints "<ns per switch> ns", where ns per switch is
 * elapsed / (2 n).
 *
 * Build: gcc -O2 -pthread -o pthread_pingpong pthread_pingpong.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;          /* whose turn: 0 or 1 */
static long iterations;

static void *player(void *arg)
{
	int me = (int)(long)arg;
	long i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < iterations; i++) {
		while (turn != me)
			pthread_cond_wait(&cv, &mu);
		turn = !me;
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	double start, elapsed, nf;
	char *end;
	int i, err;

	/* "pthread_pingpong <n>", or "<name> <n>" like gobench and rtbench */
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: pthread_pingpong <n>\n");
		return 2;
	}
	nf = strtod(argv[argc - 1], &end);
	if (*end || nf < 1 || nf > 1e12 || nf != (double)(long)nf) {
		fprintf(stderr, "pthread_pingpong: bad count '%s'\n", argv[argc - 1]);
		return 2;
	}
	iterations = (long)nf;
	turn = 0;

	start = now_ns();
	for (i = 0; i < 2; i++) {
		err = pthread_create(&t[i], NULL, player, (void *)(long)i);
		if (err) {
			fprintf(stderr, "pthread_pingpong: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	elapsed = now_ns() - start;

	printf("%.1f ns\n", elapsed / (2.0 * (double)iterations));
	return 0;
}
