// SPDX-License-Identifier: MIT
/*
 * memfd, both halves. Dump: each open description is a memfd_file_entry; each inode once
 * a memfd_inode_entry (name from the /proc link, owner, size, F_GET_SEALS) and its data
 * extents (SEEK_DATA/SEEK_HOLE) in pagemap-shmem-<shmid>.img + pages-<id>.img. Restore:
 * memfd_create(MFD_ALLOW_SEALING), size, contents, F_ADD_SEALS; every description is then
 * reopened through /proc/self/fd with its own flags and offset. Mappings of a memfd
 * are MEMFD entries without an fd (memfd_add_mapping), sharing the inode.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_PREFIX "memfd: "
#include "log.h"
#include "image.h"
#include "files.h"
#include "rst.h"
#include "vma.h"

#define MEMFD_PAGE 4096UL
#define MEMFD_PAGES_ID_BASE 0x10000U	/* pages-<id>.img of memfds: far from the tasks' */
#define MEMFD_MAX_SIZE (1ULL << 40)
#define MEMFD_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)

struct memfd_dump {
	MemfdInodeEntry e;
	char *src;		/* /proc/PID/fd/N or /proc/PID/map_files/A-B, to read it from */
};

static int memfd_name(const char *link, char *name, size_t size)
{
	const char *s = link + strlen("/memfd:"), *end = strstr(s, " (deleted)");
	size_t len = end ? (size_t)(end - s) : strlen(s);

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(name, s, len);
	name[len] = '\0';
	return 0;
}

static int add_inode(struct dtask *t, const char *src, const char *link, const struct stat *st)
{
	struct memfd_dump *m;
	char name[256];
	int fd, seals;
	size_t i;

	for (i = 0; i < t->fx->n_memfds; i++)
		if (t->fx->memfds[i].e.inode_id == st->st_ino)
			return 0;
	fd = open(src, O_RDONLY | O_CLOEXEC);
	seals = fd < 0 ? -1 : fcntl(fd, F_GET_SEALS);
	if (fd >= 0)
		close(fd);
	if (seals < 0 || memfd_name(link, name, sizeof(name))) {
		pr_perror("process %d: cannot read the memfd '%s' through %s", t->pid, link, src);
		return -EIO;
	}
	if (dtask_grow(t, &t->fx->memfds, t->fx->n_memfds, &t->fx->memfds_cap, sizeof(*t->fx->memfds)))
		return -ENOMEM;
	m = &t->fx->memfds[t->fx->n_memfds];
	memfd_inode_entry__init(&m->e);
	m->e.name = dtask_strdup(t, name);
	m->src = dtask_strdup(t, src);
	if (!m->e.name || !m->src)
		return -ENOMEM;
	m->e.uid = st->st_uid, m->e.gid = st->st_gid;
	m->e.size = st->st_size;
	m->e.inode_id = m->e.shmid = st->st_ino;
	m->e.seals = seals;
	t->fx->n_memfds++;
	return 0;
}

static MemfdFileEntry *file_entry_new(struct dtask *t, FileEntry *fe, unsigned int flags,
				      uint64_t pos, ino_t ino)
{
	MemfdFileEntry *e = dtask_alloc(t, sizeof(*e));

	if (!e)
		return NULL;
	memfd_file_entry__init(e);
	e->fown = files_fown(t);
	if (!e->fown)
		return NULL;
	e->id = fe->id;
	e->flags = flags & ~O_CLOEXEC;
	e->pos = pos;
	e->inode_id = ino;
	fe->memfd = e;
	return e;
}

int memfd_add_mapping(struct dtask *t, const char *link, const char *src, const struct stat *st,
		      unsigned int flags)
{
	FileEntry *fe;
	size_t i;
	int ret;

	for (i = 0; i < t->fx->n_files; i++)
		if (t->fx->files[i].fd < 0 && t->fx->files[i].fe->type == FD_TYPES__MEMFD &&
		    t->fx->files[i].ino == st->st_ino && t->fx->files[i].flags == flags)
			return i + 1;
	fe = files_new(t, FD_TYPES__MEMFD, st, flags, -1);
	if (!fe || !file_entry_new(t, fe, flags, 0, st->st_ino))
		return -ENOMEM;
	ret = add_inode(t, src, link, st);
	return ret ? ret : (int)fe->id;
}

static int memfd_dump(struct dtask *t, const struct fd_parms *p, FileEntry *fe)
{
	char src[64];

	if (files_may_copy(t, p, "the memfd"))
		return -EACCES;
	if (!file_entry_new(t, fe, p->fi.flags, p->fi.pos, p->st.st_ino))
		return -ENOMEM;
	snprintf(src, sizeof(src), "/proc/%d/fd/%d", t->pid, p->fd);
	return add_inode(t, src, p->link, &p->st);
}

/* Write the data extents of one memfd: entries into pm, bytes into pages. */
static int write_extents(int src, uint64_t size, struct img *pm, struct img *pages)
{
	char *buf = malloc(MEMFD_PAGE);
	off_t data = 0, hole;
	int ret = buf ? 0 : -ENOMEM;

	while (!ret && (uint64_t)data < size && (data = lseek(src, data, SEEK_DATA)) >= 0) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;
		off_t off;

		hole = lseek(src, data, SEEK_HOLE);
		data &= ~(MEMFD_PAGE - 1);
		hole = (hole + MEMFD_PAGE - 1) & ~(MEMFD_PAGE - 1);
		pe.vaddr = data;
		pe.nr_pages = (hole - data) / MEMFD_PAGE;
		pe.has_flags = 1, pe.flags = PE_PRESENT;
		ret = img_write_pb(pm, &pe.base);
		for (off = data; !ret && off < hole; off += MEMFD_PAGE) {
			memset(buf, 0, MEMFD_PAGE);
			ret = pread(src, buf, MEMFD_PAGE, off) < 0 ? -errno : 0;
			if (!ret)
				ret = img_write_raw(pages, buf, MEMFD_PAGE);
		}
		data = hole;
	}
	free(buf);
	return ret;
}

static int write_contents(struct dtask *t, int dirfd, const struct memfd_dump *m, uint32_t pid)
{
	struct img *pm = img_open(dirfd, IMG_SHMEM_PAGEMAP, O_WRONLY, m->e.shmid);
	struct img *pages = img_open(dirfd, IMG_PAGES, O_WRONLY, pid);
	PagemapHead head = PAGEMAP_HEAD__INIT;
	int src = -1, ret = -EIO;

	if (pm && pages)
		src = open(m->src, O_RDONLY | O_CLOEXEC);
	if (src >= 0) {
		head.pages_id = pid;
		ret = img_write_pb(pm, &head.base);
		if (!ret)
			ret = write_extents(src, m->e.size, pm, pages);
		close(src);
	}
	if (ret)
		pr_err("cannot save the contents of memfd '%s' of process %d", m->e.name, t->pid);
	if (pm && img_close(pm) && !ret)
		ret = -EIO;
	if (pages && img_close(pages) && !ret)
		ret = -EIO;
	return ret;
}

static int memfd_write(struct dtask *t, int dirfd)
{
	struct img *img;
	size_t i;
	int ret = 0;

	if (!t->fx->n_memfds)
		return 0;
	img = img_open(dirfd, IMG_MEMFD_INODE, O_WRONLY);
	if (!img)
		return -EIO;
	for (i = 0; !ret && i < t->fx->n_memfds; i++) {
		ret = img_write_pb(img, &t->fx->memfds[i].e.base);
		if (!ret)
			ret = write_contents(t, dirfd, &t->fx->memfds[i], MEMFD_PAGES_ID_BASE + i);
	}
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}

void memfd_unlink_images(struct dtask *t, int dirfd)
{
	char name[64];
	size_t i;

	for (i = 0; i < t->fx->n_memfds; i++) {
		snprintf(name, sizeof(name), "pagemap-shmem-%u.img", t->fx->memfds[i].e.shmid);
		unlinkat(dirfd, name, 0);
		snprintf(name, sizeof(name), "pages-%u.img", MEMFD_PAGES_ID_BASE + (unsigned int)i);
		unlinkat(dirfd, name, 0);
	}
	unlinkat(dirfd, "memfd.img", 0);
}

static int memfd_check(const FileEntry *fe)
{
	if (!fe->memfd || fe->memfd->id != fe->id) {
		pr_err("files.img: memfd file id %u has no entry or a wrong id", fe->id);
		return -EINVAL;
	}
	return 0;
}

/* The memfd.img entry of inode_id (caller frees), or NULL (logged). */
static MemfdInodeEntry *find_inode(struct rst_task *t, uint64_t inode_id)
{
	struct img *img = img_open(t->dirfd, IMG_MEMFD_INODE, O_RDONLY);
	MemfdInodeEntry *e = NULL;
	int ret = -EIO;

	while (img && (ret = img_read_pb(img, &memfd_inode_entry__descriptor, (void **)&e)) > 0) {
		if (e->inode_id == inode_id)
			break;
		img_free_pb(e);
		e = NULL;
	}
	if (e && (e->size > MEMFD_MAX_SIZE || (e->seals & ~MEMFD_SEALS) || strlen(e->name) > 249)) {
		pr_err("%s: memfd inode %" PRIu64 " has a bad size, seals or name", img->name,
		       inode_id);
		img_free_pb(e);
		e = NULL;
	} else if (!e && ret >= 0) {
		pr_err("memfd.img: no memfd inode %" PRIu64, inode_id);
	}
	if (img)
		img_close(img);
	return e;
}

static int fill_extent(struct img *pages, int fd, const PagemapEntry *pe, uint64_t size)
{
	char *buf = malloc(MEMFD_PAGE);
	uint32_t i;
	int ret = buf ? 0 : -ENOMEM;

	if (pe->vaddr % MEMFD_PAGE || pe->vaddr > size ||
	    pe->nr_pages > (size - pe->vaddr + MEMFD_PAGE - 1) / MEMFD_PAGE) {
		pr_err("pagemap-shmem: extent %#" PRIx64 "+%u pages is outside the memfd",
		       pe->vaddr, pe->nr_pages);
		ret = -EINVAL;
	}
	for (i = 0; !ret && i < pe->nr_pages; i++) {
		ret = img_read_raw(pages, buf, MEMFD_PAGE);
		if (!ret && pwrite(fd, buf, MEMFD_PAGE, pe->vaddr + i * MEMFD_PAGE) != MEMFD_PAGE)
			ret = -errno;
	}
	free(buf);
	return ret;
}

static int fill(struct rst_task *t, const MemfdInodeEntry *e, int fd)
{
	struct img *pm = img_open(t->dirfd, IMG_SHMEM_PAGEMAP, O_RDONLY, e->shmid);
	struct img *pages = NULL;
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	int ret = pm ? img_read_pb(pm, &pagemap_head__descriptor, (void **)&head) : -EIO;

	if (ret == 1)
		pages = img_open(t->dirfd, IMG_PAGES, O_RDONLY, head->pages_id);
	ret = pages ? 0 : -EIO;
	while (!ret && (ret = img_read_pb(pm, &pagemap_entry__descriptor, (void **)&pe)) > 0) {
		ret = fill_extent(pages, fd, pe, e->size);
		img_free_pb(pe);
	}
	if (head)
		img_free_pb(head);
	if (pages)
		img_close(pages);
	if (pm)
		img_close(pm);
	return ret;
}

static int create(struct rst_task *t, const MemfdInodeEntry *e)
{
	int fd = memfd_create(e->name, MFD_CLOEXEC | MFD_ALLOW_SEALING), ret;

	if (fd < 0) {
		pr_perror("cannot create memfd '%s'", e->name);
		return -errno;
	}
	ret = ftruncate(fd, e->size) ? -errno : 0;
	if (!ret && fchown(fd, e->uid, e->gid))
		pr_warn("cannot give memfd '%s' to %u:%u: %m", e->name, e->uid, e->gid);
	if (!ret)
		ret = fill(t, e, fd);
	if (!ret && e->seals && fcntl(fd, F_ADD_SEALS, e->seals))
		ret = -errno;
	if (ret) {
		errno = -ret;
		pr_perror("cannot rebuild memfd '%s' (%" PRIu64 " bytes, seals %#x)", e->name,
			  e->size, e->seals);
		close(fd);
		return ret;
	}
	return fd;
}

/* An fd of this inode already open: a sibling description's, or a new memfd. */
static int inode_fd(struct rst_task *t, const FileEntry *fe, bool *created)
{
	MemfdInodeEntry *e;
	size_t i;
	int fd;

	*created = false;
	for (i = 0; i < t->nr_files; i++) {
		const FileEntry *f = t->files[i];

		if (f != fe && f->type == FD_TYPES__MEMFD &&
		    f->memfd->inode_id == fe->memfd->inode_id && rst_file_fd(t, f->id) >= 0)
			return rst_file_fd(t, f->id);
	}
	e = find_inode(t, fe->memfd->inode_id);
	if (!e)
		return -EINVAL;
	fd = create(t, e);
	img_free_pb(e);
	*created = fd >= 0;
	return fd;
}

static int memfd_open(struct rst_task *t, const FileEntry *fe)
{
	const MemfdFileEntry *m = fe->memfd;
	char link[64];
	bool created;
	int base = inode_fd(t, fe, &created), fd;

	if (base < 0)
		return base;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", base);
	fd = open(link, (m->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
	if (fd < 0)
		pr_perror("cannot reopen memfd %u with flags %#o", fe->id, m->flags);
	if (created)
		close(base);
	if (fd >= 0 && m->pos && lseek(fd, m->pos, SEEK_SET) != (off_t)m->pos) {
		pr_perror("cannot seek memfd %u to %" PRIu64, fe->id, m->pos);
		close(fd);
		return -EIO;
	}
	return fd < 0 ? -errno : fd;
}

const struct fd_ops memfd_ops = {
	.name = "memfd",
	.type = FD_TYPES__MEMFD,
	.dump = memfd_dump,
	.check = memfd_check,
	.open = memfd_open,
	.write = memfd_write,
};
