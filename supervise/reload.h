/*
 * reload.h - SIGHUP: read the file again and apply the difference to the
 * running tree (grun.ini(5) RELOAD).
 */
#ifndef GRUN_SV_RELOAD_H
#define GRUN_SV_RELOAD_H
#include "supervise/tree.h"

/* The job nodes the graph considers running (not removed), by the
 * newest applied config: the main green thread's own list, updated by
 * each reload before the supervisors have applied it, so that reloads in
 * quick succession never see a job missing and start it twice. */
struct sv_roster {
	struct sv_node **v;
	size_t n, cap;
};

/* sv_roster_init() lists the job nodes of the freshly built tree. */
void sv_roster_init(struct sv_roster *r, struct sv_graph *g);
void sv_roster_free(struct sv_roster *r);
/* sv_reload() reads g->cfg->path again; on errors logs them, changes
 * nothing and returns -1; else replaces changed jobs, adds new ones,
 * removes dropped ones, makes the new config g->cfg and returns 0.  With
 * report, *report gets a malloc'd copy of the lines it logged (grunctl
 * reload's answer).  Main green thread only. */
int sv_reload(struct sv_graph *g, struct sv_roster *r, char **report);
/* sv_reload_retired() is told that node n, removed by a reload, has
 * ended its green thread: n->job is cleared, and a replaced config no
 * node runs from any more is freed.  Main green thread only. */
void sv_reload_retired(struct sv_graph *g, struct sv_node *n);
#endif
