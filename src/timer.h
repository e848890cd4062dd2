/* SPDX-License-Identifier: MIT */
/*
 * Timers of a process (timer.c). Dump: timer_dump_posix_inject() between inject_init()
 * and inject_fini(), after task_dump_inject() (which creates tc.timers). Restore:
 * timer_args_size() for the restorer's argument area, timer_rst_args() to fill it.
 */
#ifndef FERRY_TIMER_H
#define FERRY_TIMER_H

#include <stddef.h>

#include "dtask.h"

struct rst_task;

int timer_dump_posix_inject(struct dtask *t);
size_t timer_args_size(const struct rst_task *t);
int timer_rst_args(struct rst_task *t);

#endif
