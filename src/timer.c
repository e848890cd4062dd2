// SPDX-License-Identifier: MIT
/*
 * Timers of a process, both directions. Dump: POSIX timers from /proc/PID/timers (id,
 * signal and sigev value, notify kind and thread, clock), their armed value and interval
 * and overrun count by injected timer_gettime/timer_getoverrun, into tc.timers.posix.
 * Restore: the restorer's arguments for the POSIX timers (created by pie/restorer.c with
 * their ids, PR_TIMER_CREATE_RESTORE_IDS or in id order) and the interval timers
 * (setitimer; dumped by task-dump.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#define LOG_PREFIX "timer: "
#include "log.h"
#include "inject.h"
#include "mm-dump.h"
#include "rst.h"
#include "timer.h"

#define SCR_TIMER 768
#define TIMERS_MAX 4096
#define NOTIFY_THREAD_ID 4

/* One /proc/PID/timers record. */
struct proc_timer {
	int id, signo, notify, notify_tid, clock;
	uint64_t sival;
};

static int parse_notify(const char *s, struct proc_timer *pt)
{
	char kind[16], who[8];

	if (sscanf(s, "%15[a-z]/%7[a-z].%d", kind, who, &pt->notify_tid) != 3)
		return -EINVAL;
	if (!strcmp(kind, "signal"))
		pt->notify = SIGEV_SIGNAL;
	else if (!strcmp(kind, "none"))
		pt->notify = SIGEV_NONE;
	else if (!strcmp(kind, "thread"))
		pt->notify = SIGEV_THREAD;
	else
		return -EINVAL;
	if (!strcmp(who, "tid"))
		pt->notify |= NOTIFY_THREAD_ID;
	return 0;
}

/* Feed one line; *done is set when a record is complete (ClockID is its last line). */
static int parse_line(const char *line, struct proc_timer *pt, bool *done)
{
	unsigned long long v;

	*done = false;
	if (sscanf(line, "ID: %d", &pt->id) == 1)
		return 0;
	if (sscanf(line, "signal: %d/%llx", &pt->signo, &v) == 2) {
		pt->sival = v;
		return 0;
	}
	if (!strncmp(line, "notify: ", 8))
		return parse_notify(line + 8, pt);
	if (sscanf(line, "ClockID: %d", &pt->clock) == 1) {
		*done = true;
		return 0;
	}
	return -EINVAL;
}

static int add_timer(struct dtask *t, const struct proc_timer *pt, size_t *cap)
{
	TaskTimersEntry *tt = t->tc.timers;
	PosixTimerEntry *e = dtask_alloc(t, sizeof(*e));
	uint64_t args[6] = {pt->id, t->scratch + SCR_TIMER};
	struct itimerspec its;
	long ret, overrun;
	int err;

	if (!e || dtask_grow(t, &tt->posix, tt->n_posix, cap, sizeof(*tt->posix)))
		return -ENOMEM;
	err = inject_syscall_on(t, t->pid, &t->regs, SYS_timer_gettime, &ret, args);
	if (!err && !ret)
		err = inject_scratch_read(t, SCR_TIMER, &its, sizeof(its));
	if (!err && !ret)
		err = inject_syscall_on(t, t->pid, &t->regs, SYS_timer_getoverrun, &overrun, args);
	if (!err && (ret || overrun < 0)) {
		errno = ret ? -ret : -overrun;
		pr_perror("cannot read POSIX timer %d of %d", pt->id, t->pid);
		err = -errno;
	}
	if (err)
		return err;
	posix_timer_entry__init(e);
	e->it_id = pt->id, e->clock_id = pt->clock, e->si_signo = pt->signo;
	e->it_sigev_notify = pt->notify, e->sival_ptr = pt->sival, e->overrun = overrun;
	e->isec = its.it_interval.tv_sec, e->insec = its.it_interval.tv_nsec;
	e->vsec = its.it_value.tv_sec, e->vnsec = its.it_value.tv_nsec;
	if (pt->notify & NOTIFY_THREAD_ID)
		e->has_notify_thread_id = 1, e->notify_thread_id = pt->notify_tid;
	tt->posix[tt->n_posix++] = e;
	return 0;
}

int timer_dump_posix_inject(struct dtask *t)
{
	struct proc_timer pt = {0};
	char path[64], line[256];
	size_t cap = 0;
	bool done;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/timers", t->pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		ret = parse_line(line, &pt, &done);
		if (ret)
			pr_err("%s: cannot parse '%.*s'", path, (int)strcspn(line, "\n"), line);
		else if (done)
			ret = add_timer(t, &pt, &cap);
	}
	fclose(f);
	if (!ret && t->tc.timers->n_posix)
		pr_info("%d: %zu POSIX timers", t->pid, t->tc.timers->n_posix);
	return ret;
}

/* --- restore ------------------------------------------------------------------------ */

size_t timer_args_size(const struct rst_task *t)
{
	const TaskTimersEntry *tt = t->core->tc->timers;

	return (tt ? tt->n_posix : 0) * sizeof(struct rst_posix_timer) + 64;
}

static bool is_thread_of(const struct rst_task *t, int32_t tid)
{
	size_t i;

	for (i = 0; i < t->pst->n_threads; i++)
		if (t->pst->threads[i] == (uint32_t)tid)
			return true;
	return false;
}

static int check_timer(const struct rst_task *t, const PosixTimerEntry *e, int prev_id)
{
	unsigned int kind = e->it_sigev_notify & ~NOTIFY_THREAD_ID;

	if (e->it_id > INT32_MAX || (int)e->it_id <= prev_id || e->si_signo > 64 ||
	    kind > SIGEV_THREAD || e->insec >= 1000000000 || e->vnsec >= 1000000000 ||
	    ((e->it_sigev_notify & NOTIFY_THREAD_ID) &&
	     (!e->has_notify_thread_id || !is_thread_of(t, e->notify_thread_id)))) {
		pr_err("core-%u.img: POSIX timer %u is invalid or out of order (signal %u, notify "
		       "%#x)",
		       t->pid, e->it_id, e->si_signo, e->it_sigev_notify);
		return -EINVAL;
	}
	return 0;
}

static int cmp_timer(const void *a, const void *b)
{
	const PosixTimerEntry *x = *(PosixTimerEntry *const *)a, *y = *(PosixTimerEntry *const *)b;

	return x->it_id < y->it_id ? -1 : x->it_id > y->it_id;
}

static int posix_args(struct rst_task *t, TaskTimersEntry *tt)
{
	struct rst_posix_timer *out;
	size_t i;
	int ret;

	if (!tt->n_posix)
		return 0;
	if (tt->n_posix > TIMERS_MAX) {
		pr_err("core-%u.img: %zu POSIX timers (at most %d)", t->pid, tt->n_posix,
		       TIMERS_MAX);
		return -EINVAL;
	}
	qsort(tt->posix, tt->n_posix, sizeof(*tt->posix), cmp_timer);
	out = rst_args_alloc(t, tt->n_posix * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < tt->n_posix; i++) {
		const PosixTimerEntry *e = tt->posix[i];

		ret = check_timer(t, e, i ? (int)tt->posix[i - 1]->it_id : -1);
		if (ret)
			return ret;
		out[i] = (struct rst_posix_timer){
			.id = e->it_id,
			.clock = e->clock_id,
			.signo = e->si_signo,
			.notify = e->it_sigev_notify,
			.tid = e->notify_thread_id,
			.sival = e->sival_ptr,
			.isec = e->isec,
			.insec = e->insec,
			.vsec = e->vsec,
			.vnsec = e->vnsec,
		};
	}
	t->args->posix_timers = (unsigned long)out;
	t->args->nr_posix_timers = tt->n_posix;
	return 0;
}

static void itimer_arg(const ItimerEntry *e, struct rst_itimer *out)
{
	if (!e)
		return;
	out->isec = e->isec, out->iusec = e->iusec;
	out->vsec = e->vsec, out->vusec = e->vusec;
}

int timer_rst_args(struct rst_task *t)
{
	TaskTimersEntry *tt = t->core->tc->timers;

	if (!tt)
		return 0;
	if (tt->real->iusec >= 1000000 || tt->real->vusec >= 1000000 ||
	    tt->virt->iusec >= 1000000 || tt->virt->vusec >= 1000000 ||
	    tt->prof->iusec >= 1000000 || tt->prof->vusec >= 1000000) {
		pr_err("core-%u.img: an interval timer has 1000000 or more microseconds", t->pid);
		return -EINVAL;
	}
	itimer_arg(tt->real, &t->args->itimers[0]);
	itimer_arg(tt->virt, &t->args->itimers[1]);
	itimer_arg(tt->prof, &t->args->itimers[2]);
	t->args->has_itimers = 1;
	return posix_args(t, tt);
}
