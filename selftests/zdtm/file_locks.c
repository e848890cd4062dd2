// SPDX-License-Identifier: MIT
/*
 * File locks, dumped with --file-locks: flock(LOCK_EX) on lk.a (fd 100), POSIX locks on
 * lk.b (fd 101: write [10, 30), read [100, EOF)), an OFD write lock [0, 5) on lk.c (fd 102;
 * fd 103 is a second open of lk.c). After restore a child process finds all of them held
 * (flock refused, F_GETLK and F_OFD_GETLK report the holder, an OFD lock of its own is
 * refused), and the task's other description of lk.c is refused the OFD lock too.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib.h"

struct expect {
	off_t wstart, wlen, rstart, olen;
};

static struct expect want = { 10, 20, 100, 5 };

static int open_at(const char *path, int flags, int num)
{
	int fd = open(path, flags | O_CREAT, 0644);

	if (fd < 0 || dup2(fd, num) != num || close(fd))
		return -1;
	return ftruncate(num, 4096);
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

static short getlk(int fd, int cmd, short type, off_t start, off_t len, pid_t *pid)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &fl))
		return -1;
	*pid = fl.l_pid;
	return fl.l_type;
}

static int setup(void)
{
	if (open_at("lk.a", O_RDWR, 100) || open_at("lk.b", O_RDWR, 101) ||
	    open_at("lk.c", O_RDWR, 102) || open_at("lk.c", O_RDWR, 103))
		return -1;
	if (flock(100, LOCK_EX | LOCK_NB) || setlk(101, F_SETLK, F_WRLCK, want.wstart, want.wlen) ||
	    setlk(101, F_SETLK, F_RDLCK, want.rstart, 0) ||
	    setlk(102, F_OFD_SETLK, F_WRLCK, 0, want.olen))
		return -1;
	return 0;
}

/* In a child: 0 when every lock is seen held, else the number of the failed check. */
static int contend(pid_t parent)
{
	int a = open("lk.a", O_RDWR), b = open("lk.b", O_RDWR), c = open("lk.c", O_RDWR);
	pid_t pid = 0;

	if (a < 0 || b < 0 || c < 0)
		return 10;
	if (!flock(a, LOCK_EX | LOCK_NB) || errno != EWOULDBLOCK)
		return 11;
	if (getlk(b, F_GETLK, F_RDLCK, want.wstart + 5, 1, &pid) != F_WRLCK || pid != parent)
		return 12;
	if (getlk(b, F_GETLK, F_WRLCK, want.rstart + 1000, 1, &pid) != F_RDLCK || pid != parent)
		return 13;
	if (getlk(b, F_GETLK, F_WRLCK, want.wstart + want.wlen + 5, 1, &pid) != F_UNLCK)
		return 14;
	if (getlk(c, F_OFD_GETLK, F_RDLCK, 0, 1, &pid) != F_WRLCK)
		return 15;
	if (!setlk(c, F_OFD_SETLK, F_WRLCK, 0, want.olen) || errno != EAGAIN)
		return 16;
	if (setlk(c, F_OFD_SETLK, F_WRLCK, want.olen, 10))
		return 17;
	return 0;
}

static void check(void)
{
	pid_t parent = getpid(), child = fork();
	int status = -1;

	if (child == 0)
		_exit(contend(parent));
	zt_check(child > 0 && waitpid(child, &status, 0) == child, "fork/wait: %m");
	zt_check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "a lock is missing after restore: the child's check %d failed",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	zt_check(setlk(103, F_OFD_SETLK, F_WRLCK, 0, want.olen) && errno == EAGAIN,
		 "fd 103 got the OFD lock that fd 102's description holds");
	zt_check(!flock(100, LOCK_SH | LOCK_NB), "the flock holder cannot convert its lock: %m");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_dump_option("--file-locks");
	zt_ready();
	zt_wait();
	check();
	return zt_result();
}
