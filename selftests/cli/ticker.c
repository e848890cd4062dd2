// SPDX-License-Identifier: MIT
/*
 * A shell-job stand-in. `ticker`: prints "tick N" on its terminal every 200 ms, forever.
 * `ticker read`: prints "reading", then blocks in read(2) on its terminal and answers every
 * line with "got: LINE"; a failed read prints "read error: ..." and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	if (argc > 1 && !strcmp(argv[1], "read"))
		return echo_lines();
	for (unsigned long i = 0;; i++) {
		printf("tick %lu\n", i);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
}
