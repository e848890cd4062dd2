// SPDX-License-Identifier: MIT
/*
 * Regular files, directories and memory character devices (/dev/null, zero, full, random,
 * urandom), opened by path, both halves: dump records path, flags, offset, size and mode;
 * restore reopens by path, seeks, and reports a file that changed (fstat). A terminal of a
 * shell job (-j) is saved as external and restored as the restoring ferry's terminal.
 * Unlinked files are saved and recreated by ghost.c.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LOG_PREFIX "files: "
#include "log.h"
#include "dump.h"
#include "files.h"
#include "rst.h"

#define MEM_CHR_MAJOR 1

static RegFileEntry *reg_entry_new(struct dtask *t, const char *path, const struct stat *st,
				   unsigned int flags, uint64_t pos)
{
	RegFileEntry *reg = dtask_alloc(t, sizeof(*reg));
	FownEntry *fown = dtask_alloc(t, sizeof(*fown));

	if (!reg || !fown)
		return NULL;
	fown_entry__init(fown);
	reg_file_entry__init(reg);
	reg->flags = flags & ~O_CLOEXEC;
	reg->pos = pos;
	reg->fown = fown;
	reg->name = dtask_strdup(t, path);
	reg->has_size = 1, reg->size = st->st_size;
	reg->has_mode = 1, reg->mode = st->st_mode;
	return reg->name ? reg : NULL;
}

/*
 * A file, directory or FIFO on tmpfs or ramfs is gone after a reboot, so a restore in the
 * next kernel (ferry upgrade) could not reopen it: refused there, reported otherwise.
 * what names it ("fd 3", "a mapping"); statpath reaches it through /proc.
 */
static int check_survives_reboot(struct dtask *t, const char *what, const char *path,
				 const char *statpath, const struct stat *st)
{
	struct statfs fs;

	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISFIFO(st->st_mode))
		return 0;
	if (statfs(statpath, &fs) || (fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC))
		return 0;
	switch (t->volatile_files) {
	case DUMP_VOLATILE_REFUSE:
		pr_err("process %d %s: '%s' is on %s, which does not survive the kexec: the new "
		       "kernel could not reopen it", t->pid, what, path,
		       fs.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
		return -EOPNOTSUPP;
	case DUMP_VOLATILE_WARN:
		pr_warn("process %d %s: '%s' is on %s: a restore after a reboot cannot reopen it",
			t->pid, what, path, fs.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
		return 0;
	default:
		pr_info("process %d %s: '%s' is on tmpfs or ramfs (gone after a reboot)", t->pid,
			what, path);
		return 0;
	}
}

int reg_file_new(struct dtask *t, const char *path, const struct stat *st, unsigned int flags)
{
	char statpath[PATH_MAX + 32];
	FileEntry *fe;
	int ret;

	snprintf(statpath, sizeof(statpath), "/proc/%d/root%s", t->pid, path);
	ret = check_survives_reboot(t, "(a path it uses)", path, statpath, st);
	if (ret)
		return ret;
	fe = files_new(t, FD_TYPES__REG, st, flags, -1);

	if (!fe || !(fe->reg = reg_entry_new(t, path, st, flags, 0)))
		return -ENOMEM;
	fe->reg->id = fe->id;
	pr_debug("%d: file id %u: %s flags %#o", t->pid, fe->id, path, fe->reg->flags);
	return fe->id;
}

bool reg_file_is_terminal(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143));
}

/* /dev/null (1:3), zero (1:5), full (1:7), random (1:8), urandom (1:9); not mem, kmsg… */
static bool is_mem_device(dev_t rdev)
{
	unsigned int min = minor(rdev);

	return major(rdev) == MEM_CHR_MAJOR && (min == 3 || min == 5 || min == 7 || min == 8 ||
						min == 9);
}

bool reg_file_path_ok(const struct stat *st, const char *path)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(path);

	if (S_ISCHR(st->st_mode))
		return is_mem_device(st->st_rdev);
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return false;
	if (path[0] != '/')
		return false;
	return len < sizeof(deleted) || strcmp(path + len - sizeof(deleted) + 1, deleted);
}

/* Does the path, seen from the task's root, still lead to the open file? */
static int check_path_leads_here(struct dtask *t, const struct fd_parms *p)
{
	char full[PATH_MAX + 32];
	struct stat st;

	if (!S_ISREG(p->st.st_mode) && !S_ISDIR(p->st.st_mode))
		return 0;
	snprintf(full, sizeof(full), "/proc/%d/root%s", t->pid, p->link);
	if (!stat(full, &st) && st.st_dev == p->st.st_dev && st.st_ino == p->st.st_ino)
		return 0;
	pr_err("process %d fd %d: the path '%s' now leads to another file (overmounted or "
	       "replaced): its file cannot be reopened by path", t->pid, p->fd, p->link);
	return -EOPNOTSUPP;
}

static int check_fd_survives(struct dtask *t, const struct fd_parms *p)
{
	char what[32], statpath[64];

	snprintf(what, sizeof(what), "fd %d", p->fd);
	snprintf(statpath, sizeof(statpath), "/proc/%d/fd/%d", t->pid, p->fd);
	return check_survives_reboot(t, what, p->link, statpath, &p->st);
}

static int reg_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	bool tty = reg_file_is_terminal(&p->st);
	bool ghost = !tty && ghost_is_deleted(&p->st, p->link);
	int ret;

	if (tty && !t->shell_job) {
		pr_err("process %d fd %d is the terminal %s: dump it as a shell job with -j "
		       "(restore then gives it the restoring shell's terminal)", t->pid, p->fd,
		       p->link);
		return -EOPNOTSUPP;
	}
	if (!tty && !ghost && !reg_file_path_ok(&p->st, p->link)) {
		pr_err("process %d fd %d: %s '%s' is not supported yet", t->pid, p->fd,
		       S_ISCHR(p->st.st_mode) ? "character device" : "deleted file", p->link);
		return -EOPNOTSUPP;
	}
	if (!tty && !ghost && check_path_leads_here(t, p))
		return -EOPNOTSUPP;
	if (!tty && !ghost && (ret = check_fd_survives(t, p)))
		return ret;
	fe->reg = reg_entry_new(t, p->link, &p->st, p->fi.flags, tty ? 0 : p->fi.pos);
	if (!fe->reg)
		return -ENOMEM;
	fe->reg->id = fe->id;
	fe->reg->has_mnt_id = p->fi.mnt_id >= 0, fe->reg->mnt_id = p->fi.mnt_id;
	/* the terminal is external: the restoring ferry supplies its own (-j) */
	if (tty)
		fe->reg->has_ext = fe->reg->ext = 1;
	return ghost ? ghost_dump(t, p, fe->reg) : 0;
}

static int reg_check(const FileEntry *fe)
{
	if (!fe->reg || !fe->reg->name[0] || fe->reg->id != fe->id) {
		pr_err("files.img: regular file id %u has no path or a wrong id", fe->id);
		return -EINVAL;
	}
	return 0;
}

static void check_stat(int fd, const RegFileEntry *reg)
{
	struct stat st;

	if (fstat(fd, &st)) {
		pr_perror("cannot stat %s", reg->name);
		return;
	}
	if (reg->has_mode && ((st.st_mode ^ reg->mode) & S_IFMT))
		pr_warn("%s changed type since the dump (mode %o, now %o)", reg->name, reg->mode,
			st.st_mode);
	else if (reg->has_mode && st.st_mode != reg->mode)
		pr_warn("%s changed mode since the dump (%o, now %o)", reg->name, reg->mode,
			st.st_mode);
	if (reg->has_size && S_ISREG(st.st_mode) && (uint64_t)st.st_size != reg->size)
		pr_warn("%s changed size since the dump (%llu bytes, now %lld)", reg->name,
			(unsigned long long)reg->size, (long long)st.st_size);
}

/* Open a regular file entry by path; flags are the open(2) flags to use. */
int rst_file_open_reg(const RegFileEntry *reg, int flags, bool check)
{
	int fd;

	flags &= ~(O_CREAT | O_TRUNC | O_EXCL | O_TMPFILE | O_CLOEXEC);
	fd = open(reg->name, flags | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s", reg->name);
		return -errno;
	}
	if (check)
		check_stat(fd, reg);
	return fd;
}

/*
 * An external terminal (a shell job's, dumped with -j): open the terminal this ferry runs
 * on, found on its stdin/stdout/stderr, with the saved flags.
 */
static int open_caller_tty(struct rst_task *t, const RegFileEntry *reg)
{
	char link[32], path[PATH_MAX];
	ssize_t n;
	int fd;

	if (!t->opts->shell_job) {
		pr_err("files.img: file %u is the terminal %s of a shell job: restore with -j", reg->id,
		       reg->name);
		return -EINVAL;
	}
	for (fd = 0; fd < 3; fd++) {
		if (!isatty(fd))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n <= 0)
			continue;
		path[n] = 0;
		fd = open(path, (reg->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			pr_perror("cannot open the terminal %s for %s", path, reg->name);
		return fd < 0 ? -errno : fd;
	}
	pr_err("-j: ferry restore has no terminal on stdin, stdout or stderr to give the task "
	       "(it had %s)", reg->name);
	return -ENOTTY;
}

static int reg_open(struct rst_task *t, const FileEntry *fe)
{
	const RegFileEntry *reg = fe->reg;
	int fd;

	int ghost = ghost_lookup(t, fe->id);

	if (ghost < 0)
		return ghost;
	if (ghost)
		fd = ghost_open(t, reg, ghost);
	else if (reg->has_ext && reg->ext)
		fd = open_caller_tty(t, reg);
	else
		fd = rst_file_open_reg(reg, reg->flags, true);
	if (fd < 0)
		return fd;
	if (reg->pos && lseek(fd, reg->pos, SEEK_SET) != (off_t)reg->pos) {
		pr_perror("cannot seek %s to offset %llu", reg->name, (unsigned long long)reg->pos);
		close(fd);
		return -EIO;
	}
	return fd;
}

const struct fd_ops reg_file_ops = {
	.name = "file",
	.type = FD_TYPES__REG,
	.dump = reg_dump,
	.check = reg_check,
	.open = reg_open,
};
