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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib.h"

#define NCONN 4
#define QUEUED 3000
#define LISTEN_FD 200

struct conn {
	int a, b;		/* the two ends: b is the accepted one */
	unsigned short port;	/* a's local port */
};

static struct conn c[NCONN];
static int lsk = -1, lsk2 = -1;	/* the server's listener; the second client's listener */
static unsigned short lport, lport2;

static struct sockaddr_in loopback(unsigned short port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return in;
}

static unsigned short port_of(int sk)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);

	return getsockname(sk, (struct sockaddr *)&in, &len) ? 0 : ntohs(in.sin_port);
}

static int reuseaddr(int sk)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &v, &len) ? -1 : v;
}

static int set_reuse(int sk, int v)
{
	return setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
}

static int listener(unsigned short *port)
{
	struct sockaddr_in in = loopback(0);
	int sk = socket(AF_INET, SOCK_STREAM, 0);

	if (sk < 0 || bind(sk, (struct sockaddr *)&in, sizeof(in)) || listen(sk, 8))
		return -1;
	*port = port_of(sk);
	return sk;
}

/* q: a client connected to port to, accepted on l; with reuse, bound to port first. */
static int connect_one(struct conn *q, int l, unsigned short to, bool reuse,
		       unsigned short port)
{
	struct sockaddr_in self = loopback(port), peer = loopback(to);

	q->a = socket(AF_INET, SOCK_STREAM, 0);
	if (q->a < 0 || (reuse && (set_reuse(q->a, 1) ||
				   bind(q->a, (struct sockaddr *)&self, sizeof(self)))))
		return -1;
	if (connect(q->a, (struct sockaddr *)&peer, sizeof(peer)))
		return -1;
	q->b = accept(l, NULL, NULL);
	q->port = port_of(q->a);
	return q->b < 0 ? -1 : 0;
}

static unsigned char pat(int i, int n, int dir)
{
	return (unsigned char)(i * 37 + n * 7 + dir * 101);
}

static int send_pat(int sk, int i, int dir)
{
	unsigned char buf[QUEUED];

	for (int n = 0; n < QUEUED; n++)
		buf[n] = pat(i, n, dir);
	return send(sk, buf, sizeof(buf), MSG_DONTWAIT) == sizeof(buf) ? 0 : -1;
}

/* QUEUED bytes of pattern (i, dir) from sk, waiting up to 5 s. */
static void check_pat(int sk, int i, int dir, const char *what)
{
	struct timeval tv = { .tv_sec = 5 };
	unsigned char buf[QUEUED];
	ssize_t got = 0, r = 1;
	int n;

	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < QUEUED && r > 0) {
		r = recv(sk, buf + got, sizeof(buf) - got, 0);
		got += r > 0 ? r : 0;
	}
	zt_check(got == QUEUED, "connection %d %s: %zd of %d bytes: %m", i, what, got, QUEUED);
	for (n = 0; n < got && buf[n] == pat(i, n, dir); n++)
		;
	zt_check(n == got, "connection %d %s: byte %d is wrong", i, what, n);
}

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
