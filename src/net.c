// SPDX-License-Identifier: MIT
/*
 * Network namespaces, both directions. Dump: a child setns()es into the tree's network
 * namespace and saves its links (loopback; veth, whose host end must be named with
 * --external), their addresses, the routes the kernel did not make by itself and a set of
 * net.ipv4/ipv6.conf sysctls, read with libnl-route-3 (rtnl_link, rtnl_addr, rtnl_route
 * caches) and /proc/sys/net. Restore: the controller unshare(CLONE_NEWNET)s before the
 * first task and rebuilds the links (a veth's host end goes back into the old namespace
 * with IFLA_NET_NS_FD), sysctls, addresses and routes over rtnetlink.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#define LOG_PREFIX "net: "
#include "log.h"
#include "image.h"
#include "dtask.h"
#include "net.h"
#include "net-nl.h"
#include "netdev.pb-c.h"

#define NET_NS_ID 1
#define NET_MAX_LINKS 64
#define MAX_ADDRS 256
#define MAX_ROUTES 1024

/* The sysctls saved per link and for all/default, in image order (doc/images.md). */
static const char *const conf4_names[] = {
	"forwarding",	 "rp_filter",	 "accept_redirects", "send_redirects",
	"accept_source_route", "proxy_arp", "arp_ignore", "arp_announce", "log_martians",
};
static const char *const conf6_names[] = {
	"forwarding", "disable_ipv6", "accept_ra", "accept_redirects", "autoconf", "accept_dad",
	"hop_limit",
};
static const char *const unix_names[] = { "max_dgram_qlen" };	/* CRIU's unix_conf */
#define N_UNIX (sizeof(unix_names) / sizeof(unix_names[0]))
#define N_CONF4 (sizeof(conf4_names) / sizeof(conf4_names[0]))
#define N_CONF6 (sizeof(conf6_names) / sizeof(conf6_names[0]))

int net_parse_external(struct net_externals *ex, const char *arg)
{
	const char *close = strstr(arg, "]:");
	size_t inner_len;

	if (strncmp(arg, "veth[", 5) || !close)
		goto bad;
	inner_len = close - (arg + 5);
	if (inner_len == 0 || inner_len >= NET_IFNAMSIZ || !net_valid_ifname(close + 2))
		goto bad;
	if (ex->n == NET_MAX_EXTERNALS)
		return -E2BIG;
	memcpy(ex->veth[ex->n].inner, arg + 5, inner_len);
	ex->veth[ex->n].inner[inner_len] = '\0';
	if (!net_valid_ifname(ex->veth[ex->n].inner))
		goto bad;
	strcpy(ex->veth[ex->n].outer, close + 2);
	ex->n++;
	return 0;
bad:
	return -EINVAL;
}

static const char *external_name(const struct net_externals *ex, const char *inner)
{
	size_t i;

	for (i = 0; ex && i < ex->n; i++)
		if (!strcmp(ex->veth[i].inner, inner))
			return ex->veth[i].outer;
	return NULL;
}

/*
 * ---- sysctls of the current namespace: /proc/sys/net/FAM/conf/WHO/NAME, or with WHO NULL
 * /proc/sys/net/FAM/NAME ----------------------------------------------------------------
 */

static void read_conf(const char *fam, const char *who, const char *const *names, size_t n,
		      SysctlEntry *ents, SysctlEntry **ptrs)
{
	char path[128];
	size_t i;
	FILE *f;

	for (i = 0; i < n; i++) {
		sysctl_entry__init(&ents[i]);
		ents[i].type = SYSCTL_TYPE__CTL_32;
		ptrs[i] = &ents[i];
		if (who)
			snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", fam, who,
				 names[i]);
		else
			snprintf(path, sizeof(path), "/proc/sys/net/%s/%s", fam, names[i]);
		f = fopen(path, "re");
		if (!f)
			continue;	/* not in this kernel (or no IPv6): left out on restore */
		ents[i].has_iarg = fscanf(f, "%d", &ents[i].iarg) == 1;
		fclose(f);
	}
}

static int write_conf(const char *fam, const char *who, const char *const *names, size_t n,
		      SysctlEntry **ents, size_t n_ents)
{
	char path[128], val[16];
	size_t i;
	int fd, len;

	for (i = 0; i < n && i < n_ents; i++) {
		if (ents[i]->type != SYSCTL_TYPE__CTL_32 || !ents[i]->has_iarg)
			continue;
		if (who)
			snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", fam, who,
				 names[i]);
		else
			snprintf(path, sizeof(path), "/proc/sys/net/%s/%s", fam, names[i]);
		len = snprintf(val, sizeof(val), "%d", ents[i]->iarg);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;	/* not in this kernel */
		if (fd < 0 || write(fd, val, len) != len) {
			pr_perror("cannot set %s to %s", path, val);
			if (fd >= 0)
				close(fd);
			return -errno ? -errno : -EIO;
		}
		close(fd);
	}
	return 0;
}

/* ---- dump ----------------------------------------------------------------------------- */

struct dump_ctx {
	struct net_caches nc;
	const struct net_externals *ex;
	int dirfd;
	int err;
	size_t n_links;
};

/* The addresses of link ifindex, into nd (arrays freed by the caller). */
static void free_device(NetDeviceEntry *nd)
{
	net_free_addrs(nd);
	free(nd->conf4);
	free(nd->conf6);
}

/* Which kind of link: 0 and nd->type set, or -EOPNOTSUPP (logged, with the hint). */
static int link_kind(struct dump_ctx *c, struct rtnl_link *l, NetDeviceEntry *nd)
{
	const char *kind = rtnl_link_get_type(l), *name = rtnl_link_get_name(l);
	int32_t nsid;

	if (rtnl_link_get_arptype(l) == ARPHRD_LOOPBACK) {
		nd->type = ND_TYPE__LOOPBACK;
		return 0;
	}
	if (!kind || strcmp(kind, "veth")) {
		pr_err("link %s of the tree's network namespace is of kind %s: not supported "
		       "(only loopback and veth are)", name, kind ? kind : "none (a device)");
		return -EOPNOTSUPP;
	}
	nd->type = ND_TYPE__VETH;
	nd->has_peer_ifindex = 1, nd->peer_ifindex = rtnl_link_get_link(l);
	if (rtnl_link_get_link_netnsid(l, &nsid) < 0 || nsid < 0)
		return 0;	/* both ends inside: the pair is dumped as two links */
	nd->ferry_ext_name = (char *)external_name(c->ex, name);
	if (!nd->ferry_ext_name) {
		pr_err("veth %s has its peer outside the tree's network namespace: name the "
		       "host end with --external veth[%s]:HOSTNAME", name, name);
		return -EOPNOTSUPP;
	}
	nd->has_peer_nsid = 1, nd->peer_nsid = nsid;
	return 0;
}

static int dump_link(struct dump_ctx *c, struct rtnl_link *l, struct img *img)
{
	NetDeviceEntry nd = NET_DEVICE_ENTRY__INIT;
	SysctlEntry c4[N_CONF4], c6[N_CONF6];
	int ret;

	nd.ifindex = rtnl_link_get_ifindex(l);
	nd.mtu = rtnl_link_get_mtu(l);
	nd.flags = rtnl_link_get_flags(l);
	nd.name = (char *)rtnl_link_get_name(l);
	ret = link_kind(c, l, &nd);
	if (ret)
		return ret;
	if (nd.type != ND_TYPE__LOOPBACK)
		nd.has_address = net_nl_bytes(rtnl_link_get_addr(l), &nd.address);
	nd.conf4 = calloc(N_CONF4, sizeof(*nd.conf4));
	nd.conf6 = calloc(N_CONF6, sizeof(*nd.conf6));
	ret = nd.conf4 && nd.conf6 ? net_collect_addrs(&c->nc, nd.ifindex, &nd, MAX_ADDRS) : -ENOMEM;
	if (!ret) {
		read_conf("ipv4", nd.name, conf4_names, N_CONF4, c4, nd.conf4);
		read_conf("ipv6", nd.name, conf6_names, N_CONF6, c6, nd.conf6);
		nd.n_conf4 = N_CONF4, nd.n_conf6 = N_CONF6;
		ret = img ? img_write_pb(img, &nd.base) : 0;
	}
	if (!ret)
		pr_info("link %s (%s, ifindex %u, mtu %u, %s): %zu addresses", nd.name,
			nd.type == ND_TYPE__LOOPBACK ? "loopback" : "veth", nd.ifindex, nd.mtu,
			nd.flags & IFF_UP ? "up" : "down", nd.n_ferry_addrs);
	free_device(&nd);
	return ret;
}

static int dump_links(struct dump_ctx *c)
{
	struct img *img = NULL;
	struct nl_object *o;
	int ret = 0;

	if (c->dirfd >= 0) {	/* else a dry run: only the checks */
		img = img_open(c->dirfd, IMG_NETDEV, O_WRONLY, NET_NS_ID);
		if (!img)
			return -errno;
	}
	for (o = nl_cache_get_first(c->nc.links); o && !ret; o = nl_cache_get_next(o)) {
		if (++c->n_links > NET_MAX_LINKS) {
			pr_err("more than %d links in the tree's network namespace", NET_MAX_LINKS);
			ret = -E2BIG;
			break;
		}
		ret = dump_link(c, (struct rtnl_link *)o, img);
	}
	if (img && img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

static int dump_netns(struct dump_ctx *c)
{
	NetnsEntry ne = NETNS_ENTRY__INIT;
	SysctlEntry a4[N_CONF4], d4[N_CONF4], a6[N_CONF6], d6[N_CONF6];
	SysctlEntry *pa4[N_CONF4], *pd4[N_CONF4], *pa6[N_CONF6], *pd6[N_CONF6];
	SysctlEntry un[N_UNIX], *pun[N_UNIX];
	FerryRouteEntry *routes = calloc(MAX_ROUTES, sizeof(*routes));
	FerryRouteEntry **ptrs = calloc(MAX_ROUTES, sizeof(*ptrs));
	struct nl_object *o;
	int ret = routes && ptrs ? 0 : -ENOMEM;

	for (o = nl_cache_get_first(c->nc.routes); o && !ret; o = nl_cache_get_next(o)) {
		if (!net_route_is_ours((struct rtnl_route *)o))
			continue;
		if (ne.n_ferry_routes == MAX_ROUTES) {
			pr_err("more than %d routes in the tree's network namespace", MAX_ROUTES);
			ret = -E2BIG;
			break;
		}
		ptrs[ne.n_ferry_routes] = &routes[ne.n_ferry_routes];
		ret = net_fill_route((struct rtnl_route *)o, &routes[ne.n_ferry_routes++]);
	}
	read_conf("ipv4", "all", conf4_names, N_CONF4, a4, pa4);
	read_conf("ipv4", "default", conf4_names, N_CONF4, d4, pd4);
	read_conf("ipv6", "all", conf6_names, N_CONF6, a6, pa6);
	read_conf("ipv6", "default", conf6_names, N_CONF6, d6, pd6);
	ne.all_conf4 = pa4, ne.def_conf4 = pd4, ne.n_all_conf4 = ne.n_def_conf4 = N_CONF4;
	ne.all_conf6 = pa6, ne.def_conf6 = pd6, ne.n_all_conf6 = ne.n_def_conf6 = N_CONF6;
	read_conf("unix", NULL, unix_names, N_UNIX, un, pun);
	ne.unix_conf = pun, ne.n_unix_conf = N_UNIX;
	ne.ferry_routes = ptrs;
	if (!ret && c->dirfd >= 0)
		ret = img_write_one(c->dirfd, IMG_NETNS, &ne.base, NET_NS_ID);
	if (!ret)
		pr_info("network namespace: %zu links, %zu routes", c->n_links, ne.n_ferry_routes);
	free(routes);
	free(ptrs);
	return ret;
}

/* In a child inside the tree's network namespace. */
static int dump_in_ns(int nsfd, int dirfd, const struct net_externals *ex)
{
	struct dump_ctx c = { .dirfd = dirfd, .ex = ex };
	int ret;

	if (setns(nsfd, CLONE_NEWNET)) {
		pr_perror("cannot enter the tree's network namespace");
		return -errno;
	}
	ret = net_caches_fill(&c.nc, true);
	if (!ret)
		ret = dump_links(&c);
	if (!ret)
		ret = dump_netns(&c);
	net_caches_free(&c.nc);
	return ret;
}

static int ns_ino(pid_t pid, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, st)) {
		pr_perror("cannot look at the network namespace of %d", pid);
		return -errno;
	}
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

/* 1 when the tree has a network namespace of its own, 0 when it is ours, -errno. */
static int tree_own_ns(struct dtask **tasks, size_t n)
{
	struct stat root, other, self;
	size_t i;

	if (ns_ino(tasks[0]->pid, &root) || ns_ino(getpid(), &self))
		return -ENOENT;
	for (i = 1; i < n; i++) {
		if (tasks[i]->zombie)
			continue;
		if (ns_ino(tasks[i]->pid, &other))
			return -ENOENT;
		if (!same_file(&root, &other)) {
			pr_err("task %d is in another network namespace than the root %d: "
			       "nested network namespaces are not supported", tasks[i]->pid,
			       tasks[0]->pid);
			return -EOPNOTSUPP;
		}
	}
	return !same_file(&root, &self);
}

static int dump_ns_of(pid_t pid, int dirfd, const struct net_externals *ex)
{
	char path[64];
	int nsfd, status;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	child = fork();
	if (child == 0)
		_exit(-dump_in_ns(nsfd, dirfd, ex) & 0xff);
	close(nsfd);
	if (child < 0) {
		pr_perror("cannot fork to dump the network namespace");
		return -errno;
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		return -EIO;
	if (WEXITSTATUS(status)) {
		pr_err("cannot dump the network namespace of %d", pid);
		return -WEXITSTATUS(status);
	}
	return 0;
}

int net_dump_tree(struct dtask **tasks, size_t n, int dirfd, const struct net_externals *ex)
{
	size_t i;
	int ret;

	ret = tree_own_ns(tasks, n);
	if (ret <= 0)
		return ret;
	ret = dump_ns_of(tasks[0]->pid, dirfd, ex);
	for (i = 0; !ret && dirfd >= 0 && i < n; i++) {
		tasks[i]->ids.has_net_ns_id = 1;
		tasks[i]->ids.net_ns_id = NET_NS_ID;
	}
	return ret;
}

/* ---- restore -------------------------------------------------------------------------- */

static int old_netns = -1;	/* the controller's namespace while it is in the tree's */

/* Loopback or veth; loopback is link 1, a veth with its peer outside has the host name. */
static int check_device(const NetDeviceEntry *nd, const char *file, uint64_t off)
{
	if (!net_valid_link(nd, ND_TYPE__VETH) ||
	    (nd->type == ND_TYPE__LOOPBACK && nd->ifindex != 1) ||
	    (nd->type == ND_TYPE__VETH && nd->has_peer_nsid &&
	     (!nd->ferry_ext_name || !net_valid_ifname(nd->ferry_ext_name))))
		return net_bad_link(nd, file, off);
	return 0;
}

/* The flags a restore sets on a link; the others are the kernel's to report. */
#define LINK_FLAGS (IFF_UP | IFF_NOARP | IFF_PROMISC | IFF_ALLMULTI | IFF_MULTICAST)

/* MTU, MAC and flags as dumped, but down: a link goes up once its sysctls are set. */
static void set_link_attrs(struct rtnl_link *l, const NetDeviceEntry *nd)
{
	struct nl_addr *mac;

	rtnl_link_set_mtu(l, nd->mtu);
	if (nd->has_address && nd->address.len) {
		mac = nl_addr_build(AF_LLC, nd->address.data, nd->address.len);
		if (mac) {
			rtnl_link_set_addr(l, mac);
			nl_addr_put(mac);
		}
	}
	rtnl_link_set_flags(l, nd->flags & LINK_FLAGS & ~(unsigned)IFF_UP);
	rtnl_link_unset_flags(l, ~nd->flags & LINK_FLAGS);
}

/*
 * A veth pair: nd inside, its peer either inside too (inner, as dumped) or in ferry's
 * namespace named outer.
 */
static int create_veth(struct nl_sock *sk, const NetDeviceEntry *nd, const NetDeviceEntry *inner,
		       const char *outer)
{
	struct rtnl_link *l = rtnl_link_veth_alloc(), *peer;
	int err;

	if (!l)
		return -ENOMEM;
	peer = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(l, nd->name);
	rtnl_link_set_ifindex(l, nd->ifindex);
	set_link_attrs(l, nd);
	if (inner) {
		rtnl_link_set_name(peer, inner->name);
		rtnl_link_set_ifindex(peer, inner->ifindex);
		set_link_attrs(peer, inner);
	} else {
		rtnl_link_set_name(peer, outer);
		rtnl_link_set_ns_fd(peer, old_netns);
	}
	err = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(peer);
	rtnl_link_veth_release(l);
	if (err < 0) {
		pr_err("cannot create veth %s with its peer %s: %s", nd->name,
		       inner ? inner->name : outer, nl_geterror(err));
		return -EIO;
	}
	pr_info("veth %s (ifindex %u), peer %s%s", nd->name, nd->ifindex,
		inner ? inner->name : outer, inner ? "" : " in the host's namespace");
	return 0;
}

/* Change an existing link (lo) as nd says; with up, only its IFF_UP. */
static int change_link(struct nl_sock *sk, const NetDeviceEntry *nd, bool up)
{
	struct rtnl_link *orig = NULL, *chg = rtnl_link_alloc();
	int err;

	if (!chg)
		return -ENOMEM;
	err = rtnl_link_get_kernel(sk, nd->ifindex, NULL, &orig);
	if (err >= 0) {
		if (up)
			rtnl_link_set_flags(chg, nd->flags & IFF_UP);
		else
			set_link_attrs(chg, nd);
		err = rtnl_link_change(sk, orig, chg, 0);
	}
	rtnl_link_put(chg);
	if (orig)
		rtnl_link_put(orig);
	if (err < 0) {
		pr_err("cannot set up link %s (ifindex %u): %s", nd->name, nd->ifindex,
		       nl_geterror(err));
		return -EIO;
	}
	return 0;
}

struct rst_links {
	NetDeviceEntry *nd[NET_MAX_LINKS];
	size_t n;
};

static int read_links(int dirfd, const char *images_dir, struct rst_links *rl)
{
	struct img *img = img_open(dirfd, IMG_NETDEV, O_RDONLY, NET_NS_ID);
	char file[PATH_MAX];
	uint64_t off = img ? img->off : 0;
	void *e;
	int ret;

	if (!img)
		return -errno;
	snprintf(file, sizeof(file), "%s/%s", images_dir, img->name);
	while ((ret = img_read_pb(img, &net_device_entry__descriptor, &e)) > 0) {
		rl->nd[rl->n++] = e;
		ret = check_device(e, file, off);
		off = img->off;
		if (!ret && rl->n == NET_MAX_LINKS) {
			pr_err("%s: more than %d links", file, NET_MAX_LINKS);
			ret = -E2BIG;
		}
		if (ret)
			break;
	}
	img_close(img);
	return ret;
}

static NetDeviceEntry *find_link(const struct rst_links *rl, uint32_t ifindex)
{
	size_t i;

	for (i = 0; i < rl->n; i++)
		if (rl->nd[i]->ifindex == ifindex)
			return rl->nd[i];
	return NULL;
}

static bool has_link(const struct rst_links *rl, uint32_t ifindex)
{
	return find_link(rl, ifindex) != NULL;
}

/* Create nd if it is a veth: with its host end, or with its inner peer (once per pair). */
static int create_link(struct nl_sock *sk, const struct rst_links *rl, const NetDeviceEntry *nd,
		       const struct net_externals *ex)
{
	const char *outer = external_name(ex, nd->name);
	const NetDeviceEntry *peer;

	if (nd->type != ND_TYPE__VETH)
		return 0;
	if (nd->has_peer_nsid)
		return create_veth(sk, nd, NULL, outer ? outer : nd->ferry_ext_name);
	peer = nd->has_peer_ifindex ? find_link(rl, nd->peer_ifindex) : NULL;
	if (!peer || peer == nd || peer->type != ND_TYPE__VETH || peer->has_peer_nsid ||
	    !peer->has_peer_ifindex || peer->peer_ifindex != nd->ifindex) {
		pr_err("netdev-%d.img: veth %s has no peer among the links", NET_NS_ID, nd->name);
		return -EINVAL;
	}
	return nd->ifindex < peer->ifindex ? create_veth(sk, nd, peer, NULL) : 0;
}

static int check_route(const FerryRouteEntry *r, const struct rst_links *rl)
{
	char buf[INET6_ADDRSTRLEN] = "default";

	if (!net_valid_route(r) || (r->has_oif && !has_link(rl, r->oif))) {
		if (r->has_dst && net_addr_len(r->family) > 0)
			inet_ntop(r->family, r->dst.data, buf, sizeof(buf));
		pr_err("netns-%d.img: route to %s/%u is invalid", NET_NS_ID, buf, r->dst_len);
		return -EINVAL;
	}
	return 0;
}

static int restore_conf_ns(const NetnsEntry *ne)
{
	int ret;

	ret = write_conf("ipv4", "all", conf4_names, N_CONF4, ne->all_conf4, ne->n_all_conf4);
	if (!ret)
		ret = write_conf("ipv4", "default", conf4_names, N_CONF4, ne->def_conf4,
				 ne->n_def_conf4);
	if (!ret)
		ret = write_conf("ipv6", "all", conf6_names, N_CONF6, ne->all_conf6,
				 ne->n_all_conf6);
	if (!ret)
		ret = write_conf("ipv6", "default", conf6_names, N_CONF6, ne->def_conf6,
				 ne->n_def_conf6);
	if (!ret)
		ret = write_conf("unix", NULL, unix_names, N_UNIX, ne->unix_conf, ne->n_unix_conf);
	return ret;
}

/* Links, then their sysctls, up, addresses; then the routes over them. */
static int rebuild(struct nl_sock *sk, struct rst_links *rl, const NetnsEntry *ne,
		   const struct net_externals *ex)
{
	size_t i, k;
	int ret = restore_conf_ns(ne);

	for (i = 0; !ret && i < rl->n; i++)
		ret = create_link(sk, rl, rl->nd[i], ex);
	for (i = 0; !ret && i < rl->n; i++) {
		NetDeviceEntry *nd = rl->nd[i];

		if (nd->type == ND_TYPE__LOOPBACK)
			ret = change_link(sk, nd, false);
		if (!ret)
			ret = write_conf("ipv4", nd->name, conf4_names, N_CONF4, nd->conf4,
					 nd->n_conf4);
		if (!ret)
			ret = write_conf("ipv6", nd->name, conf6_names, N_CONF6, nd->conf6,
					 nd->n_conf6);
		if (!ret)
			ret = change_link(sk, nd, true);
		for (k = 0; !ret && k < nd->n_ferry_addrs; k++)
			ret = net_add_addr(sk, nd->ifindex, nd->name, nd->ferry_addrs[k]);
	}
	for (i = 0; !ret && i < ne->n_ferry_routes; i++)
		ret = check_route(ne->ferry_routes[i], rl);
	for (i = 0; !ret && i < ne->n_ferry_routes; i++)
		ret = net_add_route(sk, ne->ferry_routes[i], ne->ferry_routes[i]->oif);
	return ret;
}

static int enter_new_ns(void)
{
	old_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (old_netns < 0) {
		pr_perror("cannot open our network namespace");
		return -errno;
	}
	if (unshare(CLONE_NEWNET)) {
		pr_perror("cannot create a network namespace for the restored tree");
		close(old_netns);
		old_netns = -1;
		return -errno;
	}
	return 0;
}

int net_restore(int dirfd, const char *images_dir, const TaskKobjIdsEntry *ids,
		const struct net_externals *ex)
{
	struct rst_links rl = { .n = 0 };
	NetnsEntry *ne = NULL;
	struct nl_sock *sk = NULL;
	size_t i;
	int ret;

	if (!ids->has_net_ns_id)
		return 0;
	if (ids->net_ns_id != NET_NS_ID) {
		pr_err("ids: network namespace id %u, expected %d", ids->net_ns_id, NET_NS_ID);
		return -EINVAL;
	}
	ret = img_read_one(dirfd, IMG_NETNS, &netns_entry__descriptor, (void **)&ne, NET_NS_ID);
	if (!ret)
		ret = read_links(dirfd, images_dir, &rl);
	if (!ret)
		ret = enter_new_ns();
	if (!ret) {
		sk = net_rtnl_open();
		ret = sk ? rebuild(sk, &rl, ne, ex) : -EIO;
	}
	if (!ret)
		pr_info("the tree runs in a new network namespace: %zu links, %zu routes", rl.n,
			ne->n_ferry_routes);
	if (sk)
		nl_socket_free(sk);
	for (i = 0; i < rl.n; i++)
		img_free_pb(rl.nd[i]);
	img_free_pb(ne);
	return ret;
}

void net_restore_leave(void)
{
	if (old_netns < 0)
		return;
	if (setns(old_netns, CLONE_NEWNET))
		pr_perror("cannot go back to our network namespace");
	close(old_netns);
	old_netns = -1;
}
