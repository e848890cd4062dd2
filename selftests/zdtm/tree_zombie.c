// SPDX-License-Identifier: MIT
/*
 * Zombies: two children died before the dump and were not reaped, one by _exit(42),
 * one by SIGUSR2; a third child lives. After the restore both are still zombies of
 * the root with their exit statuses, and the root reaps them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

static pid_t zombies[2]; /* exposed */

static char proc_state(pid_t pid, int *ppid)
{
	char path[64], buf[512], *p, state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return '-';
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%c %d", &state, ppid);
	fclose(f);
	return state;
}

static void wait_zombie(pid_t pid)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	int ppid;

	while (proc_state(pid, &ppid) != 'Z')
		nanosleep(&ts, NULL);
}

static int live_child(void *arg)
{
	zt_task_ready();
	zt_wait();
	return zt_result();
}

static void check_zombie(pid_t pid, int code, int sig)
{
	int ppid = 0, st = 0;
	char state = proc_state(pid, &ppid);

	zt_check(state == 'Z' && ppid == getpid(), "%d: state %c parent %d, expected a zombie "
		 "of %d", pid, state, ppid, getpid());
	if (waitpid(pid, &st, WNOHANG) != pid) {
		zt_fail("cannot reap the zombie %d: %m", pid);
		return;
	}
	if (sig)
		zt_check(WIFSIGNALED(st) && WTERMSIG(st) == sig, "%d: status %#x, expected "
			 "killed by signal %d", pid, st, sig);
	else
		zt_check(WIFEXITED(st) && WEXITSTATUS(st) == code, "%d: status %#x, expected "
			 "exit code %d", pid, st, code);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	zombies[0] = fork();
	if (zombies[0] == 0)
		_exit(42);
	zombies[1] = fork();
	if (zombies[1] == 0) {
		signal(SIGUSR2, SIG_DFL);
		kill(getpid(), SIGUSR2);
		_exit(1);
	}
	if (zombies[0] < 0 || zombies[1] < 0) {
		zt_fail("fork: %m");
		return zt_result();
	}
	zt_fork(live_child, NULL);
	wait_zombie(zombies[0]);
	wait_zombie(zombies[1]);
	zt_expose(zombies, sizeof(zombies));
	zt_ready();
	zt_wait();
	check_zombie(zombies[0], 42, 0);
	check_zombie(zombies[1], 0, SIGUSR2);
	zt_collect();
	return zt_result();
}
