// SPDX-License-Identifier: MIT
/*
 * seccomp BPF filters: two stacked filters (uname fails with errno 42, then getppid with
 * errno 43; everything else allowed), installed before two threads are created, so
 * that all three threads run under both. After restore each thread checks from inside
 * that both filters still act, and /proc says filter mode with 2 filters.
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

struct expect {
	int uname_errno, getppid_errno;
};
static struct expect want = { 42, 43 };	/* exposed */

static volatile int go;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int deny(int nr, int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
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

static void *thread_main(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	while (!go)
		nanosleep(&ts, NULL);
	check_filters(arg);
	return NULL;
}

static int status_value(const char *key)
{
	char line[256];
	int v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atoi(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	pthread_t th[2];

	zt_init(argc, argv);
	if (deny(SYS_uname, want.uname_errno) || deny(SYS_getppid, want.getppid_errno)) {
		zt_fail("seccomp(SECCOMP_SET_MODE_FILTER): %m");
		return zt_result();
	}
	if (pthread_create(&th[0], NULL, thread_main, "thread 1") ||
	    pthread_create(&th[1], NULL, thread_main, "thread 2")) {
		zt_fail("pthread_create: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	check_filters("main thread");
	zt_check(status_value("Seccomp:") == 2, "Seccomp: %d", status_value("Seccomp:"));
	zt_check(status_value("Seccomp_filters:") == 2, "Seccomp_filters: %d",
		 status_value("Seccomp_filters:"));
	go = 1;
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	return zt_result();
}
