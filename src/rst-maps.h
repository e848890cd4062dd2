/* SPDX-License-Identifier: MIT */
/*
 * Address-space helpers of the restore engine: /proc/self/maps without malloc, and a
 * free-gap search over busy ranges.
 */
#ifndef FERRY_RST_MAPS_H
#define FERRY_RST_MAPS_H

#include <stddef.h>
#include <sys/types.h>

#define RST_MAP_MIN_ADDR 0x10000UL

enum rst_map_kind {
	RST_MAP_OTHER,
	RST_MAP_VDSO,
	RST_MAP_VVAR,
	RST_MAP_VVAR_VCLOCK,
	RST_MAP_VSYSCALL,
};

struct rst_map {
	unsigned long start, end;
	enum rst_map_kind kind;
};

/* Our own mappings, in address order: count or -errno. No allocation. */
ssize_t rst_maps_read(struct rst_map *out, size_t max);
unsigned long rst_find_gap(struct rst_map *busy, size_t n, unsigned long size, unsigned long top);

#endif
