// SPDX-License-Identifier: MIT
/*
 * The audit loginuid: the task sets its /proc/self/loginuid to a value of its own
 * (4000 + pid % 1000) before the dump; after restore it reads back the same value, not
 * the restoring ferry's (unset, 4294967295, under the test runner). Skipped when the
 * kernel has no loginuid (no audit) or the task may not set it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

static unsigned int want; /* exposed */

static long read_loginuid(void)
{
	char buf[32] = "";
	int fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	char buf[32];
	int fd, n;

	zt_init(argc, argv);
	if (read_loginuid() < 0)
		zt_skip("no /proc/self/loginuid (a kernel without audit support)");
	want = 4000 + getpid() % 1000;
	n = snprintf(buf, sizeof(buf), "%u", want);
	fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n)
		zt_skip("cannot set our loginuid: %s (needs CAP_AUDIT_CONTROL)", strerror(errno));
	close(fd);
	if (read_loginuid() != want) {
		zt_fail("loginuid %ld after writing %u", read_loginuid(), want);
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	zt_check(read_loginuid() == want, "loginuid %ld after restore, expected %u",
		 read_loginuid(), want);
	return zt_result();
}
