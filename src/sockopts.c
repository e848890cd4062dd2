// SPDX-License-Identifier: MIT
/*
 * Socket options shared by every family (sk_opts_entry): buffer sizes, timeouts,
 * SO_REUSEADDR/REUSEPORT, SO_KEEPALIVE with TCP_KEEPIDLE/INTVL/CNT, SO_LINGER,
 * SO_PRIORITY, SO_MARK, SO_RCVLOWAT, SO_PASSCRED, SO_BROADCAST, SO_DONTROUTE,
 * SO_OOBINLINE, SO_BINDTODEVICE; and the O_NONBLOCK of the file. getsockopt on the
 * dump side (on ferry's copy of the socket), setsockopt on the restore side.
 */
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#define LOG_PREFIX "sockets: "
#include "log.h"
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

static int set_int(int sk, int level, int name, int val)
{
	if (setsockopt(sk, level, name, &val, sizeof(val))) {
		pr_perror("setsockopt(%d, %d, %d)", level, name, val);
		return -errno;
	}
	return 0;
}

static int get_tmo(int sk, int name, uint64_t *sec, uint64_t *usec)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(sk, SOL_SOCKET, name, &tv, &len)) {
		pr_perror("getsockopt(SOL_SOCKET, %d)", name);
		return -errno;
	}
	*sec = tv.tv_sec, *usec = tv.tv_usec;
	return 0;
}

/* Boolean options: dumped when set, restored when set. */
#define BOOL_OPT(name, field) { name, offsetof(SkOptsEntry, field), \
				offsetof(SkOptsEntry, has_##field) }
static const struct {
	int name;
	size_t off, has_off;
} bool_opts[] = {
	BOOL_OPT(SO_REUSEADDR, reuseaddr), BOOL_OPT(SO_REUSEPORT, so_reuseport),
	BOOL_OPT(SO_PASSCRED, so_passcred), BOOL_OPT(SO_DONTROUTE, so_dontroute),
	BOOL_OPT(SO_BROADCAST, so_broadcast), BOOL_OPT(SO_KEEPALIVE, so_keepalive),
};

static int dump_bools(int sk, SkOptsEntry *o)
{
	size_t i;
	int v, ret;

	for (i = 0; i < sizeof(bool_opts) / sizeof(bool_opts[0]); i++) {
		socklen_t len = sizeof(v);

		/* not every family has every option (SO_PASSCRED: unix, netlink) */
		v = 0;
		ret = getsockopt(sk, SOL_SOCKET, bool_opts[i].name, &v, &len) ? -errno : 0;
		if (ret && ret != -EOPNOTSUPP && ret != -ENOPROTOOPT) {
			pr_perror("getsockopt(SOL_SOCKET, %d)", bool_opts[i].name);
			return ret;
		}
		*(protobuf_c_boolean *)((char *)o + bool_opts[i].off) = v != 0;
		*(protobuf_c_boolean *)((char *)o + bool_opts[i].has_off) = v != 0;
	}
	return 0;
}

static int dump_keepalive(int sk, int type, SkOptsEntry *o)
{
	int cnt, idle, intvl, proto = 0, ret;
	socklen_t len = sizeof(proto);

	if (type != SOCK_STREAM || getsockopt(sk, SOL_SOCKET, SO_PROTOCOL, &proto, &len) ||
	    proto != IPPROTO_TCP)
		return 0;
	ret = get_int(sk, SOL_TCP, TCP_KEEPCNT, &cnt);
	ret = ret ?: get_int(sk, SOL_TCP, TCP_KEEPIDLE, &idle);
	ret = ret ?: get_int(sk, SOL_TCP, TCP_KEEPINTVL, &intvl);
	if (ret)
		return ret;
	o->has_tcp_keepcnt = o->has_tcp_keepidle = o->has_tcp_keepintvl = 1;
	o->tcp_keepcnt = cnt, o->tcp_keepidle = idle, o->tcp_keepintvl = intvl;
	return 0;
}

static int dump_misc(struct dtask *t, int sk, SkOptsEntry *o)
{
	char dev[IFNAMSIZ] = "";
	socklen_t len = sizeof(dev);
	struct linger lg;
	int v, ret;

	ret = get_int(sk, SOL_SOCKET, SO_PRIORITY, &v);
	o->has_so_priority = !ret && v, o->so_priority = v;
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_MARK, &v);
	o->has_so_mark = !ret && v, o->so_mark = v;
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_RCVLOWAT, &v);
	o->has_so_rcvlowat = !ret && v != 1, o->so_rcvlowat = v;
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_OOBINLINE, &v);
	o->has_so_oobinline = !ret && v, o->so_oobinline = v;
	if (ret)
		return ret;
	len = sizeof(lg);
	if (getsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, &len))
		return -errno;
	o->has_so_linger = lg.l_onoff != 0, o->so_linger = lg.l_linger;
	len = sizeof(dev);
	if (getsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, dev, &len))
		return -errno;
	if (len > 0 && dev[0]) {
		dev[IFNAMSIZ - 1] = 0;
		o->so_bound_dev = dtask_strdup(t, dev);
		if (!o->so_bound_dev)
			return -ENOMEM;
	}
	return 0;
}

int sk_opts_dump(struct dtask *t, int sk, SkOptsEntry *o)
{
	int sndbuf, rcvbuf, type, ret;

	sk_opts_entry__init(o);
	ret = get_int(sk, SOL_SOCKET, SO_SNDBUF, &sndbuf);
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_RCVBUF, &rcvbuf);
	ret = ret ?: get_int(sk, SOL_SOCKET, SO_TYPE, &type);
	ret = ret ?: get_tmo(sk, SO_SNDTIMEO, &o->so_snd_tmo_sec, &o->so_snd_tmo_usec);
	ret = ret ?: get_tmo(sk, SO_RCVTIMEO, &o->so_rcv_tmo_sec, &o->so_rcv_tmo_usec);
	ret = ret ?: dump_bools(sk, o);
	ret = ret ?: dump_keepalive(sk, type, o);
	ret = ret ?: dump_misc(t, sk, o);
	o->so_sndbuf = sndbuf;
	o->so_rcvbuf = rcvbuf;
	return ret;
}

/* Buffer sizes: the kernel doubles what it is given, so half of what it reported. */
static int restore_bufs(int sk, const SkOptsEntry *o)
{
	int ret;

	ret = set_int(sk, SOL_SOCKET, SO_SNDBUFFORCE, o->so_sndbuf / 2);
	ret = ret ?: set_int(sk, SOL_SOCKET, SO_RCVBUFFORCE, o->so_rcvbuf / 2);
	return ret;
}

static int restore_tmo(int sk, int name, uint64_t sec, uint64_t usec)
{
	struct timeval tv = { .tv_sec = sec, .tv_usec = usec };

	if (!sec && !usec)
		return 0;
	if (setsockopt(sk, SOL_SOCKET, name, &tv, sizeof(tv))) {
		pr_perror("setsockopt(SOL_SOCKET, %d)", name);
		return -errno;
	}
	return 0;
}

static int restore_misc(int sk, const SkOptsEntry *o)
{
	struct linger lg = { .l_onoff = 1, .l_linger = o->so_linger };
	int ret = 0;

	if (o->has_so_priority)
		ret = set_int(sk, SOL_SOCKET, SO_PRIORITY, o->so_priority);
	if (!ret && o->has_so_mark)
		ret = set_int(sk, SOL_SOCKET, SO_MARK, o->so_mark);
	if (!ret && o->has_so_rcvlowat)
		ret = set_int(sk, SOL_SOCKET, SO_RCVLOWAT, o->so_rcvlowat);
	if (!ret && o->has_so_oobinline)
		ret = set_int(sk, SOL_SOCKET, SO_OOBINLINE, o->so_oobinline);
	if (!ret && o->has_tcp_keepcnt)
		ret = set_int(sk, SOL_TCP, TCP_KEEPCNT, o->tcp_keepcnt);
	if (!ret && o->has_tcp_keepidle)
		ret = set_int(sk, SOL_TCP, TCP_KEEPIDLE, o->tcp_keepidle);
	if (!ret && o->has_tcp_keepintvl)
		ret = set_int(sk, SOL_TCP, TCP_KEEPINTVL, o->tcp_keepintvl);
	if (!ret && o->has_so_linger && setsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
		pr_perror("setsockopt(SO_LINGER)");
		ret = -errno;
	}
	return ret;
}

/* Everything but SO_REUSEADDR/REUSEPORT and SO_BINDTODEVICE, which go before bind. */
int sk_opts_restore(int sk, const SkOptsEntry *o)
{
	size_t i;
	int ret;

	ret = restore_bufs(sk, o);
	ret = ret ?: restore_tmo(sk, SO_SNDTIMEO, o->so_snd_tmo_sec, o->so_snd_tmo_usec);
	ret = ret ?: restore_tmo(sk, SO_RCVTIMEO, o->so_rcv_tmo_sec, o->so_rcv_tmo_usec);
	for (i = 0; !ret && i < sizeof(bool_opts) / sizeof(bool_opts[0]); i++)
		if (*(protobuf_c_boolean *)((const char *)o + bool_opts[i].off))
			ret = set_int(sk, SOL_SOCKET, bool_opts[i].name, 1);
	return ret ?: restore_misc(sk, o);
}

int sk_opts_restore_early(int sk, const SkOptsEntry *o)
{
	int ret = 0;

	if (o->reuseaddr)
		ret = set_int(sk, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!ret && o->so_reuseport)
		ret = set_int(sk, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!ret && o->so_bound_dev &&
	    setsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, o->so_bound_dev,
		       strlen(o->so_bound_dev) + 1)) {
		pr_perror("cannot bind the socket to device %s", o->so_bound_dev);
		ret = -errno;
	}
	return ret;
}

int sk_set_flags(int sk, unsigned int flags)
{
	if ((flags & O_NONBLOCK) && fcntl(sk, F_SETFL, O_NONBLOCK)) {
		pr_perror("cannot make the socket non-blocking");
		return -errno;
	}
	return 0;
}
