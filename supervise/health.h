/*
 * health.h - liveness checks (health = ) and the checks ready = tcp:,
 * http:// and exec: poll with.
 *
 * A checker runs one check at a time (tcp: a connection; http://: a GET
 * whose status line says 2xx or 3xx; exec: a command's exit status 0),
 * each bounded by its timeout, and can be cancelled from another green
 * thread mid-check.  A health watch is a green thread per ready run: it
 * runs the job's check every health_interval and, after health_failures
 * failures in a row, posts MSG_PROC_UNHEALTHY to the job (tagged with the
 * run's generation) and ends.
 */
#ifndef GRUN_SV_HEALTH_H
#define GRUN_SV_HEALTH_H
#include <stddef.h>
#include <stdint.h>
#include "supervise/config.h"
#include "supervise/tree.h"

struct sv_checker;

/* sv_checker_new() copies what a check of spec for instance inst of job
 * needs (the job's config may be freed by a reload while it runs). */
struct sv_checker *sv_checker_new(const struct sv_check_spec *spec, const struct sv_job *job,
                                  int inst, int64_t timeout);
/* sv_checker_run() runs one check: 1 passed, 0 failed (why says how), -1
 * cancelled.  G only; one caller at a time. */
int sv_checker_run(struct sv_checker *c, char *why, size_t len);
/* sv_checker_cancel() makes a running check (and every later one) return
 * -1 at once.  Any G. */
void sv_checker_cancel(struct sv_checker *c);
/* sv_checker_free() frees it; no check may be running. */
void sv_checker_free(struct sv_checker *c);

struct sv_health;
/* sv_health_start() starts the health watch of run gen of node n (whose
 * job has a health = check).  NULL if it could not start. */
struct sv_health *sv_health_start(struct sv_node *n, uint64_t gen);
/* sv_health_cancel() stops it: nothing is posted after it returns, and a
 * check in progress is cut short.  NULL is ignored. */
void sv_health_cancel(struct sv_health *h);
#endif
