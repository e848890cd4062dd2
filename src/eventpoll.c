// SPDX-License-Identifier: MIT
/*
 * epoll, both halves. Dump: every target from /proc/PID/fdinfo (tfd, events, data); each
 * must still be that fd of the task (kcmp KCMP_EPOLL_TFD), else the dump is refused: a
 * target whose fd was closed but stays registered cannot be rebuilt. Restore, after the
 * other files: epoll_create1(2), then epoll_ctl(ADD) of each target under its own fd number
 * (epoll keys items by file and number), borrowing that number for the call.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#define LOG_PREFIX "epoll: "
#include "log.h"
#include "files.h"
#include "rst.h"

#define EPOLL_MAX_TFD 65536

static int check_target(struct dtask *t, const struct fd_parms *p, const EventpollTfdEntry *e)
{
	struct kcmp_epoll_slot slot = { .efd = p->fd, .tfd = e->tfd, .toff = 0 };
	long r = syscall(SYS_kcmp, t->pid, t->pid, KCMP_EPOLL_TFD, e->tfd, (unsigned long)&slot);

	char link[64], target[64] = "";

	snprintf(link, sizeof(link), "/proc/%d/fd/%u", t->pid, e->tfd);
	if (r == 0 && readlink(link, target, sizeof(target) - 1) > 0 &&
	    !strcmp(target, "anon_inode:[eventpoll]")) {
		pr_err("process %d fd %d: epoll target fd %u is an epoll itself: not supported yet",
		       t->pid, p->fd, e->tfd);
		return -EOPNOTSUPP;
	}
	if (r == 0)
		return 0;
	pr_err("process %d fd %d: epoll target fd %u (inode %" PRIu64 ") was closed or replaced "
	       "but is still registered: ferry cannot restore such a target", t->pid, p->fd,
	       e->tfd, e->inode);
	return -EOPNOTSUPP;
}

static int add_target(struct dtask *t, const struct fd_parms *p, EventpollFileEntry *ep,
		      const char *line)
{
	EventpollTfdEntry *e = dtask_alloc(t, sizeof(*e));
	int ret;

	if (!e)
		return -ENOMEM;
	eventpoll_tfd_entry__init(e);
	e->id = ep->id;
	if (sscanf(line, "%u events: %x data: %" SCNx64 " pos:%" SCNu64 " ino:%" SCNx64
		   " sdev:%x", &e->tfd, &e->events, &e->data, &e->pos, &e->inode, &e->dev) < 3) {
		pr_err("process %d fd %d: cannot parse epoll target '%.60s'", t->pid, p->fd, line);
		return -EINVAL;
	}
	e->has_pos = e->has_inode = e->has_dev = 1;
	ret = check_target(t, p, e);
	if (ret)
		return ret;
	ep->tfd[ep->n_tfd++] = e;
	return 0;
}

static int eventpoll_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	EventpollFileEntry *ep = dtask_alloc(t, sizeof(*ep));
	const char *s;
	size_t n;
	int ret;

	if (!ep)
		return -ENOMEM;
	eventpoll_file_entry__init(ep);
	ep->fown = files_fown(t);
	if (!ep->fown)
		return -ENOMEM;
	ep->id = fe->id;
	ep->flags = p->fi.flags & ~O_CLOEXEC;
	fe->epfd = ep;
	for (s = p->fdinfo, n = 0; (s = strstr(s, "tfd:")); s += 4)
		n++;
	ep->tfd = dtask_alloc(t, (n + 1) * sizeof(*ep->tfd));
	if (!ep->tfd)
		return -ENOMEM;
	for (s = p->fdinfo; (s = strstr(s, "tfd:")); s += 4) {
		ret = add_target(t, p, ep, s + 4);
		if (ret)
			return ret;
	}
	return 0;
}

static int eventpoll_check(const FileEntry *fe)
{
	if (!fe->epfd || fe->epfd->id != fe->id || fe->epfd->n_tfd > EPOLL_MAX_TFD) {
		pr_err("files.img: epoll file id %u has no entry, a wrong id or too many targets",
		       fe->id);
		return -EINVAL;
	}
	return 0;
}

/* The temporary fd of the task's fd number tfd, or -1. */
static int target_fd(const struct rst_task *t, uint32_t tfd)
{
	size_t i;

	for (i = 0; i < t->nr_fds; i++)
		if (t->fds[i].fd == (int)tfd)
			return rst_file_fd(t, t->fds[i].file->id);
	return -1;
}

/* epoll_ctl(ADD) src under the number e->tfd, which ferry may be using: lend it. */
static int add_at_number(struct rst_task *t, int epfd, int src, const EventpollTfdEntry *e)
{
	struct epoll_event ev = { .events = e->events, .data.u64 = e->data };
	int num = e->tfd, fdflags = fcntl(num, F_GETFD), saved = -1, ret = 0;

	if (fdflags >= 0 && (saved = fcntl(num, F_DUPFD_CLOEXEC, t->max_fd + 1)) < 0)
		return -errno;
	if (dup2(src, num) != num || epoll_ctl(epfd, EPOLL_CTL_ADD, num, &ev))
		ret = -errno;
	if (saved >= 0) {
		dup3(saved, num, fdflags & FD_CLOEXEC ? O_CLOEXEC : 0);
		close(saved);
	} else {
		close(num);
	}
	return ret;
}

static int eventpoll_open(struct rst_task *t, const FileEntry *fe)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC), ret = 0;
	size_t i;

	if (epfd < 0) {
		pr_perror("cannot create epoll %u", fe->id);
		return -errno;
	}
	for (i = 0; !ret && i < fe->epfd->n_tfd; i++) {
		const EventpollTfdEntry *e = fe->epfd->tfd[i];
		int src = target_fd(t, e->tfd);

		if (src < 0) {
			pr_err("files.img: epoll %u: target fd %u is not open in the task", fe->id,
			       e->tfd);
			ret = -EINVAL;
		} else if ((ret = add_at_number(t, epfd, src, e))) {
			errno = -ret;
			pr_perror("epoll %u: cannot add target fd %u", fe->id, e->tfd);
		}
	}
	if (ret) {
		close(epfd);
		return ret;
	}
	return epfd;
}

const struct fd_ops eventpoll_ops = {
	.name = "epoll",
	.type = FD_TYPES__EVENTPOLL,
	.dump = eventpoll_dump,
	.check = eventpoll_check,
	.open = eventpoll_open,
	.late = true,
};
