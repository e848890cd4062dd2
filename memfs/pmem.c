// SPDX-License-Identifier: MIT
/*
 * The pmem: backend. The device (legacy memmap= pmem, virtio-pmem, NVDIMM, or a loop
 * device in tests) holds a plain ext4 made by e2fsprogs' mkfs.ext4, called by path
 * (busybox's mke2fs shadows it in an initramfs); it is mounted with -o dax=always where
 * the kernel and device offer DAX, else without (logged), on a private mount point
 * /run/ferry/mnt/<dev>.<pid> (MS_PRIVATE: the mount does not propagate elsewhere).
 * Init erases only a blank device or a ferry store, unless forced (blkid -p decides).
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

static const char *const blkid_paths[] = { "/usr/sbin/blkid", "/sbin/blkid" };
static const char *const mkfs_paths[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4",
					  "/usr/sbin/mke2fs", "/sbin/mke2fs" };

static const char *find_tool(const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

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
	const char *mkfs = find_tool(mkfs_paths, sizeof(mkfs_paths) / sizeof(mkfs_paths[0]));
	int status;
	pid_t pid;

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

/* Did the kernel keep DAX on? The mount's super options in mountinfo say so. */
static bool mounted_with_dax(const char *root)
{
	char line[4096], mp[PATH_MAX];
	bool dax = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d %*d %*s %*s %4095s", mp) == 1 && !strcmp(mp, root))
			dax = strstr(strstr(line, " - ") ?: line, "dax") != NULL;
	}
	if (f)
		fclose(f);
	return dax;
}

static int mount_ext4(struct memfs_store *s)
{
	const unsigned long mflags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME;

	/* dax=always since Linux 5.8; plain "dax" before */
	if (!mount(s->dev, s->root, "ext4", mflags, "dax=always") ||
	    !mount(s->dev, s->root, "ext4", mflags, "dax")) {
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
	if (s->dax && !mounted_with_dax(s->root)) {
		pr_info("store %s: mounted, but the kernel turned DAX off", s->spec);
		s->dax = false;
	}
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

/* blkid -p: 0 and the type when the device holds a known signature, 2 when none. */
static int blkid_type(const char *blkid, const char *dev, char *type, size_t len)
{
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl(blkid, blkid, "-p", "-o", "value", "-s", "TYPE", dev, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	n = pid > 0 ? read(pfd[0], type, len - 1) : -1;
	close(pfd[0]);
	type[n > 0 ? n : 0] = '\0';
	type[strcspn(type, "\n")] = '\0';
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -EIO;
	return WEXITSTATUS(status);
}

/* Without blkid (an initramfs): blank means the first 64 KiB are zero. */
static bool starts_blank(const char *dev)
{
	static const char zero[4096];
	char buf[4096];
	bool blank = true;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	for (off_t off = 0; blank && off < 65536; off += sizeof(buf))
		blank = pread(fd, buf, sizeof(buf), off) == sizeof(buf) &&
			!memcmp(buf, zero, sizeof(buf));
	close(fd);
	return blank;
}

/* Refuse to erase what the device holds, unless it is blank. */
static int check_blank(const struct memfs_store *s)
{
	const char *blkid = find_tool(blkid_paths, sizeof(blkid_paths) / sizeof(blkid_paths[0]));
	char type[64] = "";
	int ret = blkid ? blkid_type(blkid, s->dev, type, sizeof(type)) : -ENOENT;

	if (ret == 2 || (ret < 0 && starts_blank(s->dev)))
		return 0;
	if (ret == 0)
		pr_err("store %s: %s holds a %s filesystem (blkid); use --force to erase it", s->spec,
		       s->dev, type[0] ? type : "known");
	else
		pr_err("store %s: %s is not blank and holds no ferry store; use --force to erase it",
		       s->spec, s->dev);
	return -EEXIST;
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
	if (!force && (ret = check_blank(s)))
		return ret;
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
