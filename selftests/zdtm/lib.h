/* SPDX-License-Identifier: MIT */
/*
 * The little library every ZDTM test program shares. A test builds its state, calls
 * zt_ready(), waits (zt_wait() or its own loop until zt_stop), then checks its state from
 * inside with zt_check()/zt_fail() and ends with `return zt_result();` (PASS or FAIL).
 *
 * Protocol with the runner: stdout/stderr are a regular file (<test>.out); readiness is a
 * file named by $ZT_READY, written to a temporary name and renamed, so that nothing but
 * regular files and /dev/null stays open; it may carry one extra dump option
 * ("dump-opt --x"). SIGTERM means "verify now". Exit status 77 with
 * "SKIP: reason" means the test cannot run here.
 */
#ifndef ZDTM_LIB_H
#define ZDTM_LIB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

extern volatile sig_atomic_t zt_stop;	/* set by the SIGTERM handler */

/* Install the SIGTERM handler (no SA_RESTART, so blocking calls see EINTR). */
void zt_init(int argc, char **argv);
/* A region the runner may damage (through /proc/PID/mem) to prove the checks can fail. */
void zt_expose(const void *addr, size_t len);
/* Ask the runner to add one option ("--file-locks") to `ferry dump`; before zt_ready(). */
void zt_dump_option(const char *opt);
/* Run only in these runner flavours (comma-separated, e.g. "dump,vdso-proxy"): the test
 * holds something a second life would break, like a TCP peer outside it. */
void zt_only_flavours(const char *list);
/* The state is built: tell the runner (records getpid() and the exposed region). */
void zt_ready(void);
/* Sleep in short nanosleeps until SIGTERM. */
void zt_wait(void);

void zt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void zt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void zt_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int zt_failed(void);
/* Print PASS (no failure recorded) or FAIL; returns the exit status for main(). */
int zt_result(void);

/* Check a condition; on failure record it with the message and the source line. */
#define zt_check(cond, fmt, ...)                                                               \
	do {                                                                                    \
		if (!(cond))                                                                    \
			zt_fail("%s:%d: %s: " fmt, __FILE__, __LINE__, #cond, ##__VA_ARGS__);   \
	} while (0)

/*
 * Process trees. The root forks tasks with zt_fork(fn, arg); each task runs fn, which
 * builds its state (and may zt_fork its own), calls zt_task_ready(), zt_wait(), checks,
 * calls zt_collect() and returns zt_result(). A task's output goes to zt-PID.out in the
 * work dir; zt_ready() and zt_task_ready() first wait until every forked task is ready.
 * After SIGTERM, zt_collect() passes it on to the forked tasks, waits for their verdicts
 * and reports their failures as its own, so the root's PASS covers the whole tree.
 */
pid_t zt_fork(int (*fn)(void *arg), void *arg);
/* Take an orphan reparented to us (a child subreaper) as one of our tasks. */
void zt_adopt(pid_t pid);
/* In a task the test made itself (clone()): forget the tasks and failures of its parent. */
void zt_forget_tasks(void);
void zt_task_ready(void);
void zt_collect(void);
/* The test expects ferry dump to refuse it (the runner checks the tree survives). */
void zt_expect_dump_failure(void);
/* One more argument for ferry dump (the runner reads them from the ready file). */
void zt_dump_arg(const char *arg);

/* A cheap 64-bit mixer for memory patterns. */
static inline uint64_t zt_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif
