/*
 * logfile.c - the sinks that are files: a job's stdout/stderr = file:PATH
 * (the bytes as the job wrote them, appended; reopened on SIGUSR1 so
 * logrotate can move the file away), and its log = DIR directory, in the
 * way of s6-log and svlogd: lines are appended to DIR/current, which is
 * renamed to DIR/@TAI64N.s when the next lines would make it larger than
 * log_max_size, keeping the newest log_keep of those (grun.ini(5) log).
 *
 * Owns the registry of file sinks (one per path and kind, shared by
 * every job and instance that names it, kept until the end), under
 * `reg_mu`, taken by pumps (sv_sink_find) and the main green thread
 * (SIGUSR1, the end).  Each sink's file is touched only by its writer
 * green thread (output.c: writer_main), which calls the functions
 * below; a write never splits a line between two files, and a write
 * that fails leaves no partial line in current.  A file that cannot be
 * opened or written costs the lines (counted, reported at most every
 * SINK_REPORT_EVERY with the count so far), never supervision: the writer
 * drops and keeps draining its queue, and tries to open the file again
 * at most every OPEN_RETRY.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervise/lock.h"
#include "supervise/output.h"
#include "supervise/output_internal.h"
#include "supervise/timestamp.h"
#include "supervise/xalloc.h"

/* A file that could not be opened is tried again after this long. */
#define OPEN_RETRY (1000 * 1000000LL)
/* Modes of what grun creates (less its umask). */
#define FILE_MODE 0644
#define DIR_MODE 0755

int sv_sink_lost_any;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sv_sink *reg;

struct sv_sink *sv_sink_find(enum sink_kind kind, const char *path, const struct sv_job *j)
{
	/* made under the lock (allocating and starting a green thread never
	 * park), so two pumps never make two sinks of one path */
	sv_lock(&reg_mu);
	struct sv_sink *s;
	for (s = reg; s; s = s->next)
		if (s->kind == kind && strcmp(s->path, path) == 0)
			break;
	int failed = 0;
	if (!s) {
		s = sv_xcalloc(1, sizeof *s, "a log file");
		s->kind = kind;
		s->fd = -1;
		s->path = sv_xstrdup(path, "a log file");
		snprintf(s->label, sizeof s->label, "%s %s", kind == SINK_DIR ? "log" : "file", path);
		s->max_size = j->log_max_size;
		s->keep = j->log_keep;
		if (sv_sink_start(s, kind == SINK_DIR ? "writer log" : "writer file") < 0)
			failed = 1; /* its channels are left: rare, and at most once per path */
		else
			s->next = reg, reg = s;
	}
	sv_unlock(&reg_mu);
	if (failed) {
		sv_err("%s: cannot start its writer: %s", s->label, rt_limit_message());
		return NULL;
	}
	return s;
}

struct sv_sink **sv_sinks_list(size_t *n)
{
	sv_lock(&reg_mu);
	size_t k = 0;
	for (struct sv_sink *s = reg; s; s = s->next)
		k++;
	struct sv_sink **v = malloc((k + 1) * sizeof *v);
	k = 0;
	for (struct sv_sink *s = reg; v && s; s = s->next)
		v[k++] = s;
	sv_unlock(&reg_mu);
	*n = v ? k : 0;
	return v;
}

void sv_sinks_free(void)
{
	sv_lock(&reg_mu);
	struct sv_sink *s = reg;
	reg = NULL;
	sv_unlock(&reg_mu);
	while (s) {
		struct sv_sink *next = s->next;
		if (s->fd >= 0)
			close(s->fd);
		free(s->path);
		free(s);
		s = next;
	}
}

/* Counts the lines of p..p+n as lost and says so (rate-limited). */
static void lose(struct sv_sink *s, const char *p, size_t n, const char *what, int err)
{
	uint64_t lines = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		lines++;
	int expected = 0;
	__atomic_compare_exchange_n(&s->error, &expected, err, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->lost, n, __ATOMIC_RELAXED);
	uint64_t total = __atomic_add_fetch(&s->lost_lines, lines, __ATOMIC_RELAXED);
	__atomic_store_n(&sv_sink_lost_any, 1, __ATOMIC_RELAXED);
	int64_t now = rt_now();
	if (s->last_report && now - s->last_report < SINK_REPORT_EVERY)
		return;
	s->last_report = now;
	sv_err("%s: %s: %s; %llu line%s lost so far", s->label, what, strerror(err),
	       (unsigned long long)total, total == 1 ? "" : "s");
}

/* Opens the file (and, for a directory, makes it): 0, or -1 with errno. */
static int sink_open(struct sv_sink *s)
{
	if (s->kind == SINK_FILE) {
		s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, FILE_MODE);
		return s->fd < 0 ? -1 : 0;
	}
	if (mkdir(s->path, DIR_MODE) < 0 && errno != EEXIST)
		return -1;
	char cur[4200];
	snprintf(cur, sizeof cur, "%s/current", s->path);
	s->fd = open(cur, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, FILE_MODE);
	if (s->fd < 0)
		return -1;
	struct stat st;
	s->size = fstat(s->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the oldest @*.s files of the directory beyond keep (their names
 * are TAI64N stamps: name order is time order). */
static void prune(struct sv_sink *s)
{
	DIR *d = opendir(s->path);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] != '@' || l < 3 || strcmp(e->d_name + l - 2, ".s") != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			names = sv_xreallocarray(names, cap, sizeof *names, "a log directory's files");
		}
		names[n++] = sv_xstrdup(e->d_name, "a log file name");
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		if (i + (size_t)s->keep < n) {
			char path[4200];
			snprintf(path, sizeof path, "%s/%s", s->path, names[i]);
			unlink(path);
		}
		free(names[i]);
	}
	free(names);
}

/* current becomes @TAI64N.s and a new current is opened: 0, or -1 with
 * errno (the old current then stays open and grows). */
static int rotate(struct sv_sink *s)
{
	char cur[4200], old[4200], stamp[SV_TS_MAX];
	size_t l = sv_ts_format(SV_TS_TAI64N, sv_ts_now(), stamp);
	stamp[l - 1] = 0; /* its blank */
	snprintf(cur, sizeof cur, "%s/current", s->path);
	snprintf(old, sizeof old, "%s/%s.s", s->path, stamp);
	rt_blocking_begin();
	int rc = rename(cur, old);
	int fd = rc == 0 ? open(cur, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, FILE_MODE) : -1;
	int err = errno;
	if (rc == 0 && fd < 0)
		(void)!rename(old, cur); /* current stays current, and grows */
	rt_blocking_end();
	if (fd < 0) {
		errno = err;
		return -1;
	}
	close(s->fd);
	s->fd = fd;
	s->size = 0;
	rt_blocking_begin();
	prune(s);
	rt_blocking_end();
	return 0;
}

/* Writes n bytes; -1 with errno after a failure, having cut the file
 * back to its size before (a directory's current) so no partial line is
 * left. */
static int write_all(struct sv_sink *s, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		rt_blocking_begin();
		ssize_t w = write(s->fd, p + done, n - done);
		int err = errno;
		rt_blocking_end();
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && err == EINTR)
			continue;
		if (done && s->kind == SINK_DIR)
			(void)!ftruncate(s->fd, s->size);
		errno = w < 0 ? err : ENOSPC;
		return -1;
	}
	__atomic_fetch_add(&s->written, (uint64_t)n, __ATOMIC_RELAXED);
	s->size += (int64_t)n;
	return 0;
}

/* How much of p..p+n (whole lines) fits in current: the longest run of
 * whole lines within room bytes, or, when current is empty, at least the
 * first line (a line longer than log_max_size gets a file to itself). */
static size_t fitting(const char *p, size_t n, int64_t room, int empty)
{
	if ((int64_t)n <= room)
		return n;
	size_t k = 0;
	for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))); q++) {
		size_t upto = (size_t)(q - p) + 1;
		if ((int64_t)upto > room)
			break;
		k = upto;
	}
	if (k == 0 && empty) {
		const char *q = memchr(p, '\n', n);
		k = q ? (size_t)(q - p) + 1 : n;
	}
	return k;
}

void sv_sink_file_write(struct sv_sink *s, const char *p, size_t n)
{
	if (s->fd < 0) {
		int64_t now = rt_now();
		if (s->retry_at && now < s->retry_at) {
			lose(s, p, n, "cannot open", __atomic_load_n(&s->error, __ATOMIC_RELAXED) ?: EIO);
			return;
		}
		rt_blocking_begin();
		int rc = sink_open(s);
		int err = errno;
		rt_blocking_end();
		if (rc < 0) {
			s->retry_at = now + OPEN_RETRY;
			lose(s, p, n, "cannot open", err);
			return;
		}
		s->retry_at = 0;
	}
	if (s->kind == SINK_FILE) {
		if (write_all(s, p, n) < 0)
			lose(s, p, n, "cannot write", errno);
		return;
	}
	while (n > 0) {
		size_t k = fitting(p, n, s->max_size - s->size, s->size == 0);
		if (k == 0) {
			if (rotate(s) < 0) {
				/* cannot rotate: current grows rather than lose lines */
				lose(s, "", 0, "cannot rotate", errno);
				k = n;
			} else {
				continue;
			}
		}
		if (write_all(s, p, k) < 0) {
			lose(s, p, n, "cannot write", errno);
			return;
		}
		p += k, n -= k;
	}
}

void sv_sink_file_reopen(struct sv_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->retry_at = 0;
}
