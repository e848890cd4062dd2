// SPDX-License-Identifier: MIT
/*
 * The tree to dump, dump side: from the root, every task listed in
 * /proc/PID/task/TID/children is checked and seized (PTRACE_SEIZE + PTRACE_INTERRUPT,
 * seize.c), re-reading the children of every stopped task until a whole pass finds no
 * new one. Zombies are recorded, not seized. Failing anywhere puts every task back.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "pstree: "
#include "log.h"
#include "proc-parse.h"
#include "pstree.h"
#include "seize.h"
#include "share.h"

static struct dtask *pstree_find(const struct dtree *tr, pid_t pid)
{
	size_t i;

	for (i = 0; i < tr->n; i++)
		if (tr->tasks[i]->pid == pid)
			return tr->tasks[i];
	return NULL;
}

static struct dtask *pstree_add(struct dtree *tr, pid_t pid, pid_t ppid, bool shell_job)
{
	struct dtask *t;

	if (tr->n == PSTREE_MAX_TASKS) {
		pr_err("the tree has more than %d tasks", PSTREE_MAX_TASKS);
		return NULL;
	}
	if (tr->n == tr->cap) {
		size_t cap = tr->cap * 2 + 16;
		struct dtask **n = realloc(tr->tasks, cap * sizeof(*n));

		if (!n) {
			pr_err("out of memory for %zu tasks", cap);
			return NULL;
		}
		tr->tasks = n;
		tr->cap = cap;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		pr_err("out of memory for task %d", pid);
		return NULL;
	}
	dtask_init(t, pid);
	t->idx = tr->n;
	/* one of each per task; share_dump_find() gives sharers their parent's */
	t->ids.vm_id = t->ids.files_id = t->ids.fs_id = t->ids.sighand_id = t->idx + 1;
	t->shell_job = shell_job;
	t->pstree.ppid = ppid;
	tr->tasks[tr->n++] = t;
	return t;
}

/* A dead child nobody reaped yet: it keeps its PID, group, session and exit status. */
static void record_zombie(struct dtask *t, const struct proc_stat *st)
{
	char buf[64] = "";

	if (proc_read_file(t->pid, "comm", buf, sizeof(buf), true) > 0)
		buf[strcspn(buf, "\n")] = 0;
	snprintf(t->comm, sizeof(t->comm), "%.16s", buf);
	t->zombie = true;
	t->exit_code = st->exit_code;
	t->pstree.pid = t->pid;
	t->pstree.pgid = st->pgid;
	t->pstree.sid = st->sid;
	pr_info("%d is a zombie (exit status %#x)", t->pid, st->exit_code);
}

/* Add one child of parent found in its children list; *added when it is new. */
static int add_child(struct dtree *tr, struct dtask *parent, pid_t pid, bool *added)
{
	struct proc_stat st;
	struct dtask *t;
	int ret;

	if (pstree_find(tr, pid))
		return 0;
	ret = proc_read_stat(pid, &st);
	if (ret == -ENOENT)
		return 0;	/* gone (reaped by an autoreaping parent): not in the tree */
	if (ret)
		return ret;
	t = pstree_add(tr, pid, parent->pid, parent->shell_job);
	if (!t)
		return -ENOMEM;
	*added = true;
	if (st.state == 'Z') {
		record_zombie(t, &st);
		return 0;
	}
	ret = seize_check(pid);
	if (!ret)
		ret = seize_task(t);
	if (ret)
		pr_err("cannot dump child %d of %d (see above)", pid, parent->pid);
	return ret;
}

static int scan_thread_children(struct dtree *tr, struct dtask *t, const char *tid,
				bool *added)
{
	size_t n = 0, cap = 0, i;
	pid_t *kids = NULL;
	int ret;

	ret = proc_read_children(t->pid, atoi(tid), false, &kids, &n, &cap);
	for (i = 0; !ret && i < n; i++)
		ret = add_child(tr, t, kids[i], added);
	free(kids);
	return ret;
}

/* Children of every thread of a stopped task. */
static int scan_children(struct dtree *tr, struct dtask *t, bool *added)
{
	char path[64];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	d = opendir(path);
	if (!d) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	while (!ret && (de = readdir(d)))
		if (de->d_name[0] != '.')
			ret = scan_thread_children(tr, t, de->d_name, added);
	closedir(d);
	return ret;
}

int pstree_seize(struct dtree *tr, pid_t root, bool shell_job)
{
	struct dtask *t;
	bool added;
	size_t i;
	int ret, passes = 0;

	ret = seize_check(root);
	if (ret)
		return ret;
	t = pstree_add(tr, root, 0, shell_job);
	if (!t)
		return -ENOMEM;
	ret = seize_task(t);
	/* A stopped task forks no more: a pass that adds nothing means the tree is complete. */
	do {
		added = false;
		passes++;
		for (i = 0; !ret && i < tr->n; i++)
			if (!tr->tasks[i]->zombie)
				ret = scan_children(tr, tr->tasks[i], &added);
	} while (!ret && added);
	if (!ret)
		pr_info("seized %zu tasks under %d in %d passes", tr->n, root, passes);
	return ret ?: share_dump_find(tr);
}

/*
 * What restore can rebuild: a session is the task's own, its parent's, or one whose
 * leader is gone (no task has its PID: a restore helper leads it again).
 */
int pstree_check(struct dtree *tr)
{
	size_t i;

	for (i = 1; i < tr->n; i++) {
		struct dtask *t = tr->tasks[i], *parent = pstree_find(tr, t->pstree.ppid);
		pid_t sid = t->pstree.sid;

		if (!parent || sid == (pid_t)t->pstree.pid || sid == (pid_t)parent->pstree.sid)
			continue;	/* (!parent cannot happen: found through its parent) */
		if (pstree_find(tr, sid) || kill(sid, 0) == 0 || errno != ESRCH ||
		    (t->pstree.pgid != t->pstree.sid && t->pstree.pgid != t->pstree.pid) ||
		    t->files_from || t->fs_from) {
			pr_err("task %d is in session %u, which is neither its own nor its parent "
			       "%d's (%u): supported only when the session's leader is gone (no "
			       "process has PID %u), the task is in the leader's group or its own, "
			       "and shares no fd table or fs", t->pid, sid, parent->pid,
			       parent->pstree.sid, sid);
			return -EOPNOTSUPP;
		}
		pr_info("task %d is in session %u, whose leader is gone", t->pid, sid);
	}
	return share_dump_check(tr);
}

int pstree_release(struct dtree *tr, enum dump_release how)
{
	size_t i;
	int ret = 0, r;

	for (i = 0; i < tr->n; i++) {
		if (tr->tasks[i]->zombie || !tr->tasks[i]->seized)
			continue;
		r = seize_release(tr->tasks[i], how);
		ret = ret ?: r;
	}
	return ret;
}

void pstree_abort(struct dtree *tr)
{
	size_t i;

	for (i = tr->n; i-- > 0;)
		seize_abort(tr->tasks[i]);
}

void pstree_free(struct dtree *tr)
{
	size_t i;

	for (i = 0; i < tr->n; i++) {
		dtask_release(tr->tasks[i]);
		free(tr->tasks[i]);
	}
	free(tr->tasks);
	tr->tasks = NULL;
	tr->n = tr->cap = 0;
}
