/* SPDX-License-Identifier: MIT */
/*
 * SysV IPC of a tree's own IPC namespace (ipc.c): ipc_dump() after the tasks are
 * collected, ipc_shm_vma() while their areas are; ipc_restore() in the controller before
 * the first task is created, ipc_premap_shm() in a new task while its memory is built.
 */
#ifndef FERRY_IPC_H
#define FERRY_IPC_H

#include <stddef.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "proc-parse.h"
#include "vma.pb-c.h"

/* If the tree has its own IPC namespace: dump its objects, set ids->ipc_ns_id. */
int ipc_dump(pid_t pid, int dirfd, TaskKobjIdsEntry *ids);
struct dtask;
/* For a tree: its tasks must share one IPC namespace; dumped as ipc_dump() does. */
int ipc_dump_tree(struct dtask **tasks, size_t n, int dirfd);
/* An attached SysV shm segment: 0 and e filled; 1 when v is not one; -errno (refused). */
int ipc_shm_vma(pid_t pid, const struct proc_vma *v, VmaEntry *e);
/* Recreate the IPC namespace of ids (if any) and enter it, for the tasks created next. */
int ipc_restore(int dirfd, const TaskKobjIdsEntry *ids);
/* Attach the segment of a VMA_AREA_SYSVIPC area at "at" (replacing what is there). */
int ipc_premap_shm(const VmaEntry *v, void *at);

#endif
