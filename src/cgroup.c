// SPDX-License-Identifier: MIT
/*
 * The cgroup (v2) each task is in. Dump: the "0::PATH" line of /proc/PID/cgroup (of
 * every thread: all must agree), one cg_set per distinct PATH in cgroup.img. Restore:
 * each set's directory under the cgroup2 mount is opened (created when missing, unless
 * --manage-cgroups strict) and the task is cloned straight into it (CLONE_INTO_CGROUP).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "cgroup: "
#include "log.h"
#include "cgroup.h"
#include "image.h"
#include "proc-parse.h"
#include "rst.h"
#include "cgroup.pb-c.h"

#define CG_PATH_MAX 4000
#define CG_MEMBER_NAME "unified"	/* how the v2 hierarchy is named in a cg_member_entry */

int cgroup_parse_mode(const char *s, enum cgroup_mode *mode)
{
	if (!strcmp(s, "soft"))
		*mode = CGROUP_SOFT;
	else if (!strcmp(s, "strict"))
		*mode = CGROUP_STRICT;
	else if (!strcmp(s, "ignore"))
		*mode = CGROUP_IGNORE;
	else
		return -EINVAL;
	return 0;
}

/* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPER */
static bool parse_cgroup2_line(char *line, char *buf, size_t size)
{
	char root[256], mnt[4096], *sep = strstr(line, " - ");
	char fstype[32];

	if (!sep || sscanf(sep, " - %31s", fstype) != 1 || strcmp(fstype, "cgroup2"))
		return false;
	if (sscanf(line, "%*d %*d %*s %255s %4095s", root, mnt) != 2 || strcmp(root, "/"))
		return false;
	if (strchr(mnt, '\\') || strlen(mnt) >= size)
		return false;	/* an escaped name: not worth unescaping */
	strcpy(buf, mnt);
	return true;
}

int cgroup2_mount(char *buf, size_t size)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f) {
		pr_perror("cannot read /proc/self/mountinfo");
		return -errno;
	}
	while (!found && fgets(line, sizeof(line), f))
		found = parse_cgroup2_line(line, buf, size);
	fclose(f);
	return found ? 0 : -ENOENT;
}

/* The v2 path of one thread ("0::PATH"); -ENOENT when it has none (v1 only). */
static int read_v2_path(pid_t pid, const char *file, char *path, size_t size)
{
	char buf[8192], *p;
	ssize_t n = proc_read_file(pid, file, buf, sizeof(buf), false);

	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(buf) - 1) {
		pr_err("/proc/%d/%s is too long", pid, file);
		return -E2BIG;
	}
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "0::", 3))
			continue;
		p += 3;
		n = strcspn(p, "\n");
		if ((size_t)n >= size || (size_t)n >= CG_PATH_MAX) {
			pr_err("process %d: cgroup path too long", pid);
			return -ENAMETOOLONG;
		}
		memcpy(path, p, n);
		path[n] = 0;
		return 0;
	}
	return -ENOENT;
}

static int check_threads(struct dtask *t, const char *path)
{
	char file[64], other[CG_PATH_MAX + 1];
	size_t i;
	int ret;

	for (i = 0; i < t->n_thr; i++) {
		snprintf(file, sizeof(file), "task/%d/cgroup", t->thr[i].tid);
		ret = read_v2_path(t->pid, file, other, sizeof(other));
		if (ret)
			return ret;
		if (strcmp(other, path)) {
			pr_err("thread %d of %d is in cgroup %s, its leader in %s: threaded "
			       "cgroups are not supported", t->thr[i].tid, t->pid, other, path);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

int cgroup_dump_task(struct dtask *t)
{
	char path[CG_PATH_MAX + 1];
	int ret;

	ret = read_v2_path(t->pid, "cgroup", path, sizeof(path));
	if (ret == -ENOENT)
		return 0;	/* no cgroup v2 hierarchy: nothing to record */
	if (ret)
		return ret;
	if (path[0] != '/' || strstr(path, "/..")) {
		pr_err("process %d is in cgroup %s, outside ferry's cgroup namespace", t->pid,
		       path);
		return -EOPNOTSUPP;
	}
	ret = check_threads(t, path);
	if (ret)
		return ret;
	t->cgroup = dtask_strdup(t, path);
	return t->cgroup ? 0 : -ENOMEM;
}

/* cg_set ids: index + 1 of the first task with the same path. */
static uint32_t set_of(struct dtask **tasks, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (tasks[k]->cgroup && !strcmp(tasks[k]->cgroup, tasks[i]->cgroup))
			return tasks[k]->tc.cg_set;
	return 0;
}

int cgroup_dump_tree(struct dtask **tasks, size_t n, int dirfd)
{
	CgroupEntry ce = CGROUP_ENTRY__INIT;
	CgSetEntry *sets = calloc(n, sizeof(*sets)), **setp = calloc(n, sizeof(*setp));
	CgMemberEntry *mem = calloc(n, sizeof(*mem)), **memp = calloc(n, sizeof(*memp));
	size_t i;
	int ret = -ENOMEM;

	if (!sets || !setp || !mem || !memp)
		goto out;
	for (i = 0; i < n; i++) {
		struct dtask *t = tasks[i];
		uint32_t id;

		if (!t->cgroup)
			continue;
		id = set_of(tasks, i);
		t->tc.has_cg_set = 1;
		t->tc.cg_set = id ? id : ce.n_sets + 1;
		if (id)
			continue;
		cg_member_entry__init(&mem[ce.n_sets]);
		mem[ce.n_sets].name = CG_MEMBER_NAME;
		mem[ce.n_sets].path = t->cgroup;
		memp[ce.n_sets] = &mem[ce.n_sets];
		cg_set_entry__init(&sets[ce.n_sets]);
		sets[ce.n_sets].id = ce.n_sets + 1;
		sets[ce.n_sets].n_ctls = 1;
		sets[ce.n_sets].ctls = &memp[ce.n_sets];
		setp[ce.n_sets] = &sets[ce.n_sets];
		ce.n_sets++;
	}
	ce.sets = setp;
	ret = ce.n_sets ? img_write_one(dirfd, IMG_CGROUP, &ce.base) : 0;
out:
	if (ret == -ENOMEM)
		pr_err("out of memory for the cgroup sets of %zu tasks", n);
	free(sets);
	free(setp);
	free(mem);
	free(memp);
	return ret;
}

/* ---- restore ------------------------------------------------------------------------ */

/* An image's path: absolute, normal components only, no "." or ".." or "//". */
static bool path_ok(const char *p)
{
	const char *c;

	if (p[0] != '/' || strlen(p) > CG_PATH_MAX)
		return false;
	for (c = p + 1; *c;) {
		size_t len = strcspn(c, "/");

		if (!len || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
			return false;
		c += len;
		c += *c == '/';
		if (c[-1] == '/' && !*c)
			return false;	/* a trailing slash */
	}
	return true;
}

static int check_entry(const CgroupEntry *ce)
{
	size_t i, k;

	for (i = 0; i < ce->n_sets; i++) {
		const CgSetEntry *s = ce->sets[i];

		if (s->id != i + 1 || s->n_ctls != 1 || strcmp(s->ctls[0]->name, CG_MEMBER_NAME) ||
		    !path_ok(s->ctls[0]->path)) {
			pr_err("cgroup.img: set %zu is not a cgroup v2 set ferry restores (id %u, "
			       "%zu members)", i, s->id, s->n_ctls);
			return -EINVAL;
		}
		for (k = 0; k < i; k++)
			if (!strcmp(ce->sets[k]->ctls[0]->path, s->ctls[0]->path)) {
				pr_err("cgroup.img: sets %zu and %zu are both %s", k, i,
				       s->ctls[0]->path);
				return -EINVAL;
			}
	}
	return 0;
}

/* mkdir one level of the path; remembers it for removal after a failed restore. */
static int make_dir(struct rst_tree *tr, const char *dir)
{
	char **n;

	if (mkdir(dir, 0755)) {
		if (errno == EEXIST)
			return 0;
		pr_perror("cannot create cgroup %s", dir);
		return -errno;
	}
	pr_warn("created cgroup %s (its limits and controllers are not restored)", dir);
	n = realloc(tr->cg_created, (tr->nr_cg_created + 1) * sizeof(*n));
	if (n)
		tr->cg_created = n;
	if (n && (n[tr->nr_cg_created] = strdup(dir)))
		tr->nr_cg_created++;
	return 0;
}

static int make_path(struct rst_tree *tr, char *full, size_t mnt_len)
{
	char *c;
	int ret = 0;

	for (c = full + mnt_len + 1; !ret && (c = strchr(c, '/')); c++) {
		*c = 0;
		ret = make_dir(tr, full);
		*c = '/';
	}
	return ret ?: make_dir(tr, full);
}

static int open_set(struct rst_tree *tr, const char *mnt, const char *path, int *fd)
{
	char full[8192];
	size_t mnt_len = strlen(mnt);
	int ret;

	snprintf(full, sizeof(full), "%s%s", mnt, strcmp(path, "/") ? path : "");
	*fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno != ENOENT || tr->opts->cgroups == CGROUP_STRICT) {
		pr_perror("cannot open cgroup %s%s", full,
			  errno == ENOENT ? " (--manage-cgroups strict: it must exist)" : "");
		return -errno;
	}
	ret = make_path(tr, full, mnt_len);
	if (ret)
		return ret;
	*fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		pr_perror("cannot open cgroup %s", full);
		return -errno;
	}
	return 0;
}

static int assign_tasks(struct rst_tree *tr, const CgroupEntry *ce)
{
	size_t i;

	for (i = 0; i < tr->nr_tasks; i++) {
		TaskCoreEntry *tc = tr->tasks[i].core->tc;

		if (tr->tasks[i].dead || !tc->has_cg_set)
			continue;
		if (!tc->cg_set || tc->cg_set > ce->n_sets) {
			pr_err("core-%d.img: cg_set %u is not in cgroup.img (%zu sets)",
			       tr->tasks[i].pid, tc->cg_set, ce->n_sets);
			return -EINVAL;
		}
		tr->tasks[i].cg_fd = tr->cg_fds[tc->cg_set - 1];
	}
	return 0;
}

/* Without a cgroup2 mount only ferry's own cgroup can be joined (by staying in it). */
static int no_mount(struct rst_tree *tr, const CgroupEntry *ce, const char *own)
{
	size_t i;

	for (i = 0; i < ce->n_sets; i++) {
		if (!strcmp(ce->sets[i]->ctls[0]->path, own))
			continue;
		if (tr->opts->cgroups == CGROUP_STRICT) {
			pr_err("the tree was in cgroup %s, but no cgroup v2 is mounted here",
			       ce->sets[i]->ctls[0]->path);
			return -ENOENT;
		}
		pr_warn("no cgroup v2 is mounted here: the tasks of cgroup %s stay in %s",
			ce->sets[i]->ctls[0]->path, own);
	}
	return 0;
}

static int open_sets(struct rst_tree *tr, const CgroupEntry *ce)
{
	char mnt[4096], own[CG_PATH_MAX + 1] = "";
	size_t i;
	int ret;

	tr->cg_fds = malloc(ce->n_sets * sizeof(int));
	if (!tr->cg_fds)
		return -ENOMEM;
	for (i = 0; i < ce->n_sets; i++)
		tr->cg_fds[i] = -1;
	tr->nr_cg_fds = ce->n_sets;
	ret = read_v2_path(getpid(), "cgroup", own, sizeof(own));
	if (ret && ret != -ENOENT)
		return ret;
	ret = cgroup2_mount(mnt, sizeof(mnt));
	if (ret == -ENOENT)
		return no_mount(tr, ce, own);
	for (i = 0; !ret && i < ce->n_sets; i++) {
		const char *path = ce->sets[i]->ctls[0]->path;

		if (!strcmp(path, own))
			continue;	/* ferry's own: its children start there anyway */
		ret = open_set(tr, mnt, path, &tr->cg_fds[i]);
		if (!ret)
			pr_info("cgroup set %zu: %s%s", i + 1, mnt, path);
	}
	return ret;
}

int cgroup_rst_prepare(struct rst_tree *tr)
{
	CgroupEntry *ce = NULL;
	size_t i;
	int ret;

	for (i = 0; i < tr->nr_tasks; i++)
		tr->tasks[i].cg_fd = -1;
	if (faccessat(tr->opts->dirfd, "cgroup.img", F_OK, 0))
		return 0;	/* dumped with no cgroup v2, or by an older ferry */
	ret = img_read_one(tr->opts->dirfd, IMG_CGROUP, &cgroup_entry__descriptor,
			   (void **)&ce);
	if (!ret)
		ret = check_entry(ce);
	if (!ret && tr->opts->cgroups == CGROUP_IGNORE) {
		pr_info("--manage-cgroups ignore: the tree stays in ferry's cgroup");
		goto out;
	}
	if (!ret)
		ret = open_sets(tr, ce);
	if (!ret)
		ret = assign_tasks(tr, ce);
out:
	img_free_pb(ce);
	return ret;
}

void cgroup_rst_fini(struct rst_tree *tr, bool failed)
{
	size_t i;

	for (i = 0; i < tr->nr_cg_fds; i++)
		if (tr->cg_fds[i] >= 0)
			close(tr->cg_fds[i]);
	free(tr->cg_fds);
	tr->cg_fds = NULL;
	tr->nr_cg_fds = 0;
	for (i = tr->nr_cg_created; i-- > 0;) {
		if (failed && rmdir(tr->cg_created[i]))
			pr_perror("cannot remove cgroup %s, created for the failed restore",
				  tr->cg_created[i]);
		free(tr->cg_created[i]);
	}
	free(tr->cg_created);
	tr->cg_created = NULL;
	tr->nr_cg_created = 0;
}
