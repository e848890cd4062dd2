// SPDX-License-Identifier: MIT
/*
 * A pipe between parent and child: the root keeps the write end (fd 20), its child the
 * O_NONBLOCK read end (fd 21), 64 KiB in flight in a pipe of 256 KiB. After restore the
 * child's read end is the same description as before (kcmp against a dup it kept,
 * fd 22), the root writes a tail and closes its end; the child reads the 64 KiB, the
 * tail, then EOF: no other task may hold the write end (EAGAIN would say one does).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "lib.h"

#define FD_W 20
#define FD_R 21
#define FD_R_DUP 22
#define PIPE_SIZE (256 * 1024)
#define IN_FLIGHT (64 * 1024)

static const char tail[] = "written by the parent after the restore";
static int want_size = PIPE_SIZE; /* exposed */

static unsigned char pattern(int i)
{
	return (unsigned char)zt_mix(i * 7 + 1);
}

/* Read everything until EOF (or an error) into buf; the count, or -1 on EAGAIN. */
static ssize_t read_to_eof(int fd, unsigned char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size && (n = read(fd, buf + got, size - got)) != 0) {
		if (n < 0) {
			zt_fail("read of the pipe after %zu bytes: %m%s", got,
				errno == EAGAIN ? " (someone still holds the write end)" : "");
			return -1;
		}
		got += n;
	}
	return got;
}

static int child(void *arg)
{
	static unsigned char buf[IN_FLIGHT + sizeof(tail) + 16];
	ssize_t n;
	int i, bad = -1;

	close(FD_W);
	zt_task_ready();
	zt_wait();
	zt_check(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, FD_R, FD_R_DUP) == 0,
		 "fd %d and its dup %d are no longer one description", FD_R, FD_R_DUP);
	zt_check(fcntl(FD_R, F_GETFL) & O_NONBLOCK, "the read end lost O_NONBLOCK");
	zt_check(fcntl(FD_R, F_GETPIPE_SZ) == want_size, "pipe size %d, expected %d",
		 fcntl(FD_R, F_GETPIPE_SZ), want_size);
	n = read_to_eof(FD_R, buf, sizeof(buf));
	if (n >= 0) {
		zt_check(n == IN_FLIGHT + (ssize_t)sizeof(tail), "read %zd bytes, expected %zu", n,
			 IN_FLIGHT + sizeof(tail));
		for (i = 0; i < IN_FLIGHT && i < n && bad < 0; i++)
			if (buf[i] != pattern(i))
				bad = i;
		zt_check(bad < 0, "byte %d of the data in flight differs", bad);
		zt_check(n < IN_FLIGHT || !memcmp(buf + IN_FLIGHT, tail, n - IN_FLIGHT),
			 "the parent's tail did not come through the pipe");
	}
	zt_collect();
	return zt_result();
}

static int setup(void)
{
	static unsigned char buf[IN_FLIGHT];
	int p[2], i;

	if (pipe(p) || dup2(p[1], FD_W) != FD_W || dup2(p[0], FD_R) != FD_R ||
	    dup2(p[0], FD_R_DUP) != FD_R_DUP || close(p[0]) || close(p[1]))
		return -1;
	if (fcntl(FD_W, F_SETPIPE_SZ, PIPE_SIZE) != PIPE_SIZE ||
	    fcntl(FD_R, F_SETFL, O_NONBLOCK))
		return -1;
	for (i = 0; i < IN_FLIGHT; i++)
		buf[i] = pattern(i);
	return write(FD_W, buf, IN_FLIGHT) == IN_FLIGHT ? 0 : -1;
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("cannot set up the pipe: %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	close(FD_R);
	close(FD_R_DUP);
	zt_expose(&want_size, sizeof(want_size));
	zt_ready();
	zt_wait();
	zt_check(fcntl(FD_W, F_GETPIPE_SZ) == want_size, "pipe size %d at the write end",
		 fcntl(FD_W, F_GETPIPE_SZ));
	zt_check(write(FD_W, tail, sizeof(tail)) == sizeof(tail), "write of the tail: %m");
	close(FD_W);
	zt_collect();
	return zt_result();
}
