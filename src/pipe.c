// SPDX-License-Identifier: MIT
/*
 * Pipes, both halves. Dump: each end is a pipe_entry (pipe_id = inode, O_NONBLOCK kept);
 * the data in flight is copied without consuming it: a new read end opened through
 * /proc/PID/fd/N is tee(2)d into a scratch pipe of the same size (F_GETPIPE_SZ), which is
 * drained into pipes-data.img. Restore: the first end creates the pipe (pipe2), sizes it,
 * refills the data and hands the other end to its file id; O_NONBLOCK by F_SETFL.
 * The data half serves FIFOs too (fifo.c, fifo-data.img).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LOG_PREFIX "pipe: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "rst.h"
#include "pipe-data.pb-c.h"

#define PIPE_MAX_DATA (64U << 20)	/* bound for an image's pipe size and bytes */

/* The data of one pipe, kept until files_write(). */
struct pipe_dump {
	bool fifo;			/* fifo-data.img, else pipes-data.img */
	uint32_t pipe_id;
	uint32_t size;
	uint32_t bytes;
	void *data;
};

static int copy_in_flight(struct dtask *t, int src, struct pipe_dump *pd)
{
	int scratch[2], queued = 0, ret = 0;
	ssize_t n;

	if (ioctl(src, FIONREAD, &queued) || queued < 0) {
		pr_perror("FIONREAD on pipe %u of process %d", pd->pipe_id, t->pid);
		return -errno;
	}
	pd->bytes = queued;
	if (!queued)
		return 0;
	if (pipe2(scratch, O_CLOEXEC | O_NONBLOCK)) {
		pr_perror("cannot create a scratch pipe");
		return -errno;
	}
	pd->data = dtask_alloc(t, queued);
	if (!pd->data) {
		ret = -ENOMEM;
		goto out;
	}
	if (fcntl(scratch[1], F_SETPIPE_SZ, pd->size) < 0) {
		pr_perror("cannot size a scratch pipe to %u bytes", pd->size);
		ret = -errno;
		goto out;
	}
	n = tee(src, scratch[1], queued, SPLICE_F_NONBLOCK);
	if (n != queued || read(scratch[0], pd->data, queued) != queued) {
		pr_perror("cannot copy the %d bytes in pipe %u of process %d (got %zd)", queued,
			  pd->pipe_id, t->pid, n);
		ret = errno ? -errno : -EIO;
	}
out:
	close(scratch[0]);
	close(scratch[1]);
	return ret;
}

int pipe_data_dump(struct dtask *t, const struct fd_parms *p, bool fifo)
{
	struct pipe_dump *pd;
	char link[64];
	int src, ret;
	size_t i;

	for (i = 0; i < t->fx->n_pipes; i++)
		if (t->fx->pipes[i].pipe_id == p->st.st_ino && t->fx->pipes[i].fifo == fifo)
			return 0;
	if (dtask_grow(t, &t->fx->pipes, t->fx->n_pipes, &t->fx->pipes_cap, sizeof(*t->fx->pipes)))
		return -ENOMEM;
	pd = &t->fx->pipes[t->fx->n_pipes];
	memset(pd, 0, sizeof(*pd));
	pd->pipe_id = p->st.st_ino;
	pd->fifo = fifo;
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", t->pid, p->fd);
	src = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0) {
		pr_perror("cannot open pipe %u of process %d fd %d", pd->pipe_id, t->pid, p->fd);
		return -errno;
	}
	ret = fcntl(src, F_GETPIPE_SZ);
	if (ret < 0) {
		pr_perror("F_GETPIPE_SZ on pipe %u", pd->pipe_id);
		ret = -errno;
		goto out;
	}
	pd->size = ret;
	ret = copy_in_flight(t, src, pd);
	if (!ret)
		t->fx->n_pipes++;
out:
	close(src);
	return ret;
}

static int pipe_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	PipeEntry *pe = dtask_alloc(t, sizeof(*pe));
	FownEntry *fown = dtask_alloc(t, sizeof(*fown));

	if (!pe || !fown)
		return -ENOMEM;
	pipe_entry__init(pe);
	fown_entry__init(fown);
	pe->id = fe->id;
	pe->pipe_id = p->st.st_ino;
	pe->flags = p->fi.flags & ~O_CLOEXEC;
	pe->fown = fown;
	fe->pipe = pe;
	return pipe_data_dump(t, p, false);
}

static int write_data(struct dtask *t, int dirfd, bool fifo)
{
	struct img *img = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < t->fx->n_pipes; i++) {
		PipeDataEntry e = PIPE_DATA_ENTRY__INIT;

		if (t->fx->pipes[i].fifo != fifo)
			continue;
		if (!img && !(img = img_open(dirfd, fifo ? IMG_FIFO_DATA : IMG_PIPES_DATA, O_WRONLY)))
			return -EIO;
		e.pipe_id = t->fx->pipes[i].pipe_id;
		e.bytes = t->fx->pipes[i].bytes;
		e.has_size = 1, e.size = t->fx->pipes[i].size;
		ret = img_write_pb(img, &e.base);
		if (!ret && e.bytes)
			ret = img_write_raw(img, t->fx->pipes[i].data, e.bytes);
	}
	if (img && img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

/* pipes-data.img and fifo-data.img, for both kinds */
static int pipe_write(struct dtask *t, int dirfd)
{
	int ret = write_data(t, dirfd, false);

	return ret ? ret : write_data(t, dirfd, true);
}

static int pipe_check(const FileEntry *fe)
{
	const PipeEntry *pe = fe->pipe;

	if (!pe || pe->id != fe->id || ((pe->flags & O_ACCMODE) != O_RDONLY &&
					 (pe->flags & O_ACCMODE) != O_WRONLY)) {
		pr_err("files.img: pipe file id %u has no pipe entry, a wrong id or access mode",
		       fe->id);
		return -EINVAL;
	}
	return 0;
}

static int apply_data(int wfd, const PipeDataEntry *e, const void *buf)
{
	if (e->has_size && fcntl(wfd, F_SETPIPE_SZ, e->size) < 0) {
		pr_perror("cannot set the size of pipe %u to %u", e->pipe_id, e->size);
		return -errno;
	}
	if (e->bytes && write(wfd, buf, e->bytes) != (ssize_t)e->bytes) {
		pr_perror("cannot refill %u bytes into pipe %u", e->bytes, e->pipe_id);
		return -EIO;
	}
	return 0;
}

int pipe_data_refill(struct rst_task *t, bool fifo, uint32_t pipe_id, int wfd)
{
	struct img *img = img_open(t->dirfd, fifo ? IMG_FIFO_DATA : IMG_PIPES_DATA,
				   O_RDONLY | IMG_OPTIONAL);
	PipeDataEntry *e = NULL;
	void *buf = NULL;
	int ret;

	if (!img)
		return errno == ENOENT ? 0 : -EIO;
	while ((ret = img_read_pb(img, &pipe_data_entry__descriptor, (void **)&e)) > 0) {
		if (e->bytes > PIPE_MAX_DATA || (e->has_size && e->size > PIPE_MAX_DATA) ||
		    (e->has_size && e->bytes > e->size)) {
			pr_err("%s: pipe %u: %u bytes in a pipe of %u at offset %llu are out of range",
			       img->name, e->pipe_id, e->bytes, e->size,
			       (unsigned long long)img->off);
			ret = -EINVAL;
			break;
		}
		free(buf);
		buf = malloc(e->bytes + 1);
		ret = buf ? img_read_raw(img, buf, e->bytes) : -ENOMEM;
		if (ret || e->pipe_id == pipe_id)
			break;
		img_free_pb(e);
		e = NULL;
	}
	if (ret == 0 && e)
		ret = apply_data(wfd, e, buf);
	if (e)
		img_free_pb(e);
	free(buf);
	img_close(img);
	return ret < 0 ? ret : 0;
}

/* The other end of fe's pipe that is not open yet, or NULL. */
static const FileEntry *find_peer(const struct rst_task *t, const FileEntry *fe)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++) {
		const FileEntry *f = t->files[i];

		if (f->type == FD_TYPES__PIPE && f != fe && f->pipe->pipe_id == fe->pipe->pipe_id &&
		    (f->pipe->flags & O_ACCMODE) != (fe->pipe->flags & O_ACCMODE) &&
		    rst_file_fd(t, f->id) < 0)
			return f;
	}
	return NULL;
}

static int set_flags(int fd, const PipeEntry *pe)
{
	if (fcntl(fd, F_SETFL, pe->flags & (O_NONBLOCK | O_DIRECT))) {
		pr_perror("cannot set flags %#o on pipe %u", pe->flags, pe->pipe_id);
		return -errno;
	}
	return 0;
}

static int pipe_open(struct rst_task *t, const FileEntry *fe)
{
	const FileEntry *peer = find_peer(t, fe);
	bool reader = (fe->pipe->flags & O_ACCMODE) == O_RDONLY;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("cannot create pipe %u", fe->pipe->pipe_id);
		return -errno;
	}
	ret = pipe_data_refill(t, false, fe->pipe->pipe_id, p[1]);
	if (!ret)
		ret = set_flags(p[!reader], fe->pipe);
	if (!ret && peer)
		ret = set_flags(p[reader], peer->pipe);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	if (peer)
		ret = rst_file_provide(t, peer->id, p[reader]);
	else
		close(p[reader]);
	if (ret) {
		close(p[!reader]);
		return ret;
	}
	return p[!reader];
}

const struct fd_ops pipe_ops = {
	.name = "pipe",
	.type = FD_TYPES__PIPE,
	.dump = pipe_dump,
	.check = pipe_check,
	.open = pipe_open,
	.write = pipe_write,
};
