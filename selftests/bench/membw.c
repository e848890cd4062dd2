// SPDX-License-Identifier: MIT
/*
 * membw: the copy limits a dump or restore of SIZE MiB is measured against, on this machine
 * in this run: memcpy into touched memory, memcpy into fresh mappings (page faults included),
 * write(2) into a new file on the tmpfs at DIR, and read(2) from it into fresh memory.
 * Usage: membw SIZE_MIB DIR [REPEAT]. Prints "name median_GB/s best_GB/s" lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define CHUNK (64UL << 20)
#define MAX_REPEAT 32

struct ctx {
	size_t size;
	char *src, *dst;
	char path[4096];
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("membw: mmap");
		exit(1);
	}
	return p;
}

static double copy_touched(struct ctx *c)
{
	double t = now();

	memcpy(c->dst, c->src, c->size);
	return now() - t;
}

static double copy_fresh(struct ctx *c)
{
	double t = now(), d;
	char *dst = map(c->size);

	memcpy(dst, c->src, c->size);
	d = now() - t;
	munmap(dst, c->size);
	return d;
}

static int io_all(int fd, char *buf, size_t size, int writing)
{
	for (size_t off = 0; off < size;) {
		size_t len = size - off < CHUNK ? size - off : CHUNK;
		ssize_t n = writing ? write(fd, buf + off, len) : read(fd, buf + off, len);

		if (n <= 0) {
			fprintf(stderr, "membw: %s %s: %s\n", writing ? "write" : "read", "tmpfs file",
				n ? strerror(errno) : "short");
			exit(1);
		}
		off += n;
	}
	return 0;
}

static double tmpfs_write(struct ctx *c)
{
	double t = now(), d;
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		perror("membw: create tmpfs file");
		exit(1);
	}
	io_all(fd, c->src, c->size, 1);
	close(fd);
	d = now() - t;
	unlink(c->path);
	return d;
}

/* Not timed: the file to read back. */
static void tmpfs_prepare(struct ctx *c)
{
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		perror("membw: create tmpfs file");
		exit(1);
	}
	io_all(fd, c->src, c->size, 1);
	close(fd);
}

static double tmpfs_read_fresh(struct ctx *c)
{
	double t = now(), d;
	char *dst = map(c->size);
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror("membw: open tmpfs file");
		exit(1);
	}
	io_all(fd, dst, c->size, 0);
	close(fd);
	d = now() - t;
	munmap(dst, c->size);
	return d;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One warm-up run, then repeat timed runs; prints median and best rate. */
static void measure(const char *name, double (*fn)(struct ctx *), struct ctx *c, int repeat)
{
	double t[MAX_REPEAT];

	fn(c);
	for (int i = 0; i < repeat; i++)
		t[i] = fn(c);
	qsort(t, repeat, sizeof(t[0]), cmp_double);
	printf("%s %.2f %.2f\n", name, c->size / t[repeat / 2] / 1e9, c->size / t[0] / 1e9);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	int repeat = argc > 3 ? atoi(argv[3]) : 3;

	if (argc < 3 || !(c.size = strtoull(argv[1], NULL, 0) << 20) || repeat < 1 ||
	    repeat > MAX_REPEAT) {
		fprintf(stderr, "usage: membw SIZE_MIB DIR [REPEAT<=%d]\n", MAX_REPEAT);
		return 2;
	}
	snprintf(c.path, sizeof(c.path), "%s/membw.%d", argv[2], getpid());
	c.src = map(c.size);
	c.dst = map(c.size);
	memset(c.src, 0x5a, c.size);
	memset(c.dst, 0, c.size);
	measure("memcpy_touched", copy_touched, &c, repeat);
	munmap(c.dst, c.size);
	measure("memcpy_fresh", copy_fresh, &c, repeat);
	measure("tmpfs_write", tmpfs_write, &c, repeat);
	tmpfs_prepare(&c);
	measure("tmpfs_read_fresh", tmpfs_read_fresh, &c, repeat);
	unlink(c.path);
	return 0;
}
