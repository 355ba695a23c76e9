/*
 * notify.c - see notify.h.  Owns no state: the socket is opened for each
 * message (they are rare).  The ready watch reads the latches of the
 * first config, which stays allocated for the whole run.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/latch.h"
#include "supervise/notify.h"

void sv_notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
}

static void ready_watch(void *arg)
{
	struct sv_graph *g = arg;
	const struct sv_config *cfg = g->first_cfg;
	int all = 1;
	for (int i = 0; i < cfg->njobs && all; i++) {
		if (!cfg->jobs[i].selected)
			continue;
		/* a latch a reload replaced closes while still open: look again */
		for (int open = 1; open && all;) {
			struct sv_latch *l = sv_latch_find(g->latches, cfg->jobs[i].name);
			struct rt_case c[2] = { { g->quit, RT_RECV, NULL, 0 }, { l ? l->settled : NULL, RT_RECV, NULL, 0 } };
			all = !l || rt_select(c, 2, RT_NEVER) == 1;
			open = l && all && sv_latch_outcome(l) == LATCH_OPEN;
			sv_latch_put(g->latches, l);
		}
	}
	if (all) {
		sv_debug("every job is ready or settled");
		sv_notify_systemd("READY=1"); /* STATUS= comes from service.c */
	}
	rt_wg_done(&g->watchers);
}

int sv_ready_watch_start(struct sv_graph *g)
{
	rt_wg_add(&g->watchers, 1);
	if (rt_go_named("ready watch", ready_watch, g) < 0) {
		rt_wg_done(&g->watchers);
		return -1;
	}
	return 0;
}
