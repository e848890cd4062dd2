// SPDX-License-Identifier: MIT
/*
 * Seize and release one task: /proc checks (kernel thread, zombie, tracer, ferry's own
 * ancestry), PTRACE_SEIZE + PTRACE_INTERRUPT of the leader and then of every thread
 * (thread.c), PTRACE_GETSIGMASK, and detaching, killing or stopping it at the end.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "seize: "
#include "log.h"
#include "proc-parse.h"
#include "seize.h"
#include "thread.h"

#define PF_KTHREAD 0x00200000

static int check_not_ancestor(pid_t pid)
{
	struct proc_stat st;
	pid_t p = getpid();

	while (p > 0) {
		if (p == pid) {
			pr_err("process %d is ferry itself or one of its ancestors", pid);
			return -EINVAL;
		}
		if (proc_read_stat(p, &st))
			break;
		p = st.ppid;
	}
	return 0;
}

/* tracer: who may trace it (0 before we seize it, ferry itself after). */
static int check_status(pid_t pid, pid_t tracer)
{
	struct proc_status s;
	int ret = proc_read_status(pid, &s);

	free(s.groups);
	if (ret) {
		pr_err("cannot read /proc/%d/status", pid);
		return ret;
	}
	if (s.tracer != tracer) {
		pr_err("process %d is already traced by %d", pid, s.tracer);
		return -EBUSY;
	}
	return 0;
}

int seize_check(pid_t pid)
{
	struct proc_stat st;
	int ret;

	ret = proc_read_stat(pid, &st);
	if (ret == -ENOENT) {
		pr_err("no process %d", pid);
		return ret;
	}
	if (ret)
		return ret;
	if (st.flags & PF_KTHREAD) {
		pr_err("process %d is a kernel thread", pid);
		return -EINVAL;
	}
	if (st.state == 'Z' || st.state == 'X') {
		pr_err("process %d is a zombie (dead, not yet reaped)", pid);
		return -ESRCH;
	}
	ret = check_not_ancestor(pid);
	return ret ? ret : check_status(pid, 0);
}

bool seize_is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * Wait for the PTRACE_INTERRUPT stop. A signal reported first is delivered as it would
 * have been without us; the interrupt trap stays pending and comes next.
 */
static int wait_interrupt_stop(struct dtask *t)
{
	int status, sig;

	for (;;) {
		if (waitpid(t->pid, &status, __WALL) < 0) {
			pr_perror("cannot wait for %d to stop", t->pid);
			return -errno;
		}
		if (!WIFSTOPPED(status)) {
			pr_err("process %d died while being seized (status %#x)", t->pid, status);
			t->seized = false;
			return -ESRCH;
		}
		sig = WSTOPSIG(status);
		if (status >> 16 == PTRACE_EVENT_STOP) {
			t->was_stopped = seize_is_stop_signal(sig);
			return 0;
		}
		pr_info("%d: passing on signal %d that arrived while seizing", t->pid, sig);
		if (ptrace(PTRACE_CONT, t->pid, 0, sig)) {
			pr_perror("cannot resume %d to deliver signal %d", t->pid, sig);
			return -errno;
		}
	}
}

/* After the group stop ended: trap thread tid again (a SIGCONT it gets is swallowed). */
static int trap_again(pid_t tid)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) || ptrace(PTRACE_CONT, tid, 0, 0)) {
		pr_perror("cannot take thread %d out of its group stop", tid);
		return -errno;
	}
	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0 || !WIFSTOPPED(status)) {
			pr_perror("thread %d went away leaving its group stop", tid);
			return -ESRCH;
		}
		if (status >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGTRAP)
			return 0;
		if (status >> 16 != PTRACE_EVENT_STOP && WSTOPSIG(status) != SIGCONT) {
			pr_err("thread %d got signal %d while being seized", tid, WSTOPSIG(status));
			return -EAGAIN;
		}
		if (ptrace(PTRACE_CONT, tid, 0, 0)) {
			pr_perror("cannot resume %d", tid);
			return -errno;
		}
	}
}

/*
 * A task seized in a group stop re-enters it whenever it is resumed, so syscalls cannot
 * run in it. End the stop with SIGCONT (swallowed, never delivered) and trap every
 * thread again with PTRACE_INTERRUPT; release stops it again with SIGSTOP.
 */
static int leave_group_stop(struct dtask *t)
{
	size_t i;
	int ret;

	if (kill(t->pid, SIGCONT)) {
		pr_perror("cannot take stopped process %d out of its group stop", t->pid);
		return -errno;
	}
	ret = trap_again(t->pid);
	for (i = 0; !ret && i < t->n_thr; i++)
		ret = trap_again(t->thr[i].tid);
	return ret;
}

int seize_task(struct dtask *t)
{
	int ret;

	if (ptrace(PTRACE_SEIZE, t->pid, 0, 0)) {
		pr_perror("cannot seize process %d (PTRACE_SEIZE)", t->pid);
		return -errno;
	}
	t->seized = true;
	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0)) {
		pr_perror("cannot stop process %d (PTRACE_INTERRUPT)", t->pid);
		return -errno;
	}
	ret = wait_interrupt_stop(t);
	if (!ret)
		ret = thread_seize_all(t);
	if (!ret && t->was_stopped)
		ret = leave_group_stop(t);
	if (ret)
		return ret;
	/* It might have cloned between the checks and the stop. */
	ret = check_status(t->pid, getpid());
	if (ret)
		return ret;
	if (ptrace(PTRACE_GETSIGMASK, t->pid, sizeof(t->blocked), &t->blocked)) {
		pr_perror("cannot read the blocked signals of %d", t->pid);
		return -errno;
	}
	ret = arch_get_regs(t->pid, &t->regs);
	if (ret)
		return ret;
	t->saved = true;
	pr_info("seized %d%s", t->pid, t->was_stopped ? " (it was stopped)" : "");
	return ret;
}

void seize_abort(struct dtask *t)
{
	/* stopped again before any thread is let go, so that none of them runs */
	if (t->seized && t->was_stopped && kill(t->pid, SIGSTOP))
		pr_perror("cannot stop %d again", t->pid);
	thread_abort_all(t);
	if (!t->seized)
		return;
	if (t->saved) {
		arch_set_regs(t->pid, &t->regs);
		if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(t->blocked), &t->blocked))
			pr_perror("cannot put back the blocked signals of %d", t->pid);
	}
	if (ptrace(PTRACE_DETACH, t->pid, 0, 0))
		pr_perror("cannot detach from %d", t->pid);
	else
		pr_info("%d released unchanged", t->pid);
	t->seized = false;
}

static int kill_task(struct dtask *t)
{
	int status;

	if (kill(t->pid, SIGKILL)) {
		pr_perror("cannot kill %d", t->pid);
		return -errno;
	}
	thread_reap_all(t);
	for (;;) {
		if (waitpid(t->pid, &status, __WALL) < 0) {
			pr_perror("cannot wait for %d to die", t->pid);
			return -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
	}
	t->seized = false;
	pr_info("%d killed", t->pid);
	return 0;
}

int seize_release(struct dtask *t, enum dump_release how)
{
	if (how == DUMP_KILL)
		return kill_task(t);
	if ((how == DUMP_LEAVE_STOPPED || t->was_stopped) && kill(t->pid, SIGSTOP)) {
		pr_perror("cannot stop %d with SIGSTOP", t->pid);
		return -errno;
	}
	if (thread_detach_all(t))
		return -EIO;
	if (ptrace(PTRACE_DETACH, t->pid, 0, 0)) {
		pr_perror("cannot detach from %d", t->pid);
		return -errno;
	}
	t->seized = false;
	pr_info("%d left %s", t->pid, how == DUMP_LEAVE_STOPPED ? "stopped" : "running");
	return 0;
}
