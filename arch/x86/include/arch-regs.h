/* SPDX-License-Identifier: MIT */
/*
 * The x86_64 hooks the generic dump code uses: reading and writing a stopped thread's
 * registers through ptrace, turning them into core-TID.img's thread_info, and the
 * calling convention for a syscall injected into a stopped task.
 */
#ifndef FERRY_ARCH_REGS_H
#define FERRY_ARCH_REGS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "core-x86.pb-c.h"

struct dtask;

struct arch_regs {
	struct user_regs_struct gp;
};

/* "syscall; int3": run one syscall, then trap back to the tracer. */
#define ARCH_SYSCALL_CODE { 0x0f, 0x05, 0xcc }
#define ARCH_SYSCALL_CODE_LEN 3

int arch_get_regs(pid_t pid, struct arch_regs *r);
int arch_set_regs(pid_t pid, const struct arch_regs *r);

/* Point r at a syscall instruction at ip with number nr and six arguments. */
void arch_inject_setup(struct arch_regs *r, uint64_t ip, long nr, const uint64_t args[6]);
long arch_syscall_ret(const struct arch_regs *r);
uint64_t arch_ip(const struct arch_regs *r);

/* Fill t->ti from t->regs (after the syscall-restart fix-up) and the task's xsave area. */
int arch_dump_thread_info(struct dtask *t);
/* The same for any thread tid of t, from its saved registers, into *out. */
int arch_dump_regs(struct dtask *t, pid_t tid, const struct arch_regs *regs,
		   ThreadInfoX86 **out);

#endif
