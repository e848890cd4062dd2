/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 helpers of the cgroup tests: find the cgroup2 mount, make the test's own
 * cgroup MNT/ferry-test-PID (SKIP when there is no writable cgroup v2), move a task,
 * read a task's cgroup and a cgroup's frozen state, and clean up at the end.
 */
#ifndef ZT_CGROUP_UTIL_H
#define ZT_CGROUP_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

static char zt_cg_mnt[4096];	/* the cgroup2 mount */
static char zt_cg_orig[4096];	/* the test's cgroup when it started */
static char zt_cg_top[64];		/* MNT/ferry-test-PID */

static inline int zt_cg_find_mount(void)
{
	char line[8192], root[256], mnt[4096];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 ");

		if (sep && sscanf(line, "%*d %*d %*s %255s %4095s", root, mnt) == 2 &&
		    !strcmp(root, "/")) {
			snprintf(zt_cg_mnt, sizeof(zt_cg_mnt), "%s", mnt);
			found = 1;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* The "0::" path of /proc/SELF-FILE ("self/cgroup", "thread-self/cgroup"). */
static inline int zt_cg_read(const char *file, char *buf, size_t size)
{
	char path[64], text[8192], *p;
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s", file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	text[n > 0 ? n : 0] = 0;
	p = strstr(text, "0::");
	if (!p || (p != text && p[-1] != '\n'))
		return -1;
	p += 3;
	p[strcspn(p, "\n")] = 0;
	snprintf(buf, size, "%s", p);
	return 0;
}

/* Move the calling process into MNT/REL (REL starts with '/'). */
static inline int zt_cg_enter(const char *rel)
{
	char path[16384];
	int fd, ok;

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", zt_cg_mnt, strcmp(rel, "/") ? rel : "");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, "0", 1) == 1;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* "frozen N" of MNT/REL/cgroup.events, -1 when unreadable. */
static inline int zt_cg_frozen(const char *rel)
{
	char path[16384], text[512], *p;
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s%s/cgroup.events", zt_cg_mnt, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	text[n > 0 ? n : 0] = 0;
	p = strstr(text, "frozen ");
	return p ? p[7] - '0' : -1;
}

/* mkdir MNT/ferry-test-PID/SUB (NULL: the top itself); rel gets its cgroup path. */
static inline void zt_cg_mkdir(const char *sub, char *rel, size_t size)
{
	char path[16384];

	snprintf(rel, size, "/%s%s%s", zt_cg_top, sub ? "/" : "", sub ? sub : "");
	snprintf(path, sizeof(path), "%s%s", zt_cg_mnt, rel);
	if (mkdir(path, 0755) && errno != EEXIST) {
		if (!sub && (errno == EACCES || errno == EROFS || errno == EPERM))
			zt_skip("cannot create a cgroup in %s: %m", zt_cg_mnt);
		zt_fail("mkdir %s: %m", path);
		exit(1);
	}
}

/* rmdir a cgroup and its children, deepest first (best effort: busy ones stay). */
static inline void zt_cg_rmtree(const char *path, int depth)
{
	char sub[16384];
	struct dirent *de;
	DIR *d = opendir(path);

	while (d && depth < 8 && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) <
			    (int)sizeof(sub))
				zt_cg_rmtree(sub, depth + 1);
		}
	if (d)
		closedir(d);
	rmdir(path);
}

/* Cgroups of earlier runs whose test is gone (killed before its cleanup). */
static inline void zt_cg_sweep(void)
{
	char path[16384];
	struct dirent *de;
	DIR *d = opendir(zt_cg_mnt);
	int pid;

	while (d && (de = readdir(d)))
		if (sscanf(de->d_name, "ferry-test-%d", &pid) == 1 && pid > 0 &&
		    kill(pid, 0) && errno == ESRCH) {
			if (snprintf(path, sizeof(path), "%s/%s", zt_cg_mnt, de->d_name) <
			    (int)sizeof(path))
				zt_cg_rmtree(path, 0);
		}
	if (d)
		closedir(d);
}

/* The test's top cgroup, or SKIP: no cgroup v2, or not ours to write. */
static inline void zt_cg_setup(void)
{
	char rel[4200];

	if (!zt_cg_find_mount())
		zt_skip("no cgroup v2 mounted");
	if (zt_cg_read("self/cgroup", zt_cg_orig, sizeof(zt_cg_orig)))
		zt_skip("no cgroup v2 line in /proc/self/cgroup");
	zt_cg_sweep();
	snprintf(zt_cg_top, sizeof(zt_cg_top), "ferry-test-%d", getpid());
	zt_cg_mkdir(NULL, rel, sizeof(rel));
}

/* rmdir, waiting a little while tasks that just exited still count in it. */
static inline void zt_cg_rmdir(const char *path)
{
	int i;

	for (i = 0; i < 200 && rmdir(path) && errno == EBUSY; i++)
		usleep(10000);
}

/* Back into the original cgroup, then remove SUBS (deepest first) and the top. */
static inline void zt_cg_cleanup(const char *const *subs, int n)
{
	char path[16384];

	zt_cg_enter(zt_cg_orig);
	while (n-- > 0) {
		snprintf(path, sizeof(path), "%s/%s/%s", zt_cg_mnt, zt_cg_top, subs[n]);
		zt_cg_rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/%s", zt_cg_mnt, zt_cg_top);
	zt_cg_rmdir(path);
}

#endif
