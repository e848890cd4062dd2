// SPDX-License-Identifier: MIT
/*
 * IPv4/IPv6 sockets of one task, both halves: UDP (bound, connected, with its queued
 * datagrams and their senders) and TCP (closed, listening; established connections go to
 * sk-tcp.c with --tcp-established, or are restored closed with --tcp-close). Addresses
 * from getsockname/getpeername, TCP state and listen backlog from TCP_INFO, IP-level
 * options with getsockopt. Restore: socket, options, bind, queue, connect or listen.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "inet: "
#include "log.h"
#include "rst.h"
#include "sockets.h"

static int get_int(int sk, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);

	if (getsockopt(sk, level, name, val, &len)) {
		pr_perror("getsockopt(%d, %d)", level, name);
		return -errno;
	}
	return 0;
}

/* sockaddr <-> the image's port and 1 or 4 address words (network byte order). */
static int addr_to_entry(struct dtask *t, const struct sockaddr_storage *ss, uint32_t *port,
			 uint32_t **words, size_t *n)
{
	const struct sockaddr_in *in = (const void *)ss;
	const struct sockaddr_in6 *in6 = (const void *)ss;

	*n = ss->ss_family == AF_INET ? 1 : 4;
	*words = dtask_alloc(t, *n * sizeof(uint32_t));
	if (!*words)
		return -ENOMEM;
	if (ss->ss_family == AF_INET) {
		memcpy(*words, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
	} else {
		memcpy(*words, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	}
	return 0;
}

socklen_t sk_inet_addr(int family, const uint32_t *words, size_t n, uint32_t port,
		       struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		if (n >= 1)
			memcpy(&in->sin_addr, words, 4);
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	if (n >= 4)
		memcpy(&in6->sin6_addr, words, 16);
	in6->sin6_port = htons(port);
	return sizeof(*in6);
}

const char *sk_inet_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in *in = (const void *)ss;
	const struct sockaddr_in6 *in6 = (const void *)ss;
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(in->sin_port));
	} else {
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(in6->sin6_port));
	}
	return buf;
}

static int dump_ip_opts(struct dtask *t, int sk, InetSkEntry *e)
{
	bool v6 = e->family == AF_INET6;
	IpOptsEntry *ip = dtask_alloc(t, sizeof(*ip));
	int freebind, tos, ttl, v6only = 0, ret;

	if (!ip)
		return -ENOMEM;
	ip_opts_entry__init(ip);
	ret = get_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND, &freebind);
	ret = ret ?: get_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TCLASS : IP_TOS, &tos);
	ret = ret ?: get_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl);
	if (!ret && v6)
		ret = get_int(sk, SOL_IPV6, IPV6_V6ONLY, &v6only);
	if (ret)
		return ret;
	ip->has_freebind = freebind != 0, ip->freebind = freebind != 0;
	ip->has_ferry_tos = tos != 0, ip->ferry_tos = tos;
	ip->has_ferry_ttl = 1, ip->ferry_ttl = ttl;
	e->ip_opts = ip;
	e->has_v6only = v6, e->v6only = v6only != 0;
	return 0;
}

static int dump_tcp_opts(int sk, InetSkEntry *e)
{
	int nodelay, cork, ret;

	ret = get_int(sk, SOL_TCP, TCP_NODELAY, &nodelay);
	ret = ret ?: get_int(sk, SOL_TCP, TCP_CORK, &cork);
	e->has_ferry_nodelay = nodelay != 0, e->ferry_nodelay = nodelay != 0;
	e->has_ferry_cork = cork != 0, e->ferry_cork = cork != 0;
	return ret;
}

static int fill_addrs(struct dtask *t, int sk, InetSkEntry *e, struct sockaddr_storage *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int ret;

	if (getsockname(sk, (struct sockaddr *)&ss, &len)) {
		pr_perror("getsockname");
		return -errno;
	}
	ret = addr_to_entry(t, &ss, &e->src_port, &e->src_addr, &e->n_src_addr);
	if (ret)
		return ret;
	len = sizeof(*peer);
	if (getpeername(sk, (struct sockaddr *)peer, &len)) {
		peer->ss_family = AF_UNSPEC;
		return 0;
	}
	return addr_to_entry(t, peer, &e->dst_port, &e->dst_addr, &e->n_dst_addr);
}

/* TCP: the state, the listen backlog; pending connections and SYN states refuse. */
static int tcp_state(struct dtask *t, int sk, InetSkEntry *e, const char *where)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(sk, SOL_TCP, TCP_INFO, &ti, &len)) {
		pr_perror("TCP_INFO");
		return -errno;
	}
	e->state = ti.tcpi_state;
	if (e->state == TCP_LISTEN) {
		e->backlog = ti.tcpi_sacked;
		if (ti.tcpi_unacked) {
			pr_err("process %d: TCP listener %s has %u connections nobody accepted yet: "
			       "not supported yet", t->pid, where, ti.tcpi_unacked);
			return -EOPNOTSUPP;
		}
		return 0;
	}
	if (e->state == TCP_CLOSE)
		return 0;
	if (!tcp_state_connected(e->state)) {
		pr_err("process %d: TCP socket %s is in state %s: not supported (established, "
		       "half-closed, listening and closed sockets are)", t->pid, where,
		       tcp_state_name(e->state));
		return -EOPNOTSUPP;
	}
	if (t->sk_flags & SK_TCP_CLOSE) {
		pr_info("TCP connection %s (%s) is dumped closed (--tcp-close)", where,
			tcp_state_name(e->state));
		e->state = TCP_CLOSE;
		return 0;
	}
	if (t->sk_flags & SK_TCP_ESTABLISHED)
		return sk_tcp_dump(t, sk, e);
	pr_err("process %d: TCP connection %s is %s: dump with --tcp-established (kept, with "
	       "TCP repair) or --tcp-close (closed)", t->pid, where, tcp_state_name(e->state));
	return -EOPNOTSUPP;
}

static int dump_kind(struct dtask *t, int sk, InetSkEntry *e, const struct sockaddr_storage *p)
{
	struct sockaddr_storage self;
	socklen_t len = sizeof(self);
	char where[160], a[64];

	getsockname(sk, (struct sockaddr *)&self, &len);
	snprintf(where, sizeof(where), "%s", sk_inet_str(&self, a, sizeof(a)));
	if (p->ss_family != AF_UNSPEC)
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " -> %s",
			 sk_inet_str(p, a, sizeof(a)));
	if (e->type == SOCK_DGRAM && e->proto == IPPROTO_UDP) {
		e->state = p->ss_family == AF_UNSPEC ? TCP_CLOSE : TCP_ESTABLISHED;
		return sk_dump_queue(t, sk, e->id, true, false);
	}
	if (e->type == SOCK_STREAM && e->proto == IPPROTO_TCP)
		return dump_tcp_opts(sk, e) ?: tcp_state(t, sk, e, where);
	pr_err("process %d: inet socket %s of type %u protocol %u is not supported yet", t->pid,
	       where, e->type, e->proto);
	return -EOPNOTSUPP;
}

int sk_inet_dump(struct dtask *t, int sk, int family, const struct stat *st,
		 unsigned int flags, FileEntry *fe)
{
	InetSkEntry *e = dtask_alloc(t, sizeof(*e));
	SkOptsEntry *o = dtask_alloc(t, sizeof(*o));
	struct sockaddr_storage peer;
	int type, proto, ret;

	if (!e || !o)
		return -ENOMEM;
	ret = get_int(sk, SOL_SOCKET, SO_TYPE, &type);
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_PROTOCOL, &proto);
	if (ret)
		return ret;
	inet_sk_entry__init(e);
	e->fown = files_fown(t);
	if (!e->fown)
		return -ENOMEM;
	e->id = fe->id;
	e->ino = st->st_ino;
	e->family = family;
	e->type = type;
	e->proto = proto;
	e->flags = flags & ~O_CLOEXEC;
	e->opts = o;
	fe->type = FD_TYPES__INETSK;
	fe->isk = e;
	ret = fill_addrs(t, sk, e, &peer);
	ret = ret ?: sk_opts_dump(t, sk, o);
	ret = ret ?: dump_ip_opts(t, sk, e);
	ret = ret ?: dump_kind(t, sk, e, &peer);
	if (!ret)
		pr_debug("socket %u: inet family %u type %u state %u port %u -> %u", e->id,
			 e->family, e->type, e->state, e->src_port, e->dst_port);
	return ret;
}

/* --- restore ------------------------------------------------------------------------- */

int rst_inet_check(struct rst_task *t, const FileEntry *fe)
{
	const InetSkEntry *e = fe->isk;
	size_t words = e->family == AF_INET ? 1 : 4;
	bool udp = e->type == SOCK_DGRAM && e->proto == IPPROTO_UDP;
	bool tcp = e->type == SOCK_STREAM && e->proto == IPPROTO_TCP;

	if (e->id != fe->id || (e->family != AF_INET && e->family != AF_INET6) ||
	    (!udp && !tcp) || e->n_src_addr != words || e->src_port > 65535 ||
	    e->dst_port > 65535 || (e->n_dst_addr && e->n_dst_addr != words)) {
		pr_err("files.img: inet socket %u: bad family %u, type %u, protocol %u or address",
		       fe->id, e->family, e->type, e->proto);
		return -EINVAL;
	}
	if ((tcp_state_connected(e->state) && (!e->n_dst_addr || !e->dst_port)) ||
	    (e->state != TCP_CLOSE && e->state != TCP_ESTABLISHED &&
	     !(tcp && (e->state == TCP_LISTEN || tcp_state_connected(e->state))))) {
		pr_err("files.img: inet socket %u: state %u without what it needs", fe->id,
		       e->state);
		return -EINVAL;
	}
	if (tcp && tcp_state_connected(e->state))
		return rst_tcp_check(t, fe);
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

static int restore_ip_opts(int sk, const InetSkEntry *e)
{
	const IpOptsEntry *ip = e->ip_opts;
	bool v6 = e->family == AF_INET6;
	int lvl = v6 ? SOL_IPV6 : SOL_IP, ret = 0;

	if (!ip)
		return 0;
	if (ip->has_ferry_tos && ip->ferry_tos)
		ret = set_int(sk, lvl, v6 ? IPV6_TCLASS : IP_TOS, ip->ferry_tos);
	if (!ret && ip->has_ferry_ttl)
		ret = set_int(sk, lvl, v6 ? IPV6_UNICAST_HOPS : IP_TTL, ip->ferry_ttl);
	return ret;
}

/* Before bind: v6only, freebind, reuse, device; SO_REUSEADDR on until the end. */
static int before_bind(int sk, const InetSkEntry *e)
{
	bool v6 = e->family == AF_INET6;
	int ret = 0;

	if (v6)
		ret = set_int(sk, SOL_IPV6, IPV6_V6ONLY, e->v6only);
	if (!ret && e->ip_opts && e->ip_opts->freebind)
		ret = set_int(sk, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND, 1);
	ret = ret ?: sk_opts_restore_early(sk, e->opts);
	return ret ?: set_int(sk, SOL_SOCKET, SO_REUSEADDR, 1);
}

static bool is_any(const InetSkEntry *e)
{
	size_t i;

	for (i = 0; i < e->n_src_addr; i++)
		if (e->src_addr[i])
			return false;
	return true;
}

static int bind_one(const FileEntry *fe, int sk)
{
	const InetSkEntry *e = fe->isk;
	struct sockaddr_storage ss;
	socklen_t len;
	char a[64];

	if (!e->src_port && is_any(e))
		return 0;
	len = sk_inet_addr(e->family, e->src_addr, e->n_src_addr, e->src_port, &ss);
	if (bind(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("cannot bind inet socket %u to %s", fe->id,
			  sk_inet_str(&ss, a, sizeof(a)));
		return -errno;
	}
	return 0;
}

/* A datagram again, from its sender's address when that can be had (else any). */
static int send_dgram(const FileEntry *fe, const struct sk_msg *m, const struct sockaddr *to,
		      socklen_t to_len)
{
	int tmp = socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	ssize_t n;

	if (tmp < 0) {
		pr_perror("cannot create a socket to refill inet socket %u", fe->id);
		return -errno;
	}
	setsockopt(tmp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (m->addr_len && m->addr.ss_family == to->sa_family &&
	    bind(tmp, (const struct sockaddr *)&m->addr, m->addr_len))
		pr_debug("socket %u: a datagram's sender address is taken: sent from another",
			 fe->id);
	n = sendto(tmp, m->data, m->len, MSG_DONTWAIT, to, to_len);
	if (n != (ssize_t)m->len)
		pr_perror("socket %u: cannot queue a datagram of %u bytes again", fe->id, m->len);
	close(tmp);
	return n == (ssize_t)m->len ? 0 : -EIO;
}

/* Where a datagram must go to reach the socket bound to e: any address -> loopback. */
static socklen_t local_dest(const InetSkEntry *e, int sk, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	getsockname(sk, (struct sockaddr *)ss, &len);
	if (!is_any(e))
		return len;
	if (e->family == AF_INET)
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	return len;
}

static int fill_udp(struct rst_task *t, const FileEntry *fe, int sk)
{
	struct sockaddr_storage to;
	socklen_t len;
	size_t i;
	int ret = 0;

	if (!rst_sk_has_queue(t, fe->id))
		return 0;
	len = local_dest(fe->isk, sk, &to);
	for (i = 0; !ret && i < t->sk.n_msgs; i++)
		if (t->sk.msgs[i].id == fe->id)
			ret = send_dgram(fe, &t->sk.msgs[i], (struct sockaddr *)&to, len);
	return ret;
}

static int connect_one(const FileEntry *fe, int sk)
{
	const InetSkEntry *e = fe->isk;
	struct sockaddr_storage ss;
	socklen_t len;
	char a[64];

	len = sk_inet_addr(e->family, e->dst_addr, e->n_dst_addr, e->dst_port, &ss);
	if (connect(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("cannot connect inet socket %u to %s", fe->id,
			  sk_inet_str(&ss, a, sizeof(a)));
		return -errno;
	}
	return 0;
}

int rst_inet_reuseaddr(const FileEntry *fe, int sk)
{
	return set_int(sk, SOL_SOCKET, SO_REUSEADDR, fe->isk->opts->reuseaddr);
}

int rst_inet_finish(const FileEntry *fe, int sk)
{
	const InetSkEntry *e = fe->isk;
	bool connected = e->type == SOCK_STREAM && tcp_state_connected(e->state);
	int ret = 0;

	if (e->type == SOCK_STREAM && e->has_ferry_nodelay && e->ferry_nodelay)
		ret = set_int(sk, SOL_TCP, TCP_NODELAY, 1);
	if (!ret && e->type == SOCK_STREAM && e->has_ferry_cork && e->ferry_cork)
		ret = set_int(sk, SOL_TCP, TCP_CORK, 1);
	/* a connection in repair keeps the forced reuse for the sockets bound after it */
	if (!ret && !connected)
		ret = rst_inet_reuseaddr(fe, sk);
	ret = ret ?: restore_ip_opts(sk, e);
	ret = ret ?: sk_opts_restore(sk, e->opts);
	return ret ?: sk_set_flags(sk, e->flags);
}

int rst_inet_before_bind(const FileEntry *fe, int sk)
{
	return before_bind(sk, fe->isk);
}

int rst_inet_bind(const FileEntry *fe, int sk)
{
	return bind_one(fe, sk);
}

static int create_one(struct rst_task *t, const FileEntry *fe)
{
	const InetSkEntry *e = fe->isk;
	int sk, ret;

	sk = socket(e->family, e->type | SOCK_CLOEXEC, e->proto);
	if (sk < 0) {
		pr_perror("cannot create inet socket %u", fe->id);
		return -errno;
	}
	*rst_sk_slot(t, fe->id) = sk;
	ret = before_bind(sk, e);
	return ret ?: bind_one(fe, sk);
}

static int connect_listen(const FileEntry *fe, int sk)
{
	const InetSkEntry *e = fe->isk;

	if (e->state == TCP_ESTABLISHED)
		return connect_one(fe, sk);
	if (e->state == TCP_LISTEN && listen(sk, e->backlog)) {
		pr_perror("cannot listen on inet socket %u", fe->id);
		return -errno;
	}
	return 0;
}

/*
 * All bound first (with SO_REUSEADDR on, so that a datagram can be sent again from its
 * sender's address), then the queues, then connect or listen, then the real options.
 * Established TCP connections are sk-tcp.c's.
 */
enum inet_step { I_CREATE, I_FILL, I_CONNECT, I_FINISH, I_NR };

static int inet_step(struct rst_task *t, const FileEntry *fe, enum inet_step step)
{
	int sk = *rst_sk_slot(t, fe->id);

	if (fe->isk->type == SOCK_STREAM && tcp_state_connected(fe->isk->state))
		return step == I_CREATE ? rst_tcp_create(t, fe, rst_sk_slot(t, fe->id)) : 0;
	switch (step) {
	case I_CREATE:
		return create_one(t, fe);
	case I_FILL:
		return fe->isk->type == SOCK_DGRAM ? fill_udp(t, fe, sk) : 0;
	case I_CONNECT:
		return connect_listen(fe, sk);
	default:
		return rst_inet_finish(fe, sk);
	}
}

int rst_inet_create(struct rst_task *t)
{
	enum inet_step step;
	size_t i;
	int ret = 0;

	for (step = I_CREATE; !ret && step < I_NR; step++)
		for (i = 0; !ret && i < t->nr_files; i++)
			if (t->files[i]->type == FD_TYPES__INETSK)
				ret = inet_step(t, t->files[i], step);
	return ret ?: rst_tcp_finish(t);
}
