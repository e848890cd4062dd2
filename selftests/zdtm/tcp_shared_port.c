// SPDX-License-Identifier: MIT
/*
 * --tcp-established with connections that share a local port, as every server's do: a
 * listener without SO_REUSEADDR, still listening, with two accepted connections (their
 * port is the listener's), and two clients bound to one port with SO_REUSEADDR, each
 * connected to its own listener (one then clears SO_REUSEADDR). The listener's fd is the
 * highest, so it is bound again after the connections on its port. After restore: the
 * ports and each socket's SO_REUSEADDR are as they were, every connection delivers what
 * was queued and carries new data both ways, and the listener takes a new connection.
 */
#include <unistd.h>

#include "lib.h"
#include "tcp-port-lib.h"

#define NCONN 4
#define LISTEN_FD 200

static struct conn c[NCONN];
static int lsk = -1, lsk2 = -1;	/* the server's listener; the second client's listener */
static unsigned short lport, lport2;

static int setup(void)
{
	int fd;

	lsk = listener(&lport);
	lsk2 = listener(&lport2);
	if (lsk < 0 || lsk2 < 0)
		return -1;
	/* two accepted from the server's listener; two clients on one port of their own */
	if (connect_one(&c[0], lsk, lport, false, 0) || connect_one(&c[1], lsk, lport, false, 0) ||
	    connect_one(&c[2], lsk, lport, true, 0) ||
	    connect_one(&c[3], lsk2, lport2, true, c[2].port) || set_reuse(c[2].a, 0))
		return -1;
	fd = dup2(lsk, LISTEN_FD);
	if (fd < 0)
		return -1;
	close(lsk);
	lsk = fd;
	for (int i = 0; i < NCONN; i++)
		if (send_pat(c[i].a, i, 0) || send_pat(c[i].b, i, 1))
			return -1;
	return 0;
}

static void check_conn(int i, int want_reuse)
{
	check_pat(c[i].b, i, 0, "queued a->b");
	check_pat(c[i].a, i, 1, "queued b->a");
	zt_check(!send_pat(c[i].a, i + 10, 0), "connection %d: send a->b after: %m", i);
	zt_check(!send_pat(c[i].b, i + 10, 1), "connection %d: send b->a after: %m", i);
	check_pat(c[i].b, i + 10, 0, "new a->b");
	check_pat(c[i].a, i + 10, 1, "new b->a");
	zt_check(port_of(c[i].a) == c[i].port, "connection %d: local port %u, not %u", i,
		 port_of(c[i].a), c[i].port);
	zt_check(port_of(c[i].b) == (i == 3 ? lport2 : lport),
		 "connection %d: the accepted end is on port %u", i, port_of(c[i].b));
	zt_check(reuseaddr(c[i].a) == want_reuse, "connection %d: SO_REUSEADDR %d, not %d", i,
		 reuseaddr(c[i].a), want_reuse);
	zt_check(reuseaddr(c[i].b) == 0, "connection %d: the accepted end has SO_REUSEADDR %d",
		 i, reuseaddr(c[i].b));
}

/* The restored listener still takes connections on its port. */
static void check_listener(void)
{
	struct conn q = { -1, -1, 0 };

	zt_check(port_of(lsk) == lport, "listener on port %u, not %u", port_of(lsk), lport);
	zt_check(reuseaddr(lsk) == 0, "listener has SO_REUSEADDR %d", reuseaddr(lsk));
	zt_check(!connect_one(&q, lsk, lport, false, 0), "a new connection to the listener: %m");
	zt_check(q.b < 0 || !send_pat(q.b, 9, 1), "send on the new connection: %m");
	if (q.b >= 0)
		check_pat(q.a, 9, 1, "new connection");
	close(q.a);
	close(q.b);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_check(c[2].port == c[3].port, "the clients' shared port: %u and %u", c[2].port,
		 c[3].port);
	zt_dump_option("--tcp-established");
	zt_expose(c, sizeof(c));
	zt_ready();
	zt_wait();
	for (int i = 0; i < NCONN; i++)
		check_conn(i, i == 3);
	check_listener();
	return zt_result();
}
