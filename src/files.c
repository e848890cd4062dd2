// SPDX-License-Identifier: MIT
/*
 * Files, dump side, generic part: walks /proc/PID/fd (readlink, stat, fdinfo), picks the
 * kind of each fd from the table below, folds fds sharing one open file description with
 * kcmp(KCMP_FILE) within the task and across the tasks of the tree (one files.img id per
 * description), records exe, cwd and root by path, and writes files.img and the kinds'
 * images once per tree (struct dfiles), fdinfo-N.img and fs-PID.img per task. Kinds not
 * in the table refuse the dump, naming the fd and the object.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOG_PREFIX "files: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "kcmp.h"
#include "sockets.h"

#define FDINFO_MAX (64 << 10)	/* an epoll with ~800 targets */

/*
 * Which ops handle an fd: the first row whose file type (S_IFMT bits, 0 = anon inode or
 * any) and link prefix (NULL = any) match. Add a kind here and nowhere else.
 */
static const struct fd_kind {
	mode_t mode;
	const char *link;
	const struct fd_ops *ops;
} fd_kinds[] = {
	{ S_IFREG, "/memfd:", &memfd_ops },	/* before plain files: memfds look deleted */
	{ S_IFREG, NULL, &reg_file_ops },
	{ S_IFDIR, NULL, &reg_file_ops },
	{ S_IFCHR, "/dev/pts/", &tty_ops },	/* pty slaves, devpts' ptmx */
	{ S_IFCHR, "/dev/ptmx", &tty_ops },	/* pty masters */
	{ S_IFCHR, NULL, &reg_file_ops },	/* memory devices, -j terminals; others refused */
	{ S_IFIFO, "pipe:", &pipe_ops },
	{ S_IFIFO, "/", &fifo_ops },
	{ 0, "anon_inode:[eventfd]", &eventfd_ops },
	{ 0, "anon_inode:[signalfd]", &signalfd_ops },
	{ 0, "anon_inode:[timerfd]", &timerfd_ops },
	{ 0, "anon_inode:[eventpoll]", &eventpoll_ops },
	{ 0, "anon_inode:inotify", &inotify_ops },
	{ 0, "anon_inode:[fanotify]", &fanotify_ops },
	{ S_IFSOCK, NULL, &unix_sk_ops },	/* every family: sockets.c looks */
	{ S_IFSOCK, "never", &inet_sk_ops },	/* only found by type, for restore */
	{ S_IFSOCK, "never", &packet_sk_ops },
	{ S_IFSOCK, "never", &netlink_sk_ops },
};

static const struct fd_ops *fd_ops_find(const struct stat *st, const char *link)
{
	size_t i;

	for (i = 0; i < sizeof(fd_kinds) / sizeof(fd_kinds[0]); i++) {
		const struct fd_kind *k = &fd_kinds[i];

		if (k->mode && (st->st_mode & S_IFMT) != k->mode)
			continue;
		if (!k->mode && (st->st_mode & S_IFMT) && !k->link)
			continue;
		if (k->link && strncmp(link, k->link, strlen(k->link)))
			continue;
		return k->ops;
	}
	return NULL;
}

const struct fd_ops *fd_ops_by_type(FdTypes type)
{
	size_t i;

	for (i = 0; i < sizeof(fd_kinds) / sizeof(fd_kinds[0]); i++)
		if (fd_kinds[i].ops->type == type)
			return fd_kinds[i].ops;
	return NULL;
}

static const char *fd_kind_name(const struct stat *st, const char *link)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFIFO:
		return strncmp(link, "pipe:", 5) ? "FIFO" : "pipe";
	case S_IFSOCK:
		return "socket";
	case S_IFBLK:
		return "block device";
	case S_IFCHR:
		return "character device";
	case 0:
		return "anonymous inode";
	}
	return "special file";
}

const char *fd_parms_field(const struct fd_parms *p, const char *key)
{
	const char *s = p->fdinfo;
	size_t len = strlen(key);

	while (s && *s) {
		if (!strncmp(s, key, len))
			return s + len + strspn(s + len, " \t");
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	return NULL;
}

FownEntry *files_fown(struct dtask *t)
{
	FownEntry *fown = dtask_alloc(t, sizeof(*fown));

	if (fown)
		fown_entry__init(fown);
	return fown;
}

FownEntry *files_entry_fown(const FileEntry *fe, uint32_t *flags)
{
#define FOWN_OF(m) ((m) ? (*flags = (m)->flags, (m)->fown) : NULL)
	*flags = 0;
	switch (fe->type) {
	case FD_TYPES__REG:
		return FOWN_OF(fe->reg);
	case FD_TYPES__PIPE:
		return FOWN_OF(fe->pipe);
	case FD_TYPES__EVENTFD:
		return FOWN_OF(fe->efd);
	case FD_TYPES__EVENTPOLL:
		return FOWN_OF(fe->epfd);
	case FD_TYPES__SIGNALFD:
		return FOWN_OF(fe->sgfd);
	case FD_TYPES__TIMERFD:
		return FOWN_OF(fe->tfd);
	case FD_TYPES__INOTIFY:
		return FOWN_OF(fe->ify);
	case FD_TYPES__FANOTIFY:
		return FOWN_OF(fe->ffy);
	case FD_TYPES__MEMFD:
		return FOWN_OF(fe->memfd);
	case FD_TYPES__TTY:
		return FOWN_OF(fe->tty);
	default:
		return NULL;
	}
#undef FOWN_OF
}

/* F_GETOWN_EX and F_GETSIG of the description, through a copy of the fd in ferry. */
static int dump_fown(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	struct f_owner_ex owner = { 0 };
	uint32_t flags;
	FownEntry *fown = files_entry_fown(fe, &flags);
	int copy, sig;

	if (!fown)
		return 0;
	copy = files_getfd(t, p->fd);
	if (copy == -ENOSYS)
		return 0;	/* no pidfd_getfd (Linux < 5.6): owners are not saved */
	if (copy < 0)
		return copy;
	sig = fcntl(copy, F_GETSIG);
	if (fcntl(copy, F_GETOWN_EX, &owner) || sig < 0) {
		pr_perror("process %d fd %d: cannot read its owner (F_GETOWN_EX)", t->pid, p->fd);
		close(copy);
		return -errno;
	}
	close(copy);
	fown->pid_type = owner.type;
	fown->pid = owner.pid;
	fown->signum = sig;
	return 0;
}

int files_getfd(struct dtask *t, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, t->pid, 0), copy;

	if (pidfd < 0) {
		pr_perror("pidfd_open of process %d", t->pid);
		return -errno;
	}
	copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (copy < 0)
		pr_perror("cannot take a copy of fd %d of process %d", fd, t->pid);
	close(pidfd);
	return copy < 0 ? -errno : copy;
}

/* Append a files.img entry of the given type; its id is its index + 1. */
FileEntry *files_new(struct dtask *t, FdTypes type, const struct stat *st, unsigned int flags,
		     int fd)
{
	FileEntry *fe = dtask_alloc(t, sizeof(*fe));

	if (!fe || dtask_grow(t, &t->fx->files, t->fx->n_files, &t->fx->files_cap, sizeof(*t->fx->files)))
		return NULL;
	file_entry__init(fe);
	fe->id = t->fx->n_files + 1;
	fe->type = type;
	t->fx->files[t->fx->n_files++] =
		(struct dfile){ fe, st->st_dev, st->st_ino, flags, fd, t->pid };
	return fe;
}

int files_add_path(struct dtask *t, const char *path, const struct stat *st, unsigned int flags)
{
	size_t i;

	for (i = 0; i < t->fx->n_files; i++)
		if (t->fx->files[i].fd < 0 && t->fx->files[i].fe->type == FD_TYPES__REG &&
		    t->fx->files[i].dev == st->st_dev && t->fx->files[i].ino == st->st_ino &&
		    t->fx->files[i].flags == flags)
			return i + 1;
	return reg_file_new(t, path, st, flags);
}

/*
 * The id of an open file description already seen through another fd of this task or
 * of a task dumped before (dup, fork, SCM_RIGHTS), or 0.
 */
static int shared_id(struct dtask *t, int fd, const struct stat *st)
{
	size_t i;

	for (i = 0; i < t->fx->n_files; i++) {
		struct dfile *f = &t->fx->files[i];

		if (f->fd < 0 || f->dev != st->st_dev || f->ino != st->st_ino)
			continue;
		if (kcmp_same(f->pid, t->pid, KCMP_FILE, f->fd, fd) == 1)
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
	e->type = t->fx->files[id - 1].fe->type;
	e->flags = flags & O_CLOEXEC ? FD_CLOEXEC : 0;
	t->fds[t->n_fds++] = e;
	return 0;
}

static int read_parms(struct dtask *t, int fd, struct fd_parms *p, char *path, char *text)
{
	char link[64], name[32];
	ssize_t n;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", t->pid, fd);
	n = readlink(link, path, PATH_MAX - 1);
	if (n < 0 || stat(link, &p->st)) {
		pr_perror("cannot inspect fd %d of process %d", fd, t->pid);
		return -errno;
	}
	path[n] = '\0';
	p->fd = fd;
	p->link = path;
	ret = proc_read_fdinfo(t->pid, fd, &p->fi);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	n = proc_read_file(t->pid, name, text, FDINFO_MAX, false);
	p->fdinfo = text;
	if (n == FDINFO_MAX - 1) {
		pr_err("process %d fd %d: /proc/%d/%s is longer than %d bytes", t->pid, fd, t->pid,
		       name, FDINFO_MAX - 1);
		return -E2BIG;
	}
	return n < 0 ? n : 0;
}

static int dump_fd_text(struct dtask *t, int fd, char *path, char *text)
{
	const struct fd_ops *ops;
	struct fd_parms p;
	FileEntry *fe;
	int id, ret;

	ret = read_parms(t, fd, &p, path, text);
	if (ret)
		return ret;
	ops = fd_ops_find(&p.st, path);
	if (!ops) {
		pr_err("process %d fd %d: %s '%s' is not supported yet", t->pid, fd,
		       fd_kind_name(&p.st, path), path);
		return -EOPNOTSUPP;
	}
	id = shared_id(t, fd, &p.st);
	if (id && ops->late && t->fx->files[id - 1].pid != t->pid) {
		pr_err("process %d fd %d: the %s '%s' is shared with process %d: ferry restores "
		       "a %s in one process only", t->pid, fd, ops->name, path,
		       t->fx->files[id - 1].pid, ops->name);
		return -EOPNOTSUPP;
	}
	if (!id) {
		fe = files_new(t, ops->type, &p.st, p.fi.flags, fd);
		if (!fe)
			return -ENOMEM;
		ret = ops->dump(t, &p, fe);
		if (!ret)
			ret = dump_fown(t, &p, fe);
		if (ret)
			return ret;
		id = fe->id;
		pr_debug("%d: fd %d: %s file id %d: %s flags %#o", t->pid, fd, ops->name, id, path,
			 p.fi.flags);
	}
	ret = file_locks_collect(t, &p, id);
	return ret ? ret : add_fdinfo(t, fd, id, p.fi.flags);
}

static int dump_one_fd(struct dtask *t, int fd)
{
	char path[PATH_MAX], *text = malloc(FDINFO_MAX);
	int ret = text ? dump_fd_text(t, fd, path, text) : -ENOMEM;

	free(text);
	return ret;
}

int files_may_copy(const struct dtask *t, const struct fd_parms *p, const char *what)
{
	unsigned int acc = p->fi.flags & O_ACCMODE;

	if (!t->untrusted || ((acc == O_RDONLY || acc == O_RDWR) && !(p->fi.flags & O_PATH)))
		return 0;
	pr_err("process %d fd %d: %s '%s' is not open for reading: a client that is not root "
	       "may not have it copied", t->pid, p->fd, what, p->link);
	return -EACCES;
}

int files_dump_fds(struct dtask *t)
{
	char path[64];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (t->files_from) {	/* its parent's table, dumped with it: one fdinfo image */
		t->fds = t->files_from->fds;
		t->n_fds = t->files_from->n_fds;
		return 0;
	}
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
		pr_info("%d: %zu fds, %zu files in the tree", t->pid, t->n_fds, t->fx->n_files);
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
	if (!reg_file_path_ok(&st, path)) {
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

static int write_kind_images(struct dtask *t, int dirfd)
{
	size_t i, j;
	int ret;

	for (i = 0; i < sizeof(fd_kinds) / sizeof(fd_kinds[0]); i++) {
		const struct fd_ops *ops = fd_kinds[i].ops;

		for (j = 0; j < i; j++)
			if (fd_kinds[j].ops == ops)
				break;
		if (j < i || !ops->write)
			continue;
		ret = ops->write(t, dirfd);
		if (ret)
			return ret;
	}
	return 0;
}

/* files.img and the images of every kind (pipes-data.img…), once for the whole tree. */
int files_write_table(struct dtask *const *tasks, size_t n, int dirfd)
{
	struct dtask *t = n ? tasks[0] : NULL;	/* any task: they share t->fx */
	struct img *files;
	size_t i;
	int ret = 0;

	if (!t || !t->fx)
		return -EINVAL;
	files = img_open(dirfd, IMG_FILES, O_WRONLY);
	if (!files)
		return -EIO;
	for (i = 0; !ret && i < t->fx->n_files; i++)
		ret = img_write_pb(files, &t->fx->files[i].fe->base);
	if (img_close(files) && !ret)
		ret = -EIO;
	if (!ret)
		ret = write_kind_images(t, dirfd);
	if (!ret)
		ret = ghost_write(t, dirfd);
	if (!ret)
		ret = file_locks_write(t, dirfd);
	return ret;
}

/* fdinfo-<files_id>.img (once per fd table) and fs-PID.img of one task. */
int files_write(struct dtask *t, int dirfd)
{
	struct img *fdinfo;
	size_t i;
	int ret = 0;

	if (t->files_from)
		return img_write_one(dirfd, IMG_FS, &t->fs.base, t->pid);
	fdinfo = img_open(dirfd, IMG_FDINFO, O_WRONLY, t->ids.files_id);
	if (!fdinfo)
		return -EIO;
	for (i = 0; !ret && i < t->n_fds; i++)
		ret = img_write_pb(fdinfo, &t->fds[i]->base);
	if (img_close(fdinfo) && !ret)
		ret = -EIO;
	if (!ret)
		ret = img_write_one(dirfd, IMG_FS, &t->fs.base, t->pid);
	return ret;
}
