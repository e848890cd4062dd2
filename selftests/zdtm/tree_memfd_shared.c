// SPDX-License-Identifier: MIT
/*
 * A memfd shared by parent and child: the root keeps its fd (10) and a MAP_SHARED
 * mapping, the child only the mapping (inherited through fork, fd closed). After restore
 * both map one inode again: the child writes a word into its mapping, the root reads it
 * through its own mapping and through its fd; the contents saved at dump are intact.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

#define FD_MEMFD 10
#define SIZE (16 * 4096)
#define WORD_AT 5000

static uint64_t seed = 0x5eed; /* exposed */
static uint64_t *area;

static int contents_ok(void)
{
	size_t i;

	for (i = 0; i < SIZE / 8; i++)
		if (i != WORD_AT && area[i] != zt_mix(seed + i))
			return 0;
	return 1;
}

static int child(void *arg)
{
	close(FD_MEMFD);
	zt_task_ready();
	zt_wait();
	zt_check(contents_ok(), "the child's mapping lost the memfd's contents");
	area[WORD_AT] = 0xc0ffee;
	return zt_result();
}

int main(int argc, char **argv)
{
	uint64_t word = 0;
	size_t i;
	int fd;

	zt_init(argc, argv);
	fd = memfd_create("tree_memfd_shared", 0);
	if (fd < 0 || dup2(fd, FD_MEMFD) != FD_MEMFD || close(fd) || ftruncate(FD_MEMFD, SIZE)) {
		zt_fail("memfd: %m");
		return zt_result();
	}
	area = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FD_MEMFD, 0);
	if (area == MAP_FAILED) {
		zt_fail("mmap: %m");
		return zt_result();
	}
	for (i = 0; i < SIZE / 8; i++)
		area[i] = zt_mix(seed + i);
	zt_fork(child, NULL);
	zt_expose(&seed, sizeof(seed));
	zt_ready();
	zt_wait();
	zt_check(contents_ok(), "the root's mapping lost the memfd's contents");
	zt_collect();
	zt_check(area[WORD_AT] == 0xc0ffee, "the child's write did not show in the root's "
		 "mapping (%#llx): two memfds", (unsigned long long)area[WORD_AT]);
	zt_check(pread(FD_MEMFD, &word, 8, WORD_AT * 8) == 8 && word == 0xc0ffee,
		 "the child's write did not show through the root's fd");
	return zt_result();
}
