/* SPDX-License-Identifier: MIT */
/*
 * Clock continuity across a restore (timens.c). The dump records the tree's
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME (timens-1.img); a restore into another boot starts
 * the tree in a new time namespace whose offsets make both clocks go on from there.
 */
#ifndef FERRY_TIMENS_H
#define FERRY_TIMENS_H

#include <sys/types.h>

/* --timens: AUTO uses a time namespace when the images come from another boot. */
enum timens_mode { TIMENS_AUTO, TIMENS_ON, TIMENS_OFF };

int timens_parse_mode(const char *s, enum timens_mode *mode);
/* Dump: write timens-1.img with the clocks as task pid sees them now. */
int timens_dump(pid_t pid, int dirfd);
/*
 * Restore, in the controller before the first task is created: decide, and if a time
 * namespace is used, unshare it for the tasks created afterwards and set its offsets.
 */
int timens_restore(int dirfd, const char *images_dir, enum timens_mode mode);

#endif
