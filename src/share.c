// SPDX-License-Identifier: MIT
/*
 * Fd tables and fs structs shared between processes (CLONE_FILES, CLONE_FS), both halves.
 * Dump: kcmp(KCMP_FILES / KCMP_FS / KCMP_VM) against the tasks seen before, kept sorted
 * by kcmp's order; a child sharing with its parent gets its parent's ids-PID.img
 * files_id / fs_id, any other sharing (siblings, a grandparent, CLONE_VM) is refused
 * while the tree is still untouched. Restore: the ids are validated, the child is cloned
 * with CLONE_FILES / CLONE_FS, and the head of a table restores it once, after the
 * controller brought its other users to the final barrier (a futex in shared memory).
 */
#include <limits.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LOG_PREFIX "share: "
#include "log.h"
#include "kcmp.h"
#include "pstree.h"
#include "rst.h"
#include "share.h"

/* ---- dump ------------------------------------------------------------------------------ */

struct kind {
	int kcmp;
	const char *what;
	const char *flag;
};

static const struct kind kinds[] = {
	{ KCMP_FILES, "fd table", "CLONE_FILES" },
	{ KCMP_FS, "cwd, root and umask", "CLONE_FS" },
	{ KCMP_VM, "memory", "CLONE_VM" },
};

static uint32_t *kind_id(TaskKobjIdsEntry *ids, int kcmp)
{
	return kcmp == KCMP_FILES ? &ids->files_id : kcmp == KCMP_FS ? &ids->fs_id : &ids->vm_id;
}

static struct dtask *parent_of(struct dtree *tr, const struct dtask *t)
{
	size_t i;

	for (i = 0; i < t->idx; i++)
		if (tr->tasks[i]->pid == (pid_t)t->pstree.ppid)
			return tr->tasks[i];
	return NULL;
}

/*
 * Find t's object among reps[0..*n) (one task per distinct object, in kcmp's order):
 * *found the task holding it, or NULL after inserting t.
 */
static int lookup(struct dtask **reps, size_t *n, struct dtask *t, const struct kind *k,
		  struct dtask **found)
{
	size_t lo = 0, hi = *n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = kcmp_order(reps[mid]->pid, t->pid, k->kcmp, 0, 0);

		if (r == 0) {
			*found = reps[mid];
			return 0;
		}
		if (r < 0 || r > 2) {
			errno = r < 0 ? -r : EIO;
			pr_perror("cannot compare the %s of processes %d and %d (kcmp)", k->what,
				  reps[mid]->pid, t->pid);
			return -errno;
		}
		if (r == 1)	/* reps[mid] orders before t */
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(reps + lo + 1, reps + lo, (*n - lo) * sizeof(*reps));
	reps[lo] = t;
	(*n)++;
	*found = NULL;
	return 0;
}

/* t shares k's object with the earlier task o: take its id if o is t's parent's. */
static int adopt(struct dtree *tr, struct dtask *t, struct dtask *o, const struct kind *k)
{
	struct dtask *parent = parent_of(tr, t);
	uint32_t id = *kind_id(&o->ids, k->kcmp);

	if (k->kcmp == KCMP_VM) {
		pr_err("process %d shares its memory with process %d (CLONE_VM, e.g. vfork): not "
		       "supported", t->pid, o->pid);
		return -EOPNOTSUPP;
	}
	if (!parent || *kind_id(&parent->ids, k->kcmp) != id) {
		pr_err("process %d shares its %s with process %d (%s), which is neither its parent "
		       "%d nor sharing it with that parent: ferry restores a shared %s only "
		       "between a parent and its child", t->pid, k->what, o->pid, k->flag,
		       t->pstree.ppid, k->what);
		return -EOPNOTSUPP;
	}
	*kind_id(&t->ids, k->kcmp) = id;
	if (k->kcmp == KCMP_FILES)
		t->files_from = parent;
	else
		t->fs_from = parent;
	pr_info("process %d shares its %s with its parent %d (%s)", t->pid, k->what, parent->pid,
		k->flag);
	return 0;
}

static int find_kind(struct dtree *tr, const struct kind *k, struct dtask **reps)
{
	size_t i, n = 0;
	int ret = 0;

	for (i = 0; !ret && i < tr->n; i++) {
		struct dtask *t = tr->tasks[i], *o = NULL;

		if (t->zombie)
			continue;
		ret = lookup(reps, &n, t, k, &o);
		if (!ret && o)
			ret = adopt(tr, t, o, k);
	}
	return ret;
}

int share_dump_find(struct dtree *tr)
{
	struct dtask **reps = calloc(tr->n + 1, sizeof(*reps));
	size_t k;
	int ret = 0;

	if (!reps)
		return -ENOMEM;
	for (k = 0; !ret && k < sizeof(kinds) / sizeof(kinds[0]); k++)
		ret = find_kind(tr, &kinds[k], reps);
	free(reps);
	return ret;
}

/* A shared fs is restored by the parent while its child runs: no chroot (paths move). */
int share_dump_check(struct dtree *tr)
{
	size_t i;

	for (i = 0; i < tr->n; i++) {
		struct dtask *t = tr->tasks[i];
		const FileEntry *root;

		if (!t->fs_from)
			continue;
		root = t->fx->files[t->fs.root_id - 1].fe;
		if (root->reg && strcmp(root->reg->name, "/")) {
			pr_err("process %d shares its root %s with its parent %d (CLONE_FS): a shared "
			       "fs under a chroot is not supported", t->pid, root->reg->name,
			       t->fs_from->pid);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* ---- restore ---------------------------------------------------------------------------- */

static int refuse_id(const struct rst_task *t, const struct rst_task *o, const char *name)
{
	pr_err("ids-%u.img at offset %llu: process %u has %s %u, which process %u has too "
	       "without being its parent %u or sharing it with that parent: only a parent and "
	       "its child may share one", t->pid, (unsigned long long)t->ids_off, t->pid, name,
	       !strcmp(name, "files_id") ? t->ids->files_id : t->ids->fs_id, o->pid,
	       t->pst->ppid);
	return -EINVAL;
}

/*
 * Two tasks with one files_id / fs_id must be linked by parents sharing it: one head per
 * id. No two tasks may have one vm_id.
 */
static int check_heads(struct rst_tree *tr)
{
	size_t i, k;

	for (i = 0; i < tr->nr_tasks; i++) {
		struct rst_task *t = &tr->tasks[i];

		for (k = 0; !t->dead && k < i; k++) {
			struct rst_task *o = &tr->tasks[k];

			if (o->dead)
				continue;
			if (!t->share_files && o->ids->files_id == t->ids->files_id)
				return refuse_id(t, o, "files_id");
			if (!t->share_fs && o->ids->fs_id == t->ids->fs_id)
				return refuse_id(t, o, "fs_id");
			if (o->ids->vm_id == t->ids->vm_id) {
				pr_err("ids-%u.img at offset %llu: vm_id %u is also process %u's: "
				       "memory shared between processes (CLONE_VM) is not supported",
				       t->pid, (unsigned long long)t->ids_off, t->ids->vm_id, o->pid);
				return -EOPNOTSUPP;
			}
		}
	}
	return 0;
}

/* A child sharing its parent's fs: the same fs-PID.img, no chroot. */
static int check_fs(const struct rst_task *t, const struct rst_task *p)
{
	const FileEntry *root = rst_file_by_id(t, t->fs->root_id);

	if (t->fs->cwd_id != p->fs->cwd_id || t->fs->root_id != p->fs->root_id ||
	    t->fs->has_umask != p->fs->has_umask || t->fs->umask != p->fs->umask) {
		pr_err("fs-%u.img differs from fs-%u.img, though fs_id %u says they are one", t->pid,
		       p->pid, t->ids->fs_id);
		return -EINVAL;
	}
	if (strcmp(root->reg->name, "/")) {
		pr_err("fs-%u.img: a shared fs (fs_id %u) under the chroot %s is not supported",
		       t->pid, t->ids->fs_id, root->reg->name);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int plan_task(struct rst_tree *tr, struct rst_task *t)
{
	struct rst_task *p;

	t->files_head = t - tr->tasks;
	if (t->parent < 0 || t->dead)
		return 0;
	p = &tr->tasks[t->parent];
	t->share_files = p->ids->files_id == t->ids->files_id;
	t->share_fs = p->ids->fs_id == t->ids->fs_id;
	if (t->share_files) {
		t->files_head = p->files_head;
		tr->tasks[t->files_head].nr_sharers++;
		pr_info("process %u shares the fd table of its parent %u", t->pid, p->pid);
	}
	if (t->share_files && t->nr_locks) {
		pr_err("file-locks.img: a lock names process %u, which shares the fd table of %u: "
		       "the locks of a shared table are its first task's", t->pid,
		       tr->tasks[t->files_head].pid);
		return -EINVAL;
	}
	if (t->share_fs) {
		p->fs_early = true;
		pr_info("process %u shares cwd, root and umask with its parent %u", t->pid, p->pid);
		return check_fs(t, p);
	}
	return 0;
}

int share_rst_plan(struct rst_tree *tr)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < tr->nr_tasks; i++)
		ret = plan_task(tr, &tr->tasks[i]);
	return ret ?: check_heads(tr);
}

uint64_t share_clone_flags(const struct rst_task *t)
{
	return (t->share_files ? CLONE_FILES : 0) | (t->share_fs ? CLONE_FS : 0);
}

int share_rst_gates_init(struct rst_tree *tr)
{
	size_t i, len = (tr->nr_tasks * sizeof(int) + RST_PAGE - 1) & ~(RST_PAGE - 1);
	void *p;

	for (i = 0; i < tr->nr_tasks && !tr->tasks[i].nr_sharers; i++)
		;
	if (i == tr->nr_tasks)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		pr_perror("cannot map the gates of the shared fd tables");
		return -errno;
	}
	tr->gates = p;
	tr->gates_len = len;
	return 0;
}

void share_rst_gates_free(struct rst_tree *tr)
{
	if (tr->gates)
		munmap(tr->gates, tr->gates_len);
	tr->gates = NULL;
}

int share_rst_wait(struct rst_task *t)
{
	int *gate;

	if (!t->nr_sharers)
		return 0;
	gate = &t->tree->gates[t - t->tree->tasks];
	pr_debug("%u waits for the %u other tasks of its fd table", t->pid, t->nr_sharers);
	while (!__atomic_load_n(gate, __ATOMIC_ACQUIRE))
		if (syscall(SYS_futex, gate, FUTEX_WAIT, 0, NULL, NULL, 0) && errno != EAGAIN &&
		    errno != EINTR) {
			pr_perror("task %u cannot wait for the tasks sharing its fd table", t->pid);
			return -errno;
		}
	return 0;
}

void share_rst_release(struct rst_tree *tr, int idx)
{
	int *gate;

	if (!tr->gates || !tr->tasks[idx].nr_sharers)
		return;
	gate = &tr->gates[idx];
	__atomic_store_n(gate, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, gate, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
