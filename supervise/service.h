/*
 * service.h - grun as a systemd service: what systemd hears from it
 * besides READY=1, RELOADING=1 and STOPPING=1 (notify.c):
 *
 * - WATCHDOG=1 every half of WATCHDOG_USEC (when that and NOTIFY_SOCKET
 *   are set, and WATCHDOG_PID is unset or grun's), sent only while the
 *   main green thread answers its pings, so a stuck supervisor stops the
 *   pings and systemd restarts grun;
 * - STATUS= with the count of jobs in each state ("12 running, 1
 *   restarting, 2 done"), sent when it changes, at most once a second.
 *
 * Without NOTIFY_SOCKET nothing runs.  Either way WATCHDOG_USEC and
 * WATCHDOG_PID are removed from grun's environment, so no job takes
 * systemd's watchdog for its own.
 */
#ifndef GRUN_SV_SERVICE_H
#define GRUN_SV_SERVICE_H
#include "supervise/tree.h"

/* sv_service_start() starts the watchdog and status green threads
 * (counted in g->watchers) after the tree has started.  0 or -1. */
int sv_service_start(struct sv_graph *g);
/* sv_service_stop() tells them to end (teardown, before waiting for the
 * watchers); sv_service_free() frees what they used, after. */
void sv_service_stop(struct sv_graph *g);
void sv_service_free(struct sv_graph *g);
#endif
