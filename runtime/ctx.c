/*
 * ctx.c - building the first frame of a new green-thread stack for the
 * assembly switch (ctx_x86_64.S, ctx_aarch64.S), and the ucontext
 * fallback for other machines (slower: swapcontext makes a syscall).
 */
#include <stdint.h>
#include <string.h>

#include "rt_internal.h"

#if defined(__x86_64__)

void rt_ctx_trampoline(void);

void rt_ctx_make(struct rt_ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
	/* After rt_ctx_swap's final ret lands in the trampoline, rsp is the
	 * 16-aligned top, so the trampoline's call is ABI-aligned. */
	uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;
	(void)lo;
	*--sp = (uint64_t)(uintptr_t)rt_ctx_trampoline; /* return address */
	*--sp = 0;                          /* rbp */
	*--sp = 0;                          /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry; /* r12 */
	*--sp = (uint64_t)(uintptr_t)arg;   /* r13 */
	*--sp = 0;                          /* r14 */
	*--sp = 0;                          /* r15 */
	*--sp = 0x037f00001f80ULL;          /* MXCSR default, x87 control word default */
	ctx->sp = sp;
}

#elif defined(__aarch64__)

void rt_ctx_trampoline(void);

void rt_ctx_make(struct rt_ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
	uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)(top - 160);
	(void)lo;
	memset(sp, 0, 160);
	sp[0] = (uint64_t)(uintptr_t)entry;            /* x19 */
	sp[1] = (uint64_t)(uintptr_t)arg;              /* x20 */
	sp[11] = (uint64_t)(uintptr_t)rt_ctx_trampoline; /* x30 */
	ctx->sp = sp;
}

#else /* ucontext fallback */

static void ctx_start(unsigned hi_fn, unsigned lo_fn, unsigned hi_arg, unsigned lo_arg)
{
	void (*entry)(void *) = (void (*)(void *))(((uintptr_t)hi_fn << 32) | lo_fn);
	void *arg = (void *)(((uintptr_t)hi_arg << 32) | lo_arg);
	entry(arg);
	rt_fatal("green thread entry returned");
}

void rt_ctx_make(struct rt_ctx *ctx, void *lo, void *hi, void (*entry)(void *), void *arg)
{
	uint64_t f = (uintptr_t)entry, a = (uintptr_t)arg;
	getcontext(&ctx->uc);
	ctx->uc.uc_stack.ss_sp = lo;
	ctx->uc.uc_stack.ss_size = (size_t)((char *)hi - (char *)lo);
	ctx->uc.uc_link = NULL;
	makecontext(&ctx->uc, (void (*)(void))ctx_start, 4, (unsigned)(f >> 32),
			(unsigned)f, (unsigned)(a >> 32), (unsigned)a);
}

void rt_ctx_swap(struct rt_ctx *from, struct rt_ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

#endif
