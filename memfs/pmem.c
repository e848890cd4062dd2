// SPDX-License-Identifier: MIT
/*
 * The pmem: backend. The device (legacy memmap= pmem, virtio-pmem, NVDIMM, or a loop
 * device in tests) holds a plain ext4 made by e2fsprogs' mkfs.ext4, called by path
 * (busybox's mke2fs shadows it in an initramfs); it is mounted with -o dax=always where
 * the kernel and device offer DAX, else without (logged), on a private mount point
 * /run/ferry/mnt/<dev>.<pid> (MS_PRIVATE: the mount does not propagate elsewhere).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "memfs: "
#include "log.h"
#include "internal.h"

#define MNT_BASE "/run/ferry/mnt"

static const char *const mkfs_paths[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4",
					  "/usr/sbin/mke2fs", "/sbin/mke2fs" };

static int check_blockdev(const struct memfs_store *s, dev_t *rdev)
{
	struct stat st;

	if (stat(s->dev, &st)) {
		pr_perror("store %s: no device %s", s->spec, s->dev);
		return -ENODEV;
	}
	if (!S_ISBLK(st.st_mode)) {
		pr_err("store %s: %s is not a block device", s->spec, s->dev);
		return -ENOTBLK;
	}
	*rdev = st.st_rdev;
	return 0;
}

/* Mounted anywhere already (by major:minor in our mountinfo)? */
static bool dev_mounted(dev_t rdev, char *where, size_t len)
{
	char line[4096], mm[32], mp[PATH_MAX];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	snprintf(mm, sizeof(mm), "%u:%u", major(rdev), minor(rdev));
	while (!found && fgets(line, sizeof(line), f)) {
		char dev[32];

		if (sscanf(line, "%*d %*d %31s %*s %4095s", dev, mp) == 2 && !strcmp(dev, mm)) {
			snprintf(where, len, "%s", mp);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static int run_mkfs(const struct memfs_store *s)
{
	const char *mkfs = NULL;
	int status;
	pid_t pid;

	for (size_t i = 0; i < sizeof(mkfs_paths) / sizeof(mkfs_paths[0]) && !mkfs; i++)
		if (!access(mkfs_paths[i], X_OK))
			mkfs = mkfs_paths[i];
	if (!mkfs) {
		pr_err("store %s: no mkfs.ext4 (install e2fsprogs)", s->spec);
		return -ENOENT;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* 4 KiB blocks (DAX needs page-sized blocks), no reserved blocks */
		execl(mkfs, mkfs, "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-L",
		      "ferry-store", s->dev, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("store %s: %s %s failed (status 0x%x)", s->spec, mkfs, s->dev, status);
		return -EIO;
	}
	pr_info("store %s: ext4 made on %s with %s", s->spec, s->dev, mkfs);
	return 0;
}

static int make_mount_point(struct memfs_store *s)
{
	const char *base = strrchr(s->dev, '/') + 1;

	if ((mkdir("/run/ferry", 0755) && errno != EEXIST) ||
	    (mkdir(MNT_BASE, 0700) && errno != EEXIST)) {
		pr_perror("cannot create " MNT_BASE);
		return -errno;
	}
	snprintf(s->root, sizeof(s->root), MNT_BASE "/%s.%d", base, getpid());
	if (mkdir(s->root, 0700) && errno != EEXIST) {
		pr_perror("cannot create the mount point %s", s->root);
		return -errno;
	}
	return 0;
}

static int mount_ext4(struct memfs_store *s)
{
	const unsigned long mflags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME;

	if (!mount(s->dev, s->root, "ext4", mflags, "dax=always")) {
		s->dax = true;
	} else if (mount(s->dev, s->root, "ext4", mflags, NULL)) {
		pr_perror("store %s: cannot mount %s (ext4) on %s", s->spec, s->dev, s->root);
		rmdir(s->root);
		return -EIO;
	} else {
		pr_info("store %s: %s has no DAX here, mounted without it (page cache)", s->spec,
			s->dev);
	}
	s->mounted = true;
	if (mount(NULL, s->root, NULL, MS_PRIVATE, NULL))
		pr_warn("store %s: cannot make %s a private mount: %m", s->spec, s->root);
	pr_info("store %s mounted on %s%s", s->spec, s->root, s->dax ? " with DAX" : "");
	return 0;
}

int memfs_pmem_mount(struct memfs_store *s)
{
	dev_t rdev;
	int ret;

	ret = check_blockdev(s, &rdev);
	if (!ret)
		ret = make_mount_point(s);
	if (!ret)
		ret = mount_ext4(s);
	return ret;
}

void memfs_pmem_unmount(struct memfs_store *s)
{
	if (umount2(s->root, 0) && umount2(s->root, MNT_DETACH))
		pr_warn("store %s: cannot unmount %s: %m", s->spec, s->root);
	else if (rmdir(s->root))
		pr_warn("store %s: cannot remove %s: %m", s->spec, s->root);
	s->mounted = false;
}

/* Does the device hold a ferry store already? Mounted read-only to look. */
static bool holds_store(struct memfs_store *s)
{
	char path[PATH_MAX + 32];
	bool found;

	if (make_mount_point(s))
		return false;
	if (mount(s->dev, s->root, "ext4", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		rmdir(s->root);
		return false;
	}
	s->mounted = true;
	snprintf(path, sizeof(path), "%s/" MEMFS_MARKER, s->root);
	found = !access(path, F_OK);
	memfs_pmem_unmount(s);
	return found;
}

int memfs_pmem_init(struct memfs_store *s, bool force)
{
	char where[PATH_MAX];
	dev_t rdev;
	int ret;

	ret = check_blockdev(s, &rdev);
	if (ret)
		return ret;
	if (dev_mounted(rdev, where, sizeof(where))) {
		pr_err("store %s: %s is mounted on %s; unmount it first", s->spec, s->dev, where);
		return -EBUSY;
	}
	if (!force && holds_store(s)) {
		pr_err("store %s: %s already holds a ferry store; use --force to wipe it", s->spec,
		       s->dev);
		return -EEXIST;
	}
	ret = run_mkfs(s);
	if (!ret)
		ret = memfs_pmem_mount(s);
	if (ret)
		return ret;
	ret = memfs_store_init_dir(s->root);
	memfs_pmem_unmount(s);
	if (!ret)
		pr_info("store %s initialized%s", s->spec, s->dax ? " (DAX)" : " (no DAX)");
	return ret;
}
