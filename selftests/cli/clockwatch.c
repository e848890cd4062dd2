// SPDX-License-Identifier: MIT
/*
 * Watches CLOCK_MONOTONIC and CLOCK_BOOTTIME every 20 ms. On SIGTERM prints the largest
 * step forward seen between two readings and how many times either clock went backwards:
 * "max_step_ms=N backwards=N samples=N", then exits. Prints "watching" once started.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_term(int sig __attribute__((unused)))
{
	stop = 1;
}

static long long now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	long long mono = now_ns(CLOCK_MONOTONIC), boot = now_ns(CLOCK_BOOTTIME), m, b;
	long long max_step = 0, samples = 0;
	int backwards = 0;

	signal(SIGTERM, on_term);
	printf("watching\n");
	fflush(stdout);
	while (!stop) {
		nanosleep(&pause, NULL);
		m = now_ns(CLOCK_MONOTONIC);
		b = now_ns(CLOCK_BOOTTIME);
		backwards += (m < mono) + (b < boot);
		if (m - mono > max_step)
			max_step = m - mono;
		if (b - boot > max_step)
			max_step = b - boot;
		mono = m, boot = b, samples++;
	}
	printf("max_step_ms=%lld backwards=%d samples=%lld\n", max_step / 1000000, backwards,
	       samples);
	return 0;
}
