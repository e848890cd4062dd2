// SPDX-License-Identifier: MIT
/*
 * Threads that come and go while ferry seizes: four workers each create and join short-
 * lived threads in a loop, so threads are born and die during the dump (the seize rescans
 * /proc/PID/task until no new thread appears). After restore the churn goes on: every
 * worker still creates threads, each sees its TLS value, and the count keeps growing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define WORKERS 4

struct expect {
	long tls_base;
};
static struct expect want = { 0x4242000 };	/* exposed */

static __thread long tls_val;
static atomic_long spawned[WORKERS];
static atomic_int bad, stopped;
static volatile int stop_now;

static void *short_lived(void *arg)
{
	tls_val = (long)arg;
	if (tls_val != (long)arg)
		atomic_fetch_add(&bad, 1);
	return NULL;
}

static void *worker(void *arg)
{
	long i = (long)arg;
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	sigset_t term;
	pthread_t th;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	tls_val = want.tls_base + i;
	while (!stop_now) {
		if (pthread_create(&th, NULL, short_lived, (void *)(want.tls_base * 2 + i)) ||
		    pthread_join(th, NULL))
			atomic_fetch_add(&bad, 1);
		atomic_fetch_add(&spawned[i], 1);
		nanosleep(&ts, NULL);
	}
	if (tls_val != want.tls_base + i)
		atomic_fetch_add(&bad, 1);
	atomic_fetch_add(&stopped, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec half = { 0, 500 * 1000 * 1000 };
	long before[WORKERS];
	pthread_t th[WORKERS];
	long i;

	zt_init(argc, argv);
	for (i = 0; i < WORKERS; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i)) {
			zt_fail("pthread_create: %m");
			return zt_result();
		}
	nanosleep(&half, NULL);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	for (i = 0; i < WORKERS; i++)
		before[i] = atomic_load(&spawned[i]);
	while (nanosleep(&half, &half))
		;
	for (i = 0; i < WORKERS; i++)
		zt_check(atomic_load(&spawned[i]) > before[i], "worker %ld made no thread after "
			 "restore (%ld)", i, before[i]);
	stop_now = 1;
	for (i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	zt_check(atomic_load(&bad) == 0, "%d threads saw a wrong TLS value or failed",
		 atomic_load(&bad));
	return zt_result();
}
