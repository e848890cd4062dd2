// SPDX-License-Identifier: MIT
/*
 * An O_NONBLOCK inotify on fd 130 watching the directory in.d (IN_CREATE|IN_DELETE, wd 1)
 * and the file in.f (IN_MODIFY, wd 3: wd 2 was removed before the dump). After restore
 * creating a file in in.d and writing in.f report events under those same wds and masks,
 * and nothing else is queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

#define FD_IN 130

struct expect {
	int wd_dir, wd_file;
};

static struct expect want = { 1, 3 };

static int setup(void)
{
	int fd = inotify_init1(IN_NONBLOCK), w;

	mkdir("in.d", 0755);
	unlink("in.d/new");
	close(open("in.f", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	close(open("in.x", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	if (fd < 0 || dup2(fd, FD_IN) != FD_IN || close(fd))
		return -1;
	if (inotify_add_watch(FD_IN, "in.d", IN_CREATE | IN_DELETE) != want.wd_dir)
		return -1;
	w = inotify_add_watch(FD_IN, "in.x", IN_ATTRIB);
	if (w != 2 || inotify_add_watch(FD_IN, "in.f", IN_MODIFY) != want.wd_file ||
	    inotify_rm_watch(FD_IN, w))
		return -1;
	usleep(1000);
	while (read(FD_IN, (char[4096]){ 0 }, 4096) > 0)
		;
	return 0;
}

static void check(void)
{
	char buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev = (struct inotify_event *)buf;
	int fd, n;

	zt_check(fcntl(FD_IN, F_GETFL) & O_NONBLOCK, "the inotify lost O_NONBLOCK");
	n = read(FD_IN, buf, sizeof(buf));
	zt_check(n < 0 && errno == EAGAIN, "events were queued after restore (%d bytes)", n);
	fd = open("in.d/new", O_WRONLY | O_CREAT, 0644);
	close(fd);
	n = read(FD_IN, buf, sizeof(buf));
	zt_check(n >= (int)sizeof(*ev) && ev->wd == want.wd_dir && (ev->mask & IN_CREATE) &&
		 !strcmp(ev->name, "new"), "creating in.d/new: read %d, wd %d, mask %#x", n,
		 n > 0 ? ev->wd : -1, n > 0 ? ev->mask : 0);
	fd = open("in.f", O_WRONLY);
	zt_check(write(fd, "x", 1) == 1, "write in.f: %m");
	close(fd);
	n = read(FD_IN, buf, sizeof(buf));
	zt_check(n >= (int)sizeof(*ev) && ev->wd == want.wd_file && (ev->mask & IN_MODIFY),
		 "writing in.f: read %d, wd %d, mask %#x", n, n > 0 ? ev->wd : -1,
		 n > 0 ? ev->mask : 0);
	unlink("in.d/new");
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
