// SPDX-License-Identifier: MIT
/*
 * fanotify, both halves. Dump: the group's init and event flags and its inode and mount
 * marks from /proc/PID/fdinfo (inode marks by file handle, resolved to a path like
 * inotify's; mount marks by mount id, resolved to the mount point via mountinfo).
 * Restore: fanotify_init(2), then fanotify_mark(2) by path for each mask and ignored mask.
 * Filesystem marks and queued events are not supported.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#define LOG_PREFIX "fanotify: "
#include "log.h"
#include "files.h"
#include "rst.h"

#define FANOTIFY_MAX_MARKS 65536
#define FANOTIFY_MARK_FLAGS (FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE)

static int mount_point(struct dtask *t, uint32_t mnt_id, char **out)
{
	char path[64], line[4096], mnt[PATH_MAX];
	unsigned int id;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", t->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %*d %*s %*s %4095s", &id, mnt) == 2 && id == mnt_id) {
			*out = dtask_strdup(t, mnt);
			ret = *out ? 0 : -ENOMEM;
		}
	fclose(f);
	return ret;
}

static int parse_inode_mark(struct dtask *t, FanotifyMarkEntry *m, const char *line)
{
	FanotifyInodeMarkEntry *ie = dtask_alloc(t, sizeof(*ie));
	FhEntry *fh = dtask_alloc(t, sizeof(*fh));
	char hex[257];

	if (!ie || !fh)
		return -ENOMEM;
	fanotify_inode_mark_entry__init(ie);
	fh_entry__init(fh);
	ie->f_handle = fh;
	m->ie = ie;
	m->type = MARK_TYPE__INODE;
	if (sscanf(line, "ino:%" SCNx64 " sdev:%x mflags:%x mask:%x ignored_mask:%x "
		   "fhandle-bytes:%x fhandle-type:%x f_handle:%256s", &ie->i_ino, &m->s_dev,
		   &m->mflags, &m->mask, &m->ignored_mask, &fh->bytes, &fh->type, hex) != 8)
		return -EINVAL;
	return fsnotify_resolve(t, m->s_dev, fh, hex);
}

static int parse_mount_mark(struct dtask *t, FanotifyMarkEntry *m, const char *line)
{
	FanotifyMountMarkEntry *me = dtask_alloc(t, sizeof(*me));

	if (!me)
		return -ENOMEM;
	fanotify_mount_mark_entry__init(me);
	m->me = me;
	m->type = MARK_TYPE__MOUNT;
	if (sscanf(line, "mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &me->mnt_id, &m->mflags,
		   &m->mask, &m->ignored_mask) != 4)
		return -EINVAL;
	return mount_point(t, me->mnt_id, &me->path);
}

static int add_mark(struct dtask *t, const struct fd_parms *p, FanotifyFileEntry *fa,
		    const char *line)
{
	FanotifyMarkEntry *m = dtask_alloc(t, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	fanotify_mark_entry__init(m);
	m->id = fa->id;
	if (!strncmp(line, "ino:", 4))
		ret = parse_inode_mark(t, m, line);
	else if (!strncmp(line, "mnt_id:", 7))
		ret = parse_mount_mark(t, m, line);
	else
		ret = -EOPNOTSUPP;	/* filesystem marks */
	if (ret) {
		pr_err("process %d fd %d: cannot save the fanotify mark '%.60s' (%s)", t->pid, p->fd,
		       line, ret == -ENOENT ? "its file is gone" : "not supported");
		return ret == -ENOMEM ? ret : -EOPNOTSUPP;
	}
	fa->mark[fa->n_mark++] = m;
	return 0;
}

static int fanotify_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	FanotifyFileEntry *fa = dtask_alloc(t, sizeof(*fa));
	const char *s, *head = fd_parms_field(p, "fanotify flags:");
	size_t n = 0;
	int ret;

	if (!fa)
		return -ENOMEM;
	fanotify_file_entry__init(fa);
	fa->fown = files_fown(t);
	for (s = p->fdinfo; (s = strstr(s, "\nfanotify ")); s++)
		n++;
	fa->mark = dtask_alloc(t, (n + 1) * sizeof(*fa->mark));
	if (!fa->fown || !fa->mark)
		return -ENOMEM;
	if (!head || sscanf(head, "%x event-flags:%x", &fa->faflags, &fa->evflags) != 2) {
		pr_err("process %d fd %d: no fanotify flags in its fdinfo", t->pid, p->fd);
		return -EINVAL;
	}
	fa->id = fe->id;
	fa->flags = p->fi.flags & ~O_CLOEXEC;
	fe->ffy = fa;
	for (s = p->fdinfo; (s = strstr(s, "\nfanotify ")); s++) {
		if (!strncmp(s + 10, "flags:", 6))
			continue;
		ret = add_mark(t, p, fa, s + 10);
		if (ret)
			return ret;
	}
	return 0;
}

static int fanotify_check(const FileEntry *fe)
{
	size_t i;

	if (!fe->ffy || fe->ffy->id != fe->id || fe->ffy->n_mark > FANOTIFY_MAX_MARKS)
		goto bad;
	for (i = 0; i < fe->ffy->n_mark; i++) {
		const FanotifyMarkEntry *m = fe->ffy->mark[i];
		const char *path = m->type == MARK_TYPE__INODE && m->ie ? m->ie->f_handle->path :
				   m->type == MARK_TYPE__MOUNT && m->me ? m->me->path : NULL;

		if (!path || path[0] != '/' || (m->mflags & ~FANOTIFY_MARK_FLAGS))
			goto bad;
	}
	return 0;
bad:
	pr_err("files.img: fanotify file id %u: missing entry, bad id or a bad mark", fe->id);
	return -EINVAL;
}

static int mark_one(int fd, const FanotifyMarkEntry *m)
{
	bool mount = m->type == MARK_TYPE__MOUNT;
	const char *path = mount ? m->me->path : m->ie->f_handle->path;
	unsigned int flags = FAN_MARK_ADD | m->mflags | (mount ? FAN_MARK_MOUNT : 0);

	if (m->mask && fanotify_mark(fd, flags, m->mask, AT_FDCWD, path))
		goto fail;
	if (m->ignored_mask &&
	    fanotify_mark(fd, flags | FAN_MARK_IGNORED_MASK, m->ignored_mask, AT_FDCWD, path))
		goto fail;
	return 0;
fail:
	pr_perror("cannot mark %s (mask %#x, ignored %#x)", path, m->mask, m->ignored_mask);
	return -errno;
}

static int fanotify_open(struct rst_task *t, const FileEntry *fe)
{
	const FanotifyFileEntry *fa = fe->ffy;
	int fd = fanotify_init(fa->faflags | FAN_CLOEXEC, fa->evflags), ret = 0;
	size_t i;

	if (fd < 0) {
		pr_perror("cannot create fanotify %u (flags %#x, event flags %#x)", fe->id,
			  fa->faflags, fa->evflags);
		return -errno;
	}
	for (i = 0; !ret && i < fa->n_mark; i++)
		ret = mark_one(fd, fa->mark[i]);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

const struct fd_ops fanotify_ops = {
	.name = "fanotify",
	.type = FD_TYPES__FANOTIFY,
	.dump = fanotify_dump,
	.check = fanotify_check,
	.open = fanotify_open,
};
