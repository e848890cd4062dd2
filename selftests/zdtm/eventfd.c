// SPDX-License-Identifier: MIT
/*
 * eventfds: one O_NONBLOCK with a counter above 32 bits, one EFD_SEMAPHORE with counter 3;
 * and the memory devices /dev/zero, /dev/full, /dev/random, /dev/urandom. After restore
 * the counters read back exactly (the semaphore one by ones), the flags are kept, and the
 * devices behave as themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib.h"

#define FD_BIG 40
#define FD_SEM 41
#define FD_DEV 42	/* 42..45 */

struct expect {
	uint64_t big;
	uint64_t sem;
};

static struct expect want = { 0x123456789ULL, 3 };
static const char *devs[] = { "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom" };
static const int minors[] = { 5, 7, 8, 9 };

static int setup(void)
{
	int a = eventfd(0, EFD_NONBLOCK), b = eventfd(want.sem, EFD_SEMAPHORE), i;

	if (a < 0 || b < 0 || write(a, &want.big, 8) != 8)
		return -1;
	if (dup2(a, FD_BIG) != FD_BIG || dup2(b, FD_SEM) != FD_SEM || close(a) || close(b))
		return -1;
	for (i = 0; i < 4; i++) {
		int fd = open(devs[i], O_RDWR);

		if (fd < 0 || dup2(fd, FD_DEV + i) != FD_DEV + i || close(fd))
			return -1;
	}
	return 0;
}

static void check_eventfds(void)
{
	struct pollfd pfd = { .fd = FD_SEM, .events = POLLIN };
	uint64_t v = 0;
	int i;

	zt_check(fcntl(FD_BIG, F_GETFL) & O_NONBLOCK, "fd %d lost O_NONBLOCK", FD_BIG);
	zt_check(!(fcntl(FD_SEM, F_GETFL) & O_NONBLOCK), "fd %d gained O_NONBLOCK", FD_SEM);
	zt_check(read(FD_BIG, &v, 8) == 8 && v == want.big, "counter is %#llx, expected %#llx",
		 (unsigned long long)v, (unsigned long long)want.big);
	zt_check(read(FD_BIG, &v, 8) < 0 && errno == EAGAIN, "the counter was not emptied");
	for (i = 0; i < (int)want.sem && i < 16; i++) {
		v = 0;
		if (poll(&pfd, 1, 0) != 1 || read(FD_SEM, &v, 8) != 8 || v != 1) {
			zt_fail("semaphore read %d gave %llu (not a semaphore?)", i,
				(unsigned long long)v);
			break;
		}
	}
	zt_check(poll(&pfd, 1, 0) == 0, "the semaphore has more than %llu",
		 (unsigned long long)want.sem);
}

static void check_devices(void)
{
	char buf[64];
	struct stat st;
	int i;

	for (i = 0; i < 4; i++)
		zt_check(!fstat(FD_DEV + i, &st) && S_ISCHR(st.st_mode) &&
			 st.st_rdev == makedev(1, minors[i]), "fd %d is not %s", FD_DEV + i, devs[i]);
	memset(buf, 1, sizeof(buf));
	zt_check(read(FD_DEV, buf, sizeof(buf)) == sizeof(buf) && !buf[0] && !buf[63],
		 "/dev/zero does not read zeros");
	zt_check(write(FD_DEV + 1, buf, 1) < 0 && errno == ENOSPC, "/dev/full accepted a write");
	zt_check(read(FD_DEV + 3, buf, sizeof(buf)) == sizeof(buf), "/dev/urandom: %m");
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
	check_eventfds();
	check_devices();
	return zt_result();
}
