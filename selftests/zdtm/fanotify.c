// SPDX-License-Identifier: MIT
/*
 * A fanotify group (FAN_CLASS_NOTIF, non-blocking) on fd 140 marking the directory fa.d for
 * FAN_CLOSE_WRITE of its children, with an ignored mask for fa.d/quiet. After restore,
 * closing a written fa.d/loud reports an event for that file, and fa.d/quiet reports none.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

#define FD_FA 140

struct expect {
	unsigned int mask;
};

static struct expect want = { FAN_CLOSE_WRITE };

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			zt_fail("write %s: %m", path);
		close(fd);
	}
}

/* Read the queued events; return how many name path (closing their fds). */
static int events_for(const char *path)
{
	char buf[4096] __attribute__((aligned(8))), link[64], target[512];
	struct fanotify_event_metadata *ev = (void *)buf;
	int n = read(FD_FA, buf, sizeof(buf)), hits = 0;

	for (; n > 0 && FAN_EVENT_OK(ev, n); ev = FAN_EVENT_NEXT(ev, n)) {
		ssize_t len;

		if (ev->fd < 0)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", ev->fd);
		len = readlink(link, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		if ((ev->mask & want.mask) && strstr(target, path))
			hits++;
		close(ev->fd);
	}
	return hits;
}

static int setup(void)
{
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);

	if (fd < 0)
		zt_skip("fanotify_init: %m");
	mkdir("fa.d", 0755);
	touch("fa.d/quiet");
	if (dup2(fd, FD_FA) != FD_FA || close(fd))
		return -1;
	if (fanotify_mark(FD_FA, FAN_MARK_ADD, want.mask | FAN_EVENT_ON_CHILD, AT_FDCWD, "fa.d") ||
	    fanotify_mark(FD_FA, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			  want.mask, AT_FDCWD, "fa.d/quiet"))
		return -1;
	touch("fa.d/quiet");
	return events_for("fa.d/quiet") ? -1 : 0;
}

static void check(void)
{
	char buf[256];

	zt_check(fcntl(FD_FA, F_GETFL) & O_NONBLOCK, "the fanotify lost O_NONBLOCK");
	zt_check(read(FD_FA, buf, sizeof(buf)) < 0 && errno == EAGAIN, "events queued at restore");
	touch("fa.d/loud");
	zt_check(events_for("fa.d/loud") == 1, "no FAN_CLOSE_WRITE for fa.d/loud after restore");
	touch("fa.d/quiet");
	zt_check(events_for("fa.d/quiet") == 0, "the ignored mask of fa.d/quiet was lost");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check();
	return zt_result();
}
