/*
 * io.c - read and write on non-blocking fds that park the green thread
 * instead of returning EAGAIN.
 */
#include <fcntl.h>
#include <unistd.h>

#include "rt_internal.h"

int rt_fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

ssize_t rt_read(int fd, void *buf, size_t n, int64_t deadline)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (rt_fd_wait(fd, RT_READ, deadline) < 0)
			return -1;
	}
}

ssize_t rt_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = write(fd, (const char *)buf + done, n - done);
		if (r >= 0) {
			done += (size_t)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (rt_fd_wait(fd, RT_WRITE, deadline) < 0)
			return -1;
	}
	return (ssize_t)done;
}
