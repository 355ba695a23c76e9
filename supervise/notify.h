/*
 * notify.h - grun's own sd_notify(3) client, for running as a systemd
 * Type=notify service: READY=1 once every selected job is ready or has
 * settled, RELOADING=1 (with MONOTONIC_USEC) / READY=1 around a reload,
 * STOPPING=1, EXIT_STATUS= at the end.  service.h adds WATCHDOG=1 and
 * STATUS=.
 */
#ifndef GRUN_SV_NOTIFY_H
#define GRUN_SV_NOTIFY_H
#include "supervise/tree.h"

/* sv_notify_systemd() sends state ("READY=1\nSTATUS=...") to
 * $NOTIFY_SOCKET; does nothing when it is unset.  Never parks. */
void sv_notify_systemd(const char *state);
/* sv_ready_watch_start() starts the green thread that says READY=1 when
 * every selected job of g->cfg has settled; it ends then, or when g->quit
 * closes, and counts in g->watchers. */
int sv_ready_watch_start(struct sv_graph *g);
#endif
