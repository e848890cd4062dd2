// SPDX-License-Identifier: MIT
/*
 * A child subreaper's orphans: the root R is a child subreaper; its child A forked B
 * (which forked C) and exited, so B was reparented to R. After the restore B's parent
 * is R, C's is B, R is still a subreaper, and a new orphan made then is reparented to R.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

static pid_t root_pid; /* exposed */

static int task_c(void *arg)
{
	pid_t parent = getppid();

	zt_task_ready();
	zt_wait();
	zt_check(getppid() == parent, "parent %d, expected %d", getppid(), parent);
	return zt_result();
}

static int task_b(void *arg)
{
	zt_fork(task_c, NULL);
	zt_task_ready();
	zt_wait();
	zt_check(getppid() == root_pid, "parent %d, expected the subreaper %d", getppid(),
		 root_pid);
	zt_collect();
	return zt_result();
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %d", &ppid);
	if (f)
		fclose(f);
	return ppid;
}

/* A has exited: our only other child is its orphan B. */
static pid_t find_orphan(pid_t a)
{
	char path[64], buf[256] = "";
	FILE *f;

	waitpid(a, NULL, 0);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(), getpid());
	f = fopen(path, "r");
	if (f && !fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	if (f)
		fclose(f);
	return atoi(buf);
}

/* After the restore: a new grandchild orphaned now must come to us. */
static void check_reaps_orphans(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	int fds[2], i;
	pid_t a, gc = 0;

	if (pipe(fds)) {
		zt_fail("pipe: %m");
		return;
	}
	a = fork();
	if (a == 0) {
		gc = fork();
		if (gc == 0) {
			pause();
			_exit(0);
		}
		if (write(fds[1], &gc, sizeof(gc)) < 0)
			_exit(1);
		_exit(0);
	}
	if (a < 0 || read(fds[0], &gc, sizeof(gc)) != sizeof(gc)) {
		zt_fail("cannot make an orphan: %m");
		return;
	}
	waitpid(a, NULL, 0);
	for (i = 0; i < 2500 && parent_of(gc) != getpid(); i++)
		nanosleep(&ts, NULL);
	zt_check(parent_of(gc) == getpid(), "the new orphan %d went to %d, not to us", gc,
		 parent_of(gc));
	kill(gc, SIGKILL);
	waitpid(gc, NULL, 0);
	close(fds[0]);
	close(fds[1]);
}

int main(int argc, char **argv)
{
	int flag = 0;
	pid_t a, b;

	zt_init(argc, argv);
	root_pid = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		zt_fail("PR_SET_CHILD_SUBREAPER: %m");
		return zt_result();
	}
	a = fork();
	if (a == 0) {
		b = zt_fork(task_b, NULL);
		zt_task_ready();	/* B (and C) are ready */
		_exit(b > 0 ? 0 : 1);
	}
	b = find_orphan(a);
	if (b <= 0) {
		zt_fail("no orphan reparented to us");
		return zt_result();
	}
	zt_adopt(b);
	zt_expose(&root_pid, sizeof(root_pid));
	zt_ready();
	zt_wait();
	zt_check(getpid() == root_pid, "PID %d, expected %d", getpid(), root_pid);
	prctl(PR_GET_CHILD_SUBREAPER, &flag);
	zt_check(flag == 1, "PR_GET_CHILD_SUBREAPER says %d", flag);
	zt_check(parent_of(b) == getpid(), "B %d has parent %d", b, parent_of(b));
	check_reaps_orphans();
	zt_collect();
	return zt_result();
}
