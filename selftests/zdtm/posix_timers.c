// SPDX-License-Identifier: MIT
/*
 * POSIX and interval timers: three POSIX timers with a gap in their ids (the middle one
 * is deleted): a periodic CLOCK_MONOTONIC one (50 ms) signalling SIGRTMIN+1 with a
 * sigev value, a disarmed CLOCK_REALTIME one, and a CLOCK_BOOTTIME SIGEV_NONE one armed
 * for 1000 s; an ITIMER_REAL of 1000 s. After restore: the ids still work (timer_gettime),
 * the periodic timer still fires at its period with its value and id (counted over a
 * window, lenient bounds), the others keep their state and the 1000 s ones their time left.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define PERIOD_NS (50 * 1000 * 1000)

struct expect {
	int value;
	long long_sec;
};
static struct expect want = { 0x5151, 1000 };	/* exposed */

static volatile int fired, bad_value, bad_id;
static timer_t periodic, gap, disarmed, oneshot;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	fired++;
	if (si->si_value.sival_int != want.value)
		bad_value++;
	if (si->si_timerid != (int)(long)periodic)
		bad_id++;
}

static int make_timer(clockid_t clock, int notify, int value, timer_t *t)
{
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = notify;
	sev.sigev_signo = SIGRTMIN + 1;
	sev.sigev_value.sival_int = value;
	return timer_create(clock, &sev, t);
}

static void check_left(timer_t t, const char *name)
{
	struct itimerspec its;

	if (timer_gettime(t, &its)) {
		zt_fail("timer_gettime(%s, id %ld): %m", name, (long)t);
		return;
	}
	zt_check(its.it_value.tv_sec <= want.long_sec && its.it_value.tv_sec > want.long_sec - 120,
		 "%s: %ld s left, expected a little under %ld", name, (long)its.it_value.tv_sec,
		 want.long_sec);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct itimerspec per = { { 0, PERIOD_NS }, { 0, PERIOD_NS } };
	struct itimerspec longer = { { 0, 0 }, { 1000, 0 } };
	struct itimerval itv = { { 0, 0 }, { 1000, 0 } };
	struct timespec win = { 1, 0 };
	struct itimerspec its;
	sigset_t rt;
	int before, n;

	zt_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, want.value, &periodic) ||
	    make_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, &gap) ||
	    make_timer(CLOCK_REALTIME, SIGEV_SIGNAL, 7, &disarmed) ||
	    make_timer(CLOCK_BOOTTIME, SIGEV_NONE, 0, &oneshot) || timer_delete(gap) ||
	    timer_settime(periodic, 0, &per, NULL) || timer_settime(oneshot, 0, &longer, NULL) ||
	    setitimer(ITIMER_REAL, &itv, NULL)) {
		zt_fail("setting up the timers: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	/* the periodic timer: about 20 expiries in one second (lenient: 8..40) */
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	before = fired;
	while (nanosleep(&win, &win))
		;
	n = fired - before;
	zt_check(n >= 8 && n <= 40, "the 50 ms timer fired %d times in 1 s", n);
	zt_check(!bad_value && !bad_id, "%d signals with a wrong value, %d with a wrong timer id",
		 bad_value, bad_id);
	zt_check(!timer_gettime(periodic, &its) && its.it_interval.tv_nsec == PERIOD_NS,
		 "the periodic timer lost its interval (%ld ns)", (long)its.it_interval.tv_nsec);
	zt_check(!timer_gettime(disarmed, &its) && !its.it_value.tv_sec && !its.it_value.tv_nsec,
		 "the disarmed timer is armed or gone");
	zt_check(timer_gettime(gap, &its) && errno == EINVAL, "the deleted timer id %ld exists",
		 (long)gap);
	check_left(oneshot, "the 1000 s CLOCK_BOOTTIME timer");
	getitimer(ITIMER_REAL, &itv);
	zt_check(itv.it_value.tv_sec <= want.long_sec && itv.it_value.tv_sec > want.long_sec - 120,
		 "ITIMER_REAL: %ld s left, expected a little under %ld", (long)itv.it_value.tv_sec,
		 want.long_sec);
	return zt_result();
}
