// SPDX-License-Identifier: MIT
/*
 * Restore of a task's files, in the new task, generic part: --root (chroot, in the tree's
 * first task), root and cwd (chroot/chdir by path), umask; then every open file
 * description its fds use is opened once by its kind (struct fd_ops, files.h) at a
 * temporary number above all target fds, dup()ed for every fd sharing it (with its owner,
 * F_SETOWN_EX/F_SETSIG, and O_ASYNC), and finally dup3()ed into place, file locks last.
 * Kernel interfaces: fcntl, dup3. Descriptions shared with other tasks are opened once by
 * the task that owns them (rst-fshare.c) before it creates its children, and inherited.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "files.h"
#include "rst.h"
#include "tty.h"

/*
 * --root, in the tree's first task before it opens anything or creates its
 * children (which inherit it): every path of the images is resolved below it.
 */
int rst_enter_root(struct rst_task *t)
{
	if (t->opts->root && (chroot(t->opts->root) || chdir("/"))) {
		pr_perror("cannot enter the root %s", t->opts->root);
		return -errno;
	}
	return 0;
}

/*
 * Root, cwd, umask: after the task is seized (early false), or before it creates its
 * children when some share its fs (early true, share.c); never in such a child.
 */
int rst_fs_restore(struct rst_task *t, bool early)
{
	const char *root, *cwd;

	if (t->dead || t->share_fs || early != t->fs_early)
		return 0;	/* a zombie has no fs image */
	root = rst_file_by_id(t, t->fs->root_id)->reg->name;
	cwd = rst_file_by_id(t, t->fs->cwd_id)->reg->name;
	if (strcmp(root, "/") && chroot(root)) {
		pr_perror("cannot chroot to %s (fs-%u.img)", root, t->pid);
		return -errno;
	}
	if (chdir(cwd)) {
		pr_perror("cannot chdir to %s (fs-%u.img)", cwd, t->pid);
		return -errno;
	}
	if (t->fs->has_umask)
		umask(t->fs->umask & 0777);
	return 0;
}

static ssize_t file_index(const struct rst_task *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++)
		if (t->files[i]->id == id)
			return i;
	return -1;
}

/* Move fd above every target fd number; closes fd. */
static int move_high(struct rst_task *t, int fd)
{
	int tmp = fcntl(fd, F_DUPFD_CLOEXEC, t->max_fd + 1);

	if (tmp < 0)
		pr_perror("cannot move fd %d above %d", fd, t->max_fd);
	close(fd);
	return tmp < 0 ? -errno : tmp;
}

int rst_file_provide(struct rst_task *t, uint32_t id, int fd)
{
	ssize_t i = file_index(t, id);

	if (i < 0 || t->file_fds[i] >= 0) {
		close(fd);
		return 0;
	}
	fd = move_high(t, fd);
	if (fd < 0)
		return fd;
	t->file_fds[i] = fd;
	return 0;
}

int rst_file_fd(const struct rst_task *t, uint32_t id)
{
	ssize_t i = file_index(t, id);

	return i < 0 || !t->file_fds ? -1 : t->file_fds[i];
}

int rst_file_map_fd(struct rst_task *t, const FileEntry *f)
{
	const struct fd_ops *ops = fd_ops_by_type(f->type);
	ssize_t i = file_index(t, f->id);
	int fd;

	if (i < 0 || !t->file_fds)
		return -EINVAL;
	if (t->file_fds[i] < 0) {
		fd = ops->open(t, f);
		if (fd < 0)
			return fd;
		fd = move_high(t, fd);
		if (fd < 0)
			return fd;
		t->file_fds[i] = fd;
	}
	fd = fcntl(t->file_fds[i], F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		pr_perror("cannot dup the fd of file id %u", f->id);
	return fd < 0 ? -errno : fd;
}

/*
 * Close the descriptions opened by rst_files_open() (the fds hold their own dups). A
 * task sharing its parent's fd table closes only what it opened itself.
 */
static void close_file_fds(struct rst_task *t)
{
	const int *shared = t->tree ? t->tree->shared_fds : NULL;
	size_t i;

	for (i = 0; t->file_fds && i < t->nr_files; i++)
		if (t->file_fds[i] >= 0 &&
		    !(t->share_files && shared && shared[i] == t->file_fds[i]))
			close(t->file_fds[i]);
	free(t->file_fds);
	t->file_fds = NULL;
}

/* O_ASYNC, the owner and the signal of the description (F_SETFL, F_SETOWN_EX, F_SETSIG). */
static int apply_fown(int fd, const FileEntry *fe)
{
	uint32_t flags;
	const FownEntry *fown = files_entry_fown(fe, &flags);
	struct f_owner_ex owner;
	int fl;

	if (!fown)
		return 0;
	if (fown->pid_type > F_OWNER_PGRP || fown->signum > 64 || fown->pid > INT32_MAX) {
		pr_err("files.img: file id %u has a bad owner (type %u, pid %u, signal %u)", fe->id,
		       fown->pid_type, fown->pid, fown->signum);
		return -EINVAL;
	}
	owner = (struct f_owner_ex){ .type = fown->pid_type, .pid = fown->pid };
	if (fown->pid && fcntl(fd, F_SETOWN_EX, &owner))
		goto fail;
	if (fown->signum && fcntl(fd, F_SETSIG, fown->signum))
		goto fail;
	fl = fcntl(fd, F_GETFL);
	if ((flags & O_ASYNC) && (fl < 0 || fcntl(fd, F_SETFL, fl | O_ASYNC)))
		goto fail;
	return 0;
fail:
	pr_perror("cannot give file id %u its owner %u (type %u), signal %u or O_ASYNC", fe->id,
		  fown->pid, fown->pid_type, fown->signum);
	return -errno;
}

/*
 * Open the description f of fd (once, through its kind) at a temporary number. early:
 * for descendants, which may not exist yet: each user gives it its owner (shared_fown()).
 */
static int open_file(struct rst_task *t, struct rst_fd *f, bool early)
{
	const struct fd_ops *ops = fd_ops_by_type(f->file->type);
	ssize_t i = file_index(t, f->file->id);
	int fd, ret;

	if (t->file_fds[i] >= 0)
		return 0;
	fd = ops->open(t, f->file);
	if (fd >= 0 && !early && (ret = apply_fown(fd, f->file))) {
		close(fd);
		fd = ret;
	}
	if (fd < 0) {
		pr_err("cannot restore fd %d (%s, file id %u)", f->fd, ops->name, f->file->id);
		return fd;
	}
	fd = move_high(t, fd);
	if (fd < 0)
		return fd;
	t->file_fds[i] = fd;
	return 0;
}

/* file_fds, with the descriptions inherited from the ancestor that opened them for us. */
static int alloc_file_fds(struct rst_task *t)
{
	const int *shared = t->tree ? t->tree->shared_fds : NULL;
	size_t i;

	t->file_fds = malloc(t->nr_files * sizeof(*t->file_fds) + 1);
	if (!t->file_fds)
		return -ENOMEM;
	for (i = 0; i < t->nr_files; i++)
		t->file_fds[i] = shared ? shared[i] : -1;
	return 0;
}

/*
 * Before it creates its children: open the descriptions this task owns (used by several
 * of its descendants, or by it and them) and publish every fd in tree->shared_fds, this
 * task's copy, which its children inherit with the fds themselves.
 */
int rst_files_open_shared(struct rst_task *t)
{
	struct rst_tree *tr = t->tree;
	int idx = t - tr->tasks, ret = 0;
	size_t i;

	for (i = 0; i < tr->nr_files && tr->file_owner[i] != idx; i++)
		;
	if (i == tr->nr_files)
		return 0;
	ret = alloc_file_fds(t);
	for (i = 0; !ret && i < tr->nr_files; i++) {
		struct rst_fd f = { .fd = -1, .file = tr->files[i] };

		if (tr->file_owner[i] == idx)
			ret = open_file(t, &f, true);
	}
	for (i = 0; !ret && i < tr->nr_files; i++)
		tr->shared_fds[i] = t->file_fds[i];
	if (ret)
		close_file_fds(t);
	free(t->file_fds);
	t->file_fds = NULL;
	return ret;
}

/* The owner (F_SETOWN_EX...) of a description an ancestor opened early for us. */
static int shared_fown(struct rst_task *t, const FileEntry *f)
{
	ssize_t i = file_index(t, f->id);

	if (!t->tree || !t->tree->file_owner || t->tree->file_owner[i] < 0 ||
	    t->file_fds[i] < 0)
		return 0;
	return apply_fown(t->file_fds[i], f);
}

static int open_pass(struct rst_task *t, bool late)
{
	size_t i;
	int ret;

	for (i = 0; i < t->nr_fds; i++) {
		if (fd_ops_by_type(t->fds[i].file->type)->late != late)
			continue;
		ret = shared_fown(t, t->fds[i].file);
		if (!ret)
			ret = open_file(t, &t->fds[i], false);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Open every fd at a number above all target fds. Several fds of one open file
 * description are opened once and dup()ed, so that they share the offset and flags.
 */
int rst_files_open(struct rst_task *t)
{
	struct rlimit rl;
	size_t i;
	int ret;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ret = alloc_file_fds(t);
	if (ret || t->share_files)	/* its fds are its parent's: only mappings open files */
		return ret;
	ret = open_pass(t, false);
	if (!ret)
		ret = open_pass(t, true);
	if (!ret)	/* every group exists now */
		tty_ctty_foreground(t);
	for (i = 0; !ret && i < t->nr_fds; i++) {
		struct rst_fd *f = &t->fds[i];

		f->tmp = fcntl(rst_file_fd(t, f->file->id), F_DUPFD_CLOEXEC, t->max_fd + 1);
		if (f->tmp < 0) {
			pr_perror("cannot restore fd %d (file id %u)", f->fd, f->file->id);
			ret = -errno;
		}
	}
	if (ret)
		close_file_fds(t);
	return ret;
}

/*
 * Put every fd in place. Called last before the jump: from here on ferry's stderr may
 * be the target's, so nothing is logged; a failure is returned as -errno only.
 */
int rst_files_install(struct rst_task *t)
{
	size_t i;

	close_file_fds(t);
	if (t->share_files)
		return 0;	/* its table's head puts the fds in place once it is done */
	for (i = 0; i < t->nr_fds; i++) {
		struct rst_fd *f = &t->fds[i];

		if (dup3(f->tmp, f->fd, f->cloexec ? O_CLOEXEC : 0) < 0)
			return -errno;
	}
	for (i = 0; i < t->nr_fds; i++)
		close(t->fds[i].tmp);
	return file_locks_apply(t);
}
