// SPDX-License-Identifier: MIT
/*
 * seccomp BPF filters: two stacked filters (uname fails with errno 42, then getppid with
 * errno 43; everything else allowed), installed before two threads are created, so
 * that all three threads run under both; thread 2 stacks one more of its own (getpgid:
 * errno 45). After restore each thread checks from inside that the filters still act
 * (getpgid only in thread 2), and /proc says filter mode with 2 filters in the leader.
 * Then thread 2 adds a filter with SECCOMP_FILTER_FLAG_TSYNC, which works only if the
 * other threads' filters are still the very ones its chain stacks on (shared, not
 * copies): the leader then sees getpgid fail too.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "seccomp-lib.h"

struct expect {
	int uname_errno, getppid_errno, getpgid_errno;
};
static struct expect want = { 42, 43, 45 };	/* exposed */

static volatile int go, go_tsync;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* getpgid must fail with err (0: must work). */
static void check_getpgid(const char *who, int err)
{
	long r;

	errno = 0;
	r = syscall(SYS_getpgid, 0);
	pthread_mutex_lock(&lock);
	if (err)
		zt_check(r == -1 && errno == err, "%s: getpgid returned %ld errno %d", who, r,
			 errno);
	else
		zt_check(r > 0, "%s: getpgid returned %ld errno %d", who, r, errno);
	pthread_mutex_unlock(&lock);
}

static void check_filters(const char *who)
{
	struct utsname u;
	long r;

	errno = 0;
	r = uname(&u);
	pthread_mutex_lock(&lock);
	zt_check(r == -1 && errno == want.uname_errno, "%s: uname returned %ld errno %d", who, r,
		 errno);
	pthread_mutex_unlock(&lock);
	errno = 0;
	r = syscall(SYS_getppid);
	pthread_mutex_lock(&lock);
	zt_check(r == -1 && errno == want.getppid_errno, "%s: getppid returned %ld errno %d", who,
		 r, errno);
	pthread_mutex_unlock(&lock);
}

static volatile int nr_ready;

static void *thread_main(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	bool second = !strcmp(arg, "thread 2");
	sigset_t term;
	long r;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (second && zt_seccomp_deny(SYS_getpgid, want.getpgid_errno, 0))
		zt_fail("%s: seccomp(SECCOMP_SET_MODE_FILTER): %m", (char *)arg);
	__atomic_add_fetch(&nr_ready, 1, __ATOMIC_SEQ_CST);
	while (!go)
		nanosleep(&ts, NULL);
	check_filters(arg);
	check_getpgid(arg, second ? want.getpgid_errno : 0);
	if (!second)
		return NULL;
	while (!go_tsync)
		nanosleep(&ts, NULL);
	r = zt_seccomp_deny(SYS_getpgid, want.getpgid_errno, SECCOMP_FILTER_FLAG_TSYNC);
	pthread_mutex_lock(&lock);
	zt_check(r == 0, "%s: SECCOMP_FILTER_FLAG_TSYNC returned %ld (-1 or the TID it could not "
		 "sync): the other threads' filters are not the ones its chain stacks on",
		 (char *)arg, r);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	pthread_t th[2];

	zt_init(argc, argv);
	if (zt_seccomp_deny(SYS_uname, want.uname_errno, 0) ||
	    zt_seccomp_deny(SYS_getppid, want.getppid_errno, 0)) {
		zt_fail("seccomp(SECCOMP_SET_MODE_FILTER): %m");
		return zt_result();
	}
	if (pthread_create(&th[0], NULL, thread_main, "thread 1") ||
	    pthread_create(&th[1], NULL, thread_main, "thread 2")) {
		zt_fail("pthread_create: %m");
		return zt_result();
	}
	while (__atomic_load_n(&nr_ready, __ATOMIC_SEQ_CST) < 2)
		nanosleep(&ts, NULL);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	check_filters("main thread");
	zt_check(zt_status_value("Seccomp:") == 2, "Seccomp: %d", zt_status_value("Seccomp:"));
	zt_check(zt_status_value("Seccomp_filters:") == 2, "Seccomp_filters: %d",
		 zt_status_value("Seccomp_filters:"));
	check_getpgid("main thread", 0);
	go = 1;
	pthread_join(th[0], NULL);
	go_tsync = 1;	/* thread 1 checked getpgid: now thread 2 may sync its filters to all */
	pthread_join(th[1], NULL);
	check_getpgid("main thread after TSYNC", want.getpgid_errno);
	return zt_result();
}
