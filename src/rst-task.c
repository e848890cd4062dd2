// SPDX-License-Identifier: MIT
/*
 * Restore, the new task's last steps in ferry's code: task-wide attributes set here
 * (comm, loginuid, personality, subreaper), the restorer's arguments (mm fields and auxv for
 * prctl(PR_SET_MM_MAP), rlimits, sigactions, queued signals, credentials, rseq, robust
 * list, TLS bases, the rt_sigframe), then the jump into the blob after the fds are in
 * place. From rst_jump() on nothing is logged: stderr may already be the target's.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "rst.h"
#include "rst-maps.h"
#include "sigframe.h"
#include "seccomp.h"
#include "thread.h"
#include "timer.h"

static struct rst_map jump_maps[RST_MAX_UNMAP];

static int set_rlimits(struct rst_task *t)
{
	TaskRlimitsEntry *rl = t->core->tc->rlimits;
	struct restorer_args *a = t->args;
	size_t i;

	if (!rl)
		return 0;
	a->nr_rlimits = rl->n_rlimits < 16 ? rl->n_rlimits : 16;
	for (i = 0; i < a->nr_rlimits; i++) {
		struct rlimit cur;

		if (getrlimit(i, &cur))
			return -errno;
		a->rlimits[i].cur = rl->rlimits[i]->cur;
		a->rlimits[i].max = rl->rlimits[i]->max;
		if (a->rlimits[i].max > cur.rlim_max) {
			pr_warn("rlimit %zu: the saved hard limit %llu is above ours (%llu), which "
				"cannot be raised without CAP_SYS_RESOURCE; keeping ours", i,
				(unsigned long long)a->rlimits[i].max,
				(unsigned long long)cur.rlim_max);
			a->rlimits[i].max = cur.rlim_max;
		}
		if (a->rlimits[i].cur > a->rlimits[i].max)
			a->rlimits[i].cur = a->rlimits[i].max;
	}
	return 0;
}

static int set_sigactions(struct rst_task *t)
{
	TaskCoreEntry *tc = t->core->tc;
	struct restorer_args *a = t->args;
	size_t i, sig;

	if (tc->n_sigactions != 64 && tc->n_sigactions != 62 && tc->n_sigactions) {
		pr_err("core-%u.img: %zu sigactions (expected 64, or 62 without SIGKILL/SIGSTOP)",
		       t->pid, tc->n_sigactions);
		return -EINVAL;
	}
	for (i = 0, sig = 1; i < tc->n_sigactions; i++, sig++) {
		SaEntry *sa = tc->sigactions[i];

		/* 62 entries: SIGKILL and SIGSTOP (not adjacent) are left out */
		if (tc->n_sigactions == 62 && (sig == SIGKILL || sig == SIGSTOP))
			sig++;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		a->sa_valid[sig - 1] = 1;
		a->sigaction[sig - 1] = (struct rst_sigaction){ sa->sigaction, sa->flags,
								sa->restorer, sa->mask };
	}
	return 0;
}

static int add_signals(struct rst_task *t, SignalQueueEntry *q, struct rst_siginfo *out,
		       bool shared)
{
	size_t i;

	for (i = 0; q && i < q->n_signals; i++) {
		struct rst_siginfo *s = &out[t->args->nr_siginfo];

		if (q->signals[i]->siginfo.len != sizeof(s->info)) {
			pr_err("core-%u.img: a queued siginfo has %zu bytes (expected 128)", t->pid,
			       q->signals[i]->siginfo.len);
			return -EINVAL;
		}
		memcpy(s->info, q->signals[i]->siginfo.data, sizeof(s->info));
		memcpy(&s->signo, s->info, sizeof(int));
		s->shared = shared;
		if (s->signo < 1 || s->signo > 64) {
			pr_err("core-%u.img: a queued siginfo has signal %d", t->pid, s->signo);
			return -EINVAL;
		}
		t->args->nr_siginfo++;
	}
	return 0;
}

static int set_signals(struct rst_task *t)
{
	SignalQueueEntry *qs = t->core->tc->signals_s;
	SignalQueueEntry *qp = t->core->thread_core ? t->core->thread_core->signals_p : NULL;
	size_t n = (qs ? qs->n_signals : 0) + (qp ? qp->n_signals : 0);
	struct rst_siginfo *out;

	if (!n)
		return 0;
	out = rst_args_alloc(t, n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	t->args->siginfo = (unsigned long)out;
	if (add_signals(t, qp, out, false) || add_signals(t, qs, out, true))
		return -EINVAL;
	return 0;
}

static unsigned int last_cap(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
	}
	return buf[0] ? (unsigned int)atoi(buf) : 40;
}

int rst_creds_fill(struct rst_task *t, const CredsEntry *ce, struct rst_creds *c, pid_t tid)
{
	uint32_t *groups;

	if (ce->n_cap_inh != 2 || ce->n_cap_prm != 2 || ce->n_cap_eff != 2 || ce->n_cap_bnd != 2 ||
	    ce->n_groups > 65536) {
		pr_err("core-%d.img: capabilities must be two 32-bit words each", tid);
		return -EINVAL;
	}
	groups = rst_args_alloc(t, ce->n_groups * 4 + 4);
	if (!groups)
		return -ENOMEM;
	if (ce->n_groups)
		memcpy(groups, ce->groups, ce->n_groups * 4);
	*c = (struct rst_creds){ .uid = ce->uid, .euid = ce->euid, .suid = ce->suid,
				 .fsuid = ce->fsuid, .gid = ce->gid, .egid = ce->egid,
				 .sgid = ce->sgid, .fsgid = ce->fsgid, .secbits = ce->secbits,
				 .nr_groups = ce->n_groups, .groups = (unsigned long)groups };
	memcpy(c->cap_eff, ce->cap_eff, 8);
	memcpy(c->cap_prm, ce->cap_prm, 8);
	memcpy(c->cap_inh, ce->cap_inh, 8);
	c->cap_bnd = ce->cap_bnd[0] | (unsigned long long)ce->cap_bnd[1] << 32;
	c->last_cap = last_cap();
	c->keepcaps = !!(ce->secbits & (1 << 4)); /* SECBIT_KEEP_CAPS */
	return 0;
}

static int set_creds(struct rst_task *t)
{
	CredsEntry *ce = t->core->thread_core ? t->core->thread_core->creds : NULL;

	if (!ce)
		return 0;
	t->args->has_creds = 1;
	return rst_creds_fill(t, ce, &t->args->creds, t->pid);
}

static int set_mm(struct rst_task *t)
{
	const MmEntry *mm = t->mm;
	struct restorer_args *a = t->args;
	size_t i;

	a->mm = (struct rst_mm_map){ .start_code = mm->mm_start_code, .end_code = mm->mm_end_code,
				     .start_data = mm->mm_start_data, .end_data = mm->mm_end_data,
				     .start_brk = mm->mm_start_brk, .brk = mm->mm_brk,
				     .start_stack = mm->mm_start_stack,
				     .arg_start = mm->mm_arg_start, .arg_end = mm->mm_arg_end,
				     .env_start = mm->mm_env_start, .env_end = mm->mm_env_end };
	for (i = 0; i + 1 < mm->n_mm_saved_auxv && mm->mm_saved_auxv[i]; i += 2) {
		a->auxv[i] = mm->mm_saved_auxv[i];
		a->auxv[i + 1] = mm->mm_saved_auxv[i + 1];
		if (a->auxv[i] == 33 /* AT_SYSINFO_EHDR */)
			a->auxv[i + 1] = t->vdso_new;
	}
	a->auxv[i] = a->auxv[i + 1] = 0;
	a->mm.auxv_size = (i + 2) * sizeof(a->auxv[0]);
	a->mm.exe_fd = t->exe_fd;
	a->dumpable = mm->has_dumpable ? mm->dumpable : 1;
	a->thp_disabled = mm->has_thp_disabled && mm->thp_disabled;
	a->no_new_privs = t->core->tc->has_no_new_privs && t->core->tc->no_new_privs;
	return 0;
}

static int set_thread(struct rst_task *t)
{
	ThreadCoreEntry *tc = t->core->thread_core;
	ThreadInfoX86 *ti = t->core->thread_info;
	struct restorer_args *a = t->args;
	uint64_t blocked = t->core->tc->blk_sigset;
	void *frame;

	a->clear_tid = ti->clear_tid_addr;
	a->fs_base = ti->gpregs->fs_base;
	a->gs_base = ti->gpregs->gs_base;
	if (tc) {
		a->robust_list = tc->futex_rla;
		a->robust_len = tc->futex_rla_len;
		a->pdeath_sig = tc->has_pdeath_sig ? tc->pdeath_sig : 0;
		if (tc->has_blk_sigset)
			blocked = tc->blk_sigset;
		if (tc->rseq_entry && tc->rseq_entry->rseq_abi_pointer) {
			a->rseq = tc->rseq_entry->rseq_abi_pointer;
			a->rseq_len = tc->rseq_entry->rseq_abi_size;
			a->rseq_sig = tc->rseq_entry->signature;
		}
	}
	blocked &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	frame = rst_args_alloc(t, sigframe_size());
	if (!frame)
		return -ENOMEM;
	return sigframe_build(frame, ti, blocked, tc ? tc->sas : NULL, &a->sigframe);
}

static int open_exe(struct rst_task *t)
{
	FileEntry *f = t->mm->exe_file_id ? rst_file_by_id(t, t->mm->exe_file_id) : NULL;
	int fd;

	if (!f || !f->reg) {
		pr_warn("no exe file in mm-%u.img: /proc/%u/exe will point to ferry", t->pid, t->pid);
		return 0;
	}
	fd = rst_file_open_reg(f->reg, O_RDONLY, true);
	if (fd < 0)
		return fd;
	t->exe_fd = fcntl(fd, F_DUPFD_CLOEXEC, t->max_fd + 1);
	close(fd);
	if (t->exe_fd < 0) {
		pr_perror("cannot move the exe fd");
		return -errno;
	}
	return 0;
}

int rst_task_args(struct rst_task *t)
{
	int ret;

	ret = open_exe(t);
	if (!ret)
		ret = set_mm(t);
	if (!ret)
		ret = set_rlimits(t);
	if (!ret)
		ret = set_sigactions(t);
	if (!ret)
		ret = set_signals(t);
	if (!ret)
		ret = set_creds(t);
	if (!ret)
		ret = set_thread(t);
	if (!ret)
		ret = thread_rst_args(t);
	if (!ret)
		ret = timer_rst_args(t);
	if (!ret)
		ret = seccomp_rst_args(t);
	return ret;
}

/*
 * The audit loginuid, written to /proc/self/loginuid (changing a set one needs
 * CAP_AUDIT_CONTROL): where the kernel has none or refuses, the task keeps ferry's.
 */
static void restore_loginuid(const struct rst_task *t)
{
	uint32_t want = t->core->tc->loginuid;
	char buf[16] = "";
	int fd, n;

	if (!t->core->tc->has_loginuid)
		return;
	fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && strtoul(buf, NULL, 10) == want) {
		close(fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	n = snprintf(buf, sizeof(buf), "%u", want);
	fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n)
		pr_warn("process %u: loginuid %u not restored (/proc/self/loginuid: %m; the kernel "
			"may have no audit support, and changing it needs CAP_AUDIT_CONTROL); it "
			"keeps ferry's", t->pid, want);
	if (fd >= 0)
		close(fd);
}

/* Task attributes that ferry's code may set itself, before memory is rebuilt. */
int rst_task_prepare(struct rst_task *t)
{
	TaskCoreEntry *tc = t->core->tc;

	prctl(PR_SET_NAME, tc->comm, 0, 0, 0);
	restore_loginuid(t);
	if (tc->has_child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, tc->child_subreaper, 0, 0, 0))
		pr_warn("cannot restore the child subreaper flag: %m");
	if (personality(tc->personality) < 0) {
		pr_perror("cannot set personality %#x", tc->personality);
		return -errno;
	}
	return 0;
}

/* Ferry's mappings, minus the region and the kernel's special ones, into the args. */
static int list_unmaps(struct rst_task *t)
{
	struct rst_range *out = rst_args_alloc(t, RST_MAX_UNMAP * sizeof(*out));
	unsigned long r0 = t->region, r1 = t->region + t->region_len;
	ssize_t n, i;
	size_t k = 0;

	if (!out)
		return -ENOMEM;
	n = rst_maps_read(jump_maps, RST_MAX_UNMAP);
	if (n < 0)
		return n;
	for (i = 0; i < n && k + 2 <= RST_MAX_UNMAP; i++) {
		unsigned long s = jump_maps[i].start, e = jump_maps[i].end;

		if (jump_maps[i].kind != RST_MAP_OTHER)
			continue;
		if (s < r0)
			out[k++] = (struct rst_range){ s, (e < r0 ? e : r0) - s };
		if (e > r1)
			out[k++] = (struct rst_range){ s > r1 ? s : r1, e - (s > r1 ? s : r1) };
	}
	if (i < n)
		return -E2BIG;
	t->args->unmap = (unsigned long)out;
	t->args->nr_unmap = k;
	return 0;
}

static bool is_target_fd(const struct rst_task *t, int fd)
{
	size_t i;

	for (i = 0; i < t->nr_fds; i++)
		if (t->fds[i].fd == fd)
			return true;
	return false;
}

/* Close every fd of ferry: all but the target's and the exe fd (the blob closes it). */
static void close_ferry_fds(const struct rst_task *t)
{
	int fd;

	for (fd = 0; fd <= t->max_fd; fd++)
		if (!is_target_fd(t, fd))
			close(fd);
	if (t->exe_fd >= 0) {
		syscall(SYS_close_range, t->max_fd + 1, t->exe_fd - 1, 0);
		syscall(SYS_close_range, t->exe_fd + 1, ~0U, 0);
	} else {
		syscall(SYS_close_range, t->max_fd + 1, ~0U, 0);
	}
}

/* glibc registered rseq for ferry's thread area, which is about to disappear. */
static void rseq_unregister(void)
{
	char *area = (char *)__builtin_thread_pointer() + __rseq_offset;

	if (!__rseq_size)
		return;
	if (syscall(SYS_rseq, area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
}

/*
 * Leave ferry: list what to unmap, put the fds in place, and jump to the blob on its
 * own stack. Returns only on failure, with nothing logged (see the file comment).
 */
void rst_jump(struct rst_task *t)
{
	int ret;

	ret = list_unmaps(t);
	if (ret) {
		pr_err("cannot list ferry's mappings: %s", strerror(-ret));
		_exit(2);
	}
	if (rst_files_install(t))
		_exit(3);
	if (!t->share_files)	/* a shared table's head closes them, once this task is done */
		close_ferry_fds(t);
	rseq_unregister();
	asm volatile("mov %0, %%rsp\n\t"
		     "xor %%ebp, %%ebp\n\t"
		     "jmp *%2"
		     :
		     : "r"(t->stack_top - 8), "D"(t->args), "r"(t->blob)
		     : "memory");
	__builtin_unreachable();
}
