/* SPDX-License-Identifier: MIT */
/*
 * The blob's hand-written pieces. rst_trap reports to the tracing controller with an
 * int3 (rax, rdi, rsi, rdx carry the report) and returns if resumed. rst_clone_thread
 * runs clone3 and calls fn(arg) on the new thread's stack (fn never returns). rst_sigreturn switches to
 * the prepared rt_sigframe and executes rt_sigreturn (x86_64 syscall 15); the controller
 * reuses its `syscall` instruction (rst_syscall_insn) to unmap the blob afterwards.
 */
	.text
	.globl rst_trap
	.hidden rst_trap
	.type rst_trap, @function
rst_trap:
	movq %rdi, %rax
	movq %rsi, %rdi
	movq %rdx, %rsi
	movq %rcx, %rdx
	int3
	ret
	.size rst_trap, .-rst_trap

	/* long rst_clone_thread(args, size, fn, arg): the child starts on args->stack */
	.globl rst_clone_thread
	.hidden rst_clone_thread
	.type rst_clone_thread, @function
rst_clone_thread:
	movq %rdx, %r8
	movq %rcx, %r9
	movq $435, %rax
	syscall
	testq %rax, %rax
	jnz 1f
	xorl %ebp, %ebp
	andq $-16, %rsp
	movq %r9, %rdi
	call *%r8
	ud2
1:	ret
	.size rst_clone_thread, .-rst_clone_thread

	.globl rst_sigreturn
	.hidden rst_sigreturn
	.type rst_sigreturn, @function
rst_sigreturn:
	movq %rdi, %rsp
	movq %rsi, %rdi
	movq %rdx, %rsi
	movq $0x66657279, %rax
	int3
	movq $15, %rax
	.globl rst_syscall_insn
	.hidden rst_syscall_insn
rst_syscall_insn:
	syscall
	ud2
	.size rst_sigreturn, .-rst_sigreturn
	.section .note.GNU-stack,"",@progbits
