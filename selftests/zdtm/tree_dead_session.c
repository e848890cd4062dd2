// SPDX-License-Identifier: MIT
/*
 * A session whose leader is gone: the root R (a child subreaper) forked A, A made a new
 * session and forked B, then A exited, so B (still in session A, group A) is R's child.
 * After restore (a helper with A's PID led the session again and created B), B is R's
 * child, in session A and group A, untraced, and no process has A's PID.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib.h"

static pid_t session; /* exposed: A's PID */

static void check_untraced(void)
{
	char line[256];
	int tracer = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "TracerPid: %d", &tracer);
	if (f)
		fclose(f);
	zt_check(tracer == 0, "traced by %d after the failed dump", tracer);
}

static int task_b(void *arg)
{
	zt_task_ready();
	zt_wait();
	zt_check(getsid(0) == session, "session %d, expected %d", getsid(0), session);
	zt_check(getpgrp() == session, "group %d, expected %d", getpgrp(), session);
	zt_check(kill(session, 0) && errno == ESRCH, "PID %d (the helper) still exists", session);
	check_untraced();
	return zt_result();
}

int main(int argc, char **argv)
{
	char path[64], buf[64] = "";
	FILE *f;
	pid_t a, b;

	zt_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		zt_fail("PR_SET_CHILD_SUBREAPER: %m");
		return zt_result();
	}
	a = fork();
	if (a == 0) {
		if (setsid() < 0)
			_exit(1);
		session = getpid();
		zt_fork(task_b, NULL);
		zt_task_ready();
		_exit(0);
	}
	session = a;
	waitpid(a, NULL, 0);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(), getpid());
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f) || (b = atoi(buf)) <= 0) {
		zt_fail("A's orphan was not reparented to us");
		return zt_result();
	}
	fclose(f);
	zt_adopt(b);
	zt_expose(&session, sizeof(session));
	zt_ready();
	zt_wait();
	check_untraced();
	zt_check(getsid(b) == session, "B is in session %d, expected %d", getsid(b), session);
	zt_check(getpgid(b) == session, "B is in group %d, expected %d", getpgid(b), session);
	zt_collect();
	return zt_result();
}
