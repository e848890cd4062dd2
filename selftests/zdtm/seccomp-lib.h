/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the seccomp tests: a one-syscall deny filter, and a field of this thread's
 * /proc status (Seccomp:, Seccomp_filters:, NoNewPrivs:, TracerPid:).
 */
#ifndef ZDTM_SECCOMP_LIB_H
#define ZDTM_SECCOMP_LIB_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Stack a filter on this thread: syscall nr fails with err, the rest is allowed. */
static inline long zt_seccomp_deny(int nr, int err, unsigned int flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* The number after key in /proc/thread-self/status, or -1. */
static inline int zt_status_value(const char *key)
{
	char line[256];
	int v = -1;
	FILE *f = fopen("/proc/thread-self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atoi(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

#endif
