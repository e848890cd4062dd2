// SPDX-License-Identifier: MIT
/*
 * FIFOs (named pipes), both halves. Dump: a fifo_entry (pipe_id = inode) pointing to a REG
 * entry with the path and flags, and the data in flight into fifo-data.img (pipe.c).
 * Restore: reopen by path while holding an O_RDWR keeper open (so that no open blocks and
 * the data has a reader), refill the data once per FIFO through the keeper, set the flags.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "fifo: "
#include "log.h"
#include "files.h"
#include "rst.h"

static int fifo_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	FifoEntry *e = dtask_alloc(t, sizeof(*e));
	int regf;

	if (!e)
		return -ENOMEM;
	fifo_entry__init(e);
	e->id = fe->id;
	e->pipe_id = p->st.st_ino;
	fe->fifo = e;
	regf = reg_file_new(t, p->link, &p->st, p->fi.flags);
	if (regf < 0)
		return regf;
	e->has_regf_id = 1, e->regf_id = regf;
	return pipe_data_dump(t, p, true);
}

static int fifo_check(const FileEntry *fe)
{
	if (!fe->fifo || fe->fifo->id != fe->id || !fe->fifo->has_regf_id ||
	    fe->fifo->regf_id == fe->id) {
		pr_err("files.img: FIFO file id %u has no entry, a wrong id or no path", fe->id);
		return -EINVAL;
	}
	return 0;
}

/* Has another description of this FIFO been opened (and so refilled) already? */
static bool refilled(const struct rst_task *t, const FileEntry *fe)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++) {
		const FileEntry *f = t->files[i];

		if (f != fe && f->type == FD_TYPES__FIFO && f->fifo->pipe_id == fe->fifo->pipe_id &&
		    rst_file_fd(t, f->id) >= 0)
			return true;
	}
	return false;
}

static int open_fifo_path(const RegFileEntry *reg, int *keeper)
{
	struct stat st;
	int fd;

	*keeper = open(reg->name, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (*keeper < 0 || fstat(*keeper, &st) || !S_ISFIFO(st.st_mode)) {
		pr_perror("cannot open the FIFO %s", reg->name);
		return -ENOENT;
	}
	fd = open(reg->name, (reg->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_SETFL, reg->flags & (O_NONBLOCK | O_APPEND | O_ASYNC))) {
		pr_perror("cannot open the FIFO %s with flags %#o", reg->name, reg->flags);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	return fd;
}

static int fifo_open(struct rst_task *t, const FileEntry *fe)
{
	const FileEntry *rf = rst_file_by_id(t, fe->fifo->regf_id);
	int keeper = -1, fd, ret;

	if (!rf || rf->type != FD_TYPES__REG) {
		pr_err("files.img: FIFO %u: regf_id %u is not a path entry", fe->id,
		       fe->fifo->regf_id);
		return -EINVAL;
	}
	fd = open_fifo_path(rf->reg, &keeper);
	if (fd >= 0 && !refilled(t, fe)) {
		ret = pipe_data_refill(t, true, fe->fifo->pipe_id, keeper);
		if (ret) {
			close(fd);
			fd = ret;
		}
	}
	if (keeper >= 0)
		close(keeper);
	return fd;
}

const struct fd_ops fifo_ops = {
	.name = "FIFO",
	.type = FD_TYPES__FIFO,
	.dump = fifo_dump,
	.check = fifo_check,
	.open = fifo_open,
};
