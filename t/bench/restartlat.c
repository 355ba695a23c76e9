/*
 * restartlat.c - restart latency of whatever supervises t/bench/stamp:
 * kills the service with SIGKILL and waits until its replacement has
 * exec'd and appended its stamp; latency = replacement's stamp - kill
 * time (both CLOCK_REALTIME).  Prints the median over N kills in
 * microseconds: "<median> us".
 *
 *   restartlat FILE N [PAUSE_MS]    (PAUSE_MS between kills, default 100)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The last line of FILE and the number of lines. */
static int last(const char *file, int *pid, long long *t)
{
	FILE *f = fopen(file, "r");
	int n = 0, p;
	long long v;
	if (!f)
		return 0;
	while (fscanf(f, "%d %lld", &p, &v) == 2)
		n++, *pid = p, *t = v;
	fclose(f);
	return n;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int n = atoi(argv[2]), pause_ms = argc > 3 ? atoi(argv[3]) : 100, pid = 0;
	long long t = 0, *lat = calloc((size_t)n, sizeof *lat);
	int lines = 0;
	for (int w = 0; w < 10000 && (lines = last(argv[1], &pid, &t)) == 0; w++)
		usleep(1000);
	if (!lines) {
		fprintf(stderr, "restartlat: no stamp in %s\n", argv[1]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		usleep((useconds_t)pause_ms * 1000);
		lines = last(argv[1], &pid, &t);
		long long t0 = realtime();
		if (kill(pid, SIGKILL) < 0) {
			perror("restartlat: kill");
			return 1;
		}
		int now_lines = lines;
		long long deadline = t0 + 20000000000LL;
		while ((now_lines = last(argv[1], &pid, &t)) == lines && realtime() < deadline)
			usleep(20);
		if (now_lines == lines) {
			fprintf(stderr, "restartlat: no restart within 20 s\n");
			return 1;
		}
		lat[i] = t - t0;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("%.0f us\n", (double)lat[n / 2] / 1000.0);
	return 0;
}
