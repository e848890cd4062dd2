/* SPDX-License-Identifier: MIT */
/*
 * seccomp filters (seccomp.c). Dump: seccomp_dump() once every thread is seized, before
 * any syscall is injected; seccomp_write() with the other images. Restore:
 * seccomp_plan_load() after the threads' cores are read, seccomp_args_size() and
 * seccomp_rst_args() for the restorer.
 */
#ifndef FERRY_SECCOMP_H
#define FERRY_SECCOMP_H

#include <stddef.h>

#include "dtask.h"

struct rst_task;

int seccomp_dump(struct dtask *t);
int seccomp_write(struct dtask *t, int dirfd);

int seccomp_plan_load(struct rst_task *t);
void seccomp_plan_free(struct rst_task *t);
size_t seccomp_args_size(const struct rst_task *t);
int seccomp_rst_args(struct rst_task *t);

#endif
