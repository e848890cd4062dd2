// SPDX-License-Identifier: MIT
/* Placeholder until the restore engine lands. */
#define LOG_PREFIX "restore: "
#include "log.h"
#include "restore.h"

int restore_tree(const struct restore_opts *opts, pid_t *root_pid)
{
	pr_err("restore is not implemented yet");
	return -ENOSYS;
}
