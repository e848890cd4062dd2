// SPDX-License-Identifier: MIT
/*
 * seccomp, both directions, per thread. Dump: each thread's mode (/proc/PID/task/TID/
 * status), PTRACE_O_SUSPEND_SECCOMP so that injected syscalls are not filtered, its BPF
 * programs (PTRACE_SECCOMP_GET_FILTER) and their flags (PTRACE_SECCOMP_GET_METADATA),
 * merged into the tree's one seccomp.img: every distinct chain once, a thread's core
 * naming its newest filter, prev links to the older. Restore: each thread's chain, root
 * first, for pie/restorer.c: the part every thread of the task shares is installed by
 * the leader before it creates the threads (they inherit it, as TSYNC needs), the rest
 * by each thread itself; strict mode is entered as a thread's very last step. The
 * controller traces with PTRACE_O_SUSPEND_SECCOMP until every thread is in its own code.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
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

#define FILTERS_MAX 512	 /* per thread */
#define TABLE_MAX 8192	 /* per tree */
#define INSNS_MAX 4096	 /* BPF_MAXINSNS */

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

/* The filter chain of tid, oldest first (PTRACE_SECCOMP_GET_FILTER index 0); *n filters. */
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

/*
 * A filter that can hand syscalls to a user-space supervisor (SECCOMP_RET_USER_NOTIF):
 * its listener fd cannot be rebuilt, and whether one still listens is not visible here.
 */
static int check_user_notif(const SeccompFilter *f, pid_t tid, size_t idx)
{
	const struct sock_filter *insn = (const struct sock_filter *)f->filter.data;
	size_t i, n = f->filter.len / sizeof(*insn);

	for (i = 0; i < n; i++)
		if (insn[i].code == (BPF_RET | BPF_K) &&
		    (insn[i].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF) {
			pr_err("thread %d: seccomp filter %zu can return SECCOMP_RET_USER_NOTIF: a "
			       "supervisor's listener cannot be restored (not supported)",
			       tid, idx);
			return -EOPNOTSUPP;
		}
	return 0;
}

static bool same_filter(const SeccompFilter *a, const SeccompFilter *b)
{
	return a->filter.len == b->filter.len && a->flags == b->flags &&
	       !memcmp(a->filter.data, b->filter.data, a->filter.len);
}

/* The table index of filter f stacked on entry prev (-1: on none), added if new. */
static long table_add(struct seccomp_table *tab, SeccompFilter *f, long prev)
{
	size_t i;

	for (i = 0; i < tab->n; i++) {
		const SeccompFilter *g = tab->filters[i];

		if ((g->has_prev ? (long)g->prev : -1) == prev && same_filter(f, g))
			return i;
	}
	if (tab->n >= TABLE_MAX) {
		pr_err("the tree has more than %d distinct seccomp filters", TABLE_MAX);
		return -E2BIG;
	}
	if (dtask_grow(tab->owner, &tab->filters, tab->n, &tab->cap, sizeof(*tab->filters)))
		return -ENOMEM;
	f->has_prev = prev >= 0, f->prev = prev >= 0 ? prev : 0;
	tab->filters[tab->n] = f;
	return tab->n++;
}

/* A thread in filter mode: its chain into the table, its core naming the newest. */
static int dump_chain(struct dtask *t, pid_t tid, ThreadCoreEntry *tc,
		      struct seccomp_table *tab)
{
	SeccompFilter *chain[FILTERS_MAX];
	long idx = -1;
	size_t n, i;
	int ret;

	ret = read_chain(t, tid, chain, &n);
	if (ret)
		return ret;
	if (!n) {
		pr_err("thread %d is in seccomp filter mode without a filter", tid);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		ret = check_user_notif(chain[i], tid, i);
		if (ret)
			return ret;
		idx = table_add(tab, chain[i], idx);
		if (idx < 0)
			return idx;
	}
	tc->has_seccomp_filter = 1, tc->seccomp_filter = idx;
	return 0;
}

static int dump_thread(struct dtask *t, pid_t tid, ThreadCoreEntry *tc,
		       struct seccomp_table *tab)
{
	int mode = thread_mode(t->pid, tid), ret;

	if (mode <= 0)
		return mode;
	if (mode != SECCOMP_MODE__strict && mode != SECCOMP_MODE__filter) {
		pr_err("thread %d runs in seccomp mode %d, which ferry does not know", tid, mode);
		return -EOPNOTSUPP;
	}
	tc->has_seccomp_mode = 1, tc->seccomp_mode = mode;
	ret = suspend(tid);
	if (!ret && mode == SECCOMP_MODE__filter)
		ret = dump_chain(t, tid, tc, tab);
	if (!ret)
		pr_info("%d: thread %d in seccomp %s mode%s", t->pid, tid,
			mode == SECCOMP_MODE__strict ? "strict" : "filter",
			mode == SECCOMP_MODE__strict ? "" : ", filters in seccomp.img");
	return ret;
}

int seccomp_dump(struct dtask *t, struct seccomp_table *tab)
{
	size_t i;
	int ret;

	ret = dump_thread(t, t->pid, &t->thc, tab);
	for (i = 0; !ret && i < t->n_thr; i++)
		ret = dump_thread(t, t->thr[i].tid, &t->thr[i].thc, tab);
	return ret;
}

int seccomp_write(struct seccomp_table *tab, int dirfd)
{
	SeccompEntry e = SECCOMP_ENTRY__INIT;

	if (!tab->n)
		return 0;
	e.seccomp_filters = tab->filters;
	e.n_seccomp_filters = tab->n;
	return img_write_one(dirfd, IMG_SECCOMP, &e.base);
}

/* --- restore ------------------------------------------------------------------------ */

/* Thread i of t: 0 the leader, then t->thr[] in order. */
static const ThreadCoreEntry *core_of(const struct rst_task *t, size_t i)
{
	return i ? t->thr[i - 1].core->thread_core : t->core->thread_core;
}

static pid_t tid_of(const struct rst_task *t, size_t i)
{
	return i ? t->thr[i - 1].tid : t->pid;
}

static int mode_of(const ThreadCoreEntry *tc)
{
	return tc && tc->has_seccomp_mode ? (int)tc->seccomp_mode : 0;
}

/*
 * Sizes, prev links that point back (so that every chain ends), chains not too deep, and
 * only the flags PTRACE_SECCOMP_GET_METADATA reports (not TSYNC, for one).
 */
static int check_table(const SeccompEntry *e)
{
	size_t i, n = e->n_seccomp_filters;
	uint16_t *depth;
	int ret = 0;

	if (!n || n > TABLE_MAX) {
		pr_err("seccomp.img: %zu filters (1 to %d)", n, TABLE_MAX);
		return -EINVAL;
	}
	depth = calloc(n, sizeof(*depth));
	if (!depth)
		return -ENOMEM;
	for (i = 0; !ret && i < n; i++) {
		const SeccompFilter *f = e->seccomp_filters[i];

		if (!f->filter.len || f->filter.len % sizeof(struct sock_filter) ||
		    f->filter.len > INSNS_MAX * sizeof(struct sock_filter) ||
		    (f->has_prev && f->prev >= i) ||
		    (f->has_flags && (f->flags & ~SECCOMP_FILTER_FLAG_LOG))) {
			pr_err("seccomp.img: filter %zu has %zu bytes, a bad prev or flags %#x", i,
			       f->filter.len, f->has_flags ? f->flags : 0);
			ret = -EINVAL;
		}
		depth[i] = ret ? 0 : f->has_prev ? depth[f->prev] + 1 : 1;
		if (!ret && depth[i] > FILTERS_MAX) {
			pr_err("seccomp.img: filter %zu is the top of more than %d", i, FILTERS_MAX);
			ret = -EINVAL;
		}
	}
	free(depth);
	return ret;
}

static int check_thread(const struct rst_task *t, size_t i)
{
	const ThreadCoreEntry *tc = core_of(t, i);

	if (mode_of(tc) == SECCOMP_MODE__filter &&
	    (!tc->has_seccomp_filter || tc->seccomp_filter >= t->seccomp->n_seccomp_filters)) {
		pr_err("core-%d.img: seccomp filter %u is not in seccomp.img (%zu filters)",
		       tid_of(t, i), tc->seccomp_filter, t->seccomp->n_seccomp_filters);
		return -EINVAL;
	}
	return 0;
}

int seccomp_plan_load(struct rst_task *t)
{
	bool filters = false;
	size_t i;
	int mode, ret;

	for (i = 0; i <= t->nr_thr; i++) {
		mode = mode_of(core_of(t, i));
		if (mode < 0 || mode > SECCOMP_MODE__filter) {
			pr_err("core-%d.img: seccomp mode %d is not known", tid_of(t, i), mode);
			return -EINVAL;
		}
		t->seccomp_suspend |= mode != SECCOMP_MODE__disabled;
		filters |= mode == SECCOMP_MODE__filter;
	}
	if (!filters)
		return 0;
	ret = img_read_one(t->dirfd, IMG_SECCOMP, &seccomp_entry__descriptor, (void **)&t->seccomp);
	if (!ret)
		ret = check_table(t->seccomp);
	for (i = 0; !ret && i <= t->nr_thr; i++)
		ret = check_thread(t, i);
	return ret;
}

void seccomp_plan_free(struct rst_task *t)
{
	img_free_pb(t->seccomp);
	t->seccomp = NULL;
}

/* Thread i's chain, root first, into out[] (FILTERS_MAX, as check_table made sure). */
static size_t chain_of(const struct rst_task *t, size_t i, uint32_t *out)
{
	const ThreadCoreEntry *tc = core_of(t, i);
	const SeccompFilter *f;
	uint32_t idx;
	size_t n = 0, k;

	if (mode_of(tc) != SECCOMP_MODE__filter)
		return 0;
	for (idx = tc->seccomp_filter;; idx = f->prev) {
		f = t->seccomp->seccomp_filters[idx];
		out[n++] = idx;
		if (!f->has_prev)
			break;
	}
	for (k = 0; k < n / 2; k++) {
		idx = out[k], out[k] = out[n - 1 - k], out[n - 1 - k] = idx;
	}
	return n;
}

size_t seccomp_args_size(const struct rst_task *t)
{
	uint32_t chain[FILTERS_MAX];
	size_t i, n = 64;

	if (!t->seccomp)
		return 0;
	n += t->seccomp->n_seccomp_filters * (sizeof(unsigned long) + 64);
	for (i = 0; i < t->seccomp->n_seccomp_filters; i++)
		n += t->seccomp->seccomp_filters[i]->filter.len;
	for (i = 0; i <= t->nr_thr; i++)
		n += chain_of(t, i, chain) * sizeof(struct rst_seccomp_filter) + 2 * 64;
	return n;
}

/* The programs of chain[0..n) for the restorer, each copied into the args only once. */
static int filters_args(struct rst_task *t, unsigned long *copies, const uint32_t *chain,
			size_t n, unsigned long *list, unsigned int *nr)
{
	struct rst_seccomp_filter *out;
	size_t i;

	if (!n)
		return 0;
	out = rst_args_alloc(t, n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const SeccompFilter *f = t->seccomp->seccomp_filters[chain[i]];

		if (!copies[chain[i]]) {
			void *insns = rst_args_alloc(t, f->filter.len);

			if (!insns)
				return -ENOMEM;
			memcpy(insns, f->filter.data, f->filter.len);
			copies[chain[i]] = (unsigned long)insns;
		}
		out[i].insns = copies[chain[i]];
		out[i].len = f->filter.len / sizeof(struct sock_filter);
		out[i].flags = f->has_flags ? f->flags : 0;
	}
	*list = (unsigned long)out;
	*nr = n;
	return 0;
}

/* How many filters, from the root, every thread's chain has in common with lead[]. */
static size_t common_prefix(const struct rst_task *t, const uint32_t *lead, size_t n)
{
	uint32_t mine[FILTERS_MAX];
	size_t i, k, nm;

	for (i = 1; n && i <= t->nr_thr; i++) {
		nm = chain_of(t, i, mine);
		for (k = 0; k < n && k < nm && mine[k] == lead[k]; k++)
			;
		n = k;
	}
	return n;
}

/*
 * The shared root part of the chains for the leader to install before it creates the
 * threads, then each thread's own rest (the leader's too), and who enters strict mode.
 */
int seccomp_rst_args(struct rst_task *t)
{
	struct rst_thread_args *th = (struct rst_thread_args *)t->args->threads;
	struct restorer_args *a = t->args;
	uint32_t lead[FILTERS_MAX], mine[FILTERS_MAX];
	size_t nl, nm, common, i;
	unsigned long *copies;
	int ret;

	a->seccomp_strict = mode_of(core_of(t, 0)) == SECCOMP_MODE__strict;
	for (i = 1; i <= t->nr_thr; i++)
		th[i - 1].seccomp_strict = mode_of(core_of(t, i)) == SECCOMP_MODE__strict;
	if (!t->seccomp)
		return 0;
	copies = rst_args_alloc(t, t->seccomp->n_seccomp_filters * sizeof(*copies));
	if (!copies)
		return -ENOMEM;
	nl = chain_of(t, 0, lead);
	common = common_prefix(t, lead, nl);
	ret = filters_args(t, copies, lead, common, &a->seccomp_filters, &a->nr_seccomp_filters);
	if (!ret)
		ret = filters_args(t, copies, lead + common, nl - common, &a->seccomp_own,
				   &a->nr_seccomp_own);
	for (i = 1; !ret && i <= t->nr_thr; i++) {
		nm = chain_of(t, i, mine);
		ret = filters_args(t, copies, mine + common, nm - common,
				   &th[i - 1].seccomp_filters, &th[i - 1].nr_seccomp_filters);
	}
	return ret;
}
