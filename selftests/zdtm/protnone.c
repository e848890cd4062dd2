// SPDX-License-Identifier: MIT
/*
 * Areas with unusual protections: PROT_NONE never touched, PROT_NONE with data inside,
 * and read-only with data. After restore: the protections are the same (checked by
 * probing with a SIGSEGV handler and in /proc/self/maps) and the data is kept.
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "lib.h"

#define PAGE 4096UL
#define NPAGES 4

static sigjmp_buf probe_jmp;

static void on_segv(int sig)
{
	siglongjmp(probe_jmp, 1);
}

/* 1 if the access faults; a write stores the byte already there. */
static int faults(volatile unsigned char *p, int write)
{
	if (sigsetjmp(probe_jmp, 1))
		return 1;
	if (write)
		*p = *p;
	else
		(void)*p;
	return 0;
}

static unsigned char pat(unsigned long i, int area)
{
	return (unsigned char)(i * 17 + area * 101 + 5);
}

/* The permissions field of /proc/self/maps for the area starting at addr. */
static void maps_prot(void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long start, end;
	char line[512], p[8];

	strcpy(perms, "????");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, p) == 3 &&
		    start <= (unsigned long)addr && (unsigned long)addr < end) {
			memcpy(perms, p, 4);
			perms[4] = 0;
			break;
		}
	}
	fclose(f);
}

static void check_area(const char *name, unsigned char *a, const char *want_perms, int rd,
		       int wr)
{
	char perms[5];

	maps_prot(a, perms);
	zt_check(!strcmp(perms, want_perms), "%s: /proc/self/maps says %s, expected %s", name,
		 perms, want_perms);
	zt_check(faults(a, 0) == !rd, "%s: a read %s", name, rd ? "faults" : "does not fault");
	zt_check(faults(a + PAGE * (NPAGES - 1), 1) == !wr, "%s: a write %s", name,
		 wr ? "faults" : "does not fault");
}

static void check_data(const char *name, unsigned char *a, int area, int zero)
{
	unsigned long i;

	for (i = 0; i < NPAGES * PAGE; i++) {
		unsigned char want = zero ? 0 : pat(i, area);

		if (a[i] != want) {
			zt_fail("%s: byte %lu is 0x%02x, expected 0x%02x", name, i, a[i], want);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	unsigned char *none, *none_data, *ro;
	unsigned long i;

	zt_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	none = mmap(NULL, NPAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none_data = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ro = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED || none_data == MAP_FAILED || ro == MAP_FAILED) {
		zt_fail("mmap: %m");
		return zt_result();
	}
	for (i = 0; i < NPAGES * PAGE; i++) {
		none_data[i] = pat(i, 1);
		ro[i] = pat(i, 2);
	}
	if (mprotect(none_data, NPAGES * PAGE, PROT_NONE) || mprotect(ro, NPAGES * PAGE, PROT_READ)) {
		zt_fail("mprotect: %m");
		return zt_result();
	}

	zt_expose(ro + PAGE, 32);
	zt_ready();
	zt_wait();

	check_area("PROT_NONE area", none, "---p", 0, 0);
	check_area("PROT_NONE area with data", none_data, "---p", 0, 0);
	check_area("read-only area", ro, "r--p", 1, 0);
	check_data("read-only area", ro, 2, 0);
	if (mprotect(none_data, NPAGES * PAGE, PROT_READ) || mprotect(none, NPAGES * PAGE, PROT_READ))
		zt_fail("mprotect back to PROT_READ: %m");
	else {
		check_data("PROT_NONE area with data", none_data, 1, 0);
		check_data("PROT_NONE area", none, 0, 1);
	}
	return zt_result();
}
