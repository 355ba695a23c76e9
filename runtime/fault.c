#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * fault.c - how the runtime dies, and the signals it handles itself:
 * rt_fatal ("grun: runtime: ..." and abort), a G switching away with
 * locks held, stack overflow reports (guard page hit, canary
 * overwritten), the SIGSEGV/SIGBUS handler that names the G, and the
 * SIGURG handler that lets a hog's M give its P up.
 *
 * Threads: the handlers run on the M that took the signal, on its
 * alternate stack, and use only async-signal-safe calls (one write(2)).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

void rt_fatal(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "grun: runtime: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0) {
		/* nothing left to report with */
	}
	abort();
}

/* Cold: a G switching away while it holds locks (see rt_lock_held). */
void rt_holding_locks(struct rt_g *g,
		const char *what, const char *reason)
{
	char id[32];
	if (!g->name)
		snprintf(id, sizeof id, "g%llu", (unsigned long long)g->id);
	rt_fatal("G \"%s\" %s while holding %d lock(s) (%s)", g->name ? g->name : id, what,
			g->locks, reason);
}

/* ---- overflow reports -------------------------------------------------- */

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		buf[i++] = tmp[--n];
	return i;
}

static size_t fmt_str(char *buf, const char *s, size_t max)
{
	size_t n = 0;
	while (s && s[n] && n < max)
		buf[n] = s[n], n++;
	return n;
}

/* Async-signal-safe: one write(2) of the message. */
static void write_overflow(const struct rt_g *g, const char *how)
{
	char buf[256];
	size_t n = fmt_str(buf, "grun: runtime: green thread ", 64);
	n += fmt_u64(buf + n, g->id);
	if (g->name) {
		n += fmt_str(buf + n, " (", 2);
		n += fmt_str(buf + n, g->name, 64);
		n += fmt_str(buf + n, ")", 1);
	}
	n += fmt_str(buf + n, " overflowed its stack of ", 32);
	n += fmt_u64(buf + n, rt_stack_size());
	n += fmt_str(buf + n, " bytes (", 8);
	n += fmt_str(buf + n, how, 40);
	n += fmt_str(buf + n, ")\n", 2);
	if (write(2, buf, n) < 0) {
		/* nothing to do */
	}
}

void rt_report_overflow(struct rt_g *g, const char *how)
{
	write_overflow(g, how);
	abort();
}

static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct rt_m *m = rt_m_current();
	struct rt_g *g = m ? m->curg : NULL;
	(void)uc;
	if (g && rt_stack_in_guard(g, si->si_addr))
		write_overflow(g, "guard page hit");
	/* Re-raise with the default action: returning re-runs the fault. */
	signal(sig, SIG_DFL);
}

/* SIGURG from the monitor: this M's G has run > 10 ms while others wait.
 * If the G is in its own code, give the P up for the monitor to hand on;
 * the M notices at its next runtime entry (enter_p returns NULL). */
static void on_preempt(int sig, siginfo_t *si, void *uc)
{
	struct rt_m *m = rt_m_current();
	(void)sig; (void)si; (void)uc;
	if (!m || !m->curg || atomic_load_explicit(&m->in_rt, memory_order_relaxed))
		return;
	struct rt_p *p = m->p;
	uint32_t want = p ? PSTATE(rt_mid(m), P_RUNNING) : 0;
	if (p && atomic_compare_exchange_strong(&p->state, &want, PSTATE(0, P_HANDOFF)))
		m->p = NULL;
}

static struct sigaction old_urg;

void rt_fault_handlers_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_preempt;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGURG, &sa, &old_urg);

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
}

void rt_fault_handlers_restore(void)
{
	sigaction(SIGURG, &old_urg, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
}

