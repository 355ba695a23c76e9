/*
 * control.h - the control socket: a UNIX stream socket on which
 * grunctl(1) (or any client speaking the protocol grunctl(1) documents)
 * queries and steers a running grun.
 *
 * control.c owns the socket, its lock file, the listener and one green
 * thread per connection; ctlcmd.c carries out the requests.  Requests
 * that change the tree go where the decision belongs, as messages:
 * start/stop/restart of a job to its supervisor (MSG_CTL), reload and
 * stop-all to the main green thread.  The handler answers through a
 * struct sv_ctl_call the connection waits on.
 */
#ifndef GRUN_SV_CONTROL_H
#define GRUN_SV_CONTROL_H
#include <sys/types.h>

struct sv_graph;
struct rt_chan;

/* Operations carried by MSG_CTL (mailbox.h: a = op, text = the job
 * instance's name for the supervisor ones, ptr2 = the call). */
enum sv_ctl_op {
	CTL_START = 1,  /* supervisor: start the child now (from held, done or backoff) */
	CTL_STOP,       /* supervisor: stop the child and hold it stopped */
	CTL_RESTART,    /* supervisor: stop and start it, and its group by the strategy */
	CTL_RELOAD,     /* graph: SIGHUP's reload, with its result */
	CTL_STOP_ALL,   /* graph: stop every job, as SIGTERM, and end */
};

/* A request in flight.  The connection makes it and waits on done; the
 * handler sets ok and text, then closes done (never parks).  text is
 * malloc'd by the handler (NULL: nothing to say) and freed by the
 * connection.  If grun ends first, the connection gives up waiting once
 * every handler has ended (g->quit), and frees the call itself. */
struct sv_ctl_call {
	struct rt_chan *done;
	int ok;
	char *text;
};

/* sv_ctl_reply() answers a call (call may be NULL: nobody asked). */
void sv_ctl_reply(struct sv_ctl_call *call, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* sv_control_open() makes the socket at path (NULL: the default for the
 * config file, ctlpath.h), after taking its lock: another grun holding
 * it is an error.  group >= 0 lets that group's members read the status.
 * 0, or -1 after logging why.  Main green thread, before the tree starts. */
int sv_control_open(struct sv_graph *g, const char *path, gid_t group);
/* sv_control_start() starts the listener green thread.  0 or -1. */
int sv_control_start(struct sv_graph *g);
/* sv_control_stop() ends the listener and every connection (each sends
 * its last words), then removes the socket.  Returns 1, or 0 if a
 * connection is still running after a grace period (then the graph's
 * memory must be left alone).  Main green thread, at teardown, after
 * every node has ended. */
int sv_control_stop(struct sv_graph *g);
/* sv_control_on() says whether a control socket is open (jobs held
 * stopped can then be started). */
int sv_control_on(const struct sv_graph *g);
#endif
