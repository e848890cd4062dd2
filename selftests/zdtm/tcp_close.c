// SPDX-License-Identifier: MIT
/*
 * --tcp-close: a TCP connection of the process to itself (client and accepted end, with
 * data queued) is dumped closed; after restore both ends are unconnected TCP sockets
 * (reads fail with ENOTCONN, TCP_INFO says CLOSE) and the listener still accepts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib.h"

static int lfd, cli, acc;
static struct sockaddr_in addr;

static int setup(void)
{
	socklen_t len = sizeof(addr);

	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 2) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) ||
	    connect(cli, (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	acc = accept(lfd, NULL, NULL);
	return acc < 0 || send(cli, "queued", 6, 0) != 6 ? -1 : 0;
}

static void check_closed(int fd, const char *what)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char buf[8];
	ssize_t r;

	r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	zt_check(r < 0 && errno == ENOTCONN, "%s: recv gives %zd (%m), want ENOTCONN", what, r);
	zt_check(!getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) && ti.tcpi_state == TCP_CLOSE,
		 "%s: state %u, want CLOSE", what, ti.tcpi_state);
}

int main(int argc, char **argv)
{
	int c, a;

	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_dump_option("--tcp-close");
	zt_only_flavours("dump,leave-running,restore-twice,vdso-proxy"); /* selfcheck: still connected */
	zt_ready();
	zt_wait();
	check_closed(cli, "client");
	check_closed(acc, "accepted");
	c = socket(AF_INET, SOCK_STREAM, 0);
	zt_check(!connect(c, (struct sockaddr *)&addr, sizeof(addr)), "listener gone: %m");
	a = accept(lfd, NULL, NULL);
	zt_check(a >= 0, "nothing to accept: %m");
	return zt_result();
}
