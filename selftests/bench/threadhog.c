// SPDX-License-Identifier: MIT
/*
 * threadhog: the multi-threaded bench workload. Starts N threads (argument, default 64),
 * each with its own TLS value, prints "ready"; on SIGTERM every thread checks its TID and
 * TLS value from inside and the process prints "verify OK" or "VERIFY FAILED ...".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 4096

static __thread long tls_val;
static pid_t tids[MAX_THREADS];
static volatile sig_atomic_t stop;
static atomic_int nready, nok, nbad;

static void on_term(int sig)
{
	stop = 1;
}

static void *worker(void *arg)
{
	long i = (long)arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	tls_val = 0x5eed0000 + i;
	tids[i] = gettid();
	atomic_fetch_add(&nready, 1);
	while (!stop)
		nanosleep(&ts, NULL);
	if (tls_val == 0x5eed0000 + i && tids[i] == gettid())
		atomic_fetch_add(&nok, 1);
	else
		atomic_fetch_add(&nbad, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 64, i;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pthread_attr_t attr;
	pthread_t th;

	if (n < 1 || n > MAX_THREADS)
		n = 64;
	closefrom(3);	/* like a daemon: nothing inherited (ferry dumps regular files only) */
	signal(SIGTERM, on_term);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (i = 0; i < n; i++)
		if (pthread_create(&th, &attr, worker, (void *)(long)i)) {
			printf("VERIFY FAILED: cannot create thread %d\n", i);
			return 1;
		}
	while (atomic_load(&nready) < n)
		nanosleep(&ts, NULL);
	printf("ready: %d threads\n", n);
	fflush(stdout);
	while (!stop)
		pause();
	for (i = 0; i < 3000 && atomic_load(&nok) + atomic_load(&nbad) < n; i++)
		nanosleep(&ts, NULL);
	if (atomic_load(&nok) == n)
		printf("verify OK: %d threads\n", n);
	else
		printf("VERIFY FAILED: %d of %d threads intact\n", atomic_load(&nok), n);
	fflush(stdout);
	return 0;
}
