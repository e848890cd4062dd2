/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the /proc/PID files the dump reads: stat, status, smaps (maps + VmFlags),
 * limits, auxv, fdinfo. Each fills a plain struct; failures are logged with the file.
 */
#ifndef FERRY_PROC_PARSE_H
#define FERRY_PROC_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_NR_RLIMITS 16

struct proc_stat {
	char state;
	pid_t ppid, pgid, sid;
	unsigned int flags;
	long nice;
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_code;
	uint64_t start_time;		/* clock ticks after boot */
};

struct proc_status {
	uint32_t uid[4], gid[4];	/* real, effective, saved, fs */
	int threads;
	pid_t tgid, tracer;
	uint64_t sig_pending, sig_shared, sig_blocked;	/* SigPnd, ShdPnd, SigBlk */
	unsigned int umask;
	int seccomp;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd;
	uint32_t *groups;		/* malloc'ed; the caller frees */
	size_t n_groups;
};

struct proc_vma {
	uint64_t start, end, pgoff;
	char perms[5];			/* "rwxp" */
	unsigned int dev_maj, dev_min;
	uint64_t ino;
	char path[4096];		/* empty for anonymous areas */
	char vmflags[256];		/* the VmFlags: line, two-letter codes */
};

struct proc_fdinfo {
	uint64_t pos;
	unsigned int flags;
	int mnt_id;
	uint64_t ino;
};

struct proc_rlimit {
	uint64_t cur, max;
};

int proc_read_stat(pid_t pid, struct proc_stat *st);
int proc_read_status(pid_t pid, struct proc_status *s);
/* Call cb for each area of /proc/PID/smaps, in address order; a non-zero return stops. */
int proc_parse_smaps(pid_t pid, int (*cb)(const struct proc_vma *v, void *arg), void *arg);
bool proc_vmflag(const struct proc_vma *v, const char *code);
int proc_read_limits(pid_t pid, struct proc_rlimit lim[PROC_NR_RLIMITS]);
/* auxv words up to and including the AT_NULL pair; returns the count or -errno */
ssize_t proc_read_auxv(pid_t pid, uint64_t *words, size_t max);
int proc_read_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi);
/* Read a small /proc file into buf (NUL-terminated); returns its length or -errno. */
ssize_t proc_read_file(pid_t pid, const char *name, char *buf, size_t size, bool quiet);
/*
 * Append the children of thread tid of pid (/proc/PID/task/TID/children) to *kids (*n of
 * *cap, grown with realloc). 0, -errno of the read (quiet: not logged), -E2BIG (logged)
 * when the list does not fit 64 KiB, -ENOMEM.
 */
int proc_read_children(pid_t pid, pid_t tid, bool quiet, pid_t **kids, size_t *n, size_t *cap);

#endif
