// SPDX-License-Identifier: MIT
/*
 * Signal state: handlers with SA_SIGINFO and a mask, an ignored signal, blocked signals
 * pending at dump time (SIGUSR2 and a queue of three RT signals process-wide, one RT
 * signal for the thread only) with their sigqueue values, and the blocked mask. After
 * restore: all of it unchanged, and the pending signals arrive in order with their siginfo.
 */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

#define MAX_LOG 16

struct delivery {
	int signo, code, value, pid;
};

static struct delivery log_[MAX_LOG];
static volatile int nlog;
static sigset_t usr1_mask_seen;

struct expect {
	int usr2_value;
	int rt5_values[3];
	int rt6_value;
	int usr1_value;
};
static struct expect want = { 0x1234, { 1, 2, 3 }, 42, 77 }; /* exposed */

static void on_info(int sig, siginfo_t *si, void *uc)
{
	if (nlog < MAX_LOG) {
		log_[nlog].signo = sig;
		log_[nlog].code = si->si_code;
		log_[nlog].value = si->si_value.sival_int;
		log_[nlog].pid = si->si_pid;
		nlog++;
	}
	if (sig == SIGUSR1)
		sigprocmask(SIG_BLOCK, NULL, &usr1_mask_seen);
}

static void on_hup(int sig)
{
}

static int set_action(int sig, void (*fn)(int, siginfo_t *, void *), void (*h)(int), int flags,
		      const int *mask_sigs)
{
	struct sigaction sa = { 0 };

	if (fn)
		sa.sa_sigaction = fn;
	else
		sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; mask_sigs && *mask_sigs; mask_sigs++)
		sigaddset(&sa.sa_mask, *mask_sigs);
	return sigaction(sig, &sa, NULL);
}

static void check_action(int sig, void *handler, int flags, const int *mask_sigs)
{
	struct sigaction sa;
	sigset_t want_mask;
	int s;

	sigemptyset(&want_mask);
	for (; mask_sigs && *mask_sigs; mask_sigs++)
		sigaddset(&want_mask, *mask_sigs);
	if (sigaction(sig, NULL, &sa)) {
		zt_fail("sigaction(%d): %m", sig);
		return;
	}
	zt_check((void *)sa.sa_handler == handler, "signal %d: handler %p, expected %p", sig,
		 (void *)sa.sa_handler, handler);
	zt_check((sa.sa_flags & flags) == flags, "signal %d: flags 0x%x lack 0x%x", sig,
		 sa.sa_flags, flags);
	for (s = 1; s < SIGRTMAX; s++)
		zt_check(sigismember(&sa.sa_mask, s) == sigismember(&want_mask, s),
			 "signal %d: handler mask has signal %d %s", sig, s,
			 sigismember(&sa.sa_mask, s) ? "set" : "unset");
}

static unsigned long long status_mask(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long v = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key), "%llx", &v);
	if (f)
		fclose(f);
	return v;
}

#define BIT(sig) (1ULL << ((sig) - 1))

int main(int argc, char **argv)
{
	int usr1_mask[] = { SIGWINCH, SIGRTMIN + 2, 0 };
	sigset_t blocked, now;
	union sigval v;
	siginfo_t si;
	int i, s;

	zt_init(argc, argv);
	if (set_action(SIGUSR1, on_info, NULL, SA_SIGINFO | SA_RESTART, usr1_mask) ||
	    set_action(SIGUSR2, on_info, NULL, SA_SIGINFO, NULL) ||
	    set_action(SIGRTMIN + 5, on_info, NULL, SA_SIGINFO, NULL) ||
	    set_action(SIGRTMIN + 6, on_info, NULL, SA_SIGINFO, NULL) ||
	    set_action(SIGHUP, NULL, on_hup, SA_RESETHAND | SA_NODEFER, NULL) ||
	    set_action(SIGPIPE, NULL, SIG_IGN, 0, NULL)) {
		zt_fail("sigaction: %m");
		return zt_result();
	}
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR2);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGRTMIN + 5);
	sigaddset(&blocked, SIGRTMIN + 6);
	sigprocmask(SIG_SETMASK, &blocked, NULL);

	v.sival_int = want.usr2_value;
	sigqueue(getpid(), SIGUSR2, v);
	for (i = 0; i < 3; i++) {
		v.sival_int = want.rt5_values[i];
		sigqueue(getpid(), SIGRTMIN + 5, v);
	}
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGRTMIN + 6;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = want.rt6_value;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGRTMIN + 6, &si))
		zt_fail("rt_tgsigqueueinfo: %m");

	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	check_action(SIGUSR1, (void *)on_info, SA_SIGINFO | SA_RESTART, usr1_mask);
	check_action(SIGUSR2, (void *)on_info, SA_SIGINFO, NULL);
	check_action(SIGHUP, (void *)on_hup, SA_RESETHAND | SA_NODEFER, NULL);
	check_action(SIGPIPE, (void *)SIG_IGN, 0, NULL);
	check_action(SIGQUIT, (void *)SIG_DFL, 0, NULL);

	sigprocmask(SIG_BLOCK, NULL, &now);
	for (s = 1; s < SIGRTMAX; s++)
		if (s != 32 && s != 33)
			zt_check(sigismember(&now, s) == sigismember(&blocked, s),
				 "signal %d is %sblocked", s, sigismember(&now, s) ? "" : "not ");
	zt_check(nlog == 0, "%d signals were delivered while blocked", nlog);
	zt_check(status_mask("ShdPnd:") == (BIT(SIGUSR2) | BIT(SIGRTMIN + 5)),
		 "process-wide pending is 0x%llx", status_mask("ShdPnd:"));
	zt_check(status_mask("SigPnd:") == BIT(SIGRTMIN + 6), "thread pending is 0x%llx",
		 status_mask("SigPnd:"));

	/* unblocked one by one, each arrives at once; RT ones in queue order */
	{
		struct delivery exp[5] = {
			{ SIGUSR2, SI_QUEUE, want.usr2_value, getpid() },
			{ SIGRTMIN + 5, SI_QUEUE, want.rt5_values[0], getpid() },
			{ SIGRTMIN + 5, SI_QUEUE, want.rt5_values[1], getpid() },
			{ SIGRTMIN + 5, SI_QUEUE, want.rt5_values[2], getpid() },
			{ SIGRTMIN + 6, SI_QUEUE, want.rt6_value, getpid() },
		};
		int order[] = { SIGUSR2, SIGRTMIN + 5, SIGRTMIN + 6 }, count[] = { 1, 4, 5 };

		for (i = 0; i < 3; i++) {
			sigset_t one;

			sigemptyset(&one);
			sigaddset(&one, order[i]);
			sigprocmask(SIG_UNBLOCK, &one, NULL);
			zt_check(nlog == count[i], "%d signals delivered after unblocking %d, "
				 "expected %d", nlog, order[i], count[i]);
		}
		for (i = 0; i < 5 && i < nlog; i++)
			zt_check(!memcmp(&log_[i], &exp[i], sizeof(exp[i])),
				 "delivery %d: signal %d code %d value %d pid %d, expected signal %d "
				 "code %d value %d pid %d", i, log_[i].signo, log_[i].code,
				 log_[i].value, log_[i].pid, exp[i].signo, exp[i].code, exp[i].value,
				 exp[i].pid);
	}
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);
	/* the SIGUSR1 handler still runs with its mask */
	nlog = 0;
	v.sival_int = want.usr1_value;
	sigqueue(getpid(), SIGUSR1, v);
	zt_check(nlog == 1 && log_[0].signo == SIGUSR1 && log_[0].value == 77,
		 "SIGUSR1 not delivered with its value (%d deliveries)", nlog);
	zt_check(sigismember(&usr1_mask_seen, SIGWINCH) &&
		 sigismember(&usr1_mask_seen, SIGRTMIN + 2) &&
		 sigismember(&usr1_mask_seen, SIGUSR1), "the SIGUSR1 handler ran without its mask");
	return zt_result();
}
