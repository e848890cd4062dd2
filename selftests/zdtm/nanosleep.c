// SPDX-License-Identifier: MIT
/*
 * A loop of relative and absolute sleeps (nanosleep, clock_nanosleep) measured with
 * CLOCK_MONOTONIC: across the dump and restore, every sleep lasts at least what was asked
 * (EINTR is resumed from the deadline) and the clock never goes backwards.
 */
#include <errno.h>
#include <time.h>

#include "lib.h"

#define STEP_NS (50 * 1000 * 1000LL)

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec to_ts(int64_t ns)
{
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };

	return ts;
}

static int64_t t_ready; /* exposed */

/* Sleep until deadline with the given kind of call; 0, or -1 on an unexpected error. */
static int sleep_until(int64_t deadline, int kind)
{
	for (;;) {
		int64_t now = mono_ns();
		struct timespec ts;
		int ret;

		if (now >= deadline || zt_stop)
			return 0;
		if (kind == 0) {
			ts = to_ts(deadline - now);
			ret = nanosleep(&ts, NULL) ? errno : 0;
		} else if (kind == 1) {
			ts = to_ts(deadline - now);
			ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		} else {
			ts = to_ts(deadline);
			ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		if (ret && ret != EINTR) {
			zt_fail("sleep kind %d returned error %d", kind, ret);
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	int64_t prev, start, now, short_by = 0, gap = 0;
	unsigned long loops = 0;

	zt_init(argc, argv);
	t_ready = prev = mono_ns();
	zt_expose(&t_ready, sizeof(t_ready));
	zt_ready();
	while (!zt_stop) {
		start = mono_ns();
		if (sleep_until(start + STEP_NS, loops % 3))
			break;
		now = mono_ns();
		if (now < prev)
			zt_fail("CLOCK_MONOTONIC went back by %lld ns", (long long)(prev - now));
		if (!zt_stop && now - start < STEP_NS)
			short_by = STEP_NS - (now - start);
		if (now - start > gap)
			gap = now - start;
		prev = now;
		loops++;
	}
	now = mono_ns();
	zt_check(now >= t_ready, "CLOCK_MONOTONIC is before the ready time by %lld ns",
		 (long long)(t_ready - now));
	zt_check(!short_by, "a sleep ended %lld ns early", (long long)short_by);
	zt_check(loops > 0, "the loop never completed a sleep");
	zt_msg("%lu sleeps, longest %lld ms", loops, (long long)(gap / 1000000));
	return zt_result();
}
