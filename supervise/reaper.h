/*
 * reaper.h - one green thread per graph learns of every job process's
 * exit (rt_proc_wait_any) and posts MSG_PROC_EXIT to the job that ran it,
 * tagged with the run's generation.  One thread for all jobs instead of
 * one per running process: a parked green thread costs a page.
 */
#ifndef GRUN_SV_REAPER_H
#define GRUN_SV_REAPER_H
#include <stdint.h>
#include <sys/types.h>
#include "supervise/tree.h"

/* sv_reaper_start() starts the graph's reaper; it counts in g->watchers.
 * 0, or -1 if it could not start. */
int sv_reaper_start(struct sv_graph *g);
/* sv_reaper_track() tells the reaper that pid is run gen of job n.  The
 * process may have exited already: the exit is then posted at once. */
void sv_reaper_track(struct sv_graph *g, struct sv_node *n, pid_t pid, uint64_t gen);
/* sv_reaper_stop() ends the reaper once no job process is left; frees
 * the table after the thread is gone (rt_wg_wait on g->watchers). */
void sv_reaper_stop(struct sv_graph *g);
void sv_reaper_free(struct sv_graph *g);
#endif
