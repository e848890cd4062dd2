// SPDX-License-Identifier: MIT
/*
 * Syscall injection through ptrace, dump side: PTRACE_POKEDATA of "syscall; int3" over
 * the first bytes of an executable area, PTRACE_SETREGSET with orig_ax = -1 (no restart
 * handling), PTRACE_CONT and a SIGTRAP stop per call, PTRACE_SETSIGMASK to keep signal
 * handlers from running meanwhile. The original code, registers and mask go back after.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define LOG_PREFIX "inject: "
#include "log.h"
#include "inject.h"

#define SCRATCH_SIZE 4096

static int find_exec_area(pid_t pid, uint64_t *addr)
{
	char path[64], line[512], perms[8];
	uint64_t start, end;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[2] == 'x' &&
		    !strstr(line, "[vsyscall]") && !strstr(line, "[vdso]")) {
			*addr = start;
			ret = 0;
			break;
		}
	}
	fclose(f);
	if (ret)
		pr_err("process %d has no executable area to run syscalls in", pid);
	return ret;
}

int inject_init(struct dtask *t)
{
	static const uint8_t code[] = ARCH_SYSCALL_CODE;
	uint64_t all = ~0ULL, word;
	int ret;

	ret = find_exec_area(t->pid, &t->inj_addr);
	if (ret)
		return ret;
	errno = 0;
	t->inj_orig = ptrace(PTRACE_PEEKDATA, t->pid, t->inj_addr, 0);
	if (errno) {
		pr_perror("cannot read the code of %d at %#lx", t->pid, t->inj_addr);
		return -errno;
	}
	if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(all), &all)) {
		pr_perror("cannot block signals of %d", t->pid);
		return -errno;
	}
	word = t->inj_orig;
	memcpy(&word, code, ARCH_SYSCALL_CODE_LEN);
	if (ptrace(PTRACE_POKEDATA, t->pid, t->inj_addr, word)) {
		pr_perror("cannot write the syscall code into %d at %#lx", t->pid, t->inj_addr);
		return -errno;
	}
	t->inj_ready = true;
	pr_debug("%d: syscalls run at %#lx", t->pid, t->inj_addr);
	return 0;
}

static int wait_trap(struct dtask *t, pid_t tid, long nr)
{
	int status;

	if (waitpid(tid, &status, __WALL) < 0) {
		pr_perror("cannot wait for %d running syscall %ld", tid, nr);
		return -errno;
	}
	if (!WIFSTOPPED(status)) {
		pr_err("thread %d died running syscall %ld (status %#x)", tid, nr, status);
		if (tid == t->pid)
			t->seized = false;
		return -ESRCH;
	}
	if (WSTOPSIG(status) != SIGTRAP) {
		pr_err("thread %d stopped by signal %d instead of the trap after syscall %ld",
		       tid, WSTOPSIG(status), nr);
		return -EINTR;
	}
	return 0;
}

int inject_syscall_on(struct dtask *t, pid_t tid, const struct arch_regs *regs, long nr,
		      long *ret, const uint64_t args[6])
{
	struct arch_regs r = *regs;
	int err;

	arch_inject_setup(&r, t->inj_addr, nr, args);
	err = arch_set_regs(tid, &r);
	if (err)
		return err;
	if (ptrace(PTRACE_CONT, tid, 0, 0)) {
		pr_perror("cannot resume %d for syscall %ld", tid, nr);
		return -errno;
	}
	err = wait_trap(t, tid, nr);
	if (!err)
		err = arch_get_regs(tid, &r);
	if (err)
		return err;
	if (arch_ip(&r) != t->inj_addr + ARCH_SYSCALL_CODE_LEN) {
		pr_err("thread %d trapped at %#lx, not after the injected syscall %ld", tid,
		       arch_ip(&r), nr);
		return -EFAULT;
	}
	*ret = arch_syscall_ret(&r);
	return 0;
}

int inject_syscall(struct dtask *t, long nr, long *ret, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5)
{
	const uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };

	return inject_syscall_on(t, t->pid, &t->regs, nr, ret, args);
}

int inject_fini(struct dtask *t)
{
	int ret = 0;

	if (!t->inj_ready)
		return 0;
	if (ptrace(PTRACE_POKEDATA, t->pid, t->inj_addr, t->inj_orig)) {
		pr_perror("cannot put back the code of %d at %#lx", t->pid, t->inj_addr);
		ret = -errno;
	}
	if (arch_set_regs(t->pid, &t->regs) && !ret)
		ret = -EIO;
	if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(t->blocked), &t->blocked) && !ret) {
		pr_perror("cannot put back the blocked signals of %d", t->pid);
		ret = -errno;
	}
	t->inj_ready = false;
	return ret;
}

int inject_scratch_map(struct dtask *t)
{
	long ret;
	int err;

	err = inject_syscall(t, SYS_mmap, &ret, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
	if (err)
		return err;
	if (ret < 0 && ret > -4096) {
		errno = -ret;
		pr_perror("cannot map a scratch page in %d", t->pid);
		return ret;
	}
	t->scratch = ret;
	return 0;
}

int inject_scratch_unmap(struct dtask *t)
{
	long ret;
	int err;

	if (!t->scratch)
		return 0;
	err = inject_syscall(t, SYS_munmap, &ret, t->scratch, SCRATCH_SIZE, 0, 0, 0, 0);
	if (!err && ret) {
		errno = -ret;
		pr_perror("cannot unmap the scratch page of %d", t->pid);
		err = ret;
	}
	if (!err)
		t->scratch = 0;
	return err;
}

int inject_scratch_read(struct dtask *t, size_t off, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(t->scratch + off), len };

	if (process_vm_readv(t->pid, &l, 1, &r, 1, 0) != (ssize_t)len) {
		pr_perror("cannot read the scratch page of %d", t->pid);
		return -EIO;
	}
	return 0;
}
