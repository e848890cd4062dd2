/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink helpers (net-nl.c, libnl-route-3) shared by the network namespace images
 * (net.c) and the host network carried across a kexec (net-host.c).
 */
#ifndef FERRY_NET_NL_H
#define FERRY_NET_NL_H

#include <stdbool.h>
#include <stdint.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

#include "netdev.pb-c.h"

/* A rtnl socket and what it listed: links, addresses, routes (when asked). */
struct net_caches {
	struct nl_sock *sk;
	struct nl_cache *links, *addrs, *routes;
};

/* Open the socket and fill the caches of this namespace (free with net_caches_free, always). */
int net_caches_fill(struct net_caches *c, bool routes);
void net_caches_free(struct net_caches *c);
/* The addresses of link ifindex into nd->ferry_addrs (at most max; free with net_free_addrs). */
int net_collect_addrs(struct net_caches *c, int ifindex, NetDeviceEntry *nd, size_t max);
void net_free_addrs(NetDeviceEntry *nd);
/* Log what failed with libnl's text for err; -EIO. */
int net_nl_fail(const char *what, int err);
/* A connected NETLINK_ROUTE socket, or NULL (logged). */
struct nl_sock *net_rtnl_open(void);
/* A link name from the options or the images (it goes into /proc/sys paths). */
bool net_valid_ifname(const char *s);
/* 4 (AF_INET), 16 (AF_INET6), else -1. */
int net_addr_len(uint32_t family);
/* Not has, or b is an address of family. */
bool net_valid_bytes(uint32_t family, bool has, const ProtobufCBinaryData *b);
/* The bytes of a (kept by a: valid while a is); 1, or 0 when a is empty. */
int net_nl_bytes(struct nl_addr *a, ProtobufCBinaryData *out);
struct nl_addr *net_make_addr(uint32_t family, const ProtobufCBinaryData *b,
			      unsigned int prefixlen);
/* An address of a link into its image entry (bytes borrowed from a). */
void net_fill_addr(struct rtnl_addr *a, FerryIfaddrEntry *e);
/* Not the kernel's own (made from addresses and links, or in the local table). */
bool net_route_is_ours(struct rtnl_route *r);
/* A route into its image entry (bytes borrowed from r); -EOPNOTSUPP for multipath. */
int net_fill_route(struct rtnl_route *r, FerryRouteEntry *e);
/* Add e to link ifindex (named ifname in messages); one already there is fine. */
int net_add_addr(struct nl_sock *sk, int ifindex, const char *ifname, const FerryIfaddrEntry *e);
/* Add route e through link oif (when e has one); one already there is fine. */
int net_add_route(struct nl_sock *sk, const FerryRouteEntry *e, int oif);

/* An address entry of an image: family, lengths and prefix in range. */
bool net_valid_ifaddr(const FerryIfaddrEntry *a);
/* A route entry of an image: the same, and its fields within what rtnetlink carries. */
bool net_valid_route(const FerryRouteEntry *r);
/* A link entry of an image: name, ifindex, MAC length, addresses; loopback or type. */
bool net_valid_link(const NetDeviceEntry *nd, int type);
/* Say that the link entry at off of file is invalid; -EINVAL. */
int net_bad_link(const NetDeviceEntry *nd, const char *file, uint64_t off);

#endif
