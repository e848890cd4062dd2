/* SPDX-License-Identifier: MIT */
/*
 * The blob's two hand-written exits. rst_trap reports to the tracing controller with an
 * int3 (rax, rdi, rsi carry the report) and returns if resumed. rst_sigreturn switches to
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
	int3
	ret
	.size rst_trap, .-rst_trap

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
