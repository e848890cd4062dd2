// SPDX-License-Identifier: MIT
/*
 * Memory areas, dump side: turns /proc/PID/smaps (address range, protection, backing
 * file, VmFlags) into mm-PID.img's vma_entry list and asks pages.c to queue the pages
 * each area needs. File mappings are identified through /proc/PID/map_files; memfd
 * mappings become MEMFD files.img entries (memfd.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define LOG_PREFIX "vma: "
#include "log.h"
#include "files.h"
#include "ipc.h"
#include "pages.h"
#include "proc-parse.h"
#include "vma.h"
#include "vma-dump.h"

struct vma_walk {
	struct dtask *t;
	struct pages_scan ps;
	size_t cap;
};

static const struct {
	const char *code;
	int advice;
} vm_advice[] = {
	{ "rr", MADV_RANDOM },	      { "sr", MADV_SEQUENTIAL }, { "dc", MADV_DONTFORK },
	{ "mg", MADV_MERGEABLE },     { "hg", MADV_HUGEPAGE },	 { "nh", MADV_NOHUGEPAGE },
	{ "dd", MADV_DONTDUMP },      { "wf", MADV_WIPEONFORK },
};

static void vma_bits(const struct proc_vma *v, VmaEntry *e)
{
	size_t i;

	e->prot = (v->perms[0] == 'r' ? PROT_READ : 0) | (v->perms[1] == 'w' ? PROT_WRITE : 0) |
		  (v->perms[2] == 'x' ? PROT_EXEC : 0);
	e->flags = v->perms[3] == 's' ? MAP_SHARED : MAP_PRIVATE;
	if (proc_vmflag(v, "gd"))
		e->flags |= MAP_GROWSDOWN;
	if (proc_vmflag(v, "nr"))
		e->flags |= MAP_NORESERVE;
	for (i = 0; i < sizeof(vm_advice) / sizeof(vm_advice[0]); i++)
		if (proc_vmflag(v, vm_advice[i].code))
			e->madv |= 1ULL << vm_advice[i].advice;
	e->has_madv = e->madv != 0;
}

static bool is_shared(const VmaEntry *e)
{
	return (e->flags & MAP_SHARED) != 0;
}

/* Areas without a file; returns 0 when it is one of them, 1 when not. */
static int anon_status(const struct proc_vma *v, VmaEntry *e)
{
	const char *p = v->path;

	if (!strcmp(p, "[vdso]"))
		e->status = VMA_AREA_VDSO;
	else if (!strcmp(p, "[vvar]") || !strcmp(p, "[vvar_vclock]"))
		e->status = VMA_AREA_VVAR;
	else if (!strcmp(p, "[vsyscall]"))
		e->status = VMA_AREA_VSYSCALL;
	else if (!strcmp(p, "[heap]"))
		e->status = VMA_AREA_REGULAR | VMA_ANON_PRIVATE | VMA_AREA_HEAP;
	else if (!strcmp(p, "[stack]"))
		e->status = VMA_AREA_REGULAR | VMA_ANON_PRIVATE | VMA_AREA_STACK;
	else if (!p[0] || !strncmp(p, "[anon:", 6) || !strncmp(p, "[anon_shmem:", 12) ||
		 (is_shared(e) && !strcmp(p, "/dev/zero (deleted)")))
		e->status = VMA_AREA_REGULAR | (is_shared(e) ? VMA_ANON_SHARED : VMA_ANON_PRIVATE);
	else
		return 1;
	if (e->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL | VMA_ANON_PRIVATE |
			 VMA_ANON_SHARED))
		e->flags |= MAP_ANONYMOUS;
	if (e->status & VMA_ANON_SHARED) {
		e->shmid = v->ino;
		e->pgoff = v->pgoff;	/* where the area sits in its shmem object */
	}
	return 0;
}

static int file_status(struct dtask *t, const struct proc_vma *v, VmaEntry *e)
{
	char mf[96];
	struct stat st;
	unsigned int flags;
	int id;

	bool memfd = !strncmp(v->path, "/memfd:", 7);

	if (v->path[0] != '/' || (!memfd && strstr(v->path, " (deleted)"))) {
		pr_err("process %d: area %#lx-%#lx of '%s' is not supported yet", t->pid, v->start,
		       v->end, v->path);
		return -EOPNOTSUPP;
	}
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", t->pid, v->start, v->end);
	if (stat(mf, &st)) {
		pr_perror("cannot stat the file mapped at %#lx by %d (%s)", v->start, t->pid,
			  v->path);
		return -errno;
	}
	flags = is_shared(e) && (e->prot & PROT_WRITE) ? O_RDWR : O_RDONLY;
	if (memfd && S_ISREG(st.st_mode))
		id = memfd_add_mapping(t, v->path, mf, &st, flags);
	else
		id = 0;
	if (id < 0)
		return id;
	if (!S_ISREG(st.st_mode)) {
		pr_err("process %d: mapping of '%s' (not a regular file) is not supported yet",
		       t->pid, v->path);
		return -EOPNOTSUPP;
	}
	if (!id)
		id = files_add_path(t, v->path, &st, flags);
	if (id < 0)
		return id;
	e->fd = id;
	e->has_fdflags = 1;
	e->fdflags = flags;
	e->pgoff = v->pgoff;
	e->status = VMA_AREA_REGULAR | (is_shared(e) ? VMA_FILE_SHARED : VMA_FILE_PRIVATE) |
		    (memfd ? VMA_AREA_MEMFD : 0);
	return 0;
}

/* A shared anonymous area whose pages an earlier area of the same object already covers. */
/*
 * Each page of a MAP_SHARED|MAP_ANONYMOUS object is dumped once for the whole tree: an
 * area whose range of the object a task already dumped (this one or another: the object
 * was inherited through fork) adds no pages. Restore gives every task mapping the object
 * one instance of it (rst-shmem.c), filled by the tasks whose pagemaps hold its pages.
 */
static bool shmem_seen(const struct dtask *t, const VmaEntry *e)
{
	const struct dfiles *fx = t->fx;
	size_t i;

	for (i = 0; i < fx->n_shmems; i++) {
		const struct dshmem *o = &fx->shmems[i];

		if (o->shmid == e->shmid && o->pgoff <= e->pgoff &&
		    o->pgoff + o->len >= e->pgoff + (e->end - e->start))
			return true;
	}
	return false;
}

static int shmem_dumped(struct dtask *t, const VmaEntry *e)
{
	struct dfiles *fx = t->fx;

	if (dtask_grow(t, &fx->shmems, fx->n_shmems, &fx->shmems_cap, sizeof(*fx->shmems)))
		return -ENOMEM;
	fx->shmems[fx->n_shmems++] =
		(struct dshmem){ e->shmid, e->pgoff, e->end - e->start, t->pid };
	return 0;
}

static int vma_pages(struct vma_walk *w, const VmaEntry *e)
{
	bool mem = !(e->prot & PROT_READ);
	int ret;

	/* the object's own pages, since a page may be mapped only through another area or
	 * through none */
	if ((e->status & VMA_ANON_SHARED) && shmem_seen(w->t, e))
		return 0;
	if (e->status & VMA_ANON_SHARED) {
		ret = pages_scan_shmem(w->t, &w->ps, e->start, e->end, e->pgoff, mem);
		return ret ?: shmem_dumped(w->t, e);
	}
	/* shared files keep their contents; SysV segments go whole into ipcns-shm */
	if (e->status & (VMA_FILE_SHARED | VMA_AREA_SYSVIPC | VMA_AREA_VVAR | VMA_AREA_VSYSCALL))
		return 0;
	if (e->status & VMA_AREA_VDSO)
		return pages_add_all(w->t, &w->ps, e->start, e->end);
	return pages_scan(w->t, &w->ps, e->start, e->end, e->status & VMA_FILE_PRIVATE, mem);
}

static int vma_one(const struct proc_vma *v, void *arg)
{
	struct vma_walk *w = arg;
	struct dtask *t = w->t;
	VmaEntry *e = dtask_alloc(t, sizeof(*e));
	int ret;

	if (!e || dtask_grow(t, &t->mm.vmas, t->mm.n_vmas, &w->cap, sizeof(*t->mm.vmas)))
		return -ENOMEM;
	vma_entry__init(e);
	e->start = v->start;
	e->end = v->end;
	e->fd = -1;
	vma_bits(v, e);
	ret = anon_status(v, e);
	if (ret > 0)
		ret = ipc_shm_vma(t->pid, v, e);
	if (ret > 0)
		ret = file_status(t, v, e);
	if (ret)
		return ret;
	if ((e->status & VMA_AREA_REGULAR) && (proc_vmflag(v, "io") || proc_vmflag(v, "pf"))) {
		pr_err("process %d: I/O area %#lx-%#lx (%s) cannot be dumped", t->pid, v->start,
		       v->end, v->path);
		return -EOPNOTSUPP;
	}
	t->mm.vmas[t->mm.n_vmas++] = e;
	return vma_pages(w, e);
}

int vma_collect(struct dtask *t)
{
	struct vma_walk w = { .t = t };
	int ret;

	ret = pages_scan_init(t, &w.ps);
	if (ret)
		return ret;
	ret = proc_parse_smaps(t->pid, vma_one, &w);
	pages_scan_fini(&w.ps);
	if (!ret)
		pr_info("%d: %zu areas, %lu pages to dump", t->pid, t->mm.n_vmas, t->nr_pages);
	return ret;
}
