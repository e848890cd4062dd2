// SPDX-License-Identifier: MIT
/*
 * Open file descriptions shared between the tasks of a tree, restore side: plans, in the
 * controller, which task opens each description used by several tasks. The objects that
 * must be created together form a group (both ends of a pipe, the descriptions of one
 * FIFO or memfd inode, the master and slaves of one pty, all the sockets of the tree,
 * otherwise one description); its
 * owner is the lowest common ancestor of the tasks using it (through an fd, or a mapping
 * for a memfd). The owner opens the group before it clones its children
 * (rst_files_open_shared()), which inherit the fds through fork; each task then dup()s
 * what it uses and closes the rest before its jump. A pty that a session leader takes
 * as its controlling terminal counts that leader as a user and is always opened so,
 * even by a single task (tty-ctty.c). The owner opens them before its own
 * chroot/chdir (rst_fs_restore()): paths are taken from --root (rst_enter_root()). An
 * epoll used by several tasks is refused (its targets must be the opener's fds).
 * No kernel interface here.
 */
#include <stdlib.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "files.h"
#include "rst.h"
#include "tty.h"
#include "vma.h"

#define NO_TASK (-1)
#define MANY_TASKS (-2)

static bool is_socket(const FileEntry *f)
{
	return f->type == FD_TYPES__UNIXSK || f->type == FD_TYPES__INETSK ||
	       f->type == FD_TYPES__PACKETSK || f->type == FD_TYPES__NETLINKSK;
}

/* Do files a and b belong to one group (created together)? */
static bool same_group(const FileEntry *a, const FileEntry *b)
{
	if (a == b)
		return true;
	if (is_socket(a) && is_socket(b))
		return true;	/* the first socket opened builds every socket (sockets.c) */
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case FD_TYPES__PIPE:
		return a->pipe->pipe_id == b->pipe->pipe_id;
	case FD_TYPES__FIFO:
		return a->fifo->pipe_id == b->fifo->pipe_id;
	case FD_TYPES__MEMFD:
		return a->memfd->inode_id == b->memfd->inode_id;
	case FD_TYPES__TTY:	/* the master and the slaves of one pty (tty.c opens both) */
		return a->tty->tty_info_id >> 1 == b->tty->tty_info_id >> 1;
	default:
		return false;
	}
}

static int depth(const struct rst_tree *tr, int idx)
{
	int d = 0;

	while (tr->tasks[idx].parent >= 0 && d <= (int)tr->nr_tasks) {
		idx = tr->tasks[idx].parent;
		d++;
	}
	return d;
}

int rst_common_ancestor(const struct rst_tree *tr, int a, int b)
{
	int da = depth(tr, a), db = depth(tr, b);

	for (; da > db; da--)
		a = tr->tasks[a].parent;
	for (; db > da; db--)
		b = tr->tasks[b].parent;
	while (a != b) {
		a = tr->tasks[a].parent;
		b = tr->tasks[b].parent;
	}
	return a;
}

static size_t file_index(const struct rst_tree *tr, const FileEntry *f)
{
	size_t k = f->id - 1;	/* the dump writes ids in order */

	if (k < tr->nr_files && tr->files[k] == f)
		return k;
	for (k = 0; k < tr->nr_files; k++)
		if (tr->files[k] == f)
			break;
	return k;
}

static bool grouped(const FileEntry *f)
{
	return f->type == FD_TYPES__PIPE || f->type == FD_TYPES__FIFO ||
	       f->type == FD_TYPES__MEMFD || f->type == FD_TYPES__TTY || is_socket(f);
}

static void add_user(const struct rst_tree *tr, size_t k, int i, int *user, int *anc)
{
	if (k >= tr->nr_files)
		return;
	if (user[k] == NO_TASK)
		user[k] = anc[k] = i;
	else if (user[k] != i)
		user[k] = MANY_TASKS;
	anc[k] = rst_common_ancestor(tr, anc[k], i);
}

/* The memfds t maps: users too (one inode for all the tasks mapping it). */
static void add_mappings(const struct rst_tree *tr, int i, int *user, int *anc)
{
	const struct rst_task *t = &tr->tasks[i];
	const FileEntry *f;
	size_t j;

	for (j = 0; !t->dead && t->mm && j < t->mm->n_vmas; j++) {
		const VmaEntry *v = t->mm->vmas[j];

		if (!(v->status & (VMA_FILE_SHARED | VMA_FILE_PRIVATE)))
			continue;
		f = rst_file_by_id(t, v->fd);
		if (f && f->type == FD_TYPES__MEMFD)
			add_user(tr, file_index(tr, f), i, user, anc);
	}
}

/*
 * Per files[] entry: the one task using it (an fd, or a mapping of a memfd), MANY_TASKS,
 * or NO_TASK; and the common ancestor of its users.
 */
static void find_users(const struct rst_tree *tr, int *user, int *anc)
{
	size_t i, k, j;

	for (k = 0; k < tr->nr_files; k++)
		user[k] = anc[k] = NO_TASK;
	for (i = 0; i < tr->nr_tasks; i++) {
		const struct rst_task *t = &tr->tasks[i];

		for (j = 0; !t->share_files && j < t->nr_fds; j++) /* a shared table: its head's */
			add_user(tr, file_index(tr, t->fds[j].file), i, user, anc);
		add_mappings(tr, i, user, anc);
		if (t->ctty_file >= 0)	/* it sets its controlling terminal through the master */
			add_user(tr, t->ctty_file, i, user, anc);
	}
}

/* Is file k the master of a pty that a session leader takes as its controlling terminal? */
static bool is_ctty(const struct rst_tree *tr, size_t k)
{
	size_t i;

	for (i = 0; i < tr->nr_tasks; i++)
		if (tr->tasks[i].ctty_file == (int)k)
			return true;
	return false;
}

/*
 * The owner of group of file k: the common ancestor of all its users, if more than one;
 * a controlling terminal's group always (its leader needs it before it forks).
 */
static int group_owner(const struct rst_tree *tr, size_t k, const int *user, const int *anc)
{
	int owner = NO_TASK, first = NO_TASK;
	bool many = false;
	size_t j;

	for (j = grouped(tr->files[k]) ? 0 : k; j < tr->nr_files; j++) {
		if (!grouped(tr->files[k]) && j != k)
			break;
		if (user[j] == NO_TASK || !same_group(tr->files[k], tr->files[j]))
			continue;
		if (first == NO_TASK)
			first = user[j];
		many |= user[j] == MANY_TASKS || user[j] != first || is_ctty(tr, j);
		owner = owner == NO_TASK ? anc[j] : rst_common_ancestor(tr, owner, anc[j]);
	}
	return many ? owner : NO_TASK;
}

static int refuse_late(const struct rst_tree *tr, size_t k)
{
	const struct fd_ops *ops = fd_ops_by_type(tr->files[k]->type);

	pr_err("files.img: %s file id %u is used by several tasks: ferry restores a %s in one "
	       "task only", ops->name, tr->files[k]->id, ops->name);
	return -EOPNOTSUPP;
}

int rst_files_plan_shared(struct rst_tree *tr)
{
	int *user = calloc(tr->nr_files + 1, sizeof(int));
	int *anc = calloc(tr->nr_files + 1, sizeof(int));
	size_t k, shared = 0;
	int ret = 0;

	tr->file_owner = calloc(tr->nr_files + 1, sizeof(int));
	tr->shared_fds = calloc(tr->nr_files + 1, sizeof(int));
	if (!user || !anc || !tr->file_owner || !tr->shared_fds) {
		ret = -ENOMEM;
		goto out;
	}
	ret = tty_ctty_plan(tr);
	if (ret)
		goto out;
	find_users(tr, user, anc);
	for (k = 0; !ret && k < tr->nr_files; k++) {
		tr->shared_fds[k] = -1;
		tr->file_owner[k] = group_owner(tr, k, user, anc);
		if (tr->file_owner[k] == NO_TASK)
			continue;
		if (fd_ops_by_type(tr->files[k]->type)->late)
			ret = refuse_late(tr, k);
		shared++;
		pr_debug("file id %u is opened by task %d for its descendants", tr->files[k]->id,
			 tr->tasks[tr->file_owner[k]].pid);
	}
	if (!ret && shared)
		pr_info("%zu open file descriptions are shared between tasks", shared);
out:
	free(user);
	free(anc);
	return ret;
}
