/*
 * health.c - see health.h.
 *
 * Owns the checkers (one per health watch or ready probe) and the health
 * watch green threads.  A checker is used by one green thread (the
 * watch, or a ready probe) and cancelled by another (the job's): the
 * socket or process of the check in progress is published under the
 * checker's mu, and cancelling shuts the socket down or KILLs the
 * process group, which wakes the checking thread at once.  A health
 * watch is shared by the job and its green thread, each holding one
 * reference, as a ready probe is (ready.c); its mu orders the
 * UNHEALTHY post against the cancel.
 *
 * Green threads: "health" (one per run of a job with health = , from
 * ready until the run stops); its checks run on it.  exec: checks are
 * made with rt_proc_start_waited() and waited by pid, so the graph's
 * reaper never sees their exits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/health.h"
#include "supervise/lock.h"
#include "supervise/spawn.h"
#include "supervise/xalloc.h"

/* How often an exec: check looks at its cancel flag while it waits. */
#define EXEC_POLL (50 * 1000000LL)
/* How long a KILLed exec: check gets to be reaped. */
#define EXEC_KILL_WAIT (5000 * 1000000LL)
/* Checks are due on a grid of interval / SLACK_DIV (at most SLACK_MAX):
 * the watches of many jobs wake together, a few dozen times a second,
 * instead of each on its own timer tick. */
#define SLACK_DIV 16
#define SLACK_MAX (50 * 1000000LL)
/* The most of an HTTP answer read to find its status line, and read
 * (and dropped) after it before closing. */
#define HTTP_HEAD_MAX 1024
#define HTTP_DRAIN_MAX (64u << 10)
/* ... for at most this long: a server that keeps the connection open
 * does not hold the check. */
#define HTTP_DRAIN_WAIT (200 * 1000000LL)

struct sv_checker {
	enum sv_check_kind kind;
	char *host, *port, *path, *cmd;
	char *request;           /* http://: the whole GET */
	char **envp;             /* exec: the job's environment */
	char *dir;
	int has_user;
	uid_t uid;
	gid_t gid;
	pid_t parent;
	int64_t timeout;
	pthread_mutex_t mu;
	atomic_int cancelled;
	int fd;                  /* under mu: the check's socket, -1 if none */
	pid_t pid;               /* under mu: the check's process, 0 if none */
	int null_fd;             /* exec: /dev/null for the child (its 0, 1, 2) */
	/* tcp:, http://: the address that last answered, tried first (no
	 * name lookup per check); forgotten when it fails */
	int have_addr;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int family, socktype, protocol;
};

static char *dup_or_null(const char *s)
{
	return s ? sv_xstrdup(s, "a check") : NULL;
}

struct sv_checker *sv_checker_new(const struct sv_check_spec *spec, const struct sv_job *job,
                                  int inst, int64_t timeout)
{
	struct sv_checker *c = sv_xcalloc(1, sizeof *c, "a check");
	c->kind = spec->kind;
	c->host = dup_or_null(spec->host);
	c->port = dup_or_null(spec->port);
	c->path = dup_or_null(spec->path);
	c->cmd = dup_or_null(spec->cmd);
	c->timeout = timeout;
	c->fd = -1;
	c->null_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	if (c->kind == SV_CHECK_HTTP) {
		int v6 = strchr(c->host, ':') != NULL;
		if (asprintf(&c->request, "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: grun\r\n"
		             "Accept: */*\r\nConnection: close\r\n\r\n", c->path, v6 ? "[" : "",
		             c->host, v6 ? "]" : "", c->port) < 0)
			sv_fatal("out of memory for a health check");
	}
	if (c->kind == SV_CHECK_EXEC) {
		c->envp = sv_spawn_env(job, inst, NULL);
		c->dir = dup_or_null(job->dir);
		c->has_user = job->has_user;
		c->uid = job->uid;
		c->gid = job->gid;
		c->parent = getpid();
	}
	return c;
}

void sv_checker_free(struct sv_checker *c)
{
	if (!c)
		return;
	free(c->host);
	free(c->port);
	free(c->path);
	free(c->cmd);
	free(c->request);
	for (char **e = c->envp; e && *e; e++)
		free(*e);
	free(c->envp);
	free(c->dir);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void sv_checker_cancel(struct sv_checker *c)
{
	sv_lock(&c->mu);
	atomic_store(&c->cancelled, 1);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (c->pid > 0)
		kill(-c->pid, SIGKILL);
	sv_unlock(&c->mu);
}

/* Publishes fd as the check's socket; 0, or -1 (fd closed) if cancelled. */
static int hold_fd(struct sv_checker *c, int fd)
{
	sv_lock(&c->mu);
	int stop = atomic_load(&c->cancelled);
	if (!stop)
		c->fd = fd;
	sv_unlock(&c->mu);
	if (stop)
		close(fd);
	return stop ? -1 : 0;
}

/* Closes the check's socket; tcp: checks with a reset, as Kubernetes'
 * probes do: no FIN exchange, no TIME_WAIT left behind by a check a
 * second per job.  (http:// reads the answer to its end first, so the
 * server closes first and sees no reset.) */
static void drop_fd(struct sv_checker *c)
{
	sv_lock(&c->mu);
	int fd = c->fd;
	c->fd = -1;
	sv_unlock(&c->mu);
	if (fd < 0)
		return;
	struct linger l = { 1, 0 };
	if (c->kind == SV_CHECK_TCP)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	rt_close(fd);
}

/* ---- tcp: and http:// ----------------------------------------------------------- */

/* One connection attempt to ai by the deadline: 1 (the socket is c->fd),
 * 0 (*err set), -1 cancelled. */
static int connect_one(struct sv_checker *c, const struct addrinfo *ai, int64_t deadline, int *err)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return 0;
	}
	if (hold_fd(c, fd) < 0)
		return -1;
	int ok = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		ok = 1;
	} else if (errno != EINPROGRESS) {
		*err = errno;
	} else if (rt_fd_wait(fd, RT_WRITE, deadline) < 0) {
		*err = ETIMEDOUT;
	} else {
		socklen_t l = sizeof *err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &l) < 0)
			*err = errno;
		ok = *err == 0;
	}
	if (!ok)
		drop_fd(c);
	if (atomic_load(&c->cancelled)) {
		drop_fd(c);
		return -1;
	}
	return ok;
}

/* Connects to host:port by the deadline: 1 (the socket is c->fd), 0 (why
 * set), -1 cancelled.  The address that answered last is tried first;
 * the name is looked up only without one, or after it failed. */
static int tcp_connect(struct sv_checker *c, int64_t deadline, char *why, size_t len)
{
	int err = 0, rc = 0;
	if (c->have_addr) {
		struct addrinfo ai = { .ai_family = c->family, .ai_socktype = c->socktype,
		                       .ai_protocol = c->protocol, .ai_addrlen = c->addrlen,
		                       .ai_addr = (struct sockaddr *)&c->addr };
		if ((rc = connect_one(c, &ai, deadline, &err)) != 0)
			return rc;
		c->have_addr = 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	rt_blocking_begin();
	int gai = getaddrinfo(c->host, c->port, &hints, &res);
	rt_blocking_end();
	if (gai != 0) {
		snprintf(why, len, "%s: %s", c->host, gai_strerror(gai));
		return 0;
	}
	for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
		rc = connect_one(c, ai, deadline, &err);
		if (rc > 0 && ai->ai_addrlen <= sizeof c->addr) {
			memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
			c->addrlen = ai->ai_addrlen;
			c->family = ai->ai_family;
			c->socktype = ai->ai_socktype;
			c->protocol = ai->ai_protocol;
			c->have_addr = 1;
		}
	}
	freeaddrinfo(res);
	if (rc == 0)
		snprintf(why, len, "cannot connect to %s:%s: %s", c->host, c->port,
		         err == ETIMEDOUT ? "timed out" : strerror(err ? err : ECONNREFUSED));
	return rc;
}

/* "HTTP/1.1 204 No Content": the status, or -1. */
static int http_status(const char *line)
{
	if (strncmp(line, "HTTP/", 5) != 0)
		return -1;
	const char *sp = strchr(line, ' ');
	if (!sp || sp[1] < '1' || sp[1] > '5' || sp[2] < '0' || sp[2] > '9' || sp[3] < '0' || sp[3] > '9' ||
	    (sp[4] != ' ' && sp[4] != '\r' && sp[4] != '\n'))
		return -1;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

static int http_get(struct sv_checker *c, int64_t deadline, char *why, size_t len)
{
	int rc = tcp_connect(c, deadline, why, len);
	if (rc <= 0)
		return rc;
	char head[HTTP_HEAD_MAX + 1];
	size_t have = 0;
	int fd = c->fd;
	if (rt_write(fd, c->request, strlen(c->request), deadline) < 0) {
		snprintf(why, len, "GET %s: %s", c->path, errno == ETIMEDOUT ? "timed out" : strerror(errno));
		rc = 0;
	}
	while (rc > 0 && have < HTTP_HEAD_MAX && !memchr(head, '\n', have)) {
		ssize_t n = rt_read(fd, head + have, HTTP_HEAD_MAX - have, deadline);
		if (n <= 0) {
			snprintf(why, len, "GET %s: %s", c->path,
			         n == 0 ? "the connection closed before an answer"
			         : errno == ETIMEDOUT ? "timed out" : strerror(errno));
			rc = 0;
			break;
		}
		have += (size_t)n;
	}
	/* the rest of the answer (Connection: close), within reason */
	char sink[4096];
	ssize_t n = 1;
	int64_t drain_by = rt_now() + HTTP_DRAIN_WAIT;
	if (drain_by > deadline)
		drain_by = deadline;
	for (size_t drained = 0; rc > 0 && n > 0 && drained < HTTP_DRAIN_MAX; drained += (size_t)n)
		n = rt_read(fd, sink, sizeof sink, drain_by);
	drop_fd(c);
	if (atomic_load(&c->cancelled))
		return -1;
	if (rc <= 0)
		return rc;
	head[have] = '\0';
	int status = http_status(head);
	if (status >= 200 && status < 400)
		return 1;
	if (status < 0) {
		snprintf(why, len, "GET %s: not an HTTP answer", c->path);
	} else {
		head[strcspn(head, "\r\n")] = '\0';
		snprintf(why, len, "GET %s: %.100s", c->path, strchr(head, ' ') + 1);
	}
	return 0;
}

static int tcp_check(struct sv_checker *c, int64_t deadline, char *why, size_t len)
{
	int rc = tcp_connect(c, deadline, why, len);
	if (rc > 0)
		drop_fd(c);
	return rc;
}

/* ---- exec: ---------------------------------------------------------------------- */

/* The check's process, between fork and exec (vfork-like, sharing grun's
 * memory): async-signal-safe calls only, as spawn.c's child. */
static int exec_child(void *arg)
{
	const struct sv_checker *c = arg;
	char *argv[] = { "sh", "-c", c->cmd, NULL };
	if (setsid() < 0)
		return errno;
	for (int i = 0; i < 3; i++)
		if (dup2(c->null_fd, i) < 0)
			return errno;
	if (c->dir && chdir(c->dir) < 0)
		return errno;
	if (c->gid != (gid_t)-1 &&
	    (syscall(SYS_setgroups, 1, &c->gid) < 0 || syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0))
		return errno;
	if (c->has_user && syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
		return errno;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return errno;
	if (getppid() != c->parent)
		_exit(128 + SIGKILL);
	execve("/bin/sh", argv, c->envp);
	return errno;
}

static int exec_check(struct sv_checker *c, int64_t deadline, char *why, size_t len)
{
	c->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (c->null_fd < 0) {
		snprintf(why, len, "/dev/null: %s", strerror(errno));
		return 0;
	}
	sv_lock(&c->mu);
	int stop = atomic_load(&c->cancelled);
	sv_unlock(&c->mu);
	pid_t pid = stop ? -1 : rt_proc_start_waited(exec_child, c);
	int err = errno;
	close(c->null_fd);
	c->null_fd = -1;
	if (stop)
		return -1;
	if (pid < 0) {
		snprintf(why, len, "cannot run %s: %s", c->cmd, strerror(err));
		return 0;
	}
	sv_lock(&c->mu);
	c->pid = pid;
	if (atomic_load(&c->cancelled))
		kill(-pid, SIGKILL); /* cancelled during the spawn */
	sv_unlock(&c->mu);
	int status = 0, killed = 0;
	int64_t give_up = RT_NEVER;
	for (;;) {
		int64_t now = rt_now(), until = now + EXEC_POLL;
		if (rt_proc_wait(pid, &status, until < deadline ? until : deadline) == 0)
			break;
		if (errno != ETIMEDOUT) {
			status = -1;
			break;
		}
		if (!killed && (rt_now() >= deadline || atomic_load(&c->cancelled))) {
			kill(-pid, SIGKILL);
			killed = 1;
			give_up = rt_now() + EXEC_KILL_WAIT;
			deadline = RT_NEVER;
		}
		if (rt_now() >= give_up) {
			status = -1; /* left to the runtime; never reported */
			break;
		}
	}
	sv_lock(&c->mu);
	c->pid = 0;
	sv_unlock(&c->mu);
	if (atomic_load(&c->cancelled))
		return -1;
	if (killed) {
		char dur[32];
		snprintf(why, len, "%s: no answer in %s (health_timeout)", c->cmd,
		         sv_duration_str(c->timeout, dur, sizeof dur));
		return 0;
	}
	if (status == 0)
		return 1;
	if (status < 0)
		snprintf(why, len, "%s: lost its exit status", c->cmd);
	else if (WIFEXITED(status))
		snprintf(why, len, "%s: exited with status %d", c->cmd, WEXITSTATUS(status));
	else
		snprintf(why, len, "%s: killed by signal %s", c->cmd, sv_signal_name(WTERMSIG(status)));
	return 0;
}

int sv_checker_run(struct sv_checker *c, char *why, size_t len)
{
	if (atomic_load(&c->cancelled))
		return -1;
	int64_t deadline = rt_now() + c->timeout;
	switch (c->kind) {
	case SV_CHECK_TCP: return tcp_check(c, deadline, why, len);
	case SV_CHECK_HTTP: return http_get(c, deadline, why, len);
	case SV_CHECK_EXEC: return exec_check(c, deadline, why, len);
	default: return 1;
	}
}

/* ---- the health watch ------------------------------------------------------------ */

struct sv_health {
	atomic_int refs;
	atomic_int cancelled;
	pthread_mutex_t mu;     /* orders the post against the cancel */
	struct sv_node *node;   /* read only until cancelled */
	struct sv_graph *g;
	uint64_t gen;
	struct sv_checker *chk;
	struct rt_chan *stop;   /* closed by the cancel: wakes the wait between checks */
	int64_t interval;
	int failures;
	char name[SV_NAME_MAX + 16];
};

static void health_unref(struct sv_health *h)
{
	if (atomic_fetch_sub(&h->refs, 1) != 1)
		return;
	rt_wg_done(&h->g->helpers);
	sv_checker_free(h->chk);
	rt_chan_free(h->stop);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* When the check after one started at `from` is due: interval later,
 * rounded up to the grid. */
static int64_t due(const struct sv_health *h, int64_t from)
{
	int64_t slack = h->interval / SLACK_DIV;
	if (slack > SLACK_MAX)
		slack = SLACK_MAX;
	int64_t t = from + h->interval;
	return slack > 0 ? (t + slack - 1) / slack * slack : t;
}

static void health_main(void *arg)
{
	struct sv_health *h = arg;
	char why[200];
	int failed = 0;
	int64_t next = due(h, rt_now());
	for (;;) {
		struct rt_case c = { h->stop, RT_RECV, NULL, 0 };
		if (rt_select(&c, 1, next) == 0 || atomic_load(&h->cancelled))
			break;
		next = due(h, rt_now());
		why[0] = '\0';
		int rc = sv_checker_run(h->chk, why, sizeof why);
		if (rc < 0 || atomic_load(&h->cancelled))
			break;
		if (rc > 0) {
			if (failed)
				sv_info("%s: health check passed again after %d failure%s", h->name, failed,
				        failed == 1 ? "" : "s");
			failed = 0;
			continue;
		}
		failed++;
		sv_info("%s: health check failed (%d of %d): %s", h->name, failed, h->failures, why);
		if (failed < h->failures)
			continue;
		sv_lock(&h->mu);
		if (!atomic_load(&h->cancelled)) {
			struct sv_msg m = { .type = MSG_PROC_UNHEALTHY, .gen = h->gen };
			snprintf(m.text, sizeof m.text, "%d health check%s failed in a row, the last: %s", failed,
			         failed == 1 ? "" : "s", why);
			sv_mbox_post(&h->node->mbox, &m);
		}
		sv_unlock(&h->mu);
		break;
	}
	health_unref(h);
}

struct sv_health *sv_health_start(struct sv_node *n, uint64_t gen)
{
	const struct sv_job *j = n->job;
	struct sv_health *h = sv_xcalloc(1, sizeof *h, "a health check");
	atomic_init(&h->refs, 2);
	pthread_mutex_init(&h->mu, NULL);
	h->node = n;
	h->g = n->g;
	h->gen = gen;
	h->interval = j->health_interval;
	h->failures = j->health_failures;
	snprintf(h->name, sizeof h->name, "%s", n->name);
	h->chk = sv_checker_new(&j->health, j, n->inst, j->health_timeout);
	if (!(h->stop = rt_chan_make(0, 0))) {
		sv_checker_free(h->chk);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return NULL;
	}
	rt_wg_add(&n->g->helpers, 1);
	if (rt_go_named("health", health_main, h) < 0) {
		atomic_store(&h->refs, 1);
		health_unref(h);
		return NULL;
	}
	return h;
}

void sv_health_cancel(struct sv_health *h)
{
	if (!h)
		return;
	sv_lock(&h->mu);
	atomic_store(&h->cancelled, 1);
	sv_unlock(&h->mu);
	rt_chan_close(h->stop);
	sv_checker_cancel(h->chk);
	health_unref(h);
}
