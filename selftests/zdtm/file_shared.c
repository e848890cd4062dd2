// SPDX-License-Identifier: MIT
/*
 * One open file description behind several fds: fd 10 and its dup 11 (FD_CLOEXEC on 11
 * only) share offset and status flags; fd 12 opens the same file separately; 13/14 are a
 * dup'ed pipe write end. After restore kcmp(KCMP_FILE) says the same, a seek or F_SETFL
 * through one fd shows through its dup and not through the separate open.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "lib.h"

struct expect {
	off_t off;
	off_t off12;
};

static struct expect want = { 500, 0 };

static int same_file(int a, int b)
{
	pid_t me = getpid();

	return syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

static int setup(void)
{
	int fd = open("fs.data", O_RDWR | O_CREAT | O_TRUNC, 0644), p[2];
	char buf[4096] = { 0 };

	if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf) || dup2(fd, 10) != 10)
		return -1;
	close(fd);
	fd = open("fs.data", O_RDWR);
	if (dup3(10, 11, O_CLOEXEC) != 11 || fd < 0 || dup2(fd, 12) != 12 || close(fd))
		return -1;
	if (lseek(10, want.off, SEEK_SET) != want.off)
		return -1;
	if (pipe(p) || dup2(p[1], 13) != 13 || dup2(p[1], 14) != 14)
		return -1;
	close(p[0]);
	close(p[1]);
	return 0;
}

static void check(void)
{
	zt_check(same_file(10, 11), "fds 10 and 11 are no longer one open file");
	zt_check(!same_file(10, 12), "fds 10 and 12 became one open file");
	zt_check(same_file(13, 14), "pipe fds 13 and 14 are no longer one open file");
	zt_check(fcntl(11, F_GETFD) == FD_CLOEXEC, "fd 11 lost FD_CLOEXEC");
	zt_check(fcntl(10, F_GETFD) == 0, "fd 10 gained FD_CLOEXEC");
	zt_check(lseek(11, 0, SEEK_CUR) == want.off, "fd 11 offset is %ld, expected %ld",
		 (long)lseek(11, 0, SEEK_CUR), (long)want.off);
	zt_check(lseek(12, 0, SEEK_CUR) == want.off12, "fd 12 offset is %ld",
		 (long)lseek(12, 0, SEEK_CUR));
	lseek(11, 700, SEEK_SET);
	zt_check(lseek(10, 0, SEEK_CUR) == 700, "a seek through fd 11 does not move fd 10");
	zt_check(lseek(12, 0, SEEK_CUR) == want.off12, "a seek through fd 11 moved fd 12");
	fcntl(10, F_SETFL, O_APPEND);
	zt_check(fcntl(11, F_GETFL) & O_APPEND, "O_APPEND set on fd 10 is not seen on fd 11");
	zt_check(!(fcntl(12, F_GETFL) & O_APPEND), "O_APPEND set on fd 10 is seen on fd 12");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check();
	return zt_result();
}
