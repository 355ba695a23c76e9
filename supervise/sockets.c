/*
 * sockets.c - see sockets.h.  Owns the table of grun's inherited
 * listening sockets; written by the main thread before rt_run() (under a
 * pthread_once), read by job green threads as they spawn.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise/sockets.h"
#include "supervise/xalloc.h"

/* systemd caps LISTEN_FDS far below this; more is a broken environment. */
#define FDS_MAX 4096

static struct {
	int n;          /* descriptors 3 .. 3 + n - 1 */
	int named;      /* LISTEN_FDNAMES was given */
	char **names;   /* n names ("unknown" where none was given) */
	char *list;     /* LISTEN_FDNAMES as received, for messages */
} socks;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void take(void)
{
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	const char *snames = getenv("LISTEN_FDNAMES");
	char *end;
	long pid = spid ? strtol(spid, &end, 10) : 0;
	int mine = spid && *spid && !*end && pid == (long)getpid();
	long n = mine && sfds ? strtol(sfds, &end, 10) : 0;
	if (mine && sfds && *sfds && !*end && n > 0 && n <= FDS_MAX) {
		socks.n = (int)n;
		socks.names = sv_xcalloc((size_t)n, sizeof *socks.names, "the socket table");
		const char *p = snames;
		for (int i = 0; i < socks.n; i++) {
			size_t l = p ? strcspn(p, ":") : 0;
			socks.names[i] = p ? sv_xstrndup(p, l, "a socket name") : sv_xstrdup("unknown", "a socket name");
			if (p)
				p = p[l] == ':' ? p + l + 1 : NULL;
			fcntl(3 + i, F_SETFD, FD_CLOEXEC);
		}
		socks.named = snames != NULL;
		socks.list = sv_xstrdup(snames ? snames : "", "the socket names");
	}
	/* other jobs must not take them for their own */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

void sv_sockets_init(void)
{
	pthread_once(&once, take);
}

int sv_sockets_named(void)
{
	sv_sockets_init();
	return socks.named;
}

int sv_sockets_find(const char *name, int *fds, int max)
{
	sv_sockets_init();
	int k = 0;
	for (int i = 0; i < socks.n && k < max; i++)
		if (strcmp(socks.names[i], name) == 0)
			fds[k++] = 3 + i;
	return k;
}

void sv_sockets_describe(char *buf, size_t len)
{
	sv_sockets_init();
	if (socks.n == 0)
		snprintf(buf, len, "grun was started without sockets (no LISTEN_FDS for its pid)");
	else if (!socks.named)
		snprintf(buf, len, "grun's %d socket%s came without names (no LISTEN_FDNAMES)", socks.n,
		         socks.n == 1 ? "" : "s");
	else
		snprintf(buf, len, "grun's sockets are named %s", socks.list);
}
