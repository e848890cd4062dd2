// SPDX-License-Identifier: MIT
/*
 * MAP_SHARED|MAP_ANONYMOUS memory inherited through fork. Area a (16 pages) is shared
 * by the root and its first child: each writes its half before the dump. Area b is
 * mapped by both children but unmapped by the root after the forks (the object's owner
 * in the restore maps it not). After restore every task checks all the contents it
 * sees; then the root writes a token into a, which the child must see, and the child
 * one back, which the root must see: the tasks share one object again, not copies.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

#define PAGE 4096
#define A_PAGES 16
#define B_PAGES 4
#define WORDS (PAGE / 8)

static uint64_t *a, *b;

static uint64_t word(int area, int page, int i)
{
	return zt_mix(area * 100000 + page * WORDS + i);
}

static void fill(uint64_t *p, int area, int first, int last)
{
	for (int pg = first; pg < last; pg++)
		for (int i = 2; i < WORDS; i++)
			p[pg * WORDS + i] = word(area, pg, i);
}

static void check(const uint64_t *p, int area, int pages, const char *who)
{
	int bad = -1;

	for (int pg = 0; pg < pages && bad < 0; pg++)
		for (int i = 2; i < WORDS && bad < 0; i++)
			if (p[pg * WORDS + i] != word(area, pg, i))
				bad = pg;
	zt_check(bad < 0, "%s: area %c page %d lost its contents", who, 'a' + area, bad);
}

static int first_child(void *arg)
{
	fill(a, 0, A_PAGES / 2, A_PAGES);
	fill(b, 1, 0, B_PAGES / 2);
	zt_task_ready();
	zt_wait();
	check(a, 0, A_PAGES, "child 1");
	check(b, 1, B_PAGES, "child 1");
	/* the root wrote its token before passing SIGTERM on to us */
	zt_check(a[1] == zt_mix(11), "the root's write after restore is not in our area a");
	a[A_PAGES * WORDS - 1] = zt_mix(12);
	return zt_result();
}

static int second_child(void *arg)
{
	fill(b, 1, B_PAGES / 2, B_PAGES);
	zt_task_ready();
	zt_wait();
	check(b, 1, B_PAGES, "child 2");
	return zt_result();
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	a = mmap(NULL, A_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, B_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		zt_fail("mmap: %m");
		return zt_result();
	}
	fill(a, 0, 0, A_PAGES / 2);
	zt_fork(first_child, NULL);
	zt_fork(second_child, NULL);
	munmap(b, B_PAGES * PAGE);
	zt_expose(a + 2, 64);
	zt_ready();
	zt_wait();
	check(a, 0, A_PAGES, "root");
	a[1] = zt_mix(11);
	zt_collect();
	zt_check(a[A_PAGES * WORDS - 1] == zt_mix(12),
		 "the child's write after restore is not in our area a");
	return zt_result();
}
