// SPDX-License-Identifier: MIT
/*
 * A shell-job stand-in: prints "tick N" on its terminal every 200 ms, forever. With an
 * argument N it also runs N threads that count their own ticks, printed as "threads T"
 * (the sum), so that a test can see every thread still runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_ulong thread_ticks;

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
	int n = argc > 1 ? atoi(argv[1]) : 0;
	pthread_t th;

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
