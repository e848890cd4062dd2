// SPDX-License-Identifier: MIT
/*
 * Threads other than the leader, both directions. Dump: PTRACE_SEIZE + PTRACE_INTERRUPT
 * of every TID in /proc/PID/task (rescanned until stable), then per thread its registers
 * and xsave area, blocked mask, private pending signals (PTRACE_PEEKSIGINFO), rseq
 * (PTRACE_GET_RSEQ_CONFIGURATION), robust list, scheduling, comm, and by injected
 * syscalls sigaltstack, PR_GET_TID_ADDRESS and PR_GET_PDEATHSIG; one core-TID.img each.
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

/* 0 when stopped by our interrupt, 1 when the thread exited meanwhile, or -errno. */
static int wait_thread_stop(pid_t tid)
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
			if (sig == SIGTRAP)
				return 0;
			pr_err("thread %d is in a group stop (signal %d): stopped multi-threaded "
			       "processes are not supported yet", tid, sig);
			return -EOPNOTSUPP;
		}
		pr_info("thread %d: passing on signal %d that arrived while seizing", tid, sig);
		if (ptrace(PTRACE_CONT, tid, 0, sig)) {
			pr_perror("cannot resume thread %d to deliver signal %d", tid, sig);
			return -errno;
		}
	}
}

/* 1: seized and stopped, 0: it is gone, or -errno. */
static int seize_one(struct dtask *t, pid_t tid)
{
	struct dthread *th;
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
		if (errno == ESRCH)
			return 0;
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
	ret = wait_thread_stop(tid);
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
	for (i = 0; i < t->n_thr; i++) {
		ret = save_thread(&t->thr[i]);
		if (ret)
			return ret;
	}
	if (t->n_thr)
		pr_info("seized %zu more threads of %d", t->n_thr, t->pid);
	return 0;
}

/* One syscall in thread th that writes into the scratch page at off; read it back. */
static int thread_query(struct dtask *t, struct dthread *th, long nr, uint64_t a0, size_t off,
			void *val, size_t len)
{
	uint64_t args[6] = { a0, t->scratch + off, 0, 0, 0, 0 };
	long ret;
	int err;

	if (nr == SYS_sigaltstack)
		args[0] = 0, args[1] = t->scratch + off;
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

static int dump_one(struct dtask *t, struct dthread *th)
{
	int ret;

	ret = arch_dump_regs(t, th->tid, &th->regs, &th->ti);
	if (!ret)
		ret = dump_injected_blocked(t, th);
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
		th->thc.creds = t->thc.creds;
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
