// SPDX-License-Identifier: MIT
/*
 * Unix sockets of one task, both halves. Dump: state, name, peer, shutdown, backlog and
 * pending connections from unix_diag (NETLINK_SOCK_DIAG through libnl-3), the type and
 * options from ferry's copy of the socket, the receive queue by peeking. Restore, in the
 * new task: socketpair() for pairs, bind/listen, queued datagrams sent again, connect by
 * name (a pending client to its listener), queues refilled from the peer, shutdown.
 */
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_PREFIX "unix: "
#include "log.h"
#include "rst.h"
#include "files.h"
#include "sockets.h"

#define UNIX_NAME_MAX ((int)sizeof(((struct sockaddr_un *)0)->sun_path))
#define USK_EXTERN 0x1

/* What unix_diag says of one socket. */
struct unix_diag_info {
	bool found;
	uint8_t state, shutdown;
	uint32_t peer, rqlen, wqlen;
	char name[UNIX_NAME_MAX];
	int name_len;
	uint32_t *icons;	/* malloc()ed */
	uint32_t n_icons;
};

static void parse_icons(struct unix_diag_info *ui, struct nlattr *a)
{
	int len = nla_len(a);

	ui->icons = malloc(len > 0 ? len : 1);
	if (!ui->icons)
		return;
	memcpy(ui->icons, nla_data(a), len);
	ui->n_icons = len / sizeof(uint32_t);
}

static int parse_diag(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct unix_diag_info *ui = arg;
	struct nlattr *tb[UNIX_DIAG_MAX + 1];
	struct unix_diag_msg *m = nlmsg_data(h);

	if (nlmsg_parse(h, sizeof(*m), tb, UNIX_DIAG_MAX, NULL))
		return NL_SKIP;
	ui->found = true;
	ui->state = m->udiag_state;
	if (tb[UNIX_DIAG_NAME]) {
		ui->name_len = nla_len(tb[UNIX_DIAG_NAME]);
		if (ui->name_len > UNIX_NAME_MAX)
			ui->name_len = UNIX_NAME_MAX;
		memcpy(ui->name, nla_data(tb[UNIX_DIAG_NAME]), ui->name_len);
	}
	if (tb[UNIX_DIAG_PEER])
		ui->peer = nla_get_u32(tb[UNIX_DIAG_PEER]);
	if (tb[UNIX_DIAG_SHUTDOWN])
		ui->shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	if (tb[UNIX_DIAG_RQLEN]) {
		struct unix_diag_rqlen *rq = nla_data(tb[UNIX_DIAG_RQLEN]);

		ui->rqlen = rq->udiag_rqueue, ui->wqlen = rq->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_ICONS] && !ui->icons)
		parse_icons(ui, tb[UNIX_DIAG_ICONS]);
	return NL_OK;
}

static int unix_diag_get(uint32_t ino, struct unix_diag_info *ui)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX, .udiag_states = ~0U, .udiag_ino = ino,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			      UDIAG_SHOW_RQLEN,
		.udiag_cookie = { ~0U, ~0U },
	};
	struct nl_sock *nl = nl_socket_alloc();
	int ret = -ENOMEM;

	memset(ui, 0, sizeof(*ui));
	if (!nl)
		goto out;
	ret = nl_connect(nl, NETLINK_SOCK_DIAG);
	if (!ret)
		ret = nl_socket_modify_cb(nl, NL_CB_VALID, NL_CB_CUSTOM, parse_diag, ui);
	if (!ret)
		ret = nl_send_simple(nl, SOCK_DIAG_BY_FAMILY, 0, &req, sizeof(req));
	if (ret >= 0)
		ret = nl_recvmsgs_default(nl);
	ret = ret < 0 ? -EIO : 0;
	if (ret || !ui->found) {
		pr_err("unix_diag: no answer for socket inode %u (%s)", ino,
		       ret ? "netlink error" : "not found");
		ret = -ENOENT;
	}
	nl_socket_free(nl);
out:
	return ret;
}

static int get_type(int sk, int *type)
{
	socklen_t len = sizeof(*type);

	if (getsockopt(sk, SOL_SOCKET, SO_TYPE, type, &len)) {
		pr_perror("getsockopt(SO_TYPE)");
		return -errno;
	}
	return 0;
}

/* A path name as bound includes its terminating NUL(s); an abstract one is kept exact. */
static int set_name(struct dtask *t, UnixSkEntry *u, const struct unix_diag_info *ui)
{
	int len = ui->name_len;

	if (len && ui->name[0])
		len = strnlen(ui->name, len);
	u->name.len = len;
	u->name.data = dtask_alloc(t, len + 1);
	if (!u->name.data)
		return -ENOMEM;
	memcpy(u->name.data, ui->name, len);
	return 0;
}

static int fill_entry(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		      FileEntry *fe, struct unix_diag_info *ui)
{
	UnixSkEntry *u = dtask_alloc(t, sizeof(*u));
	FownEntry *fown = dtask_alloc(t, sizeof(*fown));
	SkOptsEntry *o = dtask_alloc(t, sizeof(*o));
	int type, ret;

	if (!u || !fown || !o)
		return -ENOMEM;
	ret = get_type(sk, &type);
	if (ret)
		return ret;
	unix_sk_entry__init(u);
	fown_entry__init(fown);
	u->id = fe->id;
	u->ino = st->st_ino;
	u->type = type;
	u->state = ui->state;
	u->flags = flags & ~O_CLOEXEC;
	u->backlog = ui->state == TCP_LISTEN ? ui->wqlen : 0;
	u->peer = ui->peer;
	u->fown = fown;
	u->opts = o;
	u->has_shutdown = ui->shutdown != 0;
	u->shutdown = ui->shutdown & 3;
	fe->type = FD_TYPES__UNIXSK;
	fe->usk = u;
	ret = set_name(t, u, ui);
	return ret ?: sk_opts_dump(t, sk, o);
}

static int fill_external(struct dtask *t, FileEntry *fe, const UnixSkEntry *of,
			 struct unix_diag_info *ui)
{
	UnixSkEntry *u = dtask_alloc(t, sizeof(*u));
	SkOptsEntry *o = dtask_alloc(t, sizeof(*o));

	if (!u || !o)
		return -ENOMEM;
	unix_sk_entry__init(u);
	sk_opts_entry__init(o);
	u->fown = files_fown(t);
	u->id = fe->id;
	u->ino = of->peer;
	u->type = of->type;
	u->state = ui->state;
	u->uflags = USK_EXTERN;
	u->opts = o;
	fe->usk = u;
	return u->fown ? set_name(t, u, ui) : -ENOMEM;
}

static int keep_diag(struct dtask *t, struct unix_diag_info *ui)
{
	struct sk_dumped *d = &t->sk->socks[t->sk->n_socks];

	d->wqlen = ui->state == TCP_LISTEN ? 0 : ui->wqlen;
	if (!ui->n_icons)
		return 0;
	d->icons = dtask_alloc(t, ui->n_icons * sizeof(uint32_t));
	if (!d->icons)
		return -ENOMEM;
	memcpy(d->icons, ui->icons, ui->n_icons * sizeof(uint32_t));
	d->n_icons = ui->n_icons;
	return 0;
}

int sk_unix_dump(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		 FileEntry *fe)
{
	struct unix_diag_info ui;
	int ret;

	ret = unix_diag_get(st->st_ino, &ui);
	if (!ret)
		ret = fill_entry(t, sk, st, flags, fe, &ui);
	if (!ret)
		ret = keep_diag(t, &ui);
	if (!ret && ui.state != TCP_LISTEN)
		ret = sk_dump_queue(t, sk, fe->id, fe->usk->type != SOCK_STREAM,
				    ui.shutdown & 1);
	if (!ret)
		pr_debug("socket %u: ino %u type %u state %u peer %u name %.*s", fe->id,
			 fe->usk->ino, fe->usk->type, fe->usk->state, fe->usk->peer,
			 (int)fe->usk->name.len, fe->usk->name.data);
	free(ui.icons);
	return ret;
}

static struct sk_dumped *find_ino(struct dtask *t, uint32_t ino)
{
	size_t i;

	for (i = 0; i < t->sk->n_socks; i++)
		if (t->sk->socks[i].fe->usk && t->sk->socks[i].fe->usk->ino == ino)
			return &t->sk->socks[i];
	return NULL;
}

/* The listening socket of the task on whose queue the client ino waits, or NULL. */
static struct sk_dumped *find_listener(struct dtask *t, uint32_t ino)
{
	size_t i, j;

	for (i = 0; i < t->sk->n_socks; i++)
		for (j = 0; j < t->sk->socks[i].n_icons; j++)
			if (t->sk->socks[i].icons[j] == ino)
				return &t->sk->socks[i];
	return NULL;
}

/*
 * A client whose connection nobody accepted yet (its peer, the embryo, has no inode):
 * its peer becomes the listener. What it sent is charged to it (wqlen) until accepted.
 */
static int resolve_pending(struct dtask *t, struct sk_dumped *d, struct sk_dumped *l)
{
	if (d->wqlen) {
		pr_err("process %d: unix socket %u sent %u bytes on a connection nobody accepted "
		       "yet: not supported yet", t->pid, d->fe->id, d->wqlen);
		return -EOPNOTSUPP;
	}
	d->fe->usk->peer = l->fe->usk->ino;
	return 0;
}

static bool has_queue(struct dtask *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->sk->n_msgs; i++)
		if (t->sk->msgs[i].id == id)
			return true;
	return false;
}

/* The files.img entry (used by no fd) of an external peer already added, or NULL. */
static FileEntry *find_external(struct dtask *t, uint32_t ino)
{
	size_t i;

	for (i = 0; i < t->fx->n_files; i++) {
		FileEntry *fe = t->fx->files[i].fe;

		if (fe->type == FD_TYPES__UNIXSK && fe->usk && (fe->usk->uflags & USK_EXTERN) &&
		    fe->usk->ino == ino)
			return fe;
	}
	return NULL;
}

/*
 * --ext-unix-sk: the peer outside is saved as an entry of its own, with its name and
 * USK_EXTERN, used by no fd; restore connects to that name. A peer without a name cannot
 * be found again, and data from outside cannot be sent again: both refuse.
 */
static int add_external(struct dtask *t, UnixSkEntry *u)
{
	struct unix_diag_info ui;
	struct stat st = { .st_ino = u->peer };
	FileEntry *fe;
	int ret;

	if (has_queue(t, u->id)) {
		pr_err("process %d: unix socket %u has data queued from its peer outside: not "
		       "supported", t->pid, u->id);
		return -EOPNOTSUPP;
	}
	if (find_external(t, u->peer))
		return 0;
	ret = unix_diag_get(u->peer, &ui);
	free(ui.icons);
	if (ret)
		return ret;
	if (!ui.name_len) {
		pr_err("process %d: unix socket %u: its peer outside (inode %u) has no name to "
		       "reconnect to", t->pid, u->id, u->peer);
		return -EOPNOTSUPP;
	}
	fe = files_new(t, FD_TYPES__UNIXSK, &st, 0, -1);
	if (!fe)
		return -ENOMEM;
	ret = fill_external(t, fe, u, &ui);
	if (!ret)
		pr_info("socket %u: peer outside, reconnected to %s%.*s on restore", u->id,
			ui.name[0] ? "" : "@", ui.name_len - !ui.name[0], ui.name + !ui.name[0]);
	return ret;
}

/*
 * Peer 0 on a connected stream socket: pending on a listener, or the peer was closed
 * (restored as a pair whose other end is closed again). A peer outside: refused.
 */
static int resolve_one(struct dtask *t, struct sk_dumped *d)
{
	UnixSkEntry *u = d->fe->usk;
	struct sk_dumped *l;

	if (u->peer && find_ino(t, u->peer))
		return 0;
	l = u->type != SOCK_DGRAM && u->state == TCP_ESTABLISHED ? find_listener(t, u->ino) : NULL;
	if (l)
		return resolve_pending(t, d, l);
	if (!u->peer)
		return 0;
	if (t->sk->flags & SK_EXT_UNIX)
		return add_external(t, u);
	pr_err("process %d: unix socket %u (inode %u) is connected to inode %u outside the "
	       "dumped process: dump with --ext-unix-sk to reconnect it by name on restore",
	       t->pid, u->id, u->ino, u->peer);
	return -EOPNOTSUPP;
}

/* Every listener's pending client must be ours, every peer ours or a listener's. */
int sk_unix_resolve(struct dtask *t)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; !ret && i < t->sk->n_socks; i++) {
		struct sk_dumped *d = &t->sk->socks[i];

		if (!d->fe->usk)
			continue;
		for (j = 0; !ret && j < d->n_icons; j++)
			if (!find_ino(t, d->icons[j])) {
				pr_err("process %d: listening unix socket %u has a pending "
				       "connection from inode %u outside the process: not "
				       "supported yet", t->pid, d->fe->id, d->icons[j]);
				ret = -EOPNOTSUPP;
			}
		if (!ret)
			ret = resolve_one(t, d);
	}
	return ret;
}

/* --- restore ------------------------------------------------------------------------- */

static const FileEntry *by_ino(const struct rst_task *t, uint32_t ino)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++)
		if (t->files[i]->type == FD_TYPES__UNIXSK && t->files[i]->usk->ino == ino)
			return t->files[i];
	return NULL;
}

int rst_unix_check(struct rst_task *t, const FileEntry *fe)
{
	const UnixSkEntry *u = fe->usk;
	const FileEntry *p;

	if (!u || u->id != fe->id || u->name.len > (size_t)UNIX_NAME_MAX) {
		pr_err("files.img: unix socket file %u has no entry, another id or a name too long",
		       fe->id);
		return -EINVAL;
	}
	if ((u->type != SOCK_STREAM && u->type != SOCK_DGRAM && u->type != SOCK_SEQPACKET) ||
	    (u->state != TCP_ESTABLISHED && u->state != TCP_CLOSE && u->state != TCP_LISTEN)) {
		pr_err("files.img: unix socket %u: type %u state %u not supported", fe->id, u->type,
		       u->state);
		return -EINVAL;
	}
	if ((u->uflags & USK_EXTERN) && !u->name.len) {
		pr_err("files.img: external unix socket %u has no name to connect to", fe->id);
		return -EINVAL;
	}
	if (u->uflags & USK_EXTERN)
		return 0;
	p = u->peer ? by_ino(t, u->peer) : NULL;
	if (u->peer && (!p || p == fe || p->usk->type != u->type ||
			(p->usk->peer != u->ino && !p->usk->name.len))) {
		pr_err("files.img: unix socket %u: peer inode %u is not a socket of the image that "
		       "can be reached", fe->id, u->peer);
		return -EINVAL;
	}
	return 0;
}

static bool is_pair(const struct rst_task *t, const UnixSkEntry *u, const FileEntry **peer)
{
	const FileEntry *p = u->peer ? by_ino(t, u->peer) : NULL;

	*peer = p;
	if (!p || p->usk->peer != u->ino || u->state != TCP_ESTABLISHED)
		return false;
	return u->type != SOCK_DGRAM || (!u->name.len && !p->usk->name.len);
}

/* The sockaddr of a name checked by rst_unix_check(); no name: just the family. */
static socklen_t make_addr(const UnixSkEntry *u, struct sockaddr_un *sa)
{
	size_t len;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!u->name.len)
		return offsetof(struct sockaddr_un, sun_path);
	memcpy(sa->sun_path, u->name.data, u->name.len);
	len = offsetof(struct sockaddr_un, sun_path) + u->name.len + (u->name.data[0] ? 1 : 0);
	return len < sizeof(*sa) ? len : sizeof(*sa);
}

/* A connected socket whose peer was closed: a pair, its queue sent, the other end closed. */
static int create_orphan(struct rst_task *t, const FileEntry *fe, int *slot)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, fe->usk->type | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("socketpair for unix socket %u", fe->id);
		return -errno;
	}
	*slot = sv[0];
	ret = rst_sk_fill_queue(t, fe->id, sv[1], NULL, 0);
	close(sv[1]);
	return ret;
}

static int create_one(struct rst_task *t, const FileEntry *fe)
{
	const UnixSkEntry *u = fe->usk;
	int *slot = rst_sk_slot(t, fe->id), sv[2];
	const FileEntry *p;

	if (*slot >= 0)
		return 0;
	if (is_pair(t, u, &p)) {
		if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv)) {
			pr_perror("socketpair for unix sockets %u and %u", fe->id, p->id);
			return -errno;
		}
		*slot = sv[0];
		*rst_sk_slot(t, p->id) = sv[1];
		return 0;
	}
	if (!u->peer && u->state == TCP_ESTABLISHED && u->type != SOCK_DGRAM)
		return create_orphan(t, fe, slot);
	*slot = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (*slot < 0) {
		pr_perror("cannot create unix socket %u", fe->id);
		return -errno;
	}
	return 0;
}

/* A stale socket file left by the dumped process is in the way of bind: remove it. */
static void unlink_stale(const struct sockaddr_un *sa)
{
	struct stat st;

	if (sa->sun_path[0] && !lstat(sa->sun_path, &st) && S_ISSOCK(st.st_mode) &&
	    unlink(sa->sun_path))
		pr_warn("cannot remove the old socket file %s: %m", sa->sun_path);
}

static int bind_one(struct rst_task *t, const FileEntry *fe, int sk)
{
	const UnixSkEntry *u = fe->usk;
	struct sockaddr_un sa;
	socklen_t len;
	int ret;

	ret = sk_opts_restore_early(sk, u->opts);
	if (ret || !u->name.len)
		return ret;
	len = make_addr(u, &sa);
	unlink_stale(&sa);
	if (bind(sk, (struct sockaddr *)&sa, len)) {
		pr_perror("cannot bind unix socket %u to %s%s", fe->id, sa.sun_path[0] ? "" : "@",
			  sa.sun_path + !sa.sun_path[0]);
		return -errno;
	}
	if (u->state == TCP_LISTEN && listen(sk, u->backlog)) {
		pr_perror("cannot listen on unix socket %u", fe->id);
		return -errno;
	}
	return 0;
}

/* Datagrams queued on a named socket that is not one end of a pair: sent from a new one. */
static int fill_named(struct rst_task *t, const FileEntry *fe)
{
	const UnixSkEntry *u = fe->usk;
	struct sockaddr_un sa;
	socklen_t len;
	int tmp, ret;

	tmp = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (tmp < 0) {
		pr_perror("cannot create a socket to refill unix socket %u", fe->id);
		return -errno;
	}
	len = make_addr(u, &sa);
	ret = sk_opts_restore(tmp, u->opts);
	ret = ret ?: rst_sk_fill_queue(t, fe->id, tmp, (struct sockaddr *)&sa, len);
	close(tmp);
	return ret;
}

static int connect_one(struct rst_task *t, const FileEntry *fe, int sk)
{
	const FileEntry *p;
	struct sockaddr_un sa;
	socklen_t len;

	if (is_pair(t, fe->usk, &p) || !p)
		return 0;
	len = make_addr(p->usk, &sa);
	if (connect(sk, (struct sockaddr *)&sa, len)) {
		pr_perror("cannot connect unix socket %u to %s%s%s", fe->id,
			  p->usk->uflags & USK_EXTERN ? "the socket outside at " : "",
			  sa.sun_path[0] ? "" : "@", sa.sun_path + !sa.sun_path[0]);
		return -errno;
	}
	return 0;
}

static int fill_from_peer(struct rst_task *t, const FileEntry *fe)
{
	const FileEntry *p = fe->usk->peer ? by_ino(t, fe->usk->peer) : NULL;

	if (!rst_sk_has_queue(t, fe->id) || (fe->usk->type == SOCK_DGRAM && fe->usk->name.len) ||
	    (!p && fe->usk->state == TCP_ESTABLISHED && fe->usk->type != SOCK_DGRAM))
		return 0; /* nothing, or done by fill_named() or create_orphan() */
	if (p && p->usk->peer == fe->usk->ino)
		return rst_sk_fill_queue(t, fe->id, *rst_sk_slot(t, p->id), NULL, 0);
	pr_err("unix socket %u has queued data but no peer in the image to send it", fe->id);
	return -EINVAL;
}

static int finish_one(const FileEntry *fe, int sk)
{
	static const int how[] = { -1, SHUT_RD, SHUT_WR, SHUT_RDWR };
	const UnixSkEntry *u = fe->usk;
	int ret;

	if (u->has_shutdown && u->shutdown && shutdown(sk, how[u->shutdown & 3])) {
		pr_perror("cannot shut unix socket %u down (%u)", fe->id, u->shutdown);
		return -errno;
	}
	ret = sk_opts_restore(sk, u->opts);
	return ret ?: sk_set_flags(sk, u->flags);
}

enum unix_step { U_CREATE, U_BIND, U_FILL_NAMED, U_CONNECT, U_FILL_PEER, U_FINISH, U_NR };

static int unix_step(struct rst_task *t, const FileEntry *fe, enum unix_step step)
{
	int sk = *rst_sk_slot(t, fe->id);
	const FileEntry *p;

	switch (step) {
	case U_CREATE:
		return create_one(t, fe);
	case U_BIND:
		return is_pair(t, fe->usk, &p) ? sk_opts_restore_early(sk, fe->usk->opts)
					       : bind_one(t, fe, sk);
	case U_FILL_NAMED:
		if (fe->usk->type == SOCK_DGRAM && fe->usk->name.len && !is_pair(t, fe->usk, &p))
			return rst_sk_has_queue(t, fe->id) ? fill_named(t, fe) : 0;
		return 0;
	case U_CONNECT:
		return connect_one(t, fe, sk);
	case U_FILL_PEER:
		return fill_from_peer(t, fe);
	default:
		return finish_one(fe, sk);
	}
}

/* Every unix socket of the image, step by step (all bound before any connects...). */
int rst_unix_create(struct rst_task *t)
{
	enum unix_step step;
	size_t i;
	int ret = 0;

	for (step = U_CREATE; !ret && step < U_NR; step++)
		for (i = 0; !ret && i < t->nr_files; i++)
			if (t->files[i]->type == FD_TYPES__UNIXSK &&
			    !(t->files[i]->usk->uflags & USK_EXTERN))
				ret = unix_step(t, t->files[i], step);
	return ret;
}
