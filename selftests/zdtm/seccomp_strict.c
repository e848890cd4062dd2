// SPDX-License-Identifier: MIT
/*
 * seccomp strict mode (only read, write, exit and rt_sigreturn allowed), in a thread and
 * in a process: thread W of the root and the root's child C each enter strict mode and
 * block in read() on a pipe. After restore the root's main thread checks that
 * /proc/self/task/W/status and /proc/C/status still say "Seccomp: 1" (its own: 0), sends
 * each a number and gets back 3 * n + 1; then each tries getpid(), which strict mode
 * answers with SIGKILL: W must vanish without saying "alive", C must die of SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define ALIVE 0xa11fe

struct expect {
	int strict_mode, own_mode, kill_sig;
};
static struct expect want = { 1, 0, SIGKILL }; /* exposed */

static int w_in[2], w_out[2], c_in[2], c_out[2];
static volatile pid_t w_tid;

/* In strict mode: read n, answer 3n + 1, try a forbidden call, say "alive" if it works. */
static void __attribute__((noreturn)) strict_worker(int in, int out)
{
	uint64_t n = 0, alive = ALIVE;

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
		syscall(SYS_exit, 2);
	syscall(SYS_write, out, "R", 1);
	if (syscall(SYS_read, in, &n, sizeof(n)) != sizeof(n))
		syscall(SYS_exit, 3);
	n = 3 * n + 1;
	syscall(SYS_write, out, &n, sizeof(n));
	syscall(SYS_getpid);
	syscall(SYS_write, out, &alive, sizeof(alive));
	syscall(SYS_exit, 0);
	__builtin_unreachable();
}

static void block_all(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void *thread_main(void *arg)
{
	block_all();
	w_tid = syscall(SYS_gettid);
	strict_worker(w_in[0], w_out[1]);
}

static int mode_of(const char *path)
{
	char line[256];
	int v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Seccomp: %d", &v);
	if (f)
		fclose(f);
	return v;
}

/* Read exactly len bytes within 30 s. */
static int read_full(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		if (poll(&p, 1, 30000) != 1)
			return -1;
		r = read(fd, (char *)buf + got, len - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static void ask(const char *who, int in, int out, uint64_t n)
{
	uint64_t r = 0;

	zt_check(write(in, &n, sizeof(n)) == sizeof(n), "%s: write: %m", who);
	zt_check(!read_full(out, &r, sizeof(r)) && r == 3 * n + 1,
		 "%s: answered %llu to %llu", who, (unsigned long long)r, (unsigned long long)n);
}

/* W's getpid must kill it: its /proc entry goes, and it never says "alive". */
static void check_w_killed(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char path[64];
	uint64_t v = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/self/task/%d", w_tid);
	for (i = 0; i < 3000 && !access(path, F_OK); i++)
		nanosleep(&ts, NULL);
	zt_check(access(path, F_OK), "W: still there after getpid in strict mode");
	fcntl(w_out[0], F_SETFL, O_NONBLOCK);
	zt_check(read(w_out[0], &v, sizeof(v)) < 0, "W: getpid worked in strict mode (%#llx)",
		 (unsigned long long)v);
}

static void check(pid_t c)
{
	char path[64];
	int st = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", w_tid);
	zt_check(mode_of(path) == want.strict_mode, "W: Seccomp: %d", mode_of(path));
	snprintf(path, sizeof(path), "/proc/%d/status", c);
	zt_check(mode_of(path) == want.strict_mode, "C: Seccomp: %d", mode_of(path));
	zt_check(mode_of("/proc/thread-self/status") == want.own_mode, "main: Seccomp: %d",
		 mode_of("/proc/thread-self/status"));
	ask("W", w_in[1], w_out[0], 14);
	ask("C", c_in[1], c_out[0], 1000);
	check_w_killed();
	zt_check(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == want.kill_sig,
		 "C: status %#x, expected killed by signal %d", st, want.kill_sig);
}

int main(int argc, char **argv)
{
	pthread_t th;
	char r = 0;
	pid_t c;

	zt_init(argc, argv);
	if (pipe(w_in) || pipe(w_out) || pipe(c_in) || pipe(c_out)) {
		zt_fail("pipe: %m");
		return zt_result();
	}
	c = fork();
	if (c == 0) {
		block_all();
		strict_worker(c_in[0], c_out[1]);
	}
	if (c < 0 || pthread_create(&th, NULL, thread_main, NULL)) {
		zt_fail("fork or pthread_create: %m");
		return zt_result();
	}
	if (read_full(w_out[0], &r, 1) || r != 'R' || read_full(c_out[0], &r, 1) || r != 'R') {
		zt_fail("the strict workers did not start (no SECCOMP_MODE_STRICT?)");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check(c);
	return zt_result();
}
