/*
 * jobnotify.h - the sd_notify(3) socket of a job run: what a job written
 * for systemd tells its service manager, heard by grun for the whole run.
 *
 * A job with ready = notify or a watchdog gets NOTIFY_SOCKET, an abstract
 * datagram socket of its own for each run; one green thread reads it
 * until the run ends and acts on each message from the job's process
 * group (NotifyAccess=all, narrowed to the job):
 *
 *   READY=1               the job is ready (MSG_PROC_READY); ends a
 *                         RELOADING=1 note
 *   STATUS=TEXT           shown by grunctl status
 *   WATCHDOG=1            the job is alive (MSG_PROC_WATCHDOG)
 *   WATCHDOG=trigger      the job asks to be treated as hung: it fails
 *   EXTEND_TIMEOUT_USEC=N more time to become ready or to stop (MSG_PROC_EXTEND)
 *   MAINPID=N             N becomes the run's process when the first one
 *                         exits (a daemon that forks): MSG_PROC_MAINPID
 *   RELOADING=1, STOPPING=1, ERRNO=N   shown as the job's note, set
 *                         here in the order the job sent them
 *   BARRIER=1             the descriptor it carries is closed at once, so
 *                         `systemd-notify --ready` returns
 */
#ifndef GRUN_SV_JOBNOTIFY_H
#define GRUN_SV_JOBNOTIFY_H
#include <stddef.h>
#include <stdint.h>
#include "supervise/tree.h"

struct sv_jobnotify;

/* sv_jobnotify_open() makes the socket for one run of n; addr gets the
 * NOTIFY_SOCKET value ("@grun/..."). */
int sv_jobnotify_open(struct sv_node *n, char *addr, size_t len);
/* sv_jobnotify_start() starts the listener of run gen on fd (which it
 * owns from then on); NULL if it could not start (fd is still the
 * caller's). */
struct sv_jobnotify *sv_jobnotify_start(struct sv_node *n, uint64_t gen, int fd);
/* sv_jobnotify_follow() takes notifications from main's process group
 * too (the run's process is now main).  The job's green thread. */
void sv_jobnotify_follow(struct sv_jobnotify *jn, pid_t main);
/* sv_jobnotify_cancel() ends the listener (it posts nothing and touches
 * n no more after this returns) and says whether READY=1 was heard in
 * this run, including one still waiting in the socket. */
int sv_jobnotify_cancel(struct sv_jobnotify *jn);
#endif
