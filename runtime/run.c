#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * run.c - starting and stopping the runtime (rt_run: signals, stacks,
 * Ps, the poller and the monitor, the main G; stopping the world when it
 * returns; teardown), and introspection (rt_stats_get, rt_dump).
 *
 * Threads: rt_run on the thread that called it (M0); rt_stop_the_world
 * on the M where the main G exited; rt_stats_get and rt_dump anywhere
 * (racy reads).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

static void stats_report(void);

/* The main G has exited: every M leaves its scheduler loop. */
void rt_stop_the_world(void)
{
	rt_lock(&rt_sched.lock);
	atomic_store(&rt_sched.stopping, true);
	for (struct rt_m *m = rt_sched.midle; m; m = m->schedlink) {
		m->nextp = NULL;
		atomic_store_explicit(&m->park, 1, memory_order_release);
		rt_futex_wake(&m->park, 1);
	}
	rt_sched.midle = NULL;
	rt_sched.nmidle = 0;
	rt_unlock(&rt_sched.lock);
	rt_poll_stop();
	rt_sysmon_wake();
}

int rt_default_procs(void)
{
	int q = rt_cpus_quota();
	if (q > 0)
		return q;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void rt_config_default(struct rt_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->guard_pages = 1;
	sigemptyset(&cfg->signals);
}

static int procs_setup(int n)
{
	rt_sched.nprocs = n;
	rt_sched.allp = aligned_alloc(64, ((sizeof(struct rt_p) * (size_t)n) + 63) & ~(size_t)63);
	if (!rt_sched.allp)
		return -1;
	memset(rt_sched.allp, 0, sizeof(struct rt_p) * (size_t)n);
	for (int i = 0; i < n; i++)
		atomic_store(&rt_sched.allp[i].state, PSTATE(0, P_RUNNING)); /* not yet listed */
	for (int i = n - 1; i >= 0; i--) {
		rt_sched.allp[i].id = i;
		rt_pidleput(&rt_sched.allp[i]);
	}
	return 0;
}

static void teardown(struct rt_m *m0)
{
	rt_sysmon_stop();
	for (int i = 1; i < rt_sched.nm; i++)
		if (rt_sched.allm[i]->thread)
			pthread_join(rt_sched.allm[i]->thread, NULL);
	rt_poll_fini();
	rt_proc_slots_fini();
	rt_stacks_fini();
	if (m0)
		rt_m_unbind(m0);
	for (int i = 0; i < rt_sched.nm; i++)
		free(rt_sched.allm[i]);
	free(rt_sched.allm);
	free(rt_sched.allp);
	free(rt_sched.runq);
	memset(&rt_sched, 0, sizeof rt_sched);
}

static struct {
	void (*fn)(void *);
	void *arg;
} main_call;

static void main_entry(void *arg)
{
	(void)arg;
	main_call.fn(main_call.arg);
}

int rt_run(const struct rt_config *cfg, void (*main_fn)(void *), void *arg)
{
	struct rt_config def;
	if (!cfg) {
		rt_config_default(&def);
		cfg = &def;
	}
	if (rt_m_current() || cfg->procs < 0 || cfg->procs > 4096 ||
	    cfg->max_threads < 0 ||
	    sigismember(&cfg->signals, SIGURG) == 1 || sigismember(&cfg->signals, SIGSEGV) == 1) {
		errno = rt_m_current() ? EBUSY : EINVAL;
		return -1;
	}
	memset(&rt_sched, 0, sizeof rt_sched);
	rt_sched.max_threads = cfg->max_threads;
	int procs = cfg->procs ? cfg->procs : rt_default_procs();
	if (rt_stacks_init(cfg->stack_size, cfg->guard_pages) != 0)
		return -1;

	sigset_t block = cfg->signals, oldmask;
	sigaddset(&block, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &block, &oldmask);
	rt_sched.sigmask = block;
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldpipe;
	sigaction(SIGPIPE, &ign, &oldpipe);
	rt_fault_handlers_install();
	rt_proc_snapshot_signals();
	rt_proc_slots_init();

	struct rt_m *m0 = rt_m0_setup();
	int err = 0;
	if (!m0 || procs_setup(procs) != 0)
		err = ENOMEM;
	else if (rt_poll_init(&cfg->signals) != 0 || rt_sysmon_start() != 0)
		err = errno ? errno : EAGAIN;
	if (!err) {
		main_call.fn = main_fn;
		main_call.arg = arg;
		rt_lock(&rt_sched.lock);
		rt_acquirep(m0, rt_pidleget());
		rt_unlock(&rt_sched.lock);
		if (rt_spawn("main", main_entry, NULL, &rt_sched.main_g) != 0)
			err = errno;
		else
			rt_schedule(m0);
	}
	m0 = rt_m_current();
	stats_report();
	teardown(m0);
	rt_fault_handlers_restore();
	sigaction(SIGPIPE, &oldpipe, NULL);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* ---- introspection --------------------------------------------------- */

/* GRUN_RT_STATS=1: the counters on stderr as rt_run returns (for
 * benchmarks and profiling; nothing reads them otherwise). */
static void stats_report(void)
{
	const char *env = getenv("GRUN_RT_STATS");
	if (!env || strcmp(env, "1") != 0)
		return;
	struct rt_stats st;
	rt_stats_get(&st);
	fprintf(stderr, "grun: runtime: spawned=%llu retakes_syscall=%llu retakes_hog=%llu "
			"preempts=%llu ms=%llu polls=%llu sysmon_wakes=%llu\n",
			(unsigned long long)st.spawned, (unsigned long long)st.retakes_syscall,
			(unsigned long long)st.retakes_hog, (unsigned long long)st.preempts,
			(unsigned long long)st.ms, (unsigned long long)st.polls,
			(unsigned long long)st.sysmon_wakes);
}

void rt_stats_get(struct rt_stats *st)
{
	memset(st, 0, sizeof *st);
	uint64_t exited = atomic_load(&rt_sched.exited_nop);
	st->spawned = atomic_load(&rt_sched.spawned_nop);
	for (int i = 0; i < rt_sched.nprocs; i++) {
		st->spawned += atomic_load(&rt_sched.allp[i].nspawned);
		exited += atomic_load(&rt_sched.allp[i].nexited);
	}
	/* Read while Gs come and go, the sums may disagree a little. */
	st->live = st->spawned > exited ? st->spawned - exited : 0;
	st->retakes_syscall = atomic_load(&rt_sched.retakes_syscall);
	st->retakes_hog = atomic_load(&rt_sched.retakes_hog);
	st->preempts = atomic_load(&rt_sched.preempts);
	st->ms = atomic_load(&rt_sched.nms);
	st->threads_failed = atomic_load(&rt_sched.mfailed);
	rt_stacks_stats(st);
	rt_poll_stats(st);
	rt_sysmon_stats(st);
}

static void dump_one(struct rt_g *g, void *arg)
{
	int fd = *(int *)arg;
	static const char *names[] = { "?", "runnable", "running", "waiting", "dead" };
	int s = atomic_load_explicit(&g->status, memory_order_relaxed);
	if (s == G_DEAD || s <= 0 || s > G_DEAD)
		return;
	dprintf(fd, "g%llu %s %s%s%s\n", (unsigned long long)g->id,
			g->name ? g->name : "-", names[s],
			s == G_WAITING ? " " : "", s == G_WAITING && g->wait_reason ? g->wait_reason : "");
}

/* The fields under sched.lock are read only if the lock is free at once:
 * a dump must not hang on the lock of a hung runtime (-1 then). */
void rt_dump(int fd)
{
	int nm = -1, nmidle = -1;
	if (rt_trylock(&rt_sched.lock)) {
		nm = rt_sched.nm;
		nmidle = rt_sched.nmidle;
		rt_unlock(&rt_sched.lock);
	}
	dprintf(fd, "sched: procs %d idle %d spinning %d; Ms %d parked %d; global queue %d; stopping %d\n",
			rt_sched.nprocs, atomic_load(&rt_sched.npidle), atomic_load(&rt_sched.nmspinning),
			nm, nmidle, atomic_load(&rt_sched.runqsize),
			(int)atomic_load(&rt_sched.stopping));
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_p *p = &rt_sched.allp[i];
		uint32_t s = atomic_load(&p->state);
		dprintf(fd, "P%d: state %u owner M%d, queue %s, schedtick %u\n", i, s & 0xff,
				(int)(s >> 8) - 1, rt_runqempty(p) ? "empty" : "non-empty",
				atomic_load(&p->schedtick));
	}
	rt_poll_dump(fd);
	rt_stack_foreach(dump_one, &fd);
}

int rt_procs(void)
{
	return rt_sched.nprocs;
}

