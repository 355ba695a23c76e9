/*
 * ctlcmd.c - the commands of the control protocol (grunctl(1) PROTOCOL)
 * that answer at once, the dispatch, and the helpers the lasting ones in
 * ctlstream.c share: one function per command, each reading the request
 * object and writing its reply lines through the connection
 * (control_internal.h).
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

/* ---- helpers ---------------------------------------------------------------- */

void ctl_put_time(struct jbuf *b, const char *key, int64_t wall_ns)
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
const struct jv *ctl_job_args(struct ctl_conn *c, const struct jv *req, int *bad)
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
int ctl_each_wanted(struct ctl_conn *c, const struct jv *names, void (*fn)(struct sv_node *, void *),
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

/* ---- stream ends ---------------------------------------------------------- */

int ctl_send_end(struct ctl_conn *c, const char *why)
{
	jb_obj(&c->out);
	jb_kstr(&c->out, "type", "end");
	if (why)
		jb_kstr(&c->out, "why", why);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out);
}

int ctl_send_skipped(struct ctl_conn *c, const char *what, uint64_t n)
{
	jb_obj(&c->out);
	jb_kstr(&c->out, "type", "skipped");
	jb_kstr(&c->out, "what", what);
	jb_kint(&c->out, "count", (long long)n);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out);
}

/* ---- status ---------------------------------------------------------------- */

void ctl_put_exit(struct jbuf *b, const struct sv_status *st)
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
	ctl_put_exit(b, &st);
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
	const struct jv *names = ctl_job_args(c, req, &bad);
	if (bad)
		return 0;
	struct jbuf list = { 0 };
	jb_arr(&list);
	if (ctl_each_wanted(c, names, status_one, &list) < 0) {
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

/* The reply of a command on jobs: ok (else error) and the array of
 * per-instance results in res. */
static int send_results(struct ctl_conn *c, int ok, const char *error, const struct jbuf *res)
{
	ctl_header(c, ok);
	if (!ok)
		jb_kstr(&c->out, "error", error);
	jb_key(&c->out, "results");
	if (!res->failed)
		jb_raw(&c->out, res->p, res->len);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out);
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
	const struct jv *names = ctl_job_args(c, req, &bad);
	if (bad)
		return 0;
	if (!names || names->n == 0)
		return ctl_error(c, "name the jobs to %s", op == CTL_START ? "start" : op == CTL_STOP ? "stop" : "restart");
	struct targets t = { .op = op };
	int rc = ctl_each_wanted(c, names, post_op, &t);
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
	if (rc == 0)
		rc = send_results(c, all_ok, "not every job did as asked", &res);
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
	const struct jv *names = ctl_job_args(c, req, &bad);
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
	int rc = ctl_each_wanted(c, names, kill_one, &k);
	jb_end_arr(&res);
	if (rc == 0)
		rc = send_results(c, k.sent > 0, "no process to signal", &res);
	jb_free(&res);
	return rc < 0 && c->broken ? -1 : 0;
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
			return ctl_send_end(c, "every job has ended"), -1;
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
	ctl_put_time(&c->out, "time", wall_now());
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
	{ "wait", 0, ctl_cmd_wait },     { "events", 0, ctl_cmd_events }, { "logs", 0, ctl_cmd_logs },
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
