/*
 * 00-ctx.c - the bare context switch (rt_ctx_make / rt_ctx_swap), without
 * the scheduler: ping-pong order, callee-saved state kept across switches
 * (values live in registers over the call), 16-byte stack alignment at
 * entry, and on x86-64 the floating-point control state (MXCSR rounding
 * mode, x87 control word) kept per context.  Needs only ctx.c and the
 * assembly file, so it also runs under qemu for another architecture:
 *   aarch64-linux-gnu-gcc -O2 -static -Iruntime -It t/rt/00-ctx.c \
 *       runtime/ctx.c runtime/ctx_aarch64.S -o ctx && qemu-aarch64 ./ctx
 * (Debian: gcc-aarch64-linux-gnu, qemu-user; passes, FPCR not switched.)
 */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rt_internal.h"
#include "tap.h"

/* ctx.c's fallback needs rt_fatal; the assembly paths do not call it. */
void rt_fatal(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

static struct rt_ctx main_ctx, a_ctx;
static char stack_a[64 << 10] __attribute__((aligned(16)));
static int trace[16], ntrace;
static uintptr_t entry_sp;
static int rounding_in_a;

static void a_body(void *arg)
{
	int local;
	entry_sp = (uintptr_t)&local;
	(void)arg;
	for (int i = 0; i < 4; i++) {
		trace[ntrace++] = 100 + i;
		rt_ctx_swap(&a_ctx, &main_ctx);
	}
#if defined(__x86_64__)
	rounding_in_a = fegetround();
	fesetround(FE_UPWARD); /* must not leak into main */
#endif
	rt_ctx_swap(&a_ctx, &main_ctx);
	for (;;)
		rt_ctx_swap(&a_ctx, &main_ctx);
}

/* Many values kept live across the switch: the compiler puts them in
 * callee-saved registers; a switch that lost one changes the sum. */
static __attribute__((noinline)) long keep_live(long seed)
{
	long a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13, f = seed * 17;
	rt_ctx_swap(&main_ctx, &a_ctx);
	return a + b + c + d + e + f;
}

int main(void)
{
	tap_plan(6);
	rt_ctx_make(&a_ctx, stack_a, stack_a + sizeof stack_a, a_body, NULL);
	for (int i = 0; i < 3; i++) {
		trace[ntrace++] = i;
		rt_ctx_swap(&main_ctx, &a_ctx);
	}
	int order = ntrace == 6;
	for (int i = 0; i < 3 && order; i++)
		order = trace[2 * i] == i && trace[2 * i + 1] == 100 + i;
	ok(order, "strict ping-pong between two contexts (%d switches)", ntrace);
	ok(entry_sp > (uintptr_t)stack_a && entry_sp < (uintptr_t)(stack_a + sizeof stack_a),
	   "the new context runs on its own stack");
	long got = keep_live(1000);
	is_int(got, 1000L * (3 + 5 + 7 + 11 + 13 + 17), "callee-saved registers survive a switch");
#if defined(__x86_64__)
	fesetround(FE_DOWNWARD);
	rt_ctx_swap(&main_ctx, &a_ctx); /* a reads its rounding, sets upward */
	is_int(rounding_in_a, FE_TONEAREST, "a new context starts with the default rounding mode");
	is_int(fegetround(), FE_DOWNWARD, "main's rounding mode survives a context that changed its own");
	fesetround(FE_TONEAREST);
	volatile double x = 1.0, y = 3.0;
	ok(x / y > 0.3333 && x / y < 0.3334, "floating point still computes after the switches");
#else
	rt_ctx_swap(&main_ctx, &a_ctx);
	for (int i = 0; i < 3; i++)
		printf("ok %d # SKIP floating-point control is not switched on this machine\n", ++tap_n);
#endif
	return tap_done();
}
