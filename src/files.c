// SPDX-License-Identifier: MIT
/*
 * Files, dump side: walks /proc/PID/fd (readlink for the path, stat for the object,
 * fdinfo for flags and position), folds fds sharing one open file description with
 * kcmp(KCMP_FILE), and records exe, cwd and root by path. Writes files.img,
 * fdinfo-N.img and fs-PID.img. Regular files, directories, /dev/{null,zero,...} (memory
 * character devices) and sockets (sockets.c) are handled; any other fd refuses the dump.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#define LOG_PREFIX "files: "
#include "log.h"
#include "image.h"
#include "proc-parse.h"
#include "files.h"
#include "sockets.h"

#define MEM_CHR_MAJOR 1	/* /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom */

static int new_reg(struct dtask *t, const char *path, const struct stat *st, unsigned int flags,
		   uint64_t pos, int mnt_id, int fd)
{
	RegFileEntry *reg = dtask_alloc(t, sizeof(*reg));
	FownEntry *fown = dtask_alloc(t, sizeof(*fown));
	FileEntry *fe = dtask_alloc(t, sizeof(*fe));

	if (!reg || !fown || !fe || dtask_grow(t, &t->files, t->n_files, &t->files_cap,
					       sizeof(*t->files)))
		return -ENOMEM;
	fown_entry__init(fown);
	reg_file_entry__init(reg);
	file_entry__init(fe);
	reg->id = fe->id = t->n_files + 1;
	reg->flags = flags & ~O_CLOEXEC;
	reg->pos = pos;
	reg->fown = fown;
	reg->name = dtask_strdup(t, path);
	reg->has_mnt_id = mnt_id >= 0, reg->mnt_id = mnt_id;
	reg->has_size = 1, reg->size = st->st_size;
	reg->has_mode = 1, reg->mode = st->st_mode;
	fe->type = FD_TYPES__REG;
	fe->reg = reg;
	if (!reg->name)
		return -ENOMEM;
	t->files[t->n_files++] = (struct dfile){ fe, st->st_dev, st->st_ino, flags, fd };
	pr_debug("%d: file id %u: %s flags %#o pos %lu", t->pid, fe->id, path, reg->flags, pos);
	return fe->id;
}

int files_add_path(struct dtask *t, const char *path, const struct stat *st, unsigned int flags)
{
	size_t i;

	for (i = 0; i < t->n_files; i++)
		if (t->files[i].fd < 0 && t->files[i].dev == st->st_dev &&
		    t->files[i].ino == st->st_ino && t->files[i].flags == flags)
			return i + 1;
	return new_reg(t, path, st, flags, 0, -1, -1);
}

/* A files.img entry made elsewhere (fe->id already t->n_files + 1): returns its id. */
int files_add_entry(struct dtask *t, FileEntry *fe, const struct stat *st, unsigned int flags,
		    int fd)
{
	if (dtask_grow(t, &t->files, t->n_files, &t->files_cap, sizeof(*t->files)))
		return -ENOMEM;
	fe->id = t->n_files + 1;
	t->files[t->n_files++] = (struct dfile){ fe, st->st_dev, st->st_ino, flags, fd };
	return fe->id;
}

static bool is_terminal(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143));
}

static const char *fd_kind(const struct stat *st, const char *path)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFIFO:
		return strncmp(path, "pipe:", 5) ? "FIFO" : "pipe";
	case S_IFSOCK:
		return "socket";
	case S_IFBLK:
		return "block device";
	case S_IFCHR:
		return is_terminal(st) ? "terminal" : "character device";
	case S_IFREG:
	case S_IFDIR:
		return path[0] == '/' ? "deleted file" : "special file";
	}
	return "special file";
}

static bool fd_supported(const struct stat *st, const char *path)
{
	size_t len = strlen(path);
	static const char deleted[] = " (deleted)";

	if (S_ISCHR(st->st_mode))
		return major(st->st_rdev) == MEM_CHR_MAJOR;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return false;
	if (path[0] != '/')
		return false;
	return len < sizeof(deleted) || strcmp(path + len - sizeof(deleted) + 1, deleted);
}

/* The id of an open file description already seen through another fd, or 0. */
static int shared_id(struct dtask *t, int fd, const struct stat *st)
{
	size_t i;

	for (i = 0; i < t->n_files; i++) {
		struct dfile *f = &t->files[i];

		if (f->fd < 0 || f->dev != st->st_dev || f->ino != st->st_ino)
			continue;
		if (syscall(SYS_kcmp, t->pid, t->pid, KCMP_FILE, f->fd, fd) == 0)
			return i + 1;
	}
	return 0;
}

static int add_fdinfo(struct dtask *t, int fd, int id, unsigned int flags)
{
	FdinfoEntry *e = dtask_alloc(t, sizeof(*e));

	if (!e || dtask_grow(t, &t->fds, t->n_fds, &t->fds_cap, sizeof(*t->fds)))
		return -ENOMEM;
	fdinfo_entry__init(e);
	e->fd = fd;
	e->id = id;
	e->type = t->files[id - 1].fe->type;
	e->flags = flags & O_CLOEXEC ? FD_CLOEXEC : 0;
	t->fds[t->n_fds++] = e;
	return 0;
}

static int dump_one_fd(struct dtask *t, int fd)
{
	char link[64], path[PATH_MAX];
	struct proc_fdinfo fi;
	struct stat st;
	ssize_t n;
	int id, ret;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", t->pid, fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0 || stat(link, &st)) {
		pr_perror("cannot inspect fd %d of process %d", fd, t->pid);
		return -errno;
	}
	path[n] = '\0';
	if (is_terminal(&st) && !t->shell_job) {
		pr_err("process %d fd %d is the terminal %s: dump it as a shell job with -j "
		       "(restore then gives it the restoring shell's terminal)", t->pid, fd, path);
		return -EOPNOTSUPP;
	}
	if (!is_terminal(&st) && !S_ISSOCK(st.st_mode) && !fd_supported(&st, path)) {
		pr_err("process %d fd %d: %s '%s' is not supported yet", t->pid, fd,
		       fd_kind(&st, path), path);
		return -EOPNOTSUPP;
	}
	ret = proc_read_fdinfo(t->pid, fd, &fi);
	if (ret)
		return ret;
	id = shared_id(t, fd, &st);
	if (!id && S_ISSOCK(st.st_mode))
		id = sk_dump_fd(t, fd, &st, fi.flags);
	else if (!id) {
		id = new_reg(t, path, &st, fi.flags, is_terminal(&st) ? 0 : fi.pos, fi.mnt_id, fd);
		/* the terminal is external: the restoring ferry supplies its own (-j) */
		if (id > 0 && is_terminal(&st))
			t->files[id - 1].fe->reg->has_ext = t->files[id - 1].fe->reg->ext = 1;
	}
	if (id < 0)
		return id;
	return add_fdinfo(t, fd, id, fi.flags);
}

int files_dump_fds(struct dtask *t)
{
	char path[64];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	d = opendir(path);
	if (!d) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	while (!ret && (de = readdir(d)))
		if (de->d_name[0] != '.')
			ret = dump_one_fd(t, atoi(de->d_name));
	closedir(d);
	if (!ret)
		ret = sk_dump_finish(t);
	if (!ret)
		pr_info("%d: %zu fds, %zu files", t->pid, t->n_fds, t->n_files);
	return ret;
}

/* Add the file a /proc/PID/<name> link points to, opened by path. */
static int add_link(struct dtask *t, const char *name, unsigned int flags)
{
	char link[64], path[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/%s", t->pid, name);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0 || stat(link, &st)) {
		pr_perror("cannot inspect %s", link);
		return -errno;
	}
	path[n] = '\0';
	if (!fd_supported(&st, path)) {
		pr_err("process %d: %s '%s' is not supported (deleted or not a path)", t->pid, name,
		       path);
		return -EOPNOTSUPP;
	}
	return files_add_path(t, path, &st, flags);
}

int files_dump_exe(struct dtask *t)
{
	int id = add_link(t, "exe", O_RDONLY);

	if (id < 0)
		return id;
	t->mm.exe_file_id = id;
	return 0;
}

int files_dump_fs(struct dtask *t, unsigned int umask)
{
	int cwd = add_link(t, "cwd", O_RDONLY | O_DIRECTORY);
	int root = add_link(t, "root", O_RDONLY | O_DIRECTORY);

	if (cwd < 0 || root < 0)
		return cwd < 0 ? cwd : root;
	fs_entry__init(&t->fs);
	t->fs.cwd_id = cwd;
	t->fs.root_id = root;
	t->fs.has_umask = umask != ~0U;
	t->fs.umask = umask;
	return 0;
}

int files_write(struct dtask *t, int dirfd)
{
	struct img *files, *fdinfo;
	size_t i;
	int ret = 0;

	files = img_open(dirfd, IMG_FILES, O_WRONLY);
	fdinfo = img_open(dirfd, IMG_FDINFO, O_WRONLY, t->ids.files_id);
	if (!files || !fdinfo) {
		ret = -EIO;
		goto out_close;
	}
	for (i = 0; !ret && i < t->n_files; i++)
		ret = img_write_pb(files, &t->files[i].fe->base);
	for (i = 0; !ret && i < t->n_fds; i++)
		ret = img_write_pb(fdinfo, &t->fds[i]->base);
out_close:
	if (img_close(files) && !ret)
		ret = -EIO;
	if (img_close(fdinfo) && !ret)
		ret = -EIO;
	if (!ret)
		ret = img_write_one(dirfd, IMG_FS, &t->fs.base, t->pid);
	if (!ret)
		ret = sk_dump_write(t, dirfd);
	return ret;
}
