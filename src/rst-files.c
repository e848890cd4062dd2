// SPDX-License-Identifier: MIT
/*
 * Restore of a task's files, in the new task: root and cwd (chroot/chdir by path), umask,
 * then every fd reopened by path with its flags and offset (or its socket, built by
 * sockets.c) at a temporary number above all target fds, and finally dup3()ed into place. Kernel interfaces: open, lseek, dup3,
 * close_range, fstat (size and mode are checked against the image, a change is reported).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "rst.h"

int rst_fs_restore(struct rst_task *t)
{
	const char *root = rst_file_by_id(t, t->fs->root_id)->reg->name;
	const char *cwd = rst_file_by_id(t, t->fs->cwd_id)->reg->name;

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

static void check_stat(int fd, const RegFileEntry *reg)
{
	struct stat st;

	if (fstat(fd, &st)) {
		pr_perror("cannot stat %s", reg->name);
		return;
	}
	if (reg->has_mode && ((st.st_mode ^ reg->mode) & S_IFMT))
		pr_warn("%s changed type since the dump (mode %o, now %o)", reg->name, reg->mode,
			st.st_mode);
	else if (reg->has_mode && st.st_mode != reg->mode)
		pr_warn("%s changed mode since the dump (%o, now %o)", reg->name, reg->mode,
			st.st_mode);
	if (reg->has_size && S_ISREG(st.st_mode) && (uint64_t)st.st_size != reg->size)
		pr_warn("%s changed size since the dump (%llu bytes, now %lld)", reg->name,
			(unsigned long long)reg->size, (long long)st.st_size);
}

/* Open a regular file entry by path; flags are the open(2) flags to use. */
int rst_file_open_reg(const RegFileEntry *reg, int flags, bool check)
{
	int fd;

	flags &= ~(O_CREAT | O_TRUNC | O_EXCL | O_TMPFILE | O_CLOEXEC);
	fd = open(reg->name, flags | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s", reg->name);
		return -errno;
	}
	if (check)
		check_stat(fd, reg);
	return fd;
}

/*
 * An external terminal (a shell job's, dumped with -j): open the terminal this ferry runs
 * on, found on its stdin/stdout/stderr, with the saved flags.
 */
static int open_caller_tty(struct rst_task *t, const RegFileEntry *reg)
{
	char link[32], path[PATH_MAX];
	ssize_t n;
	int fd;

	if (!t->opts->shell_job) {
		pr_err("files.img: file %u is the terminal %s of a shell job: restore with -j", reg->id,
		       reg->name);
		return -EINVAL;
	}
	for (fd = 0; fd < 3; fd++) {
		if (!isatty(fd))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n <= 0)
			continue;
		path[n] = 0;
		fd = open(path, (reg->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			pr_perror("cannot open the terminal %s for %s", path, reg->name);
		return fd < 0 ? -errno : fd;
	}
	pr_err("-j: ferry restore has no terminal on stdin, stdout or stderr to give the task "
	       "(it had %s)", reg->name);
	return -ENOTTY;
}

static int open_one(struct rst_task *t, struct rst_fd *f, int base)
{
	const RegFileEntry *reg = f->file->reg;
	int fd, tmp;

	if (f->file->type != FD_TYPES__REG) {
		fd = rst_sk_take(t, f->file->id);
		if (fd < 0) {
			pr_err("socket file %u was not created", f->file->id);
			return -EINVAL;
		}
		goto move;
	}
	if (reg->has_ext && reg->ext)
		fd = open_caller_tty(t, reg);
	else
		fd = rst_file_open_reg(reg, reg->flags, true);
	if (fd < 0)
		return fd;
	if (reg->pos && lseek(fd, reg->pos, SEEK_SET) != (off_t)reg->pos) {
		pr_perror("cannot seek %s to offset %llu", reg->name, (unsigned long long)reg->pos);
		close(fd);
		return -EIO;
	}
move:
	tmp = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (tmp < 0) {
		pr_perror("cannot move fd of file %u above %d", f->file->id, base);
		close(fd);
		return -errno;
	}
	close(fd);
	f->tmp = tmp;
	return 0;
}

/*
 * Open every fd at a number above all target fds. Several fds of one open file
 * description are opened once and dup()ed, so that they share the offset.
 */
int rst_files_open(struct rst_task *t)
{
	struct rlimit rl;
	size_t i, j;
	int ret;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ret = rst_sk_create(t);
	if (ret)
		return ret;
	for (i = 0; i < t->nr_fds; i++) {
		struct rst_fd *f = &t->fds[i];

		for (j = 0; j < i; j++)
			if (t->fds[j].file == f->file)
				break;
		if (j < i) {
			f->tmp = fcntl(t->fds[j].tmp, F_DUPFD_CLOEXEC, t->max_fd + 1);
			ret = f->tmp < 0 ? -errno : 0;
		} else {
			ret = open_one(t, f, t->max_fd + 1);
		}
		if (ret) {
			pr_err("cannot restore fd %d (file id %u)", f->fd, f->file->id);
			return ret;
		}
	}
	return 0;
}

/*
 * Put every fd in place. Called last before the jump: from here on ferry's stderr may
 * be the target's, so nothing is logged; a failure is returned as -errno only.
 */
int rst_files_install(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->nr_fds; i++) {
		struct rst_fd *f = &t->fds[i];

		if (dup3(f->tmp, f->fd, f->cloexec ? O_CLOEXEC : 0) < 0)
			return -errno;
	}
	for (i = 0; i < t->nr_fds; i++)
		close(t->fds[i].tmp);
	return 0;
}
