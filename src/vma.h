/* SPDX-License-Identifier: MIT */
/*
 * VMA status bits stored in vma_entry.status (same values as CRIU's, so that crit
 * prints them by name), and pagemap_entry flags.
 */
#ifndef FERRY_VMA_H
#define FERRY_VMA_H

#define VMA_AREA_REGULAR (1U << 0)	/* an ordinary area to restore */
#define VMA_AREA_STACK (1U << 1)	/* the main thread's stack ([stack]) */
#define VMA_AREA_VSYSCALL (1U << 2)	/* [vsyscall]: never touched */
#define VMA_AREA_VDSO (1U << 3)		/* [vdso] */
#define VMA_AREA_HEAP (1U << 5)		/* [heap] */
#define VMA_FILE_PRIVATE (1U << 6)	/* MAP_PRIVATE of a file */
#define VMA_FILE_SHARED (1U << 7)	/* MAP_SHARED of a file */
#define VMA_ANON_SHARED (1U << 8)	/* MAP_SHARED|MAP_ANONYMOUS */
#define VMA_ANON_PRIVATE (1U << 9)	/* MAP_PRIVATE|MAP_ANONYMOUS */
#define VMA_AREA_SYSVIPC (1U << 10)
#define VMA_AREA_SOCKET (1U << 11)
#define VMA_AREA_VVAR (1U << 12)	/* [vvar] and [vvar_vclock] */
#define VMA_AREA_AIORING (1U << 13)
#define VMA_AREA_MEMFD (1U << 14)	/* a mapping of a memfd (fd: its MEMFD files.img id) */
#define VMA_UNSUPP (1U << 31)

#define PE_PARENT (1U << 0)
#define PE_LAZY (1U << 1)
#define PE_PRESENT (1U << 2)

#endif
