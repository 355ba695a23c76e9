/*
 * rt_internal.h - the runtime's private structures and the calls its
 * files make to each other.  Nothing outside runtime/ includes this.
 *
 * Vocabulary (as in Go's runtime): G is a green thread, M an OS thread,
 * P a processor, the right to run Gs.  An M runs Gs only while it holds a
 * P; each M has its own scheduler context g0 (the M's pthread stack).
 * HACKING.md tells the whole story; each structure below states its
 * invariants and who may touch which field.
 */
#ifndef GRUN_RT_INTERNAL_H
#define GRUN_RT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "rt.h"

struct rt_p;
struct rt_m;

#if defined(__x86_64__) || defined(__aarch64__)
#define RT_CTX_ASM 1
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__) && !defined(RT_SANITIZE_ADDRESS)
#define RT_SANITIZE_ADDRESS 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(RT_SANITIZE_THREAD)
#define RT_SANITIZE_THREAD 1
#endif

#define RT_LIKELY(x) __builtin_expect(!!(x), 1)
#define RT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* An invariant that stays checked in release builds. */
#define rt_assert(cond, what) \
	do { if (RT_UNLIKELY(!(cond))) rt_fatal("%s: %s", __func__, what); } while (0)
void rt_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Structure sanity checks, compiled into --enable-debug builds only
 * (SQLite's and libev's habit): DEBUG_CHECK(runq_check(p)). */
#ifdef RT_DEBUG
#define DEBUG_CHECK(call) call
#else
#define DEBUG_CHECK(call) ((void)0)
#endif

/* ---- lock.c: a small futex mutex and futex park words ---------------- */

/* rt_lock: 0 free, 1 held, 2 held with sleepers.  Spins briefly, then
 * sleeps in the kernel.  Any thread; not reentrant. */
struct rt_lock {
	_Atomic uint32_t state;
};
void rt_lock(struct rt_lock *l);
bool rt_trylock(struct rt_lock *l);
void rt_unlock(struct rt_lock *l);

/* futex wrappers on a 32-bit word. */
void rt_futex_wait(_Atomic uint32_t *addr, uint32_t val);
void rt_futex_wake(_Atomic uint32_t *addr, int n);

/* ---- ctx: the machine context switch ------------------------------- */

/* A saved execution context.  For the assembly switch it is only the
 * stack pointer: the callee-saved registers, MXCSR and the x87 control
 * word (x86-64) or x19-x30 and d8-d15 (aarch64) are on that stack. */
struct rt_ctx {
	void *sp;
#ifndef RT_CTX_ASM
	ucontext_t uc;
#endif
};

/* rt_ctx_make() prepares ctx to run entry(arg) on the stack [lo, hi). */
void rt_ctx_make(struct rt_ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg);
/* rt_ctx_swap() saves the current context in *from and resumes *to. */
void rt_ctx_swap(struct rt_ctx *from, struct rt_ctx *to);

/* ---- G -------------------------------------------------------------- */

enum g_status {
	G_RUNNABLE = 1, /* in a run queue or runnext; its context is saved */
	G_RUNNING,      /* on an M; only that M touches the context */
	G_WAITING,      /* parked; whoever wins g->wake (or the channel lock) readies it */
	G_DEAD,         /* exited; the stack goes back to a pool */
};

struct rt_sudog;

/*
 * struct rt_g lives at the top of its own stack slot (stack.c), so a G
 * and its stack are allocated and freed together.
 *
 * Invariants: ctx is valid whenever status != G_RUNNING.  A G is in at
 * most one run queue.  Fields marked "own" are touched only by the G
 * itself (or by the M running it); "park" fields are written by the G
 * before it parks and read by the waker after winning the wake race.
 * g_init() in stack.c sets every field but ctx one by one (a memset is
 * slow there): a new field must be added there too.
 */
struct rt_g {
	struct rt_ctx ctx;          /* own: saved context */
	struct rt_g *schedlink;     /* next in a G list (poll results, Gs woken by a channel close) */
	uint64_t id;                /* set at spawn, never reused */
	const char *name;           /* own */
	_Atomic int status;         /* enum g_status */
	void (*fn)(void *);         /* entry, set at spawn */
	void *arg;
	struct rt_stack *stack;     /* the slot this G lives in */
	int saved_errno;            /* own: errno carried across switches */
	int locks;                  /* own: locks held (rt_lock_held); rt_park aborts unless 0 */
	const char *wait_reason;    /* own, for rt_dump() */
	/* Wake race arbiter for waits with several sources (select cases,
	 * deadline timers): whoever moves it 0 -> 1 readies the G. */
	_Atomic uint32_t wake;
	struct rt_sudog *wake_sudog; /* park: the sudog that woke it (select) */
	int wake_events;            /* park: poll result (fd events, signal no.) */
	bool wake_timeout;          /* park: the deadline fired */
	void *asan_fake;            /* own: ASan fake-stack handle while switched out */
#ifdef RT_SANITIZE_THREAD
	void *tsan_fiber;
#endif
};

/* ---- stack.c ---------------------------------------------------------- */

/* struct rt_stack describes one stack slot: [lo, hi) usable, the G at hi.
 * It lives outside the slot (in its chunk's table), so the slot's memory
 * can go back to the kernel while it sits in a pool.  Written when carved,
 * then read-only. */
struct rt_stack {
	char *lo;                  /* lowest usable byte (canary lives here) */
	char *hi;                  /* top of the stack = address of the G */
	struct stack_chunk *chunk; /* the mapping it was carved from */
	bool guarded;              /* a PROT_NONE page sits just below lo */
	bool canary;               /* the 16 bytes below lo are this stack's canary
	                              (unguarded, not the first slot of its chunk) */
	unsigned vg_id;            /* valgrind stack id */
	void *tsan_fiber;          /* TSan fiber, made on first use and kept with the
	                              stack (creating one costs milliseconds) */
};

/* The canary of an unguarded stack is the 16 bytes just below it: the
 * top of the slot beneath, which nothing ever writes (the G there sits
 * 16 bytes lower) and which is always resident, since it shares a page
 * with that slot's G.  So checking it at every switch costs no memory: a
 * parked G keeps exactly one page.  It must stay zero. */
#define RT_CANARY_BYTES 16

int rt_stacks_init(size_t stack_size, int guard_pages);
void rt_stacks_fini(void);
/* rt_stack_get() returns a zeroed G at the top of a free stack (its id,
 * fn and context still to be set); NULL + errno EAGAIN at a limit.
 * p may be NULL (no cache). */
struct rt_g *rt_stack_get(struct rt_p *p);
void rt_stack_put(struct rt_p *p, struct rt_stack *s);
void rt_stacks_trim(void);                  /* monitor: memory of idle chunks back to the kernel */
static inline bool rt_stack_canary_ok(const struct rt_g *g)
{
	const uint64_t *w = (const uint64_t *)g->stack->lo - 2;
	return !g->stack->canary || (w[0] | w[1]) == 0;
}
bool rt_stack_in_guard(const struct rt_g *g, const void *addr);
void rt_stack_foreach(void (*fn)(struct rt_g *, void *), void *arg);
void rt_stacks_stats(struct rt_stats *st);
void rt_limit_set(const char *msg);          /* what rt_limit_message() says; any thread */
uint64_t rt_stacks_carved(void);            /* slots ever carved; any thread */
size_t rt_stack_size(void);

/* ---- P ------------------------------------------------------------------ */

#define RT_RUNQ_SIZE 256
#define RT_STACK_CACHE 64

/*
 * P state word: the low byte is the state, the rest the id of the owning
 * M (its index + 1).
 *   P_IDLE     on the idle list (owner 0); taken off only under sched.lock.
 *   P_RUNNING  owned by an M, which alone touches runq (producer side),
 *              runnext and the caches.  While its G runs user code
 *              (m->in_rt == 0) the monitor may ask it to let go with
 *              SIGURG; the M's own signal handler then moves the P to
 *              P_HANDOFF (the decision is taken on the owner's thread, so
 *              entering the runtime costs no atomic instruction).
 *   P_SYSCALL  its G is inside a blocking region; the monitor may retake
 *              it with a CAS after ~20 us; the owner CASes it back.
 *   P_HANDOFF  given up by a preempted hog; the monitor hands it on.
 */
enum { P_IDLE = 0, P_RUNNING = 1, P_SYSCALL = 2, P_HANDOFF = 3 };
#define PSTATE(mid, st) (((uint32_t)(mid) << 8) | (uint32_t)(st))

struct rt_p {
	int id;
	_Atomic uint32_t state;       /* see above */
	_Atomic uint32_t schedtick;   /* ++ at every G run; read by the monitor */
	_Atomic uint32_t syscalltick; /* ++ at every blocking region */
	_Atomic uint32_t switchtick;  /* ++ at every G run, runnext included;
	                               * owner writes, thieves read */
	/* Local run queue: a ring written only by the owner at tail (release),
	 * consumed by the owner or thieves with a CAS on head. */
	_Atomic uint32_t runqhead;
	_Atomic uint32_t runqtail;
	struct rt_g *_Atomic runq[RT_RUNQ_SIZE];
	/* runnext: a G readied by the running G; runs next and inherits its
	 * time slice.  Owner writes; thieves may CAS it out. */
	struct rt_g *_Atomic runnext;
	struct rt_p *link;            /* idle list, under sched.lock */
	/* Free stacks, owner only. */
	struct rt_stack *stack_cache[RT_STACK_CACHE];
	int nstack_cache;
	/* G ids handed out from a batch reserved in rt_sched.goid, and counts
	 * of Gs started and exited on this P: kept per P so that spawn and
	 * exit write no cache line shared between threads.  Owner writes
	 * (relaxed, no read-modify-write); rt_stats_get() sums them. */
	uint64_t goid_next, goid_end;
	_Atomic uint64_t nspawned, nexited;
	/* Monitor bookkeeping, monitor thread only. */
	uint32_t mon_tick;
	int64_t mon_when;
	uint32_t mon_syscalltick;
	int64_t mon_syscallwhen;
};

/* ---- M ------------------------------------------------------------------ */

/*
 * struct rt_m is one OS thread.  Fields are touched only by the thread
 * itself, except: park (any thread wakes it), nextp/spinning (written by
 * the waker under sched.lock before the wake), schedlink (sched.lock).
 */
struct rt_m {
	int id;                      /* index; the P state word holds id + 1 */
	struct rt_ctx g0;            /* the scheduler context on the pthread stack */
	struct rt_g *curg;           /* G running on this M, or NULL in g0 */
	struct rt_p *p;              /* P held (state owner == this M), or NULL */
	struct rt_p *nextp;          /* P handed over by startm() */
	bool spinning;               /* looking for work while holding a P */
	/* 1 while this M runs runtime code (scheduler, channel internals),
	 * 0 while its G runs user code.  Written only by the M itself; read
	 * by its SIGURG handler (same thread) and by the monitor (a hint). */
	_Atomic int in_rt;
	/* 1: the G on this M must give way at its next safe point (a channel
	 * operation, rt_select): its P's 10 ms time slice is over, or the
	 * monitor queued Gs on the global queue while every P was busy.  Set
	 * by the monitor (relaxed), cleared by the M itself (rt_preempt_yield).
	 * A flag left over after the M changed G or P costs one early yield. */
	_Atomic uint32_t preempt;
	/* Own: the next findrunnable looks at the global queue and due
	 * timers first, and the G it picks starts a new time slice. */
	bool fair;
	_Atomic uint32_t park;       /* futex word: 0 parked, 1 woken */
	struct rt_m *schedlink;      /* idle M list */
	pthread_t thread;            /* for pthread_join (written by the creator) */
	pthread_t self;              /* for the monitor's SIGURG (written by the M itself,
	                                before its first in_rt release store) */
	/* What g0 does right after a G switched out (see park in sched.c). */
	int (*park_fn)(struct rt_g *g, void *arg);
	void *park_arg;
	struct rt_g *park_g;         /* the G whose park_fn is pending */
	uint64_t rand;               /* xorshift state for stealing and select */
	void *sigstack;              /* alternate signal stack (overflow report) */
	void *g0_lo, *g0_hi;         /* bounds of the pthread stack (sanitizers) */
	void *asan_fake;
#ifdef RT_SANITIZE_THREAD
	void *tsan_g0;
#endif
};

/* ---- sched.c ------------------------------------------------------------- */

/*
 * The scheduler's shared state.  lock protects the global run queue, the
 * idle P and M lists and M creation.  Counters read without the lock are
 * atomics.
 */
struct rt_sched {
	struct rt_lock lock;
	/* Global run queue: a ring of G pointers, the oldest at
	 * runq[runqfirst], runqsize of them, runqcap slots (a power of two).
	 * Pointers rather than links through the Gs: taking a batch touches
	 * no G, whose memory is usually cold, while the lock is held.
	 * runqcap >= the number of stacks ever carved >= live Gs, so a put
	 * always fits: spawn grows the ring before its G can be queued
	 * (rt_globrunq_reserve).  The ring, runqfirst and writes of runqcap
	 * and runqsize under lock; runqsize and runqcap are read without. */
	struct rt_g **runq;
	_Atomic uint32_t runqcap;
	uint32_t runqfirst;
	_Atomic int runqsize;
	struct rt_p *pidle;               /* idle Ps (lock) */
	_Atomic int npidle;
	struct rt_m *midle;               /* parked Ms (lock) */
	int nmidle;
	_Atomic int nmspinning;
	int nprocs;
	struct rt_p *allp;                /* nprocs Ps, fixed while running */
	struct rt_m **allm;               /* all Ms (lock) */
	int nm, maxm;
	struct rt_m *mspare;              /* Ms whose thread could not be created (lock) */
	int max_threads;                  /* rt_config.max_threads, 0: none; set at start */
	_Atomic int nthreads;             /* M threads created and running, M0 excluded */
	_Atomic int64_t mfail_until;      /* a thread creation failed: no new try before
	                                     (0: none failed since the last success) */
	_Atomic uint64_t mfailed;         /* thread creations that failed */
	_Atomic uint64_t goid;            /* ids reserved so far (Ps take batches) */
	_Atomic uint64_t spawned_nop;     /* Gs started by threads without a P, */
	_Atomic uint64_t exited_nop;      /* and ended without one (see rt_p) */
	_Atomic uint64_t retakes_syscall, retakes_hog, nms;
	_Atomic uint64_t preempts;        /* rt_preempt_yield()s taken */
	_Atomic bool stopping;            /* rt_run is shutting down */
	struct rt_g *main_g;
	sigset_t sigmask;                 /* blocked in every M */
};
extern struct rt_sched rt_sched;

struct rt_m *rt_m_current(void);
struct rt_g *rt_g_current(void);
uint64_t rt_fastrand(void);

/* Park the calling G.  Once its context is saved, fn(g, arg) runs (on
 * the next G or on g0, on this M); if it returns 0 the G is readied at
 * once (the wait was already satisfied).  Aborts if the G holds locks
 * (rt_lock_held).  G only. */
void rt_park(int (*fn)(struct rt_g *g, void *arg), void *arg, const char *reason);
/* Make a parked G runnable.  From a G (goes to this P's runnext) or from
 * any other thread (goes to the global queue and wakes an M). */
void rt_ready(struct rt_g *g);

/* Wait-race helpers: the waker that wins rt_wake_claim() readies the G. */
static inline void rt_wake_reset(struct rt_g *g)
{
	atomic_store_explicit(&g->wake, 0, memory_order_relaxed);
	g->wake_sudog = NULL;
	g->wake_timeout = false;
	g->wake_events = 0;
}
static inline bool rt_wake_claim(struct rt_g *g)
{
	uint32_t zero = 0;
	return atomic_compare_exchange_strong_explicit(&g->wake, &zero, 1,
			memory_order_acq_rel, memory_order_relaxed);
}

/* A safe point inside the runtime (channel and select entry): if the
 * monitor asked m's G to give way, it goes to the back of the run queue
 * and the M runs findrunnable's fairness pass.  m is stale afterwards.
 * The fast path is a load and a branch.  G only, no runtime lock held. */
void rt_preempt_yield(struct rt_m *m);
static inline void rt_preempt_point(struct rt_m *m)
{
	if (RT_UNLIKELY(atomic_load_explicit(&m->preempt, memory_order_relaxed)))
		rt_preempt_yield(m);
}
/* rt_preempt_point for callers that have no M at hand. */
void rt_safe_point(void);
/* Set the preempt flag of the M owning the P whose state word is s. */
void rt_preempt_request(uint32_t s);

/* Global run queue and idle-P helpers used by sysmon. */
void rt_handoffp(struct rt_p *p);
bool rt_sched_has_work(void);
void rt_inject_from_poll(struct rt_g *list);

/* ---- between the scheduler's files (sched.c, m.c, g.c, fault.c, run.c) -- */

/* The P state word's owner field for m. */
static inline uint32_t rt_mid(const struct rt_m *m)
{
	return (uint32_t)m->id + 1;
}

/* Enter the runtime from a G's code: from now on the SIGURG handler
 * leaves the P alone.  Returns the P, or NULL if the M lost it.  On g0
 * (curg == NULL) in_rt is already 1. */
static inline struct rt_p *rt_enter_p(struct rt_m *m)
{
	atomic_store_explicit(&m->in_rt, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	return m->p;
}

/* Back to the G's code (no-op on g0). */
static inline void rt_leave_p(struct rt_m *m, struct rt_p *p)
{
	(void)p;
	if (m->curg)
		atomic_store_explicit(&m->in_rt, 0, memory_order_release);
}

/* Owner-only counter: a plain increment, published for rt_stats_get(). */
static inline void rt_counter_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			memory_order_relaxed);
}

/* sched.c */
enum { RQ_TAIL = 0, RQ_NEXT = 1 };      /* where on p: the tail, or runnext */
enum { RQ_NOWAKE = 0, RQ_WAKE = 1 };    /* then start an M for an idle P? */
void rt_runqput_any(struct rt_p *p, struct rt_g *g, int where, int wake);
void rt_schedule(struct rt_m *m);               /* an M's loop, on g0 */
void rt_arrive(struct rt_g *g);                 /* first thing a resumed G does */
/* Switch away from g, whose commit is in m->park_fn; returns when g is
 * resumed (dying: never). */
void rt_park_switch(struct rt_m *m, struct rt_g *g, bool dying);
/* rt_park without the held-locks check, for a G that never runs again. */
void rt_park_unchecked(struct rt_m *m, struct rt_g *g, int (*fn)(struct rt_g *, void *),
		void *arg, const char *reason);
/* m.c */
void rt_acquirep(struct rt_m *m, struct rt_p *p);
struct rt_p *rt_pidleget(void);                 /* sched.lock held */
void rt_pidleput(struct rt_p *p);               /* sched.lock held */
void rt_startm(struct rt_p *p, bool spinning);
void rt_stopm(struct rt_m *m);
void rt_wakep_slow(void);
/* Start a spinning M if a P is idle and nobody spins (Go's wakep); the
 * common case, no idle P, inline. */
static inline void rt_wakep(void)
{
	if (atomic_load_explicit(&rt_sched.npidle, memory_order_relaxed) != 0)
		rt_wakep_slow();
}
void rt_poller_handoff(void);
void rt_startm_retry(int64_t now);              /* monitor */
bool rt_startm_failing(void);                   /* a thread creation failed lately */
struct rt_m *rt_m_alloc(void);                  /* sched.lock held */
void rt_m_bind(struct rt_m *m);
void rt_m_unbind(struct rt_m *m);
struct rt_m *rt_m0_setup(void);
/* g.c */
int rt_spawn(const char *name, void (*fn)(void *), void *arg, struct rt_g **out);
/* fault.c */
void rt_report_overflow(struct rt_g *g, const char *how) __attribute__((noreturn));
void rt_holding_locks(struct rt_g *g, const char *what, const char *reason)
	__attribute__((noreturn, cold));
void rt_fault_handlers_install(void);
void rt_fault_handlers_restore(void);
/* run.c */
void rt_stop_the_world(void);

/* ---- runq.c ------------------------------------------------------------ */
bool rt_runqput(struct rt_p *p, struct rt_g *g, bool next);
struct rt_g *rt_runqget(struct rt_p *p, bool *inherit);
struct rt_g *rt_runqget_oldest(struct rt_p *p);   /* the ring's head, not runnext */
struct rt_g *rt_runqsteal(struct rt_p *p, struct rt_p *victim, bool stealnext);
bool rt_runqempty(struct rt_p *p);
void rt_runq_check(struct rt_p *p);             /* owner; debug builds */
void rt_globrunqput(struct rt_g *g);              /* sched.lock held */
/* Make the global queue hold at least n Gs; 0, or -1 if out of memory.
 * Takes sched.lock. */
int rt_globrunq_reserve(uint64_t n);
struct rt_g *rt_globrunqget(struct rt_p *p, int max); /* lock held */

/* ---- poll.c: the libev loop (the only file that includes ev.h) -------- */

/* A deadline timer for a parked G (timer.c); lives on the G's stack.  In the
 * poller's heap while idx >= 0 (poll lock).  When it fires, the poller
 * claims g->wake; if it wins, g->wake_timeout is set and g readied. */
struct rt_timer {
	int64_t when;
	int idx;
	struct rt_g *g;
};

int rt_poll_init(const sigset_t *signals);
void rt_poll_fini(void);
/* Run the loop once (block: until something happens) unless another
 * thread is in it (then -1).  *list receives the readied Gs. */
int rt_poll(bool block, struct rt_g **list);
int rt_poll_expire(struct rt_g **list); /* due timers only, without libev */
bool rt_poll_has_waiters(void);
bool rt_poll_active(void);        /* a thread is inside the loop */
bool rt_poll_due(int64_t now);    /* a deadline has passed */
int64_t rt_poll_next_deadline(void); /* the earliest deadline, INT64_MAX: none */
int64_t rt_poll_last(void);       /* rt_now() at the end of the last poll */
void rt_poll_wake(void);          /* break a blocked poll (any thread) */
void rt_poll_stop(void);          /* break it for good: the runtime stops */
void rt_poll_stats(struct rt_stats *st);
void rt_poll_dump(int fd);        /* for rt_dump(), racy reads */
/* The poll lock, for timer.c and proc.c. */
void rt_poll_lock(void);
void rt_poll_unlock(void);
int rt_poll_unlock_commit(struct rt_g *g, void *arg); /* park commit: unlock, kick */
/* For timer.c, poll lock held: count a waiter that keeps the poller
 * needed; the heap's minimum changed (armed: the new minimum, INT64_MAX
 * when it left). */
void rt_poll_waiters_add(int n);
/* Adds g to the Gs the current poll readies (rt_poll returns them); poll
 * lock held, inside the loop or in rt_poll_expire. */
void rt_poll_ready_push(struct rt_g *g);
void rt_poll_timers_changed(int64_t armed);

/* ---- timer.c: the deadline heap (poll lock held) --------------------- */

void rt_timer_arm_locked(struct rt_timer *t, int64_t when, struct rt_g *g);
void rt_timer_disarm(struct rt_timer *t);          /* takes the poll lock */
int64_t rt_timers_next(void);                      /* earliest, or INT64_MAX */
int rt_timers_count(void);
/* Pop every deadline <= now; ready(g) each G whose wake word it wins
 * (wake_timeout set).  True if any left the heap. */
bool rt_timers_expire(int64_t now, void (*ready)(struct rt_g *));
/* Room for n armed timers (takes the poll lock); 0, or -1 ENOMEM. */
int rt_timers_reserve(uint64_t n);
void rt_timers_fini(void);

/*
 * A blocking call with a deadline, written once (libdill's dill_waitfor +
 * dill_timer + dill_wait).  Every blocking call of the runtime goes:
 *
 *     struct rt_wait w;
 *     g = rt_wait_begin(&w, deadline);   reset g's wake word, before any
 *                                        waker can see g
 *     ... lock the sources, check them, register g with them ...
 *     rt_wait_park(&w, unlock, arg, why);    sources under their own locks
 *     rt_wait_park_locked(&w, why);          sources under the poll lock
 *     timed_out = rt_wait_end(&w);           (or _locked, poll lock held)
 *     ... lock the sources, unregister g from those that did not fire ...
 *
 * A source that fires claims g->wake (rt_wake_claim) and readies g; the
 * deadline timer does the same and sets g->wake_timeout.  The loser does
 * nothing: the G removes its registrations itself once it runs again, so
 * the cleanup is the same whoever won.  Lives on the G's stack.  Owner:
 * the G; the timer's fields under the poll lock.
 */
struct rt_wait {
	struct rt_g *g;
	int64_t deadline;
	struct rt_timer timer;             /* armed while deadline != RT_NEVER */
	int (*unlock)(struct rt_g *, void *); /* rt_wait_park's commit, and its arg */
	void *unlock_arg;
};
/* True when deadline is not RT_NEVER and has passed: poll, do not park. */
static inline bool rt_deadline_passed(int64_t deadline)
{
	return deadline != RT_NEVER && deadline <= rt_now();
}
struct rt_g *rt_wait_begin(struct rt_wait *w, int64_t deadline); /* G only */
/* Park: unlock(g, arg) releases the sources' locks once g is saved (as
 * rt_park's commit); the poll lock is not held by the caller. */
void rt_wait_park(struct rt_wait *w, int (*unlock)(struct rt_g *, void *), void *arg,
		const char *reason);
/* Park with the poll lock held (the sources are libev's): released once
 * g is saved. */
void rt_wait_park_locked(struct rt_wait *w, const char *reason);
/* After the park: true if the deadline woke g; the timer is disarmed. */
bool rt_wait_end(struct rt_wait *w);
bool rt_wait_end_locked(struct rt_wait *w);       /* poll lock held */
/* A record for a child about to be cloned (NULL: ENOMEM); its pid field
 * is where the clone must store the new pid (CLONE_PARENT_SETTID). */
struct proc_rec *rt_proc_reserve(bool waited);
/* After the clone: pid <= 0 drops the record; failed: the exec failed,
 * reap and forget. */
void rt_proc_settle(struct proc_rec *r, pid_t pid, bool failed);
pid_t *rt_proc_pidp(struct proc_rec *r);
/* child.c: libev reaped pid with status (poll.c's catch-all ev_child;
 * poll lock held); and rt_run's teardown of the records. */
void rt_child_reaped(pid_t pid, int status);
void rt_child_fini(void);
/* proc.c: which signal dispositions children must reset (rt_run). */
void rt_proc_snapshot_signals(void);
void rt_proc_slots_init(void);          /* rt_run, before any M */
void rt_proc_slots_fini(void);          /* rt_run teardown */
/* fdwait.c (the harvest from rt_poll, after its libev iteration) */
int rt_fdwait_init(void);
void rt_fdwait_fini(void);
void rt_fdwait_harvest(struct rt_g ***tail);          /* rt_run, before any M */

/* ---- sysmon.c ------------------------------------------------------------ */
int rt_sysmon_start(void);
void rt_sysmon_stop(void);
void rt_sysmon_wake(void);   /* a P became busy: make sure the monitor watches */
void rt_sysmon_stats(struct rt_stats *st);

/* ---- sync.c / cpus.c ------------------------------------------------------ */
int rt_cpus_quota(void);
int rt_cpus_quota_from(const char *cgroup_root, const char *self_cgroup_file);

#endif
