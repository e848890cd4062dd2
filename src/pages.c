// SPDX-License-Identifier: MIT
/*
 * Page contents, dump side. /proc/PID/pagemap (bit 63 present, 62 swapped, 61 file page
 * or shared anon, PFN in bits 0-54) picks the pages; they are copied once with
 * process_vm_readv, a segment of pages-1.img at a time, into a buffer that pwrite then
 * writes (two threads for large dumps), or with pread of /proc/PID/mem for unreadable
 * areas. For a store, each thread also hashes the segment while it is still in cache.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "pages: "
#include "log.h"
#include "image.h"
#include "vma.h"
#include "pages.h"
#include "memfs.h"

#define PAGE_SZ 4096UL
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define SCAN_CHUNK 65536		/* pagemap entries per read */
#define THREAD_MIN (64UL << 20)		/* use a second thread above this many bytes */

/* The PFN of the shared zero page: the one an untouched private page reads as. */
static uint64_t find_zero_pfn(void)
{
	volatile char *p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ent = 0;
	int fd;

	if (p == MAP_FAILED)
		return 0;
	(void)p[0];
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, &ent, sizeof(ent), (uintptr_t)p / PAGE_SZ * 8) != sizeof(ent))
			ent = 0;
		close(fd);
	}
	munmap((void *)p, PAGE_SZ);
	return ent & PM_PRESENT ? ent & PM_PFN_MASK : 0;
}

int pages_scan_init(struct dtask *t, struct pages_scan *ps)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	ps->buf = malloc(SCAN_CHUNK * sizeof(*ps->buf));
	ps->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ps->pagemap_fd < 0 || !ps->buf) {
		pr_perror("cannot open %s", path);
		free(ps->buf);
		return -errno;
	}
	ps->zero_pfn = find_zero_pfn();
	return 0;
}

void pages_scan_fini(struct pages_scan *ps)
{
	close(ps->pagemap_fd);
	free(ps->buf);
}

static int add_page(struct dtask *t, struct pages_scan *ps, uint64_t addr, bool mem)
{
	struct page_run *r = t->n_runs && !ps->new_run ? &t->runs[t->n_runs - 1] : NULL;

	t->nr_pages++;
	ps->new_run = false;
	if (r && r->mem == mem && r->vaddr + r->nr * PAGE_SZ == addr && r->nr < UINT32_MAX) {
		r->nr++;
		return 0;
	}
	if (t->n_runs == t->runs_cap) {
		size_t cap = t->runs_cap * 2 + 256;
		struct page_run *n = realloc(t->runs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->runs = n;
		t->runs_cap = cap;
	}
	t->runs[t->n_runs++] = (struct page_run){ addr, 1, mem };
	return 0;
}

static bool want_page(const struct pages_scan *ps, uint64_t ent, bool anon_only)
{
	if (ent & PM_SWAP)
		return true;
	if (!(ent & PM_PRESENT))
		return false;
	if (anon_only && (ent & PM_FILE))
		return false;
	return !ps->zero_pfn || (ent & PM_PFN_MASK) != ps->zero_pfn;
}

int pages_scan(struct dtask *t, struct pages_scan *ps, uint64_t start, uint64_t end,
	       bool anon_only, bool through_mem)
{
	uint64_t addr = start;

	ps->new_run = true;	/* a run never spans two areas */
	while (addr < end) {
		size_t n = (end - addr) / PAGE_SZ, i;
		ssize_t got;

		if (n > SCAN_CHUNK)
			n = SCAN_CHUNK;
		got = pread(ps->pagemap_fd, ps->buf, n * 8, addr / PAGE_SZ * 8);
		if (got != (ssize_t)(n * 8)) {
			pr_perror("cannot read the pagemap of %d at %#lx", t->pid, addr);
			return got < 0 ? -errno : -EIO;
		}
		t->pages_scanned += n;
		for (i = 0; i < n; i++, addr += PAGE_SZ)
			if (want_page(ps, ps->buf[i], anon_only) && add_page(t, ps, addr, through_mem))
				return -ENOMEM;
	}
	return 0;
}

int pages_add_all(struct dtask *t, struct pages_scan *ps, uint64_t start, uint64_t end)
{
	ps->new_run = true;
	for (uint64_t addr = start; addr < end; addr += PAGE_SZ)
		if (add_page(t, ps, addr, false))
			return -ENOMEM;
	t->pages_scanned += (end - start) / PAGE_SZ;
	return 0;
}

/*
 * The pages a shared anonymous object has in [pgoff, pgoff + end - start), found with
 * SEEK_DATA/SEEK_HOLE on the object itself (/proc/PID/map_files): the pagemap of one area
 * misses the pages whose entries only another area has, or none (reclaim, MADV_DONTNEED).
 */
static int shmem_extents(struct dtask *t, struct pages_scan *ps, int fd, uint64_t start,
			 uint64_t end, uint64_t pgoff, bool through_mem)
{
	uint64_t last = pgoff + (end - start);
	off_t data, hole;

	ps->new_run = true;
	for (data = pgoff; (uint64_t)data < last; data = hole) {
		data = lseek(fd, data, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			pr_perror("cannot find the pages of the shared area %#lx of %d", start,
				  t->pid);
			return -errno;
		}
		data &= ~(PAGE_SZ - 1);
		hole = (uint64_t)hole < last ? (off_t)((hole + PAGE_SZ - 1) & ~(PAGE_SZ - 1))
					     : (off_t)last;
		for (off_t off = data; off < hole; off += PAGE_SZ)
			if ((uint64_t)off < last &&
			    add_page(t, ps, start + (off - pgoff), through_mem))
				return -ENOMEM;
	}
	t->pages_scanned += (end - start) / PAGE_SZ;
	return 0;
}

int pages_scan_shmem(struct dtask *t, struct pages_scan *ps, uint64_t start, uint64_t end,
		     uint64_t pgoff, bool through_mem)
{
	char path[96];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", t->pid, start, end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open the shared anonymous object mapped at %#lx by %d", start,
			  t->pid);
		return -errno;
	}
	ret = shmem_extents(t, ps, fd, start, end, pgoff, through_mem);
	close(fd);
	return ret;
}

/*
 * The copy goes by segments of the pages file (MEMFS_SEG_SIZE, the unit of its digests):
 * each is read into a buffer of its thread, hashed there and written with pwrite, while
 * still in cache. Not through a mapping of the file: its page faults would zero each
 * page before the copy, where a write fills the store's pages once.
 */
_Static_assert(MEMFS_SEG_SIZE / PAGE_SZ <= IOV_MAX, "a segment's pieces fit one readv");

struct copy_job {
	struct dtask *t;
	int mem_fd;			/* /proc/PID/mem */
	int fd;				/* the pages file */
	const char *name;
	uint8_t *buf;			/* one segment */
	uint64_t first, last;		/* segments [first, last) */
	uint64_t size;			/* of the file */
	uint64_t *segs;			/* their digests (NULL: not hashing) */
	int err;
};

/* Where an offset of the pages file comes from: a run, and an offset in it. */
struct run_pos {
	size_t run;
	uint64_t off;
};

static uint64_t run_bytes(const struct page_run *r)
{
	return (uint64_t)r->nr * PAGE_SZ;
}

static struct run_pos find_pos(const struct dtask *t, uint64_t off)
{
	struct run_pos p = { 0, off };

	while (p.run < t->n_runs && p.off >= run_bytes(&t->runs[p.run]))
		p.off -= run_bytes(&t->runs[p.run++]);
	return p;
}

static int read_mem(struct copy_job *j, uint64_t addr, uint8_t *dst, size_t len)
{
	while (len) {
		ssize_t n = pread(j->mem_fd, dst, len, addr);

		if (n <= 0) {
			pr_perror("cannot read memory of %d at %#lx", j->t->pid, addr);
			return n < 0 ? -errno : -EIO;
		}
		addr += n, dst += n, len -= n;
	}
	return 0;
}

/* Copy the remote areas rv[0..n) to dst, in order; what process_vm_readv cannot read
 * (PROT_NONE pages, say) is read through /proc/PID/mem. */
static int read_iovs(struct copy_job *j, struct iovec *rv, int n, uint8_t *dst)
{
	while (n > 0) {
		size_t total = 0, got;
		struct iovec lv;
		ssize_t r;
		int i, ret;

		for (i = 0; i < n; i++)
			total += rv[i].iov_len;
		lv = (struct iovec){ dst, total };
		r = process_vm_readv(j->t->pid, &lv, 1, rv, n, 0);
		if (r == (ssize_t)total)
			return 0;
		if (r < 0 && errno != EFAULT && errno != EIO) {
			pr_perror("cannot copy memory of %d at %p", j->t->pid, rv[0].iov_base);
			return -errno;
		}
		got = r < 0 ? 0 : r;
		for (; n > 0 && got >= rv->iov_len; rv++, n--) {
			got -= rv->iov_len;
			dst += rv->iov_len;
		}
		if (got) {	/* progress: go on from where it stopped */
			rv->iov_base = (uint8_t *)rv->iov_base + got;
			rv->iov_len -= got;
			dst += got;
			continue;
		}
		ret = read_mem(j, (uintptr_t)rv->iov_base, dst, rv->iov_len);
		if (ret)
			return ret;
		dst += rv->iov_len, rv++, n--;
	}
	return 0;
}

/* The next len bytes of the pages file, from pos on, into buf: one readv if it can. */
static int fill_buf(struct copy_job *j, struct run_pos *pos, uint8_t *buf, size_t len)
{
	struct iovec rv[IOV_MAX];
	uint8_t *batch = buf;
	int n = 0, ret = 0;

	while (len && !ret) {
		const struct page_run *r = &j->t->runs[pos->run];
		uint64_t addr = r->vaddr + pos->off;
		size_t piece = run_bytes(r) - pos->off < len ? run_bytes(r) - pos->off : len;

		if (r->mem) {
			ret = n ? read_iovs(j, rv, n, batch) : 0;
			ret = ret ?: read_mem(j, addr, buf, piece);
			n = 0;
		} else {
			if (!n)
				batch = buf;
			rv[n++] = (struct iovec){ (void *)(uintptr_t)addr, piece };
		}
		buf += piece, len -= piece, pos->off += piece;
		if (pos->off == run_bytes(r))
			*pos = (struct run_pos){ pos->run + 1, 0 };
	}
	return ret || !n ? ret : read_iovs(j, rv, n, batch);
}

static int write_buf(struct copy_job *j, uint64_t off, size_t len)
{
	const uint8_t *p = j->buf;

	while (len) {
		ssize_t n = pwrite(j->fd, p, len, off);

		if (n <= 0) {
			pr_perror("cannot write %s at offset %lu", j->name, off);
			return n < 0 ? -errno : -EIO;
		}
		p += n, off += n, len -= n;
	}
	return 0;
}

static void *copy_segs(void *arg)
{
	struct copy_job *j = arg;
	struct run_pos pos = find_pos(j->t, j->first * MEMFS_SEG_SIZE);
	uint64_t s;

	for (s = j->first; s < j->last && !j->err; s++) {
		uint64_t off = s * MEMFS_SEG_SIZE;
		size_t len = j->size - off < MEMFS_SEG_SIZE ? j->size - off : MEMFS_SEG_SIZE;

		j->err = fill_buf(j, &pos, j->buf, len);
		if (!j->err && j->segs)
			j->segs[s] = memfs_seg_digest(j->buf, len);
		j->err = j->err ?: write_buf(j, off, len);
	}
	return NULL;
}

/* Two threads for a large dump, each with half of the segments and a buffer. */
static int copy_all(struct dtask *t, int fd, const char *name, int mem_fd, uint64_t *segs)
{
	uint64_t size = t->nr_pages * PAGE_SZ, nsegs = memfs_nsegs(size);
	struct copy_job a = { t, mem_fd, fd, name, NULL, 0, nsegs, size, segs, 0 };
	struct copy_job b = a;
	bool two = size >= THREAD_MIN;
	pthread_t th;

	a.buf = malloc(MEMFS_SEG_SIZE);
	b.buf = two ? malloc(MEMFS_SEG_SIZE) : NULL;
	if (!a.buf || (two && !b.buf)) {
		pr_err("cannot allocate the copy buffers");
		a.err = -ENOMEM;
		goto out;
	}
	if (two) {
		a.last = b.first = nsegs / 2;
		if (pthread_create(&th, NULL, copy_segs, &b)) {
			pr_err("cannot start a copy thread; copying with one");
			two = false;
			a.last = nsegs;
		}
	}
	copy_segs(&a);
	if (two) {
		pthread_join(th, NULL);
		a.err = a.err ?: b.err;
	}
out:
	free(a.buf);
	free(b.buf);
	return a.err;
}

/* With dump_opts.pages_digest: the digests of the pages file, hashed during the copy. */
static int copy_and_hash(struct dtask *t, int fd, int mem_fd, const char *name)
{
	uint64_t size = t->nr_pages * PAGE_SZ, *segs = NULL;
	int ret;

	if (!t->pages_digest)
		return size ? copy_all(t, fd, name, mem_fd, NULL) : 0;
	segs = calloc(memfs_nsegs(size) + 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	ret = size ? copy_all(t, fd, name, mem_fd, segs) : 0;
	if (!ret)
		ret = t->pages_digest(t->pages_digest_arg, name, size, segs);
	free(segs);
	return ret;
}

static int write_pagemap(struct dtask *t, int dirfd)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	struct img *img;
	size_t i;
	int ret;

	img = img_open(dirfd, IMG_PAGEMAP, O_WRONLY, t->pid);
	if (!img)
		return -errno;
	head.pages_id = PAGES_ID(t);
	ret = img_write_pb(img, &head.base);
	for (i = 0; !ret && i < t->n_runs; i++) {
		PagemapEntry e = PAGEMAP_ENTRY__INIT;

		e.vaddr = t->runs[i].vaddr;
		e.nr_pages = t->runs[i].nr;
		e.has_flags = 1;
		e.flags = PE_PRESENT;
		ret = img_write_pb(img, &e.base);
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

static int open_pages(struct dtask *t, int dirfd, const char *name, size_t size)
{
	int fd, ret;

	fd = img_create(dirfd, name, O_WRONLY);
	if (fd < 0) {
		pr_perror("cannot create %s", name);
		return -errno;
	}
	/* Reserve the space now: a full store is then an error here, not midway. */
	if (size && (ret = posix_fallocate(fd, 0, size))) {
		errno = ret;
		pr_perror("cannot allocate %zu bytes for %s", size, name);
		close(fd);
		return -ret;
	}
	return fd;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

int pages_dump(struct dtask *t, int dirfd)
{
	size_t size = t->nr_pages * PAGE_SZ;
	uint64_t start = now_us();
	char path[64], name[32];
	int fd, mem_fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	snprintf(name, sizeof(name), "pages-%u.img", PAGES_ID(t));
	fd = open_pages(t, dirfd, name, size);
	if (fd < 0) {
		ret = fd;
		goto out_mem;
	}
	ret = copy_and_hash(t, fd, mem_fd, name);
	if (close(fd) && !ret) {
		pr_perror("cannot close %s", name);
		ret = -errno;
	}
	t->memdump_us = now_us() - start;
	if (!ret)
		ret = write_pagemap(t, dirfd);
	if (!ret)
		pr_info("%d: %lu pages in %zu runs copied in %lu us (%.0f MB/s)", t->pid,
			t->nr_pages, t->n_runs, t->memdump_us,
			t->memdump_us ? size / (double)t->memdump_us : 0.0);
out_mem:
	close(mem_fd);
	return ret;
}
