/*
 * ctlstream.c - the commands of the control protocol that last: logs
 * (and logs -f), events and wait.  Each follows a bounded ring fed by
 * the pumps (joblog.h) or by the board (status.h) and wakes on the
 * connection's eventfd, so a client that reads slowly loses lines or
 * events (counted, and said), never holds up grun.
 *
 * Runs on a connection's green thread; the locking rules are ctlcmd.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt.h"
#include "supervise/control_internal.h"
#include "supervise/joblog.h"
#include "supervise/lock.h"
#include "supervise/status.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

/* Unread events a watch keeps, and bytes of lines a follower keeps. */
#define WATCH_EVENTS 1024
#define FOLLOW_BYTES (256u << 10)

/* ---- logs ----------------------------------------------------------------- */

struct logs {
	struct sv_joblog **v;
	size_t n;
};

static void take_log(struct sv_node *n, void *arg)
{
	struct logs *l = arg;
	if (!n->log)
		return;
	l->v = sv_xreallocarray(l->v, l->n + 1, sizeof *l->v, "a control request");
	sv_joblog_ref(n->log);
	l->v[l->n++] = n->log;
}

/* A copy of one line, for sorting the lines of several jobs by time. */
struct copied {
	int64_t wall_ns;
	int stream;
	char name[80];
	char *text;
	size_t len, seq;
};

struct copies {
	struct copied *v;
	size_t n;
};

static void copy_line(const struct sv_logline *line, void *arg)
{
	struct copies *cs = arg;
	cs->v = sv_xreallocarray(cs->v, cs->n + 1, sizeof *cs->v, "log lines");
	struct copied *c = &cs->v[cs->n];
	c->wall_ns = line->wall_ns;
	c->stream = line->stream;
	snprintf(c->name, sizeof c->name, "%s", line->name);
	c->text = sv_xmalloc(line->len + 1, "a log line");
	memcpy(c->text, line->text, line->len);
	c->len = line->len;
	c->seq = cs->n++;
}

static int by_time(const void *a, const void *b)
{
	const struct copied *x = a, *y = b;
	if (x->wall_ns != y->wall_ns)
		return x->wall_ns < y->wall_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void put_line(struct jbuf *b, const struct sv_logline *line)
{
	jb_obj(b);
	jb_kstr(b, "type", "log");
	jb_kstr(b, "job", line->name);
	jb_kstr(b, "stream", line->stream == 2 ? "stderr" : "stdout");
	ctl_put_time(b, "time", line->wall_ns);
	jb_key(b, "line");
	jb_strn(b, line->text, line->len);
	jb_end_obj(b);
	jb_line(b);
}

/* A follower's lines go out in batches: one write per wake-up. */
static void follow_line(const struct sv_logline *line, void *arg)
{
	put_line(arg, line);
}

/* After a batch of a stream: says what a slow reader lost, writes, and
 * waits for more.  0 when the stream ends (the client left, a write
 * failed, or grun is exiting: then a last {"type":"end"}). */
static int stream_next(struct ctl_conn *c, const char *what, uint64_t skipped)
{
	if (skipped)
		ctl_send_skipped(c, what, skipped);
	if ((c->out.len && ctl_send(c, &c->out) < 0) || c->broken)
		return 0;
	if (ctl_wait_news(c, RT_NEVER) == 0) {
		ctl_send_end(c, "grun is exiting");
		return 0;
	}
	return !c->peer_closed;
}

static int follow(struct ctl_conn *c, struct logs *l, long lines)
{
	struct sv_follower *f = sv_follower_new(FOLLOW_BYTES, c->wake);
	if (!f)
		return ctl_error(c, "out of memory");
	for (size_t i = 0; i < l->n; i++)
		sv_follower_attach(f, l->v[i], lines);
	ctl_header(c, 1);
	jb_kbool(&c->out, "follow", 1);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	int more = ctl_send(c, &c->out) == 0;
	while (more) {
		uint64_t skipped;
		sv_follower_take(f, follow_line, &c->out, &skipped);
		more = stream_next(c, "lines", skipped);
	}
	sv_follower_free(f);
	return -1; /* a stream ends its connection */
}

int ctl_cmd_logs(struct ctl_conn *c, const struct jv *req)
{
	int bad;
	const struct jv *names = ctl_job_args(c, req, &bad);
	if (bad)
		return 0;
	long lines = (long)json_int(req, "lines", 10);
	if (lines < -1)
		return ctl_error(c, "\"lines\": expected a count, or -1 for every line kept");
	if (c->readonly)
		return ctl_error(c, "permission denied: logs are for grun's user only");
	struct logs l = { 0 };
	int rc = ctl_each_wanted(c, names, take_log, &l);
	int streamed = 0;
	if (rc == 0 && json_bool(req, "follow", 0)) {
		streamed = 1;
		rc = follow(c, &l, lines);
	} else if (rc == 0) {
		struct copies cs = { 0 };
		for (size_t i = 0; i < l.n; i++)
			sv_joblog_tail(l.v[i], lines, copy_line, &cs);
		if (cs.n > 1) /* cs.v is NULL when no job kept a line */
			qsort(cs.v, cs.n, sizeof *cs.v, by_time);
		ctl_header(c, 1);
		jb_end_obj(&c->out);
		jb_line(&c->out);
		for (size_t i = 0; i < cs.n; i++) {
			struct sv_logline line = { cs.v[i].wall_ns, cs.v[i].stream, cs.v[i].name, cs.v[i].text,
			                           cs.v[i].len };
			put_line(&c->out, &line);
			free(cs.v[i].text);
			if (c->out.len > (64u << 10) && ctl_send(c, &c->out) < 0)
				rc = -1;
		}
		free(cs.v);
		if (rc == 0)
			rc = ctl_send_end(c, NULL);
	}
	for (size_t i = 0; i < l.n; i++)
		sv_joblog_unref(l.v[i]);
	free(l.v);
	/* a stream ends its connection; an error reply (an unknown job) does not */
	return streamed || c->broken ? -1 : 0;
}

/* ---- events ----------------------------------------------------------------- */

static void put_event(struct jbuf *b, const struct sv_event *ev)
{
	jb_obj(b);
	jb_kstr(b, "type", "event");
	jb_kint(b, "seq", (long long)ev->seq);
	ctl_put_time(b, "time", ev->wall_ns);
	jb_kstr(b, "name", ev->name);
	jb_kstr(b, "kind", ev->is_sup ? "supervisor" : "job");
	jb_kstr(b, "state", sv_state_name(ev->st.state));
	jb_key(b, "pid");
	if (ev->st.pid > 0)
		jb_int(b, ev->st.pid);
	else
		jb_null(b);
	jb_kbool(b, "ready", ev->st.ready);
	jb_kint(b, "restarts", ev->st.restarts);
	ctl_put_exit(b, &ev->st);
	jb_kstr(b, "note", ev->st.note);
	jb_kstr(b, "notify_status", ev->st.notify_status);
	jb_end_obj(b);
	jb_line(b);
}

/* The current state of node n as an event with seq 0 (events' snapshot;
 * tree_mu held). */
static void snapshot_one(struct sv_node *n, void *arg)
{
	struct sv_event ev = { .is_sup = n->is_sup };
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ev.wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	snprintf(ev.name, sizeof ev.name, "%s", n->name);
	sv_status_get(n, &ev.st);
	put_event(arg, &ev);
}

int ctl_cmd_events(struct ctl_conn *c, const struct jv *req)
{
	struct sv_watch *w = sv_watch_new(c->g->board, WATCH_EVENTS, c->wake);
	if (!w)
		return ctl_error(c, "out of memory");
	ctl_header(c, 1);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	/* the watch came first: a change after the snapshot is an event
	 * after it (perhaps one the snapshot already shows), never lost */
	if (json_bool(req, "snapshot", 0))
		sv_tree_each_job(c->g, c->g->root, snapshot_one, &c->out);
	int more = ctl_send(c, &c->out) == 0;
	while (more) {
		struct sv_event ev;
		uint64_t dropped = 0, d;
		for (;;) {
			int got = sv_watch_take(w, &ev, &d);
			dropped += d;
			if (!got)
				break;
			put_event(&c->out, &ev);
			if (c->out.len > (64u << 10) && ctl_send(c, &c->out) < 0)
				break;
		}
		more = stream_next(c, "events", dropped);
	}
	sv_watch_free(w);
	return -1;
}

/* ---- wait -------------------------------------------------------------------- */

struct waitcheck {
	int exited;             /* wait for exited, else ready */
	int pending, bad, count;
	char why[300];
	struct jbuf *res;
};

static void check_one(struct sv_node *n, void *arg)
{
	struct waitcheck *w = arg;
	struct sv_status st;
	sv_status_get(n, &st);
	w->count++;
	int final = sv_state_final(st.state), held = st.state == ST_STOPPED;
	if (w->exited) {
		if (!final && !held)
			w->pending++;
		else if (st.state == ST_FAILED || st.state == ST_SKIPPED) {
			w->bad++;
			snprintf(w->why, sizeof w->why, "%s %s", n->name, sv_state_name(st.state));
		}
	} else if (!(st.ready && (st.state == ST_RUNNING || st.state == ST_EXITED))) {
		if (final) {
			w->bad++;
			snprintf(w->why, sizeof w->why, "%s %s without becoming ready%s%s", n->name,
			         sv_state_name(st.state), st.have_exit ? ": " : "", st.have_exit ? st.exit_text : "");
		} else {
			w->pending++;
		}
	}
	if (w->res) {
		jb_obj(w->res);
		jb_kstr(w->res, "name", n->name);
		jb_kstr(w->res, "state", sv_state_name(st.state));
		jb_kbool(w->res, "ready", st.ready);
		jb_end_obj(w->res);
	}
}

int ctl_cmd_wait(struct ctl_conn *c, const struct jv *req)
{
	int bad;
	const struct jv *names = ctl_job_args(c, req, &bad);
	if (bad)
		return 0;
	const char *until = json_str(req, "until", "ready");
	if (strcmp(until, "ready") != 0 && strcmp(until, "exited") != 0)
		return ctl_error(c, "\"until\": expected ready or exited");
	long long timeout_ms = json_int(req, "timeout_ms", -1);
	int64_t deadline = timeout_ms < 0 ? RT_NEVER : rt_now() + timeout_ms * 1000000LL;
	struct sv_watch *w = sv_watch_new(c->g->board, 16, c->wake);
	if (!w)
		return ctl_error(c, "out of memory");
	int rc = 0, timed_out = 0, ending = 0;
	struct waitcheck chk;
	for (;;) {
		chk = (struct waitcheck){ .exited = until[0] == 'e' };
		if ((rc = ctl_each_wanted(c, names, check_one, &chk)) < 0)
			break;
		if (!chk.pending || chk.bad)
			break;
		/* events only say "look again"; the statuses are the truth */
		struct sv_event ev;
		uint64_t d;
		while (sv_watch_take(w, &ev, &d))
			;
		int news = ctl_wait_news(c, deadline);
		if (news < 0)
			timed_out = 1;
		if (news == 0)
			ending = 1;
		if (news <= 0 || c->peer_closed)
			break;
	}
	sv_watch_free(w);
	if (rc < 0 || c->peer_closed)
		return rc < 0 ? 0 : -1;
	struct jbuf res = { 0 };
	chk.res = &res;
	chk.pending = chk.bad = chk.count = 0;
	jb_arr(&res);
	ctl_each_wanted(c, names, check_one, &chk);
	jb_end_arr(&res);
	int ok = !chk.pending && !chk.bad;
	ctl_header(c, ok);
	if (!ok)
		jb_kstr(&c->out, "error", timed_out ? "timed out" : ending ? "grun is exiting" : chk.why);
	if (timed_out)
		jb_kbool(&c->out, "timeout", 1);
	jb_key(&c->out, "jobs");
	if (!res.failed)
		jb_raw(&c->out, res.p, res.len);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	jb_free(&res);
	return ctl_send(c, &c->out) < 0 ? -1 : 0;
}

