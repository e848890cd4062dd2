// SPDX-License-Identifier: MIT
/*
 * tree100 with a pidfd in its last task: the dump refuses the tree, and all 100 tasks
 * must still run as before (see tree100.c).
 */
#define TREE_FAIL 1
#include "tree100.c"
