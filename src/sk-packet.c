// SPDX-License-Identifier: MIT
/*
 * Packet and netlink sockets, both halves, without their queues. Packet: type, protocol,
 * bound interface (getsockname: sockaddr_ll) and the PACKET_* options getsockopt reports
 * (version, reserve, auxdata, origdev, vnet_hdr, loss, timestamp); a fanout member or
 * queued packets refuse the dump. Netlink: protocol, port id, group memberships
 * (NETLINK_LIST_MEMBERSHIPS), the connected destination; unread messages refuse.
 */
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define LOG_PREFIX "sockets: "
#include "log.h"
#include "rst.h"
#include "sockets.h"

#define NL_GROUP_WORDS 32	/* 1024 groups */

static int get_int(int sk, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);

	*val = 0;
	if (getsockopt(sk, level, name, val, &len)) {
		pr_perror("getsockopt(%d, %d)", level, name);
		return -errno;
	}
	return 0;
}

static int set_int(int sk, int level, int name, int val)
{
	if (setsockopt(sk, level, name, &val, sizeof(val))) {
		pr_perror("setsockopt(%d, %d, %d)", level, name, val);
		return -errno;
	}
	return 0;
}

/* A packet or netlink queue cannot be written back: unread data refuses the dump. */
static int refuse_queued(struct dtask *t, int sk, const char *what, uint32_t id)
{
	char c;

	if (recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0) {
		pr_err("process %d: %s socket %u has unread data: not supported yet", t->pid, what,
		       id);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* --- packet --------------------------------------------------------------------------- */

static int packet_opts(int sk, PacketSockEntry *p)
{
	int v[7], ret, i;
	static const int names[7] = { PACKET_VERSION, PACKET_RESERVE, PACKET_AUXDATA,
				      PACKET_ORIGDEV, PACKET_VNET_HDR, PACKET_LOSS,
				      PACKET_TIMESTAMP };

	for (i = 0, ret = 0; !ret && i < 7; i++)
		ret = get_int(sk, SOL_PACKET, names[i], &v[i]);
	if (ret)
		return ret;
	p->version = v[0], p->reserve = v[1], p->aux_data = v[2], p->orig_dev = v[3];
	p->vnet_hdr = v[4], p->loss = v[5], p->timestamp = v[6];
	return 0;
}

int sk_packet_dump(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		   FileEntry *fe)
{
	PacketSockEntry *p = dtask_alloc(t, sizeof(*p));
	SkOptsEntry *o = dtask_alloc(t, sizeof(*o));
	struct sockaddr_ll ll;
	socklen_t len = sizeof(ll);
	int type, fanout, ret;

	if (!p || !o)
		return -ENOMEM;
	packet_sock_entry__init(p);
	p->fown = files_fown(t);
	if (!p->fown)
		return -ENOMEM;
	ret = getsockname(sk, (struct sockaddr *)&ll, &len) ? -errno : 0;
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_TYPE, &type);
	ret = ret ?: get_int(sk, SOL_PACKET, PACKET_FANOUT, &fanout);
	ret = ret ?: packet_opts(sk, p);
	ret = ret ?: sk_opts_dump(t, sk, o);
	if (ret)
		return ret;
	if (fanout) {
		pr_err("process %d: packet socket %u is in a fanout group: not supported yet",
		       t->pid, fe->id);
		return -EOPNOTSUPP;
	}
	p->id = fe->id;
	p->type = type;
	p->protocol = ll.sll_protocol;
	p->ifindex = ll.sll_ifindex;
	p->flags = flags & ~O_CLOEXEC;
	p->opts = o;
	fe->type = FD_TYPES__PACKETSK;
	fe->psk = p;
	return refuse_queued(t, sk, "packet", fe->id);
}

int rst_packet_check(const FileEntry *fe)
{
	const PacketSockEntry *p = fe->psk;

	if (p->id != fe->id || (p->type != SOCK_RAW && p->type != SOCK_DGRAM) ||
	    p->protocol > 0xffff || p->version > TPACKET_V3) {
		pr_err("files.img: packet socket %u: bad type %u, protocol %#x or version %u",
		       fe->id, p->type, p->protocol, p->version);
		return -EINVAL;
	}
	return 0;
}

/* Only what differs from a new socket's defaults (some are refused for SOCK_DGRAM). */
static int set_opts(int sk, const PacketSockEntry *p)
{
	const struct {
		int name;
		uint32_t val;
	} o[] = {
		{ PACKET_VERSION, p->version }, { PACKET_RESERVE, p->reserve },
		{ PACKET_AUXDATA, p->aux_data }, { PACKET_ORIGDEV, p->orig_dev },
		{ PACKET_VNET_HDR, p->vnet_hdr }, { PACKET_LOSS, p->loss },
		{ PACKET_TIMESTAMP, p->timestamp },
	};
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < sizeof(o) / sizeof(o[0]); i++)
		if (o[i].val)
			ret = set_int(sk, SOL_PACKET, o[i].name, o[i].val);
	return ret;
}

static int packet_create(const FileEntry *fe)
{
	const PacketSockEntry *p = fe->psk;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = p->protocol,
				  .sll_ifindex = p->ifindex };
	int sk = socket(AF_PACKET, p->type | SOCK_CLOEXEC, p->protocol), ret;

	if (sk < 0) {
		pr_perror("cannot create packet socket %u", fe->id);
		return -errno;
	}
	ret = set_opts(sk, p);
	if (!ret && p->ifindex && bind(sk, (struct sockaddr *)&ll, sizeof(ll))) {
		pr_perror("cannot bind packet socket %u to interface %u", fe->id, p->ifindex);
		ret = -errno;
	}
	ret = ret ?: sk_opts_restore_early(sk, p->opts);
	ret = ret ?: sk_opts_restore(sk, p->opts);
	ret = ret ?: sk_set_flags(sk, p->flags);
	if (ret) {
		close(sk);
		return ret;
	}
	return sk;
}

/* --- netlink -------------------------------------------------------------------------- */

static int netlink_groups(struct dtask *t, int sk, NetlinkSkEntry *n)
{
	uint32_t words[NL_GROUP_WORDS] = { 0 };
	socklen_t len = sizeof(words);
	size_t i, nw;

	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &len)) {
		pr_perror("NETLINK_LIST_MEMBERSHIPS");
		return -errno;
	}
	if (len > sizeof(words)) {
		pr_err("a netlink socket is in groups above %d: not supported", NL_GROUP_WORDS * 32);
		return -EOPNOTSUPP;
	}
	for (nw = 0, i = 0; i < len / sizeof(uint32_t); i++)
		if (words[i])
			nw = i + 1;
	n->groups = dtask_alloc(t, (nw + 1) * sizeof(uint32_t));
	if (!n->groups)
		return -ENOMEM;
	memcpy(n->groups, words, nw * sizeof(uint32_t));
	n->n_groups = nw;
	return 0;
}

int sk_netlink_dump(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		    FileEntry *fe)
{
	NetlinkSkEntry *n = dtask_alloc(t, sizeof(*n));
	SkOptsEntry *o = dtask_alloc(t, sizeof(*o));
	struct sockaddr_nl self, peer;
	socklen_t len = sizeof(self), plen = sizeof(peer);
	int proto, ret;

	if (!n || !o)
		return -ENOMEM;
	netlink_sk_entry__init(n);
	n->fown = files_fown(t);
	if (!n->fown)
		return -ENOMEM;
	memset(&peer, 0, sizeof(peer));
	ret = getsockname(sk, (struct sockaddr *)&self, &len) ? -errno : 0;
	if (!ret && getpeername(sk, (struct sockaddr *)&peer, &plen))
		memset(&peer, 0, sizeof(peer));
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_PROTOCOL, &proto);
	ret = ret ?: netlink_groups(t, sk, n);
	ret = ret ?: sk_opts_dump(t, sk, o);
	if (ret)
		return ret;
	n->id = fe->id;
	n->ino = st->st_ino;
	n->protocol = proto;
	n->portid = self.nl_pid;
	n->dst_portid = peer.nl_pid;
	n->dst_group = peer.nl_groups;
	n->state = peer.nl_pid || peer.nl_groups;
	n->flags = flags & ~O_CLOEXEC;
	n->opts = o;
	fe->type = FD_TYPES__NETLINKSK;
	fe->nlsk = n;
	return refuse_queued(t, sk, "netlink", fe->id);
}

int rst_netlink_check(const FileEntry *fe)
{
	const NetlinkSkEntry *n = fe->nlsk;

	if (n->id != fe->id || n->protocol >= MAX_LINKS || n->n_groups > NL_GROUP_WORDS) {
		pr_err("files.img: netlink socket %u: bad protocol %u or %zu group words", fe->id,
		       n->protocol, n->n_groups);
		return -EINVAL;
	}
	return 0;
}

static int netlink_join(int sk, const NetlinkSkEntry *n)
{
	size_t w;
	int b, ret = 0;

	for (w = 0; !ret && w < n->n_groups; w++)
		for (b = 0; !ret && b < 32; b++)
			if (n->groups[w] & (1U << b))
				ret = set_int(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, w * 32 + b + 1);
	return ret;
}

static int netlink_create(const FileEntry *fe)
{
	const NetlinkSkEntry *n = fe->nlsk;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = n->portid };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = n->dst_portid,
				  .nl_groups = n->dst_group };
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, n->protocol), ret = 0;

	if (sk < 0) {
		pr_perror("cannot create netlink socket %u (protocol %u)", fe->id, n->protocol);
		return -errno;
	}
	if (n->portid && bind(sk, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_perror("cannot bind netlink socket %u to port id %u", fe->id, n->portid);
		ret = -errno;
	}
	ret = ret ?: netlink_join(sk, n);
	if (!ret && n->state && connect(sk, (struct sockaddr *)&to, sizeof(to))) {
		pr_perror("cannot connect netlink socket %u", fe->id);
		ret = -errno;
	}
	ret = ret ?: sk_opts_restore(sk, n->opts);
	ret = ret ?: sk_set_flags(sk, n->flags);
	if (ret) {
		close(sk);
		return ret;
	}
	return sk;
}

/* Both kinds stand alone: built one by one into their slots. */
int rst_packet_netlink_create(struct rst_task *t)
{
	size_t i;
	int fd;

	for (i = 0; i < t->nr_files; i++) {
		const FileEntry *fe = t->files[i];

		if (fe->type != FD_TYPES__PACKETSK && fe->type != FD_TYPES__NETLINKSK)
			continue;
		fd = fe->type == FD_TYPES__PACKETSK ? packet_create(fe) : netlink_create(fe);
		if (fd < 0)
			return fd;
		*rst_sk_slot(t, fe->id) = fd;
	}
	return 0;
}
