/*
 * cpus.c - the default number of Ps: the CPU quota of the process's
 * cgroup (v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), the
 * smallest along the path to the root, rounded up, at least 1, and never
 * more than the online CPUs.  0 when there is no quota.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

static double read_v2(const char *dir)
{
	char path[PATH_MAX + 32], q[32];
	long long period;
	snprintf(path, sizeof path, "%s/cpu.max", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int n = fscanf(f, "%31s %lld", q, &period);
	fclose(f);
	if (n != 2 || strcmp(q, "max") == 0 || period <= 0)
		return 0;
	return (double)atoll(q) / (double)period;
}

static double read_v1(const char *dir)
{
	char path[PATH_MAX + 32];
	long long quota = -1, period = 0;
	snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lld", &quota) != 1)
		quota = -1;
	fclose(f);
	snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lld", &period) != 1)
		period = 0;
	fclose(f);
	return quota > 0 && period > 0 ? (double)quota / (double)period : 0;
}

/* Smallest quota from dir up to root (inclusive). */
static double walk_up(const char *root, const char *rel, double (*rd)(const char *))
{
	char dir[PATH_MAX];
	double best = 0;
	snprintf(dir, sizeof dir, "%s%s", root, rel);
	size_t rootlen = strlen(root);
	for (;;) {
		double q = rd(dir);
		if (q > 0 && (best == 0 || q < best))
			best = q;
		char *slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < rootlen)
			break;
		*slash = 0;
	}
	return best;
}

int rt_cpus_quota_from(const char *root, const char *self_cgroup)
{
	FILE *f = fopen(self_cgroup, "r");
	if (!f)
		return 0;
	char line[PATH_MAX + 64];
	double best = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		const char *ctrl = c1 + 1, *rel = c2 + 1;
		char sub[PATH_MAX];
		double q = 0;
		if (strncmp(line, "0:", 2) == 0 && c2 == c1 + 1) {
			q = walk_up(root, strcmp(rel, "/") ? rel : "", read_v2);
		} else if (strstr(ctrl, "cpu") && !strstr(ctrl, "cpuset")) {
			*c2 = 0;
			snprintf(sub, sizeof sub, "%s/%s", root, ctrl);
			q = walk_up(sub, strcmp(rel, "/") ? rel : "", read_v1);
			if (q == 0) {
				snprintf(sub, sizeof sub, "%s/cpu", root);
				q = walk_up(sub, strcmp(rel, "/") ? rel : "", read_v1);
			}
		}
		if (q > 0 && (best == 0 || q < best))
			best = q;
	}
	fclose(f);
	if (best <= 0)
		return 0;
	int n = (int)best;
	if ((double)n < best)
		n++;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online > 0 && n > online)
		n = (int)online;
	return n < 1 ? 1 : n;
}

int rt_cpus_quota(void)
{
	return rt_cpus_quota_from("/sys/fs/cgroup", "/proc/self/cgroup");
}
