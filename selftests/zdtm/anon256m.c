// SPDX-License-Identifier: MIT
/*
 * 256 MiB of private anonymous memory with a per-word pattern (a hash of the address) and
 * pages never touched (they must read as zero after restore), plus a MAP_PRIVATE mapping
 * of a file where some pages were written (they keep the new data, the rest the file's).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

#define PAGE 4096UL
#define ANON_SIZE (256UL << 20)
#define ANON_PAGES (ANON_SIZE / PAGE)
#define FILE_PAGES 64

/* A page is a hole (never touched) if it is in the big hole or every 7th page. */
static int is_hole(unsigned long i)
{
	return (i >= ANON_PAGES / 2 && i < ANON_PAGES / 2 + 4096) || i % 7 == 3;
}

static uint64_t anon_word(const uint64_t *p)
{
	return zt_mix((uintptr_t)p);
}

static unsigned char file_byte(unsigned long page, unsigned long off)
{
	return (unsigned char)(page * 31 + off * 7 + 1);
}

static unsigned char new_byte(unsigned long page, unsigned long off)
{
	return (unsigned char)(page * 13 + off * 3 + 0x80);
}

static void fill_anon(unsigned char *base)
{
	unsigned long i, j;

	for (i = 0; i < ANON_PAGES; i++) {
		uint64_t *w = (uint64_t *)(base + i * PAGE);

		if (is_hole(i))
			continue;
		for (j = 0; j < PAGE / 8; j++)
			w[j] = anon_word(&w[j]);
	}
}

static void check_anon(unsigned char *base)
{
	unsigned char *vec = malloc(ANON_PAGES);
	unsigned long i, j, bad = 0, resident_holes = 0, holes = 0;

	/* before reading: reading a hole maps the zero page and makes it resident */
	if (!vec || mincore(base, ANON_SIZE, vec)) {
		zt_fail("mincore: %m");
	} else {
		for (i = 0; i < ANON_PAGES; i++) {
			if (!is_hole(i))
				continue;
			holes++;
			resident_holes += vec[i] & 1;
		}
		if (resident_holes)
			zt_msg("note: %lu of %lu never-touched pages are resident", resident_holes,
			       holes);
	}
	free(vec);
	for (i = 0; i < ANON_PAGES; i++) {
		uint64_t *w = (uint64_t *)(base + i * PAGE);

		for (j = 0; j < PAGE / 8; j++) {
			uint64_t want = is_hole(i) ? 0 : anon_word(&w[j]);

			if (w[j] == want)
				continue;
			if (bad++ < 5)
				zt_fail("anon page %lu word %lu at %p: 0x%016lx, expected 0x%016lx", i,
					j, (void *)&w[j], (unsigned long)w[j], (unsigned long)want);
			break;
		}
	}
	if (bad)
		zt_fail("%lu of %lu anonymous pages differ", bad, ANON_PAGES);
}

static int make_file(const char *path)
{
	unsigned char page[PAGE];
	unsigned long i, j;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	for (i = 0; i < FILE_PAGES; i++) {
		for (j = 0; j < PAGE; j++)
			page[j] = file_byte(i, j);
		if (write(fd, page, PAGE) != (ssize_t)PAGE)
			return -1;
	}
	return fd;
}

static void check_file_map(const unsigned char *map, int fd)
{
	unsigned char page[PAGE];
	unsigned long i, j;

	for (i = 0; i < FILE_PAGES; i++) {
		for (j = 0; j < PAGE; j++) {
			unsigned char want = i % 4 == 1 ? new_byte(i, j) : file_byte(i, j);

			if (map[i * PAGE + j] != want) {
				zt_fail("file map page %lu (%s) byte %lu: 0x%02x, expected 0x%02x", i,
					i % 4 == 1 ? "written" : "from the file", j,
					map[i * PAGE + j], want);
				break;
			}
		}
		/* the file itself must not have seen the private writes */
		if (pread(fd, page, PAGE, i * PAGE) != (ssize_t)PAGE) {
			zt_fail("pread of the file: %m");
			return;
		}
		for (j = 0; j < PAGE; j++) {
			if (page[j] != file_byte(i, j)) {
				zt_fail("the file changed at page %lu byte %lu", i, j);
				break;
			}
		}
	}
}

int main(int argc, char **argv)
{
	unsigned char *anon, *map;
	unsigned long i, j;
	int fd;

	zt_init(argc, argv);
	anon = mmap(NULL, ANON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		zt_skip("cannot map 256 MiB: %m");
	fill_anon(anon);

	fd = make_file("anon256m.data");
	if (fd < 0) {
		zt_fail("cannot create anon256m.data: %m");
		return zt_result();
	}
	map = mmap(NULL, FILE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		zt_fail("mmap of the file: %m");
		return zt_result();
	}
	for (i = 0; i < FILE_PAGES; i++) {
		if (i % 4 == 1) {
			for (j = 0; j < PAGE; j++)
				map[i * PAGE + j] = new_byte(i, j);
		} else if (i % 4 == 2) {
			volatile unsigned char c = map[i * PAGE]; /* read: populated, not copied */
			(void)c;
		}
	}
	close(fd); /* the mapping holds the file; reopen for the check */

	zt_expose(anon + 5 * PAGE, 64);
	zt_ready();
	zt_wait();

	check_anon(anon);
	fd = open("anon256m.data", O_RDONLY);
	if (fd < 0)
		zt_fail("cannot reopen anon256m.data: %m");
	else
		check_file_map(map, fd);
	return zt_result();
}
