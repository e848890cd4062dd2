// SPDX-License-Identifier: MIT
/*
 * Half-closed TCP connections (FIN_WAIT1/2, CLOSE_WAIT, CLOSING, LAST_ACK) on top of TCP
 * repair, which only builds ESTABLISHED sockets. Our FIN: shutdown(SHUT_WR) in repair with
 * the send queue selected, so that it counts as sent and nothing leaves. The peer's FIN
 * (and the ACK of ours, for FIN_WAIT2): a segment forged on a raw socket (IPPROTO_RAW,
 * header included) from the peer's address, marked NETLOCK_MARK for the network lock.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "tcp: "
#include "log.h"
#include "netlock.h"
#include "rst.h"
#include "sk-tcp.h"

#define FIN_WAIT_MS 5000	/* how long a forged segment may take to be processed */

static const char *const state_names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV",	   [TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2",	   [TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",		   [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",	   [TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

const char *tcp_state_name(unsigned int state)
{
	if (state < sizeof(state_names) / sizeof(state_names[0]) && state_names[state])
		return state_names[state];
	return "unknown";
}

bool tcp_fin_sent(unsigned int state)
{
	return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING ||
	       state == TCP_LAST_ACK;
}

bool tcp_fin_received(unsigned int state)
{
	return state == TCP_CLOSE_WAIT || state == TCP_CLOSING || state == TCP_LAST_ACK;
}

bool tcp_state_connected(unsigned int state)
{
	return state == TCP_ESTABLISHED || tcp_fin_sent(state) || tcp_fin_received(state);
}

/* --- forged segments ------------------------------------------------------------------ */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* The TCP checksum over the pseudo header (addresses of alen bytes) and th. */
static void tcp_csum(struct tcphdr *th, const void *src, const void *dst, size_t alen)
{
	uint32_t sum = IPPROTO_TCP + sizeof(*th);

	th->check = 0;
	sum = csum_add(sum, src, alen);
	sum = csum_add(sum, dst, alen);
	th->check = csum_fold(csum_add(sum, th, sizeof(*th)));
}

struct segment {
	uint32_t seq, ack;
	uint16_t window;
	bool fin;
};

static void fill_tcp(struct tcphdr *th, const InetSkEntry *i, const struct segment *s)
{
	memset(th, 0, sizeof(*th));
	th->source = htons(i->dst_port);
	th->dest = htons(i->src_port);
	th->seq = htonl(s->seq);
	th->ack_seq = htonl(s->ack);
	th->doff = sizeof(*th) / 4;
	th->ack = 1;
	th->fin = s->fin;
	th->window = htons(s->window);
}

/* An IPv4 packet; v4-mapped IPv6 addresses count as IPv4 (a dual-stack socket). */
static size_t build_v4(uint8_t *buf, const InetSkEntry *i, const struct segment *s,
		       struct sockaddr_storage *to)
{
	const uint32_t *src = i->family == AF_INET ? i->dst_addr : &i->dst_addr[3];
	const uint32_t *dst = i->family == AF_INET ? i->src_addr : &i->src_addr[3];
	struct iphdr *ip = (void *)buf;
	struct tcphdr *th = (void *)(ip + 1);
	struct sockaddr_in *in = (void *)to;

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = sizeof(*ip) / 4;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*th));
	memcpy(&ip->saddr, src, 4);
	memcpy(&ip->daddr, dst, 4);
	fill_tcp(th, i, s);
	tcp_csum(th, &ip->saddr, &ip->daddr, 4);
	memset(to, 0, sizeof(*to));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = ip->daddr;
	return sizeof(*ip) + sizeof(*th);
}

static size_t build_v6(uint8_t *buf, const InetSkEntry *i, const struct segment *s,
		       struct sockaddr_storage *to)
{
	struct ip6_hdr *ip = (void *)buf;
	struct tcphdr *th = (void *)(ip + 1);
	struct sockaddr_in6 *in6 = (void *)to;

	memset(ip, 0, sizeof(*ip));
	ip->ip6_flow = htonl(6U << 28);
	ip->ip6_plen = htons(sizeof(*th));
	ip->ip6_nxt = IPPROTO_TCP;
	ip->ip6_hlim = 64;
	memcpy(&ip->ip6_src, i->dst_addr, 16);
	memcpy(&ip->ip6_dst, i->src_addr, 16);
	fill_tcp(th, i, s);
	tcp_csum(th, &ip->ip6_src, &ip->ip6_dst, 16);
	memset(to, 0, sizeof(*to));
	in6->sin6_family = AF_INET6;
	in6->sin6_addr = ip->ip6_dst;
	return sizeof(*ip) + sizeof(*th);
}

static bool is_v4_mapped(const InetSkEntry *i)
{
	return i->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const void *)i->src_addr) &&
	       IN6_IS_ADDR_V4MAPPED((const void *)i->dst_addr);
}

/* Send the peer's segment s to the socket of i, past the network lock. */
static int forge(const InetSkEntry *i, const struct segment *s)
{
	bool v4 = i->family == AF_INET || is_v4_mapped(i);
	uint8_t buf[sizeof(struct ip6_hdr) + sizeof(struct tcphdr)];
	struct sockaddr_storage to;
	int raw, mark = NETLOCK_MARK, ret = 0;
	size_t len;

	raw = socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (raw < 0) {
		pr_perror("cannot open a raw socket to rebuild socket %u's received FIN", i->id);
		return -errno;
	}
	len = v4 ? build_v4(buf, i, s, &to) : build_v6(buf, i, s, &to);
	if (setsockopt(raw, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ||
	    sendto(raw, buf, len, 0, (struct sockaddr *)&to,
		   v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) != (ssize_t)len) {
		pr_perror("socket %u: cannot send the peer's %s to it", i->id,
			  s->fin ? "FIN" : "ACK");
		ret = -errno;
	}
	close(raw);
	return ret;
}

static unsigned int state_of(int sk)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(sk, SOL_TCP, TCP_INFO, &ti, &len) ? TCP_CLOSE : ti.tcpi_state;
}

/* The segment goes through the loopback's backlog: wait until the socket took it. */
static int forge_and_wait(int sk, const InetSkEntry *i, const struct segment *s,
			  unsigned int want)
{
	struct timespec ms = { 0, 1000000 };
	int n, ret = forge(i, s);

	for (n = 0; !ret && state_of(sk) != want && n < FIN_WAIT_MS; n++)
		nanosleep(&ms, NULL);
	if (!ret && state_of(sk) != want) {
		pr_err("socket %u: the peer's %s was not taken (state %s, not %s)", i->id,
		       s->fin ? "FIN" : "ACK", tcp_state_name(state_of(sk)), tcp_state_name(want));
		ret = -ETIMEDOUT;
	}
	return ret;
}

/* --- restore -------------------------------------------------------------------------- */

static int repair_set(int sk, int name, int val, const char *what)
{
	if (setsockopt(sk, SOL_TCP, name, &val, sizeof(val))) {
		pr_perror("cannot set %s", what);
		return -errno;
	}
	return 0;
}

/*
 * A receive window that takes the FIN at rcv_nxt whatever was saved (the saved one
 * may be closed by a full queue); the saved window is set again afterwards.
 */
static int open_window(int sk, uint32_t rcv_nxt)
{
	struct tcp_repair_window w;
	socklen_t len = sizeof(w);

	if (getsockopt(sk, SOL_TCP, TCP_REPAIR_WINDOW, &w, &len)) {
		pr_perror("cannot read the TCP window");
		return -errno;
	}
	w.snd_wl1 = rcv_nxt;
	w.rcv_wup = rcv_nxt;
	if (w.rcv_wnd < 65535)
		w.rcv_wnd = 65535;
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w))) {
		pr_perror("cannot open the TCP window for the peer's FIN");
		return -errno;
	}
	return 0;
}

static int shut_write(int sk, uint32_t id)
{
	if (shutdown(sk, SHUT_WR)) {
		pr_perror("cannot put back the FIN of TCP socket %u", id);
		return -errno;
	}
	return 0;
}

/*
 * Our FIN after our data. All sent: in repair with the send queue selected, the FIN
 * counts as sent too. Some unsent: out of repair the data goes the normal way and the
 * FIN after it, unsent as it was; then back in repair.
 */
static int close_our_side(int sk, struct tcp_stream *ts)
{
	int ret;

	if (!ts->e->unsq_len)
		return repair_set(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE") ?:
		       shut_write(sk, ts->id);
	ret = repair_set(sk, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR off");
	ret = ret ?: tcp_send_unsent(ts);
	ts->unsent_done = true;
	ret = ret ?: shut_write(sk, ts->id);
	return ret ?: repair_set(sk, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR");
}

static uint16_t peer_window(const TcpStreamEntry *e)
{
	uint32_t w = e->has_snd_wnd ? e->snd_wnd : 65535;

	if (e->opt_mask & TCPI_OPT_WSCALE)
		w >>= e->snd_wscale;
	return w > 65535 ? 65535 : w;
}

/* The peer's FIN at the end of the receive queue, acknowledging nothing new. */
static int take_peer_fin(int sk, const InetSkEntry *i, const TcpStreamEntry *e)
{
	struct segment s = {
		.seq = e->inq_seq - 1,
		.ack = e->outq_seq - tcp_fin_sent(i->state) - e->outq_len,
		.window = peer_window(e),
		.fin = true,
	};
	unsigned int want = state_of(sk) == TCP_FIN_WAIT1 ? TCP_CLOSING : TCP_CLOSE_WAIT;

	return open_window(sk, s.seq) ?: forge_and_wait(sk, i, &s, want);
}

/* FIN_WAIT2: the peer had acknowledged our FIN. */
static int take_fin_ack(int sk, const InetSkEntry *i, const TcpStreamEntry *e)
{
	struct segment s = { .seq = e->inq_seq, .ack = e->outq_seq, .window = peer_window(e) };

	return forge_and_wait(sk, i, &s, TCP_FIN_WAIT2);
}

int tcp_fin_rebuild(struct tcp_stream *ts)
{
	const FileEntry *fe = ts->fe;
	const InetSkEntry *i = fe->isk;
	unsigned int st = i->state;
	int sk = ts->sk, ret = 0;

	if (st == TCP_ESTABLISHED)
		return 0;
	if (st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2 || st == TCP_CLOSING)
		ret = close_our_side(sk, ts);
	if (!ret && tcp_fin_received(st))
		ret = take_peer_fin(sk, i, ts->e);
	if (!ret && st == TCP_LAST_ACK)
		ret = close_our_side(sk, ts);
	if (!ret && st == TCP_FIN_WAIT2)
		ret = take_fin_ack(sk, i, ts->e);
	/* the forged segments moved the window: the saved one again */
	ret = ret ?: tcp_set_saved_window(sk, ts->e, false);
	if (!ret && state_of(sk) != st) {
		pr_err("TCP socket %u came back %s, not %s", fe->id, tcp_state_name(state_of(sk)),
		       tcp_state_name(st));
		ret = -EIO;
	}
	if (!ret)
		pr_info("socket %u: TCP connection back in state %s", fe->id, tcp_state_name(st));
	return ret;
}
