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
#include <unistd.h>

#include "lib.h"

volatile sig_atomic_t zt_stop;
static int zt_nfail;
static const void *zt_exp_addr;
static size_t zt_exp_len;
static const char *zt_name = "test";

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

void zt_ready(void)
{
	const char *path = getenv("ZT_READY");
	char tmp[4096], text[256];
	int fd, n;

	if (!path)
		path = "ready";
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(text, sizeof(text), "pid %d\nexpose %lx %zu\n%s%s%s%s%s%s", getpid(),
		     (unsigned long)zt_exp_addr, zt_exp_len, zt_dump_opt ? "dump-opt " : "",
		     zt_dump_opt ? zt_dump_opt : "", zt_dump_opt ? "\n" : "",
		     zt_flavours ? "only-flavours " : "", zt_flavours ? zt_flavours : "",
		     zt_flavours ? "\n" : "");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, n) != n || close(fd) || rename(tmp, path)) {
		zt_fail("cannot write the ready file %s: %m", path);
		exit(1);
	}
}

void zt_wait(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	while (!zt_stop)
		nanosleep(&ts, NULL);
}
