/* SPDX-License-Identifier: MIT */
/*
 * Internals of the restore engine shared by src/restore.c and src/rst-*.c: the plan of
 * the tree (its validated images, one struct rst_task per process) and the per-stage
 * entry points, in call order: rst_plan_load() and rst_pstree_plan() in the controller,
 * rst_pstree_create() for the tasks (rst_enter_root() in the first); then in each new
 * task rst_fs_restore(),
 * rst_files_open(), rst_mem_prepare(), rst_task_args(), rst_files_install(), rst_jump().
 */
#ifndef FERRY_RST_H
#define FERRY_RST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "file-lock.pb-c.h"
#include "fs.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "seccomp.pb-c.h"
#include "restore.h"
#include "restorer.h"
#include "sockets.h"

#define RST_TASK_SIZE 0x7ffffffff000UL
#define RST_PAGE 4096UL

struct rst_fd {
	int fd;			/* target number */
	int tmp;		/* where it is opened until rst_files_install() */
	bool cloexec;
	FileEntry *file;
};

/* A thread other than the leader and its core-TID.img (thread.c). */
struct rst_thread {
	pid_t tid;
	CoreEntry *core;
};

struct rst_tree;

struct rst_task {
	const struct restore_opts *opts;
	struct rst_tree *tree;
	int dirfd;
	pid_t pid;
	int parent;			/* index of the parent in tree->tasks; -1 for the root */
	bool dead;			/* a zombie: task_state TASK_DEAD, only pstree and core */
	bool in_root_group;		/* its group is the root's, which was outside the dump */
	int session_helper;		/* 1 + the helper that creates it in its session; 0: none */

	PstreeEntry *pst;
	CoreEntry *core;
	struct rst_thread *thr;		/* the other threads */
	size_t nr_thr;
	bool seccomp_suspend;		/* a thread runs under seccomp: PTRACE_O_SUSPEND_SECCOMP */
	SeccompEntry *seccomp;		/* seccomp.img, when a thread is in filter mode */
	TaskKobjIdsEntry *ids;
	uint64_t ids_off;		/* where its entry is in ids-PID.img, for messages */
	bool share_files;		/* cloned with CLONE_FILES: its parent's fd table (share.c) */
	bool share_fs;			/* cloned with CLONE_FS: its parent's cwd, root, umask */
	int files_head;			/* the topmost task of its fd table: it restores the fds */
	unsigned int nr_sharers;	/* a head: how many other tasks use its fd table */
	bool fs_early;			/* restores its fs before creating the children sharing it */
	bool finished;			/* the controller brought it to the final barrier */
	MmEntry *mm;
	FsEntry *fs;
	int cg_fd;			/* its cgroup (CLONE_INTO_CGROUP), -1: the parent's */

	FileEntry **files;		/* the tree's, shared */
	size_t nr_files;
	struct rst_fd *fds;
	size_t nr_fds;
	int max_fd;
	struct rst_sk sk;		/* sockets.c: queues; sockets built in the new task */
	int *file_fds;			/* per files[] entry, its fd until rst_files_install() */
	FileLockEntry **locks;		/* file-locks.img entries on this task's fds */
	size_t nr_locks;
	int ctty_file;			/* tty-ctty.c: files[] index of the master of the pty
					 * it makes its controlling terminal, or -1 */
	uint32_t ctty_index, ctty_pgrp;	/* that pty, its foreground group (0: none) */

	PagemapEntry **pm;
	size_t nr_pm;
	uint32_t pages_id;
	uint64_t nr_pages;

	/* filled in the new task */
	struct restorer_args *args;	/* inside the blob mapping */
	int exe_fd;
	unsigned long region, region_len;
	unsigned long blob, blob_len;
	unsigned long vdso_new;		/* where the kernel's vDSO ends up (AT_SYSINFO_EHDR) */
	char *args_free, *args_end;	/* bump allocator for arrays pointed to by args */
	unsigned long stack_top;
	size_t nr_rst_vmas;
};

/* A shared anonymous object of the tree (rst-shmem.c). */
struct rst_shmem {
	uint64_t shmid;
	uint64_t size;			/* the largest end of an area mapping it */
	int first;			/* the first task mapping it */
	bool many;			/* other tasks map it too: one memfd for all */
	int owner;			/* the common ancestor of the tasks: it creates it */
	int fd;				/* in the owner and its descendants, or -1 */
};

/*
 * A task that only exists to hold a PID as a process group for members restored later,
 * or (session) to lead a session whose leader is gone and create its members.
 */
struct rst_helper {
	pid_t pid;			/* the group's id (a session's: its sid too) */
	pid_t sid;
	int creator;			/* index of the task that creates and reaps it */
	bool session;			/* setsid(), then clone its members with CLONE_PARENT */
};

struct rst_tree {
	const struct restore_opts *opts;
	InventoryEntry *inv;
	FileEntry **files;		/* files.img, for every task */
	size_t nr_files;
	int *file_owner;		/* per files[]: the task that opens it for all, or -1 */
	int *shared_fds;		/* per files[]: opened by an ancestor, inherited, or -1 */
	struct rst_shmem *shmems;	/* shared anonymous objects */
	size_t nr_shmems;
	struct rst_task *tasks;		/* pstree.img order: tasks[0] is the root */
	size_t nr_tasks;
	struct rst_helper *helpers;
	size_t nr_helpers;
	int sync[2];			/* tasks -> controller: one byte per task per phase */
	int join[2], go[2];		/* controller -> tasks: phase starts */
	bool root_alive;		/* the root was created and not reaped yet */
	int *cg_fds;			/* cgroup.img's sets, open (cgroup.c) */
	size_t nr_cg_fds;
	char **cg_created;		/* cgroups mkdir'ed for this restore */
	size_t nr_cg_created;
	bool all_created;		/* every task exists: each may be killed by its PID */
	int *gates;			/* per task: 1 once a head may restore its fds (share.c) */
	size_t gates_len;
};

#define TASK_STATE_ALIVE 1
#define TASK_STATE_DEAD 2		/* CRIU's TASK_DEAD: a zombie */
#define TASK_STATE_STOPPED 3		/* CRIU's TASK_STOPPED: a task in a group stop */

/* Room in the blob's argument area (zeroed), or NULL when it is exhausted (logged). */
void *rst_args_alloc(struct rst_task *t, size_t size);

#define RST_MAX_UNMAP 4096
#define RST_MAX_TASKS 4096
#define RST_STACK_SIZE (64UL << 10)

/* rst-plan.c: read and validate every image of the tree; free it. */
int rst_plan_load(struct rst_tree *tr, const struct restore_opts *opts);
void rst_plan_free(struct rst_tree *tr);
FileEntry *rst_file_by_id(const struct rst_task *t, uint32_t id);

/* rst-files.c: root, cwd, umask; open fds at temporary numbers; put them in place. */
int rst_enter_root(struct rst_task *t);
int rst_fs_restore(struct rst_task *t, bool early);
int rst_files_open(struct rst_task *t);
/* For a kind's open(): hand over fd as file id's description (closed when not used). */
int rst_file_provide(struct rst_task *t, uint32_t id, int fd);
/* The fd a file id is open at between rst_files_open() and rst_files_install(), or -1. */
int rst_file_fd(const struct rst_task *t, uint32_t id);
/* A new fd of f's description for mmap (opened through its kind if no fd has it). */
int rst_file_map_fd(struct rst_task *t, const FileEntry *f);
int rst_file_open_reg(const RegFileEntry *reg, int flags, bool check);
int rst_files_install(struct rst_task *t);
/*
 * rst-files.c, sharing between tasks: plan which task opens each open file description
 * used by several tasks (in the controller); open those in that task before it creates
 * its children, which inherit them (rst-pstree.c).
 */
int rst_files_plan_shared(struct rst_tree *tr);
int rst_files_open_shared(struct rst_task *t);
/* The index of the lowest common ancestor of tasks a and b (either of them, possibly). */
int rst_common_ancestor(const struct rst_tree *tr, int a, int b);

/*
 * rst-shmem.c: plan the shared anonymous objects several tasks map (in the controller);
 * create them in their owner before it creates its children; the fd of one, or -1.
 */
int rst_shmem_plan(struct rst_tree *tr);
int rst_shmem_open_shared(struct rst_task *t);
int rst_shmem_fd(const struct rst_task *t, uint64_t shmid);

/* file-lock.c: read and check file-locks.img; take the locks on the final fds; free. */
int file_locks_load(struct rst_task *t);
int file_locks_apply(struct rst_task *t);
void file_locks_free(struct rst_task *t);

/* rst-mem.c: reserve the region, premap and fill the VMAs, map the blob. */
int rst_mem_prepare(struct rst_task *t);

/* rst-vdso.c: compare the dumped vDSO with ours; set up moves or the proxy. */
int rst_vdso_find_current(unsigned long *lo, unsigned long *hi);
int rst_vdso_setup(struct rst_task *t, unsigned long dumped_copy, uint64_t present,
		   unsigned long scratch, bool *keep_dumped);

/*
 * rst-pstree.c: check sessions and groups and plan helpers; create every task with its
 * PID, parent, session and group, seize the live ones and let each run restore_task();
 * on a failure, kill what was created.
 */
int rst_pstree_plan(struct rst_tree *tr);
int rst_pstree_create(struct rst_tree *tr, void (*restore_task)(struct rst_task *t));
void rst_pstree_kill(struct rst_tree *tr);
/* Say who holds a PID that a task or thread needs (a live task, an unreaped zombie). */
void rst_pid_in_use(pid_t pid);

/* rst-task.c: the rest of the blob's arguments; the final jump. */
int rst_task_args(struct rst_task *t);
/* Credentials of thread tid's core image into c (groups in the argument area). */
int rst_creds_fill(struct rst_task *t, const CredsEntry *ce, struct rst_creds *c, pid_t tid);
int rst_task_prepare(struct rst_task *t);
void rst_jump(struct rst_task *t) __attribute__((noreturn));

#endif
