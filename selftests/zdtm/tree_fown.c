// SPDX-License-Identifier: MIT
/*
 * A description shared by parent and child whose owner is the child: the root's pipe
 * read end (fd 20, inherited by the child) gets F_SETOWN_EX F_OWNER_PID = the child and
 * F_SETSIG SIGUSR1 after the fork. On restore the root opens it before the child exists;
 * after restore both see the child as its owner and the signal, from either process.
 */
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "lib.h"

#define FD_R 20
#define FD_W 21

static int want_sig = SIGUSR1; /* exposed */

static void check_owner(pid_t child, const char *who)
{
	struct f_owner_ex o = { 0 };

	zt_check(!fcntl(FD_R, F_GETOWN_EX, &o) && o.type == F_OWNER_PID && o.pid == child,
		 "%s: owner type %d pid %d, expected process %d", who, o.type, o.pid, child);
	zt_check(fcntl(FD_R, F_GETSIG) == want_sig, "%s: F_GETSIG %d, expected %d", who,
		 fcntl(FD_R, F_GETSIG), want_sig);
}

static int child(void *arg)
{
	zt_task_ready();
	zt_wait();
	check_owner(getpid(), "child");
	return zt_result();
}

int main(int argc, char **argv)
{
	struct f_owner_ex o = { F_OWNER_PID, 0 };
	int p[2];

	zt_init(argc, argv);
	if (pipe(p) || dup2(p[0], FD_R) != FD_R || dup2(p[1], FD_W) != FD_W || close(p[0]) ||
	    close(p[1])) {
		zt_fail("pipe: %m");
		return zt_result();
	}
	o.pid = zt_fork(child, NULL);
	if (fcntl(FD_R, F_SETOWN_EX, &o) || fcntl(FD_R, F_SETSIG, want_sig)) {
		zt_fail("F_SETOWN_EX/F_SETSIG: %m");
		return zt_result();
	}
	zt_expose(&want_sig, sizeof(want_sig));
	zt_ready();
	zt_wait();
	check_owner(o.pid, "root");
	zt_collect();
	return zt_result();
}
