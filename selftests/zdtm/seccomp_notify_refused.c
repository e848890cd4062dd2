// SPDX-License-Identifier: MIT
/*
 * A seccomp filter that hands getpgid to a user-space supervisor (SECCOMP_RET_USER_NOTIF,
 * installed with SECCOMP_FILTER_FLAG_NEW_LISTENER; the listener is closed here, so the
 * kernel answers ENOSYS). ferry cannot rebuild a listener nor see whether one listens:
 * the dump must refuse before anything is touched; afterwards the task runs on untraced,
 * its filter still in place.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"
#include "seccomp-lib.h"

struct expect {
	int getpgid_errno, mode, tracer;
};
static struct expect want = { ENOSYS, 2, 0 }; /* exposed */

static int install_notify(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			 &prog);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	long r;

	zt_init(argc, argv);
	if (install_notify()) {
		if (errno == EINVAL)
			zt_skip("no SECCOMP_FILTER_FLAG_NEW_LISTENER in this kernel");
		zt_fail("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): %m");
		return zt_result();
	}
	zt_expect_dump_failure();
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	errno = 0;
	r = syscall(SYS_getpgid, 0);
	zt_check(r == -1 && errno == want.getpgid_errno, "getpgid returned %ld errno %d", r, errno);
	zt_check(zt_status_value("Seccomp:") == want.mode, "Seccomp: %d",
		 zt_status_value("Seccomp:"));
	zt_check(zt_status_value("TracerPid:") == want.tracer, "TracerPid: %d after the failed dump",
		 zt_status_value("TracerPid:"));
	return zt_result();
}
