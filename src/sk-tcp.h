/* SPDX-License-Identifier: MIT */
/*
 * TCP repair, the small library behind --tcp-established (kernel: TCP_REPAIR and
 * friends, Documentation/networking/tcp.rst). The lifecycle of one connection:
 *
 *   dump (ferry's copy of the task's socket, task frozen)
 *     netlock_add()             its packets are dropped both ways from now on
 *     TCP_REPAIR on             the socket sends nothing, not even on close
 *     read: TCP_INFO options and window scales, TCP_MAXSEG (mss_clamp), TCP_TIMESTAMP,
 *           TCP_REPAIR_WINDOW, per queue (TCP_REPAIR_QUEUE) TCP_QUEUE_SEQ, its length
 *           (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD) and its bytes (MSG_PEEK)
 *     -> tcp-stream-<ino>.img
 *     the task is killed: the socket closes silently (repair). A failed or -R dump
 *     turns repair off (window probe) and unlocks instead.
 *     Half-closed (FIN_WAIT1/2, CLOSING, LAST_ACK: our FIN sent; CLOSE_WAIT, CLOSING,
 *     LAST_ACK: the peer's FIN received): the state is read again under the lock; a
 *     FIN counts one in its sequence (outq_seq, inq_seq include it) but no byte of
 *     the queues (outq_len and unsq_len leave it out, as CRIU's images).
 *
 *   restore (in the new task)
 *     socket, TCP_REPAIR on, bind to the old address (repair forces reuse)
 *     TCP_QUEUE_SEQ of both queues to where each queue starts
 *     connect: in repair no SYN is sent, the socket is ESTABLISHED at once
 *     TCP_REPAIR_OPTIONS (mss, wscale, sack, timestamps), TCP_TIMESTAMP
 *     the receive queue and the sent part of the send queue written back
 *     TCP_REPAIR_WINDOW; then, once all sockets are built: half-closed ones get their
 *     FINs back (sk-tcp-fin.c), TCP_REPAIR off and the unsent part of the send queue
 *     sent normally. The controller unlocks after the restore.
 */
#ifndef FERRY_SK_TCP_H
#define FERRY_SK_TCP_H

#include "sockets.h"
#include "tcp-stream.pb-c.h"

/* One connection read from tcp-stream-<ino>.img. */
struct tcp_stream {
	uint32_t id;			/* files.img id */
	const FileEntry *fe;		/* its files.img entry (restore) */
	TcpStreamEntry *e;
	uint8_t *inq, *outq;
	int sk;				/* built in the new task, repair still on */
	bool unsent_done;		/* sk-tcp-fin.c sent the unsent part before its FIN */
	int reuseaddr;			/* dump: SO_REUSEADDR, which leaving repair clears */
};

/* sk-tcp.c: the unsent part of the send queue, sent the normal way (repair off). */
int tcp_send_unsent(const struct tcp_stream *ts);
/* sk-tcp.c: TCP_REPAIR_WINDOW as saved (repair on); before_fin: the peer's FIN not back. */
int tcp_set_saved_window(int sk, const TcpStreamEntry *e, bool before_fin);
/*
 * sk-tcp-fin.c: a half-closed connection from the ESTABLISHED socket ts->sk that repair
 * built (queues filled, repair on; every socket of the task built: the peer's answers
 * find it): our FIN (shutdown in repair), the peer's FIN and the ACK of ours (forged
 * segments); checks that the socket is in the saved state; repair stays on.
 */
int tcp_fin_rebuild(struct tcp_stream *ts);

#endif
