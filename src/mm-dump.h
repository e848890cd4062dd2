/* SPDX-License-Identifier: MIT */
/*
 * Task-wide parts of a dumped task's core and mm images: mm fields and auxv (mm-dump.c),
 * task and thread core (task-dump.c), signals (sigact.c), credentials (creds.c).
 * The *_inject functions run syscalls in the task and must be called between
 * inject_init() and inject_fini() with a scratch page mapped.
 */
#ifndef FERRY_MM_DUMP_H
#define FERRY_MM_DUMP_H

#include "dtask.h"
#include "proc-parse.h"

int mm_dump(struct dtask *t, const struct proc_stat *st);
int mm_dump_inject(struct dtask *t);

int task_dump_core(struct dtask *t, const struct proc_stat *st);
int task_dump_inject(struct dtask *t);
/* Per thread (tid of t): rseq registration; robust list and scheduling. */
int task_dump_rseq(struct dtask *t, pid_t tid, ThreadCoreEntry *thc);
int task_dump_sched(pid_t tid, ThreadCoreEntry *thc);

int sigact_dump_inject(struct dtask *t);
int sigact_dump_pending(struct dtask *t);
/* The signals queued for thread tid (flags 0) or its process (PTRACE_PEEKSIGINFO_SHARED). */
SignalQueueEntry *sigact_dump_queue(struct dtask *t, pid_t tid, unsigned int flags);

int creds_dump(struct dtask *t, const struct proc_status *s);
int creds_dump_inject(struct dtask *t);
/* The same for thread tid of t into c (secbits already set), from its status s. */
int creds_dump_tid(struct dtask *t, pid_t tid, const struct proc_status *s, CredsEntry *c);

#endif
