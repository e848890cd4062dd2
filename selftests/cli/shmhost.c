// SPDX-License-Identifier: MIT
/*
 * Holds a SysV shm segment of the host's IPC namespace attached, then sleeps: ferry must
 * refuse to dump it and leave it running. Prints "attached ID" once ready; removes the
 * segment on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/shm.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig __attribute__((unused)))
{
	stop = 1;
}

int main(void)
{
	int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	char *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);

	if (p == (void *)-1) {
		perror("shm");
		return 1;
	}
	shmctl(id, IPC_RMID, NULL);	/* gone with its last detach */
	p[0] = 1;
	signal(SIGTERM, on_term);
	printf("attached %d\n", id);
	fflush(stdout);
	while (!stop)
		pause();
	return 0;
}
