// SPDX-License-Identifier: MIT
/*
 * --tcp-established in a tree: a TCP connection between the root (client end) and its
 * child (accepted end), over IPv4 and IPv6, with data queued unread both ways (600 KiB
 * root->child, so some of it unacknowledged or unsent). After restore the root reads
 * what the child had sent and sends more; the child reads everything the root sent, in
 * order, and answers; the root reads the answer: both ends in two processes carry data
 * again (the network lock of the tree is gone).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib.h"

#define AB_BYTES (600 << 10)
#define BA_BYTES 5000

struct pair {
	int cli, acc;
	size_t ab, ba;		/* bytes queued client->accepted, accepted->client */
};

static struct pair p[2];

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

static int child(void *arg)
{
	size_t more = 0;

	for (int i = 0; i < 2; i++)
		close(p[i].cli);
	zt_task_ready();
	zt_wait();
	for (int i = 0; i < 2; i++) {
		const char *v = i ? "v6" : "v4";
		char w[64];

		snprintf(w, sizeof(w), "%s root->child", v);
		read_pat(p[i].acc, AB_BYTES, 0, w);
		snprintf(w, sizeof(w), "%s root->child after restore", v);
		read_pat(p[i].acc, 3000, 2, w);
		more = 0;
		zt_check(!send_pat(p[i].acc, 3000, 3, &more) && more == 3000, "%s: answer: %m", v);
	}
	return zt_result();
}

int main(int argc, char **argv)
{
	size_t more;

	zt_init(argc, argv);
	if (make_pair(&p[0], AF_INET) || make_pair(&p[1], AF_INET6)) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	for (int i = 0; i < 2; i++)
		close(p[i].acc);
	zt_dump_option("--tcp-established");
	zt_expose(p, sizeof(p));
	zt_ready();
	zt_wait();
	for (int i = 0; i < 2; i++) {
		char w[64];

		snprintf(w, sizeof(w), "%s child->root", i ? "v6" : "v4");
		read_pat(p[i].cli, BA_BYTES, 1, w);
		more = 0;
		zt_check(!send_pat(p[i].cli, 3000, 2, &more) && more == 3000, "send after: %m");
	}
	zt_collect();
	for (int i = 0; i < 2; i++)
		read_pat(p[i].cli, 3000, 3, i ? "v6 the child's answer" : "v4 the child's answer");
	return zt_result();
}
