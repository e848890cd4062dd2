/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2: the cgroup each task is in (cgroup.img, core's tc.cg_set), dumped from
 * /proc/PID/cgroup and restored with clone3(CLONE_INTO_CGROUP); and the freezer
 * (cgroup.freeze, cgroup.events) that `ferry dump --freeze-cgroup` holds a tree still with.
 */
#ifndef FERRY_CGROUP_H
#define FERRY_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dtask.h"

struct rst_tree;

enum cgroup_mode {
	CGROUP_SOFT,		/* default: join the dumped cgroup, create it when missing */
	CGROUP_STRICT,		/* join the dumped cgroup; a missing one fails the restore */
	CGROUP_IGNORE,		/* stay in ferry's cgroup */
};

int cgroup_parse_mode(const char *s, enum cgroup_mode *mode);

/* The cgroup v2 mount (a "/" root of the hierarchy) into buf; -ENOENT when none. */
int cgroup2_mount(char *buf, size_t size);

/* Dump: the task's cgroup path; refuses threads in other cgroups than their leader. */
int cgroup_dump_task(struct dtask *t);
/* Dump: one cg_set per distinct path, in each core's tc.cg_set; writes cgroup.img. */
int cgroup_dump_tree(struct dtask **tasks, size_t n, int dirfd);

/*
 * Restore, in the controller: read cgroup.img, check it, find (or create) each set's
 * cgroup and open it in each task's cg_fd for clone3(CLONE_INTO_CGROUP). No cgroup.img
 * (an older dump) or CGROUP_IGNORE: every task stays in ferry's cgroup (cg_fd -1).
 */
int cgroup_rst_prepare(struct rst_tree *tr);
/* Close the fds; after a failed restore (its tasks gone) remove the cgroups it created. */
void cgroup_rst_fini(struct rst_tree *tr, bool failed);

/* The freezer of --freeze-cgroup PATH. */
struct freezer {
	bool active;
	bool was_frozen;	/* frozen before the dump: frozen again at its end */
	char path[4096];
};

/* Refuse PATH unless it is a cgroup v2 directory containing root; freeze and wait. */
int freezer_freeze(struct freezer *fz, const char *path, pid_t root);
/* The tree is seized (held by ptrace): thaw the cgroup so that code can run in it. */
int freezer_thaw(struct freezer *fz);
/* End of the dump, before the tasks are let go: the freezer state as it was. */
void freezer_put_back(struct freezer *fz);

#endif
