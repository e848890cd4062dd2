// SPDX-License-Identifier: MIT
/*
 * Shared memory through memfds: "zt-fd" (fd 120 kept) and "zt-maponly" (fd closed) are
 * each mapped MAP_SHARED twice, written through the first mapping before the dump. After
 * restore the second mapping (and the fd) show that data, and a write through the first
 * mapping after restore shows through the second and through the fd: one shared object.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

#define SIZE (64 * 1024)

struct expect {
	uint64_t seed;
};

static struct expect want = { 99 };
static unsigned char *map[2][2];

static unsigned char byte_at(int obj, int i)
{
	return (unsigned char)zt_mix(want.seed + obj * SIZE + i);
}

static int map_twice(const char *name, int obj)
{
	int fd = memfd_create(name, 0), i, j;

	if (fd < 0 || ftruncate(fd, SIZE))
		return -1;
	for (j = 0; j < 2; j++) {
		map[obj][j] = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map[obj][j] == MAP_FAILED)
			return -1;
	}
	for (i = 0; i < SIZE; i++)
		map[obj][0][i] = byte_at(obj, i);
	if (obj == 0)
		return dup2(fd, 120) == 120 && !close(fd) ? 0 : -1;
	return close(fd);
}

static void check_obj(int obj)
{
	unsigned char buf[16];
	int i;

	for (i = 0; i < SIZE; i++)
		if (map[obj][1][i] != byte_at(obj, i)) {
			zt_fail("object %d: byte %d of the second mapping is 0x%02x, expected 0x%02x",
				obj, i, map[obj][1][i], byte_at(obj, i));
			break;
		}
	memcpy(map[obj][0] + 4096, "after restore", 13);
	zt_check(!memcmp(map[obj][1] + 4096, "after restore", 13),
		 "object %d: a write through one mapping is not seen through the other", obj);
	if (obj == 0)
		zt_check(pread(120, buf, 13, 4096) == 13 && !memcmp(buf, "after restore", 13),
			 "a write through the mapping is not seen through fd 120");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (map_twice("zt-fd", 0) || map_twice("zt-maponly", 1)) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check_obj(0);
	check_obj(1);
	return zt_result();
}
