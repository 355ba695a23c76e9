/*
 * graph.c - grun's main green thread (graph.h): builds the tree from a
 * loaded config, starts it, turns signals into a reload, a shutdown or a
 * hard kill, applies the significant-job exit policy, and at the end
 * sweeps orphans, quiesces every green thread, prints the summary and
 * returns the exit status.  It never exits the process itself.
 *
 * Owns struct sv_graph (it lives on this green thread's stack) and the
 * tally of final outcomes; the signal green thread turns each signal into
 * a MSG_SIGNAL in the graph's mailbox.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/control.h"
#include "supervise/graph.h"
#include "supervise/latch.h"
#include "supervise/notify.h"
#include "supervise/orphans.h"
#include "supervise/pipeline.h"
#include "supervise/reaper.h"
#include "supervise/reload.h"
#include "supervise/service.h"
#include "supervise/shutdown.h"
#include "supervise/sockets.h"
#include "supervise/spawn.h"
#include "supervise/stdout.h"
#include "supervise/timestamp.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

_Static_assert(SV_EXIT_OOM == SV_EXIT_NOMEM, "one out-of-memory status");

/* How long leftovers of daemonizing jobs get between TERM and KILL. */
#define ORPHAN_GRACE (2000 * 1000000LL)
/* How long the end waits for pipeline helpers, before and after forcing
 * the channels shut. */
#define HELPER_GRACE (2000 * 1000000LL)
/* The summary lists every job up to this many, else only the failed and
 * skipped ones, at most this many. */
#define SUMMARY_MAX 100

/* ---- signals -------------------------------------------------------------------- */

/* Every signal a user or a terminal may send grun; each has a meaning
 * (on_signal below, grun(1) SIGNALS), none kills grun with its jobs left
 * behind.  SIGPIPE is taken too, so a write to a reader that went away
 * fails with EPIPE instead of killing grun. */
static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                                       SIGALRM, SIGPIPE, SIGTSTP, SIGCONT, SIGWINCH };

void sv_graph_signals(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof handled_signals / sizeof handled_signals[0]; i++)
		sigaddset(set, handled_signals[i]);
}

void sv_graph_prepare(void)
{
	sv_sockets_init(); /* LISTEN_*: kept for sockets = , out of grun's environment */
	sv_cloexec_inherited();
}

static void signal_main(void *arg)
{
	struct sv_graph *g = arg;
	sigset_t set;
	sv_graph_signals(&set);
	for (;;) {
		struct rt_case c = { g->quit, RT_RECV, NULL, 0 };
		int sig = rt_signal_wait(&set, RT_NEVER);
		if (rt_select(&c, 1, 0) == 0)
			break; /* the end: g->quit is closed */
		if (sig < 0)
			continue;
		struct sv_msg m = { .type = MSG_SIGNAL, .a = sig };
		sv_mbox_post(&g->mbox, &m);
	}
	rt_wg_done(&g->watchers);
}

/* ---- the tally of final outcomes ------------------------------------------------ */

/* Per job instance: the last final outcome. */
struct tally {
	struct sv_node **node;
	enum sv_outcome *out;
	size_t n, cap;
};

static void record(struct tally *t, struct sv_node *n, enum sv_outcome out)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->node[i] == n) {
			t->out[i] = out;
			return;
		}
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->node = sv_xreallocarray(t->node, t->cap, sizeof *t->node, "the tally");
		t->out = sv_xreallocarray(t->out, t->cap, sizeof *t->out, "the tally");
	}
	t->node[t->n] = n;
	t->out[t->n++] = out;
}

/* A node a reload removed is freed: it leaves the tally. */
static void forget(struct tally *t, const struct sv_node *n)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->node[i] == n) {
			t->node[i] = t->node[--t->n];
			t->out[i] = t->out[t->n];
			return;
		}
	}
}

static const char *outcome_name(enum sv_outcome o)
{
	return o == OUT_OK ? "succeeded" : o == OUT_FAILED ? "failed" : o == OUT_SKIPPED ? "skipped" : "stopped";
}

/* The outcome the tally has for n, 0 if none (stopped with everything). */
static enum sv_outcome outcome_of(const struct tally *t, const struct sv_node *n)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->node[i] == n)
			return t->out[i];
	return 0;
}

/* After a stop by signal: did work remain undone?  Every job that is not
 * a permanent service should have ended by itself; those stopped, or
 * never started, are named.  Permanent services stopped by a signal are
 * a clean stop (as systemd sees a service stopped by SIGTERM). */
static int unfinished(const struct tally *t, const struct sv_roster *roster, int stop_signal)
{
	if (!stop_signal)
		return 0;
	char stopped[400] = "", never[400] = "";
	size_t ls = 0, ln = 0;
	int nstopped = 0, nnever = 0;
	for (size_t i = 0; i < roster->n; i++) {
		const struct sv_node *n = roster->v[i];
		enum sv_outcome o = outcome_of(t, n);
		/* a job held stopped (autostart = no, grunctl stop) was not work to do */
		if (n->job->restart == SV_PERMANENT || (o && o != OUT_STOPPED) ||
		    __atomic_load_n(&n->held, __ATOMIC_RELAXED))
			continue;
		int ran = __atomic_load_n(&n->ran, __ATOMIC_RELAXED);
		char *buf = ran ? stopped : never;
		size_t *len = ran ? &ls : &ln;
		ran ? nstopped++ : nnever++;
		if (*len < 320)
			*len += (size_t)snprintf(buf + *len, 400 - *len, "%s%s", *len ? ", " : "", n->name);
		else if (*len < 396)
			*len += (size_t)snprintf(buf + *len, 400 - *len, ", ...");
	}
	if (nstopped + nnever == 0)
		return 0;
	char ran[480] = "", not_ran[480] = "";
	if (nstopped)
		snprintf(ran, sizeof ran, "%d job%s stopped before finishing (%s)", nstopped,
		         nstopped == 1 ? "" : "s", stopped);
	if (nnever)
		snprintf(not_ran, sizeof not_ran, "%d never ran (%s)", nnever, never);
	sv_err("interrupted by SIG%s: %s%s%s", sv_signal_name(stop_signal), ran, nstopped && nnever ? "; " : "",
	       not_ran);
	return 1;
}

/* One line per job instance: how it ended, its last exit, how long it
 * ran in all, its restarts.  Failures and skipped jobs are errors (-q
 * keeps them); beyond SUMMARY_MAX jobs only those are listed, at most
 * SUMMARY_MAX of them.  After quiesce: every node's green thread has
 * ended, so its run counters are final. */
static void summary_lines(const struct tally *t, const struct sv_roster *roster)
{
	size_t listed = 0, omitted = 0;
	for (size_t i = 0; i < roster->n; i++) {
		const struct sv_node *n = roster->v[i];
		enum sv_outcome o = outcome_of(t, n);
		/* not ended for good: stopped with everything, or with its
		 * supervisor, which gave up after its last abnormal exit */
		if (!o)
			o = n->runs && !sv_job_success(n->job, n->last_status) ? OUT_FAILED : OUT_STOPPED;
		int bad = o == OUT_FAILED || o == OUT_SKIPPED;
		if (!bad && roster->n > SUMMARY_MAX)
			continue;
		if (listed == SUMMARY_MAX) {
			omitted++;
			continue;
		}
		listed++;
		char line[300], took[32];
		int len = snprintf(line, sizeof line, "%s %s", n->name, outcome_name(o));
		if (n->runs == 0) {
			snprintf(line + len, sizeof line - (size_t)len, ", never ran");
		} else {
			int st = n->last_status;
			if (WIFEXITED(st))
				len += snprintf(line + len, sizeof line - (size_t)len, ", exit status %d", WEXITSTATUS(st));
			else if (WIFSIGNALED(st))
				len += snprintf(line + len, sizeof line - (size_t)len, ", killed by signal %s",
				                sv_signal_name(WTERMSIG(st)));
			snprintf(line + len, sizeof line - (size_t)len, ", ran %s, %d restart%s",
			         sv_elapsed_str(n->run_ns, took, sizeof took), n->runs - 1, n->runs == 2 ? "" : "s");
		}
		if (bad)
			sv_err("summary: %s", line);
		else
			sv_info("summary: %s", line);
	}
	if (omitted)
		sv_err("summary: %zu more failed or skipped jobs not listed", omitted);
}

static int summarize(struct sv_graph *g, const struct tally *t, const struct sv_roster *roster,
                     int stop_signal, const char *tree_text, enum sv_outcome tree_out)
{
	summary_lines(t, roster);
	uint64_t lost = sv_pipes_lost(g);
	if (lost)
		sv_err("possibly lost: up to %llu lines read by consumers that ended abnormally",
		       (unsigned long long)lost);
	int count[5] = { 0 }, nt = (int)t->n;
	char failed[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < t->n; i++) {
		count[t->out[i]]++;
		if ((t->out[i] == OUT_FAILED || t->out[i] == OUT_SKIPPED) && len < sizeof failed - 80)
			len += (size_t)snprintf(failed + len, sizeof failed - len, "%s%s %s", len ? ", " : "",
			                        t->node[i]->name, outcome_name(t->out[i]));
	}
	int bad = count[OUT_FAILED] + count[OUT_SKIPPED];
	if (tree_out == OUT_FAILED) {
		sv_err("failed: %s", tree_text);
		return SV_EXIT_FAILED;
	}
	if (bad)
		sv_err("%d job%s ended: %d succeeded, %d failed, %d skipped, %d stopped (%s)", nt,
		       nt == 1 ? "" : "s", count[OUT_OK], count[OUT_FAILED], count[OUT_SKIPPED],
		       count[OUT_STOPPED], failed);
	else if (nt)
		sv_info("%d job%s ended: %d succeeded, %d stopped", nt, nt == 1 ? "" : "s",
		        count[OUT_OK], count[OUT_STOPPED]);
	else
		sv_info("every job stopped");
	if (unfinished(t, roster, stop_signal))
		return 128 + stop_signal; /* as a shell reports a command a signal ended */
	return bad ? SV_EXIT_FAILED : SV_EXIT_OK;
}

/* With exit = all_significant: has every instance of every significant
 * job of the newest config ended by itself? */
static int all_significant_ended(struct sv_graph *g, const struct tally *t)
{
	for (int i = 0; i < g->cfg->njobs; i++) {
		const struct sv_job *j = &g->cfg->jobs[i];
		if (!j->selected || !j->significant)
			continue;
		int ended = 0;
		for (size_t k = 0; k < t->n; k++)
			ended += !__atomic_load_n(&t->node[k]->removed, __ATOMIC_ACQUIRE) &&
			         strcmp(t->node[k]->job->name, j->name) == 0;
		if (ended < j->instances)
			return 0;
	}
	return 1;
}

static int significant_exit(struct sv_graph *g, const struct tally *t, struct sv_node *n)
{
	if (g->exit_policy == SV_EXIT_AUTO || !n->job->significant)
		return 0;
	return g->exit_policy == SV_EXIT_ANY_SIGNIFICANT || all_significant_ended(g, t);
}

/* ---- the end -------------------------------------------------------------------- */

/* Ends every green thread of the graph: jobs, supervisors, watchers, and
 * the pipeline helpers once the channels have drained.  Returns 1 when
 * every helper has ended, 0 if some is still running after the grace
 * periods (then the memory must be left alone: the process is about to
 * exit anyway).  After it, the count of lost lines is final. */
static int quiesce(struct sv_graph *g)
{
	sv_tree_quit(g);
	rt_wg_wait(&g->nodes);
	sv_reaper_stop(g); /* every job has ended: no process of theirs is left */
	rt_chan_close(g->quit);
	sv_service_stop(g);
	kill(getpid(), SIGHUP); /* wakes the signal thread, which now ends */
	if (g->stdout_wake[1] >= 0)
		(void)!write(g->stdout_wake[1], "", 1); /* and the stdout watch */
	rt_wg_wait(&g->watchers);
	sv_service_free(g);
	int controls_ended = sv_control_stop(g);
	/* a signal from now on would find no one to take it: none may kill
	 * grun between its summary and its exit (INT and TERM still end it) */
	for (size_t i = 0; i < sizeof handled_signals / sizeof handled_signals[0]; i++)
		if (handled_signals[i] != SIGINT && handled_signals[i] != SIGTERM && handled_signals[i] != SIGCONT)
			signal(handled_signals[i], SIG_IGN);
	/* every job has ended: the channels drain, and everything bound for
	 * chan:stdout is written (however slow the reader) before grun exits */
	sv_pipes_close_ends(g);
	sv_pipes_stdout_wait(g, RT_NEVER);
	if (rt_wg_wait_until(&g->helpers, rt_now() + HELPER_GRACE) == 0)
		return controls_ended;
	sv_pipes_force(g);
	if (rt_wg_wait_until(&g->helpers, rt_now() + HELPER_GRACE) == 0)
		return controls_ended;
	sv_debug("teardown: helpers still running; not freeing the tree");
	return 0;
}

/* Frees the tree and everything of the graph; after quiesce() said 1. */
static void free_graph(struct sv_graph *g)
{
	sv_pipes_free(g);
	sv_reaper_free(g);
	sv_tree_free(g->root);
	sv_latches_free(g->latches);
	sv_board_free(g->board);
	if (g->slots)
		rt_chan_free(g->slots);
	rt_chan_free(g->quit);
	if (g->stdout_wake[0] >= 0) {
		rt_close(g->stdout_wake[0]);
		close(g->stdout_wake[1]);
	}
	sv_mbox_destroy(&g->mbox);
	pthread_mutex_destroy(&g->tree_mu);
}

/* Sends *arg (a signal) to job node n's process group, if running. */
static void signal_job(struct sv_node *n, void *arg)
{
	int pid = __atomic_load_n(&n->pid, __ATOMIC_ACQUIRE);
	if (pid > 0)
		kill(-pid, *(int *)arg);
}

/* A second SIGINT: at once, no teardown, no waiting for anything. */
static void kill_everything(struct sv_graph *g)
{
	static const char msg[] = "grun: second SIGINT: killing every job\n";
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	int sig = SIGKILL;
	sv_tree_each_job(g, g->root, signal_job, &sig);
	sv_orphans_signal(SIGKILL);
}

/* ---- the main loop ---------------------------------------------------------------- */

static int name_width(const struct sv_config *cfg)
{
	int w = 1;
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (!j->selected)
			continue;
		int l = (int)strlen(j->name) + (j->instances > 1 ? 1 + snprintf(NULL, 0, "%d", j->instances) : 0);
		if (l > w)
			w = l;
	}
	return w;
}

/* The control socket, as the command line or the file asks; jobs held
 * stopped need one to ever run (said once each).  0, or -1 (logged). */
static int open_control(struct sv_graph *g, const struct sv_run_opts *opts)
{
	const char *path = opts->control ? opts->control : g->cfg->control;
	int off = opts->control ? strcmp(opts->control, "off") == 0 : g->cfg->control_off;
	if (!off && sv_control_open(g, path, g->cfg->control_group) < 0)
		return -1;
	for (int i = 0; !sv_control_on(g) && i < g->cfg->njobs; i++) {
		const struct sv_job *j = &g->cfg->jobs[i];
		if (j->selected && !j->autostart)
			sv_err("warning: job %s: autostart = no, and without a control socket nothing can "
			       "start it", j->name);
	}
	return 0;
}

/* Builds and starts everything; 0, or -1 (logged). */
static int start(struct sv_graph *g, const struct sv_run_opts *opts)
{
	int max_running = opts->max_running ? opts->max_running : g->cfg->max_running;
	if (max_running > 0 && !(g->slots = rt_chan_make(0, (size_t)max_running)))
		return -1;
	g->latches = sv_latches_new();
	g->root = sv_tree_build(g);
	g->quit = rt_chan_make(0, 0);
	if (sv_pipes_start(g) < 0)
		return -1; /* said which channel and why */
	rt_wg_add(&g->watchers, 1);
	if (!g->quit || sv_reaper_start(g) < 0 || sv_tree_start(g->root) < 0 ||
	    rt_go_named("signals", signal_main, g) < 0) {
		sv_err("cannot start: %s", rt_limit_message());
		return -1;
	}
	if (sv_ready_watch_start(g) < 0 || sv_stdout_watch_start(g) < 0 || sv_control_start(g) < 0 ||
	    sv_service_start(g) < 0) {
		sv_err("cannot start: %s", rt_limit_message());
		return -1;
	}
	struct sv_msg m = { .type = MSG_START, .gen = 1 };
	sv_mbox_post(&g->root->mbox, &m);
	return 0;
}

/* What the main loop has seen so far. */
struct run {
	struct tally t;
	struct sv_roster roster;
	int stopping;
	int stop_signal;               /* the signal that stopped every job, 0 if none */
	int fail_fast;                 /* stop everything at the first failure */
	int job_status;                /* exit_status = job: the significant job's wait status */
	int have_job_status;
	struct sv_shutdown *shutdown;  /* stopping everything: the plan, else NULL */
	int done;
	enum sv_outcome tree_out;
	char tree_text[200];
};

/* GRUN_TEST_STALL_MAIN=MS: a test hook; SIGUSR2 then blocks the main
 * green thread for MS milliseconds (0: the hook is off). */
static int64_t test_stall_ns(void)
{
	const char *v = getenv("GRUN_TEST_STALL_MAIN");
	return v ? strtoll(v, NULL, 10) * 1000000 : 0;
}

/* Ctrl-Z: the jobs run in sessions of their own, so the terminal's
 * SIGTSTP reaches only grun; it stops every job's group, then itself. */
static void suspend_all(struct sv_graph *g)
{
	int sig = SIGSTOP;
	sv_info("SIGTSTP: suspending every job and grun");
	sv_tree_each_job(g, g->root, signal_job, &sig);
	raise(SIGSTOP);
}

/* Returns 1 when every job should be stopped, -1 on a second SIGINT. */
static int on_signal(struct sv_graph *g, struct run *r, int sig)
{
	switch (sig) {
	case SIGHUP:
		if (r->stopping)
			sv_info("SIGHUP ignored: stopping");
		else {
			sv_info("SIGHUP: reloading %s", g->cfg->path);
			sv_reload(g, &r->roster, NULL);
		}
		return 0;
	case SIGINT:
	case SIGTERM:
	case SIGQUIT:
		if (r->stopping)
			return sig == SIGINT ? -1 : 0;
		sv_info("SIG%s: stopping every job", sv_signal_name(sig));
		r->stop_signal = sig;
		return 1;
	case SIGTSTP:
		suspend_all(g);
		return 0;
	case SIGCONT: {
		int cont = SIGCONT;
		sv_info("SIGCONT: resuming every job");
		sv_tree_each_job(g, g->root, signal_job, &cont);
		return 0;
	}
	case SIGUSR1: {
		int files = sv_output_reopen();
		if (files)
			sv_info("SIGUSR1: reopening %d log file%s", files, files == 1 ? "" : "s");
		else
			sv_info("SIGUSR1: no log files to reopen");
		return 0;
	}
	case SIGUSR2:
		if (test_stall_ns()) {
			/* GRUN_TEST_STALL_MAIN: a stuck main loop, for the watchdog's test */
			sv_info("SIGUSR2: stalling the main loop (GRUN_TEST_STALL_MAIN)");
			struct timespec ts = { test_stall_ns() / 1000000000, test_stall_ns() % 1000000000 };
			rt_blocking_begin();
			nanosleep(&ts, NULL);
			rt_blocking_end();
			return 0;
		}
		sv_info("SIGUSR2 ignored");
		return 0;
	case SIGPIPE:
	case SIGWINCH:
		return 0; /* EPIPE tells the writer; a terminal's size means nothing here */
	default:
		sv_info("SIG%s ignored", sv_signal_name(sig));
		return 0;
	}
}

static int on_final(struct sv_graph *g, struct run *r, struct sv_node *n, enum sv_outcome out,
                    int status)
{
	record(&r->t, n, out);
	sv_shutdown_final(r->shutdown, n);
	if (r->stopping)
		return 0;
	if (r->fail_fast && out == OUT_FAILED) {
		sv_info("%s failed (fail_fast): stopping every job", n->name);
		return 1;
	}
	/* as OTP's auto_shutdown: only a significant child that ended by
	 * itself, not one its supervisor stopped */
	if (out == OUT_STOPPED || !significant_exit(g, &r->t, n))
		return 0;
	r->job_status = status;
	r->have_job_status = 1;
	sv_info("%s: significant job ended (exit = %s): stopping every job", n->name,
	        g->exit_policy == SV_EXIT_ANY_SIGNIFICANT ? "any_significant" : "all_significant");
	return 1;
}

/* A request of a control connection (control.h); 1 when every job should
 * be stopped. */
static int on_control(struct sv_graph *g, struct run *r, struct sv_msg *m)
{
	struct sv_ctl_call *call = m->ptr2;
	if (m->a == CTL_START) {
		/* a supervisor started a job that had ended for good */
		struct sv_node *n = m->ptr;
		forget(&r->t, n);
		if (r->stopping) {
			struct sv_msg stop = { .type = MSG_STOP_CHILD, .ptr = n };
			sv_tree_to_parent(n, &stop);
		}
		return 0;
	}
	if (r->stopping) {
		sv_ctl_reply(call, m->a == CTL_STOP_ALL, "grun is already stopping every job");
		return 0;
	}
	if (m->a == CTL_RELOAD) {
		char *report = NULL;
		sv_info("grunctl: reloading %s", g->cfg->path);
		int rc = sv_reload(g, &r->roster, &report);
		sv_ctl_reply(call, rc == 0, "%s", report ? report : "");
		free(report);
		return 0;
	}
	if (m->a == CTL_STOP_ALL) {
		sv_info("grunctl stop-all: stopping every job");
		sv_ctl_reply(call, 1, "stopping every job");
		return 1;
	}
	sv_ctl_reply(call, 0, "not an operation of grun's main loop");
	return 0;
}

static int ended_for_good(const struct sv_node *n, void *arg)
{
	return outcome_of(arg, n) != 0;
}

/* Takes messages until the root supervisor has ended: 0, or -1 on a
 * second SIGINT. */
static int main_loop(struct sv_graph *g, struct run *r)
{
	while (!r->done) {
		struct sv_msg *m = sv_mbox_get(&g->mbox, RT_NEVER);
		int stop = 0;
		if (m->type == MSG_SIGNAL) {
			stop = on_signal(g, r, m->a);
		} else if (m->type == MSG_FINAL) {
			stop = on_final(g, r, m->ptr, m->outcome, m->status);
		} else if (m->type == MSG_RETIRED) {
			sv_reload_retired(g, m->ptr);
			forget(&r->t, m->ptr);
			sv_tree_retire(g, m->ptr);
		} else if (m->type == MSG_CTL) {
			stop = on_control(g, r, m);
		} else if (m->type == MSG_PING) {
			__atomic_add_fetch(&g->beats, 1, __ATOMIC_RELEASE);
		} else if (m->type == MSG_STDOUT_GONE) {
			if (!r->stopping)
				sv_stdout_stop_writers(g, &r->roster);
		} else if (m->type == MSG_TREE_EXITED) {
			r->tree_out = m->outcome;
			snprintf(r->tree_text, sizeof r->tree_text, "%s", m->text);
			r->done = 1;
		}
		free(m);
		if (stop < 0)
			return -1;
		if (stop) {
			r->stopping = 1;
			sv_notify_systemd("STOPPING=1");
			r->shutdown = sv_shutdown_begin(g, &r->roster, ended_for_good, &r->t);
		}
	}
	return 0;
}

int sv_graph_run(struct sv_config *cfg, const struct sv_run_opts *opts)
{
	struct sv_graph g = { .cfg = cfg, .first_cfg = cfg, .select = opts->select,
	                      .nselect = opts->nselect, .exit_policy = cfg->exit_policy };
	pthread_mutex_init(&g.tree_mu, NULL);
	if (sv_mbox_init(&g.mbox) < 0)
		return SV_EXIT_FAILED;
	g.stdout_wake[0] = g.stdout_wake[1] = -1;
	sv_output_set_format(opts->timestamps != SV_TS_AUTO ? opts->timestamps : cfg->timestamps,
	                     opts->log_format != SV_LOG_AUTO ? opts->log_format : cfg->log_format);
	if (sv_output_start(opts->color >= 0 ? opts->color : cfg->color, name_width(cfg), opts->verbosity,
	                    sv_config_find_chan(cfg, "stdout") >= 0, sv_stdout_gone_hook, &g) < 0)
		return SV_EXIT_FAILED;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	g.board = sv_board_new();
	if (open_control(&g, opts) < 0) {
		sv_output_stop();
		sv_board_free(g.board);
		sv_mbox_destroy(&g.mbox);
		pthread_mutex_destroy(&g.tree_mu);
		return SV_EXIT_USAGE;
	}
	if (start(&g, opts) < 0) {
		sv_output_stop();
		return SV_EXIT_FAILED;
	}
	struct run r = { .tree_out = OUT_OK,
	                 .fail_fast = opts->fail_fast >= 0 ? opts->fail_fast : cfg->fail_fast };
	sv_roster_init(&r.roster, &g);
	if (main_loop(&g, &r) < 0) {
		kill_everything(&g);
		return SV_EXIT_KILLED;
	}
	sv_orphans_sweep(ORPHAN_GRACE);
	/* the summary comes after the pipes have drained: a feeder that finds
	 * its consumer gone counts what it could not write on its way out */
	int freeable = quiesce(&g);
	int code = summarize(&g, &r.t, &r.roster, r.stop_signal, r.tree_text, r.tree_out);
	if (code == SV_EXIT_OK && sv_graph_stdout_is_gone(&g))
		code = 128 + SIGPIPE; /* as yes in `yes | head -1` */
	if (cfg->exit_status_job && r.have_job_status && code < 128)
		code = WIFEXITED(r.job_status) ? WEXITSTATUS(r.job_status) : 128 + WTERMSIG(r.job_status);
	sv_shutdown_free(r.shutdown);
	free(r.t.node);
	free(r.t.out);
	sv_roster_free(&r.roster);
	if (freeable)
		free_graph(&g);
	sv_output_stop();
	if (sv_output_failed() && code == SV_EXIT_OK)
		code = SV_EXIT_FAILED; /* output was lost: said on stderr if it could be */
	char exit_msg[32];
	snprintf(exit_msg, sizeof exit_msg, "EXIT_STATUS=%d", code);
	sv_notify_systemd(exit_msg);
	/* the caller frees the config it passed; the graph keeps the newest */
	for (int i = 0; i < g.nold; i++) {
		if (g.old_cfgs[i] != cfg)
			sv_config_free(g.old_cfgs[i]);
	}
	if (g.cfg != cfg)
		sv_config_free(g.cfg);
	free(g.old_cfgs);
	return code;
}
