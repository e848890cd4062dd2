// SPDX-License-Identifier: MIT
/*
 * rtnetlink with libnl-route-3, shared by the network namespace images (net.c) and the
 * host network carried across a kexec (net-host.c): the rtnl socket, links' addresses
 * and routes to and from their image entries (FerryIfaddrEntry, FerryRouteEntry).
 */
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#define LOG_PREFIX "net: "
#include "log.h"
#include "net.h"
#include "net-nl.h"

int net_nl_fail(const char *what, int err)
{
	pr_err("%s: %s", what, nl_geterror(err));
	return -EIO;
}

struct nl_sock *net_rtnl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk) {
		pr_err("cannot allocate a netlink socket");
		return NULL;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		net_nl_fail("cannot open an rtnetlink socket", err);
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/* A link name from the options or the images: goes into /proc/sys paths. */
bool net_valid_ifname(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len < NET_IFNAMSIZ && strcmp(s, ".") && strcmp(s, "..") &&
	       strcspn(s, "/: \t\n") == len;
}

int net_nl_bytes(struct nl_addr *a, ProtobufCBinaryData *out)
{
	if (!a || !nl_addr_get_len(a))
		return 0;
	out->len = nl_addr_get_len(a);
	out->data = nl_addr_get_binary_addr(a);
	return 1;
}

void net_fill_addr(struct rtnl_addr *a, FerryIfaddrEntry *e)
{
	struct nl_addr *peer = rtnl_addr_get_peer(a);
	struct nl_addr *local = rtnl_addr_get_local(a);

	ferry_ifaddr_entry__init(e);
	e->family = rtnl_addr_get_family(a);
	net_nl_bytes(local, &e->local);
	e->prefixlen = rtnl_addr_get_prefixlen(a);
	if (peer && nl_addr_cmp(peer, local))
		e->has_peer = net_nl_bytes(peer, &e->peer);
	e->has_broadcast = net_nl_bytes(rtnl_addr_get_broadcast(a), &e->broadcast);
	e->has_flags = 1, e->flags = rtnl_addr_get_flags(a);
	e->has_scope = 1, e->scope = rtnl_addr_get_scope(a);
}

/* Routes the kernel makes by itself (from addresses, links, the local table) stay out. */
bool net_route_is_ours(struct rtnl_route *r)
{
	return rtnl_route_get_table(r) != RT_TABLE_LOCAL &&
	       rtnl_route_get_protocol(r) != RTPROT_KERNEL &&
	       (rtnl_route_get_family(r) == AF_INET || rtnl_route_get_family(r) == AF_INET6);
}

int net_fill_route(struct rtnl_route *r, FerryRouteEntry *e)
{
	struct rtnl_nexthop *nh;
	struct nl_addr *dst = rtnl_route_get_dst(r);

	ferry_route_entry__init(e);
	if (rtnl_route_get_nnexthops(r) > 1) {
		pr_err("multipath routes are not supported");
		return -EOPNOTSUPP;
	}
	e->family = rtnl_route_get_family(r);
	e->dst_len = dst ? nl_addr_get_prefixlen(dst) : 0;
	e->has_dst = e->dst_len && net_nl_bytes(dst, &e->dst);
	e->table = rtnl_route_get_table(r);
	e->protocol = rtnl_route_get_protocol(r);
	e->scope = rtnl_route_get_scope(r);
	e->type = rtnl_route_get_type(r);
	e->has_priority = 1, e->priority = rtnl_route_get_priority(r);
	e->has_prefsrc = net_nl_bytes(rtnl_route_get_pref_src(r), &e->prefsrc);
	nh = rtnl_route_nexthop_n(r, 0);
	if (nh) {
		e->has_oif = rtnl_route_nh_get_ifindex(nh) > 0;
		e->oif = rtnl_route_nh_get_ifindex(nh);
		e->has_gateway = net_nl_bytes(rtnl_route_nh_get_gateway(nh), &e->gateway);
	}
	return 0;
}

int net_addr_len(uint32_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
}

bool net_valid_bytes(uint32_t family, bool has, const ProtobufCBinaryData *b)
{
	return !has || (int)b->len == net_addr_len(family);
}

struct nl_addr *net_make_addr(uint32_t family, const ProtobufCBinaryData *b,
				 unsigned int prefixlen)
{
	struct nl_addr *a = nl_addr_build(family, b->data, b->len);

	if (a)
		nl_addr_set_prefixlen(a, prefixlen);
	return a;
}

int net_add_addr(struct nl_sock *sk, int ifindex, const char *ifname, const FerryIfaddrEntry *e)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = net_make_addr(e->family, &e->local, e->prefixlen);
	struct nl_addr *peer = e->has_peer ? net_make_addr(e->family, &e->peer, e->prefixlen) : NULL;
	struct nl_addr *brd = e->has_broadcast ? net_make_addr(e->family, &e->broadcast, 0) : NULL;
	char buf[INET6_ADDRSTRLEN];
	int err = -NLE_NOMEM;

	if (a && local && (peer || !e->has_peer) && (brd || !e->has_broadcast)) {
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_family(a, e->family);
		rtnl_addr_set_local(a, local);
		rtnl_addr_set_prefixlen(a, e->prefixlen);
		if (peer)
			rtnl_addr_set_peer(a, peer);
		if (brd)
			rtnl_addr_set_broadcast(a, brd);
		rtnl_addr_set_scope(a, e->scope);
		/* the dumped address has passed duplicate detection already */
		rtnl_addr_set_flags(a, (e->flags & IFA_F_PERMANENT) |
					       (e->family == AF_INET6 ? IFA_F_NODAD : 0));
		err = rtnl_addr_add(sk, a, 0);
	}
	rtnl_addr_put(a);
	nl_addr_put(local);
	nl_addr_put(peer);
	nl_addr_put(brd);
	if (err == -NLE_EXIST)
		return 0;	/* made by the kernel already (lo's, link-local ones) */
	if (err < 0) {
		inet_ntop(e->family, e->local.data, buf, sizeof(buf));
		pr_err("cannot add address %s/%u to %s: %s", buf, e->prefixlen, ifname,
		       nl_geterror(err));
		return -EIO;
	}
	return 0;
}

int net_add_route(struct nl_sock *sk, const FerryRouteEntry *e, int oif)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = NULL, *gw = NULL, *src = NULL;
	uint8_t any[16] = { 0 };
	ProtobufCBinaryData any_dst = { net_addr_len(e->family), any };
	int err = -NLE_NOMEM;

	if (!r || !nh)
		goto out;
	dst = net_make_addr(e->family, e->has_dst ? &e->dst : &any_dst, e->dst_len);
	gw = e->has_gateway ? net_make_addr(e->family, &e->gateway, 0) : NULL;
	src = e->has_prefsrc ? net_make_addr(e->family, &e->prefsrc, 0) : NULL;
	if (!dst || (e->has_gateway && !gw) || (e->has_prefsrc && !src))
		goto out;
	rtnl_route_set_family(r, e->family);
	rtnl_route_set_dst(r, dst);
	rtnl_route_set_table(r, e->table);
	rtnl_route_set_protocol(r, e->protocol);
	rtnl_route_set_scope(r, e->scope);
	rtnl_route_set_type(r, e->type);
	if (e->has_priority)
		rtnl_route_set_priority(r, e->priority);
	if (src)
		rtnl_route_set_pref_src(r, src);
	if (e->has_oif)
		rtnl_route_nh_set_ifindex(nh, oif);
	if (gw)
		rtnl_route_nh_set_gateway(nh, gw);
	if (e->has_oif || gw) {
		rtnl_route_add_nexthop(r, nh);
		nh = NULL;	/* the route's now */
	}
	err = rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	rtnl_route_put(r);
	nl_addr_put(dst);
	nl_addr_put(gw);
	nl_addr_put(src);
	if (err == -NLE_EXIST)
		return 0;
	if (err < 0)
		return net_nl_fail("cannot add a dumped route", err);
	return 0;
}

bool net_valid_ifaddr(const FerryIfaddrEntry *a)
{
	return net_addr_len(a->family) > 0 && net_valid_bytes(a->family, true, &a->local) &&
	       net_valid_bytes(a->family, a->has_peer, &a->peer) &&
	       net_valid_bytes(a->family, a->has_broadcast, &a->broadcast) &&
	       a->prefixlen <= (unsigned)net_addr_len(a->family) * 8;
}

bool net_valid_route(const FerryRouteEntry *r)
{
	return net_addr_len(r->family) > 0 && r->dst_len <= (unsigned)net_addr_len(r->family) * 8 &&
	       net_valid_bytes(r->family, r->has_dst, &r->dst) &&
	       net_valid_bytes(r->family, r->has_gateway, &r->gateway) &&
	       net_valid_bytes(r->family, r->has_prefsrc, &r->prefsrc) && r->protocol <= 255 &&
	       r->scope <= 255 && r->type <= 255 && (!r->has_oif || r->oif <= INT32_MAX);
}

bool net_valid_link(const NetDeviceEntry *nd, int type)
{
	size_t i;

	if (!net_valid_ifname(nd->name) || !nd->ifindex || nd->ifindex > INT32_MAX ||
	    (nd->type != ND_TYPE__LOOPBACK && (int)nd->type != type) ||
	    (nd->has_address && nd->address.len > 32))
		return false;
	for (i = 0; i < nd->n_ferry_addrs; i++)
		if (!net_valid_ifaddr(nd->ferry_addrs[i]))
			return false;
	return true;
}

int net_bad_link(const NetDeviceEntry *nd, const char *file, uint64_t off)
{
	pr_err("%s: the link entry at offset %llu ('%s', ifindex %u) is invalid", file,
	       (unsigned long long)off, nd->name, nd->ifindex);
	return -EINVAL;
}

void net_caches_free(struct net_caches *c)
{
	if (c->routes)
		nl_cache_free(c->routes);
	if (c->addrs)
		nl_cache_free(c->addrs);
	if (c->links)
		nl_cache_free(c->links);
	if (c->sk)
		nl_socket_free(c->sk);
}

int net_caches_fill(struct net_caches *c, bool routes)
{
	int err;

	c->sk = net_rtnl_open();
	if (!c->sk)
		return -EIO;
	err = rtnl_link_alloc_cache(c->sk, AF_UNSPEC, &c->links);
	if (err < 0)
		return net_nl_fail("cannot list the links", err);
	err = rtnl_addr_alloc_cache(c->sk, &c->addrs);
	if (err < 0)
		return net_nl_fail("cannot list the addresses", err);
	if (!routes)
		return 0;
	err = rtnl_route_alloc_cache(c->sk, AF_UNSPEC, 0, &c->routes);
	return err < 0 ? net_nl_fail("cannot list the routes", err) : 0;
}

int net_collect_addrs(struct net_caches *c, int ifindex, NetDeviceEntry *nd, size_t max)
{
	struct nl_object *o;

	nd->ferry_addrs = calloc(max, sizeof(*nd->ferry_addrs));
	if (!nd->ferry_addrs)
		return -ENOMEM;
	for (o = nl_cache_get_first(c->addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;

		if (rtnl_addr_get_ifindex(a) != ifindex || !rtnl_addr_get_local(a))
			continue;
		if (nd->n_ferry_addrs == max) {
			pr_err("link %d has more than %zu addresses", ifindex, max);
			return -E2BIG;
		}
		nd->ferry_addrs[nd->n_ferry_addrs] = malloc(sizeof(FerryIfaddrEntry));
		if (!nd->ferry_addrs[nd->n_ferry_addrs])
			return -ENOMEM;
		net_fill_addr(a, nd->ferry_addrs[nd->n_ferry_addrs++]);
	}
	return 0;
}

void net_free_addrs(NetDeviceEntry *nd)
{
	size_t i;

	for (i = 0; i < nd->n_ferry_addrs; i++)
		free(nd->ferry_addrs[i]);
	free(nd->ferry_addrs);
	nd->ferry_addrs = NULL;
	nd->n_ferry_addrs = 0;
}
