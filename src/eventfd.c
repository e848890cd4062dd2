// SPDX-License-Identifier: MIT
/*
 * eventfd, both halves: the counter and EFD_SEMAPHORE come from /proc/PID/fdinfo
 * (eventfd-count, eventfd-semaphore), O_NONBLOCK from the file flags. Restore creates
 * the eventfd with eventfd(2) and adds the counter with write(2) (it may exceed 32 bits).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOG_PREFIX "eventfd: "
#include "log.h"
#include "files.h"
#include "rst.h"

#define EFD_SAVED_SEMAPHORE 1	/* in eventfd_file_entry.flags: never an f_flag of an eventfd */

static int eventfd_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	const char *count = fd_parms_field(p, "eventfd-count:");
	const char *sem = fd_parms_field(p, "eventfd-semaphore:");
	EventfdFileEntry *e = dtask_alloc(t, sizeof(*e));

	if (!e)
		return -ENOMEM;
	eventfd_file_entry__init(e);
	e->fown = files_fown(t);
	if (!e->fown)
		return -ENOMEM;
	if (!count || sscanf(count, "%" SCNx64, &e->counter) != 1) {
		pr_err("process %d fd %d: no eventfd-count in its fdinfo", t->pid, p->fd);
		return -EINVAL;
	}
	e->id = fe->id;
	e->flags = p->fi.flags & ~(O_CLOEXEC | O_ACCMODE);
	if (sem && *sem == '1')
		e->flags |= EFD_SAVED_SEMAPHORE;
	fe->efd = e;
	return 0;
}

static int eventfd_check(const FileEntry *fe)
{
	if (!fe->efd || fe->efd->id != fe->id || fe->efd->counter == UINT64_MAX) {
		pr_err("files.img: eventfd file id %u has no entry, a wrong id or counter", fe->id);
		return -EINVAL;
	}
	return 0;
}

static int eventfd_open(struct rst_task *t, const FileEntry *fe)
{
	const EventfdFileEntry *e = fe->efd;
	int flags = EFD_CLOEXEC | (e->flags & O_NONBLOCK ? EFD_NONBLOCK : 0);
	int fd;

	if (e->flags & EFD_SAVED_SEMAPHORE)
		flags |= EFD_SEMAPHORE;
	fd = eventfd(0, flags);
	if (fd < 0) {
		pr_perror("cannot create eventfd %u", fe->id);
		return -errno;
	}
	if (e->counter && write(fd, &e->counter, sizeof(e->counter)) != sizeof(e->counter)) {
		pr_perror("cannot set eventfd %u to %" PRIu64, fe->id, e->counter);
		close(fd);
		return -EIO;
	}
	return fd;
}

const struct fd_ops eventfd_ops = {
	.name = "eventfd",
	.type = FD_TYPES__EVENTFD,
	.dump = eventfd_dump,
	.check = eventfd_check,
	.open = eventfd_open,
};
