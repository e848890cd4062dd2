// SPDX-License-Identifier: MIT
/*
 * MAP_SHARED|MAP_ANONYMOUS memory seen through two areas: a 64 KiB area written before the
 * dump and a second mapping of the same object (mremap with old size 0), plus a separate
 * shared area. After restore the second area shows the data (its pages are dumped once,
 * through the first), a write through one area after restore shows through the other, and
 * the separate area stays separate.
 *
 * Regression: the object's pages must be dumped whether or not the dumped area has them in
 * its page tables. MADV_DONTNEED on a shared mapping drops only its page table entries; the
 * data stays in the object. So some pages are left mapped through neither area, some only
 * through the second, at several offsets (a pagemap-only dump of one area misses them).
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "lib.h"

#define SIZE (256 * 1024)
#define PAGE 4096

struct expect {
	uint64_t seed;
};

static struct expect want = { 1234 };
static unsigned char *a, *b, *other;

static unsigned char byte_at(int i)
{
	return (unsigned char)zt_mix(want.seed + i);
}

static int setup(void)
{
	int i;

	a = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	other = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || other == MAP_FAILED)
		return -1;
	b = mremap(a, 0, SIZE, MREMAP_MAYMOVE);
	if (b == MAP_FAILED)
		return -1;
	for (i = 0; i < SIZE; i++)
		a[i] = byte_at(i);
	memset(other, 0x5a, SIZE);
	/* no area has a page table entry for any page of the object now */
	if (madvise(a, SIZE, MADV_DONTNEED) || madvise(b, SIZE, MADV_DONTNEED))
		return -1;
	/* a few pages come back through the second area only, one byte each (no fault-around) */
	for (i = 5 * PAGE + 7; i < SIZE; i += 13 * PAGE)
		b[i] = byte_at(i);
	return b[100] == byte_at(100) ? 0 : -1;
}

static void check(void)
{
	int i;

	for (i = 0; i < SIZE; i++)
		if (b[i] != byte_at(i)) {
			zt_fail("byte %d of the second area is 0x%02x, expected 0x%02x", i, b[i],
				byte_at(i));
			break;
		}
	memcpy(a + 8192, "shared after restore", 20);
	zt_check(!memcmp(b + 8192, "shared after restore", 20),
		 "a write through one area is not seen through the other");
	memcpy(b + 100, "back", 4);
	zt_check(!memcmp(a + 100, "back", 4), "a write through the second area is not seen");
	zt_check(other[8192] == 0x5a && other[SIZE - 1] == 0x5a,
		 "the separate shared area changed (0x%02x)", other[8192]);
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
