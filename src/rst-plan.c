// SPDX-License-Identifier: MIT
/*
 * Restore, stage "plan": read every image of the tree and validate it as hostile input
 * before anything is created: the tree's shape (pids, parents), VMA layout, pagemap runs against the VMAs and the
 * size of pages-N.img, file ids, fd numbers. Uses only the image reader (image.h).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "rst.h"
#include "seccomp.h"
#include "share.h"
#include "thread.h"
#include "vma.h"

#define MAX_FD (1 << 20)
#define VMA_KINDS                                                                         \
	(VMA_FILE_PRIVATE | VMA_FILE_SHARED | VMA_ANON_SHARED | VMA_ANON_PRIVATE | VMA_AREA_SYSVIPC)

FileEntry *rst_file_by_id(const struct rst_task *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->nr_files; i++)
		if (t->files[i]->id == id)
			return t->files[i];
	return NULL;
}

static int load_inventory(struct rst_tree *tr)
{
	if (img_read_one(tr->opts->dirfd, IMG_INVENTORY, &inventory_entry__descriptor,
			 (void **)&tr->inv))
		return -EINVAL;
	if (tr->inv->img_version != IMG_VERSION_V1_1) {
		pr_err("inventory.img: img_version %u is not supported (expected %u)",
		       tr->inv->img_version, IMG_VERSION_V1_1);
		return -EINVAL;
	}
	return 0;
}

static int add_task(struct rst_tree *tr, PstreeEntry *pe)
{
	struct rst_task *n, *t;

	if (tr->nr_tasks == RST_MAX_TASKS) {
		pr_err("pstree.img: more than %d processes", RST_MAX_TASKS);
		img_free_pb(pe);
		return -E2BIG;
	}
	n = realloc(tr->tasks, (tr->nr_tasks + 1) * sizeof(*n));
	if (!n) {
		img_free_pb(pe);
		return -ENOMEM;
	}
	tr->tasks = n;
	t = &tr->tasks[tr->nr_tasks++];
	memset(t, 0, sizeof(*t));
	t->pst = pe;
	t->pid = pe->pid;
	t->parent = -1;
	t->exe_fd = -1;
	return 0;
}

/* pid in range and unique; a parent is an earlier, live entry (the root is first). */
static int check_tree_entry(struct rst_tree *tr, size_t i)
{
	struct rst_task *t = &tr->tasks[i];
	size_t k;

	if (t->pst->pid < 2 || t->pst->pid > (1U << 22)) {
		pr_err("pstree.img: entry %zu: pid %u is out of range", i, t->pst->pid);
		return -EINVAL;
	}
	for (k = 0; k < i; k++) {
		if (tr->tasks[k].pid == t->pid) {
			pr_err("pstree.img: pid %u appears twice", t->pid);
			return -EINVAL;
		}
		if (i && tr->tasks[k].pid == (pid_t)t->pst->ppid)
			t->parent = k;
	}
	if (i && t->parent < 0) {
		pr_err("pstree.img: entry %zu (pid %u): its parent %u is not an earlier entry", i,
		       t->pid, t->pst->ppid);
		return -EINVAL;
	}
	return 0;
}

static int load_tree(struct rst_tree *tr)
{
	PstreeEntry *pe;
	struct img *img;
	size_t i;
	int ret;

	img = img_open(tr->opts->dirfd, IMG_PSTREE, O_RDONLY);
	if (!img)
		return -errno;
	while ((ret = img_read_pb(img, &pstree_entry__descriptor, (void **)&pe)) > 0) {
		ret = add_task(tr, pe);
		if (ret)
			break;
	}
	img_close(img);
	if (!ret && !tr->nr_tasks) {
		pr_err("pstree.img: no process in the image");
		ret = -EINVAL;
	}
	for (i = 0; !ret && i < tr->nr_tasks; i++)
		ret = check_tree_entry(tr, i);
	return ret;
}

/* A zombie's wait status must be one a process can end with: exit(0..255) or a fatal signal. */
static int check_exit_status(uint32_t pid, uint32_t status)
{
	unsigned int sig = status & 0x7f;
	uint64_t nonfatal = 1ULL << SIGCHLD | 1ULL << SIGCONT | 1ULL << SIGURG | 1ULL << SIGWINCH |
			    1ULL << SIGSTOP | 1ULL << SIGTSTP | 1ULL << SIGTTIN | 1ULL << SIGTTOU;

	if (status & ~0xffffU || (!sig && status & 0x80) ||
	    (sig && (status & 0xff00 || sig > 64 || nonfatal >> sig & 1))) {
		pr_err("core-%u.img: zombie exit status %#x is not an exit code or a fatal signal",
		       pid, status);
		return -EINVAL;
	}
	return 0;
}

static int check_task(struct rst_task *t)
{
	PstreeEntry *p = t->pst;
	CoreEntry *c = t->core;

	if (c->tc && c->tc->task_state == TASK_STATE_DEAD) {
		t->dead = true;
		return check_exit_status(p->pid, c->tc->exit_code);
	}
	if (c->mtype != CORE_ENTRY__MARCH__X86_64 || !c->thread_info || !c->tc ||
	    !c->thread_info->gpregs || !c->thread_info->fpregs) {
		pr_err("core-%u.img: not a complete x86_64 task (thread_info, tc missing)", p->pid);
		return -EINVAL;
	}
	if (c->tc->task_state != TASK_STATE_ALIVE &&
	    c->tc->task_state != TASK_STATE_STOPPED) {
		pr_err("core-%u.img: task state %u: only live, stopped or dead tasks are restored",
		       p->pid, c->tc->task_state);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int check_vma(const VmaEntry *v, const VmaEntry *prev, size_t i, uint32_t pid)
{
	uint32_t kind = v->status & VMA_KINDS;

	if (v->start >= v->end || (v->start | v->end | v->pgoff) & (RST_PAGE - 1) ||
	    (v->end > RST_TASK_SIZE && !(v->status & VMA_AREA_VSYSCALL))) {
		pr_err("mm-%u.img: VMA %zu [%#lx-%#lx) pgoff %#lx is not a valid user area", pid, i,
		       (unsigned long)v->start, (unsigned long)v->end, (unsigned long)v->pgoff);
		return -EINVAL;
	}
	if (prev && v->start < prev->end) {
		pr_err("mm-%u.img: VMA %zu at %#lx overlaps or is out of order", pid, i,
		       (unsigned long)v->start);
		return -EINVAL;
	}
	if (v->status & (VMA_AREA_SOCKET | VMA_AREA_AIORING | VMA_UNSUPP)) {
		pr_err("mm-%u.img: VMA %zu at %#lx has unsupported status %#x", pid, i,
		       (unsigned long)v->start, v->status);
		return -EOPNOTSUPP;
	}
	if ((v->status & VMA_AREA_REGULAR) && (kind & (kind - 1) || !kind)) {
		pr_err("mm-%u.img: VMA %zu at %#lx: status %#x needs exactly one kind", pid, i,
		       (unsigned long)v->start, v->status);
		return -EINVAL;
	}
	if (v->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) {
		pr_err("mm-%u.img: VMA %zu at %#lx: bad prot %#x", pid, i, (unsigned long)v->start,
		       v->prot);
		return -EINVAL;
	}
	return 0;
}

static int check_vma_file(struct rst_task *t, const VmaEntry *v, size_t i)
{
	FileEntry *f;

	if (!(v->status & VMA_AREA_REGULAR) || !(v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED)))
		return 0;
	f = v->fd >= 0 && v->fd <= UINT32_MAX ? rst_file_by_id(t, v->fd) : NULL;
	if (!f || (!f->reg && !(f->memfd && (v->status & VMA_AREA_MEMFD)))) {
		pr_err("mm-%u.img: VMA %zu at %#lx maps file id %lld, not a regular file in files.img",
		       t->pid, i, (unsigned long)v->start, (long long)v->fd);
		return -EINVAL;
	}
	return 0;
}

static int load_mm(struct rst_task *t)
{
	MmEntry *mm;
	size_t i;
	int ret;

	ret = img_read_one(t->dirfd, IMG_MM, &mm_entry__descriptor, (void **)&t->mm, t->pid);
	if (ret)
		return ret;
	mm = t->mm;
	if (mm->n_mm_saved_auxv > RST_AUXV_MAX - 2 || mm->n_mm_saved_auxv & 1) {
		pr_err("mm-%u.img: auxv has %zu words", t->pid, mm->n_mm_saved_auxv);
		return -EINVAL;
	}
	for (i = 0; i < mm->n_vmas; i++) {
		ret = check_vma(mm->vmas[i], i ? mm->vmas[i - 1] : NULL, i, t->pid);
		if (!ret)
			ret = check_vma_file(t, mm->vmas[i], i);
		if (ret)
			return ret;
	}
	if (mm->exe_file_id && !rst_file_by_id(t, mm->exe_file_id)) {
		pr_err("mm-%u.img: exe_file_id %u is not in files.img", t->pid, mm->exe_file_id);
		return -EINVAL;
	}
	return 0;
}

/* The VMA holding [addr, addr + len), or NULL. */
static const VmaEntry *vma_holding(const MmEntry *mm, uint64_t addr, uint64_t end)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const VmaEntry *v = mm->vmas[mid];

		if (addr >= v->end)
			lo = mid + 1;
		else if (addr < v->start)
			hi = mid;
		else
			return end <= v->end ? v : NULL;
	}
	return NULL;
}

/* Each present run lies in REGULAR VMAs (or the vDSO), runs are ordered. */
static int check_pagemap_run(struct rst_task *t, const PagemapEntry *pe, uint64_t prev_end,
			     size_t i)
{
	uint64_t addr = pe->vaddr, end = pe->vaddr + (uint64_t)pe->nr_pages * RST_PAGE;

	if (pe->vaddr & (RST_PAGE - 1) || !pe->nr_pages || end > RST_TASK_SIZE ||
	    pe->vaddr < prev_end) {
		pr_err("pagemap-%u.img: entry %zu (%#lx, %u pages) is misaligned, empty, out of "
		       "range or out of order", t->pid, i, (unsigned long)pe->vaddr, pe->nr_pages);
		return -EINVAL;
	}
	if (pe->in_parent || (pe->flags & (PE_PARENT | PE_LAZY))) {
		pr_err("pagemap-%u.img: entry %zu refers to a parent image or lazy pages, which ferry "
		       "does not support", t->pid, i);
		return -EOPNOTSUPP;
	}
	while (addr < end) {
		const VmaEntry *v = vma_holding(t->mm, addr, addr + RST_PAGE);

		if (!v || !(v->status & (VMA_AREA_REGULAR | VMA_AREA_VDSO)) ||
		    (v->status & (VMA_FILE_SHARED | VMA_AREA_SYSVIPC))) {
			pr_err("pagemap-%u.img: entry %zu: page %#lx is not in a private or anonymous "
			       "VMA of mm-%u.img", t->pid, i, (unsigned long)addr, t->pid);
			return -EINVAL;
		}
		addr = v->end < end ? v->end : end;
	}
	return 0;
}

static int load_pagemap(struct rst_task *t)
{
	PagemapHead *head = NULL;
	struct img *img;
	void *pe;
	int ret;

	img = img_open(t->dirfd, IMG_PAGEMAP, O_RDONLY, t->pid);
	if (!img)
		return -errno;
	ret = img_read_pb(img, &pagemap_head__descriptor, (void **)&head);
	if (ret <= 0) {
		if (!ret)
			pr_err("pagemap-%u.img: no pagemap_head", t->pid);
		ret = -EINVAL;
		goto out;
	}
	t->pages_id = head->pages_id;
	while ((ret = img_read_pb(img, &pagemap_entry__descriptor, &pe)) > 0) {
		void *n = realloc(t->pm, (t->nr_pm + 1) * sizeof(*t->pm));

		if (!n) {
			img_free_pb(pe);
			ret = -ENOMEM;
			goto out;
		}
		t->pm = n;
		t->pm[t->nr_pm++] = pe;
	}
out:
	img_free_pb(head);
	img_close(img);
	return ret;
}

static int check_pagemap(struct rst_task *t)
{
	uint64_t prev_end = 0;
	char name[64];
	struct stat st;
	size_t i;
	int ret;

	for (i = 0; i < t->nr_pm; i++) {
		PagemapEntry *pe = t->pm[i];

		ret = check_pagemap_run(t, pe, prev_end, i);
		if (ret)
			return ret;
		prev_end = pe->vaddr + (uint64_t)pe->nr_pages * RST_PAGE;
		if (pe->flags & PE_PRESENT)
			t->nr_pages += pe->nr_pages;
	}
	snprintf(name, sizeof(name), "pages-%u.img", t->pages_id);
	if (fstatat(t->dirfd, name, &st, 0)) {
		pr_perror("cannot stat %s (named by pagemap-%u.img)", name, t->pid);
		return -errno;
	}
	if ((uint64_t)st.st_size != t->nr_pages * RST_PAGE) {
		pr_err("%s has %lld bytes but pagemap-%u.img lists %llu present pages", name,
		       (long long)st.st_size, t->pid, (unsigned long long)t->nr_pages);
		return -EINVAL;
	}
	return 0;
}

static int check_file(const FileEntry *f)
{
	const struct fd_ops *ops = fd_ops_by_type(f->type);

	if (!ops) {
		pr_err("files.img: file id %u is of type %d, which ferry cannot restore", f->id,
		       f->type);
		return -EOPNOTSUPP;
	}
	return ops->check(f);
}

static int load_files(struct rst_tree *tr)
{
	struct rst_task *t = &tr->tasks[0];	/* rst_file_by_id() reads the table there */
	struct img *img;
	FileEntry *f;
	int ret;

	img = img_open(tr->opts->dirfd, IMG_FILES, O_RDONLY);
	if (!img)
		return -errno;
	while ((ret = img_read_pb(img, &file_entry__descriptor, (void **)&f)) > 0) {
		void *n = realloc(t->files, (t->nr_files + 1) * sizeof(*t->files));

		if (!n) {
			img_free_pb(f);
			ret = -ENOMEM;
			break;
		}
		t->files = n;
		t->files[t->nr_files++] = f;
		if (rst_file_by_id(t, f->id) != f) {
			pr_err("files.img: file id %u appears twice", f->id);
			ret = -EINVAL;
			break;
		}
		ret = check_file(f);
		if (ret)
			break;
	}
	img_close(img);
	tr->files = t->files;
	tr->nr_files = t->nr_files;
	return ret;
}

static int add_fd(struct rst_task *t, FdinfoEntry *e)
{
	FileEntry *f = rst_file_by_id(t, e->id);
	struct rst_fd *n;
	size_t i;

	if (e->fd >= MAX_FD || !f) {
		pr_err("fdinfo-%u.img: fd %u (file id %u) is out of range or names no file",
		       t->ids->files_id, e->fd, e->id);
		return -EINVAL;
	}
	if (e->type != f->type) {
		pr_err("fdinfo-%u.img: fd %u is of type %d but its file id %u of type %d",
		       t->ids->files_id, e->fd, e->type, e->id, f->type);
		return -EINVAL;
	}
	for (i = 0; i < t->nr_fds; i++)
		if (t->fds[i].fd == (int)e->fd) {
			pr_err("fdinfo-%u.img: fd %u appears twice", t->ids->files_id, e->fd);
			return -EINVAL;
		}
	n = realloc(t->fds, (t->nr_fds + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->fds = n;
	t->fds[t->nr_fds++] = (struct rst_fd){ .fd = e->fd, .tmp = -1,
					       .cloexec = e->flags & FD_CLOEXEC, .file = f };
	if ((int)e->fd > t->max_fd)
		t->max_fd = e->fd;
	return 0;
}

static int load_fds(struct rst_task *t)
{
	FdinfoEntry *e;
	struct img *img;
	int ret;

	t->max_fd = -1;
	img = img_open(t->dirfd, IMG_FDINFO, O_RDONLY, t->ids->files_id);
	if (!img)
		return -errno;
	while ((ret = img_read_pb(img, &fdinfo_entry__descriptor, (void **)&e)) > 0) {
		ret = add_fd(t, e);
		img_free_pb(e);
		if (ret)
			break;
	}
	img_close(img);
	return ret;
}

static int check_fs(struct rst_task *t)
{
	FileEntry *cwd = rst_file_by_id(t, t->fs->cwd_id);
	FileEntry *root = rst_file_by_id(t, t->fs->root_id);

	if (!cwd || !cwd->reg || !root || !root->reg) {
		pr_err("fs-%u.img: cwd id %u or root id %u is not a path in files.img", t->pid,
		       t->fs->cwd_id, t->fs->root_id);
		return -EINVAL;
	}
	return 0;
}

/* ids-PID.img (one entry), remembering where it starts: share.c names it when it refuses. */
static int load_ids(struct rst_task *t)
{
	struct img *img = img_open(t->dirfd, IMG_IDS, O_RDONLY, t->pid);
	void *extra = NULL;
	int ret;

	if (!img)
		return -errno;
	t->ids_off = img->off;
	ret = img_read_pb(img, &task_kobj_ids_entry__descriptor, (void **)&t->ids);
	if (ret > 0)
		ret = img_read_pb(img, &task_kobj_ids_entry__descriptor, &extra) ? -EINVAL : 1;
	if (ret <= 0)
		pr_err("ids-%u.img: not exactly one entry (offset %llu)", t->pid,
		       (unsigned long long)img->off);
	img_free_pb(extra);
	img_close(img);
	return ret > 0 ? 0 : -EINVAL;
}

static int load_task(struct rst_tree *tr, struct rst_task *t)
{
	int ret;

	t->opts = tr->opts;
	t->tree = tr;
	t->dirfd = tr->opts->dirfd;
	t->files = tr->files;
	t->nr_files = tr->nr_files;
	ret = img_read_one(t->dirfd, IMG_CORE, &core_entry__descriptor, (void **)&t->core, t->pid);
	if (!ret)
		ret = check_task(t);
	if (ret || t->dead)
		return ret;
	ret = thread_plan_load(t);
	if (!ret)
		ret = seccomp_plan_load(t);
	if (!ret)
		ret = load_ids(t);
	if (!ret)
		ret = load_mm(t);
	if (!ret)
		ret = load_pagemap(t);
	if (!ret)
		ret = check_pagemap(t);
	if (!ret)
		ret = load_fds(t);
	if (!ret)
		ret = file_locks_load(t);
	if (!ret)
		ret = img_read_one(t->dirfd, IMG_FS, &fs_entry__descriptor, (void **)&t->fs, t->pid);
	if (!ret)
		ret = check_fs(t);
	if (!ret)
		ret = rst_sk_load(t);
	return ret;
}

/* A zombie has no children: they were reparented when it died. */
static int check_parents(struct rst_tree *tr)
{
	size_t i;

	if (tr->tasks[0].dead) {
		pr_err("core-%u.img: the root of the tree is dead", tr->tasks[0].pid);
		return -EINVAL;
	}
	for (i = 1; i < tr->nr_tasks; i++)
		if (tr->tasks[tr->tasks[i].parent].dead) {
			pr_err("pstree.img: %u is the child of the zombie %u", tr->tasks[i].pid,
			       tr->tasks[i].pst->ppid);
			return -EINVAL;
		}
	return 0;
}

int rst_plan_load(struct rst_tree *tr, const struct restore_opts *opts)
{
	size_t i;
	int ret;

	memset(tr, 0, sizeof(*tr));
	tr->opts = opts;
	tr->sync[0] = tr->sync[1] = tr->join[0] = tr->join[1] = tr->go[0] = tr->go[1] = -1;
	ret = load_inventory(tr);
	if (!ret)
		ret = load_tree(tr);
	if (!ret)
		ret = load_files(tr);
	for (i = 0; !ret && i < tr->nr_tasks; i++)
		ret = load_task(tr, &tr->tasks[i]);
	if (!ret)
		ret = check_parents(tr);
	if (!ret)
		ret = share_rst_plan(tr);
	if (!ret)
		ret = rst_files_plan_shared(tr);
	if (!ret)
		ret = rst_shmem_plan(tr);
	return ret;
}

static void free_task(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->nr_pm; i++)
		img_free_pb(t->pm[i]);
	thread_plan_free(t);
	seccomp_plan_free(t);
	rst_sk_free(t);
	free(t->pm);
	free(t->fds);
	file_locks_free(t);
	img_free_pb(t->pst);
	img_free_pb(t->core);
	img_free_pb(t->ids);
	img_free_pb(t->mm);
	img_free_pb(t->fs);
}

void rst_plan_free(struct rst_tree *tr)
{
	size_t i;

	for (i = 0; i < tr->nr_tasks; i++)
		free_task(&tr->tasks[i]);
	for (i = 0; i < tr->nr_files; i++)
		img_free_pb(tr->files[i]);
	free(tr->files);
	free(tr->file_owner);
	free(tr->shared_fds);
	free(tr->shmems);
	free(tr->tasks);
	free(tr->helpers);
	share_rst_gates_free(tr);
	img_free_pb(tr->inv);
}
