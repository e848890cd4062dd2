// SPDX-License-Identifier: MIT
/*
 * ZDTM test library: SIGTERM handling, the ready file, PASS/FAIL reporting. Output is
 * written with write(2) so nothing sits in a stdio buffer across the dump.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib.h"

#define ZT_MAX_KIDS 1024

volatile sig_atomic_t zt_stop;
static int zt_nfail;
static const void *zt_exp_addr;
static size_t zt_exp_len;
static const char *zt_name = "test";
static char zt_name_buf[128];
static pid_t zt_kids[ZT_MAX_KIDS];
static int zt_nkids;
static int zt_dump_fails;
static char zt_dump_args[1024];	/* "dump-arg X" lines for the ready file */

static void zt_on_term(int sig)
{
	zt_stop = 1;
}

static void zt_vprint(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf), "%s: %s", zt_name, prefix);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) < 0)
		return;
}

void zt_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zt_vprint("", fmt, ap);
	va_end(ap);
}

void zt_fail(const char *fmt, ...)
{
	va_list ap;

	zt_nfail++;
	va_start(ap, fmt);
	zt_vprint("FAIL: ", fmt, ap);
	va_end(ap);
}

void zt_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zt_vprint("SKIP: ", fmt, ap);
	va_end(ap);
	exit(77);
}

int zt_failed(void)
{
	return zt_nfail;
}

int zt_result(void)
{
	if (zt_nfail) {
		zt_msg("FAIL (%d check%s failed)", zt_nfail, zt_nfail > 1 ? "s" : "");
		return 1;
	}
	zt_msg("PASS");
	return 0;
}

void zt_init(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = zt_on_term };
	const char *slash = strrchr(argv[0], '/');

	zt_name = slash ? slash + 1 : argv[0];
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		zt_fail("sigaction(SIGTERM): %m");
		exit(1);
	}
}

void zt_expose(const void *addr, size_t len)
{
	zt_exp_addr = addr;
	zt_exp_len = len;
}

static const char *zt_dump_opt;

void zt_dump_option(const char *opt)
{
	zt_dump_opt = opt;
}

static const char *zt_flavours;

void zt_only_flavours(const char *list)
{
	zt_flavours = list;
}

static void zt_write_ready(const char *path, const char *text)
{
	char tmp[4096];
	int fd, n = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, n) != n || close(fd) || rename(tmp, path)) {
		zt_fail("cannot write the ready file %s: %m", path);
		exit(1);
	}
}

/* Every forked task said it is ready (or died: then we fail and stop). */
static void zt_wait_kids_ready(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	char path[64];
	int i, st;

	for (i = 0; i < zt_nkids; i++) {
		snprintf(path, sizeof(path), "zt-%d.ready", zt_kids[i]);
		while (access(path, F_OK)) {
			if (waitpid(zt_kids[i], &st, WNOHANG) == zt_kids[i]) {
				zt_fail("task %d ended (status %#x) before it was ready", zt_kids[i],
					st);
				exit(1);
			}
			nanosleep(&ts, NULL);
		}
	}
}

void zt_expect_dump_failure(void)
{
	zt_dump_fails = 1;
}

void zt_dump_arg(const char *arg)
{
	size_t len = strlen(zt_dump_args);

	snprintf(zt_dump_args + len, sizeof(zt_dump_args) - len, "dump-arg %s\n", arg);
}

void zt_ready(void)
{
	const char *path = getenv("ZT_READY");
	char text[1200];

	zt_wait_kids_ready();
	if (!path)
		path = "ready";
	snprintf(text, sizeof(text), "pid %d\nexpose %lx %zu\n%s%s%s%s%s%s%s%s", getpid(),
		 (unsigned long)zt_exp_addr, zt_exp_len, zt_dump_fails ? "dump fails\n" : "",
		 zt_dump_args, zt_dump_opt ? "dump-opt " : "", zt_dump_opt ? zt_dump_opt : "",
		 zt_dump_opt ? "\n" : "", zt_flavours ? "only-flavours " : "",
		 zt_flavours ? zt_flavours : "", zt_flavours ? "\n" : "");
	zt_write_ready(path, text);
}

void zt_task_ready(void)
{
	char path[64];

	zt_wait_kids_ready();
	snprintf(path, sizeof(path), "zt-%d.ready", getpid());
	zt_write_ready(path, "ready\n");
}

pid_t zt_fork(int (*fn)(void *arg), void *arg)
{
	char out[64];
	pid_t pid;
	int fd;

	if (zt_nkids == ZT_MAX_KIDS) {
		zt_fail("more than %d tasks", ZT_MAX_KIDS);
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		zt_fail("fork: %m");
		exit(1);
	}
	if (pid) {
		zt_kids[zt_nkids++] = pid;
		return pid;
	}
	zt_nkids = 0;
	zt_nfail = 0;
	snprintf(zt_name_buf, sizeof(zt_name_buf), "%.64s[%d]", zt_name, getpid());
	zt_name = zt_name_buf;
	snprintf(out, sizeof(out), "zt-%d.out", getpid());
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		exit(1);
	close(fd);
	exit(fn(arg));
}

void zt_forget_tasks(void)
{
	zt_nkids = 0;
	zt_nfail = 0;
}

void zt_adopt(pid_t pid)
{
	if (zt_nkids < ZT_MAX_KIDS)
		zt_kids[zt_nkids++] = pid;
}

/* Repeat the FAIL lines of a task's output as our own failures. */
static void zt_relay(pid_t pid)
{
	char path[64], buf[8192], *line, *save;
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "zt-%d.out", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "FAIL: "))
			zt_msg("%s", line);
}

void zt_collect(void)
{
	int i, st;

	/* SIGCONT too: a task wrongly left stopped (already reported) must not hang us */
	for (i = 0; i < zt_nkids; i++)
		if (kill(zt_kids[i], SIGTERM) || kill(zt_kids[i], SIGCONT))
			zt_fail("cannot signal task %d: %m", zt_kids[i]);
	for (i = 0; i < zt_nkids; i++) {
		if (waitpid(zt_kids[i], &st, 0) != zt_kids[i]) {
			zt_fail("cannot wait for task %d: %m", zt_kids[i]);
			continue;
		}
		zt_relay(zt_kids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			zt_fail("task %d did not pass (status %#x)", zt_kids[i], st);
	}
	zt_nkids = 0;
}

void zt_wait(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	while (!zt_stop)
		nanosleep(&ts, NULL);
}
