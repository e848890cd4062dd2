// SPDX-License-Identifier: MIT
/*
 * The checkpoint manifest, both directions: <u32 magic><u32 size><MemfsManifest><u64
 * XXH64 of the message>. Written to manifest.tmp, fsync'ed and renamed over manifest, so
 * a reader sees the old or the new one, never a mix. Reading treats the file as hostile:
 * bounds, names and ids are checked and every rejection names the file and the offset.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define LOG_PREFIX "memfs: "
#include "log.h"
#include "internal.h"
#include "memfs.pb-c.h"

#define MANIFEST_HDR 8
#define MANIFEST_TAIL 8

/* Where a rejection goes: into why (for `store ls`) when set, else the log. */
struct mwhere {
	const char *what;
	char *why;
	size_t why_len;
};

static void __attribute__((format(printf, 2, 3))) mfail(struct mwhere *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->why)
		snprintf(w->why, w->why_len, "%s", msg);
	else
		pr_err("%s", msg);
}

uint64_t memfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

static void fill_pb(const struct memfs_manifest *m, MemfsManifest *pb, MemfsImage *imgs,
		    MemfsImage **ptrs)
{
	memfs_manifest__init(pb);
	pb->version = 1;
	pb->id = (char *)m->id;
	pb->state = m->state;
	pb->kernel_release = (char *)m->kernel;
	pb->boot_id = (char *)m->boot_id;
	pb->created_ns = m->created_ns;
	pb->ntrees = m->ntrees;
	pb->has_sealed_ns = m->sealed_ns != 0;
	pb->sealed_ns = m->sealed_ns;
	pb->has_updated_ns = true;
	pb->updated_ns = m->updated_ns;
	pb->note = m->note[0] ? (char *)m->note : NULL;
	pb->hostname = m->hostname[0] ? (char *)m->hostname : NULL;
	for (unsigned int i = 0; i < m->nimages; i++) {
		memfs_image__init(&imgs[i]);
		imgs[i].name = (char *)m->images[i].name;
		imgs[i].size = m->images[i].size;
		imgs[i].xxh3 = m->images[i].xxh3;
		ptrs[i] = &imgs[i];
	}
	pb->n_images = m->nimages;
	pb->images = ptrs;
}

static int encode(const struct memfs_manifest *m, uint8_t **out, size_t *len)
{
	MemfsImage *imgs = calloc(m->nimages + 1, sizeof(*imgs));
	MemfsImage **ptrs = calloc(m->nimages + 1, sizeof(*ptrs));
	MemfsManifest pb;
	uint32_t hdr[2];
	uint64_t sum;
	size_t n;
	uint8_t *buf = NULL;

	if (!imgs || !ptrs)
		goto out;
	fill_pb(m, &pb, imgs, ptrs);
	n = memfs_manifest__get_packed_size(&pb);
	buf = malloc(MANIFEST_HDR + n + MANIFEST_TAIL);
	if (!buf)
		goto out;
	hdr[0] = MEMFS_MANIFEST_MAGIC;
	hdr[1] = n;
	memcpy(buf, hdr, sizeof(hdr));
	memfs_manifest__pack(&pb, buf + MANIFEST_HDR);
	sum = XXH64(buf + MANIFEST_HDR, n, 0);
	memcpy(buf + MANIFEST_HDR + n, &sum, sizeof(sum));
	*len = MANIFEST_HDR + n + MANIFEST_TAIL;
out:
	free(imgs);
	free(ptrs);
	*out = buf;
	return buf ? 0 : -ENOMEM;
}

int memfs_manifest_write(int dirfd, const struct memfs_manifest *m)
{
	uint8_t *buf;
	size_t len;
	int fd, ret;

	ret = encode(m, &buf, &len);
	if (ret) {
		pr_err("cannot encode the manifest of %s: out of memory", m->id);
		return ret;
	}
	fd = openat(dirfd, MEMFS_MANIFEST_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		pr_perror("cannot create ckpt-%s/" MEMFS_MANIFEST_TMP, m->id);
		goto out;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && renameat(dirfd, MEMFS_MANIFEST_TMP, dirfd, MEMFS_MANIFEST))
		ret = -errno;
	if (!ret && fsync(dirfd))
		ret = -errno;
	if (ret) {
		errno = -ret;
		pr_perror("cannot write ckpt-%s/" MEMFS_MANIFEST, m->id);
	}
out:
	free(buf);
	return ret;
}

static int read_file(int dirfd, struct mwhere *w, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, ret = 0;

	fd = openat(dirfd, MEMFS_MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		mfail(w, "cannot open %s: %s", w->what, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MEMFS_MANIFEST_MAX) {
		mfail(w, "%s: not a regular file of at most %u bytes", w->what, MEMFS_MANIFEST_MAX);
		close(fd);
		return -EINVAL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, st.st_size, 0);
	if (n != st.st_size) {
		ret = n < 0 ? -errno : -EIO;
		mfail(w, "%s: short read at offset 0 (%zd of %lld bytes)", w->what, n,
		       (long long)st.st_size);
		free(buf);
		buf = NULL;
	}
	close(fd);
	*out = buf;
	*len = st.st_size;
	return ret;
}

/* The framing: magic, size within the file, checksum of the message. */
static int check_frame(const uint8_t *buf, size_t len, struct mwhere *w, size_t *msg_len)
{
	uint32_t hdr[2];
	uint64_t sum, want;

	if (len < MANIFEST_HDR) {
		mfail(w, "%s: truncated at offset %zu: the header needs %d bytes", w->what, len,
		       MANIFEST_HDR);
		return -EINVAL;
	}
	memcpy(hdr, buf, sizeof(hdr));
	if (hdr[0] != MEMFS_MANIFEST_MAGIC) {
		mfail(w, "%s: bad magic 0x%08x at offset 0 (expected 0x%08x)", w->what, hdr[0],
		       MEMFS_MANIFEST_MAGIC);
		return -EINVAL;
	}
	if ((uint64_t)hdr[1] + MANIFEST_HDR + MANIFEST_TAIL != len) {
		mfail(w, "%s: truncated or oversized: the size at offset 4 says %u bytes of message, "
		       "the file holds %zu after the header",
		      w->what, hdr[1], len - MANIFEST_HDR);
		return -EINVAL;
	}
	memcpy(&want, buf + MANIFEST_HDR + hdr[1], sizeof(want));
	sum = XXH64(buf + MANIFEST_HDR, hdr[1], 0);
	if (sum != want) {
		mfail(w, "%s: checksum mismatch at offset %u: expected %016llx, got %016llx", w->what,
		       MANIFEST_HDR + hdr[1], (unsigned long long)want, (unsigned long long)sum);
		return -EINVAL;
	}
	*msg_len = hdr[1];
	return 0;
}

/* "tree-N/file" with N < ntrees and file a plain name. */
static bool image_name_valid(const char *name, unsigned int ntrees)
{
	const char *slash, *file;
	char *end;
	unsigned long n;

	if (strncmp(name, "tree-", 5) || strlen(name) >= MEMFS_NAME_MAX)
		return false;
	if (name[5] < '0' || name[5] > '9' || (name[5] == '0' && name[6] != '/'))
		return false; /* canonical decimal only: tree-01 is not tree-1 */
	n = strtoul(name + 5, &end, 10);
	slash = strchr(name, '/');
	if (end == name + 5 || end != slash || n >= ntrees)
		return false;
	file = slash + 1;
	return file[0] && strcmp(file, ".") && strcmp(file, "..") && !strchr(file, '/');
}

static int copy_str(char *dst, size_t size, const char *src, const char *field, struct mwhere *w)
{
	if (!src)
		src = "";
	if (strlen(src) >= size) {
		mfail(w, "%s: field %s too long (%zu bytes, at most %zu)", w->what, field, strlen(src),
		       size - 1);
		return -EINVAL;
	}
	strcpy(dst, src);
	return 0;
}

static int copy_images(const MemfsManifest *pb, struct mwhere *w, struct memfs_manifest *m)
{
	if (pb->n_images > MEMFS_MAX_IMAGES) {
		mfail(w, "%s: %zu images, at most %d", w->what, pb->n_images, MEMFS_MAX_IMAGES);
		return -EINVAL;
	}
	m->images = calloc(pb->n_images + 1, sizeof(*m->images));
	if (!m->images)
		return -ENOMEM;
	for (size_t i = 0; i < pb->n_images; i++) {
		const MemfsImage *im = pb->images[i];

		if (!image_name_valid(im->name, m->ntrees)) {
			mfail(w, "%s: image %zu has a bad name '%.64s'", w->what, i, im->name);
			return -EINVAL;
		}
		strcpy(m->images[i].name, im->name);
		m->images[i].size = im->size;
		m->images[i].xxh3 = im->xxh3;
		m->nimages++;
	}
	return 0;
}

static int from_pb(const MemfsManifest *pb, struct mwhere *w, struct memfs_manifest *m)
{
	int ret = 0;

	if (pb->version != 1) {
		mfail(w, "%s: manifest version %u, this ferry reads version 1", w->what, pb->version);
		return -EINVAL;
	}
	if (!memfs_id_valid(pb->id)) {
		mfail(w, "%s: bad checkpoint id '%.64s'", w->what, pb->id);
		return -EINVAL;
	}
	if (pb->state < MEMFS_WRITING || pb->state > MEMFS_FAILED || pb->ntrees > MEMFS_MAX_TREES) {
		mfail(w, "%s: bad state %u or tree count %u", w->what, pb->state, pb->ntrees);
		return -EINVAL;
	}
	strcpy(m->id, pb->id);
	m->state = pb->state;
	m->ntrees = pb->ntrees;
	m->created_ns = pb->created_ns;
	m->sealed_ns = pb->sealed_ns;
	m->updated_ns = pb->updated_ns;
	ret = copy_str(m->kernel, sizeof(m->kernel), pb->kernel_release, "kernel_release", w);
	if (!ret)
		ret = copy_str(m->boot_id, sizeof(m->boot_id), pb->boot_id, "boot_id", w);
	if (!ret)
		ret = copy_str(m->note, sizeof(m->note), pb->note, "note", w);
	if (!ret)
		ret = copy_str(m->hostname, sizeof(m->hostname), pb->hostname, "hostname", w);
	if (!ret)
		ret = copy_images(pb, w, m);
	return ret;
}

int memfs_manifest_read(int dirfd, const char *what, char *why, size_t why_len,
			struct memfs_manifest *m)
{
	struct mwhere where = { what, why, why_len }, *w = &where;
	MemfsManifest *pb;
	uint8_t *buf = NULL;
	size_t len = 0, msg_len = 0;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = read_file(dirfd, w, &buf, &len);
	if (ret)
		return ret;
	ret = check_frame(buf, len, w, &msg_len);
	if (ret)
		goto out;
	pb = memfs_manifest__unpack(NULL, msg_len, buf + MANIFEST_HDR);
	if (!pb) {
		mfail(w, "%s: the message at offset %d does not decode", w->what, MANIFEST_HDR);
		ret = -EINVAL;
		goto out;
	}
	ret = from_pb(pb, w, m);
	memfs_manifest__free_unpacked(pb, NULL);
	if (ret)
		memfs_manifest_release(m);
out:
	free(buf);
	return ret;
}

void memfs_manifest_release(struct memfs_manifest *m)
{
	free(m->images);
	m->images = NULL;
	m->nimages = 0;
}
