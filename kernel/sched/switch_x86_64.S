/*
 * sched_switch(void **save_sp, void *load_sp): save the callee-saved
 * registers on the current stack, store its pointer in *save_sp, load
 * load_sp and restore the registers saved there. The System V ABI makes
 * every other register the caller's to save, so this is the whole context.
 * (The MXCSR and x87 control words are callee-saved too; no kernel thread
 * changes them.)
 */
	.text
	.globl	sched_switch
	.type	sched_switch, @function
sched_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	sched_switch, .-sched_switch

	.section .note.GNU-stack,"",@progbits
