// SPDX-License-Identifier: MIT
/*
 * Ghost files: an open file whose last name was unlinked. Dump copies its contents (up to
 * --ghost-limit) through /proc/PID/fd/N into ghost-file-<id>.img and maps the REG entry to
 * it in remap-fpath.img. Restore recreates it next to its old path (O_EXCL: a new file of
 * that name is left alone), fills it, opens it with the saved flags, and unlinks it again.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "ghost: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "rst.h"
#include "ghost-file.pb-c.h"
#include "remap-fpath.pb-c.h"

#define GHOST_COPY_CHUNK (256U << 10)

/* One unlinked file to save, kept until files_write(). */
struct ghost_dump {
	uint32_t id;		/* ghost-file-<id>.img */
	uint32_t orig_id;	/* the REG entry */
	int fd;			/* in the task, to read it from */
	pid_t pid;		/* that task (ghosts are the tree's) */
	struct stat st;
};

bool ghost_is_deleted(const struct stat *st, const char *link)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(link);

	return S_ISREG(st->st_mode) && st->st_nlink == 0 && link[0] == '/' &&
	       len > sizeof(deleted) - 1 && !strcmp(link + len - sizeof(deleted) + 1, deleted);
}

int ghost_dump(struct dtask *t, const struct fd_parms *p, RegFileEntry *reg)
{
	struct ghost_dump *g;
	size_t i, len = strlen(reg->name);

	if (files_may_copy(t, p, "the unlinked file"))
		return -EACCES;
	if ((uint64_t)p->st.st_size > t->ghost_limit) {
		pr_err("process %d fd %d: the unlinked file '%s' has %lld bytes, more than the ghost "
		       "limit of %llu: raise it with --ghost-limit", t->pid, p->fd, p->link,
		       (long long)p->st.st_size, (unsigned long long)t->ghost_limit);
		return -EFBIG;
	}
	reg->name[len - strlen(" (deleted)")] = '\0';
	for (i = 0; i < t->fx->n_ghosts; i++)
		if (t->fx->ghosts[i].st.st_dev == p->st.st_dev && t->fx->ghosts[i].st.st_ino == p->st.st_ino)
			break;
	if (dtask_grow(t, &t->fx->ghosts, t->fx->n_ghosts, &t->fx->ghosts_cap, sizeof(*t->fx->ghosts)))
		return -ENOMEM;
	g = &t->fx->ghosts[t->fx->n_ghosts];
	*g = (struct ghost_dump){ .id = i < t->fx->n_ghosts ? t->fx->ghosts[i].id : t->fx->n_ghosts + 1,
				  .orig_id = reg->id, .fd = i < t->fx->n_ghosts ? -1 : p->fd,
				  .pid = t->pid,
				  .st = p->st };
	t->fx->n_ghosts++;
	pr_debug("%d: fd %d: ghost %u for '%s', %lld bytes", t->pid, p->fd, g->id, reg->name,
		 (long long)p->st.st_size);
	return 0;
}

static int copy_contents(struct dtask *t, const struct ghost_dump *g, struct img *img)
{
	char link[64], *buf = malloc(GHOST_COPY_CHUNK);
	int fd, ret = 0;
	ssize_t n = 0;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", g->pid, g->fd);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		pr_perror("cannot open the unlinked file of process %d fd %d", g->pid, g->fd);
		ret = -EIO;
		goto out;
	}
	while (!ret && (n = read(fd, buf, GHOST_COPY_CHUNK)) > 0)
		ret = img_write_raw(img, buf, n);
	if (n < 0) {
		pr_perror("cannot read the unlinked file of process %d fd %d", g->pid, g->fd);
		ret = -EIO;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static int write_ghost(struct dtask *t, int dirfd, const struct ghost_dump *g)
{
	GhostFileEntry e = GHOST_FILE_ENTRY__INIT;
	struct img *img = img_open(dirfd, IMG_GHOST_FILE, O_WRONLY, g->id);
	int ret;

	if (!img)
		return -EIO;
	e.uid = g->st.st_uid, e.gid = g->st.st_gid, e.mode = g->st.st_mode;
	e.has_dev = 1, e.dev = g->st.st_dev;
	e.has_ino = 1, e.ino = g->st.st_ino;
	e.has_size = 1, e.size = g->st.st_size;
	ret = img_write_pb(img, &e.base);
	if (!ret)
		ret = copy_contents(t, g, img);
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

int ghost_write(struct dtask *t, int dirfd)
{
	struct img *remap;
	size_t i;
	int ret = 0;

	if (!t->fx->n_ghosts)
		return 0;
	remap = img_open(dirfd, IMG_REMAP_FPATH, O_WRONLY);
	if (!remap)
		return -EIO;
	for (i = 0; !ret && i < t->fx->n_ghosts; i++) {
		RemapFilePathEntry e = REMAP_FILE_PATH_ENTRY__INIT;

		e.orig_id = t->fx->ghosts[i].orig_id;
		e.remap_id = t->fx->ghosts[i].id;
		e.has_remap_type = 1, e.remap_type = REMAP_TYPE__GHOST;
		ret = img_write_pb(remap, &e.base);
		if (!ret && t->fx->ghosts[i].fd >= 0)
			ret = write_ghost(t, dirfd, &t->fx->ghosts[i]);
	}
	if (img_close(remap) && !ret)
		ret = -EIO;
	return ret;
}

void ghost_unlink_images(struct dtask *t, int dirfd)
{
	char name[64];
	size_t i;

	for (i = 0; i < t->fx->n_ghosts; i++) {
		snprintf(name, sizeof(name), "ghost-file-%x.img", t->fx->ghosts[i].id);
		unlinkat(dirfd, name, 0);
	}
	unlinkat(dirfd, "remap-fpath.img", 0);
}

/* The ghost id of REG entry id from remap-fpath.img, 0 if it has none, or -errno. */
int ghost_lookup(struct rst_task *t, uint32_t id)
{
	struct img *img = img_open(t->dirfd, IMG_REMAP_FPATH, O_RDONLY | IMG_OPTIONAL);
	RemapFilePathEntry *e;
	int ret = 0, ghost = 0;

	if (!img)
		return errno == ENOENT ? 0 : -EIO;
	while (!ghost && (ret = img_read_pb(img, &remap_file_path_entry__descriptor,
					    (void **)&e)) > 0) {
		if (e->orig_id == id && e->remap_type == REMAP_TYPE__GHOST)
			ghost = e->remap_id;
		else if (e->orig_id == id)
			ret = -EOPNOTSUPP;
		img_free_pb(e);
		if (ret < 0)
			break;
	}
	img_close(img);
	if (ret < 0)
		pr_err("remap-fpath.img: file id %u: cannot use its remap", id);
	return ret < 0 ? ret : ghost;
}

static int fill(struct rst_task *t, uint32_t ghost, int fd, mode_t *mode)
{
	struct img *img = img_open(t->dirfd, IMG_GHOST_FILE, O_RDONLY, ghost);
	char *buf = malloc(GHOST_COPY_CHUNK);
	GhostFileEntry *e = NULL;
	uint64_t left;
	int ret;

	ret = img && buf ? img_read_pb(img, &ghost_file_entry__descriptor, (void **)&e) : -EIO;
	if (ret == 1 && (e->chunks || !e->has_size || !S_ISREG(e->mode))) {
		pr_err("%s: not a whole regular file (chunks or no size)", img->name);
		ret = -EINVAL;
	}
	for (left = ret == 1 ? e->size : 0; left && ret >= 0;) {
		size_t n = left < GHOST_COPY_CHUNK ? left : GHOST_COPY_CHUNK;

		ret = img_read_raw(img, buf, n);
		if (!ret && write(fd, buf, n) != (ssize_t)n) {
			pr_perror("cannot write ghost file %u", ghost);
			ret = -EIO;
		}
		left -= n;
	}
	if (e)
		*mode = e->mode & 07777;
	if (e && fchown(fd, e->uid, e->gid))
		pr_warn("cannot give ghost file %u to %u:%u: %m", ghost, e->uid, e->gid);
	img_free_pb(e);
	free(buf);
	if (img)
		img_close(img);
	return ret < 0 ? ret : (ret == 0 && !e ? -EINVAL : 0);
}

/* Another REG entry of the same ghost opened already: reopen its inode, or -1. */
static int reopen_sibling(struct rst_task *t, const RegFileEntry *reg, uint32_t ghost)
{
	char link[64];
	size_t i;

	for (i = 0; i < t->nr_files; i++) {
		const FileEntry *f = t->files[i];
		int fd = rst_file_fd(t, f->id);

		if (f->type != FD_TYPES__REG || f->reg == reg || fd < 0 ||
		    ghost_lookup(t, f->id) != (int)ghost)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		fd = open(link, (reg->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
		if (fd < 0)
			pr_perror("cannot reopen ghost file %u", ghost);
		return fd < 0 ? -errno : fd;
	}
	return -1;
}

int ghost_open(struct rst_task *t, const RegFileEntry *reg, uint32_t ghost)
{
	char path[PATH_MAX];
	mode_t mode = 0600;
	int wfd, fd, ret;

	fd = reopen_sibling(t, reg, ghost);
	if (fd != -1)
		return fd;
	snprintf(path, sizeof(path), "%s", reg->name);
	wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (wfd < 0 && errno == EEXIST) {
		snprintf(path, sizeof(path), "%s.ferry-ghost-%u", reg->name, ghost);
		wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (wfd < 0) {
		pr_perror("cannot recreate the unlinked file %s", reg->name);
		return -errno;
	}
	ret = fill(t, ghost, wfd, &mode);
	if (!ret && fchmod(wfd, mode))
		ret = -errno;
	fd = ret ? -1 : open(path, (reg->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
	if (!ret && fd < 0) {
		pr_perror("cannot open the recreated file %s", path);
		ret = -errno;
	}
	unlink(path);
	close(wfd);
	return ret ? ret : fd;
}
