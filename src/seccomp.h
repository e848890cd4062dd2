/* SPDX-License-Identifier: MIT */
/*
 * seccomp modes and filters (seccomp.c). Dump: seccomp_dump() for each task once every
 * thread is seized, before any syscall is injected, adding its filters to the tree's
 * table; seccomp_write() with the other images (one seccomp.img for the tree). Restore:
 * seccomp_plan_load() after the threads' cores are read, seccomp_args_size() and
 * seccomp_rst_args() (after thread_rst_args()) for the restorer.
 */
#ifndef FERRY_SECCOMP_H
#define FERRY_SECCOMP_H

#include <stddef.h>

#include "dtask.h"

struct rst_task;

/* The tree's seccomp.img: every distinct filter once, oldest of a chain first. */
struct seccomp_table {
	struct dtask *owner;		/* whose arena holds filters[] (the root) */
	SeccompFilter **filters;
	size_t n, cap;
};

int seccomp_dump(struct dtask *t, struct seccomp_table *tab);
int seccomp_write(struct seccomp_table *tab, int dirfd);

int seccomp_plan_load(struct rst_task *t);
void seccomp_plan_free(struct rst_task *t);
size_t seccomp_args_size(const struct rst_task *t);
int seccomp_rst_args(struct rst_task *t);

#endif
