/* SPDX-License-Identifier: MIT */
/*
 * Sockets of a task, both halves, plugged into the fd table as unix_sk_ops/inet_sk_ops
 * (files.h). Dump: every S_IFSOCK fd is pulled into ferry (pidfd_getfd) and becomes a
 * files.img entry (usk/isk); sk_dump_finish() then resolves unix peers across the task;
 * the write hook saves sk-queues.img. Restore: rst_sk_load() validates them all with the
 * plan; the first socket opened in the new task builds every socket of the task.
 */
#ifndef FERRY_SOCKETS_H
#define FERRY_SOCKETS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "dtask.h"
#include "files.h"
#include "sk-opts.pb-c.h"
#include "sk-packet.pb-c.h"

struct rst_task;
struct tcp_stream;

/* How to treat what cannot be restored as it is (CRIU's options of the same names). */
#define SK_EXT_UNIX 0x1		/* --ext-unix-sk */
#define SK_TCP_ESTABLISHED 0x2	/* --tcp-established */
#define SK_TCP_CLOSE 0x4	/* --tcp-close */

/* One message of a receive queue, as dumped or to restore. */
struct sk_msg {
	uint32_t id;			/* files.img id of the receiving socket */
	uint32_t len;
	void *data;
	struct sockaddr_storage addr;	/* sender of a datagram, when addr_len */
	socklen_t addr_len;
};

/* Dump state of the sockets of one task (dtask.sk). */
struct sk_dump {
	unsigned int flags;		/* SK_* */
	struct sk_dumped {
		FileEntry *fe;
		uint32_t *icons;	/* a listening unix socket: inodes of pending clients */
		uint32_t n_icons;
		uint32_t wqlen;		/* unix: bytes sent and not yet received */
	} *socks;			/* every socket file of the task */
	size_t n_socks, socks_cap;
	struct sk_msg *msgs;		/* their receive queues */
	size_t n_msgs, msgs_cap;
	struct tcp_stream *tcp;		/* sk-tcp.c: connections in repair */
	size_t n_tcp, tcp_cap;
};

/* dump side (sockets.c); the state is the tree's (dfiles.sk), t any task of it */
int sk_dump_finish(struct dtask *t);
/* Queue one peeked message (data copied into the arena). */
int sk_dump_msg(struct dtask *t, uint32_t id, const void *data, size_t len,
		const struct sockaddr *addr, socklen_t addr_len);
/* Peek the whole receive queue of sk (not altered; SO_PEEK_OFF is put back). */
int sk_dump_queue(struct dtask *t, int sk, uint32_t id, bool dgram, bool rcv_shut);

/* sk-unix.c */
int sk_unix_dump(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		 FileEntry *fe);
int sk_unix_resolve(struct dtask *t);
/* sk-inet.c */
int sk_inet_dump(struct dtask *t, int sk, int family, const struct stat *st,
		 unsigned int flags, FileEntry *fe);

/* sk-inet.c: an address of the image as a sockaddr, and printed. */
socklen_t sk_inet_addr(int family, const uint32_t *words, size_t n, uint32_t port,
		       struct sockaddr_storage *ss);
const char *sk_inet_str(const struct sockaddr_storage *ss, char *buf, size_t len);
/* sk-tcp.c: established connections through TCP repair (see sk-tcp.h). */
int sk_tcp_dump(struct dtask *t, int sk, InetSkEntry *e);
int sk_tcp_write(struct dtask *t, int dirfd);
void sk_tcp_dump_fini(struct dtask *t, bool killed);
struct tcp_hold;
/* The tree's connections to h, untouched (dump_opts.tcp_hold); t: any task of it. */
void sk_tcp_hand_over(struct dtask *t, struct tcp_hold *h);
int rst_tcp_check(struct rst_task *t, const FileEntry *fe);
int rst_tcp_create(struct rst_task *t, const FileEntry *fe, int *slot);
/* Lock the connections of the tree of root again, before its first task (warns). */
void rst_tcp_lock(struct rst_task *root);
int rst_tcp_finish(struct rst_task *t);
void rst_tcp_free(struct rst_task *t);
/* sk-tcp-fin.c: TCP states (TCP_*): names; connected = ESTABLISHED or half-closed. */
const char *tcp_state_name(unsigned int state);
bool tcp_state_connected(unsigned int state);
bool tcp_fin_sent(unsigned int state);
bool tcp_fin_received(unsigned int state);
/*
 * sk-inet.c, for sk-tcp.c: the options that go before bind (SO_REUSEADDR on among them),
 * the bind, the rest of the options (after connect) and, out of repair, the saved
 * SO_REUSEADDR.
 */
int rst_inet_before_bind(const FileEntry *fe, int sk);
int rst_inet_bind(const FileEntry *fe, int sk);
int rst_inet_finish(const FileEntry *fe, int sk);
int rst_inet_reuseaddr(const FileEntry *fe, int sk);

/* sk-packet.c: packet and netlink sockets */
int sk_packet_dump(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		   FileEntry *fe);
int sk_netlink_dump(struct dtask *t, int sk, const struct stat *st, unsigned int flags,
		    FileEntry *fe);
int rst_packet_check(const FileEntry *fe);
int rst_netlink_check(const FileEntry *fe);
int rst_packet_netlink_create(struct rst_task *t);

/* sockopts.c: the options of sk_opts_entry, and O_NONBLOCK. */
int sk_opts_dump(struct dtask *t, int sk, SkOptsEntry *o);
int sk_opts_restore(int sk, const SkOptsEntry *o);
/* What must be set before bind: SO_REUSEADDR/REUSEPORT, SO_BINDTODEVICE. */
int sk_opts_restore_early(int sk, const SkOptsEntry *o);
int sk_set_flags(int sk, unsigned int flags);

/* restore side (sockets.c) */
struct rst_sk {
	int *fds;			/* per files.img index: the created socket, or -1 */
	struct sk_msg *msgs;		/* sk-queues.img */
	size_t n_msgs;
	struct tcp_stream *tcp;		/* tcp-stream-*.img */
	size_t n_tcp;
};
int rst_sk_load(struct rst_task *t);
void rst_sk_free(struct rst_task *t);
/* After the restore (controller): unlock the connections, or say they stay locked. */
void rst_sk_done(struct rst_task *t, bool ok);
/* After the dump: release what sockets hold (killed: the task is gone). */
void sk_dump_fini(struct dtask *t, bool killed);
/* After a failed dump: remove the images only sockets write (tcp-stream-*.img). */
void sk_dump_remove_images(struct dtask *t, int dirfd);
/* Send the queued messages for file id from the socket from (to: destination or NULL). */
int rst_sk_fill_queue(struct rst_task *t, uint32_t id, int from, const struct sockaddr *to,
		      socklen_t to_len);
bool rst_sk_has_queue(struct rst_task *t, uint32_t id);

/* Where the socket built for file id is kept while they are all built. */
int *rst_sk_slot(struct rst_task *t, uint32_t id);

int rst_unix_check(struct rst_task *t, const FileEntry *fe);
int rst_unix_create(struct rst_task *t);
int rst_inet_check(struct rst_task *t, const FileEntry *fe);
int rst_inet_create(struct rst_task *t);

#endif
