/*
 * graph.h - running a loaded job graph: the one entry point cmd/ uses.
 */
#ifndef GRUN_SV_GRAPH_H
#define GRUN_SV_GRAPH_H
#include "supervise/config.h"
#include "supervise/output.h"

struct sv_run_opts {
	int max_running;              /* -j; 0: the file's [grun] jobs */
	int color;                    /* -1: the file's [grun] color */
	enum sv_verbosity verbosity;
	char **select;                /* JOB... (kept for reloads) */
	int nselect;
};

/* sv_graph_run() runs the selected jobs of cfg until nothing can run any
 * more, the root supervisor gives up, or a signal stops it; returns
 * grun's exit status (grun(1) EXIT STATUS).  G only: call it from the
 * runtime's main green thread. */
int sv_graph_run(struct sv_config *cfg, const struct sv_run_opts *opts);
#endif
