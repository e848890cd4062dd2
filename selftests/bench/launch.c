// SPDX-License-Identifier: MIT
/*
 * launch: run a command under a child subreaper that reaps promptly. Orphans of the command
 * (a tree restored by `ferry restore -d`, a dumped task's leftovers) are reparented here
 * and reaped at once, so their PIDs are free again; when the command exits, whatever is
 * left is killed and reaped. Usage: launch CMD [ARG...]; exits with CMD's status.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static volatile pid_t main_child;

static void forward(int sig)
{
	if (main_child > 0)
		kill(main_child, sig);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* SIGKILL every child of ours (listed in /proc/self/task/<tid>/children); returns how many. */
static int kill_children(void)
{
	char path[64], buf[4096], *s, *end;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		for (s = buf;; s = end) {
			long pid = strtol(s, &end, 10);

			if (end == s)
				break;
			kill(pid, SIGKILL);
			n++;
		}
	fclose(f);
	return n;
}

/* Reap until the main child is gone, then kill and reap the rest. */
static int reap_all(void)
{
	int status, code = 1;
	pid_t pid;

	for (;;) {
		pid = wait(&status);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (pid == main_child) {
			code = exit_code(status);
			main_child = 0;
		}
		if (!main_child)
			kill_children();
	}
	return code;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
	char me[16];
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD [ARG...]\n", argv[0]);
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		perror("launch: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	snprintf(me, sizeof(me), "%d", getpid());
	setenv("FERRY_SUBREAPER", me, 1);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "launch: cannot run %s: %m\n", argv[1]);
		_exit(127);
	}
	if (pid < 0) {
		perror("launch: fork");
		return 1;
	}
	main_child = pid;
	return reap_all();
}
