/* SPDX-License-Identifier: MIT */
/*
 * Running syscalls inside a seized, stopped task. inject_init() pokes a syscall
 * instruction at the start of an executable area and blocks signals; inject_syscall()
 * runs one call there; inject_fini() puts back the code, registers and signal mask
 * exactly. A scratch page (inject_scratch_map) receives what the syscalls write.
 */
#ifndef FERRY_INJECT_H
#define FERRY_INJECT_H

#include "dtask.h"

int inject_init(struct dtask *t);
/* 0 with the syscall's return value in *ret, or -errno when injecting failed. */
int inject_syscall(struct dtask *t, long nr, long *ret, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5);
int inject_fini(struct dtask *t);
/*
 * The same in another thread tid of t (seized, stopped, its signals blocked), starting from
 * its saved registers regs; the caller puts its registers back after the last call.
 */
int inject_syscall_on(struct dtask *t, pid_t tid, const struct arch_regs *regs, long nr,
		      long *ret, const uint64_t args[6]);

int inject_scratch_map(struct dtask *t);
int inject_scratch_unmap(struct dtask *t);
/* Copy len bytes at scratch + off into buf. */
int inject_scratch_read(struct dtask *t, size_t off, void *buf, size_t len);

#endif
