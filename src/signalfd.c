// SPDX-License-Identifier: MIT
/*
 * signalfd, both halves: the mask from /proc/PID/fdinfo (sigmask, hex), O_NONBLOCK from
 * the file flags; restore creates it with signalfd(2). Queued signals stay with the task
 * (they are the task's pending signals, saved elsewhere).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "signalfd: "
#include "log.h"
#include "files.h"
#include "rst.h"

static int signalfd_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	const char *mask = fd_parms_field(p, "sigmask:");
	SignalfdEntry *e = dtask_alloc(t, sizeof(*e));

	if (!e)
		return -ENOMEM;
	signalfd_entry__init(e);
	e->fown = files_fown(t);
	if (!e->fown)
		return -ENOMEM;
	if (!mask || sscanf(mask, "%" SCNx64, &e->sigmask) != 1) {
		pr_err("process %d fd %d: no sigmask in its fdinfo", t->pid, p->fd);
		return -EINVAL;
	}
	e->id = fe->id;
	e->flags = p->fi.flags & ~(O_CLOEXEC | O_ACCMODE);
	fe->sgfd = e;
	return 0;
}

static int signalfd_check(const FileEntry *fe)
{
	if (!fe->sgfd || fe->sgfd->id != fe->id) {
		pr_err("files.img: signalfd file id %u has no entry or a wrong id", fe->id);
		return -EINVAL;
	}
	return 0;
}

static int signalfd_open(struct rst_task *t, const FileEntry *fe)
{
	const SignalfdEntry *e = fe->sgfd;
	int flags = SFD_CLOEXEC | (e->flags & O_NONBLOCK ? SFD_NONBLOCK : 0);
	uint64_t mask = e->sigmask;
	int fd;

	/* the raw syscall takes the kernel's 8-byte sigset_t */
	fd = syscall(SYS_signalfd4, -1, &mask, sizeof(mask), flags);
	if (fd < 0) {
		pr_perror("cannot create signalfd %u (mask %#" PRIx64 ")", fe->id, mask);
		return -errno;
	}
	return fd;
}

const struct fd_ops signalfd_ops = {
	.name = "signalfd",
	.type = FD_TYPES__SIGNALFD,
	.dump = signalfd_dump,
	.check = signalfd_check,
	.open = signalfd_open,
};
