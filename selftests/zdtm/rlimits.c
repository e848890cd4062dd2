// SPDX-License-Identifier: MIT
/*
 * Resource limits lowered (soft and hard) below what the runner gave: NOFILE, STACK,
 * CORE, MEMLOCK, MSGQUEUE, CPU, NPROC. Only lowering: raising a hard limit needs
 * CAP_SYS_RESOURCE. After restore getrlimit() returns the same values.
 */
#include <sys/resource.h>

#include "lib.h"

static const struct {
	int res;
	const char *name;
	rlim_t soft, hard;
} wanted[] = {
	{ RLIMIT_NOFILE, "NOFILE", 200, 300 },
	{ RLIMIT_STACK, "STACK", 4 << 20, 6 << 20 },
	{ RLIMIT_CORE, "CORE", 4096, 8192 },
	{ RLIMIT_MEMLOCK, "MEMLOCK", 64 << 10, 128 << 10 },
	{ RLIMIT_MSGQUEUE, "MSGQUEUE", 8192, 16384 },
	{ RLIMIT_CPU, "CPU", 3600, 7200 },
	{ RLIMIT_NPROC, "NPROC", 5000, 6000 },
};
#define N (sizeof(wanted) / sizeof(wanted[0]))

static struct rlimit set[N]; /* exposed */

int main(int argc, char **argv)
{
	unsigned i, changed = 0;
	struct rlimit cur;

	zt_init(argc, argv);
	for (i = 0; i < N; i++) {
		getrlimit(wanted[i].res, &cur);
		set[i].rlim_max = wanted[i].hard < cur.rlim_max ? wanted[i].hard : cur.rlim_max;
		set[i].rlim_cur = wanted[i].soft < set[i].rlim_max ? wanted[i].soft : set[i].rlim_max;
		changed += set[i].rlim_max != cur.rlim_max || set[i].rlim_cur != cur.rlim_cur;
		if (setrlimit(wanted[i].res, &set[i]))
			zt_fail("setrlimit %s: %m", wanted[i].name);
	}
	zt_check(changed >= 3, "only %u limits differ from the inherited ones", changed);

	zt_expose(set, sizeof(set[0]));
	zt_ready();
	zt_wait();

	for (i = 0; i < N; i++) {
		getrlimit(wanted[i].res, &cur);
		zt_check(cur.rlim_cur == set[i].rlim_cur && cur.rlim_max == set[i].rlim_max,
			 "RLIMIT_%s is %llu/%llu, expected %llu/%llu", wanted[i].name,
			 (unsigned long long)cur.rlim_cur, (unsigned long long)cur.rlim_max,
			 (unsigned long long)set[i].rlim_cur, (unsigned long long)set[i].rlim_max);
	}
	return zt_result();
}
