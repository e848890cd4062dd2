/* SPDX-License-Identifier: MIT */
/*
 * Open files: the fd table (fdinfo-N.img), the open file descriptions it points to
 * (files.img, one entry per description, ids global), exe/cwd/root by path, fs-PID.img.
 * Each kind of fd is a struct fd_ops, dump and restore halves in its own src file, found
 * through the one table in src/files.c (by st_mode and the /proc/PID/fd link text).
 * To add a kind: write src/<kind>.c with its `const struct fd_ops <kind>_ops`, declare it
 * below, and add one row to fd_kinds[] in src/files.c (e.g. { S_IFSOCK, NULL, &x_ops }).
 * Restore calls open() once per description in fd order (late kinds after the others);
 * the descriptions stay open (rst_file_fd()) until rst_files_install() puts the fds in place.
 */
#ifndef FERRY_FILES_H
#define FERRY_FILES_H

#include <stdbool.h>
#include <sys/stat.h>

#include "dtask.h"
#include "proc-parse.h"
#include "fh.pb-c.h"

struct rst_task;

/* What the dump knows about one fd when it hands it to its kind. */
struct fd_parms {
	int fd;				/* number in the task */
	const char *link;		/* readlink of /proc/PID/fd/N */
	struct stat st;			/* stat of the same */
	struct proc_fdinfo fi;		/* pos, flags, mnt_id */
	const char *fdinfo;		/* the whole /proc/PID/fdinfo/N text */
};

/*
 * For a client that is not root: contents are copied only from an fd open for reading
 * (not O_WRONLY, not O_PATH), which the client could read itself. -EACCES, logged, if not.
 */
int files_may_copy(const struct dtask *t, const struct fd_parms *p, const char *what);


struct fd_ops {
	const char *name;		/* "pipe", "eventfd": for messages */
	FdTypes type;			/* file_entry.type and fdinfo_entry.type */
	/* Dump: fill fe's sub-message (fe->id and fe->type are set); 0 or -errno. */
	int (*dump)(struct dtask *t, const struct fd_parms *p, FileEntry *fe);
	/* Plan: check fe read from files.img (untrusted); 0 or -EINVAL, logged. */
	int (*check)(const FileEntry *fe);
	/*
	 * Restore, in the new task: open the description fe (any fd number, O_CLOEXEC);
	 * return it or -errno. May hand fds of other files it created along
	 * (rst_file_provide(): the other end of a pipe).
	 */
	int (*open)(struct rst_task *t, const FileEntry *fe);
	bool late;			/* open after all others (epoll: needs its targets) */
	/* Dump, optional: write the kind's own images (pipes-data.img…), once for the tree:
	 * t is any task, t->fx holds what every task collected. */
	int (*write)(struct dtask *t, int dirfd);
};

/* The ops of a files.img type, or NULL when ferry cannot restore it. */
const struct fd_ops *fd_ops_by_type(FdTypes type);

/* The files.img id of a file opened by path, shared by equal dev/ino/flags; or -errno. */
int files_add_path(struct dtask *t, const char *path, const struct stat *st, unsigned int flags);
int files_add_entry(struct dtask *t, FileEntry *fe, const struct stat *st, unsigned int flags,
		    int fd);
int files_dump_fds(struct dtask *t);
int files_dump_fs(struct dtask *t, unsigned int umask);
int files_dump_exe(struct dtask *t);
/* fdinfo-N.img and fs-PID.img of one task */
int files_write(struct dtask *t, int dirfd);
/* files.img and the kinds' images (ops->write), once for the tree: the tasks share t->fx */
int files_write_table(struct dtask *const *tasks, size_t n, int dirfd);
/* Append a files.img entry (id = index + 1) for the fd (-1: opened by path); NULL: no memory. */
FileEntry *files_new(struct dtask *t, FdTypes type, const struct stat *st, unsigned int flags,
		     int fd);
/* The text after "key" in the fd's fdinfo (blanks skipped), or NULL. */
const char *fd_parms_field(const struct fd_parms *p, const char *key);
/* A zeroed fown_entry (F_SETOWN is not saved yet); NULL: no memory. */
FownEntry *files_fown(struct dtask *t);
/* The fown_entry of a files.img entry and its saved open flags, or NULL (no such field). */
FownEntry *files_entry_fown(const FileEntry *fe, uint32_t *flags);
/* A copy of the task's fd in ferry (pidfd_getfd), O_CLOEXEC; or -errno, logged. */
int files_getfd(struct dtask *t, int fd);

/* The kinds (src/<kind>.c). */
extern const struct fd_ops reg_file_ops;
extern const struct fd_ops pipe_ops;
extern const struct fd_ops fifo_ops;
extern const struct fd_ops memfd_ops;
extern const struct fd_ops eventfd_ops;
extern const struct fd_ops signalfd_ops;
extern const struct fd_ops timerfd_ops;
extern const struct fd_ops eventpoll_ops;
extern const struct fd_ops unix_sk_ops;	/* sockets.c */
extern const struct fd_ops inet_sk_ops;
extern const struct fd_ops packet_sk_ops;
extern const struct fd_ops netlink_sk_ops;
extern const struct fd_ops inotify_ops;
extern const struct fd_ops fanotify_ops;
extern const struct fd_ops tty_ops;

/* inotify.c, for fanotify too: fill fh from fdinfo's handle (hex) and resolve it to a path
 * on a mount of device sdev (kernel encoding); 0 or -errno (-ENOENT: file gone). */
int fsnotify_resolve(struct dtask *t, uint32_t sdev, FhEntry *fh, const char *hex);

/* memfd.c: the files.img id of a memfd mapped (src: its map_files link), or -errno */
int memfd_add_mapping(struct dtask *t, const char *link, const char *src, const struct stat *st,
		      unsigned int flags);
/* memfd.c: remove what memfd_write() may have written (a failed dump) */
void memfd_unlink_images(struct dtask *t, int dirfd);

/* pipe.c, for FIFOs too: save the data in flight once per pipe; refill a new pipe. */
int pipe_data_dump(struct dtask *t, const struct fd_parms *p, bool fifo);
int pipe_data_refill(struct rst_task *t, bool fifo, uint32_t pipe_id, int wfd);

/* ghost.c: unlinked files, called by reg-file.c and files.c */
bool ghost_is_deleted(const struct stat *st, const char *link);
int ghost_dump(struct dtask *t, const struct fd_parms *p, RegFileEntry *reg);
int ghost_write(struct dtask *t, int dirfd);
void ghost_unlink_images(struct dtask *t, int dirfd);
int ghost_lookup(struct rst_task *t, uint32_t id);
int ghost_open(struct rst_task *t, const RegFileEntry *reg, uint32_t ghost);

/* file-lock.c: locks held through the fd (whose files.img id is id); --file-locks */
int file_locks_collect(struct dtask *t, const struct fd_parms *p, uint32_t id);
int file_locks_write(struct dtask *t, int dirfd);

/* reg-file.c, used by files.c for paths (exe, cwd, maps) */
int reg_file_new(struct dtask *t, const char *path, const struct stat *st, unsigned int flags);
bool reg_file_path_ok(const struct stat *st, const char *path);
bool reg_file_is_terminal(const struct stat *st);

#endif
