// SPDX-License-Identifier: MIT
/*
 * Signal-driven I/O: a pipe read end (fd 150) with O_ASYNC, owned by the task
 * (F_SETOWN_EX F_OWNER_PID) and signalling SIGUSR2 (F_SETSIG); a second pipe's read end
 * (fd 152) without an owner. After restore the owner, signal and O_ASYNC are the same, and
 * writing into the first pipe delivers SIGUSR2 to the task.
 */
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

struct expect {
	int sig;
};

static struct expect want = { SIGUSR2 };
static volatile sig_atomic_t got;

static void on_sig(int sig)
{
	got = sig;
}

static int setup(void)
{
	struct f_owner_ex owner = { F_OWNER_PID, getpid() };
	struct sigaction sa = { .sa_handler = on_sig };
	int p[2], q[2];

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) || pipe(p) || pipe(q))
		return -1;
	if (dup2(p[0], 150) != 150 || dup2(p[1], 151) != 151 || dup2(q[0], 152) != 152 ||
	    dup2(q[1], 153) != 153)
		return -1;
	close(p[0]), close(p[1]), close(q[0]), close(q[1]);
	if (fcntl(150, F_SETOWN_EX, &owner) || fcntl(150, F_SETSIG, want.sig) ||
	    fcntl(150, F_SETFL, O_ASYNC | O_NONBLOCK))
		return -1;
	return 0;
}

static void check(void)
{
	struct f_owner_ex owner = { 0 };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	zt_check(!fcntl(150, F_GETOWN_EX, &owner) && owner.type == F_OWNER_PID &&
		 owner.pid == getpid(), "fd 150 is owned by %d (type %d), expected %d",
		 owner.pid, owner.type, getpid());
	zt_check(fcntl(150, F_GETSIG) == want.sig, "fd 150 signals %d, expected %d",
		 fcntl(150, F_GETSIG), want.sig);
	zt_check(fcntl(150, F_GETFL) & O_ASYNC, "fd 150 lost O_ASYNC");
	zt_check(fcntl(152, F_GETOWN) == 0 && !(fcntl(152, F_GETFL) & O_ASYNC),
		 "fd 152 gained an owner or O_ASYNC");
	zt_check(write(151, "x", 1) == 1, "write: %m");
	for (i = 0; i < 300 && !got; i++)
		nanosleep(&ts, NULL);
	zt_check(got == want.sig, "no signal %d after a write into the pipe (got %d)", want.sig,
		 (int)got);
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
