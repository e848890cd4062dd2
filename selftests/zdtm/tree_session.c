// SPDX-License-Identifier: MIT
/*
 * A 3-level tree with a session leader: the root R (session and group leader) has a
 * child E in its group and a child A that leads a new session; A's child B leads a
 * group in A's session and B's child C is in that group. Each task checks its PID,
 * parent, session, group and a memory pattern of its own after the restore.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

#define WORDS 2048

struct want {
	pid_t pid, ppid, sid, pgid;
};

static uint64_t *pattern;

static void fill(void)
{
	size_t i;

	pattern = malloc(WORDS * sizeof(*pattern));
	if (!pattern)
		exit(1);
	for (i = 0; i < WORDS; i++)
		pattern[i] = zt_mix(getpid() * 7919ULL + i);
}

static void check(const struct want *w)
{
	size_t i, bad = 0;

	zt_check(syscall(SYS_getpid) == w->pid, "PID %ld, expected %d", syscall(SYS_getpid),
		 w->pid);
	/* the root's parent (ppid 0 here) is the runner's business */
	zt_check(!w->ppid || getppid() == w->ppid, "parent %d, expected %d", getppid(), w->ppid);
	zt_check(getsid(0) == w->sid, "session %d, expected %d", getsid(0), w->sid);
	zt_check(getpgrp() == w->pgid, "group %d, expected %d", getpgrp(), w->pgid);
	for (i = 0; i < WORDS; i++)
		bad += pattern[i] != zt_mix(w->pid * 7919ULL + i);
	zt_check(!bad, "%zu words of the memory pattern differ", bad);
}

static void remember(struct want *w)
{
	*w = (struct want){ getpid(), getppid(), getsid(0), getpgrp() };
}

static int task_c(void *arg)
{
	struct want w;

	fill();
	remember(&w);
	zt_task_ready();
	zt_wait();
	check(&w);
	return zt_result();
}

static int task_b(void *arg)
{
	struct want w;

	if (setpgid(0, 0))
		zt_fail("setpgid: %m");
	fill();
	remember(&w);
	zt_fork(task_c, NULL);
	zt_task_ready();
	zt_wait();
	check(&w);
	zt_collect();
	return zt_result();
}

static int task_a(void *arg)
{
	struct want w;

	if (setsid() < 0)
		zt_fail("setsid: %m");
	fill();
	remember(&w);
	zt_fork(task_b, NULL);
	zt_task_ready();
	zt_wait();
	check(&w);
	zt_collect();
	return zt_result();
}

static int task_e(void *arg)
{
	struct want w;

	fill();
	remember(&w);
	zt_task_ready();
	zt_wait();
	check(&w);
	return zt_result();
}

int main(int argc, char **argv)
{
	struct want w;

	zt_init(argc, argv);
	fill();
	remember(&w);
	w.ppid = 0;
	zt_fork(task_a, NULL);
	zt_fork(task_e, NULL);
	zt_expose(pattern, WORDS * sizeof(*pattern));
	zt_ready();
	zt_wait();
	check(&w);
	zt_collect();
	return zt_result();
}
