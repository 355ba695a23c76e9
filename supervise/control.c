/*
 * control.c - the control socket (control.h): its directory, its lock,
 * the listener green thread, who may connect, and one green thread per
 * connection reading request lines and writing reply lines.
 *
 * Owns struct sv_control (g->control), made on the main green thread
 * before the tree starts and freed by sv_control_stop() after every
 * connection has ended.  Each struct ctl_conn belongs to its green
 * thread alone.  No connection can hold up grun: requests are bounded in
 * size (CTL_REQUEST_MAX) and time (CTL_REQUEST_TIMEOUT once started), a
 * client that does not read its replies is dropped after
 * CTL_WRITE_STALL, and streams to followers go through bounded rings
 * that skip what a slow reader cannot take (status.h, joblog.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred, accept4, vasprintf */
#endif
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/control_internal.h"
#include "supervise/ctlpath.h"
#include "supervise/status.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

/* Connections served at once; one more is told so and closed. */
#define CTL_CONNS_MAX 1024
/* A request must be complete this long after its first byte. */
#define CTL_REQUEST_TIMEOUT (10 * 1000000000LL)
/* A connection with no request in progress is closed after this. */
#define CTL_IDLE_TIMEOUT (600 * 1000000000LL)
/* A client that accepts no byte of its reply for this long is dropped. */
#define CTL_WRITE_STALL (10 * 1000000000LL)
/* How long teardown waits for connections to send their last words. */
#define CTL_END_GRACE (2 * 1000000000LL)
/* After accept() fails for lack of descriptors, the listener pauses. */
#define CTL_EMFILE_PAUSE (100 * 1000000LL)

struct sv_control {
	struct sv_graph *g;
	char path[SV_CTL_PATH_MAX + 1];
	char lock_path[SV_CTL_PATH_MAX + 8];
	int lfd;                /* the listening socket */
	int lock_fd;            /* PATH.lock, flock'ed for grun's lifetime */
	int quit_fd;            /* eventfd: readable once grun is ending */
	int has_group;
	gid_t group;
	struct rt_wg gs;        /* the listener and every connection */
	int nconns;             /* atomic */
	int64_t last_refusal;   /* listener only: rate limit of the refusal log */
};

int sv_control_on(const struct sv_graph *g)
{
	return g->control != NULL;
}

/* ---- the call --------------------------------------------------------------- */

void sv_ctl_reply(struct sv_ctl_call *call, int ok, const char *fmt, ...)
{
	if (!call)
		return;
	call->ok = ok;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(&call->text, fmt, ap) < 0)
			call->text = NULL;
		va_end(ap);
	}
	rt_chan_close(call->done);
}

struct sv_ctl_call *ctl_call_new(void)
{
	struct sv_ctl_call *call = sv_xcalloc(1, sizeof *call, "a control request");
	if (!(call->done = rt_chan_make(0, 0)))
		sv_fatal("cannot make a channel: %s", strerror(errno));
	return call;
}

int ctl_call_wait(struct ctl_conn *c, struct sv_ctl_call *call)
{
	struct rt_case cases[2] = {
		{ call->done, RT_RECV, NULL, 0 },
		{ c->g->quit, RT_RECV, NULL, 0 },
	};
	return rt_select(cases, 2, RT_NEVER) == 0 ? 0 : -1;
}

void ctl_call_free(struct sv_ctl_call *call)
{
	if (!call)
		return;
	rt_chan_free(call->done);
	free(call->text);
	free(call);
}

/* ---- making the socket --------------------------------------------------- */

/* mkdir -p of path's parent directories as needed, then path itself
 * with mode; 0 or -1. */
static int make_dir(const char *path, mode_t mode)
{
	char tmp[SV_CTL_PATH_MAX + 1];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* The directory of the socket must be a real directory of grun's user
 * that nobody else may write (as tmux checks its socket directory):
 * otherwise someone else could put their socket in grun's place. */
static int check_dir(const char *dir, int create, char *why, size_t len)
{
	struct stat st;
	if (create && make_dir(dir, 0700) < 0) {
		snprintf(why, len, "cannot make %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(why, len, "%s must be a directory of uid %u that only it can write (it is %s, "
		         "uid %u, mode %03o)", dir, (unsigned)geteuid(), S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
		         (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Is fd still the file at path (not removed by the grun that held it)? */
static int same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Takes PATH.lock: -1 with why set if another grun holds it.  The grun
 * that held it removes it as it ends, so a lock taken on a removed file
 * is taken again on the new one. */
static int take_lock(struct sv_control *ctl, char *why, size_t len)
{
	char *lock = ctl->lock_path;
	snprintf(lock, sizeof ctl->lock_path, "%s.lock", ctl->path);
	int fd, locked;
	for (;;) {
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			snprintf(why, len, "%s: %s", lock, strerror(errno));
			return -1;
		}
		locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
		if (!locked || same_file(fd, lock))
			break;
		close(fd);
	}
	if (!locked) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(why, len, "another grun (pid %s) is running this file; its control socket is %s "
		         "(stop it first, or give this one its own with --control PATH)", pid[0] ? pid : "?",
		         ctl->path);
		close(fd);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	/* the pid is only for the message above: a failure costs nothing */
	(void)!ftruncate(fd, 0);
	(void)!pwrite(fd, pid, (size_t)n, 0);
	ctl->lock_fd = fd;
	return 0;
}

static int bind_socket(struct sv_control *ctl, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", ctl->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(ctl->path); /* a stale one: the lock says no grun uses it */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(ctl->path, ctl->has_group ? 0660 : 0600) < 0 ||
	    (ctl->has_group && chown(ctl->path, (uid_t)-1, ctl->group) < 0) || listen(fd, 128) < 0) {
		snprintf(why, len, "%s: %s", ctl->path, strerror(errno));
		close(fd);
		unlink(ctl->path);
		return -1;
	}
	ctl->lfd = fd;
	return 0;
}

int sv_control_open(struct sv_graph *g, const char *path, gid_t group)
{
	struct sv_control *ctl = sv_xcalloc(1, sizeof *ctl, "the control socket");
	ctl->g = g;
	ctl->lfd = ctl->lock_fd = ctl->quit_fd = -1;
	ctl->has_group = group != (gid_t)-1;
	ctl->group = group;
	char why[600] = "";
	int explicit = path != NULL;
	if (path && strlen(path) > SV_CTL_PATH_MAX) {
		snprintf(why, sizeof why, "%s: longer than the %d bytes a socket address holds", path,
		         SV_CTL_PATH_MAX);
	} else if (path) {
		snprintf(ctl->path, sizeof ctl->path, "%s", path);
	} else if (sv_ctl_default_path(g->cfg->path, ctl->path, sizeof ctl->path) < 0) {
		snprintf(why, sizeof why, "no socket path for %s: %s", g->cfg->path, strerror(errno));
	}
	if (!why[0]) {
		char dir[SV_CTL_PATH_MAX + 1];
		snprintf(dir, sizeof dir, "%s", ctl->path);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		else
			snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
		/* an explicit path's directory is the user's business, but it
		 * must still be private; the default one is made here */
		if (check_dir(dir, !explicit, why, sizeof why) == 0 && ctl->has_group && !explicit)
			chmod(dir, 0711); /* group members may reach the socket, not list others */
	}
	if (!why[0] && take_lock(ctl, why, sizeof why) == 0 && bind_socket(ctl, why, sizeof why) == 0 &&
	    (ctl->quit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0) {
		g->control = ctl;
		return 0;
	}
	if (!why[0])
		snprintf(why, sizeof why, "eventfd: %s", strerror(errno));
	if (ctl->lfd >= 0) {
		close(ctl->lfd);
		unlink(ctl->path);
	}
	if (ctl->lock_fd >= 0)
		close(ctl->lock_fd);
	free(ctl);
	/* the second grun on a file, or a socket the user asked for, is an
	 * error; a default one that cannot be made only costs the socket */
	if (explicit || strstr(why, "another grun")) {
		sv_err("control socket: %s", why);
		return -1;
	}
	sv_err("warning: no control socket (grunctl cannot reach this grun): %s", why);
	return 0;
}

/* ---- connections --------------------------------------------------------- */

int ctl_quitting(struct ctl_conn *c)
{
	struct rt_pollfd pf = { c->quit_fd, RT_READ, 0 };
	return rt_fd_wait_any(&pf, 1, 0) > 0;
}

int ctl_send(struct ctl_conn *c, struct jbuf *b)
{
	size_t off = 0;
	int last_words = ctl_quitting(c);
	int64_t deadline = rt_now() + CTL_WRITE_STALL;
	if (b->failed)
		c->broken = 1;
	while (off < b->len && !c->broken) {
		ssize_t n = write(c->fd, b->p + off, b->len - off);
		if (n > 0) {
			off += (size_t)n;
			deadline = rt_now() + CTL_WRITE_STALL;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			c->broken = 1;
			break;
		}
		struct rt_pollfd pf[2] = { { c->fd, RT_WRITE, 0 }, { last_words ? -1 : c->quit_fd, RT_READ, 0 } };
		if (last_words || rt_fd_wait_any(pf, 2, deadline) < 0 || pf[1].revents)
			c->broken = 1;
	}
	jb_reset(b);
	return c->broken ? -1 : 0;
}

void ctl_header(struct ctl_conn *c, int ok)
{
	jb_obj(&c->out);
	jb_kint(&c->out, "v", CTL_PROTOCOL);
	jb_kbool(&c->out, "ok", ok);
}

int ctl_error(struct ctl_conn *c, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	jb_reset(&c->out);
	ctl_header(c, 0);
	jb_kstr(&c->out, "error", text);
	jb_end_obj(&c->out);
	jb_line(&c->out);
	return ctl_send(c, &c->out);
}

/* Reads what the client sent into c->in (room allowing); EOF sets
 * peer_closed.  -1 on a read error (the client is gone). */
static int read_more(struct ctl_conn *c)
{
	if (c->have == CTL_REQUEST_MAX)
		return 0;
	ssize_t n = read(c->fd, c->in + c->have, CTL_REQUEST_MAX - c->have);
	if (n > 0)
		c->have += (size_t)n;
	else if (n == 0)
		c->peer_closed = 1;
	else if (errno != EAGAIN && errno != EINTR)
		return c->peer_closed = 1, -1;
	return 0;
}

int ctl_wait_news(struct ctl_conn *c, int64_t deadline)
{
	struct rt_pollfd pf[3] = {
		{ c->peer_closed ? -1 : c->fd, RT_READ, 0 },
		{ c->wake, RT_READ, 0 },
		{ c->quit_fd, RT_READ, 0 },
	};
	if (rt_fd_wait_any(pf, 3, deadline) < 0)
		return -1;
	if (pf[2].revents)
		return 0;
	if (pf[1].revents) {
		uint64_t v;
		(void)!read(c->wake, &v, sizeof v);
		return 2;
	}
	read_more(c);
	if (c->have == CTL_REQUEST_MAX)
		c->have = 0; /* a stream's client has nothing to say: forget it */
	return 1;
}

/* Waits for a whole request line: 1 (its length in *len, newline
 * excluded), 0 when the connection should end quietly (EOF, idle, grun
 * ending), -1 after an error reply (too long, too slow). */
static int read_request(struct ctl_conn *c, size_t *len)
{
	int64_t started = 0;
	for (;;) {
		char *nl = memchr(c->in, '\n', c->have);
		if (nl) {
			*len = (size_t)(nl - c->in);
			return 1;
		}
		if (c->have == CTL_REQUEST_MAX) {
			ctl_error(c, "request longer than %u bytes", CTL_REQUEST_MAX);
			return -1;
		}
		if (c->peer_closed) {
			if (c->have)
				ctl_error(c, "request not ended by a newline");
			return 0;
		}
		if (c->have && !started)
			started = rt_now();
		int64_t deadline = started ? started + CTL_REQUEST_TIMEOUT : rt_now() + CTL_IDLE_TIMEOUT;
		size_t before = c->have;
		if (read_more(c) < 0)
			return 0;
		if (c->have != before || c->peer_closed)
			continue;
		struct rt_pollfd pf[2] = { { c->fd, RT_READ, 0 }, { c->quit_fd, RT_READ, 0 } };
		if (rt_fd_wait_any(pf, 2, deadline) < 0) {
			if (started)
				ctl_error(c, "request not finished within %lld s", CTL_REQUEST_TIMEOUT / 1000000000LL);
			return started ? -1 : 0;
		}
		if (pf[1].revents)
			return 0;
	}
}

static void conn_free(struct sv_control *ctl, struct ctl_conn *c)
{
	rt_close(c->fd);
	rt_close(c->wake);
	jb_free(&c->out);
	free(c->in);
	free(c);
	__atomic_sub_fetch(&ctl->nconns, 1, __ATOMIC_RELAXED);
	rt_wg_done(&ctl->gs);
}

static void conn_main(void *arg)
{
	struct ctl_conn *c = arg;
	struct sv_control *ctl = c->g->control;
	size_t len;
	while (!c->broken && read_request(c, &len) == 1) {
		const char *why = NULL;
		struct jv *req = json_parse(c->in, len, &why);
		int rc = 0;
		if (!req)
			rc = ctl_error(c, "malformed request: %s", why ? why : "?");
		else if (req->type != J_OBJ)
			rc = ctl_error(c, "malformed request: not a JSON object");
		else
			rc = ctl_dispatch(c, req);
		json_free(req);
		memmove(c->in, c->in + len + 1, c->have - len - 1);
		c->have -= len + 1;
		if (rc < 0)
			break;
	}
	conn_free(ctl, c);
}

/* Is gid among the peer's groups (SO_PEERGROUPS, else its primary)? */
static int peer_in_group(int fd, gid_t primary, gid_t gid)
{
	if (primary == gid)
		return 1;
	gid_t groups[256];
	socklen_t len = sizeof groups;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0;
	for (size_t i = 0; i < len / sizeof groups[0]; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* A refused peer is told why, and the refusal is logged (at most once a
 * second, so a client in a loop cannot flood the log). */
static void refuse(struct sv_control *ctl, int fd, const char *why, const struct ucred *cr)
{
	char line[300];
	int n = snprintf(line, sizeof line, "{\"v\":%d,\"ok\":false,\"error\":\"%s\"}\n", CTL_PROTOCOL, why);
	(void)!write(fd, line, (size_t)n);
	close(fd);
	int64_t now = rt_now();
	if (now - ctl->last_refusal < 1000000000LL)
		return;
	ctl->last_refusal = now;
	if (cr)
		sv_err("control: refused uid %u (pid %d): %s", (unsigned)cr->uid, (int)cr->pid, why);
	else
		sv_err("control: refused a connection: %s", why);
}

static void admit(struct sv_control *ctl, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		refuse(ctl, fd, "cannot tell who is calling", NULL);
		return;
	}
	int full = cr.uid == geteuid() || cr.uid == 0;
	int readonly = !full && ctl->has_group && peer_in_group(fd, cr.gid, ctl->group);
	if (!full && !readonly) {
		refuse(ctl, fd, "permission denied: not grun's user", &cr);
		return;
	}
	if (__atomic_load_n(&ctl->nconns, __ATOMIC_RELAXED) >= CTL_CONNS_MAX) {
		refuse(ctl, fd, "too many connections", &cr);
		return;
	}
	struct ctl_conn *c = calloc(1, sizeof *c);
	if (c && !(c->in = malloc(CTL_REQUEST_MAX))) {
		free(c);
		c = NULL;
	}
	if (!c || (c->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		if (c)
			free(c->in);
		free(c);
		refuse(ctl, fd, "out of memory or descriptors", &cr);
		return;
	}
	c->g = ctl->g;
	c->fd = fd;
	c->quit_fd = ctl->quit_fd;
	c->uid = cr.uid;
	c->pid = cr.pid;
	c->readonly = readonly;
	__atomic_add_fetch(&ctl->nconns, 1, __ATOMIC_RELAXED);
	rt_wg_add(&ctl->gs, 1);
	if (rt_go_named("control connection", conn_main, c) < 0) {
		c->fd = -1;
		close(fd);
		refuse(ctl, -1, rt_limit_message(), &cr);
		rt_close(c->wake);
		free(c->in);
		free(c);
		__atomic_sub_fetch(&ctl->nconns, 1, __ATOMIC_RELAXED);
		rt_wg_done(&ctl->gs);
	}
}

static void listener_main(void *arg)
{
	struct sv_control *ctl = arg;
	for (;;) {
		struct rt_pollfd pf[2] = { { ctl->lfd, RT_READ, 0 }, { ctl->quit_fd, RT_READ, 0 } };
		if (rt_fd_wait_any(pf, 2, RT_NEVER) < 0)
			continue;
		if (pf[1].revents)
			break;
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			admit(ctl, fd);
		else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			rt_sleep(CTL_EMFILE_PAUSE); /* the pending client stays queued */
	}
	rt_wg_done(&ctl->gs);
}

int sv_control_start(struct sv_graph *g)
{
	struct sv_control *ctl = g->control;
	if (!ctl)
		return 0;
	rt_wg_add(&ctl->gs, 1);
	if (rt_go_named("control listener", listener_main, ctl) < 0) {
		rt_wg_done(&ctl->gs);
		return -1;
	}
	sv_debug("control socket: %s", ctl->path);
	return 0;
}

int sv_control_stop(struct sv_graph *g)
{
	struct sv_control *ctl = g->control;
	if (!ctl)
		return 1;
	sv_wake_fd(ctl->quit_fd);
	if (rt_wg_wait_until(&ctl->gs, rt_now() + CTL_END_GRACE) < 0) {
		/* a connection still running keeps its memory: grun exits next */
		sv_debug("teardown: control connections still running");
		unlink(ctl->path);
		return 0;
	}
	rt_close(ctl->lfd);
	unlink(ctl->path);
	rt_close(ctl->quit_fd);
	unlink(ctl->lock_path); /* before unlocking: see take_lock() */
	close(ctl->lock_fd);
	g->control = NULL;
	free(ctl);
	return 1;
}
