// SPDX-License-Identifier: MIT
/*
 * timerfd, both halves: clock, ticks not yet read, settime flags, time left and interval
 * from /proc/PID/fdinfo. Restore: timerfd_create(2), timerfd_settime(2) with the time left
 * as a relative value (time runs on from the restore), unread ticks by TFD_IOC_SET_TICKS.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "timerfd: "
#include "log.h"
#include "files.h"
#include "rst.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static int parse_timer(const struct fd_parms *p, TimerfdEntry *e)
{
	const char *clk = fd_parms_field(p, "clockid:");
	const char *ticks = fd_parms_field(p, "ticks:");
	const char *flags = fd_parms_field(p, "settime flags:");
	const char *val = fd_parms_field(p, "it_value:");
	const char *iv = fd_parms_field(p, "it_interval:");

	if (!clk || !ticks || !flags || !val || !iv || sscanf(clk, "%u", &e->clockid) != 1 ||
	    sscanf(ticks, "%" SCNu64, &e->ticks) != 1 || sscanf(flags, "%o", &e->settime_flags) != 1 ||
	    sscanf(val, "(%" SCNu64 ", %" SCNu64 ")", &e->vsec, &e->vnsec) != 2 ||
	    sscanf(iv, "(%" SCNu64 ", %" SCNu64 ")", &e->isec, &e->insec) != 2)
		return -EINVAL;
	return 0;
}

static int timerfd_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	TimerfdEntry *e = dtask_alloc(t, sizeof(*e));

	if (!e)
		return -ENOMEM;
	timerfd_entry__init(e);
	e->fown = files_fown(t);
	if (!e->fown)
		return -ENOMEM;
	if (parse_timer(p, e)) {
		pr_err("process %d fd %d: cannot parse the timerfd fields of its fdinfo", t->pid,
		       p->fd);
		return -EINVAL;
	}
	e->id = fe->id;
	e->flags = p->fi.flags & ~(O_CLOEXEC | O_ACCMODE);
	fe->tfd = e;
	return 0;
}

static int timerfd_check(const FileEntry *fe)
{
	const TimerfdEntry *e = fe->tfd;

	if (!e || e->id != fe->id || e->vnsec >= 1000000000 || e->insec >= 1000000000 ||
	    e->vsec > INT64_MAX || e->isec > INT64_MAX) {
		pr_err("files.img: timerfd file id %u has no entry, a wrong id or time", fe->id);
		return -EINVAL;
	}
	return 0;
}

static int arm(int fd, const TimerfdEntry *e)
{
	struct itimerspec its = {
		.it_value = { e->vsec, e->vnsec },
		.it_interval = { e->isec, e->insec },
	};

	/* armed with no time left (expiring right now): fire at once, not disarm */
	if (!e->vsec && !e->vnsec && (e->isec || e->insec))
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		pr_perror("cannot arm timerfd %u", e->id);
		return -errno;
	}
	if (e->ticks && ioctl(fd, TFD_IOC_SET_TICKS, &e->ticks)) {
		pr_perror("cannot set %" PRIu64 " unread ticks on timerfd %u", e->ticks, e->id);
		return -errno;
	}
	return 0;
}

static int timerfd_open(struct rst_task *t, const FileEntry *fe)
{
	const TimerfdEntry *e = fe->tfd;
	int flags = TFD_CLOEXEC | (e->flags & O_NONBLOCK ? TFD_NONBLOCK : 0);
	int fd, ret;

	fd = timerfd_create(e->clockid, flags);
	if (fd < 0) {
		pr_perror("cannot create timerfd %u on clock %u", fe->id, e->clockid);
		return -errno;
	}
	ret = arm(fd, e);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

const struct fd_ops timerfd_ops = {
	.name = "timerfd",
	.type = FD_TYPES__TIMERFD,
	.dump = timerfd_dump,
	.check = timerfd_check,
	.open = timerfd_open,
};
