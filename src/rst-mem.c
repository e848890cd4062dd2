// SPDX-License-Identifier: MIT
/*
 * Restore of a task's memory, in the new task: reserve one region of free address space
 * that overlaps neither the target's VMAs nor ours, premap every target VMA into it
 * (compactly, in order), fill the present pages straight from pages-N.img with preadv
 * (two threads for large images), and map the restorer blob with its args and stack at
 * the end of the region. Kernel interfaces: mmap (MAP_FIXED_NOREPLACE), preadv.
 *
 *   region: [ premapped VMAs ... ][ vDSO scratch ][ blob code ][ args ][ stack ]
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "ipc.h"
#include "rst.h"
#include "rst-maps.h"
#include "seccomp.h"
#include "thread.h"
#include "timer.h"
#include "sigframe.h"
#include "vma.h"

extern const char _binary_restorer_bin_start[], _binary_restorer_bin_end[];

#define PAGE_ALIGN(x) (((x) + RST_PAGE - 1) & ~(RST_PAGE - 1))
#define FILL_THREAD_MIN (64UL << 20)

struct seg {
	char *dst;
	size_t len;
	off_t off;	/* in pages-N.img */
};

#define RST_MAX_SHMEM 64

struct mem {
	struct rst_task *t;
	unsigned long *premap;	/* per mm VMA index: premapped address or 0 */
	long vdso_idx;		/* index of the dumped [vdso] VMA or -1 */
	uint64_t vdso_pages;	/* bit n: its page n is in the pagemap */
	unsigned long premap_size, scratch, scratch_size;
	struct seg *segs;
	size_t nr_segs;
	int pages_fd;
	struct shmem_obj {
		uint64_t shmid;
		int fd;
	} shmem[RST_MAX_SHMEM];		/* premap_shmem(): one memfd per shared object */
	size_t nr_shmem;
};

struct fill_job {
	struct mem *m;
	size_t first, last;
	int err;
};

void *rst_args_alloc(struct rst_task *t, size_t size)
{
	char *p = (char *)(((unsigned long)t->args_free + 63) & ~63UL);

	if (p + size > t->args_end) {
		pr_err("the restorer's argument area is too small (%zu bytes more needed)", size);
		return NULL;
	}
	t->args_free = p + size;
	return memset(p, 0, size);
}

static bool premapped(const VmaEntry *v)
{
	return (v->status & (VMA_AREA_REGULAR | VMA_AREA_VDSO)) != 0;
}

static size_t args_size(const struct rst_task *t)
{
	const CoreEntry *c = t->core;
	size_t n = sizeof(struct restorer_args) + RST_MAX_UNMAP * sizeof(struct rst_range);

	n += (t->mm->n_vmas + 1) * sizeof(struct rst_vma);
	if (c->tc->signals_s)
		n += c->tc->signals_s->n_signals * sizeof(struct rst_siginfo);
	if (c->thread_core && c->thread_core->signals_p)
		n += c->thread_core->signals_p->n_signals * sizeof(struct rst_siginfo);
	if (c->thread_core && c->thread_core->creds)
		n += c->thread_core->creds->n_groups * 4;
	n += thread_args_size(t) + timer_args_size(t) + seccomp_args_size(t);
	return PAGE_ALIGN(n + sigframe_size() + 16 * 64);
}

/* Find and reserve the region; set its layout. */
static int reserve_region(struct mem *m, size_t blob_size)
{
	struct rst_task *t = m->t;
	size_t n = t->mm->n_vmas, i, nb = 0;
	struct rst_map *busy = calloc(n + RST_MAX_UNMAP, sizeof(*busy));
	ssize_t nself;
	unsigned long lo = -1UL, hi = 0, at;
	void *p;

	if (!busy)
		return -ENOMEM;
	nself = rst_maps_read(busy, RST_MAX_UNMAP);
	if (nself < 0) {
		pr_err("cannot read /proc/self/maps: %s", strerror(-nself));
		free(busy);
		return nself;
	}
	for (i = 0; i < (size_t)nself; i++)
		if (busy[i].kind == RST_MAP_VDSO || busy[i].kind == RST_MAP_VVAR ||
		    busy[i].kind == RST_MAP_VVAR_VCLOCK) {
			lo = busy[i].start < lo ? busy[i].start : lo;
			hi = busy[i].end > hi ? busy[i].end : hi;
		}
	m->scratch_size = hi > lo ? hi - lo : 0;
	nb = nself;
	for (i = 0; i < n; i++)
		if (!(t->mm->vmas[i]->status & VMA_AREA_VSYSCALL))
			busy[nb++] = (struct rst_map){ t->mm->vmas[i]->start, t->mm->vmas[i]->end,
							 RST_MAP_OTHER };
	t->region_len = m->premap_size + m->scratch_size + blob_size;
	at = rst_find_gap(busy, nb, t->region_len, RST_TASK_SIZE - RST_PAGE);
	free(busy);
	p = at ? mmap((void *)at, t->region_len, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0)
	       : MAP_FAILED;
	if (p == MAP_FAILED) {
		pr_perror("cannot reserve %lu bytes of free address space for the restore",
			  t->region_len);
		return -ENOMEM;
	}
	t->region = at;
	m->scratch = at + m->premap_size;
	t->blob = m->scratch + m->scratch_size;
	t->blob_len = blob_size;
	pr_debug("restore region at %#lx, %lu bytes", at, t->region_len);
	return 0;
}

static int premap_file(struct rst_task *t, const VmaEntry *v, void *at, int prot)
{
	const FileEntry *f = rst_file_by_id(t, v->fd);
	bool shared = v->status & VMA_FILE_SHARED;
	int fd, flags = shared && (v->prot & PROT_WRITE) ? O_RDWR : O_RDONLY;
	void *p;

	/* a memfd: the one instance its fds and other mappings share */
	fd = f->memfd ? rst_file_map_fd(t, f) : rst_file_open_reg(f->reg, flags, false);
	if (fd < 0)
		return fd;
	p = mmap(at, v->end - v->start, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd,
		 v->pgoff);
	close(fd);
	if (p == MAP_FAILED) {
		pr_perror("cannot map file id %u at offset %#lx for VMA %#lx", f->id,
			  (unsigned long)v->pgoff, (unsigned long)v->start);
		return -errno;
	}
	return 0;
}

/* The memfd standing for shared anonymous object shmid, sized for all its areas. */
static int shmem_fd(struct mem *m, uint64_t shmid)
{
	const MmEntry *mm = m->t->mm;
	uint64_t size = 0;
	size_t i;
	int fd;

	for (i = 0; i < m->nr_shmem; i++)
		if (m->shmem[i].shmid == shmid)
			return m->shmem[i].fd;
	if (m->nr_shmem == RST_MAX_SHMEM) {
		pr_err("mm-%u.img: more than %d shared anonymous objects", m->t->pid, RST_MAX_SHMEM);
		return -E2BIG;
	}
	/* one that other tasks map too: an ancestor created it for all of them */
	fd = rst_shmem_fd(m->t, shmid);
	if (fd >= 0) {
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			pr_perror("cannot dup the shared anonymous object %#lx",
				  (unsigned long)shmid);
			return -errno;
		}
		m->shmem[m->nr_shmem++] = (struct shmem_obj){ shmid, fd };
		return fd;
	}
	for (i = 0; i < mm->n_vmas; i++)
		if ((mm->vmas[i]->status & VMA_ANON_SHARED) && mm->vmas[i]->shmid == shmid &&
		    mm->vmas[i]->pgoff + mm->vmas[i]->end - mm->vmas[i]->start > size)
			size = mm->vmas[i]->pgoff + mm->vmas[i]->end - mm->vmas[i]->start;
	if (size > (1ULL << 40)) {
		pr_err("mm-%u.img: shared anonymous object %#lx would span %lu bytes", m->t->pid,
		       (unsigned long)shmid, (unsigned long)size);
		return -EINVAL;
	}
	fd = memfd_create("ferry-shmem", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, size)) {
		pr_perror("cannot create the shared anonymous object %#lx (%lu bytes)",
			  (unsigned long)shmid, (unsigned long)size);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	m->shmem[m->nr_shmem++] = (struct shmem_obj){ shmid, fd };
	return fd;
}

/* Shared anonymous areas of one object map one memfd, so that they stay shared. */
static int premap_shmem(struct mem *m, const VmaEntry *v, void *at, int extra)
{
	int fd = shmem_fd(m, v->shmid);
	void *p;

	if (fd < 0)
		return fd;
	if (v->pgoff % RST_PAGE) {
		pr_err("mm-%u.img: shared VMA %#lx has an unaligned offset %#lx", m->t->pid,
		       (unsigned long)v->start, (unsigned long)v->pgoff);
		return -EINVAL;
	}
	p = mmap(at, v->end - v->start, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | extra, fd,
		 v->pgoff);
	if (p == MAP_FAILED) {
		pr_perror("cannot premap the shared anonymous VMA %#lx", (unsigned long)v->start);
		return -errno;
	}
	return 0;
}

static int premap_one(struct mem *m, const VmaEntry *v, unsigned long at)
{
	int rw = PROT_READ | PROT_WRITE, extra = v->flags & (MAP_GROWSDOWN | MAP_NORESERVE);
	void *p;

	if (v->status & VMA_FILE_SHARED)
		return premap_file(m->t, v, (void *)at, v->prot);
	if (v->status & VMA_AREA_SYSVIPC)
		return ipc_premap_shm(v, (void *)at);
	if (v->status & VMA_FILE_PRIVATE)
		return premap_file(m->t, v, (void *)at, rw);
	if (v->status & VMA_ANON_SHARED)
		return premap_shmem(m, v, (void *)at, extra);
	p = mmap((void *)at, v->end - v->start, rw,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | extra, -1, 0);
	if (p == MAP_FAILED) {
		pr_perror("cannot premap the anonymous VMA %#lx", (unsigned long)v->start);
		return -errno;
	}
	return 0;
}

static int premap_all(struct mem *m)
{
	const MmEntry *mm = m->t->mm;
	unsigned long at = m->t->region;
	size_t i;
	int ret;

	for (i = 0, ret = 0; !ret && i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];

		if (!premapped(v))
			continue;
		ret = premap_one(m, v, at);
		m->premap[i] = at;
		at += v->end - v->start;
	}
	for (i = 0; i < m->nr_shmem; i++)
		close(m->shmem[i].fd);
	m->nr_shmem = 0;
	return ret;
}

static long vma_index(const MmEntry *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr >= mm->vmas[mid]->end)
			lo = mid + 1;
		else if (addr < mm->vmas[mid]->start)
			hi = mid;
		else
			return mid;
	}
	return -1;
}

/*
 * Segments are merged up to SEG_MAX bytes: a bounded segment keeps each preadv() far
 * below the kernel's per-call limit (MAX_RW_COUNT, just under 2 GiB) and lets the two
 * fill threads split a single huge area evenly.
 */
#define SEG_MAX (64UL << 20)

static int add_seg(struct mem *m, char *dst, size_t len, off_t off, size_t *cap)
{
	struct seg *s = m->nr_segs ? &m->segs[m->nr_segs - 1] : NULL;

	if (len > SEG_MAX) {
		for (size_t done = 0; done < len; done += SEG_MAX)
			if (add_seg(m, dst + done, len - done < SEG_MAX ? len - done : SEG_MAX,
				    off + done, cap))
				return -ENOMEM;
		return 0;
	}
	if (s && s->dst + s->len == dst && s->off + (off_t)s->len == off &&
	    s->len + len <= SEG_MAX) {
		s->len += len;
		return 0;
	}
	if (m->nr_segs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		void *n = realloc(m->segs, ncap * sizeof(*m->segs));

		if (!n)
			return -ENOMEM;
		m->segs = n;
		*cap = ncap;
	}
	m->segs[m->nr_segs++] = (struct seg){ dst, len, off };
	return 0;
}

/* Turn the pagemap into copy segments (destination in the premap area, source offset). */
static int plan_fill(struct mem *m)
{
	const struct rst_task *t = m->t;
	size_t i, cap = 0;
	off_t off = 0;

	for (i = 0; i < t->nr_pm; i++) {
		const PagemapEntry *pe = t->pm[i];
		uint64_t addr = pe->vaddr, end = addr + (uint64_t)pe->nr_pages * RST_PAGE;

		if (!(pe->flags & PE_PRESENT))
			continue;
		while (addr < end) {
			long vi = vma_index(t->mm, addr);
			const VmaEntry *v = t->mm->vmas[vi];
			uint64_t stop = v->end < end ? v->end : end;

			if (vi == m->vdso_idx)
				for (uint64_t a = addr; a < stop; a += RST_PAGE)
					if ((a - v->start) / RST_PAGE < 64)
						m->vdso_pages |= 1ULL << (a - v->start) / RST_PAGE;
			if (add_seg(m, (char *)(m->premap[vi] + addr - v->start), stop - addr, off,
				    &cap))
				return -ENOMEM;
			off += stop - addr;
			addr = stop;
		}
	}
	return 0;
}

/* preadv() until the iovecs are full or the file ends; the iovecs are consumed. */
static ssize_t preadv_all(int fd, struct iovec *iov, int n, off_t off)
{
	ssize_t done = 0, got;

	while (n > 0) {
		got = preadv(fd, iov, n, off + done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		done += got;
		while (n > 0 && (size_t)got >= iov->iov_len) {
			got -= iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + got;
			iov->iov_len -= got;
		}
	}
	return done;
}

static int fill_range(struct mem *m, size_t first, size_t last)
{
	struct iovec iov[IOV_MAX];
	size_t i = first;

	while (i < last) {
		off_t off = m->segs[i].off;
		size_t n = 0, want = 0;
		ssize_t got;

		while (i + n < last && n < IOV_MAX && want < (1UL << 30) &&
		       m->segs[i + n].off == off + (off_t)want) {
			iov[n].iov_base = m->segs[i + n].dst;
			iov[n].iov_len = m->segs[i + n].len;
			want += iov[n++].iov_len;
		}
		got = preadv_all(m->pages_fd, iov, n, off);
		if (got < 0)
			return got;
		/* The file size was checked: a short read means a bad destination. */
		if ((size_t)got != want)
			return -EIO;
		i += n;
	}
	return 0;
}

static void *fill_thread(void *arg)
{
	struct fill_job *j = arg;

	j->err = fill_range(j->m, j->first, j->last);
	return NULL;
}

/* Copy the pages: the second half of the bytes by a helper thread for large images. */
static int fill_all(struct mem *m)
{
	struct fill_job job = { m, m->nr_segs, m->nr_segs, 0 };
	uint64_t total = m->t->nr_pages * RST_PAGE, half = 0;
	pthread_t th;
	size_t i;
	int ret;

	if (total >= FILL_THREAD_MIN && m->nr_segs > 1) {
		for (i = 0; i + 1 < m->nr_segs && half < total / 2; i++)
			half += m->segs[i].len;
		job.first = i;
		if (pthread_create(&th, NULL, fill_thread, &job))
			job.first = m->nr_segs;
	}
	ret = fill_range(m, 0, job.first);
	if (job.first < m->nr_segs) {
		pthread_join(th, NULL);
		if (!ret)
			ret = job.err;
	}
	if (ret)
		pr_err("cannot read pages-%u.img into memory: %s", m->t->pages_id, strerror(-ret));
	return ret;
}

static int map_blob(struct rst_task *t)
{
	size_t code = _binary_restorer_bin_end - _binary_restorer_bin_start;
	void *p;

	p = mmap((void *)t->blob, t->blob_len, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		pr_perror("cannot map the restorer blob at %#lx", t->blob);
		return -errno;
	}
	memcpy(p, _binary_restorer_bin_start, code);
	t->args = (struct restorer_args *)(t->blob + PAGE_ALIGN(code));
	t->args_free = (char *)(t->args + 1);
	t->stack_top = t->blob + t->blob_len;
	t->args_end = (char *)(t->stack_top - RST_STACK_SIZE);
	t->args->version = RESTORER_ARGS_VERSION;
	t->args->size = sizeof(*t->args);
	t->args->region = t->region;
	t->args->region_len = t->region_len;
	return 0;
}

/* madvise() advices worth re-applying; the others are actions, not state. */
#define MADV_KEEP ((1UL << MADV_RANDOM) | (1UL << MADV_SEQUENTIAL) | (1UL << MADV_DONTFORK) | \
		   (1UL << MADV_HUGEPAGE) | (1UL << MADV_NOHUGEPAGE) | (1UL << MADV_DONTDUMP) | \
		   (1UL << MADV_WIPEONFORK))

static int list_vmas(struct mem *m, bool keep_vdso)
{
	struct rst_task *t = m->t;
	struct rst_vma *out;
	size_t i, n = 0;

	out = rst_args_alloc(t, (t->mm->n_vmas + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (!m->premap[i] || ((long)i == m->vdso_idx && !keep_vdso))
			continue;
		out[n++] = (struct rst_vma){ .premap = m->premap[i], .start = v->start,
					     .len = v->end - v->start, .prot = v->prot,
					     .madv = v->madv & MADV_KEEP };
	}
	t->args->vmas = (unsigned long)out;
	t->args->nr_vmas = n;
	return 0;
}

static long find_vdso(const MmEntry *mm)
{
	size_t i;

	for (i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->status & VMA_AREA_VDSO)
			return i;
	return -1;
}

static int mem_setup(struct mem *m)
{
	struct rst_task *t = m->t;
	unsigned long vdso_copy = 0;
	bool keep = false;
	size_t i;
	int ret;

	for (i = 0; i < t->mm->n_vmas; i++)
		if (premapped(t->mm->vmas[i]))
			m->premap_size += t->mm->vmas[i]->end - t->mm->vmas[i]->start;
	ret = reserve_region(m, PAGE_ALIGN(_binary_restorer_bin_end - _binary_restorer_bin_start) +
					args_size(t) + RST_STACK_SIZE);
	if (!ret)
		ret = premap_all(m);
	if (!ret)
		ret = plan_fill(m);
	if (!ret)
		ret = fill_all(m);
	if (!ret)
		ret = map_blob(t);
	if (ret)
		return ret;
	if (m->vdso_idx >= 0 && (m->vdso_pages & 1))
		vdso_copy = m->premap[m->vdso_idx];
	else if (m->vdso_idx >= 0)
		pr_info("the first page of the dumped vDSO is not in the pagemap");
	ret = rst_vdso_setup(t, vdso_copy, m->vdso_pages, m->scratch, &keep);
	if (!ret)
		ret = list_vmas(m, keep);
	if (!ret && m->vdso_idx >= 0 && !keep)
		munmap((void *)m->premap[m->vdso_idx],
		       t->mm->vmas[m->vdso_idx]->end - t->mm->vmas[m->vdso_idx]->start);
	return ret;
}

int rst_mem_prepare(struct rst_task *t)
{
	struct mem m = { .t = t, .pages_fd = -1 };
	int ret = -ENOMEM;
	char name[64];

	m.premap = calloc(t->mm->n_vmas + 1, sizeof(*m.premap));
	if (!m.premap)
		goto out;
	m.vdso_idx = find_vdso(t->mm);
	snprintf(name, sizeof(name), "pages-%u.img", t->pages_id);
	m.pages_fd = openat(t->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (m.pages_fd < 0) {
		pr_perror("cannot open %s", name);
		ret = -errno;
		goto out;
	}
	ret = mem_setup(&m);
out:
	if (m.pages_fd >= 0)
		close(m.pages_fd);
	free(m.premap);
	free(m.segs);
	return ret;
}
