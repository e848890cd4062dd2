// SPDX-License-Identifier: MIT
/*
 * Established TCP connections to a peer outside the dumped process (--tcp-established):
 * the test forks a peer away (double fork: it is not in the dumped tree) that listens on
 * loopback v4 and v6. Over each, both sides stream a position-dependent byte pattern the
 * whole time, through dump and restore; each side checks every byte it receives, so a
 * gap, a duplicate or a reset fails. A third connection has 1 MiB sent by the test that
 * the peer does not read until after the restore (the send queue holds it, unacked).
 * After SIGTERM the test wants 256 KiB more each way, then half-closes; the peer checks
 * the totals and leaves its verdict in peer-<N>.result. Flavours dump and vdso-proxy only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define NR_CONN 3
#define BULK 2			/* the connection with 1 MiB unread */
#define BULK_BYTES ((1 << 20) + (64 << 10))	/* 1 MiB stays queued: the peer holds 32 KiB */
#define AFTER_BYTES (256 << 10)	/* wanted each way after SIGTERM */
#define CHUNK 8192

struct conn {
	int fd;
	uint64_t tx, rx;	/* stream positions */
	bool eof, shut;
};

static struct conn c[NR_CONN];
static const int families[NR_CONN] = { AF_INET, AF_INET6, AF_INET };

static unsigned char pat(uint64_t i, int dir)
{
	return (unsigned char)(i ^ (i >> 8) * 31 ^ (i >> 16) * 7 ^ dir * 0x5a);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * At most PUMP_MAX bytes a call each way: on loopback one side can keep the other's
 * queue full for ever, and an unbounded loop would then never turn to the other
 * direction (seen: the peer reading 9 GB and sending nothing for 30 s).
 */
#define PUMP_MAX (1 << 20)

/* Send what the socket takes, at most limit bytes in all; -1 on an error. */
static int pump_tx(struct conn *k, int dir, uint64_t limit)
{
	unsigned char buf[CHUNK];
	uint64_t start = k->tx;
	size_t n, i;
	ssize_t w;

	while (k->tx < limit && k->tx - start < PUMP_MAX) {
		n = limit - k->tx < CHUNK ? limit - k->tx : CHUNK;
		for (i = 0; i < n; i++)
			buf[i] = pat(k->tx + i, dir);
		w = send(k->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		k->tx += w;
	}
	return 0;
}

/* Read and check what arrived; -1 on an error or a wrong byte. */
static int pump_rx(struct conn *k, int dir, char *why, size_t why_len)
{
	unsigned char buf[CHUNK];
	uint64_t start = k->rx;
	ssize_t r, i;

	while (k->rx - start < PUMP_MAX) {
		r = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0) {
			k->eof = true;
			return 0;
		}
		if (r < 0) {
			if (errno == EAGAIN)
				return 0;
			snprintf(why, why_len, "recv at byte %llu: %s", (unsigned long long)k->rx,
				 strerror(errno));
			return -1;
		}
		for (i = 0; i < r; i++)
			if (buf[i] != pat(k->rx + i, dir)) {
				snprintf(why, why_len, "byte %llu is wrong: a gap or a duplicate",
					 (unsigned long long)(k->rx + i));
				return -1;
			}
		k->rx += r;
	}
	return 0;
}

/* ---- the peer, outside the dumped process ---- */

static void peer_verdict(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_verdict(int n, const char *fmt, ...)
{
	char path[32], tmp[40];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "peer-%d.result", n);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	rename(tmp, path);
}

static void peer_loop(int lfd[NR_CONN])
{
	struct conn p[NR_CONN] = { 0 };
	char why[160];
	bool done[NR_CONN] = { false };
	long long idle_until = now_ms() + 120000, last[NR_CONN], gap[NR_CONN] = { 0 };
	int i, left = NR_CONN, small = 32 << 10;

	for (i = 0; i < NR_CONN; i++) {
		p[i].fd = accept(lfd[i], NULL, NULL);
		if (p[i].fd < 0)
			_exit(1);
	}
	setsockopt(p[BULK].fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (i = 0; i < NR_CONN; i++)
		last[i] = now_ms();
	while (left && now_ms() < idle_until) {
		struct pollfd pf[NR_CONN];

		for (i = 0; i < NR_CONN; i++)
			pf[i] = (struct pollfd){ done[i] ? -1 : p[i].fd, POLLIN | POLLOUT, 0 };
		poll(pf, NR_CONN, 20);
		for (i = 0; i < NR_CONN; i++) {
			if (done[i])
				continue;
			if (i == BULK && access("peer-drain", F_OK))
				continue; /* not reading: the test's send queue fills */
			uint64_t rx0 = p[i].rx;

			if (pump_rx(&p[i], 0, why, sizeof(why)) ||
			    (i != BULK && !p[i].eof && pump_tx(&p[i], 1, ~0ULL))) {
				peer_verdict(i, "FAIL %s", why[0] ? why : strerror(errno));
				done[i] = true, left--;
			} else if (p[i].eof) {
				peer_verdict(i, "OK rx %llu tx %llu pause %lld ms",
					     (unsigned long long)p[i].rx,
					     (unsigned long long)p[i].tx, gap[i]);
				shutdown(p[i].fd, SHUT_WR);
				done[i] = true, left--;
			}
			if (p[i].rx != rx0) { /* the longest time without a byte from the test */
				if (now_ms() - last[i] > gap[i])
					gap[i] = now_ms() - last[i];
				last[i] = now_ms();
			}
		}
	}
	for (i = 0; i < NR_CONN; i++)
		if (!done[i])
			peer_verdict(i, "FAIL timed out at rx %llu", (unsigned long long)p[i].rx);
	_exit(0);
}

static int listen_on(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM, 0);

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	*len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *len) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)ss, len))
		return -1;
	return fd;
}

/* Fork the peer away (double fork) and connect to it. */
static int start_peer(void)
{
	struct sockaddr_storage ss[NR_CONN];
	socklen_t len[NR_CONN];
	int lfd[NR_CONN], i, status;
	pid_t pid;

	for (i = 0; i < NR_CONN; i++) {
		lfd[i] = listen_on(families[i], &ss[i], &len[i]);
		if (lfd[i] < 0)
			return -1;
	}
	pid = fork();
	if (pid == 0) {
		setsid(); /* our PID is our session's and group's: the peer must not hold it */
		if (fork() == 0)
			peer_loop(lfd);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	for (i = 0; i < NR_CONN; i++) {
		c[i].fd = socket(families[i], SOCK_STREAM, 0);
		if (c[i].fd < 0 || connect(c[i].fd, (struct sockaddr *)&ss[i], len[i]))
			return -1;
		close(lfd[i]);
	}
	return 0;
}

/* The bulk connection: 1 MiB into a send buffer big enough, the peer not reading. */
static int fill_bulk(void)
{
	int big = 4 << 20;

	if (setsockopt(c[BULK].fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		return -1;
	for (int k = 0; k < 500 && c[BULK].tx < BULK_BYTES; k++) {
		if (pump_tx(&c[BULK], 0, BULK_BYTES))
			return -1;
		usleep(2000);
	}
	return c[BULK].tx == BULK_BYTES ? 0 : -1;
}

static int stream(uint64_t want_rx[NR_CONN], long long deadline)
{
	char why[160] = "";
	int i, left;

	do {
		struct pollfd pf[NR_CONN];

		left = 0;
		for (i = 0; i < NR_CONN; i++)
			pf[i] = (struct pollfd){ c[i].fd, POLLIN | POLLOUT, 0 };
		poll(pf, NR_CONN, 50);
		for (i = 0; i < NR_CONN; i++) {
			if (i != BULK && !c[i].shut && pump_tx(&c[i], 0, ~0ULL)) {
				zt_fail("connection %d: send at byte %llu: %m", i,
					(unsigned long long)c[i].tx);
				return -1;
			}
			if (i != BULK && pump_rx(&c[i], 1, why, sizeof(why))) {
				zt_fail("connection %d: %s", i, why);
				return -1;
			}
			if (want_rx && i != BULK && c[i].rx < want_rx[i])
				left++;
		}
	} while (want_rx ? left && now_ms() < deadline : !zt_stop);
	return 0;
}

static void check_verdicts(void)
{
	long long deadline = now_ms() + 20000;
	char path[32], *text;
	int i;

	for (i = 0; i < NR_CONN; i++) {
		FILE *f;
		char buf[200] = "";

		snprintf(path, sizeof(path), "peer-%d.result", i);
		while (access(path, F_OK) && now_ms() < deadline)
			usleep(10000);
		f = fopen(path, "r");
		text = f ? fgets(buf, sizeof(buf), f) : NULL;
		if (f)
			fclose(f);
		unsigned long long rx = 0;

		zt_check(text && sscanf(text, "OK rx %llu", &rx) == 1 && rx == c[i].tx,
			 "peer on connection %d: %s (we sent %llu)", i, text ? text : "no verdict",
			 (unsigned long long)c[i].tx);
		if (text && i != BULK && strstr(text, "pause "))
			zt_msg("connection %d (%s): the peer's longest pause %s", i,
			       families[i] == AF_INET ? "v4" : "v6", strstr(text, "pause ") + 6);
	}
}

static void finish(void)
{
	uint64_t want[NR_CONN];
	int i;

	for (i = 0; i < NR_CONN; i++)
		want[i] = c[i].rx + AFTER_BYTES;
	if (stream(want, now_ms() + 30000))
		return;
	for (i = 0; i < NR_CONN; i++)
		zt_check(i == BULK || c[i].rx >= want[i],
			 "connection %d: only %llu of %llu bytes after the restore", i,
			 (unsigned long long)c[i].rx, (unsigned long long)want[i]);
	close(open("peer-drain", O_CREAT | O_WRONLY, 0644));
	for (i = 0; i < NR_CONN; i++) {
		shutdown(c[i].fd, SHUT_WR);
		c[i].shut = true;
	}
	check_verdicts();
	for (i = 0; i < NR_CONN; i++)
		zt_check(i == BULK || !pump_rx(&c[i], 1, (char[8]){ 0 }, 8),
			 "connection %d: the tail of the stream is wrong", i);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	unlink("peer-drain");
	if (start_peer() || fill_bulk()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_dump_option("--tcp-established");
	zt_only_flavours("dump,vdso-proxy,selfcheck,corrupt");
	zt_expose(c, sizeof(c));
	zt_ready();
	if (!stream(NULL, 0))
		finish();
	return zt_result();
}
