// SPDX-License-Identifier: MIT
/*
 * Time namespaces, both directions. Dump: the tree's CLOCK_MONOTONIC and CLOCK_BOOTTIME
 * and the boot id go into timens-1.img. Restore: after a reboot (kexec) both clocks start
 * again near zero, so the tree is created in a new time namespace (unshare(CLONE_NEWTIME),
 * /proc/self/timens_offsets) whose offsets make its clocks resume at the dumped values:
 * they never go backwards, and the downtime does not show in them.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "timens: "
#include "log.h"
#include "image.h"
#include "timens.h"
#include "timens.pb-c.h"

#define NSEC 1000000000LL
#define TIMENS_ID 1

struct clocks {
	long long mono, boot;	/* nanoseconds */
};

int timens_parse_mode(const char *s, enum timens_mode *mode)
{
	static const char *const names[] = { "auto", "on", "off" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*mode = (enum timens_mode)i;
			return 0;
		}
	return -EINVAL;
}

static long long clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static int read_boot_id(char *buf, size_t size)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		pr_perror("cannot open /proc/sys/kernel/random/boot_id");
		return -errno;
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0) {
		pr_perror("cannot read /proc/sys/kernel/random/boot_id");
		return n < 0 ? -errno : -EIO;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The offsets of the time namespace that pid's children get (zero when unreadable). */
static void read_offsets(const char *pid, struct clocks *off)
{
	char path[64], name[16];
	long long sec, nsec;
	FILE *f;

	off->mono = off->boot = 0;
	snprintf(path, sizeof(path), "/proc/%s/timens_offsets", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%15s %lld %lld", name, &sec, &nsec) == 3) {
		if (!strcmp(name, "monotonic"))
			off->mono = sec * NSEC + nsec;
		else if (!strcmp(name, "boottime"))
			off->boot = sec * NSEC + nsec;
	}
	fclose(f);
}

static bool same_timens(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/time", pid);
	if (stat(path, &a) || stat("/proc/self/ns/time", &b))
		return true;	/* no time namespaces in this kernel */
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* The clocks as pid sees them: ours, corrected when it lives in another time namespace. */
static void task_clocks(pid_t pid, struct clocks *c)
{
	struct clocks mine, its;
	char spid[16];

	c->mono = clock_ns(CLOCK_MONOTONIC);
	c->boot = clock_ns(CLOCK_BOOTTIME);
	if (same_timens(pid))
		return;
	snprintf(spid, sizeof(spid), "%d", pid);
	read_offsets("self", &mine);
	read_offsets(spid, &its);
	c->mono += its.mono - mine.mono;
	c->boot += its.boot - mine.boot;
}

int timens_dump(pid_t pid, int dirfd)
{
	TimensEntry te = TIMENS_ENTRY__INIT;
	Timespec mono = TIMESPEC__INIT, boot = TIMESPEC__INIT;
	char boot_id[64];
	struct clocks c;
	int ret;

	ret = read_boot_id(boot_id, sizeof(boot_id));
	if (ret)
		return ret;
	task_clocks(pid, &c);
	mono.tv_sec = c.mono / NSEC, mono.tv_nsec = c.mono % NSEC;
	boot.tv_sec = c.boot / NSEC, boot.tv_nsec = c.boot % NSEC;
	te.monotonic = &mono;
	te.boottime = &boot;
	te.ferry_boot_id = boot_id;
	return img_write_one(dirfd, IMG_TIMENS, &te.base, TIMENS_ID);
}

static int write_offsets(const struct clocks *off)
{
	char buf[128];
	int fd, len, ret = 0;

	/* the kernel wants 0 <= nsec < 1e9 with the sign on the seconds */
	len = snprintf(buf, sizeof(buf), "%d %lld %lld\n%d %lld %lld\n", CLOCK_MONOTONIC,
		       off->mono / NSEC - (off->mono % NSEC < 0), (off->mono % NSEC + NSEC) % NSEC,
		       CLOCK_BOOTTIME, off->boot / NSEC - (off->boot % NSEC < 0),
		       (off->boot % NSEC + NSEC) % NSEC);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != len) {
		pr_perror("cannot set the offsets of the new time namespace");
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Whether a time namespace is used for images of this dump, in AUTO mode. */
static bool other_boot(const TimensEntry *te, const struct clocks *now)
{
	char boot_id[64];

	if (te->ferry_boot_id && !read_boot_id(boot_id, sizeof(boot_id)))
		return strcmp(te->ferry_boot_id, boot_id) != 0;
	/* no boot id: a clock that would go backwards says it is another boot */
	return now->boot < (long long)(te->boottime->tv_sec * NSEC + te->boottime->tv_nsec);
}

static int check_entry(const TimensEntry *te, const char *images_dir)
{
	if (te->monotonic->tv_nsec < NSEC && te->boottime->tv_nsec < NSEC &&
	    te->monotonic->tv_sec < (1ULL << 40) && te->boottime->tv_sec < (1ULL << 40))
		return 0;
	pr_err("%s/timens-%d.img: clock values out of range", images_dir, TIMENS_ID);
	return -EINVAL;
}

int timens_restore(int dirfd, const char *images_dir, enum timens_mode mode)
{
	TimensEntry *te = NULL;
	struct clocks now, off;
	int ret;

	if (mode == TIMENS_OFF)
		return 0;
	if (mode == TIMENS_AUTO && faccessat(dirfd, "timens-1.img", F_OK, 0) && errno == ENOENT) {
		pr_info("no timens-%d.img in %s: the clocks are the host's", TIMENS_ID, images_dir);
		return 0;
	}
	ret = img_read_one(dirfd, IMG_TIMENS, &timens_entry__descriptor, (void **)&te, TIMENS_ID);
	if (ret)
		return ret;
	ret = check_entry(te, images_dir);
	if (ret)
		goto out;
	now.mono = clock_ns(CLOCK_MONOTONIC);
	now.boot = clock_ns(CLOCK_BOOTTIME);
	if (mode == TIMENS_AUTO && !other_boot(te, &now)) {
		pr_info("images from this boot: the clocks are the host's");
		goto out;
	}
	off.mono = te->monotonic->tv_sec * NSEC + te->monotonic->tv_nsec - now.mono;
	off.boot = te->boottime->tv_sec * NSEC + te->boottime->tv_nsec - now.boot;
	if (unshare(CLONE_NEWTIME)) {
		pr_perror("cannot create a time namespace for the restored tree");
		ret = -errno;
		goto out;
	}
	ret = write_offsets(&off);
	if (!ret)
		pr_info("the tree runs in a new time namespace: monotonic %+.3f s, boottime %+.3f s",
			off.mono / 1e9, off.boot / 1e9);
out:
	img_free_pb(te);
	return ret;
}
