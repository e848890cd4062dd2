// SPDX-License-Identifier: MIT
/*
 * The host's network across a kexec (`ferry upgrade --tcp-established`). In the new
 * kernel's initramfs the links exist but have no addresses and no routes, and a repaired
 * TCP socket needs its local address to bind and a route to its peer to connect. Dump:
 * the links of ferry's network namespace that hold the local address of a dumped
 * connection, all their addresses, and the routes through them (host-netdev.img,
 * host-netns.img; libnl-route-3 caches). Restore: each link is found again by name (its
 * MAC compared), gets its addresses, goes up, and the routes are added; whatever is
 * there already (a restore by hand in a configured system) stays as it is.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#define LOG_PREFIX "net-host: "
#include "log.h"
#include "image.h"
#include "net.h"
#include "net-nl.h"
#include "sk-tcp.h"
#include "sockets.h"

#define HOST_MAX_LINKS 16
#define HOST_MAX_ADDRS 64
#define HOST_MAX_ROUTES 256
#define HOST_FLAGS (IFF_UP | IFF_NOARP | IFF_MULTICAST)

/* ---- dump ----------------------------------------------------------------------------- */

/* The link holding local address ss, or 0. */
static int link_of(struct net_caches *c, const struct sockaddr_storage *ss)
{
	const void *want = ss->ss_family == AF_INET ?
				   (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
				   (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	int len = net_addr_len(ss->ss_family);
	struct nl_object *o;

	for (o = nl_cache_get_first(c->addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *l = rtnl_addr_get_local(a);

		if (l && rtnl_addr_get_family(a) == ss->ss_family &&
		    (int)nl_addr_get_len(l) == len && !memcmp(nl_addr_get_binary_addr(l), want, len))
			return rtnl_addr_get_ifindex(a);
	}
	return 0;
}

static bool in_set(const int *set, size_t n, int v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

/* The links carrying the tree's connections into set[] (*n of them). */
static int connection_links(struct net_caches *c, const struct sk_dump *d, int *set, size_t *n)
{
	struct sockaddr_storage self;
	socklen_t len;
	char buf[64];
	size_t i;
	int ifindex;

	for (i = 0; i < d->n_tcp; i++) {
		len = sizeof(self);
		if (getsockname(d->tcp[i].sk, (struct sockaddr *)&self, &len)) {
			pr_perror("cannot read the address of TCP socket %u", d->tcp[i].id);
			return -errno;
		}
		ifindex = link_of(c, &self);
		if (!ifindex) {
			pr_warn("no link holds %s, the local address of TCP socket %u: the next "
				"boot must have it before the restore",
				sk_inet_str(&self, buf, sizeof(buf)), d->tcp[i].id);
			continue;
		}
		if (in_set(set, *n, ifindex))
			continue;
		if (*n == HOST_MAX_LINKS) {
			pr_err("the connections use more than %d links", HOST_MAX_LINKS);
			return -E2BIG;
		}
		set[(*n)++] = ifindex;
	}
	return 0;
}

static int dump_link(struct net_caches *c, int ifindex, struct img *img)
{
	NetDeviceEntry nd = NET_DEVICE_ENTRY__INIT;
	struct rtnl_link *l = rtnl_link_get(c->links, ifindex);
	int ret;

	if (!l) {
		pr_err("link %d is gone", ifindex);
		return -ENODEV;
	}
	nd.ifindex = ifindex;
	nd.mtu = rtnl_link_get_mtu(l);
	nd.flags = rtnl_link_get_flags(l);
	nd.name = (char *)rtnl_link_get_name(l);
	nd.type = rtnl_link_get_arptype(l) == ARPHRD_LOOPBACK ? ND_TYPE__LOOPBACK : ND_TYPE__EXTLINK;
	if (nd.type != ND_TYPE__LOOPBACK)
		nd.has_address = net_nl_bytes(rtnl_link_get_addr(l), &nd.address);
	ret = net_collect_addrs(c, ifindex, &nd, HOST_MAX_ADDRS);
	ret = ret ?: img_write_pb(img, &nd.base);
	if (!ret)
		pr_info("link %s (ifindex %d, mtu %u, %s): %zu addresses, for the next boot",
			nd.name, ifindex, nd.mtu, nd.flags & IFF_UP ? "up" : "down",
			nd.n_ferry_addrs);
	net_free_addrs(&nd);
	rtnl_link_put(l);
	return ret;
}

/* The routes through the links of set (the kernel's own are made again by the links). */
static int dump_routes(struct net_caches *c, const int *set, size_t n, int dirfd)
{
	NetnsEntry ne = NETNS_ENTRY__INIT;
	FerryRouteEntry *routes = calloc(HOST_MAX_ROUTES, sizeof(*routes));
	FerryRouteEntry **ptrs = calloc(HOST_MAX_ROUTES, sizeof(*ptrs));
	struct nl_object *o;
	int ret = routes && ptrs ? 0 : -ENOMEM;

	for (o = nl_cache_get_first(c->routes); o && !ret; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);

		if (!net_route_is_ours(r) || rtnl_route_get_nnexthops(r) != 1 || !nh ||
		    !in_set(set, n, rtnl_route_nh_get_ifindex(nh)))
			continue;
		if (ne.n_ferry_routes == HOST_MAX_ROUTES) {
			pr_err("more than %d routes through the connections' links", HOST_MAX_ROUTES);
			ret = -E2BIG;
			break;
		}
		ptrs[ne.n_ferry_routes] = &routes[ne.n_ferry_routes];
		ret = net_fill_route(r, &routes[ne.n_ferry_routes++]);
	}
	ne.ferry_routes = ptrs;
	if (!ret)
		ret = img_write_one(dirfd, IMG_HOST_NETNS, &ne.base);
	if (!ret)
		pr_info("%zu routes through them", ne.n_ferry_routes);
	free(routes);
	free(ptrs);
	return ret;
}

int hostnet_dump(const struct sk_dump *d, int dirfd)
{
	struct net_caches c = { 0 };
	int set[HOST_MAX_LINKS];
	struct img *img = NULL;
	size_t n = 0, i;
	int ret;

	if (!d || !d->n_tcp)
		return 0;
	ret = net_caches_fill(&c, true);
	ret = ret ?: connection_links(&c, d, set, &n);
	if (!ret && n) {
		img = img_open(dirfd, IMG_HOST_NETDEV, O_WRONLY);
		ret = img ? 0 : -EIO;
	}
	for (i = 0; !ret && i < n; i++)
		ret = dump_link(&c, set[i], img);
	if (img && img_close(img) && !ret)
		ret = -EIO;
	if (!ret && n)
		ret = dump_routes(&c, set, n, dirfd);
	net_caches_free(&c);
	return ret;
}

/* ---- restore -------------------------------------------------------------------------- */

struct host_links {
	NetDeviceEntry *nd[HOST_MAX_LINKS];
	int now[HOST_MAX_LINKS];	/* the ifindex of each in this boot */
	size_t n;
};

/* 0 with hl->n links (0 when the image is not there), or -errno. */
static int read_links(int dirfd, const char *images_dir, struct host_links *hl)
{
	struct img *img = img_open(dirfd, IMG_HOST_NETDEV, O_RDONLY | IMG_OPTIONAL);
	char file[PATH_MAX];
	uint64_t off;
	void *e;
	int ret;

	if (!img)
		return errno == ENOENT ? 0 : -errno;
	snprintf(file, sizeof(file), "%s/%s", images_dir, img->name);
	off = img->off;
	while ((ret = img_read_pb(img, &net_device_entry__descriptor, &e)) > 0) {
		if (hl->n == HOST_MAX_LINKS) {
			img_free_pb(e);
			pr_err("%s: more than %d links", file, HOST_MAX_LINKS);
			ret = -E2BIG;
			break;
		}
		hl->nd[hl->n++] = e;
		if (!net_valid_link(e, ND_TYPE__EXTLINK)) {
			ret = net_bad_link(e, file, off);
			break;
		}
		off = img->off;
	}
	img_close(img);
	return ret;
}

/* Find nd in this boot by name; a changed MAC is said (the peers' ARP caches are old). */
static int find_link(struct net_caches *c, const NetDeviceEntry *nd, int *ifindex)
{
	struct rtnl_link *l = rtnl_link_get_by_name(c->links, nd->name);
	struct nl_addr *mac;

	if (!l) {
		pr_err("link %s, which the TCP connections use, is not in this boot (is its "
		       "driver in the initramfs?)", nd->name);
		return -ENODEV;
	}
	*ifindex = rtnl_link_get_ifindex(l);
	mac = rtnl_link_get_addr(l);
	if (nd->has_address && nd->address.len && mac &&
	    (nl_addr_get_len(mac) != nd->address.len ||
	     memcmp(nl_addr_get_binary_addr(mac), nd->address.data, nd->address.len)))
		pr_warn("link %s has another MAC address than at the dump", nd->name);
	rtnl_link_put(l);
	return 0;
}

static int link_up(struct net_caches *c, const NetDeviceEntry *nd, int ifindex)
{
	struct rtnl_link *orig = rtnl_link_get(c->links, ifindex), *chg = rtnl_link_alloc();
	int err = -NLE_NOMEM;

	if (orig && chg) {
		if (rtnl_link_get_mtu(orig) != nd->mtu && nd->mtu >= 68)
			rtnl_link_set_mtu(chg, nd->mtu);
		rtnl_link_set_flags(chg, nd->flags & HOST_FLAGS);
		err = rtnl_link_change(c->sk, orig, chg, 0);
	}
	rtnl_link_put(chg);
	if (orig)
		rtnl_link_put(orig);
	if (err < 0) {
		pr_err("cannot bring link %s up: %s", nd->name, nl_geterror(err));
		return -EIO;
	}
	return 0;
}

static int setup_link(struct net_caches *c, struct host_links *hl, size_t i)
{
	NetDeviceEntry *nd = hl->nd[i];
	size_t k;
	int ret;

	ret = find_link(c, nd, &hl->now[i]);
	for (k = 0; !ret && k < nd->n_ferry_addrs; k++)
		ret = net_add_addr(c->sk, hl->now[i], nd->name, nd->ferry_addrs[k]);
	ret = ret ?: link_up(c, nd, hl->now[i]);
	if (!ret)
		pr_info("link %s (ifindex %d, was %u): up, %zu addresses", nd->name, hl->now[i],
			nd->ifindex, nd->n_ferry_addrs);
	return ret;
}

static int restore_routes(struct net_caches *c, const struct host_links *hl, int dirfd)
{
	NetnsEntry *ne = NULL;
	size_t i, k;
	int ret;

	ret = img_read_one(dirfd, IMG_HOST_NETNS, &netns_entry__descriptor, (void **)&ne);
	for (i = 0; !ret && i < ne->n_ferry_routes; i++) {
		const FerryRouteEntry *r = ne->ferry_routes[i];

		for (k = 0; k < hl->n && (!r->has_oif || hl->nd[k]->ifindex != r->oif); k++)
			;
		if (!net_valid_route(r) || !r->has_oif || k == hl->n) {
			pr_err("host-netns.img: route %zu is invalid or not through a saved link", i);
			ret = -EINVAL;
			break;
		}
		ret = net_add_route(c->sk, r, hl->now[k]);
	}
	if (!ret)
		pr_info("%zu routes", ne->n_ferry_routes);
	img_free_pb(ne);
	return ret;
}

int hostnet_restore(int dirfd, const char *images_dir)
{
	struct net_caches c = { 0 };
	struct host_links hl = { .n = 0 };
	size_t i;
	int ret;

	ret = read_links(dirfd, images_dir, &hl);
	if (ret || !hl.n)
		goto out;
	ret = net_caches_fill(&c, false);
	for (i = 0; !ret && i < hl.n; i++)
		ret = setup_link(&c, &hl, i);
	ret = ret ?: restore_routes(&c, &hl, dirfd);
	if (ret)
		pr_err("cannot bring back the host network of the TCP connections");
out:
	net_caches_free(&c);
	for (i = 0; i < hl.n; i++)
		img_free_pb(hl.nd[i]);
	return ret;
}
