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
 * Overflow detection.  A PROT_NONE guard page splits the mapping: each
 * guarded slot costs two entries of vm.max_map_count (65530 by default).
 * So guard pages are given while a budget computed at start allows (about
 * 28,000 stacks by default); beyond it stacks get only the canary, a few
 * words at the low end checked at every switch out of the G (sched.c).
 * A fault on a guard page is reported by the SIGSEGV handler (sched.c).
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
	long guard_budget;      /* slots that may still get a guard page */
	bool guards;
	uint64_t mapped, guarded, trimmed;
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
	st.guards = guard_pages != 0;
#ifdef RT_VALGRIND
	/* Valgrind tracks every mapping split; guard pages exhaust its table. */
	if (RUNNING_ON_VALGRIND)
		st.guards = false;
#endif
	st.guard_budget = st.guards ? map_count_budget() : 0;
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

static const char *limit_msg = "no limit reached";

const char *rt_limit_message(void)
{
	return limit_msg;
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
			limit_msg = "out of memory for the stack chunk table";
			return NULL;
		}
		st.chunks = n;
		st.capchunks = cap;
	}
	struct stack_chunk *c = calloc(1, sizeof *c + nslots * sizeof c->slots[0]);
	if (!c) {
		limit_msg = "out of memory for stack descriptors";
		return NULL;
	}
	c->base = mmap(NULL, nslots * st.slot_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->base == MAP_FAILED) {
		free(c);
		limit_msg = errno == ENOMEM
			? "cannot map more stacks: address space, vm.max_map_count or vm.overcommit limit reached"
			: "cannot map more stacks";
		return NULL;
	}
#ifdef MADV_NOHUGEPAGE
	madvise(c->base, nslots * st.slot_size, MADV_NOHUGEPAGE);
#endif
	c->nslots = nslots;
	st.chunks[st.nchunks++] = c;
	return c;
}

/* Carve the next slot of the newest chunk; pool_lock held. */
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
	if (st.guard_budget > 0 && mprotect(base, st.page, PROT_NONE) == 0) {
		st.guard_budget--;
		st.guarded++;
		s->guarded = true;
		s->lo = base + st.page;
	}
	s->canary = !s->guarded && s != c->slots;
#ifdef RT_VALGRIND
	s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->hi);
#endif
	st.mapped++;
	return s;
}

/* Pool push/pop, pool_lock held. */
static bool pool_push(struct rt_stack *s)
{
	if (st.npool == st.cappool) {
		size_t cap = st.cappool ? 2 * st.cappool : 1024;
		void *n = realloc(st.pool, cap * sizeof *st.pool);
		if (!n)
			return false;
		st.pool = n;
		st.cappool = cap;
	}
	st.pool[st.npool++] = s;
	s->chunk->nfree_global++;
	return true;
}

static struct rt_stack *pool_pop(void)
{
	if (st.npool == 0)
		return slot_carve();
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
	struct rt_stack *s;
	rt_lock(&st.lock);
	s = pool_pop();
	/* Refill the cache with a batch while the lock is held. */
	while (s && p && p->nstack_cache < CACHE_BATCH && st.npool > 0)
		p->stack_cache[p->nstack_cache++] = pool_pop();
	rt_unlock(&st.lock);
	if (!s) {
		errno = EAGAIN;
		return NULL;
	}
	return g_init(s);
}

void rt_stack_put(struct rt_p *p, struct rt_stack *s)
{
	if (RT_LIKELY(p && p->nstack_cache < RT_STACK_CACHE)) {
		p->stack_cache[p->nstack_cache++] = s;
		return;
	}
	rt_lock(&st.lock);
	bool ok = pool_push(s);
	while (ok && p && p->nstack_cache > CACHE_BATCH)
		ok = pool_push(p->stack_cache[--p->nstack_cache]);
	rt_unlock(&st.lock);
	rt_assert(ok, "out of memory for the stack pool");
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

void rt_stacks_stats(struct rt_stats *s)
{
	rt_lock(&st.lock);
	s->stacks_mapped = st.mapped;
	s->stacks_guarded = st.guarded;
	s->stacks_trimmed = st.trimmed;
	rt_unlock(&st.lock);
}
