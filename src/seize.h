/* SPDX-License-Identifier: MIT */
/*
 * Taking hold of the task to dump and letting it go. seize_check() refuses what ferry
 * cannot dump before anything is touched; seize_task() stops it with PTRACE_SEIZE +
 * PTRACE_INTERRUPT and saves its registers and blocked mask; then either
 * seize_release() (images complete: kill, run, or leave stopped) or seize_abort()
 * (put everything back and detach).
 */
#ifndef FERRY_SEIZE_H
#define FERRY_SEIZE_H

#include "dump.h"
#include "dtask.h"

/* SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: the signals of a group-stop. */
bool seize_is_stop_signal(int sig);

int seize_check(pid_t pid);
int seize_task(struct dtask *t);
int seize_release(struct dtask *t, enum dump_release how);
void seize_abort(struct dtask *t);

#endif
