// SPDX-License-Identifier: MIT
/*
 * Image file I/O, both directions: magic handling, size-prefixed protobuf entries,
 * raw payloads. Buffered so that many small entries cost few syscalls. All input
 * checks (magic, entry size, truncation, protobuf decoding) report file and offset.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "image: "
#include "log.h"
#include "image.h"

struct img_desc {
	const char *fmt;	/* file name; %u for the id if any */
	uint32_t magic;		/* 0: raw file without magic */
	uint32_t first_magic;	/* IMG_COMMON / IMG_SERVICE, 0 for inventory */
};

static const struct img_desc img_descs[IMG_NR_TYPES] = {
	[IMG_INVENTORY] = { "inventory.img", 0x58313116, 0 },
	[IMG_PSTREE] = { "pstree.img", 0x50273030, IMG_COMMON_MAGIC },
	[IMG_CORE] = { "core-%u.img", 0x55053847, IMG_COMMON_MAGIC },
	[IMG_IDS] = { "ids-%u.img", 0x54432030, IMG_COMMON_MAGIC },
	[IMG_MM] = { "mm-%u.img", 0x57492820, IMG_COMMON_MAGIC },
	[IMG_PAGEMAP] = { "pagemap-%u.img", 0x56084025, IMG_COMMON_MAGIC },
	[IMG_PAGES] = { "pages-%u.img", 0, 0 },
	[IMG_FILES] = { "files.img", 0x56303138, IMG_COMMON_MAGIC },
	[IMG_FDINFO] = { "fdinfo-%u.img", 0x56213732, IMG_COMMON_MAGIC },
	[IMG_FS] = { "fs-%u.img", 0x51403912, IMG_COMMON_MAGIC },
	[IMG_PIPES_DATA] = { "pipes-data.img", 0x56453709, IMG_COMMON_MAGIC },
	[IMG_FIFO_DATA] = { "fifo-data.img", 0x59333054, IMG_COMMON_MAGIC },
	[IMG_REMAP_FPATH] = { "remap-fpath.img", 0x59133954, IMG_COMMON_MAGIC },
	[IMG_GHOST_FILE] = { "ghost-file-%x.img", 0x52583605, IMG_COMMON_MAGIC },
	[IMG_FILE_LOCKS] = { "file-locks.img", 0x54323616, IMG_COMMON_MAGIC },
	[IMG_MEMFD_INODE] = { "memfd.img", 0x48453499, IMG_COMMON_MAGIC },
	[IMG_SHMEM_PAGEMAP] = { "pagemap-shmem-%u.img", 0x56084025, IMG_COMMON_MAGIC },
	[IMG_TTY_INFO] = { "tty-info.img", 0x59453036, IMG_COMMON_MAGIC },
	[IMG_TTY_DATA] = { "tty-data.img", 0x59413026, IMG_COMMON_MAGIC },
	[IMG_STATS] = { "stats-%s", 0x57093306, IMG_SERVICE_MAGIC },
	[IMG_TIMENS] = { "timens-%u.img", 0x43114433, IMG_COMMON_MAGIC },
	[IMG_IPC_VAR] = { "ipcns-var-%u.img", 0x53115007, IMG_COMMON_MAGIC },
	[IMG_IPC_SHM] = { "ipcns-shm-%u.img", 0x46283044, IMG_COMMON_MAGIC },
	[IMG_IPC_SEM] = { "ipcns-sem-%u.img", 0x59573019, IMG_COMMON_MAGIC },
	[IMG_IPC_MSG] = { "ipcns-msg-%u.img", 0x55453737, IMG_COMMON_MAGIC },
	[IMG_SECCOMP] = { "seccomp.img", 0x64413049, IMG_COMMON_MAGIC },
	[IMG_NETDEV] = { "netdev-%u.img", 0x57373951, IMG_COMMON_MAGIC },
	[IMG_NETNS] = { "netns-%u.img", 0x55933752, IMG_COMMON_MAGIC },
	[IMG_CGROUP] = { "cgroup.img", 0x59383330, IMG_COMMON_MAGIC },
	[IMG_SK_QUEUES] = { "sk-queues.img", 0x56264026, IMG_COMMON_MAGIC },
	[IMG_TCP_STREAM] = { "tcp-stream-%x.img", 0x51465506, IMG_COMMON_MAGIC },
	[IMG_HOST_NETDEV] = { "host-netdev.img", 0x57373951, IMG_COMMON_MAGIC },
	[IMG_HOST_NETNS] = { "host-netns.img", 0x55933752, IMG_COMMON_MAGIC },
};

#define IMG_BUF_SIZE (64 << 10)

const char *img_type_name(enum img_type type)
{
	return type < IMG_NR_TYPES ? img_descs[type].fmt : "?";
}

void img_free_pb(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static int img_flush(struct img *img)
{
	size_t done = 0;

	while (done < img->buf_len) {
		ssize_t n = write(img->fd, img->buf + done, img->buf_len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("cannot write %s at offset %llu", img->name,
				  (unsigned long long)(img->off - img->buf_len + done));
			return -errno;
		}
		done += n;
	}
	img->buf_len = 0;
	return 0;
}

int img_write_raw(struct img *img, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		size_t room = img->buf_size - img->buf_len;
		size_t n = len < room ? len : room;

		memcpy(img->buf + img->buf_len, p, n);
		img->buf_len += n;
		img->off += n;
		p += n;
		len -= n;
		if (img->buf_len == img->buf_size && img_flush(img))
			return -EIO;
	}
	return 0;
}

/* Fill the read buffer; returns bytes available (0 at EOF) or -errno. */
static ssize_t img_fill(struct img *img)
{
	ssize_t n;

	if (img->buf_pos < img->buf_len)
		return img->buf_len - img->buf_pos;
	do
		n = read(img->fd, img->buf, img->buf_size);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pr_perror("cannot read %s at offset %llu", img->name,
			  (unsigned long long)img->off);
		return -errno;
	}
	img->buf_pos = 0;
	img->buf_len = n;
	return n;
}

/* Read up to len bytes; returns the count read (short only at EOF) or -errno. */
static ssize_t img_read_some(struct img *img, void *data, size_t len)
{
	unsigned char *p = data;
	size_t done = 0;

	while (done < len) {
		ssize_t avail = img_fill(img);
		if (avail < 0)
			return avail;
		if (avail == 0)
			break;
		size_t n = len - done < (size_t)avail ? len - done : (size_t)avail;
		memcpy(p + done, img->buf + img->buf_pos, n);
		img->buf_pos += n;
		img->off += n;
		done += n;
	}
	return done;
}

int img_read_raw(struct img *img, void *data, size_t len)
{
	uint64_t start = img->off;
	ssize_t n = img_read_some(img, data, len);

	if (n < 0)
		return n;
	if ((size_t)n != len) {
		pr_err("%s is truncated at offset %llu: wanted %zu bytes at offset %llu, found %zd",
		       img->name, (unsigned long long)img->off, len, (unsigned long long)start, n);
		return -EIO;
	}
	return 0;
}

static int img_check_magic(struct img *img)
{
	const struct img_desc *d = &img_descs[img->type];
	uint32_t m;

	if (!d->magic)
		return 0;
	if (d->first_magic) {
		if (img_read_raw(img, &m, sizeof(m)))
			return -EIO;
		if (m != d->first_magic) {
			pr_err("%s: bad magic 0x%08x at offset 0 (expected 0x%08x): not a ferry/CRIU image",
			       img->name, m, d->first_magic);
			return -EINVAL;
		}
	}
	if (img_read_raw(img, &m, sizeof(m)))
		return -EIO;
	if (m != d->magic) {
		pr_err("%s: bad magic 0x%08x at offset %llu (expected 0x%08x for %s)", img->name, m,
		       (unsigned long long)img->off - 4, d->magic, d->fmt);
		return -EINVAL;
	}
	return 0;
}

static int img_write_magic(struct img *img)
{
	const struct img_desc *d = &img_descs[img->type];

	if (!d->magic)
		return 0;
	if (d->first_magic && img_write_raw(img, &d->first_magic, 4))
		return -EIO;
	return img_write_raw(img, &d->magic, 4);
}

static struct img *img_alloc(enum img_type type, int flags, va_list ap)
{
	struct img *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->type = type;
	img->flags = flags;
	img->fd = -1;
	img->buf_size = IMG_BUF_SIZE;
	img->buf = malloc(img->buf_size);
	if (!img->buf) {
		free(img);
		return NULL;
	}
	vsnprintf(img->name, sizeof(img->name), img_descs[type].fmt, ap);
	return img;
}

static void img_free(struct img *img)
{
	if (img->fd >= 0)
		close(img->fd);
	free(img->buf);
	free(img);
}

static uid_t owner_uid = (uid_t)-1;
static gid_t owner_gid = (gid_t)-1;

void img_set_owner(uid_t uid, gid_t gid)
{
	owner_uid = uid;
	owner_gid = gid;
}

int img_create(int dirfd, const char *name, int acc)
{
	int fd, err;

	if (owner_uid == (uid_t)-1)
		return openat(dirfd, name, acc | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	fd = openat(dirfd, name, acc | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && fchown(fd, owner_uid, owner_gid)) {
		err = errno;
		close(fd);
		unlinkat(dirfd, name, 0);
		errno = err;
		return -1;
	}
	return fd;
}

static struct img *img_open_v(int dirfd, enum img_type type, int flags, va_list ap)
{
	int acc = flags & O_ACCMODE;
	struct img *img;

	img = img_alloc(type, flags, ap);
	if (!img) {
		pr_err("out of memory opening an image");
		errno = ENOMEM;
		return NULL;
	}
	if (acc == O_RDONLY)
		img->fd = openat(dirfd, img->name, O_RDONLY | O_CLOEXEC);
	else
		img->fd = img_create(dirfd, img->name, O_WRONLY);
	if (img->fd < 0) {
		int err = errno;
		if (!(err == ENOENT && (flags & IMG_OPTIONAL)))
			pr_perror("cannot open image %s", img->name);
		img_free(img);
		errno = err;
		return NULL;
	}
	if ((acc == O_RDONLY ? img_check_magic(img) : img_write_magic(img))) {
		img_free(img);
		errno = EINVAL;
		return NULL;
	}
	return img;
}

struct img *img_open(int dirfd, enum img_type type, int flags, ...)
{
	struct img *img;
	va_list ap;

	va_start(ap, flags);
	img = img_open_v(dirfd, type, flags, ap);
	va_end(ap);
	return img;
}

int img_close(struct img *img)
{
	int ret = 0;

	if (!img)
		return 0;
	if ((img->flags & O_ACCMODE) != O_RDONLY && img_flush(img))
		ret = -EIO;
	if (img->fd >= 0 && close(img->fd) && !ret) {
		pr_perror("cannot close image %s", img->name);
		ret = -EIO;
	}
	img->fd = -1;
	img_free(img);
	return ret;
}

int img_write_pb(struct img *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint32_t size = len;
	unsigned char stackbuf[1024], *p = stackbuf;
	int ret;

	if (len > IMG_MAX_ENTRY) {
		pr_err("%s: entry of %zu bytes is larger than the limit", img->name, len);
		return -E2BIG;
	}
	if (len > sizeof(stackbuf)) {
		p = malloc(len);
		if (!p)
			return -ENOMEM;
	}
	protobuf_c_message_pack(msg, p);
	ret = img_write_raw(img, &size, sizeof(size));
	if (!ret)
		ret = img_write_raw(img, p, len);
	if (p != stackbuf)
		free(p);
	return ret;
}

int img_read_pb(struct img *img, const ProtobufCMessageDescriptor *desc, void **msg)
{
	uint64_t start = img->off;
	unsigned char *p;
	uint32_t size;
	ssize_t n;

	n = img_read_some(img, &size, sizeof(size));
	if (n < 0)
		return n;
	if (n == 0)
		return 0;
	if (n != sizeof(size)) {
		pr_err("%s is truncated at offset %llu: partial entry size", img->name,
		       (unsigned long long)start);
		return -EIO;
	}
	if (size > IMG_MAX_ENTRY) {
		pr_err("%s: entry at offset %llu claims %u bytes, more than the %u limit", img->name,
		       (unsigned long long)start, size, IMG_MAX_ENTRY);
		return -EINVAL;
	}
	p = malloc(size ? size : 1);
	if (!p)
		return -ENOMEM;
	if (img_read_raw(img, p, size)) {
		free(p);
		return -EIO;
	}
	*msg = protobuf_c_message_unpack(desc, NULL, size, p);
	free(p);
	if (!*msg) {
		pr_err("%s: entry at offset %llu (%u bytes) is not a valid %s", img->name,
		       (unsigned long long)start, size, desc->name);
		return -EINVAL;
	}
	return 1;
}

static int img_read_one_v(int dirfd, enum img_type type, const ProtobufCMessageDescriptor *desc,
			  void **msg, va_list ap)
{
	struct img *img;
	void *extra;
	int ret;

	img = img_open_v(dirfd, type, O_RDONLY, ap);
	if (!img)
		return -errno;
	ret = img_read_pb(img, desc, msg);
	if (ret == 0) {
		pr_err("%s: no entry at offset %llu (the image is empty)", img->name,
		       (unsigned long long)img->off);
		ret = -EIO;
	} else if (ret > 0) {
		ret = img_read_pb(img, desc, &extra);
		if (ret > 0) {
			pr_err("%s: unexpected second entry before offset %llu", img->name,
			       (unsigned long long)img->off);
			img_free_pb(extra);
			img_free_pb(*msg);
			ret = -EINVAL;
		} else if (ret < 0) {
			img_free_pb(*msg);
		}
	}
	img_close(img);
	return ret;
}

int img_read_one(int dirfd, enum img_type type, const ProtobufCMessageDescriptor *desc,
		 void **msg, ...)
{
	va_list ap;
	int ret;

	va_start(ap, msg);
	ret = img_read_one_v(dirfd, type, desc, msg, ap);
	va_end(ap);
	return ret < 0 ? ret : 0;
}

int img_write_one(int dirfd, enum img_type type, const ProtobufCMessage *msg, ...)
{
	struct img *img;
	va_list ap;
	int ret;

	va_start(ap, msg);
	img = img_open_v(dirfd, type, O_WRONLY, ap);
	va_end(ap);
	if (!img)
		return -errno;
	ret = img_write_pb(img, msg);
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}
