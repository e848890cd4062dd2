// SPDX-License-Identifier: MIT
/*
 * Open files at fixed fd numbers: a read-only file at offset N (reads continue there), an
 * O_APPEND file (writes append), a read-write file at an offset, /dev/null, FD_CLOEXEC on
 * one of them. After restore the fd table is exactly the same, the offsets and flags too.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib.h"

#define FD_RO 17
#define FD_APPEND 23
#define FD_RW 30
#define FD_NULL 40
#define DATA_SIZE 65536
#define RO_OFF 12345
#define RW_OFF 777

struct expect {
	off_t ro_off, rw_off;
	ino_t ro_ino, app_ino, rw_ino;
	int fds[7];
};

static struct expect want = {
	.ro_off = RO_OFF,
	.rw_off = RW_OFF,
	.fds = { 0, 1, 2, FD_RO, FD_APPEND, FD_RW, FD_NULL },
};

static unsigned char data_byte(off_t i)
{
	return (unsigned char)(i * 29 + (i >> 8) + 3);
}

static int open_at(const char *path, int flags, int fdnum)
{
	int fd = open(path, flags, 0644);

	if (fd < 0 || dup2(fd, fdnum) != fdnum)
		return -1;
	close(fd);
	return 0;
}

static ino_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static int setup(void)
{
	unsigned char *buf = malloc(DATA_SIZE);
	int fd, i;

	for (i = 0; i < DATA_SIZE; i++)
		buf[i] = data_byte(i);
	fd = open("fo.data", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, DATA_SIZE) != DATA_SIZE || close(fd))
		return -1;
	fd = open("fo.rw", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, 4096) != 4096 || close(fd))
		return -1;
	free(buf);
	if (open_at("fo.data", O_RDONLY, FD_RO) || open_at("fo.append", O_WRONLY | O_CREAT |
			O_TRUNC | O_APPEND, FD_APPEND) || open_at("fo.rw", O_RDWR, FD_RW) ||
	    open_at("/dev/null", O_WRONLY, FD_NULL))
		return -1;
	if (lseek(FD_RO, RO_OFF, SEEK_SET) != RO_OFF || lseek(FD_RW, RW_OFF, SEEK_SET) != RW_OFF)
		return -1;
	if (write(FD_APPEND, "first\n", 6) != 6)
		return -1;
	/* an lseek to 0 must not matter for O_APPEND writes */
	lseek(FD_APPEND, 0, SEEK_SET);
	if (fcntl(FD_RO, F_SETFD, FD_CLOEXEC))
		return -1;
	want.ro_ino = ino_of(FD_RO);
	want.app_ino = ino_of(FD_APPEND);
	want.rw_ino = ino_of(FD_RW);
	return 0;
}

static void check_fd_table(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int seen[7] = { 0 }, i;

	if (!d) {
		zt_fail("opendir /proc/self/fd: %m");
		return;
	}
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name), known = 0;

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		for (i = 0; i < 7; i++) {
			if (want.fds[i] == fd) {
				seen[i] = known = 1;
			}
		}
		if (!known) {
			char path[64], target[256];
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			n = readlink(path, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = 0;
			zt_fail("unexpected fd %d open (%s)", fd, target);
		}
	}
	closedir(d);
	for (i = 0; i < 7; i++)
		zt_check(seen[i], "fd %d is not open", want.fds[i]);
}

static void check_files(void)
{
	unsigned char buf[100];
	char text[64] = "";
	struct stat st;
	int i, fd, n;

	check_fd_table();
	zt_check(fcntl(FD_RO, F_GETFD) == FD_CLOEXEC, "fd %d has lost FD_CLOEXEC", FD_RO);
	zt_check(fcntl(FD_APPEND, F_GETFD) == 0, "fd %d has gained FD_CLOEXEC", FD_APPEND);
	zt_check((fcntl(FD_RO, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd %d is not O_RDONLY", FD_RO);
	zt_check((fcntl(FD_RW, F_GETFL) & O_ACCMODE) == O_RDWR, "fd %d is not O_RDWR", FD_RW);
	zt_check(fcntl(FD_APPEND, F_GETFL) & O_APPEND, "fd %d lost O_APPEND", FD_APPEND);
	zt_check(ino_of(FD_RO) == want.ro_ino, "fd %d is another file", FD_RO);
	zt_check(ino_of(FD_APPEND) == want.app_ino, "fd %d is another file", FD_APPEND);
	zt_check(ino_of(FD_RW) == want.rw_ino, "fd %d is another file", FD_RW);
	zt_check(!fstat(FD_NULL, &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
		 "fd %d is not /dev/null", FD_NULL);

	zt_check(lseek(FD_RO, 0, SEEK_CUR) == want.ro_off, "fd %d offset is %ld, expected %ld",
		 FD_RO, (long)lseek(FD_RO, 0, SEEK_CUR), (long)want.ro_off);
	n = read(FD_RO, buf, sizeof(buf));
	zt_check(n == (int)sizeof(buf), "read at the offset returned %d", n);
	for (i = 0; i < n; i++) {
		if (buf[i] != data_byte(RO_OFF + i)) {
			zt_fail("byte %d read at the offset is 0x%02x, expected 0x%02x", i, buf[i],
				data_byte(RO_OFF + i));
			break;
		}
	}

	zt_check(lseek(FD_RW, 0, SEEK_CUR) == want.rw_off, "fd %d offset is %ld, expected %ld",
		 FD_RW, (long)lseek(FD_RW, 0, SEEK_CUR), (long)want.rw_off);
	zt_check(write(FD_RW, "XY", 2) == 2, "write to fd %d: %m", FD_RW);
	zt_check(pread(FD_RW, buf, 4, RW_OFF - 1) == 4 && buf[0] == data_byte(RW_OFF - 1) &&
		 !memcmp(buf + 1, "XY", 2) && buf[3] == data_byte(RW_OFF + 2),
		 "the write did not land at offset %d", RW_OFF);

	zt_check(write(FD_APPEND, "second\n", 7) == 7, "write to fd %d: %m", FD_APPEND);
	fd = open("fo.append", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = 0;
	zt_check(!strcmp(text, "first\nsecond\n"), "fo.append holds \"%s\"", text);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_expose(&want, sizeof(want.ro_off));
	zt_ready();
	zt_wait();
	check_files();
	return zt_result();
}
