// SPDX-License-Identifier: MIT
/*
 * A task blocked in read() on an empty pipe while it is dumped. Readiness is signalled
 * from a SIGALRM handler (SA_RESTART) once the task sits in read(); SIGTERM's handler
 * (SA_RESTART too) writes a message into the pipe. After restore the read must still be
 * in progress and return exactly that message: not EINTR, not stale data.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib.h"

#define FD_R 30
#define FD_W 31

static char msg[] = "written after restore";

static void on_alarm(int sig)
{
	zt_ready();
}

static void on_term(int sig)
{
	zt_stop = 1;
	if (write(FD_W, msg, sizeof(msg)) != sizeof(msg))
		_exit(3);
}

static int setup(void)
{
	struct sigaction sa = { .sa_flags = SA_RESTART };
	struct itimerval it = { .it_value = { 0, 200 * 1000 } };
	int p[2];

	if (pipe(p) || dup2(p[0], FD_R) != FD_R || dup2(p[1], FD_W) != FD_W)
		return -1;
	close(p[0]);
	close(p[1]);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	if (sigaction(SIGTERM, &sa, NULL))
		return -1;
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL))
		return -1;
	return setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
	char buf[64] = "";
	ssize_t n;

	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(msg, sizeof(msg));
	n = read(FD_R, buf, sizeof(buf));
	zt_check(zt_stop, "read returned %zd before SIGTERM", n);
	zt_check(n == sizeof(msg) && !memcmp(buf, "written after restore", sizeof(msg)),
		 "read returned %zd (%s), expected the %zu-byte message", n,
		 n < 0 ? strerror(errno) : "data", sizeof(msg));
	return zt_result();
}
