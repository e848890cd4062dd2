/* SPDX-License-Identifier: MIT */
/*
 * What the loopback TCP tests share (tcp_self, tree_tcp): a connected pair over IPv4 or
 * IPv6 with a patterned stream queued unread both ways (AB_BYTES client->accepted, more
 * than a window's worth, and BA_BYTES back), and the reader that checks a pattern.
 * Include after lib.h; the functions are static, for one test program each.
 */
#ifndef ZT_TCP_LIB_H
#define ZT_TCP_LIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define AB_BYTES (600 << 10)
#define BA_BYTES 5000

struct pair {
	int cli, acc;
	size_t ab, ba;		/* bytes queued client->accepted, accepted->client */
};


static unsigned char pat(size_t i, int dir)
{
	return (unsigned char)(i * 13 + (i >> 9) + dir * 101);
}

static int send_pat(int fd, size_t n, int dir, size_t *sent)
{
	unsigned char buf[4096];
	ssize_t w;

	while (*sent < n) {
		size_t k = n - *sent < sizeof(buf) ? n - *sent : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(*sent + i, dir);
		w = send(fd, buf, k, MSG_DONTWAIT);
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w < 0)
			return -1;
		*sent += w;
	}
	return 0;
}

static int make_pair(struct pair *q, int family)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int l = socket(family, SOCK_STREAM, 0), big = 2 << 20;

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	q->cli = socket(family, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&ss, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&ss, &len) ||
	    connect(q->cli, (struct sockaddr *)&ss, len))
		return -1;
	q->acc = accept(l, NULL, NULL);
	close(l);
	setsockopt(q->cli, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	for (int k = 0; k < 200 && q->ab < AB_BYTES; k++) {
		if (send_pat(q->cli, AB_BYTES, 0, &q->ab))
			return -1;
		usleep(2000);
	}
	return q->acc < 0 || q->ab != AB_BYTES || send_pat(q->acc, BA_BYTES, 1, &q->ba) ||
	       q->ba != BA_BYTES ? -1 : 0;
}

/* Read n bytes of pattern dir from fd (non-blocking, up to ~5 s); 0 if all are right. */
static int read_pat(int fd, size_t n, int dir, const char *what)
{
	unsigned char buf[4096];
	size_t got = 0;
	int idle = 0;
	ssize_t r;

	while (got < n && idle < 500) {
		r = recv(fd, buf, sizeof(buf) < n - got ? sizeof(buf) : n - got, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 10);
			idle++;
			continue;
		}
		if (r <= 0) {
			zt_fail("%s: recv at byte %zu: %zd %m", what, got, r);
			return -1;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pat(got + i, dir)) {
				zt_fail("%s: byte %zu is wrong", what, got + i);
				return -1;
			}
		got += r;
	}
	zt_check(got == n, "%s: %zu of %zu bytes", what, got, n);
	return got == n ? 0 : -1;
}

#endif
