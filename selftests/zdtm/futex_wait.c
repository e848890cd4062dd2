// SPDX-License-Identifier: MIT
/*
 * Blocked in FUTEX_WAIT (no timeout) when dumped: after restore the wait goes on, and the
 * SIGTERM handler (no SA_RESTART) ends it with EINTR; the futex word is unchanged and
 * no spurious wake-up or error was seen.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

static uint32_t word; /* exposed: the value waited on, 0 */

int main(int argc, char **argv)
{
	int eintr = 0, wakes = 0;
	long ret;

	zt_init(argc, argv);
	zt_expose(&word, sizeof(word));
	zt_ready();
	while (!zt_stop) {
		ret = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		if (ret == 0) {
			wakes++; /* nobody wakes this futex */
		} else if (errno == EINTR) {
			eintr++;
		} else {
			zt_fail("FUTEX_WAIT: %m");
			zt_wait();
			break;
		}
	}
	zt_check(word == 0, "the futex word is %u", word);
	zt_check(eintr >= 1, "the wait never returned EINTR");
	zt_check(wakes <= 1, "%d spurious wake-ups", wakes);
	return zt_result();
}
