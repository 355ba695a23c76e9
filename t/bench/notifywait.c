/*
 * notifywait.c - how long a Type=notify service takes to say READY=1:
 * runs CMD with NOTIFY_SOCKET set to a fresh abstract socket and prints
 * the time from just before the exec to the READY=1 datagram, then sends
 * CMD SIGTERM and waits for it.  Prints "<seconds> s".
 *
 *   notifywait CMD [ARG...]
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "notifywait/%d", (int)getpid());
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0) {
		perror("notifywait: bind");
		return 1;
	}
	char env[128];
	snprintf(env, sizeof env, "@%s", sa.sun_path + 1);
	setenv("NOTIFY_SOCKET", env, 1);
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	char buf[4096];
	for (;;) {
		struct timeval tv = { 600, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
		if (r < 0) {
			fprintf(stderr, "notifywait: no READY=1\n");
			kill(pid, SIGKILL);
			return 1;
		}
		buf[r] = '\0';
		if (strstr(buf, "READY=1"))
			break;
	}
	double t1 = now();
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	printf("%.4f s\n", t1 - t0);
	return 0;
}
