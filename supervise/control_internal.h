/*
 * control_internal.h - what control.c (the socket and its connections)
 * and ctlcmd.c (the commands) share.
 */
#ifndef GRUN_SV_CONTROL_INTERNAL_H
#define GRUN_SV_CONTROL_INTERNAL_H
#include <stdint.h>
#include <sys/types.h>

#include "supervise/control.h"
#include "supervise/json.h"

#define CTL_PROTOCOL 1

/* One client connection, served by its own green thread, which alone
 * touches it. */
struct ctl_conn {
	struct sv_graph *g;
	int fd;                 /* non-blocking */
	int wake;               /* eventfd: a watch or follower of this connection has news */
	int quit_fd;            /* the control's eventfd: readable once grun is ending */
	uid_t uid;
	pid_t pid;
	int readonly;           /* a control_group member, not grun's user */
	char *in;               /* request bytes read, CTL_REQUEST_MAX */
	size_t have;
	int peer_closed;        /* read EOF */
	int broken;             /* a write failed or stalled: stop writing */
	struct jbuf out;
};

/* A request line may be this long, newline included. */
#define CTL_REQUEST_MAX (64u << 10)

/* ctl_send() writes b's text to the client (then resets b); -1 when the
 * client is gone, stalls for CTL_WRITE_STALL, or grun is ending. */
int ctl_send(struct ctl_conn *c, struct jbuf *b);
/* ctl_error() sends {"v":1,"ok":false,"error":...}. */
int ctl_error(struct ctl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ctl_header() starts a reply line {"v":1,"ok":ok in c->out. */
void ctl_header(struct ctl_conn *c, int ok);
/* ctl_wait_news() parks until the client sends something or closes
 * (returns 1; c->peer_closed on EOF), a watch or follower has news (2;
 * the wake fd is drained), grun is ending (0) or the deadline passes
 * (-1). */
int ctl_wait_news(struct ctl_conn *c, int64_t deadline);
/* ctl_quitting() says whether grun is ending. */
int ctl_quitting(struct ctl_conn *c);
/* ctl_call() posts a call to mb (the message m, with ptr2 set here) and
 * waits for the answer; returns the call (caller frees with
 * ctl_call_free), or NULL if grun ended first. */
struct sv_mailbox;
struct sv_msg;
struct sv_ctl_call *ctl_call_new(void);
int ctl_call_wait(struct ctl_conn *c, struct sv_ctl_call *call);
void ctl_call_free(struct sv_ctl_call *call);

/* ctlcmd.c: carries out one parsed request; returns -1 when the
 * connection must end (a stream the client left, a failed write). */
int ctl_dispatch(struct ctl_conn *c, const struct jv *req);
/* ctlcmd.c, shared with ctlstream.c: a "time" member in ISO 8601 UTC;
 * the request's "jobs" (NULL if absent; *bad after an error reply);
 * fn on every job node a name selects, with tree_mu held (-1 after an
 * error reply naming an unknown job); a status's "last_exit"; the
 * {"type":"end"} and {"type":"skipped"} lines of a stream. */
struct sv_node;
struct sv_status;
void ctl_put_time(struct jbuf *b, const char *key, int64_t wall_ns);
const struct jv *ctl_job_args(struct ctl_conn *c, const struct jv *req, int *bad);
int ctl_each_wanted(struct ctl_conn *c, const struct jv *names, void (*fn)(struct sv_node *, void *), void *arg);
void ctl_put_exit(struct jbuf *b, const struct sv_status *st);
int ctl_send_end(struct ctl_conn *c, const char *why);
int ctl_send_skipped(struct ctl_conn *c, const char *what, uint64_t n);
/* ctlstream.c: logs, events, wait. */
int ctl_cmd_logs(struct ctl_conn *c, const struct jv *req);
int ctl_cmd_events(struct ctl_conn *c, const struct jv *req);
int ctl_cmd_wait(struct ctl_conn *c, const struct jv *req);
#endif
