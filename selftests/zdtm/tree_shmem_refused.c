// SPDX-License-Identifier: MIT
/*
 * A MAP_SHARED|MAP_ANONYMOUS area inherited through fork, so shared by parent and child:
 * ferry cannot restore memory shared between processes yet and must refuse the dump,
 * leaving both running as they were (the runner checks; each task checks its area).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

#define SIZE (4 * 4096)

static uint64_t *area;

static int child(void *arg)
{
	zt_task_ready();
	zt_wait();
	zt_check(area[1] == zt_mix(1), "the shared area changed");
	return zt_result();
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	area = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		zt_fail("mmap: %m");
		return zt_result();
	}
	area[1] = zt_mix(1);
	zt_fork(child, NULL);
	zt_expect_dump_failure();
	zt_expose(area, 64);
	zt_ready();
	zt_wait();
	zt_check(area[1] == zt_mix(1), "the shared area changed");
	zt_collect();
	return zt_result();
}
