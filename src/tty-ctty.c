// SPDX-License-Identifier: MIT
/*
 * A pty as the controlling terminal of a session, restore side. tty-info.img names, for
 * the slave, the session it controlled and its foreground group. The pty's group of files
 * (rst-fshare.c) is opened early, by an ancestor of the session leader or the leader
 * itself, so that the leader holds its master right after setsid(): there it takes the
 * slave as its controlling terminal (TIOCSCTTY), before it creates its children, which
 * inherit it through fork as they did at dump; once every group exists, the leader sets the
 * foreground group (TIOCSPGRP). Kernel interfaces: TIOCGPTPEER, TIOCSCTTY, TIOCSPGRP.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define LOG_PREFIX "tty: "
#include "log.h"
#include "files.h"
#include "rst.h"
#include "tty.h"

/* The live task that leads session sid, or -1. */
static int session_leader(const struct rst_tree *tr, uint32_t sid)
{
	size_t i;

	for (i = 0; i < tr->nr_tasks; i++)
		if (!tr->tasks[i].dead && tr->tasks[i].pst->pid == sid &&
		    tr->tasks[i].pst->sid == sid)
			return i;
	return -1;
}

/* The files[] index of the master of pty index, or -1. */
static int master_file(const struct rst_tree *tr, uint32_t index)
{
	size_t k;

	for (k = 0; k < tr->nr_files; k++)
		if (tr->files[k]->type == FD_TYPES__TTY && tr->files[k]->tty &&
		    tr->files[k]->tty->tty_info_id == TTY_INFO_ID(index, true))
			return k;
	return -1;
}

/* The slave side e (with a session) gives its pty to the leader of that session. */
static int plan_one(struct rst_tree *tr, const struct img *img, const TtyInfoEntry *e)
{
	int leader = session_leader(tr, e->sid), k = master_file(tr, e->pty->index);
	const char *why = leader < 0			     ? "which no task of the tree leads"
			  : k < 0			     ? "but its master is not in files.img"
			  : tr->tasks[leader].ctty_file >= 0 ? "which has another one already"
							     : NULL;
	struct rst_task *t;

	if (why) {
		pr_err("%s: entry before offset %llu: pty %u is the controlling terminal of "
		       "session %u, %s",
		       img->name, (unsigned long long)img->off, e->pty->index, e->sid, why);
		return -EINVAL;
	}
	t = &tr->tasks[leader];
	t->ctty_file = k;
	t->ctty_index = e->pty->index;
	t->ctty_pgrp = e->pgrp;
	pr_debug("pty %u: the controlling terminal of session %u (foreground group %u)",
		 e->pty->index, e->sid, e->pgrp);
	return 0;
}

int tty_ctty_plan(struct rst_tree *tr)
{
	struct img *img;
	TtyInfoEntry *e;
	size_t i;
	int ret;

	for (i = 0; i < tr->nr_tasks; i++)
		tr->tasks[i].ctty_file = -1;
	img = img_open(tr->opts->dirfd, IMG_TTY_INFO, O_RDONLY | IMG_OPTIONAL);
	if (!img)
		return errno == ENOENT ? 0 : -EIO;
	while ((ret = img_read_pb(img, &tty_info_entry__descriptor, (void **)&e)) > 0) {
		ret = tty_info_check(img, e);
		if (!ret && !(e->id & 1) && e->sid)
			ret = plan_one(tr, img, e);
		img_free_pb(e);
		if (ret)
			break;
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

int tty_ctty_set(struct rst_task *t)
{
	int m = t->ctty_file >= 0 ? t->tree->shared_fds[t->ctty_file] : -1, s, ret = 0;

	if (t->ctty_file < 0)
		return 0;
	if (m < 0) {
		pr_err("task %d: the master of pty %u, its controlling terminal, was not opened "
		       "before its children",
		       t->pid, t->ctty_index);
		return -EINVAL;
	}
	s = tty_peer_open(m, O_RDWR, t->ctty_index);
	if (s < 0)
		return s;
	if (ioctl(s, TIOCSCTTY, 0)) {
		pr_perror("task %d: cannot make pty %u its controlling terminal", t->pid,
			  t->ctty_index);
		ret = -errno;
	}
	close(s); /* the slave stays open in its group: the terminal stays ours */
	return ret;
}

void tty_ctty_foreground(struct rst_task *t)
{
	pid_t pgrp = t->ctty_pgrp;
	int m;

	if (t->ctty_file < 0 || !pgrp)
		return;
	m = rst_file_fd(t, t->tree->files[t->ctty_file]->id);
	if (m < 0 || ioctl(m, TIOCSPGRP, &pgrp))
		pr_warn("pty %u: cannot set the foreground process group %d: %m", t->ctty_index,
			pgrp);
}
