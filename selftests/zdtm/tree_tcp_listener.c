// SPDX-License-Identifier: MIT
/*
 * --tcp-established in a pre-forking server's shape: the root listens (without
 * SO_REUSEADDR) and keeps the client ends; each of its two children shares the listener
 * and has accepted one connection on it, a socket of its own on the listener's port. The
 * tasks restore at once, so a child's connection may come back before the listener is
 * bound again on the port it shares. After restore each child reads what the root had
 * queued and answers, the root reads what the child had queued and the answer, and the
 * listener takes a new connection.
 */
#include <poll.h>
#include <unistd.h>

#include "lib.h"
#include "tcp-port-lib.h"

#define NCHILD 2
#define LISTEN_FD 200

static struct conn c[NCHILD] = { { -1, -1, 0 }, { -1, -1, 0 } };
static int lsk = -1;
static unsigned short lport;

static int child(void *arg)
{
	int i = (int)(long)arg;

	c[i].b = accept(lsk, NULL, NULL);
	if (c[i].b < 0 || send_pat(c[i].b, i, 1)) {
		zt_fail("child %d: accept and send: %m", i);
		return zt_result();
	}
	for (int k = 0; k < NCHILD; k++)
		if (c[k].a >= 0)
			close(c[k].a);
	zt_task_ready();
	zt_wait();
	check_pat(c[i].b, i, 0, "queued root->child");
	zt_check(!send_pat(c[i].b, i + 10, 1), "child %d: answer: %m", i);
	zt_check(port_of(c[i].b) == lport, "child %d: port %u, not %u", i, port_of(c[i].b), lport);
	return zt_result();
}

/* The listener at a high fd; then for each child, a connection that it alone accepts. */
static int setup(void)
{
	struct sockaddr_in to;
	int fd;

	lsk = listener(&lport);
	fd = lsk < 0 ? -1 : dup2(lsk, LISTEN_FD);
	if (fd < 0)
		return -1;
	close(lsk);
	lsk = fd;
	to = loopback(lport);
	for (long i = 0; i < NCHILD; i++) {
		zt_fork(child, (void *)i);
		c[i].a = socket(AF_INET, SOCK_STREAM, 0);
		if (c[i].a < 0 || connect(c[i].a, (struct sockaddr *)&to, sizeof(to)) ||
		    send_pat(c[i].a, i, 0))
			return -1;
		for (int n = 0; n < 5000 && poll(&(struct pollfd){ lsk, POLLIN, 0 }, 1, 0) > 0; n++)
			usleep(1000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct conn q = { -1, -1, 0 };

	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_dump_option("--tcp-established");
	zt_expose(c, sizeof(c));
	zt_ready();
	zt_wait();
	for (int i = 0; i < NCHILD; i++)
		check_pat(c[i].a, i, 1, "queued child->root");
	zt_collect();
	for (int i = 0; i < NCHILD; i++)
		check_pat(c[i].a, i + 10, 1, "the child's answer");
	zt_check(port_of(lsk) == lport, "listener on port %u, not %u", port_of(lsk), lport);
	zt_check(reuseaddr(lsk) == 0, "listener has SO_REUSEADDR %d", reuseaddr(lsk));
	zt_check(!connect_one(&q, lsk, lport, false, 0), "a new connection to the listener: %m");
	close(q.a);
	close(q.b);
	return zt_result();
}
