// SPDX-License-Identifier: MIT
/*
 * File locks (flock, POSIX, OFD), both halves. Dump reads the "lock:" lines of each fd's
 * /proc/PID/fdinfo (a task holding locks is refused unless --file-locks) into
 * file-locks.img. Restore takes them again with flock(2) / fcntl(F_SETLK, F_OFD_SETLK) on
 * the final fd numbers, after every fd is in place (closing an fd drops POSIX locks). In a
 * tree each entry's pid is the task whose fd takes the lock again (a flock or OFD lock on a
 * description shared by several tasks is saved once, for the first of them).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOG_PREFIX "locks: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "rst.h"
#include "file-lock.pb-c.h"

#define LOCK_POSIX 1	/* file_lock_entry.flag, CRIU's values */
#define LOCK_FLOCK 2
#define LOCK_OFD 4

struct lock_dump {
	FileLockEntry e;
	uint32_t file_id;	/* the description, for flock and OFD */
	ino_t ino;
};

static int parse_lock(const char *line, FileLockEntry *e)
{
	char kind[16], mode[16], type[16], end[32];
	long long start;
	int pid;

	if (sscanf(line, "%*d: %15s %15s %15s %d %*x:%*x:%*u %lld %31s", kind, mode, type, &pid,
		   &start, end) != 6)
		return -EINVAL;
	if (!strcmp(kind, "POSIX"))
		e->flag = LOCK_POSIX;
	else if (!strcmp(kind, "FLOCK"))
		e->flag = LOCK_FLOCK;
	else if (!strcmp(kind, "OFDLCK"))
		e->flag = LOCK_OFD;
	else
		return -EOPNOTSUPP;	/* leases, delegations */
	if (strcmp(mode, "ADVISORY") || (strcmp(type, "READ") && strcmp(type, "WRITE")))
		return -EOPNOTSUPP;
	e->type = strcmp(type, "READ") ? F_WRLCK : F_RDLCK;
	e->pid = pid;
	e->start = start;
	e->len = strcmp(end, "EOF") ? strtoll(end, NULL, 10) - start + 1 : 0;
	return 0;
}

static bool seen(const struct dtask *t, const struct lock_dump *l)
{
	size_t i;

	for (i = 0; i < t->fx->n_locks; i++) {
		const struct lock_dump *o = &t->fx->locks[i];

		if (o->ino == l->ino && o->e.flag == l->e.flag && o->e.type == l->e.type &&
		    o->e.start == l->e.start && o->e.len == l->e.len &&
		    (l->e.flag == LOCK_POSIX || o->file_id == l->file_id))
			return true;
	}
	return false;
}

static int add_lock(struct dtask *t, const struct fd_parms *p, uint32_t id, const char *line)
{
	struct lock_dump l = { .file_id = id, .ino = p->st.st_ino };
	int ret;

	file_lock_entry__init(&l.e);
	ret = parse_lock(line, &l.e);
	if (ret) {
		pr_err("process %d fd %d: cannot save the lock '%.60s' on '%s'", t->pid, p->fd, line,
		       p->link);
		return ret;
	}
	if (!t->file_locks) {
		pr_err("process %d fd %d holds a file lock on '%s' (%.40s): dump with --file-locks "
		       "to save and restore it", t->pid, p->fd, p->link, line);
		return -EOPNOTSUPP;
	}
	l.e.fd = p->fd;
	l.e.pid = t->pid;	/* the task whose fd takes it again on restore */
	if (seen(t, &l))
		return 0;
	if (dtask_grow(t, &t->fx->locks, t->fx->n_locks, &t->fx->locks_cap, sizeof(*t->fx->locks)))
		return -ENOMEM;
	t->fx->locks[t->fx->n_locks++] = l;
	return 0;
}

int file_locks_collect(struct dtask *t, const struct fd_parms *p, uint32_t id)
{
	const char *s = p->fdinfo;
	int ret;

	while ((s = strstr(s, "lock:"))) {
		s += strlen("lock:");
		ret = add_lock(t, p, id, s + strspn(s, " \t"));
		if (ret)
			return ret;
	}
	return 0;
}

int file_locks_write(struct dtask *t, int dirfd)
{
	struct img *img;
	size_t i;
	int ret = 0;

	if (!t->fx->n_locks)
		return 0;
	img = img_open(dirfd, IMG_FILE_LOCKS, O_WRONLY);
	if (!img)
		return -EIO;
	for (i = 0; !ret && i < t->fx->n_locks; i++)
		ret = img_write_pb(img, &t->fx->locks[i].e.base);
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

static int check_lock(const struct rst_task *t, const FileLockEntry *e)
{
	size_t i;

	for (i = 0; i < t->nr_fds; i++)
		if (t->fds[i].fd == e->fd)
			break;
	if (i == t->nr_fds || (e->flag != LOCK_POSIX && e->flag != LOCK_FLOCK &&
			       e->flag != LOCK_OFD) || e->type > F_WRLCK || e->start < 0 ||
	    e->len < 0) {
		pr_err("file-locks.img: lock on fd %d (flag %u, type %u, %" PRId64 "+%" PRId64
		       ") names no fd of the task or is malformed", e->fd, e->flag, e->type,
		       e->start, e->len);
		return -EINVAL;
	}
	return 0;
}

/* 1: the lock is t's to take; 0: another task's; -EINVAL: no task of the tree's. */
static int lock_task_ok(const struct rst_task *t, const FileLockEntry *e)
{
	const struct rst_tree *tr = t->tree;
	size_t i;

	if (e->pid == t->pid || !tr)
		return 1;
	for (i = 0; i < tr->nr_tasks; i++)
		if ((int)tr->tasks[i].pid == e->pid)
			return 0;
	pr_err("file-locks.img: the lock on fd %d names process %d, which is not in the tree",
	       e->fd, e->pid);
	return -EINVAL;
}

int file_locks_load(struct rst_task *t)
{
	struct img *img = img_open(t->dirfd, IMG_FILE_LOCKS, O_RDONLY | IMG_OPTIONAL);
	FileLockEntry *e;
	int ret;

	if (!img)
		return errno == ENOENT ? 0 : -EIO;
	while ((ret = img_read_pb(img, &file_lock_entry__descriptor, (void **)&e)) > 0) {
		void *n;

		ret = lock_task_ok(t, e);
		if (ret <= 0) {		/* another task's, or naming none of the tree */
			img_free_pb(e);
			if (ret < 0)
				break;
			continue;
		}
		n = realloc(t->locks, (t->nr_locks + 1) * sizeof(*t->locks));

		if (!n) {
			img_free_pb(e);
			ret = -ENOMEM;
			break;
		}
		t->locks = n;
		t->locks[t->nr_locks++] = e;
		ret = check_lock(t, e);
		if (ret)
			break;
	}
	img_close(img);
	return ret;
}

void file_locks_free(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->nr_locks; i++)
		img_free_pb(t->locks[i]);
	free(t->locks);
	t->locks = NULL;
	t->nr_locks = 0;
}

/* Take every lock on the final fds; nothing may be logged here. 0 or -errno. */
int file_locks_apply(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->nr_locks; i++) {
		const FileLockEntry *e = t->locks[i];
		struct flock fl = { .l_type = e->type, .l_whence = SEEK_SET, .l_start = e->start,
				    .l_len = e->len };
		int r;

		if (e->flag == LOCK_FLOCK)
			r = flock(e->fd, (e->type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
		else
			r = fcntl(e->fd, e->flag == LOCK_OFD ? F_OFD_SETLK : F_SETLK, &fl);
		if (r)
			return -errno;
	}
	return 0;
}
