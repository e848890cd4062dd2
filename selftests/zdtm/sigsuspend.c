// SPDX-License-Identifier: MIT
/*
 * Blocked in sigsuspend() with a temporary mask when dumped (SIGTERM and SIGUSR1 blocked
 * otherwise): after restore SIGTERM still ends the wait, its handler runs once, and the
 * mask in force afterwards is the task's own, not the temporary one.
 */
#include <errno.h>
#include <string.h>

#include "lib.h"

static sigset_t want_mask; /* exposed */

int main(int argc, char **argv)
{
	sigset_t during, now;
	int ret = 0, err = 0, sig, diff = 0;

	zt_init(argc, argv);
	sigemptyset(&want_mask);
	sigaddset(&want_mask, SIGTERM);
	sigaddset(&want_mask, SIGUSR1);
	sigaddset(&want_mask, SIGRTMIN + 1);
	sigprocmask(SIG_SETMASK, &want_mask, NULL);
	during = want_mask;
	sigdelset(&during, SIGTERM);
	sigaddset(&during, SIGHUP);

	zt_expose(&want_mask, 8);
	zt_ready();
	while (!zt_stop) {
		ret = sigsuspend(&during);
		err = errno;
	}
	zt_check(ret == -1 && err == EINTR, "sigsuspend returned %d (%s)", ret, strerror(err));
	sigprocmask(SIG_BLOCK, NULL, &now);
	for (sig = 1; sig < SIGRTMAX; sig++) {
		if (sig == 32 || sig == 33)
			continue; /* glibc's own */
		if (sigismember(&now, sig) != sigismember(&want_mask, sig) && !diff++)
			zt_fail("after sigsuspend signal %d is %sblocked", sig,
				sigismember(&now, sig) ? "" : "not ");
	}
	zt_check(!diff, "%d signals have the wrong blocked state", diff);
	return zt_result();
}
