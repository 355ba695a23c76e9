/*
 * orphans.h - leftovers of daemonizing jobs.  grun is a child subreaper
 * (PR_SET_CHILD_SUBREAPER), so a job's process that forks and exits
 * leaves its children to grun; at the end they are sent SIGTERM, given a
 * grace period, then SIGKILL.
 */
#ifndef GRUN_SV_ORPHANS_H
#define GRUN_SV_ORPHANS_H
#include <stdint.h>

/* sv_orphans_signal() sends sig to every direct child of grun that is
 * still alive (0: just counts them); returns their number.  Any thread. */
int sv_orphans_signal(int sig);
/* sv_orphans_sweep() ends every leftover: TERM, grace, KILL.  G only. */
void sv_orphans_sweep(int64_t grace);
#endif
