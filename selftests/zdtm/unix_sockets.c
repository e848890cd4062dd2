// SPDX-License-Identifier: MIT
/*
 * Unix sockets of one process: socketpairs (stream, dgram, seqpacket) with data queued in
 * both directions (datagram and record boundaries must survive), a stream pair shut down
 * for writing on one side, a listening socket bound to a relative path with a connection
 * that nobody accepted yet (the client is ours), and a dgram socket bound to an abstract
 * name with queued datagrams from an unbound sender, one of them non-blocking. After
 * restore every queue reads back exactly, in order, with its boundaries, nothing more.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib.h"

#define STREAM_BYTES 100000
#define PATH_NAME "unix-listen.sock"

enum { ST_A, ST_B, DG_A, DG_B, SQ_A, SQ_B, SH_A, SH_B, LISTEN, CLIENT, ABSTRACT, NR_SK };

static int sk[NR_SK];
static char abstract_name[64];
static unsigned char stream_ab[STREAM_BYTES], stream_ba[777];
static const char *const dgrams[] = { "one", "datagram number two", "3", "the fourth" };
static const char *const records[] = { "record-1", "r2", "the third record" };

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = zt_mix(seed + i) & 0xff;
}

static socklen_t abstract_addr(struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, abstract_name, strlen(abstract_name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract_name);
}

static int send_all(int fd, const void *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static int setup_pairs(void)
{
	int sv[2], i, ret = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	sk[ST_A] = sv[0], sk[ST_B] = sv[1];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		return -1;
	sk[DG_A] = sv[0], sk[DG_B] = sv[1];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return -1;
	sk[SQ_A] = sv[0], sk[SQ_B] = sv[1];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	sk[SH_A] = sv[0], sk[SH_B] = sv[1];
	fill(stream_ab, sizeof(stream_ab), 1);
	fill(stream_ba, sizeof(stream_ba), 2);
	ret |= send_all(sk[ST_A], stream_ab, sizeof(stream_ab));
	ret |= send_all(sk[ST_B], stream_ba, sizeof(stream_ba));
	for (i = 0; i < 4; i++) {
		ret |= send(sk[DG_A], dgrams[i], strlen(dgrams[i]), 0) < 0;
		ret |= send(sk[DG_B], dgrams[3 - i], strlen(dgrams[3 - i]), 0) < 0;
	}
	for (i = 0; i < 3; i++) {
		ret |= send(sk[SQ_A], records[i], strlen(records[i]), 0) < 0;
		ret |= send(sk[SQ_B], records[2 - i], strlen(records[2 - i]), 0) < 0;
	}
	ret |= send_all(sk[SH_A], "last words", 10);
	ret |= shutdown(sk[SH_A], SHUT_WR);
	return ret ? -1 : 0;
}

static int setup_named(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = PATH_NAME };
	int tmp, i, ret = 0;
	socklen_t len;

	unlink(PATH_NAME);
	sk[LISTEN] = socket(AF_UNIX, SOCK_STREAM, 0);
	sk[CLIENT] = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(sk[LISTEN], (struct sockaddr *)&sa, sizeof(sa)) || listen(sk[LISTEN], 7) ||
	    connect(sk[CLIENT], (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	snprintf(abstract_name, sizeof(abstract_name), "ferry-zdtm-%d", getpid());
	sk[ABSTRACT] = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	len = abstract_addr(&sa);
	tmp = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sk[ABSTRACT] < 0 || tmp < 0 || bind(sk[ABSTRACT], (struct sockaddr *)&sa, len))
		return -1;
	for (i = 0; i < 3; i++)
		ret |= sendto(tmp, records[i], strlen(records[i]), 0, (struct sockaddr *)&sa, len) < 0;
	close(tmp);
	return ret ? -1 : 0;
}

static void check_bytes(int fd, const unsigned char *want, size_t n, const char *what)
{
	static unsigned char buf[STREAM_BYTES];
	size_t got = 0;
	ssize_t r;

	while (got < n && (r = recv(fd, buf + got, n - got, MSG_DONTWAIT)) > 0)
		got += r;
	zt_check(got == n, "%s: %zu of %zu bytes queued", what, got, n);
	zt_check(!memcmp(buf, want, got), "%s: the data differ", what);
	r = recv(fd, buf, 1, MSG_DONTWAIT);
	zt_check(r < 0 && errno == EAGAIN, "%s: more data than queued (%zd)", what, r);
}

static void check_msgs(int fd, const char *const *want, int n, int dir, const char *what)
{
	char buf[256];
	ssize_t r;
	int i;

	for (i = 0; i < n; i++) {
		const char *w = want[dir > 0 ? i : n - 1 - i];

		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		zt_check(r == (ssize_t)strlen(w) && !memcmp(buf, w, r),
			 "%s: message %d is %zd bytes, want '%s'", what, i, r, w);
	}
	r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	zt_check(r < 0 && errno == EAGAIN, "%s: a message too many (%zd)", what, r);
}

static void check_pairs(void)
{
	char buf[32];
	ssize_t r;

	check_bytes(sk[ST_B], stream_ab, sizeof(stream_ab), "stream A->B");
	check_bytes(sk[ST_A], stream_ba, sizeof(stream_ba), "stream B->A");
	check_msgs(sk[DG_B], dgrams, 4, 1, "dgram A->B");
	check_msgs(sk[DG_A], dgrams, 4, -1, "dgram B->A");
	check_msgs(sk[SQ_B], records, 3, 1, "seqpacket A->B");
	check_msgs(sk[SQ_A], records, 3, -1, "seqpacket B->A");
	r = recv(sk[SH_B], buf, sizeof(buf), MSG_DONTWAIT);
	zt_check(r == 10 && !memcmp(buf, "last words", 10), "shutdown pair: data (%zd)", r);
	r = recv(sk[SH_B], buf, sizeof(buf), MSG_DONTWAIT);
	zt_check(r == 0, "shutdown pair: no EOF after the data (%zd, %m)", r);
	r = send(sk[SH_A], "x", 1, MSG_NOSIGNAL);
	zt_check(r < 0 && errno == EPIPE, "shutdown pair: the write side is open (%zd)", r);
	zt_check(send(sk[ST_A], "ping", 4, 0) == 4 && recv(sk[ST_B], buf, 4, 0) == 4 &&
		 !memcmp(buf, "ping", 4), "stream pair: not connected any more");
}

static void check_named(void)
{
	struct sockaddr_un sa, want;
	socklen_t len = sizeof(sa), wlen;
	char buf[16];
	int acc;

	acc = accept4(sk[LISTEN], NULL, NULL, SOCK_NONBLOCK);
	zt_check(acc >= 0, "no pending connection to accept (%m)");
	if (acc >= 0) {
		zt_check(send(sk[CLIENT], "hi", 2, 0) == 2 && recv(acc, buf, 2, 0) == 2 &&
			 !memcmp(buf, "hi", 2), "the accepted connection does not carry data");
		close(acc);
	}
	acc = accept4(sk[LISTEN], NULL, NULL, SOCK_NONBLOCK);
	zt_check(acc < 0 && errno == EAGAIN, "a second pending connection (%d)", acc);
	zt_check(!getsockname(sk[LISTEN], (struct sockaddr *)&sa, &len) &&
		 !strcmp(sa.sun_path, PATH_NAME), "listener bound to '%s'", sa.sun_path);
	check_msgs(sk[ABSTRACT], records, 3, 1, "abstract dgram");
	len = sizeof(sa);
	wlen = abstract_addr(&want);
	zt_check(!getsockname(sk[ABSTRACT], (struct sockaddr *)&sa, &len) && len == wlen &&
		 !memcmp(&sa, &want, len), "abstract name lost");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup_pairs() || setup_named()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(stream_ab, sizeof(stream_ab));
	zt_ready();
	zt_wait();
	/* nothing below may block: a lost connection must fail the test, not hang it */
	zt_check(fcntl(sk[ABSTRACT], F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	zt_check(!(fcntl(sk[CLIENT], F_GETFL) & O_NONBLOCK), "O_NONBLOCK appeared");
	for (int i = 0; i < NR_SK; i++)
		fcntl(sk[i], F_SETFL, O_NONBLOCK);
	check_pairs();
	check_named();
	unlink(PATH_NAME);
	return zt_result();
}
