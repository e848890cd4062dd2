// SPDX-License-Identifier: MIT
/*
 * A 3-process pipeline: root -> child through pipe A, child -> grandchild through pipe B,
 * and pipe C from the root straight to the grandchild (the child closed both ends of C:
 * its restore must not keep them either). Each pipe holds data in flight. After restore
 * every writer adds a tail and closes its end; every reader (O_NONBLOCK) reads the data,
 * the tail, then EOF, which proves nobody else holds a write end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define A_R 20
#define A_W 21
#define B_R 22
#define B_W 23
#define C_R 24
#define C_W 25
#define IN_FLIGHT 5000

static const char before[3][32] = { "A: in flight at dump", "B: in flight at dump",
				    "C: in flight at dump" };
static char tails[3][16] = { "A: tail", "B: tail", "C: tail" }; /* exposed: the root writes A, C */

/* The pipe's data, then its tail, then EOF; name is 0, 1, 2 for A, B, C. */
static void expect_stream(int fd, int name)
{
	char buf[IN_FLIGHT + 256], want[IN_FLIGHT + 256];
	size_t got = 0, len = 0;
	ssize_t n = 1;

	while (len < IN_FLIGHT)
		len += snprintf(want + len, sizeof(want) - len, "%s;", before[name]);
	len += snprintf(want + len, sizeof(want) - len, "%s", tails[name]);
	while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += n;
	if (n < 0) {
		zt_fail("pipe %c after %zu bytes: %m%s", 'A' + name, got,
			errno == EAGAIN ? " (a write end is still held somewhere)" : "");
		return;
	}
	zt_check(got == len && !memcmp(buf, want, len), "pipe %c carried %zu bytes, expected "
		 "%zu (or different ones)", 'A' + name, got, len);
}

static void fill(int fd, int name)
{
	char buf[IN_FLIGHT + 64];
	size_t len = 0;

	while (len < IN_FLIGHT)
		len += snprintf(buf + len, sizeof(buf) - len, "%s;", before[name]);
	if (write(fd, buf, len) != (ssize_t)len)
		zt_fail("fill pipe %c: %m", 'A' + name);
}

static void finish(int fd, int name)
{
	zt_check(write(fd, tails[name], strlen(tails[name])) == (ssize_t)strlen(tails[name]),
		 "tail of pipe %c: %m", 'A' + name);
	close(fd);
}

static int grandchild(void *arg)
{
	close(A_R);
	close(B_W);
	close(C_W);
	zt_task_ready();
	zt_wait();
	expect_stream(B_R, 1);
	expect_stream(C_R, 2);
	return zt_result();
}

static int child(void *arg)
{
	close(A_W);
	zt_fork(grandchild, NULL);
	close(B_R);
	close(C_R);
	close(C_W);
	zt_task_ready();
	zt_wait();
	expect_stream(A_R, 0);
	finish(B_W, 1);
	zt_collect();
	return zt_result();
}

static int make_pipe(int r, int w)
{
	int p[2];

	if (pipe(p) || dup2(p[0], r) != r || dup2(p[1], w) != w || close(p[0]) || close(p[1]))
		return -1;
	return fcntl(r, F_SETFL, O_NONBLOCK);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (make_pipe(A_R, A_W) || make_pipe(B_R, B_W) || make_pipe(C_R, C_W)) {
		zt_fail("pipes: %m");
		return zt_result();
	}
	fill(A_W, 0);
	fill(B_W, 1);
	fill(C_W, 2);
	zt_fork(child, NULL);
	close(A_R);
	close(B_R);
	close(B_W);
	close(C_R);
	zt_expose(tails, sizeof(tails));
	zt_ready();
	zt_wait();
	finish(A_W, 0);
	finish(C_W, 2);
	zt_collect();
	return zt_result();
}
