/* SPDX-License-Identifier: MIT */
/*
 * Raw x86_64 system calls for the freestanding blob: no libc, no errno; each returns
 * the kernel's value (-errno on failure). Numbers are the x86_64 ABI's.
 */
#ifndef FERRY_PIE_SYSCALL_H
#define FERRY_PIE_SYSCALL_H

#define __NR_rt_sigaction	13
#define __NR_mprotect		10
#define __NR_munmap		11
#define __NR_rt_sigreturn	15
#define __NR_mremap		25
#define __NR_madvise		28
#define __NR_close		3
#define __NR_exit_group		231
#define __NR_setresuid		117
#define __NR_setresgid		119
#define __NR_setfsuid		122
#define __NR_setfsgid		123
#define __NR_setgroups		116
#define __NR_capset		126
#define __NR_rt_sigqueueinfo	129
#define __NR_prctl		157
#define __NR_arch_prctl		158
#define __NR_gettid		186
#define __NR_set_tid_address	218
#define __NR_rt_tgsigqueueinfo	297
#define __NR_prlimit64		302
#define __NR_set_robust_list	273
#define __NR_rseq		334
#define __NR_getpid		39
#define __NR_setpriority	141
#define __NR_sched_setscheduler	144
#define __NR_clone3		435
#define __NR_seccomp		317
#define __NR_setitimer		38
#define __NR_timer_create	222
#define __NR_timer_settime	223
#define __NR_timer_delete	226

static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 asm("r10") = d;
	register long r8 asm("r8") = e;
	register long r9 asm("r9") = f;
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
		     : "rcx", "r11", "memory");
	return ret;
}

#define sys0(nr) sys6(nr, 0, 0, 0, 0, 0, 0)
#define sys1(nr, a) sys6(nr, (long)(a), 0, 0, 0, 0, 0)
#define sys2(nr, a, b) sys6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(nr, a, b, c) sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(nr, a, b, c, d) sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(nr, a, b, c, d, e) sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#endif
