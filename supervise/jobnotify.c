/*
 * jobnotify.c - see jobnotify.h.
 *
 * A listener is shared by the job's green thread and its own, each
 * holding a reference; the last to let go closes the socket and frees
 * it.  Datagrams are read and acted on under `mu`, and cancel takes `mu`
 * too, so nothing is posted to the job, and its node is not touched,
 * once cancel has returned (a retired node is freed soon after).
 * Lock order: mu -> mailbox, mu -> board.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/jobnotify.h"
#include "supervise/lock.h"
#include "supervise/xalloc.h"

struct sv_jobnotify {
	atomic_int refs;
	atomic_int cancelled;
	pthread_mutex_t mu;
	int fd;
	struct sv_node *node;   /* under mu, until cancelled */
	struct sv_graph *g;
	uint64_t gen;
	pid_t group;            /* the run's process group: who may send */
	pid_t main;             /* MAINPID= once followed: its group may send too (under mu) */
	uid_t uid;              /* the job's user */
	int ready;              /* READY=1 heard (under mu) */
	int reloading;          /* the note is RELOADING=1's, until READY=1 (under mu) */
	char name[SV_NAME_MAX + 16];
	/* what to log once the lock is dropped (under mu) */
	pid_t refused;
};

int sv_jobnotify_open(struct sv_node *n, char *addr, size_t len)
{
	static atomic_uint seq;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n1 = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "grun/%d/%s/%u", (int)getpid(), n->name,
	                  atomic_fetch_add(&seq, 1));
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n1);
	/* every datagram carries its sender's credentials (SCM_CREDENTIALS):
	 * anyone on the machine can reach an abstract socket */
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, salen) < 0) {
		close(fd);
		return -1;
	}
	snprintf(addr, len, "@%s", sa.sun_path + 1);
	return fd;
}

/* As systemd's NotifyAccess=all, narrowed to the job: the sender must be
 * the job's process or in its process group.  A sender already gone when
 * its datagram is read (a short-lived systemd-notify) can no longer be
 * placed: it is accepted if it ran as the job's user (or root), who could
 * act on the job anyway. */
/* The parent of pid (from /proc), or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* after the command name, which may hold anything */
	int ppid;
	return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? (pid_t)ppid : -1;
}

/* Is pid a descendant of the job's first process (a daemon's child that
 * left its process group with setsid)? */
static int descends_from(pid_t pid, pid_t ancestor)
{
	for (int depth = 0; pid > 1 && depth < 16; depth++) {
		pid = parent_of(pid);
		if (pid == ancestor)
			return 1;
	}
	return 0;
}

static int sender_is_job(const struct sv_jobnotify *jn, const struct ucred *who)
{
	if (who->pid <= 0 || jn->group <= 0)
		return 0;
	if (who->pid == jn->group || (jn->main > 0 && who->pid == jn->main))
		return 1;
	pid_t pg = getpgid(who->pid);
	if (pg >= 0 && (pg == jn->group || (jn->main > 0 && pg == jn->main)))
		return 1;
	/* a daemon's child that left the group with setsid: below the job's
	 * first process, or re-parented to grun (as the uid rule below) */
	if (pg >= 0)
		return descends_from(who->pid, jn->group) || (jn->main > 0 && descends_from(who->pid, jn->main)) ||
		       (parent_of(who->pid) == getpid() && (who->uid == jn->uid || who->uid == 0));
	if (errno != ESRCH)
		return 0;
	return who->uid == jn->uid || who->uid == 0;
}

/* Receives one datagram with its sender's credentials (pid 0 if none
 * came).  Descriptors that came with it are closed: BARRIER=1's, whose
 * closing is the answer its sender waits for, and any other. */
static ssize_t recv_cred(int fd, char *buf, size_t len, struct ucred *sender)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
	                     .msg_controllen = sizeof ctl };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	memset(sender, 0, sizeof *sender);
	for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(sender, CMSG_DATA(c), sizeof *sender);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < nfd; i++) {
				int x;
				memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof x);
				close(x);
			}
		}
	}
	return n;
}

static void post(struct sv_jobnotify *jn, enum sv_msg_type t, int a)
{
	struct sv_msg m = { .type = t, .gen = jn->gen, .a = a };
	sv_mbox_post(&jn->node->mbox, &m);
}

/* "KEY=" at the start of line l (of length n)?  Returns the value. */
static const char *value_of(const char *l, size_t n, const char *key, size_t *vlen)
{
	size_t k = strlen(key);
	if (n < k || memcmp(l, key, k) != 0)
		return NULL;
	*vlen = n - k;
	return l + k;
}

static void set_text(struct sv_node *n, int status, const char *v, size_t len)
{
	struct sv_status *st = sv_status_lock(n);
	char *dst = status ? st->notify_status : st->note;
	size_t cap = status ? sizeof st->notify_status : sizeof st->note;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	sv_status_unlock(n, 1);
}

/* Acts on one line of a datagram (under mu, not cancelled). */
static void message(struct sv_jobnotify *jn, const char *l, size_t n)
{
	size_t vl;
	const char *v;
	char num[32];
	if (n == 7 && memcmp(l, "READY=1", 7) == 0) {
		/* here, in the order the job sent them: the job G would clear a
		 * RELOADING=1 that came after its READY=1 */
		if (jn->reloading)
			set_text(jn->node, 0, "", 0);
		jn->reloading = 0;
		if (!jn->ready)
			post(jn, MSG_PROC_READY, 0);
		jn->ready = 1;
	} else if ((v = value_of(l, n, "STATUS=", &vl))) {
		set_text(jn->node, 1, v, vl);
	} else if ((v = value_of(l, n, "WATCHDOG=", &vl))) {
		if (vl == 1 && v[0] == '1')
			post(jn, MSG_PROC_WATCHDOG, 0);
		else if (vl == 7 && memcmp(v, "trigger", 7) == 0)
			post(jn, MSG_PROC_WATCHDOG, 1);
	} else if ((v = value_of(l, n, "EXTEND_TIMEOUT_USEC=", &vl)) && vl < sizeof num) {
		memcpy(num, v, vl);
		num[vl] = '\0';
		long long usec = strtoll(num, NULL, 10);
		if (usec > 0)
			post(jn, MSG_PROC_EXTEND, usec / 1000 > 0x7fffffff ? 0x7fffffff : (int)(usec / 1000));
	} else if (n == 11 && memcmp(l, "RELOADING=1", 11) == 0) {
		set_text(jn->node, 0, "reloading (RELOADING=1)", 23);
		jn->reloading = 1;
	} else if (n == 10 && memcmp(l, "STOPPING=1", 10) == 0) {
		set_text(jn->node, 0, "stopping (STOPPING=1)", 21);
		jn->reloading = 0;
	} else if ((v = value_of(l, n, "ERRNO=", &vl)) && vl < sizeof num) {
		memcpy(num, v, vl);
		num[vl] = '\0';
		char text[160];
		int e = (int)strtol(num, NULL, 10);
		int len = snprintf(text, sizeof text, "ERRNO=%d (%s)", e, strerror(e));
		set_text(jn->node, 0, text, (size_t)len);
		jn->reloading = 0;
	} else if ((v = value_of(l, n, "MAINPID=", &vl)) && vl < sizeof num) {
		memcpy(num, v, vl);
		num[vl] = '\0';
		long pid = strtol(num, NULL, 10);
		if (pid != jn->group && pid > 0 && pid <= 0x7fffffff)
			post(jn, MSG_PROC_MAINPID, (int)pid);
	}
	/* BARRIER=1: its descriptor is already closed (recv_cred) */
}

static void datagram(struct sv_jobnotify *jn, const char *buf, size_t n)
{
	const char *p = buf, *end = buf + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l)
			message(jn, p, l);
		p += l + 1;
	}
}

/* Reads what is waiting (under mu): 0 when drained, -1 when shut down. */
static int drain_locked(struct sv_jobnotify *jn)
{
	char buf[4096];
	for (;;) {
		struct ucred sender;
		ssize_t n = recv_cred(jn->fd, buf, sizeof buf, &sender);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0 && sender.pid == 0)
			return -1; /* shut down: every datagram carries credentials */
		if (!sender_is_job(jn, &sender))
			jn->refused = sender.pid ? sender.pid : -1;
		else
			datagram(jn, buf, (size_t)n);
	}
}

static void unref(struct sv_jobnotify *jn)
{
	if (atomic_fetch_sub(&jn->refs, 1) != 1)
		return;
	rt_wg_done(&jn->g->helpers);
	if (jn->fd >= 0)
		rt_close(jn->fd);
	pthread_mutex_destroy(&jn->mu);
	free(jn);
}

static void listener_main(void *arg)
{
	struct sv_jobnotify *jn = arg;
	while (!atomic_load(&jn->cancelled)) {
		sv_lock(&jn->mu);
		int rc = atomic_load(&jn->cancelled) ? -1 : drain_locked(jn);
		pid_t refused = jn->refused;
		jn->refused = 0;
		sv_unlock(&jn->mu);
		if (refused)
			sv_err("%s: ignored a notification from pid %d: not a process of the job", jn->name,
			       (int)refused);
		if (rc != 0)
			break;
		rt_fd_wait(jn->fd, RT_READ, RT_NEVER);
	}
	unref(jn);
}

struct sv_jobnotify *sv_jobnotify_start(struct sv_node *n, uint64_t gen, int fd)
{
	struct sv_jobnotify *jn = calloc(1, sizeof *jn);
	if (!jn)
		return NULL;
	atomic_init(&jn->refs, 2);
	jn->fd = fd;
	jn->node = n;
	jn->g = n->g;
	jn->gen = gen;
	jn->group = __atomic_load_n(&n->pid, __ATOMIC_ACQUIRE);
	jn->uid = n->job->has_user ? n->job->uid : getuid();
	snprintf(jn->name, sizeof jn->name, "%s", n->name);
	pthread_mutex_init(&jn->mu, NULL);
	rt_fd_nonblock(fd);
	rt_wg_add(&n->g->helpers, 1);
	if (rt_go_named("notify listener", listener_main, jn) < 0) {
		rt_wg_done(&n->g->helpers);
		pthread_mutex_destroy(&jn->mu);
		free(jn);
		return NULL;
	}
	return jn;
}

void sv_jobnotify_follow(struct sv_jobnotify *jn, pid_t main)
{
	if (!jn)
		return;
	sv_lock(&jn->mu);
	jn->main = main;
	sv_unlock(&jn->mu);
}

int sv_jobnotify_cancel(struct sv_jobnotify *jn)
{
	if (!jn)
		return 0;
	sv_lock(&jn->mu);
	/* a READY=1 sent just before the job exited may still be waiting */
	if (!atomic_load(&jn->cancelled))
		drain_locked(jn);
	atomic_store(&jn->cancelled, 1);
	int ready = jn->ready;
	sv_unlock(&jn->mu);
	shutdown(jn->fd, SHUT_RDWR);
	unref(jn);
	return ready;
}
