/* SPDX-License-Identifier: MIT */
/*
 * The threads of a task other than its leader, both directions (thread.c).
 *
 * Dump: thread_seize_all() after the leader is stopped (rescans /proc/PID/task until no
 * new thread shows up), thread_dump_all() between inject_init() and inject_fini() with
 * the scratch page mapped, thread_write_images(); on the way out thread_abort_all()
 * (registers and masks back, detach), thread_detach_all(), or thread_reap_all() after
 * a SIGKILL.
 *
 * Restore: thread_plan_load() reads and checks core-TID.img of every thread,
 * thread_args_size() and thread_rst_args() fill the restorer's per-thread arguments.
 */
#ifndef FERRY_THREAD_H
#define FERRY_THREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "dtask.h"

struct rst_task;

int thread_seize_all(struct dtask *t);
int thread_dump_all(struct dtask *t);
int thread_write_images(struct dtask *t, int dirfd);
void thread_remove_images(struct dtask *t, int dirfd);
void thread_abort_all(struct dtask *t);
int thread_detach_all(struct dtask *t);
void thread_reap_all(struct dtask *t);

/* Most threads a task may have in an image (bounds the restorer's argument area). */
#define THREAD_MAX 4096

int thread_plan_load(struct rst_task *t);
void thread_plan_free(struct rst_task *t);
size_t thread_args_size(const struct rst_task *t);
int thread_rst_args(struct rst_task *t);

#endif
