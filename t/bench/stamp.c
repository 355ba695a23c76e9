/*
 * stamp.c - the service the restart benchmarks supervise: appends
 * "PID REALTIME_NS" to FILE as soon as it runs, then sleeps until killed.
 *
 *   stamp FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc < 2)
		return 2;
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return 1;
	char line[64];
	int n = snprintf(line, sizeof line, "%d %lld\n", (int)getpid(),
	                 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	if (write(fd, line, (size_t)n) != n)
		return 1;
	close(fd);
	for (;;)
		pause();
}
