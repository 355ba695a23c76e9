/*
 * ctx_aarch64.S - green-thread context switch for AArch64 (AAPCS64).
 *
 * rt_ctx_swap(from, to): saves the callee-saved x19-x28, the frame
 * pointer x29, the link register x30 and d8-d15 in a 160-byte frame on
 * the current stack, stores sp in from->sp, loads to->sp, restores the
 * frame and returns to the restored x30.  Frame layout (offsets):
 *     0 x19 x20 | 16 x21 x22 | 32 x23 x24 | 48 x25 x26 | 64 x27 x28
 *    80 x29 x30 | 96 d8 d9 | 112 d10 d11 | 128 d12 d13 | 144 d14 d15
 * rt_ctx_make() puts rt_ctx_trampoline in x30, entry in x19, arg in x20.
 */
#if defined(__aarch64__)
	.text
	.globl	rt_ctx_swap
	.hidden	rt_ctx_swap
	.type	rt_ctx_swap, %function
	.p2align 4
rt_ctx_swap:
	sub	sp, sp, #160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x9, sp
	str	x9, [x0]
	ldr	x9, [x1]
	mov	sp, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	ret
	.size	rt_ctx_swap, .-rt_ctx_swap

	.globl	rt_ctx_trampoline
	.hidden	rt_ctx_trampoline
	.type	rt_ctx_trampoline, %function
	.p2align 4
rt_ctx_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x0, x20
	blr	x19
	brk	#0
	.cfi_endproc
	.size	rt_ctx_trampoline, .-rt_ctx_trampoline
#endif
	.section .note.GNU-stack,"",%progbits
