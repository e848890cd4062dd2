/* SPDX-License-Identifier: MIT */
/*
 * Memory contents of a task being dumped. pages_scan() reads /proc/PID/pagemap for an
 * area and queues runs of pages to copy; pages_dump() copies them all into pages-1.img,
 * a segment at a time through a buffer that stays in cache, and writes pagemap-PID.img.
 */
#ifndef FERRY_PAGES_H
#define FERRY_PAGES_H

#include "dtask.h"

#define PAGES_ID(t) ((t)->idx + 1)	/* pages-N.img of a task: one per task */

struct pages_scan {
	int pagemap_fd;			/* /proc/PID/pagemap */
	uint64_t zero_pfn;		/* the shared zero page, 0 if unknown */
	uint64_t *buf;			/* pagemap entries of the current chunk */
	bool new_run;
};

int pages_scan_init(struct dtask *t, struct pages_scan *ps);
void pages_scan_fini(struct pages_scan *ps);
/* Queue the pages of [start, end) present in memory or swap; with anon_only, only those
 * not backed by a file (COW'd pages of private file mappings); through_mem: the area is
 * not readable, copy it through /proc/PID/mem. */
/*
 * Every page of [start, end), present or not: used for the [vdso], whose whole image
 * (ELF headers and symbol tables included) restore needs to compare or re-link it.
 */
int pages_add_all(struct dtask *t, struct pages_scan *ps, uint64_t start, uint64_t end);
int pages_scan(struct dtask *t, struct pages_scan *ps, uint64_t start, uint64_t end,
	       bool anon_only, bool through_mem);
/* Every page the shared anonymous object mapped at [start, end) (from object offset pgoff)
 * holds in that range, in memory or swap, whichever area's page tables map it. */
int pages_scan_shmem(struct dtask *t, struct pages_scan *ps, uint64_t start, uint64_t end,
		     uint64_t pgoff, bool through_mem);
int pages_dump(struct dtask *t, int dirfd);

#endif
