// SPDX-License-Identifier: MIT
/*
 * A process group whose leader is gone: the root R made its child L lead a group, two
 * more children M1 and M2 joined it, then L was killed and reaped. After the restore
 * M1 and M2 are still in group L (in R's session), and no process L exists in R's session
 * (PID L itself may be taken meanwhile by an unrelated process: PIDs wrap quickly on a busy
 * machine with the default pid_max).
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib.h"

static pid_t leader; /* exposed */
static pid_t session;

/* A process with PID pid exists in our session: the leader back, or a helper left over. */
static bool in_session(pid_t pid)
{
	pid_t sid = getsid(pid);

	return sid >= 0 && sid == session;
}

static int member(void *arg)
{
	zt_task_ready();
	zt_wait();
	zt_check(getpgrp() == leader, "group %d, expected %d", getpgrp(), leader);
	zt_check(getsid(0) == session, "session %d, expected %d", getsid(0), session);
	return zt_result();
}

int main(int argc, char **argv)
{
	pid_t m1, m2, r;
	int st;

	zt_init(argc, argv);
	session = getsid(0);
	leader = fork();
	if (leader == 0) {
		pause();
		_exit(0);
	}
	if (leader < 0 || setpgid(leader, leader)) {
		zt_fail("cannot make a group leader: %m");
		return zt_result();
	}
	m1 = zt_fork(member, NULL);
	m2 = zt_fork(member, NULL);
	if (setpgid(m1, leader) || setpgid(m2, leader)) {
		zt_fail("cannot move the members into group %d: %m", leader);
		return zt_result();
	}
	kill(leader, SIGKILL);
	while ((r = waitpid(leader, &st, 0)) < 0 && errno == EINTR)
		;
	zt_check(r == leader, "cannot reap the leader %d: %m", leader);
	zt_check(!in_session(leader), "the leader %d still exists before the dump", leader);
	zt_expose(&leader, sizeof(leader));
	zt_ready();
	zt_wait();
	zt_check(getpgid(m1) == leader && getpgid(m2) == leader, "members in groups %d and %d, "
		 "expected %d", getpgid(m1), getpgid(m2), leader);
	zt_check(!in_session(leader), "a process %d exists again in our session", leader);
	zt_check(kill(-leader, 0) == 0, "the process group %d is gone: %m", leader);
	zt_collect();
	return zt_result();
}
