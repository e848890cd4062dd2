// SPDX-License-Identifier: MIT
/*
 * Unix socketpairs between parent and child: a stream pair (root fd 20, child fd 21)
 * with data queued both ways, and a datagram pair (root 22, child 23) with two queued
 * datagrams for the child. After restore each side reads what was queued for it, and
 * once the root closed its stream end the child reads EOF: no other task may hold a
 * copy of it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib.h"

#define ST_ROOT 20
#define ST_CHILD 21
#define DG_ROOT 22
#define DG_CHILD 23

static char msgs[4][32] = { "queued for the child", "queued for the root", "datagram one",
			    "datagram two" }; /* exposed */

static void expect(int fd, const char *want, const char *what)
{
	char buf[64] = "";
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	zt_check(n == (ssize_t)strlen(want) && !memcmp(buf, want, n), "%s: got %zd bytes "
		 "'%.*s'%s, expected '%s'", what, n, n > 0 ? (int)n : 0, buf,
		 n < 0 ? strerror(errno) : "", want);
}

static int child(void *arg)
{
	char c;

	close(ST_ROOT);
	close(DG_ROOT);
	zt_task_ready();
	zt_wait();
	expect(ST_CHILD, msgs[0], "stream, queued at dump");
	expect(DG_CHILD, msgs[2], "first datagram");
	expect(DG_CHILD, msgs[3], "second datagram");
	zt_check(recv(ST_CHILD, &c, 1, 0) == 0, "no EOF once the root closed its end "
		 "(someone else holds it)");
	return zt_result();
}

static int pair(int type, int a, int b)
{
	int sv[2];

	if (socketpair(AF_UNIX, type, 0, sv) || dup2(sv[0], a) != a || dup2(sv[1], b) != b)
		return -1;
	return close(sv[0]) || close(sv[1]);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (pair(SOCK_STREAM, ST_ROOT, ST_CHILD) || pair(SOCK_DGRAM, DG_ROOT, DG_CHILD) ||
	    send(ST_ROOT, msgs[0], strlen(msgs[0]), 0) < 0 ||
	    send(ST_CHILD, msgs[1], strlen(msgs[1]), 0) < 0 ||
	    send(DG_ROOT, msgs[2], strlen(msgs[2]), 0) < 0 ||
	    send(DG_ROOT, msgs[3], strlen(msgs[3]), 0) < 0) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	close(ST_CHILD);
	close(DG_CHILD);
	zt_expose(msgs, sizeof(msgs));
	zt_ready();
	zt_wait();
	expect(ST_ROOT, msgs[1], "stream, queued for the root at dump");
	close(ST_ROOT);
	zt_collect();
	return zt_result();
}
