// SPDX-License-Identifier: MIT
/* A shell-job stand-in: prints "tick N" on its terminal every 200 ms, forever. */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	for (unsigned long i = 0;; i++) {
		printf("tick %lu\n", i);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
}
