// SPDX-License-Identifier: MIT
/*
 * seccomp filters in two processes of a tree: the root installs a filter (uname fails
 * with errno 42), then forks a child that stacks two more on it (getppid fails with errno
 * 43, then uname with 44: of equal actions the newest filter's wins, so the order counts),
 * its chain sharing the root's filter. After restore each checks from inside that its own
 * filters act and the child's extra ones do not in the root: the root's getppid works, its
 * uname fails with 42, the child's with 44; /proc says 1 filter for the root, 3 for the
 * child.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib.h"
#include "seccomp-lib.h"

struct expect {
	int uname_errno, getppid_errno, child_uname_errno, root_filters, child_filters;
};
static struct expect want = { 42, 43, 44, 1, 3 }; /* exposed */

/* getppid_errno 0: getppid must work. */
static void check_filters(const char *who, int uname_errno, int getppid_errno, int nr_filters)
{
	struct utsname u;
	long r;

	errno = 0;
	r = uname(&u);
	zt_check(r == -1 && errno == uname_errno, "%s: uname returned %ld errno %d", who, r,
		 errno);
	errno = 0;
	r = syscall(SYS_getppid);
	if (getppid_errno)
		zt_check(r == -1 && errno == getppid_errno, "%s: getppid returned %ld errno %d",
			 who, r, errno);
	else
		zt_check(r > 0, "%s: getppid returned %ld errno %d (the child's filter?)", who, r,
			 errno);
	zt_check(zt_status_value("Seccomp:") == 2, "%s: Seccomp: %d", who,
		 zt_status_value("Seccomp:"));
	zt_check(zt_status_value("Seccomp_filters:") == nr_filters, "%s: Seccomp_filters: %d",
		 who, zt_status_value("Seccomp_filters:"));
}

static int child(void *arg)
{
	if (zt_seccomp_deny(SYS_getppid, want.getppid_errno, 0) ||
	    zt_seccomp_deny(SYS_uname, want.child_uname_errno, 0)) {
		zt_fail("child: seccomp(SECCOMP_SET_MODE_FILTER): %m");
		return zt_result();
	}
	zt_task_ready();
	zt_wait();
	check_filters("child", want.child_uname_errno, want.getppid_errno, want.child_filters);
	zt_collect();
	return zt_result();
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (zt_seccomp_deny(SYS_uname, want.uname_errno, 0)) {
		zt_fail("seccomp(SECCOMP_SET_MODE_FILTER): %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check_filters("root", want.uname_errno, 0, want.root_filters);
	zt_collect();
	return zt_result();
}
