// SPDX-License-Identifier: MIT
/*
 * A tree of 100 processes: the root, 9 children, 10 grandchildren under each. Every
 * task checks its PID, its parent and a memory pattern of its own after the restore.
 * Built with TREE_FAIL (tree100_fail.c), the last task holds a pidfd, which ferry does
 * not dump: the dump must refuse the tree and leave all 100 running, none stopped or
 * traced, which every task checks of itself and of its children.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

#define CHILDREN 9
#define GRANDCHILDREN 10
#define WORDS 512

#ifndef TREE_FAIL
#define TREE_FAIL 0
#endif

static uint64_t *pattern;
static pid_t me, parent;
static pid_t kids[GRANDCHILDREN];
static int nkids;

static void build(void)
{
	size_t i;

	me = getpid();
	parent = getppid();
	nkids = 0;	/* a forked task's own, not its parent's */
	pattern = malloc(WORDS * sizeof(*pattern));
	if (!pattern)
		exit(1);
	for (i = 0; i < WORDS; i++)
		pattern[i] = zt_mix(me * 104729ULL + i);
}

/* State and TracerPid of /proc/PID/status: running or sleeping, and not traced. */
static void check_untouched(pid_t pid)
{
	char path[64], line[256], state = '?';
	int tracer = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "State: %c", &state);
		sscanf(line, "TracerPid: %d", &tracer);
	}
	if (f)
		fclose(f);
	zt_check((state == 'S' || state == 'R') && tracer == 0,
		 "task %d: state %c, tracer %d after the failed dump", pid, state, tracer);
}

static void check(void)
{
	size_t i, bad = 0;
	int k;

	zt_check(syscall(SYS_getpid) == me, "PID %ld, expected %d", syscall(SYS_getpid), me);
	/* the root's parent is the runner's business (ferry or the fake may have started it) */
	zt_check(!parent || getppid() == parent, "parent %d, expected %d", getppid(), parent);
	for (i = 0; i < WORDS; i++)
		bad += pattern[i] != zt_mix(me * 104729ULL + i);
	zt_check(!bad, "%zu words of the memory pattern differ", bad);
	if (!TREE_FAIL)
		return;
#ifdef TREE_CHECK_HOOK
	TREE_CHECK_HOOK();	/* an including test's own check (cgroup_freeze_fail.c) */
#endif
	check_untouched(me);
	for (k = 0; k < nkids; k++)
		check_untouched(kids[k]);
}

static int grandchild(void *arg)
{
	build();
	if (TREE_FAIL && (long)arg && syscall(SYS_pidfd_open, getpid(), 0) < 0)
		zt_fail("pidfd_open: %m");
	zt_task_ready();
	zt_wait();
	check();
	return zt_result();
}

static int child(void *arg)
{
	long last = (long)arg;

	build();
	for (; nkids < GRANDCHILDREN; nkids++)
		kids[nkids] = zt_fork(grandchild, (void *)(long)(last && nkids == GRANDCHILDREN - 1));
	zt_task_ready();
	zt_wait();
	check();
	zt_collect();
	return zt_result();
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	build();
	parent = 0;
	for (; nkids < CHILDREN; nkids++)
		kids[nkids] = zt_fork(child, (void *)(long)(nkids == CHILDREN - 1));
	if (TREE_FAIL)
		zt_expect_dump_failure();
	zt_expose(pattern, WORDS * sizeof(*pattern));
	zt_ready();
	zt_wait();
	check();
	zt_collect();
	return zt_result();
}
