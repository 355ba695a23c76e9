/*
 * orphans.c - see orphans.h.  Owns no state.
 *
 * Only grun's own children can be re-parented to it, so when it has none
 * at all (waitid answers ECHILD, and WNOWAIT reaps nothing) there is
 * nothing to look for: the usual exit costs one system call, however many
 * processes the machine runs.  Otherwise they are found in
 * /proc/PID/stat (the parent field; /proc/PID/task/TID/children needs a
 * kernel built with CONFIG_PROC_CHILDREN, which not every one is).  There
 * is no event for "a reparented process has exited" short of reaping it,
 * which the runtime's child watcher does, so the sweep checks every
 * SWEEP_POLL.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/orphans.h"
#include "supervise/output.h"

#define SETTLE_TIME (100 * 1000000LL)   /* for members of a group just sent KILL */
#define SETTLE_POLL (5 * 1000000LL)
#define SWEEP_POLL (10 * 1000000LL)
#define KILL_ROUNDS 100

/* Is pid a live (not zombie) child of parent? */
static int is_child_of(int pid, pid_t parent)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* pid (comm) state ppid ...: comm may hold spaces and parens */
	char *rp = strrchr(buf, ')');
	char state;
	int ppid;
	return rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent && state != 'Z';
}

/* Has grun any child process, live or not yet reaped? */
static int has_children(void)
{
	siginfo_t si;
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 || errno != ECHILD;
}

int sv_orphans_signal(int sig)
{
	if (!has_children())
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t self = getpid();
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		if (pid <= 0 || !is_child_of(pid, self))
			continue;
		count++;
		kill(pid, sig);
		if (sig != SIGKILL && sig != 0)
			kill(pid, SIGCONT);
	}
	closedir(d);
	return count;
}

void sv_orphans_sweep(int64_t grace)
{
	int64_t settle = rt_now() + SETTLE_TIME;
	while (sv_orphans_signal(0) > 0 && rt_now() < settle)
		rt_sleep(SETTLE_POLL);
	int n = sv_orphans_signal(SIGTERM);
	if (n == 0)
		return;
	sv_info("stopping %d leftover process%s of daemonizing jobs", n, n == 1 ? "" : "es");
	int64_t until = rt_now() + grace;
	while (rt_now() < until) {
		rt_sleep(SWEEP_POLL);
		if (sv_orphans_signal(0) == 0)
			return;
	}
	/* KILL until none is left: killing one may reparent its children to us */
	for (int round = 0; round < KILL_ROUNDS && sv_orphans_signal(SIGKILL) > 0; round++)
		rt_sleep(SWEEP_POLL);
}
