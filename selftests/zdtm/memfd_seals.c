// SPDX-License-Identifier: MIT
/*
 * memfds: "zt-sealed" (80 KiB: 3 pages of data, a hole, a last page; sealed against
 * shrink, grow and write) open read-write at offset 123 on fd 110 and read-only on fd 111
 * (a second description); "zt-plain" without MFD_ALLOW_SEALING on fd 112. After restore:
 * names, sizes, contents (hole still zero), seals, flags and offsets are the same, both
 * descriptions share one inode, the seals still refuse writes, the plain one takes writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

#define SIZE (80 * 1024)
#define PAGE 4096

struct expect {
	int seals;
	off_t size;
	off_t pos;
	uint64_t seed;
};

static struct expect want = { F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, SIZE, 123, 5 };

static unsigned char byte_at(off_t i)
{
	if (i >= 3 * PAGE && i < SIZE - PAGE)
		return 0;
	return (unsigned char)zt_mix(want.seed + i);
}

static int setup(void)
{
	static unsigned char buf[SIZE];
	int a = memfd_create("zt-sealed", MFD_ALLOW_SEALING), b = memfd_create("zt-plain", 0);
	char link[64];
	int i, ro;

	for (i = 0; i < SIZE; i++)
		buf[i] = byte_at(i);
	if (a < 0 || b < 0 || ftruncate(a, SIZE) || pwrite(a, buf, 3 * PAGE, 0) != 3 * PAGE ||
	    pwrite(a, buf + SIZE - PAGE, PAGE, SIZE - PAGE) != PAGE)
		return -1;
	if (fcntl(a, F_ADD_SEALS, want.seals) || lseek(a, want.pos, SEEK_SET) != want.pos)
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", a);
	ro = open(link, O_RDONLY);
	if (ro < 0 || dup2(a, 110) != 110 || dup2(ro, 111) != 111 || dup2(b, 112) != 112)
		return -1;
	close(a), close(b), close(ro);
	return write(112, "plain", 5) == 5 ? 0 : -1;
}

static void check_name(int fd, const char *name)
{
	char link[64], target[128];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	zt_check(!strncmp(target, "/memfd:", 7) && !strncmp(target + 7, name, strlen(name)),
		 "fd %d is '%s', expected memfd %s", fd, target, name);
}

static void check(void)
{
	static unsigned char buf[SIZE];
	struct stat a, b;
	char text[8] = "";
	int i;

	check_name(110, "zt-sealed");
	check_name(112, "zt-plain");
	zt_check(fcntl(110, F_GET_SEALS) == want.seals, "seals are %#x, expected %#x",
		 fcntl(110, F_GET_SEALS), want.seals);
	zt_check(fcntl(112, F_GET_SEALS) == F_SEAL_SEAL, "the plain memfd has seals %#x",
		 fcntl(112, F_GET_SEALS));
	zt_check(!fstat(110, &a) && !fstat(111, &b) && a.st_ino == b.st_ino,
		 "fds 110 and 111 are two memfds");
	zt_check(a.st_size == want.size, "size %lld", (long long)a.st_size);
	zt_check(lseek(110, 0, SEEK_CUR) == want.pos, "offset %lld", (long long)lseek(110, 0, SEEK_CUR));
	zt_check((fcntl(111, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd 111 is not read-only");
	zt_check(pread(111, buf, SIZE, 0) == SIZE, "short read");
	for (i = 0; i < SIZE; i++)
		if (buf[i] != byte_at(i)) {
			zt_fail("byte %d is 0x%02x, expected 0x%02x", i, buf[i], byte_at(i));
			break;
		}
	zt_check(pwrite(110, "x", 1, 0) < 0 && errno == EPERM, "a write got past F_SEAL_WRITE");
	zt_check(ftruncate(110, 4096) < 0 && errno == EPERM, "a shrink got past F_SEAL_SHRINK");
	zt_check(pread(112, text, 5, 0) == 5 && !memcmp(text, "plain", 5) &&
		 pwrite(112, "P", 1, 0) == 1, "the plain memfd lost its data or refuses writes");
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();
	check();
	return zt_result();
}
