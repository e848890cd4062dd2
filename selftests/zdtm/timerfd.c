// SPDX-License-Identifier: MIT
/*
 * timerfds: a CLOCK_MONOTONIC one firing every 50 ms, a CLOCK_REALTIME O_NONBLOCK one due in
 * 1000 s, a disarmed CLOCK_BOOTTIME one. After restore the first still fires (a blocking
 * read returns ticks), the second is still armed with its time left counting down, the
 * third stays disarmed, and each is on its clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define FD_T 60	/* 60, 61, 62 */

struct expect {
	int clocks[3];
	long interval_ns;
	time_t due_s;
};

static struct expect want = { { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME }, 50000000,
			      1000 };

static int clock_of(int fd)
{
	char path[64], buf[512], *p;
	int f, n, c = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (f >= 0)
		close(f);
	p = strstr(buf, "clockid:");
	if (p)
		sscanf(p + 8, "%d", &c);
	return c;
}

static int setup(void)
{
	struct itimerspec fire = { { 0, want.interval_ns }, { 0, want.interval_ns } };
	struct itimerspec due = { { 0, 0 }, { want.due_s, 0 } };
	int i, fd;

	for (i = 0; i < 3; i++) {
		fd = timerfd_create(want.clocks[i], i == 1 ? TFD_NONBLOCK : 0);
		if (fd < 0 || dup2(fd, FD_T + i) != FD_T + i || close(fd))
			return -1;
	}
	if (timerfd_settime(FD_T, 0, &fire, NULL) || timerfd_settime(FD_T + 1, 0, &due, NULL))
		return -1;
	return 0;
}

static void check(void)
{
	struct itimerspec cur;
	uint64_t ticks = 0;
	int i;

	for (i = 0; i < 3; i++)
		zt_check(clock_of(FD_T + i) == want.clocks[i], "timerfd %d is on clock %d, not %d",
			 FD_T + i, clock_of(FD_T + i), want.clocks[i]);
	zt_check(!timerfd_gettime(FD_T, &cur) && cur.it_interval.tv_sec == 0 &&
		 cur.it_interval.tv_nsec == want.interval_ns, "the interval is %ld ns",
		 (long)cur.it_interval.tv_nsec);
	zt_check(read(FD_T, &ticks, 8) == 8 && ticks >= 1, "the periodic timer read %llu ticks",
		 (unsigned long long)ticks);
	zt_check(read(FD_T, &ticks, 8) == 8 && ticks >= 1, "the periodic timer stopped firing");
	zt_check(!timerfd_gettime(FD_T + 1, &cur) && cur.it_value.tv_sec > want.due_s / 2 &&
		 cur.it_value.tv_sec < want.due_s && !cur.it_interval.tv_sec,
		 "the one-shot timer has %ld s left, expected a bit under %ld",
		 (long)cur.it_value.tv_sec, (long)want.due_s);
	zt_check(read(FD_T + 1, &ticks, 8) < 0 && errno == EAGAIN, "the one-shot timer fired");
	zt_check(!timerfd_gettime(FD_T + 2, &cur) && !cur.it_value.tv_sec && !cur.it_value.tv_nsec,
		 "the disarmed timer is armed");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check();
	return zt_result();
}
