/* SPDX-License-Identifier: MIT */
/*
 * The switch-root guard (ferry restore --switch-root-guard): trees restored in a systemd
 * initrd outlive its switch to the real root (see guard.c).
 */
#ifndef FERRY_GUARD_H
#define FERRY_GUARD_H

#include <sys/types.h>

struct guard_opts {
	pid_t init;		/* whose signals are dropped, whose new root ends the guard */
	unsigned int timeout;	/* seconds: no switch by then, the guard lets go anyway */
	const char *log;	/* the guard's log; NULL: the kernel log (else stderr) */
};

#define GUARD_TIMEOUT_DEFAULT 300

/*
 * Fork the guard; it seizes every thread of the trees under roots[0..n) and this returns
 * once it holds them all: 0, or -errno with none of them held (the guard is gone).
 */
int guard_start(const pid_t *roots, unsigned int n, const struct guard_opts *o);

#endif
