// SPDX-License-Identifier: MIT
/*
 * Identity: the same PID (and TID), still leader of its own session and process group,
 * and the name set with PR_SET_NAME, seen by prctl and in /proc/self/comm and stat.
 */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

#define NAME "ferry-pid-comm"

static pid_t want_pid; /* exposed */

int main(int argc, char **argv)
{
	char name[32] = "", comm[64] = "";
	FILE *f;
	int stat_pid = -1;

	zt_init(argc, argv);
	want_pid = getpid();
	if (prctl(PR_SET_NAME, NAME, 0, 0, 0)) {
		zt_fail("PR_SET_NAME: %m");
		return zt_result();
	}
	zt_expose(&want_pid, sizeof(want_pid));
	zt_ready();
	zt_wait();

	zt_check(syscall(SYS_getpid) == want_pid, "PID %ld, expected %d", syscall(SYS_getpid),
		 want_pid);
	zt_check(syscall(SYS_gettid) == want_pid, "TID %ld, expected %d", syscall(SYS_gettid),
		 want_pid);
	zt_check(getsid(0) == want_pid, "session %d, expected %d", getsid(0), want_pid);
	zt_check(getpgrp() == want_pid, "process group %d, expected %d", getpgrp(), want_pid);
	prctl(PR_GET_NAME, name, 0, 0, 0);
	zt_check(!strcmp(name, NAME), "PR_GET_NAME says \"%s\"", name);
	f = fopen("/proc/self/comm", "r");
	if (f && fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = 0;
	if (f)
		fclose(f);
	zt_check(!strcmp(comm, NAME), "/proc/self/comm says \"%s\"", comm);
	f = fopen("/proc/self/stat", "r");
	if (!f || fscanf(f, "%d (%31[^)])", &stat_pid, name) != 2)
		zt_fail("cannot parse /proc/self/stat");
	else
		zt_check(stat_pid == want_pid && !strcmp(name, NAME), "/proc/self/stat: %d (%s)",
			 stat_pid, name);
	if (f)
		fclose(f);
	return zt_result();
}
