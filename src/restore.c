// SPDX-License-Identifier: MIT
/*
 * The restore engine's driver and controller (one single-threaded process for now).
 *
 *   controller (ferry)                      new task (ferry's code, then the blob)
 *   rst_plan_load: read+validate images
 *   clone3(set_tid = PID) ----------------> waits for "go" on a pipe
 *   PTRACE_SEIZE, "go" -------------------> comm, personality, cwd/root, fds at high
 *                                           numbers, premap+fill memory, vDSO, blob args,
 *                                           fds in place, jump into the blob (pie/)
 *                                           blob: unmap ferry, mremap VMAs, PR_SET_MM_MAP,
 *                                           rlimits, sigactions, signals, creds, TLS
 *   SIGTRAP stop (int3, rax=DONE) <-------- int3 just before rt_sigreturn
 *   PTRACE_SYSCALL: rt_sigreturn entry/exit; the registers are now the target's
 *   block signals (PTRACE_SETSIGMASK), inject munmap(region) at the blob's `syscall`,
 *   put back registers and mask, check /proc/PID/maps, PTRACE_DETACH (with SIGSTOP if
 *   asked, or if the task was stopped when dumped: task_state 6).
 *
 * Any failure before the detach kills and reaps the new task; images are only read.
 * Kernel interfaces: clone3 (set_tid), ptrace (SEIZE, SYSCALL, GETREGS/SETREGS, SIGMASK).
 */
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "restore.h"
#include "rst.h"

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
	[RST_STEP_PRCTL] = "prctl",
};

static void __attribute__((noreturn)) child_main(struct rst_task *t, int go)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (read(go, &c, 1) != 1)
		_exit(1);
	close(go);
	if (rst_task_prepare(t) || rst_fs_restore(t) || rst_files_open(t) ||
	    rst_mem_prepare(t) || rst_task_args(t))
		_exit(1);
	rst_jump(t);
}

/* Name the holder of a PID we need; a zombie gets its own hint (see ENVIRONMENT.md). */
static void pid_in_use(pid_t pid)
{
	char path[64], buf[512], state = '?';
	const char *comm = "?", *rp;
	int fd, ppid = 0;
	ssize_t n = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	rp = strrchr(buf, ')');
	if (n > 0 && rp && strchr(buf, '(')) {
		comm = strchr(buf, '(') + 1;
		buf[rp - buf] = 0;
		sscanf(rp + 1, " %c %d", &state, &ppid);
	}
	if (state == 'Z')
		pr_err("PID %d is held by the zombie '%s', which its parent %d has not reaped yet; "
		       "restore once it is reaped", pid, comm, ppid);
	else
		pr_err("PID %d is in use by '%s'", pid, comm);
}

/* Create the task with its PID; it waits on go[0] until it is seized. */
static pid_t create_task(struct rst_task *t, int go[2])
{
	pid_t tid = t->pid;
	struct clone_args ca = { .exit_signal = SIGCHLD, .set_tid = (uintptr_t)&tid,
				 .set_tid_size = 1 };
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		close(go[1]);
		child_main(t, go[0]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		if (errno == EEXIST)
			pid_in_use(t->pid);
		else
			pr_perror("cannot create task %d with clone3(set_tid)", t->pid);
		return -1;
	}
	return pid;
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

/* Run until the blob's int3: DONE (region in rdi/rsi) or FAIL (step, error). */
static int wait_blob(pid_t pid, unsigned long *region, unsigned long *len)
{
	struct user_regs_struct r;
	int st, sig, ret;

	for (;;) {
		ret = wait_task(pid, &st);
		if (ret)
			return ret;
		sig = WSTOPSIG(st);
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
			pr_err("the restorer failed at %s: %s",
			       r.rdi < RST_STEP_NR && step_names[r.rdi] ? step_names[r.rdi] : "?",
			       strerror(-(long)r.rsi));
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

/* From the blob's DONE report to a detached task running the restored context. */
static int finish_task(pid_t pid, bool leave_stopped)
{
	struct user_regs_struct r, target;
	unsigned long region = 0, len = 0, insn;
	uint64_t mask, all = ~0ULL;
	int ret;

	ret = wait_blob(pid, &region, &len);
	if (!ret)
		ret = next_syscall(pid, &r); /* rt_sigreturn entry */
	if (ret)
		return ret;
	insn = r.rip - 2;
	ret = next_syscall(pid, &target); /* exit: the target's registers */
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
	ret = check_maps(pid, region, len);
	if (ret)
		return ret;
	if (ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)(leave_stopped ? SIGSTOP : 0))) {
		pr_perror("cannot detach from task %d", pid);
		return -errno;
	}
	return 0;
}

static void kill_task(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
}

static int start_task(struct rst_task *t, pid_t *out)
{
	int go[2], ret = 0;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC)) {
		pr_perror("cannot create a pipe");
		return -errno;
	}
	pid = create_task(t, go);
	close(go[0]);
	if (pid < 0) {
		close(go[1]);
		return -EEXIST;
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))) {
		pr_perror("cannot seize the new task %d", pid);
		ret = -errno;
	} else if (write(go[1], "g", 1) != 1) {
		pr_perror("cannot start the new task %d", pid);
		ret = -EIO;
	}
	close(go[1]);
	if (!ret)
		ret = finish_task(pid, t->opts->leave_stopped || t->core->tc->task_state == 6);
	if (ret) {
		kill_task(pid);
		return ret;
	}
	*out = pid;
	return 0;
}

int restore_tree(const struct restore_opts *opts, pid_t *root_pid)
{
	struct rst_task t;
	int ret;

	ret = rst_plan_load(&t, opts);
	if (!ret) {
		pr_info("restoring task %u (%s) from %s", t.pid, t.core->tc->comm, opts->images_dir);
		ret = start_task(&t, root_pid);
	}
	if (ret)
		pr_err("cannot restore from %s", opts->images_dir);
	rst_sk_done(&t, !ret);
	rst_plan_free(&t);
	return ret;
}
