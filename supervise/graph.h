/*
 * graph.h - running a loaded job graph: with config.h, the only header
 * cmd/ uses.
 */
#ifndef GRUN_SV_GRAPH_H
#define GRUN_SV_GRAPH_H
#include <signal.h>
#include "supervise/config.h"
#include "supervise/output.h"

/* grun's exit statuses (grun(1) EXIT STATUS lists the same). */
enum sv_exit {
	SV_EXIT_OK = 0,          /* every job succeeded or was stopped */
	SV_EXIT_FAILED = 1,      /* a job failed or was skipped, or a supervisor gave up */
	SV_EXIT_USAGE = 2,       /* usage or configuration error */
	SV_EXIT_OOM = 71,        /* out of memory (xalloc.h: SV_EXIT_NOMEM) */
	SV_EXIT_KILLED = 130,    /* a second SIGINT: every job killed at once */
};

struct sv_run_opts {
	int max_running;              /* -j; 0: the file's [grun] jobs */
	int color;                    /* -1: the file's [grun] color */
	enum sv_verbosity verbosity;
	char **select;                /* JOB... (kept for reloads) */
	int nselect;
	int fail_fast;                /* -F 1, -k 0; -1: the file's [grun] fail_fast */
	const char *control;          /* --control: a socket path or "off"; NULL: the file's */
	enum sv_ts timestamps;        /* --timestamps; SV_TS_AUTO: the file's [grun] timestamps */
	enum sv_log_format log_format; /* --log-format; SV_LOG_AUTO: the file's [grun] log_format */
};

/* sv_graph_signals() fills set with the signals sv_graph_run() handles;
 * the caller gives them to the runtime (rt_config.signals). */
void sv_graph_signals(sigset_t *set);
/* sv_graph_prepare() is called once before the runtime starts: it marks
 * every inherited descriptor above 2 close-on-exec, so nothing grun was
 * given leaks into jobs. */
void sv_graph_prepare(void);
/* sv_graph_run() runs the selected jobs of cfg until nothing can run any
 * more, the root supervisor gives up, or a signal stops it; returns
 * grun's exit status (enum sv_exit).  On SV_EXIT_KILLED it returns at
 * once, with jobs killed and nothing torn down: the caller exits.  G
 * only: call it from the runtime's main green thread. */
int sv_graph_run(struct sv_config *cfg, const struct sv_run_opts *opts);
#endif
