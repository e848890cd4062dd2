// SPDX-License-Identifier: MIT
/*
 * The kexec test's 3-process tree: the root forks a writer and a reader joined by a pipe;
 * the writer sends 1, 2, 3... every 20 ms, the reader checks each number follows the one
 * before. On SIGTERM the root passes it on, and checks from inside that both children are
 * still its children with the PIDs it forked (waitpid on them), and that the reader saw no
 * gap, no repeat and kept receiving (more than it had at the ready point).
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../zdtm/lib.h"

static void writer(int wfd)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	uint32_t n = 0;

	while (!zt_stop) {
		n++;
		if (write(wfd, &n, sizeof(n)) != sizeof(n))
			_exit(zt_stop ? 0 : 2);
		nanosleep(&tick, NULL);
	}
	_exit(0);
}

/* exit 0: in order and more than `floor` numbers; 3: a gap or repeat; 4: too few */
static void reader(int rfd, uint32_t floor)
{
	uint32_t n, want = 1;

	for (;;) {
		ssize_t r = read(rfd, &n, sizeof(n));

		if (r == 0 || (r < 0 && zt_stop))
			break;
		if (r != sizeof(n))
			continue;
		if (n != want)
			_exit(3);
		want++;
	}
	_exit(want - 1 > floor ? 0 : 4);
}

static void check_child(pid_t pid, const char *who)
{
	int st;

	zt_check(waitpid(pid, &st, 0) == pid, "%s %d is not our child any more", who, pid);
	zt_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %d ended with status %#x", who, pid,
		 st);
}

int main(int argc, char **argv)
{
	pid_t w, r;
	int p[2];

	zt_init(argc, argv);
	if (pipe(p)) {
		zt_fail("pipe: %m");
		return zt_result();
	}
	w = fork();
	if (w == 0) {
		close(p[0]);
		writer(p[1]);
	}
	r = fork();
	if (r == 0) {
		close(p[1]);
		reader(p[0], 25);
	}
	close(p[0]);
	close(p[1]);
	sleep(1); /* some numbers through the pipe before the dump */
	zt_ready();
	zt_wait();
	kill(w, SIGTERM);
	check_child(w, "writer");
	kill(r, SIGTERM);
	check_child(r, "reader");
	return zt_result();
}
