// SPDX-License-Identifier: MIT
/*
 * cgroup v2 membership: the root sits in ferry-test-PID/a with a second thread, its
 * child in ferry-test-PID/b, the child's child in ferry-test-PID/b/c. After the restore
 * each task (and the thread) reads its own /proc/self/cgroup: the same cgroup as before.
 * SKIPs without a writable cgroup v2.
 */
#include <pthread.h>
#include <stdlib.h>

#include "cgroup_util.h"

static char want[4200];	/* this task's cgroup path */
static volatile int stop_thread;

static void check_cgroup(const char *file)
{
	char now[4200] = "?";

	zt_cg_read(file, now, sizeof(now));
	zt_check(!strcmp(now, want), "%s: in cgroup %s, expected %s", file, now, want);
}

static void join(const char *sub)
{
	zt_cg_mkdir(sub, want, sizeof(want));
	if (zt_cg_enter(want)) {
		zt_fail("cannot move into cgroup %s: %m", want);
		exit(1);
	}
}

static int grandchild(void *arg)
{
	join("b/c");
	zt_task_ready();
	zt_wait();
	check_cgroup("self/cgroup");
	return zt_result();
}

static int child(void *arg)
{
	join("b");
	zt_fork(grandchild, NULL);
	zt_task_ready();
	zt_wait();
	check_cgroup("self/cgroup");
	zt_collect();
	return zt_result();
}

static void *thread_main(void *arg)
{
	while (!stop_thread)
		usleep(10000);
	check_cgroup("thread-self/cgroup");
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const subs[] = { "a", "b", "b/c" };
	pthread_t th;

	zt_init(argc, argv);
	zt_cg_setup();
	join("a");
	zt_fork(child, NULL);
	if (pthread_create(&th, NULL, thread_main, NULL)) {
		zt_fail("pthread_create failed");
		return 1;
	}
	zt_expose(want, sizeof(want));
	zt_ready();
	zt_wait();
	check_cgroup("self/cgroup");
	stop_thread = 1;
	pthread_join(th, NULL);
	zt_collect();
	zt_cg_cleanup(subs, 3);
	return zt_result();
}
