/* SPDX-License-Identifier: MIT */
/*
 * Half-closed TCP connections over loopback, for tcp_half_closed and tree_tcp_half_closed.
 * Four kinds of pairs (client, accepted end), each with data queued unread both ways:
 *   FW2_CW  client shut its side: client FIN_WAIT2, accepted CLOSE_WAIT
 *   FW1     client shut its side behind 256 KiB the accepted end (small receive buffer)
 *           cannot take yet: client FIN_WAIT1 (its FIN unsent), accepted ESTABLISHED
 *   LA      FW2_CW, then the accepted end shut its side behind 256 KiB the client
 *           cannot take: accepted LAST_ACK, client FIN_WAIT2
 *   CL      FW1, then the accepted end shut its side: its FIN reached the client,
 *           client CLOSING, accepted FIN_WAIT2
 * After restore, per socket: the state is the one it had (read from TCP_INFO before
 * anything moves it); a side that has not sent its FIN sends 3000 more bytes and shuts
 * its side, one that has gets EPIPE on write; each side reads exactly its queued bytes
 * (and the peer's new bytes), then EOF; no read sees ECONNRESET; finally both ends are
 * CLOSE with no socket error (the closing handshake went through, no reset).
 */
#ifndef ZT_TCP_HC_LIB_H
#define ZT_TCP_HC_LIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define HC_SMALL 5000		/* a small queue */
#define HC_JAM (256 << 10)	/* a queue that fills the receiver's 16 KiB buffer */
#define HC_MORE 3000		/* sent after restore by a side still open */

enum hc_kind { HC_FW2_CW, HC_FW1, HC_LA, HC_CL, HC_NKINDS };

struct hc_pair {
	int fd[2];		/* 0 client, 1 accepted end */
	unsigned int st[2];	/* TCP state before the dump */
	size_t q[2];		/* bytes queued for fd[i] to read */
	int dir;		/* pattern base of this pair */
};

static const char *const hc_names[] = { "fw2/close_wait", "fin_wait1", "last_ack", "closing" };

static unsigned char hc_pat(size_t i, int dir)
{
	return (unsigned char)(i * 13 + (i >> 9) + dir * 101);
}

static unsigned int hc_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) ? 0xff : ti.tcpi_state;
}

static int hc_wait_state(int fd, unsigned int want)
{
	struct timespec ms = { 0, 1000000 };

	/* no waiting on a bad fd or once a check failed (a damaged test must end fast) */
	for (int n = 0; n < 5000 && hc_state(fd) != want && hc_state(fd) != 0xff && !zt_failed();
	     n++)
		nanosleep(&ms, NULL);
	return hc_state(fd) == want ? 0 : -1;
}

/* Send n bytes of pattern dir (retrying on a full buffer for up to ~4 s). */
static int hc_send(int fd, size_t n, int dir)
{
	unsigned char buf[4096];
	size_t sent = 0;
	int idle = 0;
	ssize_t w;

	while (sent < n && idle < 2000) {
		size_t k = n - sent < sizeof(buf) ? n - sent : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = hc_pat(sent + i, dir);
		w = send(fd, buf, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			usleep(2000);
			idle++;
			continue;
		}
		if (w < 0)
			return -1;
		sent += w;
	}
	return sent == n ? 0 : -1;
}

static int hc_connect(struct hc_pair *p, int family, int rcv_cli, int rcv_acc)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int l = socket(family, SOCK_STREAM, 0), big = 2 << 20;

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	p->fd[0] = socket(family, SOCK_STREAM, 0);
	if (l < 0 || p->fd[0] < 0)
		return -1;
	if (rcv_acc)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcv_acc, sizeof(rcv_acc));
	if (rcv_cli)
		setsockopt(p->fd[0], SOL_SOCKET, SO_RCVBUF, &rcv_cli, sizeof(rcv_cli));
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&ss, &len) ||
	    connect(p->fd[0], (struct sockaddr *)&ss, len))
		return -1;
	p->fd[1] = accept(l, NULL, NULL);
	close(l);
	setsockopt(p->fd[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	if (p->fd[1] >= 0)
		setsockopt(p->fd[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	return p->fd[1] < 0 ? -1 : 0;
}

/* Queue q bytes from fd[from] to fd[!from]. */
static int hc_queue(struct hc_pair *p, int from, size_t q)
{
	p->q[!from] = q;
	return hc_send(p->fd[from], q, p->dir + !from);
}

static int hc_make(struct hc_pair *p, enum hc_kind k, int family, int dir)
{
	int small = 16384, ret;

	memset(p, 0, sizeof(*p));
	p->dir = dir;
	ret = hc_connect(p, family, k == HC_LA ? small : 0, k == HC_FW1 || k == HC_CL ? small : 0);
	if (ret)
		return ret;
	if (k == HC_FW2_CW)
		ret = hc_queue(p, 1, HC_SMALL);
	if (!ret && (k == HC_FW2_CW || k == HC_LA))
		ret = hc_queue(p, 0, HC_SMALL + 2000) ?: shutdown(p->fd[0], SHUT_WR) ?:
		      hc_wait_state(p->fd[1], TCP_CLOSE_WAIT);
	if (!ret && k == HC_LA)
		ret = hc_queue(p, 1, HC_JAM) ?: shutdown(p->fd[1], SHUT_WR);
	if (!ret && (k == HC_FW1 || k == HC_CL))
		ret = hc_queue(p, 0, HC_JAM) ?: shutdown(p->fd[0], SHUT_WR) ?:
		      hc_queue(p, 1, HC_SMALL);
	if (!ret && k == HC_CL)
		ret = shutdown(p->fd[1], SHUT_WR) ?: hc_wait_state(p->fd[0], TCP_CLOSING);
	return ret;
}

static bool hc_fin_sent(unsigned int st)
{
	return st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2 || st == TCP_CLOSING ||
	       st == TCP_LAST_ACK;
}

/* The states each kind must be in before the dump (a setup check). */
static int hc_setup_ok(struct hc_pair *p, enum hc_kind k)
{
	static const unsigned int want[HC_NKINDS][2] = {
		[HC_FW2_CW] = { TCP_FIN_WAIT2, TCP_CLOSE_WAIT },
		[HC_FW1] = { TCP_FIN_WAIT1, TCP_ESTABLISHED },
		[HC_LA] = { TCP_FIN_WAIT2, TCP_LAST_ACK },
		[HC_CL] = { TCP_CLOSING, TCP_FIN_WAIT2 },
	};

	/* the last (delayed) ACKs land; then the states are final until someone reads */
	hc_wait_state(p->fd[0], want[k][0]);
	hc_wait_state(p->fd[1], want[k][1]);
	p->st[0] = hc_state(p->fd[0]);
	p->st[1] = hc_state(p->fd[1]);
	if (p->st[0] == want[k][0] && p->st[1] == want[k][1])
		return 0;
	zt_fail("setup %s: states %u/%u, not %u/%u", hc_names[k], p->st[0], p->st[1],
		want[k][0], want[k][1]);
	return -1;
}

/* First, before either side acts: the state as saved. */
static void hc_check_state(struct hc_pair *p, int i, const char *what)
{
	unsigned int st = hc_state(p->fd[i]);

	zt_check(st == p->st[i], "%s side %d: state %u after restore, was %u", what, i, st,
		 p->st[i]);
}

/* Phase 1 for side i: write more and shut, or EPIPE if already shut. */
static void hc_check_open(struct hc_pair *p, int i, const char *what)
{
	if (hc_fin_sent(p->st[i])) {
		ssize_t w = send(p->fd[i], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);

		zt_check(w < 0 && errno == EPIPE, "%s side %d: write after our FIN: %zd %m", what,
			 i, w);
		return;
	}
	zt_check(!hc_send(p->fd[i], HC_MORE, p->dir + 2 + !i) && !shutdown(p->fd[i], SHUT_WR),
		 "%s side %d: send after restore: %m", what, i);
}

/* Read n bytes of pattern dir, all right; 0 or -1. */
static int hc_read(int fd, size_t n, int dir, const char *what, int i)
{
	unsigned char buf[4096];
	size_t got = 0;
	int idle = 0;
	ssize_t r;

	while (got < n && idle < (zt_failed() ? 20 : 500)) {
		r = recv(fd, buf, sizeof(buf) < n - got ? sizeof(buf) : n - got, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 10);
			idle++;
			continue;
		}
		if (r <= 0) {
			zt_fail("%s side %d: recv at byte %zu of %zu: %zd %m", what, i, got, n, r);
			return -1;
		}
		for (ssize_t j = 0; j < r; j++)
			if (buf[j] != hc_pat(got + j, dir)) {
				zt_fail("%s side %d: byte %zu is wrong", what, i, got + j);
				return -1;
			}
		got += r;
	}
	zt_check(got == n, "%s side %d: %zu of %zu bytes", what, i, got, n);
	return got == n ? 0 : -1;
}

/* Phase 2 for side i: the queue, the peer's new bytes if it was open, then EOF. */
static void hc_check_read(struct hc_pair *p, int i, const char *what)
{
	int fd = p->fd[i], idle = 0;
	char c;
	ssize_t r;

	if (hc_read(fd, p->q[i], p->dir + i, what, i))
		return;
	if (!hc_fin_sent(p->st[!i]) && hc_read(fd, HC_MORE, p->dir + 2 + i, what, i))
		return;
	while ((r = recv(fd, &c, 1, MSG_DONTWAIT)) < 0 && errno == EAGAIN && idle++ < 500)
		poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 10);
	zt_check(r == 0, "%s side %d: no EOF after the data: %zd %m", what, i, r);
}

/* Phase 3 for side i: the connection ends in CLOSE, without a reset. */
static void hc_check_closed(struct hc_pair *p, int i, const char *what)
{
	socklen_t len = sizeof(int);
	int err = -1;

	hc_wait_state(p->fd[i], TCP_CLOSE);
	getsockopt(p->fd[i], SOL_SOCKET, SO_ERROR, &err, &len);
	zt_check(hc_state(p->fd[i]) == TCP_CLOSE && err == 0,
		 "%s side %d: state %u, socket error %d at the end", what, i,
		 hc_state(p->fd[i]), err);
}

/* The checks over the ends of side i of pairs p[2][HC_NKINDS]: phase 0 the states only. */
static void hc_check_side(struct hc_pair (*p)[HC_NKINDS], int i, int from, int to)
{
	char what[64];

	for (int phase = from; phase <= to; phase++)
		for (int f = 0; f < 2; f++)
			for (int k = 0; k < HC_NKINDS; k++) {
				snprintf(what, sizeof(what), "%s %s", f ? "v6" : "v4", hc_names[k]);
				if (phase == 0)
					hc_check_state(&p[f][k], i, what);
				else if (phase == 1)
					hc_check_open(&p[f][k], i, what);
				else if (phase == 2)
					hc_check_read(&p[f][k], i, what);
				else
					hc_check_closed(&p[f][k], i, what);
			}
}

/* Wait for a file another task creates. */
static inline void hc_wait_file(const char *path, int seconds)
{
	for (int n = 0; n < seconds * 100 && access(path, F_OK); n++)
		usleep(10000);
}

static inline void hc_touch(const char *path)
{
	close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
}

#endif
