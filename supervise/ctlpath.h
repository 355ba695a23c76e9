/*
 * ctlpath.h - where grun's control socket lives: shared by grun and
 * grunctl so that `grunctl -f FILE` finds the grun running FILE.
 *
 * Plain C, no runtime, no state.
 */
#ifndef GRUN_SV_CTLPATH_H
#define GRUN_SV_CTLPATH_H
#include <stddef.h>

/* sv_ctl_dir() writes the directory of default sockets: /run/grun for
 * root, $XDG_RUNTIME_DIR/grun when that is set, else /tmp/grun-UID.
 * 0, or -1 with errno ENAMETOOLONG. */
int sv_ctl_dir(char *buf, size_t len);
/* sv_ctl_default_path() writes the default socket of config file
 * `config`: DIR/NAME-HASH.sock, NAME from the file's name without .ini,
 * HASH of its absolute path (so two files of one name differ).  0, or
 * -1 with errno (the file cannot be resolved, or the path is longer than
 * a socket address holds). */
int sv_ctl_default_path(const char *config, char *buf, size_t len);
/* The longest path a UNIX socket address holds, without its NUL. */
#define SV_CTL_PATH_MAX 107
#endif
