// SPDX-License-Identifier: MIT
/*
 * Checksums of a checkpoint's images (segmented XXH3-64 from libxxhash, see memfs.h): at
 * seal, every regular file of every tree-N directory is hashed over an mmap of it, unless
 * the dump hashed it while writing it (memfs_ckpt_put_digest); at
 * open/verify, each listed image must exist with its size and hash, and no unlisted file
 * may sit beside them (the engines would read it unchecked).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define LOG_PREFIX "memfs: "
#include "log.h"
#include "internal.h"

#define DIGEST_CHUNK (32 * MEMFS_SEG_SIZE) /* bytes mapped at a time */

uint64_t memfs_seg_digest(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

uint64_t memfs_digest_combine(const uint64_t *segs, uint64_t nsegs)
{
	return XXH3_64bits(segs, nsegs * sizeof(*segs));
}

int memfs_digest_fd(int fd, uint64_t size, uint64_t *xxh3)
{
	uint64_t n = memfs_nsegs(size), off, *segs;
	int ret = 0;

	segs = calloc(n + 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	for (off = 0; off < size; off += DIGEST_CHUNK) {
		size_t len = size - off < DIGEST_CHUNK ? size - off : DIGEST_CHUNK;
		uint8_t *p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, off);

		if (p == MAP_FAILED) {
			ret = -errno;
			break;
		}
		for (size_t s = 0; s < len; s += MEMFS_SEG_SIZE)
			segs[(off + s) / MEMFS_SEG_SIZE] =
				memfs_seg_digest(p + s, len - s < MEMFS_SEG_SIZE ? len - s : MEMFS_SEG_SIZE);
		munmap(p, len);
	}
	*xxh3 = memfs_digest_combine(segs, n);
	free(segs);
	return ret;
}

/* A digest handed over by the dump (memfs_ckpt_put_digest), if its size still fits. */
static bool take_pre(const struct memfs_manifest *pre, struct memfs_image_sum *sum)
{
	for (unsigned int i = 0; pre && i < pre->nimages; i++) {
		if (strcmp(pre->images[i].name, sum->name))
			continue;
		if (pre->images[i].size != sum->size)
			return false;
		sum->xxh3 = pre->images[i].xxh3;
		return true;
	}
	return false;
}

static int digest_one(int treefd, const char *file, struct memfs_image_sum *sum,
		      const struct memfs_manifest *pre)
{
	struct stat st;
	int fd, ret;

	fd = openat(treefd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_perror("cannot open image %s", sum->name);
		return ret;
	}
	ret = fstat(fd, &st) ? -errno : 0;
	if (!ret && !S_ISREG(st.st_mode)) {
		pr_err("%s is not a regular file", sum->name);
		ret = -EINVAL;
	} else if (!ret) {
		sum->size = st.st_size;
		ret = take_pre(pre, sum) ? 0 : memfs_digest_fd(fd, sum->size, &sum->xxh3);
		if (ret) {
			errno = -ret;
			pr_perror("cannot read image %s", sum->name);
		}
	}
	close(fd);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The plain names in a tree directory, sorted; free each and the array. */
static int list_tree(int treefd, char ***out, unsigned int *n)
{
	unsigned int cnt = 0, cap = 0;
	char **names = NULL, **bigger;
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = dup(treefd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return -errno;
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			bigger = realloc(names, cap * sizeof(*names));
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			names = bigger;
		}
		names[cnt] = strdup(de->d_name);
		if (!names[cnt]) {
			ret = -ENOMEM;
			break;
		}
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(names, cnt, sizeof(*names), cmp_names);
	*out = names;
	*n = cnt;
	return ret;
}

static void free_names(char **names, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int open_tree(int ckptfd, unsigned int tree)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "tree-%u", tree);
	fd = openat(ckptfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	return fd;
}

static int add_image(struct memfs_manifest *m, unsigned int *cap, unsigned int tree,
		     const char *file)
{
	struct memfs_image_sum *bigger;

	if (m->nimages >= MEMFS_MAX_IMAGES) {
		pr_err("checkpoint %s: more than %d images", m->id, MEMFS_MAX_IMAGES);
		return -E2BIG;
	}
	if (m->nimages == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		bigger = realloc(m->images, *cap * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		m->images = bigger;
	}
	if (snprintf(m->images[m->nimages].name, MEMFS_NAME_MAX, "tree-%u/%s", tree, file) >=
	    MEMFS_NAME_MAX) {
		pr_err("checkpoint %s: image name tree-%u/%s too long", m->id, tree, file);
		return -ENAMETOOLONG;
	}
	m->nimages++;
	return 0;
}

static int digest_tree(int ckptfd, unsigned int tree, struct memfs_manifest *m,
		       unsigned int *cap, const struct memfs_manifest *pre)
{
	unsigned int n = 0;
	char **names = NULL;
	int treefd, ret;

	treefd = open_tree(ckptfd, tree);
	if (treefd < 0) {
		errno = -treefd;
		pr_perror("checkpoint %s: cannot open tree-%u", m->id, tree);
		return treefd;
	}
	ret = list_tree(treefd, &names, &n);
	for (unsigned int i = 0; !ret && i < n; i++) {
		ret = add_image(m, cap, tree, names[i]);
		if (!ret)
			ret = digest_one(treefd, names[i], &m->images[m->nimages - 1], pre);
	}
	free_names(names, n);
	close(treefd);
	return ret;
}

int memfs_digest_trees(int ckptfd, struct memfs_manifest *m, const struct memfs_manifest *pre)
{
	unsigned int cap = 0;
	int ret = 0;

	memfs_manifest_release(m);
	for (unsigned int t = 0; !ret && t < m->ntrees; t++)
		ret = digest_tree(ckptfd, t, m, &cap, pre);
	return ret;
}

static int verify_one(int ckptfd, const char *what, const struct memfs_image_sum *im)
{
	struct memfs_image_sum got = { 0 };
	struct stat st;
	int fd, ret;

	strcpy(got.name, im->name);
	fd = openat(ckptfd, im->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		pr_err("%s: image %s is missing or not a regular file", what, im->name);
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	if ((uint64_t)st.st_size != im->size) {
		pr_err("%s: image %s has %lld bytes, the manifest says %llu", what, im->name,
		       (long long)st.st_size, (unsigned long long)im->size);
		close(fd);
		return -EBADMSG;
	}
	ret = memfs_digest_fd(fd, im->size, &got.xxh3);
	close(fd);
	if (ret) {
		errno = -ret;
		pr_perror("%s: cannot read image %s", what, im->name);
		return ret;
	}
	if (got.xxh3 != im->xxh3) {
		pr_err("%s: image %s is corrupt: checksum expected %016llx, actual %016llx", what,
		       im->name, (unsigned long long)im->xxh3, (unsigned long long)got.xxh3);
		return -EBADMSG;
	}
	return 0;
}

static bool listed(const struct memfs_manifest *m, const char *name)
{
	for (unsigned int i = 0; i < m->nimages; i++)
		if (!strcmp(m->images[i].name, name))
			return true;
	return false;
}

/* Every file in tree-N must be in the manifest. */
static int check_unlisted(int ckptfd, const char *what, const struct memfs_manifest *m,
			  unsigned int tree)
{
	char name[MEMFS_NAME_MAX + 256];
	unsigned int n = 0;
	char **names = NULL;
	int treefd, ret;

	treefd = open_tree(ckptfd, tree);
	if (treefd < 0) {
		pr_err("%s: tree-%u is missing", what, tree);
		return -ENOENT;
	}
	ret = list_tree(treefd, &names, &n);
	for (unsigned int i = 0; !ret && i < n; i++) {
		snprintf(name, sizeof(name), "tree-%u/%s", tree, names[i]);
		if (!listed(m, name)) {
			pr_err("%s: %s is not in the manifest (added after the seal?)", what, name);
			ret = -EBADMSG;
		}
	}
	free_names(names, n);
	close(treefd);
	return ret;
}

int memfs_verify_trees(int ckptfd, const char *what, const struct memfs_manifest *m)
{
	int ret = 0;

	for (unsigned int t = 0; !ret && t < m->ntrees; t++)
		ret = check_unlisted(ckptfd, what, m, t);
	for (unsigned int i = 0; !ret && i < m->nimages; i++)
		ret = verify_one(ckptfd, what, &m->images[i]);
	return ret;
}
