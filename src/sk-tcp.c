// SPDX-License-Identifier: MIT
/*
 * Established TCP connections (placeholder until TCP repair lands).
 */
#define LOG_PREFIX "tcp: "
#include "log.h"
#include "rst.h"
#include "sockets.h"

int sk_tcp_dump(struct dtask *t, int sk, InetSkEntry *e)
{
	pr_err("process %d: --tcp-established is not implemented yet", t->pid);
	return -EOPNOTSUPP;
}

int rst_tcp_check(struct rst_task *t, const FileEntry *fe)
{
	pr_err("files.img: inet socket %u is an established TCP connection: not supported yet",
	       fe->id);
	return -EOPNOTSUPP;
}

int rst_tcp_create(struct rst_task *t, const FileEntry *fe, int *slot)
{
	return -EOPNOTSUPP;
}

int rst_tcp_finish(struct rst_task *t)
{
	return 0;
}
