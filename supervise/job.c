/*
 * job.c - the life of one job instance: one green thread per instance,
 * running one process at a time on its supervisor's orders.
 *
 * The job decides nothing about restarts: it starts when told (START),
 * stops when told (STOP), and reports what happened (ACK, STARTED,
 * READY, EXITED).  Its supervisor (sup.c) keeps the wanted state and the
 * restart policy; here is only the observed state of one run.
 *
 * State machine of a run ("is"; the supervisor keeps "want"):
 *
 *   state     event                 action                           next
 *   IDLE      START                 wait for needs and a -j slot     WAITING
 *   IDLE      STOP                  EXITED(stopped)                  IDLE
 *   WAITING   needs ok, slot taken  spawn; ACK, STARTED(pid)         STARTING
 *             (ready = started: also READY)                          RUNNING
 *   WAITING   spawn fails           ACK, EXITED(failed, why)         IDLE
 *   WAITING   a need failed         ACK, EXITED(skipped, which)      IDLE
 *   WAITING   STOP                  ACK, EXITED(stopped)             IDLE
 *   STARTING  probe says ready,     READY                            RUNNING
 *             or delay: elapsed
 *   STARTING  ready_timeout         stop_signal to the group         STOPPING (failed)
 *   RUNNING   health_failures checks  stop_signal to the group       STOPPING (failed)
 *             failed in a row (UNHEALTHY; health = starts its watch at READY)
 *   STARTING  exit                  EXITED(by status; ready = exited  IDLE
 *   RUNNING   exit                    with status 0 also READY)       IDLE
 *   STARTING, STOP                  stop_signal to the group         STOPPING
 *   RUNNING
 *   STOPPING  stop_timeout          KILL to the group                STOPPING
 *   STOPPING  exit                  KILL to what is left of the group; IDLE
 *                                   EXITED(stopped, or failed after a
 *                                   ready_timeout or UNHEALTHY)
 *   any       PROC_* of an older run  ignored
 *
 * An exit is normal (OUT_OK) when the status is 0 (or one the job's
 * success = lists) or the process was killed by its own stop signal
 * (OTP's "shutdown" reason) or a signal success = lists; everything else
 * is OUT_FAILED.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/health.h"
#include "supervise/joblog.h"
#include "supervise/jobnotify.h"
#include "supervise/latch.h"
#include "supervise/pipeline.h"
#include "supervise/reaper.h"
#include "supervise/ready.h"
#include "supervise/spawn.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

enum run_state { WAITING, STARTING, RUNNING, STOPPING };

/* How long a job's last output lines may take to be written before its
 * exit is reported (a process it left behind may hold the pipe). */
#define LAST_LINES_WAIT (200 * 1000000LL)
/* How long the members of a stopped job's group get to be gone after
 * KILL, checked every STRAGGLER_POLL. */
#define STRAGGLER_WAIT (2000 * 1000000LL)
#define STRAGGLER_POLL (10 * 1000000LL)

static const char *state_name[] = { "waiting", "starting", "running", "stopping" };

/* What one run has seen so far; lives on the job's stack. */
struct run {
	enum run_state state;
	pid_t pid;
	struct sv_probe *probe;
	struct sv_jobnotify *notify; /* its NOTIFY_SOCKET listener, if any */
	pid_t group;          /* the first process's group (its pid): signals go to it */
	pid_t mainpid;        /* MAINPID= heard: the run's process once the first exits */
	int64_t watchdog_at;  /* WATCHDOG=1 due by then (RT_NEVER: no watchdog) */
	int watchdog_failed;  /* it was due and did not come, or WATCHDOG=trigger */
	struct sv_health *health; /* health = : from ready until the stop */
	int have_slot;
	int stop_requested;   /* STOP received */
	int ready_failed;     /* ready_timeout expired */
	int unhealthy;        /* health_failures checks failed in a row */
	int exited;           /* the process is gone (run_finish) */
	int killed;           /* KILL sent */
	int64_t deadline;     /* ready delay/timeout, or stop timeout */
	struct sv_pump_end *pump_end; /* the output pump, if any */
	int64_t started_at;
};

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %s%s", sv_signal_name(WTERMSIG(status)),
		         WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

static const enum sv_state shown[] = { ST_WAITING, ST_STARTING, ST_RUNNING, ST_STOPPING };

static void set_state(struct sv_node *n, struct run *r, enum run_state s)
{
	r->state = s;
	sv_debug("%s: %s", n->name, state_name[s]);
	struct sv_status *st = sv_status_lock(n);
	st->state = shown[s];
	if (s == WAITING) {
		st->ready = 0;
		st->ready_after = -1;
		st->note[0] = '\0';
		st->notify_status[0] = '\0';
	}
	sv_status_unlock(n, 1);
}

/* Says why the job waits (or failed to start), without a new state. */
static void set_note(struct sv_node *n, const char *note)
{
	struct sv_status *st = sv_status_lock(n);
	snprintf(st->note, sizeof st->note, "%.*s", (int)sizeof st->note - 1, note);
	sv_status_unlock(n, 1);
}

/* Takes messages until the wake channel is empty; returns 1 on STOP. */
static int drain_for_stop(struct sv_node *n)
{
	int stop = 0;
	struct sv_msg *m;
	while ((m = sv_mbox_take(&n->mbox))) {
		stop |= m->type == MSG_STOP;
		free(m);
	}
	return stop;
}

/* Parks until every job n needs is ready (1), one failed (0, why set),
 * or STOP arrives (-1). */
static int wait_needs(struct sv_node *n, char *why, size_t len)
{
	const struct sv_job *j = n->job;
	struct sv_graph *g = n->g;
	struct rt_case *cases = sv_xcalloc((size_t)j->needs.n + 1, sizeof *cases, "a job's needs");
	struct sv_latch **held = sv_xcalloc((size_t)j->needs.n + 1, sizeof *held, "a job's needs");
	int logged = 0, rc;
	for (;;) {
		int nc = 0;
		rc = 1;
		cases[nc++] = (struct rt_case){ n->mbox.wake, RT_RECV, NULL, 0 };
		for (int k = 0; k < j->needs.n; k++) {
			sv_latch_put(g->latches, held[k]); /* the last round's */
			struct sv_latch *l = held[k] = sv_latch_find(g->latches, j->needs.v[k]);
			int o = l ? sv_latch_outcome(l) : LATCH_FAILED;
			if (o == LATCH_FAILED) {
				snprintf(why, len, "needs %s, which %s", j->needs.v[k], l ? l->why : "is not running");
				rc = 0;
				break;
			}
			if (o == LATCH_OPEN) {
				cases[nc++] = (struct rt_case){ l->settled, RT_RECV, NULL, 0 };
				if (!logged) {
					char note[SV_NAME_MAX + 32];
					snprintf(note, sizeof note, "needs %s, not ready yet", j->needs.v[k]);
					set_note(n, note);
					sv_debug("%s: waiting for %s", n->name, j->needs.v[k]);
				}
			}
		}
		logged = 1;
		if (rc == 0 || nc == 1)
			break;
		if (rt_select(cases, nc, RT_NEVER) == 0 && drain_for_stop(n)) {
			rc = -1;
			break;
		}
	}
	for (int k = 0; k < j->needs.n; k++)
		sv_latch_put(g->latches, held[k]);
	free(held);
	free(cases);
	return rc;
}

/* Takes a -j slot: 1, or -1 on STOP. */
static int wait_slot(struct sv_node *n)
{
	struct rt_case cases[2] = {
		{ n->g->slots, RT_SEND, NULL, 0 },
		{ n->mbox.wake, RT_RECV, NULL, 0 },
	};
	int logged = 0;
	for (;;) {
		int i = rt_select(cases, 2, logged ? RT_NEVER : 0);
		if (i == 0)
			return 1;
		if (i == 1 && drain_for_stop(n))
			return -1;
		if (!logged) {
			set_note(n, "waiting for a -j slot");
			sv_debug("%s: waiting for one of the %zu job slots (-j)", n->name, rt_chan_cap(n->g->slots));
		}
		logged = 1;
	}
}

static void release_slot(struct sv_node *n, struct run *r)
{
	if (r->have_slot)
		rt_chan_recv(n->g->slots, NULL);
	r->have_slot = 0;
}

static void became_ready(struct sv_node *n, struct run *r)
{
	struct sv_status *st = sv_status_lock(n);
	st->ready = 1;
	st->ready_after = rt_now() - r->started_at;
	/* the note stays: now it is the notify socket's, whose READY=1 ends
	 * a RELOADING=1 there (jobnotify.c) */
	sv_status_unlock(n, 0);
	set_state(n, r, RUNNING);
	char took[32] = "";
	if (sv_output_verbose()) { /* -v: how long it took */
		strcpy(took, " after ");
		sv_elapsed_str(rt_now() - r->started_at, took + 7, sizeof took - 7);
	}
	if (n->job->ready == SV_READY_STARTED)
		sv_debug("%s: ready%s", n->name, took);
	else
		sv_info("%s: ready%s", n->name, took);
	if (!n->ever_ready) {
		n->ever_ready = 1;
		sv_latch_ready(n->g->latches, n->latch);
	}
	sv_post(n, MSG_READY, 0, 0, 0, NULL);
	if (n->job->health.kind != SV_CHECK_NONE && !r->exited && !r->health)
		r->health = sv_health_start(n, n->gen);
}

/* sig to the run's process group, and to its main process and that one's
 * group when MAINPID= moved it out (a daemon that called setsid). */
static void signal_run(struct run *r, int sig)
{
	kill(-r->group, sig);
	if (r->pid != r->group) {
		kill(r->pid, sig);
		kill(-r->pid, sig);
	}
}

/* Is any process of the run left? */
static int run_alive(struct run *r)
{
	return kill(-r->group, 0) == 0 || (r->pid != r->group && (kill(-r->pid, 0) == 0 || kill(r->pid, 0) == 0));
}

static void send_stop(struct sv_node *n, struct run *r, const char *why)
{
	const struct sv_job *j = n->job;
	char dur[32];
	sv_info("%s: stopping (%s%s, KILL after %s)", n->name, sv_signal_name(j->stop_signal),
	        why, sv_duration_str(j->stop_timeout, dur, sizeof dur));
	sv_health_cancel(r->health);
	r->health = NULL;
	signal_run(r, j->stop_signal);
	if (j->stop_signal != SIGKILL && j->stop_signal != SIGCONT)
		signal_run(r, SIGCONT); /* a stopped process cannot act on TERM */
	set_state(n, r, STOPPING);
	r->deadline = rt_now() + j->stop_timeout;
}

/* Spawns the process and starts its helpers.  0, or -1 with why set. */
static int job_spawn(struct sv_node *n, struct run *r, char *why, size_t len)
{
	const struct sv_job *j = n->job;
	char addr[128];
	int notify_fd = -1;
	if ((j->ready == SV_READY_NOTIFY || j->watchdog > 0) &&
	    (notify_fd = sv_jobnotify_open(n, addr, sizeof addr)) < 0) {
		snprintf(why, len, "cannot make NOTIFY_SOCKET: %s", strerror(errno));
		return -1;
	}
	/* on the heap: it holds a 4 KiB path, and a job's stack stays small */
	struct sv_spawn *sp = malloc(sizeof *sp);
	if (!sp) {
		snprintf(why, len, "out of memory");
		if (notify_fd >= 0)
			close(notify_fd);
		return -1;
	}
	/* log: follows the job's lines from before the process exists */
	struct sv_probe *log_probe = NULL;
	if (j->ready == SV_READY_LOG && !(log_probe = sv_probe_start(n, n->gen, -1))) {
		snprintf(why, len, "cannot start the ready = log: probe");
		free(sp);
		return -1;
	}
	int chanfd[3] = { -1, -1, -1 };
	int rc = sv_pipes_dup_ends(n, chanfd, why, len);
	if (rc == 0)
		rc = sv_spawn_prepare(j, n->inst, notify_fd >= 0 ? addr : NULL, chanfd, sp, why, len);
	/* the process exists from the clone on: a start time taken after the
	 * spawn returns would follow a wait for a P and shorten the run */
	int64_t clone_at = rt_now();
	pid_t pid = rc < 0 ? -1 : sv_spawn_run(sp);
	int err = errno;
	for (int i = 0; i < 3; i++)
		if (chanfd[i] >= 0)
			close(chanfd[i]);
	if (rc < 0 || pid < 0)
		sv_probe_cancel(log_probe);
	if (rc < 0) {
		if (notify_fd >= 0)
			close(notify_fd);
		free(sp);
		return -1;
	}
	if (pid < 0) {
		sv_spawn_error(sp, j, err, why, len);
		if (notify_fd >= 0)
			close(notify_fd);
		sv_spawn_release(sp);
		free(sp);
		return -1;
	}
	r->pid = r->group = pid;
	r->started_at = clone_at;
	n->runs++;
	r->probe = log_probe;
	__atomic_store_n(&n->pid, pid, __ATOMIC_RELEASE);
	struct sv_status *st = sv_status_lock(n);
	st->pid = pid;
	st->started = r->started_at;
	st->note[0] = '\0';
	sv_status_unlock(n, 0);
	__atomic_store_n(&n->ran, 1, __ATOMIC_RELAXED);
	if ((sp->out_read >= 0 || sp->err_read >= 0) &&
	    sv_pump_start(sp->out_read, sp->err_read, j, n->name, n->inst, n->color, pid, n->log,
	                  &r->pump_end) == 0)
		sp->out_read = sp->err_read = -1;
	if (notify_fd >= 0 && !(r->notify = sv_jobnotify_start(n, n->gen, notify_fd)))
		close(notify_fd);
	r->watchdog_at = j->watchdog > 0 ? r->started_at + j->watchdog : RT_NEVER;
	if (j->ready == SV_READY_FD || j->ready == SV_READY_TCP || j->ready == SV_READY_FILE ||
	    j->ready == SV_READY_HTTP || j->ready == SV_READY_EXEC) {
		r->probe = sv_probe_start(n, n->gen, sp->ready_read);
		if (r->probe)
			sp->ready_read = -1;
	}
	sv_spawn_release(sp);
	free(sp);
	sv_reaper_track(n->g, n, pid, n->gen);
	return 0;
}

/* Is grun's stdout a pipe or socket whose reader has gone? */
static int stdout_reader_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static enum sv_outcome exit_outcome(struct sv_node *n, struct run *r, int status)
{
	if (r->ready_failed || r->watchdog_failed || r->unhealthy)
		return OUT_FAILED;
	if (r->stop_requested)
		return OUT_STOPPED;
	if (sv_job_success(n->job, status))
		return OUT_OK;
	/* a writer of grun's stdout killed by SIGPIPE (or a shell's 141)
	 * because the reader went away: stopped, as yes in `yes | head -1` */
	int piped = (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) ||
	            (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGPIPE);
	if (piped && n->job->feeds_stdout && stdout_reader_gone()) {
		sv_graph_stdout_gone(n->g);
		return OUT_STOPPED;
	}
	return OUT_FAILED;
}

/* The process has exited: clean up and report. */
static void run_finish(struct sv_node *n, struct run *r, int status)
{
	char text[160];
	r->exited = 1;
	sv_health_cancel(r->health);
	r->health = NULL;
	describe_status(status, text, sizeof text);
	n->run_ns += rt_now() - r->started_at;
	n->last_status = status;
	/* the job's last lines before its exit line (unless a process it left
	 * behind still holds the pipe: then at most 200 ms) */
	int64_t flush_by = rt_now() + LAST_LINES_WAIT;
	sv_pump_end_wait(r->pump_end, flush_by);
	r->pump_end = NULL;
	if (r->state == STOPPING) {
		/* stragglers of a stopped group: KILL them and give them up to
		 * STRAGGLER_WAIT to be gone (reaped by the subreaper), so none
		 * outlives the job's stop.  No event says a group is empty. */
		signal_run(r, SIGKILL);
		int64_t until = rt_now() + STRAGGLER_WAIT;
		while (run_alive(r) && rt_now() < until)
			rt_sleep(STRAGGLER_POLL);
	}
	__atomic_store_n(&n->pid, 0, __ATOMIC_RELEASE);
	struct sv_status *st = sv_status_lock(n);
	st->pid = 0;
	st->have_exit = 1;
	st->exit_status = status;
	snprintf(st->exit_text, sizeof st->exit_text, "%s", text);
	sv_status_unlock(n, 0); /* its supervisor says what comes next */
	/* readiness reported just before the exit still counts */
	int heard_ready = sv_jobnotify_cancel(r->notify);
	r->notify = NULL;
	if ((sv_probe_cancel(r->probe) || heard_ready) && r->state == STARTING) {
		r->deadline = RT_NEVER;
		became_ready(n, r);
	}
	r->probe = NULL;
	release_slot(n, r);
	enum sv_outcome out = exit_outcome(n, r, status);
	if (r->ready_failed)
		snprintf(text + strlen(text), sizeof text - strlen(text), " (not ready in time)");
	else if (r->watchdog_failed)
		snprintf(text + strlen(text), sizeof text - strlen(text), " (watchdog)");
	else if (r->unhealthy)
		snprintf(text + strlen(text), sizeof text - strlen(text), " (unhealthy)");
	sv_info("%s: %s", n->name, text);
	if (out == OUT_FAILED && !r->stop_requested)
		sv_pipes_consumer_exited(n);
	if (out == OUT_OK && n->job->ready == SV_READY_EXITED && r->state != STOPPING)
		became_ready(n, r);
	sv_post(n, MSG_EXITED, out, r->pid, status, text);
}

static int64_t ready_deadline(const struct sv_job *j, int64_t now)
{
	if (j->ready == SV_READY_DELAY)
		return now + j->ready_delay;
	return j->ready_timeout ? now + j->ready_timeout : RT_NEVER;
}

/* Handles a timeout in the STARTING or STOPPING state. */
static void on_deadline(struct sv_node *n, struct run *r)
{
	const struct sv_job *j = n->job;
	if (r->state == STOPPING && !r->killed) {
		char dur[32];
		sv_info("%s: still running %s after %s; sending KILL", n->name,
		        sv_duration_str(j->stop_timeout, dur, sizeof dur), sv_signal_name(j->stop_signal));
		signal_run(r, SIGKILL);
		r->killed = 1;
		r->deadline = RT_NEVER;
	} else if (r->state == STARTING && j->ready == SV_READY_DELAY) {
		r->deadline = RT_NEVER;
		became_ready(n, r);
	} else if (r->state == STARTING) {
		char dur[32];
		sv_err("%s: not ready after %s (ready_timeout)", n->name,
		       sv_duration_str(j->ready_timeout, dur, sizeof dur));
		r->ready_failed = 1;
		send_stop(n, r, "");
	} else {
		r->deadline = RT_NEVER;
	}
}

/* WATCHDOG=1 did not come in time, or the job sent WATCHDOG=trigger:
 * it counts as hung, and is stopped as failed (its supervisor restarts it
 * as after a crash). */
static void watchdog_failed(struct sv_node *n, struct run *r, int triggered)
{
	r->watchdog_at = RT_NEVER;
	if (r->state == STOPPING)
		return;
	char d[32];
	if (triggered)
		sv_err("%s: WATCHDOG=trigger: stopping it as hung", n->name);
	else
		sv_err("%s: no WATCHDOG=1 for %s (watchdog): stopping it as hung", n->name,
		       sv_duration_str(n->job->watchdog, d, sizeof d));
	r->watchdog_failed = 1;
	send_stop(n, r, "");
}

/* EXTEND_TIMEOUT_USEC: ms more to become ready (ready_timeout) or to
 * stop (stop_timeout), counted from now, as systemd does. */
static void extend(struct sv_node *n, struct run *r, int ms)
{
	int64_t until = rt_now() + (int64_t)ms * 1000000;
	int waiting = (r->state == STARTING && n->job->ready != SV_READY_DELAY) || (r->state == STOPPING && !r->killed);
	if (!waiting || r->deadline == RT_NEVER || until <= r->deadline)
		return;
	char d[32];
	sv_debug("%s: EXTEND_TIMEOUT_USEC: %s more", n->name, sv_duration_str((int64_t)ms * 1000000, d, sizeof d));
	r->deadline = until;
}

/* The run's process exited normally after saying MAINPID=: the process it
 * named (a daemon's child, now grun's as a subreaper) becomes the run's,
 * as systemd follows a service's main PID.  1 if the run goes on. */
static int follow_mainpid(struct sv_node *n, struct run *r, int status)
{
	pid_t main = r->mainpid;
	r->mainpid = 0;
	if (!main || r->state == STOPPING || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 0;
	if (rt_proc_adopt(main) < 0) {
		sv_err("%s: MAINPID=%d: not a process grun can wait for (%s); the job ends with pid %d", n->name,
		       (int)main, strerror(errno), (int)r->pid);
		return 0;
	}
	sv_info("%s: pid %d exited; its main process is now pid %d (MAINPID)", n->name, (int)r->pid, (int)main);
	r->pid = main;
	__atomic_store_n(&n->pid, main, __ATOMIC_RELEASE);
	struct sv_status *st = sv_status_lock(n);
	st->pid = main;
	sv_status_unlock(n, 1);
	sv_jobnotify_follow(r->notify, main);
	sv_reaper_track(n->g, n, main, n->gen);
	return 1;
}

/* Are all needs ready and a slot free right now?  Takes the slot. */
static int can_start_now(struct sv_node *n, struct run *r)
{
	const struct sv_job *j = n->job;
	for (int k = 0; k < j->needs.n; k++) {
		struct sv_latch *l = sv_latch_find(n->g->latches, j->needs.v[k]);
		int ok = l && sv_latch_outcome(l) == LATCH_OK;
		sv_latch_put(n->g->latches, l);
		if (!ok)
			return 0;
	}
	if (n->g->slots) {
		struct rt_case c = { n->g->slots, RT_SEND, NULL, 0 };
		if (rt_select(&c, 1, 0) < 0)
			return 0;
		r->have_slot = 1;
	}
	return 1;
}

/* One START: returns when the run is over and EXITED was posted.  The
 * ACK comes after the spawn when the job can start at once (so siblings
 * started in order also spawn in order), else before waiting. */
static void job_run(struct sv_node *n)
{
	struct run r = { .state = WAITING, .deadline = RT_NEVER, .watchdog_at = RT_NEVER };
	char why[300];
	set_state(n, &r, WAITING);
	int acked = 0, ok = 1;
	if (!can_start_now(n, &r)) {
		sv_post(n, MSG_ACK, 0, 0, 0, NULL);
		acked = 1;
		ok = n->job->needs.n ? wait_needs(n, why, sizeof why) : 1;
		if (ok == 1 && n->g->slots) {
			ok = wait_slot(n);
			r.have_slot = ok == 1;
		}
	}
	if (ok == 1 && job_spawn(n, &r, why, sizeof why) < 0) {
		release_slot(n, &r);
		set_note(n, why);
		sv_err("%s: %s", n->name, why);
		if (!acked)
			sv_post(n, MSG_ACK, 0, 0, 0, NULL);
		sv_post(n, MSG_EXITED, OUT_FAILED, 0, 0, why);
		return;
	}
	/* the log says "started" before the ACK lets the supervisor start the
	 * next sibling, so the log shows the start order */
	if (ok == 1)
		sv_info("%s: started (pid %d)", n->name, (int)r.pid);
	if (!acked)
		sv_post(n, MSG_ACK, 0, r.pid, 0, NULL);
	if (ok != 1) {
		if (ok == 0) {
			set_note(n, why);
			sv_info("%s: skipped: %s", n->name, why);
		}
		sv_post(n, MSG_EXITED, ok == 0 ? OUT_SKIPPED : OUT_STOPPED, 0, 0, ok == 0 ? why : "stopped");
		return;
	}
	sv_post(n, MSG_STARTED, 0, r.pid, 0, NULL);
	set_state(n, &r, STARTING);
	if (n->job->ready == SV_READY_STARTED)
		became_ready(n, &r);
	else
		r.deadline = ready_deadline(n->job, rt_now());
	for (;;) {
		struct sv_msg *m = sv_mbox_get(&n->mbox, r.deadline < r.watchdog_at ? r.deadline : r.watchdog_at);
		if (!m) {
			if (rt_now() >= r.watchdog_at)
				watchdog_failed(n, &r, 0);
			else
				on_deadline(n, &r);
			continue;
		}
		int stale = (m->type == MSG_PROC_EXIT || m->type == MSG_PROC_READY ||
		             m->type == MSG_PROC_WATCHDOG || m->type == MSG_PROC_EXTEND ||
		             m->type == MSG_PROC_MAINPID ||
		             m->type == MSG_PROC_UNHEALTHY) && m->gen != n->gen;
		if (stale) {
			free(m);
			continue;
		}
		if (m->type == MSG_PROC_EXIT) {
			int status = m->status;
			free(m);
			if (follow_mainpid(n, &r, status))
				continue;
			run_finish(n, &r, status);
			return;
		}
		if (m->type == MSG_PROC_READY && r.state == STARTING) {
			r.deadline = RT_NEVER;
			became_ready(n, &r);
		} else if (m->type == MSG_PROC_WATCHDOG) {
			if (m->a)
				watchdog_failed(n, &r, 1);
			else if (r.watchdog_at != RT_NEVER)
				r.watchdog_at = rt_now() + n->job->watchdog;
		} else if (m->type == MSG_PROC_EXTEND) {
			extend(n, &r, m->a);
		} else if (m->type == MSG_PROC_MAINPID) {
			if (m->a <= 1 || m->a == getpid())
				sv_err("%s: MAINPID=%d ignored: not a process of the job", n->name, m->a);
			else if (m->a != r.pid)
				r.mainpid = m->a;
		} else if (m->type == MSG_PROC_UNHEALTHY && r.state == RUNNING) {
			sv_err("%s: unhealthy: %s", n->name, m->text);
			r.unhealthy = 1;
			send_stop(n, &r, "");
		} else if (m->type == MSG_STOP && r.state != STOPPING) {
			r.stop_requested = 1;
			send_stop(n, &r, "");
		}
		free(m);
	}
}

void sv_job_main(void *arg)
{
	struct sv_node *n = arg;
	for (;;) {
		struct sv_msg *m = sv_mbox_get(&n->mbox, RT_NEVER);
		enum sv_msg_type t = m->type;
		uint64_t gen = m->gen;
		free(m);
		if (t == MSG_START) {
			n->gen = gen;
			job_run(n);
		} else if (t == MSG_STOP) {
			n->gen = gen;
			sv_post(n, MSG_EXITED, OUT_STOPPED, 0, 0, "stopped");
		} else if (t == MSG_QUIT) {
			break;
		}
	}
	/* a node a reload removed is freed by the graph as soon as it reads
	 * MSG_RETIRED: nothing of n may be touched after the post */
	struct sv_graph *g = n->g;
	if (__atomic_load_n(&n->removed, __ATOMIC_ACQUIRE)) {
		struct sv_msg m = { .type = MSG_RETIRED, .ptr = n };
		sv_mbox_post(&g->mbox, &m);
	}
	rt_wg_done(&g->nodes);
}
