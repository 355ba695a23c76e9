/*
 * sockets.h - socket activation passed through: the descriptors grun
 * itself received with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID (systemd's
 * sd_listen_fds convention), kept open for the jobs that name them with
 * `sockets =`.
 *
 * The table is filled once, before the runtime starts (the first config
 * load or sv_graph_prepare, whichever comes first), and read-only
 * afterwards: any thread may read it without a lock.
 */
#ifndef GRUN_SV_SOCKETS_H
#define GRUN_SV_SOCKETS_H
#include <stddef.h>

/* The most descriptors one job can be handed. */
#define SV_SOCKETS_MAX 256

/* sv_sockets_init() takes grun's LISTEN_* variables (when LISTEN_PID is
 * grun's pid), marks those descriptors close-on-exec, and removes the
 * variables from grun's environment.  Idempotent; call it before any
 * thread starts. */
void sv_sockets_init(void);
/* sv_sockets_named() says whether grun knows the names of its sockets
 * (LISTEN_FDNAMES was given); only then can names be checked at load. */
int sv_sockets_named(void);
/* sv_sockets_find() stores the descriptors called name (in grun's order,
 * at most max) in fds and returns how many (0: none by that name). */
int sv_sockets_find(const char *name, int *fds, int max);
/* sv_sockets_describe() writes what grun received, for an error message:
 * "a:b" or "no LISTEN_FDS". */
void sv_sockets_describe(char *buf, size_t len);
#endif
