// SPDX-License-Identifier: MIT
/*
 * Network lock (netlock.h) with libnftables: a table `inet ferry_lock_<PID>` with an
 * input and an output chain at a priority before conntrack and filter, one drop rule per
 * direction of each locked connection. Loopback packets pass output then input, so a
 * peer on the same host is blocked as well as a remote one. Packets marked NETLOCK_MARK
 * (the segments the restore forges to rebuild half-closed connections) pass.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <nftables/libnftables.h>

#define LOG_PREFIX "netlock: "
#include "log.h"
#include "netlock.h"

#define NFT_CMD_MAX 1024

static int nft_run(const char *cmd, bool quiet)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!nft) {
		pr_err("cannot create an nftables context");
		return -ENOMEM;
	}
	nft_ctx_buffer_error(nft);
	nft_ctx_buffer_output(nft);
	ret = nft_run_cmd_from_buffer(nft, cmd);
	if (ret && !quiet)
		pr_err("nftables refused '%s': %s", cmd, nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return ret ? -EIO : 0;
}

static void addr_port(const struct sockaddr_storage *ss, char *addr, size_t len, int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, len);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, len);
		*port = ntohs(in6->sin6_port);
	}
}

static int add_table(pid_t pid)
{
	char cmd[NFT_CMD_MAX];

	snprintf(cmd, sizeof(cmd),
		 "add table inet ferry_lock_%d\n"
		 "add chain inet ferry_lock_%d in { type filter hook input priority -310; }\n"
		 "add chain inet ferry_lock_%d out { type filter hook output priority -310; }\n",
		 pid, pid, pid);
	return nft_run(cmd, false);
}

int netlock_add(pid_t pid, const struct sockaddr_storage *self,
		const struct sockaddr_storage *peer)
{
	const char *ip = self->ss_family == AF_INET ? "ip" : "ip6";
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], cmd[NFT_CMD_MAX];
	int pa, pb, ret;

	ret = add_table(pid);
	if (ret)
		return ret;
	addr_port(self, a, sizeof(a), &pa);
	addr_port(peer, b, sizeof(b), &pb);
	snprintf(cmd, sizeof(cmd),
		 "add rule inet ferry_lock_%d out %s saddr %s %s daddr %s tcp sport %d tcp dport %d "
		 "meta mark != 0x%x drop\n"
		 "add rule inet ferry_lock_%d in %s saddr %s %s daddr %s tcp sport %d tcp dport %d "
		 "meta mark != 0x%x drop\n",
		 pid, ip, a, ip, b, pa, pb, NETLOCK_MARK, pid, ip, b, ip, a, pb, pa, NETLOCK_MARK);
	ret = nft_run(cmd, false);
	if (!ret)
		pr_info("locked %s:%d <-> %s:%d", a, pa, b, pb);
	return ret;
}

bool netlock_exists(pid_t pid)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "list table inet ferry_lock_%d", pid);
	return nft_run(cmd, true) == 0;
}

int netlock_remove(pid_t pid)
{
	char cmd[64];

	if (!netlock_exists(pid))
		return 0;
	snprintf(cmd, sizeof(cmd), "delete table inet ferry_lock_%d", pid);
	if (nft_run(cmd, false))
		return -EIO;
	pr_info("unlocked the connections of process %d", pid);
	return 0;
}

int netlock_probe(char *why, size_t len)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[96];
	int ret;

	if (!nft) {
		snprintf(why, len, "cannot create an nftables context");
		return -ENOMEM;
	}
	nft_ctx_buffer_error(nft);
	nft_ctx_buffer_output(nft);
	snprintf(cmd, sizeof(cmd), "add table inet ferry_probe_%d\ndelete table inet ferry_probe_%d\n",
		 getpid(), getpid());
	ret = nft_run_cmd_from_buffer(nft, cmd);
	if (ret)
		snprintf(why, len, "nftables: %.*s", (int)strcspn(nft_ctx_get_error_buffer(nft), "\n"),
			 nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return ret ? -EIO : 0;
}
