// SPDX-License-Identifier: MIT
/*
 * mm-PID.img fields, dump side: code/data/stack/arg/env bounds from /proc/PID/stat,
 * the saved auxv from /proc/PID/auxv, the current brk and dumpable flag from syscalls
 * run in the task (brk(0), prctl(PR_GET_DUMPABLE)), the exe file from /proc/PID/exe.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#define LOG_PREFIX "mm: "
#include "log.h"
#include "files.h"
#include "inject.h"
#include "mm-dump.h"

#define AUXV_MAX 128

int mm_dump_inject(struct dtask *t)
{
	long brk, dumpable;
	int ret;

	ret = inject_syscall(t, SYS_brk, &brk, 0, 0, 0, 0, 0, 0);
	if (!ret)
		ret = inject_syscall(t, SYS_prctl, &dumpable, PR_GET_DUMPABLE, 0, 0, 0, 0, 0);
	if (ret)
		return ret;
	t->mm.mm_brk = brk;
	t->mm.has_dumpable = dumpable >= 0;
	t->mm.dumpable = dumpable;
	pr_debug("%d: brk %#lx dumpable %ld", t->pid, brk, dumpable);
	return 0;
}

int mm_dump(struct dtask *t, const struct proc_stat *st)
{
	uint64_t *auxv = dtask_alloc(t, AUXV_MAX * sizeof(*auxv));
	ssize_t n;

	if (!auxv)
		return -ENOMEM;
	t->mm.mm_start_code = st->start_code;
	t->mm.mm_end_code = st->end_code;
	t->mm.mm_start_data = st->start_data;
	t->mm.mm_end_data = st->end_data;
	t->mm.mm_start_stack = st->start_stack;
	t->mm.mm_start_brk = st->start_brk;
	t->mm.mm_arg_start = st->arg_start;
	t->mm.mm_arg_end = st->arg_end;
	t->mm.mm_env_start = st->env_start;
	t->mm.mm_env_end = st->env_end;
	n = proc_read_auxv(t->pid, auxv, AUXV_MAX);
	if (n < 0)
		return n;
	t->mm.mm_saved_auxv = auxv;
	t->mm.n_mm_saved_auxv = n;
	return files_dump_exe(t);
}
