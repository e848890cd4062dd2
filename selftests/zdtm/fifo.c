// SPDX-License-Identifier: MIT
/*
 * A FIFO by path with 5000 bytes in flight: an O_NONBLOCK read end and a write end open.
 * After restore both fds are that FIFO again (same inode as the path), with their flags,
 * the bytes read back exactly, nothing more, and new data still flows.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

#define FD_R 80
#define FD_W 81
#define BYTES 5000

struct expect {
	int bytes;
	ino_t ino;
};

static struct expect want = { BYTES, 0 };

static int setup(void)
{
	unsigned char buf[BYTES];
	struct stat st;
	int r, w, i;

	unlink("ff.fifo");
	if (mkfifo("ff.fifo", 0600) || stat("ff.fifo", &st))
		return -1;
	want.ino = st.st_ino;
	r = open("ff.fifo", O_RDONLY | O_NONBLOCK);
	w = open("ff.fifo", O_WRONLY);
	if (r < 0 || w < 0 || dup2(r, FD_R) != FD_R || dup2(w, FD_W) != FD_W || close(r) || close(w))
		return -1;
	for (i = 0; i < BYTES; i++)
		buf[i] = (unsigned char)zt_mix(i);
	return write(FD_W, buf, BYTES) == BYTES ? 0 : -1;
}

static void check(void)
{
	unsigned char buf[BYTES + 1];
	struct stat a, b;
	int n, i;

	zt_check(!fstat(FD_R, &a) && !fstat(FD_W, &b) && S_ISFIFO(a.st_mode) &&
		 a.st_ino == want.ino && b.st_ino == want.ino, "fds %d/%d are not ff.fifo", FD_R,
		 FD_W);
	zt_check(fcntl(FD_R, F_GETFL) & O_NONBLOCK, "the read end lost O_NONBLOCK");
	zt_check((fcntl(FD_W, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == O_WRONLY,
		 "the write end has flags %#x", fcntl(FD_W, F_GETFL));
	n = read(FD_R, buf, sizeof(buf));
	zt_check(n == want.bytes, "read %d bytes, expected %d", n, want.bytes);
	for (i = 0; i < n; i++)
		if (buf[i] != (unsigned char)zt_mix(i)) {
			zt_fail("byte %d differs", i);
			break;
		}
	n = read(FD_R, buf, 1);
	zt_check(n < 0 && errno == EAGAIN, "the emptied FIFO read %d", n);
	zt_check(write(FD_W, "ok", 2) == 2 && read(FD_R, buf, 4) == 2 && !memcmp(buf, "ok", 2),
		 "new data does not flow through the FIFO");
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
	unlink("ff.fifo");
	return zt_result();
}
