// SPDX-License-Identifier: MIT
/*
 * `ferry dump --freeze-cgroup PATH`: the cgroup v2 freezer holds the whole tree still
 * (cgroup.freeze 1, then cgroup.events "frozen 1") while ptrace seizes it; PTRACE_INTERRUPT
 * still takes a frozen task into a ptrace stop. Once every task is seized the cgroup is
 * thawed: ptrace holds the tasks, and code injected into them must run.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "freezer: "
#include "log.h"
#include "cgroup.h"
#include "proc-parse.h"

#define CGROUP2_MAGIC 0x63677270
#define FREEZE_TIMEOUT_MS 30000

static int write_freeze(const struct freezer *fz, const char *val)
{
	char file[sizeof(fz->path) + 16];
	int fd, ret = 0;

	snprintf(file, sizeof(file), "%s/cgroup.freeze", fz->path);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, 1) != 1) {
		pr_perror("cannot write %s to %s", val, file);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* "frozen 0|1" of cgroup.events, read from fd's start. */
static int read_frozen(int fd, bool *frozen)
{
	char buf[512], *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0) {
		pr_perror("cannot read cgroup.events");
		return -errno;
	}
	buf[n] = 0;
	p = strstr(buf, "frozen ");
	if (!p) {
		pr_err("cgroup.events has no frozen line");
		return -EINVAL;
	}
	*frozen = p[7] == '1';
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* cgroup.events changes wake poll() with POLLPRI. */
static int wait_frozen(const struct freezer *fz)
{
	char file[sizeof(fz->path) + 16];
	uint64_t end = now_ms() + FREEZE_TIMEOUT_MS;
	bool frozen = false;
	struct pollfd pfd;
	int ret;

	snprintf(file, sizeof(file), "%s/cgroup.events", fz->path);
	pfd.fd = open(file, O_RDONLY | O_CLOEXEC);
	pfd.events = POLLPRI;
	if (pfd.fd < 0) {
		pr_perror("cannot open %s", file);
		return -errno;
	}
	while (!(ret = read_frozen(pfd.fd, &frozen)) && !frozen) {
		int64_t left = end - now_ms();

		if (left <= 0) {
			pr_err("%s did not freeze within %d s (a task in uninterruptible sleep?)",
			       fz->path, FREEZE_TIMEOUT_MS / 1000);
			ret = -ETIMEDOUT;
			break;
		}
		poll(&pfd, 1, left < 100 ? left : 100);
	}
	close(pfd.fd);
	return ret;
}

/* The cgroup path of PATH: below the cgroup2 mount, which it must be on. */
static int cgroup_of_dir(const char *path, char *real, char *rel, size_t size)
{
	char mnt[PATH_MAX];
	struct statfs sf;
	size_t len;

	if (!realpath(path, real) || statfs(real, &sf)) {
		pr_perror("--freeze-cgroup %s", path);
		return -errno;
	}
	if (sf.f_type != CGROUP2_MAGIC) {
		pr_err("--freeze-cgroup %s: not a cgroup v2 directory", path);
		return -EINVAL;
	}
	if (cgroup2_mount(mnt, sizeof(mnt)) ||
	    strncmp(real, mnt, (len = strlen(mnt))) || (real[len] && real[len] != '/')) {
		pr_err("--freeze-cgroup %s: not below the cgroup v2 mount", path);
		return -EINVAL;
	}
	snprintf(rel, size, "%s", real[len] ? real + len : "/");
	return 0;
}

/* 1 when pid's cgroup (into cg) is rel or below it, 0 when not, or -errno. */
static int task_inside(const char *rel, pid_t pid, char *cg, size_t size)
{
	char line[8192], *p;
	ssize_t n = proc_read_file(pid, "cgroup", line, sizeof(line), false);
	size_t len = strlen(rel);

	if (n < 0)
		return n;
	p = strstr(line, "0::");
	if (!p || (p != line && p[-1] != '\n')) {
		snprintf(cg, size, "(none: no cgroup v2 line)");
		return 0;
	}
	p += 3;
	p[strcspn(p, "\n")] = 0;
	snprintf(cg, size, "%s", p);
	return !strcmp(rel, "/") || (!strncmp(p, rel, len) && (!p[len] || p[len] == '/'));
}

/* The tree's root must be in the cgroup, ferry itself must not (it would freeze too). */
static int check_inside(const char *rel, pid_t root)
{
	char cg[8192];
	int ret = task_inside(rel, root, cg, sizeof(cg));

	if (ret < 0)
		return ret;
	if (!ret) {
		pr_err("--freeze-cgroup: process %d is in cgroup %s, not in %s", root, cg, rel);
		return -EINVAL;
	}
	ret = task_inside(rel, getpid(), cg, sizeof(cg));
	if (ret < 0)
		return ret;
	if (ret) {
		pr_err("--freeze-cgroup: ferry itself is in %s, inside %s: it would freeze too", cg,
		       rel);
		return -EINVAL;
	}
	return 0;
}

int freezer_freeze(struct freezer *fz, const char *path, pid_t root)
{
	char rel[PATH_MAX], file[sizeof(fz->path) + 16], val[4] = "";
	ssize_t n;
	int ret, fd;

	memset(fz, 0, sizeof(*fz));
	ret = cgroup_of_dir(path, fz->path, rel, sizeof(rel));
	if (!ret)
		ret = check_inside(rel, root);
	if (ret)
		return ret;
	snprintf(file, sizeof(file), "%s/cgroup.freeze", fz->path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s (the root cgroup cannot be frozen)", file);
		return -errno;
	}
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	fz->was_frozen = n > 0 && val[0] == '1';
	ret = write_freeze(fz, "1");
	if (ret)
		return ret;
	fz->active = true;
	ret = wait_frozen(fz);
	if (ret) {
		freezer_put_back(fz);
		return ret;
	}
	pr_info("%s frozen%s", fz->path, fz->was_frozen ? " (it already was)" : "");
	return 0;
}

int freezer_thaw(struct freezer *fz)
{
	int ret;

	if (!fz->active)
		return 0;
	ret = write_freeze(fz, "0");
	if (!ret)
		pr_info("%s thawed: the tree is held by ptrace", fz->path);
	return ret;
}

void freezer_put_back(struct freezer *fz)
{
	if (!fz->active)
		return;
	if (!write_freeze(fz, fz->was_frozen ? "1" : "0"))
		pr_info("%s %s", fz->path, fz->was_frozen ? "frozen again" : "thawed");
	fz->active = false;
}
