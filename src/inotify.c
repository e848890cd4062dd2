// SPDX-License-Identifier: MIT
/*
 * inotify, both halves. Dump: every watch from /proc/PID/fdinfo (wd, mask, device, file
 * handle); the handle is resolved to a path with open_by_handle_at(2) on a mount of that
 * device (from /proc/PID/mountinfo). Restore: inotify_init1(2), then inotify_add_watch(2)
 * by path in wd order, adding and removing until the kernel hands out the saved wd, and the
 * IN_IGNORED events this queues are drained. Events queued at dump time are not saved.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define LOG_PREFIX "inotify: "
#include "log.h"
#include "files.h"
#include "rst.h"

#define INOTIFY_MAX_HANDLE 128
#define INOTIFY_MAX_WD (1 << 20)

/* An fd (a directory: open_by_handle_at refuses O_PATH) on a mount of device sdev (kernel encoding) in the task's view, or -errno. */
static int mount_of(pid_t pid, uint32_t sdev)
{
	char path[64], line[4096], mnt[PATH_MAX], full[PATH_MAX + 32];
	unsigned int maj, min;
	int fd = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fd < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mnt) == 3 &&
		    maj == sdev >> 20 && min == (sdev & 0xfffff)) {
			snprintf(full, sizeof(full), "/proc/%d/root%s", pid, mnt);
			fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
	fclose(f);
	return fd;
}

static int handle_path(struct dtask *t, uint32_t sdev, const FhEntry *e,
		       const unsigned char *hb, char **out)
{
	struct file_handle *fh = calloc(1, sizeof(*fh) + INOTIFY_MAX_HANDLE);
	char link[64], path[PATH_MAX];
	int mnt = mount_of(t->pid, sdev), fd = -1;
	ssize_t n = -1;

	if (fh && mnt >= 0) {
		fh->handle_bytes = e->bytes;
		fh->handle_type = e->type;
		memcpy(fh->f_handle, hb, fh->handle_bytes);
		fd = open_by_handle_at(mnt, fh, O_PATH | O_CLOEXEC);
	}
	if (fd >= 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		close(fd);
	}
	if (mnt >= 0)
		close(mnt);
	free(fh);
	if (n > 0)
		path[n] = '\0';
	if (n <= 0 || (n > 10 && !strcmp(path + n - 10, " (deleted)")))
		return -ENOENT;
	*out = dtask_strdup(t, path);
	return *out ? 0 : -ENOMEM;
}

int fsnotify_resolve(struct dtask *t, uint32_t sdev, FhEntry *fh, const char *hex)
{
	unsigned char hb[INOTIFY_MAX_HANDLE];
	unsigned int i;

	if (fh->bytes > INOTIFY_MAX_HANDLE || strlen(hex) != 2 * fh->bytes)
		return -EINVAL;
	for (i = 0; i < fh->bytes; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &hb[i]) != 1)
			return -EINVAL;
	fh->n_handle = (fh->bytes + 7) / 8;
	fh->handle = dtask_alloc(t, fh->n_handle * sizeof(*fh->handle) + 1);
	if (!fh->handle)
		return -ENOMEM;
	for (i = 0; i < fh->bytes; i++)
		fh->handle[i / 8] |= (uint64_t)hb[i] << (8 * (i % 8));
	return handle_path(t, sdev, fh, hb, &fh->path);
}

static int add_watch(struct dtask *t, const struct fd_parms *p, InotifyFileEntry *ie,
		     const char *line)
{
	InotifyWdEntry *w = dtask_alloc(t, sizeof(*w));
	FhEntry *fh = dtask_alloc(t, sizeof(*fh));
	char hex[2 * INOTIFY_MAX_HANDLE + 1];
	int ret;

	if (!w || !fh)
		return -ENOMEM;
	inotify_wd_entry__init(w);
	fh_entry__init(fh);
	w->f_handle = fh;
	w->id = ie->id;
	if (sscanf(line, "wd:%x ino:%" SCNx64 " sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x "
		   "fhandle-type:%x f_handle:%256s", &w->wd, &w->i_ino, &w->s_dev, &w->mask,
		   &w->ignored_mask, &fh->bytes, &fh->type, hex) != 8) {
		pr_err("process %d fd %d: cannot parse inotify watch '%.80s'", t->pid, p->fd, line);
		return -EINVAL;
	}
	ret = fsnotify_resolve(t, w->s_dev, fh, hex);
	if (ret) {
		pr_err("process %d fd %d: inotify watch %u (inode %#" PRIx64 "): cannot find its "
		       "file", t->pid, p->fd, w->wd, w->i_ino);
		return ret;
	}
	ie->wd[ie->n_wd++] = w;
	return 0;
}

static int inotify_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	InotifyFileEntry *ie = dtask_alloc(t, sizeof(*ie));
	const char *s;
	size_t n = 0;
	int ret;

	if (!ie)
		return -ENOMEM;
	inotify_file_entry__init(ie);
	ie->fown = files_fown(t);
	for (s = p->fdinfo; (s = strstr(s, "inotify wd:")); s++)
		n++;
	ie->wd = dtask_alloc(t, (n + 1) * sizeof(*ie->wd));
	if (!ie->fown || !ie->wd)
		return -ENOMEM;
	ie->id = fe->id;
	ie->flags = p->fi.flags & ~O_CLOEXEC;
	fe->ify = ie;
	for (s = p->fdinfo; (s = strstr(s, "inotify wd:")); s++) {
		ret = add_watch(t, p, ie, s + strlen("inotify "));
		if (ret)
			return ret;
	}
	return 0;
}

static int inotify_check(const FileEntry *fe)
{
	size_t i;

	if (!fe->ify || fe->ify->id != fe->id || fe->ify->n_wd > 65536)
		goto bad;
	for (i = 0; i < fe->ify->n_wd; i++) {
		const InotifyWdEntry *w = fe->ify->wd[i];

		if (!w->f_handle->path || w->f_handle->path[0] != '/' || !w->wd ||
		    w->wd > INOTIFY_MAX_WD || !(w->mask & IN_ALL_EVENTS))
			goto bad;
	}
	return 0;
bad:
	pr_err("files.img: inotify file id %u: missing entry, bad id or a bad watch", fe->id);
	return -EINVAL;
}

/* Add w under exactly its saved wd: the kernel hands wds out cyclically. */
static int add_at_wd(int fd, const InotifyWdEntry *w)
{
	int wd;

	for (;;) {
		wd = inotify_add_watch(fd, w->f_handle->path, w->mask);
		if (wd < 0) {
			pr_perror("cannot watch %s (mask %#x)", w->f_handle->path, w->mask);
			return -errno;
		}
		if ((uint32_t)wd == w->wd)
			return 0;
		if ((uint32_t)wd > w->wd || inotify_rm_watch(fd, wd)) {
			pr_err("cannot give the watch of %s its number %u (got %d)", w->f_handle->path,
			       w->wd, wd);
			return -EBUSY;
		}
	}
}

static int by_wd(const void *a, const void *b)
{
	uint32_t x = (*(InotifyWdEntry *const *)a)->wd, y = (*(InotifyWdEntry *const *)b)->wd;

	return x < y ? -1 : x > y;
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int inotify_open(struct rst_task *t, const FileEntry *fe)
{
	const InotifyFileEntry *ie = fe->ify;
	InotifyWdEntry **sorted = malloc((ie->n_wd + 1) * sizeof(*sorted));
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), ret = 0;
	size_t i;

	if (fd < 0 || !sorted) {
		pr_perror("cannot create inotify %u", fe->id);
		ret = -ENOMEM;
		goto out;
	}
	memcpy(sorted, ie->wd, ie->n_wd * sizeof(*sorted));
	qsort(sorted, ie->n_wd, sizeof(*sorted), by_wd);
	for (i = 0; !ret && i < ie->n_wd; i++)
		ret = add_at_wd(fd, sorted[i]);
	drain(fd);
	if (!ret && !(ie->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, 0))
		ret = -errno;
out:
	free(sorted);
	if (ret && fd >= 0)
		close(fd);
	return ret ? ret : fd;
}

const struct fd_ops inotify_ops = {
	.name = "inotify",
	.type = FD_TYPES__INOTIFY,
	.dump = inotify_dump,
	.check = inotify_check,
	.open = inotify_open,
};
