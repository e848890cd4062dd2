/* SPDX-License-Identifier: MIT */
/*
 * Network namespaces (net.c): a tree in a network namespace of its own has its links,
 * addresses, routes and sysctls dumped (netdev-1.img, netns-1.img); a restore recreates
 * the namespace in the controller, before the first task, with libnl-route-3.
 */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stddef.h>

#include "core.pb-c.h"

#define NET_MAX_EXTERNALS 16
#define NET_IFNAMSIZ 16	/* IFNAMSIZ, without <net/if.h> (which clashes with <linux/if.h>) */

/* --external veth[IFNAME]:HOSTNAME: the host end of the tree's veth IFNAME. */
struct net_externals {
	size_t n;
	struct {
		char inner[NET_IFNAMSIZ];
		char outer[NET_IFNAMSIZ];
	} veth[NET_MAX_EXTERNALS];
};

/*
 * Add one --external argument: -EINVAL when it is not veth[IFNAME]:HOSTNAME, -E2BIG past
 * NET_MAX_EXTERNALS (not logged: the command line's error says it).
 */
#define NET_EXTERNAL_HINT \
	"expected veth[IFNAME]:HOSTNAME (the tree's end and the host's, 1-15 characters each, " \
	"at most 16 veths)"
int net_parse_external(struct net_externals *ex, const char *arg);

struct dtask;
/*
 * Dump: the tasks must share one network namespace; when it is not ferry's, write its
 * images and set every task's ids.net_ns_id. Each veth whose peer is outside must be
 * named in ex. With dirfd -1 (a dry run), only the checks: nothing written or set.
 */
int net_dump_tree(struct dtask **tasks, size_t n, int dirfd, const struct net_externals *ex);

/*
 * Restore, in the controller before the first task: if ids has a network namespace,
 * unshare a new one and rebuild it (host ends of veths named by ex, else as dumped).
 * The controller stays in it until net_restore_leave().
 */
int net_restore(int dirfd, const char *images_dir, const TaskKobjIdsEntry *ids,
		const struct net_externals *ex);
/* Back into the network namespace the controller came from (after the tasks exist). */
void net_restore_leave(void);

struct sk_dump;
/*
 * net-host.c, for `ferry upgrade`: the links of ferry's network namespace that carry the
 * local addresses of the tree's TCP connections (d, may be NULL), their addresses and
 * routes into host-netdev.img and host-netns.img, for the next kernel's early boot.
 */
int hostnet_dump(const struct sk_dump *d, int dirfd);
/*
 * Restore, before the first socket: with host-netdev.img, each of its links (found by
 * name) gets its addresses, goes up, and the routes come back. No image: nothing, 0.
 */
int hostnet_restore(int dirfd, const char *images_dir);

#endif
