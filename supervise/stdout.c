/*
 * stdout.c - when the reader of grun's stdout goes away (graph.h): grun
 * does what yes does in `yes | head -1`.  The writers of grun's stdout
 * (jobs marked feeds_stdout by check.c) are stopped through their
 * supervisors and never restarted, what they left unread is not counted
 * as lost (wire.c, pipe.c), and grun leaves by SIGPIPE.
 *
 * Detected by whoever sees it first: the log writer's EPIPE (output.c),
 * the chan:stdout feeder's (pipe.c), a writer dying of SIGPIPE (job.c),
 * or the stdout watch below.  stdout_gone is set once; the main green
 * thread is told by a MSG_STDOUT_GONE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/reload.h"
#include "supervise/stdout.h"
#include "supervise/tree.h"

void sv_graph_stdout_gone(struct sv_graph *g)
{
	int was = 0;
	if (!__atomic_compare_exchange_n(&g->stdout_gone, &was, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	struct sv_msg m = { .type = MSG_STDOUT_GONE };
	sv_mbox_post(&g->mbox, &m);
}

int sv_graph_stdout_is_gone(struct sv_graph *g)
{
	return __atomic_load_n(&g->stdout_gone, __ATOMIC_ACQUIRE);
}

void sv_stdout_gone_hook(void *arg)
{
	sv_graph_stdout_gone(arg);
}

/* When grun's stdout is a pipe or a socket, waits for its reader to go
 * away (the write end then reports an error), so that a job writing it
 * seldom is stopped at once, not at its next write.  Ends at teardown,
 * woken through stdout_wake. */
static void stdout_watch(void *arg)
{
	struct sv_graph *g = arg;
	int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	for (;;) {
		struct rt_pollfd pf[2] = { { fd, RT_READ, 0 }, { g->stdout_wake[0], RT_READ, 0 } };
		if (fd < 0 || rt_fd_wait_any(pf, 2, RT_NEVER) < 0 || pf[1].revents)
			break;
		if (pf[0].revents) {
			sv_graph_stdout_gone(g);
			break;
		}
	}
	if (fd >= 0)
		rt_close(fd); /* it was polled: the runtime's close */
	rt_wg_done(&g->watchers);
}

int sv_stdout_watch_start(struct sv_graph *g)
{
	struct stat st;
	g->stdout_wake[0] = g->stdout_wake[1] = -1;
	if (fstat(STDOUT_FILENO, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return 0;
	if (pipe2(g->stdout_wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	rt_wg_add(&g->watchers, 1);
	if (rt_go_named("stdout watch", stdout_watch, g) < 0) {
		rt_wg_done(&g->watchers);
		return -1;
	}
	return 0;
}

/* The stdout writers: stop them (their reader is gone); never restarted. */
void sv_stdout_stop_writers(struct sv_graph *g, const struct sv_roster *roster)
{
	sv_debug("the reader of grun's stdout went away: stopping the jobs that write to it");
	for (size_t i = 0; i < roster->n; i++) {
		struct sv_node *n = roster->v[i];
		if (n->job->feeds_stdout)
			sv_tree_to_parent(n, &(struct sv_msg){ .type = MSG_STOP_CHILD, .ptr = n });
	}
}

int sv_stdout_writer_orphaned(const struct sv_node *n)
{
	return !n->is_sup && n->job && n->job->feeds_stdout && sv_graph_stdout_is_gone(n->g);
}

