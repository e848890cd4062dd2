/* SPDX-License-Identifier: MIT */
/*
 * Dump side of memory areas (vma.c): fill mm.vmas from /proc/PID/smaps and queue the
 * pages of each area with pages.c. VMA status bits are in vma.h.
 */
#ifndef FERRY_VMA_DUMP_H
#define FERRY_VMA_DUMP_H

#include "dtask.h"

int vma_collect(struct dtask *t);

#endif
