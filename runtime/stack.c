/*
 * stack.c - green-thread stacks: carved from large lazily committed
 * mappings, pooled LIFO, returned to the kernel beyond what the pool keeps.
 *
 * Memory layout.  A chunk is one mmap(MAP_NORESERVE) of about 64 MiB cut
 * into equal slots of stack_size bytes; pages are committed only when
 * touched, so a parked G costs the pages its stack really uses (one, for
 * a G parked in a channel receive).  Each slot holds, from low to high:
 *     [guard page, if any][ ... stack grows down ... ][struct rt_g][16 zero bytes]
 * The G sits at the top of its own stack, so spawning takes one pool pop.
 *
 * Overflow detection.  Each stack gets a guard page below it when it can:
 *   - a guard marker (madvise MADV_GUARD_INSTALL, Linux 6.13 and later):
 *     a page-table entry that faults, without splitting the mapping, so
 *     every stack can have one, at about a sixth of mprotect's cost;
 *   - else a PROT_NONE page (mprotect), which splits the mapping: each
 *     such slot costs two entries of vm.max_map_count (65530 by default),
 *     so these are given while a budget computed at start allows (about
 *     28,000 stacks by default).
 * A stack without a guard page gets a canary, a few words at the low end
 * checked at every switch out of the G (sched.c).  A fault on a guard page
 * is reported by the SIGSEGV handler (sched.c).  The guard is installed
 * by the thread that carved the slot, after it dropped pool_lock.
 *
 * Pools.  Each P keeps a LIFO cache of up to 64 free stacks (no lock, no
 * syscall on the spawn path); overflow moves 32 to the global pool under
 * pool_lock, and refills take 32.  The monitor (rt_stacks_trim) gives back
 * every chunk whose slots are all in the global pool, with one
 * madvise(MADV_DONTNEED), while the pool holds more than KEEP_STACKS (the
 * slots stay usable and are zero-filled on next touch).
 *
 * Who touches what: chunk tables and the global pool under pool_lock;
 * a P's cache only by its owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef RT_VALGRIND
#include <valgrind/valgrind.h>
#endif
#ifdef RT_SANITIZE_ADDRESS
#include <sanitizer/asan_interface.h>
#endif
#ifdef RT_SANITIZE_THREAD
#include <sanitizer/tsan_interface.h>
#endif

#include "rt_internal.h"

#define CHUNK_BYTES (64u << 20)
#define KEEP_STACKS 1024
#define CACHE_BATCH (RT_STACK_CACHE / 2)
#define MAP_RESERVE 8192 /* map entries left to libc, libev, threads */

/* How stacks get their guard page (rt_config.guard_pages picks). */
enum guard_mode {
	GUARD_NONE,     /* canaries only */
	GUARD_MARKER,   /* madvise(MADV_GUARD_INSTALL) for every stack */
	GUARD_SPLIT,    /* mprotect(PROT_NONE) within the map-count budget */
};

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 <asm-generic/mman-common.h> */
#endif

struct stack_chunk {
	char *base;
	size_t nslots;          /* slots in the mapping */
	size_t ncarved;         /* slots handed out so far (pool_lock) */
	size_t nfree_global;    /* of those, in the global pool (pool_lock) */
	bool trimmed;           /* memory given back and not touched since */
	struct rt_stack slots[];
};

static struct {
	struct rt_lock lock;
	size_t slot_size;       /* bytes per slot, page multiple */
	size_t page;
	size_t g_size;          /* bytes reserved for the G at the top */
	struct stack_chunk **chunks;
	size_t nchunks, capchunks;
	struct rt_stack **pool; /* global free stacks, LIFO */
	size_t npool, cappool;
	enum guard_mode mode;
	long guard_budget;      /* GUARD_SPLIT: slots that may still get a guard page */
	uint64_t mapped;        /* slots carved: written under lock, read by rt_stacks_carved() */
	uint64_t guarded, trimmed;
} st;

size_t rt_stack_size(void)
{
	return st.slot_size;
}

static long map_count_budget(void)
{
	long max = 65530, used = 0;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 65530;
		fclose(f);
	}
	f = fopen("/proc/self/maps", "r");
	if (f) {
		int c;
		while ((c = getc(f)) != EOF)
			used += c == '\n';
		fclose(f);
	}
	long budget = (max - used - MAP_RESERVE) / 2;
	return budget > 0 ? budget : 0;
}

/* Does this kernel take guard markers?  (EINVAL before Linux 6.13.) */
static bool guard_markers_work(void)
{
	void *a = mmap(NULL, st.page, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return false;
	bool ok = madvise(a, st.page, MADV_GUARD_INSTALL) == 0;
	munmap(a, st.page);
	return ok;
}

int rt_stacks_init(size_t stack_size, int guard_pages)
{
	memset(&st, 0, sizeof st);
	st.page = (size_t)sysconf(_SC_PAGESIZE);
	if (stack_size == 0)
		stack_size = 64 << 10;
	if (stack_size < (16u << 10) || stack_size > (1u << 30)) {
		errno = EINVAL;
		return -1;
	}
	st.slot_size = (stack_size + st.page - 1) & ~(st.page - 1);
	/* The G, then RT_CANARY_BYTES never written (the canary of the slot above). */
	st.g_size = (sizeof(struct rt_g) + RT_CANARY_BYTES + 63) & ~(size_t)63;
	if (guard_pages < 0 || guard_pages > 2) {
		errno = EINVAL;
		return -1;
	}
	st.mode = guard_pages == 0 ? GUARD_NONE
		: guard_pages == 1 && guard_markers_work() ? GUARD_MARKER : GUARD_SPLIT;
#ifdef RT_VALGRIND
	/* Valgrind tracks every mapping split; guard pages exhaust its table. */
	if (RUNNING_ON_VALGRIND)
		st.mode = GUARD_NONE;
#endif
	st.guard_budget = st.mode == GUARD_SPLIT ? map_count_budget() : 0;
	return 0;
}

void rt_stacks_fini(void)
{
	for (size_t i = 0; i < st.nchunks; i++) {
		struct stack_chunk *c = st.chunks[i];
		for (size_t j = 0; j < c->ncarved; j++) {
#ifdef RT_VALGRIND
			VALGRIND_STACK_DEREGISTER(c->slots[j].vg_id);
#endif
#ifdef RT_SANITIZE_THREAD
			if (c->slots[j].tsan_fiber)
				__tsan_destroy_fiber(c->slots[j].tsan_fiber);
#endif
		}
		munmap(c->base, c->nslots * st.slot_size);
		free(c);
	}
	free(st.chunks);
	free(st.pool);
	memset(&st, 0, sizeof st);
}

static const char *limit_msg = "no limit reached"; /* any thread, atomically */

const char *rt_limit_message(void)
{
	return __atomic_load_n(&limit_msg, __ATOMIC_RELAXED);
}

void rt_limit_set(const char *msg)
{
	__atomic_store_n(&limit_msg, msg, __ATOMIC_RELAXED);
}

/* A new chunk; pool_lock held. */
static struct stack_chunk *chunk_new(void)
{
	size_t nslots = CHUNK_BYTES / st.slot_size;
	if (nslots == 0)
		nslots = 1;
	if (st.nchunks == st.capchunks) {
		size_t cap = st.capchunks ? 2 * st.capchunks : 64;
		void *n = realloc(st.chunks, cap * sizeof *st.chunks);
		if (!n) {
			rt_limit_set("out of memory for the stack chunk table");
			return NULL;
		}
		st.chunks = n;
		st.capchunks = cap;
	}
	struct stack_chunk *c = calloc(1, sizeof *c + nslots * sizeof c->slots[0]);
	if (!c) {
		rt_limit_set("out of memory for stack descriptors");
		return NULL;
	}
	c->base = mmap(NULL, nslots * st.slot_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->base == MAP_FAILED) {
		free(c);
		rt_limit_set(errno == ENOMEM
			? "cannot map more stacks: address space, vm.max_map_count or vm.overcommit limit reached"
			: "cannot map more stacks");
		return NULL;
	}
#ifdef MADV_NOHUGEPAGE
	madvise(c->base, nslots * st.slot_size, MADV_NOHUGEPAGE);
#endif
	c->nslots = nslots;
	st.chunks[st.nchunks++] = c;
	return c;
}

/* Carve the next slot of the newest chunk; pool_lock held.  The slot is
 * laid out for a guard page if it is to get one; slot_arm() installs it
 * after the lock is dropped. */
static struct rt_stack *slot_carve(void)
{
	struct stack_chunk *c = st.nchunks ? st.chunks[st.nchunks - 1] : NULL;
	if (!c || c->ncarved == c->nslots) {
		c = chunk_new();
		if (!c)
			return NULL;
	}
	struct rt_stack *s = &c->slots[c->ncarved++];
	char *base = c->base + (size_t)(s - c->slots) * st.slot_size;
	s->chunk = c;
	s->hi = base + st.slot_size - st.g_size;
	s->lo = base;
	if (st.mode == GUARD_MARKER || (st.mode == GUARD_SPLIT && st.guard_budget > 0)) {
		st.guard_budget -= st.mode == GUARD_SPLIT;
		st.guarded++;
		s->guarded = true;
		s->lo = base + st.page;
	}
	s->canary = !s->guarded && s != c->slots;
	__atomic_store_n(&st.mapped, st.mapped + 1, __ATOMIC_RELAXED);
	return s;
}

/* Finish a slot fresh from slot_carve(), pool_lock not held: install its
 * guard page (if that fails, the slot falls back to a canary). */
static void slot_arm(struct rt_stack *s)
{
	if (s->guarded) {
		char *base = s->lo - st.page;
		int err = st.mode == GUARD_MARKER ? madvise(base, st.page, MADV_GUARD_INSTALL)
			: mprotect(base, st.page, PROT_NONE);
		if (err != 0) {
			s->guarded = false;
			s->lo = base;
			s->canary = s != s->chunk->slots;
			rt_lock(&st.lock);
			st.guarded--;
			st.guard_budget = 0; /* mprotect failing: the map limit is near */
			rt_unlock(&st.lock);
		}
	}
#ifdef RT_VALGRIND
	s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->hi);
#endif
}

/* Pool push/pop, pool_lock held. */
/* Make the pool able to hold n free stacks; pool lock held.  Called
 * before carving, for every slot that will then exist, so that putting a
 * stack back never needs memory. */
static bool pool_reserve(size_t n)
{
	if (n <= st.cappool)
		return true;
	size_t cap = st.cappool ? st.cappool : 1024;
	while (cap < n)
		cap *= 2;
	void *p = realloc(st.pool, cap * sizeof *st.pool);
	if (!p)
		return false;
	st.pool = p;
	st.cappool = cap;
	return true;
}

/* Never fails: the pool has room for every slot carved (pool_reserve). */
static void pool_push(struct rt_stack *s)
{
	rt_assert(st.npool < st.cappool, "stack pool full: a slot was carved without room");
	st.pool[st.npool++] = s;
	s->chunk->nfree_global++;
}

static struct rt_stack *pool_pop(void)
{
	struct rt_stack *s = st.pool[--st.npool];
	s->chunk->nfree_global--;
	s->chunk->trimmed = false;
	return s;
}

/* g_init sets every field after ctx; this fails when one is appended
 * (a field inserted in the middle must be added by hand as well). */
#ifdef RT_SANITIZE_THREAD
#define G_LAST_FIELD tsan_fiber
#else
#define G_LAST_FIELD asan_fake
#endif
_Static_assert(offsetof(struct rt_g, G_LAST_FIELD) + sizeof(void *) == sizeof(struct rt_g),
               "g_init() must set the new field of struct rt_g");

static struct rt_g *g_init(struct rt_stack *s)
{
	struct rt_g *g = (struct rt_g *)s->hi;
#ifdef RT_SANITIZE_ADDRESS
	/* A G that exited left its frames' redzones poisoned. */
	ASAN_UNPOISON_MEMORY_REGION(s->lo, (size_t)(s->hi - s->lo));
#endif
	/* Field by field: memset or a compound literal compiles to rep stos,
	 * whose start-up cost was a third of spawn's time (the context is
	 * written by rt_ctx_make). */
	g->schedlink = NULL;
	g->id = 0;
	g->name = NULL;
	atomic_store_explicit(&g->status, 0, memory_order_relaxed);
	g->fn = NULL;
	g->arg = NULL;
	g->stack = s;
	g->saved_errno = 0;
	g->locks = 0;
	g->wait_reason = NULL;
	atomic_store_explicit(&g->wake, 0, memory_order_relaxed);
	g->wake_sudog = NULL;
	g->wake_events = 0;
	g->wake_timeout = false;
	g->asan_fake = NULL;
#ifdef RT_SANITIZE_THREAD
	g->tsan_fiber = NULL;
#endif
	return g;
}

struct rt_g *rt_stack_get(struct rt_p *p)
{
	if (RT_LIKELY(p && p->nstack_cache > 0))
		return g_init(p->stack_cache[--p->nstack_cache]);
	/* Slow path: one stack plus a batch for p's (empty) cache, from the
	 * global pool, or else freshly carved. */
	struct rt_stack *got[CACHE_BATCH + 1];
	int want = p ? CACHE_BATCH + 1 : 1, n = 0;
	bool fresh = false;
	rt_lock(&st.lock);
	while (n < want && st.npool > 0)
		got[n++] = pool_pop();
	if (n == 0) {
		fresh = true;
		if (pool_reserve(st.mapped + (size_t)want))
			while (n < want && (got[n] = slot_carve()) != NULL)
				n++;
		else
			rt_limit_set("out of memory for the stack pool");
	}
	rt_unlock(&st.lock);
	if (n == 0) {
		errno = EAGAIN;
		return NULL;
	}
	for (int i = 0; fresh && i < n; i++)
		slot_arm(got[i]);
	while (n > 1)
		p->stack_cache[p->nstack_cache++] = got[--n];
	return g_init(got[0]);
}

void rt_stack_put(struct rt_p *p, struct rt_stack *s)
{
	if (RT_LIKELY(p && p->nstack_cache < RT_STACK_CACHE)) {
		p->stack_cache[p->nstack_cache++] = s;
		return;
	}
	rt_lock(&st.lock);
	pool_push(s);
	while (p && p->nstack_cache > CACHE_BATCH)
		pool_push(p->stack_cache[--p->nstack_cache]);
	rt_unlock(&st.lock);
}

/* Give the memory of wholly free chunks back to the kernel while the pool
 * holds more than KEEP_STACKS.  Called by the monitor (about every 100 ms
 * while the runtime is busy, and when it goes idle), never on the spawn
 * or exit path.  The pool lock is held across madvise so no slot of the
 * chunk can be handed out meanwhile. */
void rt_stacks_trim(void)
{
	if (!rt_trylock(&st.lock))
		return;
	size_t spare = st.npool > KEEP_STACKS ? st.npool - KEEP_STACKS : 0;
	for (size_t i = 0; i < st.nchunks && spare > 0; i++) {
		struct stack_chunk *c = st.chunks[i];
		if (c->trimmed || c->nfree_global != c->nslots)
			continue;
		madvise(c->base, c->nslots * st.slot_size, MADV_DONTNEED);
		c->trimmed = true;
		st.trimmed += c->nslots;
		spare = spare > c->nslots ? spare - c->nslots : 0;
	}
	rt_unlock(&st.lock);
}

/* True if addr is in g's guard page or within the lowest page of its
 * stack (a canary-only stack overflowing into its neighbour's G). */
bool rt_stack_in_guard(const struct rt_g *g, const void *addr)
{
	const char *a = addr, *lo = g->stack->lo;
	return a < lo + st.page && a >= lo - st.page;
}

void rt_stack_foreach(void (*fn)(struct rt_g *, void *), void *arg)
{
	rt_lock(&st.lock);
	for (size_t i = 0; i < st.nchunks; i++) {
		struct stack_chunk *c = st.chunks[i];
		for (size_t j = 0; j < c->ncarved; j++) {
			struct rt_g *g = (struct rt_g *)c->slots[j].hi;
			if (!c->trimmed && g->stack == &c->slots[j])
				fn(g, arg);
		}
	}
	rt_unlock(&st.lock);
}

uint64_t rt_stacks_carved(void)
{
	return __atomic_load_n(&st.mapped, __ATOMIC_RELAXED);
}

void rt_stacks_stats(struct rt_stats *s)
{
	rt_lock(&st.lock);
	s->stacks_mapped = st.mapped;
	s->stacks_guarded = st.guarded;
	s->stacks_trimmed = st.trimmed;
	rt_unlock(&st.lock);
}
