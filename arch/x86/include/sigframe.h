/* SPDX-License-Identifier: MIT */
/*
 * x86_64 rt_sigframe construction for the restore side: the kernel ABI layouts of
 * struct rt_sigframe / ucontext / sigcontext and the xsave signal-frame format
 * (fxsave area with the sw_reserved bytes, xsave header, components, MAGIC2 trailer).
 * rt_sigreturn on such a frame loads every register, the FPU state and the signal mask.
 */
#ifndef FERRY_X86_SIGFRAME_H
#define FERRY_X86_SIGFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core.pb-c.h"

#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U

/* Bytes of memory a frame needs (frame, xsave area, alignment slack). */
size_t sigframe_size(void);

/*
 * Build the frame in buf (which is mapped at the same address in the target, and is
 * sigframe_size() bytes). *rsp receives the stack pointer for rt_sigreturn.
 * Returns 0 or -EINVAL when the saved state is malformed (logged).
 */
int sigframe_build(void *buf, const ThreadInfoX86 *ti, uint64_t blocked,
		   const ThreadSasEntry *sas, unsigned long *rsp);

#endif
