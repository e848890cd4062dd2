/* SPDX-License-Identifier: MIT */
/*
 * Open files of a task being dumped: the fd table (fdinfo-N.img), the open file
 * descriptions it points to and the files opened by path for the exe, the file mappings
 * and cwd/root (files.img), and fs-PID.img.
 */
#ifndef FERRY_FILES_H
#define FERRY_FILES_H

#include <sys/stat.h>

#include "dtask.h"

/* The files.img id of a file opened by path, shared by equal dev/ino/flags; or -errno. */
int files_add_path(struct dtask *t, const char *path, const struct stat *st, unsigned int flags);
int files_add_entry(struct dtask *t, FileEntry *fe, const struct stat *st, unsigned int flags,
		    int fd);
int files_dump_fds(struct dtask *t);
int files_dump_fs(struct dtask *t, unsigned int umask);
int files_dump_exe(struct dtask *t);
int files_write(struct dtask *t, int dirfd);

#endif
