/*
 * ready.c - see ready.h.
 *
 * A probe is shared by the job and the probe's green thread, each holding
 * one reference; the last to let go closes the descriptor and frees it.
 * Cancelling sets `cancelled` and shuts the socket down, which wakes a
 * probe parked in rt_fd_wait(); tcp: and file: probes poll every 100 ms
 * and look at `cancelled` each time; http:// and exec: probes poll with
 * health.c's checkers, which the cancel cuts short.  A log: probe is a
 * follower of the job's joblog (joblog.h), attached before the process
 * is made so no line is missed, woken by its eventfd for each line and
 * by the cancel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/health.h"
#include "supervise/joblog.h"
#include "supervise/lock.h"
#include "supervise/ready.h"
#include "supervise/xalloc.h"

#define POLL_EVERY (100 * 1000000LL)
/* What a log: probe buffers of the job's lines it has not matched yet. */
#define LOG_FOLLOW_BYTES (64u << 10)

struct sv_probe {
	atomic_int refs;
	atomic_int cancelled;
	int seen;              /* the condition was met (under mu) */
	int fd;
	struct sv_node *node;  /* read only until cancelled: a retired node is freed */
	struct sv_graph *g;
	char name[SV_NAME_MAX + 16];
	uint64_t gen;
	pthread_mutex_t mu;    /* orders post against cancel */
	/* copies of the job's settings: the probe may outlive the run for a
	 * moment, and a reload may free the config of a retired job */
	enum sv_ready kind;
	uid_t uid;             /* the job's user, or grun's */
	char *host, *port, *path;
	struct sv_checker *chk;      /* http://, exec: */
	regex_t re;                  /* log: */
	struct sv_follower *follow;  /* log: the job's lines, woken through fd (an eventfd) */
};

/* Frees the probe's own memory; its fd and follower are the caller's. */
static void probe_free(struct sv_probe *p)
{
	sv_checker_free(p->chk);
	pthread_mutex_destroy(&p->mu);
	free(p->host);
	free(p->port);
	free(p->path);
	free(p);
}

static void probe_unref(struct sv_probe *p)
{
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	rt_wg_done(&p->g->helpers);
	if (p->follow) {
		sv_follower_free(p->follow);
		regfree(&p->re);
	}
	if (p->fd >= 0)
		rt_close(p->fd);
	probe_free(p);
}

/* Under p->mu. */
static void post_ready_locked(struct sv_probe *p)
{
	p->seen = 1;
	if (!atomic_load(&p->cancelled)) {
		struct sv_msg m = { .type = MSG_PROC_READY, .gen = p->gen };
		sv_mbox_post(&p->node->mbox, &m);
	}
}

static void post_ready(struct sv_probe *p)
{
	sv_lock(&p->mu);
	post_ready_locked(p);
	sv_unlock(&p->mu);
}

/* An fd:N socket: a newline means ready (under p->mu). */
static int fd_poll_locked(struct sv_probe *p)
{
	char buf[512];
	for (;;) {
		ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n > 0 && memchr(buf, '\n', (size_t)n))
			return post_ready_locked(p), 1;
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
}

static void probe_wait_fd(struct sv_probe *p, int (*poll_locked)(struct sv_probe *))
{
	while (!atomic_load(&p->cancelled)) {
		sv_lock(&p->mu);
		int rc = atomic_load(&p->cancelled) ? -1 : poll_locked(p);
		sv_unlock(&p->mu);
		if (rc != 0)
			return;
		rt_fd_wait(p->fd, RT_READ, RT_NEVER);
	}
}

static void probe_fd(struct sv_probe *p)
{
	probe_wait_fd(p, fd_poll_locked);
}

static int tcp_try(struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return 0;
	int ok = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS && rt_fd_wait(fd, RT_WRITE, rt_now() + 250000000LL) > 0) {
		int err = 0;
		socklen_t l = sizeof err;
		ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0;
	}
	rt_close(fd);
	return ok;
}

static void probe_tcp(struct sv_probe *p)
{
	while (!atomic_load(&p->cancelled)) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
		rt_blocking_begin();
		int rc = getaddrinfo(p->host, p->port, &hints, &res);
		rt_blocking_end();
		int ok = 0;
		for (struct addrinfo *ai = rc == 0 ? res : NULL; ai && !ok; ai = ai->ai_next)
			ok = tcp_try(ai);
		if (res)
			freeaddrinfo(res);
		if (ok) {
			post_ready(p);
			return;
		}
		rt_sleep(POLL_EVERY);
	}
}

static void probe_file(struct sv_probe *p)
{
	struct stat st;
	const char *path = p->path;
	while (!atomic_load(&p->cancelled)) {
		if (stat(path, &st) == 0) {
			post_ready(p);
			return;
		}
		rt_sleep(POLL_EVERY);
	}
}

/* http:// and exec: every POLL_EVERY until one check passes. */
static void probe_check(struct sv_probe *p)
{
	char why[200];
	while (!atomic_load(&p->cancelled)) {
		int rc = sv_checker_run(p->chk, why, sizeof why);
		if (rc > 0)
			post_ready(p);
		if (rc != 0)
			return;
		rt_sleep(POLL_EVERY);
	}
}

struct log_match {
	struct sv_probe *p;
	int matched;
};

static void log_line(const struct sv_logline *l, void *arg)
{
	struct log_match *m = arg;
	char line[4096];
	if (m->matched)
		return;
	snprintf(line, sizeof line, "%.*s", (int)(l->len < sizeof line ? l->len : sizeof line - 1), l->text);
	m->matched = regexec(&m->p->re, line, 0, NULL, 0) == 0;
}

/* log: each line the job's pump logs, until one matches. */
static void probe_log(struct sv_probe *p)
{
	struct log_match m = { p, 0 };
	uint64_t skipped;
	while (!atomic_load(&p->cancelled)) {
		uint64_t v;
		if (read(p->fd, &v, sizeof v) < 0 && errno != EAGAIN)
			return;
		sv_follower_take(p->follow, log_line, &m, &skipped);
		if (m.matched) {
			post_ready(p);
			return;
		}
		rt_fd_wait(p->fd, RT_READ, RT_NEVER);
	}
}

static void probe_main(void *arg)
{
	struct sv_probe *p = arg;
	switch (p->kind) {
	case SV_READY_FD: probe_fd(p); break;
	case SV_READY_TCP: probe_tcp(p); break;
	case SV_READY_FILE: probe_file(p); break;
	case SV_READY_HTTP:
	case SV_READY_EXEC: probe_check(p); break;
	case SV_READY_LOG: probe_log(p); break;
	default: break;
	}
	probe_unref(p);
}

struct sv_probe *sv_probe_start(struct sv_node *n, uint64_t gen, int fd)
{
	struct sv_probe *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	atomic_init(&p->refs, 2);
	p->fd = fd;
	p->node = n;
	p->gen = gen;
	p->kind = n->job->ready;
	p->g = n->g;
	snprintf(p->name, sizeof p->name, "%s", n->name);
	p->uid = n->job->has_user ? n->job->uid : getuid();
	p->host = n->job->ready_host ? sv_xstrdup(n->job->ready_host, "a probe") : NULL;
	p->port = n->job->ready_port ? sv_xstrdup(n->job->ready_port, "a probe") : NULL;
	p->path = n->job->ready_path ? sv_xstrdup(n->job->ready_path, "a probe") : NULL;
	pthread_mutex_init(&p->mu, NULL);
	if (p->kind == SV_READY_HTTP || p->kind == SV_READY_EXEC) {
		const struct sv_job *j = n->job;
		struct sv_check_spec spec = { p->kind == SV_READY_HTTP ? SV_CHECK_HTTP : SV_CHECK_EXEC,
		                              j->ready_host, j->ready_port, j->ready_path, j->ready_cmd };
		p->chk = sv_checker_new(&spec, j, n->inst, j->health_timeout);
	}
	if (p->kind == SV_READY_LOG) {
		/* checked at load; the eventfd wakes the probe for each line */
		if (fd >= 0 || regcomp(&p->re, n->job->ready_regex, REG_EXTENDED | REG_NOSUB) != 0) {
			probe_free(p);
			return NULL;
		}
		fd = p->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0 || !(p->follow = sv_follower_new(LOG_FOLLOW_BYTES, fd))) {
			if (fd >= 0)
				close(fd);
			regfree(&p->re);
			probe_free(p);
			return NULL;
		}
		sv_follower_attach(p->follow, n->log, 0);
	}
	if (fd >= 0)
		rt_fd_nonblock(fd);
	rt_wg_add(&n->g->helpers, 1);
	if (rt_go_named("ready probe", probe_main, p) < 0) {
		rt_wg_done(&n->g->helpers);
		if (p->follow) {
			sv_follower_free(p->follow);
			regfree(&p->re);
		} else {
			p->fd = -1;
		}
		if (p->fd >= 0)
			close(p->fd);
		probe_free(p);
		return NULL;
	}
	return p;
}

int sv_probe_cancel(struct sv_probe *p)
{
	if (!p)
		return 0;
	sv_lock(&p->mu);
	atomic_store(&p->cancelled, 1);
	/* a READY=1 or newline sent just before the job exited may still be
	 * waiting in the socket */
	if (!p->seen && p->fd >= 0 && p->kind == SV_READY_FD)
		fd_poll_locked(p);
	int seen = p->seen;
	sv_unlock(&p->mu);
	if (p->kind == SV_READY_LOG) {
		uint64_t one = 1;
		if (write(p->fd, &one, sizeof one) < 0) /* wakes the probe */
			sv_debug("%s: cannot wake the log probe: %s", p->name, strerror(errno));
	} else if (p->fd >= 0) {
		shutdown(p->fd, SHUT_RDWR);
	}
	if (p->chk)
		sv_checker_cancel(p->chk);
	probe_unref(p);
	return seen;
}
