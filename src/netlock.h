/* SPDX-License-Identifier: MIT */
/*
 * The network lock of established TCP connections: from the moment a connection is
 * frozen for its dump until it is restored, its packets are dropped both ways, so that
 * the kernel never answers the peer with a RST while no socket owns the 4-tuple.
 * One nftables table per dumped process, `inet ferry_lock_<PID>` (libnftables).
 *
 * Lifecycle: netlock_add() per connection (dump) -> netlock_remove(PID) after a failed
 * or left-running dump, or by the restore once the connections are back.
 */
#ifndef FERRY_NETLOCK_H
#define FERRY_NETLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Packets with this mark pass the lock: the segments the restore forges (CRIU's value). */
#define NETLOCK_MARK 0xC114

/* Drop the packets of the connection self <-> peer (both directions); 0 or -errno. */
int netlock_add(pid_t pid, const struct sockaddr_storage *self,
		const struct sockaddr_storage *peer);
/* Remove the lock table of pid, if any; 0 or -errno. */
int netlock_remove(pid_t pid);
/* Whether pid has a lock table (the restore uses it to say what it unlocks). */
bool netlock_exists(pid_t pid);

/* Whether an inet table can be made here (ferry check); why says what failed. */
int netlock_probe(char *why, size_t len);

#endif
