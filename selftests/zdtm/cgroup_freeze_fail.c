// SPDX-License-Identifier: MIT
/*
 * tree100_fail (100 tasks, a socket in the last one) inside its own cgroup v2
 * ferry-test-PID, dumped with --freeze-cgroup: ferry freezes the cgroup, then refuses
 * the tree. Every task checks that the cgroup is thawed again (cgroup.events frozen 0)
 * and that it and its children run untraced (tree100.c's checks). A cgroup left frozen
 * would also never answer the runner's SIGTERM.
 */
#include "cgroup_util.h"

#define TREE_FAIL 1
#define TREE_CHECK_HOOK check_thawed
static void check_thawed(void);
#define main tree100_main
#include "tree100.c"
#undef main

static char top_rel[4200];

static void check_thawed(void)
{
	int frozen = zt_cg_frozen(top_rel);

	zt_check(frozen == 0, "cgroup %s: frozen %d after the failed dump", top_rel, frozen);
}

int main(int argc, char **argv)
{
	char top[16384];
	int ret;

	zt_init(argc, argv);
	zt_cg_setup();
	zt_cg_mkdir(NULL, top_rel, sizeof(top_rel));
	if (zt_cg_enter(top_rel)) {
		zt_fail("cannot move into cgroup %s: %m", top_rel);
		return 1;
	}
	snprintf(top, sizeof(top), "%s%s", zt_cg_mnt, top_rel);
	zt_dump_arg("--freeze-cgroup");
	zt_dump_arg(top);
	ret = tree100_main(argc, argv);
	zt_cg_cleanup(NULL, 0);
	return ret;
}
