/* SPDX-License-Identifier: MIT */
/*
 * What the tests of TCP ports shared by several sockets use (tcp_shared_port,
 * tree_tcp_listener): IPv4 loopback connections to a listener, a short pattern queued on
 * them, its reader (blocking, up to 5 s), and the sockets' ports and SO_REUSEADDR.
 * Include after lib.h.
 */
#ifndef ZT_TCP_PORT_LIB_H
#define ZT_TCP_PORT_LIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define QUEUED 3000

struct conn {
	int a, b;		/* the two ends: b is the accepted one */
	unsigned short port;	/* a's local port */
};

static inline struct sockaddr_in loopback(unsigned short port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return in;
}

static inline unsigned short port_of(int sk)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);

	return getsockname(sk, (struct sockaddr *)&in, &len) ? 0 : ntohs(in.sin_port);
}

static inline int reuseaddr(int sk)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &v, &len) ? -1 : v;
}

static inline int set_reuse(int sk, int v)
{
	return setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
}

static inline int listener(unsigned short *port)
{
	struct sockaddr_in in = loopback(0);
	int sk = socket(AF_INET, SOCK_STREAM, 0);

	if (sk < 0 || bind(sk, (struct sockaddr *)&in, sizeof(in)) || listen(sk, 8))
		return -1;
	*port = port_of(sk);
	return sk;
}

/* q: a client connected to port to, accepted on l; with reuse, bound to port first. */
static inline int connect_one(struct conn *q, int l, unsigned short to, bool reuse,
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

static inline unsigned char pat(int i, int n, int dir)
{
	return (unsigned char)(i * 37 + n * 7 + dir * 101);
}

static inline int send_pat(int sk, int i, int dir)
{
	unsigned char buf[QUEUED];

	for (int n = 0; n < QUEUED; n++)
		buf[n] = pat(i, n, dir);
	return send(sk, buf, sizeof(buf), MSG_DONTWAIT) == sizeof(buf) ? 0 : -1;
}

/* QUEUED bytes of pattern (i, dir) from sk, waiting up to 5 s. */
static inline void check_pat(int sk, int i, int dir, const char *what)
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

#endif
