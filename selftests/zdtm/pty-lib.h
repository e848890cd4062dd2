/* SPDX-License-Identifier: MIT */
/*
 * Pty helpers of the pty tests. The kernel hands out the lowest free pty index and ferry
 * restores a pty only at its old index, so a test takes a high one (32 + pid % 256): other
 * tests running meanwhile on this machine take the low ones, not the one it was dumped with.
 */
#ifndef ZDTM_PTY_LIB_H
#define ZDTM_PTY_LIB_H

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define ZT_PTY_SPREAD 256

/* Put fd at number target (closing fd); 0 or -1. */
static inline int zt_move_fd(int fd, int target)
{
	if (fd < 0 || fd == target)
		return fd < 0 ? -1 : 0;
	if (dup2(fd, target) != target)
		return -1;
	return close(fd);
}

/* A new pty master with an index of at least 32 + pid % 256, at fd target; 0 or -1. */
static inline int zt_open_master(int target)
{
	int lowest = 32 + getpid() % ZT_PTY_SPREAD, extra[32 + ZT_PTY_SPREAD], n = 0, m, index;

	for (;;) {
		m = posix_openpt(O_RDWR | O_NOCTTY);
		if (m < 0 || ioctl(m, TIOCGPTN, &index) || index >= lowest ||
		    n == (int)(sizeof(extra) / sizeof(extra[0])))
			break;
		extra[n++] = m;
	}
	while (n--)
		close(extra[n]);
	if (m >= 0 && index < lowest) {
		close(m);
		return -1;
	}
	return zt_move_fd(m, target);
}

/* Unlock the master at fd mfd and open its slave at fd sfd; 0 or -1. */
static inline int zt_open_slave(int mfd, int sfd, int flags)
{
	if (unlockpt(mfd))
		return -1;
	return zt_move_fd(open(ptsname(mfd), flags), sfd);
}

#endif
