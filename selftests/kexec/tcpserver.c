// SPDX-License-Identifier: MIT
/*
 * The kexec test's TCP server: listens on :PORT (default 7000; the file "listening" says
 * so), accepts one connection from the host (QEMU's slirp relays it) and streams both
 * ways: it sends "G<14-digit n>\n" every 20 ms and checks the peer's "H<n>\n" records
 * arrive in order with no gap or duplicate; the file "rx" holds how many it has received.
 * On SIGTERM it checks the stream still runs (a record from the peer in the last 5 s: the
 * driver waits for records after the restore before it asks), sends "E<last n>\n",
 * half-closes (FIN), drains the peer's rest until its FIN and says PASS or FAIL; a reset
 * or an early EOF is a failure. A broken socket is described in the log (TCP_INFO,
 * TCP_REPAIR, inode, our socket fds and /proc/net/tcp's entries for the port).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../zdtm/lib.h"

#define REC 16			/* "G" + 14 digits + "\n" */
#define TICK_MS 20
#define OUTBUF 4096
#define DRAIN_MS 10000
#define STALL_S 5		/* the peer sends every 20 ms: this long silent is a dead stream */

struct stream {
	int fd, rx_file, port;
	unsigned long tx, rx;	/* records sent, records received */
	char out[OUTBUF];	/* what the socket has not taken yet */
	size_t out_len;
	char in[REC];
	size_t in_len;
	double last_rx, pause;	/* wall clock: it goes on across the kexec */
	bool broken, ready;
};

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* After an error: the fds we hold and the kernel's TCP sockets on our port, for the log. */
static void list_sockets(int port)
{
	char path[300], target[128], line[256];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	FILE *f;
	ssize_t n;

	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0 && !strncmp(target, "socket:", 7)) {
			target[n] = 0;
			zt_msg("fd %s: %s", d->d_name, target);
		}
	}
	if (dir)
		closedir(dir);
	f = fopen("/proc/net/tcp", "re");
	snprintf(path, sizeof(path), ":%04X ", port);
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, path))
			zt_msg("/proc/net/tcp: %.*s", (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

/* After an error: what the socket says about itself, for the log. */
static void why_broken(int fd, int port)
{
	struct tcp_info ti = { 0 };
	socklen_t len = sizeof(ti);
	int err = 0, repair = -1;
	socklen_t elen = sizeof(err), rlen = sizeof(repair);
	struct sockaddr_in self = { 0 }, peer = { 0 };
	socklen_t slen = sizeof(self), plen = sizeof(peer);
	char a[INET_ADDRSTRLEN] = "?", b[INET_ADDRSTRLEN] = "?";
	struct stat st = { 0 };

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &repair, &rlen);
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
	fstat(fd, &st);
	if (!getsockname(fd, (struct sockaddr *)&self, &slen))
		inet_ntop(AF_INET, &self.sin_addr, a, sizeof(a));
	if (!getpeername(fd, (struct sockaddr *)&peer, &plen))
		inet_ntop(AF_INET, &peer.sin_addr, b, sizeof(b));
	zt_msg("socket (fd %d, inode %lu, %s:%d -> %s:%d): SO_ERROR %d (%s), TCP_REPAIR %d, "
	       "state %u, unacked %u, retransmits %u", fd, (unsigned long)st.st_ino, a,
	       ntohs(self.sin_port), b, ntohs(peer.sin_port), err, strerror(err), repair,
	       ti.tcpi_state, ti.tcpi_unacked, ti.tcpi_retransmits);
	list_sockets(port);
}

static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void queue_record(struct stream *s, char kind, unsigned long n)
{
	if (s->out_len + REC + 1 > sizeof(s->out)) {
		zt_fail("%zu bytes wait to be sent: the peer stopped reading", s->out_len);
		s->broken = true;
		return;
	}
	snprintf(s->out + s->out_len, REC + 1, "%c%014lu\n", kind, n);
	s->out_len += REC;
}

static void flush_out(struct stream *s)
{
	ssize_t w;

	while (s->out_len && !s->broken) {
		w = send(s->fd, s->out, s->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				zt_fail("send after %lu records: %m", s->tx);
				why_broken(s->fd, s->port);
				s->broken = true;
			}
			return;
		}
		memmove(s->out, s->out + w, s->out_len - w);
		s->out_len -= w;
	}
}

static void got_record(struct stream *s)
{
	unsigned long n;
	char *end;
	double t = wall();

	n = strtoul(s->in + 1, &end, 10);
	if (s->in[0] != 'H' || end != s->in + REC - 1 || *end != '\n') {
		zt_fail("record %lu from the peer is garbled: '%.15s'", s->rx + 1, s->in);
		s->broken = true;
		return;
	}
	if (n != s->rx + 1) {
		zt_fail("record %lu from the peer says %lu (%s)", s->rx + 1, n,
			n <= s->rx ? "a duplicate" : "a gap");
		s->broken = true;
		return;
	}
	if (s->rx && t - s->last_rx > s->pause)
		s->pause = t - s->last_rx;
	s->rx = n;
	s->last_rx = t;
	if (s->rx_file >= 0) {
		char text[32];
		int len = snprintf(text, sizeof(text), "%lu\n", n);

		if (pwrite(s->rx_file, text, len, 0) != len)
			zt_fail("pwrite rx: %m");
	}
}

/* Read what arrived: 0, or 1 at the peer's EOF, -1 on an error. */
static int pump_in(struct stream *s)
{
	char buf[1024];
	ssize_t r, i;

	r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (r == 0)
		return 1;
	for (i = 0; i < r && !s->broken; i++) {
		s->in[s->in_len++] = buf[i];
		if (s->in_len == REC) {
			got_record(s);
			s->in_len = 0;
		}
	}
	return 0;
}

static void run_stream(struct stream *s)
{
	long long last_tx = 0, now;
	struct pollfd p;
	int r;

	while (!zt_stop && !s->broken) {
		now = mono_ms();
		/* the monotonic clock starts again in the new kernel: a step back is a tick */
		if (now - last_tx >= TICK_MS || now < last_tx) {
			queue_record(s, 'G', ++s->tx);
			last_tx = now;
		}
		flush_out(s);
		if (s->tx && s->rx && !s->broken && !s->ready) {
			s->ready = true;
			zt_ready();
		}
		p = (struct pollfd){ .fd = s->fd, .events = POLLIN | (s->out_len ? POLLOUT : 0) };
		if (poll(&p, 1, TICK_MS / 2) < 0)
			continue;
		r = pump_in(s);
		if (r) {
			if (r > 0)
				zt_fail("the peer closed after %lu records (EOF)", s->rx);
			else
				zt_fail("recv after %lu records: %m", s->rx);
			why_broken(s->fd, s->port);
			s->broken = true;
		}
	}
}

/* The end: "E<n>", FIN, then read until the peer's FIN so that close() sends no reset. */
static void finish(struct stream *s)
{
	long long until = mono_ms() + DRAIN_MS;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	int r = 0;

	queue_record(s, 'E', s->tx);
	while (s->out_len && !s->broken && mono_ms() < until) {
		flush_out(s);
		if (s->out_len)
			poll(&(struct pollfd){ .fd = s->fd, .events = POLLOUT }, 1, 100);
	}
	if (s->broken)
		return;
	if (shutdown(s->fd, SHUT_WR)) {
		zt_fail("shutdown: %m");
		return;
	}
	s->in_len = 0;
	while (mono_ms() < until) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		r = pump_in(s);
		if (r)
			break;
	}
	if (r < 0)
		zt_fail("recv while closing: %m");
	else if (r == 0)
		zt_fail("no FIN from the peer %d s after ours", DRAIN_MS / 1000);
}

int main(int argc, char **argv)
{
	struct stream s = { .rx_file = -1 };
	int port = argc > 1 ? atoi(argv[1]) : 7000;
	int lfd, one = 1, fd;
	double trailing;

	zt_init(argc, argv);
	lfd = listen_on(port);
	if (lfd < 0) {
		zt_fail("cannot listen on :%d: %m", port);
		return zt_result();
	}
	fd = open("listening", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || close(fd)) {
		zt_fail("cannot create 'listening': %m");
		return zt_result();
	}
	zt_msg("listening on :%d", port);
	s.port = port;
	s.fd = accept(lfd, NULL, NULL);
	if (s.fd < 0) {
		zt_fail("accept: %m");
		return zt_result();
	}
	close(lfd);
	setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s.rx_file = open("rx", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (s.rx_file < 0)
		zt_fail("cannot create 'rx': %m");
	run_stream(&s);
	if (!zt_stop)
		zt_wait();	/* broken: the verdict waits for SIGTERM all the same */
	trailing = wall() - s.last_rx;
	zt_msg("sent %lu records, received %lu; longest pause between two received %.3f s, "
	       "none for the last %.3f s", s.tx, s.rx, s.pause, trailing);
	zt_check(s.rx > 0, "nothing received");
	zt_check(trailing < STALL_S, "the stream stopped: nothing from the peer for %.1f s", trailing);
	if (!s.broken)
		finish(&s);
	close(s.fd);
	return zt_result();
}
