// SPDX-License-Identifier: MIT
/*
 * Seizing a tree that grows: the root says it is ready and goes on forking a child every
 * fraction of a millisecond (up to MAX), each of which forks a grandchild, so the dump
 * runs while tasks appear at two levels. Every child the root's memory knows of must
 * exist after the restore as its child (and so must each one's grandchild): each is told
 * to check its parent and its own child, and exits 0; the root reaps them all.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define MAX 60

static pid_t kids[MAX]; /* exposed */
static int nkids;

static void __attribute__((noreturn)) wait_stop(pid_t parent, pid_t kid)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int st = 0;

	while (!zt_stop)
		nanosleep(&ts, NULL);
	if (kid > 0 && (kill(kid, SIGTERM) || waitpid(kid, &st, 0) != kid))
		_exit(4);	/* our own child was lost */
	if (kid > 0 && (!WIFEXITED(st) || WEXITSTATUS(st)))
		_exit(5);
	_exit(getppid() == parent ? 0 : 3);
}

/* Each child forks a grandchild of its own a little later: the tree grows below too. */
static void child(pid_t parent)
{
	struct timespec ts = { 0, 300 * 1000 };
	pid_t me = getpid(), kid;

	nanosleep(&ts, NULL);
	kid = fork();
	if (kid == 0)
		wait_stop(me, 0);
	wait_stop(parent, kid);
}

static void spawn(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		child(parent);
	if (pid < 0) {
		zt_fail("fork: %m");
		return;
	}
	kids[nkids++] = pid;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 200 * 1000 };
	int i, st, lost = 0, bad = 0;

	zt_init(argc, argv);
	spawn();
	zt_expose(kids, sizeof(kids));
	zt_ready();
	while (!zt_stop && nkids < MAX) {
		spawn();
		nanosleep(&ts, NULL);
	}
	zt_wait();
	for (i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < nkids; i++) {
		if (waitpid(kids[i], &st, 0) != kids[i]) {
			zt_msg("child %d is gone: %m", kids[i]);
			lost++;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			zt_msg("child %d: status %#x", kids[i], st);
			bad++;
		}
	}
	zt_check(!lost && !bad, "of %d children %d are lost and %d failed", nkids, lost, bad);
	return zt_result();
}
