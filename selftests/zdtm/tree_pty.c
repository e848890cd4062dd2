// SPDX-License-Identifier: MIT
/*
 * A pty shared by a tree as a terminal emulator does: the root holds only the master
 * (termios: no echo, VERASE ^H, 19200 baud; window size 29x83), its child is a session
 * leader whose controlling terminal is the slave, and the child's child leads the
 * foreground group of that session. Before the dump the root writes a line to the master
 * and the child writes "up!" to the slave, none of it read. After restore: the child leads
 * its session with the same controlling terminal (/proc/self/stat tty_nr, TIOCGSID, /dev/tty)
 * and sees the termios and window size; the grandchild has it too, is the foreground group,
 * reads the root's line and answers "back" through /dev/tty; the root reads "up!back". A
 * second grandchild holding no fd of the pty has the controlling terminal too.
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

#define FD_M 40 /* the root's master */
#define FD_S 41 /* the slave, in the child and the grandchild */
#define WAIT_MS 10000

struct expect {
	tcflag_t c_iflag, c_oflag, c_lflag;
	speed_t speed;
	cc_t verase;
	struct winsize ws;
	unsigned int tty_nr; /* st_rdev of the slave, as /proc/PID/stat prints it */
	char line[16], up[8], out[16];
};

static struct expect want = {
	.c_iflag = ICRNL,
	.c_oflag = 0,
	.c_lflag = ICANON | ISIG | IEXTEN,
	.speed = B19200,
	.verase = 0x08,
	.ws = {29, 83, 0, 0},
	.line = "to-child\n",
	.up = "up!",
	.out = "up!back",
};

static char slave_path[64];

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

/* Read until len bytes came or WAIT_MS passed without any; the count read, or -1. */
static ssize_t read_all(int fd, char *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t n;

	while (got < len && poll(&pfd, 1, WAIT_MS) == 1) {
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got ? (ssize_t)got : -1;
}

static void check_termios(int fd, const char *who)
{
	struct termios tio;
	struct winsize ws;

	zt_check(!tcgetattr(fd, &tio), "%s: tcgetattr: %m", who);
	zt_check(tio.c_iflag == want.c_iflag && tio.c_oflag == want.c_oflag &&
			 tio.c_lflag == want.c_lflag,
		 "%s: termios flags i %#x o %#x l %#x, expected %#x %#x %#x", who, tio.c_iflag,
		 tio.c_oflag, tio.c_lflag, want.c_iflag, want.c_oflag, want.c_lflag);
	zt_check(cfgetospeed(&tio) == want.speed && tio.c_cc[VERASE] == want.verase,
		 "%s: speed %u VERASE %#x, expected %u %#x", who, cfgetospeed(&tio),
		 tio.c_cc[VERASE], want.speed, want.verase);
	zt_check(!ioctl(fd, TIOCGWINSZ, &ws) && ws.ws_row == want.ws.ws_row &&
			 ws.ws_col == want.ws.ws_col,
		 "%s: window %ux%u, expected %ux%u", who, ws.ws_row, ws.ws_col, want.ws.ws_row,
		 want.ws.ws_col);
}

/* The controlling terminal of this task is our slave, as the kernel reports it. */
static void check_ctty(const char *who)
{
	unsigned int tty_nr = 0;
	int fd, i;

	zt_check(!stat_tty_nr(&tty_nr) && tty_nr == want.tty_nr,
		 "%s: /proc/self/stat tty_nr %#x, expected %#x", who, tty_nr, want.tty_nr);
	for (i = 0; i < 3 && (fd = open("/dev/tty", O_RDWR)) < 0 && errno == EINTR; i++)
		;
	zt_check(fd >= 0, "%s: cannot open /dev/tty: %m", who);
	if (fd >= 0)
		close(fd);
}

/* The grandchild: the foreground group; reads the root's line, answers through /dev/tty. */
static int member_main(void *arg)
{
	char buf[32] = "";
	ssize_t n;
	int fd;

	setpgid(0, 0);
	zt_task_ready();
	zt_wait();
	check_ctty("grandchild");
	if (tcgetpgrp(FD_S) != getpgrp()) { /* a read would stop us (SIGTTIN) */
		zt_fail("grandchild: foreground group %d, expected %d", tcgetpgrp(FD_S), getpgrp());
		return zt_result();
	}
	n = read_all(FD_S, buf, strlen(want.line));
	zt_check(n == (ssize_t)strlen(want.line) && !memcmp(buf, want.line, n),
		 "grandchild: read %zd bytes '%.*s' from the slave, expected '%s'", n,
		 (int)(n > 0 ? n : 0), buf, want.line);
	fd = open("/dev/tty", O_WRONLY);
	zt_check(fd >= 0 && write(fd, "back", 4) == 4, "grandchild: cannot answer: %m");
	if (fd >= 0)
		close(fd);
	return zt_result();
}

/* Another grandchild, holding no fd of the pty: it has the terminal all the same. */
static int bystander_main(void *arg)
{
	close(FD_S);
	zt_task_ready();
	zt_wait();
	check_ctty("bystander");
	return zt_result();
}

/* The child: a new session whose controlling terminal is the slave. */
static int leader_main(void *arg)
{
	pid_t member;
	struct stat st;

	close(FD_M);
	if (setsid() < 0 || zt_move_fd(open(slave_path, O_RDWR | O_NOCTTY), FD_S) ||
	    ioctl(FD_S, TIOCSCTTY, 0) || fstat(FD_S, &st)) {
		zt_fail("child: session and controlling terminal: %m");
		return zt_result();
	}
	zt_fork(bystander_main, NULL);
	member = zt_fork(member_main, NULL);
	if (setpgid(member, member) && errno != EACCES)
		zt_fail("child: setpgid %d: %m", member);
	if (tcsetpgrp(FD_S, member) || write(FD_S, want.up, strlen(want.up)) != 3)
		zt_fail("child: tcsetpgrp or write: %m");
	zt_task_ready();
	zt_wait();
	zt_check(getsid(0) == getpid(), "child: session %d", getsid(0));
	zt_check(tcgetsid(FD_S) == getpid(), "child: the tty's session is %d", tcgetsid(FD_S));
	zt_check(tcgetpgrp(FD_S) == member, "child: foreground group %d, expected %d",
		 tcgetpgrp(FD_S), member);
	check_ctty("child");
	check_termios(FD_S, "child");
	zt_collect();
	return zt_result();
}

static int setup_master(void)
{
	struct termios tio;
	struct stat st;

	if (zt_open_master(FD_M) || unlockpt(FD_M) || !ptsname(FD_M) || tcgetattr(FD_M, &tio))
		return -1;
	snprintf(slave_path, sizeof(slave_path), "%s", ptsname(FD_M));
	if (stat(slave_path, &st))
		return -1;
	want.tty_nr = st.st_rdev;
	tio.c_iflag = want.c_iflag, tio.c_oflag = want.c_oflag, tio.c_lflag = want.c_lflag;
	tio.c_cc[VERASE] = want.verase;
	cfsetspeed(&tio, want.speed);
	return tcsetattr(FD_M, TCSANOW, &tio) || ioctl(FD_M, TIOCSWINSZ, &want.ws) ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct pollfd pfd = {.fd = FD_M, .events = POLLIN};
	char buf[32] = "";
	ssize_t n;

	zt_init(argc, argv);
	if (setup_master()) {
		zt_fail("pty master: %m");
		return zt_result();
	}
	zt_fork(leader_main, NULL);
	/* the child opened the slave once its "up!" is there: our line waits for it */
	if (poll(&pfd, 1, WAIT_MS) != 1 || write(FD_M, want.line, strlen(want.line)) < 0) {
		zt_fail("no output from the child's slave, or write: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check_termios(FD_M, "root");
	zt_collect(); /* the grandchild has answered once it is done */
	n = read_all(FD_M, buf, strlen(want.out));
	zt_check(n == (ssize_t)strlen(want.out) && !memcmp(buf, want.out, n),
		 "root: read %zd bytes '%.*s' from the master, expected '%s'", n,
		 (int)(n > 0 ? n : 0), buf, want.out);
	return zt_result();
}
