// SPDX-License-Identifier: MIT
/*
 * Shared anonymous memory between the tasks of a tree, restore side. A MAP_SHARED|
 * MAP_ANONYMOUS object mapped by several tasks (inherited through fork) becomes one
 * memfd, created by the lowest common ancestor of those tasks before it creates its
 * children, which inherit it; each task maps it where it had the object (rst-mem.c).
 * Its pages are in the pagemaps of the tasks that dumped them (each page once, vma.c):
 * each fills its own part, and the restore barrier (detach_all()) lets no task run
 * before all are filled. Kernel interfaces: memfd_create, ftruncate.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "rst.h"
#include "vma.h"

#define SHMEM_SIZE_MAX (1ULL << 40)

static struct rst_shmem *find(struct rst_tree *tr, uint64_t shmid)
{
	size_t i;

	for (i = 0; i < tr->nr_shmems; i++)
		if (tr->shmems[i].shmid == shmid)
			return &tr->shmems[i];
	return NULL;
}

static int add_area(struct rst_tree *tr, int idx, const VmaEntry *v)
{
	uint64_t end = v->pgoff + (v->end - v->start);
	struct rst_shmem *s = find(tr, v->shmid), *more;

	if (end < v->pgoff || end > SHMEM_SIZE_MAX) {
		pr_err("mm-%u.img: shared anonymous object %#lx would span %#lx bytes",
		       tr->tasks[idx].pid, (unsigned long)v->shmid, (unsigned long)end);
		return -EINVAL;
	}
	if (!s) {
		more = realloc(tr->shmems, (tr->nr_shmems + 1) * sizeof(*more));
		if (!more)
			return -ENOMEM;
		tr->shmems = more;
		s = &tr->shmems[tr->nr_shmems++];
		*s = (struct rst_shmem){.shmid = v->shmid, .owner = idx, .first = idx, .fd = -1};
	}
	if (s->first != idx)
		s->many = true;
	s->owner = rst_common_ancestor(tr, s->owner, idx);
	if (end > s->size)
		s->size = end;
	return 0;
}

/* In the controller: which objects several tasks map, how large, who creates them. */
int rst_shmem_plan(struct rst_tree *tr)
{
	size_t i, j, shared = 0;
	int ret = 0;

	for (i = 0; !ret && i < tr->nr_tasks; i++) {
		const struct rst_task *t = &tr->tasks[i];

		for (j = 0; !ret && !t->dead && t->mm && j < t->mm->n_vmas; j++)
			if (t->mm->vmas[j]->status & VMA_ANON_SHARED)
				ret = add_area(tr, i, t->mm->vmas[j]);
	}
	for (i = 0; i < tr->nr_shmems; i++)
		shared += tr->shmems[i].many;
	if (!ret && shared)
		pr_info("%zu shared anonymous objects are mapped by several tasks", shared);
	return ret;
}

/* Before the task creates its children: the objects it creates for them (and itself). */
int rst_shmem_open_shared(struct rst_task *t)
{
	struct rst_tree *tr = t->tree;
	int idx = t - tr->tasks, fd;
	size_t i;

	for (i = 0; i < tr->nr_shmems; i++) {
		struct rst_shmem *s = &tr->shmems[i];

		if (!s->many || s->owner != idx)
			continue;
		fd = memfd_create("ferry-shmem", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, s->size)) {
			pr_perror("cannot create the shared anonymous object %#lx (%lu bytes)",
				  (unsigned long)s->shmid, (unsigned long)s->size);
			goto fail;
		}
		/* above every target fd of the task: its descendants close what they do
		 * not use before their jump (close_ferry_fds()) */
		s->fd = fcntl(fd, F_DUPFD_CLOEXEC, t->max_fd + 1);
		if (s->fd < 0) {
			pr_perror("cannot move the shared anonymous object %#lx above fd %d",
				  (unsigned long)s->shmid, t->max_fd);
			goto fail;
		}
		close(fd);
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -errno;
}

int rst_shmem_fd(const struct rst_task *t, uint64_t shmid)
{
	struct rst_shmem *s = t->tree ? find(t->tree, shmid) : NULL;

	return s && s->many ? s->fd : -1;
}
