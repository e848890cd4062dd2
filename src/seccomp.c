// SPDX-License-Identifier: MIT
/*
 * seccomp filters, both directions. Dump: the mode of every thread (/proc/PID/task/TID/
 * status), PTRACE_O_SUSPEND_SECCOMP so that injected syscalls are not filtered, the BPF
 * programs (PTRACE_SECCOMP_GET_FILTER) and their flags (PTRACE_SECCOMP_GET_METADATA) into
 * seccomp.img. All threads must share one mode and filter chain for now. Restore: the
 * programs in install order for pie/restorer.c, which installs them in the leader before
 * it creates the other threads (they inherit them); the controller traces with
 * PTRACE_O_SUSPEND_SECCOMP until every thread is back in its own code.
 */
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#define LOG_PREFIX "seccomp: "
#include "log.h"
#include "image.h"
#include "proc-parse.h"
#include "rst.h"
#include "seccomp.h"

#define FILTERS_MAX 512
#define INSNS_MAX 4096 /* BPF_MAXINSNS */

struct seccomp_md {
	uint64_t filter_off;
	uint64_t flags;
};

static int thread_mode(pid_t pid, pid_t tid)
{
	char name[64], buf[4096], *p;
	ssize_t n;

	snprintf(name, sizeof(name), "task/%d/status", tid);
	n = proc_read_file(pid, name, buf, sizeof(buf) - 1, false);
	if (n < 0)
		return n;
	buf[n] = '\0';
	p = strstr(buf, "\nSeccomp:");
	return p ? atoi(p + 9) : 0;
}

static int suspend(pid_t tid)
{
	if (ptrace(PTRACE_SETOPTIONS, tid, 0, PTRACE_O_SUSPEND_SECCOMP)) {
		pr_perror("cannot suspend seccomp in thread %d (PTRACE_O_SUSPEND_SECCOMP)", tid);
		return -errno;
	}
	return 0;
}

/* The filter chain of tid, newest first, into e (oldest first); *n filters. */
static int read_chain(struct dtask *t, pid_t tid, SeccompFilter **out, size_t *n)
{
	struct sock_filter *insns;
	struct seccomp_md md;
	long cnt;

	for (*n = 0; *n < FILTERS_MAX; (*n)++) {
		cnt = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, *n, NULL);
		if (cnt < 0 && errno == ENOENT)
			return 0;
		if (cnt <= 0 || cnt > INSNS_MAX) {
			pr_perror("cannot read seccomp filter %zu of thread %d", *n, tid);
			return -EIO;
		}
		insns = dtask_alloc(t, cnt * sizeof(*insns));
		out[*n] = dtask_alloc(t, sizeof(**out));
		if (!insns || !out[*n])
			return -ENOMEM;
		md.filter_off = *n, md.flags = 0;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, *n, insns) != cnt ||
		    ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), &md) < 0) {
			pr_perror("cannot read seccomp filter %zu of thread %d", *n, tid);
			return -EIO;
		}
		seccomp_filter__init(out[*n]);
		out[*n]->filter.data = (uint8_t *)insns;
		out[*n]->filter.len = cnt * sizeof(*insns);
		out[*n]->has_flags = 1, out[*n]->flags = md.flags;
	}
	pr_err("thread %d has more than %d seccomp filters", tid, FILTERS_MAX);
	return -E2BIG;
}

static bool same_chain(SeccompFilter **a, size_t na, SeccompFilter **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (a[i]->filter.len != b[i]->filter.len || a[i]->flags != b[i]->flags ||
		    memcmp(a[i]->filter.data, b[i]->filter.data, a[i]->filter.len))
			return false;
	return true;
}

/* Oldest first, each linked to the one before; every thread's core names the newest. */
static int save_chain(struct dtask *t, SeccompFilter **chain, size_t n)
{
	SeccompEntry *e = dtask_alloc(t, sizeof(*e));
	SeccompFilter **list = dtask_alloc(t, n * sizeof(*list));
	size_t i;

	if (!e || !list)
		return -ENOMEM;
	seccomp_entry__init(e);
	for (i = 0; i < n; i++) {
		list[i] = chain[n - 1 - i];
		if (i)
			list[i]->has_prev = 1, list[i]->prev = i - 1;
	}
	e->seccomp_filters = list;
	e->n_seccomp_filters = n;
	t->seccomp = e;
	t->thc.has_seccomp_filter = 1, t->thc.seccomp_filter = n - 1;
	for (i = 0; i < t->n_thr; i++)
		t->thr[i].thc.has_seccomp_filter = 1, t->thr[i].thc.seccomp_filter = n - 1;
	return 0;
}

static int check_modes(struct dtask *t, int mode)
{
	size_t i;
	int m;

	for (i = 0; i < t->n_thr; i++) {
		m = thread_mode(t->pid, t->thr[i].tid);
		if (m < 0)
			return m;
		if (m != mode) {
			pr_err("thread %d runs in seccomp mode %d, its leader %d in mode %d: "
			       "per-thread seccomp is not supported yet",
			       t->thr[i].tid, m, t->pid, mode);
			return -EOPNOTSUPP;
		}
		t->thr[i].thc.has_seccomp_mode = 1, t->thr[i].thc.seccomp_mode = m;
	}
	t->thc.has_seccomp_mode = 1, t->thc.seccomp_mode = mode;
	return 0;
}

static int dump_filters(struct dtask *t)
{
	SeccompFilter *lead[FILTERS_MAX], *mine[FILTERS_MAX];
	size_t n, nm, i;
	int ret;

	ret = read_chain(t, t->pid, lead, &n);
	for (i = 0; !ret && i < t->n_thr; i++) {
		ret = read_chain(t, t->thr[i].tid, mine, &nm);
		if (!ret && !same_chain(lead, n, mine, nm)) {
			pr_err("thread %d has other seccomp filters than its leader %d: per-thread "
			       "filters are not supported yet",
			       t->thr[i].tid, t->pid);
			ret = -EOPNOTSUPP;
		}
	}
	if (!ret && !n) {
		pr_err("process %d is in seccomp filter mode without a filter", t->pid);
		ret = -EIO;
	}
	return ret ? ret : save_chain(t, lead, n);
}

int seccomp_dump(struct dtask *t)
{
	int mode = thread_mode(t->pid, t->pid), ret;
	size_t i;

	if (mode <= 0)
		return mode;
	if (mode != SECCOMP_MODE__filter) {
		pr_err("process %d runs in seccomp strict mode: not supported yet", t->pid);
		return -EOPNOTSUPP;
	}
	ret = check_modes(t, mode);
	if (!ret)
		ret = suspend(t->pid);
	for (i = 0; !ret && i < t->n_thr; i++)
		ret = suspend(t->thr[i].tid);
	if (!ret)
		ret = dump_filters(t);
	if (!ret)
		pr_info("%d: seccomp filter mode, %zu filters", t->pid,
			t->seccomp->n_seccomp_filters);
	return ret;
}

int seccomp_write(struct dtask *t, int dirfd)
{
	return t->seccomp ? img_write_one(dirfd, IMG_SECCOMP, &t->seccomp->base) : 0;
}

/* --- restore ------------------------------------------------------------------------ */

static int check_thread(const struct rst_task *t, const ThreadCoreEntry *tc, pid_t tid)
{
	const ThreadCoreEntry *lead = t->core->thread_core;

	if ((int)(tc->has_seccomp_mode ? tc->seccomp_mode : 0) != t->seccomp_mode ||
	    (t->seccomp_mode && tc->seccomp_filter != lead->seccomp_filter)) {
		pr_err("core-%d.img: seccomp mode or filter differs from the leader's: per-thread "
		       "seccomp is not supported yet",
		       tid);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int check_filters(const struct rst_task *t, const SeccompEntry *e)
{
	size_t i;

	if (e->n_seccomp_filters > FILTERS_MAX) {
		pr_err("seccomp.img: %zu filters (at most %d)", e->n_seccomp_filters, FILTERS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < e->n_seccomp_filters; i++) {
		const SeccompFilter *f = e->seccomp_filters[i];

		if (!f->filter.len || f->filter.len % sizeof(struct sock_filter) ||
		    f->filter.len > INSNS_MAX * sizeof(struct sock_filter) ||
		    (f->has_prev && f->prev >= i)) {
			pr_err("seccomp.img: filter %zu has %zu bytes or a bad prev", i,
			       f->filter.len);
			return -EINVAL;
		}
	}
	if (t->core->thread_core->seccomp_filter >= e->n_seccomp_filters) {
		pr_err("core-%u.img: seccomp filter %u is not in seccomp.img", t->pid,
		       t->core->thread_core->seccomp_filter);
		return -EINVAL;
	}
	return 0;
}

int seccomp_plan_load(struct rst_task *t)
{
	const ThreadCoreEntry *tc = t->core->thread_core;
	size_t i;
	int ret;

	t->seccomp_mode = tc && tc->has_seccomp_mode ? tc->seccomp_mode : 0;
	if (t->seccomp_mode && t->seccomp_mode != SECCOMP_MODE__filter) {
		pr_err("core-%u.img: seccomp mode %d is not supported", t->pid, t->seccomp_mode);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < t->nr_thr; i++) {
		ret = check_thread(t, t->thr[i].core->thread_core, t->thr[i].tid);
		if (ret)
			return ret;
	}
	if (!t->seccomp_mode)
		return 0;
	ret = img_read_one(t->dirfd, IMG_SECCOMP, &seccomp_entry__descriptor, (void **)&t->seccomp);
	return ret ? ret : check_filters(t, t->seccomp);
}

void seccomp_plan_free(struct rst_task *t)
{
	img_free_pb(t->seccomp);
	t->seccomp = NULL;
}

size_t seccomp_args_size(const struct rst_task *t)
{
	size_t i, n = 64 + FILTERS_MAX * sizeof(struct rst_seccomp_filter);

	for (i = 0; t->seccomp && i < t->seccomp->n_seccomp_filters; i++)
		n += t->seccomp->seccomp_filters[i]->filter.len + 64;
	return n;
}

/* The leader's chain, root first, for the restorer to install in that order. */
int seccomp_rst_args(struct rst_task *t)
{
	struct rst_seccomp_filter *out;
	uint32_t idx, chain[FILTERS_MAX];
	size_t n = 0, i;

	if (!t->seccomp_mode)
		return 0;
	idx = t->core->thread_core->seccomp_filter;
	for (;;) {
		const SeccompFilter *f = t->seccomp->seccomp_filters[idx];

		chain[n++] = idx;
		if (!f->has_prev || n == FILTERS_MAX)
			break;
		idx = f->prev;
	}
	out = rst_args_alloc(t, n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const SeccompFilter *f = t->seccomp->seccomp_filters[chain[n - 1 - i]];
		void *insns = rst_args_alloc(t, f->filter.len);

		if (!insns)
			return -ENOMEM;
		memcpy(insns, f->filter.data, f->filter.len);
		out[i].insns = (unsigned long)insns;
		out[i].len = f->filter.len / sizeof(struct sock_filter);
		out[i].flags = f->has_flags ? f->flags : 0;
	}
	t->args->seccomp_filters = (unsigned long)out;
	t->args->nr_seccomp_filters = n;
	return 0;
}
