/*
 * stdout.h - the reader of grun's stdout going away (stdout.c).
 * sv_graph_stdout_gone() and sv_graph_stdout_is_gone() are in tree.h, for
 * the modules that detect it.
 */
#ifndef GRUN_SV_STDOUT_H
#define GRUN_SV_STDOUT_H
#include "supervise/reload.h"
#include "supervise/tree.h"

/* The hook output.c calls on EPIPE from grun's stdout (arg: the graph). */
void sv_stdout_gone_hook(void *arg);
/* sv_stdout_watch_start() starts the stdout watch when grun's stdout is a
 * pipe or a socket (counted in g->watchers; teardown wakes it through
 * g->stdout_wake).  0, or -1. */
int sv_stdout_watch_start(struct sv_graph *g);
/* sv_stdout_stop_writers() stops every job of the roster that writes
 * grun's stdout, for good.  Main green thread only. */
void sv_stdout_stop_writers(struct sv_graph *g, const struct sv_roster *roster);
#endif
