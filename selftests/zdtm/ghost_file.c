// SPDX-License-Identifier: MIT
/*
 * A 512 KiB file open twice (fd 90 read-write at offset 1000, fd 91 read-only) and then
 * unlinked. After restore both fds are one unlinked inode again (st_nlink 0, same inode),
 * with the whole contents, fd 90's offset and flags, and no file left at the old path.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

#define FD_RW 90
#define FD_RO 91
#define SIZE (512 * 1024)

struct expect {
	off_t size;
	off_t pos;
	uint64_t seed;
};

static struct expect want = { SIZE, 1000, 77 };

static unsigned char byte_at(off_t i)
{
	return (unsigned char)zt_mix(want.seed + i / 8) ^ (unsigned char)i;
}

static int setup(void)
{
	unsigned char *buf = malloc(SIZE);
	int fd, i;

	for (i = 0; i < SIZE; i++)
		buf[i] = byte_at(i);
	fd = open("gh.data", O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, buf, SIZE) != SIZE || dup2(fd, FD_RW) != FD_RW || close(fd))
		return -1;
	fd = open("gh.data", O_RDONLY);
	if (fd < 0 || dup2(fd, FD_RO) != FD_RO || close(fd))
		return -1;
	free(buf);
	if (lseek(FD_RW, want.pos, SEEK_SET) != want.pos)
		return -1;
	return unlink("gh.data");
}

static void check(void)
{
	unsigned char *buf = malloc(SIZE);
	struct stat a, b;
	off_t i;

	zt_check(!fstat(FD_RW, &a) && !fstat(FD_RO, &b), "fstat: %m");
	zt_check(a.st_nlink == 0 && S_ISREG(a.st_mode), "fd %d is not an unlinked file (nlink %lu)",
		 FD_RW, (unsigned long)a.st_nlink);
	zt_check(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "fds %d and %d are two files",
		 FD_RW, FD_RO);
	zt_check(a.st_size == want.size, "size is %lld, expected %lld", (long long)a.st_size,
		 (long long)want.size);
	zt_check((a.st_mode & 07777) == 0640, "mode is %o", a.st_mode & 07777);
	zt_check(access("gh.data", F_OK) != 0, "gh.data exists again");
	zt_check(lseek(FD_RW, 0, SEEK_CUR) == want.pos, "offset is %lld",
		 (long long)lseek(FD_RW, 0, SEEK_CUR));
	zt_check((fcntl(FD_RW, F_GETFL) & O_ACCMODE) == O_RDWR, "fd %d is not O_RDWR", FD_RW);
	zt_check((fcntl(FD_RO, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd %d is not O_RDONLY", FD_RO);
	zt_check(pread(FD_RO, buf, SIZE, 0) == SIZE, "short read of the contents");
	for (i = 0; i < SIZE; i++)
		if (buf[i] != byte_at(i)) {
			zt_fail("byte %lld is 0x%02x, expected 0x%02x", (long long)i, buf[i],
				byte_at(i));
			break;
		}
	zt_check(write(FD_RW, "GHOST", 5) == 5 && pread(FD_RO, buf, 5, want.pos) == 5 &&
		 !memcmp(buf, "GHOST", 5), "a write through fd %d is not seen through fd %d",
		 FD_RW, FD_RO);
	free(buf);
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
