/*
 * service.c - see service.h.
 *
 * Owns struct sv_service (g->service): two green threads, counted in
 * g->watchers, and the eventfds that wake them.  The watchdog pings only
 * after the main green thread has answered a MSG_PING since the last
 * ping: a ping then proves that the scheduler runs green threads, that
 * the poller fires timers, and that the main loop takes its messages.
 * The status thread follows the board's events (status.h) and sends a
 * STATUS= line when the counts change, at most once per STATUS_EVERY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/lock.h"
#include "supervise/notify.h"
#include "supervise/service.h"
#include "supervise/status.h"
#include "supervise/xalloc.h"

/* STATUS= is sent at most this often. */
#define STATUS_EVERY (1000 * 1000000LL)
/* Unread events the status thread keeps (it only counts anyway). */
#define STATUS_EVENTS 64

struct sv_service {
	int64_t watchdog_every;  /* half of WATCHDOG_USEC, 0: no watchdog */
	int quit_fd;             /* eventfd: readable at teardown */
	int news_fd;             /* eventfd: the status thread's watch has events */
	struct sv_watch *watch;  /* the status thread's; NULL without NOTIFY_SOCKET */
};

/* The watchdog interval systemd asked for, in ns, or 0 (sd_watchdog_enabled). */
static int64_t watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	if (!usec || !getenv("NOTIFY_SOCKET"))
		return 0;
	if (pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	char *end;
	long long v = strtoll(usec, &end, 10);
	return *end || v <= 0 ? 0 : (int64_t)v * 1000;
}

/* ---- the watchdog ------------------------------------------------------------ */

static int quitting(struct sv_service *sv, int64_t deadline)
{
	struct rt_pollfd pf = { sv->quit_fd, RT_READ, 0 };
	return rt_fd_wait_any(&pf, 1, deadline) > 0;
}

static void watchdog_main(void *arg)
{
	struct sv_graph *g = arg;
	struct sv_service *sv = g->service;
	uint64_t answered = __atomic_load_n(&g->beats, __ATOMIC_ACQUIRE);
	int silent = 0;
	for (;;) {
		struct sv_msg ping = { .type = MSG_PING };
		sv_mbox_post(&g->mbox, &ping);
		if (quitting(sv, rt_now() + sv->watchdog_every))
			break;
		uint64_t beats = __atomic_load_n(&g->beats, __ATOMIC_ACQUIRE);
		if (beats != answered) {
			answered = beats;
			silent = 0;
			sv_notify_systemd("WATCHDOG=1");
		} else if (!silent++) {
			char d[32];
			sv_err("watchdog: the main loop has not answered for %s: WATCHDOG=1 withheld",
			       sv_duration_str(sv->watchdog_every, d, sizeof d));
		}
	}
	rt_wg_done(&g->watchers);
}

/* ---- STATUS= -------------------------------------------------------------------- */

struct counts {
	int n[ST_SKIPPED + 1];
};

static void count_one(struct sv_node *n, void *arg)
{
	struct counts *c = arg;
	struct sv_status st;
	if (__atomic_load_n(&n->removed, __ATOMIC_ACQUIRE))
		return;
	sv_status_get(n, &st);
	c->n[st.state]++;
}

/* "12 running, 1 restarting, 2 done": the words grunctl status uses,
 * grouped as an operator reads them. */
static void summary(struct sv_graph *g, char *buf, size_t len)
{
	struct counts c = { { 0 } };
	sv_tree_each_job(g, g->root, count_one, &c);
	const struct { const char *word; int n; } parts[] = {
		{ "running", c.n[ST_RUNNING] },
		{ "starting", c.n[ST_STARTING] },
		{ "waiting", c.n[ST_WAITING] + c.n[ST_NEW] },
		{ "restarting", c.n[ST_BACKOFF] },
		{ "stopping", c.n[ST_STOPPING] },
		{ "stopped", c.n[ST_STOPPED] },
		{ "done", c.n[ST_EXITED] },
		{ "failed", c.n[ST_FAILED] + c.n[ST_SKIPPED] },
	};
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		if (parts[i].n && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%d %s", off ? ", " : "", parts[i].n,
			                        parts[i].word);
	}
	if (!off)
		snprintf(buf, len, "no jobs");
}

/* Takes every event the watch holds (and the wake that announced them),
 * which re-arms the watch: the next event wakes us again. */
static void drain(struct sv_service *sv)
{
	uint64_t v;
	struct sv_event ev;
	(void)!read(sv->news_fd, &v, sizeof v);
	while (sv_watch_take(sv->watch, &ev, &v))
		;
}

/* While a STATUS= is due later (pending, before next), events need not
 * wake the thread: the watch stays armed, so publishers write no wake,
 * and the counts are taken at next.  So a burst of changes (1000 jobs
 * starting) costs one look a second, not a wake per event. */
static void status_main(void *arg)
{
	struct sv_graph *g = arg;
	struct sv_service *sv = g->service;
	char last[300] = "", now[300], line[320];
	int64_t next = 0;  /* the earliest time of the next STATUS= */
	int pending = 1;   /* the counts may have changed since the last look */
	for (;;) {
		if (pending && rt_now() >= next) {
			drain(sv);
			summary(g, now, sizeof now);
			if (strcmp(now, last) != 0) {
				snprintf(line, sizeof line, "STATUS=%s", now);
				sv_notify_systemd(line);
				memcpy(last, now, sizeof last);
				next = rt_now() + STATUS_EVERY;
			}
			pending = 0;
		}
		struct rt_pollfd pf[2] = { { sv->quit_fd, RT_READ, 0 },
		                           { pending ? -1 : sv->news_fd, RT_READ, 0 } };
		int rc = rt_fd_wait_any(pf, 2, pending ? next : RT_NEVER);
		if (rc > 0 && pf[0].revents)
			break;
		if (rc > 0 && pf[1].revents)
			pending = 1;
	}
	rt_wg_done(&g->watchers);
}

/* ---- start and stop -------------------------------------------------------------- */

static int go(struct sv_graph *g, const char *name, void (*fn)(void *))
{
	rt_wg_add(&g->watchers, 1);
	if (rt_go_named(name, fn, g) < 0) {
		rt_wg_done(&g->watchers);
		return -1;
	}
	return 0;
}

int sv_service_start(struct sv_graph *g)
{
	const char *notify = getenv("NOTIFY_SOCKET");
	int64_t usec = watchdog_usec();
	/* jobs must not take systemd's watchdog for their own (spawn.c drops
	 * them too) */
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (!notify || !*notify)
		return 0;
	struct sv_service *sv = sv_xcalloc(1, sizeof *sv, "the service watch");
	sv->watchdog_every = usec / 2;
	sv->quit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sv->news_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sv->quit_fd < 0 || sv->news_fd < 0 || !(sv->watch = sv_watch_new(g->board, STATUS_EVENTS, sv->news_fd)))
		sv_fatal("cannot watch the jobs for systemd: %s", strerror(errno));
	g->service = sv;
	if (go(g, "status for systemd", status_main) < 0)
		return -1;
	if (sv->watchdog_every) {
		char d[32];
		sv_debug("watchdog: WATCHDOG=1 every %s", sv_duration_str(sv->watchdog_every, d, sizeof d));
		if (go(g, "watchdog", watchdog_main) < 0)
			return -1;
	}
	return 0;
}

void sv_service_stop(struct sv_graph *g)
{
	if (g->service)
		sv_wake_fd(g->service->quit_fd);
}

void sv_service_free(struct sv_graph *g)
{
	struct sv_service *sv = g->service;
	if (!sv)
		return;
	sv_watch_free(sv->watch);
	rt_close(sv->quit_fd);
	rt_close(sv->news_fd);
	free(sv);
	g->service = NULL;
}
