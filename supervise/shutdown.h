/*
 * shutdown.h - stopping everything (SIGTERM, SIGINT, a significant job):
 * in the order `needs` asks for, and in parallel where it allows.
 *
 * A job is stopped only once every job that needs it has stopped
 * (dependents first, whatever the supervisors); jobs that do not depend
 * on each other are stopped at the same time, so the whole stop takes
 * the longest chain of stop_timeouts, not their sum.  A supervisor with
 * `shutdown = sequential` keeps OTP's order for its children: one after
 * the other, in reverse start order, a child supervisor's subtree as a
 * whole.  Should that contradict `needs`, needs wins (logged).
 */
#ifndef GRUN_SV_SHUTDOWN_H
#define GRUN_SV_SHUTDOWN_H
#include "supervise/reload.h"
#include "supervise/tree.h"

struct sv_shutdown;

/* sv_shutdown_begin() tells every supervisor to restart nothing any more
 * and starts stopping the jobs of the roster; down(n) says whether job
 * node n has already ended for good.  Main green thread only. */
struct sv_shutdown *sv_shutdown_begin(struct sv_graph *g, const struct sv_roster *roster,
                                      int (*down)(const struct sv_node *, void *), void *arg);
/* sv_shutdown_final() is told each MSG_FINAL (job node n ended for good):
 * the jobs it needed may now be stopped. */
void sv_shutdown_final(struct sv_shutdown *sd, struct sv_node *n);
void sv_shutdown_free(struct sv_shutdown *sd);
#endif
