/*
 * sup.c - a supervisor: one green thread that starts its children in
 * order, restarts them by its strategy, and gives up when they crash too
 * often, with the semantics of Erlang/OTP's supervisor.erl:
 *
 * - A child that ends is restarted if it is permanent, or transient and
 *   ended abnormally; temporary children never are.
 * - one_for_one restarts that child; one_for_all stops every other child
 *   (in reverse start order) and restarts all; rest_for_one stops the
 *   children started after it and restarts it and them.  Temporary
 *   children stopped this way are not restarted.  Restarts happen in start
 *   order, after the ended child's backoff delay.
 * - Each restart decision (one per group) is recorded; more than
 *   `intensity` of them within `period` (a sliding window) and the
 *   supervisor gives up: it stops all children in reverse start order and
 *   ends as failed, which its parent treats as a crash of that child.
 *   A supervisor child is restarted like a transient one; when all its
 *   children have ended for good it ends normally.
 * - STOP from the parent stops all children in reverse order, a child
 *   supervisor's children before it.
 *
 * Like supervisor.erl, a supervisor waits synchronously for the child it
 * is starting (ACK) or stopping (EXITED); other messages arriving in the
 * meantime are set aside in `deferred` and handled afterwards, in order.
 * Each START carries a new generation number; a child's replies carry
 * it back, so a reply to an older START is recognised and dropped.
 *
 * Size: about 580 lines: one state machine (strategies, intensity,
 * backoff, reload membership, shutdown) whose parts all act on the same
 * child table; splitting it would spread one invariant over files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "supervise/control.h"
#include "supervise/latch.h"
#include "supervise/lock.h"
#include "supervise/pipeline.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

/* A child as its supervisor sees it ("want" side).  All fields are own. */
enum child_is {
	C_IDLE,     /* not running; not scheduled (before the first start, or stopped) */
	C_UP,       /* START sent and ACKed: waiting, starting or running */
	C_BACKOFF,  /* ended; restart due at restart_at */
	C_DONE,     /* ended for good */
	C_STOPPING, /* shutdown: STOP sent, its EXITED not yet seen (not awaited) */
};

struct child {
	struct sv_node *node;
	enum child_is is;
	uint64_t gen;          /* of the last START */
	int ready;             /* READY seen in this run */
	int64_t up_since;
	int64_t restart_at;
	int failures;          /* consecutive short runs, for the backoff */
	int restarts;
	enum sv_outcome last;
	int removed;           /* by a reload: ignored from then on */
	int no_restart;        /* MSG_STOP_CHILD: stopped for good */
	const char *held;      /* C_IDLE and kept so until grunctl starts it: why
	                          ("autostart = no", "stopped by grunctl"), else NULL */
};

struct sup {
	struct sv_node *n;
	struct child *c;
	int nc;
	int64_t *window;       /* times of recent restarts: ring of intensity + 1 */
	int wn;
	struct sv_msg *deferred, *deferred_tail;
	unsigned seed;
	int gave_up;           /* in this run of supervise() */
	int shutdown;          /* MSG_SHUTDOWN seen: restart nothing, end with the children */
	/* Kept by put_is() and retire() so that the main loop, which asks
	 * after every message, never scans the table: */
	int n_open;            /* children neither removed nor C_DONE */
	int n_backoff;         /* children in C_BACKOFF */
};

/* A run at least this long (or backoff_max, if longer) resets the
 * backoff to backoff_min. */
#define BACKOFF_RESET_MIN (1000 * 1000000LL)

/* Adds d to the counts child c is part of. */
static void count_child(struct sup *s, const struct child *c, int d)
{
	if (!c->removed && c->is != C_DONE)
		s->n_open += d;
	if (c->is == C_BACKOFF)
		s->n_backoff += d;
}

/* Every change of a child's `is` goes through here (or retire()). */
static void put_is(struct sup *s, int i, enum child_is is)
{
	count_child(s, &s->c[i], -1);
	s->c[i].is = is;
	count_child(s, &s->c[i], 1);
}

/* A reload took child i out of the table for good. */
static void retire(struct sup *s, int i)
{
	count_child(s, &s->c[i], -1);
	s->c[i].removed = 1;
	s->c[i].is = C_DONE;
}

static const char *sup_label(struct sup *s)
{
	return s->n->parent ? s->n->name : "root";
}

/* ---- messages ---------------------------------------------------------- */

static void defer(struct sup *s, struct sv_msg *m)
{
	m->next = NULL;
	if (s->deferred_tail)
		s->deferred_tail->next = m;
	else
		s->deferred = m;
	s->deferred_tail = m;
}

static struct sv_msg *next_msg(struct sup *s, int64_t deadline)
{
	struct sv_msg *m = s->deferred;
	if (m) {
		s->deferred = m->next;
		if (!s->deferred)
			s->deferred_tail = NULL;
		return m;
	}
	return sv_mbox_get(&s->n->mbox, deadline);
}

static int matches(struct sup *s, struct sv_msg *m, int child, enum sv_msg_type t)
{
	return m->type == t && m->child == child && m->gen == s->c[child].gen;
}

/* Waits for message t from child i (of its current generation), looking
 * at the set-aside messages first and setting aside everything else.
 * An ACK answers the START just sent with a new generation, so nothing
 * set aside before can be it: only EXITED (a child may end on its own
 * before its STOP) searches them.  Starting N children would otherwise
 * cost N^2: the STARTED and READY of those started before pile up here. */
static struct sv_msg *await(struct sup *s, int i, enum sv_msg_type t)
{
	for (struct sv_msg **pp = &s->deferred, *prev = NULL; t != MSG_ACK && *pp;
	     prev = *pp, pp = &(*pp)->next) {
		struct sv_msg *m = *pp;
		if (matches(s, m, i, t)) {
			*pp = m->next;
			if (s->deferred_tail == m)
				s->deferred_tail = prev;
			return m;
		}
	}
	for (;;) {
		struct sv_msg *m = sv_mbox_get(&s->n->mbox, RT_NEVER);
		if (matches(s, m, i, t))
			return m;
		defer(s, m);
	}
}

static void send_child(struct sup *s, int i, enum sv_msg_type t)
{
	struct sv_msg m = { .type = t, .gen = s->c[i].gen };
	sv_mbox_post(&s->c[i].node->mbox, &m);
}

/* ---- what the control socket sees (status.h) ------------------------------ */

static enum sv_state done_state(enum sv_outcome o)
{
	return o == OUT_OK ? ST_EXITED : o == OUT_SKIPPED ? ST_SKIPPED : o == OUT_STOPPED ? ST_STOPPED
	                                                                                  : ST_FAILED;
}

/* Child i is now `is`; the states of a running child (C_UP, C_STOPPING)
 * are its own to publish (job.c). */
static void set_is(struct sup *s, int i, enum child_is is)
{
	struct child *c = &s->c[i];
	put_is(s, i, is);
	__atomic_store_n(&c->node->held, c->held != NULL, __ATOMIC_RELAXED);
	if (is == C_UP || is == C_STOPPING)
		return;
	struct sv_status *st = sv_status_lock(c->node);
	st->restarts = c->restarts;
	/* ready means ready now; only a job that exited normally stays so
	 * (ready = exited: its dependents may go on) */
	if (is != C_DONE || c->last != OUT_OK)
		st->ready = 0;
	if (is == C_IDLE) {
		st->state = ST_STOPPED;
		if (c->held)
			snprintf(st->note, sizeof st->note, "%s", c->held);
	} else if (is == C_BACKOFF) {
		st->state = ST_BACKOFF;
		st->restart_at = c->restart_at;
		st->note[0] = '\0';
	} else {
		st->state = done_state(c->last);
	}
	sv_status_unlock(c->node, 1);
}

/* ---- starting and stopping children ------------------------------------- */

static void start_child(struct sup *s, int i)
{
	struct child *c = &s->c[i];
	c->gen++;
	c->ready = 0;
	c->held = NULL;
	set_is(s, i, C_UP);
	c->up_since = rt_now();
	send_child(s, i, MSG_START);
	free(await(s, i, MSG_ACK));
}

/* Stops child i if it is up; a child in backoff just loses its restart. */
static void stop_child(struct sup *s, int i)
{
	struct child *c = &s->c[i];
	if (c->is == C_BACKOFF)
		set_is(s, i, C_IDLE);
	if (c->is != C_UP)
		return;
	send_child(s, i, MSG_STOP);
	struct sv_msg *m = await(s, i, MSG_EXITED);
	c->last = m->outcome;
	set_is(s, i, C_IDLE);
	free(m);
}

/* Stops children hi..lo (reverse start order), skipping `except`. */
static void stop_range(struct sup *s, int lo, int hi, int except)
{
	for (int i = hi; i >= lo; i--) {
		if (i != except)
			stop_child(s, i);
	}
}

static enum sv_restart restart_type(struct child *c)
{
	return c->node->is_sup ? SV_TRANSIENT : c->node->job->restart;
}

/* ---- ending for good ------------------------------------------------------- */

static void child_done(struct sup *s, int i, enum sv_outcome out, int status, const char *text)
{
	struct child *c = &s->c[i];
	struct sv_node *n = c->node;
	c->last = out;
	set_is(s, i, C_DONE);
	if (n->is_sup)
		return;
	sv_pipes_node_done(n);
	if (!c->ready) {
		const char *why = out == OUT_SKIPPED ? "was skipped"
		                : out == OUT_OK ? "exited before it was ready"
		                : out == OUT_STOPPED ? "was stopped" : "failed";
		sv_latch_fail(n->g->latches, n->latch, why);
	}
	sv_final(n, out, status, text);
}

/* ---- restarts --------------------------------------------------------------- */

/* Records a restart now; 1 if that makes more than intensity in period. */
static int too_many_restarts(struct sup *s, int64_t now)
{
	const struct sv_sup *cfg = s->n->sup;
	int keep = 0;
	for (int i = 0; i < s->wn; i++) {
		if (s->window[i] > now - cfg->period)
			s->window[keep++] = s->window[i];
	}
	s->wn = keep;
	if (s->wn < cfg->intensity + 1)
		s->window[s->wn++] = now;
	return s->wn > cfg->intensity;
}

static int64_t backoff_delay(struct sup *s, struct child *c, int64_t now)
{
	if (c->node->is_sup)
		return 0;
	const struct sv_job *j = c->node->job;
	int64_t reset_after = j->backoff_max > BACKOFF_RESET_MIN ? j->backoff_max : BACKOFF_RESET_MIN;
	if (now - c->up_since >= reset_after)
		c->failures = 0;
	if (j->backoff_min == 0)
		return 0;
	int64_t d = j->backoff_min;
	for (int k = 0; k < c->failures && d < j->backoff_max; k++)
		d *= 2;
	c->failures++;
	if (d > j->backoff_max)
		d = j->backoff_max;
	/* jitter: up to a quarter less, never below the minimum */
	int64_t spread = (d - j->backoff_min) / 4;
	if (spread > 0)
		d -= (int64_t)((double)rand_r(&s->seed) / RAND_MAX * (double)spread);
	return d;
}

static void give_up(struct sup *s, int culprit);

static void schedule_restart(struct sup *s, int i, int64_t at)
{
	s->c[i].restart_at = at;
	s->c[i].restarts++;
	set_is(s, i, C_BACKOFF);
}

/* Child i ended unexpectedly and must be restarted: apply the strategy. */
static void restart(struct sup *s, int i)
{
	int64_t now = rt_now();
	if (too_many_restarts(s, now)) {
		give_up(s, i);
		return;
	}
	int64_t delay = backoff_delay(s, &s->c[i], now);
	enum sv_strategy st = s->n->sup->strategy;
	int lo = st == SV_ONE_FOR_ALL ? 0 : i;
	int hi = st == SV_ONE_FOR_ONE ? i : s->nc - 1;
	if (st != SV_ONE_FOR_ONE) {
		stop_range(s, lo, hi, i);
		char names[512] = "";
		size_t len = 0;
		for (int k = lo; k <= hi; k++) {
			if (s->c[k].removed || (k != i && s->c[k].held))
				continue;
			if (k != i && restart_type(&s->c[k]) == SV_TEMPORARY) {
				if (s->c[k].is == C_IDLE)
					child_done(s, k, OUT_STOPPED, 0, "stopped by its supervisor");
				continue;
			}
			if (s->c[k].is == C_DONE && restart_type(&s->c[k]) == SV_TEMPORARY)
				continue;
			len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s",
			                        len ? ", " : "", s->c[k].node->name);
			schedule_restart(s, k, now + delay);
		}
		char dur[32];
		sv_info("supervisor %s (%s): %s ended; restarting %s in %s", sup_label(s),
		        sv_strategy_name(st), s->c[i].node->name, names, sv_duration_str(delay, dur, sizeof dur));
		return;
	}
	schedule_restart(s, i, now + delay);
	char dur[32];
	sv_info("%s: restarting in %s (restart %d)", s->c[i].node->name,
	        sv_duration_str(delay, dur, sizeof dur), s->c[i].restarts);
}

static void exited(struct sup *s, struct sv_msg *m)
{
	int i = m->child;
	struct child *c = &s->c[i];
	if ((c->is != C_UP && c->is != C_STOPPING) || m->gen != c->gen)
		return; /* the answer to a STOP we no longer wait for */
	put_is(s, i, C_IDLE);
	c->last = m->outcome;
	enum sv_restart rt = restart_type(c);
	/* a writer of grun's stdout whose reader went away ends as yes does
	 * in `yes | head -1`: not restarted */
	int again = m->outcome != OUT_SKIPPED && !s->shutdown && !c->no_restart &&
	            !sv_stdout_writer_orphaned(c->node) &&
	            (rt == SV_PERMANENT || (rt == SV_TRANSIENT && m->outcome == OUT_FAILED));
	if (!again) {
		if (m->outcome != OUT_SKIPPED)
			sv_debug("%s: not restarted (%s)", c->node->name,
			         rt == SV_TEMPORARY ? "temporary" : "transient, ended normally");
		child_done(s, i, m->outcome, m->status, m->text);
		return;
	}
	restart(s, i);
}

/* ---- the supervisor's own life ------------------------------------------- */

static void report(struct sup *s, enum sv_outcome out, const char *text)
{
	sv_status_set(s->n, done_state(out), out == OUT_OK ? "" : text);
	sv_post(s->n, s->n->parent ? MSG_EXITED : MSG_TREE_EXITED, out, 0, 0, text);
}

static void give_up(struct sup *s, int culprit)
{
	const struct sv_sup *cfg = s->n->sup;
	char dur[32], text[200];
	snprintf(text, sizeof text, "%s crash-looped (more than %d restarts in %s)",
	         s->c[culprit].node->name, cfg->intensity, sv_duration_str(cfg->period, dur, sizeof dur));
	sv_err("supervisor %s: giving up: %s", sup_label(s), text);
	stop_range(s, 0, s->nc - 1, -1);
	for (int i = 0; i < s->nc; i++) {
		if (s->c[i].is != C_DONE && !s->c[i].removed)
			set_is(s, i, C_IDLE);
	}
	s->gave_up = 1;
	report(s, OUT_FAILED, text);
}

/* Keeps child i stopped until grunctl starts it; without a control
 * socket nothing could, so it ends for good instead. */
static void hold(struct sup *s, int i, const char *why)
{
	s->c[i].held = why;
	if (sv_control_on(s->n->g))
		set_is(s, i, C_IDLE);
	else
		child_done(s, i, OUT_STOPPED, 0, why);
}

/* Starts child i, unless its job says autostart = no or grunctl holds it. */
static void start_or_hold(struct sup *s, int i)
{
	struct child *c = &s->c[i];
	if (c->held)
		hold(s, i, c->held);
	else if (!c->node->is_sup && !c->node->job->autostart &&
	         !__atomic_load_n(&c->node->ran, __ATOMIC_RELAXED))
		hold(s, i, "autostart = no");
	else
		start_child(s, i);
}

static void start_all(struct sup *s)
{
	s->wn = 0;
	s->gave_up = 0;
	for (int i = 0; i < s->nc; i++) {
		s->c[i].failures = 0;
		if (!s->c[i].removed)
			start_or_hold(s, i);
	}
}

static int all_done(struct sup *s)
{
	return s->n_open == 0;
}

static int64_t next_restart(struct sup *s)
{
	int64_t t = RT_NEVER;
	if (s->n_backoff == 0)
		return t;
	for (int i = 0; i < s->nc; i++) {
		if (s->c[i].is == C_BACKOFF && s->c[i].restart_at < t)
			t = s->c[i].restart_at;
	}
	return t;
}

static void restart_due(struct sup *s)
{
	int64_t now = rt_now();
	for (int i = 0; i < s->nc; i++) {
		if (s->c[i].is == C_BACKOFF && s->c[i].restart_at <= now)
			start_child(s, i);
	}
}

/* Appends node as a new child slot (tree_mu taken here). */
static int append_slot(struct sup *s, struct sv_node *node)
{
	struct sv_graph *g = s->n->g;
	s->c = sv_xreallocarray(s->c, (size_t)s->nc + 1, sizeof *s->c, "a supervisor's children");
	memset(&s->c[s->nc], 0, sizeof s->c[s->nc]);
	s->c[s->nc].node = node;
	count_child(s, &s->c[s->nc], 1);
	struct sv_node **children = sv_xreallocarray(NULL, (size_t)s->n->nchildren + 1, sizeof *children,
	                                             "a supervisor's children");
	sv_lock(&g->tree_mu);
	memcpy(children, s->n->children, (size_t)s->n->nchildren * sizeof *children);
	free(s->n->children);
	s->n->children = children;
	node->index = s->nc;
	node->parent = s->n;
	s->n->children[s->n->nchildren++] = node;
	sv_unlock(&g->tree_mu);
	return s->nc++;
}

/* A reload adds a child (started at once if running), removes one
 * (stopped, then told to quit), or replaces one (m->ptr2: the new node
 * takes the old one's place in the start order, so the supervisor is
 * never left without children half-way through a reload). */
static void membership(struct sup *s, struct sv_msg *m, int running)
{
	struct sv_node *node = m->ptr;
	if (m->type == MSG_ADD_CHILD) {
		int i = append_slot(s, node);
		if (running)
			start_or_hold(s, i);
		return;
	}
	for (int i = 0; i < s->nc; i++) {
		if (s->c[i].node != node || s->c[i].removed)
			continue;
		stop_child(s, i);
		/* QUIT last: once its green thread ends, the graph frees the
		 * node (MSG_RETIRED), so nothing here may touch it after */
		struct sv_msg q = { .type = MSG_QUIT };
		if (!m->ptr2) {
			retire(s, i);
			sv_info("%s: removed", node->name);
			sv_mbox_post(&node->mbox, &q);
			return;
		}
		/* the old node moves to a retired slot at the end */
		int old = append_slot(s, node);
		retire(s, old);
		struct sv_node *fresh = m->ptr2;
		uint64_t gen = s->c[i].gen;
		const char *held = s->c[i].held;
		count_child(s, &s->c[i], -1);
		memset(&s->c[i], 0, sizeof s->c[i]);
		count_child(s, &s->c[i], 1);
		s->c[i].node = fresh;
		s->c[i].gen = gen; /* replies of the old node stay stale */
		s->c[i].held = held && strcmp(held, "autostart = no") != 0 ? held : NULL;
		sv_lock(&s->n->g->tree_mu);
		fresh->index = i;
		fresh->parent = s->n;
		s->n->children[i] = fresh;
		sv_unlock(&s->n->g->tree_mu);
		sv_info("%s: replaced by its new settings", node->name);
		sv_mbox_post(&node->mbox, &q);
		if (running)
			start_or_hold(s, i);
		else
			set_is(s, i, C_IDLE);
		return;
	}
}

/* ---- stopping everything (shutdown.c decides the order) ----------------- */

/* MSG_SHUTDOWN: no restart from now on.  Children waiting for one are
 * stopped for good: a supervisor at once, a job when its turn comes. */
static void begin_shutdown(struct sup *s)
{
	s->shutdown = 1;
	for (int i = 0; i < s->nc; i++) {
		struct child *c = &s->c[i];
		if (c->removed || (c->is != C_BACKOFF && c->is != C_IDLE))
			continue;
		if (c->node->is_sup) {
			c->last = OUT_STOPPED;
			set_is(s, i, C_DONE);
		}
		else
			set_is(s, i, C_IDLE);
	}
}

/* MSG_STOP_CHILD: stop that job now, without waiting for its EXITED (it
 * comes as a message like any other); one not running is done at once. */
static void stop_child_async(struct sup *s, struct sv_node *node)
{
	for (int i = 0; i < s->nc; i++) {
		struct child *c = &s->c[i];
		if (c->node != node || c->removed)
			continue;
		c->no_restart = 1;
		if (c->is == C_UP) {
			send_child(s, i, MSG_STOP);
			set_is(s, i, C_STOPPING);
		} else if (c->is == C_IDLE || c->is == C_BACKOFF) {
			child_done(s, i, OUT_STOPPED, 0, "stopped");
		}
		return;
	}
	/* not among the children (a removed node): nothing to stop */
	sv_final(node, OUT_STOPPED, 0, "stopped");
}

/* ---- grunctl start, stop, restart (control.h) ----------------------------- */

static int child_named(struct sup *s, const char *name)
{
	for (int i = 0; i < s->nc; i++)
		if (!s->c[i].removed && !s->c[i].node->is_sup && strcmp(s->c[i].node->name, name) == 0)
			return i;
	return -1;
}

static void ctl_stop(struct sup *s, int i, struct sv_ctl_call *call)
{
	struct child *c = &s->c[i];
	const char *name = c->node->name;
	if (c->is == C_DONE)
		return sv_ctl_reply(call, 1, "not running (it has ended)");
	if (c->is == C_IDLE && c->held)
		return sv_ctl_reply(call, 1, "already stopped");
	int was_up = c->is == C_UP;
	stop_child(s, i);
	c->held = "stopped by grunctl";
	set_is(s, i, C_IDLE);
	sv_info("%s: stopped by grunctl%s", name, was_up ? "" : " (its restart is cancelled)");
	sv_ctl_reply(call, 1, was_up ? "stopped" : "stopped (its restart is cancelled)");
}

static int uses_channels(const struct sv_job *j)
{
	return j->in.kind == SV_IO_CHAN || j->out.kind == SV_IO_CHAN || j->err.kind == SV_IO_CHAN;
}

static void ctl_start(struct sup *s, int i, struct sv_ctl_call *call)
{
	struct child *c = &s->c[i];
	if (c->is == C_UP)
		return sv_ctl_reply(call, 1, "already running");
	if (c->is == C_DONE && uses_channels(c->node->job))
		return sv_ctl_reply(call, 0, "it has ended, and its channels with it: restart grun to run it again");
	int done = c->is == C_DONE, backoff = c->is == C_BACKOFF;
	if (done) {
		/* the graph counted it as ended for good: no longer */
		struct sv_msg m = { .type = MSG_CTL, .a = CTL_START, .ptr = c->node };
		sv_mbox_post(&s->n->g->mbox, &m);
	}
	start_child(s, i);
	sv_info("%s: started by grunctl", c->node->name);
	sv_ctl_reply(call, 1, backoff ? "started (its restart brought forward)" : done ? "started again" : "started");
}

/* Restarts child i as its crash would, by the strategy (one_for_all: the
 * whole group), but at once and without counting toward intensity. */
static void ctl_restart(struct sup *s, int i, struct sv_ctl_call *call)
{
	struct child *c = &s->c[i];
	if (c->is == C_DONE && uses_channels(c->node->job))
		return sv_ctl_reply(call, 0, "it has ended, and its channels with it: restart grun to run it again");
	enum sv_strategy st = s->n->sup->strategy;
	int lo = st == SV_ONE_FOR_ALL ? 0 : i, hi = st == SV_ONE_FOR_ONE ? i : s->nc - 1;
	char *again = sv_xcalloc((size_t)s->nc + 1, 1, "a restart");
	for (int k = lo; k <= hi; k++)
		again[k] = k == i || (!s->c[k].removed && !s->c[k].held &&
		                      (s->c[k].is == C_UP || s->c[k].is == C_BACKOFF));
	stop_range(s, lo, hi, -1);
	if (c->is == C_DONE) {
		struct sv_msg m = { .type = MSG_CTL, .a = CTL_START, .ptr = c->node };
		sv_mbox_post(&s->n->g->mbox, &m);
	}
	char names[512] = "";
	size_t len = 0;
	for (int k = lo; k <= hi; k++) {
		if (!again[k])
			continue;
		s->c[k].held = NULL;
		start_child(s, k);
		len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s",
		                        len ? ", " : "", s->c[k].node->name);
	}
	free(again);
	if (st == SV_ONE_FOR_ONE)
		sv_info("%s: restarted by grunctl", c->node->name);
	else
		sv_info("supervisor %s (%s): %s restarted by grunctl; restarted %s", sup_label(s),
		        sv_strategy_name(st), c->node->name, names);
	sv_ctl_reply(call, 1, "restarted %s", names);
}

static void ctl_op(struct sup *s, struct sv_msg *m, int running)
{
	struct sv_ctl_call *call = m->ptr2;
	if (!running || s->gave_up)
		return sv_ctl_reply(call, 0, "its supervisor %s is not running", sup_label(s));
	int i = child_named(s, m->text);
	if (i < 0)
		return sv_ctl_reply(call, 0, "no longer under supervisor %s (a reload moved it?)", sup_label(s));
	if (s->shutdown)
		return sv_ctl_reply(call, 0, "grun is stopping every job");
	if (m->a == CTL_STOP)
		ctl_stop(s, i, call);
	else if (m->a == CTL_START)
		ctl_start(s, i, call);
	else if (m->a == CTL_RESTART)
		ctl_restart(s, i, call);
	else
		sv_ctl_reply(call, 0, "not a supervisor's operation");
}

/* Runs the children until they are all done, the supervisor gives up, or
 * the parent says STOP.  Returns 1 if the parent said QUIT. */
static int supervise(struct sup *s)
{
	sv_status_set(s->n, ST_RUNNING, NULL);
	start_all(s);
	sv_post(s->n, MSG_ACK, 0, 0, 0, NULL);
	for (;;) {
		if (all_done(s)) {
			sv_debug("supervisor %s: every child ended", sup_label(s));
			if (s->shutdown)
				report(s, OUT_STOPPED, "stopped");
			else
				report(s, OUT_OK, "done");
			return 0;
		}
		struct sv_msg *m = next_msg(s, next_restart(s));
		if (!m) {
			restart_due(s);
			continue;
		}
		switch (m->type) {
		case MSG_EXITED:
			exited(s, m);
			break;
		case MSG_READY:
			if (m->gen == s->c[m->child].gen)
				s->c[m->child].ready = 1;
			break;
		case MSG_STOP:
			free(m);
			stop_range(s, 0, s->nc - 1, -1);
			report(s, OUT_STOPPED, "stopped");
			return 0;
		case MSG_QUIT:
			free(m);
			return 1;
		case MSG_ADD_CHILD:
		case MSG_REMOVE_CHILD:
			membership(s, m, !s->shutdown);
			break;
		case MSG_SHUTDOWN:
			begin_shutdown(s);
			break;
		case MSG_STOP_CHILD:
			stop_child_async(s, m->ptr);
			break;
		case MSG_CTL:
			ctl_op(s, m, 1);
			break;
		default:
			break;
		}
		free(m);
		if (s->gave_up)
			return 0;
	}
}

void sv_sup_main(void *arg)
{
	struct sv_node *n = arg;
	struct sup s = { .n = n, .nc = n->nchildren, .seed = (unsigned)rt_now() };
	s.c = sv_xcalloc((size_t)s.nc + 1, sizeof *s.c, "a supervisor's children");
	s.window = sv_xcalloc((size_t)n->sup->intensity + 2, sizeof *s.window, "a restart window");
	for (int i = 0; i < s.nc; i++)
		s.c[i].node = n->children[i];
	s.n_open = s.nc; /* all C_IDLE */
	for (;;) {
		struct sv_msg *m = next_msg(&s, RT_NEVER);
		enum sv_msg_type t = m->type;
		uint64_t gen = m->gen;
		void *ptr = m->ptr, *ptr2 = m->ptr2;
		free(m);
		if (t == MSG_START) {
			n->gen = gen;
			if (supervise(&s))
				break;
		} else if (t == MSG_STOP) {
			n->gen = gen;
			report(&s, OUT_STOPPED, "stopped");
		} else if (t == MSG_QUIT) {
			break;
		} else if (t == MSG_ADD_CHILD || t == MSG_REMOVE_CHILD) {
			struct sv_msg copy = { .type = t, .ptr = ptr, .ptr2 = ptr2 };
			membership(&s, &copy, 0);
		} else if (t == MSG_SHUTDOWN) {
			begin_shutdown(&s);
		} else if (t == MSG_STOP_CHILD) {
			stop_child_async(&s, ptr);
		} else if (t == MSG_CTL) {
			struct sv_msg copy = { .type = t, .ptr2 = ptr2 };
			ctl_op(&s, &copy, 0);
		}
		/* replies of children to an older generation are dropped here */
	}
	struct sv_msg *m;
	while ((m = next_msg(&s, 0)))
		free(m);
	free(s.c);
	free(s.window);
	rt_wg_done(&n->g->nodes);
}
