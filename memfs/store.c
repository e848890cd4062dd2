// SPDX-License-Identifier: MIT
/*
 * memfs stores: SPEC parsing, init/open/close of the dir: backend (the pmem: backend's
 * device handling is in pmem.c), free space (statvfs), listing and removing checkpoints.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOG_PREFIX "memfs: "
#include "log.h"
#include "internal.h"

bool memfs_id_valid(const char *id)
{
	size_t len = id ? strlen(id) : 0;

	if (!len || len >= MEMFS_ID_MAX || id[0] == '.' || id[0] == '-')
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
	       len;
}

int memfs_spec_parse(const char *spec, struct memfs_store *s)
{
	const char *path;

	memset(s, 0, sizeof(*s));
	s->rootfd = -1;
	if (!spec)
		spec = MEMFS_DEFAULT_SPEC;
	if (strlen(spec) >= sizeof(s->spec))
		goto bad;
	strcpy(s->spec, spec);
	if (!strncmp(spec, "dir:", 4)) {
		s->backend = MEMFS_DIR;
		path = spec + 4;
		if (!path[0] || strlen(path) >= sizeof(s->root))
			goto bad;
		strcpy(s->root, path);
		return 0;
	}
	if (!strncmp(spec, "pmem:", 5)) {
		s->backend = MEMFS_PMEM;
		path = spec + 5;
		if (path[0] != '/' || strlen(path) >= sizeof(s->dev))
			goto bad;
		strcpy(s->dev, path);
		return 0;
	}
bad:
	pr_err("bad store '%.200s': expected dir:PATH or pmem:/dev/DEVICE", spec);
	return -EINVAL;
}

/* Mark a directory as a store: mkdir -p, then the marker file. */
int memfs_store_init_dir(const char *root)
{
	char path[PATH_MAX + 32], *p;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s", root);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof(path), "%s/" MEMFS_MARKER, root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write(fd, MEMFS_MARKER_TEXT, strlen(MEMFS_MARKER_TEXT)) < 0 || fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret)
		return 0;
	errno = -ret;
fail:
	ret = -errno;
	pr_perror("cannot create the store at %s (%s)", root, path);
	return ret;
}

int memfs_store_init(const char *spec, bool force)
{
	struct memfs_store s;
	int ret;

	ret = memfs_spec_parse(spec, &s);
	if (ret)
		return ret;
	if (s.backend == MEMFS_PMEM)
		return memfs_pmem_init(&s, force);
	ret = memfs_store_init_dir(s.root);
	if (!ret)
		pr_info("store %s initialized", s.spec);
	return ret;
}

static bool has_marker(int rootfd)
{
	char buf[64] = "";
	int fd = openat(rootfd, MEMFS_MARKER, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return !strcmp(buf, MEMFS_MARKER_TEXT);
}

int memfs_store_ensure(const char *spec)
{
	struct memfs_store s;
	int ret, fd;

	ret = memfs_spec_parse(spec, &s);
	if (ret || s.backend != MEMFS_DIR)
		return ret;
	fd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && has_marker(fd)) {
		close(fd);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return memfs_store_init(spec, false);
}

static int open_root(struct memfs_store *s)
{
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		pr_perror("cannot open store %s at %s (create it with: ferry store init %s)",
			  s->spec, s->root, s->spec);
		return -ENOENT;
	}
	if (!has_marker(s->rootfd)) {
		pr_err("%s is not a ferry store: no %s/" MEMFS_MARKER " (create it with: ferry "
		       "store init %s)",
		       s->spec, s->root, s->spec);
		return -ENOENT;
	}
	return 0;
}

int memfs_store_open(const char *spec, struct memfs_store **out)
{
	struct memfs_store *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	ret = memfs_spec_parse(spec, s);
	if (!ret && s->backend == MEMFS_PMEM)
		ret = memfs_pmem_mount(s);
	if (!ret)
		ret = open_root(s);
	if (ret) {
		memfs_store_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

void memfs_store_close(struct memfs_store *s)
{
	if (!s)
		return;
	if (s->rootfd >= 0)
		close(s->rootfd);
	if (s->mounted)
		memfs_pmem_unmount(s);
	free(s);
}

int memfs_store_free_bytes(struct memfs_store *s, uint64_t *bytes)
{
	struct statvfs st;

	if (fstatvfs(s->rootfd, &st)) {
		pr_perror("cannot statvfs store %s", s->spec);
		return -errno;
	}
	*bytes = (uint64_t)st.f_bavail * st.f_frsize;
	return 0;
}

const char *memfs_store_spec(struct memfs_store *s)
{
	return s->spec;
}

const char *memfs_store_root(struct memfs_store *s)
{
	return s->root;
}

bool memfs_store_dax(struct memfs_store *s)
{
	return s->dax;
}

/*
 * An unreadable checkpoint (state 0) is dated by its directory's mtime, which
 * the kernel takes from its coarse clock, up to a tick behind the
 * CLOCK_REALTIME of the manifests: one tick later is when it was made at the
 * latest, so that a damaged newest checkpoint is never taken for older than
 * the one dumped just before it.
 */
static uint64_t sort_time(const struct memfs_ckpt_info *info)
{
	static uint64_t tick_ns;
	struct timespec res;

	if (info->state)
		return info->created_ns;
	if (!tick_ns)
		tick_ns = clock_getres(CLOCK_REALTIME_COARSE, &res) ? 10000000ULL :
			  (uint64_t)res.tv_sec * 1000000000ULL + res.tv_nsec;
	return info->created_ns + tick_ns;
}

static int cmp_info(const void *a, const void *b)
{
	uint64_t x = sort_time(a), y = sort_time(b);

	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(((const struct memfs_ckpt_info *)a)->id,
		      ((const struct memfs_ckpt_info *)b)->id);
}

static void fill_info(int rootfd, const char *dname, struct memfs_ckpt_info *info)
{
	struct memfs_manifest m;
	char what[MEMFS_ID_MAX + 32];
	struct stat st;
	int fd;

	memset(info, 0, sizeof(*info));
	snprintf(info->id, sizeof(info->id), "%s", dname + 5);
	snprintf(what, sizeof(what), "%s/" MEMFS_MANIFEST, dname);
	fd = openat(rootfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* a broken manifest is shown by ls (state 0, why in note), not logged */
	if (fd < 0) {
		snprintf(info->note, sizeof(info->note), "cannot open %s", dname);
	} else if (!memfs_manifest_read(fd, what, info->note, sizeof(info->note), &m)) {
		memfs_ckpt_info_from(&m, info);
		memfs_manifest_release(&m);
		/* writing, and no dump holds its lock: the dump died (ferry killed, crash) */
		if (info->state == MEMFS_WRITING && !flock(fd, LOCK_SH | LOCK_NB))
			snprintf(info->note, sizeof(info->note),
				 "abandoned: its dump did not finish (ferry store rm)");
	} else if (!fstat(fd, &st)) {
		/* sorted by when it was last written, so that a damaged newest checkpoint
		 * is still the newest and no older one is restored in its place */
		info->created_ns = st.st_mtim.tv_sec * 1000000000ULL + st.st_mtim.tv_nsec;
	}
	if (fd >= 0)
		close(fd);
}

int memfs_store_list(struct memfs_store *s, struct memfs_ckpt_info **out, unsigned int *n)
{
	struct memfs_ckpt_info *infos = NULL, *bigger;
	unsigned int cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = dup(s->rootfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		pr_perror("cannot list store %s", s->spec);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "ckpt-", 5) || !memfs_id_valid(de->d_name + 5))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			bigger = realloc(infos, cap * sizeof(*infos));
			if (!bigger) {
				closedir(d);
				free(infos);
				return -ENOMEM;
			}
			infos = bigger;
		}
		fill_info(s->rootfd, de->d_name, &infos[cnt++]);
	}
	closedir(d);
	if (cnt)
		qsort(infos, cnt, sizeof(*infos), cmp_info);
	*out = infos;
	*n = cnt;
	return 0;
}

/* rm -r of dirfd/name, without following symlinks. */
int memfs_rm_tree(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dirfd, name, 0) ? -errno : 0;
		return -errno;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (!ret && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (errno == EISDIR || errno == EPERM)
			ret = memfs_rm_tree(fd, de->d_name);
		else
			ret = -errno;
	}
	closedir(d);
	if (!ret && unlinkat(dirfd, name, AT_REMOVEDIR))
		ret = -errno;
	return ret;
}

int memfs_store_rm(struct memfs_store *s, const char *id)
{
	char name[MEMFS_ID_MAX + 8];
	int fd, ret;

	if (!memfs_id_valid(id)) {
		pr_err("bad checkpoint id '%.64s'", id);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "ckpt-%s", id);
	fd = openat(s->rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		pr_err("no checkpoint %s in store %s", id, s->spec);
		return -ENOENT;
	}
	ret = fd < 0 ? -errno : memfs_ckpt_lock(fd, id);
	if (!ret)
		ret = memfs_rm_tree(s->rootfd, name);
	if (fd >= 0)
		close(fd);
	if (ret == -EBUSY)
		return ret;
	if (ret == -ENOENT)
		pr_err("no checkpoint %s in store %s", id, s->spec);
	else if (ret) {
		errno = -ret;
		pr_perror("cannot remove checkpoint %s from %s", id, s->spec);
	}
	if (!ret)
		fsync(s->rootfd);
	return ret;
}
