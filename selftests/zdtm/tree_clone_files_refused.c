// SPDX-License-Identifier: MIT
/*
 * Siblings sharing one fd table: the root R forked A, and A cloned B with
 * CLONE_FILES | CLONE_PARENT, so B is R's child in A's table. ferry restores a table
 * shared by a parent and its child only: the dump must refuse the tree before anything
 * is touched; afterwards A and B run on untraced, still in one table.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "lib.h"

#define STACK_SIZE (256 << 10)

static pid_t a_pid; /* exposed */

static void check_untraced(const char *who)
{
	char line[256];
	int tracer = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "TracerPid: %d", &tracer);
	if (f)
		fclose(f);
	zt_check(tracer == 0, "%s: traced by %d after the failed dump", who, tracer);
}

static int task_b(void *arg)
{
	zt_forget_tasks();
	zt_task_ready();
	zt_wait();
	check_untraced("B");	/* R checks the sharing: A may be gone by now */
	return zt_failed() ? 1 : 0;
}

static int task_a(void *arg)
{
	char *stack = malloc(STACK_SIZE);

	a_pid = getpid();
	if (!stack || clone(task_b, stack + STACK_SIZE, CLONE_FILES | CLONE_PARENT, NULL) < 0) {
		zt_fail("A: clone(CLONE_FILES | CLONE_PARENT): %m");
		return zt_result();
	}
	zt_task_ready();
	zt_wait();
	check_untraced("A");
	return zt_result();
}

/* B is our child too (CLONE_PARENT): the one of our children that is not A. */
static pid_t find_b(void)
{
	char path[64], buf[256] = "", *p, *end;
	pid_t pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(), getpid());
	f = fopen(path, "r");
	if (f && !fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	if (f)
		fclose(f);
	for (p = buf; !pid; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v != a_pid)
			pid = v;
	}
	return pid;
}

int main(int argc, char **argv)
{
	pid_t b = 0;
	int i;

	zt_init(argc, argv);
	a_pid = zt_fork(task_a, NULL);
	for (i = 0; i < 500 && !(b = find_b()); i++)
		usleep(10000);
	if (!b) {
		zt_fail("A's clone B did not show up among our children");
		return zt_result();
	}
	zt_adopt(b);
	zt_expect_dump_failure();
	zt_expose(&a_pid, sizeof(a_pid));
	zt_ready();
	zt_wait();
	check_untraced("R");
	zt_check(syscall(SYS_kcmp, a_pid, b, KCMP_FILES, 0, 0) == 0,
		 "A (%d) and B (%d) no longer share their fd table", a_pid, b);
	zt_collect();
	return zt_result();
}
