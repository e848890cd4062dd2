// SPDX-License-Identifier: MIT
/*
 * A shell-job stand-in. `ticker`: prints "tick N" on its terminal every 200 ms, forever.
 * `ticker N`: also runs N threads that count their own ticks, printed as "threads T" (the
 * sum), so that a test can see every thread still runs. `ticker read`: prints "reading",
 * then blocks in read(2) on its terminal and answers every line with "got: LINE"; a failed
 * read prints "read error: ..." and exits 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong thread_ticks;

static int echo_lines(void)
{
	char buf[256];
	ssize_t n;

	printf("reading\n");
	fflush(stdout);
	for (;;) {
		n = read(0, buf, sizeof(buf) - 1);
		if (n <= 0) {
			printf("read error: %s\n", n ? strerror(errno) : "end of file");
			return 1;
		}
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		printf("got: %s\n", buf);
		fflush(stdout);
	}
}

static void *counter(void *arg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	for (;;) {
		atomic_fetch_add(&thread_ticks, 1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	int n;
	pthread_t th;

	if (argc > 1 && !strcmp(argv[1], "read"))
		return echo_lines();
	n = argc > 1 ? atoi(argv[1]) : 0;
	for (int i = 0; i < n; i++)
		if (pthread_create(&th, NULL, counter, NULL))
			return 1;
	for (unsigned long i = 0;; i++) {
		if (n)
			printf("tick %lu threads %lu\n", i, atomic_load(&thread_ticks));
		else
			printf("tick %lu\n", i);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
}
