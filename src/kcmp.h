/* SPDX-License-Identifier: MIT */
/*
 * kcmp(2), for finding kernel objects shared between tasks: an open file description
 * (KCMP_FILE, by fd), an fd table (KCMP_FILES), an fs struct (KCMP_FS), an mm (KCMP_VM).
 */
#ifndef FERRY_KCMP_H
#define FERRY_KCMP_H

#include <errno.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/kcmp.h>

/*
 * kcmp's answer: 0 the same object, 1 a's orders before b's, 2 after (a total order on
 * obfuscated pointers, stable for the boot), 3 different but not ordered; -errno when it
 * failed (errno kept for %m).
 */
static inline int kcmp_order(pid_t a, pid_t b, int type, unsigned long ia, unsigned long ib)
{
	long r = syscall(SYS_kcmp, a, b, type, ia, ib);

	return r < 0 ? -errno : (int)r;
}

/* 1: the same object, 0: different ones, -errno: kcmp failed. */
static inline int kcmp_same(pid_t a, pid_t b, int type, unsigned long ia, unsigned long ib)
{
	int r = kcmp_order(a, b, type, ia, ib);

	return r < 0 ? r : r == 0;
}

#endif
