// SPDX-License-Identifier: MIT
/*
 * Processes sharing an fd table (CLONE_FILES) or cwd/umask (CLONE_FS) with their parent.
 * The root R holds a data file at fd 10, offset 1000; it clones F with CLONE_FILES (F
 * clones G with CLONE_FILES too: one table for three processes) and S with CLONE_FS
 * (umask 0023, cwd the work dir). After restore, from inside: kcmp says R, F and G have
 * one fd table and R and S one fs, and nothing else is shared; fd 10 is at offset 1000
 * everywhere. Then R opens fd 21 and changes cwd and umask; F sees fd 21 and opens fd 22,
 * G sees fd 22 and opens fd 23, F writes 24 bytes through fd 10; S sees R's cwd and
 * umask and changes both again; R sees fds 22 and 23, offset 1024, and S's cwd/umask.
 * The children write to the shared stdout and report by their exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "lib.h"

#define FD_DATA 10
#define FD_BY_R 21
#define FD_BY_F 22
#define FD_BY_G 23
#define WRITE_LEN 24
#define STACK_SIZE (256 << 10)

struct expect {
	off_t off;
	mode_t umask;
};

static struct expect want = { 1000, 0023 }; /* exposed */
static char workdir[PATH_MAX], dir_r[PATH_MAX + 8], dir_s[PATH_MAX + 8];
static pid_t root_pid;

static int same(pid_t a, pid_t b, int type)
{
	return syscall(SYS_kcmp, a, b, type, 0, 0) == 0;
}

/* Until fd is open (another task of the table opens it), at most ~10 s. */
static int wait_fd(int fd)
{
	int i;

	for (i = 0; i < 1000 && fcntl(fd, F_GETFD) < 0; i++)
		usleep(10000);
	return fcntl(fd, F_GETFD) >= 0;
}

static pid_t clone_task(int (*fn)(void *), int flags)
{
	char *stack = malloc(STACK_SIZE);
	pid_t pid = stack ? clone(fn, stack + STACK_SIZE, flags | SIGCHLD, NULL) : -1;

	if (pid < 0) {
		zt_fail("clone(%#x): %m", flags);
		exit(1);
	}
	zt_adopt(pid);
	return pid;
}

/* A clone()d task: its own zt state, no output of its own (stdout may be shared). */
static void task_start(void)
{
	zt_forget_tasks();
}

static int task_end(void)
{
	return zt_failed() ? 1 : 0;
}

static int task_g(void *arg)
{
	task_start();
	zt_task_ready();
	zt_wait();
	zt_check(same(getpid(), root_pid, KCMP_FILES), "G: not in R's fd table after restore");
	zt_check(wait_fd(FD_BY_F), "G: F's fd %d never showed", FD_BY_F);
	zt_check(dup2(FD_DATA, FD_BY_G) == FD_BY_G, "G: dup2: %m");
	return task_end();
}

static int task_f(void *arg)
{
	task_start();
	clone_task(task_g, CLONE_FILES);
	zt_task_ready();
	zt_wait();
	zt_check(same(getpid(), root_pid, KCMP_FILES), "F: not in R's fd table after restore");
	zt_check(!same(getpid(), root_pid, KCMP_FS), "F: shares R's fs, which it did not");
	zt_check(lseek(FD_DATA, 0, SEEK_CUR) == want.off, "F: offset %lld, expected %lld",
		 (long long)lseek(FD_DATA, 0, SEEK_CUR), (long long)want.off);
	zt_check(wait_fd(FD_BY_R), "F: R's fd %d is not open here", FD_BY_R);
	zt_check(dup2(FD_DATA, FD_BY_F) == FD_BY_F, "F: dup2: %m");
	zt_check(write(FD_DATA, "written through F's fd 10", WRITE_LEN) == WRITE_LEN,
		 "F: write: %m");
	zt_collect();
	return task_end();
}

static int task_s(void *arg)
{
	char cwd[PATH_MAX] = "";
	mode_t m;

	task_start();
	zt_task_ready();
	zt_wait();
	zt_check(same(getpid(), root_pid, KCMP_FS), "S: does not share R's fs after restore");
	zt_check(!same(getpid(), root_pid, KCMP_FILES), "S: shares R's fd table");
	m = umask(0);
	umask(m);
	zt_check(m == 0027, "S: umask %#o, R set 0027", m);
	zt_check(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, dir_r), "S: cwd %s, R went to %s", cwd,
		 dir_r);
	zt_check(!chdir(dir_s), "S: chdir %s: %m", dir_s);
	umask(0077);
	return task_end();
}

/* After restore: R's own view, then its changes for the others to see. */
static void check_root_before(void)
{
	mode_t m = umask(0);

	umask(m);
	zt_check(m == want.umask, "umask %#o after restore, expected %#o", m, want.umask);
	zt_check(lseek(FD_DATA, 0, SEEK_CUR) == want.off, "offset %lld after restore, expected "
		 "%lld", (long long)lseek(FD_DATA, 0, SEEK_CUR), (long long)want.off);
	zt_check(fcntl(FD_BY_R, F_GETFD) < 0, "fd %d is open before R opened it", FD_BY_R);
	zt_check(dup2(FD_DATA, FD_BY_R) == FD_BY_R, "dup2: %m");
	zt_check(!chdir(dir_r), "chdir %s: %m", dir_r);
	umask(0027);
}

static void check_root_after(void)
{
	char cwd[PATH_MAX] = "";
	mode_t m = umask(0);

	umask(m);
	zt_check(fcntl(FD_BY_F, F_GETFD) >= 0, "F's fd %d is not open in R", FD_BY_F);
	zt_check(fcntl(FD_BY_G, F_GETFD) >= 0, "G's fd %d is not open in R", FD_BY_G);
	zt_check(lseek(FD_DATA, 0, SEEK_CUR) == want.off + WRITE_LEN, "offset %lld after F "
		 "wrote %d bytes, expected %lld", (long long)lseek(FD_DATA, 0, SEEK_CUR),
		 WRITE_LEN, (long long)(want.off + WRITE_LEN));
	zt_check(m == 0077, "umask %#o, S set 0077", m);
	zt_check(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, dir_s), "cwd %s, S went to %s", cwd,
		 dir_s);
	zt_check(!chdir(workdir), "chdir back: %m");
}

int main(int argc, char **argv)
{
	char path[64];
	pid_t f, s;
	int fd;

	zt_init(argc, argv);
	root_pid = getpid();
	umask(want.umask);
	snprintf(path, sizeof(path), "clone-files-%d.data", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!getcwd(workdir, sizeof(workdir)) || fd < 0 || dup2(fd, FD_DATA) != FD_DATA ||
	    close(fd) || ftruncate(FD_DATA, 4096) || lseek(FD_DATA, want.off, SEEK_SET) < 0) {
		zt_fail("setup: %m");
		return zt_result();
	}
	snprintf(dir_r, sizeof(dir_r), "%s/r-%d", workdir, getpid());
	snprintf(dir_s, sizeof(dir_s), "%s/s-%d", workdir, getpid());
	if ((mkdir(dir_r, 0755) && errno != EEXIST) || (mkdir(dir_s, 0755) && errno != EEXIST)) {
		zt_fail("mkdir: %m");
		return zt_result();
	}
	f = clone_task(task_f, CLONE_FILES);
	s = clone_task(task_s, CLONE_FS);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	zt_check(same(getpid(), f, KCMP_FILES), "F does not share our fd table after restore");
	zt_check(same(getpid(), s, KCMP_FS), "S does not share our fs after restore");
	check_root_before();
	zt_collect();
	check_root_after();
	unlink(path);
	rmdir(dir_r);
	rmdir(dir_s);
	return zt_result();
}
