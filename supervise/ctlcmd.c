/*
 * ctlcmd.c - the commands of the control protocol (grunctl(1) PROTOCOL):
 * one function per command, each reading the request object and writing
 * its reply lines through the connection (control_internal.h).
 *
 * Runs on a connection's green thread.  The tree is read under
 * g->tree_mu and each node's status under the board's lock (order:
 * tree_mu -> board), never across a park; what a reply needs after
 * unlocking is copied first (names, joblog references), so a node a
 * reload frees meanwhile is never touched.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- helpers ---------------------------------------------------------------- */

static void put_time(struct jbuf *b, const char *key, int64_t wall_ns)
{
	time_t s = (time_t)(wall_ns / 1000000000);
	struct tm tm;
	char text[40];
	gmtime_r(&s, &tm);
	size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text + n, sizeof text - n, ".%03dZ", (int)(wall_ns / 1000000 % 1000));
	jb_kstr(b, key, text);
}

static int64_t wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *sup_name(const struct sv_node *sup)
{
	return sup && sup->parent ? sup->name : "root";
}

/* The request's "jobs": an array of strings, or absent (NULL). */
static const struct jv *job_args(struct ctl_conn *c, const struct jv *req, int *bad)
{
	const struct jv *a = json_get(req, "jobs");
	*bad = 0;
	if (!a || a->type == J_NULL)
		return NULL;
	if (a->type != J_ARR) {
		*bad = 1;
		ctl_error(c, "\"jobs\" must be an array of job names");
		return NULL;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (a->kids[i].type != J_STR) {
			*bad = 1;
			ctl_error(c, "\"jobs\" must be an array of job names");
			return NULL;
		}
	}
	return a;
}

/* Does node n answer to one of the names (its instance's or its job's)?
 * Marks the names used. */
static int wanted(const struct sv_node *n, const struct jv *names, char *used)
{
	if (!names)
		return 1;
	int hit = 0;
	for (size_t i = 0; i < names->n; i++) {
		const char *s = names->kids[i].str;
		if (strcmp(s, n->name) == 0 || strcmp(s, n->job->name) == 0) {
			used[i] = 1;
			hit = 1;
		}
	}
	return hit;
}

/* The job nodes of the tree, in start order, with tree_mu held while fn
 * runs on each (fn must not park). */
struct walk {
	const struct jv *names;
	char *used;
	void (*fn)(struct sv_node *, void *);
	void *arg;
	size_t count;
};

static void walk_one(struct sv_node *n, void *arg)
{
	struct walk *w = arg;
	if (__atomic_load_n(&n->removed, __ATOMIC_ACQUIRE) || !n->job || !wanted(n, w->names, w->used))
		return;
	w->count++;
	w->fn(n, w->arg);
}

/* Runs fn on every wanted job node; -1 (error sent) if a name matches
 * none. */
static int each_wanted(struct ctl_conn *c, const struct jv *names, void (*fn)(struct sv_node *, void *),
                       void *arg)
{
	struct walk w = { .names = names, .fn = fn, .arg = arg };
	w.used = sv_xcalloc(names ? names->n + 1 : 1, 1, "a control request");
	sv_tree_each_job(c->g, c->g->root, walk_one, &w);
	int rc = 0;
	for (size_t i = 0; names && i < names->n; i++) {
		if (!w.used[i]) {
			ctl_error(c, "no such job: %s", names->kids[i].str);
			rc = -1;
			break;
		}
	}
	free(w.used);
	return rc;
}

/* ---- status ---------------------------------------------------------------- */

static void put_exit(struct jbuf *b, const struct sv_status *st)
{
	jb_key(b, "last_exit");
	if (!st->have_exit) {
		jb_null(b);
		return;
	}
	jb_obj(b);
	if (WIFEXITED(st->exit_status))
		jb_kint(b, "code", WEXITSTATUS(st->exit_status));
	else if (WIFSIGNALED(st->exit_status))
		jb_kstr(b, "signal", sv_signal_name(WTERMSIG(st->exit_status)));
	jb_kstr(b, "text", st->exit_text);
	jb_end_obj(b);
}

static void put_ms(struct jbuf *b, const char *key, int64_t ns, int have)
{
	jb_key(b, key);
	if (have)
		jb_int(b, ns / 1000000);
	else
		jb_null(b);
}

/* A node's status fields, inside an object the caller opens and closes
 * (tree_mu held: parent is stable). */
static void status_fields(struct jbuf *b, struct sv_node *n, int64_t now)
{
	struct sv_status st;
	sv_status_get(n, &st);
	jb_kstr(b, "name", n->name);
	jb_kstr(b, "kind", n->is_sup ? "supervisor" : "job");
	if (!n->is_sup) {
		jb_kstr(b, "job", n->job->name);
		jb_kint(b, "instance", n->inst);
	}
	jb_kstr(b, "state", sv_state_name(st.state));
	jb_key(b, "pid");
	if (st.pid > 0)
		jb_int(b, st.pid);
	else
		jb_null(b);
	jb_kbool(b, "ready", st.ready);
	put_ms(b, "since_ms", now - st.since, st.since != 0);
	put_ms(b, "uptime_ms", now - st.started, st.pid > 0 && st.started);
	put_ms(b, "ready_ms", st.ready_after, st.ready_after >= 0 && st.ready);
	put_ms(b, "restart_in_ms", st.restart_at - now > 0 ? st.restart_at - now : 0, st.state == ST_BACKOFF);
	jb_kint(b, "restarts", st.restarts);
	put_exit(b, &st);
	jb_kstr(b, "supervisor", n->parent ? sup_name(n->parent) : "");
	jb_kstr(b, "note", st.note);
	jb_kstr(b, "notify_status", st.notify_status);
}

static void put_status(struct jbuf *b, struct sv_node *n, int64_t now)
{
	jb_obj(b);
	status_fields(b, n, now);
	jb_end_obj(b);
}

static void status_one(struct sv_node *n, void *arg)
{
	put_status(arg, n, rt_now());
}

static int cmd_status(struct ctl_conn *c, const struct jv *req)
{
	int bad;
	const struct jv *names = job_args(c, req, &bad);
	if (bad)
		return 0;
	struct jbuf list = { 0 };
	jb_arr(&list);
	if (each_wanted(c, names, status_one, &list) < 0) {
		jb_free(&list);
		return 0;
	}
	jb_end_arr(&list);
	ctl_header(c, 1);
	jb_key(&c->out, "jobs");
	if (!list.failed)
		jb_raw(&c->out, list.p, list.len);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	jb_free(&list);
	return ctl_send(c, &c->out);
}

/* ---- tree ------------------------------------------------------------------ */

/* Pre-order, flat: each node with its depth and parent (a deep tree
 * stays a flat list, whatever a client's JSON nesting limit). */
static int cmd_tree(struct ctl_conn *c, const struct jv *req)
{
	(void)req;
	struct sv_graph *g = c->g;
	struct jbuf *b = &c->out;
	ctl_header(c, 1);
	jb_key(b, "tree");
	jb_arr(b);
	size_t cap = 64, top = 0;
	struct frame { struct sv_node *n; int depth; } *stack = sv_xmalloc(cap * sizeof *stack, "a walk");
	int64_t now = rt_now();
	sv_lock(&g->tree_mu);
	stack[top++] = (struct frame){ g->root, 0 };
	while (top) {
		struct frame f = stack[--top];
		struct sv_node *n = f.n;
		if (!n || __atomic_load_n(&n->removed, __ATOMIC_ACQUIRE))
			continue;
		jb_obj(b);
		jb_kint(b, "depth", f.depth);
		if (n->is_sup) {
			jb_kstr(b, "strategy", sv_strategy_name(n->sup->strategy));
			jb_kint(b, "intensity", n->sup->intensity);
			jb_kint(b, "period_ms", n->sup->period / 1000000);
		}
		status_fields(b, n, now);
		jb_end_obj(b);
		for (int i = n->nchildren - 1; i >= 0; i--) {
			if (top == cap)
				stack = sv_xreallocarray(stack, cap *= 2, sizeof *stack, "a walk");
			stack[top++] = (struct frame){ n->children[i], f.depth + 1 };
		}
	}
	sv_unlock(&g->tree_mu);
	free(stack);
	jb_end_arr(b);
	jb_end_obj(b);
	jb_line(b);
	return ctl_send(c, b);
}

/* ---- start, stop, restart ---------------------------------------------------- */

struct target {
	char name[SV_NAME_MAX + 16];
	struct sv_ctl_call *call;
};

struct targets {
	struct target *v;
	size_t n;
	enum sv_ctl_op op;
};

/* Posts the op to n's supervisor (tree_mu held: the parent is stable;
 * tree_mu -> mailbox is the allowed order). */
static void post_op(struct sv_node *n, void *arg)
{
	struct targets *t = arg;
	t->v = sv_xreallocarray(t->v, t->n + 1, sizeof *t->v, "a control request");
	struct target *tg = &t->v[t->n++];
	snprintf(tg->name, sizeof tg->name, "%s", n->name);
	tg->call = ctl_call_new();
	struct sv_msg m = { .type = MSG_CTL, .a = t->op, .ptr2 = tg->call };
	snprintf(m.text, sizeof m.text, "%s", n->name);
	sv_mbox_post(&n->parent->mbox, &m);
}

static int cmd_job_op(struct ctl_conn *c, const struct jv *req, enum sv_ctl_op op)
{
	int bad;
	const struct jv *names = job_args(c, req, &bad);
	if (bad)
		return 0;
	if (!names || names->n == 0)
		return ctl_error(c, "name the jobs to %s", op == CTL_START ? "start" : op == CTL_STOP ? "stop" : "restart");
	struct targets t = { .op = op };
	int rc = each_wanted(c, names, post_op, &t);
	/* every posted call is waited for, even after an unknown name */
	int all_ok = 1, ended = 0;
	struct jbuf res = { 0 };
	jb_arr(&res);
	for (size_t i = 0; i < t.n; i++) {
		struct sv_ctl_call *call = t.v[i].call;
		if (!ended && ctl_call_wait(c, call) < 0)
			ended = 1;
		jb_obj(&res);
		jb_kstr(&res, "job", t.v[i].name);
		jb_kbool(&res, "ok", !ended && call->ok);
		jb_kstr(&res, "text", ended ? "grun is exiting" : call->text ? call->text : "");
		jb_end_obj(&res);
		all_ok &= !ended && call->ok;
		ctl_call_free(call);
	}
	jb_end_arr(&res);
	free(t.v);
	if (rc == 0) {
		ctl_header(c, all_ok);
		if (!all_ok)
			jb_kstr(&c->out, "error", "not every job did as asked");
		jb_key(&c->out, "results");
		if (!res.failed)
			jb_raw(&c->out, res.p, res.len);
		jb_end_obj(&c->out);
		jb_line(&c->out);
		rc = ctl_send(c, &c->out);
	}
	jb_free(&res);
	return rc < 0 && c->broken ? -1 : 0;
}

/* ---- signal ------------------------------------------------------------------ */

struct kill_arg {
	int sig;
	struct jbuf *res;
	int sent;
};

static void kill_one(struct sv_node *n, void *arg)
{
	struct kill_arg *k = arg;
	int pid = __atomic_load_n(&n->pid, __ATOMIC_ACQUIRE);
	int ok = pid > 0 && kill(-pid, k->sig) == 0;
	k->sent += ok;
	jb_obj(k->res);
	jb_kstr(k->res, "job", n->name);
	jb_kbool(k->res, "ok", ok);
	jb_kstr(k->res, "text", ok ? "sent" : "not running");
	jb_end_obj(k->res);
}

static int cmd_signal(struct ctl_conn *c, const struct jv *req)
{
	int bad, sig;
	const struct jv *names = job_args(c, req, &bad);
	const char *name = json_str(req, "signal", NULL), *why;
	if (bad)
		return 0;
	if (!name || sv_parse_signal(name, &sig, &why) < 0)
		return ctl_error(c, "\"signal\": expected a signal name or number such as HUP or 10");
	if (!names || names->n == 0)
		return ctl_error(c, "name the jobs to signal");
	struct jbuf res = { 0 };
	struct kill_arg k = { sig, &res, 0 };
	jb_arr(&res);
	int rc = each_wanted(c, names, kill_one, &k);
	jb_end_arr(&res);
	if (rc == 0) {
		ctl_header(c, k.sent > 0);
		if (!k.sent)
			jb_kstr(&c->out, "error", "no process to signal");
		jb_key(&c->out, "results");
		if (!res.failed)
			jb_raw(&c->out, res.p, res.len);
		jb_end_obj(&c->out);
		jb_line(&c->out);
		rc = ctl_send(c, &c->out);
	}
	jb_free(&res);
	return rc < 0 && c->broken ? -1 : 0;
}

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
	put_time(b, "time", line->wall_ns);
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

static int send_end(struct ctl_conn *c, const char *why)
{
	jb_obj(&c->out);
	jb_kstr(&c->out, "type", "end");
	if (why)
		jb_kstr(&c->out, "why", why);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out);
}

static int send_skipped(struct ctl_conn *c, const char *what, uint64_t n)
{
	jb_obj(&c->out);
	jb_kstr(&c->out, "type", "skipped");
	jb_kstr(&c->out, "what", what);
	jb_kint(&c->out, "count", (long long)n);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out);
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
	int rc = ctl_send(c, &c->out);
	while (rc == 0) {
		uint64_t skipped;
		sv_follower_take(f, follow_line, &c->out, &skipped);
		if (skipped)
			send_skipped(c, "lines", skipped);
		if (c->out.len && ctl_send(c, &c->out) < 0)
			break;
		int news = ctl_wait_news(c, RT_NEVER);
		if (news == 0) {
			send_end(c, "grun is exiting");
			break;
		}
		if (c->peer_closed)
			break;
	}
	sv_follower_free(f);
	return -1; /* a stream ends its connection */
}

static int cmd_logs(struct ctl_conn *c, const struct jv *req)
{
	int bad;
	const struct jv *names = job_args(c, req, &bad);
	if (bad)
		return 0;
	long lines = (long)json_int(req, "lines", 10);
	if (lines < -1)
		return ctl_error(c, "\"lines\": expected a count, or -1 for every line kept");
	if (c->readonly)
		return ctl_error(c, "permission denied: logs are for grun's user only");
	struct logs l = { 0 };
	int rc = each_wanted(c, names, take_log, &l);
	int streamed = 0;
	if (rc == 0 && json_bool(req, "follow", 0)) {
		streamed = 1;
		rc = follow(c, &l, lines);
	} else if (rc == 0) {
		struct copies cs = { 0 };
		for (size_t i = 0; i < l.n; i++)
			sv_joblog_tail(l.v[i], lines, copy_line, &cs);
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
			rc = send_end(c, NULL);
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
	put_time(b, "time", ev->wall_ns);
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
	put_exit(b, &ev->st);
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

static int cmd_events(struct ctl_conn *c, const struct jv *req)
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
	int rc = ctl_send(c, &c->out);
	while (rc == 0) {
		struct sv_event ev;
		uint64_t dropped = 0, d;
		while (sv_watch_take(w, &ev, &d)) {
			dropped += d;
			put_event(&c->out, &ev);
			if (c->out.len > (64u << 10) && ctl_send(c, &c->out) < 0)
				break;
		}
		if (dropped + d)
			send_skipped(c, "events", dropped + d);
		if (c->out.len && ctl_send(c, &c->out) < 0)
			break;
		if (c->broken)
			break;
		int news = ctl_wait_news(c, RT_NEVER);
		if (news == 0) {
			send_end(c, "grun is exiting");
			break;
		}
		if (c->peer_closed)
			break;
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

static int cmd_wait(struct ctl_conn *c, const struct jv *req)
{
	int bad;
	const struct jv *names = job_args(c, req, &bad);
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
		if ((rc = each_wanted(c, names, check_one, &chk)) < 0)
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
	each_wanted(c, names, check_one, &chk);
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

/* ---- reload and stop-all ---------------------------------------------------- */

static int graph_call(struct ctl_conn *c, enum sv_ctl_op op, struct sv_ctl_call **out)
{
	struct sv_ctl_call *call = ctl_call_new();
	struct sv_msg m = { .type = MSG_CTL, .a = op, .ptr2 = call };
	sv_mbox_post(&c->g->mbox, &m);
	if (ctl_call_wait(c, call) < 0) {
		ctl_call_free(call);
		return ctl_error(c, "grun is exiting"), -1;
	}
	*out = call;
	return 0;
}

static int cmd_reload(struct ctl_conn *c, const struct jv *req)
{
	(void)req;
	struct sv_ctl_call *call;
	if (graph_call(c, CTL_RELOAD, &call) < 0)
		return 0;
	ctl_header(c, call->ok);
	char *text = call->text ? call->text : "";
	if (call->ok) {
		jb_kstr(&c->out, "text", text);
	} else {
		jb_kstr(&c->out, "error", "reload rejected: the running jobs are unchanged");
		jb_key(&c->out, "errors");
		jb_arr(&c->out);
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			jb_str(&c->out, line);
		jb_end_arr(&c->out);
	}
	jb_end_obj(&c->out);
	jb_line(&c->out);
	ctl_call_free(call);
	return ctl_send(c, &c->out) < 0 ? -1 : 0;
}

static int cmd_stop_all(struct ctl_conn *c, const struct jv *req)
{
	struct sv_ctl_call *call;
	if (graph_call(c, CTL_STOP_ALL, &call) < 0)
		return 0;
	ctl_header(c, call->ok);
	jb_kstr(&c->out, call->ok ? "text" : "error", call->text ? call->text : "");
	jb_end_obj(&c->out);
	jb_line(&c->out);
	int ok = call->ok;
	ctl_call_free(call);
	if (ctl_send(c, &c->out) < 0 || !ok || !json_bool(req, "wait", 1))
		return -1;
	/* the end comes when every job has ended and grun tears down */
	for (;;) {
		int news = ctl_wait_news(c, RT_NEVER);
		if (news == 0)
			return send_end(c, "every job has ended"), -1;
		if (c->peer_closed)
			return -1;
	}
}

/* ---- hello ----------------------------------------------------------------- */

static int cmd_hello(struct ctl_conn *c, const struct jv *req)
{
	(void)req;
	ctl_header(c, 1);
	jb_kint(&c->out, "protocol", CTL_PROTOCOL);
	jb_kstr(&c->out, "grun", PACKAGE_VERSION);
	jb_kint(&c->out, "pid", getpid());
	jb_kstr(&c->out, "config", c->g->cfg->path);
	jb_kbool(&c->out, "readonly", c->readonly);
	put_time(&c->out, "time", wall_now());
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out) < 0 ? -1 : 0;
}

/* ---- dispatch ----------------------------------------------------------------- */

static const struct command {
	const char *name;
	int writes;    /* refused to read-only peers */
	int (*fn)(struct ctl_conn *, const struct jv *);
} commands[] = {
	{ "hello", 0, cmd_hello },   { "status", 0, cmd_status }, { "tree", 0, cmd_tree },
	{ "wait", 0, cmd_wait },     { "events", 0, cmd_events }, { "logs", 0, cmd_logs },
	{ "signal", 1, cmd_signal }, { "reload", 1, cmd_reload }, { "stop-all", 1, cmd_stop_all },
};

static int cmd_start(struct ctl_conn *c, const struct jv *req) { return cmd_job_op(c, req, CTL_START); }
static int cmd_stop(struct ctl_conn *c, const struct jv *req) { return cmd_job_op(c, req, CTL_STOP); }
static int cmd_restart(struct ctl_conn *c, const struct jv *req) { return cmd_job_op(c, req, CTL_RESTART); }

static const struct command job_commands[] = {
	{ "start", 1, cmd_start }, { "stop", 1, cmd_stop }, { "restart", 1, cmd_restart },
};

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	for (size_t i = 0; i < sizeof job_commands / sizeof job_commands[0]; i++)
		if (strcmp(job_commands[i].name, name) == 0)
			return &job_commands[i];
	return NULL;
}

int ctl_dispatch(struct ctl_conn *c, const struct jv *req)
{
	long long v = json_int(req, "v", CTL_PROTOCOL);
	if (v != CTL_PROTOCOL)
		return ctl_error(c, "protocol version %lld is not supported (this grun speaks %d)", v, CTL_PROTOCOL);
	const char *name = json_str(req, "cmd", NULL);
	if (!name)
		return ctl_error(c, "malformed request: no \"cmd\"");
	const struct command *cmd = find(name);
	if (!cmd)
		return ctl_error(c, "unknown command: %s", name);
	if (cmd->writes && c->readonly)
		return ctl_error(c, "permission denied: %s is for grun's user only (this connection may only read "
		                 "the status)", name);
	return cmd->fn(c, req);
}
