// SPDX-License-Identifier: MIT
/*
 * Kernel feature probes. Each probe exercises the interface for real: ptrace on a forked child,
 * process_vm_readv of a child's page, pagemap bits of pages we touched, clone3 set_tid, vDSO
 * moved by mremap and then called, uffd write-protect + PAGEMAP_SCAN, TCP_REPAIR on loopback.
 */
#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define LOG_PREFIX "kerndat: "
#include "log.h"
#include "kerndat.h"
#include "netlock.h"

/* Newer than the 6.1 uapi headers of Debian 12. */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_EXCLUSIVE (1ULL << 56)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_PFN_MASK ((1ULL << 55) - 1)

#define CHILD_TIMEOUT_MS 5000

const struct kerndat_feature kerndat_features[KD_NR] = {
	{ KD_PTRACE_SEIZE, "ptrace-seize", "PTRACE_SEIZE + PTRACE_INTERRUPT: stop a tree quietly", true },
	{ KD_PTRACE_XSTATE, "ptrace-xstate", "PTRACE_GETREGSET NT_X86_XSTATE: FPU/AVX state", true },
	{ KD_PTRACE_PEEKSIGINFO, "ptrace-peeksiginfo", "PTRACE_PEEKSIGINFO: queued signals", true },
	{ KD_PTRACE_SIGMASK, "ptrace-sigmask", "PTRACE_GETSIGMASK: blocked signals", true },
	{ KD_PROCESS_VM_READV, "process-vm-readv", "process_vm_readv: copy a task's pages", true },
	{ KD_PAGEMAP, "pagemap", "/proc/PID/pagemap present bits, PFN not needed", true },
	{ KD_KCMP_FILE, "kcmp", "kcmp KCMP_FILE: find shared open files", true },
	{ KD_CLONE3_SET_TID, "clone3-set-tid", "clone3 with set_tid: restore original PIDs", true },
	{ KD_PRCTL_MM_MAP, "prctl-mm-map", "PR_SET_MM_MAP: restore mm fields (brk, args, env)", true },
	{ KD_PRCTL_TID_ADDRESS, "tid-address", "PR_GET_TID_ADDRESS: clear_child_tid of threads", true },
	{ KD_VDSO_MREMAP, "vdso-mremap", "mremap of [vvar]/[vdso], vDSO still callable", true },
	{ KD_RSEQ, "rseq", "rseq syscall", true },
	{ KD_PTRACE_RSEQ, "ptrace-rseq", "PTRACE_GET_RSEQ_CONFIGURATION: a task's rseq area", true },
	{ KD_PIDFD_OPEN, "pidfd-open", "pidfd_open: race-free task handles", true },
	{ KD_PIDFD_GETFD, "pidfd-getfd", "pidfd_getfd: pull a task's fds into ferry", true },
	{ KD_MEMFD, "memfd", "memfd_create: anonymous shared memory files", true },
	{ KD_SOFT_DIRTY, "soft-dirty", "soft-dirty bits: incremental (pre-)dumps", false },
	{ KD_PAGEMAP_SCAN, "pagemap-scan", "PAGEMAP_SCAN ioctl: fast present/written scans", false },
	{ KD_UFFD, "userfaultfd", "userfaultfd: lazy restore, dirty tracking", false },
	{ KD_UFFD_WP_ASYNC, "uffd-wp-async", "uffd async write-protect: dirty tracking", false },
	{ KD_TIMENS, "time-ns", "time namespaces: keep CLOCK_MONOTONIC across hosts", false },
	{ KD_TCP_REPAIR, "tcp-repair", "TCP_REPAIR: established TCP connections", false },
	{ KD_NETLOCK, "network-lock", "nftables: block TCP connections while they move", false },
	{ KD_KEXEC_FILE, "kexec-file-load", "kexec_file_load: `ferry upgrade` into a new kernel", false },
	{ KD_CAP_SYS_RESOURCE, "cap-sys-resource", "CAP_SYS_RESOURCE: raise hard rlimits", false },
};

/* A message a probe child leaves for its parent, in a shared page. */
struct child_msg {
	int err;
	char text[KD_WHY_LEN];
};

static void kd_set(struct kerndat *kd, enum kerndat_id id, bool has, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void kd_set(struct kerndat *kd, enum kerndat_id id, bool has, const char *fmt, ...)
{
	va_list ap;

	kd->probed[id] = true;
	kd->has[id] = has;
	va_start(ap, fmt);
	vsnprintf(kd->why[id], KD_WHY_LEN, fmt, ap);
	va_end(ap);
}

static void kd_detail(struct kerndat *kd, enum kerndat_id id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void kd_detail(struct kerndat *kd, enum kerndat_id id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kd->detail[id], KD_DETAIL_LEN, fmt, ap);
	va_end(ap);
}

/* --- children ------------------------------------------------------------------------------ */

/* Wait for pid, killing it if it runs past the timeout. Returns the wait status or -errno. */
static int wait_child(pid_t pid, int timeout_ms)
{
	int status, waited = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG | __WALL);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			timeout_ms = INT32_MAX;
		}
		usleep(1000);
		waited++;
	}
}

static void reap_child(pid_t pid)
{
	kill(pid, SIGKILL);
	wait_child(pid, CHILD_TIMEOUT_MS);
}

/*
 * Fork a child that runs prep(), reports its result (an int) over a pipe and then sleeps
 * until killed. Returns the child's pid, with the result in *payload, or -errno.
 */
static pid_t spawn_sleeper(int (*prep)(void *), void *arg, int *payload)
{
	struct pollfd pfd;
	int p[2], v = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		v = prep ? prep(arg) : 0;
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -errno;
	}
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, CHILD_TIMEOUT_MS) != 1 || read(p[0], &v, sizeof(v)) != sizeof(v)) {
		close(p[0]);
		reap_child(pid);
		return -ETIMEDOUT;
	}
	close(p[0]);
	*payload = v;
	return pid;
}

/*
 * Run fn() in a forked child and wait for it; fn fills *msg (err 0 = success). A child killed
 * by a signal is reported as such. Returns msg->err.
 */
static int run_in_child(int (*fn)(struct child_msg *), struct child_msg *out)
{
	struct child_msg *msg;
	int status;
	pid_t pid;

	msg = mmap(NULL, sizeof(*msg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (msg == MAP_FAILED)
		return -errno;
	msg->err = -EIO;
	strcpy(msg->text, "probe child did not report");
	pid = fork();
	if (pid == 0)
		_exit(fn(msg) ? 1 : 0);
	if (pid < 0) {
		munmap(msg, sizeof(*msg));
		return -errno;
	}
	status = wait_child(pid, CHILD_TIMEOUT_MS);
	*out = *msg;
	munmap(msg, sizeof(*msg));
	if (status >= 0 && WIFSIGNALED(status)) {
		out->err = -EINTR;
		snprintf(out->text, sizeof(out->text), "probe child killed by %s",
			 sigabbrev_np(WTERMSIG(status)) ?: "a signal");
	}
	return out->err;
}

static int child_fail(struct child_msg *msg, int err, const char *what)
{
	msg->err = err;
	snprintf(msg->text, sizeof(msg->text), "%s: %s", what, strerror(-err));
	return err;
}

/* --- ptrace -------------------------------------------------------------------------------- */

static int ptrace_prep(void *arg)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	return sigprocmask(SIG_BLOCK, &set, NULL) ? -errno : 0;
}

static int ptrace_seize_stop(struct kerndat *kd, pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0)) {
		kd_set(kd, KD_PTRACE_SEIZE, false, "PTRACE_SEIZE: %m");
		return -errno;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0)) {
		kd_set(kd, KD_PTRACE_SEIZE, false, "PTRACE_INTERRUPT: %m");
		return -errno;
	}
	status = wait_child(pid, CHILD_TIMEOUT_MS);
	if (status < 0 || !WIFSTOPPED(status) || (status >> 16) != PTRACE_EVENT_STOP) {
		kd_set(kd, KD_PTRACE_SEIZE, false, "no PTRACE_EVENT_STOP after INTERRUPT (0x%x)",
		       status);
		return -EIO;
	}
	kd_set(kd, KD_PTRACE_SEIZE, true, "seized and stopped a child");
	return 0;
}

static void ptrace_xstate(struct kerndat *kd, pid_t pid)
{
	size_t len = 64 << 10;
	uint8_t *buf = calloc(1, len);
	struct iovec iov = { buf, len };

	if (!buf) {
		kd_set(kd, KD_PTRACE_XSTATE, false, "out of memory");
		return;
	}
	if (ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov)) {
		kd_set(kd, KD_PTRACE_XSTATE, false, "PTRACE_GETREGSET NT_X86_XSTATE: %m");
	} else {
		/* For ptrace the kernel puts XCR0 in the first software-reserved bytes (464). */
		kd->xstate_size = iov.iov_len;
		if (iov.iov_len >= 472)
			memcpy(&kd->xfeatures, buf + 464, sizeof(kd->xfeatures));
		kd_set(kd, KD_PTRACE_XSTATE, true, "%u bytes of xsave state", kd->xstate_size);
		kd_detail(kd, KD_PTRACE_XSTATE, "xstate size %u, XCR0 0x%llx",
			  kd->xstate_size, (unsigned long long)kd->xfeatures);
	}
	free(buf);
}

static void ptrace_signals(struct kerndat *kd, pid_t pid)
{
	struct __ptrace_peeksiginfo_args args = { .off = 0, .flags = 0, .nr = 1 };
	siginfo_t si = { 0 }, shared = { 0 };
	uint64_t mask = 0;
	long n, ns;

	n = ptrace(PTRACE_PEEKSIGINFO, pid, &args, &si);
	args.flags = PTRACE_PEEKSIGINFO_SHARED;
	ns = n < 0 ? n : ptrace(PTRACE_PEEKSIGINFO, pid, &args, &shared);
	if (n < 0 || ns < 0)
		kd_set(kd, KD_PTRACE_PEEKSIGINFO, false, "PTRACE_PEEKSIGINFO: %m");
	else if (n != 1 || si.si_signo != SIGUSR2 || ns != 1 || shared.si_signo != SIGUSR1)
		kd_set(kd, KD_PTRACE_PEEKSIGINFO, false, "queued signals not seen (%ld, %ld)", n,
		       ns);
	else
		kd_set(kd, KD_PTRACE_PEEKSIGINFO, true, "saw the child's queued signals, both queues");

	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask), &mask))
		kd_set(kd, KD_PTRACE_SIGMASK, false, "PTRACE_GETSIGMASK: %m");
	else if (!(mask & (1ULL << (SIGUSR1 - 1))))
		kd_set(kd, KD_PTRACE_SIGMASK, false, "mask 0x%llx lacks SIGUSR1",
		       (unsigned long long)mask);
	else
		kd_set(kd, KD_PTRACE_SIGMASK, true, "read the child's blocked mask");
}

static void ptrace_rseq(struct kerndat *kd, pid_t pid)
{
	struct __ptrace_rseq_configuration conf = { 0 };
	long n;

	n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(conf), &conf);
	if (n < 0) {
		kd_set(kd, KD_PTRACE_RSEQ, false, "PTRACE_GET_RSEQ_CONFIGURATION: %m");
		return;
	}
	kd->rseq_size = conf.rseq_abi_pointer ? conf.rseq_abi_size : 0;
	kd->rseq_sig = conf.signature;
	kd_set(kd, KD_PTRACE_RSEQ, true, "%s",
	       conf.rseq_abi_pointer ? "read the child's rseq area" : "works (no rseq registered)");
	kd_detail(kd, KD_PTRACE_RSEQ, "rseq at 0x%llx, %u bytes, signature 0x%x",
		  (unsigned long long)conf.rseq_abi_pointer, conf.rseq_abi_size, conf.signature);
}

static int probe_ptrace(struct kerndat *kd)
{
	static const enum kerndat_id ids[] = { KD_PTRACE_SEIZE, KD_PTRACE_XSTATE,
					       KD_PTRACE_PEEKSIGINFO, KD_PTRACE_SIGMASK,
					       KD_PTRACE_RSEQ };
	int payload, err;
	pid_t pid;

	pid = spawn_sleeper(ptrace_prep, NULL, &payload);
	if (pid < 0 || payload) {
		err = pid < 0 ? (int)pid : payload;
		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			kd_set(kd, ids[i], false, "cannot start a probe child: %s", strerror(-err));
		return err;
	}
	/* Both blocked, so they stay queued for PEEKSIGINFO: one per process, one per thread. */
	kill(pid, SIGUSR1);
	syscall(SYS_tgkill, pid, pid, SIGUSR2);
	err = ptrace_seize_stop(kd, pid);
	if (!err) {
		ptrace_xstate(kd, pid);
		ptrace_signals(kd, pid);
		ptrace_rseq(kd, pid);
	} else {
		for (size_t i = 1; i < sizeof(ids) / sizeof(ids[0]); i++)
			kd_set(kd, ids[i], false, "needs ptrace-seize");
	}
	reap_child(pid);
	return err;
}

/* --- memory -------------------------------------------------------------------------------- */

static char pvm_buf[64];

static int pvm_prep(void *arg)
{
	snprintf(pvm_buf, sizeof(pvm_buf), "ferry child %d", getpid());
	return 0;
}

static int probe_process_vm_readv(struct kerndat *kd)
{
	char want[sizeof(pvm_buf)], got[sizeof(pvm_buf)] = "";
	struct iovec l = { got, sizeof(got) }, r = { pvm_buf, sizeof(pvm_buf) };
	int payload;
	ssize_t n;
	pid_t pid;

	pid = spawn_sleeper(pvm_prep, NULL, &payload);
	if (pid < 0) {
		kd_set(kd, KD_PROCESS_VM_READV, false, "cannot start a probe child");
		return pid;
	}
	snprintf(want, sizeof(want), "ferry child %d", pid);
	n = process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (n < 0)
		kd_set(kd, KD_PROCESS_VM_READV, false, "process_vm_readv: %m");
	else if (n != sizeof(got) || strcmp(got, want))
		kd_set(kd, KD_PROCESS_VM_READV, false, "read %zd bytes, not the child's data", n);
	else
		kd_set(kd, KD_PROCESS_VM_READV, true, "read a child's page");
	reap_child(pid);
	return kd->has[KD_PROCESS_VM_READV] ? 0 : -ENOTSUP;
}

/* Read the pagemap entries of nr pages from addr. */
static int pagemap_read(int fd, void *addr, uint64_t *ent, size_t nr)
{
	off_t off = (uintptr_t)addr / getpagesize() * sizeof(uint64_t);
	ssize_t n = pread(fd, ent, nr * sizeof(*ent), off);

	if (n < 0)
		return -errno;
	return n == (ssize_t)(nr * sizeof(*ent)) ? 0 : -EIO;
}

static int probe_pagemap(struct kerndat *kd)
{
	long ps = getpagesize();
	uint64_t ent[2];
	char *p;
	int fd, err;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kd_set(kd, KD_PAGEMAP, false, "open /proc/self/pagemap: %m");
		return -errno;
	}
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		kd_set(kd, KD_PAGEMAP, false, "mmap: %m");
		return -errno;
	}
	p[0] = 1;
	err = pagemap_read(fd, p, ent, 2);
	if (err)
		kd_set(kd, KD_PAGEMAP, false, "read pagemap: %s", strerror(-err));
	else if (!(ent[0] & PM_PRESENT) || (ent[1] & (PM_PRESENT | PM_SWAPPED)))
		kd_set(kd, KD_PAGEMAP, false, "present bits wrong (0x%llx, 0x%llx)",
		       (unsigned long long)ent[0], (unsigned long long)ent[1]);
	else
		kd_set(kd, KD_PAGEMAP, true, "present bit set for touched page only");
	if (!err)
		kd_detail(kd, KD_PAGEMAP, "touched 0x%016llx untouched 0x%016llx; PFN %s, exclusive "
			  "bit %s", (unsigned long long)ent[0], (unsigned long long)ent[1],
			  ent[0] & PM_PFN_MASK ? "shown" : "hidden",
			  ent[0] & PM_EXCLUSIVE ? "set" : "clear");
	munmap(p, 2 * ps);
	close(fd);
	return kd->has[KD_PAGEMAP] ? 0 : -ENOTSUP;
}

static int clear_soft_dirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "4", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

static const char soft_dirty_alt[] = "the alternative is PAGEMAP_SCAN + uffd-wp (see pagemap-scan, "
				     "uffd-wp-async)";

static int probe_soft_dirty(struct kerndat *kd)
{
	long ps = getpagesize();
	uint64_t before = 0, after = 0;
	volatile char *p;
	int fd, err;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kd_set(kd, KD_SOFT_DIRTY, false, "open /proc/self/pagemap: %m");
		return -errno;
	}
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		kd_set(kd, KD_SOFT_DIRTY, false, "mmap: %m");
		return -errno;
	}
	p[0] = 1;
	err = clear_soft_dirty();
	if (!err)
		err = pagemap_read(fd, (void *)p, &before, 1);
	p[0] = 2;
	if (!err)
		err = pagemap_read(fd, (void *)p, &after, 1);
	if (err)
		kd_set(kd, KD_SOFT_DIRTY, false, "clear_refs/pagemap: %s; %s", strerror(-err),
		       soft_dirty_alt);
	else if ((before & PM_SOFT_DIRTY) || !(after & PM_SOFT_DIRTY))
		kd_set(kd, KD_SOFT_DIRTY, false, "not in this kernel; %s",
		       soft_dirty_alt);
	else
		kd_set(kd, KD_SOFT_DIRTY, true, "bit 55 cleared, then set by a write");
	kd_detail(kd, KD_SOFT_DIRTY, "after clear_refs 0x%016llx, after a write 0x%016llx",
		  (unsigned long long)before, (unsigned long long)after);
	munmap((void *)p, ps);
	close(fd);
	return kd->has[KD_SOFT_DIRTY] ? 0 : -ENOTSUP;
}

/* PAGEMAP_SCAN over nr pages at p for pages in category; fills reg, returns #regions or -errno. */
static int pagemap_scan(int fd, char *p, size_t nr, uint64_t category, struct page_region *reg,
			size_t nr_reg)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)p,
		.end = (uintptr_t)p + nr * getpagesize(),
		.vec = (uintptr_t)reg,
		.vec_len = nr_reg,
		.category_mask = category,
		.return_mask = category,
	};
	int n = ioctl(fd, PAGEMAP_SCAN, &arg);

	return n < 0 ? -errno : n;
}

static bool region_is(const struct page_region *r, char *p, int first, int last)
{
	long ps = getpagesize();

	return r->start == (uintptr_t)(p + first * ps) && r->end == (uintptr_t)(p + last * ps);
}

static int probe_pagemap_scan(struct kerndat *kd)
{
	long ps = getpagesize();
	struct page_region reg[4];
	char *p;
	int fd, n;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kd_set(kd, KD_PAGEMAP_SCAN, false, "open /proc/self/pagemap: %m");
		return -errno;
	}
	p = mmap(NULL, 8 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		kd_set(kd, KD_PAGEMAP_SCAN, false, "mmap: %m");
		return -errno;
	}
	p[0] = p[ps] = p[5 * ps] = 1;
	n = pagemap_scan(fd, p, 8, PAGE_IS_PRESENT, reg, 4);
	if (n < 0)
		kd_set(kd, KD_PAGEMAP_SCAN, false, "ioctl PAGEMAP_SCAN: %s (kernel < 6.7?)",
		       strerror(-n));
	else if (n != 2 || !region_is(&reg[0], p, 0, 2) || !region_is(&reg[1], p, 5, 6))
		kd_set(kd, KD_PAGEMAP_SCAN, false, "present regions wrong (%d regions)", n);
	else
		kd_set(kd, KD_PAGEMAP_SCAN, true, "found the 2 present runs among 8 pages");
	munmap(p, 8 * ps);
	close(fd);
	return kd->has[KD_PAGEMAP_SCAN] ? 0 : -ENOTSUP;
}

/* --- userfaultfd --------------------------------------------------------------------------- */

static int uffd_open(uint64_t features, uint64_t *offered)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (offered)
		*offered = api.features;
	return fd;
}

/* Write-protect 4 touched pages asynchronously, write one, expect PAGEMAP_SCAN to see it. */
static int uffd_wp_cycle(int uffd, int pm, char *p, const char **step)
{
	long ps = getpagesize();
	struct uffdio_register reg = { .range = { (uintptr_t)p, 4 * ps },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = { (uintptr_t)p, 4 * ps },
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	struct page_region r[4];
	int n;

	memset(p, 1, 4 * ps);
	*step = "UFFDIO_REGISTER";
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	*step = "UFFDIO_WRITEPROTECT";
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		return -errno;
	p[2 * ps] = 2;
	*step = "PAGEMAP_SCAN for written pages";
	n = pagemap_scan(pm, p, 4, PAGE_IS_WRITTEN, r, 4);
	if (n < 0)
		return n;
	*step = "written-page tracking";
	return n == 1 && region_is(&r[0], p, 2, 3) ? 0 : -EIO;
}

static int probe_uffd_wp_async(struct kerndat *kd)
{
	const char *step = "userfaultfd with UFFD_FEATURE_WP_ASYNC";
	int uffd, pm = -1, err;
	char *p = MAP_FAILED;

	uffd = uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, NULL);
	err = uffd < 0 ? uffd : 0;
	if (!err) {
		step = "open pagemap";
		pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		err = pm < 0 ? -errno : 0;
	}
	if (!err) {
		step = "mmap";
		p = mmap(NULL, 4 * getpagesize(), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		err = p == MAP_FAILED ? -errno : 0;
	}
	if (!err)
		err = uffd_wp_cycle(uffd, pm, p, &step);
	if (err)
		kd_set(kd, KD_UFFD_WP_ASYNC, false, "%s: %s", step, strerror(-err));
	else
		kd_set(kd, KD_UFFD_WP_ASYNC, true, "tracked a write under async write-protect");
	if (p != MAP_FAILED)
		munmap(p, 4 * getpagesize());
	if (pm >= 0)
		close(pm);
	if (uffd >= 0)
		close(uffd);
	return err;
}

static int probe_uffd(struct kerndat *kd)
{
	uint64_t f = 0;
	int fd = uffd_open(0, &f);

	if (fd < 0) {
		kd_set(kd, KD_UFFD, false, "userfaultfd/UFFDIO_API: %s", strerror(-fd));
		kd_set(kd, KD_UFFD_WP_ASYNC, false, "needs userfaultfd");
		return fd;
	}
	close(fd);
	kd->uffd_features = f;
	kd_set(kd, KD_UFFD, true, "UFFDIO_API handshake done");
	kd_detail(kd, KD_UFFD, "features 0x%llx: missing-faults %s, wp %s, wp-async %s",
		  (unsigned long long)f, f & UFFD_FEATURE_EVENT_FORK ? "yes" : "no",
		  f & UFFD_FEATURE_PAGEFAULT_FLAG_WP ? "yes" : "no",
		  f & UFFD_FEATURE_WP_ASYNC ? "yes" : "no");
	return probe_uffd_wp_async(kd);
}

/* --- files and pids ------------------------------------------------------------------------ */

static int probe_kcmp(struct kerndat *kd)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int b = a >= 0 ? fcntl(a, F_DUPFD_CLOEXEC, 0) : -1;
	int c = open("/dev/null", O_RDONLY | O_CLOEXEC);
	long same, other;
	pid_t me = getpid();

	if (a < 0 || b < 0 || c < 0) {
		kd_set(kd, KD_KCMP_FILE, false, "open /dev/null: %m");
		goto out;
	}
	same = syscall(SYS_kcmp, me, me, KCMP_FILE, a, b);
	other = syscall(SYS_kcmp, me, me, KCMP_FILE, a, c);
	if (same < 0 || other < 0)
		kd_set(kd, KD_KCMP_FILE, false, "kcmp: %m");
	else if (same != 0 || other == 0)
		kd_set(kd, KD_KCMP_FILE, false, "wrong answers (dup %ld, reopen %ld)", same, other);
	else
		kd_set(kd, KD_KCMP_FILE, true, "tells a dup from a reopened file");
out:
	for (int *fd = (int[]){ a, b, c }, i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return kd->has[KD_KCMP_FILE] ? 0 : -ENOTSUP;
}

/*
 * clone3 with set_tid = our own PID: a kernel that honours set_tid refuses with EEXIST
 * (the PID is in use) before creating anything, so the probe cannot race with other tasks.
 */
static int probe_clone3(struct kerndat *kd)
{
	pid_t tid = getpid();
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};
	long r = syscall(__NR_clone3, &args, sizeof(args));

	if (r == 0)
		_exit(0);
	if (r > 0) {
		wait_child(r, CHILD_TIMEOUT_MS);
		kd_set(kd, KD_CLONE3_SET_TID, false, "set_tid ignored: got PID %ld", r);
	} else if (errno == EEXIST) {
		kd_set(kd, KD_CLONE3_SET_TID, true, "set_tid of a PID in use refused with EEXIST");
	} else if (errno == ENOSYS) {
		kd_set(kd, KD_CLONE3_SET_TID, false, "no clone3 (kernel < 5.3)");
	} else if (errno == EPERM) {
		kd_set(kd, KD_CLONE3_SET_TID, false, "set_tid needs CAP_CHECKPOINT_RESTORE");
	} else {
		kd_set(kd, KD_CLONE3_SET_TID, false, "clone3 set_tid: %m (kernel < 5.5?)");
	}
	return kd->has[KD_CLONE3_SET_TID] ? 0 : -ENOTSUP;
}

static int pidfd_prep(void *arg)
{
	int p[2];

	if (pipe(p) || write(p[1], "ferry", 5) != 5)
		return -1;
	return p[0];
}

static int probe_pidfd(struct kerndat *kd)
{
	int payload, pidfd, fd;
	char buf[8] = "";
	pid_t pid;

	pid = spawn_sleeper(pidfd_prep, NULL, &payload);
	if (pid < 0 || payload < 0) {
		kd_set(kd, KD_PIDFD_OPEN, false, "cannot start a probe child");
		kd_set(kd, KD_PIDFD_GETFD, false, "cannot start a probe child");
		if (pid > 0)
			reap_child(pid);
		return -EIO;
	}
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0) {
		kd_set(kd, KD_PIDFD_OPEN, false, "pidfd_open: %m");
		kd_set(kd, KD_PIDFD_GETFD, false, "needs pidfd-open");
		reap_child(pid);
		return -ENOTSUP;
	}
	kd_set(kd, KD_PIDFD_OPEN, true, "opened a child's pidfd");
	fd = syscall(__NR_pidfd_getfd, pidfd, payload, 0);
	if (fd < 0)
		kd_set(kd, KD_PIDFD_GETFD, false, "pidfd_getfd: %m");
	else if (read(fd, buf, 5) != 5 || strcmp(buf, "ferry"))
		kd_set(kd, KD_PIDFD_GETFD, false, "the fd taken is not the child's pipe");
	else
		kd_set(kd, KD_PIDFD_GETFD, true, "took a child's pipe and read from it");
	if (fd >= 0)
		close(fd);
	close(pidfd);
	reap_child(pid);
	return kd->has[KD_PIDFD_GETFD] ? 0 : -ENOTSUP;
}

static int probe_memfd(struct kerndat *kd)
{
	int fd = memfd_create("ferry-check", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char buf[6] = "";

	if (fd < 0) {
		kd_set(kd, KD_MEMFD, false, "memfd_create: %m");
		return -errno;
	}
	if (pwrite(fd, "ferry", 5, 4096) != 5 || pread(fd, buf, 5, 4096) != 5 || strcmp(buf, "ferry"))
		kd_set(kd, KD_MEMFD, false, "write/read back failed: %m");
	else if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW))
		kd_set(kd, KD_MEMFD, false, "F_ADD_SEALS: %m");
	else
		kd_set(kd, KD_MEMFD, true, "created, written, sealed");
	close(fd);
	return kd->has[KD_MEMFD] ? 0 : -ENOTSUP;
}

/* --- mm fields ----------------------------------------------------------------------------- */

/* Fill map from /proc/self/stat (fields 26-28 and 45-51) and the current brk. */
static int mm_map_from_stat(struct prctl_mm_map *map)
{
	unsigned long long v[52] = { 0 };
	char buf[2048], *s, *end;
	int fd, n, i;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	s = strrchr(buf, ')');
	if (!s || strlen(s) < 4)
		return -EIO;
	s += 4; /* ") S " : field 3 is the state letter */
	for (i = 4; i < 52; i++, s = end) {
		v[i] = strtoull(s, &end, 10);
		if (end == s)
			return -EIO;
	}
	*map = (struct prctl_mm_map){
		.start_code = v[26], .end_code = v[27], .start_stack = v[28],
		.start_data = v[45], .end_data = v[46], .start_brk = v[47],
		.brk = syscall(SYS_brk, 0), .arg_start = v[48], .arg_end = v[49],
		.env_start = v[50], .env_end = v[51], .exe_fd = -1,
	};
	return 0;
}

static int mm_map_child(struct child_msg *msg)
{
	struct prctl_mm_map map;
	int err = mm_map_from_stat(&map);

	if (err)
		return child_fail(msg, err, "read /proc/self/stat");
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof(map), 0))
		return child_fail(msg, -errno, "PR_SET_MM_MAP with current values");
	msg->err = 0;
	return 0;
}

static int probe_prctl_mm_map(struct kerndat *kd)
{
	struct child_msg msg;
	unsigned int size = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0)) {
		kd_set(kd, KD_PRCTL_MM_MAP, false, "PR_SET_MM_MAP_SIZE: %m");
		return -ENOTSUP;
	}
	kd->prctl_mm_map_size = size;
	if (size != sizeof(struct prctl_mm_map))
		kd_set(kd, KD_PRCTL_MM_MAP, false, "kernel's prctl_mm_map is %u bytes, ours %zu", size,
		       sizeof(struct prctl_mm_map));
	else if (run_in_child(mm_map_child, &msg))
		kd_set(kd, KD_PRCTL_MM_MAP, false, "%s", msg.text);
	else
		kd_set(kd, KD_PRCTL_MM_MAP, true, "a child re-set its own mm fields");
	return kd->has[KD_PRCTL_MM_MAP] ? 0 : -ENOTSUP;
}

static int probe_tid_address(struct kerndat *kd)
{
	unsigned long addr = 0;

	if (prctl(PR_GET_TID_ADDRESS, (unsigned long)&addr, 0, 0, 0))
		kd_set(kd, KD_PRCTL_TID_ADDRESS, false, "PR_GET_TID_ADDRESS: %m");
	else
		kd_set(kd, KD_PRCTL_TID_ADDRESS, true, "clear_child_tid at 0x%lx", addr);
	return kd->has[KD_PRCTL_TID_ADDRESS] ? 0 : -ENOTSUP;
}

static int probe_rseq(struct kerndat *kd)
{
	/* Bad arguments on purpose: EINVAL means the syscall exists, whatever glibc did. */
	long r = syscall(__NR_rseq, NULL, 0, 0, 0);

	if (r == 0 || errno != ENOSYS)
		kd_set(kd, KD_RSEQ, true, "syscall present");
	else
		kd_set(kd, KD_RSEQ, false, "no rseq syscall (kernel < 4.18)");
	return kd->has[KD_RSEQ] ? 0 : -ENOTSUP;
}

/* --- vDSO ---------------------------------------------------------------------------------- */

struct vdso_maps {
	unsigned long start[4], end[4]; /* [vvar], [vvar_vclock], [vdso], ... */
	int nr;
	unsigned long lo, hi, vdso;
};

static int vdso_find(struct vdso_maps *vm)
{
	char line[512], name[64];
	unsigned long s, e;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -errno;
	memset(vm, 0, sizeof(*vm));
	vm->lo = ~0UL;
	while (fgets(line, sizeof(line), f) && vm->nr < 4) {
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &s, &e, name) < 2)
			continue;
		if (strcmp(name, "[vdso]") && strncmp(name, "[vvar", 5))
			continue;
		if (!strcmp(name, "[vdso]"))
			vm->vdso = s;
		vm->start[vm->nr] = s;
		vm->end[vm->nr++] = e;
		vm->lo = s < vm->lo ? s : vm->lo;
		vm->hi = e > vm->hi ? e : vm->hi;
	}
	fclose(f);
	return vm->vdso ? 0 : -ENOENT;
}

/* Find a dynamic symbol in a mapped ELF image (the vDSO) through PT_DYNAMIC and DT_HASH. */
static void *elf_sym(unsigned long base, const char *want)
{
	const Elf64_Ehdr *eh = (void *)base;
	const Elf64_Phdr *ph = (void *)(base + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Sym *sym = NULL;
	const Elf32_Word *hash = NULL;
	const char *str = NULL;
	unsigned long bias = 0;
	bool have_load = false;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			bias = base - ph[i].p_vaddr;
			have_load = true;
		}
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = (void *)(base + ph[i].p_offset);
	}
	for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_SYMTAB)
			sym = (void *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			str = (void *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_HASH)
			hash = (void *)(bias + dyn->d_un.d_ptr);
	}
	if (!sym || !str || !hash)
		return NULL;
	for (Elf32_Word i = 0; i < hash[1]; i++)
		if (sym[i].st_shndx != SHN_UNDEF && !strcmp(str + sym[i].st_name, want))
			return (void *)(bias + sym[i].st_value);
	return NULL;
}

static int vdso_move(struct vdso_maps *vm, unsigned long *new_vdso)
{
	unsigned long len = vm->hi - vm->lo;
	char *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (to == MAP_FAILED)
		return -errno;
	for (int i = 0; i < vm->nr; i++) {
		unsigned long l = vm->end[i] - vm->start[i];

		if (mremap((void *)vm->start[i], l, l, MREMAP_MAYMOVE | MREMAP_FIXED,
			   to + (vm->start[i] - vm->lo)) == MAP_FAILED)
			return -errno;
	}
	*new_vdso = (unsigned long)to + (vm->vdso - vm->lo);
	return 0;
}

static long ts_ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000L + t->tv_nsec;
}

/* In a child: move [vvar*]+[vdso] elsewhere, then call clock_gettime through the moved vDSO. */
static int vdso_child(struct child_msg *msg)
{
	int (*gettime)(clockid_t, struct timespec *);
	struct timespec t0, t1, t2;
	struct vdso_maps vm, after;
	unsigned long moved = 0;
	int err;

	err = vdso_find(&vm);
	if (err)
		return child_fail(msg, err, "find [vdso] in /proc/self/maps");
	err = vdso_move(&vm, &moved);
	if (err)
		return child_fail(msg, err, "mremap of [vvar]/[vdso]");
	gettime = elf_sym(moved, "__vdso_clock_gettime");
	if (!gettime)
		return child_fail(msg, -ENOENT, "__vdso_clock_gettime in the moved vDSO");
	/* glibc's own vDSO pointers are stale now: only raw syscalls from here on. */
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t0);
	err = gettime(CLOCK_MONOTONIC, &t1);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t2);
	if (err || ts_ns(&t1) < ts_ns(&t0) || ts_ns(&t1) > ts_ns(&t2))
		return child_fail(msg, -ERANGE, "moved vDSO clock_gettime");
	if (vdso_find(&after) || after.vdso != moved)
		return child_fail(msg, -ESRCH, "kernel did not follow the moved [vdso]");
	msg->err = 0;
	snprintf(msg->text, sizeof(msg->text), "%d areas moved 0x%lx -> 0x%lx", vm.nr, vm.vdso,
		 moved);
	return 0;
}

static int probe_vdso_mremap(struct kerndat *kd)
{
	struct child_msg msg;

	if (run_in_child(vdso_child, &msg))
		kd_set(kd, KD_VDSO_MREMAP, false, "%s", msg.text);
	else
		kd_set(kd, KD_VDSO_MREMAP, true, "moved, then called clock_gettime in it");
	kd_detail(kd, KD_VDSO_MREMAP, "%s", msg.text);
	return kd->has[KD_VDSO_MREMAP] ? 0 : -ENOTSUP;
}

/* --- namespaces, network, kexec, capabilities ---------------------------------------------- */

/* In a child: new time namespace with CLOCK_MONOTONIC +1 day, seen by a grandchild. */
static int timens_child(struct child_msg *msg)
{
	struct timespec before, inside;
	int fd, status;
	pid_t pid;

	if (unshare(CLONE_NEWTIME))
		return child_fail(msg, -errno, "unshare(CLONE_NEWTIME)");
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "monotonic 86400 0", 17) != 17)
		return child_fail(msg, -errno, "write timens_offsets");
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &before);
	pid = fork();
	if (pid == 0) {
		clock_gettime(CLOCK_MONOTONIC, &inside);
		_exit(inside.tv_sec - before.tv_sec >= 86400 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return child_fail(msg, -ECHILD, "fork into the time namespace");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return child_fail(msg, -ERANGE, "offset not seen inside the namespace");
	msg->err = 0;
	return 0;
}

static int probe_timens(struct kerndat *kd)
{
	struct child_msg msg;

	if (run_in_child(timens_child, &msg))
		kd_set(kd, KD_TIMENS, false, "%s", msg.text);
	else
		kd_set(kd, KD_TIMENS, true, "a +1 day monotonic offset seen inside");
	return kd->has[KD_TIMENS] ? 0 : -ENOTSUP;
}

static int tcp_pair(int *cl, int *lsn, int *acc)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	*lsn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	*cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*lsn < 0 || *cl < 0)
		return -errno;
	if (bind(*lsn, (void *)&a, sizeof(a)) || listen(*lsn, 1) ||
	    getsockname(*lsn, (void *)&a, &len) || connect(*cl, (void *)&a, sizeof(a)))
		return -errno;
	*acc = accept4(*lsn, NULL, NULL, SOCK_CLOEXEC);
	return *acc < 0 ? -errno : 0;
}

static int probe_tcp_repair(struct kerndat *kd)
{
	int cl = -1, lsn = -1, acc = -1, on = 1, q = TCP_SEND_QUEUE, err;
	unsigned int seq = 0;
	socklen_t len = sizeof(seq);

	err = tcp_pair(&cl, &lsn, &acc);
	if (err)
		kd_set(kd, KD_TCP_REPAIR, false, "loopback connection: %s (is lo up?)", strerror(-err));
	else if (setsockopt(cl, SOL_TCP, TCP_REPAIR, &on, sizeof(on)))
		kd_set(kd, KD_TCP_REPAIR, false, "TCP_REPAIR: %m (needs CAP_NET_ADMIN)");
	else if (setsockopt(cl, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
		 getsockopt(cl, SOL_TCP, TCP_QUEUE_SEQ, &seq, &len))
		kd_set(kd, KD_TCP_REPAIR, false, "TCP_QUEUE_SEQ in repair mode: %m");
	else
		kd_set(kd, KD_TCP_REPAIR, true, "repair mode on a loopback connection");
	kd_detail(kd, KD_TCP_REPAIR, "send queue seq %u", seq);
	for (int *fd = (int[]){ cl, lsn, acc }, i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return kd->has[KD_TCP_REPAIR] ? 0 : -ENOTSUP;
}

/* An nftables table made and removed again: what the lock of TCP connections needs. */
static int probe_netlock(struct kerndat *kd)
{
	char why[KD_WHY_LEN];

	if (netlock_probe(why, sizeof(why)))
		kd_set(kd, KD_NETLOCK, false, "%s (nf_tables loaded? CAP_NET_ADMIN?)", why);
	else
		kd_set(kd, KD_NETLOCK, true, "an inet table was made and removed");
	return kd->has[KD_NETLOCK] ? 0 : -ENOTSUP;
}

/* Invalid fds on purpose: a kernel with kexec_file_load answers EBADF (or EPERM), loads nothing. */
static int probe_kexec_file(struct kerndat *kd)
{
	long r = syscall(__NR_kexec_file_load, -1, -1, 0, NULL, 0);

	if (r == 0 || errno == EBADF)
		kd_set(kd, KD_KEXEC_FILE, true, "syscall present");
	else if (errno == ENOSYS)
		kd_set(kd, KD_KEXEC_FILE, false, "not in this kernel: `ferry upgrade` cannot kexec");
	else if (errno == EPERM)
		kd_set(kd, KD_KEXEC_FILE, false, "present but refused (no CAP_SYS_BOOT, or "
		       "kexec_load_disabled)");
	else
		kd_set(kd, KD_KEXEC_FILE, false, "kexec_file_load: %m");
	return kd->has[KD_KEXEC_FILE] ? 0 : -ENOTSUP;
}

static int probe_cap_sys_resource(struct kerndat *kd)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };
	int bset;

	if (syscall(SYS_capget, &hdr, data)) {
		kd_set(kd, KD_CAP_SYS_RESOURCE, false, "capget: %m");
		return -errno;
	}
	bset = prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0);
	if (data[0].effective & (1U << CAP_SYS_RESOURCE))
		kd_set(kd, KD_CAP_SYS_RESOURCE, true, "effective");
	else
		kd_set(kd, KD_CAP_SYS_RESOURCE, false, "not effective%s: hard rlimits cannot be "
		       "raised on restore", bset == 0 ? " (not in the bounding set)" : "");
	return kd->has[KD_CAP_SYS_RESOURCE] ? 0 : -ENOTSUP;
}

/* --- table --------------------------------------------------------------------------------- */

/* Which probe answers for each feature; one probe may answer for several. */
static int (*const probe_fn[KD_NR])(struct kerndat *kd) = {
	[KD_PTRACE_SEIZE] = probe_ptrace,
	[KD_PTRACE_XSTATE] = probe_ptrace,
	[KD_PTRACE_PEEKSIGINFO] = probe_ptrace,
	[KD_PTRACE_SIGMASK] = probe_ptrace,
	[KD_PTRACE_RSEQ] = probe_ptrace,
	[KD_PROCESS_VM_READV] = probe_process_vm_readv,
	[KD_PAGEMAP] = probe_pagemap,
	[KD_KCMP_FILE] = probe_kcmp,
	[KD_CLONE3_SET_TID] = probe_clone3,
	[KD_PRCTL_MM_MAP] = probe_prctl_mm_map,
	[KD_PRCTL_TID_ADDRESS] = probe_tid_address,
	[KD_VDSO_MREMAP] = probe_vdso_mremap,
	[KD_RSEQ] = probe_rseq,
	[KD_PIDFD_OPEN] = probe_pidfd,
	[KD_PIDFD_GETFD] = probe_pidfd,
	[KD_MEMFD] = probe_memfd,
	[KD_SOFT_DIRTY] = probe_soft_dirty,
	[KD_PAGEMAP_SCAN] = probe_pagemap_scan,
	[KD_UFFD] = probe_uffd,
	[KD_UFFD_WP_ASYNC] = probe_uffd,
	[KD_TIMENS] = probe_timens,
	[KD_TCP_REPAIR] = probe_tcp_repair,
	[KD_NETLOCK] = probe_netlock,
	[KD_KEXEC_FILE] = probe_kexec_file,
	[KD_CAP_SYS_RESOURCE] = probe_cap_sys_resource,
};

void kerndat_init(struct kerndat *kd)
{
	memset(kd, 0, sizeof(*kd));
}

const struct kerndat_feature *kerndat_find(const char *name)
{
	for (int i = 0; i < KD_NR; i++)
		if (!strcmp(kerndat_features[i].name, name))
			return &kerndat_features[i];
	return NULL;
}

int kerndat_probe_one(struct kerndat *kd, enum kerndat_id id)
{
	if (id < 0 || id >= KD_NR)
		return -EINVAL;
	if (!kd->probed[id]) {
		probe_fn[id](kd);
		if (!kd->probed[id])
			kd_set(kd, id, false, "probe did not answer");
		if (!kd->has[id])
			pr_debug("%s: %s", kerndat_features[id].name, kd->why[id]);
	}
	return kd->has[id] ? 0 : -ENOTSUP;
}

int kerndat_probe(struct kerndat *kd)
{
	int ret = 0;

	for (int i = 0; i < KD_NR; i++)
		if (kerndat_probe_one(kd, kerndat_features[i].id) && kerndat_features[i].required)
			ret = -ENOTSUP;
	return ret;
}
