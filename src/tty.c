// SPDX-License-Identifier: MIT
/*
 * Unix98 ptys, both halves. Dump, through pidfd_getfd copies: TIOCGPTN, TIOCGPTLCK, TIOCGPKT,
 * TIOCGEXCL, TCGETS2, TIOCGLCKTRMIOS, TIOCGWINSZ, TIOCGSID/TIOCGPGRP of the slave; the bytes
 * queued to be read from either side are read out and put back with TIOCSTI. Restore opens
 * /dev/ptmx until the kernel gives the same index, sets it all again and reopens slaves with
 * TIOCGPTPEER; tty-ctty.c makes a pty a controlling terminal again. A master whose slave
 * is not in the tree comes back with its slave side closed (hung up). The other side of a
 * pty and the leader of the session it controls may be any task of the tree.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <asm/termbits.h>

#define LOG_PREFIX "tty: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "rst.h"
#include "tty.h"

#define PTMX_MAJOR 5
#define PTMX_MINOR 2
#define PTS_MAJOR_FIRST 136
#define PTS_MAJOR_LAST 143
#define PTY_OPEN_MAX 4096		/* ptmx opens to reach a saved index */
#define TTY_QUEUE_MAX (64U << 10)	/* bytes queued on one side, bound for dump and images */

/* One pty whose master the task holds. */
struct tty_dump {
	uint32_t index;
	TtyInfoEntry *master, *slave;
	TtyDataEntry *from_slave, *from_master;	/* bytes queued to be read from that side */
};

static bool is_master(dev_t rdev)
{
	return major(rdev) == PTMX_MAJOR && minor(rdev) == PTMX_MINOR;
}

static bool is_slave(dev_t rdev, uint32_t *index)
{
	if (major(rdev) < PTS_MAJOR_FIRST || major(rdev) > PTS_MAJOR_LAST)
		return false;
	*index = (major(rdev) - PTS_MAJOR_FIRST) * 256 + minor(rdev);
	return true;
}

/* --- dump ------------------------------------------------------------------------------ */

static TermiosEntry *termios_save(struct dtask *t, const struct termios2 *k)
{
	TermiosEntry *e = dtask_alloc(t, sizeof(*e));
	uint32_t *cc = dtask_alloc(t, NCCS * sizeof(*cc));
	int i;

	if (!e || !cc)
		return NULL;
	termios_entry__init(e);
	e->c_iflag = k->c_iflag, e->c_oflag = k->c_oflag;
	e->c_cflag = k->c_cflag, e->c_lflag = k->c_lflag;
	e->c_line = k->c_line;
	e->c_ispeed = k->c_ispeed, e->c_ospeed = k->c_ospeed;
	for (i = 0; i < NCCS; i++)
		cc[i] = k->c_cc[i];
	e->n_c_cc = NCCS, e->c_cc = cc;
	return e;
}

static TtyInfoEntry *info_new(struct dtask *t, uint32_t index, bool master)
{
	TtyInfoEntry *e = dtask_alloc(t, sizeof(*e));
	TtyPtyEntry *pty = dtask_alloc(t, sizeof(*pty));

	if (!e || !pty)
		return NULL;
	tty_info_entry__init(e);
	tty_pty_entry__init(pty);
	pty->index = index;
	e->id = TTY_INFO_ID(index, master);
	e->type = TTY_TYPE__PTY;
	e->pty = pty;
	e->rdev = master ? makedev(PTMX_MAJOR, PTMX_MINOR) :
		  makedev(PTS_MAJOR_FIRST + index / 256, index % 256);
	return e;
}

/* Is fd of the task the master of pty index (a ptmx whose fdinfo has its tty-index)? */
static bool fd_is_master(struct dtask *t, int fd, uint32_t index)
{
	char name[32], text[1024], *idx;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	if (proc_read_file(t->pid, name, text, sizeof(text), true) < 0)
		return false;
	idx = strstr(text, "tty-index:");
	return idx && strtoul(idx + 10, NULL, 10) == index;
}

/* The lowest fd of the task on the master (or a slave) of pty index, or -1. */
static int task_pty_fd(struct dtask *t, uint32_t index, bool master)
{
	int fd, found = -1;
	struct dirent *de;
	struct stat st;
	char path[64];
	uint32_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		fd = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, fd);
		if (de->d_name[0] == '.' || (found >= 0 && fd > found) || stat(path, &st))
			continue;
		if (master ? is_master(st.st_rdev) && fd_is_master(t, fd, index) :
			     is_slave(st.st_rdev, &n) && n == index)
			found = fd;
	}
	if (d)
		closedir(d);
	return found;
}

/* A task of the tree holding the master (or a slave) of pty index, t first; or NULL. */
static struct dtask *tree_pty_holder(struct dtask *t, uint32_t index, bool master)
{
	size_t i;

	if (task_pty_fd(t, index, master) >= 0)
		return t;
	for (i = 0; i < t->fx->n_tasks; i++) {
		struct dtask *o = t->fx->tasks[i];

		if (o != t && !o->zombie && task_pty_fd(o, index, master) >= 0)
			return o;
	}
	return NULL;
}

/* The live task of the tree that leads session sid (read now: not collected yet), or NULL. */
static struct dtask *tree_session_leader(struct dtask *t, uint32_t sid)
{
	struct proc_stat st;
	size_t i;

	for (i = 0; i < t->fx->n_tasks; i++) {
		struct dtask *o = t->fx->tasks[i];

		if (!o->zombie && (uint32_t)o->pid == sid && !proc_read_stat(o->pid, &st) &&
		    (uint32_t)st.sid == sid)
			return o;
	}
	return NULL;
}

/*
 * A pty that is a controlling terminal: its session must be led by a task of the tree
 * (which sets it again on restore), and its slave held open in the tree (the kernel drops
 * a controlling terminal whose slave has no open file left).
 */
static int ctty_check(struct dtask *t, int fd, const TtyInfoEntry *si)
{
	struct dtask *holder = tree_pty_holder(t, si->pty->index, false);

	if (!tree_session_leader(t, si->sid)) {
		pr_err("process %d fd %d: pty %u (/dev/pts/%u) is the controlling terminal of "
		       "session %u, which no process of the dumped tree leads (not supported yet)",
		       t->pid, fd, si->pty->index, si->pty->index, si->sid);
		return -EOPNOTSUPP;
	}
	if (!holder) {
		pr_err("process %d fd %d: pty %u (/dev/pts/%u) is the controlling terminal of "
		       "session %u, but no process of the dumped tree holds its slave open (not "
		       "supported yet)", t->pid, fd, si->pty->index, si->pty->index, si->sid);
		return -EOPNOTSUPP;
	}
	pr_debug("pty %u: controlling terminal of session %u, slave held by %d", si->pty->index,
		 si->sid, holder->pid);
	return 0;
}

/* The state of the pty's slave side, read through the master m. */
static int slave_state_dump(struct dtask *t, int fd, int m, TtyInfoEntry *si)
{
	struct termios2 k, lk;
	struct winsize ws;
	int sid = 0, pgrp = 0;

	if (ioctl(m, TCGETS2, &k) || ioctl(m, TIOCGLCKTRMIOS, &lk) || ioctl(m, TIOCGWINSZ, &ws)) {
		pr_perror("process %d: cannot read the termios of pty %u", t->pid, si->pty->index);
		return -errno;
	}
	lk.c_ispeed = lk.c_ospeed = 0;	/* TIOCGLCKTRMIOS fills a struct termios */
	si->termios = termios_save(t, &k);
	si->termios_locked = termios_save(t, &lk);
	si->winsize = dtask_alloc(t, sizeof(*si->winsize));
	if (!si->termios || !si->termios_locked || !si->winsize)
		return -ENOMEM;
	winsize_entry__init(si->winsize);
	si->winsize->ws_row = ws.ws_row, si->winsize->ws_col = ws.ws_col;
	si->winsize->ws_xpixel = ws.ws_xpixel, si->winsize->ws_ypixel = ws.ws_ypixel;
	if (!ioctl(m, TIOCGSID, &sid) && ioctl(m, TIOCGPGRP, &pgrp))
		pgrp = 0;
	si->sid = sid > 0 ? sid : 0;
	si->pgrp = pgrp > 0 ? pgrp : 0;
	return si->sid ? ctty_check(t, fd, si) : 0;
}

/* Read every byte queued to be read from fd, consuming them; *len of them into buf. */
static int read_queued(int fd, char *buf, uint32_t *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int queued;

	*len = 0;
	for (;;) {
		poll(&pfd, 1, 0);	/* with nothing readable, waits for the flip buffer */
		if (ioctl(fd, FIONREAD, &queued))
			return -errno;
		if (queued <= 0)
			return 0;
		if (*len + (uint32_t)queued > TTY_QUEUE_MAX)
			return -E2BIG;
		n = read(fd, buf + *len, queued);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		*len += n;
	}
}

/* Queue bytes to be read from fd again, in its line discipline (synchronous). */
static int put_back(int fd, const uint8_t *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (ioctl(fd, TIOCSTI, &data[i]))
			return -errno;
	return 0;
}

/* The termios under which put_back() neither echoes nor translates nor signals. */
static struct termios2 termios_quiet(const struct termios2 *k)
{
	struct termios2 q = *k;

	q.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG | IEXTEN);
	q.c_iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | IXON | IXOFF | IMAXBEL | PARMRK);
	return q;
}

/* Put bytes back into the slave s whose termios is k; k is set again in any case. */
static int slave_put_back(int s, const struct termios2 *k, const uint8_t *data, size_t len)
{
	struct termios2 q = termios_quiet(k);
	int ret = ioctl(s, TCSETS2, &q) ? -errno : put_back(s, data, len);

	if (ioctl(s, TCSETS2, k) && !ret)
		ret = -errno;
	return ret;
}

static TtyDataEntry *data_new(struct dtask *t, uint32_t id, const char *buf, uint32_t len)
{
	TtyDataEntry *e = dtask_alloc(t, sizeof(*e));
	uint8_t *copy = dtask_alloc(t, len);

	if (!e || !copy)
		return NULL;
	tty_data_entry__init(e);
	memcpy(copy, buf, len);
	e->tty_id = id;
	e->data.data = copy, e->data.len = len;
	return e;
}

/* The input of the slave s, read in non-canonical mode (all of it) and put back. */
static int take_slave_queue(struct dtask *t, int s, struct tty_dump *td, char *buf)
{
	struct termios2 k, raw;
	uint32_t len = 0;
	int ret, ret2;

	if (ioctl(s, TCGETS2, &k))
		return -errno;
	raw = k;
	raw.c_lflag &= ~(ICANON | ECHO | ECHONL);
	raw.c_cc[VMIN] = raw.c_cc[VTIME] = 0;
	ret = ioctl(s, TCSETS2, &raw) ? -errno : read_queued(s, buf, &len);
	if (ioctl(s, TCSETS2, &k) && !ret)
		ret = -errno;
	ret2 = slave_put_back(s, &k, (uint8_t *)buf, len);
	if (ret || ret2)
		return ret ? ret : ret2;
	if (len && !(td->from_slave = data_new(t, td->slave->id, buf, len)))
		return -ENOMEM;
	return 0;
}

/* The output of the pty, queued to be read from the master m, read and put back. */
static int take_master_queue(struct dtask *t, int m, struct tty_dump *td, char *buf)
{
	int pkt = 0, off = 0, ret, ret2;
	uint32_t len = 0;

	if (ioctl(m, TIOCGPKT, &pkt) || (pkt && ioctl(m, TIOCPKT, &off)))
		return -errno;
	ret = read_queued(m, buf, &len);
	ret2 = put_back(m, (uint8_t *)buf, len);
	if (pkt && ioctl(m, TIOCPKT, &pkt) && !ret)
		ret = -errno;
	if (ret || ret2)
		return ret ? ret : ret2;
	if (len && !(td->from_master = data_new(t, td->master->id, buf, len)))
		return -ENOMEM;
	return 0;
}

/*
 * A new slave of pty index to read through, when opening and closing it changes nothing:
 * the task holds a slave too, or the slave side was closed (the master polls POLLHUP).
 * A slave never opened stays so (-ENOENT): closing ours would hang up the master.
 */
static int slave_for_dump(struct dtask *t, int m, uint32_t index)
{
	struct pollfd pfd = { .fd = m, .events = POLLIN };
	int s;

	if (!tree_pty_holder(t, index, false) &&
	    (poll(&pfd, 1, 0) < 0 || !(pfd.revents & POLLHUP))) {
		pr_info("process %d: pty %u: its slave is open nowhere in the tree and was "
			"never closed: bytes queued on it are not saved", t->pid, index);
		return -ENOENT;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		pr_perror("process %d: cannot open the slave of pty %u", t->pid, index);
	return s < 0 ? -errno : s;
}

/* Both queues, with no termios bit locked meanwhile (TIOCSLCKTRMIOS, put back after). */
static int take_queues(struct dtask *t, int m, int s, struct tty_dump *td)
{
	struct termios2 lk, none;
	char *buf = malloc(TTY_QUEUE_MAX);
	int ret = 0;

	memset(&none, 0, sizeof(none));
	if (!buf)
		return -ENOMEM;
	if (ioctl(m, TIOCGLCKTRMIOS, &lk) || ioctl(m, TIOCSLCKTRMIOS, &none)) {
		ret = -errno;
		goto out_free;
	}
	ret = take_slave_queue(t, s, td, buf);
	if (!ret)
		ret = take_master_queue(t, m, td, buf);
	if (ioctl(m, TIOCSLCKTRMIOS, &lk) && !ret)
		ret = -errno;
out_free:
	free(buf);
	return ret;
}

/* Through a slave: the slave's exclusive flag and what is queued both ways. */
static int slave_side_dump(struct dtask *t, int m, struct tty_dump *td)
{
	int s = slave_for_dump(t, m, td->index), excl = 0, ret = 0;

	if (s < 0)
		return s == -ENOENT ? 0 : s;
	if (!ioctl(s, TIOCGEXCL, &excl))
		td->slave->exclusive = excl;
	if (!ioctl(s, TIOCSTI, NULL) || errno != EFAULT) {
		pr_warn("process %d: pty %u: TIOCSTI is not permitted (%m): bytes queued on it "
			"are not saved", t->pid, td->index);
		goto out;
	}
	ret = take_queues(t, m, s, td);
	if (ret)
		pr_err("process %d: cannot save the bytes queued on pty %u: %s", t->pid,
		       td->index, strerror(-ret));
out:
	close(s);
	return ret;
}

static int master_state_dump(struct dtask *t, int m, struct tty_dump *td)
{
	int locked = 0, pkt = 0, excl = 0;

	if (ioctl(m, TIOCGPTLCK, &locked) || ioctl(m, TIOCGPKT, &pkt) ||
	    ioctl(m, TIOCGEXCL, &excl)) {
		pr_perror("process %d: cannot read the state of pty %u", t->pid, td->index);
		return -errno;
	}
	td->master->locked = locked;
	td->master->packet_mode = pkt;
	td->master->exclusive = excl;
	return 0;
}

static struct tty_dump *tty_dump_new(struct dtask *t, uint32_t index)
{
	struct tty_dump *td;

	if (dtask_grow(t, &t->fx->ttys, t->fx->n_ttys, &t->fx->ttys_cap, sizeof(*t->fx->ttys)))
		return NULL;
	td = &t->fx->ttys[t->fx->n_ttys];
	td->index = index;
	td->master = info_new(t, index, true);
	td->slave = info_new(t, index, false);
	td->from_slave = td->from_master = NULL;
	if (!td->master || !td->slave)
		return NULL;
	t->fx->n_ttys++;
	return td;
}

static int master_dump(struct dtask *t, int m, const struct fd_parms *p, TtyFileEntry *e)
{
	struct tty_dump *td;
	int index, ret;

	if (ioctl(m, TIOCGPTN, &index) || index < 0) {
		pr_perror("process %d fd %d: cannot read the index of pty master", t->pid, p->fd);
		return -errno;
	}
	td = tty_dump_new(t, index);
	if (!td)
		return -ENOMEM;
	e->tty_info_id = td->master->id;
	ret = master_state_dump(t, m, td);
	if (!ret)
		ret = slave_state_dump(t, p->fd, m, td->slave);
	if (!ret && !td->master->locked)
		ret = slave_side_dump(t, m, td);
	if (!ret)
		pr_debug("%d: fd %d: pty %u master, %u+%u bytes queued", t->pid, p->fd, index,
			 td->from_slave ? (unsigned int)td->from_slave->data.len : 0,
			 td->from_master ? (unsigned int)td->from_master->data.len : 0);
	return ret;
}

static int tty_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	bool master = is_master(p->st.st_rdev);
	uint32_t index = 0;
	TtyFileEntry *e;
	int m, ret;

	if (!master && (!is_slave(p->st.st_rdev, &index) || !tree_pty_holder(t, index, true))) {
		/* a terminal from outside: the caller's with -j, else refused (reg-file.c) */
		fe->type = FD_TYPES__REG;
		return reg_file_ops.dump(t, p, fe);
	}
	e = dtask_alloc(t, sizeof(*e));
	if (!e)
		return -ENOMEM;
	tty_file_entry__init(e);
	e->fown = files_fown(t);
	if (!e->fown)
		return -ENOMEM;
	e->id = fe->id;
	e->flags = p->fi.flags & ~O_CLOEXEC;
	fe->tty = e;
	if (!master) {
		e->tty_info_id = TTY_INFO_ID(index, false);
		return 0;
	}
	m = files_getfd(t, p->fd);
	if (m < 0)
		return m;
	ret = master_dump(t, m, p, e);
	close(m);
	return ret;
}

static int write_entries(struct img *img, const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	int ret = a ? img_write_pb(img, a) : 0;

	return !ret && b ? img_write_pb(img, b) : ret;
}

static int tty_write(struct dtask *t, int dirfd)
{
	struct img *info, *data = NULL;
	bool queued = false;
	size_t i;
	int ret = 0;

	if (!t->fx->n_ttys)
		return 0;
	for (i = 0; i < t->fx->n_ttys; i++)
		queued |= t->fx->ttys[i].from_slave || t->fx->ttys[i].from_master;
	info = img_open(dirfd, IMG_TTY_INFO, O_WRONLY);
	if (queued)
		data = img_open(dirfd, IMG_TTY_DATA, O_WRONLY);
	if (!info || (queued && !data))
		ret = -EIO;
	for (i = 0; !ret && i < t->fx->n_ttys; i++) {
		struct tty_dump *td = &t->fx->ttys[i];

		ret = write_entries(info, &td->master->base, &td->slave->base);
		if (!ret)
			ret = write_entries(data, td->from_slave ? &td->from_slave->base : NULL,
					    td->from_master ? &td->from_master->base : NULL);
	}
	if (img_close(info) && !ret)
		ret = -EIO;
	if (img_close(data) && !ret)
		ret = -EIO;
	return ret;
}

/* --- restore --------------------------------------------------------------------------- */

int tty_info_check(const struct img *img, const TtyInfoEntry *e)
{
	bool master = e->id & 1;

	if (e->type != TTY_TYPE__PTY || !e->pty || e->pty->index >= PTY_INDEX_MAX ||
	    e->id != TTY_INFO_ID(e->pty->index, master) ||
	    (e->termios && e->termios->n_c_cc > NCCS) ||
	    (e->termios_locked && e->termios_locked->n_c_cc > NCCS) ||
	    (!master && (!e->termios || !e->winsize))) {
		pr_err("%s: entry before offset %llu: tty %u is not a valid pty side", img->name,
		       (unsigned long long)img->off, e->id);
		return -EINVAL;
	}
	return 0;
}

/* The tty-info.img entry of id (free with img_free_pb), or NULL (logged). */
static TtyInfoEntry *info_load(struct rst_task *t, uint32_t id)
{
	struct img *img = img_open(t->dirfd, IMG_TTY_INFO, O_RDONLY);
	TtyInfoEntry *e = NULL;
	int ret = img ? 0 : -EIO;

	while (!ret && (ret = img_read_pb(img, &tty_info_entry__descriptor, (void **)&e)) > 0) {
		ret = tty_info_check(img, e);
		if (!ret && e->id == id)
			break;
		img_free_pb(e);
		e = NULL;
	}
	if (img && !e && !ret)
		pr_err("tty-info.img: no entry for tty %u", id);
	img_close(img);
	return ret < 0 ? NULL : e;
}

/* The bytes queued to be read from tty id (free with img_free_pb), or NULL; -errno. */
static int data_load(struct rst_task *t, uint32_t id, TtyDataEntry **out)
{
	struct img *img = img_open(t->dirfd, IMG_TTY_DATA, O_RDONLY | IMG_OPTIONAL);
	TtyDataEntry *e = NULL;
	int ret = 0;

	*out = NULL;
	if (!img)
		return errno == ENOENT ? 0 : -EIO;
	while ((ret = img_read_pb(img, &tty_data_entry__descriptor, (void **)&e)) > 0) {
		if (e->data.len > TTY_QUEUE_MAX) {
			pr_err("%s: entry before offset %llu: %zu bytes queued on tty %u, more than "
			       "%u", img->name, (unsigned long long)img->off, e->data.len,
			       e->tty_id, TTY_QUEUE_MAX);
			ret = -EINVAL;
		} else if (e->tty_id == id) {
			*out = e;
			break;
		}
		img_free_pb(e);
		if (ret < 0)
			break;
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

static void termios_load(const TermiosEntry *e, struct termios2 *k)
{
	size_t i;

	memset(k, 0, sizeof(*k));
	k->c_iflag = e->c_iflag, k->c_oflag = e->c_oflag;
	k->c_cflag = e->c_cflag, k->c_lflag = e->c_lflag;
	k->c_line = e->c_line;
	k->c_ispeed = e->c_ispeed, k->c_ospeed = e->c_ospeed;
	for (i = 0; i < e->n_c_cc; i++)
		k->c_cc[i] = e->c_cc[i];
}

/* Open /dev/ptmx until the kernel hands out pty index (it gives the lowest free one). */
static int open_index(uint32_t index, int flags)
{
	int *extra = malloc(PTY_OPEN_MAX * sizeof(*extra)), n = 0, fd = -1, got = -1;

	if (!extra)
		return -ENOMEM;
	while (n < PTY_OPEN_MAX) {
		fd = open("/dev/ptmx", flags | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TIOCGPTN, &got)) {
			pr_perror("cannot open /dev/ptmx for pty %u", index);
			fd = -errno;
			break;
		}
		if ((uint32_t)got == index)
			break;
		extra[n++] = fd;
		fd = -EBUSY;
		if ((uint32_t)got > index)
			break;
	}
	if (fd == -EBUSY)
		pr_err("pty %u is in use (the kernel gave /dev/pts/%d): ferry restores a pty "
		       "only at its index, which must be free", index, got);
	while (n--)
		close(extra[n]);
	free(extra);
	return fd;
}

/* Through a slave opened from the new master m: its input and exclusive flag. */
static int slave_side_restore(struct rst_task *t, int m, const TtyInfoEntry *si)
{
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC), ret;
	struct termios2 k;
	TtyDataEntry *d;

	if (s < 0) {
		pr_perror("cannot open the slave of pty %u", si->pty->index);
		return -errno;
	}
	termios_load(si->termios, &k);
	ret = data_load(t, si->id, &d);
	if (!ret && d && slave_put_back(s, &k, d->data.data, d->data.len)) {
		pr_perror("cannot queue %zu bytes on pty %u", d->data.len, si->pty->index);
		ret = -EIO;
	}
	if (!ret && si->exclusive && ioctl(s, TIOCEXCL))
		ret = -errno;
	img_free_pb(d);
	close(s);
	return ret;
}

static int slave_state_restore(int m, const TtyInfoEntry *si)
{
	struct winsize ws = { .ws_row = si->winsize->ws_row, .ws_col = si->winsize->ws_col,
			      .ws_xpixel = si->winsize->ws_xpixel,
			      .ws_ypixel = si->winsize->ws_ypixel };
	struct termios2 k;

	termios_load(si->termios, &k);
	if (ioctl(m, TCSETS2, &k) || ioctl(m, TIOCSWINSZ, &ws)) {
		pr_perror("cannot set the termios of pty %u", si->pty->index);
		return -errno;
	}
	return 0;
}

/* Last: locked termios bits would keep put_back() from turning echo off. */
static int termios_lock_restore(int m, const TtyInfoEntry *si)
{
	struct termios2 k;

	if (!si->termios_locked)
		return 0;
	termios_load(si->termios_locked, &k);
	if (ioctl(m, TIOCSLCKTRMIOS, &k)) {
		pr_perror("cannot lock the termios of pty %u", si->pty->index);
		return -errno;
	}
	return 0;
}

static int master_state_restore(struct rst_task *t, int m, const TtyInfoEntry *mi)
{
	int pkt = mi->packet_mode, locked = mi->locked;
	TtyDataEntry *d;
	int ret = data_load(t, mi->id, &d);

	if (!ret && d && put_back(m, d->data.data, d->data.len)) {
		pr_perror("cannot queue %zu bytes on the master of pty %u", d->data.len,
			  mi->pty->index);
		ret = -EIO;
	}
	img_free_pb(d);
	if (!ret && (ioctl(m, TIOCPKT, &pkt) || (mi->exclusive && ioctl(m, TIOCEXCL)) ||
		     ioctl(m, TIOCSPTLCK, &locked))) {
		pr_perror("cannot set the mode of pty %u", mi->pty->index);
		ret = -errno;
	}
	return ret;
}

static int master_open(struct rst_task *t, const FileEntry *fe, const TtyInfoEntry *mi)
{
	TtyInfoEntry *si = info_load(t, mi->id & ~1U);
	int m, unlocked = 0, ret;

	if (!si)
		return -EINVAL;
	m = open_index(mi->pty->index, fe->tty->flags & (O_ACCMODE | O_NONBLOCK));
	if (m < 0)
		goto out_free;
	ret = slave_state_restore(m, si);
	if (!ret && ioctl(m, TIOCSPTLCK, &unlocked))
		ret = -errno;
	if (!ret)
		ret = slave_side_restore(t, m, si);
	if (!ret)
		ret = master_state_restore(t, m, mi);
	if (!ret)
		ret = termios_lock_restore(m, si);
	if (ret) {
		close(m);
		m = ret;
	}
out_free:
	img_free_pb(si);
	return m;
}

int tty_peer_open(int m, int flags, uint32_t index)
{
	int s, locked = 0, unlocked = 0;

	if (!ioctl(m, TIOCGPTLCK, &locked) && locked)
		ioctl(m, TIOCSPTLCK, &unlocked);
	s = ioctl(m, TIOCGPTPEER, flags | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		pr_perror("cannot open the slave of pty %u", index);
	if (locked)
		ioctl(m, TIOCSPTLCK, &locked);
	return s < 0 ? -errno : s;
}

static const FileEntry *find_master(const struct rst_task *t, uint32_t index)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++)
		if (t->files[i]->type == FD_TYPES__TTY &&
		    t->files[i]->tty->tty_info_id == TTY_INFO_ID(index, true))
			return t->files[i];
	return NULL;
}

/* A slave, reopened from its master (restored first if need be), locked or not. */
static int slave_open(struct rst_task *t, const FileEntry *fe, const TtyInfoEntry *si)
{
	const FileEntry *master = find_master(t, si->pty->index);
	int flags = fe->tty->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC);
	int m, s;

	if (!master) {
		pr_err("files.img: file %u is the slave of pty %u, whose master is not in the "
		       "images", fe->id, si->pty->index);
		return -EINVAL;
	}
	m = rst_file_map_fd(t, master);
	if (m < 0)
		return m;
	s = tty_peer_open(m, flags, si->pty->index);
	close(m);
	return s;
}

static int tty_check(const FileEntry *fe)
{
	if (!fe->tty || fe->tty->id != fe->id || fe->tty->tty_info_id >= 2 * PTY_INDEX_MAX) {
		pr_err("files.img: tty file id %u has no entry, a wrong id or tty", fe->id);
		return -EINVAL;
	}
	return 0;
}

static int tty_open(struct rst_task *t, const FileEntry *fe)
{
	TtyInfoEntry *info = info_load(t, fe->tty->tty_info_id);
	int fd;

	if (!info)
		return -EINVAL;
	if (info->id & 1)
		fd = master_open(t, fe, info);
	else
		fd = slave_open(t, fe, info);
	img_free_pb(info);
	return fd;
}

const struct fd_ops tty_ops = {
	.name = "tty",
	.type = FD_TYPES__TTY,
	.dump = tty_dump,
	.check = tty_check,
	.open = tty_open,
	.write = tty_write,
};
