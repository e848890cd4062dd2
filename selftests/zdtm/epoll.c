// SPDX-License-Identifier: MIT
/*
 * An epoll with 3 targets: a pipe read end (EPOLLIN), an eventfd (EPOLLIN|EPOLLET) and the
 * pipe's write end (EPOLLOUT), each with its own 64-bit data. After restore all three are
 * registered under their fd numbers (EPOLL_CTL_MOD/DEL by number work) and report their
 * events with their data.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib.h"

#define FD_EP 70
#define FD_R 71
#define FD_EV 72
#define FD_W 73

struct expect {
	uint64_t data[3];
	uint32_t events[3];
};

static struct expect want = { { 0x1111, 0xdeadbeefcafe, 3 },
			      { EPOLLIN, EPOLLIN | EPOLLET, EPOLLOUT } };
static const int targets[3] = { FD_R, FD_EV, FD_W };

static int setup(void)
{
	int p[2], ev = eventfd(0, 0), ep = epoll_create1(0), i;

	if (pipe(p) || ev < 0 || ep < 0 || dup2(p[0], FD_R) != FD_R || dup2(p[1], FD_W) != FD_W ||
	    dup2(ev, FD_EV) != FD_EV || dup2(ep, FD_EP) != FD_EP)
		return -1;
	close(p[0]), close(p[1]), close(ev), close(ep);
	for (i = 0; i < 3; i++) {
		struct epoll_event e = { .events = want.events[i], .data.u64 = want.data[i] };

		if (epoll_ctl(FD_EP, EPOLL_CTL_ADD, targets[i], &e))
			return -1;
	}
	return 0;
}

static void check(void)
{
	struct epoll_event evs[8], e = { .events = EPOLLIN, .data.u64 = 0x2222 };
	uint64_t one = 1;
	int n, i, seen = 0;

	n = epoll_wait(FD_EP, evs, 8, 0);
	zt_check(n == 1 && evs[0].data.u64 == want.data[2] && evs[0].events == EPOLLOUT,
		 "before any write: %d events (first data %#llx), expected only EPOLLOUT", n,
		 n > 0 ? (unsigned long long)evs[0].data.u64 : 0ULL);
	zt_check(write(FD_W, "x", 1) == 1 && write(FD_EV, &one, 8) == 8, "write: %m");
	n = epoll_wait(FD_EP, evs, 8, 1000);
	for (i = 0; i < n; i++) {
		int j;

		for (j = 0; j < 3; j++)
			if (evs[i].data.u64 == want.data[j] && (evs[i].events & want.events[j] &
								~EPOLLET))
				seen |= 1 << j;
	}
	zt_check(n == 3 && seen == 7, "%d events, targets seen %#x, expected 3 and 0x7", n, seen);
	zt_check(!epoll_ctl(FD_EP, EPOLL_CTL_MOD, FD_R, &e), "EPOLL_CTL_MOD of fd %d: %m", FD_R);
	n = epoll_wait(FD_EP, evs, 8, 0);
	seen = 0;
	for (i = 0; i < n; i++)
		seen |= evs[i].data.u64 == 0x2222;
	zt_check(seen, "the modified target does not report its new data");
	for (i = 0; i < 3; i++)
		zt_check(!epoll_ctl(FD_EP, EPOLL_CTL_DEL, targets[i], NULL),
			 "EPOLL_CTL_DEL of fd %d: %m", targets[i]);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check();
	return zt_result();
}
