/*
 * spawn.c - see spawn.h.  The child side is the one place in grun that
 * runs between fork and exec; each call in child_main() is a system call
 * wrapper listed as async-signal-safe by POSIX, or a raw syscall (set*id:
 * glibc's wrappers would try to signal every thread of the parent, whose
 * memory a vfork-like child shares).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/spawn.h"
#include "supervise/xalloc.h"

extern char **environ;

/* The child's failure: the step (SV_STEP_*) in the high bits, errno in
 * the low 12 (errno values are below 4096). */
static int child_failed(int step)
{
	return (int)(step << 12 | (errno & 0xfff));
}

/* Runs in the child, sharing grun's memory until exec (vfork): only
 * async-signal-safe calls, and every failure returned explicitly. */
static int child_main(void *arg)
{
	const struct sv_spawn *sp = arg;
	int src[4 + SV_SOCKETS_MAX];
	int maxt = sp->extra_target > 2 ? sp->extra_target : 2;
	if (2 + sp->nsock > maxt)
		maxt = 2 + sp->nsock;
	if (setsid() < 0)
		return child_failed(SV_STEP_SETSID);
	/* every source must lie above every target, so no dup2 clobbers a
	 * source (and none is its own target, which dup2 would leave
	 * close-on-exec): move them there unless they all are already */
	int low = 0;
	for (int i = 0; i < 4 + sp->nsock; i++) {
		src[i] = i < 4 ? sp->src[i] : sp->sock[i - 4];
		low |= src[i] >= 0 && src[i] <= maxt;
	}
	for (int i = 0; low && i < 4 + sp->nsock; i++) {
		if (src[i] >= 0 && (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, maxt + 1)) < 0)
			return child_failed(SV_STEP_FDS);
	}
	for (int i = 0; i < 4 + sp->nsock; i++) {
		int target = i < 3 ? i : i == 3 ? sp->extra_target : 3 + (i - 4);
		if (src[i] >= 0 && dup2(src[i], target) < 0)
			return child_failed(SV_STEP_FDS);
	}
	if (sp->listen_pid) {
		/* LISTEN_PID is this process: its digits over the placeholder */
		char digits[24];
		int nd = 0;
		for (long pid = syscall(SYS_getpid); nd == 0 || pid > 0; pid /= 10)
			digits[nd++] = (char)('0' + pid % 10);
		char *d = sp->listen_pid + sizeof "LISTEN_PID=" - 1;
		while (nd > 0)
			*d++ = digits[--nd];
		*d = '\0';
	}
	if (sp->umask >= 0)
		umask((mode_t)sp->umask);
	if (sp->dir && chdir(sp->dir) < 0)
		return child_failed(SV_STEP_CHDIR);
	/* a group switch drops every supplementary group, grun's included */
	if (sp->gid != (gid_t)-1 &&
	    (syscall(SYS_setgroups, 1, &sp->gid) < 0 ||
	     syscall(SYS_setresgid, sp->gid, sp->gid, sp->gid) < 0))
		return child_failed(SV_STEP_GROUP);
	if (sp->has_user && syscall(SYS_setresuid, sp->uid, sp->uid, sp->uid) < 0)
		return child_failed(SV_STEP_USER);
	/* After the credentials change, which clears it: KILL when grun dies
	 * (even by SIGKILL), and if it died already, do not start at all. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return child_failed(SV_STEP_PDEATHSIG);
	if (getppid() != sp->parent)
		_exit(128 + SIGKILL);
	execve(sp->path, sp->argv, sp->envp);
	return child_failed(SV_STEP_EXEC);
}

void sv_spawn_error(const struct sv_spawn *sp, const struct sv_job *job, int code, char *buf,
                    size_t len)
{
	int err = code & 0xfff;
	switch (code >> 12) {
	case SV_STEP_SETSID: snprintf(buf, len, "cannot start a session: %s", strerror(err)); break;
	case SV_STEP_FDS: snprintf(buf, len, "cannot set up file descriptors: %s", strerror(err)); break;
	case SV_STEP_CHDIR: snprintf(buf, len, "cannot enter directory %s: %s", sp->dir, strerror(err)); break;
	case SV_STEP_GROUP: snprintf(buf, len, "cannot switch to group %d: %s", (int)sp->gid, strerror(err)); break;
	case SV_STEP_USER: snprintf(buf, len, "cannot switch to user %d: %s", (int)sp->uid, strerror(err)); break;
	case SV_STEP_EXEC: snprintf(buf, len, "cannot run %s: %s", sp->path, strerror(err)); break;
	case SV_STEP_PDEATHSIG: snprintf(buf, len, "cannot set the parent-death signal: %s", strerror(err)); break;
	default:
		/* the process was not even made */
		if (err == EAGAIN || err == ENOMEM)
			snprintf(buf, len, "cannot create a process for %s: %s (the user's process limit, "
			         "RLIMIT_NPROC, or memory)", job->argv.v[0], strerror(err));
		else
			snprintf(buf, len, "cannot run %s: %s", job->argv.v[0], strerror(err));
		break;
	}
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++) {
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	}
	return NULL;
}

static int name_in(const char *entry, char **list)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
	for (; list && *list; list++) {
		if (strncmp(*list, entry, n) == 0 && (*list)[n] == '=')
			return 1;
	}
	return 0;
}

/* grun's environment minus what the job overrides and what belongs to
 * grun's own service manager, plus the job's settings: the same for
 * every run, so made once per job (grun never changes its environ) as
 * pointers to strings that live as long as the job's config; once for
 * all the jobs without env keys (it then points into environ only, and
 * lives as long as grun). */
static char **env_base(const struct sv_job *job)
{
	static const char *drop[] = { "NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID=",
	                              "LISTEN_FDNAMES=", "GRUN_JOB=", "GRUN_INSTANCE=",
	                              "WATCHDOG_USEC=", "WATCHDOG_PID=", NULL };
	/* the one field spawns write; jobs without env keys share one base */
	static char **plain;
	char **const *slot = job->env.n ? &job->env_base : &plain;
	char **base = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (base)
		return base;
	size_t n = 0, cap = (size_t)job->env.n + 1;
	for (char **e = environ; e && *e; e++)
		cap++;
	base = sv_xmalloc(cap * sizeof *base, "a job's environment");
	for (char **e = environ; e && *e; e++)
		if (!name_in(*e, job->env.v) && !name_in(*e, (char **)drop))
			base[n++] = *e;
	for (int i = 0; i < job->env.n; i++)
		base[n++] = job->env.v[i];
	base[n] = NULL;
	char **none = NULL;
	if (!__atomic_compare_exchange_n((char ***)slot, &none, base, 0, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE)) {
		free(base); /* another run of the job was first */
		base = none;
	}
	return base;
}

/* env_base plus this run's own variables, which are the array's entries
 * from *owned on. */
static char **build_env(const struct sv_job *job, int inst, const char *notify, int *owned)
{
	char **base = env_base(job);
	size_t n = 0;
	while (base[n])
		n++;
	char **env = sv_xmalloc((n + 5) * sizeof *env, "a job's environment");
	memcpy(env, base, n * sizeof *env);
	*owned = (int)n;
	char *buf;
	if (asprintf(&buf, "GRUN_JOB=%s", job->name) >= 0)
		env[n++] = buf;
	if (asprintf(&buf, "GRUN_INSTANCE=%d", inst) >= 0)
		env[n++] = buf;
	if (notify && asprintf(&buf, "NOTIFY_SOCKET=%s", notify) >= 0)
		env[n++] = buf;
	/* watchdog = D: the job is expected to send WATCHDOG=1 this often
	 * (sd_watchdog_enabled(3); no WATCHDOG_PID: any process of the job) */
	if (notify && job->watchdog > 0 &&
	    asprintf(&buf, "WATCHDOG_USEC=%lld", (long long)(job->watchdog / 1000)) >= 0)
		env[n++] = buf;
	env[n] = NULL;
	return env;
}

static int runnable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* A run's environment owned whole (health.c's exec: checks). */
char **sv_spawn_env(const struct sv_job *job, int inst, const char *notify)
{
	int owned;
	char **env = build_env(job, inst, notify, &owned);
	for (int i = 0; i < owned; i++)
		env[i] = sv_xstrdup(env[i], "a job's environment");
	return env;
}

/* sockets = : grun's descriptors by those names, and LISTEN_FDS,
 * LISTEN_FDNAMES and a LISTEN_PID placeholder in the environment. */
static int add_sockets(const struct sv_job *job, struct sv_spawn *sp, char *err, size_t errlen)
{
	size_t n = 0;
	while (sp->envp[n])
		n++;
	size_t nameslen = 1;
	for (int i = 0; i < job->sockets.n; i++) {
		const char *name = job->sockets.v[i];
		int k = sv_sockets_find(name, sp->sock + sp->nsock, SV_SOCKETS_MAX - sp->nsock);
		if (k == 0) {
			char what[200];
			sv_sockets_describe(what, sizeof what);
			snprintf(err, errlen, "sockets = %s: no socket named %s: %s", name, name, what);
			return -1;
		}
		sp->nsock += k;
		nameslen += (size_t)k * (strlen(name) + 1);
	}
	char *names = sv_xmalloc(nameslen + sizeof "LISTEN_FDNAMES=", "a job's environment");
	char *p = names + sprintf(names, "LISTEN_FDNAMES=");
	for (int i = 0, first = 1; i < job->sockets.n; i++) {
		int fds[SV_SOCKETS_MAX];
		int k = sv_sockets_find(job->sockets.v[i], fds, SV_SOCKETS_MAX);
		for (int m = 0; m < k; m++, first = 0)
			p += sprintf(p, "%s%s", first ? "" : ":", job->sockets.v[i]);
	}
	char *buf;
	if (asprintf(&buf, "LISTEN_FDS=%d", sp->nsock) < 0)
		sv_fatal("out of memory for a job's environment");
	/* room for any pid's digits, written by the child */
	sp->listen_pid = sv_xstrdup("LISTEN_PID=0000000000000000000", "a job's environment");
	/* three more owned entries (the array is build_env's, sized exactly) */
	sp->envp = sv_xreallocarray(sp->envp, n + 4, sizeof *sp->envp, "a job's environment");
	sp->envp[n++] = names;
	sp->envp[n++] = buf;
	sp->envp[n++] = sp->listen_pid;
	sp->envp[n] = NULL;
	return 0;
}

/* Finds argv[0] as execvp would: a path as written; else where the
 * config's load found it (no system call: if it is gone, the exec fails
 * and sv_spawn_run searches again), else along PATH, checking it is an
 * executable file. */
static int find_exec(const struct sv_job *job, char **envp, bool cached, char *out, size_t len,
                     char *err, size_t errlen)
{
	const char *cmd = job->argv.v[0];
	if (job->exec_path && cached) {
		snprintf(out, len, "%s", job->exec_path);
		return 0;
	}
	if (strchr(cmd, '/')) {
		/* exec'd as written, after the chdir: its failure (missing,
		 * not executable) is the exec's, reported as such */
		snprintf(out, len, "%s", cmd);
		return 0;
	}
	const char *path = env_get(envp, "PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(out, len, "%.*s%s%s", (int)n, path, n ? "/" : "", cmd);
		if (runnable(out))
			return 0;
		path += n + (path[n] == ':');
	}
	snprintf(err, errlen, "cannot run %s: command not found", cmd);
	return -1;
}

/* One /dev/null open for reading, shared by every job's stdin (the
 * child dup2s it); opened on first use, kept for grun's life, close on
 * exec.  Any thread; -1 until then. */
static int devnull_rd = -1;

static int devnull_in(void)
{
	int fd = __atomic_load_n(&devnull_rd, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int none = -1;
	if (!__atomic_compare_exchange_n(&devnull_rd, &none, fd, 0, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE)) {
		close(fd); /* another thread was first */
		fd = none;
	}
	return fd;
}

/* *owned: whether *fd is this spawn's to close. */
static int open_in(const struct sv_iospec *io, int *fd, int *owned, char *err, size_t errlen)
{
	*owned = 0;
	if (io->kind == SV_IO_INHERIT) {
		*fd = 0;
		return 0;
	}
	const char *path = io->kind == SV_IO_FILE ? io->path : "/dev/null";
	if (io->kind == SV_IO_FILE) {
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		*owned = 1;
	} else {
		*fd = devnull_in();
	}
	if (*fd < 0) {
		snprintf(err, errlen, "stdin %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* grun's pid, for the child's check that its parent is still there;
 * grun never forks itself, so it never changes. */
static pid_t grun_pid(void)
{
	static pid_t pid; /* any thread: every writer stores the same value */
	pid_t p = __atomic_load_n(&pid, __ATOMIC_RELAXED);
	if (!p) {
		p = getpid();
		__atomic_store_n(&pid, p, __ATOMIC_RELAXED);
	}
	return p;
}

/* Makes the read end of the new pipe p non-blocking for the output pump
 * (one F_SETFL: a pipe just made has no other status flag to keep);
 * closes both ends and returns false if it cannot. */
static bool read_end_nonblock(int p[2])
{
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == 0)
		return true;
	int err = errno;
	close(p[0]);
	close(p[1]);
	errno = err;
	return false;
}

/* stream 1 or 2; *rd gets the pipe's read end (non-blocking) for "log"
 * and file: output. */
static int open_out(const struct sv_iospec *io, int stream, int *fd, int *owned, int *rd,
                    char *err, size_t errlen)
{
	int p[2];
	*owned = 1;
	switch (io->kind) {
	case SV_IO_INHERIT:
		*fd = stream;
		*owned = 0;
		return 0;
	case SV_IO_LOG:
		if (pipe2(p, O_CLOEXEC) < 0)
			break;
		if (!read_end_nonblock(p))
			break;
		*rd = p[0];
		*fd = p[1];
		return 0;
	case SV_IO_FILE:
		/* the file is grun's to write (logfile.c: reopened on SIGUSR1);
		 * opening it here says at once when it cannot be */
		*fd = open(io->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (*fd < 0) {
			snprintf(err, errlen, "%s %s: %s", stream == 1 ? "stdout" : "stderr",
			         io->path, strerror(errno));
			return -1;
		}
		close(*fd);
		if (pipe2(p, O_CLOEXEC) < 0)
			break;
		if (!read_end_nonblock(p))
			break;
		*rd = p[0];
		*fd = p[1];
		return 0;
	case SV_IO_NULL:
	default:
		*fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (*fd >= 0)
			return 0;
		break;
	}
	snprintf(err, errlen, "cannot make %s: %s", stream == 1 ? "stdout" : "stderr", strerror(errno));
	return -1;
}

int sv_spawn_prepare(const struct sv_job *job, int inst, const char *notify,
                     const int chanfd[3], struct sv_spawn *sp, char *err, size_t errlen)
{
	memset(sp, 0, sizeof *sp);
	for (int i = 0; i < 4; i++)
		sp->src[i] = -1;
	sp->out_read = sp->err_read = sp->ready_read = -1;
	sp->extra_target = -1;
	sp->argv = job->argv.v;
	sp->dir = job->dir;
	sp->umask = job->umask;
	sp->parent = grun_pid();
	sp->has_user = job->has_user;
	sp->uid = job->uid;
	sp->gid = job->gid;
	sp->envp = build_env(job, inst, notify, &sp->env_owned);
	if (job->sockets.n && add_sockets(job, sp, err, errlen) < 0)
		goto fail;
	sp->job = job;
	sp->path_cached = job->exec_path != NULL;
	if (find_exec(job, sp->envp, true, sp->path, sizeof sp->path, err, errlen) < 0)
		goto fail;
	if (job->in.kind == SV_IO_CHAN) {
		sp->src[0] = chanfd[0];
		sp->owned[0] = 0;
	} else if (open_in(&job->in, &sp->src[0], &sp->owned[0], err, errlen) < 0) {
		goto fail;
	}
	if (job->out.kind == SV_IO_CHAN) {
		sp->src[1] = chanfd[1];
		sp->owned[1] = 0;
	} else if (open_out(&job->out, 1, &sp->src[1], &sp->owned[1], &sp->out_read, err, errlen) < 0) {
		goto fail;
	}
	if (job->err.kind == SV_IO_STDOUT) {
		sp->src[2] = sp->src[1];
		sp->owned[2] = 0;
	} else if (job->err.kind == SV_IO_CHAN) {
		sp->src[2] = chanfd[2];
		sp->owned[2] = 0;
	} else if (open_out(&job->err, 2, &sp->src[2], &sp->owned[2], &sp->err_read, err, errlen) < 0) {
		goto fail;
	}
	for (int i = 0; i < 3; i++) {
		if (sp->src[i] < 0) {
			snprintf(err, errlen, "its channel has been closed");
			goto fail;
		}
	}
	if (job->ready == SV_READY_FD) {
		/* a socket, not a pipe: grun can shut it down to stop waiting */
		int p[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
			snprintf(err, errlen, "cannot make the ready socket: %s", strerror(errno));
			goto fail;
		}
		sp->ready_read = p[0];
		sp->src[3] = p[1];
		sp->owned[3] = 1;
		sp->extra_target = job->ready_fd;
	}
	return 0;
fail:
	sv_spawn_release(sp);
	return -1;
}

static void close_child_ends(struct sv_spawn *sp)
{
	for (int i = 0; i < 4; i++) {
		if (sp->src[i] >= 0 && sp->owned[i])
			close(sp->src[i]);
		sp->src[i] = -1;
	}
}

/* The exec failed because the cached path no longer names a runnable
 * file. */
static bool exec_path_gone(int code)
{
	int e = code & 0xfff;
	return code >> 12 == SV_STEP_EXEC && (e == ENOENT || e == EACCES || e == ENOTDIR || e == ENOEXEC);
}

/* The executable found at load is gone: search PATH again, as a check
 * before the spawn would have; true if found somewhere else (now in
 * sp->path).  Out of line: its buffer would otherwise push every spawn's
 * deeper frames onto one more stack page, for each job. */
static __attribute__((noinline)) bool found_elsewhere(struct sv_spawn *sp)
{
	char path[sizeof sp->path], msg[8];
	sp->path_cached = false;
	if (find_exec(sp->job, sp->envp, false, path, sizeof path, msg, sizeof msg) < 0 ||
	    strcmp(path, sp->path) == 0)
		return false;
	memcpy(sp->path, path, sizeof path);
	return true;
}

pid_t sv_spawn_run(struct sv_spawn *sp)
{
	/* the descriptors child_main uses: only these reach the child */
	int *fds[4 + SV_SOCKETS_MAX];
	int n = 0;
	for (int i = 0; i < 4; i++)
		fds[n++] = &sp->src[i];
	for (int i = 0; i < sp->nsock; i++)
		fds[n++] = &sp->sock[i];
	pid_t pid = rt_proc_start_fds(child_main, sp, fds, n);
	int err = errno;
	if (pid < 0 && sp->path_cached && exec_path_gone(err) && found_elsewhere(sp)) {
		pid = rt_proc_start_fds(child_main, sp, fds, n);
		err = errno;
	}
	close_child_ends(sp);
	errno = err;
	return pid;
}

void sv_spawn_release(struct sv_spawn *sp)
{
	close_child_ends(sp);
	int *ends[] = { &sp->out_read, &sp->err_read, &sp->ready_read };
	for (int i = 0; i < 3; i++) {
		if (*ends[i] >= 0)
			close(*ends[i]);
		*ends[i] = -1;
	}
	for (char **e = sp->envp ? sp->envp + sp->env_owned : NULL; e && *e; e++)
		free(*e);
	free(sp->envp);
	sp->envp = NULL;
}

void sv_cloexec_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}
