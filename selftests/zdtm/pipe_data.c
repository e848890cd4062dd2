// SPDX-License-Identifier: MIT
/*
 * Pipes with data in flight: a pipe raised to 256 KiB holding 64 KiB + 100 bytes with an
 * O_NONBLOCK read end, both ends open; and a pipe whose write end is closed, holding 10
 * bytes. After restore: same sizes, flags and bytes, nothing more (EAGAIN / EOF), and the
 * first pipe still carries new data from its write end to its read end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

#define FD_R 20
#define FD_W 21
#define FD_R2 22
#define BIG (64 * 1024 + 100)

struct expect {
	int size;
	int bytes;
	int bytes2;
};

static struct expect want = { 256 * 1024, BIG, 10 };

static unsigned char pattern(int i)
{
	return (unsigned char)zt_mix(i);
}

static int move_to(int fd, int num)
{
	if (dup2(fd, num) != num)
		return -1;
	return close(fd);
}

static int setup(void)
{
	unsigned char *buf = malloc(BIG);
	int p[2], q[2], i;

	for (i = 0; i < BIG; i++)
		buf[i] = pattern(i);
	if (pipe(p) || move_to(p[0], FD_R) || move_to(p[1], FD_W))
		return -1;
	if (fcntl(FD_W, F_SETPIPE_SZ, want.size) < want.size)
		return -1;
	if (fcntl(FD_R, F_SETFL, O_NONBLOCK) || write(FD_W, buf, BIG) != BIG)
		return -1;
	if (pipe(q) || move_to(q[0], FD_R2) || write(q[1], "0123456789", 10) != 10 || close(q[1]))
		return -1;
	free(buf);
	return 0;
}

static void check_big(void)
{
	unsigned char *buf = malloc(BIG + 1);
	struct stat a, b;
	int n, i;

	zt_check(fcntl(FD_R, F_GETPIPE_SZ) == want.size, "pipe size is %d, expected %d",
		 fcntl(FD_R, F_GETPIPE_SZ), want.size);
	zt_check(fcntl(FD_R, F_GETFL) & O_NONBLOCK, "the read end lost O_NONBLOCK");
	zt_check(!(fcntl(FD_W, F_GETFL) & O_NONBLOCK), "the write end gained O_NONBLOCK");
	zt_check((fcntl(FD_W, F_GETFL) & O_ACCMODE) == O_WRONLY, "fd %d is not a write end", FD_W);
	zt_check(!fstat(FD_R, &a) && !fstat(FD_W, &b) && a.st_ino == b.st_ino,
		 "fds %d and %d are not the two ends of one pipe", FD_R, FD_W);
	n = read(FD_R, buf, BIG + 1);
	zt_check(n == want.bytes, "read %d bytes from the pipe, expected %d", n, want.bytes);
	for (i = 0; i < n; i++)
		if (buf[i] != pattern(i)) {
			zt_fail("byte %d is 0x%02x, expected 0x%02x", i, buf[i], pattern(i));
			break;
		}
	n = read(FD_R, buf, 1);
	zt_check(n < 0 && errno == EAGAIN, "the emptied pipe read %d (%m), expected EAGAIN", n);
	zt_check(write(FD_W, "xyz", 3) == 3 && read(FD_R, buf, 10) == 3 && !memcmp(buf, "xyz", 3),
		 "new data does not go through the restored pipe");
	free(buf);
}

static void check_small(void)
{
	char buf[32];
	int n = read(FD_R2, buf, sizeof(buf));

	zt_check(n == want.bytes2 && !memcmp(buf, "0123456789", 10),
		 "the second pipe read %d bytes, expected %d", n, want.bytes2);
	n = read(FD_R2, buf, sizeof(buf));
	zt_check(n == 0, "the second pipe has no writer but read returned %d (%m)", n);
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
	check_big();
	check_small();
	return zt_result();
}
