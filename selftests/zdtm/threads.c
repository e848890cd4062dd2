// SPDX-License-Identifier: MIT
/*
 * Threads: NTHREADS threads, each with its own TLS value (__thread), blocked mask, a
 * pending thread-directed RT signal with a sigqueue value (rt_tgsigqueueinfo while it is
 * blocked), sigaltstack, comm, nice and policy (SCHED_BATCH in some), and glibc's rseq
 * registration; thread 0 sits in a futex wait. After restore each thread checks from
 * inside: the same TID, its TLS value, mask, pending signal and its value, altstack, comm,
 * nice, policy, rseq still registered with the same area (a second registration gets
 * EBUSY) and cpu_id kept up to date.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#ifndef NTHREADS
#define NTHREADS 8
#endif
#define ALTSTACK_SIZE 16384

struct expect {
	long tls[NTHREADS];
	int value[NTHREADS];
};
static struct expect want;	/* exposed: the runner may damage it */

static __thread long tls_val;
static pid_t tids[NTHREADS];
static char altstacks[NTHREADS][ALTSTACK_SIZE];
static atomic_int nready, ndone;
static volatile int check_now;
static atomic_uint futex_word;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static int my_signal(int i)
{
	return SIGRTMIN + (i % 8);
}

static int my_nice(int i)
{
	return i % 4;
}

static int my_policy(int i)
{
	return i % 3 == 1 ? SCHED_BATCH : SCHED_OTHER;
}

static void thread_mask(int i, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, my_signal(i));
	if (i & 1)
		sigaddset(set, SIGUSR1);
	if (i & 2)
		sigaddset(set, SIGUSR2);
}

static void tfail(const char *msg, int i, long got, long exp)
{
	pthread_mutex_lock(&fail_lock);
	zt_fail("thread %d: %s: got %ld, expected %ld", i, msg, got, exp);
	pthread_mutex_unlock(&fail_lock);
}

static void expect_eq(int i, const char *msg, long got, long exp)
{
	if (got != exp)
		tfail(msg, i, got, exp);
}

static void set_up(int i)
{
	char name[16];
	stack_t ss = { .ss_sp = altstacks[i], .ss_size = ALTSTACK_SIZE };
	sigset_t set;

	tls_val = want.tls[i];
	tids[i] = gettid();
	thread_mask(i, &set);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	snprintf(name, sizeof(name), "zt-thr-%d", i);
	prctl(PR_SET_NAME, name);
	if (sigaltstack(&ss, NULL))
		tfail("sigaltstack failed", i, errno, 0);
	if (sched_setscheduler(0, my_policy(i), &(struct sched_param){ 0 }))
		tfail("sched_setscheduler failed", i, errno, 0);
	if (setpriority(PRIO_PROCESS, 0, my_nice(i)))
		tfail("setpriority failed", i, errno, 0);
}

static void check_rseq(int i)
{
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
	long r;

	if (!__rseq_size)
		return;
	/* glibc registers 32 bytes or __rseq_size; the same area again gets EBUSY */
	r = syscall(SYS_rseq, rs, 32, 0, RSEQ_SIG);
	if (r && errno == EINVAL && __rseq_size != 32)
		r = syscall(SYS_rseq, rs, __rseq_size, 0, RSEQ_SIG);
	expect_eq(i, "a second rseq registration (-1/EBUSY when registered)", r ? errno : 0,
		  EBUSY);
	sched_yield();
	expect_eq(i, "rseq cpu_id", (int)rs->cpu_id, sched_getcpu());
}

static void check_state(int i)
{
	char path[64], comm[32] = "", want_comm[16];
	sigset_t set, now, pend;
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	stack_t ss;
	FILE *f;

	expect_eq(i, "TID", gettid(), tids[i]);
	expect_eq(i, "TLS value", tls_val, want.tls[i]);
	thread_mask(i, &set);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	for (int s = 1; s < SIGRTMAX; s++)
		if (s != 32 && s != 33)
			expect_eq(i, "signal blocked", sigismember(&now, s) * 1000 + s,
				  sigismember(&set, s) * 1000 + s);
	sigpending(&pend);
	expect_eq(i, "own signal pending", sigismember(&pend, my_signal(i)), 1);
	sigemptyset(&set);
	sigaddset(&set, my_signal(i));
	memset(&si, 0, sizeof(si));
	expect_eq(i, "sigtimedwait", sigtimedwait(&set, &si, &zero), my_signal(i));
	expect_eq(i, "signal value", si.si_value.sival_int, want.value[i]);
	sigaltstack(NULL, &ss);
	expect_eq(i, "altstack", (long)ss.ss_sp, (long)altstacks[i]);
	expect_eq(i, "nice", getpriority(PRIO_PROCESS, 0), my_nice(i));
	expect_eq(i, "scheduling policy", sched_getscheduler(0), my_policy(i));
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", gettid());
	f = fopen(path, "r");
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = 0;
	snprintf(want_comm, sizeof(want_comm), "zt-thr-%d", i);
	if (strcmp(comm, want_comm))
		tfail(comm, i, 0, 1);
	check_rseq(i);
}

static void *thread_main(void *arg)
{
	int i = (int)(long)arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	set_up(i);
	atomic_fetch_add(&nready, 1);
	if (i == 0) {
		/* blocked in the kernel at dump time, woken only by the check */
		while (atomic_load(&futex_word) == 0)
			syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	} else {
		while (!check_now)
			nanosleep(&ts, NULL);
	}
	check_state(i);
	atomic_fetch_add(&ndone, 1);
	return NULL;
}

static int queue_signal(int i)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = my_signal(i);
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = want.value[i];
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), tids[i], my_signal(i), &si);
}

static void wait_count(atomic_int *n, int target, int seconds, const char *what)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int k;

	for (k = 0; k < seconds * 100 && atomic_load(n) < target; k++)
		nanosleep(&ts, NULL);
	if (atomic_load(n) < target)
		zt_fail("only %d of %d threads %s", atomic_load(n), target, what);
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t th[NTHREADS];
	int i;

	zt_init(argc, argv);
	for (i = 0; i < NTHREADS; i++) {
		want.tls[i] = 0x7100000000L + i * 0x1111;
		want.value[i] = 500 + i;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], &attr, thread_main, (void *)(long)i)) {
			zt_fail("pthread_create %d failed", i);
			return zt_result();
		}
	wait_count(&nready, NTHREADS, 20, "got ready");
	for (i = 0; i < NTHREADS; i++)
		if (queue_signal(i))
			zt_fail("rt_tgsigqueueinfo to thread %d: %m", i);
	if (zt_failed())
		return zt_result();
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	check_now = 1;
	atomic_store(&futex_word, 1);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	wait_count(&ndone, NTHREADS, 20, "checked their state");
	if (atomic_load(&ndone) == NTHREADS)
		for (i = 0; i < NTHREADS; i++)
			pthread_join(th[i], NULL);
	return zt_result();
}
