// SPDX-License-Identifier: MIT
/*
 * Unix98 ptys held by the process: a canonical one in packet mode with an exclusive slave,
 * custom termios (ICANON locked) and window size, two lines and a partial one written to
 * the master and output written by the slave, none of it read before the dump; a raw one
 * with bytes a cooked tty would have eaten; a master never unlocked; a master whose slave
 * wrote and was closed. After restore the indexes, termios, window size and modes are the
 * same, the queued bytes read back exactly and the last master reads EIO after its bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "lib.h"
#include "pty-lib.h"

#define FD_CM 40	/* canonical pty: master, slave */
#define FD_CS 41
#define FD_RM 42	/* raw pty */
#define FD_RS 43
#define FD_LM 44	/* locked master */
#define FD_HM 45	/* a master whose slave wrote and was closed (hung up) */
#define FD_TMP 46

struct expect {
	int index[4];
	tcflag_t c_iflag, c_oflag, c_lflag;
	tcflag_t locked_lflag;		/* TIOCSLCKTRMIOS: ICANON may not change */
	speed_t speed;
	cc_t verase, vmin;
	struct winsize ws;
	char lines[2][8], part[8], out[8], raw[8], bye[8];
};

static struct expect want = {
	.c_iflag = ICRNL | IUTF8, .c_oflag = 0, .c_lflag = ICANON | ISIG | IEXTEN,
	.locked_lflag = ICANON,
	.speed = B19200, .verase = 0x08, .vmin = 1,
	.ws = { 31, 97, 640, 480 },
	.lines = { "line1\n", "line2\n" }, .part = "part", .out = "out!",
	.raw = "\x03raw\r\x7f", .bye = "bye",
};

static int open_pty(int mfd, int sfd, bool unlock)
{
	if (zt_open_master(mfd))
		return -1;
	return unlock ? zt_open_slave(mfd, sfd, O_RDWR | O_NOCTTY) : 0;
}

static int setup_cooked(void)
{
	struct termios tio, lk;
	int one = 1;

	if (tcgetattr(FD_CS, &tio))
		return -1;
	tio.c_iflag = want.c_iflag, tio.c_oflag = want.c_oflag, tio.c_lflag = want.c_lflag;
	tio.c_cc[VERASE] = want.verase;
	cfsetspeed(&tio, want.speed);
	memset(&lk, 0, sizeof(lk));
	lk.c_lflag = want.locked_lflag;
	if (tcsetattr(FD_CS, TCSANOW, &tio) || ioctl(FD_CS, TIOCSLCKTRMIOS, &lk) ||
	    ioctl(FD_CS, TIOCSWINSZ, &want.ws) ||
	    ioctl(FD_CM, TIOCPKT, &one) || ioctl(FD_CS, TIOCEXCL))
		return -1;
	if (dprintf(FD_CM, "%s%s%s", want.lines[0], want.lines[1], want.part) < 0 ||
	    dprintf(FD_CS, "%s", want.out) < 0)
		return -1;
	return 0;
}

static int setup_raw(void)
{
	struct termios tio;

	if (tcgetattr(FD_RS, &tio))
		return -1;
	cfmakeraw(&tio);
	tio.c_cc[VMIN] = want.vmin, tio.c_cc[VTIME] = 0;
	if (tcsetattr(FD_RS, TCSANOW, &tio))
		return -1;
	return write(FD_RM, want.raw, strlen(want.raw)) == (ssize_t)strlen(want.raw) ? 0 : -1;
}

static int setup_hung_up(void)
{
	struct termios tio;

	if (open_pty(FD_HM, FD_TMP, true) || tcgetattr(FD_TMP, &tio))
		return -1;
	tio.c_oflag &= ~OPOST;
	if (tcsetattr(FD_TMP, TCSANOW, &tio) || dprintf(FD_TMP, "%s", want.bye) < 0)
		return -1;
	return close(FD_TMP);
}

static int setup(void)
{
	int fds[4] = { FD_CM, FD_RM, FD_LM, FD_HM }, i;

	if (open_pty(FD_CM, FD_CS, true) || open_pty(FD_RM, FD_RS, true) ||
	    open_pty(FD_LM, -1, false) || setup_hung_up())
		return -1;
	for (i = 0; i < 4; i++)
		if (ioctl(fds[i], TIOCGPTN, &want.index[i]))
			return -1;
	return setup_cooked() || setup_raw() ? -1 : 0;
}

/* One read with a short poll first, so that a missing byte fails instead of hanging. */
static ssize_t read_now(int fd, char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return read(fd, buf, len);
}

static void check_queued(void)
{
	struct termios tio;
	char buf[64];
	ssize_t n;
	int i;

	for (i = 0; i < 2; i++) {
		n = read_now(FD_CS, buf, sizeof(buf));
		zt_check(n == (ssize_t)strlen(want.lines[i]) && !memcmp(buf, want.lines[i], n),
			 "line %d: read %zd bytes '%.*s'", i, n, (int)(n > 0 ? n : 0), buf);
	}
	tcgetattr(FD_CS, &tio);
	tio.c_lflag &= ~ICANON;
	tio.c_cc[VMIN] = 0, tio.c_cc[VTIME] = 0;
	tcsetattr(FD_CS, TCSANOW, &tio);
	n = read_now(FD_CS, buf, sizeof(buf));
	zt_check(n == (ssize_t)strlen(want.part) && !memcmp(buf, want.part, n),
		 "the partial line: read %zd bytes", n);
	n = read_now(FD_CM, buf, sizeof(buf));
	zt_check(n == (ssize_t)strlen(want.out) + 1 && buf[0] == TIOCPKT_DATA &&
		 !memcmp(buf + 1, want.out, n - 1), "the master read %zd bytes (packet mode?)", n);
	n = read_now(FD_RS, buf, sizeof(buf));
	zt_check(n == (ssize_t)strlen(want.raw) && !memcmp(buf, want.raw, n),
		 "the raw pty read %zd bytes", n);
	n = read_now(FD_HM, buf, sizeof(buf));
	zt_check(n == (ssize_t)strlen(want.bye) && !memcmp(buf, want.bye, n),
		 "the hung-up master read %zd bytes", n);
	zt_check(read_now(FD_HM, buf, sizeof(buf)) < 0 && errno == EIO,
		 "the hung-up master is not hung up after its bytes: %m");
}

static void check_state(void)
{
	int fds[4] = { FD_CM, FD_RM, FD_LM, FD_HM }, i, v;
	struct termios tio;
	struct winsize ws;

	for (i = 0; i < 4; i++)
		zt_check(!ioctl(fds[i], TIOCGPTN, &v) && v == want.index[i],
			 "pty %d has index %d, was %d", i, v, want.index[i]);
	zt_check(!tcgetattr(FD_CS, &tio), "tcgetattr: %m");
	zt_check(tio.c_iflag == want.c_iflag && tio.c_oflag == want.c_oflag &&
		 tio.c_lflag == want.c_lflag, "flags %#x %#x %#x", tio.c_iflag, tio.c_oflag,
		 tio.c_lflag);
	zt_check(cfgetospeed(&tio) == want.speed && tio.c_cc[VERASE] == want.verase,
		 "speed %u, erase %#x", cfgetospeed(&tio), tio.c_cc[VERASE]);
	zt_check(!ioctl(FD_CM, TIOCGWINSZ, &ws) && !memcmp(&ws, &want.ws, sizeof(ws)),
		 "window %ux%u (%ux%u)", ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel);
	memset(&tio, 0, sizeof(tio));
	zt_check(!ioctl(FD_CS, TIOCGLCKTRMIOS, &tio) && tio.c_lflag == want.locked_lflag,
		 "locked termios lflag %#x", tio.c_lflag);
	memset(&tio, 0, sizeof(tio));
	ioctl(FD_CS, TIOCSLCKTRMIOS, &tio);	/* check_queued() leaves canonical mode */
	zt_check(!ioctl(FD_CM, TIOCGPKT, &v) && v == 1, "packet mode lost");
	zt_check(!ioctl(FD_CS, TIOCGEXCL, &v) && v == 1, "exclusive mode lost");
	zt_check(!ioctl(FD_LM, TIOCGPTLCK, &v) && v == 1, "the locked pty is unlocked");
	zt_check(!ioctl(FD_CM, TIOCGPTLCK, &v) && v == 0, "the unlocked pty is locked");
	zt_check(!tcgetattr(FD_RS, &tio) && !(tio.c_lflag & (ICANON | ECHO)) &&
		 tio.c_cc[VMIN] == want.vmin, "the raw pty is not raw (lflag %#x)", tio.c_lflag);
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
	check_state();
	check_queued();
	return zt_result();
}
