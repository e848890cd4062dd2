// SPDX-License-Identifier: MIT
/*
 * A regular file opened before fork (fd 10, O_RDWR|O_APPEND off, offset 1000) shared by
 * parent and child; the child also opened the same file again itself (fd 11, offset 5)
 * and set FD_CLOEXEC on its fd 10 only. After restore the child's fd 10 is the parent's
 * description (kcmp across the two processes) and fd 11 is not; both see offset 1000;
 * the child writes 24 bytes through fd 10 and the parent's offset moved to 1024, while
 * fd 11 stayed at 5. The parent changes O_NONBLOCK and the child sees it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "lib.h"

#define FD_SHARED 10
#define FD_OWN 11
#define WRITE_LEN 24

struct expect {
	off_t off;
	off_t own_off;
};

static struct expect want = { 1000, 5 }; /* exposed */
static char path[64];

static int child(void *arg)
{
	pid_t parent = getppid();
	int fl, fd = open(path, O_RDWR);

	if (fd < 0 || dup2(fd, FD_OWN) != FD_OWN || close(fd) ||
	    lseek(FD_OWN, want.own_off, SEEK_SET) < 0 || fcntl(FD_SHARED, F_SETFD, FD_CLOEXEC)) {
		zt_fail("child setup: %m");
		return zt_result();
	}
	zt_task_ready();
	zt_wait();
	zt_check(syscall(SYS_kcmp, getpid(), parent, KCMP_FILE, FD_SHARED, FD_SHARED) == 0,
		 "fd %d is not the parent's open file description any more", FD_SHARED);
	zt_check(syscall(SYS_kcmp, getpid(), parent, KCMP_FILE, FD_OWN, FD_SHARED) != 0,
		 "fd %d (opened separately) became the shared description", FD_OWN);
	zt_check(fcntl(FD_SHARED, F_GETFD) == FD_CLOEXEC, "FD_CLOEXEC lost on fd %d",
		 FD_SHARED);
	fl = fcntl(FD_SHARED, F_GETFL);
	zt_check(fl >= 0 && (fl & O_NONBLOCK), "the parent's F_SETFL did not show: %#x", fl);
	zt_check(lseek(FD_SHARED, 0, SEEK_CUR) == want.off, "shared offset %lld, expected %lld",
		 (long long)lseek(FD_SHARED, 0, SEEK_CUR), (long long)want.off);
	zt_check(lseek(FD_OWN, 0, SEEK_CUR) == want.own_off, "own offset %lld, expected %lld",
		 (long long)lseek(FD_OWN, 0, SEEK_CUR), (long long)want.own_off);
	zt_check(write(FD_SHARED, "written through the child", WRITE_LEN) == WRITE_LEN,
		 "write: %m");
	zt_check(lseek(FD_OWN, 0, SEEK_CUR) == want.own_off, "own offset moved with the shared");
	return zt_result();
}

int main(int argc, char **argv)
{
	int fd;

	zt_init(argc, argv);
	snprintf(path, sizeof(path), "shared-%d.data", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dup2(fd, FD_SHARED) != FD_SHARED || close(fd) ||
	    ftruncate(FD_SHARED, 4096) || lseek(FD_SHARED, want.off, SEEK_SET) != want.off) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	zt_check(lseek(FD_SHARED, 0, SEEK_CUR) == want.off, "offset %lld after restore, "
		 "expected %lld", (long long)lseek(FD_SHARED, 0, SEEK_CUR), (long long)want.off);
	zt_check(fcntl(FD_SHARED, F_GETFD) == 0, "FD_CLOEXEC of the child's fd showed here");
	zt_check(!fcntl(FD_SHARED, F_SETFL, O_RDWR | O_NONBLOCK), "F_SETFL: %m");
	zt_collect();
	zt_check(lseek(FD_SHARED, 0, SEEK_CUR) == want.off + WRITE_LEN, "offset %lld after the "
		 "child wrote %d bytes, expected %lld", (long long)lseek(FD_SHARED, 0, SEEK_CUR),
		 WRITE_LEN, (long long)(want.off + WRITE_LEN));
	unlink(path);
	return zt_result();
}
