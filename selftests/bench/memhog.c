// SPDX-License-Identifier: MIT
/*
 * memhog: the benchmark workload. Maps SIZE MiB of anonymous memory, fills every page with a
 * pattern derived from its index, prints "ready", and idles. On SIGTERM it checks every word
 * and prints "verify OK" or "VERIFY FAILED", exiting 0 or 1. Usage: memhog SIZE_MIB.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define SEED 0x9e3779b97f4a7c15ULL

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static inline uint64_t page_word(size_t page)
{
	return (page + 1) * SEED;
}

static void fill(uint64_t *mem, size_t pages, size_t words_per_page)
{
	for (size_t p = 0; p < pages; p++) {
		uint64_t v = page_word(p), *w = mem + p * words_per_page;

		for (size_t i = 0; i < words_per_page; i++)
			w[i] = v + i;
	}
}

/* Returns the index of the first bad page, or pages if all are good. */
static size_t verify(const uint64_t *mem, size_t pages, size_t words_per_page)
{
	for (size_t p = 0; p < pages; p++) {
		uint64_t v = page_word(p), bad = 0;
		const uint64_t *w = mem + p * words_per_page;

		for (size_t i = 0; i < words_per_page; i++)
			bad |= w[i] ^ (v + i);
		if (bad)
			return p;
	}
	return pages;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	size_t size, pages, wpp = getpagesize() / sizeof(uint64_t), bad;
	uint64_t *mem;

	/* like a daemon, hold nothing the caller leaked to us (pipes cannot be dumped yet) */
	close_range(3, ~0U, 0);
	if (argc != 2 || (size = strtoull(argv[1], NULL, 0) << 20) == 0) {
		fprintf(stderr, "usage: memhog SIZE_MIB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	setsid(); /* its own session: a dumper needs no shell-job handling */
	sigaction(SIGTERM, &sa, NULL);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memhog: mmap");
		return 1;
	}
	pages = size / getpagesize();
	fill(mem, pages, wpp);
	printf("memhog %d: ready, %zu MiB in %zu pages at %p\n", getpid(), size >> 20, pages,
	       (void *)mem);
	while (!stop)
		nanosleep(&nap, NULL);
	bad = verify(mem, pages, wpp);
	if (bad != pages) {
		printf("memhog %d: VERIFY FAILED: page %zu of %zu has the wrong content\n", getpid(),
		       bad, pages);
		return 1;
	}
	printf("memhog %d: verify OK, %zu pages\n", getpid(), pages);
	return 0;
}
