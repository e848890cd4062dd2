/* SPDX-License-Identifier: MIT */
/*
 * Unix98 ptys (tty.c) and the controlling terminals they are (tty-ctty.c): what the two
 * files share and the restore engine's entry points for controlling terminals.
 */
#ifndef FERRY_TTY_H
#define FERRY_TTY_H

#include <stdint.h>

#include "image.h"
#include "tty.pb-c.h"

struct rst_tree;
struct rst_task;

#define PTY_INDEX_MAX (1U << 20) /* NR_UNIX98_PTY_MAX */

/* tty_info ids: the index, times two, plus one for the master side */
#define TTY_INFO_ID(index, master) (((index) << 1) | (master))

/* A tty-info.img entry read from img (untrusted) is a valid pty side: 0 or -EINVAL, logged. */
int tty_info_check(const struct img *img, const TtyInfoEntry *e);
/* A new fd on the slave of master m (pty index), O_NOCTTY, even when locked; or -errno. */
int tty_peer_open(int m, int flags, uint32_t index);

/*
 * In the controller: which task makes which pty its controlling terminal again (the
 * leader of the session it controlled; rst_task.ctty_file); 0 or -EINVAL (logged).
 */
int tty_ctty_plan(struct rst_tree *tr);
/* In that leader, after setsid() and before it creates its children (which inherit it). */
int tty_ctty_set(struct rst_task *t);
/* In that leader, once every group exists: the terminal's foreground group again. */
void tty_ctty_foreground(struct rst_task *t);

#endif
