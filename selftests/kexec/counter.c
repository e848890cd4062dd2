// SPDX-License-Identifier: MIT
/*
 * The kexec test's counter: appends "N SECONDS.NANOS\n" to counter.log (O_APPEND) every
 * 20 ms. On SIGTERM it checks from inside that the file holds 1..N with no gap and that
 * its fd offset is the file's size, and prints the longest pause between two lines (the
 * downtime it lived through) and the last N, for the driver to compare with the dump time.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../zdtm/lib.h"

#define LOG "counter.log"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check_log(int fd, unsigned long last)
{
	unsigned long n, want = 1;
	double t, prev = 0, gap = 0;
	struct stat st;
	FILE *f = fopen(LOG, "r");

	if (!f) {
		zt_fail("cannot reopen " LOG ": %m");
		return;
	}
	while (fscanf(f, "%lu %lf", &n, &t) == 2) {
		zt_check(n == want, "line %lu says %lu", want, n);
		if (n != want)
			break;
		if (prev && t - prev > gap)
			gap = t - prev;
		prev = t;
		want++;
	}
	fclose(f);
	zt_check(want - 1 == last, "the file ends at %lu, we wrote %lu", want - 1, last);
	zt_check(!fstat(fd, &st) && lseek(fd, 0, SEEK_CUR) == st.st_size,
		 "fd offset %ld, file size %ld", (long)lseek(fd, 0, SEEK_CUR), (long)st.st_size);
	zt_msg("counter %lu, longest pause %.3f s", last, gap);
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	unsigned long n = 0;
	char line[64];
	int fd, len;

	zt_init(argc, argv);
	fd = open(LOG, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0) {
		zt_fail("cannot create " LOG ": %m");
		return zt_result();
	}
	zt_ready();
	while (!zt_stop) {
		len = snprintf(line, sizeof(line), "%lu %.6f\n", n + 1, now());
		if (write(fd, line, len) != len) {
			zt_fail("write: %m");
			break;
		}
		n++;
		nanosleep(&tick, NULL);
	}
	check_log(fd, n);
	return zt_result();
}
