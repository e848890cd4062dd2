// SPDX-License-Identifier: MIT
/*
 * IPv4/IPv6 sockets (placeholder until UDP and TCP land).
 */
#define LOG_PREFIX "inet: "
#include "log.h"
#include "rst.h"
#include "sockets.h"

int sk_inet_dump(struct dtask *t, int sk, int family, const struct stat *st,
		 unsigned int flags, FileEntry *fe)
{
	pr_err("process %d: inet sockets are not supported yet", t->pid);
	return -EOPNOTSUPP;
}

int rst_inet_check(struct rst_task *t, const FileEntry *fe)
{
	return -EOPNOTSUPP;
}

int rst_inet_create(struct rst_task *t)
{
	return 0;
}
