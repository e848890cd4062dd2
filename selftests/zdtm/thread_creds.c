// SPDX-License-Identifier: MIT
/*
 * Per-thread credentials: raw setresuid/setresgid/capset act on the calling thread only
 * (glibc's wrappers would change every thread). Thread 1 runs as uid/gid 1000 (saved 0),
 * thread 2 keeps uid 0 but drops CAP_NET_RAW from its effective set; the main thread stays
 * root. After restore each thread checks its own ids and capabilities from inside.
 */
#include <linux/capability.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

struct expect {
	unsigned int uid1, gid1;
	int dropped_cap;
};
static struct expect want = { 1000, 1000, CAP_NET_RAW }; /* exposed */

static atomic_int nready;
static volatile int go;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int effective_caps(uint64_t *eff)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	return 0;
}

static int drop_effective(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &h, d);
}

static void check_ids(const char *who, unsigned int uid, unsigned int gid)
{
	unsigned int r, e, s, gr, ge, gs;

	syscall(SYS_getresuid, &r, &e, &s);
	syscall(SYS_getresgid, &gr, &ge, &gs);
	pthread_mutex_lock(&lock);
	zt_check(r == uid && e == uid && s == 0, "%s: uids %u %u %u, expected %u %u 0", who, r, e,
		 s, uid, uid);
	zt_check(gr == gid && ge == gid && gs == 0, "%s: gids %u %u %u, expected %u %u 0", who,
		 gr, ge, gs, gid, gid);
	pthread_mutex_unlock(&lock);
}

static void *thread_main(void *arg)
{
	long i = (long)arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint64_t eff = 0;
	sigset_t term;
	int err = 0;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (i == 1)
		err = syscall(SYS_setresgid, want.gid1, want.gid1, 0) ||
		      syscall(SYS_setresuid, want.uid1, want.uid1, 0);
	else
		err = drop_effective(want.dropped_cap);
	if (err)
		zt_fail("thread %ld: changing its credentials: %m", i);
	atomic_fetch_add(&nready, 1);
	while (!go)
		nanosleep(&ts, NULL);
	if (i == 1) {
		check_ids("thread 1", want.uid1, want.gid1);
	} else {
		check_ids("thread 2", 0, 0);
		effective_caps(&eff);
		pthread_mutex_lock(&lock);
		zt_check(!(eff & (1ULL << want.dropped_cap)) && (eff & (1ULL << CAP_SYS_ADMIN)),
			 "thread 2: effective capabilities %#llx", (unsigned long long)eff);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pthread_t th[2];
	uint64_t eff = 0;
	long i;

	zt_init(argc, argv);
	if (getuid() != 0)
		zt_skip("needs root");
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(i + 1))) {
			zt_fail("pthread_create: %m");
			return zt_result();
		}
	while (atomic_load(&nready) < 2)
		nanosleep(&ts, NULL);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	check_ids("main thread", 0, 0);
	effective_caps(&eff);
	zt_check(eff & (1ULL << want.dropped_cap), "main thread lost capability %d",
		 want.dropped_cap);
	go = 1;
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	return zt_result();
}
