/*
 * notify.c - a minimal sd_notify(3) client for the tests: sends its
 * arguments, one per line, as one datagram to $NOTIFY_SOCKET (a path, or
 * @name for an abstract socket), as systemd-notify --ready would.
 *
 *   notify READY=1 STATUS=up
 *
 * Exit status 0 when sent, 1 on any error (reported on stderr).
 */
#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path) {
		fprintf(stderr, "notify: NOTIFY_SOCKET is not set\n");
		return 1;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path) {
		fprintf(stderr, "notify: NOTIFY_SOCKET too long\n");
		return 1;
	}
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	char msg[4096] = "";
	size_t len = 0;
	for (int i = 1; i < argc && len < sizeof msg - 1; i++)
		len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", argv[i], i + 1 < argc ? "\n" : "");
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, len, 0, (struct sockaddr *)&sa,
	                     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
		fprintf(stderr, "notify: %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
