// SPDX-License-Identifier: MIT
/*
 * Memory for a task being dumped: a list of zeroed blocks freed all at once, so that the
 * many small protobuf messages of a dump need no individual cleanup.
 */
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "dump: "
#include "log.h"
#include "dtask.h"

struct arena_blk {
	struct arena_blk *next;
	max_align_t data[];
};

void dtask_init(struct dtask *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	core_entry__init(&t->core);
	task_core_entry__init(&t->tc);
	thread_core_entry__init(&t->thc);
	task_kobj_ids_entry__init(&t->ids);
	mm_entry__init(&t->mm);
	fs_entry__init(&t->fs);
	pstree_entry__init(&t->pstree);
}

void *dtask_alloc(struct dtask *t, size_t size)
{
	struct arena_blk *b = calloc(1, sizeof(*b) + size);

	if (!b) {
		pr_err("out of memory (%zu bytes) dumping %d", size, t->pid);
		return NULL;
	}
	b->next = t->arena;
	t->arena = b;
	return b->data;
}

int dtask_grow(struct dtask *t, void *arrayp, size_t n, size_t *cap, size_t size)
{
	void **array = arrayp;
	void *bigger;

	if (n < *cap)
		return 0;
	bigger = dtask_alloc(t, (*cap * 2 + 8) * size);
	if (!bigger)
		return -ENOMEM;
	if (n)
		memcpy(bigger, *array, n * size);
	*array = bigger;
	*cap = *cap * 2 + 8;
	return 0;
}

char *dtask_strdup(struct dtask *t, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = dtask_alloc(t, len);

	if (p)
		memcpy(p, s, len);
	return p;
}

void dtask_release(struct dtask *t)
{
	while (t->arena) {
		struct arena_blk *b = t->arena;

		t->arena = b->next;
		free(b);
	}
	free(t->runs);
	t->runs = NULL;
}
