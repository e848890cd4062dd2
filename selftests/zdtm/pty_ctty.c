// SPDX-License-Identifier: MIT
/*
 * A session leader (the runner starts each test with setsid) whose controlling terminal
 * is the slave of a pty it holds (TIOCSCTTY), in the foreground. After restore its
 * /proc/self/stat names the same tty, tcgetpgrp() is its group, and what it writes to
 * /dev/tty comes out of the master. Its child, holding no fd of the pty, has it as its
 * controlling terminal too (the leader takes it again before it forks).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "lib.h"
#include "pty-lib.h"

#define FD_S 40	/* below the master: restore opens the master for the slave first */
#define FD_M 41

struct expect {
	int index;
	unsigned int tty_nr;	/* st_rdev of the slave, as /proc/PID/stat prints it */
};

static struct expect want;

static int stat_tty_nr(unsigned int *tty_nr)
{
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	p = ok ? strrchr(buf, ')') : NULL;
	return p && sscanf(p + 2, "%*c %*d %*d %*d %u", tty_nr) == 1 ? 0 : -1;
}

static ssize_t read_now(int fd, char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 2000) == 1 ? read(fd, buf, len) : -1;
}

static int setup(void)
{
	struct stat st;

	if (getsid(0) != getpid())
		zt_skip("not a session leader (the runner starts tests with setsid)");
	if (zt_open_master(FD_M) || zt_open_slave(FD_M, FD_S, O_RDWR | O_NOCTTY))
		return -1;
	if (ioctl(FD_S, TIOCSCTTY, 0) || tcsetpgrp(FD_S, getpgrp()) || fstat(FD_S, &st) ||
	    ioctl(FD_M, TIOCGPTN, &want.index))
		return -1;
	want.tty_nr = st.st_rdev;
	return 0;
}

static void check(void)
{
	unsigned int tty_nr = 0;
	int fd, i, index = -1;
	char buf[16];

	zt_check(!ioctl(FD_M, TIOCGPTN, &index) && index == want.index, "pty index %d, was %d",
		 index, want.index);
	zt_check(!stat_tty_nr(&tty_nr) && tty_nr == want.tty_nr,
		 "/proc/self/stat tty_nr %#x, expected %#x", tty_nr, want.tty_nr);
	zt_check(tcgetpgrp(FD_S) == getpgrp(), "foreground group %d, expected %d",
		 tcgetpgrp(FD_S), getpgrp());
	zt_check(tcgetsid(FD_S) == getpid(), "the tty's session is %d", tcgetsid(FD_S));
	for (i = 0; i < 3 && (fd = open("/dev/tty", O_RDWR)) < 0 && errno == EINTR; i++)
		;
	zt_check(fd >= 0, "cannot open /dev/tty: %m");
	zt_check(fd >= 0 && write(fd, "ping", 4) == 4 && read_now(FD_M, buf, sizeof(buf)) == 4 &&
		 !memcmp(buf, "ping", 4), "what /dev/tty writes does not reach the pty master");
	if (fd >= 0)
		close(fd);
}

/* A child in the session holding no fd of the pty: it inherits the terminal on restore. */
static int child(void *arg)
{
	unsigned int tty_nr = 0;
	int fd;

	close(FD_M);
	close(FD_S);
	zt_task_ready();
	zt_wait();
	zt_check(!stat_tty_nr(&tty_nr) && tty_nr == want.tty_nr,
		 "child: /proc/self/stat tty_nr %#x, expected %#x", tty_nr, want.tty_nr);
	fd = open("/dev/tty", O_RDWR);
	zt_check(fd >= 0, "child: cannot open /dev/tty: %m");
	if (fd >= 0)
		close(fd);
	return zt_result();
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check();
	zt_collect();
	return zt_result();
}
