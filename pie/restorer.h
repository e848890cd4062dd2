/* SPDX-License-Identifier: MIT */
/*
 * The contract between ferry (src/rst-*.c) and the restorer blob (pie/restorer.c): one
 * versioned argument struct, written by ferry into the blob's mapping before the jump.
 * Every pointer in it points into that same mapping or into the target's final layout.
 * Plain C types only: this header is compiled freestanding too.
 */
#ifndef FERRY_PIE_RESTORER_H
#define FERRY_PIE_RESTORER_H

#define RESTORER_ARGS_VERSION 2

/*
 * Values of the blob's int3 report: rax = RST_TRAP_*. FAIL: rdi = step, rsi = -errno,
 * rdx = the TID of the failing thread (or of the thread the step was for). DONE: rdi,
 * rsi = the region to unmap once rt_sigreturn has run (0 from the other threads).
 */
#define RST_TRAP_DONE 0x66657279UL	/* sigframe ready, rt_sigreturn follows */
#define RST_TRAP_FAIL 0x6661696cUL	/* a step failed; the task must be killed */

/* Steps, reported with RST_TRAP_FAIL so that the controller can say what failed. */
enum rst_step {
	RST_STEP_VERSION = 1,
	RST_STEP_UNMAP,
	RST_STEP_VDSO_PARK,
	RST_STEP_MREMAP,
	RST_STEP_MPROTECT,
	RST_STEP_MADVISE,
	RST_STEP_VDSO_PLACE,
	RST_STEP_MM_MAP,
	RST_STEP_RLIMIT,
	RST_STEP_TID_ADDR,
	RST_STEP_ROBUST,
	RST_STEP_RSEQ,
	RST_STEP_SIGACTION,
	RST_STEP_SIGQUEUE,
	RST_STEP_CREDS,
	RST_STEP_TLS,
	RST_STEP_PRCTL,
	RST_STEP_THREAD,
	RST_STEP_SCHED,
	RST_STEP_TIMER,
	RST_STEP_SECCOMP,
	RST_STEP_NR,
};

struct rst_range {
	unsigned long start;
	unsigned long len;
};

/* One VMA to move from its premapped place to its final one, then protect and advise. */
struct rst_vma {
	unsigned long premap;
	unsigned long start;
	unsigned long len;
	unsigned long madv;		/* bit n: madvise(n) to apply */
	unsigned int prot;
	unsigned int pad;
};

/* One piece of the kernel's [vvar]/[vvar_vclock]/[vdso] block, moved through scratch. */
struct rst_vdso_move {
	unsigned long cur;		/* where it is now */
	unsigned long scratch;		/* parking place inside the blob's reservation */
	unsigned long final;		/* where it ends */
	unsigned long len;
};

struct rst_sigaction {
	unsigned long handler;
	unsigned long flags;
	unsigned long restorer;
	unsigned long mask;
};

struct rst_siginfo {
	unsigned int shared;		/* 1: process-wide queue, 0: thread */
	int signo;
	unsigned char info[128];
};

struct rst_rlimit {
	unsigned long cur;
	unsigned long max;
};

/* struct prctl_mm_map of <linux/prctl.h>, spelled out for the freestanding build. */
struct rst_mm_map {
	unsigned long start_code, end_code;
	unsigned long start_data, end_data;
	unsigned long start_brk, brk;
	unsigned long start_stack;
	unsigned long arg_start, arg_end;
	unsigned long env_start, env_end;
	unsigned long auxv;		/* pointer to auxv[] below */
	unsigned int auxv_size;
	unsigned int exe_fd;
};

struct rst_creds {
	unsigned int uid, euid, suid, fsuid;
	unsigned int gid, egid, sgid, fsgid;
	unsigned int secbits;
	unsigned int nr_groups;
	unsigned long groups;		/* pointer to u32 array */
	unsigned int cap_eff[2], cap_prm[2], cap_inh[2];
	unsigned long long cap_bnd;	/* bit n set: keep capability n in the bounding set */
	unsigned int last_cap;
	unsigned int keepcaps;		/* SECBIT_KEEP_CAPS was set */
};

/*
 * One thread other than the leader: the leader creates it (clone3 with set_tid = tid) on
 * [stack, stack + stack_size); it sets what is per thread and rt_sigreturns on sigframe.
 */
struct rst_thread_args {
	int tid;
	int pdeath_sig;
	unsigned long args;		/* the struct restorer_args (creds) */
	unsigned long stack;
	unsigned long stack_size;
	unsigned long clear_tid;
	unsigned long robust_list;
	unsigned long robust_len;
	unsigned long rseq;		/* 0: none */
	unsigned int rseq_len;
	unsigned int rseq_sig;
	unsigned long siginfo;		/* struct rst_siginfo[], all thread-directed */
	unsigned int nr_siginfo;
	int has_sched;
	int sched_policy, sched_prio, sched_nice;
	char comm[16];
	int has_creds;			/* else the leader's */
	struct rst_creds creds;
	int no_new_privs;		/* PR_SET_NO_NEW_PRIVS */
	int seccomp_strict;		/* SECCOMP_MODE_STRICT as its very last step */
	unsigned long seccomp_filters;	/* struct rst_seccomp_filter[], on the leader's shared ones */
	unsigned int nr_seccomp_filters;
	unsigned long fs_base;
	unsigned long gs_base;
	unsigned long sigframe;
};

/* One POSIX timer, created with its id (timers are sorted by id). */
struct rst_posix_timer {
	int id;
	int clock;
	int signo;
	int notify;			/* sigev_notify: SIGEV_SIGNAL/NONE/THREAD, | SIGEV_THREAD_ID */
	int tid;			/* for SIGEV_THREAD_ID */
	int pad;
	unsigned long sival;
	unsigned long isec, insec;	/* interval */
	unsigned long vsec, vnsec;	/* time left to the next expiry, 0: disarmed */
};

/* struct itimerval: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF */
struct rst_itimer {
	unsigned long isec, iusec;
	unsigned long vsec, vusec;
};

/* One seccomp BPF program (struct sock_filter[len]), installed in array order. */
struct rst_seccomp_filter {
	unsigned long insns;
	unsigned int len;
	unsigned int flags;		/* SECCOMP_FILTER_FLAG_* */
};

#define RST_AUXV_MAX 128
#define RST_NSIG 64

struct restorer_args {
	unsigned int version;
	unsigned int size;		/* sizeof(struct restorer_args) */

	/* ferry's reservation holding the premap area, the blob, its args and stack */
	unsigned long region;
	unsigned long region_len;

	/* ferry's own mappings to drop first */
	unsigned long unmap;		/* struct rst_range[] */
	unsigned int nr_unmap;

	/* the vDSO block: moved (same vDSO) or parked aside (proxy) */
	unsigned int nr_vdso;
	struct rst_vdso_move vdso[4];

	unsigned long vmas;		/* struct rst_vma[] */
	unsigned int nr_vmas;
	unsigned int nr_siginfo;
	unsigned long siginfo;		/* struct rst_siginfo[] */

	struct rst_mm_map mm;
	unsigned long auxv[RST_AUXV_MAX];
	int dumpable;
	int pdeath_sig;
	int thp_disabled;		/* PR_SET_THP_DISABLE */
	int no_new_privs;		/* PR_SET_NO_NEW_PRIVS (the leader's) */

	struct rst_rlimit rlimits[16];
	unsigned int nr_rlimits;

	unsigned long clear_tid;
	unsigned long robust_list;
	unsigned long robust_len;
	unsigned long rseq;		/* 0: none */
	unsigned int rseq_len;
	unsigned int rseq_sig;

	unsigned int sa_valid[RST_NSIG];	/* 1: apply sigaction[n] to signal n+1 */
	struct rst_sigaction sigaction[RST_NSIG];

	int has_creds;
	struct rst_creds creds;

	int has_sched;			/* the leader's scheduling */
	int sched_policy, sched_prio, sched_nice;

	unsigned long threads;		/* struct rst_thread_args[] */
	unsigned int nr_threads;

	int has_itimers;
	struct rst_itimer itimers[3];
	unsigned long posix_timers;	/* struct rst_posix_timer[] */
	unsigned int nr_posix_timers;

	/* seccomp, root first: filters every thread has (installed before the threads exist),
	 * then the leader's own on top of them; strict mode as the leader's very last step */
	unsigned long seccomp_filters;	/* struct rst_seccomp_filter[] */
	unsigned int nr_seccomp_filters;
	unsigned long seccomp_own;	/* struct rst_seccomp_filter[] */
	unsigned int nr_seccomp_own;
	int seccomp_strict;

	unsigned long fs_base;
	unsigned long gs_base;
	unsigned long sigframe;		/* rsp for rt_sigreturn (points at uc) */
};

#endif
