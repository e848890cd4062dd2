// SPDX-License-Identifier: MIT
/*
 * The restorer blob: runs inside the task being restored after ferry's code jumped here.
 * Drops ferry's mappings, moves the premapped VMAs and the vDSO to their final addresses
 * (mremap), then sets what only the task itself can set: prctl(PR_SET_MM_MAP), rlimits,
 * tid address, robust list, rseq, sigactions, queued signals, the other threads (clone3
 * with set_tid; each sets its own tid address, robust list, rseq, signals, scheduling,
 * comm, seccomp filters, creds, no_new_privs and TLS; they inherit the seccomp filters
 * they all share, installed just before), interval and POSIX timers (ids kept), the
 * leader's own seccomp filters, credentials, TLS bases, seccomp strict mode for a thread
 * that was in it (after which only read/write/exit/rt_sigreturn work), and finally
 * rt_sigreturn into the saved context. Steps are reported to the tracing controller with
 * int3 (see arch/x86/pie/trap.S); the controller holds every thread until all are done,
 * then unmaps the blob.
 */
#include "restorer.h"
#include "syscall.h"

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define PR_SET_MM 35
#define PR_SET_MM_MAP 14
#define PR_SET_DUMPABLE 4
#define PR_SET_PDEATHSIG 1
#define PR_SET_KEEPCAPS 8
#define PR_GET_SECUREBITS 27
#define PR_SET_SECUREBITS 28
#define PR_CAPBSET_DROP 24
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define RSEQ_FLAG_UNREGISTER 1
#define PR_SET_NAME 15
#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_THP_DISABLE 41
#define PRIO_PROCESS 0
#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000

/* struct clone_args of <linux/sched.h>, up to set_tid_size (CLONE_ARGS_SIZE_VER1) */
struct rst_clone_args {
	unsigned long flags, pidfd, child_tid, parent_tid, exit_signal;
	unsigned long stack, stack_size, tls, set_tid, set_tid_size;
};

void rst_trap(unsigned long code, unsigned long step, long err, long tid);
void rst_sigreturn(unsigned long frame, unsigned long region, unsigned long region_len)
	__attribute__((noreturn));
long rst_clone_thread(struct rst_clone_args *ca, unsigned long size,
		      void (*fn)(struct rst_thread_args *), struct rst_thread_args *arg);

static void __attribute__((noreturn)) fail_tid(enum rst_step step, long err, long tid)
{
	for (;;) {
		rst_trap(RST_TRAP_FAIL, step, err, tid);
		sys1(__NR_exit_group, 128 + step);
	}
}

static void __attribute__((noreturn)) fail(enum rst_step step, long err)
{
	fail_tid(step, err, sys0(__NR_gettid));
}

#define CHECK(step, expr)                                                                        \
	do {                                                                                     \
		long __r = (expr);                                                               \
		if (__r < 0)                                                                     \
			fail(step, __r);                                                         \
	} while (0)

static void unmap_ferry(struct restorer_args *a)
{
	struct rst_range *r = (struct rst_range *)a->unmap;
	unsigned int i;

	for (i = 0; i < a->nr_unmap; i++)
		CHECK(RST_STEP_UNMAP, sys2(__NR_munmap, r[i].start, r[i].len));
}

static long move(unsigned long from, unsigned long len, unsigned long to)
{
	long r;

	if (from == to)
		return 0;
	r = sys5(__NR_mremap, from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (r >= 0 && (unsigned long)r != to)
		return -14;
	return r < 0 ? r : 0;
}

static void place_vmas(struct restorer_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	unsigned int i, n;

	for (i = 0; i < a->nr_vdso; i++)
		CHECK(RST_STEP_VDSO_PARK, move(a->vdso[i].cur, a->vdso[i].len, a->vdso[i].scratch));
	for (i = 0; i < a->nr_vmas; i++)
		CHECK(RST_STEP_MREMAP, move(v[i].premap, v[i].len, v[i].start));
	for (i = 0; i < a->nr_vmas; i++) {
		CHECK(RST_STEP_MPROTECT, sys3(__NR_mprotect, v[i].start, v[i].len, v[i].prot));
		for (n = 0; n < 64; n++)
			if (v[i].madv & (1UL << n))
				sys3(__NR_madvise, v[i].start, v[i].len, n); /* advice only */
	}
	for (i = 0; i < a->nr_vdso; i++)
		CHECK(RST_STEP_VDSO_PLACE, move(a->vdso[i].scratch, a->vdso[i].len, a->vdso[i].final));
}

static void set_mm(struct restorer_args *a)
{
	unsigned int i;

	a->mm.auxv = (unsigned long)a->auxv;
	CHECK(RST_STEP_MM_MAP, sys5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, &a->mm, sizeof(a->mm), 0));
	sys1(__NR_close, a->mm.exe_fd);
	for (i = 0; i < a->nr_rlimits; i++)
		CHECK(RST_STEP_RLIMIT, sys4(__NR_prlimit64, 0, i, &a->rlimits[i], 0));
}

static void set_thread(struct restorer_args *a)
{
	sys1(__NR_set_tid_address, a->clear_tid);
	CHECK(RST_STEP_ROBUST, sys2(__NR_set_robust_list, a->robust_list, a->robust_len));
	if (a->rseq)
		CHECK(RST_STEP_RSEQ, sys4(__NR_rseq, a->rseq, a->rseq_len, 0, a->rseq_sig));
}

static void set_sched(int has, int policy, int prio, int nice)
{
	int param = prio;

	if (!has)
		return;
	CHECK(RST_STEP_SCHED, sys3(__NR_sched_setscheduler, 0, policy, &param));
	CHECK(RST_STEP_SCHED, sys3(__NR_setpriority, PRIO_PROCESS, 0, nice));
}

static void set_signals(struct restorer_args *a)
{
	struct rst_siginfo *si = (struct rst_siginfo *)a->siginfo;
	long pid = sys0(__NR_getpid);
	unsigned int i;

	for (i = 0; i < RST_NSIG; i++)
		if (a->sa_valid[i])
			CHECK(RST_STEP_SIGACTION,
			      sys4(__NR_rt_sigaction, i + 1, &a->sigaction[i], 0, 8));
	for (i = 0; i < a->nr_siginfo; i++) {
		if (si[i].shared)
			CHECK(RST_STEP_SIGQUEUE,
			      sys3(__NR_rt_sigqueueinfo, pid, si[i].signo, si[i].info));
		else
			CHECK(RST_STEP_SIGQUEUE, sys4(__NR_rt_tgsigqueueinfo, pid, pid, si[i].signo,
						      si[i].info));
	}
}

struct cap_header {
	unsigned int version;
	int pid;
};

struct cap_data {
	unsigned int eff, prm, inh;
};

static void set_caps(struct rst_creds *c)
{
	struct cap_header h = { 0x20080522, 0 };
	struct cap_data d[2];
	int i;

	for (i = 0; i < 2; i++) {
		d[i].eff = c->cap_eff[i];
		d[i].prm = c->cap_prm[i];
		d[i].inh = c->cap_inh[i];
	}
	CHECK(RST_STEP_CREDS, sys2(__NR_capset, &h, d));
}

/* Order matters: ids while still privileged, keep caps over the uid change, caps last. */
static void set_creds(struct rst_creds *c)
{
	unsigned int n;

	CHECK(RST_STEP_CREDS, sys2(__NR_setgroups, c->nr_groups, c->groups));
	CHECK(RST_STEP_CREDS, sys3(__NR_setresgid, c->gid, c->egid, c->sgid));
	sys1(__NR_setfsgid, c->fsgid);
	for (n = 0; n <= c->last_cap && n < 64; n++)
		if (!(c->cap_bnd & (1ULL << n)))
			CHECK(RST_STEP_CREDS, sys2(__NR_prctl, PR_CAPBSET_DROP, n));
	if ((unsigned long)sys1(__NR_prctl, PR_GET_SECUREBITS) != c->secbits)
		CHECK(RST_STEP_CREDS, sys2(__NR_prctl, PR_SET_SECUREBITS, c->secbits));
	sys2(__NR_prctl, PR_SET_KEEPCAPS, 1);
	CHECK(RST_STEP_CREDS, sys3(__NR_setresuid, c->uid, c->euid, c->suid));
	sys1(__NR_setfsuid, c->fsuid);
	set_caps(c);
	sys2(__NR_prctl, PR_SET_KEEPCAPS, c->keepcaps);
}

/* struct sock_fprog */
struct rst_fprog {
	unsigned short len;
	unsigned short pad[3];
	unsigned long filter;
};

#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_SET_MODE_FILTER 1

/*
 * While still privileged (no no_new_privs needed). The controller traces with
 * PTRACE_O_SUSPEND_SECCOMP (new threads inherit it), so the restorer's own syscalls after
 * this point are not filtered.
 */
static void set_seccomp(unsigned long list, unsigned int n)
{
	struct rst_seccomp_filter *f = (struct rst_seccomp_filter *)list;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct rst_fprog prog = { .len = f[i].len, .filter = f[i].insns };

		CHECK(RST_STEP_SECCOMP,
		      sys3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f[i].flags, &prog));
	}
}

/* The very last step before rt_sigreturn: strict mode allows nothing else. */
static void set_seccomp_strict(int strict)
{
	if (strict)
		CHECK(RST_STEP_SECCOMP, sys3(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0));
}

/* A new thread: everything per thread, then its own rt_sigreturn (the controller waits). */
static void __attribute__((noreturn)) thread_entry(struct rst_thread_args *th)
{
	struct rst_siginfo *si = (struct rst_siginfo *)th->siginfo;
	long pid = sys0(__NR_getpid);
	unsigned int i;

	sys1(__NR_set_tid_address, th->clear_tid);
	CHECK(RST_STEP_ROBUST, sys2(__NR_set_robust_list, th->robust_list, th->robust_len));
	if (th->rseq)
		CHECK(RST_STEP_RSEQ, sys4(__NR_rseq, th->rseq, th->rseq_len, 0, th->rseq_sig));
	for (i = 0; i < th->nr_siginfo; i++)
		CHECK(RST_STEP_SIGQUEUE,
		      sys4(__NR_rt_tgsigqueueinfo, pid, th->tid, si[i].signo, si[i].info));
	set_sched(th->has_sched, th->sched_policy, th->sched_prio, th->sched_nice);
	sys2(__NR_prctl, PR_SET_NAME, th->comm);
	set_seccomp(th->seccomp_filters, th->nr_seccomp_filters);
	if (th->has_creds)
		set_creds(&th->creds);
	else if (((struct restorer_args *)th->args)->has_creds)
		set_creds(&((struct restorer_args *)th->args)->creds);
	if (th->no_new_privs)
		CHECK(RST_STEP_PRCTL, sys5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(RST_STEP_PRCTL, sys2(__NR_prctl, PR_SET_PDEATHSIG, th->pdeath_sig));
	CHECK(RST_STEP_TLS, sys2(__NR_arch_prctl, ARCH_SET_FS, th->fs_base));
	CHECK(RST_STEP_TLS, sys2(__NR_arch_prctl, ARCH_SET_GS, th->gs_base));
	set_seccomp_strict(th->seccomp_strict);
	rst_sigreturn(th->sigframe, 0, 0);
}

/* struct sigevent as the kernel reads it (64 bytes) */
struct rst_sigevent {
	unsigned long value;
	int signo;
	int notify;
	int tid;
	int pad[11];
};

struct rst_itimerspec {
	unsigned long isec, insec, vsec, vnsec;
};

#define PR_TIMER_CREATE_RESTORE_IDS 77
#define TIMER_LINEAR_TRIES 65536

/* Create timer tm with its id: asked for (restore-ids mode), or by creating in order. */
static void create_timer(const struct rst_posix_timer *tm, int by_id)
{
	struct rst_sigevent sev = { .value = tm->sival, .signo = tm->signo,
				    .notify = tm->notify, .tid = tm->tid };
	int id = tm->id, n;

	if (by_id) {
		CHECK(RST_STEP_TIMER, sys3(__NR_timer_create, tm->clock, &sev, &id));
		if (id != tm->id)
			fail(RST_STEP_TIMER, -17);
		return;
	}
	for (n = 0; n < TIMER_LINEAR_TRIES; n++) {
		CHECK(RST_STEP_TIMER, sys3(__NR_timer_create, tm->clock, &sev, &id));
		if (id == tm->id)
			return;
		if (id > tm->id)
			fail(RST_STEP_TIMER, -17);
		CHECK(RST_STEP_TIMER, sys1(__NR_timer_delete, id));
	}
	fail(RST_STEP_TIMER, -17);
}

/* After the threads exist (a timer may signal one of them); armed last. */
static void set_timers(struct restorer_args *a)
{
	struct rst_posix_timer *tm = (struct rst_posix_timer *)a->posix_timers;
	unsigned int i;
	int by_id;

	if (a->has_itimers)
		for (i = 0; i < 3; i++)
			CHECK(RST_STEP_TIMER, sys3(__NR_setitimer, i, &a->itimers[i], 0));
	if (!a->nr_posix_timers)
		return;
	by_id = sys2(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, 1) == 0;
	for (i = 0; i < a->nr_posix_timers; i++)
		create_timer(&tm[i], by_id);
	if (by_id)
		sys2(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, 0);
	for (i = 0; i < a->nr_posix_timers; i++) {
		struct rst_itimerspec its = { tm[i].isec, tm[i].insec, tm[i].vsec, tm[i].vnsec };

		if (its.vsec || its.vnsec)
			CHECK(RST_STEP_TIMER, sys4(__NR_timer_settime, tm[i].id, 0, &its, 0));
	}
}

/* Before the credentials change: clone3 with set_tid needs CAP_SYS_ADMIN. */
static void create_threads(struct restorer_args *a)
{
	struct rst_thread_args *th = (struct rst_thread_args *)a->threads;
	unsigned int i;

	for (i = 0; i < a->nr_threads; i++) {
		long tid = th[i].tid;
		struct rst_clone_args ca = {
			.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				 CLONE_SYSVSEM,
			.stack = th[i].stack, .stack_size = th[i].stack_size,
			.set_tid = (unsigned long)&tid, .set_tid_size = 1,
		};
		long r = rst_clone_thread(&ca, sizeof(ca), thread_entry, &th[i]);

		if (r < 0)
			fail_tid(RST_STEP_THREAD, r, tid);
	}
}

__attribute__((section(".text.entry"), noreturn, used)) void
restorer_entry(struct restorer_args *a)
{
	if (a->version != RESTORER_ARGS_VERSION || a->size != sizeof(*a))
		fail(RST_STEP_VERSION, -22);
	unmap_ferry(a);
	place_vmas(a);
	set_mm(a);
	set_thread(a);
	set_signals(a);
	set_sched(a->has_sched, a->sched_policy, a->sched_prio, a->sched_nice);
	set_seccomp(a->seccomp_filters, a->nr_seccomp_filters);
	create_threads(a);
	set_seccomp(a->seccomp_own, a->nr_seccomp_own);
	set_timers(a);
	if (a->has_creds)
		set_creds(&a->creds);
	if (a->no_new_privs)
		CHECK(RST_STEP_PRCTL, sys5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	if (a->thp_disabled)
		CHECK(RST_STEP_PRCTL, sys5(__NR_prctl, PR_SET_THP_DISABLE, 1, 0, 0, 0));
	CHECK(RST_STEP_PRCTL, sys2(__NR_prctl, PR_SET_DUMPABLE, a->dumpable));
	CHECK(RST_STEP_PRCTL, sys2(__NR_prctl, PR_SET_PDEATHSIG, a->pdeath_sig));
	CHECK(RST_STEP_TLS, sys2(__NR_arch_prctl, ARCH_SET_FS, a->fs_base));
	CHECK(RST_STEP_TLS, sys2(__NR_arch_prctl, ARCH_SET_GS, a->gs_base));
	set_seccomp_strict(a->seccomp_strict);
	rst_sigreturn(a->sigframe, a->region, a->region_len);
}
