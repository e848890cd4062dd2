/* SPDX-License-Identifier: MIT */
/*
 * The state of one task while it is being dumped: what seize saved to put it back
 * exactly, and every protobuf message collected for its images. All memory hangs off
 * an arena (dtask_alloc) that dtask_release() frees in one go.
 */
#ifndef FERRY_DTASK_H
#define FERRY_DTASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch-regs.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "pstree.pb-c.h"
#include "seccomp.pb-c.h"

struct arena_blk;
struct sk_dump;
struct pipe_dump;
struct ghost_dump;
struct lock_dump;
struct memfd_dump;
struct tty_dump;

/* One files.img entry and what identifies it for sharing its id. */
struct dfile {
	FileEntry *fe;
	dev_t dev;
	ino_t ino;
	unsigned int flags;
	int fd;				/* first fd using it, for kcmp; -1: opened by path */
	pid_t pid;			/* the task of that fd */
};

/* A range of a MAP_SHARED|MAP_ANONYMOUS object whose pages a task dumps (vma.c). */
struct dshmem {
	uint64_t shmid;
	uint64_t pgoff, len;		/* bytes [pgoff, pgoff + len) of the object */
	pid_t pid;
};

/*
 * What the dump knows of the files of the whole tree, shared by its tasks so that
 * every image of a kind is written once with the entries of every task: files.img
 * ids are global (id = index + 1), an open file description used by several tasks
 * (found with kcmp) has one id, a pipe's data is saved once. The arrays live in the
 * arenas of the tasks that grew them, all released together (pstree_free()).
 */
struct dfiles {
	struct dfile *files;		/* files.img, in id order (id = index + 1) */
	size_t n_files, files_cap;
	struct pipe_dump *pipes;	/* pipe.c: data in flight, once per pipe */
	size_t n_pipes, pipes_cap;
	struct ghost_dump *ghosts;	/* ghost.c: unlinked files to save */
	size_t n_ghosts, ghosts_cap;
	struct lock_dump *locks;	/* file-lock.c */
	size_t n_locks, locks_cap;
	struct memfd_dump *memfds;	/* memfd.c: one per memfd inode */
	size_t n_memfds, memfds_cap;
	struct dshmem *shmems;		/* vma.c: shared anonymous ranges dumped */
	size_t n_shmems, shmems_cap;
	struct sk_dump *sk;		/* sockets.c: the sockets of every task */
	struct tty_dump *ttys;		/* tty.c: one per pty whose master the tree holds */
	size_t n_ttys, ttys_cap;
	struct dtask *const *tasks;	/* the tree's tasks (tty.c: the other side of a pty) */
	size_t n_tasks;
	pid_t root_pid;			/* the tree's root: names its network lock */
};

/* One run of pages to copy: [vaddr, vaddr + nr * 4096), read through /proc/PID/mem when mem. */
struct page_run {
	uint64_t vaddr;
	uint32_t nr;
	bool mem;
};

/* A thread of the task other than its leader (thread.c). */
struct dthread {
	pid_t tid;
	bool seized;
	bool saved;			/* regs and blocked below are valid */
	struct arch_regs regs;		/* registers as seized, restored exactly */
	uint64_t blocked;
	char comm[32];
	CoreEntry core;			/* core-TID.img: thread_info and thread_core only */
	ThreadInfoX86 *ti;
	ThreadCoreEntry thc;
};

struct dtask {
	pid_t pid;
	unsigned int idx;		/* position in the tree (pstree.img order), the root is 0 */
	bool zombie;			/* dead, not reaped: only pstree and core are dumped */
	int exit_code;			/* a zombie's wait status (/proc/PID/stat exit_code) */
	bool shell_job;			/* -j: terminal fds are the caller's, saved as external */
	struct dtask *files_from;	/* its parent, whose fd table it shares (CLONE_FILES) */
	struct dtask *fs_from;		/* its parent, whose cwd/root/umask it shares (CLONE_FS) */
	/* dump_opts.pages_digest: hash the pages while copying them (NULL: do not) */
	int (*pages_digest)(void *arg, const char *file, uint64_t size, const uint64_t *segs);
	void *pages_digest_arg;
	unsigned int sk_flags;		/* SK_* of sockets.h: --tcp-established... */
	struct sk_dump *sk;		/* sockets.c, NULL until the first socket */
	uint64_t ghost_limit;		/* --ghost-limit: largest unlinked file saved */
	bool file_locks;		/* --file-locks: save locks (else a lock refuses the dump) */
	bool untrusted;			/* for a client that is not root (dump_opts.check_owner) */
	int volatile_files;		/* enum dump_volatile (dump.h) */
	struct arena_blk *arena;

	/* seize: what to put back */
	bool seized;
	bool was_stopped;		/* in a group stop before we came */
	bool saved;			/* regs and blocked below are valid */
	struct arch_regs regs;		/* registers as seized, restored exactly */
	uint64_t blocked;		/* blocked signals as seized */

	/* injection (inject.c) */
	uint64_t inj_addr;		/* where the syscall instruction is poked */
	uint64_t inj_orig;		/* the original word there */
	bool inj_ready;
	uint64_t scratch;		/* a page mapped in the task for results, or 0 */

	/* collected */
	char comm[32];
	unsigned int flags;		/* PF_* from stat */
	pid_t ppid, pgid, sid;
	char *cgroup;			/* cgroup v2 path (cgroup.c), or NULL */
	CoreEntry core;
	ThreadInfoX86 *ti;
	TaskCoreEntry tc;
	ThreadCoreEntry thc;
	TaskKobjIdsEntry ids;
	MmEntry mm;
	FsEntry fs;
	PstreeEntry pstree;
	struct dthread *thr;		/* the other threads, in seize order */
	size_t n_thr, thr_cap;
	struct dfiles *fx;		/* the tree's files (shared by every task) */
	FdinfoEntry **fds;		/* fdinfo-N.img */
	size_t n_fds, fds_cap;

	/* memory (pages.c) */
	struct page_run *runs;
	size_t n_runs, runs_cap;
	uint64_t nr_pages;		/* pages to copy */
	uint64_t pages_scanned;
	uint64_t memdump_us;
};

void dtask_init(struct dtask *t, pid_t pid);
void *dtask_alloc(struct dtask *t, size_t size);
/* Make room for one more element in an arena array of *cap elements of size each. */
int dtask_grow(struct dtask *t, void *arrayp, size_t n, size_t *cap, size_t size);
char *dtask_strdup(struct dtask *t, const char *s);
void dtask_release(struct dtask *t);

#endif
