// SPDX-License-Identifier: MIT
/*
 * Sockets, common part of both halves: the dispatch by family, the copy of a task's
 * socket pulled into ferry (files_getfd: pidfd_getfd), receive queues read with MSG_PEEK
 * and SO_PEEK_OFF (so that a dump leaves them untouched), sk-queues.img, and on restore
 * the order in which the families build their sockets in the new task.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "sockets: "
#include "log.h"
#include "image.h"
#include "rst.h"
#include "files.h"
#include "sockets.h"
#include "netlock.h"

#define SK_MAX_MSG (16U << 20)	/* largest message accepted from sk-queues.img */

static struct sk_dump *sk_state(struct dtask *t)
{
	if (!t->sk && t->fx)
		t->sk = t->fx->sk;	/* the tree's: peers are found across its tasks */
	if (!t->sk) {
		t->sk = dtask_alloc(t, sizeof(*t->sk));
		if (t->sk)
			t->sk->flags = t->sk_flags;
		if (t->fx)
			t->fx->sk = t->sk;
	}
	return t->sk;
}

/* Make room for one more socket; its slot is zeroed. */
static struct sk_dumped *new_sock(struct dtask *t)
{
	struct sk_dump *d = t->sk;

	if (dtask_grow(t, &d->socks, d->n_socks, &d->socks_cap, sizeof(*d->socks)))
		return NULL;
	memset(&d->socks[d->n_socks], 0, sizeof(d->socks[0]));
	return &d->socks[d->n_socks];
}

/* fd_ops.dump for every socket: fe (its id set) becomes a unix or inet socket entry. */
static int sk_dump_fd(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	struct sk_dump *d = sk_state(t);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int sk, ret = 0;

	if (!d || !new_sock(t))
		return -ENOMEM;
	sk = files_getfd(t, p->fd);
	if (sk < 0)
		return sk;
	if (getsockname(sk, (struct sockaddr *)&ss, &len)) {
		pr_perror("process %d fd %d: getsockname", t->pid, p->fd);
		ret = -errno;
		goto out;
	}
	d->socks[d->n_socks].fe = fe;
	if (ss.ss_family == AF_UNIX)
		ret = sk_unix_dump(t, sk, &p->st, p->fi.flags, fe);
	else if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		ret = sk_inet_dump(t, sk, ss.ss_family, &p->st, p->fi.flags, fe);
	else if (ss.ss_family == AF_PACKET)
		ret = sk_packet_dump(t, sk, &p->st, p->fi.flags, fe);
	else if (ss.ss_family == AF_NETLINK)
		ret = sk_netlink_dump(t, sk, &p->st, p->fi.flags, fe);
	else {
		pr_err("process %d fd %d: socket family %d is not supported yet", t->pid, p->fd,
		       ss.ss_family);
		ret = -EOPNOTSUPP;
	}
	if (!ret)
		d->n_socks++;
out:
	close(sk);
	return ret;
}

int sk_dump_finish(struct dtask *t)
{
	return t->sk ? sk_unix_resolve(t) : 0;
}

int sk_dump_msg(struct dtask *t, uint32_t id, const void *data, size_t len,
		const struct sockaddr *addr, socklen_t addr_len)
{
	struct sk_dump *d = t->sk;
	struct sk_msg *m;

	if (dtask_grow(t, &d->msgs, d->n_msgs, &d->msgs_cap, sizeof(*d->msgs)))
		return -ENOMEM;
	m = &d->msgs[d->n_msgs];
	memset(m, 0, sizeof(*m));
	m->data = dtask_alloc(t, len ? len : 1);
	if (!m->data)
		return -ENOMEM;
	memcpy(m->data, data, len);
	m->id = id;
	m->len = len;
	if (addr && addr_len && addr_len <= sizeof(m->addr)) {
		memcpy(&m->addr, addr, addr_len);
		m->addr_len = addr_len;
	}
	d->n_msgs++;
	return 0;
}

/*
 * One peek at offset off; returns the message length (maybe > cap: truncated) or -errno
 * (-EAGAIN: the end of the queue).
 */
static ssize_t peek_at(int sk, int off, void *buf, size_t cap, struct sockaddr_storage *from,
		       socklen_t *from_len)
{
	struct iovec iov = { buf, cap };
	struct msghdr mh = { .msg_name = from, .msg_namelen = sizeof(*from),
			     .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
		return -errno;
	n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return -errno;
	*from_len = mh.msg_namelen;
	return n;
}

static int peek_all(struct dtask *t, int sk, uint32_t id, bool dgram, bool rcv_shut)
{
	size_t cap = 256 << 10;
	char *buf = malloc(cap), *bigger;
	struct sockaddr_storage from;
	socklen_t from_len;
	int off = 0, ret = 0;
	ssize_t n;

	while (buf) {
		from_len = 0;
		n = peek_at(sk, off, buf, cap, &from, &from_len);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			errno = -n;
			pr_perror("cannot peek at the queue of socket %u", id);
			ret = n;
			break;
		}
		if (dgram && (size_t)n > cap) {
			bigger = realloc(buf, n);
			if (!bigger)
				break;
			buf = bigger, cap = n;
			continue;
		}
		if (n == 0) {
			if (dgram && !rcv_shut) {
				pr_err("socket %u: a zero-length datagram is queued: not supported", id);
				ret = -EOPNOTSUPP;
			}
			break;
		}
		if ((size_t)n > cap)
			n = cap;
		ret = sk_dump_msg(t, id, buf, n, dgram ? (struct sockaddr *)&from : NULL, from_len);
		if (ret)
			break;
		off += n;
	}
	if (!buf) {
		pr_err("out of memory peeking at socket %u", id);
		ret = -ENOMEM;
	}
	free(buf);
	if (!ret && off)
		pr_debug("socket %u: %d bytes queued", id, off);
	return ret;
}

int sk_dump_queue(struct dtask *t, int sk, uint32_t id, bool dgram, bool rcv_shut)
{
	socklen_t len = sizeof(int);
	int saved, ret;

	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &saved, &len)) {
		pr_perror("socket %u: SO_PEEK_OFF", id);
		return -errno;
	}
	ret = peek_all(t, sk, id, dgram, rcv_shut);
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof(saved))) {
		pr_perror("socket %u: cannot put SO_PEEK_OFF back", id);
		ret = ret ?: -errno;
	}
	return ret;
}

static int sk_dump_write(struct dtask *t, int dirfd)
{
	struct sk_dump *d = t->sk;
	struct img *img;
	size_t i;
	int ret = 0;

	if (!d)
		return 0;
	ret = sk_tcp_write(t, dirfd);
	if (ret || !d->n_msgs)
		return ret;
	img = img_open(dirfd, IMG_SK_QUEUES, O_WRONLY);
	if (!img)
		return -EIO;
	for (i = 0; !ret && i < d->n_msgs; i++) {
		SkPacketEntry pe = SK_PACKET_ENTRY__INIT;

		pe.id_for = d->msgs[i].id;
		pe.length = d->msgs[i].len;
		pe.has_ferry_addr = d->msgs[i].addr_len > 0;
		pe.ferry_addr.len = d->msgs[i].addr_len;
		pe.ferry_addr.data = (uint8_t *)&d->msgs[i].addr;
		ret = img_write_pb(img, &pe.base);
		if (!ret)
			ret = img_write_raw(img, d->msgs[i].data, d->msgs[i].len);
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

void sk_dump_fini(struct dtask *t, bool killed)
{
	sk_tcp_dump_fini(t, killed);
}

/* --- restore ------------------------------------------------------------------------- */

static int file_index(const struct rst_task *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++)
		if (t->files[i]->id == id)
			return i;
	return -1;
}

static int load_msg(struct rst_task *t, struct img *img, SkPacketEntry *pe)
{
	struct rst_sk *s = &t->sk;
	int idx = file_index(t, pe->id_for);
	uint64_t at = img->off;
	struct sk_msg *m, *n;

	if (idx < 0 || (t->files[idx]->type != FD_TYPES__UNIXSK &&
			t->files[idx]->type != FD_TYPES__INETSK)) {
		pr_err("sk-queues.img: message at offset %llu is for file id %u, not a socket",
		       (unsigned long long)at, pe->id_for);
		return -EINVAL;
	}
	if (pe->length > SK_MAX_MSG || pe->ferry_addr.len > sizeof(m->addr)) {
		pr_err("sk-queues.img: message at offset %llu: length %u or address length %zu "
		       "out of range", (unsigned long long)at, pe->length, pe->ferry_addr.len);
		return -EINVAL;
	}
	n = realloc(s->msgs, (s->n_msgs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->msgs = n;
	m = &s->msgs[s->n_msgs];
	memset(m, 0, sizeof(*m));
	m->data = malloc(pe->length ? pe->length : 1);
	if (!m->data)
		return -ENOMEM;
	s->n_msgs++;
	m->id = pe->id_for;
	m->len = pe->length;
	m->addr_len = pe->has_ferry_addr ? pe->ferry_addr.len : 0;
	if (m->addr_len)
		memcpy(&m->addr, pe->ferry_addr.data, m->addr_len);
	return img_read_raw(img, m->data, m->len);
}

static int load_queues(struct rst_task *t)
{
	SkPacketEntry *pe;
	struct img *img;
	int ret;

	img = img_open(t->dirfd, IMG_SK_QUEUES, O_RDONLY | IMG_OPTIONAL);
	if (!img)
		return errno == ENOENT ? 0 : -errno;
	while ((ret = img_read_pb(img, &sk_packet_entry__descriptor, (void **)&pe)) > 0) {
		ret = load_msg(t, img, pe);
		img_free_pb(pe);
		if (ret)
			break;
	}
	img_close(img);
	return ret;
}

int rst_sk_load(struct rst_task *t)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < t->nr_files; i++) {
		if (t->files[i]->type == FD_TYPES__UNIXSK)
			ret = rst_unix_check(t, t->files[i]);
		else if (t->files[i]->type == FD_TYPES__INETSK)
			ret = rst_inet_check(t, t->files[i]);
		else if (t->files[i]->type == FD_TYPES__PACKETSK)
			ret = rst_packet_check(t->files[i]);
		else if (t->files[i]->type == FD_TYPES__NETLINKSK)
			ret = rst_netlink_check(t->files[i]);
	}
	return ret ?: load_queues(t);
}

void rst_sk_free(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->sk.n_msgs; i++)
		free(t->sk.msgs[i].data);
	free(t->sk.msgs);
	free(t->sk.fds);
	rst_tcp_free(t);
	t->sk.msgs = NULL;
	t->sk.fds = NULL;
}

void rst_sk_done(struct rst_task *t, bool ok)
{
	if (!t->sk.n_tcp)
		return;
	if (ok)
		netlock_remove(t->pid);
	else if (netlock_exists(t->pid))
		pr_warn("the TCP connections of process %d stay blocked for another restore "
			"(nft delete table inet ferry_lock_%d releases them)", t->pid, t->pid);
}

bool rst_sk_has_queue(struct rst_task *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->sk.n_msgs; i++)
		if (t->sk.msgs[i].id == id)
			return true;
	return false;
}

/* The sender's buffer must hold the whole queue (its own size is set again later). */
static int make_room(struct rst_task *t, uint32_t id, int from)
{
	socklen_t len = sizeof(int);
	size_t i, need = 64 << 10;
	int cur;

	for (i = 0; i < t->sk.n_msgs; i++)
		if (t->sk.msgs[i].id == id)
			need += t->sk.msgs[i].len + 1024;
	if (getsockopt(from, SOL_SOCKET, SO_SNDBUF, &cur, &len) || (size_t)cur >= need)
		return 0;
	if (need > INT_MAX / 2 ||
	    setsockopt(from, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ need }, sizeof(int))) {
		pr_perror("socket %u: cannot make the send buffer hold %zu bytes", id, need);
		return -errno ?: -ENOBUFS;
	}
	return 0;
}

int rst_sk_fill_queue(struct rst_task *t, uint32_t id, int from, const struct sockaddr *to,
		      socklen_t to_len)
{
	size_t i, bytes = 0, nr = 0;
	ssize_t n;
	int ret;

	ret = make_room(t, id, from);
	if (ret)
		return ret;
	for (i = 0; i < t->sk.n_msgs; i++) {
		struct sk_msg *m = &t->sk.msgs[i];

		if (m->id != id)
			continue;
		n = sendto(from, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL, to, to_len);
		if (n != (ssize_t)m->len) {
			pr_perror("socket %u: cannot queue message %zu (%u bytes) again", id, nr,
				  m->len);
			return n < 0 ? -errno : -EIO;
		}
		bytes += m->len, nr++;
	}
	if (nr)
		pr_debug("socket %u: %zu messages, %zu bytes queued again", id, nr, bytes);
	return 0;
}

static int rst_sk_create(struct rst_task *t)
{
	size_t i;
	int ret;

	t->sk.fds = malloc((t->nr_files + 1) * sizeof(int));
	if (!t->sk.fds)
		return -ENOMEM;
	for (i = 0; i < t->nr_files; i++)
		t->sk.fds[i] = -1;
	ret = rst_unix_create(t);
	if (!ret)
		ret = rst_inet_create(t);
	if (!ret)
		ret = rst_packet_netlink_create(t);
	return ret;
}

int *rst_sk_slot(struct rst_task *t, uint32_t id)
{
	int idx = file_index(t, id);

	return idx < 0 ? NULL : &t->sk.fds[idx];
}

/*
 * fd_ops.open: the first socket opened builds them all (pairs and peers need each
 * other); the others are handed to the files code with rst_file_provide().
 */
static int sk_open(struct rst_task *t, const FileEntry *fe)
{
	size_t i;
	int ret, fd = -1;

	ret = rst_sk_create(t);
	for (i = 0; i < t->nr_files; i++) {
		int sk = t->sk.fds[i];

		t->sk.fds[i] = -1;
		if (sk < 0)
			continue;
		if (ret)
			close(sk);
		else if (t->files[i] == fe)
			fd = sk;
		else
			ret = rst_file_provide(t, t->files[i]->id, sk);
	}
	if (!ret && fd < 0) {
		pr_err("socket file %u was not created", fe->id);
		ret = -EINVAL;
	}
	if (ret && fd >= 0)
		close(fd);
	return ret ?: fd;
}

static int sk_check(const FileEntry *fe)
{
	if ((fe->type == FD_TYPES__UNIXSK && !fe->usk) ||
	    (fe->type == FD_TYPES__INETSK && !fe->isk) ||
	    (fe->type == FD_TYPES__PACKETSK && !fe->psk) ||
	    (fe->type == FD_TYPES__NETLINKSK && !fe->nlsk)) {
		pr_err("files.img: socket file id %u has no socket entry", fe->id);
		return -EINVAL;
	}
	return 0;
}

/* Sockets of every family are dumped through this row of the fd table... */
const struct fd_ops unix_sk_ops = {
	.name = "socket",
	.type = FD_TYPES__UNIXSK,
	.dump = sk_dump_fd,
	.check = sk_check,
	.open = sk_open,
	.write = sk_dump_write,
};

/* ...and restored by type: the other families come through the same code. */
const struct fd_ops inet_sk_ops = {
	.name = "inet socket",
	.type = FD_TYPES__INETSK,
	.dump = sk_dump_fd,
	.check = sk_check,
	.open = sk_open,
};

const struct fd_ops packet_sk_ops = {
	.name = "packet socket",
	.type = FD_TYPES__PACKETSK,
	.dump = sk_dump_fd,
	.check = sk_check,
	.open = sk_open,
};

const struct fd_ops netlink_sk_ops = {
	.name = "netlink socket",
	.type = FD_TYPES__NETLINKSK,
	.dump = sk_dump_fd,
	.check = sk_check,
	.open = sk_open,
};
