// SPDX-License-Identifier: MIT
/*
 * Threads other than the leader, both directions. Dump: PTRACE_SEIZE + PTRACE_INTERRUPT
 * of every TID in /proc/PID/task (rescanned until stable), then per thread its registers
 * and xsave area, blocked mask, private pending signals (PTRACE_PEEKSIGINFO), rseq
 * (PTRACE_GET_RSEQ_CONFIGURATION), robust list, scheduling, comm, credentials, and by
 * injected syscalls sigaltstack, PR_GET_TID_ADDRESS, PR_GET_PDEATHSIG and
 * PR_GET_SECUREBITS; one core-TID.img each.
 * Restore: core-TID.img checked and turned into the restorer's struct rst_thread_args;
 * pie/restorer.c creates the threads (clone3 with set_tid) and each restores itself.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "thread: "
#include "log.h"
#include "image.h"
#include "inject.h"
#include "mm-dump.h"
#include "proc-parse.h"
#include "rst.h"
#include "sigframe.h"
#include "thread.h"

#define SEIZE_ROUNDS 1000
#define SCR_THR_ALTSTACK 512
#define SCR_THR_TID_ADDR 576
#define SCR_THR_PDEATH 640

static bool is_known(const struct dtask *t, pid_t tid)
{
	size_t i;

	if (tid == t->pid)
		return true;
	for (i = 0; i < t->n_thr; i++)
		if (t->thr[i].tid == tid)
			return true;
	return false;
}

/*
 * 0 when stopped by our interrupt (in the group stop when stopped), 1 when the thread
 * exited meanwhile, or -errno.
 */
static int wait_thread_stop(pid_t tid, bool stopped)
{
	int status, sig;

	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			pr_perror("cannot wait for thread %d to stop", tid);
			return -errno;
		}
		if (!WIFSTOPPED(status))
			return 1;
		sig = WSTOPSIG(status);
		if (status >> 16 == PTRACE_EVENT_STOP) {
			if ((sig == SIGTRAP) != stopped)
				return 0;
			pr_err("thread %d is %sin a group stop (signal %d) and its leader is %s: "
			       "the "
			       "process was stopped or continued while being seized",
			       tid, stopped ? "not " : "", sig, stopped ? "stopped" : "running");
			return -EAGAIN;
		}
		pr_info("thread %d: passing on signal %d that arrived while seizing", tid, sig);
		if (ptrace(PTRACE_CONT, tid, 0, sig)) {
			pr_perror("cannot resume thread %d to deliver signal %d", tid, sig);
			return -errno;
		}
	}
}

#define PF_EXITING 0x4	/* the kernel's task flag, in /proc/PID/stat */

/* PTRACE_SEIZE says EPERM for a thread that is exiting (or has exited): it is gone. */
static bool thread_exiting(pid_t tid)
{
	struct proc_stat st;

	if (proc_read_stat(tid, &st))
		return true;
	return st.state == 'Z' || st.state == 'X' || (st.flags & PF_EXITING);
}

/* 1: seized and stopped, 0: it is gone, or -errno. */
static int seize_one(struct dtask *t, pid_t tid)
{
	struct dthread *th;
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
		ret = errno;
		if (ret == ESRCH || (ret == EPERM && thread_exiting(tid)))
			return 0;
		errno = ret;
		pr_perror("cannot seize thread %d of %d (PTRACE_SEIZE)", tid, t->pid);
		return -errno;
	}
	ret = dtask_grow(t, &t->thr, t->n_thr, &t->thr_cap, sizeof(*t->thr));
	if (ret) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return ret;
	}
	th = &t->thr[t->n_thr++];
	memset(th, 0, sizeof(*th));
	th->tid = tid;
	th->seized = true;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		pr_perror("cannot stop thread %d (PTRACE_INTERRUPT)", tid);
		return -errno;
	}
	ret = wait_thread_stop(tid, t->was_stopped);
	if (ret == 1) {
		t->n_thr--;
		return 0;
	}
	return ret ? ret : 1;
}

/* Seize every thread not seized yet; *added counts the new ones. */
static int scan_threads(struct dtask *t, int *added)
{
	char path[64];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	d = opendir(path);
	if (!d) {
		pr_perror("cannot list the threads of %d", t->pid);
		return -errno;
	}
	*added = 0;
	while (!ret && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0 || is_known(t, tid))
			continue;
		ret = seize_one(t, tid);
		if (ret > 0)
			(*added)++, ret = 0;
	}
	closedir(d);
	return ret;
}

static int save_thread(struct dthread *th)
{
	int ret;

	if (ptrace(PTRACE_GETSIGMASK, th->tid, sizeof(th->blocked), &th->blocked)) {
		pr_perror("cannot read the blocked signals of thread %d", th->tid);
		return -errno;
	}
	ret = arch_get_regs(th->tid, &th->regs);
	if (ret)
		return ret;
	core_entry__init(&th->core);
	thread_core_entry__init(&th->thc);
	th->saved = true;
	return 0;
}

int thread_seize_all(struct dtask *t)
{
	int round, added = 0, ret;
	size_t i;

	for (round = 0; round < SEIZE_ROUNDS; round++) {
		ret = scan_threads(t, &added);
		if (ret)
			return ret;
		if (!added)
			break;
	}
	if (added) {
		pr_err("process %d keeps creating threads while being seized", t->pid);
		return -EAGAIN;
	}
	if (t->n_thr + 1 > THREAD_MAX) {
		pr_err("process %d has %zu threads: ferry restores at most %d", t->pid,
		       t->n_thr + 1, THREAD_MAX);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < t->n_thr; i++) {
		ret = save_thread(&t->thr[i]);
		if (ret)
			return ret;
	}
	if (t->n_thr)
		pr_info("seized %zu more threads of %d (%d scans of its task list)", t->n_thr,
			t->pid, round + 1);
	return 0;
}

/* One syscall in thread th that writes into the scratch page at off; read it back. */
static int thread_query(struct dtask *t, struct dthread *th, long nr, uint64_t a0, size_t off,
			void *val, size_t len)
{
	uint64_t args[6] = {a0, t->scratch + off, 0, 0, 0, 0};
	long ret;
	int err;

	err = inject_syscall_on(t, th->tid, &th->regs, nr, &ret, args);
	if (err)
		return err;
	if (ret) {
		errno = -ret;
		pr_perror("syscall %ld in thread %d failed", nr, th->tid);
		return ret;
	}
	return inject_scratch_read(t, off, val, len);
}

/* The creds entry of th, with its securebits (prctl returns them) */
static int dump_securebits(struct dtask *t, struct dthread *th)
{
	uint64_t args[6] = {PR_GET_SECUREBITS};
	CredsEntry *c = dtask_alloc(t, sizeof(*c));
	long bits;
	int ret;

	if (!c)
		return -ENOMEM;
	ret = inject_syscall_on(t, th->tid, &th->regs, SYS_prctl, &bits, args);
	if (!ret && bits < 0) {
		errno = -bits;
		pr_perror("prctl(PR_GET_SECUREBITS) in thread %d failed", th->tid);
		ret = bits;
	}
	if (ret)
		return ret;
	creds_entry__init(c);
	c->secbits = bits;
	th->thc.creds = c;
	return 0;
}

static int dump_injected(struct dtask *t, struct dthread *th)
{
	ThreadSasEntry *sas = dtask_alloc(t, sizeof(*sas));
	uint64_t tid_addr = 0;
	int pdeath = 0, ret;
	stack_t ss;

	if (!sas)
		return -ENOMEM;
	ret = thread_query(t, th, SYS_sigaltstack, 0, SCR_THR_ALTSTACK, &ss, sizeof(ss));
	if (!ret)
		ret = thread_query(t, th, SYS_prctl, PR_GET_TID_ADDRESS, SCR_THR_TID_ADDR,
				   &tid_addr, sizeof(tid_addr));
	if (!ret)
		ret = thread_query(t, th, SYS_prctl, PR_GET_PDEATHSIG, SCR_THR_PDEATH, &pdeath,
				   sizeof(pdeath));
	if (!ret)
		ret = dump_securebits(t, th);
	if (ret)
		return ret;
	thread_sas_entry__init(sas);
	sas->ss_sp = (uintptr_t)ss.ss_sp;
	sas->ss_size = ss.ss_size;
	sas->ss_flags = ss.ss_flags;
	th->thc.sas = sas;
	th->ti->clear_tid_addr = tid_addr;
	th->thc.has_pdeath_sig = 1, th->thc.pdeath_sig = pdeath;
	return 0;
}

/* Run the injected queries with every signal blocked, then put the thread back. */
static int dump_injected_blocked(struct dtask *t, struct dthread *th)
{
	uint64_t all = ~0ULL;
	int ret, ret2;

	if (ptrace(PTRACE_SETSIGMASK, th->tid, sizeof(all), &all)) {
		pr_perror("cannot block the signals of thread %d", th->tid);
		return -errno;
	}
	ret = dump_injected(t, th);
	ret2 = arch_set_regs(th->tid, &th->regs);
	if (ptrace(PTRACE_SETSIGMASK, th->tid, sizeof(th->blocked), &th->blocked)) {
		pr_perror("cannot put back the blocked signals of thread %d", th->tid);
		ret2 = -errno;
	}
	return ret ? ret : ret2;
}

static int dump_comm(struct dtask *t, struct dthread *th)
{
	char name[64], buf[64];
	ssize_t n;

	snprintf(name, sizeof(name), "task/%d/comm", th->tid);
	n = proc_read_file(t->pid, name, buf, sizeof(buf), false);
	if (n < 0)
		return n;
	buf[n < (ssize_t)sizeof(buf) ? n : (ssize_t)sizeof(buf) - 1] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(th->comm, sizeof(th->comm), "%.16s", buf);
	th->thc.comm = th->comm;
	return 0;
}

/* The NoNewPrivs: value of /proc/PID/task/TID/status. */
static int read_no_new_privs(pid_t pid, pid_t tid)
{
	char name[64], buf[4096], *p;
	ssize_t n;

	snprintf(name, sizeof(name), "task/%d/status", tid);
	n = proc_read_file(pid, name, buf, sizeof(buf) - 1, false);
	if (n < 0)
		return n;
	buf[n] = '\0';
	p = strstr(buf, "\nNoNewPrivs:");
	return p ? atoi(p + 12) : 0;
}

/*
 * The thread's own credentials (/proc/TID/status, capget, and the securebits dump_injected
 * read) and its no_new_privs.
 */
static int dump_creds(struct dtask *t, struct dthread *th)
{
	struct proc_status s;
	int nnp = read_no_new_privs(t->pid, th->tid);
	int ret;

	if (nnp < 0)
		return nnp;
	th->thc.has_no_new_privs = 1, th->thc.no_new_privs = nnp;
	ret = proc_read_status(th->tid, &s);
	if (!ret)
		ret = creds_dump_tid(t, th->tid, &s, th->thc.creds);
	free(s.groups);
	return ret;
}

static int dump_one(struct dtask *t, struct dthread *th)
{
	int ret;

	ret = arch_dump_regs(t, th->tid, &th->regs, &th->ti);
	if (!ret)
		ret = dump_injected_blocked(t, th);
	if (!ret)
		ret = dump_creds(t, th);
	if (!ret)
		ret = task_dump_rseq(t, th->tid, &th->thc);
	if (!ret)
		ret = task_dump_sched(th->tid, &th->thc);
	if (!ret)
		ret = dump_comm(t, th);
	if (ret)
		return ret;
	th->thc.signals_p = sigact_dump_queue(t, th->tid, 0);
	if (!th->thc.signals_p)
		return -EIO;
	th->thc.has_blk_sigset = 1, th->thc.blk_sigset = th->blocked;
	return 0;
}

int thread_dump_all(struct dtask *t)
{
	size_t i;
	int ret;

	for (i = 0; i < t->n_thr; i++) {
		ret = dump_one(t, &t->thr[i]);
		if (ret) {
			pr_err("cannot dump thread %d of %d", t->thr[i].tid, t->pid);
			return ret;
		}
	}
	return 0;
}

/* core-TID.img of every other thread, and the pstree entry's thread list (leader first). */
int thread_write_images(struct dtask *t, int dirfd)
{
	uint32_t *tids = dtask_alloc(t, (t->n_thr + 1) * sizeof(*tids));
	size_t i;
	int ret;

	if (!tids)
		return -ENOMEM;
	tids[0] = t->pid;
	for (i = 0; i < t->n_thr; i++) {
		struct dthread *th = &t->thr[i];

		tids[i + 1] = th->tid;
		th->core.mtype = CORE_ENTRY__MARCH__X86_64;
		th->core.thread_info = th->ti;
		th->core.thread_core = &th->thc;
		ret = img_write_one(dirfd, IMG_CORE, &th->core.base, th->tid);
		if (ret)
			return ret;
	}
	t->pstree.threads = tids;
	t->pstree.n_threads = t->n_thr + 1;
	return 0;
}

void thread_remove_images(struct dtask *t, int dirfd)
{
	char name[64];
	size_t i;

	for (i = 0; i < t->n_thr; i++) {
		snprintf(name, sizeof(name), "core-%d.img", t->thr[i].tid);
		if (unlinkat(dirfd, name, 0) && errno != ENOENT)
			pr_perror("cannot remove the partial image %s", name);
	}
}

void thread_abort_all(struct dtask *t)
{
	size_t i;

	for (i = 0; i < t->n_thr; i++) {
		struct dthread *th = &t->thr[i];

		if (!th->seized)
			continue;
		if (th->saved) {
			arch_set_regs(th->tid, &th->regs);
			if (ptrace(PTRACE_SETSIGMASK, th->tid, sizeof(th->blocked), &th->blocked))
				pr_perror("cannot put back the blocked signals of thread %d",
					  th->tid);
		}
		if (ptrace(PTRACE_DETACH, th->tid, 0, 0))
			pr_perror("cannot detach from thread %d", th->tid);
		th->seized = false;
	}
}

int thread_detach_all(struct dtask *t)
{
	int ret = 0;
	size_t i;

	for (i = 0; i < t->n_thr; i++) {
		struct dthread *th = &t->thr[i];

		if (!th->seized)
			continue;
		if (ptrace(PTRACE_DETACH, th->tid, 0, 0)) {
			pr_perror("cannot detach from thread %d", th->tid);
			ret = -errno;
		}
		th->seized = false;
	}
	return ret;
}

/* After SIGKILL: traced threads stay zombies until their tracer reaps them. */
void thread_reap_all(struct dtask *t)
{
	size_t i;
	int status;

	for (i = 0; i < t->n_thr; i++) {
		struct dthread *th = &t->thr[i];

		while (th->seized) {
			if (waitpid(th->tid, &status, __WALL) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (WIFEXITED(status) || WIFSIGNALED(status))
				break;
		}
		th->seized = false;
	}
}

/* --- restore ------------------------------------------------------------------------ */

#define THREAD_STACK (32UL << 10)
#define TID_MAX (1U << 22)

static int check_thread_core(const CoreEntry *c, pid_t tid)
{
	if (c->mtype != CORE_ENTRY__MARCH__X86_64 || !c->thread_info || !c->thread_core ||
	    !c->thread_info->gpregs || !c->thread_info->fpregs) {
		pr_err("core-%d.img: not a complete x86_64 thread (thread_info, thread_core "
		       "missing)",
		       tid);
		return -EINVAL;
	}
	return 0;
}

static int check_tids(const PstreeEntry *p)
{
	size_t i, j, leader = 0;

	if (!p->n_threads || p->n_threads > THREAD_MAX) {
		pr_err("pstree.img: process %u has %zu threads (1 to %d supported)", p->pid,
		       p->n_threads, THREAD_MAX);
		return -EINVAL;
	}
	for (i = 0; i < p->n_threads; i++) {
		if (p->threads[i] < 2 || p->threads[i] > TID_MAX) {
			pr_err("pstree.img: thread %u of %u is out of range", p->threads[i],
			       p->pid);
			return -EINVAL;
		}
		leader += p->threads[i] == p->pid;
		for (j = 0; j < i; j++)
			if (p->threads[j] == p->threads[i]) {
				pr_err("pstree.img: thread %u of %u is listed twice", p->threads[i],
				       p->pid);
				return -EINVAL;
			}
	}
	if (leader != 1) {
		pr_err("pstree.img: the threads of %u do not include the process itself", p->pid);
		return -EINVAL;
	}
	return 0;
}

int thread_plan_load(struct rst_task *t)
{
	const PstreeEntry *p = t->pst;
	size_t i;
	int ret;

	ret = check_tids(p);
	if (ret || p->n_threads == 1)
		return ret;
	t->thr = calloc(p->n_threads - 1, sizeof(*t->thr));
	if (!t->thr)
		return -ENOMEM;
	for (i = 0; i < p->n_threads; i++) {
		struct rst_thread *th = &t->thr[t->nr_thr];

		if (p->threads[i] == p->pid)
			continue;
		th->tid = p->threads[i];
		ret = img_read_one(t->dirfd, IMG_CORE, &core_entry__descriptor, (void **)&th->core,
				   th->tid);
		if (ret)
			return ret;
		t->nr_thr++;
		ret = check_thread_core(th->core, th->tid);
		if (ret)
			return ret;
	}
	return 0;
}

void thread_plan_free(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->nr_thr; i++)
		img_free_pb(t->thr[i].core);
	free(t->thr);
	t->thr = NULL;
	t->nr_thr = 0;
}

static size_t nr_signals(const CoreEntry *c)
{
	const SignalQueueEntry *q = c->thread_core->signals_p;

	return q ? q->n_signals : 0;
}

size_t thread_args_size(const struct rst_task *t)
{
	size_t i, n = t->nr_thr * sizeof(struct rst_thread_args) + 64;

	for (i = 0; i < t->nr_thr; i++) {
		const CredsEntry *c = t->thr[i].core->thread_core->creds;

		n += nr_signals(t->thr[i].core) * sizeof(struct rst_siginfo) + sigframe_size() +
		     THREAD_STACK + 4 * 64 + (c ? c->n_groups * 4 + 4 : 0);
	}
	return n;
}

static int thread_signals(struct rst_task *t, const struct rst_thread *th,
			  struct rst_thread_args *a)
{
	const SignalQueueEntry *q = th->core->thread_core->signals_p;
	size_t i, n = nr_signals(th->core);
	struct rst_siginfo *out;

	if (!n)
		return 0;
	out = rst_args_alloc(t, n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (q->signals[i]->siginfo.len != sizeof(out[i].info)) {
			pr_err("core-%d.img: a queued siginfo has %zu bytes (expected 128)",
			       th->tid, q->signals[i]->siginfo.len);
			return -EINVAL;
		}
		memcpy(out[i].info, q->signals[i]->siginfo.data, sizeof(out[i].info));
		memcpy(&out[i].signo, out[i].info, sizeof(int));
		if (out[i].signo < 1 || out[i].signo > 64) {
			pr_err("core-%d.img: a queued siginfo has signal %d", th->tid,
			       out[i].signo);
			return -EINVAL;
		}
	}
	a->siginfo = (unsigned long)out;
	a->nr_siginfo = n;
	return 0;
}

static int thread_one_args(struct rst_task *t, const struct rst_thread *th,
			   struct rst_thread_args *a)
{
	const ThreadCoreEntry *tc = th->core->thread_core;
	const ThreadInfoX86 *ti = th->core->thread_info;
	uint64_t blocked = tc->has_blk_sigset ? tc->blk_sigset : t->core->tc->blk_sigset;
	void *frame = rst_args_alloc(t, sigframe_size());
	void *stack = rst_args_alloc(t, THREAD_STACK);

	if (!frame || !stack)
		return -ENOMEM;
	a->tid = th->tid;
	a->args = (unsigned long)t->args;
	a->stack = (unsigned long)stack;
	a->stack_size = THREAD_STACK;
	a->clear_tid = ti->clear_tid_addr;
	a->robust_list = tc->futex_rla;
	a->robust_len = tc->futex_rla_len;
	if (tc->rseq_entry && tc->rseq_entry->rseq_abi_pointer) {
		a->rseq = tc->rseq_entry->rseq_abi_pointer;
		a->rseq_len = tc->rseq_entry->rseq_abi_size;
		a->rseq_sig = tc->rseq_entry->signature;
	}
	a->pdeath_sig = tc->has_pdeath_sig ? tc->pdeath_sig : 0;
	a->no_new_privs = tc->has_no_new_privs ? tc->no_new_privs
					       : t->core->tc->has_no_new_privs && t->core->tc->no_new_privs;
	a->has_sched = tc->has_sched_policy && tc->has_sched_nice;
	a->sched_policy = tc->sched_policy;
	a->sched_prio = tc->has_sched_prio ? tc->sched_prio : 0;
	a->sched_nice = tc->sched_nice;
	snprintf(a->comm, sizeof(a->comm), "%s", tc->comm ? tc->comm : "");
	if (tc->creds) {
		a->has_creds = 1;
		if (rst_creds_fill(t, tc->creds, &a->creds, th->tid))
			return -EINVAL;
	}
	a->fs_base = ti->gpregs->fs_base;
	a->gs_base = ti->gpregs->gs_base;
	blocked &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	if (thread_signals(t, th, a))
		return -EINVAL;
	return sigframe_build(frame, ti, blocked, tc->sas, &a->sigframe);
}

/* The leader's scheduling, and the arguments of every other thread. */
int thread_rst_args(struct rst_task *t)
{
	const ThreadCoreEntry *tc = t->core->thread_core;
	struct rst_thread_args *a;
	size_t i;
	int ret;

	if (tc && tc->has_sched_policy && tc->has_sched_nice) {
		t->args->has_sched = 1;
		t->args->sched_policy = tc->sched_policy;
		t->args->sched_prio = tc->has_sched_prio ? tc->sched_prio : 0;
		t->args->sched_nice = tc->sched_nice;
	}
	if (!t->nr_thr)
		return 0;
	a = rst_args_alloc(t, t->nr_thr * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < t->nr_thr; i++) {
		ret = thread_one_args(t, &t->thr[i], &a[i]);
		if (ret)
			return ret;
	}
	t->args->threads = (unsigned long)a;
	t->args->nr_threads = t->nr_thr;
	return 0;
}
