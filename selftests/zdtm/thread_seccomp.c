// SPDX-License-Identifier: MIT
/*
 * seccomp per thread: thread 3 is created first and has no filter; then the leader
 * installs one (uname fails with errno 42) and creates threads 1 and 2, which inherit it:
 * thread 1 stacks getppid -> errno 43, thread 2 sets its own no_new_privs and stacks
 * uname -> errno 44 (without TSYNC, so only in itself). After restore each thread checks
 * from inside its own filters (and that the others' extra ones do not act on it), its
 * no_new_privs and its Seccomp/Seccomp_filters lines in /proc/thread-self/status.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
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

/* What thread n (0: the leader) must see: uname/getppid errno (0: works), nnp, filters. */
struct expect {
	int uname_errno, getppid_errno, nnp, mode, filters;
};
static struct expect want[4] = {
	{ 42, 0, 0, 2, 1 }, { 42, 43, 0, 2, 2 }, { 44, 0, 1, 2, 2 }, { 0, 0, 0, 0, 0 },
}; /* exposed */

static volatile int go, nr_ready;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void expect_errno(int n, const char *call, long r, int err, int want_err)
{
	if (want_err)
		zt_check(r == -1 && err == want_err, "thread %d: %s returned %ld errno %d", n, call,
			 r, err);
	else
		zt_check(r >= 0, "thread %d: %s returned %ld errno %d", n, call, r, err);
}

static void check_thread(int n)
{
	const struct expect *w = &want[n];
	struct utsname u;
	long r1, r2;
	int e1, e2, nnp, mode, filters;

	errno = 0;
	r1 = uname(&u);
	e1 = errno;
	errno = 0;
	r2 = syscall(SYS_getppid);
	e2 = errno;
	nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	mode = zt_status_value("Seccomp:");
	filters = w->mode ? zt_status_value("Seccomp_filters:") : 0;
	pthread_mutex_lock(&lock);
	expect_errno(n, "uname", r1, e1, w->uname_errno);
	expect_errno(n, "getppid", r2, e2, w->getppid_errno);
	zt_check(nnp == w->nnp, "thread %d: no_new_privs %d", n, nnp);
	zt_check(mode == w->mode, "thread %d: Seccomp: %d", n, mode);
	zt_check(filters == w->filters, "thread %d: Seccomp_filters: %d", n, filters);
	pthread_mutex_unlock(&lock);
}

static int setup(long n)
{
	if (n == 1)
		return zt_seccomp_deny(SYS_getppid, want[1].getppid_errno, 0);
	if (n == 2)
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		       zt_seccomp_deny(SYS_uname, want[2].uname_errno, 0);
	return 0;
}

static void *thread_main(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	long n = (long)arg;
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (setup(n))
		zt_fail("thread %ld: seccomp or prctl: %m", n);
	__atomic_add_fetch(&nr_ready, 1, __ATOMIC_SEQ_CST);
	while (!go)
		nanosleep(&ts, NULL);
	check_thread(n);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	pthread_t th[4];
	long n;

	zt_init(argc, argv);
	if (pthread_create(&th[3], NULL, thread_main, (void *)3L) ||
	    zt_seccomp_deny(SYS_uname, want[0].uname_errno, 0) ||
	    pthread_create(&th[1], NULL, thread_main, (void *)1L) ||
	    pthread_create(&th[2], NULL, thread_main, (void *)2L)) {
		zt_fail("pthread_create or seccomp: %m");
		return zt_result();
	}
	while (__atomic_load_n(&nr_ready, __ATOMIC_SEQ_CST) < 3)
		nanosleep(&ts, NULL);
	zt_expose(want, sizeof(want));
	zt_ready();
	zt_wait();

	check_thread(0);
	go = 1;
	for (n = 1; n < 4; n++)
		pthread_join(th[n], NULL);
	return zt_result();
}
