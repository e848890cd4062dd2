// SPDX-License-Identifier: MIT
/*
 * IPv4/IPv6 sockets of one process, and their options: a UDP v4 socket bound to an
 * ephemeral loopback port with datagrams queued from our own connected UDP client, a
 * UDP v6 pair connected to each other with datagrams queued both ways, TCP listeners
 * (v4 with SO_REUSEADDR, v6 with IPV6_V6ONLY) that must accept a new connection after
 * restore on the same port, a bound TCP socket that never listened, and a set of socket
 * options (keepalive and its TCP settings, buffers, linger, priority, mark, nodelay, tos,
 * ttl, reuseport, bound device, O_NONBLOCK) read back after restore.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib.h"

enum { U4_SRV, U4_CLI, U6_A, U6_B, T4_LISTEN, T6_LISTEN, T4_BOUND, NR_SK };

static int sk[NR_SK];
static struct sockaddr_storage names[NR_SK];
static const char *const dgrams[] = { "udp one", "second datagram", "3" };

struct opt {
	int sk, level, name, val;
	const char *what;
};

/* Options set on the v4 listener (and some on others), read back after restore. */
static struct opt opts[] = {
	{ T4_LISTEN, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE" },
	{ T4_LISTEN, SOL_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE" },
	{ T4_LISTEN, SOL_TCP, TCP_KEEPINTVL, 13, "TCP_KEEPINTVL" },
	{ T4_LISTEN, SOL_TCP, TCP_KEEPCNT, 4, "TCP_KEEPCNT" },
	{ T4_LISTEN, SOL_TCP, TCP_NODELAY, 1, "TCP_NODELAY" },
	{ T4_LISTEN, SOL_IP, IP_TOS, 0x10, "IP_TOS" },	/* sets the priority: first */
	{ T4_LISTEN, SOL_SOCKET, SO_PRIORITY, 5, "SO_PRIORITY" },
	{ T4_LISTEN, SOL_SOCKET, SO_MARK, 0x2a, "SO_MARK" },
	{ T4_LISTEN, SOL_IP, IP_TTL, 33, "IP_TTL" },
	{ T4_LISTEN, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR" },
	{ T4_BOUND, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT" },
	{ U4_SRV, SOL_SOCKET, SO_RCVBUF, 300000, "SO_RCVBUF" },
	{ U4_SRV, SOL_SOCKET, SO_SNDBUF, 70000, "SO_SNDBUF" },
	{ T6_LISTEN, SOL_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY" },
};

static socklen_t loop_addr(int family, struct sockaddr_storage *ss, int port)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		return sizeof(struct sockaddr_in);
	}
	((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return sizeof(struct sockaddr_in6);
}

static int bound(int i, int family, int type, int opt_first)
{
	struct sockaddr_storage ss;
	socklen_t len = loop_addr(family, &ss, 0);
	size_t j;

	if (i == T6_LISTEN) /* on any address: IPV6_V6ONLY means something */
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	sk[i] = socket(family, type, 0);
	if (sk[i] < 0)
		return -1;
	for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
		if (opts[j].sk == i && (opts[j].name == SO_REUSEPORT || opts[j].name == IPV6_V6ONLY ||
					opts[j].name == SO_REUSEADDR) &&
		    setsockopt(sk[i], opts[j].level, opts[j].name, &opts[j].val, sizeof(int)))
			return -1;
	if (bind(sk[i], (struct sockaddr *)&ss, len))
		return -1;
	len = sizeof(names[i]);
	return getsockname(sk[i], (struct sockaddr *)&names[i], &len);
}

static socklen_t name_len(int i)
{
	return names[i].ss_family == AF_INET ? sizeof(struct sockaddr_in)
					     : sizeof(struct sockaddr_in6);
}

static int setup(void)
{
	struct linger lg = { 1, 9 };
	const char dev[] = "lo";
	size_t j;
	int i, ret = 0;

	ret |= bound(U4_SRV, AF_INET, SOCK_DGRAM, 0) | bound(U4_CLI, AF_INET, SOCK_DGRAM, 0);
	ret |= bound(U6_A, AF_INET6, SOCK_DGRAM, 0) | bound(U6_B, AF_INET6, SOCK_DGRAM, 0);
	ret |= bound(T4_LISTEN, AF_INET, SOCK_STREAM, 0) | bound(T6_LISTEN, AF_INET6, SOCK_STREAM, 0);
	ret |= bound(T4_BOUND, AF_INET, SOCK_STREAM, 0);
	if (ret)
		return -1;
	ret |= listen(sk[T4_LISTEN], 5) | listen(sk[T6_LISTEN], 3);
	ret |= connect(sk[U4_CLI], (struct sockaddr *)&names[U4_SRV], name_len(U4_SRV));
	ret |= connect(sk[U6_A], (struct sockaddr *)&names[U6_B], name_len(U6_B));
	ret |= connect(sk[U6_B], (struct sockaddr *)&names[U6_A], name_len(U6_A));
	for (i = 0; i < 3; i++) {
		ret |= send(sk[U4_CLI], dgrams[i], strlen(dgrams[i]), 0) < 0;
		ret |= send(sk[U6_A], dgrams[i], strlen(dgrams[i]), 0) < 0;
		ret |= send(sk[U6_B], dgrams[2 - i], strlen(dgrams[2 - i]), 0) < 0;
	}
	for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
		if (opts[j].name != IPV6_V6ONLY)
			ret |= setsockopt(sk[opts[j].sk], opts[j].level, opts[j].name, &opts[j].val,
					  sizeof(int));
	ret |= setsockopt(sk[T4_LISTEN], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	ret |= setsockopt(sk[T4_BOUND], SOL_SOCKET, SO_BINDTODEVICE, dev, sizeof(dev));
	ret |= fcntl(sk[T6_LISTEN], F_SETFL, O_NONBLOCK);
	return ret ? -1 : 0;
}

static void check_queue(int i, int dir, int from, const char *what)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];
	ssize_t r;
	int k;

	for (k = 0; k < 3; k++) {
		const char *w = dgrams[dir > 0 ? k : 2 - k];

		len = sizeof(ss);
		r = recvfrom(sk[i], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &len);
		zt_check(r == (ssize_t)strlen(w) && !memcmp(buf, w, r),
			 "%s: datagram %d is %zd bytes, want '%s'", what, k, r, w);
		zt_check(r < 0 || (len == name_len(from) && !memcmp(&ss, &names[from], len)),
			 "%s: datagram %d comes from another address", what, k);
	}
	r = recv(sk[i], buf, sizeof(buf), MSG_DONTWAIT);
	zt_check(r < 0 && errno == EAGAIN, "%s: a datagram too many (%zd)", what, r);
}

static void check_listener(int i, const char *what)
{
	int c = socket(names[i].ss_family, SOCK_STREAM, 0), a = -1;
	struct sockaddr_storage to;
	char buf[4];

	struct timeval tmo = { 2, 0 };

	/* bounded: a damaged address must fail the test, not hang it */
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	loop_addr(names[i].ss_family, &to, ntohs(((struct sockaddr_in *)&names[i])->sin_port));
	zt_check(!connect(c, (struct sockaddr *)&to, name_len(i)),
		 "%s: cannot connect to the restored listener: %m", what);
	for (int k = 0; k < 100 && a < 0; k++) {
		a = accept4(sk[i], NULL, NULL, SOCK_NONBLOCK);
		if (a < 0)
			usleep(10000);
	}
	zt_check(a >= 0, "%s: nothing to accept: %m", what);
	if (a >= 0)
		setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	zt_check(a < 0 || (send(c, "abc", 3, 0) == 3 && recv(a, buf, 3, MSG_WAITALL) == 3),
		 "%s: the accepted connection does not carry data", what);
	close(a);
	close(c);
}

static void check_opts(void)
{
	struct linger lg;
	char dev[IFNAMSIZ] = "";
	socklen_t len;
	size_t j;
	int v;

	for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
		len = sizeof(v);
		v = -1;
		getsockopt(sk[opts[j].sk], opts[j].level, opts[j].name, &v, &len);
		if (opts[j].name == SO_RCVBUF || opts[j].name == SO_SNDBUF)
			zt_check(v == 2 * opts[j].val, "%s is %d, want %d", opts[j].what, v,
				 2 * opts[j].val);
		else
			zt_check(v == opts[j].val, "%s of socket %d is %d, want %d", opts[j].what,
				 opts[j].sk, v, opts[j].val);
	}
	len = sizeof(lg);
	zt_check(!getsockopt(sk[T4_LISTEN], SOL_SOCKET, SO_LINGER, &lg, &len) && lg.l_onoff &&
		 lg.l_linger == 9, "SO_LINGER lost");
	len = sizeof(dev);
	zt_check(!getsockopt(sk[T4_BOUND], SOL_SOCKET, SO_BINDTODEVICE, dev, &len) &&
		 !strcmp(dev, "lo"), "SO_BINDTODEVICE is '%s'", dev);
	zt_check(fcntl(sk[T6_LISTEN], F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	zt_check(!(fcntl(sk[T4_LISTEN], F_GETFL) & O_NONBLOCK), "O_NONBLOCK appeared");
}

static void check_names(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int i;

	for (i = 0; i < NR_SK; i++) {
		len = sizeof(ss);
		zt_check(!getsockname(sk[i], (struct sockaddr *)&ss, &len) && len == name_len(i) &&
			 !memcmp(&ss, &names[i], len), "socket %d is bound elsewhere", i);
	}
	len = sizeof(ss);
	zt_check(!getpeername(sk[U4_CLI], (struct sockaddr *)&ss, &len) &&
		 !memcmp(&ss, &names[U4_SRV], len), "the UDP client is not connected");
	len = sizeof(ss);
	zt_check(getpeername(sk[U4_SRV], (struct sockaddr *)&ss, &len) && errno == ENOTCONN,
		 "the UDP server is connected");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(names, sizeof(names));
	zt_ready();
	zt_wait();
	check_opts();
	for (int i = 0; i < NR_SK; i++) /* nothing below may block */
		fcntl(sk[i], F_SETFL, O_NONBLOCK);
	check_names();
	check_queue(U4_SRV, 1, U4_CLI, "udp v4");
	check_queue(U6_B, 1, U6_A, "udp v6 A->B");
	check_queue(U6_A, -1, U6_B, "udp v6 B->A");
	check_listener(T4_LISTEN, "tcp v4 listener");
	check_listener(T6_LISTEN, "tcp v6 listener");
	return zt_result();
}
