/* SPDX-License-Identifier: MIT */
/*
 * The restore engine: read and validate the images, recreate the tasks with their
 * original PIDs, rebuild their state, hand each over to the restorer blob (pie/), and
 * let them go. Any failure kills what was created; the images are never modified.
 */
#ifndef FERRY_RESTORE_H
#define FERRY_RESTORE_H

#include <stdbool.h>
#include <sys/types.h>

#include "net.h"
#include "cgroup.h"
#include "timens.h"

struct restore_opts {
	int dirfd;			/* the images directory, open */
	const char *images_dir;		/* its path, for messages */
	bool detach;			/* -d: return once the tree runs */
	bool leave_stopped;		/* --leave-stopped: the tree is left in SIGSTOP */
	bool shell_job;			/* -j */
	const char *pidfile;		/* --pidfile: write the root's PID there */
	enum timens_mode timens;	/* --timens */
	struct net_externals externals;	/* --external veth[IFNAME]:HOSTNAME */
	enum cgroup_mode cgroups;	/* --manage-cgroups */
	const char *root;		/* --root: the images' "/" (a real root mounted in an
					 * initramfs); NULL: ours */
};

/*
 * Restore the tree. On success *root_pid is the restored root, which is a child of the
 * calling process (so that the caller can wait for it unless detach is set).
 */
int restore_tree(const struct restore_opts *opts, pid_t *root_pid);

#endif
