/*
 * spawn.h - turning a job's settings into a running process.
 *
 * sv_spawn_prepare() does everything that may allocate, look up or fail
 * with a message (PATH search, environment, opening files and pipes)
 * in the parent; sv_spawn_run() then creates the process through the
 * runtime, and the child runs only async-signal-safe calls (setsid, dup2,
 * umask, chdir, raw set*id system calls, execve) before exec.  Every
 * descriptor grun opens is close-on-exec; the child gets exactly 0, 1, 2
 * and, with ready = fd:N, N; with sockets = , 3, 4, ... (LISTEN_FDS).
 */
#ifndef GRUN_SV_SPAWN_H
#define GRUN_SV_SPAWN_H
#include <stdbool.h>
#include <sys/types.h>
#include "supervise/config.h"
#include "supervise/sockets.h"

struct sv_spawn {
	char path[4096];        /* the executable, after PATH search */
	char **argv;            /* borrowed from the job */
	char **envp;            /* owned: the array, and the strings from env_owned on */
	int env_owned;
	const char *dir;
	int umask;
	pid_t parent;           /* grun's pid: the child checks it is still there */
	int has_user;
	uid_t uid;
	gid_t gid;
	int src[4];             /* fds for 0, 1, 2 and the extra target (-1: none) */
	int extra_target;       /* ready = fd:N: N, else -1 */
	int owned[4];           /* src[i] is grun's copy to close after the spawn */
	/* read ends for grun (-1 when unused), owned by the caller after run */
	int out_read, err_read, ready_read;
	/* sockets = : grun's descriptors for 3, 4, ... (not owned), and the
	 * LISTEN_PID= entry of envp whose digits the child writes */
	int nsock;
	int sock[SV_SOCKETS_MAX];
	char *listen_pid;
	const struct sv_job *job;
	bool path_cached;       /* path is the one found at load, unchecked */
};

/* sv_spawn_prepare() fills *sp for one run of job instance inst (1-based);
 * notify is the NOTIFY_SOCKET value or NULL; chanfd[0..2] are the held
 * pipe ends grun gives a job's chan: stdin, stdout, stderr (-1: none).  Returns 0, or -1 with a
 * message in err. */
int sv_spawn_prepare(const struct sv_job *job, int inst, const char *notify,
                     const int chanfd[3], struct sv_spawn *sp, char *err, size_t errlen);
/* sv_spawn_run() starts the process: its pid, or -1 with errno (the
 * child's exec error).  Closes the child's ends either way. */
pid_t sv_spawn_run(struct sv_spawn *sp);
/* The step of the child's set-up that failed (in sv_spawn_run()'s errno). */
enum { SV_STEP_SETSID = 1, SV_STEP_FDS, SV_STEP_CHDIR, SV_STEP_GROUP, SV_STEP_USER, SV_STEP_EXEC,
       SV_STEP_PDEATHSIG };
/* sv_spawn_error() describes the failure sv_spawn_run() returned in errno. */
void sv_spawn_error(const struct sv_spawn *sp, const struct sv_job *job, int code, char *buf,
                    size_t len);
/* sv_spawn_release() frees what prepare allocated and closes any read end
 * still set. */
void sv_spawn_release(struct sv_spawn *sp);
/* sv_spawn_env() is the environment of a run of job instance inst:
 * grun's, minus what the job overrides and grun's own service manager's
 * variables, plus the job's settings (NULL-terminated, owned: each
 * string and the array). */
char **sv_spawn_env(const struct sv_job *job, int inst, const char *notify);
/* sv_cloexec_inherited() marks every descriptor above 2 close-on-exec, so
 * what grun inherited does not leak into jobs. */
void sv_cloexec_inherited(void);
#endif
