// SPDX-License-Identifier: MIT
/*
 * Packet and netlink sockets: two SOCK_DGRAM packet sockets bound to lo for an
 * experimental ethertype nothing else uses (0x88B5) with PACKET_AUXDATA and
 * PACKET_VERSION set, and a NETLINK_ROUTE socket with its port id and two quiet groups
 * (DCB, MDB). After restore: same interface, protocol, options, port id and groups; a
 * frame sent on lo from one packet socket arrives on the other; rtnetlink still answers.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "lib.h"

#define ETH_EXP 0x88B5

static int pa, pb, nl;
static struct {
	int ifindex;
	uint32_t portid;
	uint32_t groups;
} want;

static int bind_lo(int fd)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_EXP),
				  .sll_ifindex = want.ifindex };
	int one = 1, v2 = TPACKET_V2;

	return setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) ||
	       setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) ||
	       bind(fd, (struct sockaddr *)&ll, sizeof(ll));
}

static int setup(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int g1 = RTNLGRP_DCB, g2 = RTNLGRP_MDB;

	want.ifindex = if_nametoindex("lo");
	pa = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_EXP));
	pb = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_EXP));
	nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (pa < 0 || pb < 0 || nl < 0 || bind_lo(pa) || bind_lo(pb) ||
	    bind(nl, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g1, sizeof(g1)) ||
	    setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g2, sizeof(g2)) ||
	    getsockname(nl, (struct sockaddr *)&sa, &len))
		return -1;
	want.portid = sa.nl_pid;
	want.groups = 1U << (g1 - 1) | 1U << (g2 - 1);
	return 0;
}

static void check_packet(void)
{
	struct sockaddr_ll ll, to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_EXP),
				      .sll_ifindex = want.ifindex, .sll_halen = 6 };
	struct timeval tmo = { 2, 0 };
	socklen_t len = sizeof(ll);
	int v = 0, k;
	char buf[64];
	ssize_t r = -1;

	zt_check(!getsockname(pa, (struct sockaddr *)&ll, &len) && ll.sll_ifindex == want.ifindex &&
		 ll.sll_protocol == htons(ETH_EXP), "packet socket: bound to %d proto %#x",
		 ll.sll_ifindex, ntohs(ll.sll_protocol));
	len = sizeof(v);
	zt_check(!getsockopt(pa, SOL_PACKET, PACKET_AUXDATA, &v, &len) && v, "PACKET_AUXDATA lost");
	len = sizeof(v);
	zt_check(!getsockopt(pb, SOL_PACKET, PACKET_VERSION, &v, &len) && v == TPACKET_V2,
		 "PACKET_VERSION is %d", v);
	setsockopt(pb, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	zt_check(sendto(pa, "ferry-frame", 11, 0, (struct sockaddr *)&to, sizeof(to)) == 11,
		 "packet socket: send: %m");
	for (k = 0; k < 5 && r != 11; k++) /* our own copy may come first: skip it */
		r = recv(pb, buf, sizeof(buf), 0);
	zt_check(r == 11 && !memcmp(buf, "ferry-frame", 11), "packet socket: no frame (%zd)", r);
}

static void check_netlink(void)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { { sizeof(req), RTM_GETLINK, NLM_F_REQUEST, 1, 0 },
		  { .ifi_family = AF_UNSPEC, .ifi_index = want.ifindex } };
	struct sockaddr_nl sa;
	struct timeval tmo = { 2, 0 };
	socklen_t len = sizeof(sa);
	uint32_t groups[4] = { 0 };
	char buf[8192];
	ssize_t r;

	zt_check(!getsockname(nl, (struct sockaddr *)&sa, &len) && sa.nl_pid == want.portid,
		 "netlink port id %u, want %u", sa.nl_pid, want.portid);
	len = sizeof(groups);
	zt_check(!getsockopt(nl, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len) &&
		 groups[0] == want.groups, "netlink groups %#x, want %#x", groups[0], want.groups);
	setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	zt_check(send(nl, &req, sizeof(req), 0) == sizeof(req), "netlink: send: %m");
	r = recv(nl, buf, sizeof(buf), 0);
	zt_check(r > (ssize_t)sizeof(struct nlmsghdr) &&
		 ((struct nlmsghdr *)buf)->nlmsg_type == RTM_NEWLINK, "netlink: no answer (%zd)", r);
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
	check_packet();
	check_netlink();
	return zt_result();
}
