// SPDX-License-Identifier: MIT
/* Placeholder until the dump engine lands. */
#define LOG_PREFIX "dump: "
#include "log.h"
#include "dump.h"

int dump_tree(const struct dump_opts *opts)
{
	pr_err("dump is not implemented yet");
	return -ENOSYS;
}
