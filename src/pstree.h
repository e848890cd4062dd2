/* SPDX-License-Identifier: MIT */
/*
 * The dumped process tree: the root given with -t and all its descendants, in pstree.img
 * order (a parent before its children). Lifecycle: pstree_seize() finds and stops every
 * task, re-scanning until no new one appears; then pstree_release() (images complete) or
 * pstree_abort() (every task put back as it was); pstree_free() in every case.
 */
#ifndef FERRY_PSTREE_H
#define FERRY_PSTREE_H

#include <stddef.h>
#include <sys/types.h>

#include "dtask.h"
#include "dump.h"
#include "seccomp.h"

#define PSTREE_MAX_TASKS 4096

struct dtree {
	struct dtask **tasks;		/* tasks[0] is the root */
	size_t n, cap;
	struct seccomp_table seccomp;	/* the filters of every task (seccomp.img) */
	struct dfiles files;		/* the files of every task (dtask.fx) */
};

int pstree_seize(struct dtree *tr, pid_t root, bool shell_job);
/* After collecting: refuse what restore cannot rebuild (sessions). */
int pstree_check(struct dtree *tr);
int pstree_release(struct dtree *tr, enum dump_release how);
void pstree_abort(struct dtree *tr);
void pstree_free(struct dtree *tr);

#endif
