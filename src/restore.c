// SPDX-License-Identifier: MIT
/*
 * The restore engine's driver and controller (a tree of processes, with their threads).
 *
 *   controller (ferry)                      each new task (ferry's code, then the blob)
 *   rst_plan_load: read+validate images
 *   rst_pstree_create: clone3(set_tid) ---> sessions, groups, children (rst-pstree.c)
 *   PTRACE_SEIZE each, "go" --------------> comm, personality, cwd/root, fds at high
 *                                           numbers, premap+fill memory, vDSO, blob args,
 *                                           fds in place, jump into the blob (pie/)
 *                                           blob: unmap ferry, mremap VMAs, PR_SET_MM_MAP,
 *                                           rlimits, sigactions, signals, creds, TLS
 *                                           threads: clone3(set_tid), each sets its own
 *                                           state and traps DONE too (PTRACE_O_TRACECLONE)
 *   SIGTRAP stop (int3, rax=DONE) <-------- int3 just before rt_sigreturn
 *   PTRACE_SYSCALL: rt_sigreturn entry/exit; the registers are now the target's
 *   the same for each other thread, which then stays stopped (the final barrier)
 *   block signals (PTRACE_SETSIGMASK), inject munmap(region) at the blob's `syscall`,
 *   put back registers and mask, check /proc/PID/maps; once every task got there (the
 *   barrier), PTRACE_DETACH every thread and then the leader of each (with SIGSTOP if
 *   asked, or if the task was stopped when dumped: task_state 3).
 *
 * Any failure before the detach kills every task created; images are only read.
 * Kernel interfaces: ptrace (SYSCALL, GETREGS/SETREGS, SIGMASK, DETACH); clone3 in rst-pstree.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "restore.h"
#include "timens.h"
#include "net.h"
#include "ipc.h"
#include "rst.h"
#include "share.h"

#define SYSCALL_STOP (SIGTRAP | 0x80)

static const char *const step_names[RST_STEP_NR] = {
	[RST_STEP_VERSION] = "argument version check", [RST_STEP_UNMAP] = "unmapping ferry",
	[RST_STEP_VDSO_PARK] = "parking the vDSO", [RST_STEP_MREMAP] = "moving a VMA",
	[RST_STEP_MPROTECT] = "protecting a VMA", [RST_STEP_MADVISE] = "madvise",
	[RST_STEP_VDSO_PLACE] = "placing the vDSO", [RST_STEP_MM_MAP] = "prctl(PR_SET_MM_MAP)",
	[RST_STEP_RLIMIT] = "setting rlimits", [RST_STEP_TID_ADDR] = "set_tid_address",
	[RST_STEP_ROBUST] = "set_robust_list", [RST_STEP_RSEQ] = "rseq registration",
	[RST_STEP_SIGACTION] = "rt_sigaction", [RST_STEP_SIGQUEUE] = "re-queueing signals",
	[RST_STEP_CREDS] = "credentials", [RST_STEP_TLS] = "TLS bases",
	[RST_STEP_PRCTL] = "prctl", [RST_STEP_THREAD] = "creating a thread (clone3 set_tid)",
	[RST_STEP_SCHED] = "scheduling policy and nice", [RST_STEP_TIMER] = "timers",
	[RST_STEP_SECCOMP] = "seccomp (a filter or strict mode)",
};

/* In each new live task, once it is seized: ferry's part of its restore, then the blob. */
static void restore_task(struct rst_task *t)
{
	if (share_rst_wait(t) || rst_task_prepare(t) || rst_fs_restore(t, false) ||
	    rst_files_open(t) ||
	    rst_mem_prepare(t) || rst_task_args(t))
		_exit(1);
	rst_jump(t);
}

static int wait_task(pid_t pid, int *status)
{
	while (waitpid(pid, status, __WALL) < 0) {
		if (errno != EINTR) {
			pr_perror("cannot wait for task %d", pid);
			return -errno;
		}
	}
	if (WIFEXITED(*status)) {
		pr_err("task %d exited with status %d during the restore (see the messages above)",
		       pid, WEXITSTATUS(*status));
		return -ECHILD;
	}
	if (WIFSIGNALED(*status)) {
		pr_err("task %d was killed by signal %d during the restore", pid, WTERMSIG(*status));
		return -ECHILD;
	}
	return 0;
}

/* Name the mapping holding ip, for a crash report. */
static void log_ip_mapping(pid_t pid, unsigned long ip)
{
	char path[64], line[4096];
	unsigned long s, e, off;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &s, &e, &off) == 3 && ip >= s && ip < e)
			pr_err("ip %#lx is at offset %#lx of %s", ip, ip - s + off, line);
	if (f)
		fclose(f);
}

static int report_fault(pid_t pid, int sig, const char *when)
{
	struct user_regs_struct r;

	ptrace(PTRACE_GETREGS, pid, NULL, &r);
	pr_err("task %d got %s %s, at ip %#llx sp %#llx", pid, strsignal(sig), when, r.rip, r.rsp);
	log_ip_mapping(pid, r.rip);
	return -EFAULT;
}

static bool is_restored_thread(const struct rst_task *t, pid_t tid)
{
	size_t i;

	for (i = 0; i < t->nr_thr; i++)
		if (t->thr[i].tid == tid)
			return true;
	return false;
}

/*
 * A clone reported by PTRACE_O_TRACECLONE: a restored thread stays in its first stop
 * until finish_threads(); a helper thread of ferry's own code (rst-mem.c fills memory
 * with two threads) is let go at once.
 */
static void on_clone(const struct rst_task *t, pid_t pid)
{
	unsigned long msg = 0;
	int st;

	if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) || is_restored_thread(t, msg))
		return;
	while (waitpid(msg, &st, __WALL) < 0 && errno == EINTR)
		;
	if (ptrace(PTRACE_DETACH, msg, NULL, NULL))
		pr_perror("cannot let ferry's helper thread %lu go", msg);
}

/* Run until the blob's int3: DONE (region in rdi/rsi) or FAIL (step, error, TID). */
static int wait_blob(const struct rst_task *t, pid_t pid, unsigned long *region,
		     unsigned long *len)
{
	struct user_regs_struct r;
	int st, sig, ret;

	for (;;) {
		ret = wait_task(pid, &st);
		if (ret)
			return ret;
		sig = WSTOPSIG(st);
		if (st >> 16 == PTRACE_EVENT_CLONE)
			on_clone(t, pid);
		if (st >> 16) { /* a group-stop or other event: keep going */
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		if (sig != SIGTRAP) {
			if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE)
				return report_fault(pid, sig, "while restoring");
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			continue;
		}
		if (ptrace(PTRACE_GETREGS, pid, NULL, &r)) {
			pr_perror("cannot read the registers of task %d", pid);
			return -errno;
		}
		if (r.rax == RST_TRAP_DONE) {
			*region = r.rdi;
			*len = r.rsi;
			return 0;
		}
		if (r.rax == RST_TRAP_FAIL) {
			pr_err("the restorer failed at %s in thread %lld: %s",
			       r.rdi < RST_STEP_NR && step_names[r.rdi] ? step_names[r.rdi] : "?",
			       (long long)r.rdx, strerror(-(long)r.rsi));
			if (r.rdi == RST_STEP_THREAD && (long)r.rsi == -EEXIST)
				rst_pid_in_use(r.rdx);
			return -EIO;
		}
		return report_fault(pid, sig, "in ferry's code");
	}
}

/* Resume to the next syscall stop; *r gets the registers there. */
static int next_syscall(pid_t pid, struct user_regs_struct *r)
{
	int st, ret;

	if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL)) {
		pr_perror("cannot resume task %d", pid);
		return -errno;
	}
	ret = wait_task(pid, &st);
	if (ret)
		return ret;
	if (WSTOPSIG(st) != SYSCALL_STOP)
		return report_fault(pid, WSTOPSIG(st), "around rt_sigreturn");
	if (ptrace(PTRACE_GETREGS, pid, NULL, r)) {
		pr_perror("cannot read the registers of task %d", pid);
		return -errno;
	}
	return 0;
}

/* Make the task munmap the region from the blob's own syscall instruction. */
static int unmap_region(pid_t pid, unsigned long insn, unsigned long region, unsigned long len,
			const struct user_regs_struct *target)
{
	struct user_regs_struct r = *target;
	int ret;

	r.rip = insn;
	r.rax = __NR_munmap;
	r.rdi = region;
	r.rsi = len;
	if (ptrace(PTRACE_SETREGS, pid, NULL, &r)) {
		pr_perror("cannot set the registers of task %d", pid);
		return -errno;
	}
	ret = next_syscall(pid, &r);
	if (!ret)
		ret = next_syscall(pid, &r);
	if (!ret && r.rax) {
		pr_err("task %d could not unmap the restorer: %s", pid, strerror(-(long)r.rax));
		ret = -EIO;
	}
	return ret;
}

/* Nothing of ferry may remain: no mapping in the region, none of ferry's binary. */
static int check_maps(pid_t pid, unsigned long region, unsigned long len)
{
	char path[64], exe[4096], line[4096 + 128];
	unsigned long s, e;
	ssize_t n;
	FILE *f;
	int ret = 0;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if ((s < region + len && e > region) || (n > 0 && strstr(line, exe))) {
			pr_err("task %d still maps a part of ferry: %s", pid, line);
			ret = -EIO;
		}
	}
	fclose(f);
	return ret;
}

/*
 * The other threads, one after the other: each runs from its creation stop to its DONE
 * report and through its rt_sigreturn, and then stays stopped there (the final barrier).
 */
static int finish_threads(struct rst_task *t)
{
	struct user_regs_struct r;
	unsigned long u1, u2;
	size_t i;
	int ret;

	for (i = 0; i < t->nr_thr; i++) {
		pid_t tid = t->thr[i].tid;

		ret = wait_blob(t, tid, &u1, &u2);
		if (!ret)
			ret = next_syscall(tid, &r);
		if (!ret)
			ret = next_syscall(tid, &r);
		if (ret) {
			pr_err("thread %d of task %d could not be restored", tid, t->pid);
			return ret;
		}
	}
	return 0;
}

static int detach_threads(struct rst_task *t, int sig)
{
	size_t i;

	for (i = 0; i < t->nr_thr; i++)
		if (ptrace(PTRACE_DETACH, t->thr[i].tid, NULL, (void *)(long)sig)) {
			pr_perror("cannot detach from thread %d", t->thr[i].tid);
			return -errno;
		}
	return 0;
}

/* From the blob's DONE report to a task stopped in the restored context, still traced. */
static int finish_task(struct rst_task *t)
{
	struct user_regs_struct r, target;
	unsigned long region = 0, len = 0, insn;
	uint64_t mask, all = ~0ULL;
	pid_t pid = t->pid;
	int ret;

	ret = wait_blob(t, pid, &region, &len);
	if (!ret)
		ret = next_syscall(pid, &r); /* rt_sigreturn entry */
	if (ret)
		return ret;
	insn = r.rip - 2;
	ret = next_syscall(pid, &target); /* exit: the target's registers */
	if (!ret)
		ret = finish_threads(t);
	if (ret)
		return ret;
	if (ptrace(PTRACE_GETSIGMASK, pid, (void *)sizeof(mask), &mask) ||
	    ptrace(PTRACE_SETSIGMASK, pid, (void *)sizeof(all), &all)) {
		pr_perror("cannot switch the signal mask of task %d", pid);
		return -errno;
	}
	ret = unmap_region(pid, insn, region, len, &target);
	if (ret)
		return ret;
	if (ptrace(PTRACE_SETREGS, pid, NULL, &target) ||
	    ptrace(PTRACE_SETSIGMASK, pid, (void *)sizeof(mask), &mask)) {
		pr_perror("cannot put back the registers of task %d", pid);
		return -errno;
	}
	return check_maps(pid, region, len);
}

/* The barrier: every task is in its restored context; let them all go at once. */
static int detach_all(struct rst_tree *tr)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < tr->nr_tasks; i++) {
		struct rst_task *t = &tr->tasks[i];
		bool stop = t->opts->leave_stopped ||
			    t->core->tc->task_state == TASK_STATE_STOPPED;
		int sig = stop ? SIGSTOP : 0;

		if (t->dead)
			continue;
		if (detach_threads(t, sig) ||
		    ptrace(PTRACE_DETACH, t->pid, NULL, (void *)(long)sig)) {
			pr_perror("cannot detach from task %d", t->pid);
			ret = ret ?: -errno;
		}
	}
	return ret;
}

static int finish_one(struct rst_tree *tr, size_t i)
{
	int ret = finish_task(&tr->tasks[i]);

	if (ret)
		pr_err("cannot restore task %d (%zu of %zu)", tr->tasks[i].pid, i + 1,
		       tr->nr_tasks);
	tr->tasks[i].finished = true;
	return ret;
}

/*
 * Every task to the final barrier, in tree order; the other tasks of a shared fd table
 * before its head, which waits for them to put the fds in place (share.c).
 */
static int finish_all(struct rst_tree *tr)
{
	size_t i, k;
	int ret = 0;

	for (i = 0; !ret && i < tr->nr_tasks; i++) {
		if (tr->tasks[i].dead || tr->tasks[i].finished)
			continue;
		for (k = i + 1; !ret && tr->tasks[i].nr_sharers && k < tr->nr_tasks; k++)
			if (!tr->tasks[k].dead && tr->tasks[k].files_head == (int)i)
				ret = finish_one(tr, k);
		share_rst_release(tr, i);
		if (!ret)
			ret = finish_one(tr, i);
	}
	return ret ?: detach_all(tr);
}

/* Refuse before creating anything when a TID of a thread is taken. */
static int check_tids_free(struct rst_tree *tr)
{
	size_t i, k;

	for (k = 0; k < tr->nr_tasks; k++) {
		struct rst_task *t = &tr->tasks[k];

		for (i = 0; i < t->nr_thr; i++)
			if (kill(t->thr[i].tid, 0) == 0 || errno != ESRCH) {
				rst_pid_in_use(t->thr[i].tid);
				pr_err("thread %d of task %d cannot get its TID back",
				       t->thr[i].tid, t->pid);
				return -EEXIST;
			}
	}
	return 0;
}

int restore_tree(const struct restore_opts *opts, pid_t *root_pid)
{
	struct rst_tree tr;
	int ret;

	ret = rst_plan_load(&tr, opts);
	if (!ret)
		ret = rst_pstree_plan(&tr);
	if (!ret)
		ret = check_tids_free(&tr);
	if (!ret)
		ret = cgroup_rst_prepare(&tr);
	if (!ret)
		ret = timens_restore(opts->dirfd, opts->images_dir, opts->timens);
	if (!ret)
		ret = ipc_restore(opts->dirfd, tr.tasks[0].ids);
	if (!ret && !tr.tasks[0].ids->has_net_ns_id) {
		/* connections in ours: locked, then the host links they need (kexec) */
		rst_tcp_lock(&tr.tasks[0]);
		ret = hostnet_restore(opts->dirfd, opts->images_dir);
	}
	if (!ret)
		ret = net_restore(opts->dirfd, opts->images_dir, tr.tasks[0].ids, &opts->externals);
	if (ret)
		goto out;
	pr_info("restoring %zu tasks under %u (%s) from %s", tr.nr_tasks, tr.tasks[0].pid,
		tr.tasks[0].core->tc->comm, opts->images_dir);
	ret = rst_pstree_create(&tr, restore_task);
	if (!ret)
		ret = finish_all(&tr);
	if (ret)
		rst_pstree_kill(&tr);
	else
		*root_pid = tr.tasks[0].pid;
out:
	net_restore_leave();	/* the tasks hold the tree's namespace now, or it goes */
	cgroup_rst_fini(&tr, ret != 0);
	if (ret)
		pr_err("cannot restore from %s", opts->images_dir);
	/* the tree's network lock, named by its root (every task knows the connections) */
	if (tr.nr_tasks)
		rst_sk_done(&tr.tasks[0], !ret);
	rst_plan_free(&tr);
	return ret;
}
