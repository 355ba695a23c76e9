/*
 * ctx_x86_64.S - green-thread context switch for x86-64 System V.
 *
 * rt_ctx_swap(struct rt_ctx *from, struct rt_ctx *to): pushes the
 * callee-saved registers (rbp rbx r12-r15) and the callee-saved parts of
 * the floating-point state (MXCSR control/status and the x87 control
 * word), stores rsp in from->sp, loads to->sp and pops the same frame.
 * The frame, from low to high address:
 *     [mxcsr:4][x87cw:2][pad:2] r15 r14 r13 r12 rbx rbp  return-address
 * rt_ctx_make() (ctx.c) builds such a frame on a new stack whose
 * return address is rt_ctx_trampoline, with the entry function in r12
 * and its argument in r13.
 */
#if defined(__x86_64__)
	.text
	.globl	rt_ctx_swap
	.hidden	rt_ctx_swap
	.type	rt_ctx_swap, @function
	.p2align 4
rt_ctx_swap:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	rt_ctx_swap, .-rt_ctx_swap

/* First code run on a new stack: call entry(arg); entry never returns. */
	.globl	rt_ctx_trampoline
	.hidden	rt_ctx_trampoline
	.type	rt_ctx_trampoline, @function
	.p2align 4
rt_ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	call	*%r12
	ud2
	.cfi_endproc
	.size	rt_ctx_trampoline, .-rt_ctx_trampoline
#endif
	.section .note.GNU-stack,"",@progbits
