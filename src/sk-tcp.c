// SPDX-License-Identifier: MIT
/*
 * Established TCP connections with TCP repair, both halves: see sk-tcp.h for the order
 * of the kernel calls. Images: tcp-stream-<ino hex>.img (TcpStreamEntry, receive queue,
 * send queue). The network lock is netlock.c's.
 */
#include <fcntl.h>
#include <stdio.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LOG_PREFIX "tcp: "
#include "log.h"
#include "image.h"
#include "netlock.h"
#include "dump.h"
#include "rst.h"
#include "sk-tcp.h"

#define TCP_MAX_QUEUE (64U << 20)
#define TCP_CHUNK (64U << 10)

static int get_opt(int sk, int name, void *val, socklen_t len, const char *what)
{
	if (getsockopt(sk, SOL_TCP, name, val, &len)) {
		pr_perror("cannot read %s", what);
		return -errno;
	}
	return 0;
}

static int set_opt(int sk, int name, const void *val, socklen_t len, const char *what)
{
	if (setsockopt(sk, SOL_TCP, name, val, len)) {
		pr_perror("cannot set %s", what);
		return -errno;
	}
	return 0;
}

static int set_int(int sk, int name, int val, const char *what)
{
	return set_opt(sk, name, &val, sizeof(val), what);
}

/* --- dump ----------------------------------------------------------------------------- */

/* Options and window, and the state again: it may have moved before the lock held. */
static int dump_options(int sk, InetSkEntry *e, TcpStreamEntry *s)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	int mss, ts, ret;

	ret = get_opt(sk, TCP_INFO, &ti, sizeof(ti), "TCP_INFO");
	ret = ret ?: get_opt(sk, TCP_MAXSEG, &mss, sizeof(mss), "TCP_MAXSEG");
	ret = ret ?: get_opt(sk, TCP_TIMESTAMP, &ts, sizeof(ts), "TCP_TIMESTAMP");
	ret = ret ?: get_opt(sk, TCP_REPAIR_WINDOW, &w, sizeof(w), "TCP_REPAIR_WINDOW");
	if (ret)
		return ret;
	if (!tcp_state_connected(ti.tcpi_state)) {
		pr_err("TCP socket %u went to state %s during the dump", e->id,
		       tcp_state_name(ti.tcpi_state));
		return -EAGAIN;
	}
	e->state = ti.tcpi_state;
	s->opt_mask = ti.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
	s->snd_wscale = ti.tcpi_snd_wscale;
	s->has_rcv_wscale = 1, s->rcv_wscale = ti.tcpi_rcv_wscale;
	s->mss_clamp = mss;
	s->has_timestamp = 1, s->timestamp = ts;
	s->has_snd_wl1 = s->has_snd_wnd = s->has_max_window = s->has_rcv_wnd = s->has_rcv_wup = 1;
	s->snd_wl1 = w.snd_wl1, s->snd_wnd = w.snd_wnd, s->max_window = w.max_window;
	s->rcv_wnd = w.rcv_wnd, s->rcv_wup = w.rcv_wup;
	return 0;
}

/* One queue: its end sequence number, its length and its bytes (peeked); fin: our FIN
 * is in the send queue (counted by SIOCOUTQ while unacknowledged, not a byte). */
static int dump_queue(struct dtask *t, int sk, int queue, bool fin, uint32_t *seq,
		      uint32_t *len, uint8_t **data)
{
	int n = 0, ret;
	ssize_t got;

	ret = set_int(sk, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
	ret = ret ?: get_opt(sk, TCP_QUEUE_SEQ, seq, sizeof(*seq), "TCP_QUEUE_SEQ");
	if (ret)
		return ret;
	if (ioctl(sk, queue == TCP_RECV_QUEUE ? SIOCINQ : SIOCOUTQ, &n)) {
		pr_perror("cannot read the length of a TCP queue");
		return -errno;
	}
	if (fin && n > 0)
		n--;
	if (n < 0 || (unsigned int)n > TCP_MAX_QUEUE) {
		pr_err("a TCP queue holds %d bytes: more than ferry saves (%u)", n, TCP_MAX_QUEUE);
		return -E2BIG;
	}
	*len = n;
	*data = dtask_alloc(t, n + 1);
	if (!*data)
		return -ENOMEM;
	got = n ? recv(sk, *data, n, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (got != n) {
		pr_perror("cannot peek at a TCP queue (%zd of %d bytes)", got, n);
		return got < 0 ? -errno : -EIO;
	}
	return 0;
}

static int keep_copy(struct dtask *t, int sk, struct tcp_stream **ts)
{
	struct sk_dump *d = t->sk;

	if (dtask_grow(t, &d->tcp, d->n_tcp, &d->tcp_cap, sizeof(*d->tcp)))
		return -ENOMEM;
	*ts = &d->tcp[d->n_tcp];
	memset(*ts, 0, sizeof(**ts));
	(*ts)->sk = fcntl(sk, F_DUPFD_CLOEXEC, 3);
	if ((*ts)->sk < 0) {
		pr_perror("cannot keep a copy of a TCP socket");
		return -errno;
	}
	d->n_tcp++;
	return 0;
}

static int lock_and_repair(struct dtask *t, int sk, InetSkEntry *e)
{
	struct sockaddr_storage self, peer;
	socklen_t len = sizeof(self), plen = sizeof(peer);

	if (getsockname(sk, (struct sockaddr *)&self, &len) ||
	    getpeername(sk, (struct sockaddr *)&peer, &plen)) {
		pr_perror("cannot read the addresses of TCP socket %u", e->id);
		return -errno;
	}
	/* one lock for the tree, named by its root (the restore removes it by that pid) */
	return netlock_add(t->fx->root_pid, &self, &peer) ?: set_int(sk, TCP_REPAIR, TCP_REPAIR_ON,
							    "TCP_REPAIR");
}

int sk_tcp_dump(struct dtask *t, int sk, InetSkEntry *e)
{
	TcpStreamEntry *s = dtask_alloc(t, sizeof(*s));
	struct tcp_stream *ts;
	int unsent = 0, ret;
	bool fin;

	if (!s)
		return -ENOMEM;
	tcp_stream_entry__init(s);
	ret = keep_copy(t, sk, &ts);
	if (ret)
		return ret;
	ts->id = e->ino;
	ts->e = s;
	ts->reuseaddr = e->opts->reuseaddr;	/* read before repair, which changes it */
	ret = lock_and_repair(t, sk, e);
	ret = ret ?: dump_options(sk, e, s);
	fin = tcp_fin_sent(e->state);
	ret = ret ?: dump_queue(t, sk, TCP_RECV_QUEUE, false, &s->inq_seq, &s->inq_len, &ts->inq);
	ret = ret ?: dump_queue(t, sk, TCP_SEND_QUEUE, fin, &s->outq_seq, &s->outq_len, &ts->outq);
	if (!ret && ioctl(sk, SIOCOUTQNSD, &unsent)) {
		pr_perror("cannot read the unsent length of TCP socket %u", e->id);
		ret = -errno;
	}
	if (fin && unsent > 0)
		unsent--;
	s->has_unsq_len = 1, s->unsq_len = unsent;
	s->has_nodelay = 1, s->nodelay = e->ferry_nodelay;
	s->has_cork = 1, s->cork = e->ferry_cork;
	if (!ret)
		pr_info("socket %u: TCP connection (%s), %u bytes to read, %u to be acknowledged "
			"(%u of them unsent)", e->id, tcp_state_name(e->state), s->inq_len,
			s->outq_len, s->unsq_len);
	return ret;
}

int sk_tcp_write(struct dtask *t, int dirfd)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && t->sk && i < t->sk->n_tcp; i++) {
		struct tcp_stream *ts = &t->sk->tcp[i];
		struct img *img = img_open(dirfd, IMG_TCP_STREAM, O_WRONLY, ts->id);

		if (!img)
			return -EIO;
		ret = img_write_pb(img, &ts->e->base);
		ret = ret ?: img_write_raw(img, ts->inq, ts->e->inq_len);
		ret = ret ?: img_write_raw(img, ts->outq, ts->e->outq_len);
		if (img_close(img) && !ret)
			ret = -EIO;
	}
	return ret;
}

void sk_dump_remove_images(struct dtask *t, int dirfd)
{
	char name[64];
	size_t i;

	for (i = 0; t->sk && i < t->sk->n_tcp; i++) {
		snprintf(name, sizeof(name), "tcp-stream-%x.img", t->sk->tcp[i].id);
		if (unlinkat(dirfd, name, 0) && errno != ENOENT)
			pr_perror("cannot remove the partial image %s", name);
	}
}

/* Out of repair, which clears SO_REUSEADDR: the socket's own again. */
static void repair_off(int sk, int reuseaddr)
{
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &(int){ TCP_REPAIR_OFF }, sizeof(int)))
		pr_perror("cannot take TCP socket back out of repair");
	else if (reuseaddr && setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof(int)))
		pr_perror("cannot give a TCP socket its SO_REUSEADDR back");
}

/*
 * After the dump. Killed: our copies close in repair mode, silently, and the lock
 * stays until the restore. Otherwise (failed, -R, --leave-stopped): repair off, unlock.
 */
void sk_tcp_dump_fini(struct dtask *t, bool killed)
{
	size_t i;

	for (i = 0; t->sk && i < t->sk->n_tcp; i++) {
		if (!killed)
			repair_off(t->sk->tcp[i].sk, t->sk->tcp[i].reuseaddr);
		close(t->sk->tcp[i].sk);
	}
	/* only a dump that locked connections has a table to remove (nf_tables may be absent) */
	if (!killed && t->sk && t->sk->n_tcp && netlock_remove(t->pid))
		pr_err("the connections of process %d stay blocked: remove the nftables table "
		       "inet ferry_lock_%d by hand", t->pid, t->pid);
}

/* dump_opts.tcp_hold: our copies go to the caller, still in repair, the lock kept. */
void sk_tcp_hand_over(struct dtask *t, struct tcp_hold *h)
{
	size_t i;

	h->pid = t->pid;
	h->n = 0;
	h->socks = t->sk && t->sk->n_tcp ? calloc(t->sk->n_tcp, sizeof(*h->socks)) : NULL;
	for (i = 0; t->sk && i < t->sk->n_tcp; i++) {
		struct tcp_stream *ts = &t->sk->tcp[i];

		if (h->socks)
			h->socks[h->n++] = (struct tcp_held){ ts->sk, ts->reuseaddr };
		else	/* no memory: closing in repair is silent, the lock holds */
			close(ts->sk);
		ts->sk = -1;
	}
}

void tcp_hold_release(struct tcp_hold *h, bool killed)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (!killed)
			repair_off(h->socks[i].sk, h->socks[i].reuseaddr);
		close(h->socks[i].sk);
	}
	if (!killed && h->n && netlock_remove(h->pid))
		pr_err("the connections of process %d stay blocked: remove the nftables table "
		       "inet ferry_lock_%d by hand", h->pid, h->pid);
	free(h->socks);
	h->socks = NULL;
	h->n = 0;
}

/* --- restore -------------------------------------------------------------------------- */

static struct tcp_stream *stream_of(struct rst_task *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->sk.n_tcp; i++)
		if (t->sk.tcp[i].id == id)
			return &t->sk.tcp[i];
	return NULL;
}

static int check_stream(const char *name, const TcpStreamEntry *e)
{
	if (e->inq_len > TCP_MAX_QUEUE || e->outq_len > TCP_MAX_QUEUE ||
	    (e->has_unsq_len && e->unsq_len > e->outq_len) || e->snd_wscale > 14 ||
	    (e->has_rcv_wscale && e->rcv_wscale > 14) || e->mss_clamp > 65535) {
		pr_err("%s: queue lengths %u/%u (unsent %u), window scale or mss out of range",
		       name, e->inq_len, e->outq_len, e->unsq_len);
		return -EINVAL;
	}
	return 0;
}

static int load_stream(struct rst_task *t, const FileEntry *fe, struct tcp_stream *ts)
{
	struct img *img = img_open(t->dirfd, IMG_TCP_STREAM, O_RDONLY, fe->isk->ino);
	int ret;

	if (!img)
		return -errno;
	ret = img_read_pb(img, &tcp_stream_entry__descriptor, (void **)&ts->e);
	if (ret == 0)
		pr_err("%s: no entry", img->name);
	ret = ret > 0 ? check_stream(img->name, ts->e) : (ret ?: -EINVAL);
	if (!ret) {
		ts->inq = malloc(ts->e->inq_len + 1);
		ts->outq = malloc(ts->e->outq_len + 1);
		ret = ts->inq && ts->outq ? 0 : -ENOMEM;
	}
	ret = ret ?: img_read_raw(img, ts->inq, ts->e->inq_len);
	ret = ret ?: img_read_raw(img, ts->outq, ts->e->outq_len);
	img_close(img);
	return ret;
}

int rst_tcp_check(struct rst_task *t, const FileEntry *fe)
{
	struct tcp_stream *n = realloc(t->sk.tcp, (t->sk.n_tcp + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	t->sk.tcp = n;
	n = &t->sk.tcp[t->sk.n_tcp++];
	memset(n, 0, sizeof(*n));
	n->id = fe->id;
	n->fe = fe;
	n->sk = -1;
	return load_stream(t, fe, n);
}

void rst_tcp_free(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->sk.n_tcp; i++) {
		img_free_pb(t->sk.tcp[i].e);
		free(t->sk.tcp[i].inq);
		free(t->sk.tcp[i].outq);
	}
	free(t->sk.tcp);
	t->sk.tcp = NULL;
	t->sk.n_tcp = 0;
}

/* Where each queue starts, before the FINs (put back on top by sk-tcp-fin.c). */
static int set_seqs(int sk, unsigned int state, const TcpStreamEntry *e)
{
	uint32_t rcv = e->inq_seq - tcp_fin_received(state) - e->inq_len;
	uint32_t snd = e->outq_seq - tcp_fin_sent(state) - e->outq_len;
	int ret;

	ret = set_int(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE");
	ret = ret ?: set_int(sk, TCP_QUEUE_SEQ, rcv, "the receive sequence");
	ret = ret ?: set_int(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE");
	return ret ?: set_int(sk, TCP_QUEUE_SEQ, snd, "the send sequence");
}

static int set_options(int sk, const TcpStreamEntry *e)
{
	struct tcp_repair_opt o[4];
	int n = 0, ret;

	o[n].opt_code = TCPOPT_MAXSEG, o[n++].opt_val = e->mss_clamp;
	if (e->opt_mask & TCPI_OPT_WSCALE)
		o[n].opt_code = TCPOPT_WINDOW, o[n++].opt_val = e->snd_wscale | e->rcv_wscale << 16;
	if (e->opt_mask & TCPI_OPT_SACK)
		o[n].opt_code = TCPOPT_SACK_PERMITTED, o[n++].opt_val = 0;
	if (e->opt_mask & TCPI_OPT_TIMESTAMPS)
		o[n].opt_code = TCPOPT_TIMESTAMP, o[n++].opt_val = 0;
	ret = set_opt(sk, TCP_REPAIR_OPTIONS, o, n * sizeof(o[0]), "TCP_REPAIR_OPTIONS");
	if (!ret && (e->opt_mask & TCPI_OPT_TIMESTAMPS) && e->has_timestamp)
		ret = set_int(sk, TCP_TIMESTAMP, e->timestamp, "TCP_TIMESTAMP");
	return ret;
}

/* Write len bytes into the selected repair queue, in chunks the kernel takes. */
static int fill_queue(int sk, int queue, const uint8_t *data, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int ret;

	ret = set_int(sk, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
	while (!ret && off < len) {
		n = send(sk, data + off, len - off < TCP_CHUNK ? len - off : TCP_CHUNK,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			pr_perror("cannot write a TCP %s queue back (%zu of %zu bytes)",
				  queue == TCP_RECV_QUEUE ? "receive" : "send", off, len);
			return n < 0 ? -errno : -EIO;
		}
		off += n;
	}
	return ret;
}

/* before_fin: the peer's FIN is not back yet, rcv_nxt is one short of the saved one */
int tcp_set_saved_window(int sk, const TcpStreamEntry *e, bool before_fin)
{
	struct tcp_repair_window w = {
		.snd_wl1 = e->snd_wl1, .snd_wnd = e->snd_wnd, .max_window = e->max_window,
		.rcv_wnd = e->rcv_wnd + before_fin, .rcv_wup = e->rcv_wup - before_fin,
	};

	if (!e->has_snd_wl1 || !e->has_rcv_wup)
		return 0;
	return set_opt(sk, TCP_REPAIR_WINDOW, &w, sizeof(w), "TCP_REPAIR_WINDOW");
}

static int big_buffers(int sk, const TcpStreamEntry *e)
{
	int snd = e->outq_len + (1 << 20), rcv = e->inq_len + (1 << 20);

	if (setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) ||
	    setsockopt(sk, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv))) {
		pr_perror("cannot make room for the TCP queues");
		return -errno;
	}
	return 0;
}

static int repair_one(const FileEntry *fe, int sk, struct tcp_stream *ts)
{
	const InetSkEntry *i = fe->isk;
	const TcpStreamEntry *e = ts->e;
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	/*
	 * Repair mode after SO_REUSEADDR, which would take back the forced reuse it gives:
	 * two connections may share a local port (connect() picks one per destination), and
	 * the one restored first has its own SO_REUSEADDR back.
	 */
	ret = rst_inet_before_bind(fe, sk);
	ret = ret ?: set_int(sk, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR");
	ret = ret ?: rst_inet_bind(fe, sk);
	ret = ret ?: set_seqs(sk, i->state, e);
	ret = ret ?: big_buffers(sk, e);
	if (ret)
		return ret;
	len = sk_inet_addr(i->family, i->dst_addr, i->n_dst_addr, i->dst_port, &ss);
	if (connect(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("cannot put TCP socket %u back on its connection", fe->id);
		return -errno;
	}
	ret = set_options(sk, e);
	ret = ret ?: fill_queue(sk, TCP_RECV_QUEUE, ts->inq, e->inq_len);
	ret = ret ?: fill_queue(sk, TCP_SEND_QUEUE, ts->outq, e->outq_len - e->unsq_len);
	ret = ret ?: tcp_set_saved_window(sk, e, tcp_fin_received(i->state));
	return ret ?: rst_inet_finish(fe, sk);
}

int rst_tcp_create(struct rst_task *t, const FileEntry *fe, int *slot)
{
	struct tcp_stream *ts = stream_of(t, fe->id);
	const InetSkEntry *i = fe->isk;

	if (!ts)
		return -EINVAL;
	*slot = socket(i->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (*slot < 0) {
		pr_perror("cannot create TCP socket %u", fe->id);
		return -errno;
	}
	ts->sk = *slot;
	return repair_one(fe, *slot, ts);
}

/* The unsent part of a send queue goes out the normal way, once out of repair. */
int tcp_send_unsent(const struct tcp_stream *ts)
{
	const TcpStreamEntry *e = ts->e;
	size_t off = e->outq_len - e->unsq_len;
	ssize_t n;

	while (off < e->outq_len) {
		n = send(ts->sk, ts->outq + off, e->outq_len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			pr_perror("cannot send the unsent part of TCP socket %u again", ts->id);
			return n < 0 ? -errno : -EIO;
		}
		off += n;
	}
	return 0;
}

/*
 * Before the first task: lock the tree's connections again (named by its root, as at the
 * dump). The dump's lock is gone after a kexec or a reboot, and a segment of the peer
 * that finds no socket yet would be answered with a RST. Without nftables the restore
 * goes on unlocked, said once: the connections are worth more than that window.
 */
void rst_tcp_lock(struct rst_task *root)
{
	struct sockaddr_storage self, peer;
	size_t i;

	for (i = 0; i < root->sk.n_tcp; i++) {
		const InetSkEntry *e = root->sk.tcp[i].fe->isk;

		sk_inet_addr(e->family, e->src_addr, e->n_src_addr, e->src_port, &self);
		sk_inet_addr(e->family, e->dst_addr, e->n_dst_addr, e->dst_port, &peer);
		if (netlock_add(root->pid, &self, &peer)) {
			pr_warn("restoring the TCP connections without the network lock: a peer "
				"may see a reset before they are back");
			return;
		}
	}
}

/*
 * Once every socket of the task exists (a peer in the tree too): what may send a packet,
 * which must find its peer's socket when no lock holds (restore-twice, after kexec).
 */
int rst_tcp_finish(struct rst_task *t)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < t->sk.n_tcp; i++) {
		struct tcp_stream *ts = &t->sk.tcp[i];

		if (ts->sk < 0)
			continue;
		ret = tcp_fin_rebuild(ts);
		ret = ret ?: set_int(ts->sk, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR off");
		/* leaving repair clears SO_REUSEADDR: the saved one, now that all are bound */
		ret = ret ?: rst_inet_reuseaddr(ts->fe, ts->sk);
		if (!ts->unsent_done)
			ret = ret ?: tcp_send_unsent(ts);
	}
	return ret;
}
