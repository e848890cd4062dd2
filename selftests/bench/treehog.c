// SPDX-License-Identifier: MIT
/*
 * treehog: a tree of 100 processes for `make bench` (the root, 9 children, 10
 * grandchildren each), every one holding 256 KiB of its own pattern. Prints "ready" once
 * all exist (each creates DIR/ready.PID); on SIGTERM every task checks its memory and the
 * root prints "verify OK" or "VERIFY FAILED". Usage: treehog DIR
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 9
#define GRANDCHILDREN 10
#define WORDS (256 * 1024 / 8)

static volatile sig_atomic_t stop;
static const char *dir;
static uint64_t *mem;
static pid_t kids[GRANDCHILDREN];
static int nkids;

static void on_term(int sig)
{
	stop = 1;
}

static uint64_t word(pid_t pid, size_t i)
{
	uint64_t x = pid * 0x9e3779b97f4a7c15ULL + i;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL;
}

static void build(void)
{
	char path[4200];
	size_t i;
	FILE *f;

	nkids = 0;
	mem = malloc(WORDS * sizeof(*mem));
	if (!mem)
		exit(2);
	for (i = 0; i < WORDS; i++)
		mem[i] = word(getpid(), i);
	snprintf(path, sizeof(path), "%s/ready.%d", dir, getpid());
	f = fopen(path, "w");
	if (!f || fclose(f))
		exit(2);
}

/* Wait for SIGTERM, pass it on, check our memory and our children's verdicts. */
static int wait_and_check(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int i, st, bad = 0;
	size_t w;

	while (!stop)
		nanosleep(&ts, NULL);
	for (i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < nkids; i++)
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	for (w = 0; w < WORDS; w++)
		bad += mem[w] != word(getpid(), w);
	return bad ? 1 : 0;
}

static pid_t spawn(int (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		exit(fn());
	if (pid < 0)
		exit(2);
	kids[nkids++] = pid;
	return pid;
}

static int grandchild(void)
{
	build();
	return wait_and_check();
}

static int child(void)
{
	int i;

	build();
	for (i = 0; i < GRANDCHILDREN; i++)
		spawn(grandchild);
	return wait_and_check();
}

static int count_ready(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, "ready.", 6);
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	if (argc != 2) {
		fprintf(stderr, "usage: treehog DIR\n");
		return 2;
	}
	dir = argv[1];
	syscall(SYS_close_range, 3, ~0U, 0);	/* like a daemon: nothing inherited but 0-2 */
	sigaction(SIGTERM, &sa, NULL);
	build();
	for (i = 0; i < CHILDREN; i++)
		spawn(child);
	while (count_ready() < 1 + CHILDREN * (1 + GRANDCHILDREN))
		nanosleep(&ts, NULL);
	printf("ready\n");
	fflush(stdout);
	i = wait_and_check();
	printf(i ? "VERIFY FAILED\n" : "verify OK\n");
	return i;
}
