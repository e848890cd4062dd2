// SPDX-License-Identifier: MIT
/*
 * A signalfd for SIGUSR1 and SIGRTMIN+2 (O_NONBLOCK), both blocked. After restore its mask
 * is the same (fdinfo), a SIGUSR1 raised then is read through it, and SIGUSR2 (blocked,
 * outside its mask) is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib.h"

#define FD_SIG 50

struct expect {
	unsigned long long mask;
};

static struct expect want;

static unsigned long long fdinfo_mask(void)
{
	char buf[512], *p;
	unsigned long long m = 0;
	int fd = open("/proc/self/fdinfo/50", O_RDONLY), n;

	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	p = strstr(buf, "sigmask:");
	if (p)
		sscanf(p + 8, "%llx", &m);
	return m;
}

static int setup(void)
{
	sigset_t set, block;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 2);
	block = set;
	sigaddset(&block, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	if (fd < 0 || dup2(fd, FD_SIG) != FD_SIG || close(fd))
		return -1;
	want.mask = 1ULL << (SIGUSR1 - 1) | 1ULL << (SIGRTMIN + 2 - 1);
	return fdinfo_mask() == want.mask ? 0 : -1;
}

static void check(void)
{
	struct signalfd_siginfo si;
	int n;

	zt_check(fdinfo_mask() == want.mask, "mask is %#llx, expected %#llx", fdinfo_mask(),
		 want.mask);
	zt_check(fcntl(FD_SIG, F_GETFL) & O_NONBLOCK, "the signalfd lost O_NONBLOCK");
	n = read(FD_SIG, &si, sizeof(si));
	zt_check(n < 0 && errno == EAGAIN, "a signal was queued before raise (read %d)", n);
	raise(SIGUSR2);
	raise(SIGUSR1);
	memset(&si, 0, sizeof(si));
	n = read(FD_SIG, &si, sizeof(si));
	zt_check(n == sizeof(si) && si.ssi_signo == SIGUSR1, "read %d, signal %u, expected %d", n,
		 si.ssi_signo, SIGUSR1);
	n = read(FD_SIG, &si, sizeof(si));
	zt_check(n < 0 && errno == EAGAIN, "SIGUSR2 came through the signalfd (read %d)", n);
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
	return zt_result();
}
