/*
 * ready.h - readiness probes: a green thread per run that watches for a
 * job's ready = condition (fd:N, tcp:, http://, exec:, log:, file:) and
 * posts MSG_PROC_READY to the job.  started, exited and delay: need no
 * probe, the job's own loop handles them; notify is read by the job's
 * NOTIFY_SOCKET listener (jobnotify.h).
 */
#ifndef GRUN_SV_READY_H
#define GRUN_SV_READY_H
#include <stddef.h>
#include <stdint.h>
#include "supervise/tree.h"

struct sv_probe;

/* sv_probe_start() starts the probe for run gen of node n; fd is the
 * fd:N socket's read end (the probe owns it), -1
 * for the others.  A log: probe is started before the spawn (it sees
 * only lines logged after it started).  NULL if it could not start. */
struct sv_probe *sv_probe_start(struct sv_node *n, uint64_t gen, int fd);
/* sv_probe_cancel() stops the probe (it may still be running for a
 * moment; it posts nothing after this returns) and drops the caller's
 * reference.  Returns 1 if the condition was met at any time, including
 * a message that was still waiting in the socket. */
int sv_probe_cancel(struct sv_probe *p);
#endif
