// SPDX-License-Identifier: MIT
/*
 * core-PID.img task and thread parts, dump side: comm, personality, rlimits
 * (/proc/PID/limits: prlimit on another uid needs CAP_SYS_RESOURCE), oom_score_adj, loginuid,
 * scheduling (sched_getscheduler/getpriority), robust list (get_robust_list), rseq
 * (PTRACE_GET_RSEQ_CONFIGURATION), and by injected prctl: clear_child_tid, pdeath
 * signal, child subreaper, no_new_privs, THP disable; getitimer for the interval timers. POSIX timers are in
 * timer.c.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define LOG_PREFIX "task: "
#include "log.h"
#include "inject.h"
#include "mm-dump.h"

#define SCR_TID_ADDR 128
#define SCR_PDEATH 192
#define SCR_SUBREAPER 256
#define SCR_ITIMER 320

struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* prctl(option, scratch + off) in the task, then read the value it stored. */
static int prctl_get(struct dtask *t, int option, size_t off, void *val, size_t len)
{
	long ret;
	int err;

	err = inject_syscall(t, SYS_prctl, &ret, option, t->scratch + off, 0, 0, 0, 0);
	if (err)
		return err;
	if (ret) {
		errno = -ret;
		pr_perror("prctl %d in process %d failed", option, t->pid);
		return ret;
	}
	return inject_scratch_read(t, off, val, len);
}

/* A prctl that returns its value (PR_GET_NO_NEW_PRIVS, PR_GET_THP_DISABLE). */
static int prctl_value(struct dtask *t, int option, long *val)
{
	int err = inject_syscall(t, SYS_prctl, val, option, 0, 0, 0, 0, 0);

	if (!err && *val < 0) {
		errno = -*val;
		pr_perror("prctl %d in process %d failed", option, t->pid);
		return *val;
	}
	return err;
}

static ItimerEntry *dump_itimer(struct dtask *t, int which)
{
	ItimerEntry *e = dtask_alloc(t, sizeof(*e));
	struct itimerval v;
	long ret;

	if (!e || inject_syscall(t, SYS_getitimer, &ret, which, t->scratch + SCR_ITIMER, 0, 0, 0,
				 0))
		return NULL;
	if (ret) {
		errno = -ret;
		pr_perror("getitimer(%d) in process %d failed", which, t->pid);
		return NULL;
	}
	if (inject_scratch_read(t, SCR_ITIMER, &v, sizeof(v)))
		return NULL;
	itimer_entry__init(e);
	e->isec = v.it_interval.tv_sec, e->iusec = v.it_interval.tv_usec;
	e->vsec = v.it_value.tv_sec, e->vusec = v.it_value.tv_usec;
	return e;
}

static int dump_itimers(struct dtask *t)
{
	TaskTimersEntry *tt = dtask_alloc(t, sizeof(*tt));

	if (!tt)
		return -ENOMEM;
	task_timers_entry__init(tt);
	tt->real = dump_itimer(t, ITIMER_REAL);
	tt->virt = tt->real ? dump_itimer(t, ITIMER_VIRTUAL) : NULL;
	tt->prof = tt->virt ? dump_itimer(t, ITIMER_PROF) : NULL;
	if (!tt->prof)
		return -EIO;
	t->tc.timers = tt;
	return 0;
}

int task_dump_inject(struct dtask *t)
{
	uint64_t tid_addr = 0;
	int pdeath = 0, subreaper = 0, ret;
	long nnp = 0, thp = 0;

	ret = prctl_get(t, PR_GET_TID_ADDRESS, SCR_TID_ADDR, &tid_addr, sizeof(tid_addr));
	if (!ret)
		ret = prctl_get(t, PR_GET_PDEATHSIG, SCR_PDEATH, &pdeath, sizeof(pdeath));
	if (!ret)
		ret = prctl_get(t, PR_GET_CHILD_SUBREAPER, SCR_SUBREAPER, &subreaper,
				sizeof(subreaper));
	if (!ret)
		ret = dump_itimers(t);
	if (!ret)
		ret = prctl_value(t, PR_GET_NO_NEW_PRIVS, &nnp);
	if (!ret)
		ret = prctl_value(t, PR_GET_THP_DISABLE, &thp);
	if (ret)
		return ret;
	t->tc.has_no_new_privs = 1, t->tc.no_new_privs = nnp;
	t->mm.has_thp_disabled = 1, t->mm.thp_disabled = thp;
	t->ti->clear_tid_addr = tid_addr;
	t->thc.has_pdeath_sig = 1, t->thc.pdeath_sig = pdeath;
	t->tc.has_child_subreaper = 1, t->tc.child_subreaper = subreaper;
	return 0;
}

static int dump_rlimits(struct dtask *t)
{
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	TaskRlimitsEntry *rls = dtask_alloc(t, sizeof(*rls));
	RlimitEntry *e = dtask_alloc(t, PROC_NR_RLIMITS * sizeof(*e));
	RlimitEntry **pp = dtask_alloc(t, PROC_NR_RLIMITS * sizeof(*pp));
	int i, ret;

	if (!rls || !e || !pp)
		return -ENOMEM;
	ret = proc_read_limits(t->pid, lim);
	if (ret)
		return ret;
	task_rlimits_entry__init(rls);
	for (i = 0; i < PROC_NR_RLIMITS; i++) {
		rlimit_entry__init(&e[i]);
		e[i].cur = lim[i].cur;
		e[i].max = lim[i].max;
		pp[i] = &e[i];
	}
	rls->rlimits = pp;
	rls->n_rlimits = PROC_NR_RLIMITS;
	t->tc.rlimits = rls;
	return 0;
}

int task_dump_rseq(struct dtask *t, pid_t tid, ThreadCoreEntry *thc)
{
	struct rseq_config rc = { 0 };
	RseqEntry *e;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) < 0) {
		pr_perror("cannot read the rseq registration of %d", tid);
		return -errno;
	}
	if (!rc.rseq_abi_pointer)
		return 0;
	e = dtask_alloc(t, sizeof(*e));
	if (!e)
		return -ENOMEM;
	rseq_entry__init(e);
	e->rseq_abi_pointer = rc.rseq_abi_pointer;
	e->rseq_abi_size = rc.rseq_abi_size;
	e->signature = rc.signature;
	thc->rseq_entry = e;
	return 0;
}

int task_dump_sched(pid_t tid, ThreadCoreEntry *thc)
{
	struct sched_param sp;
	long head = 0;
	size_t len = 0;
	int policy, nice;

	if (syscall(SYS_get_robust_list, tid, &head, &len)) {
		pr_perror("cannot read the robust futex list of %d", tid);
		return -errno;
	}
	thc->futex_rla = head;
	thc->futex_rla_len = len;
	policy = sched_getscheduler(tid);
	errno = 0;
	nice = getpriority(PRIO_PROCESS, tid);
	if (policy < 0 || errno || sched_getparam(tid, &sp)) {
		pr_perror("cannot read the scheduling policy of %d", tid);
		return -errno;
	}
	thc->has_sched_policy = 1, thc->sched_policy = policy;
	thc->has_sched_nice = 1, thc->sched_nice = nice;
	thc->has_sched_prio = 1, thc->sched_prio = sp.sched_priority;
	return 0;
}

static int dump_proc_values(struct dtask *t)
{
	char buf[64];
	ssize_t n;

	n = proc_read_file(t->pid, "comm", buf, sizeof(buf), false);
	if (n < 0)
		return n;
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(t->comm, sizeof(t->comm), "%.16s", buf);
	n = proc_read_file(t->pid, "personality", buf, sizeof(buf), false);
	if (n < 0)
		return n;
	t->tc.personality = strtoul(buf, NULL, 16);
	n = proc_read_file(t->pid, "oom_score_adj", buf, sizeof(buf), false);
	if (n < 0)
		return n;
	t->tc.has_oom_score_adj = 1, t->tc.oom_score_adj = atoi(buf);
	/* absent when the kernel has no audit support: not saved then */
	if (proc_read_file(t->pid, "loginuid", buf, sizeof(buf), true) > 0)
		t->tc.has_loginuid = 1, t->tc.loginuid = strtoul(buf, NULL, 10);
	return 0;
}

int task_dump_core(struct dtask *t, const struct proc_stat *st)
{
	int ret;

	ret = dump_proc_values(t);
	if (!ret)
		ret = dump_rlimits(t);
	if (!ret)
		ret = task_dump_rseq(t, t->pid, &t->thc);
	if (!ret)
		ret = task_dump_sched(t->pid, &t->thc);
	if (ret)
		return ret;
	t->tc.task_state = t->was_stopped ? 3 : 1; /* CRIU's TASK_STOPPED, TASK_ALIVE */
	t->tc.exit_code = 0;
	t->tc.flags = st->flags;
	t->tc.blk_sigset = t->blocked;
	t->tc.comm = t->comm;
	t->thc.has_blk_sigset = 1, t->thc.blk_sigset = t->blocked;
	t->thc.comm = t->comm;
	return 0;
}
