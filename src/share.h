/* SPDX-License-Identifier: MIT */
/*
 * Fd tables and fs structs (cwd, root, umask) shared between processes: CLONE_FILES and
 * CLONE_FS, both halves (share.c). Dump: share_dump_find() after the tree is seized gives
 * the tasks that share one the same ids-PID.img files_id / fs_id (a child with its parent
 * only), share_dump_check() after collecting refuses what restore cannot rebuild.
 * Restore: share_rst_plan() validates the ids and marks each child sharing with its
 * parent; the child is cloned with share_clone_flags(); its fd table is restored once, by
 * the topmost task using it (its head), which waits in share_rst_wait() until the
 * controller has brought every other task of the table to its final barrier
 * (share_rst_release()).
 */
#ifndef FERRY_SHARE_H
#define FERRY_SHARE_H

#include <stdint.h>

struct dtree;
struct rst_tree;
struct rst_task;

int share_dump_find(struct dtree *tr);
int share_dump_check(struct dtree *tr);

int share_rst_plan(struct rst_tree *tr);
uint64_t share_clone_flags(const struct rst_task *t);
/* In the controller before the tree is created: the heads' gates (shared memory). */
int share_rst_gates_init(struct rst_tree *tr);
void share_rst_gates_free(struct rst_tree *tr);
/* In a new task: a head waits until the other tasks of its fd table are done. */
int share_rst_wait(struct rst_task *t);
/* In the controller: let head idx go on. */
void share_rst_release(struct rst_tree *tr, int idx);

#endif
