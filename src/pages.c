// SPDX-License-Identifier: MIT
/*
 * Page contents, dump side. /proc/PID/pagemap (bit 63 present, 62 swapped, 61 file page
 * or shared anon, PFN in bits 0-54) picks the pages; they are copied once with
 * process_vm_readv in IOV_MAX batches straight into a MAP_SHARED mapping of pages-1.img
 * (two threads for large dumps), or with pread of /proc/PID/mem for unreadable areas.
 * For a store, each thread also hashes what it copied while it is still in cache.
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
#define BATCH_MAX (1UL << 30)		/* bytes per process_vm_readv, below MAX_RW_COUNT */
#define THREAD_MIN (64UL << 20)		/* use a second thread above this many bytes */
#define HASH_BATCH (1UL << 20)		/* bytes per copy when hashing: still in cache after */

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

struct copy_job {
	struct dtask *t;
	int mem_fd;			/* /proc/PID/mem */
	uint8_t *dst;			/* where the first page of runs[first] goes */
	size_t first, last;		/* runs [first, last) */
	int err;
	/* hashing while copying (segs NULL: off): the job hashes the segments that lie
	 * wholly in its part of the file, [next_seg, end_seg), each once copied */
	uint8_t *map;			/* the whole pages file */
	uint64_t size;
	uint64_t *segs;
	uint64_t next_seg, end_seg;
};

/* Everything below upto is copied: hash the segments that are complete. */
static void hash_copied(struct copy_job *j, const uint8_t *upto)
{
	uint64_t done = upto - j->map;

	while (j->segs && j->next_seg < j->end_seg) {
		uint64_t s = j->next_seg * MEMFS_SEG_SIZE;
		uint64_t e = s + MEMFS_SEG_SIZE < j->size ? s + MEMFS_SEG_SIZE : j->size;

		if (e > done)
			break;
		j->segs[j->next_seg++] = memfs_seg_digest(j->map + s, e - s);
	}
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

static void *copy_runs(void *arg)
{
	struct copy_job *j = arg;
	struct iovec rv[IOV_MAX];
	uint8_t *dst = j->dst, *batch_dst = dst;
	size_t i, batch = 0, cap = j->segs ? HASH_BATCH : BATCH_MAX;
	int n = 0;

	for (i = j->first; i < j->last && !j->err; i++) {
		const struct page_run *r = &j->t->runs[i];
		size_t len = (size_t)r->nr * PAGE_SZ, piece;

		if (n && r->mem) {
			j->err = read_iovs(j, rv, n, batch_dst);
			n = 0, batch = 0;
			hash_copied(j, dst);
		}
		if (r->mem) {
			j->err = j->err ?: read_mem(j, r->vaddr, dst, len);
			dst += len;
			hash_copied(j, dst);
			continue;
		}
		for (size_t off = 0; off < len && !j->err; off += piece) {
			piece = len - off < cap ? len - off : cap;
			if (n && (n == IOV_MAX || batch + piece > cap)) {
				j->err = read_iovs(j, rv, n, batch_dst);
				n = 0, batch = 0;
				hash_copied(j, dst);
			}
			if (!n)
				batch_dst = dst;
			rv[n++] = (struct iovec){ (void *)(uintptr_t)(r->vaddr + off), piece };
			batch += piece;
			dst += piece;
		}
	}
	if (n && !j->err)
		j->err = read_iovs(j, rv, n, batch_dst);
	if (!j->err)
		hash_copied(j, dst);
	return NULL;
}

/* Index of the run where the second thread starts: about half of the pages each. */
static size_t split_runs(const struct dtask *t)
{
	uint64_t half = t->nr_pages / 2, acc = 0;
	size_t i;

	for (i = 0; i < t->n_runs && acc < half; i++)
		acc += t->runs[i].nr;
	return i;
}

/* Thread a hashes the segments wholly below b's start, b those wholly above it. */
static void split_hashing(struct copy_job *a, struct copy_job *b)
{
	uint64_t split = b->dst - a->map;

	a->end_seg = split / MEMFS_SEG_SIZE;
	b->next_seg = memfs_nsegs(split);
}

static int copy_all(struct dtask *t, uint8_t *dst, int mem_fd, uint64_t *segs)
{
	uint64_t size = t->nr_pages * PAGE_SZ, nsegs = memfs_nsegs(size);
	struct copy_job a = { t, mem_fd, dst, 0, t->n_runs, 0, dst, size, segs, 0, nsegs };
	struct copy_job b = a;
	bool two = size >= THREAD_MIN;
	pthread_t th;
	size_t i;

	if (two) {
		a.last = b.first = split_runs(t);
		for (i = 0; i < a.last; i++)
			b.dst += (size_t)t->runs[i].nr * PAGE_SZ;
		split_hashing(&a, &b);
		if (pthread_create(&th, NULL, copy_runs, &b)) {
			pr_err("cannot start a copy thread; copying with one");
			two = false;
			a.last = t->n_runs;
			a.end_seg = nsegs;
		}
	}
	copy_runs(&a);
	if (two) {
		pthread_join(th, NULL);
		a.err = a.err ?: b.err;
		/* the segment that both threads wrote a part of */
		for (i = a.end_seg; segs && !a.err && i < b.next_seg; i++)
			segs[i] = memfs_seg_digest(dst + i * MEMFS_SEG_SIZE,
						   (i + 1) * MEMFS_SEG_SIZE < size ? MEMFS_SEG_SIZE
										: size - i * MEMFS_SEG_SIZE);
	}
	return a.err;
}

/* With dump_opts.pages_digest: the digests of the pages file, hashed during the copy. */
static int copy_and_hash(struct dtask *t, uint8_t *map, int mem_fd, const char *name)
{
	uint64_t size = t->nr_pages * PAGE_SZ, *segs = NULL;
	int ret;

	if (!t->pages_digest)
		return size ? copy_all(t, map, mem_fd, NULL) : 0;
	segs = calloc(memfs_nsegs(size) + 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	ret = size ? copy_all(t, map, mem_fd, segs) : 0;
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

static int open_pages(struct dtask *t, int dirfd, size_t size, uint8_t **map)
{
	char name[32];
	int fd, ret;

	snprintf(name, sizeof(name), "pages-%u.img", PAGES_ID(t));
	fd = img_create(dirfd, name, O_RDWR);
	if (fd < 0) {
		pr_perror("cannot create %s", name);
		return -errno;
	}
	*map = NULL;
	/* Reserve the space now: a full disk is then an error here, not SIGBUS later. */
	if (size && (ret = posix_fallocate(fd, 0, size))) {
		errno = ret;
		pr_perror("cannot allocate %zu bytes for %s", size, name);
		goto out_close;
	}
	if (size) {
		*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (*map == MAP_FAILED) {
			pr_perror("cannot map %s (%zu bytes)", name, size);
			goto out_close;
		}
	}
	return fd;
out_close:
	ret = -errno;
	close(fd);
	return ret;
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
	char path[64];
	uint8_t *map = NULL;
	int fd, mem_fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	fd = open_pages(t, dirfd, size, &map);
	if (fd < 0) {
		ret = fd;
		goto out_mem;
	}
	snprintf(path, sizeof(path), "pages-%u.img", PAGES_ID(t));
	ret = copy_and_hash(t, map, mem_fd, path);
	if (size)
		munmap(map, size);
	if (close(fd) && !ret) {
		pr_perror("cannot close pages-%u.img", PAGES_ID(t));
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
